//! The disclosure decision: does a consent on file cover this recipient, purpose and
//! information, right now? If not, say exactly why.

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::directory::RecipientKind;
use super::model::{
    same_text, validate_consent, Consent, ConsentId, ConsentProblem, ConsentStatus,
    InformationCategory, Purpose, Recipient, Revocation,
};

/// A proposed disclosure of one patient's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureRequest {
    /// The recipient's name, if known.
    pub recipient_name: Option<String>,
    /// The recipient's class as the recipient directory records it (never as the requester
    /// declares it): decides which consent classes cover them and whether a TPO consent can.
    pub recipient_kind: Option<RecipientKind>,
    /// Why the information is wanted.
    pub purpose: Purpose,
    /// The purpose in words; compared with the consent when the purpose is "other".
    pub purpose_detail: String,
    /// What would be sent.
    pub categories: BTreeSet<InformationCategory>,
}

/// The consent that authorises a disclosure, with the scope statement to send with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentMatch {
    /// The authorising consent.
    pub consent_id: ConsentId,
    /// The "clear explanation of its scope" (§2.32) to accompany the disclosure. Contains
    /// patient data: never log it.
    pub scope_summary: String,
}

/// Why a disclosure may not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisclosureRefusal {
    /// The request names neither a recipient nor a recipient class.
    #[error("the request does not identify the recipient")]
    RecipientNotIdentified,
    /// The request lists no information.
    #[error("the request does not say what information would be disclosed")]
    NothingRequested,
    /// The patient has no consent on file.
    #[error("no consent on file for this patient")]
    NoConsentOnFile,
    /// Consents that would cover the request have all expired.
    #[error("the consent that covers this disclosure has expired ({})", ids(.consent_ids))]
    Expired {
        /// The expired consents that would otherwise have covered it.
        consent_ids: Vec<ConsentId>,
    },
    /// The consent that would cover the request was revoked.
    #[error("the patient revoked the consent that covers this disclosure ({consent_id}, revoked {}, recorded by {})", .revocation.revoked_at.format("%Y-%m-%d %H:%M UTC"), .revocation.recorded_by)]
    Revoked {
        /// The revoked consent.
        consent_id: ConsentId,
        /// When and by whom.
        revocation: Revocation,
    },
    /// The covering consent is dated after today.
    #[error("the consent that covers this disclosure is not in effect until {effective_on} ({consent_id})")]
    NotYetInEffect {
        /// The consent.
        consent_id: ConsentId,
        /// The date it takes effect.
        effective_on: NaiveDate,
    },
    /// The covering consent lacks required elements, so it cannot authorise anything.
    #[error("the consent that covers this disclosure is incomplete ({consent_id}): {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    IncompleteConsent {
        /// The consent.
        consent_id: ConsentId,
        /// What it lacks.
        problems: Vec<ConsentProblem>,
    },
    /// No consent names this recipient or its class.
    #[error("the consent on file is for a different recipient (it names: {})", .consented.join("; "))]
    DifferentRecipient {
        /// The recipients the consents do name.
        consented: Vec<String>,
    },
    /// Consents name the recipient but for other purposes.
    #[error("the consent on file is for a different purpose (it allows: {})", labels(.consented))]
    DifferentPurpose {
        /// The purposes the consents allow.
        consented: Vec<Purpose>,
    },
    /// Recipient and purpose are covered, some information is not.
    #[error("the consent does not cover: {}", labels(.not_covered))]
    InformationNotCovered {
        /// The requested categories no single consent covers.
        not_covered: Vec<InformationCategory>,
    },
    /// The recipient is of a class no TPO consent reaches.
    #[error("a treatment, payment and operations consent never covers disclosure to this recipient ({}): law enforcement, courts, employers and family members need the patient's specific written consent naming them and this purpose", .kind.label())]
    BeyondTpo {
        /// The recipient's class in the directory.
        kind: RecipientKind,
    },
    /// Use in proceedings against the patient is never covered by a TPO consent.
    #[error("records may not be used in civil, criminal, administrative or legislative proceedings against the patient under a treatment, payment and operations consent: this needs the patient's specific written consent or a court order (§§2.64–2.65)")]
    ProceedingsAgainstPatient,
    /// A restriction the program agreed to, or a self-pay restriction to a health plan, covers
    /// the disclosure (§2.26).
    #[error("the patient's restriction request #{restriction_id} covers this recipient and information, so it may not be disclosed (42 CFR 2.26)")]
    Restricted {
        /// The restriction request that refuses it.
        restriction_id: i64,
    },
}

