//! Patient registration rules: what a registration must contain and how duplicates are spotted.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

use crate::care::UnknownCode;

/// Sex recorded at birth, as reported to TEDS and payers (gender identity is recorded separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Intersex.
    Intersex,
    /// Not known or declined.
    Unknown,
}

impl Sex {
    /// Every value, in form order.
    pub const ALL: [Sex; 4] = [Sex::Female, Sex::Male, Sex::Intersex, Sex::Unknown];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Intersex => "intersex",
            Sex::Unknown => "unknown",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Female => "Female",
            Sex::Male => "Male",
            Sex::Intersex => "Intersex",
            Sex::Unknown => "Unknown / declined",
        }
    }
}

impl FromStr for Sex {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sex::ALL
            .into_iter()
            .find(|x| x.code() == s.trim())
            .ok_or_else(|| UnknownCode {
                kind: "sex",
                code: s.to_owned(),
            })
    }
}

/// A patient's registration details as entered at intake.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Legal first name.
    pub legal_first_name: String,
    /// Legal last name.
    pub legal_last_name: String,
    /// Name the patient goes by, if different.
    pub preferred_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Sex recorded at birth (code of [`Sex`]).
    pub sex: String,
    /// Gender identity in the patient's words.
    pub gender_identity: Option<String>,
    /// Pronouns, e.g. "she/her".
    pub pronouns: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Postal address, one line.
    pub address: Option<String>,
    /// Emergency contact's name.
    pub emergency_contact_name: Option<String>,
    /// Emergency contact's phone.
    pub emergency_contact_phone: Option<String>,
    /// Emergency contact's relationship to the patient.
    pub emergency_contact_relationship: Option<String>,
    /// Preferred language, e.g. "English", "Spanish".
    pub preferred_language: Option<String>,
}

/// One problem with a registration, naming the field so a form can show it beside the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as in [`Registration`].
    pub field: &'static str,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl FieldError {
    /// A problem with one field.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

const MAX_NAME: usize = 100;
const MAX_TEXT: usize = 200;

/// Checks a registration and returns every problem found (empty when it may be saved).
pub fn validate_registration(r: &Registration, today: NaiveDate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, value) in [
        ("legal_first_name", &r.legal_first_name),
        ("legal_last_name", &r.legal_last_name),
    ] {
        let v = value.trim();
        if v.is_empty() {
            errors.push(FieldError::new(field, "is required"));
        } else if v.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                field,
                format!("must be at most {MAX_NAME} characters"),
            ));
        } else if v.chars().any(char::is_control) {
            errors.push(FieldError::new(
                field,
                "must not contain control characters",
            ));
        }
    }
    match r.date_of_birth {
        None => errors.push(FieldError::new("date_of_birth", "is required")),
        Some(dob) if dob > today => {
            errors.push(FieldError::new("date_of_birth", "cannot be in the future"))
        }
        Some(dob) if dob.year() < 1900 => {
            errors.push(FieldError::new("date_of_birth", "must be after 1900"))
        }
        Some(_) => {}
    }
    if r.sex.parse::<Sex>().is_err() {
        errors.push(FieldError::new(
            "sex",
            "must be one of female, male, intersex, unknown",
        ));
    }
    let optional = [
        ("preferred_name", &r.preferred_name),
        ("gender_identity", &r.gender_identity),
        ("pronouns", &r.pronouns),
        ("address", &r.address),
        ("emergency_contact_name", &r.emergency_contact_name),
        (
            "emergency_contact_relationship",
            &r.emergency_contact_relationship,
        ),
        ("preferred_language", &r.preferred_language),
    ];
    for (field, value) in optional {
        if let Some(v) = value {
            if v.chars().count() > MAX_TEXT {
                errors.push(FieldError::new(
                    field,
                    format!("must be at most {MAX_TEXT} characters"),
                ));
            } else if v.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    field,
                    "must not contain control characters",
                ));
            }
        }
    }
    for (field, value) in [
        ("phone", &r.phone),
        ("emergency_contact_phone", &r.emergency_contact_phone),
    ] {
        if let Some(v) = value {
            if !is_plausible_phone(v) {
                errors.push(FieldError::new(
                    field,
                    "must be a phone number (7–15 digits; spaces, dashes, dots, brackets and a leading + allowed)",
                ));
            }
        }
    }
    if let Some(email) = &r.email {
        if !is_plausible_email(email) {
            errors.push(FieldError::new(
                "email",
                "must be an email address like name@example.org",
            ));
        }
    }
    errors
}

