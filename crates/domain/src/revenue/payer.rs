//! What a payer pays an intensive outpatient program for, and how its claims go: the claim
//! type, the procedure and revenue codes for SUD and mental-health IOP, the unit, the per-diem
//! rate, the minutes a day must reach to be billable, prior authorisation, timely filing.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::care::UnknownCode;
use crate::consent::model::code_list;
use crate::patient::FieldError;

/// Which X12 claim a payer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimType {
    /// 837P (005010X222A1), the electronic CMS-1500: free-standing programs, practitioners.
    Professional,
    /// 837I (005010X223A2), the electronic UB-04: facilities billing revenue codes.
    Institutional,
}

code_list!(ClaimType, "claim type", [
    Professional => "professional", "Professional (837P, CMS-1500)";
    Institutional => "institutional", "Institutional (837I, UB-04)";
]);

/// What one billed unit is, which varies by payer (REFERENCE §4.1: most pay one unit per day
/// of attendance; some count half days or time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitDefinition {
    /// One unit per day of attendance (per diem).
    PerDay,
    /// One unit per half day.
    PerHalfDay,
    /// One unit per hour of service.
    PerHour,
}

code_list!(UnitDefinition, "unit definition", [
    PerDay => "per_day", "One unit per day of attendance";
    PerHalfDay => "per_half_day", "One unit per half day";
    PerHour => "per_hour", "One unit per hour of service";
]);

/// The minutes of service a day needs before H0015 or S9480 may be billed for it: "at least
/// 3 hours/day" in the HCPCS descriptor (REFERENCE §4.1).
pub const IOP_MINIMUM_MINUTES: i64 = 180;

/// A payer's terms as entered by billing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerTerms {
    /// The plan's name as staff know it ("Valley Health Plan PPO").
    pub name: String,
    /// The payer id claims are addressed to (NM1*PR … PI), from the clearinghouse's list.
    pub payer_code: String,
    /// Which claim it takes.
    pub claim_type: ClaimType,
    /// The HCPCS code it pays for SUD IOP (H0015 for most).
    pub sud_procedure: String,
    /// The HCPCS code it pays for mental-health IOP (S9480 for most; Medicare does not pay it).
    pub mh_procedure: String,
    /// The revenue code for SUD IOP on institutional claims (0906 by the NUBC layout).
    pub sud_revenue_code: Option<String>,
    /// The revenue code for mental-health IOP on institutional claims (0905).
    pub mh_revenue_code: Option<String>,
    /// What a unit is.
    pub unit: UnitDefinition,
    /// The per-diem rate in cents.
    pub rate_cents: i64,
    /// Minutes of service (breaks excluded) a day needs to be billable.
    pub minimum_minutes: i64,
    /// Whether days are billable only under an active prior authorisation.
    pub needs_prior_authorisation: bool,
    /// Days after the service within which a claim must reach the payer.
    pub timely_filing_days: i64,
}

/// Whether `code` has the shape of a HCPCS Level II code (a letter and four digits, H0015) or
/// a CPT code (five digits, 90853).
pub fn procedure_is_well_formed(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 5
        && (b[0].is_ascii_uppercase() || b[0].is_ascii_digit())
        && b[1..].iter().all(u8::is_ascii_digit)
}

/// Whether `code` has the shape of a NUBC revenue code: four digits starting with 0 (0906).
pub fn revenue_code_is_well_formed(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 4 && b[0] == b'0' && b.iter().all(u8::is_ascii_digit)
}

