//! Group notes written from a session: the roster comes from the session's attendance (absent
//! members get no note, late ones carry their minutes), the shared part is written once, and
//! each member's note records the group service and the time they were there. The track's
//! facilitator or a clinical director writes it, and may sign it in the same step.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{Any, FromRow};
use trellis_domain::access::Role;
use trellis_domain::documentation::{ServiceCode, ServiceTime};
use trellis_domain::schedule::attendance::AttendanceStatus;

use crate::access::{can, patient_scope_sql, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::notes::{
    author_needs_cosign, check_session_day, checked_sections, insert_note, sign_rows, AttendeeNote,
    NoteKind, NoteService, NoteTemplate, MAX_SECTION_CHARS, SHARED_COLUMN,
};
use crate::schedule::{GroupSession, SheetLine, PATIENT_NAME, SESSION_SELECT};
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

/// Whether a member gets a note: checked in as present, late or left early.
fn was_there(member: &SheetLine) -> bool {
    member.status.is_some_and(AttendanceStatus::attended)
}

/// A session as its group note starts from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionForNote {
    /// The session.
    pub session: GroupSession,
    /// Members enrolled that day (those in the actor's view), by name.
    pub members: Vec<SheetLine>,
    /// The session's group note, if one has been written.
    pub group_note_id: Option<i64>,
}

/// Who may write a session's note and whether it has one, for links on the day pages.
#[derive(Debug, Clone, Copy, FromRow, Serialize, PartialEq)]
pub struct SessionNoteLink {
    /// Session.
    pub session_id: i64,
    /// The track's facilitator.
    pub facilitator_id: Option<i64>,
    /// The session's group note.
    pub group_note_id: Option<i64>,
}

impl SessionNoteLink {
    /// Whether `actor` may write the session's note: its facilitator or a clinical director.
    pub fn writable_by(&self, actor: &Actor) -> bool {
        may_write(actor, self.facilitator_id)
    }
}

fn may_write(actor: &Actor, facilitator_id: Option<i64>) -> bool {
    actor.role == Role::ClinicalDirector
        || (actor.user_id.is_some() && actor.user_id == facilitator_id)
}

/// A group note as its page shows it (shared text decrypted).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupNoteView {
    /// Id.
    pub id: i64,
    /// The group's name.
    pub title: String,
    /// Session date.
    pub session_on: Day,
    /// The session it documents, if written from one.
    pub session_id: Option<i64>,
    /// The shared part.
    pub shared_text: String,
    /// Author.
    pub author_id: i64,
    /// Author's name.
    pub author_name: String,
    /// When signed.
    pub signed_at: Option<Instant>,
    /// Each member's note (no clinical text).
    pub members: Vec<GroupNoteMember>,
}

/// One member's note of a group note, as listed.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct GroupNoteMember {
    /// The member's note.
    pub note_id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Name to address them by.
    pub patient_name: String,
    /// When the member's service started.
    pub started_at: Option<Instant>,
    /// When it ended.
    pub ended_at: Option<Instant>,
    /// Its length in minutes.
    pub duration_minutes: Option<i64>,
}

crate::patients::names_patient!(GroupNoteMember);

type MemberRow = (i64, String, Option<String>, Option<i64>);

impl Store {
    async fn session_with_facilitator(
        &self,
        session_id: i64,
    ) -> Result<(GroupSession, Option<i64>)> {
        let session: GroupSession = sqlx::query_as(&format!("{SESSION_SELECT} WHERE gs.id = $1"))
            .bind(session_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("session"))?;
        let facilitator: Option<i64> =
            sqlx::query_scalar("SELECT facilitator_id FROM tracks WHERE id = $1")
                .bind(session.track_id)
                .fetch_one(&mut *self.read_conn().await?)
                .await?;
        Ok((session, facilitator))
    }

    async fn session_members(
        &self,
        actor: &Actor,
        session: &GroupSession,
    ) -> Result<Vec<SheetLine>> {
        let sql = format!(
            "SELECT p.id, {PATIENT_NAME}, a.status, a.minutes_attended
             FROM track_enrolments te JOIN patients p ON p.id = te.patient_id
             LEFT JOIN attendance a ON a.session_id = $1 AND a.patient_id = p.id
             WHERE te.track_id = $2 AND te.enrolled_on <= $3
                 AND (te.ended_on IS NULL OR te.ended_on >= $3) AND {}",
            patient_scope_sql(actor.role, "$4")
        );
        let mut rows: Vec<MemberRow> = sqlx::query_as(&sql)
            .bind(session.id)
            .bind(session.track_id)
            .bind(session.local_date)
            .bind(actor.staff_id()?)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        // A group's roster, sorted by name once decrypted.
        let names = self
            .listed_names(&mut *self.read_conn().await?, rows.iter().map(|r| r.0))
            .await?;
        rows.sort_by_cached_key(|r| names.order(r.0));
        for row in &mut rows {
            row.1 = names.display(row.0);
        }
        rows.into_iter()
            .map(|(patient_id, patient_name, status, minutes)| {
                Ok(SheetLine {
                    patient_id,
                    patient_name,
                    status: status
                        .map(|s| parse_code::<AttendanceStatus>(&s, "attendance status"))
                        .transpose()?,
                    minutes_attended: minutes,
                })
            })
            .collect()
    }

