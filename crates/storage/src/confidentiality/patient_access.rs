//! The patient's access to their own record (42 CFR 2.23; HIPAA right of access, 45 CFR
//! 164.524): a copy for the patient needs no consent, but it leaves through the same path as any
//! other copy, so it is built from the record as it stands, carries the notice and is in the
//! accounting.

use std::collections::BTreeSet;
use trellis_domain::consent::InformationCategory;
use trellis_domain::patient::FieldError;

use super::{DisclosureRecord, Outgoing, PacketDetail};
use crate::access::{can, PatientGrant};
use crate::{Result, Store, StoreError};

/// The accounting's `kind` of a copy given to the patient.
pub const PATIENT_ACCESS_KIND: &str = "patient_access";
/// Who received it, as the accounting shows it.
const THE_PATIENT: &str = "The patient (right of access)";

impl Store {
    /// Makes a copy of the chosen information for the patient and records it in the
    /// accounting (audited). SUD counseling notes are not part of it: they are their author's,
    /// outside the record the patient may obtain (45 CFR 164.524(a)(1)(i)).
    pub async fn copy_for_patient(
        &self,
        grant: &PatientGrant<can::Disclose>,
        categories: &BTreeSet<InformationCategory>,
    ) -> Result<DisclosureRecord> {
        if categories.is_empty() {
            return Err(StoreError::invalid(
                "categories",
                "choose the information to copy",
            ));
        }
        if categories.contains(&InformationCategory::CounselingNotes) {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "categories",
                "SUD counseling notes are not part of the patient's copy of the record",
            )]));
        }
        self.build_and_account(
            grant.actor(),
            Outgoing {
                patient_id: grant.patient_id(),
                categories,
                // The patient's own record: the notes' text and the recommendation's wording too.
                detail: PacketDetail {
                    note_text: true,
                    recommendation_wording: true,
                },
                scope: "No consent needed: the patient's own records, given to the patient \
                        (42 CFR 2.23; 45 CFR 164.524)."
                    .into(),
                consent_id: None,
                authority_id: None,
                kind: PATIENT_ACCESS_KIND,
                recipient_id: None,
                recipient: THE_PATIENT,
                purpose: "patient_request",
                audit_detail: "patient access".into(),
                told: None,
                emergency: None,
                review: None,
            },
        )
        .await
    }
}
