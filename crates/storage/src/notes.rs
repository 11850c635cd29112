//! Progress notes: individual, family and group session notes in the DAP or BIRP template.
//!
//! A note is a draft its author may change until they sign it; signing locks it, and later
//! changes are dated addenda. Notes by staff who need supervision (peer specialists, or anyone an
//! administrator marks) wait for a clinical director's co-signature. Sections and addenda are
//! clinical text: encrypted at rest, never logged, never in audit details.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::{Any, FromRow, Transaction};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use trellis_domain::access::Role;
use trellis_domain::documentation::{ServiceCode, ServiceTime};
use trellis_domain::schedule::zone::SiteZone;

use crate::access::{can, patient_scope_sql, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{Day, Flag, Instant, Result, Store, StoreError};

/// A note's sections are unsigned for this long after the session day begins before the note is
/// listed as late on the dashboard.
pub const LATE_NOTE_HOURS: i64 = 24;
/// After this long an unsigned note is overdue (shown as such, and to clinical directors).
pub const OVERDUE_NOTE_HOURS: i64 = 72;
/// The longest section or addendum accepted.
pub const MAX_SECTION_CHARS: usize = 20_000;

pub(crate) const SECTIONS_COLUMN: &str = "progress_notes.sections";
const ADDENDUM_COLUMN: &str = "note_addenda.body";
pub(crate) const SHARED_COLUMN: &str = "group_notes.shared_text";

/// What kind of session a note documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// One-to-one session.
    Individual,
    /// Family session.
    Family,
    /// An attendee's note from a group session.
    Group,
}

impl NoteKind {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            NoteKind::Individual => "individual",
            NoteKind::Family => "family",
            NoteKind::Group => "group",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            NoteKind::Individual => "Individual session",
            NoteKind::Family => "Family session",
            NoteKind::Group => "Group session",
        }
    }
}

impl FromStr for NoteKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "individual" => Ok(NoteKind::Individual),
            "family" => Ok(NoteKind::Family),
            "group" => Ok(NoteKind::Group),
            _ => Err(StoreError::invalid(
                "kind",
                "choose individual, family or group",
            )),
        }
    }
}

/// The note template: which sections a note has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteTemplate {
    /// Data, Assessment, Plan.
    Dap,
    /// Behavior, Intervention, Response, Plan.
    Birp,
}

impl NoteTemplate {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            NoteTemplate::Dap => "dap",
            NoteTemplate::Birp => "birp",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            NoteTemplate::Dap => "DAP",
            NoteTemplate::Birp => "BIRP",
        }
    }

    /// The sections, as (key, label), in the order they are written.
    pub fn sections(self) -> &'static [(&'static str, &'static str)] {
        match self {
            NoteTemplate::Dap => &[
                ("data", "Data"),
                ("assessment", "Assessment"),
                ("plan", "Plan"),
            ],
            NoteTemplate::Birp => &[
                ("behavior", "Behavior"),
                ("intervention", "Intervention"),
                ("response", "Response"),
                ("plan", "Plan"),
            ],
        }
    }
}

impl FromStr for NoteTemplate {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "dap" => Ok(NoteTemplate::Dap),
            "birp" => Ok(NoteTemplate::Birp),
            _ => Err(StoreError::invalid("template", "choose DAP or BIRP")),
        }
    }
}

impl fmt::Display for NoteTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The service a note documents and when: what billing counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteService {
    /// The service delivered.
    pub code: ServiceCode,
    /// When it started and ended.
    pub time: ServiceTime,
}

/// A note to write (or a draft's new text).
#[derive(Debug, Clone)]
pub struct NewNote {
    /// Individual or family (group notes are written through the group note).
    pub kind: NoteKind,
    /// DAP or BIRP.
    pub template: NoteTemplate,
    /// The session date.
    pub session_on: NaiveDate,
    /// Section text by key (every section of the template is required).
    pub sections: BTreeMap<String, String>,
    /// Objectives of the patient's signed treatment plan that the session addressed.
    pub objective_ids: Vec<i64>,
    /// The service and its time (required by the staff pages; older API clients omit it).
    pub service: Option<NoteService>,
}

/// A dated addendum to a signed note.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Addendum {
    /// Id.
    pub id: i64,
    /// The text (decrypted).
    pub body: String,
    /// Who wrote it.
    pub written_by: i64,
    /// Their name.
    pub written_by_name: String,
    /// When.
    pub written_at: Instant,
}

