//! Measures over HTTP: the chart tab, the form drawn from the domain, scoring, the safety flag
//! and task, bad input (nothing stored), the API, and who may read them.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn phq9_fields(answers: [&'static str; 9]) -> Vec<(String, String)> {
    let mut fields = vec![
        ("instrument".to_owned(), "phq9".to_owned()),
        (
            "administered_on".to_owned(),
            today().format("%Y-%m-%d").to_string(),
        ),
    ];
    for (i, a) in answers.iter().enumerate() {
        fields.push((format!("item_{i}"), (*a).to_owned()));
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

async fn stored_measures(s: &TestServer) -> usize {
    trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT instrument FROM measure_administrations",
    )
    .await
    .expect("raw")
    .len()
}

#[tokio::test]
async fn counselor_records_a_phq9_with_item_9_and_sees_flag_and_task() {
    let s = start().await;
    let b = s.browser("casey").await;
    let form = b
        .get(&format!(
            "/patients/{}/measures/new?instrument=phq9",
            s.patient_id
        ))
        .await;
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.expect("text");
    assert!(html.contains("Patient Health Questionnaire-9"));
    assert!(
        html.contains("More than half the days"),
        "exact answer options"
    );
    assert!(html.contains("name=\"item_8\""));

    let res = post_fields(
        &b,
        &format!("/patients/{}/measures", s.patient_id),
        &phq9_fields(["2", "2", "1", "2", "1", "1", "1", "0", "1"]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "redirect followed");
    assert!(res.url().path().ends_with("/measures"));
    let html = res.text().await.expect("text");
    assert!(html.contains("Measures given"));
    assert!(html.contains("safety: high"));
    assert!(
        html.contains("PHQ-9 item 9 endorsed"),
        "flag on the chart header"
    );

    let dash = b.get("/dashboard").await.text().await.expect("text");
    assert!(dash.contains("Respond to flag: PHQ-9 item 9 endorsed"));
    let audit = s.audit_for(s.patient_id).await;
    assert!(audit
        .iter()
        .any(|r| r.action == "create" && r.record_type == "measure"));
}

#[tokio::test]
async fn bad_answers_rerender_with_422_naming_the_item_and_store_nothing() {
    let s = start().await;
    let b = s.browser("casey").await;
    let path = format!("/patients/{}/measures", s.patient_id);

    let res = post_fields(
        &b,
        &path,
        &phq9_fields(["1", "1", "1", "5", "1", "1", "1", "1", "0"]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("item 4"), "names the item");
    assert!(
        html.contains("Patient Health Questionnaire-9"),
        "the form again"
    );

    let res = post_fields(
        &b,
        &path,
        &phq9_fields(["1", "1", "1", "", "1", "1", "1", "1", "0"]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.expect("text").contains("item 4"));

    // C-SSRS: Q3 answered although Q2 was "No".
    let mut fields = vec![
        ("instrument".to_owned(), "cssrs".to_owned()),
        (
            "administered_on".to_owned(),
            today().format("%Y-%m-%d").to_string(),
        ),
    ];
    for (i, a) in ["1", "0", "1", "", "", "0", ""].iter().enumerate() {
        fields.push((format!("item_{i}"), (*a).to_owned()));
    }
    let res = post_fields(&b, &path, &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(
        html.contains("item 3") && html.contains("asked only when"),
        "{html}"
    );
    assert_eq!(stored_measures(&s).await, 0);
}

#[tokio::test]
async fn api_records_lists_and_refuses_bad_answers() {
    let s = start().await;
    let token = s.token("casey").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/patients/{}/measures", s.base, s.patient_id);
    let today = today().format("%Y-%m-%d").to_string();

    let wrong_count = client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"instrument": "gad7", "administered_on": today, "answers": [1, 1, 1]}))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_count.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = wrong_count.json().await.expect("json");
    assert!(body["error"]["fields"][0]["message"]
        .as_str()
        .expect("message")
        .contains("expected 7 answers, got 3"));
    let unknown = client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"instrument": "phq2", "administered_on": today, "answers": []}))
        .send()
        .await
        .expect("send");
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stored_measures(&s).await, 0);

    let created = client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"instrument": "gad7", "administered_on": today, "answers": [2, 2, 2, 1, 1, 1, 1]}))
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.expect("json");
    assert_eq!(body["total"], 10);
    assert_eq!(body["band"], "moderate");
    assert!(body["flag_id"].is_null());

    let list: Value = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["instrument"], "gad7");
    assert_eq!(list[0]["answers"][0], 2);
}

