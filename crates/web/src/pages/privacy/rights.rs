//! A patient's Part 2 rights on one page (linked from the Consents tab): restriction requests
//! (§2.26) with the privacy officer's decision, the §2.22 notice and its acknowledgment, and the
//! date of death (§2.15). Also the privacy officer's queue of requests to decide and each site's
//! minor-consent rule (§2.14).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::consent::{
    InformationCategory, LiftGround, MinorConsentRule, NoticeAcknowledgment, RecipientKind,
    RestrictionDecision, PATIENT_NOTICE_VERSION,
};
use trellis_domain::patient::FieldError;
use trellis_storage::access::{can, Actor, PatientGrant};
use trellis_storage::patients::mrn;
use trellis_storage::privacy::restrictions::{NewRestriction, RestrictionRecord};

use super::super::patients::ChartHeader;
use super::super::{labelled, ChartTabs, LabelledError, Layout};
use super::{all, one, Pairs};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::AppState;

/// A restriction request, ready to show.
pub struct RestrictionRow {
    id: i64,
    patient_id: i64,
    mrn: String,
    requested_on: String,
    what: String,
    recipient: String,
    information: String,
    self_pay: bool,
    decision: &'static str,
    decision_code: &'static str,
    in_force: bool,
    reason: String,
    decided: String,
    /// May be ended now (it binds and has not been ended).
    can_lift: bool,
    /// How it was ended, in words, once it was.
    lifted: String,
}

fn restriction_row(r: &RestrictionRecord) -> RestrictionRow {
    let restriction = &r.restriction;
    RestrictionRow {
        id: r.id,
        patient_id: r.patient_id,
        mrn: mrn(r.patient_id),
        requested_on: r.requested_on.to_string(),
        what: r.what.clone(),
        recipient: match (&r.recipient_name, restriction.recipient_kind) {
            (Some(name), _) => name.clone(),
            (None, Some(kind)) => format!("Any {}", kind.label().to_lowercase()),
            (None, None) => "Every recipient".into(),
        },
        information: if restriction.categories.is_empty() {
            "All information".into()
        } else {
            restriction
                .categories
                .iter()
                .map(|c| c.label())
                .collect::<Vec<_>>()
                .join(", ")
        },
        self_pay: restriction.self_pay,
        decision: restriction.decision.label(),
        decision_code: restriction.decision.code(),
        in_force: r.in_force,
        reason: r.reason.clone().unwrap_or_default(),
        decided: match (&r.decided_by, &r.decided_at) {
            (Some(by), Some(at)) => format!("{} by {by}", crate::view::date(at.0.date_naive())),
            _ => String::new(),
        },
        can_lift: restriction.lifted.is_none()
            && (restriction.decision == RestrictionDecision::Agreed
                || (restriction.self_pay && restriction.decision == RestrictionDecision::Pending)),
        lifted: match &restriction.lifted {
            Some(lift) => {
                let scope = match lift.ground {
                    LiftGround::PatientAgreed => {
                        "the patient agreed; it no longer refuses anything".to_owned()
                    }
                    LiftGround::ProgramTold => format!(
                        "the program ended it, telling the patient on {}; it still covers information created before then, so Trellis still refuses the disclosures it covers",
                        crate::view::date(lift.on)
                    ),
                };
                let by = match (&r.lifted_by, &r.lifted_at) {
                    (Some(by), Some(at)) => format!(
                        " (recorded {} by {by})",
                        crate::view::date(at.0.date_naive())
                    ),
                    _ => String::new(),
                };
                let why = r
                    .lift_reason
                    .as_deref()
                    .map_or_else(String::new, |w| format!(" Told: {w}"));
                format!("Ended on {}: {scope}{by}.{why}", lift.on)
            }
            None => String::new(),
        },
    }
}

