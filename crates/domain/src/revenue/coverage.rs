//! A patient's coverage: which plan pays first, who the subscriber is, the ids a claim carries,
//! the dates it is in force, and what an eligibility check found.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::care::UnknownCode;
use crate::consent::model::code_list;
use crate::patient::FieldError;

/// Which payer a day is billed to first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageRank {
    /// Billed first.
    Primary,
    /// Billed for what the primary leaves.
    Secondary,
    /// The patient pays; no plan, no claim.
    SelfPay,
}

code_list!(CoverageRank, "coverage rank", [
    Primary => "primary", "Primary";
    Secondary => "secondary", "Secondary";
    SelfPay => "self_pay", "Self-pay";
]);

/// The patient's relationship to the subscriber, with the X12 individual relationship code a
/// claim's SBR02 / PAT01 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberRelationship {
    /// The patient is the subscriber.
    Own,
    /// The subscriber's spouse.
    Spouse,
    /// The subscriber's child.
    Child,
    /// Anyone else the plan covers.
    Other,
}

code_list!(SubscriberRelationship, "relationship to the subscriber", [
    Own => "self", "The patient is the subscriber";
    Spouse => "spouse", "Spouse";
    Child => "child", "Child";
    Other => "other", "Other dependant";
]);

impl SubscriberRelationship {
    /// The X12 individual relationship code (18 self, 01 spouse, 19 child, G8 other).
    pub fn x12_code(self) -> &'static str {
        match self {
            SubscriberRelationship::Own => "18",
            SubscriberRelationship::Spouse => "01",
            SubscriberRelationship::Child => "19",
            SubscriberRelationship::Other => "G8",
        }
    }
}

/// What an eligibility check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EligibilityResult {
    /// Coverage active on the day checked.
    Active,
    /// Coverage ended or not yet started.
    Inactive,
    /// The payer could not find the member or did not answer.
    NotConfirmed,
}

code_list!(EligibilityResult, "eligibility result", [
    Active => "active", "Active";
    Inactive => "inactive", "Inactive";
    NotConfirmed => "not_confirmed", "Could not be confirmed";
]);

/// How eligibility was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EligibilityMethod {
    /// The payer's web portal.
    Portal,
    /// A call to the payer.
    Phone,
    /// An X12 270/271 inquiry through the clearinghouse.
    X12,
}

code_list!(EligibilityMethod, "eligibility method", [
    Portal => "portal", "Payer portal";
    Phone => "phone", "Phone call";
    X12 => "x12_271", "Electronic inquiry (270/271)";
]);

/// A coverage as entered by billing (the payer is named by its id in storage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageTerms {
    /// Primary, secondary or self-pay.
    pub rank: CoverageRank,
    /// The plan; none for self-pay.
    pub payer_id: Option<i64>,
    /// The patient's relationship to the subscriber.
    pub relationship: SubscriberRelationship,
    /// The subscriber's name when it is not the patient.
    pub subscriber_name: String,
    /// The member id on the card.
    pub member_id: String,
    /// The group number on the card, if any.
    pub group_number: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Last day in force, if it ends.
    pub effective_to: Option<NaiveDate>,
}

impl CoverageTerms {
    /// Whether the coverage is in force on `day`.
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day <= to)
    }
}

fn card_id_is_well_formed(id: &str) -> bool {
    (1..=80).contains(&id.len()) && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// Every problem with a coverage (empty when it may be saved).
pub fn validate_coverage(t: &CoverageTerms) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let self_pay = t.rank == CoverageRank::SelfPay;
    match (self_pay, t.payer_id) {
        (true, Some(_)) => errors.push(FieldError::new(
            "payer_id",
            "must be left empty for self-pay",
        )),
        (false, None) => errors.push(FieldError::new("payer_id", "choose the plan")),
        _ => {}
    }
    if !self_pay {
        if !card_id_is_well_formed(&t.member_id) {
            errors.push(FieldError::new(
                "member_id",
                "must be the member id on the card: letters, digits or dashes, at most 80",
            ));
        }
        if !t.group_number.is_empty() && !card_id_is_well_formed(&t.group_number) {
            errors.push(FieldError::new(
                "group_number",
                "must be letters, digits or dashes, at most 80",
            ));
        }
        let name = t.subscriber_name.trim();
        if t.relationship != SubscriberRelationship::Own && name.is_empty() {
            errors.push(FieldError::new(
                "subscriber_name",
                "is required when the patient is not the subscriber",
            ));
        }
        if name.chars().count() > 200 {
            errors.push(FieldError::new(
                "subscriber_name",
                "must be at most 200 characters",
            ));
        }
    }
    if t.effective_to.is_some_and(|to| to < t.effective_from) {
        errors.push(FieldError::new(
            "effective_to",
            "must be on or after the first day in force",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("day")
    }

    fn primary() -> CoverageTerms {
        CoverageTerms {
            rank: CoverageRank::Primary,
            payer_id: Some(1),
            relationship: SubscriberRelationship::Own,
            subscriber_name: String::new(),
            member_id: "XJH123456789".into(),
            group_number: "G-0042".into(),
            effective_from: day(1, 1),
            effective_to: Some(day(12, 31)),
        }
    }

    #[test]
    fn a_plan_needs_its_member_id_and_a_dependant_their_subscriber() {
        assert!(validate_coverage(&primary()).is_empty());
        let t = CoverageTerms {
            relationship: SubscriberRelationship::Child,
            member_id: "12 34".into(),
            payer_id: None,
            ..primary()
        };
        let fields: Vec<_> = validate_coverage(&t).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["payer_id", "member_id", "subscriber_name"]);
    }

    #[test]
    fn self_pay_names_no_plan() {
        let t = CoverageTerms {
            rank: CoverageRank::SelfPay,
            payer_id: None,
            member_id: String::new(),
            ..primary()
        };
        assert!(validate_coverage(&t).is_empty());
        let t = CoverageTerms {
            payer_id: Some(1),
            ..t
        };
        let fields: Vec<_> = validate_coverage(&t).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["payer_id"]);
    }

    #[test]
    fn dates_run_forwards_and_bound_the_days_in_force() {
        let t = CoverageTerms {
            effective_to: Some(day(1, 1) - chrono::Duration::days(1)),
            ..primary()
        };
        let fields: Vec<_> = validate_coverage(&t).iter().map(|e| e.field).collect();
        assert_eq!(fields, ["effective_to"]);
        let t = primary();
        assert!(t.in_force_on(day(1, 1)));
        assert!(t.in_force_on(day(12, 31)));
        assert!(!t.in_force_on(day(12, 31) + chrono::Duration::days(1)));
    }

    #[test]
    fn relationships_carry_their_x12_codes() {
        assert_eq!(SubscriberRelationship::Own.code(), "self");
        assert_eq!(SubscriberRelationship::Own.x12_code(), "18");
        assert_eq!(SubscriberRelationship::Child.x12_code(), "19");
        for r in SubscriberRelationship::ALL {
            assert_eq!(r.code().parse::<SubscriberRelationship>(), Ok(*r));
        }
    }
}
