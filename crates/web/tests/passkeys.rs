//! Passkeys as a second factor (issue 11 item 2) over HTTP: the set-up and sign-in ceremonies'
//! refusals (another challenge, an unknown credential, an answer replayed or never asked for),
//! each audited and counted toward the same lockout as wrong codes; the holder's page; and an
//! administrator's reset. A real authenticator's set-up and sign-in are in
//! `tests/browser/passkeys.test.mjs` (Chromium's virtual authenticator).

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{start, start_with_default_policies, Browser, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::staff::{EnrolmentOutcome, LoginOutcome, NewPasskey};
use trellis_web::Config;

/// A passkey record as the WebAuthn library keeps it (a P-256 credential from its own tests).
const STORED_CREDENTIAL: &str = r#"{"cred_id":"uZcVDBVS68E_MtAgeQpElJxldF_6cY9sSvbWqx_qRh8wiu42lyRBRmh5yFeD_r9k130dMbFHBHI9RTFgdJQIzQ","cred":{"type_":"ES256","key":{"EC_EC2":{"curve":"SECP256R1","x":[194,126,127,109,252,23,131,21,252,6,223,99,44,254,140,27,230,17,94,5,133,28,104,41,144,69,171,149,161,26,200,243],"y":[143,123,183,156,24,178,21,248,117,159,162,69,171,52,188,252,26,59,6,47,103,92,19,58,117,103,249,0,219,8,95,196]}}},"counter":2,"user_verified":false,"backup_eligible":false,"backup_state":false,"registration_policy":"preferred","extensions":{"cred_protect":"NotRequested","hmac_create_secret":"NotRequested"},"attestation":{"data":{"Basic":["MIICvTCCAaWgAwIBAgIEK_F8eDANBgkqhkiG9w0BAQsFADAuMSwwKgYDVQQDEyNZdWJpY28gVTJGIFJvb3QgQ0EgU2VyaWFsIDQ1NzIwMDYzMTAgFw0xNDA4MDEwMDAwMDBaGA8yMDUwMDkwNDAwMDAwMFowbjELMAkGA1UEBhMCU0UxEjAQBgNVBAoMCVl1YmljbyBBQjEiMCAGA1UECwwZQXV0aGVudGljYXRvciBBdHRlc3RhdGlvbjEnMCUGA1UEAwweWXViaWNvIFUyRiBFRSBTZXJpYWwgNzM3MjQ2MzI4MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdMLHhCPIcS6bSPJZWGb8cECuTN8H13fVha8Ek5nt-pI8vrSflxb59Vp4bDQlH8jzXj3oW1ZwUDjHC6EnGWB5i6NsMGowIgYJKwYBBAGCxAoCBBUxLjMuNi4xLjQuMS40MTQ4Mi4xLjcwEwYLKwYBBAGC5RwCAQEEBAMCAiQwIQYLKwYBBAGC5RwBAQQEEgQQxe9V_62aS5-1gK3rr-Am0DAMBgNVHRMBAf8EAjAAMA0GCSqGSIb3DQEBCwUAA4IBAQCLbpN2nXhNbunZANJxAn_Cd-S4JuZsObnUiLnLLS0FPWa01TY8F7oJ8bE-aFa4kTe6NQQfi8-yiZrQ8N-JL4f7gNdQPSrH-r3iFd4SvroDe1jaJO4J9LeiFjmRdcVa-5cqNF4G1fPCofvw9W4lKnObuPakr0x_icdVq1MXhYdUtQk6Zr5mBnc4FhN9qi7DXqLHD5G7ZFUmGwfIcD2-0m1f1mwQS8yRD5-_aDCf3vutwddoi3crtivzyromwbKklR4qHunJ75LGZLZA8pJ_mXnUQ6TTsgRqPvPXgQPbSyGMf2z_DIPbQqCD_Bmc4dj9o6LozheBdDtcZCAjSPTAd_ui"]},"metadata":"None"},"attestation_format":"Packed"}"#;
/// That credential's id.
const CREDENTIAL_ID: &str =
    "uZcVDBVS68E_MtAgeQpElJxldF_6cY9sSvbWqx_qRh8wiu42lyRBRmh5yFeD_r9k130dMbFHBHI9RTFgdJQIzQ";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Gives an account the stored passkey, as if its holder had set it up with an enrolment code.
async fn give_passkey(s: &TestServer, username: &'static str, credential_id: &str) {
    let id = s.users[username];
    let grant = s
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    let code = s
        .store
        .issue_enrolment_code(&grant, id)
        .await
        .expect("code");
    let user = match s
        .store
        .login(username, common::PASSWORD, "10.9.9.9")
        .await
        .expect("login")
    {
        LoginOutcome::NeedsMfaEnrolment(u) | LoginOutcome::Success(u) => u,
        other => panic!("unexpected {other:?}"),
    };
    let (secret, _) = s
        .store
        .create_session(
            &user,
            false,
            "10.9.9.9",
            "Firefox",
            chrono::Duration::hours(1),
        )
        .await
        .expect("session");
    let outcome = s
        .store
        .confirm_passkey_enrolment(
            &secret,
            id,
            Ok(NewPasskey {
                credential_id: credential_id.into(),
                name: "security key".into(),
                credential: format!("{{\"cred\":{STORED_CREDENTIAL}}}"),
            }),
            &code.code,
            "10.9.9.9",
        )
        .await
        .expect("enrol");
    assert_eq!(outcome, EnrolmentOutcome::Enrolled);
}

/// Posts JSON the way `static/passkeys.js` does: our Origin and the session's CSRF token.
async fn post_json(b: &Browser, path: &str, body: &Value) -> (StatusCode, Value) {
    let res = b
        .client
        .post(format!("{}{path}", b.base))
        .header("Origin", &b.base)
        .header("X-CSRF-Token", &b.csrf)
        .json(body)
        .send()
        .await
        .expect("post");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn client_data(kind: &str, challenge: &str) -> String {
    b64(
        json!({ "type": kind, "challenge": challenge, "origin": "http://localhost:8080" })
            .to_string()
            .as_bytes(),
    )
}

/// An assertion for a credential id, signed by nobody, answering the given challenge.
fn assertion(raw_id: &str, challenge: &str) -> Value {
    json!({ "credential": {
        "id": raw_id,
        "rawId": raw_id,
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&[0u8; 37]),
            "clientDataJSON": client_data("webauthn.get", challenge),
            "signature": b64(b"not a signature"),
            "userHandle": null
        }
    }})
}

