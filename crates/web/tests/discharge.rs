//! Discharge through the pages and the API: the discharge leads to the summary page, the draft
//! is edited and signed, aftercare is planned, follow-up outcomes are checked, bad input is refused.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn api(
    s: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, format!("{}/api/v1{path}", s.base))
        .bearer_auth(s.token("casey").await);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    let text = response.text().await.expect("text");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_discharge_dated_before_a_level_change_in_effect_is_refused_and_nothing_changes() {
    let s = start().await;
    let b = s.browser("casey").await;
    let episode = s.episode_id;
    let stepped_up = today() - chrono::Duration::days(5);
    let change = b
        .post(
            &format!("/episodes/{episode}/level"),
            &[
                ("level", "2.5"),
                ("effective_on", &stepped_up.to_string()),
                ("reason", "Relapse; needs more structure"),
            ],
        )
        .await;
    assert_eq!(change.status(), StatusCode::OK);
    let refused = b
        .post(
            &format!("/episodes/{episode}/discharge"),
            &[
                (
                    "discharged_on",
                    &(stepped_up - chrono::Duration::days(1)).to_string(),
                ),
                ("reason", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.expect("text");
    assert!(
        html.contains(&format!(
            "before the last level-of-care change, effective {stepped_up}"
        )),
        "{html}"
    );
    // The episode is still open: the discharge form is still offered and discharging on the
    // change's own day works.
    let done = b
        .post(
            &format!("/episodes/{episode}/discharge"),
            &[("discharged_on", &stepped_up.to_string()), ("reason", "1")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.url().path().ends_with("/discharge-summary"));
}

#[tokio::test]
async fn counselor_discharges_then_writes_signs_plans_aftercare_and_records_a_follow_up() {
    let s = start().await;
    let b = s.browser("casey").await;
    let episode = s.episode_id;
    let admitted = today() - chrono::Duration::days(14);

    // Bad input: a discharge date before admission.
    let early = b
        .post(
            &format!("/episodes/{episode}/discharge"),
            &[
                (
                    "discharged_on",
                    &(admitted - chrono::Duration::days(1)).to_string(),
                ),
                ("reason", "1"),
            ],
        )
        .await;
    assert_eq!(early.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(early
        .text()
        .await
        .expect("text")
        .contains("before the admission date"));

    // Discharged on the admission day, so the 30-day call can be made today.
    let done = b
        .post(
            &format!("/episodes/{episode}/discharge"),
            &[("discharged_on", &admitted.to_string()), ("reason", "1")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.url().path().ends_with("/discharge-summary"));
    let html = done.text().await.expect("text");
    assert!(html.contains("Draft the summary from the record"));
    assert!(html.contains("30-day") && html.contains("60-day") && html.contains("90-day"));

    let drafted = b
        .post(&format!("/episodes/{episode}/discharge-summary"), &[])
        .await;
    let html = drafted.text().await.expect("text");
    assert!(html.contains("Treatment completed"), "{html}");
    let (_, summary) = api(
        &s,
        Method::GET,
        &format!("/episodes/{episode}/discharge-summary"),
        None,
    )
    .await;
    let id = summary["id"].as_i64().expect("id");

    // Signing before the course of treatment is written is refused.
    let (status, body) = api(
        &s,
        Method::POST,
        &format!("/discharge-summaries/{id}/sign"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "course");
    let (status, _) = api(
        &s,
        Method::PUT,
        &format!("/discharge-summaries/{id}"),
        Some(json!({"sections": {"diagnosis": "x"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let saved = b
        .post(
            &format!("/discharge-summaries/{id}"),
            &[("course", "Met the plan goals; attends AA.")],
        )
        .await;
    assert!(saved
        .text()
        .await
        .expect("text")
        .contains("Met the plan goals"));
    let signed = b
        .post(&format!("/discharge-summaries/{id}/sign"), &[])
        .await;
    let html = signed.text().await.expect("text");
    assert!(html.contains("Signed ") && !html.contains("Sign summary"));
    // Sign twice, edit after signing: 409.
    let (status, _) = api(
        &s,
        Method::POST,
        &format!("/discharge-summaries/{id}/sign"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = api(
        &s,
        Method::PUT,
        &format!("/discharge-summaries/{id}"),
        Some(json!({"sections": {"course": "changed"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let print = b
        .get(&format!("/episodes/{episode}/discharge-summary/print"))
        .await;
    assert_eq!(print.status(), StatusCode::OK);
    let print = print.text().await.expect("text");
    assert!(print.contains("Met the plan goals"));
    // The print is the program's own copy; a copy for outside goes through the disclosure
    // path (consent check, the 42 CFR 2.32 notice, the accounting), never this page.
    assert!(print.contains("Internal copy: for use within the program only."));
    assert!(print.contains(&format!(
        "/patients/{}/consents?information=discharge_summary#disclose-h",
        s.patient_id
    )));
    assert!(!print.contains("any further disclosure needs"));

    // Aftercare: 988 is always there; a referral needs a contact.
    let bad = b
        .post(
            &format!("/episodes/{episode}/aftercare"),
            &[("kind", "referral"), ("detail", "Housing office")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api(
        &s,
        Method::POST,
        &format!("/episodes/{episode}/aftercare"),
        Some(json!({"kind": "sober_living", "detail": "Oak Street House"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, plan) = api(
        &s,
        Method::GET,
        &format!("/episodes/{episode}/aftercare"),
        None,
    )
    .await;
    assert_eq!(plan[0]["kind"], "crisis_line_988");
    assert_eq!(plan[1]["detail"], "Oak Street House");

    // Follow-ups: an outcome without a contact result, and for a task that is not a follow-up.
    let (_, follow_ups) = api(
        &s,
        Method::GET,
        &format!("/episodes/{episode}/follow-ups"),
        None,
    )
    .await;
    assert_eq!(follow_ups.as_array().map(Vec::len), Some(3));
    let task = follow_ups[0]["task_id"].as_i64().expect("task");
    let (status, body) = api(
        &s,
        Method::POST,
        &format!("/follow-ups/{task}/outcome"),
        Some(json!({"recovery_status": "in_recovery"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "contact_result");
    let (status, _) = api(
        &s,
        Method::POST,
        "/follow-ups/999999/outcome",
        Some(json!({"contact_result": "reached", "recovery_status": "in_recovery"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The 30-day call is not due for a while yet (admitted 14 days ago): refused with a reason.
    let recorded = b
        .post(
            &format!("/follow-ups/{task}/outcome"),
            &[
                ("contact_result", "reached"),
                ("recovery_status", "in_recovery"),
            ],
        )
        .await;
    assert_eq!(recorded.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(recorded
        .text()
        .await
        .expect("text")
        .contains("is not due until"));

    // The outcome report lists the scheduled calls for the clinical director; a counselor may not see it.
    let report = s
        .browser("dora")
        .await
        .get("/reports/follow-up-outcomes")
        .await;
    let html = report.text().await.expect("text");
    assert!(html.contains("30-day"));
    let (status, _) = api(&s, Method::GET, "/reports/follow-up-outcomes", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let audit = s.audit_for(s.patient_id).await;
    assert!(audit
        .iter()
        .any(|a| a.record_type == "discharge_summary" && a.action == "sign"));
    assert!(audit.iter().all(|a| !a.detail.contains("plan goals")));
}
