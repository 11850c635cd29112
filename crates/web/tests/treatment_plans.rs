//! Treatment plans through the pages and the API: writing, signing, revising, old versions,
//! the printable copy, overdue reviews, notes linked to objectives, bad input and access.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use trellis_domain::access::Role;
use trellis_storage::access::can;
use trellis_storage::assessments::NewDiagnosis;
use trellis_storage::treatment_plans::PlanSignatures;

fn target() -> String {
    (today() + chrono::Duration::days(30)).to_string()
}

/// A one-problem plan as the API takes it.
fn plan_body(staff_id: i64) -> Value {
    json!({"problems": [{
        "text": "Alcohol use disorder, moderate",
        "diagnosis_code": "F10.20",
        "goals": [{
            "text": "I want to be sober for my daughter's graduation",
            "objectives": [{
                "text": "Attend 3 IOP groups a week for 4 weeks",
                "target_on": target(),
                "interventions": [{"modality": "group", "frequency": "3 times a week", "staff_id": staff_id}]
            }]
        }]
    }]})
}

/// Puts F10.20 and F11.20 on Dana's diagnosis list (plans name only diagnoses on it); returns
/// the F11.20 row's id.
async fn diagnose(s: &TestServer) -> i64 {
    let casey = actor(&s.users, "casey", Role::Counselor);
    let write = s
        .store
        .patient_grant::<can::WriteClinical>(&casey, s.patient_id)
        .await
        .expect("grant");
    let mut ids = Vec::new();
    for code in ["F10.20", "F11.20"] {
        ids.push(
            s.store
                .add_diagnosis(
                    &write,
                    &NewDiagnosis {
                        code: code.into(),
                        ..NewDiagnosis::default()
                    },
                    today(),
                )
                .await
                .expect("diagnosis"),
        );
    }
    ids[1]
}

