//! The privacy officer's recipient directory page: the people and organisations disclosures may
//! go to, each with its class (which decides whether a treatment, payment and operations consent
//! can reach them). Adding, correcting and retiring entries are audited by the store.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::consent::RecipientKind;
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::recipients::{NewRecipient, RecipientRecord};
use trellis_storage::StoreError;

use super::{labelled, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::AppState;

/// One directory entry, ready to show and edit.
struct EntryView {
    id: i64,
    name: String,
    kind: &'static str,
    kind_code: &'static str,
    contact: String,
    current: bool,
    updated: String,
}

fn entry_view(r: &RecipientRecord, state: &AppState) -> EntryView {
    EntryView {
        id: r.id,
        name: r.recipient.name.clone(),
        kind: r.recipient.kind.label(),
        kind_code: r.recipient.kind.code(),
        contact: r.recipient.contact.clone(),
        current: r.is_current(),
        updated: format!(
            "{} by {}",
            crate::view::local_time(&r.updated_at, state.timezone),
            r.updated_by
        ),
    }
}

#[derive(Template)]
#[template(path = "recipients.html")]
struct RecipientsPage {
    layout: Layout,
    entries: Vec<EntryView>,
    kinds: Vec<(&'static str, &'static str)>,
    form: RecipientForm,
    errors: Vec<LabelledError>,
}

/// The add and change forms.
#[derive(Debug, Default, Deserialize)]
pub struct RecipientForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    retire: Option<String>,
}

/// Which entry was just saved, for the confirmation (an id, never a name, in the URL).
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<i64>,
}

fn parse(form: &RecipientForm) -> Result<NewRecipient, AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let kind = forms::code::<RecipientKind>(
        "kind",
        &form.kind,
        "choose the recipient's class",
        &mut errors,
    );
    match kind {
        Some(kind) if errors.is_empty() => Ok(NewRecipient {
            name: form.name.clone(),
            kind,
            contact: form.contact.clone(),
        }),
        _ => {
            if form.name.trim().is_empty() {
                errors.push(FieldError::new("name", "is required"));
            }
            Err(AppError::Invalid(errors))
        }
    }
}

async fn page(
    state: &AppState,
    staff: &Staff,
    form: RecipientForm,
    errors: &[FieldError],
) -> Result<RecipientsPage, AppError> {
    let grant = state.store.grant::<can::ManageRecipients>(&staff.actor)?;
    let entries = state.store.recipient_directory(&grant).await?;
    Ok(RecipientsPage {
        layout: Layout::new(staff, "privacy"),
        entries: entries.iter().map(|r| entry_view(r, state)).collect(),
        kinds: RecipientKind::ALL
            .iter()
            .map(|k| (k.code(), k.label()))
            .collect(),
        form,
        errors: labelled(errors),
    })
}

/// The directory with the form to add an entry.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    let mut p = page(&state, &staff, RecipientForm::default(), &[]).await?;
    if let Some(saved) = q.saved {
        p.layout.notice = Some(format!("Recipient #{saved} saved."));
    }
    Ok(Html(p.render()?).into_response())
}

async fn refused(
    state: &AppState,
    staff: &Staff,
    form: RecipientForm,
    result: Result<i64, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(id) => Ok(
            Redirect::to(&format!("/privacy/recipients?saved={id}#recipient{id}")).into_response(),
        ),
        Err(AppError::Invalid(errors)) => {
            let p = page(state, staff, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

fn invalid(e: StoreError) -> AppError {
    match e {
        StoreError::Invalid(errors) => AppError::Invalid(errors),
        e => e.into(),
    }
}

/// Adds an entry with its class.
pub async fn add(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<RecipientForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageRecipients>(&staff.actor)?;
    let result = match parse(&form) {
        Ok(new) => state
            .store
            .add_recipient(&grant, &new)
            .await
            .map_err(invalid),
        Err(e) => Err(e),
    };
    refused(&state, &staff, form, result).await
}

/// Corrects an entry's name, class or contact, or retires it.
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<RecipientForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageRecipients>(&staff.actor)?;
    let result = match parse(&form) {
        Ok(new) => state
            .store
            .update_recipient(&grant, id, &new, form.retire.is_some())
            .await
            .map(|()| id)
            .map_err(invalid),
        Err(e) => Err(e),
    };
    // The add form stays empty when a change is refused; the errors name the field.
    refused(&state, &staff, RecipientForm::default(), result).await
}
