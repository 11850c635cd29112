//! Medications and drug screens over HTTP: the chart tab, adding and stopping medications,
//! entering a screen whose unexpected positive raises the header flag and the counselor's task,
//! bad input through the forms and the API, and who may read them.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn iso(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn nurse_enters_a_screen_with_an_unexpected_positive_and_the_flag_and_task_appear() {
    let s = start().await;
    let b = s.browser("priya").await;
    let tab = format!("/patients/{}/medications", s.patient_id);
    let page = b.get(&tab).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("text");
    assert!(html.contains("Enter a drug screen"));
    assert!(html.contains("name=\"result_fentanyl\""));

    let started = iso(today() - chrono::Duration::days(20));
    let res = b
        .post(
            &tab,
            &[
                ("name", "Buprenorphine/naloxone 8/2 mg film"),
                ("dose", "1 film"),
                ("route", "sublingual"),
                ("frequency", "once daily"),
                ("ingredient", "1819"),
                ("ingredient", "7242"),
                ("prescriber_id", ""),
                ("prescriber_name", "Dr. Ortiz"),
                ("started_on", &started),
                ("reason", "Opioid use disorder"),
                ("moud", "suggest"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Buprenorphine/naloxone 8/2 mg film"));
    assert!(html.contains("MOUD"));
    assert!(html.contains(
        "Ingredients: buprenorphine <span class=\"hint\">(RxNorm 1819)</span>, naloxone"
    ));
    assert!(html.contains("prescribed by Dr. Ortiz"));

    let nurse = s.browser("nate").await;
    let collected = iso(today() - chrono::Duration::days(1));
    let res = nurse
        .post(
            &format!("/patients/{}/drug-screens", s.patient_id),
            &[
                ("collected_on", &collected),
                ("specimen", "urine"),
                ("observed", "yes"),
                ("testing", "point_of_care"),
                ("collected_by", "Nurse Nate"),
                ("result_buprenorphine", "positive"),
                ("result_norbuprenorphine", "positive"),
                ("result_fentanyl", "positive"),
                ("result_cocaine", "negative"),
                ("result_thc", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("<span class=\"badge ok\">expected</span>"));
    assert!(html.contains("<span class=\"badge flag\">unexpected</span> <span class=\"badge\">confirm by LC-MS/MS</span>"));
    assert!(
        html.contains("Unexpected positive drug screen (Fentanyl)"),
        "header flag"
    );
    assert!(
        !html.contains("THC (cannabis): "),
        "not tested is not stored"
    );

    let casey = s.browser("casey").await;
    let tasks = casey.get("/tasks").await.text().await.expect("text");
    assert!(tasks.contains("Respond to flag: Unexpected positive drug screen (Fentanyl)"));
    assert!(s
        .audit_for(s.patient_id)
        .await
        .iter()
        .any(|r| r.record_type == "drug_screen" && r.action == "create"));
}

#[tokio::test]
async fn bad_form_input_is_refused_with_the_reason_and_nothing_is_stored() {
    let s = start().await;
    let b = s.browser("casey").await;
    let tab = format!("/patients/{}/medications", s.patient_id);
    let screens = format!("/patients/{}/drug-screens", s.patient_id);
    let yesterday = iso(today() - chrono::Duration::days(1));
    let tomorrow = iso(today() + chrono::Duration::days(1));
    for (fields, message) in [
        (
            vec![
                ("collected_on", yesterday.as_str()),
                ("specimen", "urine"),
                ("testing", "lab"),
            ],
            "give the result of at least one analyte",
        ),
        (
            vec![
                ("collected_on", yesterday.as_str()),
                ("specimen", "urine"),
                ("testing", "lab"),
                ("result_glue", "positive"),
            ],
            "not on the panel",
        ),
        (
            vec![
                ("collected_on", tomorrow.as_str()),
                ("specimen", "urine"),
                ("testing", "lab"),
                ("result_thc", "negative"),
            ],
            "cannot be in the future",
        ),
    ] {
        let res = b.post(&screens, &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(res.text().await.expect("text").contains(message));
    }
    let started = iso(today() - chrono::Duration::days(5));
    let stopped = iso(today() - chrono::Duration::days(9));
    let res = b
        .post(
            &tab,
            &[
                ("name", "Sertraline 50 mg"),
                ("dose", "50 mg"),
                ("route", "oral"),
                ("frequency", "daily"),
                ("started_on", &started),
                ("stopped_on", &stopped),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("cannot be before the start date"));
    let stored = trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT specimen FROM drug_screens UNION ALL SELECT name FROM medications",
    )
    .await
    .expect("raw");
    assert!(stored.is_empty());
    // An unknown patient.
    let res = b.get("/patients/999999/medications").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_records_classifies_lists_and_refuses_bad_input() {
    let s = start().await;
    let token = s.token("priya").await;
    let http = reqwest::Client::new();
    let base = format!("{}/api/v1/patients/{}", s.base, s.patient_id);
    let started = today() - chrono::Duration::days(30);
    let res = http
        .post(format!("{base}/medications"))
        .bearer_auth(&token)
        .json(&json!({
            "name": "Methadone 80 mg", "dose": "80 mg", "route": "oral",
            "frequency": "once daily", "started_on": started, "otp_dispensed": true,
            "prescriber_name": "Harbor OTP", "ingredients": ["6813"]
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let med: Value = res.json().await.expect("json");
    let med_id = med["id"].as_i64().expect("id");

    let res = http
        .post(format!("{base}/drug-screens"))
        .bearer_auth(&token)
        .json(&json!({
            "collected_on": today(), "specimen": "oral_fluid", "observed": false,
            "testing": "lab",
            "results": [{"analyte": "methadone", "result": "positive"},
                        {"analyte": "opiates", "result": "negative"}]
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let recorded: Value = res.json().await.expect("json");
    assert_eq!(recorded["flag_id"], Value::Null);
    assert_eq!(recorded["unexpected"], json!([]));

    let list: Value = http
        .get(format!("{base}/drug-screens?since={}", today()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["results"][0]["analyte"], "methadone");
    assert_eq!(list[0]["results"][0]["expected"], true);
    assert_eq!(list[0]["results"][0]["finding"], "expected");
    assert_eq!(list[0]["results"][0]["confirm"], false);
    assert_eq!(list[0]["results"][0]["medication_id"], med_id);
    assert!(list[0]["results"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("EDDP not tested"));
    let meds: Value = http
        .get(format!("{base}/medications"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(meds[0]["moud"], true);
    assert_eq!(meds[0]["otp_dispensed"], true);
    assert_eq!(
        meds[0]["ingredients"],
        json!([{"rxcui": "6813", "name": "methadone"}])
    );

    let medication = |extra: Value| {
        let mut body = json!({"name": "Mystery 5 mg", "dose": "5 mg", "route": "oral",
            "frequency": "daily", "started_on": started, "prescriber_name": "Dr. Lowe"});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    for (path, body, field) in [
        (
            format!("{base}/medications"),
            medication(json!({"ingredients": ["999999"]})),
            "ingredients",
        ),
        (
            format!("{base}/medications"),
            medication(json!({"prescriber_name": "  "})),
            "prescriber_name",
        ),
        (
            format!("{base}/medications"),
            medication(json!({"moud": true})),
            "ingredients",
        ),
        (
            format!("{base}/medications/{med_id}/stop"),
            json!({"stopped_on": started - chrono::Duration::days(1), "stop_reason": "x"}),
            "stopped_on",
        ),
        (
            format!("{base}/drug-screens"),
            json!({"collected_on": today(), "specimen": "urine", "testing": "lab",
                   "results": [{"analyte": "glue", "result": "positive"}]}),
            "results",
        ),
        (
            format!("{base}/drug-screens"),
            json!({"collected_on": today(), "specimen": "urine", "testing": "lab", "results": []}),
            "results",
        ),
        (
            format!("{base}/drug-screens"),
            json!({"collected_on": today() + chrono::Duration::days(1), "specimen": "urine",
                   "testing": "lab", "results": [{"analyte": "thc", "result": "negative"}]}),
            "collected_on",
        ),
        (
            format!("{base}/medications/{med_id}/adherence"),
            json!({"noted_on": today(), "status": "sometimes"}),
            "status",
        ),
        (
            format!("{base}/medications/{med_id}/side-effects"),
            json!({"noted_on": today(), "effect": "", "severity": "mild"}),
            "effect",
        ),
    ] {
        let res = http
            .post(&path)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let err: Value = res.json().await.expect("json");
        assert_eq!(err["error"]["fields"][0]["field"], field, "{path}");
    }
    let res = http
        .post(format!("{base}/medications/{med_id}/stop"))
        .bearer_auth(&token)
        .json(&json!({"stopped_on": today(), "stop_reason": "switched to buprenorphine"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = http
        .post(format!("{base}/medications/{med_id}/stop"))
        .bearer_auth(&token)
        .json(&json!({"stopped_on": today(), "stop_reason": "again"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = http
        .get(format!("{}/api/v1/patients/999999/medications", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn billing_and_front_desk_cannot_read_medications_or_screens() {
    let s = start().await;
    for who in ["bill", "fran"] {
        let token = s.token(who).await;
        for path in ["medications", "drug-screens"] {
            let res = reqwest::Client::new()
                .get(format!(
                    "{}/api/v1/patients/{}/{path}",
                    s.base, s.patient_id
                ))
                .bearer_auth(&token)
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{who} {path}");
        }
        let page = s
            .browser(who)
            .await
            .get(&format!("/patients/{}/medications", s.patient_id))
            .await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{who} page");
    }
}

#[tokio::test]
async fn moud_adherence_and_presumptive_results_show_on_the_page_and_reach_the_prescriber() {
    let s = start().await;
    let priya = s.browser("priya").await;
    let tab = format!("/patients/{}/medications", s.patient_id);
    let screens = format!("/patients/{}/drug-screens", s.patient_id);
    let (priya_id, _) = s
        .store
        .prescribers()
        .await
        .expect("prescribers")
        .into_iter()
        .next()
        .expect("priya");
    let started = iso(today() - chrono::Duration::days(20));
    for (name, ingredients) in [
        (
            "Buprenorphine/naloxone 8/2 mg film",
            ["1819", "7242"].as_slice(),
        ),
        ("Naltrexone 50 mg", ["7243"].as_slice()),
        ("fentanyl patch", [].as_slice()),
    ] {
        let mut fields = vec![
            ("name", name.to_owned()),
            ("dose", "1".to_owned()),
            ("route", "oral".to_owned()),
            ("frequency", "daily".to_owned()),
            ("prescriber_id", priya_id.to_string()),
            ("started_on", started.clone()),
            (
                "moud",
                if name.starts_with("fentanyl") {
                    "no"
                } else {
                    "suggest"
                }
                .to_owned(),
            ),
        ];
        fields.extend(ingredients.iter().map(|c| ("ingredient", (*c).to_owned())));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = priya.post(&tab, &pairs).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
    }
    let html = priya.get(&tab).await.text().await.expect("text");
    assert!(html.contains("ingredient not coded</span> explains no screen result"));
    assert!(html.contains("name=\"result_norbuprenorphine\""));
    assert!(html.contains("name=\"result_eddp\""));
    assert!(html.contains("name=\"result_6mam\""));

    let nurse = s.browser("nate").await;
    let collected = iso(today() - chrono::Duration::days(1));
    let res = nurse
        .post(
            &screens,
            &[
                ("collected_on", collected.as_str()),
                ("specimen", "urine"),
                ("observed", "yes"),
                ("testing", "point_of_care"),
                ("result_buprenorphine", "negative"),
                ("result_oxycodone", "positive"),
                ("result_fentanyl", "positive"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("MOUD expected but not detected"));
    assert!(html.contains("unexpected, presumptive: confirm"));
    assert!(html.contains("presumptive: naltrexone (Naltrexone 50 mg)"));
    assert!(html.contains("confirm by LC-MS/MS"));
    // The free-text fentanyl patch explains nothing: the flag stays high.
    assert!(html.contains("overdose risk"));

    let tasks = priya.get("/tasks").await.text().await.expect("text");
    assert!(tasks.contains(
        "Buprenorphine expected but not detected: discuss adherence, confirm by LC-MS/MS"
    ));
    let token = s.token("priya").await;
    let list: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/patients/{}/drug-screens",
            s.base, s.patient_id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let results = list[0]["results"].as_array().expect("results");
    let by = |a: &str| {
        results
            .iter()
            .find(|r| r["analyte"] == a)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by("buprenorphine")["finding"], "not_detected");
    assert_eq!(by("buprenorphine")["confirm"], true);
    assert_eq!(by("oxycodone")["finding"], "presumptive");
    assert_eq!(by("fentanyl")["finding"], "unexpected");
}

#[tokio::test]
async fn bad_medication_form_input_names_the_ingredient_and_prescriber_fields() {
    let s = start().await;
    let b = s.browser("casey").await;
    let tab = format!("/patients/{}/medications", s.patient_id);
    let started = iso(today() - chrono::Duration::days(5));
    for (extra, message) in [
        (
            ("ingredient", "999999"),
            "999999 is not a known RxNorm ingredient code",
        ),
        (
            ("prescriber_name", ""),
            "is required for a current medication",
        ),
    ] {
        let mut fields = vec![
            ("name", "Mystery 5 mg"),
            ("dose", "5 mg"),
            ("route", "oral"),
            ("frequency", "daily"),
            ("started_on", started.as_str()),
        ];
        if extra.0 == "ingredient" {
            fields.push(("prescriber_name", "Dr. Lowe"));
        }
        fields.push(extra);
        let res = b.post(&tab, &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        let html = res.text().await.expect("text");
        assert!(html.contains(message), "{message}");
    }
    let stored = trellis_storage::testing::raw_strings(&s.store, "SELECT name FROM medications")
        .await
        .expect("raw");
    assert!(stored.is_empty());
}
