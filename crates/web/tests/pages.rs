//! Staff web pages over real HTTP: sign-in, sessions, CSRF, MFA, patients and episodes.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn login_dashboard_and_logout() {
    let s = start().await;
    let b = s.browser("casey").await;
    let dash = b.get("/dashboard").await;
    assert_eq!(dash.status(), StatusCode::OK);
    let html = dash.text().await.expect("text");
    assert!(html.contains("My caseload"));
    assert!(
        html.contains("Dana Reyes"),
        "casey's caseload lists her patient"
    );
    let out = b.post("/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert!(out
        .text()
        .await
        .expect("text")
        .contains("You are signed out"));
    let after = b.get("/dashboard").await;
    assert!(
        after.url().path().ends_with("/login"),
        "signed out → login page"
    );
}

#[tokio::test]
async fn chart_shows_header_and_is_audited() {
    let s = start().await;
    let b = s.browser("casey").await;
    let res = b.get(&format!("/patients/{}", s.patient_id)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Dana Reyes"));
    assert!(html.contains("she/her"));
    assert!(html.contains("2.1 Intensive outpatient"));
    let audit = s.audit_for(s.patient_id).await;
    assert!(audit
        .iter()
        .any(|r| r.username == "casey" && r.action == "read" && r.record_type == "patient"));
}

#[tokio::test]
async fn every_chart_page_has_the_same_tab_bar_with_its_own_tab_current() {
    let s = start().await;
    let casey = s.browser("casey").await;
    let p = s.patient_id;
    let tab_bar = |html: &str| {
        let start = html.find("aria-label=\"Chart sections\"").expect("tab bar");
        let end = start + html[start..].find("</nav>").expect("end of tab bar");
        html[start..end].to_owned()
    };
    let full = tab_bar(
        &casey
            .get(&format!("/patients/{p}"))
            .await
            .text()
            .await
            .expect("text"),
    );
    for (path, current) in [
        ("", "Overview"),
        ("/notes", "Notes"),
        ("/treatment-plan", "Plan"),
        ("/assessment", "Assessment"),
        ("/consents", "Consents"),
        ("/medications", "Medications"),
    ] {
        let html = casey
            .get(&format!("/patients/{p}{path}"))
            .await
            .text()
            .await
            .expect("text");
        let bar = tab_bar(&html);
        assert_eq!(
            bar.replace(" aria-current=\"page\"", ""),
            full.replace(" aria-current=\"page\"", ""),
            "{path}"
        );
        assert!(
            bar.contains(&format!("{path}\" aria-current=\"page\">{current}</a>")),
            "{path}: {bar}"
        );
    }
    // Front desk sees only the tabs its role may open.
    let fran = s.browser("fran").await;
    let bar = tab_bar(
        &fran
            .get(&format!("/patients/{p}"))
            .await
            .text()
            .await
            .expect("text"),
    );
    assert!(bar.contains(">Schedule</a>"));
    assert!(!bar.contains("Notes") && !bar.contains(">Plan<"), "{bar}");
}

#[tokio::test]
async fn counselor_is_denied_a_patient_outside_their_programs() {
    let s = start().await;
    let b = s.browser("casey").await;
    let res = b.get(&format!("/patients/{}", s.other_patient_id)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.expect("text");
    assert!(
        !html.contains("Park"),
        "a denial reveals nothing about the patient"
    );
    let audit = s.audit_for(s.other_patient_id).await;
    assert!(audit
        .iter()
        .any(|r| r.username == "casey" && r.action == "access_denied"));
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_and_our_origin() {
    let s = start().await;
    let b = s.browser("ingrid").await;
    let fields = [
        ("site_id", s.site_id.to_string()),
        ("legal_first_name", "Tom".to_owned()),
        ("legal_last_name", "Hale".to_owned()),
        ("date_of_birth", "1985-01-02".to_owned()),
        ("sex", "male".to_owned()),
    ];
    let without_token = b
        .client
        .post(format!("{}/patients", s.base))
        .header("Origin", &s.base)
        .form(&fields)
        .send()
        .await
        .expect("post");
    assert_eq!(without_token.status(), StatusCode::FORBIDDEN);
    let mut with_token: Vec<(&str, String)> = vec![("csrf_token", b.csrf.clone())];
    with_token.extend(fields.iter().cloned());
    let foreign = b
        .client
        .post(format!("{}/patients", s.base))
        .header("Origin", "http://evil.example")
        .form(&with_token)
        .send()
        .await
        .expect("post");
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let ok = b
        .client
        .post(format!("{}/patients", s.base))
        .header("Origin", &s.base)
        .form(&with_token)
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.url().path().starts_with("/patients/"));
}

#[tokio::test]
async fn login_form_rejects_a_missing_csrf_token() {
    let s = start().await;
    let c = client();
    let res = c
        .post(format!("{}/login", s.base))
        .header("Origin", &s.base)
        .form(&[("username", "casey"), ("password", PASSWORD)])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn repeated_failures_lock_the_account() {
    let s = start().await;
    let c = client();
    for attempt in 0..5 {
        let page = c
            .get(format!("{}/login", s.base))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("text");
        let res = c
            .post(format!("{}/login", s.base))
            .header("Origin", &s.base)
            .form(&[
                ("csrf_token", csrf_in(&page).as_str()),
                ("username", "casey"),
                ("password", "not the password"),
            ])
            .send()
            .await
            .expect("post");
        let html = res.text().await.expect("text");
        // Wrong passwords never learn of the lock (an unknown account answers the same).
        assert!(
            html.contains("Wrong username or password"),
            "attempt {attempt}"
        );
        assert!(!html.contains("locked"), "attempt {attempt}");
    }
    let page = c
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let res = c
        .post(format!("{}/login", s.base))
        .header("Origin", &s.base)
        .form(&[
            ("csrf_token", csrf_in(&page).as_str()),
            ("username", "casey"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    assert!(
        res.text().await.expect("text").contains("locked"),
        "right password refused while locked"
    );
}

#[tokio::test]
async fn idle_sessions_expire() {
    let s = start_with(trellis_web::Config {
        idle_timeout: chrono::Duration::seconds(1),
        ..Default::default()
    })
    .await;
    let b = s.browser("casey").await;
    assert_eq!(b.get("/dashboard").await.url().path(), "/dashboard");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(b.get("/dashboard").await.url().path(), "/login");
}

#[tokio::test]
async fn register_warns_on_duplicates_then_admit_change_level_discharge() {
    let s = start().await;
    let b = s.browser("ingrid").await;
    let site = s.site_id.to_string();
    let patient = [
        ("site_id", site.as_str()),
        ("legal_first_name", "dana"),
        ("legal_last_name", "REYES"),
        ("date_of_birth", "1990-05-17"),
        ("sex", "female"),
    ];
    let dup = b.post("/patients", &patient).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let html = dup.text().await.expect("text");
    assert!(html.contains("may be a patient Trellis already knows"));
    let mut confirmed = patient.to_vec();
    confirmed.push(("confirm_new", "1"));
    let created = b.post("/patients", &confirmed).await;
    assert_eq!(created.status(), StatusCode::OK);
    let new_id: i64 = created
        .url()
        .path()
        .trim_start_matches("/patients/")
        .parse()
        .expect("patient id");

    let today = today().to_string();
    let program = s.program_id.to_string();
    let casey = s.users["casey"].to_string();
    let admit = b
        .post(
            &format!("/patients/{new_id}/episodes"),
            &[
                ("program_id", program.as_str()),
                ("admitted_on", today.as_str()),
                ("referral_source", "Employer or EAP"),
                ("primary_counselor_id", casey.as_str()),
                ("level", "2.1"),
                ("reason", "ASAM: D3 and D5 at 2"),
            ],
        )
        .await;
    assert_eq!(admit.status(), StatusCode::OK);
    let html = admit.text().await.expect("text");
    assert!(html.contains("Employer or EAP"));

    let counselor = s.browser("casey").await;
    let html = counselor
        .get(&format!("/patients/{new_id}/episodes"))
        .await
        .text()
        .await
        .expect("text");
    let episode: i64 = html
        .split("/episodes/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse().ok())
        .expect("episode link");
    let change = counselor
        .post(
            &format!("/episodes/{episode}/level"),
            &[
                ("level", "2.5"),
                ("effective_on", today.as_str()),
                ("reason", "Relapse; needs more structure"),
            ],
        )
        .await;
    assert_eq!(change.status(), StatusCode::OK);
    let html = change.text().await.expect("text");
    assert!(html.contains("Relapse; needs more structure"));
    assert!(html.contains("2.5 Partial hospitalization"));

    let discharge = counselor
        .post(
            &format!("/episodes/{episode}/discharge"),
            &[
                ("discharged_on", today.as_str()),
                ("reason", "4"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(discharge.status(), StatusCode::OK);
    let html = discharge.text().await.expect("text");
    assert!(html.contains("Transferred to another program or facility"));
}

#[tokio::test]
async fn bad_form_input_gets_clear_errors_and_stores_nothing() {
    let s = start().await;
    let b = s.browser("ingrid").await;
    let site = s.site_id.to_string();
    let res = b
        .post(
            "/patients",
            &[
                ("site_id", site.as_str()),
                ("legal_first_name", ""),
                ("legal_last_name", "X"),
                ("date_of_birth", "17/05/1990"),
                ("sex", "robot"),
                ("email", "nope"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("must be a date (YYYY-MM-DD)"));
    let counselor = s.browser("casey").await;
    let bad_level = counselor
        .post(
            &format!("/episodes/{}/level", s.episode_id),
            &[
                ("level", "9.9"),
                ("effective_on", "tomorrow"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(bad_level.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad_level.text().await.expect("text");
    assert!(html.contains("choose a level of care"));
    assert!(html.contains("must be a date"));
    let bad_discharge = counselor
        .post(
            &format!("/episodes/{}/discharge", s.episode_id),
            &[("discharged_on", "2001-01-01"), ("reason", "9")],
        )
        .await;
    assert_eq!(bad_discharge.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let chart = counselor
        .get(&format!("/patients/{}/episodes", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        chart.contains("Active"),
        "episode still open after bad input"
    );
}

fn totp_now(secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .expect("totp")
        .generate_current()
        .expect("clock")
}

async fn password_step(s: &TestServer, username: &str) -> (reqwest::Client, reqwest::Response) {
    let c = client();
    let page = c
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let res = c
        .post(format!("{}/login", s.base))
        .header("Origin", &s.base)
        .form(&[
            ("csrf_token", csrf_in(&page).as_str()),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    (c, res)
}

#[tokio::test]
async fn mfa_is_required_after_the_password_when_enabled() {
    let s = start().await;
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let casey = actor(&s.users, "casey", trellis_domain::access::Role::Counselor);
    s.store
        .set_mfa_secret(&casey, s.users["casey"], Some(secret), true)
        .await
        .expect("enable mfa");
    let (c, res) = password_step(&s, "casey").await;
    assert_eq!(res.url().path(), "/login/mfa");
    let html = res.text().await.expect("text");
    let token = csrf_in(&html);
    // Until the code is given, no staff page opens.
    let blocked = c
        .get(format!("{}/patients/{}", s.base, s.patient_id))
        .send()
        .await
        .expect("get");
    assert_eq!(blocked.url().path(), "/login/mfa");
    let wrong = c
        .post(format!("{}/login/mfa", s.base))
        .header("Origin", &s.base)
        .form(&[("csrf_token", token.as_str()), ("code", "000000")])
        .send()
        .await
        .expect("post");
    assert!(wrong
        .text()
        .await
        .expect("text")
        .contains("That code is not right"));
    let right = c
        .post(format!("{}/login/mfa", s.base))
        .header("Origin", &s.base)
        .form(&[
            ("csrf_token", token.as_str()),
            ("code", totp_now(secret).as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(right.url().path(), "/dashboard");
}

#[tokio::test]
async fn a_role_that_requires_mfa_must_enrol_before_using_trellis() {
    let s = start().await;
    s.store
        .set_mfa_required(
            &trellis_storage::access::Actor::system("test"),
            trellis_domain::access::Role::Counselor,
            true,
        )
        .await
        .expect("policy");
    let grant = s
        .store
        .grant::<trellis_storage::access::can::ManageUsers>(
            &trellis_storage::access::Actor::system("test"),
        )
        .expect("grant");
    let issued = s
        .store
        .issue_enrolment_code(&grant, s.users["casey"])
        .await
        .expect("enrolment code");
    let (c, res) = password_step(&s, "casey").await;
    assert_eq!(res.url().path(), "/account/mfa");
    let html = res.text().await.expect("text");
    assert!(html.contains("<svg"), "QR code shown");
    let key = html
        .split("Key: <code>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("key shown")
        .to_owned();
    let blocked = c
        .get(format!("{}/dashboard", s.base))
        .send()
        .await
        .expect("get");
    assert_ne!(blocked.url().path(), "/dashboard");
    let done = c
        .post(format!("{}/account/mfa", s.base))
        .header("Origin", &s.base)
        .form(&[
            ("csrf_token", csrf_in(&html).as_str()),
            ("code", totp_now(&key).as_str()),
            ("enrolment_code", issued.code.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done
        .text()
        .await
        .expect("text")
        .contains("Two-step verification is set up"));
    let now_in = c
        .get(format!("{}/dashboard", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(now_in.url().path(), "/dashboard");
    assert!(
        s.store
            .staff_user(s.users["casey"])
            .await
            .expect("user")
            .mfa_enabled
    );
}

#[tokio::test]
async fn staff_admin_forms_reject_bad_input() {
    let s = start().await;
    let admin = s.browser("ada").await;
    let before = s.store.staff().await.expect("staff").len();
    for (fields, message) in [
        (
            vec![
                ("username", "x"),
                ("display_name", "X"),
                ("role", "counselor"),
                ("password", "long enough password"),
            ],
            "3–32 characters",
        ),
        (
            vec![
                ("username", "newperson"),
                ("display_name", "New Person"),
                ("role", "wizard"),
                ("password", "long enough password"),
            ],
            "choose a role",
        ),
        (
            vec![
                ("username", "newperson"),
                ("display_name", "New Person"),
                ("role", "counselor"),
                ("password", "short"),
            ],
            "at least 12 characters",
        ),
        (
            vec![
                ("username", "casey"),
                ("display_name", "Another Casey"),
                ("role", "counselor"),
                ("password", "long enough password"),
            ],
            "username is taken",
        ),
    ] {
        let res = admin.post("/admin/users", &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            res.text().await.expect("text").contains(message),
            "{message}"
        );
    }
    assert_eq!(
        s.store.staff().await.expect("staff").len(),
        before,
        "nothing stored"
    );
    let casey = s.users["casey"];
    let bad = admin
        .post(
            &format!("/admin/users/{casey}"),
            &[
                ("display_name", "Casey"),
                ("role", "counselor"),
                ("active", "1"),
                ("assignment", "999:"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s.store.assignments(casey).await.expect("assignments").len(),
        1,
        "assignments unchanged"
    );
    let short = admin
        .post(
            &format!("/admin/users/{casey}/password"),
            &[("password", "short")],
        )
        .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_audit = admin.get("/admin/audit?patient=Smith&from=yesterday").await;
    assert!(bad_audit.text().await.expect("text").contains("MRN"));
}

#[tokio::test]
async fn admin_changes_a_role_and_the_change_applies_at_once() {
    let s = start().await;
    let casey = s.browser("casey").await;
    assert_eq!(casey.get("/dashboard").await.url().path(), "/dashboard");
    let admin = s.browser("ada").await;
    let id = s.users["casey"];
    let site = format!("{}:", s.site_id);
    let res = admin
        .post(
            &format!("/admin/users/{id}"),
            &[
                ("display_name", "Casey Counselor"),
                ("role", "front_desk"),
                ("active", "1"),
                ("assignment", site.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        casey.get("/dashboard").await.url().path(),
        "/login",
        "old session ended"
    );
    let audit = admin
        .get("/admin/audit?username=ada")
        .await
        .text()
        .await
        .expect("text");
    assert!(audit.contains("Changed assignments"));
}

#[tokio::test]
async fn a_raised_flag_shows_on_the_chart_and_its_task_closes_it() {
    let s = start().await;
    let casey = s.browser("casey").await;
    let chart = format!("/patients/{}", s.patient_id);
    let bad = casey
        .post(
            &format!("{chart}/flags"),
            &[("severity", "extreme"), ("summary", "x")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let raised = casey
        .post(
            &format!("{chart}/flags"),
            &[
                ("severity", "high"),
                ("summary", "Disclosed a plan to overdose"),
            ],
        )
        .await;
    assert_eq!(raised.status(), StatusCode::OK);
    assert!(raised
        .text()
        .await
        .expect("text")
        .contains("Disclosed a plan to overdose"));
    let dashboard = casey.get("/dashboard").await.text().await.expect("text");
    assert!(dashboard.contains("My tasks"));
    assert!(dashboard.contains("Respond to flag: Disclosed a plan to overdose"));
    let director = s.browser("dora").await;
    let tasks = director.get("/tasks").await.text().await.expect("text");
    assert!(
        tasks.contains("for every clinical director"),
        "high risk reaches the directors"
    );
    let front_desk = s.browser("fran").await;
    let denied = front_desk
        .post(
            &format!("{chart}/flags"),
            &[("severity", "high"), ("summary", "x")],
        )
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    let task_id = tasks
        .split("/tasks/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("task form")
        .to_owned();
    let not_hers = front_desk
        .post(
            &format!("/tasks/{task_id}/complete"),
            &[("outcome", "done")],
        )
        .await;
    assert_eq!(not_hers.status(), StatusCode::FORBIDDEN);
    let empty = director
        .post(&format!("/tasks/{task_id}/complete"), &[("outcome", "")])
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let done = director
        .post(
            &format!("/tasks/{task_id}/complete"),
            &[(
                "outcome",
                "Safety plan with patient and partner; psychiatry same day",
            )],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let after = casey.get(&chart).await.text().await.expect("text");
    assert!(after.contains("No open flags"));
    assert!(!casey
        .get("/dashboard")
        .await
        .text()
        .await
        .expect("text")
        .contains("Respond to flag"));
}
