//! SUD counseling notes (42 CFR 2.11): a counselor's own notes of a counseling session, kept
//! apart from the rest of the record.
//!
//! Only the author reads them: not the clinical director, not another counselor. They live in a
//! table of their own that no chart tab, packet, print or export reads; the one way out is a
//! disclosure under a consent that names SUD counseling notes and nothing else (§2.31(b)), made
//! by the author. The text is encrypted at rest and never logged.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::notes::check_session_day;
use crate::{Day, Instant, Result, Store, StoreError};

const BODY_COLUMN: &str = "counseling_notes.body";
/// The longest counseling note accepted.
pub const MAX_COUNSELING_NOTE_CHARS: usize = 20_000;

/// A counseling note to write.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewCounselingNote {
    /// The day of the session.
    pub session_on: NaiveDate,
    /// The note.
    pub text: String,
}

/// A counseling note, as its author reads it.
#[derive(Debug, Clone, Serialize)]
pub struct CounselingNote {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The day of the session.
    pub session_on: NaiveDate,
    /// The note.
    pub text: String,
    /// When it was written.
    pub written_at: Instant,
}

impl Store {
    /// Writes a counseling note; the signed-in clinician is its author and its only reader.
    pub async fn write_counseling_note(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        note: &NewCounselingNote,
        today: NaiveDate,
    ) -> Result<i64> {
        let author = grant.actor().staff_id()?;
        let text = note.text.trim();
        if text.is_empty() {
            return Err(StoreError::invalid("text", "write the note"));
        }
        if text.chars().count() > MAX_COUNSELING_NOTE_CHARS {
            return Err(StoreError::invalid(
                "text",
                format!("must be at most {MAX_COUNSELING_NOTE_CHARS} characters"),
            ));
        }
        check_session_day(note.session_on, today)?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO counseling_notes (patient_id, author_id, session_on, body, written_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(grant.patient_id())
        .bind(author)
        .bind(Day(note.session_on))
        .bind(self.seal(BODY_COLUMN, text)?)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "counseling_note",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The signed-in clinician's own counseling notes on the patient, newest first (audited).
    /// Nobody else's are ever returned, whatever the role.
    pub async fn my_counseling_notes(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<CounselingNote>> {
        let author = grant.actor().staff_id()?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "counseling_note",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "own counseling notes".into(),
            },
        )
        .await?;
        self.counseling_notes_by(grant.patient_id(), author).await
    }

    /// One author's counseling notes on a patient, newest first (no audit row: the caller
    /// audits, as a read or as a disclosure).
    pub(crate) async fn counseling_notes_by(
        &self,
        patient_id: i64,
        author: i64,
    ) -> Result<Vec<CounselingNote>> {
        let rows: Vec<(i64, Day, String, Instant)> = sqlx::query_as(
            "SELECT id, session_on, body, written_at FROM counseling_notes
             WHERE patient_id = $1 AND author_id = $2
             ORDER BY session_on DESC, id DESC",
        )
        .bind(patient_id)
        .bind(author)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        rows.into_iter()
            .map(|(id, session_on, body, written_at)| {
                Ok(CounselingNote {
                    id,
                    patient_id,
                    session_on: session_on.0,
                    text: self.open(BODY_COLUMN, &body)?,
                    written_at,
                })
            })
            .collect()
    }
}