async fn api(
    s: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client()
        .request(method, format!("{}/api/v1{path}", s.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("send");
    let status = res.status();
    (status, res.json().await.unwrap_or_default())
}

fn field(body: &Value) -> &str {
    body["error"]["fields"][0]["field"].as_str().unwrap_or("")
}

#[tokio::test]
async fn counselor_writes_signs_revises_and_prints_a_plan_on_the_chart() {
    let s = start().await;
    let opioid_dx = diagnose(&s).await;
    let b = s.browser("casey").await;
    let casey = s.users["casey"].to_string();
    let tab = format!("/patients/{}/treatment-plan", s.patient_id);
    let page = b.get(&tab).await.text().await.expect("text");
    assert!(page.contains("Write the treatment plan"));
    // The form offers the patient's own diagnoses, not a box to type a code into.
    assert!(
        page.contains(&format!("<option value=\"{opioid_dx}\">F11.20")),
        "{page}"
    );
    let opioid = opioid_dx.to_string();
    let t = target();
    let plan = [
        ("p0.text", "Opioid use disorder: daily use until admission"),
        ("p0.diagnosis", opioid.as_str()),
        ("p0.g0.text", "I want my life back"),
        ("p0.g0.o0.text", "Attend every IOP group for 4 weeks"),
        ("p0.g0.o0.target", t.as_str()),
        ("p0.g0.o0.status", "open"),
        ("p0.g0.o0.i0.modality", "group"),
        ("p0.g0.o0.i0.frequency", "3 times a week"),
        ("p0.g0.o0.i0.staff", casey.as_str()),
        // A blank row (only the preselected staff member) is ignored.
        ("p0.g0.o1.status", "open"),
        ("p0.g0.o1.i0.staff", casey.as_str()),
    ];
    let saved = b.post(&tab, &plan).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let html = saved.text().await.expect("text");
    assert!(html.contains("Draft: version 1"), "{html}");
    assert!(html.contains("F11.20"));
    // The saved draft offers a blank second goal for the problem; filling it in adds the goal.
    assert!(html.contains("name=\"p0.g1.text\""), "{html}");
    let mut two_goals = plan.to_vec();
    two_goals.extend([
        ("p0.g1.text", "I want to be there for my kids"),
        ("p0.g1.o0.text", "Call my sister twice a week"),
        ("p0.g1.o0.target", t.as_str()),
        ("p0.g1.o0.status", "open"),
    ]);
    let html = b
        .post(&format!("{tab}/1"), &two_goals)
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("I want to be there for my kids"), "{html}");
    assert!(html.contains("name=\"p0.g2.text\""), "a blank third goal");
    let html = b
        .post(&format!("{tab}/1"), &plan)
        .await
        .text()
        .await
        .expect("text");
    assert!(
        !html.contains("I want to be there for my kids"),
        "saving without it removes it"
    );

    // Bad input on the form: no target date, an unknown modality, an empty goal.
    let v1 = format!("{tab}/1");
    let mut no_target = plan.to_vec();
    no_target[4] = ("p0.g0.o0.target", "");
    let bad = b.post(&v1, &no_target).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad
        .text()
        .await
        .expect("text")
        .contains("enter a target date"));
    let mut hypnosis = plan.to_vec();
    hypnosis[6] = ("p0.g0.o0.i0.modality", "hypnosis");
    let bad = b.post(&v1, &hypnosis).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad
        .text()
        .await
        .expect("text")
        .contains("choose a modality"));
    // A diagnosis that is not one of the patient's is refused, naming the problem.
    for bad_dx in ["abc", "999999"] {
        let mut wrong = plan.to_vec();
        wrong[1] = ("p0.diagnosis", bad_dx);
        let bad = b.post(&v1, &wrong).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad_dx}");
        assert!(bad
            .text()
            .await
            .expect("text")
            .contains("Problem 1: choose a diagnosis from the patient"));
    }
    let mut no_goal = plan.to_vec();
    no_goal[2] = ("p0.g0.text", "");
    let bad = b.post(&v1, &no_goal).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad
        .text()
        .await
        .expect("text")
        .contains("own words is required"));

    let missing_signature = b
        .post(
            &format!("{v1}/sign"),
            &[("patient_signature", "Dana Reyes")],
        )
        .await;
    assert_eq!(missing_signature.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let signed = b
        .post(
            &format!("{v1}/sign"),
            &[
                ("patient_signature", "Dana Reyes"),
                ("clinician_signature", "Casey Counselor"),
            ],
        )
        .await;
    let html = signed.text().await.expect("text");
    assert!(html.contains("Plan in force: version 1"));
    assert!(html.contains("Dana Reyes, "));
    // Signing twice, or changing the signed version, is refused.
    let twice = b
        .post(
            &format!("{v1}/sign"),
            &[("patient_signature", "x"), ("clinician_signature", "y")],
        )
        .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    assert_eq!(b.post(&v1, &plan).await.status(), StatusCode::CONFLICT);

    // A revision: a draft copying version 1; version 1 stays as it was.
    let revised = b.post(&format!("{tab}/revise"), &[("version", "1")]).await;
    let html = revised.text().await.expect("text");
    assert!(html.contains("Draft: version 2"));
    let mut met = plan.to_vec();
    met[5] = ("p0.g0.o0.status", "met");
    met[3] = ("p0.g0.o0.text", "Attend every IOP group for 6 weeks");
    assert_eq!(
        b.post(&format!("{tab}/2"), &met).await.status(),
        StatusCode::OK
    );
    b.post(
        &format!("{tab}/2/sign"),
        &[
            ("patient_signature", "Dana Reyes"),
            ("clinician_signature", "Casey Counselor"),
        ],
    )
    .await;
    let old = b.get(&v1).await.text().await.expect("text");
    assert!(old.contains("Superseded by version 2"));
    assert!(old.contains("for 4 weeks"));
    let print = b.get(&format!("{tab}/2/print")).await;
    assert_eq!(print.status(), StatusCode::OK);
    let html = print.text().await.expect("text");
    assert!(html.contains("plan-print") && html.contains("for 6 weeks") && html.contains("Met"));
    // An internal copy: a copy that leaves goes through the disclosure form (issue 20).
    assert!(html.contains("Internal copy — not for disclosure."));
    assert!(html.contains(&format!(
        "/patients/{}/consents?information=treatment_plan#disclose-h",
        s.patient_id
    )));
    assert_eq!(
        b.get(&format!("{tab}/9")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.post(&format!("{tab}/revise"), &[]).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // No plan text in the audit log.
    assert!(s
        .audit_for(s.patient_id)
        .await
        .iter()
        .all(|a| !a.detail.contains("weeks") && !a.detail.contains("Dana")));
}

#[tokio::test]
async fn the_api_writes_signs_and_refuses_bad_plans() {
    let s = start().await;
    diagnose(&s).await;
    let token = s.token("casey").await;
    let casey = s.users["casey"];
    let plans = format!("/patients/{}/treatment-plans", s.patient_id);
    use reqwest::Method;

    let mut no_target = plan_body(casey);
    no_target["problems"][0]["goals"][0]["objectives"][0]["target_on"] = json!(null);
    let (status, body) = api(&s, &token, Method::POST, &plans, Some(no_target)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A null date is refused while reading the body, naming its path.
    assert!(field(&body).ends_with("target_on"), "{body}");
    let mut unknown = plan_body(casey);
    unknown["problems"][0]["goals"][0]["objectives"][0]["interventions"][0]["modality"] =
        json!("hypnosis");
    let (status, body) = api(&s, &token, Method::POST, &plans, Some(unknown)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body), "modality");
    let mut empty_goal = plan_body(casey);
    empty_goal["problems"][0]["goals"][0]["text"] = json!("");
    let (status, body) = api(&s, &token, Method::POST, &plans, Some(empty_goal)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body), "goals");

    let (status, body) = api(&s, &token, Method::POST, &plans, Some(plan_body(casey))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 1);
    let (status, _) = api(&s, &token, Method::POST, &plans, Some(plan_body(casey))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a draft exists");
    let sign = json!({"patient_signature": "Dana Reyes", "clinician_signature": "Casey"});
    let (status, body) = api(
        &s,
        &token,
        Method::POST,
        &format!("{plans}/1/sign"),
        Some(sign.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["review_due_on"], target());
    let (status, _) = api(
        &s,
        &token,
        Method::POST,
        &format!("{plans}/1/sign"),
        Some(sign),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "signing twice");
    let (status, _) = api(
        &s,
        &token,
        Method::PUT,
        &format!("{plans}/1"),
        Some(plan_body(casey)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "editing a signed version");

    let (status, v1) = api(&s, &token, Method::GET, &format!("{plans}/1"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v1["patient_signature"], "Dana Reyes");
    assert_eq!(v1["clinician_signed_by"], casey);
    let objective = v1["problems"][0]["goals"][0]["objectives"][0]["id"]
        .as_i64()
        .expect("objective id");
    let (_, versions) = api(&s, &token, Method::GET, &plans, None).await;
    assert_eq!(versions.as_array().expect("list").len(), 1);

    // A note links Dana's objective; another patient's note may not.
    let note = |objective_ids: Vec<i64>| {
        json!({"kind": "individual", "template": "dap", "session_on": today().to_string(),
               "sections": {"data": "d", "assessment": "a", "plan": "p"},
               "objective_ids": objective_ids})
    };
    let (status, body) = api(
        &s,
        &token,
        Method::POST,
        &format!("/patients/{}/notes", s.patient_id),
        Some(note(vec![objective])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let dora = s.token("dora").await;
    let (status, body) = api(
        &s,
        &dora,
        Method::POST,
        &format!("/patients/{}/notes", s.other_patient_id),
        Some(note(vec![objective])),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body), "objective_ids");

    // The notes tab offers the objective and shows it on the linked note.
    let html = s
        .browser("casey")
        .await
        .get(&format!("/patients/{}/notes", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains(&format!("name=\"objective_{objective}\"")));
    assert!(html.contains("Treatment-plan objectives addressed"));
}

#[tokio::test]
async fn the_counselors_dashboard_lists_patients_whose_plan_is_not_yet_signed() {
    let s = start().await;
    diagnose(&s).await;
    let b = s.browser("casey").await;
    let unsigned = |html: &str| {
        html.split("id=\"caseload\"")
            .nth(1)
            .and_then(|rest| rest.split("</section>").next())
            .map(str::to_owned)
    };
    let dashboard = b.get("/dashboard").await.text().await.expect("text");
    let section = unsigned(&dashboard).expect("the section");
    assert!(section.contains("Dana"), "{section}");
    assert!(
        section.contains("Plan not written (14 days since admission)"),
        "admitted 14 days ago: {section}"
    );
    assert!(
        !section.contains("Lee Park"),
        "olive's patient is on olive's list only"
    );
    let token = s.token("casey").await;
    let (status, body) = api(
        &s,
        &token,
        reqwest::Method::GET,
        "/treatment-plans/unsigned",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["patient_id"], s.patient_id);
    assert_eq!(body[0]["drafts"], 0);
    assert_eq!(body.as_array().map(Vec::len), Some(1));

    let (status, _) = api(
        &s,
        &token,
        reqwest::Method::POST,
        &format!("/patients/{}/treatment-plans", s.patient_id),
        Some(plan_body(s.users["casey"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let dashboard = b.get("/dashboard").await.text().await.expect("text");
    assert!(unsigned(&dashboard)
        .expect("the section")
        .contains("Plan waiting for signatures"));

    let casey = actor(&s.users, "casey", Role::Counselor);
    let grant = s
        .store
        .patient_grant::<can::WriteClinical>(&casey, s.patient_id)
        .await
        .expect("grant");
    s.store
        .sign_plan(
            &grant,
            1,
            &PlanSignatures {
                patient: "Dana".into(),
                clinician: "Casey".into(),
            },
            today(),
        )
        .await
        .expect("sign");
    let dashboard = b.get("/dashboard").await.text().await.expect("text");
    assert!(
        unsigned(&dashboard).is_some_and(|section| section.contains("Dana")
            && !section.contains("Plan waiting")
            && !section.contains("Plan not written")),
        "a signed plan leaves the to-do list"
    );
    // Billing has no caseload and no such section.
    let bill = s.browser("bill").await;
    let html = bill.get("/dashboard").await.text().await.expect("text");
    assert!(unsigned(&html).is_none());
}

#[tokio::test]
async fn overdue_reviews_show_on_the_dashboard_and_the_chart() {
    let s = start().await;
    diagnose(&s).await;
    let casey = actor(&s.users, "casey", Role::Counselor);
    let grant = s
        .store
        .patient_grant::<can::WriteClinical>(&casey, s.patient_id)
        .await
        .expect("grant");
    let token = s.token("casey").await;
    let (status, _) = api(
        &s,
        &token,
        reqwest::Method::POST,
        &format!("/patients/{}/treatment-plans", s.patient_id),
        Some(plan_body(s.users["casey"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    s.store
        .sign_plan(
            &grant,
            1,
            &PlanSignatures {
                patient: "Dana".into(),
                clinician: "Casey".into(),
            },
            today() - chrono::Duration::days(45),
        )
        .await
        .expect("sign");
    let b = s.browser("casey").await;
    let dashboard = b.get("/dashboard").await.text().await.expect("text");
    assert!(dashboard.contains("Plan review was due"));
    assert!(dashboard.contains("badge overdue\">overdue"));
    let chart = b
        .get(&format!("/patients/{}/treatment-plan", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(chart.contains("Review overdue"));
    let (status, overdue) = api(
        &s,
        &token,
        reqwest::Method::GET,
        "/treatment-plans/overdue",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overdue[0]["patient_id"], s.patient_id);
}

#[tokio::test]
async fn billing_and_front_desk_cannot_read_plans() {
    let s = start().await;
    diagnose(&s).await;
    for user in ["bill", "fran"] {
        let token = s.token(user).await;
        let (status, _) = api(
            &s,
            &token,
            reqwest::Method::GET,
            &format!("/patients/{}/treatment-plans", s.patient_id),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}");
        let page = s
            .browser(user)
            .await
            .get(&format!("/patients/{}/treatment-plan", s.patient_id))
            .await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{user}");
    }
}

#[tokio::test]
async fn administrators_set_a_programs_review_interval() {
    let s = start().await;
    diagnose(&s).await;
    let b = s.browser("ada").await;
    let page = b
        .get("/admin/plan-reviews")
        .await
        .text()
        .await
        .expect("text");
    assert!(page.contains("Review every"));
    let programs = s.store.plan_review_intervals().await.expect("programs");
    let id = programs[0].0.to_string();
    let saved = b
        .post(
            "/admin/plan-reviews",
            &[("program_id", id.as_str()), ("days", "14")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(s.store.plan_review_intervals().await.expect("p")[0].2, 14);
    let bad = b
        .post(
            "/admin/plan-reviews",
            &[("program_id", id.as_str()), ("days", "900")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad = b
        .post(
            "/admin/plan-reviews",
            &[("program_id", id.as_str()), ("days", "x")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