/// A progress note as shown on the chart (text decrypted).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Note {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The group note it belongs to, for group sessions.
    pub group_note_id: Option<i64>,
    /// The group's title, for group sessions.
    pub group_title: Option<String>,
    /// The group's shared part, for group sessions.
    pub group_shared_text: Option<String>,
    /// Session kind code.
    pub kind: String,
    /// Template code.
    pub template: String,
    /// Session date.
    pub session_on: Day,
    /// Sections as (key, text), in template order.
    pub sections: Vec<(String, String)>,
    /// Treatment-plan objectives the note addresses.
    pub objective_ids: Vec<i64>,
    /// Author.
    pub author_id: i64,
    /// Author's name.
    pub author_name: String,
    /// When the draft was started.
    pub created_at: Instant,
    /// When signed.
    pub signed_at: Option<Instant>,
    /// Who signed.
    pub signed_by: Option<i64>,
    /// Whether a clinical director must co-sign.
    pub needs_cosign: bool,
    /// When co-signed.
    pub cosigned_at: Option<Instant>,
    /// Who co-signed (name).
    pub cosigned_by_name: Option<String>,
    /// Addenda, oldest first.
    pub addenda: Vec<Addendum>,
    /// The service code documented (none on notes written before service codes).
    pub service_code: Option<String>,
    /// When the service started.
    pub started_at: Option<Instant>,
    /// When it ended.
    pub ended_at: Option<Instant>,
    /// Its length in minutes.
    pub duration_minutes: Option<i64>,
}

impl Note {
    /// The template, if the stored code is known.
    pub fn template(&self) -> Option<NoteTemplate> {
        self.template.parse().ok()
    }

    /// Whether the note is still a draft.
    pub fn is_draft(&self) -> bool {
        self.signed_at.is_none()
    }
}

#[derive(FromRow)]
struct NoteRow {
    id: i64,
    patient_id: i64,
    group_note_id: Option<i64>,
    group_title: Option<String>,
    group_shared_text: Option<String>,
    kind: String,
    template: String,
    session_on: Day,
    sections: String,
    objective_ids: String,
    author_id: i64,
    author_name: String,
    created_at: Instant,
    signed_at: Option<Instant>,
    signed_by: Option<i64>,
    #[sqlx(try_from = "Flag")]
    needs_cosign: bool,
    cosigned_at: Option<Instant>,
    cosigned_by_name: Option<String>,
    service_code: Option<String>,
    started_at: Option<Instant>,
    ended_at: Option<Instant>,
    duration_minutes: Option<i64>,
}

const NOTE_SELECT: &str = "SELECT n.id, n.patient_id, n.group_note_id, g.title AS group_title,
    g.shared_text AS group_shared_text, n.kind, n.template, n.session_on, n.sections,
    n.objective_ids, n.author_id, a.display_name AS author_name, n.created_at, n.signed_at,
    n.signed_by, n.needs_cosign, n.cosigned_at, c.display_name AS cosigned_by_name,
    n.service_code, n.started_at, n.ended_at, n.duration_minutes
    FROM progress_notes n
    JOIN users a ON a.id = n.author_id
    LEFT JOIN users c ON c.id = n.cosigned_by
    LEFT JOIN group_notes g ON g.id = n.group_note_id";

/// A note waiting for co-signature or signature, as listed on the dashboard (no clinical text).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct NoteListing {
    /// Note id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Patient's display name.
    pub patient_name: String,
    /// Session kind code.
    pub kind: String,
    /// Session date.
    pub session_on: Day,
    /// Author.
    pub author_id: i64,
    /// Author's name.
    pub author_name: String,
    /// When signed by the author (co-signature queue).
    pub signed_at: Option<Instant>,
    /// The patient's site's IANA time zone, whose calendar the session day is on.
    #[serde(skip)]
    pub site_timezone: String,
}

crate::patients::names_patient!(NoteListing);

/// How late an unsigned note is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lateness {
    /// Unsigned more than [`LATE_NOTE_HOURS`].
    Late,
    /// Unsigned more than [`OVERDUE_NOTE_HOURS`].
    Overdue,
}