async fn failures(s: &TestServer, user_id: i64) -> Vec<String> {
    trellis_storage::testing::raw_strings(
        &s.store,
        &format!(
            "SELECT detail FROM audit_log WHERE action = 'mfa_failed' AND user_id = {user_id} ORDER BY id"
        ),
    )
    .await
    .expect("audit")
}

#[tokio::test]
async fn a_passkey_set_up_refuses_another_challenge_and_an_answer_sent_twice() {
    let s = start_with_default_policies(Config::default()).await;
    let casey = s.users["casey"];
    let grant = s
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    let code = s
        .store
        .issue_enrolment_code(&grant, casey)
        .await
        .expect("code");
    // The password alone leads to the set-up, which offers a passkey instead of an app.
    let b = s.browser("casey").await;
    let page = b.get("/account/passkeys").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("text");
    assert!(html.contains("Enrolment code"), "{html}");
    assert!(html.contains("/static/passkeys.js"));
    // Not signed in yet: the sign-in frame, no main menu.
    assert!(!html.contains(r#"<nav aria-label="Main">"#), "{html}");

    let long_name = "n".repeat(61);
    let (status, body) = post_json(
        &b,
        "/account/passkeys/set-up/start",
        &json!({ "name": long_name }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Passkey name"),
        "{body}"
    );

    let (status, started) = post_json(
        &b,
        "/account/passkeys/set-up/start",
        &json!({ "name": "laptop" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["publicKey"]["rp"]["id"], "localhost");
    let challenge = started["publicKey"]["challenge"]
        .as_str()
        .expect("challenge");
    assert!(!challenge.is_empty());
    // A made-up answer to another challenge: "none" attestation over empty authenticator data.
    let mut attestation = vec![0xa3, 0x63];
    attestation.extend_from_slice(b"fmt");
    attestation.push(0x64);
    attestation.extend_from_slice(b"none");
    attestation.push(0x67);
    attestation.extend_from_slice(b"attStmt");
    attestation.push(0xa0);
    attestation.push(0x68);
    attestation.extend_from_slice(b"authData");
    attestation.extend_from_slice(&[0x58, 37]);
    attestation.extend_from_slice(&[0u8; 37]);
    let answer = json!({
        "name": "laptop",
        "enrolment_code": code.code,
        "credential": {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": client_data("webauthn.create", &b64(b"another challenge"))
            }
        }
    });
    let (status, body) = post_json(&b, "/account/passkeys/set-up/finish", &answer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post_json(&b, "/account/passkeys/set-up/finish", &answer).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an answer is taken once"
    );
    let (status, _) = post_json(&b, "/account/passkeys/set-up/finish", &json!({})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing was asked"
    );
    assert!(s.store.passkeys(casey).await.expect("list").is_empty());
    assert!(!s.store.staff_user(casey).await.expect("user").mfa_enabled);
    let audited = failures(&s, casey).await;
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert!(audited[0].starts_with("set-up: passkey "), "{audited:?}");
    assert_eq!(
        audited[1..],
        [
            "set-up: passkey set-up not started, expired or already answered".to_owned(),
            "set-up: enrolment code missing, wrong, used or expired".to_owned(),
        ]
    );

    // Without the session's CSRF token the ceremony does not start.
    let res = b
        .client
        .post(format!("{}/account/passkeys/set-up/start", b.base))
        .header("Origin", &b.base)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_passkey_sign_in_refuses_unknown_credentials_other_challenges_and_replays_then_locks() {
    let s = start_with_default_policies(Config::default()).await;
    give_passkey(&s, "casey", CREDENTIAL_ID).await;
    let casey = s.users["casey"];
    // The password leads to the second step, which offers the passkey (and no code form:
    // casey has no authenticator app).
    let mut b = s.browser("casey").await;
    let html = b.get("/login/mfa").await.text().await.expect("text");
    assert!(html.contains("Use your passkey"), "{html}");
    assert!(!html.contains("6-digit code"), "{html}");
    // The script reads the session's CSRF token from the form.
    let marker = "data-csrf=\"";
    let at = html.find(marker).expect("data-csrf") + marker.len();
    b.csrf = html[at..at + html[at..].find('"').expect("end")].to_owned();

    let (status, started) = post_json(&b, "/login/passkey/start", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(
        started["publicKey"]["allowCredentials"][0]["id"], CREDENTIAL_ID,
        "only this account's passkeys are allowed"
    );
    let challenge = started["publicKey"]["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let (status, _) = post_json(
        &b,
        "/login/passkey/finish",
        &assertion(&b64(b"someone else's key"), &challenge),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    post_json(&b, "/login/passkey/start", &json!({})).await;
    let other = assertion(CREDENTIAL_ID, &b64(b"an old challenge"));
    let (status, _) = post_json(&b, "/login/passkey/finish", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post_json(&b, "/login/passkey/finish", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "replayed");
    let (status, _) = post_json(&b, "/login/passkey/finish", &json!({"credential": 7})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        b.get("/dashboard").await.url().path(),
        "/login/mfa",
        "still not signed in"
    );
    let (status, body) = post_json(&b, "/login/passkey/finish", &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the fifth failure locks");
    assert_eq!(body["redirect"], "/login");
    assert_eq!(b.get("/dashboard").await.url().path(), "/login");
    assert_eq!(
        failures(&s, casey).await,
        vec![
            "passkey: unknown credential",
            "passkey: answered another challenge",
            "passkey: sign-in not started, expired or already answered",
            "passkey: sign-in not started, expired or already answered",
            "passkey: sign-in not started, expired or already answered; account locked for 15 minutes",
        ]
    );
}

#[tokio::test]
async fn the_second_step_offers_the_passkey_beside_the_app_and_either_signs_in() {
    let s = start_with_default_policies(Config::default()).await;
    give_passkey(&s, "casey", CREDENTIAL_ID).await;
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let casey = s.users["casey"];
    s.store
        .set_mfa_secret(&Actor::system("test"), casey, Some(secret), true)
        .await
        .expect("app");
    let b = s.browser("casey").await;
    let html = b.get("/login/mfa").await.text().await.expect("text");
    assert!(
        html.contains("Use your passkey") && html.contains("6-digit code"),
        "{html}"
    );
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    let code = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .expect("totp")
        .generate_current()
        .expect("clock");
    let res = b.post("/login/mfa", &[("code", code.as_str())]).await;
    assert_eq!(
        res.url().path(),
        "/account/sessions",
        "the passkey set up since the last sign-in is shown first"
    );

    // Signed in: the holder lists the passkey and may remove it (the app remains).
    let html = b.get("/account/passkeys").await.text().await.expect("text");
    assert!(html.contains("security key"), "{html}");
    assert!(!html.contains("Enrolment code"));
    // The frame of every other page: the main menu and the account in the header.
    assert!(html.contains(r#"<nav aria-label="Main">"#), "{html}");
    assert!(html.contains("/static/passkeys.js"));
    let listed = s.store.passkeys(casey).await.expect("list");
    let res = b
        .post(&format!("/account/passkeys/{}/remove", listed[0].id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("The passkey is removed."));
    let res = b
        .post(&format!("/account/passkeys/{}/remove", listed[0].id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains(&format!("Passkey {}: not one of yours.", listed[0].id)));
    assert!(s.store.passkeys(casey).await.expect("list").is_empty());
}

/// A second administrator, "abe", with a token; the fixture has one administrator only.
async fn second_admin(s: &TestServer) -> (i64, String) {
    let system = Actor::system("test");
    let grant = s.store.grant::<can::ManageUsers>(&system).expect("grant");
    let id = s
        .store
        .create_staff(
            &grant,
            &trellis_storage::staff::NewStaff {
                username: "abe".into(),
                display_name: "Abe Second".into(),
                email: None,
                role: Role::Admin,
                password: common::PASSWORD.into(),
            },
        )
        .await
        .expect("abe");
    let token = s
        .store
        .create_token(
            &system,
            id,
            "test",
            Role::Admin,
            None,
            chrono::Duration::days(trellis_storage::staff::DEFAULT_TOKEN_MAX_DAYS),
        )
        .await
        .expect("token");
    (id, token)
}

#[tokio::test]
async fn removing_a_persons_app_and_passkeys_takes_two_administrators() {
    let s = start().await;
    give_passkey(&s, "casey", CREDENTIAL_ID).await;
    give_passkey(&s, "olive", "b2xpdmU").await;
    let (_, abe_token) = second_admin(&s).await;
    let casey = s.users["casey"];
    let ada = s.browser("ada").await;

    // The page: one administrator asks; nothing is removed yet.
    let res = ada
        .post(&format!("/admin/users/{casey}/second-factors/reset"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(
        html.contains("Removal of two-step verification requested"),
        "{html}"
    );
    assert!(html.contains("asked to remove this account"), "{html}");
    assert!(!html.contains("Request removal of two-step verification"));
    assert_eq!(s.store.passkeys(casey).await.expect("list").len(), 1);
    assert!(s.store.staff_user(casey).await.expect("user").mfa_enabled);
    let request = s
        .store
        .second_factor_reset_awaiting_approval(casey)
        .await
        .expect("open")
        .expect("a request")
        .id;
    // Whoever asked cannot approve it; the list tells them so and a forged post is refused.
    let html = ada
        .get("/admin/role-approvals")
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("Remove two-step verification"), "{html}");
    assert!(html.contains("another person decides"), "{html}");
    let res = ada
        .post(
            &format!("/admin/role-approvals/{request}"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("not whoever requested the reset"));
    assert_eq!(s.store.passkeys(casey).await.expect("list").len(), 1);
    // Nor do they reset their own.
    let own = s.users["ada"];
    let res = ada
        .post(&format!("/admin/users/{own}/second-factors/reset"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("Second factors: your own second factors"));
    // A second administrator approves: only now are they removed.
    let abe = s.browser("abe").await;
    let res = abe
        .post(
            &format!("/admin/role-approvals/{request}"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(
        html.contains("authenticator app and passkeys are removed"),
        "{html}"
    );
    assert!(s.store.passkeys(casey).await.expect("list").is_empty());
    assert!(!s.store.staff_user(casey).await.expect("user").mfa_enabled);
    let html = ada
        .get(&format!("/admin/users/{casey}"))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("Request enrolment code"),
        "a counselor's new code takes two people too: {html}"
    );

    // The API: the same two steps.
    let olive = s.users["olive"];
    let api = common::client();
    let reset = |token: String, user: i64| {
        let api = api.clone();
        let url = format!("{}/api/v1/users/{user}/second-factors/reset", s.base);
        async move { api.post(url).bearer_auth(token).send().await.expect("post") }
    };
    let decide = |token: String, id: i64, decision: &'static str| {
        let api = api.clone();
        let url = format!("{}/api/v1/role-approvals/{id}/{decision}", s.base);
        async move { api.post(url).bearer_auth(token).send().await.expect("post") }
    };
    let res = reset(s.token("casey").await, olive).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "only administrators");
    let ada_token = s.token("ada").await;
    let res = reset(ada_token.clone(), olive).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let request = res.json::<Value>().await.expect("json")["approval_id"]
        .as_i64()
        .expect("approval id");
    assert_eq!(s.store.passkeys(olive).await.expect("list").len(), 1);
    let listed = common::client()
        .get(format!("{}/api/v1/role-approvals", s.base))
        .bearer_auth(&abe_token)
        .send()
        .await
        .expect("get")
        .json::<Value>()
        .await
        .expect("json");
    let entry = listed
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["id"] == request)
        .expect("listed");
    assert_eq!(entry["kind"], "second_factor_reset");
    assert_eq!(entry["role"], "counselor");
    let res = decide(ada_token.clone(), request, "approve").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = decide(s.token("olive").await, request, "approve").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "nor its holder");
    assert_eq!(s.store.passkeys(olive).await.expect("list").len(), 1);
    let res = decide(abe_token.clone(), request, "refuse").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        s.store.passkeys(olive).await.expect("list").len(),
        1,
        "a refusal keeps them"
    );
    let res = reset(ada_token.clone(), olive).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let request = res.json::<Value>().await.expect("json")["approval_id"]
        .as_i64()
        .expect("approval id");
    let res = decide(abe_token.clone(), request, "approve").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(s.store.passkeys(olive).await.expect("list").is_empty());
    let res = decide(abe_token.clone(), request, "approve").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "decided once");
    let res = reset(ada_token.clone(), own).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "never one's own");
    let res = reset(ada_token, 999_999).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let actions = trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT action FROM audit_log
         WHERE action IN ('request_mfa_reset', 'refuse_mfa_reset', 'mfa_reset') ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        actions,
        vec![
            "request_mfa_reset",
            "mfa_reset",
            "request_mfa_reset",
            "refuse_mfa_reset",
            "request_mfa_reset",
            "mfa_reset"
        ]
    );
}