/// Whether `code` may be an X12 payer id: 2 to 80 letters, digits or dashes (NM109).
pub fn payer_code_is_well_formed(code: &str) -> bool {
    (2..=80).contains(&code.len()) && code.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// Parses a rate in dollars ("250", "250.00") into cents; `None` for anything else.
pub fn parse_rate(input: &str) -> Option<i64> {
    let s = input.trim().trim_start_matches('$');
    let (whole, cents) = match s.split_once('.') {
        Some((w, c)) if (1..=2).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit()) => {
            (w, format!("{c:0<2}"))
        }
        Some(_) => return None,
        None => (s, "00".to_owned()),
    };
    if whole.is_empty() || whole.len() > 7 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

/// A rate in cents as dollars ("$250.00").
pub fn format_rate(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// Every problem with a payer's terms (empty when they may be saved).
pub fn validate_payer(t: &PayerTerms) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if t.name.trim().is_empty() {
        errors.push(FieldError::new("name", "is required"));
    } else if t.name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be at most 200 characters"));
    }
    if !payer_code_is_well_formed(&t.payer_code) {
        errors.push(FieldError::new(
            "payer_code",
            "must be the payer id claims are sent to: 2 to 80 letters, digits or dashes",
        ));
    }
    for (field, code) in [
        ("sud_procedure", &t.sud_procedure),
        ("mh_procedure", &t.mh_procedure),
    ] {
        if !procedure_is_well_formed(code) {
            errors.push(FieldError::new(
                field,
                "must be a HCPCS code such as H0015 or S9480 (a capital letter or digit, then four digits)",
            ));
        }
    }
    for (field, code) in [
        ("sud_revenue_code", &t.sud_revenue_code),
        ("mh_revenue_code", &t.mh_revenue_code),
    ] {
        match code {
            Some(c) if !revenue_code_is_well_formed(c) => errors.push(FieldError::new(
                field,
                "must be a four-digit revenue code starting with 0, such as 0906",
            )),
            None if t.claim_type == ClaimType::Institutional => errors.push(FieldError::new(
                field,
                "is required for institutional (837I) claims",
            )),
            _ => {}
        }
    }
    if !(1..=10_000_000).contains(&t.rate_cents) {
        errors.push(FieldError::new(
            "rate",
            "must be an amount in dollars above $0.00, such as 250.00",
        ));
    }
    if !(1..=720).contains(&t.minimum_minutes) {
        errors.push(FieldError::new(
            "minimum_minutes",
            "must be between 1 and 720 minutes",
        ));
    }
    if !(1..=730).contains(&t.timely_filing_days) {
        errors.push(FieldError::new(
            "timely_filing_days",
            "must be between 1 and 730 days",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn medicaid() -> PayerTerms {
        PayerTerms {
            name: "State Medicaid".into(),
            payer_code: "SKNY0".into(),
            claim_type: ClaimType::Professional,
            sud_procedure: "H0015".into(),
            mh_procedure: "S9480".into(),
            sud_revenue_code: None,
            mh_revenue_code: None,
            unit: UnitDefinition::PerDay,
            rate_cents: 18_500,
            minimum_minutes: IOP_MINIMUM_MINUTES,
            needs_prior_authorisation: true,
            timely_filing_days: 90,
        }
    }

    #[test]
    fn a_professional_payer_needs_no_revenue_codes() {
        assert!(validate_payer(&medicaid()).is_empty());
    }

    #[test]
    fn an_institutional_payer_needs_both_revenue_codes() {
        let mut t = medicaid();
        t.claim_type = ClaimType::Institutional;
        let fields: Vec<_> = validate_payer(&t).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["sud_revenue_code", "mh_revenue_code"]);
        t.sud_revenue_code = Some("0906".into());
        t.mh_revenue_code = Some("905".into());
        let fields: Vec<_> = validate_payer(&t).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["mh_revenue_code"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let t = PayerTerms {
            name: " ".into(),
            payer_code: "x".into(),
            sud_procedure: "h0015".into(),
            mh_procedure: "S948".into(),
            rate_cents: 0,
            minimum_minutes: 0,
            timely_filing_days: 731,
            ..medicaid()
        };
        let fields: Vec<_> = validate_payer(&t).iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "payer_code",
                "sud_procedure",
                "mh_procedure",
                "rate",
                "minimum_minutes",
                "timely_filing_days"
            ]
        );
    }

    #[test]
    fn rates_are_dollars_and_cents() {
        assert_eq!(parse_rate("250"), Some(25_000));
        assert_eq!(parse_rate("$185.5"), Some(18_550));
        assert_eq!(parse_rate("185.05"), Some(18_505));
        for bad in ["", "abc", "1.234", "-5", "1,000", "12345678"] {
            assert_eq!(parse_rate(bad), None, "{bad:?}");
        }
        assert_eq!(format_rate(18_505), "$185.05");
    }

    #[test]
    fn codes_round_trip() {
        for t in ClaimType::ALL {
            assert_eq!(t.code().parse::<ClaimType>(), Ok(*t));
        }
        for u in UnitDefinition::ALL {
            assert_eq!(u.code().parse::<UnitDefinition>(), Ok(*u));
        }
        assert!("837x".parse::<ClaimType>().is_err());
    }
}
