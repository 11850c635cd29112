//! Progress notes and group notes: drafts, signing, addenda, co-signature, late notes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::counseling_notes::NewCounselingNote;
use trellis_storage::notes::{
    AttendeeNote, Lateness, NewNote, NoteKind, NoteListing, NoteTemplate,
};

use super::episodes::Created;
use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// A dated addendum.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Addendum {
    /// Id.
    pub id: i64,
    /// The text.
    pub body: String,
    /// Writer's staff id.
    pub written_by: i64,
    /// Writer's name.
    pub written_by_name: String,
    /// When.
    pub written_at: DateTime<Utc>,
}

/// A progress note with its sections and addenda.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Note {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The group note, for a group session.
    pub group_note_id: Option<i64>,
    /// The group's name.
    pub group_title: Option<String>,
    /// The group's shared part.
    pub group_shared_text: Option<String>,
    /// individual, family or group.
    pub kind: String,
    /// dap or birp.
    pub template: String,
    /// Session date.
    pub session_on: NaiveDate,
    /// Section text by key (data/assessment/plan or behavior/intervention/response/plan).
    pub sections: BTreeMap<String, String>,
    /// Treatment-plan objectives addressed.
    pub objective_ids: Vec<i64>,
    /// Author's staff id.
    pub author_id: i64,
    /// Author's name.
    pub author_name: String,
    /// When signed (a signed note is locked).
    pub signed_at: Option<DateTime<Utc>>,
    /// Whether a clinical director must co-sign.
    pub needs_cosign: bool,
    /// When co-signed.
    pub cosigned_at: Option<DateTime<Utc>>,
    /// Addenda, oldest first.
    pub addenda: Vec<Addendum>,
}

fn note_dto(n: trellis_storage::notes::Note) -> Note {
    Note {
        id: n.id,
        patient_id: n.patient_id,
        group_note_id: n.group_note_id,
        group_title: n.group_title,
        group_shared_text: n.group_shared_text,
        kind: n.kind,
        template: n.template,
        session_on: n.session_on.0,
        sections: n.sections.into_iter().collect(),
        objective_ids: n.objective_ids,
        author_id: n.author_id,
        author_name: n.author_name,
        signed_at: n.signed_at.map(|s| s.0),
        needs_cosign: n.needs_cosign,
        cosigned_at: n.cosigned_at.map(|s| s.0),
        addenda: n
            .addenda
            .into_iter()
            .map(|a| Addendum {
                id: a.id,
                body: a.body,
                written_by: a.written_by,
                written_by_name: a.written_by_name,
                written_at: a.written_at.0,
            })
            .collect(),
    }
}

/// The patient's progress notes, newest session first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/notes", tag = "notes",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The notes", body = Vec<Note>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_notes(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Note>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    Ok(paging.page(
        state
            .store
            .notes(&grant)
            .await?
            .into_iter()
            .map(note_dto)
            .collect(),
    ))
}

/// A new individual or family note (a draft).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "individual", "template": "dap", "session_on": "2026-11-30", "sections": {"data": "Reports three alcohol-free days.", "assessment": "Engaged; cravings lower.", "plan": "Continue evening track; review coping plan."}, "objective_ids": []}))]
pub struct NewNoteBody {
    /// individual or family.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::note_kind)]
    pub kind: String,
    /// dap or birp.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::note_template)]
    pub template: String,
    /// Session date, YYYY-MM-DD (not in the future).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub session_on: String,
    /// Every section of the template by key.
    #[serde(default)]
    #[schema(required = true)]
    pub sections: BTreeMap<String, String>,
    /// Objectives of the patient's signed treatment plan the session addressed.
    #[serde(default)]
    pub objective_ids: Vec<i64>,
}

