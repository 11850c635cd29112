//! Intake assessments over HTTP: the Assessment tab, the recommendation with its reasons, the
//! placement with discrepancy reasons, diagnoses, bad input through pages and API, and who may
//! read them.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn intake_fields(ratings: [&'static str; 6]) -> Vec<(String, String)> {
    let mut fields = vec![
        (
            "assessed_on".to_owned(),
            today().format("%Y-%m-%d").to_string(),
        ),
        ("legal".to_owned(), "Probation until March".to_owned()),
        ("substance_1".to_owned(), "Alcohol".to_owned()),
        ("route_1".to_owned(), "oral".to_owned()),
        ("frequency_1".to_owned(), "daily".to_owned()),
        ("age_first_use_1".to_owned(), "15".to_owned()),
        ("substance_2".to_owned(), String::new()),
    ];
    for (i, r) in ratings.iter().enumerate() {
        fields.push((format!("d{}", i + 1), (*r).to_owned()));
        fields.push((
            format!("d{}_narrative", i + 1),
            format!("narrative {}", i + 1),
        ));
    }
    fields
}

async fn post_fields(b: &Browser, path: &str, fields: &[(String, String)]) -> reqwest::Response {
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post(path, &borrowed).await
}

async fn stored(s: &TestServer, table: &str) -> usize {
    trellis_storage::testing::raw_strings(&s.store, &format!("SELECT 'x' FROM {table}"))
        .await
        .expect("raw")
        .len()
}

async fn latest_assessment(s: &TestServer) -> i64 {
    trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT CAST(MAX(id) AS TEXT) FROM intake_assessments",
    )
    .await
    .expect("raw")[0]
        .parse()
        .expect("id")
}

