//! The patient's access to their own record (42 CFR 2.23; HIPAA right of access, 45 CFR
//! 164.524): a copy for the patient needs no consent, but it leaves through the same path as any
//! other copy, so it is built from the record as it stands, carries the notice and is in the
//! accounting.

use chrono::Utc;
use std::collections::BTreeSet;
use trellis_domain::consent::{InformationCategory, NOTICE_VERSION};
use trellis_domain::patient::FieldError;

use super::{category_codes, DisclosureRecord, NewDisclosureRow, Packet, PacketDetail};
use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{Instant, Result, Store, StoreError};

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
        let by = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
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
        let now = Utc::now();
        let packet = Packet {
            patient_name: self.patient_legal_name(patient_id).await?,
            // The patient's own record: the notes' text and the recommendation's wording too.
            sections: self
                .packet_sections(
                    patient_id,
                    categories,
                    by,
                    PacketDetail {
                        note_text: true,
                        recommendation_wording: true,
                    },
                )
                .await?,
            notice: self.disclosure_notice().await?.to_owned(),
            consent_scope: "No consent needed: the patient's own records, given to the patient \
                            (42 CFR 2.23; 45 CFR 164.524)."
                .into(),
            notice_version: NOTICE_VERSION.into(),
            emergency: None,
        };
        let mut tx = self.begin().await?;
        let id = self
            .insert_disclosure(
                &mut tx,
                NewDisclosureRow {
                    patient_id,
                    consent_id: None,
                    authority_id: None,
                    kind: PATIENT_ACCESS_KIND,
                    recipient_id: None,
                    purpose: "patient_request",
                    categories: category_codes(categories),
                    recipient: THE_PATIENT,
                    packet: &packet,
                    at: Instant(now),
                    by,
                },
            )
            .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "disclose",
                record_type: "disclosure",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!("patient access; categories {}", category_codes(categories)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(DisclosureRecord {
            id,
            patient_id,
            consent_id: None,
            kind: PATIENT_ACCESS_KIND.into(),
            purpose: "patient_request".into(),
            categories: categories.iter().map(|c| c.label().into()).collect(),
            recipient: THE_PATIENT.into(),
            disclosed_at: Instant(now),
            disclosed_by: grant.actor().username.clone(),
            packet,
        })
    }
}