impl DisclosureRefusal {
    /// A stable code for the reason, for the API and the audit log (no names in it).
    pub fn code(&self) -> &'static str {
        match self {
            DisclosureRefusal::RecipientNotIdentified => "recipient_not_identified",
            DisclosureRefusal::NothingRequested => "nothing_requested",
            DisclosureRefusal::NoConsentOnFile => "no_consent_on_file",
            DisclosureRefusal::Expired { .. } => "consent_expired",
            DisclosureRefusal::Revoked { .. } => "consent_revoked",
            DisclosureRefusal::NotYetInEffect { .. } => "consent_not_yet_in_effect",
            DisclosureRefusal::IncompleteConsent { .. } => "consent_incomplete",
            DisclosureRefusal::DifferentRecipient { .. } => "different_recipient",
            DisclosureRefusal::DifferentPurpose { .. } => "different_purpose",
            DisclosureRefusal::InformationNotCovered { .. } => "information_not_covered",
            DisclosureRefusal::ProceedingsAgainstPatient => "proceedings_against_patient",
            DisclosureRefusal::BeyondTpo { .. } => "recipient_beyond_tpo",
            DisclosureRefusal::Restricted { .. } => "restricted_by_patient",
        }
    }
}

fn ids(consent_ids: &[ConsentId]) -> String {
    consent_ids
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn labels<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

// A TPO consent never reaches law enforcement, courts, employers or family, even by name.
fn barred(consent: &Consent, request: &DisclosureRequest) -> bool {
    consent.is_tpo()
        && request
            .recipient_kind
            .is_some_and(RecipientKind::beyond_tpo)
}

fn covers_recipient(consent: &Consent, request: &DisclosureRequest) -> bool {
    let class = request.recipient_kind.and_then(RecipientKind::tpo_class);
    !barred(consent, request)
        && consent.recipients.iter().any(|r| match r {
            Recipient::Named { name } => request
                .recipient_name
                .as_deref()
                .is_some_and(|n| same_text(n, name)),
            Recipient::Class { class: named, .. } => class == Some(*named),
            // The generic description covers every TPO recipient class.
            Recipient::TpoGeneric { .. } => class.is_some(),
        })
}

fn covers_purpose(consent: &Consent, request: &DisclosureRequest) -> bool {
    consent.purposes.contains(&request.purpose)
        && (request.purpose != Purpose::Other
            || same_text(&consent.other_purpose, &request.purpose_detail))
}

fn uncovered(consent: &Consent, request: &DisclosureRequest) -> Vec<InformationCategory> {
    request
        .categories
        .difference(&consent.categories)
        .copied()
        .collect()
}

fn fits(consent: &Consent, request: &DisclosureRequest) -> bool {
    covers_recipient(consent, request)
        && covers_purpose(consent, request)
        && uncovered(consent, request).is_empty()
}

/// Decides whether `consents` (one patient's, in any order) authorise `request` at `now`.
///
/// A consent authorises only if it is complete, in effect, and covers the recipient, the purpose
/// and every requested category. When several do, the most recently signed is returned. When
/// none does, the refusal explains the nearest miss: a covering consent that has been revoked,
/// has expired, is not yet in effect or is incomplete; otherwise what the consents in effect
/// do not cover.
pub fn check_disclosure(
    consents: &[Consent],
    request: &DisclosureRequest,
    now: &DateTime<Tz>,
) -> Result<ConsentMatch, DisclosureRefusal> {
    if request
        .recipient_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
        && request.recipient_kind.is_none()
    {
        return Err(DisclosureRefusal::RecipientNotIdentified);
    }
    if request.categories.is_empty() {
        return Err(DisclosureRefusal::NothingRequested);
    }
    if consents.is_empty() {
        return Err(DisclosureRefusal::NoConsentOnFile);
    }

    let usable =
        |c: &Consent| c.status(now) == ConsentStatus::Active && validate_consent(c).is_ok();
    let covering: Vec<&Consent> = consents.iter().filter(|c| fits(c, request)).collect();
    if let Some(best) = covering
        .iter()
        .filter(|c| usable(c))
        .max_by_key(|c| (c.signed_on, c.id))
    {
        return Ok(ConsentMatch {
            consent_id: best.id,
            scope_summary: scope_summary(best),
        });
    }

    // A consent covers the request but cannot be used: say which obstacle, the patient's own
    // revocation first.
    if !covering.is_empty() {
        let statuses: Vec<(&Consent, ConsentStatus)> =
            covering.iter().map(|c| (*c, c.status(now))).collect();
        if let Some((consent, ConsentStatus::Revoked(revocation))) = statuses
            .iter()
            .filter(|(_, s)| matches!(s, ConsentStatus::Revoked(_)))
            .max_by_key(|(c, _)| (c.signed_on, c.id))
        {
            return Err(DisclosureRefusal::Revoked {
                consent_id: consent.id,
                revocation: revocation.clone(),
            });
        }
        let expired: Vec<ConsentId> = statuses
            .iter()
            .filter(|(_, s)| *s == ConsentStatus::Expired)
            .map(|(c, _)| c.id)
            .collect();
        if !expired.is_empty() {
            return Err(DisclosureRefusal::Expired {
                consent_ids: expired,
            });
        }
        if let Some((consent, _)) = statuses.iter().find(|(_, s)| *s == ConsentStatus::Pending) {
            return Err(DisclosureRefusal::NotYetInEffect {
                consent_id: consent.id,
                effective_on: consent
                    .signed_on
                    .max(consent.signature.as_ref().map(|s| s.signed_at.date_naive()))
                    .unwrap_or_else(|| now.date_naive()),
            });
        }
        // What is left is in effect but failed validation.
        if let Some((consent, Err(problems))) = covering
            .iter()
            .map(|c| (c, validate_consent(c)))
            .find(|(_, v)| v.is_err())
        {
            return Err(DisclosureRefusal::IncompleteConsent {
                consent_id: consent.id,
                problems,
            });
        }
    }

    // Nothing covers the request: explain against the consents in effect, or all if none is.
    let in_effect: Vec<&Consent> = consents.iter().filter(|c| usable(c)).collect();
    let pool: Vec<&Consent> = if in_effect.is_empty() {
        consents.iter().collect()
    } else {
        in_effect
    };
    // The TPO consent is the tempting mistake; name it unless a specific legal consent exists.
    if request.purpose == Purpose::LegalProceedings
        && pool.iter().any(|c| c.is_tpo())
        && !pool
            .iter()
            .any(|c| c.purposes.contains(&Purpose::LegalProceedings))
    {
        return Err(DisclosureRefusal::ProceedingsAgainstPatient);
    }
    // Likewise name the bar when only TPO consents stand between the request and the recipient.
    if let Some(kind) = request.recipient_kind.filter(|k| k.beyond_tpo()) {
        if pool.iter().any(|c| c.is_tpo()) && !pool.iter().any(|c| covers_recipient(c, request)) {
            return Err(DisclosureRefusal::BeyondTpo { kind });
        }
    }
    let to_recipient: Vec<&Consent> = pool
        .iter()
        .copied()
        .filter(|c| covers_recipient(c, request))
        .collect();
    if to_recipient.is_empty() {
        let mut consented: Vec<String> = pool
            .iter()
            .flat_map(|c| c.recipients.iter().map(|r| r.describe().to_owned()))
            .collect();
        consented.sort();
        consented.dedup();
        return Err(DisclosureRefusal::DifferentRecipient { consented });
    }
    let for_purpose: Vec<&Consent> = to_recipient
        .iter()
        .copied()
        .filter(|c| covers_purpose(c, request))
        .collect();
    if for_purpose.is_empty() {
        let consented: BTreeSet<Purpose> = to_recipient
            .iter()
            .flat_map(|c| c.purposes.iter().copied())
            .collect();
        return Err(DisclosureRefusal::DifferentPurpose {
            consented: consented.into_iter().collect(),
        });
    }
    // Report the smallest gap: the consent that comes closest.
    let not_covered = for_purpose
        .iter()
        .map(|c| uncovered(c, request))
        .min_by_key(Vec::len)
        .unwrap_or_default();
    Err(DisclosureRefusal::InformationNotCovered { not_covered })
}

/// The plain-language scope of a consent, to accompany a disclosure made under it.
pub fn scope_summary(consent: &Consent) -> String {
    let signer = match &consent.signature {
        Some(s) => match s.relationship.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(relationship) => format!("{} ({relationship})", s.signer_name),
            None => s.signer_name.clone(),
        },
        None => "(unsigned)".to_owned(),
    };
    let signed = consent
        .signed_on
        .map_or_else(|| "(undated)".to_owned(), |d| d.to_string());
    let categories: Vec<String> = consent
        .categories
        .iter()
        .map(|c| c.label().to_lowercase())
        .collect();
    let mut information = categories.join(", ");
    if !consent.information_description.trim().is_empty() {
        information.push_str(&format!(" ({})", consent.information_description.trim()));
    }
    let recipients: Vec<&str> = consent.recipients.iter().map(Recipient::describe).collect();
    let purposes: Vec<String> = consent
        .purposes
        .iter()
        .map(|p| match p {
            Purpose::Other => format!("other: {}", consent.other_purpose.trim()),
            p => p.label().to_lowercase(),
        })
        .collect();
    let expiry = consent
        .expiry
        .as_ref()
        .map_or_else(|| "no expiry recorded".to_owned(), ToString::to_string);
    let mut summary = format!(
        "Consent {} of {}, signed {signed} by {signer}: {} may disclose {information} to {}. \
         Purpose: {}. The consent {expiry}, and the patient may revoke it in writing.",
        consent.id,
        consent.patient_name,
        consent.disclosing_program,
        recipients.join("; "),
        purposes.join(", "),
    );
    if consent.is_tpo() {
        summary.push_str(
            " Recipients that are HIPAA covered entities or business associates may redisclose \
             these records as HIPAA permits, except for use in proceedings against the patient.",
        );
    }
    if let Some(cj) = &consent.criminal_justice {
        summary.push_str(&format!(
            " Given under 42 CFR 2.35: {}; to the people named, for their duty to monitor the \
             patient's progress ({}). In effect: {}. It {}. {}",
            cj.condition.label().to_lowercase(),
            cj.monitoring_duty.trim(),
            cj.duration_statement.trim(),
            cj.revocable
                .as_ref()
                .map_or_else(String::new, ToString::to_string),
            crate::consent::CRIMINAL_JUSTICE_REDISCLOSURE
        ));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::model::tests::{at, probation_consent, tpo_consent};
    use crate::consent::model::{Expiry, Revocation};
    use chrono::{TimeZone, Utc};
    use InformationCategory as Info;

    fn to_provider(categories: &[Info]) -> DisclosureRequest {
        DisclosureRequest {
            recipient_name: Some("Dr Sam Okafor".into()),
            recipient_kind: Some(RecipientKind::TreatingProvider),
            purpose: Purpose::Treatment,
            purpose_detail: String::new(),
            categories: categories.iter().copied().collect(),
        }
    }

    fn to_probation(purpose: Purpose) -> DisclosureRequest {
        DisclosureRequest {
            recipient_name: Some("officer dana lee, county probation".into()),
            recipient_kind: None,
            purpose,
            purpose_detail: String::new(),
            categories: [Info::Attendance].into(),
        }
    }

    fn now() -> DateTime<Tz> {
        at(2025, 3, 15, 12)
    }

    #[test]
    fn a_matching_consent_allows_disclosure_with_its_scope() {
        let result = check_disclosure(
            &[tpo_consent(1)],
            &to_provider(&[Info::Diagnoses, Info::TreatmentPlan]),
            &now(),
        )
        .unwrap();
        assert_eq!(result.consent_id, ConsentId(1));
        let s = &result.scope_summary;
        assert!(
            s.starts_with("Consent #1 of Alex Rivera, signed 2025-01-10 by Alex Rivera:"),
            "{s}"
        );
        assert!(s.contains("Trellis Recovery IOP may disclose demographics, attendance and participation, diagnoses, treatment plan, billing and claims to my treating providers"), "{s}");
        assert!(s.contains(". Purpose: treatment, payment, health care operations. The consent does not expire"), "{s}");
        assert!(s.contains("does not expire"), "{s}");
        assert!(
            s.contains("except for use in proceedings against the patient"),
            "{s}"
        );

        let named = check_disclosure(
            &[tpo_consent(1), probation_consent(2)],
            &to_probation(Purpose::LegalProceedings),
            &now(),
        )
        .unwrap();
        assert_eq!(named.consent_id, ConsentId(2));
        assert!(named
            .scope_summary
            .contains("expires at the end of 2025-06-30"));
        assert!(!named.scope_summary.contains("HIPAA"));
    }

    #[test]
    fn the_newest_of_several_matching_consents_is_used() {
        let mut newer = tpo_consent(7);
        newer.signed_on = NaiveDate::from_ymd_opt(2025, 2, 1);
        let result = check_disclosure(
            &[newer, tpo_consent(1)],
            &to_provider(&[Info::Attendance]),
            &now(),
        );
        assert_eq!(result.map(|m| m.consent_id), Ok(ConsentId(7)));
    }

    #[test]
    fn no_consent_on_file() {
        assert_eq!(
            check_disclosure(&[], &to_provider(&[Info::Attendance]), &now()),
            Err(DisclosureRefusal::NoConsentOnFile)
        );
    }

    #[test]
    fn expired_consent() {
        let later = at(2025, 7, 1, 9);
        assert_eq!(
            check_disclosure(
                &[probation_consent(2)],
                &to_probation(Purpose::LegalProceedings),
                &later
            ),
            Err(DisclosureRefusal::Expired {
                consent_ids: vec![ConsentId(2)]
            })
        );
    }

    #[test]
    fn revoked_consent() {
        let mut consent = tpo_consent(1);
        let revocation = Revocation {
            revoked_at: Utc.with_ymd_and_hms(2025, 3, 1, 14, 0, 0).unwrap(),
            recorded_by: "J. Privacy".into(),
        };
        consent.revocation = Some(revocation.clone());
        let refusal =
            check_disclosure(&[consent], &to_provider(&[Info::Attendance]), &now()).unwrap_err();
        assert_eq!(
            refusal,
            DisclosureRefusal::Revoked {
                consent_id: ConsentId(1),
                revocation
            }
        );
        assert_eq!(
            refusal.to_string(),
            "the patient revoked the consent that covers this disclosure (#1, revoked 2025-03-01 14:00 UTC, recorded by J. Privacy)"
        );
    }

    #[test]
    fn consent_for_another_recipient() {
        let request = DisclosureRequest {
            recipient_name: Some("Acme Staffing (employer)".into()),
            recipient_kind: None,
            purpose: Purpose::LegalProceedings,
            purpose_detail: String::new(),
            categories: [Info::Attendance].into(),
        };
        let refusal = check_disclosure(&[probation_consent(2)], &request, &now()).unwrap_err();
        assert_eq!(
            refusal,
            DisclosureRefusal::DifferentRecipient {
                consented: vec!["Officer Dana Lee, County Probation".into()]
            }
        );
        assert!(refusal.to_string().contains("different recipient"));
        // The generic TPO description covers the TPO classes, not anyone who is named.
        let employer = DisclosureRequest {
            purpose: Purpose::Treatment,
            ..request
        };
        assert_eq!(
            check_disclosure(&[tpo_consent(1)], &employer, &now()),
            Err(DisclosureRefusal::DifferentRecipient {
                consented: vec![crate::consent::TPO_GENERIC_RECIPIENTS.into()]
            })
        );
    }

    #[test]
    fn consent_for_another_purpose() {
        let refusal = check_disclosure(
            &[probation_consent(2)],
            &to_probation(Purpose::Employment),
            &now(),
        )
        .unwrap_err();
        assert_eq!(
            refusal,
            DisclosureRefusal::DifferentPurpose {
                consented: vec![Purpose::LegalProceedings]
            }
        );
        // "Other" purposes must match in words too.
        let mut other = probation_consent(3);
        other.purposes = [Purpose::Other].into();
        other.other_purpose = "Drug court eligibility review".into();
        let mut request = to_probation(Purpose::Other);
        request.purpose_detail = "Housing application".into();
        assert!(matches!(
            check_disclosure(&[other.clone()], &request, &now()),
            Err(DisclosureRefusal::DifferentPurpose { .. })
        ));
        request.purpose_detail = "drug court eligibility review".into();
        assert!(check_disclosure(&[other], &request, &now()).is_ok());
    }

    #[test]
    fn information_not_covered_is_named() {
        let refusal = check_disclosure(
            &[tpo_consent(1)],
            &to_provider(&[Info::Diagnoses, Info::DrugScreens, Info::Medications]),
            &now(),
        )
        .unwrap_err();
        assert_eq!(
            refusal,
            DisclosureRefusal::InformationNotCovered {
                not_covered: vec![Info::Medications, Info::DrugScreens]
            }
        );
        assert_eq!(
            refusal.to_string(),
            "the consent does not cover: Medications, Drug screen results"
        );
    }

    #[test]
    fn proceedings_against_the_patient_need_specific_consent() {
        let court = DisclosureRequest {
            recipient_name: Some("County Superior Court".into()),
            recipient_kind: None,
            purpose: Purpose::LegalProceedings,
            purpose_detail: String::new(),
            categories: [Info::DrugScreens].into(),
        };
        assert_eq!(
            check_disclosure(&[tpo_consent(1)], &court, &now()),
            Err(DisclosureRefusal::ProceedingsAgainstPatient)
        );
        // Even when the court is presented as a TPO-class recipient.
        let mut as_class = court.clone();
        as_class.recipient_kind = Some(RecipientKind::HealthPlan);
        assert_eq!(
            check_disclosure(&[tpo_consent(1)], &as_class, &now()),
            Err(DisclosureRefusal::ProceedingsAgainstPatient)
        );
        // With a specific legal consent on file, the refusal explains that consent's gap instead.
        let mut screens_and_meds = to_probation(Purpose::LegalProceedings);
        screens_and_meds.categories = [Info::DrugScreens, Info::Medications].into();
        assert_eq!(
            check_disclosure(
                &[tpo_consent(1), probation_consent(2)],
                &screens_and_meds,
                &now()
            ),
            Err(DisclosureRefusal::InformationNotCovered {
                not_covered: vec![Info::Medications]
            })
        );
    }

    #[test]
    fn unusable_covering_consents_are_explained() {
        let mut future = tpo_consent(4);
        future.signed_on = NaiveDate::from_ymd_opt(2025, 4, 1);
        assert_eq!(
            check_disclosure(&[future], &to_provider(&[Info::Attendance]), &now()),
            Err(DisclosureRefusal::NotYetInEffect {
                consent_id: ConsentId(4),
                effective_on: NaiveDate::from_ymd_opt(2025, 4, 1).unwrap()
            })
        );
        let mut unsigned = tpo_consent(5);
        unsigned.signature = None;
        assert!(matches!(
            check_disclosure(&[unsigned], &to_provider(&[Info::Attendance]), &now()),
            Err(DisclosureRefusal::IncompleteConsent {
                consent_id: ConsentId(5),
                ..
            })
        ));
        // An expired covering consent is reported even when another consent is in effect.
        let mut expired = probation_consent(6);
        expired.expiry = Some(Expiry::OnDate {
            date: NaiveDate::from_ymd_opt(2025, 2, 1).unwrap(),
        });
        assert_eq!(
            check_disclosure(
                &[tpo_consent(1), expired],
                &to_probation(Purpose::LegalProceedings),
                &now()
            ),
            Err(DisclosureRefusal::Expired {
                consent_ids: vec![ConsentId(6)]
            })
        );
    }

    fn from_directory(name: &str, kind: RecipientKind, purpose: Purpose) -> DisclosureRequest {
        DisclosureRequest {
            recipient_name: Some(name.into()),
            recipient_kind: Some(kind),
            purpose,
            purpose_detail: String::new(),
            categories: [Info::Attendance].into(),
        }
    }

    #[test]
    fn a_tpo_consent_never_reaches_law_enforcement_courts_employers_or_family() {
        // The attack review's findings: a probation officer passed off as program operations and
        // an employer passed off as a health plan. The class now comes from the directory.
        let officer = from_directory(
            "Officer Dana Lee, County Probation",
            RecipientKind::LawEnforcement,
            Purpose::HealthCareOperations,
        );
        assert_eq!(
            check_disclosure(&[tpo_consent(1)], &officer, &now()),
            Err(DisclosureRefusal::BeyondTpo {
                kind: RecipientKind::LawEnforcement
            })
        );
        let employer = from_directory("Acme Staffing", RecipientKind::Employer, Purpose::Payment);
        let refusal = check_disclosure(&[tpo_consent(1)], &employer, &now()).unwrap_err();
        assert_eq!(refusal.code(), "recipient_beyond_tpo");
        assert!(refusal.to_string().contains("(Employer)"), "{refusal}");
        // Even a TPO consent that names them does not reach them.
        for kind in [RecipientKind::Court, RecipientKind::FamilyMember] {
            let mut naming = tpo_consent(3);
            naming.recipients.push(Recipient::Named {
                name: "Jamie Rivera".into(),
            });
            let request = from_directory("Jamie Rivera", kind, Purpose::Treatment);
            assert_eq!(
                check_disclosure(&[naming], &request, &now()),
                Err(DisclosureRefusal::BeyondTpo { kind })
            );
        }
        // The patient's specific consent for the officer still covers them.
        let legal = from_directory(
            "officer dana lee, county probation",
            RecipientKind::LawEnforcement,
            Purpose::LegalProceedings,
        );
        assert_eq!(
            check_disclosure(&[tpo_consent(1), probation_consent(2)], &legal, &now())
                .map(|m| m.consent_id),
            Ok(ConsentId(2))
        );
    }

    #[test]
    fn directory_classes_decide_which_tpo_recipients_a_consent_covers() {
        let plan = from_directory(
            "Valley Health Plan",
            RecipientKind::HealthPlan,
            Purpose::Payment,
        );
        assert_eq!(
            check_disclosure(&[tpo_consent(1)], &plan, &now()).map(|m| m.consent_id),
            Ok(ConsentId(1))
        );
        // An unclassified recipient is not a TPO class, whatever the purpose.
        let other = from_directory(
            "Legal Aid Society",
            RecipientKind::Other,
            Purpose::Treatment,
        );
        assert!(matches!(
            check_disclosure(&[tpo_consent(1)], &other, &now()),
            Err(DisclosureRefusal::DifferentRecipient { .. })
        ));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let mut request = to_provider(&[Info::Attendance]);
        request.recipient_name = Some("  ".into());
        request.recipient_kind = None;
        assert_eq!(
            check_disclosure(&[tpo_consent(1)], &request, &now()),
            Err(DisclosureRefusal::RecipientNotIdentified)
        );
        assert_eq!(
            check_disclosure(&[tpo_consent(1)], &to_provider(&[]), &now()),
            Err(DisclosureRefusal::NothingRequested)
        );
    }
}
