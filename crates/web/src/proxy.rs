//! The real client address behind trusted reverse proxies (issue 11, item 6).
//!
//! Behind the TLS proxy the README requires, every request comes from the proxy's address, so
//! throttling and the audit log need the address the proxy saw. `X-Forwarded-For` is believed
//! only from configured proxies, and read from the right: each proxy appends the address it
//! received from, so the first entry, walking back from the nearest, that is not itself a trusted
//! proxy is the client. Entries further left were written by the client and may be forged.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A proxy address or network (`10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`) whose
/// `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

/// A trusted-proxy entry that is not an address or network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or network such as 10.0.0.5 or 10.0.0.0/8")]
pub struct BadProxy(String);

impl FromStr for TrustedProxy {
    type Err = BadProxy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadProxy(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(TrustedProxy { network, prefix })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl TrustedProxy {
    /// Whether the address is this proxy or inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let shift = 32 - u32::from(self.prefix);
                let mask = u32::MAX.checked_shl(shift).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let shift = 128 - u32::from(self.prefix);
                let mask = u128::MAX.checked_shl(shift).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's address: the peer itself unless it is a trusted proxy, else the nearest
/// `X-Forwarded-For` hop that is not a trusted proxy. An unreadable hop stops the walk at the
/// last address known good (never at a client-written one).
pub fn real_client<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[TrustedProxy],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|h| h.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|p| p.parse().expect("proxy")).collect()
    }

    #[test]
    fn a_client_that_is_not_a_trusted_proxy_is_believed_about_nothing() {
        let trusted = proxies(&["10.0.0.5"]);
        assert_eq!(
            real_client(ip("203.0.113.9"), ["198.51.100.1"], &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            real_client(ip("203.0.113.9"), ["198.51.100.1"], &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "::1"]);
        // The client forged the first entry; the proxy appended what it really saw.
        assert_eq!(
            real_client(
                ip("10.0.0.5"),
                ["1.1.1.1, 203.0.113.9", "10.0.0.7"],
                &trusted
            ),
            ip("203.0.113.9")
        );
        assert_eq!(
            real_client(ip("::1"), ["2001:db8::1"], &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            real_client(ip("10.0.0.5"), ["203.0.113.9:4711"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn missing_or_unreadable_hops_leave_the_last_trusted_address() {
        let trusted = proxies(&["10.0.0.5", "10.0.0.6"]);
        assert_eq!(
            real_client(ip("10.0.0.5"), None::<&str>, &trusted),
            ip("10.0.0.5")
        );
        assert_eq!(
            real_client(ip("10.0.0.5"), ["203.0.113.9, garbage, 10.0.0.6"], &trusted),
            ip("10.0.0.6")
        );
        assert_eq!(
            real_client(ip("10.0.0.5"), ["10.0.0.6"], &trusted),
            ip("10.0.0.6")
        );
    }

    #[test]
    fn networks_match_by_prefix_and_bad_entries_are_refused() {
        let net: TrustedProxy = "192.168.1.0/24".parse().expect("net");
        assert!(net.contains(ip("192.168.1.200")));
        assert!(!net.contains(ip("192.168.2.1")));
        assert!(!net.contains(ip("::1")));
        let all: TrustedProxy = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["", "proxy.local", "10.0.0.0/33", "10.0.0.0/x", "::1/129"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad:?}");
        }
        assert_eq!(net.to_string(), "192.168.1.0/24");
    }
}
