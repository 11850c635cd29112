//! 42 CFR Part 2 patient rights and the breach register over JSON: restriction requests and
//! their decisions (§2.26), the patient notice (§2.22), the date of death and each site's
//! minor-consent rule (§2.14, §2.15), and the breach register (§2.16, 45 CFR 164.400–414).
//! Every handler calls the same store function as the privacy pages.

pub mod authorities;
pub mod breaches;
pub mod restrictions;

use chrono::NaiveDate;
use trellis_domain::patient::FieldError;

/// An optional ISO date: blank is `None`, anything else must parse.
pub(crate) fn optional_date(
    field: &'static str,
    value: &str,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    if value.trim().is_empty() {
        None
    } else {
        crate::forms::date(field, value, errors)
    }
}