/// How late a note for a session on `session_on` at a site in `zone` is at `now`, if at all.
/// The clock starts when the session day begins on the site's calendar, since notes record the
/// day, not the hour, of the session.
pub fn lateness(session_on: NaiveDate, zone: SiteZone, now: Instant) -> Option<Lateness> {
    let start = zone.day_start(session_on);
    let elapsed = now.0 - start;
    if elapsed >= Duration::hours(OVERDUE_NOTE_HOURS) {
        Some(Lateness::Overdue)
    } else if elapsed >= Duration::hours(LATE_NOTE_HOURS) {
        Some(Lateness::Late)
    } else {
        None
    }
}

/// Checks every section of the template is present and within length; returns them in order.
pub(crate) fn checked_sections(
    template: NoteTemplate,
    sections: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (key, _) in template.sections() {
        let text = sections.get(*key).map(|s| s.trim()).unwrap_or("");
        if text.is_empty() {
            errors.push(trellis_domain::patient::FieldError::new(key, "is required"));
        } else if text.chars().count() > MAX_SECTION_CHARS {
            errors.push(trellis_domain::patient::FieldError::new(
                key,
                format!("must be at most {MAX_SECTION_CHARS} characters"),
            ));
        } else {
            out.push(((*key).to_owned(), text.to_owned()));
        }
    }
    if let Some(unknown) = sections
        .keys()
        .find(|k| !template.sections().iter().any(|(s, _)| s == k))
    {
        errors.push(trellis_domain::patient::FieldError::new(
            "sections",
            format!(
                "{unknown:?} is not a section of a {} note",
                template.label()
            ),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

pub(crate) fn check_session_day(session_on: NaiveDate, today: NaiveDate) -> Result<()> {
    if session_on > today {
        return Err(StoreError::invalid(
            "session_on",
            "cannot be in the future: write the note after the session",
        ));
    }
    if session_on < today - Duration::days(366) {
        return Err(StoreError::invalid("session_on", "is more than a year ago"));
    }
    Ok(())
}

/// Whether the author's notes wait for a clinical director's co-signature.
pub(crate) async fn author_needs_cosign(
    tx: &mut Transaction<'static, Any>,
    author: &Actor,
) -> Result<bool> {
    if author.role == Role::PeerSpecialist {
        return Ok(true);
    }
    let flag: Option<Flag> = sqlx::query_scalar("SELECT requires_cosign FROM users WHERE id = $1")
        .bind(author.staff_id()?)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(flag.is_some_and(|f| f.0))
}

/// Inserts one note row (already validated) inside the caller's transaction; audited.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_note(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    patient_id: i64,
    group_note_id: Option<i64>,
    kind: NoteKind,
    template: NoteTemplate,
    session_on: NaiveDate,
    sections: &[(String, String)],
    objective_ids: &[i64],
    service: Option<&NoteService>,
) -> Result<i64> {
    let json = serde_json::to_string(sections)
        .map_err(|e| StoreError::Corrupt(format!("note sections: {e}")))?;
    let objectives = objective_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let now = Instant::now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO progress_notes (patient_id, group_note_id, kind, template, session_on,
             sections, objective_ids, author_id, created_at, updated_at, needs_cosign,
             service_code, started_at, ended_at, duration_minutes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(patient_id)
    .bind(group_note_id)
    .bind(kind.code())
    .bind(template.code())
    .bind(Day(session_on))
    .bind(store.seal(SECTIONS_COLUMN, &json)?)
    .bind(objectives)
    .bind(actor.staff_id()?)
    .bind(now)
    .bind(false)
    .bind(service.map(|s| s.code.code()))
    .bind(service.map(|s| Instant(s.time.started_at)))
    .bind(service.map(|s| Instant(s.time.ended_at)))
    .bind(service.map(|s| i64::from(s.time.minutes)))
    .fetch_one(&mut **tx)
    .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: "create",
            record_type: "progress_note",
            record_id: Some(id),
            patient_id: Some(patient_id),
            detail: format!("{} {}", kind.code(), template.code()),
        },
    )
    .await?;
    Ok(id)
}

#[derive(FromRow)]
struct NoteState {
    patient_id: i64,
    group_note_id: Option<i64>,
    template: String,
    author_id: i64,
    signed_at: Option<Instant>,
    #[sqlx(try_from = "Flag")]
    needs_cosign: bool,
    cosigned_at: Option<Instant>,
}

impl Store {
    /// The patient a note belongs to (to ask for the grant before anything else).
    pub async fn note_patient_id(&self, note_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM progress_notes WHERE id = $1")
            .bind(note_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("note"))
    }

    async fn note_state(&self, grant_patient: i64, note_id: i64) -> Result<NoteState> {
        let state: NoteState = sqlx::query_as(
            "SELECT patient_id, group_note_id, template, author_id, signed_at, needs_cosign,
                 cosigned_at FROM progress_notes WHERE id = $1",
        )
        .bind(note_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("note"))?;
        // A grant for one patient never reaches another patient's note.
        if state.patient_id != grant_patient {
            return Err(StoreError::NotFound("note"));
        }
        Ok(state)
    }

    /// Starts a draft individual or family note for the patient.
    pub async fn write_note(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        note: &NewNote,
        today: NaiveDate,
    ) -> Result<i64> {
        grant.actor().staff_id()?;
        if note.kind == NoteKind::Group {
            return Err(StoreError::invalid(
                "kind",
                "group notes are written for the whole group on the group note page",
            ));
        }
        if note.service.is_some_and(|s| s.code == ServiceCode::Group) {
            return Err(StoreError::invalid(
                "service_code",
                "group notes are written from the group's session",
            ));
        }
        let sections = checked_sections(note.template, &note.sections)?;
        check_session_day(note.session_on, today)?;
        self.check_objectives(grant.patient_id(), &note.objective_ids)
            .await?;
        let mut tx = self.begin().await?;
        let id = insert_note(
            self,
            &mut tx,
            grant.actor(),
            grant.patient_id(),
            None,
            note.kind,
            note.template,
            note.session_on,
            &sections,
            &note.objective_ids,
            note.service.as_ref(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces a draft's sections. Only its author may, and only before signing.
    pub async fn update_note(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        note_id: i64,
        sections: &BTreeMap<String, String>,
    ) -> Result<()> {
        let state = self.note_state(grant.patient_id(), note_id).await?;
        let author = grant.actor().staff_id()?;
        if state.author_id != author {
            return Err(StoreError::Denied(
                "only the note's author may change it".into(),
            ));
        }
        if state.signed_at.is_some() {
            return Err(StoreError::Conflict(
                "the note is signed: add an addendum instead".into(),
            ));
        }
        let template: NoteTemplate = crate::parse_code(&state.template, "note template")?;
        let sections = checked_sections(template, sections)?;
        let json = serde_json::to_string(&sections)
            .map_err(|e| StoreError::Corrupt(format!("note sections: {e}")))?;
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE progress_notes SET sections = $2, updated_at = $3
             WHERE id = $1 AND signed_at IS NULL",
        )
        .bind(note_id)
        .bind(self.seal(SECTIONS_COLUMN, &json)?)
        .bind(Instant::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict("the note was signed meanwhile".into()));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "progress_note",
                record_id: Some(note_id),
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs the author's own draft, locking it. Notes by staff who need supervision join the
    /// co-signature queue. Notes of a group session are signed through the group note.
    pub async fn sign_note(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        note_id: i64,
    ) -> Result<()> {
        let state = self.note_state(grant.patient_id(), note_id).await?;
        let author = grant.actor().staff_id()?;
        if state.author_id != author {
            return Err(StoreError::Denied(
                "only the note's author may sign it".into(),
            ));
        }
        if state.group_note_id.is_some() {
            return Err(StoreError::Conflict(
                "sign the group note: it signs every attendee's note".into(),
            ));
        }
        if state.signed_at.is_some() {
            return Err(StoreError::Conflict("the note is already signed".into()));
        }
        let mut tx = self.begin().await?;
        let needs_cosign = author_needs_cosign(&mut tx, grant.actor()).await?;
        sign_rows(
            &mut tx,
            grant.actor(),
            "id = $1",
            note_id,
            needs_cosign,
            Some(grant.patient_id()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A clinical director's co-signature on a note that waits for one.
    pub async fn cosign_note(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        note_id: i64,
    ) -> Result<()> {
        if grant.actor().role != Role::ClinicalDirector {
            return Err(StoreError::Denied(
                "only a clinical director co-signs notes".into(),
            ));
        }
        let state = self.note_state(grant.patient_id(), note_id).await?;
        if state.signed_at.is_none() {
            return Err(StoreError::Conflict(
                "the author has not signed the note yet".into(),
            ));
        }
        if !state.needs_cosign || state.cosigned_at.is_some() {
            return Err(StoreError::Conflict(
                "the note does not wait for a co-signature".into(),
            ));
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE progress_notes SET cosigned_at = $2, cosigned_by = $3 WHERE id = $1")
            .bind(note_id)
            .bind(Instant::now())
            .bind(grant.actor().staff_id()?)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "cosign",
                record_type: "progress_note",
                record_id: Some(note_id),
                patient_id: Some(state.patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a dated addendum to a signed note: the only way to change it. Its author or a
    /// clinical director may.
    pub async fn add_addendum(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        note_id: i64,
        body: &str,
    ) -> Result<i64> {
        let state = self.note_state(grant.patient_id(), note_id).await?;
        let writer = grant.actor().staff_id()?;
        if state.author_id != writer && grant.actor().role != Role::ClinicalDirector {
            return Err(StoreError::Denied(
                "only the note's author or a clinical director may add an addendum".into(),
            ));
        }
        if state.signed_at.is_none() {
            return Err(StoreError::Conflict(
                "the note is a draft: change it directly".into(),
            ));
        }
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_SECTION_CHARS {
            return Err(StoreError::invalid(
                "body",
                format!("is required (at most {MAX_SECTION_CHARS} characters)"),
            ));
        }
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO note_addenda (note_id, body, written_by, written_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(note_id)
        .bind(self.seal(ADDENDUM_COLUMN, body)?)
        .bind(writer)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "note_addendum",
                record_id: Some(id),
                patient_id: Some(state.patient_id),
                detail: format!("note {note_id}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's notes, newest session first, with addenda (audited; text decrypted).
    pub async fn notes(&self, grant: &PatientGrant<can::ReadClinical>) -> Result<Vec<Note>> {
        self.read_notes(grant, None).await
    }

    /// One note of the patient (audited; text decrypted).
    pub async fn note(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        note_id: i64,
    ) -> Result<Note> {
        self.read_notes(grant, Some(note_id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound("note"))
    }

    async fn read_notes(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        only: Option<i64>,
    ) -> Result<Vec<Note>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "progress_note",
                record_id: only,
                patient_id: Some(grant.patient_id()),
                detail: if only.is_some() { "note" } else { "note list" }.into(),
            },
        )
        .await?;
        let rows: Vec<NoteRow> = sqlx::query_as(&format!(
            "{NOTE_SELECT} WHERE n.patient_id = $1 AND ($2 = 0 OR n.id = $2)
             ORDER BY n.session_on DESC, n.id DESC"
        ))
        .bind(grant.patient_id())
        .bind(only.unwrap_or(0))
        .fetch_all(&mut *tx)
        .await?;
        let addenda: Vec<(i64, i64, String, i64, String, Instant)> = sqlx::query_as(
            "SELECT ad.id, ad.note_id, ad.body, ad.written_by, u.display_name, ad.written_at
             FROM note_addenda ad
             JOIN progress_notes n ON n.id = ad.note_id
             JOIN users u ON u.id = ad.written_by
             WHERE n.patient_id = $1 ORDER BY ad.written_at, ad.id",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut notes = Vec::with_capacity(rows.len());
        for row in rows {
            let json = self.open(SECTIONS_COLUMN, &row.sections)?;
            let sections: Vec<(String, String)> = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("note sections: {e}")))?;
            let mut note_addenda = Vec::new();
            for (id, note_id, body, written_by, name, written_at) in &addenda {
                if *note_id == row.id {
                    note_addenda.push(Addendum {
                        id: *id,
                        body: self.open(ADDENDUM_COLUMN, body)?,
                        written_by: *written_by,
                        written_by_name: name.clone(),
                        written_at: *written_at,
                    });
                }
            }
            notes.push(Note {
                id: row.id,
                patient_id: row.patient_id,
                group_note_id: row.group_note_id,
                group_title: row.group_title,
                group_shared_text: row
                    .group_shared_text
                    .as_deref()
                    .map(|t| self.open(SHARED_COLUMN, t))
                    .transpose()?,
                kind: row.kind,
                template: row.template,
                session_on: row.session_on,
                sections,
                objective_ids: row
                    .objective_ids
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect(),
                author_id: row.author_id,
                author_name: row.author_name,
                created_at: row.created_at,
                signed_at: row.signed_at,
                signed_by: row.signed_by,
                needs_cosign: row.needs_cosign,
                cosigned_at: row.cosigned_at,
                cosigned_by_name: row.cosigned_by_name,
                addenda: note_addenda,
                service_code: row.service_code,
                started_at: row.started_at,
                ended_at: row.ended_at,
                duration_minutes: row.duration_minutes,
            });
        }
        Ok(notes)
    }

    /// Signed notes waiting for a clinical director's co-signature, for patients in view
    /// (no clinical text). Empty for anyone but clinical directors.
    pub async fn cosign_queue(&self, grant: &Grant<can::ReadClinical>) -> Result<Vec<NoteListing>> {
        if grant.actor().role != Role::ClinicalDirector {
            return Ok(Vec::new());
        }
        self.note_listing(
            grant,
            "n.signed_at IS NOT NULL AND n.needs_cosign = TRUE AND n.cosigned_at IS NULL",
            "cosign queue",
        )
        .await
    }

    /// Unsigned notes at least [`LATE_NOTE_HOURS`] late: the actor's own, or every one in view
    /// for a clinical director. Each with how late it is.
    pub async fn late_notes(
        &self,
        grant: &Grant<can::ReadClinical>,
        now: Instant,
    ) -> Result<Vec<(NoteListing, Lateness)>> {
        let filter = if grant.actor().role == Role::ClinicalDirector {
            "n.signed_at IS NULL AND n.needs_cosign = FALSE"
        } else {
            "n.signed_at IS NULL AND n.needs_cosign = FALSE AND n.author_id = $1"
        };
        let rows = self.note_listing(grant, filter, "late notes").await?;
        Ok(rows
            .into_iter()
            .filter_map(|n| {
                let zone = SiteZone::parse(&n.site_timezone).ok()?;
                lateness(n.session_on.0, zone, now).map(|l| (n, l))
            })
            .collect())
    }

    async fn note_listing(
        &self,
        grant: &Grant<can::ReadClinical>,
        filter: &str,
        what: &str,
    ) -> Result<Vec<NoteListing>> {
        let actor = grant.actor();
        let scope = patient_scope_sql(actor.role, "$1");
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut rows: Vec<NoteListing> = sqlx::query_as(&format!(
            "SELECT n.id, n.patient_id,
                 CAST('' AS TEXT) AS patient_name,
                 n.kind, n.session_on, n.author_id, a.display_name AS author_name, n.signed_at,
                 s.timezone AS site_timezone
             FROM progress_notes n
             JOIN patients p ON p.id = n.patient_id
             JOIN sites s ON s.id = p.site_id
             JOIN users a ON a.id = n.author_id
             WHERE {filter} AND {scope}
             ORDER BY n.session_on, n.id"
        ))
        .bind(actor.user_id.unwrap_or(0))
        .fetch_all(&mut *tx)
        .await?;
        self.fill_patient_names(&mut tx, &mut rows).await?;
        let shown: Vec<i64> = rows.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "progress_note",
                record_id: None,
                patient_id: None,
                detail: format!("{what}: {} results", rows.len()),
            },
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Marks whether a staff member's notes wait for a clinical director's co-signature.
    pub async fn set_requires_cosign(
        &self,
        grant: &Grant<can::ManageUsers>,
        user_id: i64,
        required: bool,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE users SET requires_cosign = $2 WHERE id = $1")
            .bind(user_id)
            .bind(required)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("staff member"));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: format!("requires_cosign={required}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a staff member's notes wait for co-signature (their flag or their role).
    pub async fn requires_cosign(&self, user_id: i64) -> Result<bool> {
        let row: Option<(String, Flag)> =
            sqlx::query_as("SELECT role, requires_cosign FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
        let (role, flag) = row.ok_or(StoreError::NotFound("staff member"))?;
        Ok(flag.0 || role == Role::PeerSpecialist.code())
    }
}

/// Signs every unsigned note matching `condition` (with `$1` bound to `key`), audited per note.
pub(crate) async fn sign_rows(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    condition: &str,
    key: i64,
    needs_cosign: bool,
    patient_id: Option<i64>,
) -> Result<Vec<(i64, i64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT id, patient_id FROM progress_notes WHERE {condition} AND signed_at IS NULL"
    ))
    .bind(key)
    .fetch_all(&mut **tx)
    .await?;
    let now = Instant::now();
    sqlx::query(&format!(
        "UPDATE progress_notes SET signed_at = $2, signed_by = $3, needs_cosign = $4
         WHERE {condition} AND signed_at IS NULL"
    ))
    .bind(key)
    .bind(now)
    .bind(actor.staff_id()?)
    .bind(needs_cosign)
    .execute(&mut **tx)
    .await?;
    for (id, patient) in &rows {
        audit::append(
            tx,
            actor,
            AuditEvent {
                action: "sign",
                record_type: "progress_note",
                record_id: Some(*id),
                patient_id: patient_id.or(Some(*patient)),
                detail: if needs_cosign {
                    "awaits co-signature".into()
                } else {
                    String::new()
                },
            },
        )
        .await?;
    }
    Ok(rows)
}

/// One attendee's part of a group note.
#[derive(Debug, Clone)]
pub struct AttendeeNote {
    /// Section text by key for this attendee (every section of the template is required).
    pub sections: BTreeMap<String, String>,
    /// The attendee's treatment-plan objectives the session addressed.
    pub objective_ids: Vec<i64>,
}

/// A group note as listed for its facilitator.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct GroupNote {
    /// Id.
    pub id: i64,
    /// The group's name.
    pub title: String,
    /// Session date.
    pub session_on: Day,
    /// Facilitator.
    pub author_id: i64,
    /// When signed.
    pub signed_at: Option<Instant>,
    /// How many attendees have a note.
    pub attendees: i64,
}

impl Store {
    /// Objectives must be on a signed version of the patient's treatment plan (a draft's
    /// objectives are rewritten with the draft, so a note may not point at them), each once.
    pub(crate) async fn check_objectives(
        &self,
        patient_id: i64,
        objective_ids: &[i64],
    ) -> Result<()> {
        let distinct: std::collections::BTreeSet<_> = objective_ids.iter().collect();
        if distinct.len() != objective_ids.len() {
            return Err(StoreError::invalid(
                "objective_ids",
                "each objective may be listed once",
            ));
        }
        for id in objective_ids {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT o.id FROM plan_objectives o
                 JOIN treatment_plans t ON t.id = o.plan_id
                 WHERE o.id = $1 AND t.patient_id = $2 AND t.clinician_signed_at IS NOT NULL",
            )
            .bind(*id)
            .bind(patient_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?;
            if found.is_none() {
                return Err(StoreError::invalid(
                    "objective_ids",
                    "an objective is not on this patient's signed treatment plan",
                ));
            }
        }
        Ok(())
    }

    /// Signs a group note and with it every attendee's note. Only the facilitator may.
    pub async fn sign_group_note(
        &self,
        grant: &Grant<can::WriteClinical>,
        group_note_id: i64,
    ) -> Result<()> {
        let actor = grant.actor();
        let row: Option<(i64, Option<Instant>)> =
            sqlx::query_as("SELECT author_id, signed_at FROM group_notes WHERE id = $1")
                .bind(group_note_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
        let (author, signed_at) = row.ok_or(StoreError::NotFound("group note"))?;
        if Some(author) != actor.user_id {
            return Err(StoreError::Denied(
                "only the group's facilitator may sign its note".into(),
            ));
        }
        if signed_at.is_some() {
            return Err(StoreError::Conflict(
                "the group note is already signed".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let needs_cosign = author_needs_cosign(&mut tx, actor).await?;
        sqlx::query("UPDATE group_notes SET signed_at = $2, signed_by = $3 WHERE id = $1")
            .bind(group_note_id)
            .bind(Instant::now())
            .bind(author)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "sign",
                record_type: "group_note",
                record_id: Some(group_note_id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        sign_rows(
            &mut tx,
            actor,
            "group_note_id = $1",
            group_note_id,
            needs_cosign,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The group notes the actor facilitated, newest first (no clinical text).
    pub async fn my_group_notes(
        &self,
        grant: &Grant<can::WriteClinical>,
    ) -> Result<Vec<GroupNote>> {
        Ok(sqlx::query_as(
            "SELECT g.id, g.title, g.session_on, g.author_id, g.signed_at,
                 (SELECT COUNT(*) FROM progress_notes n WHERE n.group_note_id = g.id) AS attendees
             FROM group_notes g WHERE g.author_id = $1
             ORDER BY g.session_on DESC, g.id DESC LIMIT 50",
        )
        .bind(grant.actor().user_id.unwrap_or(0))
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }
}
