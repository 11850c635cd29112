//! 42 CFR Part 2 patient rights and the privacy officer's registers: restriction requests
//! (§2.26) and the consent check's hook that honours them, the patient notice (§2.22), who may
//! sign for a patient (§2.14, §2.15: the site's minor-consent rule, the date of death, the
//! signer's authority on a consent) and the breach register (§2.16 with 45 CFR 164.400–414),
//! with substitute notice for patients the letters cannot reach (§164.404(d)(2)).
//! The rules are the domain's (`trellis_domain::consent::{rights, signer, breach}`).

pub mod breaches;
pub mod notices;
pub mod restrictions;
pub mod signers;
pub mod substitute_notices;

use std::collections::BTreeSet;
use trellis_domain::consent::InformationCategory;

use crate::{parse_code, Result};

/// Category codes as stored: comma-separated, empty for "all information".
pub(crate) fn category_codes(categories: &BTreeSet<InformationCategory>) -> String {
    categories
        .iter()
        .map(|c| c.code())
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads [`category_codes`] back.
pub(crate) fn parse_categories(codes: &str) -> Result<BTreeSet<InformationCategory>> {
    codes
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| parse_code(c, "information category"))
        .collect()
}