#[tokio::test]
async fn counselor_records_an_intake_sees_why_and_places_at_another_level() {
    let s = start().await;
    let b = s.browser("casey").await;
    let chart = b.get(&format!("/patients/{}", s.patient_id)).await;
    assert!(chart
        .text()
        .await
        .expect("text")
        .contains("/assessment\">Assessment</a>"));
    let tab = b
        .get(&format!("/patients/{}/assessment", s.patient_id))
        .await;
    assert_eq!(tab.status(), StatusCode::OK);
    let html = tab.text().await.expect("text");
    assert!(html.contains("Record the intake assessment"));
    assert!(html.contains("Living situation and supports"));
    assert!(html.contains("name=\"last_use_on_4\""));
    assert!(html.contains("<option value=\"F10.20\">"), "curated list");

    // D3 = 3 sets partial hospitalization: placement is not an average of the ratings.
    let res = post_fields(
        &b,
        &format!("/patients/{}/assessments", s.patient_id),
        &intake_fields(["1", "1", "3", "1", "1", "1"]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "redirect followed");
    let html = res.text().await.expect("text");
    assert!(html.contains(
        "Recommended level: <span class=\"badge level\">2.5 Partial hospitalization (PHP)</span>"
    ));
    assert!(html.contains("<strong>Sets the level:</strong> D3 Emotional"));
    assert!(
        html.contains("No substance use disorder diagnosis is recorded"),
        "caution"
    );
    assert!(html.contains("Probation until March"));
    let id = latest_assessment(&s).await;

    // Placed lower without a reason: refused, naming the problem.
    let place = format!("/assessments/{id}/placement");
    let res = b.post(&place, &[("actual_level", "2.1")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("The placement was not recorded"));
    assert!(html.contains("give at least one reason for the discrepancy"));
    let res = b
        .post(
            &place,
            &[("actual_level", "2.1"), ("discrepancy_reasons", "other")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.expect("text").contains("describe the "));
    let res = b
        .post(
            &place,
            &[("actual_level", "2.1"), ("discrepancy_reasons", "sleepy")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = b
        .post(
            &place,
            &[
                ("actual_level", "2.1"),
                ("discrepancy_reasons", "transportation"),
                ("discrepancy_reasons", "patient_preference"),
                ("discrepancy_explanation", "PHP is across town"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html
        .contains("Placed at: <span class=\"badge level\">2.1 Intensive outpatient (IOP)</span>"));
    assert!(html.contains("differs from the recommendation"));
    assert!(html.contains("Patient preference, Transportation"));
    // The episode is already at 2.1, so there is nothing to change.
    assert!(!html.contains("change its level of care"));
    let again = b.post(&place, &[("actual_level", "2.5")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // A reassessment placed at 2.5 points to the existing change-level form.
    post_fields(
        &b,
        &format!("/patients/{}/assessments", s.patient_id),
        &intake_fields(["1", "1", "3", "1", "1", "1"]),
    )
    .await;
    let id2 = latest_assessment(&s).await;
    let html = b
        .post(
            &format!("/assessments/{id2}/placement"),
            &[("actual_level", "2.5")],
        )
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains(&format!("href=\"/episodes/{}/level\"", s.episode_id)));
    assert!(
        html.find(&format!("id=\"assessment-{id2}\""))
            < html.find(&format!("id=\"assessment-{id}\"")),
        "newest first"
    );
    assert_eq!(stored(&s, "intake_assessments").await, 2);
}

#[tokio::test]
async fn a_recent_high_risk_cssrs_shows_on_the_recommendation_page_and_in_the_api() {
    let s = start().await;
    let token = s.token("casey").await;
    let client = reqwest::Client::new();
    let screened_on = today() - chrono::Duration::days(2);
    // Q1, Q2 and Q4 (intent) yes: high risk.
    let res = client
        .post(format!(
            "{}/api/v1/patients/{}/measures",
            s.base, s.patient_id
        ))
        .bearer_auth(&token)
        .json(&json!({
            "instrument": "cssrs",
            "administered_on": screened_on,
            "answers": [1, 1, 0, 1, 0, 0, null],
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let b = s.browser("casey").await;
    let res = post_fields(
        &b,
        &format!("/patients/{}/assessments", s.patient_id),
        &intake_fields(["0", "1", "1", "0", "1", "0"]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "redirect followed");
    let html = res.text().await.expect("text");
    assert!(html.contains(
        "Recommended level: <span class=\"badge level\">2.5 Partial hospitalization (PHP)</span>"
    ));
    assert!(html.contains(&format!("C-SSRS high risk on {screened_on} (D3 Emotional")));
    assert!(html.contains(&format!(
        "Current suicide risk: the C-SSRS on {screened_on} was high risk. Arrange a same-day \
         safety evaluation before placement in an outpatient level"
    )));
    assert!(html.contains("D3 is rated 1 (mild): review it"));

    let res = client
        .post(format!(
            "{}/api/v1/patients/{}/assessments",
            s.base, s.patient_id
        ))
        .bearer_auth(&token)
        .json(&json!({
            "assessed_on": today(),
            "sections": {},
            "substances": [],
            "ratings": (1..=6).map(|d| json!({"dimension": format!("d{d}"), "rating": 0, "narrative": "n"})).collect::<Vec<_>>(),
        }))
        .send()
        .await
        .expect("send");
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rec = &body["recommendation"];
    assert_eq!(rec["level"], "2.5", "{rec}");
    assert!(rec["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .any(|r| r["rule"] == "SR" && r["decisive"] == true));
    assert!(rec["cautions"][0]
        .as_str()
        .expect("caution")
        .starts_with("Current suicide risk"));
}

#[tokio::test]
async fn bad_intakes_and_diagnoses_are_refused_on_the_page() {
    let s = start().await;
    let b = s.browser("casey").await;
    let res = post_fields(
        &b,
        &format!("/patients/{}/assessments", s.patient_id),
        &intake_fields(["1", "7", "", "x", "1", "1"]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("The assessment was not saved"));
    assert!(html.contains("D2 Biomedical conditions and complications: rating 7 is outside 0–4"));
    assert!(html.contains("choose a rating from 0 to 4"));
    assert!(html.contains("the rating must be a whole number"));
    assert!(
        html.contains("Probation until March"),
        "the form keeps what was typed"
    );
    let mut fields = intake_fields(["1", "1", "1", "1", "1", "1"]);
    fields.push(("route_2".into(), "oral".into()));
    let res = post_fields(
        &b,
        &format!("/patients/{}/assessments", s.patient_id),
        &fields,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("substance row 2: name the substance"));
    assert_eq!(stored(&s, "intake_assessments").await, 0);

    let dx = format!("/patients/{}/diagnoses", s.patient_id);
    let res = b.post(&dx, &[("code", "F1.020")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("The diagnosis was not added"));
    assert!(html.contains("the dot belongs after the first three characters"));
    let res = b.post(&dx, &[("code", "F99")]).await;
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("is required for a code not on the list"));
    assert_eq!(stored(&s, "patient_diagnoses").await, 0);

    let res = b.post(&dx, &[("code", "f1120"), ("primary", "yes")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("F11.20 <span class=\"badge level\">primary</span>"));
    assert!(html.contains("Opioid dependence, uncomplicated"));
    let res = b
        .post(&dx, &[("code", "F41.1"), ("onset_on", "someday")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let id: i64 = trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT CAST(id AS TEXT) FROM patient_diagnoses",
    )
    .await
    .expect("raw")[0]
        .parse()
        .expect("id");
    let resolve = format!("/diagnoses/{id}/resolve");
    let res = b.post(&resolve, &[("resolved_on", "2999-01-01")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("cannot be in the future"));
    let today = today().format("%Y-%m-%d").to_string();
    let res = b.post(&resolve, &[("resolved_on", today.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("text").contains("Resolved "));
}

#[tokio::test]
async fn api_records_places_lists_and_refuses_bad_input() {
    let s = start().await;
    let token = s.token("casey").await;
    let client = reqwest::Client::new();
    let api = |path: String| format!("{}/api/v1{path}", s.base);
    let today = today().format("%Y-%m-%d").to_string();
    let ratings = |values: [i64; 6]| -> Value {
        Value::Array(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| json!({"dimension": format!("d{}", i + 1), "rating": v, "narrative": "n"}))
                .collect(),
        )
    };
    let post = |url: String, body: Value| client.post(url).bearer_auth(&token).json(&body).send();

    // Diagnoses first, so the recommendation knows there is a SUD diagnosis.
    let dx = api(format!("/patients/{}/diagnoses", s.patient_id));
    let bad = post(dx.clone(), json!({"code": "10.20"}))
        .await
        .expect("send");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "code");
    assert!(body["error"]["fields"][0]["message"]
        .as_str()
        .expect("m")
        .contains("must start with a letter and two digits"));
    let created = post(dx.clone(), json!({"code": "F10.20", "primary": true}))
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let dx_id = created.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    post(dx.clone(), json!({"code": "F32.1"}))
        .await
        .expect("send");
    let list: Value = client
        .get(&dx)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["code"], "F10.20");
    assert_eq!(list[0]["primary"], true);
    assert_eq!(
        list[1]["description"],
        "Major depressive disorder, single episode, moderate"
    );
    let resolve = api(format!("/diagnoses/{dx_id}/resolve"));
    let missing = post(resolve.clone(), json!({})).await.expect("send");
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let codes: Value = client
        .get(api("/diagnosis-codes".into()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(codes
        .as_array()
        .expect("list")
        .iter()
        .any(|c| c["code"] == "F43.10" && c["group"] == "co_occurring"));

    let url = api(format!("/patients/{}/assessments", s.patient_id));
    let wrong = post(
        url.clone(),
        json!({"assessed_on": today, "ratings": ratings([1, 1, 5, 1, 1, 1])}),
    )
    .await
    .expect("send");
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "d3");
    assert!(body["error"]["fields"][0]["message"]
        .as_str()
        .expect("m")
        .contains("rating 5 is outside 0–4"));
    let short = post(
        url.clone(),
        json!({"assessed_on": today, "ratings": [{"dimension": "d1", "rating": 1}]}),
    )
    .await
    .expect("send");
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = post(
        api("/patients/999999/assessments".into()),
        json!({"assessed_on": today, "ratings": ratings([1; 6])}),
    )
    .await
    .expect("send");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // D2 = 2 needs medical monitoring: above outpatient although every other rating is 1.
    let created = post(
        url.clone(),
        json!({"assessed_on": today, "ratings": ratings([1, 2, 1, 1, 1, 1]),
               "substances": [{"substance": "Alcohol", "route": "oral", "frequency": "daily", "age_first_use": 16}],
               "sections": {"medical": "Cirrhosis"}}),
    )
    .await
    .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.expect("json");
    assert_eq!(body["recommendation"]["level"], "2.1");
    assert_eq!(body["recommendation"]["reasons"][0]["rule"], "D2-2");
    assert_eq!(body["recommendation"]["reasons"][0]["decisive"], true);
    let id = body["id"].as_i64().expect("id");

    let place = api(format!("/assessments/{id}/placement"));
    let no_reason = post(place.clone(), json!({"actual_level": "1"}))
        .await
        .expect("send");
    // Well-formed, but the stored recommendation (2.1) makes a reason necessary: a conflict.
    assert_eq!(no_reason.status(), StatusCode::CONFLICT);
    let body: Value = no_reason.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "discrepancy_reasons");
    let bad_level = post(place.clone(), json!({"actual_level": "9"}))
        .await
        .expect("send");
    assert_eq!(bad_level.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ok = post(place.clone(), json!({"actual_level": "1", "discrepancy_reasons": ["other"], "discrepancy_other": "Works two jobs"})).await.expect("send");
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let twice = post(place.clone(), json!({"actual_level": "2.1"}))
        .await
        .expect("send");
    assert_eq!(twice.status(), StatusCode::CONFLICT);

    let list: Value = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["recommendation"]["level"], "2.1");
    assert_eq!(list[0]["placement"]["actual_level"], "1");
    assert_eq!(
        list[0]["placement"]["discrepancy_reasons"],
        json!(["other"])
    );
    assert_eq!(list[0]["placement"]["discrepancy_other"], "Works two jobs");
    assert_eq!(list[0]["sections"]["medical"], "Cirrhosis");
    assert_eq!(list[0]["substances"][0]["route"], "oral");
}

#[tokio::test]
async fn billing_and_front_desk_cannot_read_assessments_or_diagnoses() {
    let s = start().await;
    for username in ["bill", "fran"] {
        let b = s.browser(username).await;
        let res = b
            .get(&format!("/patients/{}/assessment", s.patient_id))
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{username}");
        let chart = b
            .get(&format!("/patients/{}", s.patient_id))
            .await
            .text()
            .await
            .expect("text");
        assert!(
            !chart.contains("/assessment\""),
            "{username} sees no Assessment tab"
        );
        let token = s.token(username).await;
        for path in ["assessments", "diagnoses"] {
            let res = reqwest::Client::new()
                .get(format!(
                    "{}/api/v1/patients/{}/{path}",
                    s.base, s.patient_id
                ))
                .bearer_auth(&token)
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{username} {path}");
        }
    }
}
