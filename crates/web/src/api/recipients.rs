//! The Part 2 recipient directory over JSON: anyone who may disclose reads it to choose a
//! recipient; only the privacy officer adds, corrects or retires entries (audited by the store).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::consent::RecipientKind;
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::recipients::{NewRecipient, RecipientRecord};

use super::episodes::Created;
use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// A recipient directory entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DirectoryRecipient {
    /// Id, what a disclosure's `recipient_id` names.
    pub id: i64,
    /// The person or organisation, as consents name them.
    pub name: String,
    /// The class the privacy officer set.
    #[schema(value_type = String, example = "health_plan")]
    pub class: RecipientKind,
    /// The class in words.
    pub class_label: String,
    /// How to reach them.
    pub contact: String,
    /// When it was retired, if it was (no new disclosures go to it).
    pub retired_at: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Who last changed it.
    pub updated_by: String,
}

fn dto(r: RecipientRecord) -> DirectoryRecipient {
    DirectoryRecipient {
        id: r.id,
        class_label: r.recipient.kind.label().to_owned(),
        name: r.recipient.name,
        class: r.recipient.kind,
        contact: r.recipient.contact,
        retired_at: r.retired_at.map(|at| at.0),
        updated_at: r.updated_at.0,
        updated_by: r.updated_by,
    }
}

/// An entry to add or the corrected entry.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RecipientBody {
    /// The person or organisation, as consents name them (at most 300 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 300)]
    pub name: String,
    /// treating_provider, health_plan, program_operations, law_enforcement, court, employer,
    /// family_member or other.
    #[serde(default)]
    #[schema(required = true)]
    pub class: String,
    /// How to reach them (at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub contact: String,
    /// On a change: true retires the entry (no new disclosures go to it; cannot be undone).
    #[serde(default)]
    pub retired: bool,
}

fn parse(b: RecipientBody) -> Result<(NewRecipient, bool), AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let kind = forms::code::<RecipientKind>(
        "class",
        &b.class,
        "must be treating_provider, health_plan, program_operations, law_enforcement, court, \
         employer, family_member or other",
        &mut errors,
    );
    match kind {
        Some(kind) => Ok((
            NewRecipient {
                name: b.name,
                kind,
                contact: b.contact,
            },
            b.retired,
        )),
        None => Err(AppError::Invalid(errors)),
    }
}

/// The recipient directory, current entries first, by name.
#[utoipa::path(get, path = "/recipients", tag = "confidentiality",
    params(PageQuery),
    responses(
        (status = 200, description = "Every entry", body = Vec<DirectoryRecipient>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn list_recipients(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<DirectoryRecipient>, ApiError> {
    let grant = state.store.grant::<can::Disclose>(&caller.actor)?;
    let rows = state.store.recipients(&grant).await?;
    Ok(paging.page(rows.into_iter().map(dto).collect()))
}

/// One entry.
#[utoipa::path(get, path = "/recipients/{id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Recipient id")),
    responses(
        (status = 200, description = "The entry", body = DirectoryRecipient),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_recipient(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<DirectoryRecipient>, ApiError> {
    let grant = state.store.grant::<can::Disclose>(&caller.actor)?;
    let found = state
        .store
        .recipients(&grant)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound("recipient"))?;
    Ok(Json(dto(found)))
}

/// Adds a person or organisation with their class (privacy officer only; audited).
#[utoipa::path(post, path = "/recipients", tag = "confidentiality",
    request_body = RecipientBody,
    responses(
        (status = 201, description = "Added", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn add_recipient(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<RecipientBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state.store.grant::<can::ManageRecipients>(&caller.actor)?;
    let (new, _) = parse(body.parse()?)?;
    let id = state.store.add_recipient(&grant, &new).await?;
    Ok(CreatedAt(
        format!("/api/v1/recipients/{id}"),
        Created { id },
    ))
}

/// Corrects an entry's name, class or contact, or retires it (privacy officer only; audited
/// with the old and new class).
#[utoipa::path(put, path = "/recipients/{id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Recipient id")),
    request_body = RecipientBody,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "The entry was retired (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn update_recipient(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<RecipientBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManageRecipients>(&caller.actor)?;
    let (new, retire) = parse(body.parse()?)?;
    state
        .store
        .update_recipient(&grant, id, &new, retire)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