/// Starts a draft note; only its author may change or sign it.
#[utoipa::path(post, path = "/patients/{id}/notes", tag = "notes",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewNoteBody,
    responses(
        (status = 201, description = "Draft saved", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn create_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewNoteBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    let kind = forms::code::<NoteKind>(
        "kind",
        &new.kind,
        "must be individual or family",
        &mut errors,
    );
    let template = forms::code::<NoteTemplate>(
        "template",
        &new.template,
        "must be dap or birp",
        &mut errors,
    );
    let session_on = forms::date("session_on", &new.session_on, &mut errors);
    let (Some(kind), Some(template), Some(session_on), true) =
        (kind, template, session_on, errors.is_empty())
    else {
        return Err(AppError::Invalid(errors).into());
    };
    let note = NewNote {
        kind,
        template,
        session_on,
        sections: new.sections,
        objective_ids: new.objective_ids,
        service: None,
    };
    let id = state.store.write_note(&grant, &note, state.today()).await?;
    Ok(CreatedAt(format!("/api/v1/notes/{id}"), Created { id }))
}

/// One progress note (the read is audited).
#[utoipa::path(get, path = "/notes/{id}", tag = "notes",
    params(("id" = i64, Path, description = "Note id")),
    responses(
        (status = 200, description = "The note", body = Note),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<Note>, ApiError> {
    let patient = state.store.note_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, patient)
        .await?;
    Ok(Json(note_dto(state.store.note(&grant, id).await?)))
}

/// A draft's new sections.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NoteSections {
    /// Every section of the note's template by key.
    #[serde(default)]
    #[schema(required = true)]
    pub sections: BTreeMap<String, String>,
}

/// Replaces a draft's sections (author only; a signed note answers 409).
#[utoipa::path(put, path = "/notes/{id}", tag = "notes",
    params(("id" = i64, Path, description = "Note id")),
    request_body = NoteSections,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "The note is signed: add an addendum", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn update_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NoteSections>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.note_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let sections = body.parse()?.sections;
    state.store.update_note(&grant, id, &sections).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs the caller's own draft, locking it.