#[derive(Template)]
#[template(path = "privacy/patient_rights.html")]
struct RightsPage {
    layout: Layout,
    tabs: ChartTabs,
    header: ChartHeader,
    patient_id: i64,
    restrictions: Vec<RestrictionRow>,
    notices: Vec<(String, &'static str, String, String)>,
    death: Option<String>,
    can_decide: bool,
    recipients: Vec<(i64, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    categories: Vec<(&'static str, &'static str)>,
    acknowledgments: Vec<(&'static str, &'static str)>,
    notice_version: &'static str,
    form: Pairs,
    errors: Vec<LabelledError>,
    today: String,
}

impl RightsPage {
    fn value(&self, key: &str) -> String {
        one(&self.form, key)
    }

    fn checked(&self, key: &str, value: &str) -> bool {
        self.form.iter().any(|(k, v)| k == key && v == value)
    }
}

/// The directory entries a restriction may name, for roles that may read the directory.
async fn directory(state: &AppState, actor: &Actor) -> Result<Vec<(i64, String)>, AppError> {
    let entries = if permits(actor.role, Permission::ManageRecipients) {
        let grant = state.store.grant::<can::ManageRecipients>(actor)?;
        state.store.recipient_directory(&grant).await?
    } else if permits(actor.role, Permission::Disclose) {
        let grant = state.store.grant::<can::Disclose>(actor)?;
        state.store.recipients(&grant).await?
    } else {
        Vec::new()
    };
    Ok(entries
        .into_iter()
        .filter(|e| e.is_current())
        .map(|e| {
            (
                e.id,
                format!("{} · {}", e.recipient.name, e.recipient.kind.label()),
            )
        })
        .collect())
}

async fn rights_page(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    form: Pairs,
    errors: &[FieldError],
) -> Result<RightsPage, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, patient_id)
        .await?;
    let header = super::super::patients::chart_data(state, &staff.actor, patient_id)
        .await?
        .header;
    let restrictions = state.store.restrictions(&grant).await?;
    let notices = state.store.patient_notices(&grant).await?;
    let death = state.store.date_of_death(&grant).await?;
    Ok(RightsPage {
        layout: Layout::new(staff, "patients"),
        tabs: ChartTabs::new(staff.actor.role, patient_id, "consents"),
        header,
        patient_id,
        restrictions: restrictions.iter().map(restriction_row).collect(),
        notices: notices
            .iter()
            .map(|n| {
                (
                    n.given_on.to_string(),
                    n.acknowledgment.label(),
                    n.version.clone(),
                    n.recorded_by.clone(),
                )
            })
            .collect(),
        death: death.map(|d| {
            format!(
                "{} (recorded by {} on {})",
                crate::view::date(d.date_of_death),
                d.recorded_by,
                crate::view::date(d.recorded_at.0.date_naive())
            )
        }),
        can_decide: permits(staff.actor.role, Permission::DecideRestrictions),
        recipients: directory(state, &staff.actor).await?,
        kinds: RecipientKind::ALL
            .iter()
            .map(|k| (k.code(), k.label()))
            .collect(),
        categories: InformationCategory::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        acknowledgments: NoticeAcknowledgment::ALL
            .iter()
            .map(|a| (a.code(), a.label()))
            .collect(),
        notice_version: PATIENT_NOTICE_VERSION,
        form,
        errors: labelled(errors),
        today: state.today().to_string(),
    })
}

/// Which record was just saved, for the confirmation (ids only in the URL).
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

fn confirmation(saved: Option<&str>) -> Option<String> {
    match saved? {
        "restriction" => Some("Restriction request recorded.".into()),
        "decision" => Some("Decision recorded.".into()),
        "lift" => Some("The end of the restriction is recorded.".into()),
        "notice" => Some("Patient notice recorded.".into()),
        "death" => Some("Date of death recorded.".into()),
        _ => None,
    }
}

/// The patient's rights page.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    let mut p = rights_page(&state, &staff, id, Vec::new(), &[]).await?;
    p.layout.notice = confirmation(q.saved.as_deref());
    Ok(Html(p.render()?).into_response())
}

