//! The rest of issue 11 over HTTP: one's own sessions (ASVS 3.3.4), notices of changes to
//! one's credentials at the next sign-in (2.2.3, 2.5.x), and switching the second-factor
//! requirement off taking two people (page and API).

mod common;

use common::{client, csrf_in, start, Browser, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

/// Signs in with a password from a browser of the given family; answers the signed-in
/// browser, where the sign-in landed, and that page.
async fn sign_in(
    s: &TestServer,
    username: &str,
    password: &str,
    agent: &str,
) -> (Browser, String, String) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(agent)
        .build()
        .expect("client");
    let page = client
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("text");
    let res = client
        .post(format!("{}/login", s.base))
        .header("Origin", &s.base)
        .form(&[
            ("csrf_token", csrf_in(&page).as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK, "sign-in of {username}");
    let landed = res.url().path().to_owned();
    let html = res.text().await.expect("text");
    let browser = Browser {
        client,
        base: s.base.clone(),
        csrf: csrf_in(&html),
    };
    (browser, landed, html)
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

#[tokio::test]
async fn a_person_sees_their_sessions_and_signs_out_the_others_with_their_password() {
    let s = start().await;
    let (here, _, _) = sign_in(&s, "fran", PASSWORD, FIREFOX).await;
    let (phone, _, _) = sign_in(&s, "fran", PASSWORD, SAFARI).await;
    let (others, _, _) = sign_in(&s, "bill", PASSWORD, FIREFOX).await;

    let html = here
        .get("/account/sessions")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("Firefox") && html.contains("Safari"),
        "{html}"
    );
    assert!(html.contains("this session"), "{html}");
    assert_eq!(
        html.matches("name=\"session\" value=\"").count(),
        3,
        "two sessions and 'others'"
    );
    assert!(html.contains("127.0.0.1"), "the client address is shown");
    let security = here.get("/account/mfa").await.text().await.expect("text");
    assert!(
        security.contains("href=\"/account/sessions\""),
        "linked from Security"
    );

    // Bad input: no password, a wrong one, no session chosen, a session not (or no longer) open.
    for (fields, expected) in [
        (
            vec![("session", "others"), ("password", "")],
            "Your sessions: password</a>: is required",
        ),
        (
            vec![("session", "others"), ("password", "wrong horse battery")],
            "Your sessions: password</a>: is not right",
        ),
        (
            vec![("session", ""), ("password", PASSWORD)],
            "Your sessions: session</a>: choose a session",
        ),
        (
            vec![("session", "abc123"), ("password", PASSWORD)],
            "Your sessions: session</a>: is no longer open",
        ),
    ] {
        let res = here.post("/account/sessions/end", &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let html = res.text().await.expect("text");
        assert!(html.contains(expected), "{fields:?}: {html}");
    }
    assert_eq!(
        phone.get("/dashboard").await.url().path(),
        "/dashboard",
        "nothing ended yet"
    );

    let res = here
        .post(
            "/account/sessions/end",
            &[("session", "others"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Signed out of 1 other session(s)."), "{html}");
    assert!(!html.contains("Safari"), "{html}");
    assert_eq!(phone.get("/dashboard").await.url().path(), "/login");
    assert_eq!(here.get("/dashboard").await.url().path(), "/dashboard");
    assert_eq!(
        others.get("/dashboard").await.url().path(),
        "/dashboard",
        "another person's stay"
    );

    // Ending this very session signs out here.
    let html = here
        .get("/account/sessions")
        .await
        .text()
        .await
        .expect("text");
    let handle = html
        .split("name=\"session\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a session")
        .to_owned();
    let res = here
        .post(
            "/account/sessions/end",
            &[("session", handle.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.url().path(), "/login");
    assert_eq!(here.get("/dashboard").await.url().path(), "/login");

    let system = trellis_storage::access::Actor::system("test");
    let grant = s
        .store
        .grant::<trellis_storage::access::can::ReadAudit>(&system)
        .expect("grant");
    let actions: Vec<String> = s
        .store
        .search_audit(
            &grant,
            &trellis_storage::audit::AuditQuery {
                username: Some("fran".into()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "end_own_sessions").count(),
        2,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "end_sessions_failed")
            .count(),
        1,
        "{actions:?}"
    );
}

#[tokio::test]
async fn credential_changes_are_shown_at_the_next_sign_in_until_acknowledged() {
    let s = start().await;
    let ada = s.browser("ada").await;
    let olive = s.users["olive"];
    let new_password = "plum orchard lantern seventeen";
    let res = ada
        .post(
            &format!("/admin/users/{olive}/password"),
            &[("password", new_password)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let (browser, landed, html) = sign_in(&s, "olive", new_password, FIREFOX).await;
    assert_eq!(
        landed, "/account/sessions",
        "a notice waits, so the sign-in shows it"
    );
    assert!(
        html.contains("Your password was set by an administrator"),
        "{html}"
    );

    // Bad input names what is wrong.
    for up_to in ["", "x"] {
        let res = browser
            .post("/account/notices/acknowledge", &[("up_to", up_to)])
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{up_to:?}");
        let html = res.text().await.expect("text");
        assert!(
            html.contains("Changes to your account</a>: choose the notices"),
            "{html}"
        );
    }
    let up_to = html
        .split("name=\"up_to\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("up_to")
        .to_owned();
    let res = browser
        .post("/account/notices/acknowledge", &[("up_to", up_to.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Acknowledged."), "{html}");
    assert!(
        !html.contains("Your password was set by an administrator"),
        "{html}"
    );
    let res = browser
        .post("/account/notices/acknowledge", &[("up_to", up_to.as_str())])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing left"
    );

    let (_, landed, _) = sign_in(&s, "olive", new_password, FIREFOX).await;
    assert_eq!(
        landed, "/dashboard",
        "acknowledged notices are not shown again"
    );
}

#[tokio::test]
async fn switching_two_step_verification_off_for_a_role_takes_a_second_person() {
    let s = start().await;
    // The fixture switched it off everywhere (command line); require it for nurses, by one person.
    let ada = s.token("ada").await;
    let put = |token: String, roles: serde_json::Value| {
        let url = format!("{}/api/v1/mfa-policy", s.base);
        async move {
            client()
                .put(url)
                .bearer_auth(token)
                .json(&json!({ "mfa_required": roles }))
                .send()
                .await
                .expect("put")
        }
    };
    let res = put(ada.clone(), json!(["nurse"])).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(s
        .store
        .mfa_required(trellis_domain::access::Role::Nurse)
        .await
        .expect("policy"));

    // Switching it off again is a request.
    let res = put(ada.clone(), json!([])).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: serde_json::Value = res.json().await.expect("json");
    let ids = body["approval_ids"].as_array().expect("ids").clone();
    assert_eq!(ids.len(), 1);
    assert!(s
        .store
        .mfa_required(trellis_domain::access::Role::Nurse)
        .await
        .expect("policy"));
    let approve = |token: String| {
        let url = format!("{}/api/v1/role-approvals/{}/approve", s.base, ids[0]);
        async move {
            client()
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("post")
        }
    };
    assert_eq!(approve(ada.clone()).await.status(), StatusCode::CONFLICT);
    assert_eq!(
        approve(s.token("pat").await).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!s
        .store
        .mfa_required(trellis_domain::access::Role::Nurse)
        .await
        .expect("policy"));

    // The page: unticking a required role says it waits, and Role approvals lists it.
    let page = s.browser("ada").await;
    let res = page.post("/admin/mfa-policy", &[("role", "nurse")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = page.post("/admin/mfa-policy", &[]).await;
    let html = res.text().await.expect("text");
    assert!(html.contains("except switching it off for Nurse"), "{html}");
    let html = s
        .browser("pat")
        .await
        .get("/admin/role-approvals")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("Stop requiring two-step verification for every Nurse"),
        "{html}"
    );
}

#[tokio::test]
async fn the_strength_meter_gives_the_servers_estimate_to_a_signed_in_session_only() {
    let s = start().await;
    let fran = s.browser("fran").await;
    for (fields, expected) in [
        (
            vec![("new_password", "password1234")],
            "too weak</strong>: the password is on or close to the list",
        ),
        (
            vec![("new_password", "short")],
            "too weak</strong>: the password must be at least 12 characters",
        ),
        (vec![("password", "fran fran fran fran")], "too weak"),
        (
            vec![("password", "plum orchard lantern seventeen")],
            "Strength: <strong>",
        ),
        (vec![("password", "")], "aria-live=\"polite\"></span>"),
    ] {
        let res = fran.post("/account/password-strength", &fields).await;
        assert_eq!(res.status(), StatusCode::OK, "{fields:?}");
        let html = res.text().await.expect("text");
        assert!(html.contains(expected), "{fields:?}: {html}");
        assert!(
            !html.contains(fields[0].1) || fields[0].1.is_empty(),
            "never repeats the password"
        );
    }
    let strong = fran
        .post(
            "/account/password-strength",
            &[("password", "plum orchard lantern seventeen")],
        )
        .await
        .text()
        .await
        .expect("text");
    assert!(!strong.contains("too weak"), "{strong}");
    let page = fran
        .get("/account/password")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("hx-post=\"/account/password-strength\""),
        "{page}"
    );
    // Without a session there is no meter.
    let anonymous = client()
        .post(format!("{}/account/password-strength", s.base))
        .header("Origin", &s.base)
        .form(&[("password", "plum orchard lantern seventeen")])
        .send()
        .await
        .expect("post");
    assert_ne!(anonymous.status(), StatusCode::OK);
}