#[utoipa::path(post, path = "/notes/{id}/sign", tag = "notes",
    params(("id" = i64, Path, description = "Note id")),
    responses(
        (status = 204, description = "Signed"),
        (status = 409, description = "Already signed, or part of a group note", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn sign_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.note_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    state.store.sign_note(&grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A clinical director's co-signature on a note that waits for one.
#[utoipa::path(post, path = "/notes/{id}/cosign", tag = "notes",
    params(("id" = i64, Path, description = "Note id")),
    responses(
        (status = 204, description = "Co-signed"),
        (status = 409, description = "The note does not wait for a co-signature", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn cosign_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.note_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    state.store.cosign_note(&grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An addendum's text.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAddendum {
    /// The text, at most 20000 characters (encrypted at rest).
    #[serde(default)]
    #[schema(required = true, max_length = 20000)]
    pub body: String,
}

/// Adds a dated addendum to a signed note (its author or a clinical director).
#[utoipa::path(post, path = "/notes/{id}/addenda", tag = "notes",
    params(("id" = i64, Path, description = "Note id")),
    request_body = NewAddendum,
    responses(
        (status = 201, description = "Added", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The note is still a draft", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn add_addendum(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewAddendum>,
) -> Result<CreatedAt<Created>, ApiError> {
    let patient = state.store.note_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let text = body.parse()?.body;
    let note = id;
    let id = state.store.add_addendum(&grant, id, &text).await?;
    Ok(CreatedAt(format!("/api/v1/notes/{note}"), Created { id }))
}

/// A note waiting for signature or co-signature (no clinical text).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoteAlert {
    /// Note id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Patient's name.
    pub patient_name: String,
    /// Session kind.
    pub kind: String,
    /// Session date.
    pub session_on: NaiveDate,
    /// Author's name.
    pub author_name: String,
    /// late (over 24 h) or overdue (over 72 h), for unsigned notes.
    pub lateness: Option<String>,
}

fn alert(n: NoteListing, lateness: Option<Lateness>) -> NoteAlert {
    NoteAlert {
        id: n.id,
        patient_id: n.patient_id,
        patient_name: n.patient_name,
        kind: n.kind,
        session_on: n.session_on.0,
        author_name: n.author_name,
        lateness: lateness.map(|l| match l {
            Lateness::Late => "late".into(),
            Lateness::Overdue => "overdue".into(),
        }),
    }
}

/// Unsigned notes over 24 h: the caller's own, or all in view for a clinical director.
#[utoipa::path(get, path = "/notes/late", tag = "notes",
    params(PageQuery),
    responses(
        (status = 200, description = "Late notes", body = Vec<NoteAlert>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn late_notes(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<NoteAlert>, ApiError> {
    let grant = state.store.grant::<can::ReadClinical>(&caller.actor)?;
    let rows = state
        .store
        .late_notes(&grant, trellis_storage::Instant::now())
        .await?;
    Ok(paging.page(rows.into_iter().map(|(n, l)| alert(n, Some(l))).collect()))
}

/// Signed notes waiting for a clinical director's co-signature (empty for other roles).
#[utoipa::path(get, path = "/notes/cosign-queue", tag = "notes",
    params(PageQuery),
    responses(
        (status = 200, description = "The co-signature queue", body = Vec<NoteAlert>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn cosign_queue(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<NoteAlert>, ApiError> {
    let grant = state.store.grant::<can::ReadClinical>(&caller.actor)?;
    let rows = state.store.cosign_queue(&grant).await?;
    Ok(paging.page(rows.into_iter().map(|n| alert(n, None)).collect()))
}

/// One attendee's part of a group note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GroupAttendee {
    /// The attendee.
    #[schema(value_type = i64, required = true)]
    pub patient_id: Option<i64>,
    /// Every section of the template by key, for this attendee.
    #[serde(default)]
    #[schema(required = true)]
    pub sections: BTreeMap<String, String>,
    /// The attendee's treatment-plan objectives the session addressed.
    #[serde(default)]
    pub objective_ids: Vec<i64>,
}

/// A group note written from a session: the shared part once, each attending member's part.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewGroupNoteBody {
    /// The group session it documents; its date, service and each member's time come from the
    /// session's check-in.
    #[schema(value_type = i64, required = true)]
    pub session_id: Option<i64>,
    /// What the group did, written once (at most 20000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 20000)]
    pub shared_text: String,
    /// A part for members checked in as attending (present, late or left early); absent
    /// members get no note. DAP sections: data, assessment, plan.
    #[serde(default)]
    #[schema(required = true, min_items = 1)]
    pub attendees: Vec<GroupAttendee>,
    /// true: the author signs the group note and every member's note in the same step.
    #[serde(default)]
    pub sign: bool,
}

/// Writes a session's group note: one note lands in each attending member's chart, with the
/// group service code and the member's own time. The track's facilitator or a clinical
/// director writes it; one group note per session.
#[utoipa::path(post, path = "/group-notes", tag = "notes",
    request_body = NewGroupNoteBody,
    responses(
        (status = 201, description = "Saved; the id is the group note's", body = Created,
            headers(("Location" = String, description = "The notes of the first attendee, where \
                their part of the group note appears"))),
        (status = 409, description = "The session already has a group note", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn create_group_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<NewGroupNoteBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state.store.grant::<can::WriteClinical>(&caller.actor)?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    if new.session_id.is_none() {
        errors.push(FieldError::new("session_id", "is required"));
    }
    if new.attendees.is_empty() {
        errors.push(FieldError::new(
            "attendees",
            "list each member checked in as attending",
        ));
    }
    if new.attendees.iter().any(|a| a.patient_id.is_none()) {
        errors.push(FieldError::new(
            "attendees",
            "each attendee needs a patient_id",
        ));
    }
    let (Some(session_id), true) = (new.session_id, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let mut attendees = Vec::new();
    for a in new.attendees {
        let patient_id = a.patient_id.unwrap_or_default();
        let patient = state
            .store
            .patient_grant::<can::WriteClinical>(&caller.actor, patient_id)
            .await?;
        attendees.push((
            patient,
            AttendeeNote {
                sections: a.sections,
                objective_ids: a.objective_ids,
            },
        ));
    }
    let Some(first) = attendees.first().map(|(grant, _)| grant.patient_id()) else {
        return Err(AppError::Invalid(vec![FieldError::new(
            "attendees",
            "list at least one attendee",
        )])
        .into());
    };
    let id = state
        .store
        .write_session_group_note(
            &grant,
            session_id,
            &new.shared_text,
            &attendees,
            new.sign,
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{first}/notes"),
        Created { id },
    ))
}

/// Signs a group note and every attendee's note (the facilitator only).
#[utoipa::path(post, path = "/group-notes/{id}/sign", tag = "notes",
    params(("id" = i64, Path, description = "Group note id")),
    responses(
        (status = 204, description = "Signed"),
        (status = 409, description = "Already signed", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn sign_group_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::WriteClinical>(&caller.actor)?;
    state.store.sign_group_note(&grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a staff member's notes need co-signature.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CosignSetting {
    /// true: their signed notes wait for a clinical director.
    #[schema(value_type = bool, required = true)]
    pub requires_cosign: Option<bool>,
}

/// Sets whether a staff member's notes wait for co-signature (administrators).
#[utoipa::path(put, path = "/users/{id}/requires-cosign", tag = "staff",
    params(("id" = i64, Path, description = "Staff id")),
    request_body = CosignSetting,
    responses(
        (status = 204, description = "Saved"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn set_requires_cosign(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<CosignSetting>,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let Some(required) = body.parse()?.requires_cosign else {
        return Err(
            AppError::Invalid(vec![FieldError::new("requires_cosign", "is required")]).into(),
        );
    };
    state
        .store
        .set_requires_cosign(&grant, id, required)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One of the caller's own SUD counseling notes (42 CFR 2.11).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CounselingNote {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Session date.
    pub session_on: NaiveDate,
    /// The note.
    pub text: String,
    /// When it was written.
    pub written_at: DateTime<Utc>,
}

/// The caller's own SUD counseling notes on the patient, newest session first (audited). Only
/// the author's are ever listed, whatever the role: a clinical director sees none of a
/// counselor's.
#[utoipa::path(get, path = "/patients/{id}/counseling-notes", tag = "notes",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The caller's own counseling notes", body = Vec<CounselingNote>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_counseling_notes(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<CounselingNote>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    Ok(paging.page(
        state
            .store
            .my_counseling_notes(&grant)
            .await?
            .into_iter()
            .map(|n| CounselingNote {
                id: n.id,
                patient_id: n.patient_id,
                session_on: n.session_on,
                text: n.text,
                written_at: n.written_at.0,
            })
            .collect(),
    ))
}

/// A new SUD counseling note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewCounselingNoteBody {
    /// Session date, YYYY-MM-DD (not in the future, within a year).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub session_on: String,
    /// The note (1–20000 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 20000)]
    pub text: String,
}

/// Writes a SUD counseling note; the caller is its author and its only reader. It is never in
/// a chart, print, packet or export; it leaves only under a consent for counseling notes alone.
#[utoipa::path(post, path = "/patients/{id}/counseling-notes", tag = "notes",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewCounselingNoteBody,
    responses(
        (status = 201, description = "Saved", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn create_counseling_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewCounselingNoteBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    let Some(session_on) =
        forms::date("session_on", &new.session_on, &mut errors).filter(|_| errors.is_empty())
    else {
        return Err(AppError::Invalid(errors).into());
    };
    let note = NewCounselingNote {
        session_on,
        text: new.text,
    };
    let id = state
        .store
        .write_counseling_note(&grant, &note, state.today())
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{}/counseling-notes", grant.patient_id()),
        Created { id },
    ))
}
