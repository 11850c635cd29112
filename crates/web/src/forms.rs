//! Turning form and query strings into typed values, with a clear message per field.

use chrono::NaiveDate;
use serde::Deserialize;
use trellis_domain::patient::{FieldError, Registration};

/// A trimmed optional text: blank becomes `None`.
pub fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A required date in ISO form (what `<input type=date>` sends).
pub fn date(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, "is required"));
        return None;
    }
    match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(field, "must be a date (YYYY-MM-DD)"));
            None
        }
    }
}

/// A required id chosen from a list.
pub fn id(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    match value.trim().parse::<i64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            errors.push(FieldError::new(field, "choose one of the listed options"));
            None
        }
    }
}

/// An optional id chosen from a list ("" for none).
pub fn optional_id(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    if value.trim().is_empty() {
        None
    } else {
        id(field, value, errors)
    }
}

/// A value parsed by `FromStr`, with the message to show when it fails.
pub fn code<T: std::str::FromStr>(
    field: &'static str,
    value: &str,
    message: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push(FieldError::new(field, message));
            None
        }
    }
}

/// The patient registration form, as the browser (or an API client) sends it.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct RegistrationForm {
    /// Legal first name.
    #[serde(default)]
    pub legal_first_name: String,
    /// Legal last name.
    #[serde(default)]
    pub legal_last_name: String,
    /// Preferred name.
    pub preferred_name: Option<String>,
    /// Date of birth, YYYY-MM-DD.
    #[serde(default)]
    pub date_of_birth: String,
    /// female, male, intersex or unknown.
    #[serde(default)]
    pub sex: String,
    /// Gender identity.
    pub gender_identity: Option<String>,
    /// Pronouns.
    pub pronouns: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Emergency contact's name.
    pub emergency_contact_name: Option<String>,
    /// Emergency contact's phone.
    pub emergency_contact_phone: Option<String>,
    /// Emergency contact's relationship.
    pub emergency_contact_relationship: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
}

impl RegistrationForm {
    /// The registration, plus any problem with the date of birth's format.
    pub fn parse(&self) -> (Registration, Vec<FieldError>) {
        let mut errors = Vec::new();
        let dob = self.date_of_birth.trim();
        let date_of_birth = if dob.is_empty() {
            None
        } else {
            date("date_of_birth", dob, &mut errors)
        };
        let registration = Registration {
            legal_first_name: self.legal_first_name.clone(),
            legal_last_name: self.legal_last_name.clone(),
            preferred_name: text(&self.preferred_name),
            date_of_birth,
            sex: self.sex.clone(),
            gender_identity: text(&self.gender_identity),
            pronouns: text(&self.pronouns),
            phone: text(&self.phone),
            email: text(&self.email),
            address: text(&self.address),
            emergency_contact_name: text(&self.emergency_contact_name),
            emergency_contact_phone: text(&self.emergency_contact_phone),
            emergency_contact_relationship: text(&self.emergency_contact_relationship),
            preferred_language: text(&self.preferred_language),
        };
        (registration, errors)
    }

    /// The form filled from a stored registration, for editing.
    pub fn from_registration(r: &Registration) -> Self {
        RegistrationForm {
            legal_first_name: r.legal_first_name.clone(),
            legal_last_name: r.legal_last_name.clone(),
            preferred_name: r.preferred_name.clone(),
            date_of_birth: r.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
            sex: r.sex.clone(),
            gender_identity: r.gender_identity.clone(),
            pronouns: r.pronouns.clone(),
            phone: r.phone.clone(),
            email: r.email.clone(),
            address: r.address.clone(),
            emergency_contact_name: r.emergency_contact_name.clone(),
            emergency_contact_phone: r.emergency_contact_phone.clone(),
            emergency_contact_relationship: r.emergency_contact_relationship.clone(),
            preferred_language: r.preferred_language.clone(),
        }
    }
}

/// A required clock time (what `<input type=time>` sends: `HH:MM`, sometimes with seconds).
pub fn time(
    field: &'static str,
    value: &str,
    errors: &mut Vec<FieldError>,
) -> Option<chrono::NaiveTime> {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, "is required"));
        return None;
    }
    match chrono::NaiveTime::parse_from_str(v, "%H:%M")
        .or_else(|_| chrono::NaiveTime::parse_from_str(v, "%H:%M:%S"))
    {
        Ok(t) => Some(t),
        Err(_) => {
            errors.push(FieldError::new(field, "must be a time (HH:MM)"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_dates_and_ids_name_their_field() {
        let mut errors = Vec::new();
        assert_eq!(date("admitted_on", "27/11/2026", &mut errors), None);
        assert_eq!(id("program_id", "abc", &mut errors), None);
        assert_eq!(optional_id("primary_counselor_id", "", &mut errors), None);
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["admitted_on", "program_id"]);
    }
}