async fn answer(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    form: Pairs,
    result: Result<&'static str, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(saved) => Ok(Redirect::to(&format!(
            "/patients/{patient_id}/privacy?saved={saved}#{saved}"
        ))
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let p = rights_page(state, staff, patient_id, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Reads the restriction request form.
fn parse_restriction(form: &Pairs, errors: &mut Vec<FieldError>) -> NewRestriction {
    let requested_on = forms::date("requested_on", &one(form, "requested_on"), errors);
    let recipient_id = forms::optional_id("recipient_id", &one(form, "recipient_id"), errors);
    let kind = one(form, "recipient_kind");
    let recipient_kind = if kind.is_empty() {
        None
    } else {
        forms::code::<RecipientKind>("recipient_kind", &kind, "choose a class", errors)
    };
    let categories = all(form, "categories")
        .iter()
        .filter_map(|c| {
            forms::code::<InformationCategory>("categories", c, "choose from the list", errors)
        })
        .collect();
    NewRestriction {
        what: one(form, "what"),
        requested_on,
        recipient_id,
        recipient_kind,
        categories,
        self_pay: !one(form, "self_pay").is_empty(),
    }
}

/// Records a restriction request.
pub async fn record_restriction(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let new = parse_restriction(&form, &mut errors);
    let result = if errors.is_empty() {
        state
            .store
            .record_restriction(&grant, &new)
            .await
            .map(|_| "restriction")
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, form, result).await
}

/// The privacy officer's grant to decide on or end `restriction`, which must be patient `id`'s.
async fn decider(
    state: &AppState,
    staff: &Staff,
    id: i64,
    restriction: i64,
) -> Result<PatientGrant<can::DecideRestrictions>, AppError> {
    if state.store.restriction_patient_id(restriction).await? != id {
        return Err(AppError::NotFound("restriction request"));
    }
    Ok(state
        .store
        .patient_grant::<can::DecideRestrictions>(&staff.actor, id)
        .await?)
}

/// The privacy officer's decision, from the patient's page or the queue (`back=queue`).
pub async fn decide(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, restriction)): Path<(i64, i64)>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = decider(&state, &staff, id, restriction).await?;
    let mut errors = Vec::new();
    let decision = match one(&form, "decision").parse::<RestrictionDecision>() {
        Ok(d) if d != RestrictionDecision::Pending => Some(d),
        _ => {
            errors.push(FieldError::new("decision", "choose agreed or refused"));
            None
        }
    };
    let result = match decision {
        Some(d) => state
            .store
            .decide_restriction(&grant, restriction, d, &one(&form, "reason"))
            .await
            .map(|()| "decision")
            .map_err(AppError::from),
        None => Err(AppError::Invalid(errors)),
    };
    if one(&form, "back") == "queue" {
        return match result {
            Ok(_) => Ok(Redirect::to("/privacy/restrictions?saved=1").into_response()),
            Err(AppError::Invalid(errors)) => {
                let p = queue_page(&state, &staff, &errors).await?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
            }
            Err(e) => Err(e),
        };
    }
    answer(&state, &staff, id, form, result).await
}

/// The privacy officer ends an agreed restriction (§2.26 with 45 CFR 164.522(a)(2)).
pub async fn lift(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, restriction)): Path<(i64, i64)>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = decider(&state, &staff, id, restriction).await?;
    let mut errors = Vec::new();
    let (ground, on) = crate::api::privacy::restrictions::parse_lift(
        &one(&form, "ground"),
        &one(&form, "lifted_on"),
        &mut errors,
    );
    let result = if errors.is_empty() {
        state
            .store
            .lift_restriction(&grant, restriction, ground, on, &one(&form, "reason"))
            .await
            .map(|()| "lift")
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, form, result).await
}

/// Records the §2.22 notice given.
pub async fn record_notice(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let given_on = forms::date("given_on", &one(&form, "given_on"), &mut errors);
    let ack = forms::code::<NoticeAcknowledgment>(
        "acknowledgment",
        &one(&form, "acknowledgment"),
        "choose acknowledged or refused to sign",
        &mut errors,
    );
    let result = match ack {
        Some(ack) if errors.is_empty() => state
            .store
            .record_patient_notice(&grant, given_on, ack)
            .await
            .map(|_| "notice")
            .map_err(AppError::from),
        _ => Err(AppError::Invalid(errors)),
    };
    answer(&state, &staff, id, form, result).await
}

/// Records the date of death.
pub async fn record_death(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let day = forms::date("date_of_death", &one(&form, "date_of_death"), &mut errors);
    let result = match day {
        Some(day) => state
            .store
            .record_date_of_death(&grant, Some(day))
            .await
            .map(|()| "death")
            .map_err(AppError::from),
        None => Err(AppError::Invalid(errors)),
    };
    answer(&state, &staff, id, form, result).await
}

#[derive(Template)]
#[template(path = "privacy/restriction_queue.html")]
struct QueuePage {
    layout: Layout,
    restrictions: Vec<RestrictionRow>,
    errors: Vec<LabelledError>,
}

async fn queue_page(
    state: &AppState,
    staff: &Staff,
    errors: &[FieldError],
) -> Result<QueuePage, AppError> {
    let grant = state.store.grant::<can::DecideRestrictions>(&staff.actor)?;
    let pending = state.store.pending_restrictions(&grant).await?;
    Ok(QueuePage {
        layout: Layout::new(staff, "privacy"),
        restrictions: pending.iter().map(restriction_row).collect(),
        errors: labelled(errors),
    })
}