fn is_plausible_phone(v: &str) -> bool {
    let v = v.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v.char_indices().all(|(i, c)| {
        c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0) || c == 'x'
    });
    allowed && (7..=15).contains(&digits)
}

fn is_plausible_email(v: &str) -> bool {
    let v = v.trim();
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A name folded for matching: lower case, letters and digits only, common accents removed.
pub fn name_key(name: &str) -> String {
    name.chars()
        .flat_map(char::to_lowercase)
        .map(fold_accent)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn fold_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        other => other,
    }
}

/// An existing patient's identity, as compared against a new registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingIdentity {
    /// The patient's id.
    pub patient_id: i64,
    /// Legal first name.
    pub first_name: String,
    /// Legal last name.
    pub last_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
}

/// Whether an existing patient is probably the person being registered: same date of birth and
/// same last name, with a first name that matches or shares its initial (nicknames, typos).
pub fn is_probable_duplicate(new: &Registration, existing: &ExistingIdentity) -> bool {
    let Some(dob) = new.date_of_birth else {
        return false;
    };
    if dob != existing.date_of_birth {
        return false;
    }
    let (new_last, old_last) = (
        name_key(&new.legal_last_name),
        name_key(&existing.last_name),
    );
    let (new_first, old_first) = (
        name_key(&new.legal_first_name),
        name_key(&existing.first_name),
    );
    new_last == old_last
        && !new_first.is_empty()
        && (new_first == old_first || new_first.chars().next() == old_first.chars().next())
}

/// Age in whole years on a given day.
pub fn age_on(date_of_birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - date_of_birth.year();
    if (day.month(), day.day()) < (date_of_birth.month(), date_of_birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn valid() -> Registration {
        Registration {
            legal_first_name: "Maria".into(),
            legal_last_name: "Núñez".into(),
            date_of_birth: Some(day(1988, 3, 14)),
            sex: "female".into(),
            phone: Some("+1 (555) 010-2233".into()),
            email: Some("maria@example.org".into()),
            ..Registration::default()
        }
    }

    #[test]
    fn a_complete_registration_passes() {
        assert_eq!(validate_registration(&valid(), day(2026, 11, 27)), vec![]);
    }

    #[test]
    fn every_problem_is_named_by_field() {
        let r = Registration {
            legal_first_name: " ".into(),
            legal_last_name: "x".repeat(101),
            date_of_birth: Some(day(2027, 1, 1)),
            sex: "m".into(),
            phone: Some("12".into()),
            email: Some("not-an-email".into()),
            ..Registration::default()
        };
        let fields: Vec<&str> = validate_registration(&r, day(2026, 11, 27))
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "legal_first_name",
                "legal_last_name",
                "date_of_birth",
                "sex",
                "phone",
                "email"
            ]
        );
    }

    #[test]
    fn missing_and_ancient_birth_dates_are_rejected() {
        let mut r = valid();
        r.date_of_birth = None;
        assert_eq!(
            validate_registration(&r, day(2026, 1, 1))[0].message,
            "is required"
        );
        r.date_of_birth = Some(day(1899, 12, 31));
        assert_eq!(validate_registration(&r, day(2026, 1, 1)).len(), 1);
    }

    #[test]
    fn name_keys_ignore_case_accents_and_punctuation() {
        assert_eq!(name_key("Núñez"), "nunez");
        assert_eq!(name_key("O'Brien-Smith "), "obriensmith");
    }

    #[test]
    fn duplicates_need_same_birth_date_and_last_name() {
        let existing = ExistingIdentity {
            patient_id: 7,
            first_name: "Maria".into(),
            last_name: "Nunez".into(),
            date_of_birth: day(1988, 3, 14),
        };
        let mut r = valid();
        assert!(is_probable_duplicate(&r, &existing));
        r.legal_first_name = "Mary".into();
        assert!(is_probable_duplicate(&r, &existing), "same initial");
        r.legal_first_name = "Ana".into();
        assert!(!is_probable_duplicate(&r, &existing));
        r = valid();
        r.date_of_birth = Some(day(1988, 3, 15));
        assert!(!is_probable_duplicate(&r, &existing));
    }

    #[test]
    fn age_counts_completed_years() {
        assert_eq!(age_on(day(2000, 6, 15), day(2026, 6, 14)), 25);
        assert_eq!(age_on(day(2000, 6, 15), day(2026, 6, 15)), 26);
    }
}
