//! The dashboard: one page whose cards are chosen by role, each a summary that links to the
//! full page. Every card is one round of queries however many patients it covers, and shows
//! only what the role may see (front desk: schedule and names; billing: counts).

pub(crate) mod cards;

pub(crate) use cards::UnderMinimumCounts;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use trellis_domain::access::{permits, Permission, Role};

use super::Layout;
use crate::error::AppError;
use crate::identity::Staff;
use crate::AppState;

use cards::{
    BillingCard, CaseloadCard, FrontDeskCard, IntakeCard, LateNotesCard, MedicalCard, OutreachCard,
    PrivacyCard, ProgramCard, TasksCard,
};

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    today: String,
    can_register: bool,
    tasks: TasksCard,
    caseload: Option<CaseloadCard>,
    late_notes: Option<LateNotesCard>,
    program: Option<ProgramCard>,
    medical: Option<MedicalCard>,
    intake: Option<IntakeCard>,
    outreach: Option<OutreachCard>,
    front_desk: Option<FrontDeskCard>,
    billing: Option<BillingCard>,
    privacy: Option<PrivacyCard>,
}

/// The signed-in person's dashboard.
pub async fn dashboard(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    let role = staff.actor.role;
    if role == Role::Auditor {
        // An auditor's whole work is their agreement's review (42 CFR 2.53).
        return Ok(axum::response::Redirect::to("/review").into_response());
    }
    let today = state.today();
    let mut page = DashboardPage {
        layout: Layout::new(&staff, "dashboard"),
        today: today.format("%A %-d %B %Y").to_string(),
        can_register: permits(role, Permission::EditDemographics),
        tasks: cards::tasks(&state, &staff, today).await?,
        caseload: None,
        late_notes: None,
        program: None,
        medical: None,
        intake: None,
        outreach: None,
        front_desk: None,
        billing: None,
        privacy: None,
    };
    match role {
        Role::Counselor => {
            page.caseload = Some(cards::caseload(&state, &staff, today, &page.tasks).await?);
            page.late_notes = Some(cards::late_notes(&state, &staff).await?);
        }
        Role::ClinicalDirector => {
            let late = cards::late_notes(&state, &staff).await?;
            page.program = Some(cards::program(&state, &staff, today, &late).await?);
            page.late_notes = Some(late);
        }
        Role::Prescriber | Role::Nurse => {
            page.medical = Some(cards::medical(&state, &staff, today, &page.tasks).await?);
            page.late_notes = Some(cards::late_notes(&state, &staff).await?);
        }
        Role::Intake => page.intake = Some(cards::intake(&state, &staff, today).await?),
        Role::PeerSpecialist => {
            page.outreach = Some(cards::outreach(&state, &staff, today).await?);
            page.late_notes = Some(cards::late_notes(&state, &staff).await?);
        }
        Role::FrontDesk => page.front_desk = Some(cards::front_desk(&state, &staff, today).await?),
        Role::Billing => page.billing = Some(cards::billing(&state, &staff, today).await?),
        Role::PrivacyOfficer => page.privacy = Some(cards::privacy(&state, &staff).await?),
        Role::Admin | Role::Auditor | Role::Patient => {}
    }
    Ok(Html(page.render()?).into_response())
}
