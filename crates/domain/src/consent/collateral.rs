//! Collateral contacts (family, sponsor, probation officer, employer): who they are to the
//! patient, and what they may receive right now, which is exactly what the consents in effect
//! allow as the disclosure check decides it.

use chrono::DateTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::disclosure::{check_disclosure, DisclosureRequest};
use super::model::{code_list, Consent, ConsentId, Expiry, InformationCategory, Purpose};
use crate::care::UnknownCode;

/// How a collateral contact is related to the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollateralRelationship {
    /// Spouse or partner.
    Spouse,
    /// Parent or guardian.
    Parent,
    /// Another family member.
    Family,
    /// A friend.
    Friend,
    /// A recovery sponsor (12-step or similar).
    Sponsor,
    /// Probation or parole officer.
    ProbationOfficer,
    /// Drug court, judge or court staff.
    Court,
    /// Employer, supervisor or employee assistance program.
    Employer,
    /// The patient's attorney.
    Attorney,
    /// Anyone else.
    Other,
}

code_list!(CollateralRelationship, "collateral relationship", [
    Spouse => "spouse", "Spouse or partner";
    Parent => "parent", "Parent or guardian";
    Family => "family", "Other family member";
    Friend => "friend", "Friend";
    Sponsor => "sponsor", "Recovery sponsor";
    ProbationOfficer => "probation_officer", "Probation or parole officer";
    Court => "court", "Drug court or court staff";
    Employer => "employer", "Employer";
    Attorney => "attorney", "Attorney";
    Other => "other", "Other";
]);

/// What a collateral may receive under one consent, for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollateralAllowance {
    /// The consent that allows it.
    pub consent_id: ConsentId,
    /// The recipient as the consent names them (what a disclosure must be addressed to).
    pub recipient: String,
    /// Why.
    pub purpose: Purpose,
    /// The purpose in words, for "other".
    pub purpose_detail: String,
    /// What may be sent.
    pub categories: BTreeSet<InformationCategory>,
    /// When the consent stops.
    pub expiry: Option<Expiry>,
}

/// What a collateral known by any of `names` may receive at `now`, consent by consent.
///
/// Each category is put to [`check_disclosure`] for every purpose the patient's consents
/// mention, so the answer is the disclosure check's own and never wider: a consent that is
/// revoked, expired, incomplete or names someone else gives nothing. Collaterals are named
/// recipients; a TPO consent's classes (treating providers, payers, operations) never cover them.
pub fn may_receive(
    consents: &[Consent],
    names: &[String],
    now: &DateTime<Tz>,
) -> Vec<CollateralAllowance> {
    let purposes: BTreeSet<(Purpose, String)> = consents
        .iter()
        .flat_map(|c| {
            c.purposes.iter().map(|p| {
                let detail = if *p == Purpose::Other {
                    c.other_purpose.trim().to_owned()
                } else {
                    String::new()
                };
                (*p, detail)
            })
        })
        .collect();
    let mut found: BTreeMap<(ConsentId, Purpose, String), CollateralAllowance> = BTreeMap::new();
    for name in names.iter().filter(|n| !n.trim().is_empty()) {
        for (purpose, detail) in &purposes {
            for category in InformationCategory::ALL {
                let request = DisclosureRequest {
                    recipient_name: Some(name.clone()),
                    recipient_kind: None,
                    purpose: *purpose,
                    purpose_detail: detail.clone(),
                    categories: [*category].into(),
                };
                let Ok(allowed) = check_disclosure(consents, &request, now) else {
                    continue;
                };
                found
                    .entry((allowed.consent_id, *purpose, detail.clone()))
                    .or_insert_with(|| CollateralAllowance {
                        consent_id: allowed.consent_id,
                        recipient: name.clone(),
                        purpose: *purpose,
                        purpose_detail: detail.clone(),
                        categories: BTreeSet::new(),
                        expiry: consents
                            .iter()
                            .find(|c| c.id == allowed.consent_id)
                            .and_then(|c| c.expiry.clone()),
                    })
                    .categories
                    .insert(*category);
            }
        }
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::model::tests::{at, probation_consent, tpo_consent};
    use crate::consent::model::Revocation;
    use chrono::{TimeZone, Utc};

    fn officer() -> Vec<String> {
        vec!["Officer Dana Lee, County Probation".into()]
    }

    #[test]
    fn a_named_consent_gives_exactly_its_categories_and_purpose() {
        let consents = [tpo_consent(1), probation_consent(2)];
        let allowed = may_receive(&consents, &officer(), &at(2025, 3, 15, 12));
        assert_eq!(allowed.len(), 1, "{allowed:?}");
        let a = &allowed[0];
        assert_eq!(a.consent_id, ConsentId(2));
        assert_eq!(a.purpose, Purpose::LegalProceedings);
        assert_eq!(
            a.categories,
            [
                InformationCategory::Attendance,
                InformationCategory::DrugScreens
            ]
            .into()
        );
        // Names are compared as people write them.
        let loose = may_receive(
            &consents,
            &["officer dana  lee, county probation".into()],
            &at(2025, 3, 15, 12),
        );
        assert_eq!(loose.len(), 1);
    }

    #[test]
    fn nothing_when_expired_revoked_or_for_someone_else() {
        let consents = [probation_consent(2)];
        assert!(may_receive(&consents, &officer(), &at(2025, 7, 2, 12)).is_empty());
        let mut revoked = probation_consent(2);
        revoked.revocation = Some(Revocation {
            revoked_at: Utc.with_ymd_and_hms(2025, 2, 1, 12, 0, 0).unwrap(),
            recorded_by: "pat".into(),
        });
        assert!(may_receive(&[revoked], &officer(), &at(2025, 3, 15, 12)).is_empty());
        assert!(may_receive(
            &consents,
            &["Sam Rivera, employer".into()],
            &at(2025, 3, 15, 12)
        )
        .is_empty());
        // A TPO consent covers classes of recipients, never a family member by name.
        assert!(may_receive(
            &[tpo_consent(1)],
            &["Maria Rivera".into()],
            &at(2025, 3, 15, 12)
        )
        .is_empty());
        assert!(may_receive(&consents, &[" ".into()], &at(2025, 3, 15, 12)).is_empty());
    }

    #[test]
    fn relationship_codes_round_trip() {
        for r in CollateralRelationship::ALL {
            assert_eq!(r.code().parse(), Ok(*r));
        }
        assert!("neighbour".parse::<CollateralRelationship>().is_err());
    }
}