    async fn session_group_note_id(&self, session_id: i64) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM group_notes WHERE session_id = $1")
                .bind(session_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?,
        )
    }

    /// One session's check-in roster: the members enrolled that day (in the actor's view) and
    /// what has been marked (audited).
    pub async fn session_roster(
        &self,
        grant: &Grant<can::ReadSchedule>,
        session_id: i64,
    ) -> Result<(GroupSession, Vec<SheetLine>)> {
        let actor = grant.actor();
        let (session, _) = self.session_with_facilitator(session_id).await?;
        let members = self.session_members(actor, &session).await?;
        audit::record(
            self,
            actor,
            AuditEvent {
                action: "read",
                record_type: "group_session",
                record_id: Some(session_id),
                patient_id: None,
                detail: "check-in roster".into(),
            },
        )
        .await?;
        Ok((session, members))
    }

    /// A session with its members and their attendance, to write its group note. Only the
    /// track's facilitator or a clinical director may (audited).
    pub async fn session_for_note(
        &self,
        grant: &Grant<can::WriteClinical>,
        session_id: i64,
    ) -> Result<SessionForNote> {
        let actor = grant.actor();
        let (session, facilitator) = self.session_with_facilitator(session_id).await?;
        if !may_write(actor, facilitator) {
            return Err(StoreError::Denied(
                "only the group's facilitator or a clinical director writes its note".into(),
            ));
        }
        let members = self.session_members(actor, &session).await?;
        let group_note_id = self.session_group_note_id(session_id).await?;
        audit::record(
            self,
            actor,
            AuditEvent {
                action: "read",
                record_type: "group_session",
                record_id: Some(session_id),
                patient_id: None,
                detail: "roster for group note".into(),
            },
        )
        .await?;
        Ok(SessionForNote {
            session,
            members,
            group_note_id,
        })
    }

    /// Facilitators and group notes of sessions, for the links on the day sheet and My day
    /// (no patient data).
    pub async fn session_note_links(
        &self,
        _grant: &Grant<can::ReadSchedule>,
        session_ids: &[i64],
    ) -> Result<HashMap<i64, SessionNoteLink>> {
        if session_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders = (1..=session_ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT gs.id AS session_id, t.facilitator_id, g.id AS group_note_id
             FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id
             LEFT JOIN group_notes g ON g.session_id = gs.id
             WHERE gs.id IN ({placeholders})"
        );
        let mut query = sqlx::query_as::<Any, SessionNoteLink>(&sql);
        for id in session_ids {
            query = query.bind(*id);
        }
        Ok(query
            .fetch_all(&mut *self.read_conn().await?)
            .await?
            .into_iter()
            .map(|l| (l.session_id, l))
            .collect())
    }

    /// Writes a session's group note: the shared part once and a note for each member who
    /// attended (exactly those), each with the group service code and the member's own time.
    /// With `sign`, the author signs it in the same step. One group note per session.
    pub async fn write_session_group_note(
        &self,
        grant: &Grant<can::WriteClinical>,
        session_id: i64,
        shared_text: &str,
        attendees: &[(PatientGrant<can::WriteClinical>, AttendeeNote)],
        sign: bool,
        today: NaiveDate,
    ) -> Result<i64> {
        let actor = grant.actor();
        let author = actor.staff_id()?;
        let (session, facilitator) = self.session_with_facilitator(session_id).await?;
        if !may_write(actor, facilitator) {
            return Err(StoreError::Denied(
                "only the group's facilitator or a clinical director writes its note".into(),
            ));
        }
        if self.session_group_note_id(session_id).await?.is_some() {
            return Err(StoreError::Conflict(
                "this session already has a group note: open it from the day sheet".into(),
            ));
        }
        check_session_day(session.local_date.0, today)?;
        let shared = shared_text.trim();
        if shared.is_empty() || shared.chars().count() > MAX_SECTION_CHARS {
            return Err(StoreError::invalid(
                "shared_text",
                format!("is required (at most {MAX_SECTION_CHARS} characters)"),
            ));
        }
        let members = self.session_members(actor, &session).await?;
        let attended: HashMap<i64, &SheetLine> = members
            .iter()
            .filter(|m| was_there(m))
            .map(|m| (m.patient_id, m))
            .collect();
        if attended.is_empty() {
            return Err(StoreError::invalid(
                "attendees",
                "no one is checked in as attending this session: check the group in first",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut checked = Vec::with_capacity(attendees.len());
        for (patient_grant, part) in attendees {
            if patient_grant.actor().user_id != actor.user_id {
                return Err(StoreError::Denied(
                    "one author writes the whole group note".into(),
                ));
            }
            let patient_id = patient_grant.patient_id();
            if !seen.insert(patient_id) {
                return Err(StoreError::invalid(
                    "attendees",
                    "each member may be listed once",
                ));
            }
            let Some(member) = attended.get(&patient_id) else {
                return Err(StoreError::invalid(
                    "attendees",
                    "only members checked in as attending get a note",
                ));
            };
            let sections = checked_sections(NoteTemplate::Dap, &part.sections)?;
            self.check_objectives(patient_id, &part.objective_ids)
                .await?;
            let minutes = u32::try_from(member.minutes_attended.unwrap_or(0)).unwrap_or(0);
            let status = member.status.unwrap_or(AttendanceStatus::Present);
            let time =
                ServiceTime::of_member(session.starts_at.0, session.ends_at.0, status, minutes)
                    .ok_or_else(|| {
                        StoreError::invalid("attendees", "a member's attendance has no minutes")
                    })?;
            checked.push((patient_id, sections, &part.objective_ids, time));
        }
        if checked.len() != attended.len() {
            return Err(StoreError::invalid(
                "attendees",
                "every member who attended needs their part of the note",
            ));
        }
        let title = format!("{} group", session.track_name);
        let mut tx = self.begin().await?;
        let group_id: i64 = sqlx::query_scalar(
            "INSERT INTO group_notes (title, session_on, shared_text, author_id, created_at,
                 session_id)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&title)
        .bind(session.local_date)
        .bind(self.seal(SHARED_COLUMN, shared)?)
        .bind(author)
        .bind(Instant::now())
        .bind(session_id)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "create",
                record_type: "group_note",
                record_id: Some(group_id),
                patient_id: None,
                detail: format!("session {session_id}, {} attendees", checked.len()),
            },
        )
        .await?;
        for (patient_id, sections, objectives, time) in checked {
            insert_note(
                self,
                &mut tx,
                actor,
                patient_id,
                Some(group_id),
                NoteKind::Group,
                NoteTemplate::Dap,
                session.local_date.0,
                &sections,
                objectives,
                Some(&NoteService {
                    code: ServiceCode::Group,
                    time,
                }),
            )
            .await?;
        }
        if sign {
            let needs_cosign = author_needs_cosign(&mut tx, actor).await?;
            sqlx::query("UPDATE group_notes SET signed_at = $2, signed_by = $3 WHERE id = $1")
                .bind(group_id)
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
                    record_id: Some(group_id),
                    patient_id: None,
                    detail: String::new(),
                },
            )
            .await?;
            sign_rows(
                &mut tx,
                actor,
                "group_note_id = $1",
                group_id,
                needs_cosign,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(group_id)
    }

    /// A group note with its members' notes listed (shared text decrypted; audited). Its
    /// author and clinical directors may open it; members outside the reader's view are left
    /// out.
    pub async fn group_note(
        &self,
        grant: &Grant<can::ReadClinical>,
        group_note_id: i64,
    ) -> Result<GroupNoteView> {
        let actor = grant.actor();
        type Head = (
            i64,
            String,
            Day,
            Option<i64>,
            String,
            i64,
            String,
            Option<Instant>,
        );
        let head: Head = sqlx::query_as(
            "SELECT g.id, g.title, g.session_on, g.session_id, g.shared_text, g.author_id,
                 u.display_name, g.signed_at
             FROM group_notes g JOIN users u ON u.id = g.author_id WHERE g.id = $1",
        )
        .bind(group_note_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("group note"))?;
        if actor.role != Role::ClinicalDirector && actor.user_id != Some(head.5) {
            return Err(StoreError::Denied(
                "a group note is opened by its author or a clinical director".into(),
            ));
        }
        let sql = format!(
            "SELECT n.id AS note_id, p.id AS patient_id, {PATIENT_NAME} AS patient_name,
                 n.started_at, n.ended_at, n.duration_minutes
             FROM progress_notes n JOIN patients p ON p.id = n.patient_id
             WHERE n.group_note_id = $1 AND {}",
            patient_scope_sql(actor.role, "$2")
        );
        let mut members: Vec<GroupNoteMember> = sqlx::query_as(&sql)
            .bind(group_note_id)
            .bind(actor.staff_id()?)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        let names = self
            .fill_patient_names(&mut *self.read_conn().await?, &mut members)
            .await?;
        members.sort_by_cached_key(|m| names.order(m.patient_id));
        audit::record(
            self,
            actor,
            AuditEvent {
                action: "read",
                record_type: "group_note",
                record_id: Some(group_note_id),
                patient_id: None,
                detail: format!("{} members", members.len()),
            },
        )
        .await?;
        Ok(GroupNoteView {
            id: head.0,
            title: head.1,
            session_on: head.2,
            session_id: head.3,
            shared_text: self.open(SHARED_COLUMN, &head.4)?,
            author_id: head.5,
            author_name: head.6,
            signed_at: head.7,
            members,
        })
    }
}