/// Whether something was just saved.
#[derive(Debug, Deserialize)]
pub struct Flagged {
    saved: Option<i64>,
}

/// The restriction requests waiting for the privacy officer.
pub async fn queue(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Flagged>,
) -> Result<Response, AppError> {
    let mut p = queue_page(&state, &staff, &[]).await?;
    if q.saved.is_some() {
        p.layout.notice = Some("Decision recorded.".into());
    }
    Ok(Html(p.render()?).into_response())
}

/// One site's rule, ready to show and edit.
pub struct SiteRule {
    id: i64,
    name: String,
    majority: i32,
    alone_from: String,
}

#[derive(Template)]
#[template(path = "privacy/minor_consent.html")]
struct MinorConsentPage {
    layout: Layout,
    sites: Vec<SiteRule>,
    errors: Vec<LabelledError>,
}

async fn minor_consent_page(
    state: &AppState,
    staff: &Staff,
    errors: &[FieldError],
) -> Result<MinorConsentPage, AppError> {
    state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let mut sites = Vec::new();
    for site in state.store.sites().await? {
        let rule = state.store.minor_consent_rule(site.id).await?;
        sites.push(SiteRule {
            id: site.id,
            name: site.name,
            majority: rule.age_of_majority,
            alone_from: rule
                .minor_may_consent_alone_from
                .map_or(String::new(), |a| a.to_string()),
        });
    }
    Ok(MinorConsentPage {
        layout: Layout::new(staff, "privacy"),
        sites,
        errors: labelled(errors),
    })
}

/// Each site's minor-consent rule.
pub async fn minor_consent(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Flagged>,
) -> Result<Response, AppError> {
    let mut p = minor_consent_page(&state, &staff, &[]).await?;
    if let Some(site) = q.saved {
        p.layout.notice = Some(format!("Site #{site}: minor-consent rule saved."));
    }
    Ok(Html(p.render()?).into_response())
}

/// Saves one site's minor-consent rule.
pub async fn set_minor_consent(
    State(state): State<AppState>,
    staff: Staff,
    Path(site): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let mut errors = Vec::new();
    let majority = match one(&form, "age_of_majority").parse::<i32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new("age_of_majority", "must be a whole number"));
            None
        }
    };
    let alone = one(&form, "minor_may_consent_alone_from");
    let alone = if alone.is_empty() {
        Some(None)
    } else {
        match alone.parse::<i32>() {
            Ok(n) => Some(Some(n)),
            Err(_) => {
                errors.push(FieldError::new(
                    "minor_may_consent_alone_from",
                    "must be a whole number, or blank",
                ));
                None
            }
        }
    };
    let result = match (majority, alone) {
        (Some(age_of_majority), Some(minor_may_consent_alone_from)) => state
            .store
            .set_minor_consent_rule(
                &grant,
                site,
                &MinorConsentRule {
                    age_of_majority,
                    minor_may_consent_alone_from,
                },
            )
            .await
            .map_err(AppError::from),
        _ => Err(AppError::Invalid(errors)),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/privacy/minor-consent?saved={site}")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let p = minor_consent_page(&state, &staff, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// The line the Consents tab shows about the patient's rights: the latest §2.22 notice and the
/// restrictions in force, with the link to the rights page.
pub struct RightsSummary {
    /// The latest notice, in words, or `None` when none is on file.
    pub notice: Option<String>,
    /// How many restrictions refuse disclosures now.
    pub restrictions_in_force: usize,
    /// How many requests wait for the privacy officer.
    pub restrictions_pending: usize,
}

/// The Consents tab's summary of the patient's rights (reads audited by the store).
pub(crate) async fn summary(
    state: &AppState,
    actor: &Actor,
    patient_id: i64,
) -> Result<RightsSummary, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(actor, patient_id)
        .await?;
    let notices = state.store.patient_notices(&grant).await?;
    let restrictions = state.store.restrictions(&grant).await?;
    Ok(RightsSummary {
        notice: notices.first().map(|n| {
            format!(
                "given {}, {} ({})",
                n.given_on,
                n.acknowledgment.label().to_lowercase(),
                n.version
            )
        }),
        restrictions_in_force: restrictions.iter().filter(|r| r.in_force).count(),
        restrictions_pending: restrictions
            .iter()
            .filter(|r| r.restriction.decision == RestrictionDecision::Pending)
            .count(),
    })
}