#[tokio::test]
async fn only_clinical_roles_read_measures() {
    let s = start().await;
    let path = format!("/patients/{}/measures", s.patient_id);
    for who in ["bill", "fran", "ingrid", "ada"] {
        let b = s.browser(who).await;
        assert_eq!(b.get(&path).await.status(), StatusCode::FORBIDDEN, "{who}");
        let token = s.token(who).await;
        let res = reqwest::Client::new()
            .get(format!("{}/api/v1{path}", s.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{who}");
        let chart = b
            .get(&format!("/patients/{}", s.patient_id))
            .await
            .text()
            .await
            .expect("text");
        assert!(!chart.contains(">Measures<"), "{who} sees no Measures tab");
    }
    let b = s.browser("casey").await;
    assert_eq!(b.get(&path).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn due_measures_show_on_the_dashboard_and_the_chart() {
    let s = start().await;
    let token = s.token("ada").await;
    let client = reqwest::Client::new();
    let bad = client
        .put(format!("{}/api/v1/measure-schedules", s.base))
        .bearer_auth(&token)
        .json(&json!({"program_id": s.program_id, "instrument": "phq9", "every_days": 0}))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = client
        .put(format!("{}/api/v1/measure-schedules", s.base))
        .bearer_auth(&token)
        .json(&json!({"program_id": 999_999, "instrument": "phq9", "every_days": 7}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        unknown.status(),
        StatusCode::NOT_FOUND,
        "an unknown program"
    );
    let ok = client
        .put(format!("{}/api/v1/measure-schedules", s.base))
        .bearer_auth(&token)
        .json(&json!({"program_id": s.program_id, "instrument": "bam", "every_days": 7}))
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);

    let b = s.browser("casey").await;
    let dash = b.get("/dashboard").await.text().await.expect("text");
    assert!(dash.contains("BAM due"));
    let tab = b
        .get(&format!("/patients/{}/measures", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(tab.contains("Due this week") && tab.contains("BAM"));
    let due: Value = client
        .get(format!("{}/api/v1/measures/due", s.base))
        .bearer_auth(s.token("casey").await)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(due[0]["instrument"], "bam");
}

#[tokio::test]
async fn measures_tab_draws_a_trend_with_band_thresholds_and_change() {
    let s = start().await;
    let token = s.token("casey").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/patients/{}/measures", s.base, s.patient_id);
    for (on, answers) in [
        (today() - chrono::Duration::days(28), [3, 3, 2, 2, 2, 3, 3]),
        (today() - chrono::Duration::days(14), [2, 2, 1, 1, 1, 2, 1]),
        (today(), [1, 1, 1, 0, 0, 0, 0]),
    ] {
        let res = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"instrument": "gad7", "administered_on": on, "answers": answers}))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let b = s.browser("casey").await;
    let html = b
        .get(&format!("/patients/{}/measures", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("<svg"), "trend chart inline");
    let title =
        &html[html.find("<title>").expect("title") + 7..html.find("</title>").expect("end")];
    assert!(
        !title.contains('<'),
        "the page title is just the name: {title}"
    );
    assert!(html.contains("GAD-7 total over the episode"));
    assert!(html.contains("10 moderate"), "band threshold drawn");
    // 18 → 3 on the GAD-7: judged by the GAD-7's own reliable change index; the PHQ-9's
    // response and remission are not borrowed for it.
    assert!(html.contains("<td>-15</td><td>reliable improvement (4 points or more)</td>"));
    let table = &html[html.find("id=\"change\"").expect("change")
        ..html.find("How this is judged").expect("note")];
    assert!(!table.contains("remission"), "no GAD-7 remission: {table}");
    assert!(html.contains("How this is judged"));
    assert!(html.contains("Reliable change (Jacobson &#38; Truax 1991): 4 points or more"));
    assert!(html.contains("Löwe et al. 2008, Medical Care"));
}

#[tokio::test]
async fn measures_tab_does_not_call_a_minimal_phq9_baseline_remission() {
    let s = start().await;
    let token = s.token("casey").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/patients/{}/measures", s.base, s.patient_id);
    for days_ago in [14, 0] {
        let res = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({
                "instrument": "phq9",
                "administered_on": today() - chrono::Duration::days(days_ago),
                "answers": [1, 1, 1, 0, 0, 0, 0, 0, 0],
            }))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let b = s.browser("casey").await;
    let html = b
        .get(&format!("/patients/{}/measures", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    // 3 → 3 was reported as remission before issue 19.
    assert!(html.contains(
        "<td>0</td><td>response and remission not applicable: baseline below 10; \
         no reliable change (needs 4 points); below the clinically important change (MCID 5)</td>"
    ));
    let table = &html[html.find("id=\"change\"").expect("change")
        ..html.find("How this is judged").expect("note")];
    assert!(!table.contains("remission (below 5)"), "{table}");
    assert!(html.contains("only from a baseline of 10 or more"));
}

#[tokio::test]
async fn measures_tab_charts_bam_subscales_with_their_cut_offs() {
    let s = start().await;
    let token = s.token("casey").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/patients/{}/measures", s.base, s.patient_id);
    // 23 positions: items 1–6, 7A–7G (not asked when item 6 is 0), 8–17.
    let week = |risk: u8, used: u8| {
        let mut answers: Vec<Value> = vec![json!(risk), json!(risk), json!(risk), json!(used)];
        answers.extend([json!(used), json!(0)]);
        answers.extend(std::iter::repeat_n(Value::Null, 7));
        // Items 8–17; 12, 14 and 16 are yes (4) / no (0).
        answers.extend([json!(risk), json!(3), json!(3), json!(risk), json!(4)]);
        answers.extend([json!(3), json!(4), json!(risk), json!(4), json!(2)]);
        answers
    };
    for (days_ago, risk, used) in [(14, 3, 2), (7, 2, 1), (0, 1, 0)] {
        let res = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({
                "instrument": "bam",
                "administered_on": today() - chrono::Duration::days(days_ago),
                "answers": week(risk, used),
            }))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    }
    let b = s.browser("casey").await;
    let html = b
        .get(&format!("/patients/{}/measures", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("BAM subscales over the episode"));
    assert!(
        html.contains("Risk ≥ 12 · Protective ≤ 12"),
        "cut-off drawn"
    );
    assert!(html.contains("Use ≥ 1"), "use cut-off drawn");
    for series in ["Use", "Risk", "Protective"] {
        assert!(
            html.contains(&format!("<th scope=\"col\">{series}</th>")),
            "{series} column"
        );
    }
    // Risk = items 1, 2, 3, 8, 11, 15: six items at 3 on the first week.
    assert!(
        html.contains("<td>18</td>"),
        "first week's risk in the table"
    );
}

#[tokio::test]
async fn programs_page_sets_a_measure_schedule_and_refuses_bad_days() {
    let s = start().await;
    let b = s.browser("dora").await;
    let page = b.get("/admin/programs").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("text");
    assert!(html.contains("Adult SUD IOP") && html.contains("Measure schedule"));

    let path = format!("/admin/programs/{}/measures", s.program_id);
    let mut fields: Vec<(String, String)> = trellis_domain::measures::Instrument::ALL
        .iter()
        .map(|i| (format!("every_{}", i.code()), String::new()))
        .collect();
    fields[0].1 = "14".into();
    fields[1].1 = "fortnightly".into();
    let res = post_fields(&b, &path, &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(
        html.contains("enter a whole number of days"),
        "names the problem"
    );
    let none = s.store.measure_schedules().await.expect("schedules");
    assert!(
        none.iter().all(|m| m.program_id != s.program_id),
        "nothing saved"
    );

    fields[1].1 = "7".into();
    let res = post_fields(&b, &path, &fields).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("Measure schedule saved"));
    let saved = s.store.measure_schedules().await.expect("schedules");
    let mine: Vec<_> = saved
        .iter()
        .filter(|m| m.program_id == s.program_id)
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");

    let res = b.post(&path, &[("every_phq9", "14")]).await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "an incomplete form changes nothing"
    );
    let counselor = s.browser("casey").await;
    assert_eq!(
        counselor.get("/admin/programs").await.status(),
        StatusCode::FORBIDDEN
    );
}
