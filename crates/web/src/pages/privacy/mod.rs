//! The privacy officer's Part 2 pages beyond consents: a patient's rights (restriction requests,
//! the §2.22 notice, the date of death), the queue of restriction requests to decide, each
//! site's minor-consent rule, and the breach register with its letters and annual log.

pub mod authorities;
pub mod breaches;
pub mod rights;

use chrono::NaiveDate;
use trellis_domain::patient::FieldError;

/// A form's fields in order, repeated keys kept (checkbox lists).
pub(crate) type Pairs = Vec<(String, String)>;

/// The first value of a field, trimmed ("" when absent).
pub(crate) fn one(pairs: &Pairs, key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// Every value of a repeated field.
pub(crate) fn all(pairs: &Pairs, key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

/// An optional date field: blank is `None`.
pub(crate) fn optional_date(
    pairs: &Pairs,
    key: &'static str,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    let value = one(pairs, key);
    if value.is_empty() {
        None
    } else {
        crate::forms::date(key, &value, errors)
    }
}
