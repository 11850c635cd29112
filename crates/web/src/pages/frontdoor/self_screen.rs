//! The public self-screen, "Is an IOP right for me?" (`/is-iop-right-for-me`): the form, and
//! its answer computed on the spot. The answers are posted (never put in a URL, where browser
//! history would keep them) and nothing is stored or audited: the visitor is anonymous and
//! what they answered leaves with the response.

use askama::Template;
use axum::extract::{RawForm, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use trellis_domain::frontdoor::self_screen::{
    assess, Answers, Outcome, Plain, AUDIT_C_QUESTIONS, DAST_10_QUESTIONS,
};
use trellis_domain::measures::{audit_c, dast10};

use crate::error::AppError;
use crate::identity::Identity;
use crate::AppState;

/// One question with its choices, as the form shows it.
pub(crate) struct Question {
    name: String,
    text: &'static str,
    choices: Vec<(String, &'static str, bool)>,
    missing: bool,
}

#[derive(Template)]
#[template(path = "frontdoor/self_screen.html")]
struct SelfScreenPage {
    csrf: Option<String>,
    plain: Vec<Question>,
    alcohol: Vec<Question>,
    drugs: Vec<Question>,
    missing: usize,
}

#[derive(Template)]
#[template(path = "frontdoor/self_screen_answer.html")]
struct AnswerPage {
    outcome: Outcome,
    heading: &'static str,
    explanation: &'static str,
    intake: Vec<(String, String, String)>,
}

/// The session's CSRF token when a signed-in staff member opens the page (the CSRF check asks
/// it of any post carrying their cookie); visitors have none and need none.
fn csrf(identity: &Identity) -> Option<String> {
    match identity {
        Identity::Session { session, .. } => Some(session.csrf_token.clone()),
        _ => None,
    }
}

fn yes_no(name: &str, posted: &[(String, String)]) -> Vec<(String, &'static str, bool)> {
    let chosen = value(name, posted);
    [("1", "Yes"), ("0", "No")]
        .into_iter()
        .map(|(v, label)| (v.to_owned(), label, chosen.as_deref() == Some(v)))
        .collect()
}

fn value(name: &str, posted: &[(String, String)]) -> Option<String> {
    posted
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The questions, with what was posted chosen and the unanswered ones marked when `check`.
fn questions(posted: &[(String, String)], check: bool) -> SelfScreenPage {
    let missing = |name: &str| check && value(name, posted).is_none();
    let plain = Plain::ALL
        .iter()
        .map(|q| Question {
            name: q.code().to_owned(),
            text: q.question(),
            choices: yes_no(q.code(), posted),
            missing: missing(q.code()),
        })
        .collect();
    let alcohol = AUDIT_C_QUESTIONS
        .iter()
        .zip(audit_c::FORM.items)
        .enumerate()
        .map(|(i, (text, item))| {
            let name = format!("audit_c_{}", i + 1);
            let chosen = value(&name, posted);
            Question {
                choices: item
                    .options
                    .iter()
                    .map(|o| {
                        let v = o.value.to_string();
                        let on = chosen.as_deref() == Some(v.as_str());
                        (v, o.label, on)
                    })
                    .collect(),
                missing: missing(&name),
                name,
                text,
            }
        })
        .collect();
    let drugs = DAST_10_QUESTIONS
        .iter()
        .zip(dast10::FORM.items)
        .enumerate()
        .map(|(i, (text, _))| {
            let name = format!("dast_10_{}", i + 1);
            Question {
                choices: yes_no(&name, posted),
                missing: missing(&name),
                name,
                text,
            }
        })
        .collect::<Vec<_>>();
    let mut page = SelfScreenPage {
        csrf: None,
        plain,
        alcohol,
        drugs,
        missing: 0,
    };
    page.missing = page
        .plain
        .iter()
        .chain(&page.alcohol)
        .chain(&page.drugs)
        .filter(|q| q.missing)
        .count();
    page
}

/// The self-screen's questions.
pub async fn form(Extension(identity): Extension<Identity>) -> Result<Response, AppError> {
    let mut page = questions(&[], false);
    page.csrf = csrf(&identity);
    Ok(Html(page.render()?).into_response())
}

/// Reads the answers; `None` if any is missing or out of range.
fn read(posted: &[(String, String)]) -> Option<Answers> {
    let number = |name: String, max: u8| -> Option<u8> {
        value(&name, posted)?
            .parse::<u8>()
            .ok()
            .filter(|v| *v <= max)
    };
    let mut audit_c = [0u8; 3];
    for (i, slot) in audit_c.iter_mut().enumerate() {
        *slot = number(format!("audit_c_{}", i + 1), 4)?;
    }
    let mut dast_10 = [0u8; 10];
    for (i, slot) in dast_10.iter_mut().enumerate() {
        *slot = number(format!("dast_10_{}", i + 1), 1)?;
    }
    let mut plain = [false; 6];
    for (slot, q) in plain.iter_mut().zip(Plain::ALL) {
        *slot = number(q.code().to_owned(), 1)? == 1;
    }
    Some(Answers {
        audit_c,
        dast_10,
        plain,
    })
}

/// The answer: crisis help first on any danger answer, then which level of care may fit and
/// how to reach intake. Unanswered or out-of-range answers bring the form back (422).
pub async fn answer(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    RawForm(body): RawForm,
) -> Result<Response, AppError> {
    let posted: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let Some(outcome) = read(&posted).and_then(|a| assess(&a).ok()) else {
        let mut page = questions(&posted, true);
        page.csrf = csrf(&identity);
        if page.missing == 0 {
            // Every field was there but some value was not one of the choices.
            page.missing = 1;
        }
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let mut intake: Vec<(String, String, String)> = Vec::new();
    for p in state.store.published_programs().await? {
        let phone = p.input.intake_phone.clone();
        if !intake.iter().any(|(_, shown, _)| *shown == phone) {
            let link: String = phone
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            intake.push((p.site_name.clone(), phone, link));
        }
    }
    let page = AnswerPage {
        heading: outcome.fit.heading(),
        explanation: outcome.fit.explanation(),
        outcome,
        intake,
    };
    Ok(Html(page.render()?).into_response())
}
