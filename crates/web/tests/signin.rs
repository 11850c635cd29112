//! Strong sign-in and credentials that follow the person (issue 11): each test replays a
//! finding of the attack review over HTTP and shows it now fails.

mod common;

use common::{actor, client, csrf_in, start, TestServer, PASSWORD};
use reqwest::StatusCode;
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::audit::AuditQuery;

const MFA_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn totp_now() -> String {
    let bytes = totp_rs::Secret::Encoded(MFA_SECRET.to_owned())
        .to_bytes()
        .expect("base32");
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .expect("totp")
        .generate_current()
        .expect("clock")
}

/// A code that is not the current one (nor, by construction, this step's).
fn wrong_code() -> String {
    let right: u32 = totp_now().parse().expect("digits");
    format!("{:06}", (right + 500_000) % 1_000_000)
}

async fn enable_mfa(s: &TestServer, username: &'static str) {
    let who = actor(&s.users, username, Role::Counselor);
    s.store
        .set_mfa_secret(&who, s.users[username], Some(MFA_SECRET), true)
        .await
        .expect("enable mfa");
}

/// Signs in with the password; returns the client and the second-factor page's CSRF token.
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

async fn half_signed_in(s: &TestServer, username: &str) -> (reqwest::Client, String) {
    let (c, res) = password_step(s, username).await;
    assert_eq!(res.url().path(), "/login/mfa");
    let csrf = csrf_in(&res.text().await.expect("text"));
    (c, csrf)
}

async fn send_code(
    s: &TestServer,
    c: &reqwest::Client,
    csrf: &str,
    code: &str,
) -> reqwest::Response {
    c.post(format!("{}/login/mfa", s.base))
        .header("Origin", &s.base)
        .form(&[("csrf_token", csrf), ("code", code)])
        .send()
        .await
        .expect("post")
}

async fn audit_of(s: &TestServer, username: &str) -> Vec<trellis_storage::audit::AuditRow> {
    let system = Actor::system("test");
    let grant = s.store.grant::<can::ReadAudit>(&system).expect("grant");
    s.store
        .search_audit(
            &grant,
            &AuditQuery {
                username: Some(username.into()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
}

#[tokio::test]
async fn forty_wrong_codes_then_the_right_one_does_not_sign_in() {
    let s = start().await;
    enable_mfa(&s, "casey").await;
    let (c, csrf) = half_signed_in(&s, "casey").await;
    let wrong = wrong_code();
    for attempt in 1..=40 {
        let res = send_code(&s, &c, &csrf, &wrong).await;
        let path = res.url().path().to_owned();
        let html = res.text().await.expect("text");
        match attempt {
            1..=4 => assert!(html.contains("That code is not right"), "attempt {attempt}"),
            // The fifth wrong code locks the account and ends the half-signed-in session.
            5 => assert!(html.contains("This account is locked"), "attempt {attempt}"),
            _ => assert_eq!(
                path, "/login",
                "attempt {attempt}: no session to guess with"
            ),
        }
    }
    let right = send_code(&s, &c, &csrf, &totp_now()).await;
    assert_eq!(
        right.url().path(),
        "/login",
        "the session ended at the lockout"
    );
    let dashboard = c
        .get(format!("{}/dashboard", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(dashboard.url().path(), "/login");
    // The password alone no longer opens even a half session while the account is locked.
    let (_, again) = password_step(&s, "casey").await;
    assert!(again
        .text()
        .await
        .expect("text")
        .contains("This account is locked"));
    let user = s.store.staff_user(s.users["casey"]).await.expect("user");
    assert!(user.locked_until.is_some());
}

#[tokio::test]
async fn re_entering_the_password_does_not_reset_the_count_of_wrong_codes() {
    let s = start().await;
    enable_mfa(&s, "casey").await;
    let wrong = wrong_code();
    let (c, csrf) = half_signed_in(&s, "casey").await;
    for _ in 0..4 {
        send_code(&s, &c, &csrf, &wrong).await;
    }
    let (c, csrf) = half_signed_in(&s, "casey").await;
    let fifth = send_code(&s, &c, &csrf, &wrong).await;
    assert!(fifth
        .text()
        .await
        .expect("text")
        .contains("This account is locked"));
}

#[tokio::test]
async fn a_totp_code_signs_in_once() {
    let s = start().await;
    enable_mfa(&s, "casey").await;
    let code = totp_now();
    let (first, csrf) = half_signed_in(&s, "casey").await;
    let ok = send_code(&s, &first, &csrf, &code).await;
    assert_eq!(ok.url().path(), "/dashboard");
    // Someone who saw the code (and knows the password) tries it again at once.
    let (second, csrf) = half_signed_in(&s, "casey").await;
    let replay = send_code(&s, &second, &csrf, &code).await;
    assert_ne!(replay.url().path(), "/dashboard");
    assert!(replay
        .text()
        .await
        .expect("text")
        .contains("or was already used"));
    let blocked = second
        .get(format!("{}/dashboard", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(blocked.url().path(), "/login/mfa");
    let rows = audit_of(&s, "casey").await;
    assert!(rows
        .iter()
        .any(|r| r.action == "mfa_failed" && r.detail == "code already used"));
}

#[tokio::test]
async fn every_failed_code_is_audited_without_the_code() {
    let s = start().await;
    enable_mfa(&s, "casey").await;
    let (c, csrf) = half_signed_in(&s, "casey").await;
    let wrong = wrong_code();
    for _ in 0..3 {
        send_code(&s, &c, &csrf, &wrong).await;
    }
    let malformed = send_code(&s, &c, &csrf, "12ab").await;
    assert!(malformed
        .text()
        .await
        .expect("text")
        .contains("That code is not right"));
    let failures: Vec<_> = audit_of(&s, "casey")
        .await
        .into_iter()
        .filter(|r| r.action == "mfa_failed")
        .collect();
    assert_eq!(failures.len(), 4);
    for row in &failures {
        assert_eq!(row.user_id, Some(s.users["casey"]));
        assert!(row.ip.is_some());
        assert!(!row.detail.contains(&wrong) && !row.detail.contains("12ab"));
    }
}

async fn me(s: &TestServer, token: &str) -> StatusCode {
    client()
        .get(format!("{}/api/v1/me", s.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
        .status()
}

#[tokio::test]
async fn a_token_stops_when_its_owner_is_demoted_deactivated_or_given_a_new_password() {
    let s = start().await;
    let admin = s.browser("ada").await;
    let dora = s.token("dora").await;
    let olive = s.token("olive").await;
    let casey = s.token("casey").await;
    for token in [&dora, &olive, &casey] {
        assert_eq!(me(&s, token).await, StatusCode::OK);
    }
    let demoted = admin
        .post(
            &format!("/admin/users/{}", s.users["dora"]),
            &[
                ("display_name", "dora"),
                ("role", "counselor"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(me(&s, &dora).await, StatusCode::UNAUTHORIZED);
    let reset = admin
        .post(
            &format!("/admin/users/{}/password", s.users["olive"]),
            &[("password", "marmalade tugboat violet orchard")],
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(me(&s, &olive).await, StatusCode::UNAUTHORIZED);
    let deactivated = admin
        .post(
            &format!("/admin/users/{}", s.users["casey"]),
            &[("display_name", "casey"), ("role", "counselor")],
        )
        .await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    assert_eq!(me(&s, &casey).await, StatusCode::UNAUTHORIZED);
    // Someone whose role and status did not change keeps their token.
    let priya = s.token("priya").await;
    admin
        .post(
            &format!("/admin/users/{}", s.users["priya"]),
            &[
                ("display_name", "Priya P."),
                ("role", "prescriber"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(me(&s, &priya).await, StatusCode::OK);
}

#[tokio::test]
async fn a_token_whose_role_is_no_longer_its_owners_is_refused_even_if_not_revoked() {
    let s = start().await;
    let token = s.token("dora").await;
    // The role changed outside the usual path (no revocation happened).
    trellis_storage::testing::raw_execute(
        &s.store,
        &format!(
            "UPDATE users SET role = 'counselor' WHERE id = {}",
            s.users["dora"]
        ),
    )
    .await
    .expect("demote");
    assert_eq!(me(&s, &token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_ends_the_users_sessions() {
    let s = start().await;
    let laptop = s.browser("olive").await;
    let phone = s.browser("olive").await;
    let admin = s.browser("ada").await;
    admin
        .post(
            &format!("/admin/users/{}/password", s.users["olive"]),
            &[("password", "marmalade tugboat violet orchard")],
        )
        .await;
    for session in [&laptop, &phone] {
        assert_eq!(session.get("/dashboard").await.url().path(), "/login");
    }
}

async fn own_feed_url(s: &TestServer, username: &str) -> String {
    let b = s.browser(username).await;
    let html = b
        .post("/schedule/my-day/calendar-feeds", &[])
        .await
        .text()
        .await
        .expect("text");
    html.split("id=\"new-feed-url\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("feed url")
        .to_owned()
}

#[tokio::test]
async fn a_calendar_feed_stops_when_its_creator_is_deactivated() {
    let s = start().await;
    let url = own_feed_url(&s, "casey").await;
    let fetch = || async {
        client()
            .get(format!("{}{url}", s.base))
            .send()
            .await
            .expect("feed")
            .status()
    };
    assert_eq!(fetch().await, StatusCode::OK);
    let admin = s.browser("ada").await;
    admin
        .post(
            &format!("/admin/users/{}", s.users["casey"]),
            &[("display_name", "casey"), ("role", "counselor")],
        )
        .await;
    assert_eq!(fetch().await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn common_and_guessable_passwords_are_refused_wherever_a_password_is_set() {
    let s = start().await;
    let admin = s.browser("ada").await;
    let token = s.token("ada").await;
    for weak in ["password1234", "aaaaaaaaaaaa", "newstaffnewstaff"] {
        let page = admin
            .post(
                "/admin/users",
                &[
                    ("username", "newstaff"),
                    ("display_name", "New Staff"),
                    ("role", "counselor"),
                    ("password", weak),
                ],
            )
            .await;
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY, "{weak}");
        let html = page.text().await.expect("text");
        assert!(
            html.contains("commonly used") || html.contains("too easy to guess"),
            "{weak}"
        );
        assert!(!html.contains(weak), "the page repeats {weak}");
        let api = client()
            .post(format!("{}/api/v1/users", s.base))
            .bearer_auth(&token)
            .json(
                &serde_json::json!({"username": "newstaff", "display_name": "New Staff",
                "role": "counselor", "password": weak}),
            )
            .send()
            .await
            .expect("post");
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY, "{weak}");
        let body = api.text().await.expect("text");
        assert!(
            body.contains("\"password\"") && !body.contains(weak),
            "{body}"
        );
        let reset = admin
            .post(
                &format!("/admin/users/{}/password", s.users["casey"]),
                &[("password", weak)],
            )
            .await;
        assert_eq!(reset.status(), StatusCode::UNPROCESSABLE_ENTITY, "{weak}");
        let api_reset = client()
            .post(format!(
                "{}/api/v1/users/{}/password",
                s.base, s.users["casey"]
            ))
            .bearer_auth(&token)
            .json(&serde_json::json!({"password": weak}))
            .send()
            .await
            .expect("post");
        assert_eq!(
            api_reset.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{weak}"
        );
    }
    // Casey's password was never changed.
    assert_eq!(
        s.browser("casey")
            .await
            .get("/dashboard")
            .await
            .url()
            .path(),
        "/dashboard"
    );
}

/// A code of `secret` for `offset` seconds from now.
fn code_of(secret: &str, offset: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .expect("totp")
        .generate(now + offset)
}

fn key_in(html: &str) -> String {
    html.split("Key: <code>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("key shown")
        .to_owned()
}

/// An enrolment code for the account, issued as an administrator would.
async fn enrolment_code(s: &TestServer, username: &str) -> String {
    let grant = s
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    s.store
        .issue_enrolment_code(&grant, s.users[username])
        .await
        .expect("issue")
        .code
}

async fn post_set_up(
    s: &TestServer,
    c: &reqwest::Client,
    csrf: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("csrf_token", csrf)];
    form.extend_from_slice(fields);
    c.post(format!("{}/account/mfa", s.base))
        .header("Origin", &s.base)
        .form(&form)
        .send()
        .await
        .expect("post")
}

/// A second, fully signed-in session of the user, made in the store; its cookie header.
async fn other_session(s: &TestServer, username: &'static str) -> String {
    let user = s.store.staff_user(s.users[username]).await.expect("user");
    let (secret, _) = s
        .store
        .create_session(
            &user,
            true,
            "192.0.2.7",
            "Firefox",
            chrono::Duration::hours(12),
        )
        .await
        .expect("session");
    format!("trellis_session={secret}")
}

async fn dashboard_with(s: &TestServer, cookie: &str) -> String {
    client()
        .get(format!("{}/dashboard", s.base))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("get")
        .url()
        .path()
        .to_owned()
}

#[tokio::test]
async fn wrong_set_up_codes_lock_the_account_and_are_audited_without_code_or_key() {
    let s = start().await;
    s.store
        .set_mfa_required(&Actor::system("test"), Role::Counselor, true)
        .await
        .expect("policy");
    let issued = enrolment_code(&s, "casey").await;
    let (c, res) = password_step(&s, "casey").await;
    assert_eq!(res.url().path(), "/account/mfa");
    let html = res.text().await.expect("text");
    let (csrf, key) = (csrf_in(&html), key_in(&html));
    let right: u32 = code_of(&key, 0).parse().expect("digits");
    let wrong = format!("{:06}", (right + 500_000) % 1_000_000);
    for attempt in 1..=6 {
        let res = post_set_up(
            &s,
            &c,
            &csrf,
            &[("code", &wrong), ("enrolment_code", &issued)],
        )
        .await;
        let status = res.status();
        let path = res.url().path().to_owned();
        let html = res.text().await.expect("text");
        match attempt {
            1..=4 => {
                assert_eq!(
                    status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "attempt {attempt}"
                );
                assert!(html.contains("New authenticator code: not right"));
            }
            5 => assert!(html.contains("This account is locked"), "attempt {attempt}"),
            _ => assert_eq!(path, "/login", "attempt {attempt}: the session ended"),
        }
    }
    // Locked: even the password and the right code from the shown key get nowhere now.
    let (_, again) = password_step(&s, "casey").await;
    assert!(again
        .text()
        .await
        .expect("text")
        .contains("This account is locked"));
    assert!(
        !s.store
            .staff_user(s.users["casey"])
            .await
            .expect("user")
            .mfa_enabled
    );
    let failures: Vec<_> = audit_of(&s, "casey")
        .await
        .into_iter()
        .filter(|r| r.action == "mfa_failed")
        .collect();
    assert_eq!(failures.len(), 5);
    for row in &failures {
        assert!(
            row.detail.starts_with("set-up: wrong code"),
            "{}",
            row.detail
        );
        assert!(row.ip.is_some());
        assert!(
            !row.detail.contains(&wrong)
                && !row.detail.contains(&key)
                && !row.detail.contains(&issued)
        );
    }
}

#[tokio::test]
async fn replacing_an_authenticator_needs_a_code_from_the_current_one() {
    let s = start().await;
    enable_mfa(&s, "casey").await;
    // Half signed in (password only): no way to the replacement.
    let (half, _) = half_signed_in(&s, "casey").await;
    let res = half
        .get(format!("{}/account/mfa?replace=1", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(res.url().path(), "/login/mfa");
    let (c, csrf) = half_signed_in(&s, "casey").await;
    assert_eq!(
        send_code(&s, &c, &csrf, &totp_now()).await.url().path(),
        "/dashboard"
    );
    let other = other_session(&s, "casey").await;
    assert_eq!(dashboard_with(&s, &other).await, "/dashboard");
    let page = c
        .get(format!("{}/account/mfa?replace=1", s.base))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let key = key_in(&page);
    let new_code = code_of(&key, 0);
    for current in ["", "12ab", wrong_code().as_str(), totp_now().as_str()] {
        // Missing, malformed, wrong, and already used to sign in: all refused.
        let res = post_set_up(
            &s,
            &c,
            &csrf,
            &[("code", &new_code), ("current_code", current)],
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{current:?}"
        );
        assert!(res
            .text()
            .await
            .expect("text")
            .contains("Code from your current authenticator: not right"));
    }
    assert_eq!(
        s.store
            .mfa_secret(s.users["casey"])
            .await
            .expect("secret")
            .as_deref(),
        Some(MFA_SECRET)
    );
    assert_eq!(dashboard_with(&s, &other).await, "/dashboard");
    // The next code of the authenticator in use (one step of drift is allowed) replaces it.
    let done = post_set_up(
        &s,
        &c,
        &csrf,
        &[
            ("code", &new_code),
            ("current_code", &code_of(MFA_SECRET, 30)),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done
        .text()
        .await
        .expect("text")
        .contains("Your other sessions have been signed out"));
    assert_eq!(
        s.store.mfa_secret(s.users["casey"]).await.expect("secret"),
        Some(key)
    );
    assert_eq!(dashboard_with(&s, &other).await, "/login");
    let kept = c
        .get(format!("{}/dashboard", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(kept.url().path(), "/dashboard");
    let audit = audit_of(&s, "casey").await;
    assert!(audit.iter().any(|r| r.action == "mfa_replaced"));
    assert_eq!(audit.iter().filter(|r| r.action == "mfa_failed").count(), 4);
}

const NEW_PASSWORD: &str = "marmalade tugboat violet orchard";

#[tokio::test]
async fn changing_ones_password_ends_other_sessions_and_revokes_tokens_but_keeps_this_one() {
    let s = start().await;
    let laptop = s.browser("olive").await;
    let phone = s.browser("olive").await;
    let token = s.token("olive").await;
    assert_eq!(me(&s, &token).await, StatusCode::OK);
    let form = laptop.get("/account/password").await;
    assert_eq!(form.status(), StatusCode::OK);
    let res = laptop
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("Your password is changed"));
    assert_eq!(phone.get("/dashboard").await.url().path(), "/login");
    assert_eq!(me(&s, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(laptop.get("/dashboard").await.url().path(), "/dashboard");
    let audit = audit_of(&s, "olive").await;
    let change = audit
        .iter()
        .find(|r| r.action == "change_password")
        .expect("audited");
    assert!(!change.detail.contains(NEW_PASSWORD) && !change.detail.contains(PASSWORD));
    // The new password signs in; the old one does not.
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
            ("username", "olive"),
            ("password", NEW_PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(
        res.url().path(),
        "/account/sessions",
        "the next sign-in shows the password change until it is acknowledged"
    );
}

#[tokio::test]
async fn the_password_change_form_refuses_bad_input_field_by_field() {
    let s = start().await;
    let laptop = s.browser("olive").await;
    let phone = s.browser("olive").await;
    for (fields, message) in [
        (
            [
                ("current_password", ""),
                ("new_password", ""),
                ("confirm_password", ""),
            ],
            "Current password: is required",
        ),
        (
            [
                ("current_password", "not my password at all"),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
            "Current password: is not right",
        ),
        (
            [
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", "marmalade tugboat violet"),
            ],
            "Confirm new password: does not match",
        ),
        (
            [
                ("current_password", PASSWORD),
                ("new_password", "password1234"),
                ("confirm_password", "password1234"),
            ],
            "New password: ",
        ),
    ] {
        let res = laptop.post("/account/password", &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        let html = res.text().await.expect("text");
        assert!(html.contains(message), "{message}: {html}");
        assert!(!html.contains("password1234") && !html.contains(NEW_PASSWORD));
    }
    // Nothing changed: the other session still works and the old password still signs in.
    assert_eq!(phone.get("/dashboard").await.url().path(), "/dashboard");
    s.browser("olive").await;
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_lockout() {
    let s = start().await;
    let laptop = s.browser("olive").await;
    for attempt in 1..=5 {
        let res = laptop
            .post(
                "/account/password",
                &[
                    ("current_password", "not my password at all"),
                    ("new_password", NEW_PASSWORD),
                    ("confirm_password", NEW_PASSWORD),
                ],
            )
            .await;
        let html = res.text().await.expect("text");
        if attempt < 5 {
            assert!(
                html.contains("Current password: is not right"),
                "attempt {attempt}"
            );
        } else {
            assert!(html.contains("This account is locked"), "attempt {attempt}");
        }
    }
    assert_eq!(laptop.get("/dashboard").await.url().path(), "/login");
    let (_, again) = password_step(&s, "olive").await;
    assert!(again
        .text()
        .await
        .expect("text")
        .contains("This account is locked"));
    let failed = audit_of(&s, "olive")
        .await
        .into_iter()
        .filter(|r| r.action == "password_change_failed")
        .count();
    assert_eq!(failed, 5);
}

#[tokio::test]
async fn a_set_up_key_not_confirmed_within_ten_minutes_is_discarded() {
    let s = start().await;
    s.store
        .set_mfa_required(&Actor::system("test"), Role::Counselor, true)
        .await
        .expect("policy");
    let issued = enrolment_code(&s, "casey").await;
    let (c, res) = password_step(&s, "casey").await;
    let html = res.text().await.expect("text");
    let (csrf, key) = (csrf_in(&html), key_in(&html));
    let eleven_minutes_ago =
        trellis_storage::Instant(chrono::Utc::now() - chrono::Duration::minutes(11)).to_db();
    trellis_storage::testing::raw_execute(
        &s.store,
        &format!(
            "UPDATE users SET mfa_pending_at = '{eleven_minutes_ago}' WHERE id = {}",
            s.users["casey"]
        ),
    )
    .await
    .expect("age the set-up");
    let res = post_set_up(
        &s,
        &c,
        &csrf,
        &[("code", &code_of(&key, 0)), ("enrolment_code", &issued)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("not confirmed within 10 minutes"));
    let fresh = key_in(&html);
    assert_ne!(fresh, key, "a new key replaces the discarded one");
    assert!(
        !s.store
            .staff_user(s.users["casey"])
            .await
            .expect("user")
            .mfa_enabled
    );
    let done = post_set_up(
        &s,
        &c,
        &csrf,
        &[("code", &code_of(&fresh, 0)), ("enrolment_code", &issued)],
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(
        s.store.mfa_secret(s.users["casey"]).await.expect("secret"),
        Some(fresh)
    );
    assert!(audit_of(&s, "casey")
        .await
        .iter()
        .any(|r| r.action == "mfa_enrolled"));
}

/// Signs in from a client address as a trusted proxy on 127.0.0.1 would report it.
async fn password_via_proxy(
    s: &TestServer,
    username: &str,
    password: &str,
    client_ip: &str,
) -> reqwest::Response {
    let c = client();
    let page = c
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    c.post(format!("{}/login", s.base))
        .header("Origin", &s.base)
        .header("X-Forwarded-For", format!("10.9.9.9, {client_ip}"))
        .form(&[
            ("csrf_token", csrf_in(&page).as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_attacker_cannot_lock_out_everyone() {
    let s = common::start_with(trellis_web::Config {
        trusted_proxies: vec!["127.0.0.1".parse().expect("proxy")],
        ..trellis_web::Config::default()
    })
    .await;
    // The attack review: 20 failures through the proxy throttled every user behind it. Now the
    // attacker's own address is throttled, and nobody else's.
    for i in 0..20 {
        let user = if i % 2 == 0 { "casey" } else { "nobody" };
        let res = password_via_proxy(&s, user, "not the password", "203.0.113.9").await;
        let html = res.text().await.expect("text");
        assert!(html.contains("Wrong username or password"), "attempt {i}");
        assert!(
            !html.contains("locked"),
            "attempt {i}: locked and unknown look alike"
        );
    }
    let throttled = password_via_proxy(&s, "ingrid", PASSWORD, "203.0.113.9").await;
    assert!(throttled
        .text()
        .await
        .expect("text")
        .contains("Too many failed sign-ins from this device"));
    // The real owner, at another address, signs in although their account was attacked.
    let owner = password_via_proxy(&s, "casey", PASSWORD, "192.0.2.7").await;
    assert_eq!(owner.url().path(), "/dashboard");
    let colleague = password_via_proxy(&s, "ingrid", PASSWORD, "192.0.2.8").await;
    assert_eq!(colleague.url().path(), "/dashboard");
    // The audit log records the real client address, not the proxy's.
    let failures: Vec<_> = audit_of(&s, "anonymous")
        .await
        .into_iter()
        .filter(|r| r.action == "login_failed")
        .collect();
    assert_eq!(failures.len(), 20);
    assert!(failures
        .iter()
        .all(|r| r.ip.as_deref() == Some("203.0.113.9")));
    let logins: Vec<_> = audit_of(&s, "casey")
        .await
        .into_iter()
        .filter(|r| r.action == "login")
        .collect();
    assert_eq!(logins[0].ip.as_deref(), Some("192.0.2.7"));
}

#[tokio::test]
async fn forwarded_addresses_from_untrusted_peers_are_ignored() {
    let s = start().await;
    for _ in 0..5 {
        password_via_proxy(&s, "casey", "not the password", "203.0.113.9").await;
    }
    // Without a trusted proxy the header is the client's own words: the peer address counts.
    let rows = audit_of(&s, "anonymous").await;
    assert!(rows.iter().all(|r| r.ip.as_deref() == Some("127.0.0.1")));
    let again = password_via_proxy(&s, "casey", PASSWORD, "192.0.2.7").await;
    assert!(again
        .text()
        .await
        .expect("text")
        .contains("This account is locked"));
}

#[tokio::test]
async fn clinical_and_administering_roles_must_set_up_a_second_factor_by_default() {
    let s = common::start_with_default_policies(trellis_web::Config::default()).await;
    for username in ["casey", "dora", "priya", "nate", "pete", "ada", "pat"] {
        let (c, res) = password_step(&s, username).await;
        assert_eq!(res.url().path(), "/account/mfa", "{username}");
        // Nothing else opens before the authenticator is set up.
        for path in [
            "/dashboard",
            "/patients",
            &format!("/patients/{}", s.patient_id),
        ] {
            let res = c
                .get(format!("{}{path}", s.base))
                .send()
                .await
                .expect("get");
            assert_ne!(res.url().path(), path, "{username} reached {path}");
        }
    }
    for username in ["fran", "bill", "ingrid"] {
        let (_, res) = password_step(&s, username).await;
        assert_eq!(res.url().path(), "/dashboard", "{username}");
    }
    // An administrator may still decide otherwise for a role.
    s.store
        .set_mfa_required(&Actor::system("test"), Role::Nurse, false)
        .await
        .expect("policy");
    let (_, res) = password_step(&s, "nate").await;
    assert_eq!(res.url().path(), "/dashboard");
}

#[tokio::test]
async fn a_stolen_password_alone_cannot_set_up_the_first_authenticator() {
    let s = start().await;
    s.store
        .set_mfa_required(&Actor::system("test"), Role::Counselor, true)
        .await
        .expect("policy");
    // The attacker has casey's password and a working authenticator app of their own.
    let (c, res) = password_step(&s, "casey").await;
    assert_eq!(res.url().path(), "/account/mfa");
    let html = res.text().await.expect("text");
    assert!(
        html.contains("name=\"enrolment_code\""),
        "the code is asked for"
    );
    let (csrf, key) = (csrf_in(&html), key_in(&html));
    let guessed = "ABCD-EFGH-JKMN-PQRS";
    for given in ["", guessed] {
        let res = post_set_up(
            &s,
            &c,
            &csrf,
            &[("code", &code_of(&key, 0)), ("enrolment_code", given)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{given:?}");
        assert!(res
            .text()
            .await
            .expect("text")
            .contains("Enrolment code: not right, already used or expired"));
    }
    // A code past its 72 hours is refused too.
    let old = enrolment_code(&s, "casey").await;
    let expired = trellis_storage::Instant(chrono::Utc::now() - chrono::Duration::minutes(1));
    trellis_storage::testing::raw_execute(
        &s.store,
        &format!(
            "UPDATE users SET enrolment_code_expires_at = '{}' WHERE id = {}",
            expired.to_db(),
            s.users["casey"]
        ),
    )
    .await
    .expect("age the code");
    let res = post_set_up(
        &s,
        &c,
        &csrf,
        &[("code", &code_of(&key, 0)), ("enrolment_code", &old)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let casey = s.store.staff_user(s.users["casey"]).await.expect("user");
    assert!(!casey.mfa_enabled);
    let blocked = c
        .get(format!("{}/dashboard", s.base))
        .send()
        .await
        .expect("get");
    assert_ne!(blocked.url().path(), "/dashboard");
    let failures: Vec<_> = audit_of(&s, "casey")
        .await
        .into_iter()
        .filter(|r| r.action == "mfa_failed")
        .collect();
    assert_eq!(failures.len(), 3);
    for row in &failures {
        assert!(
            row.detail.starts_with("set-up: enrolment code"),
            "{}",
            row.detail
        );
        assert!(!row.detail.contains(&old) && !row.detail.contains(guessed));
    }

    // An administrator requests a new code and a second person (the privacy officer) approves
    // it on Role approvals, which shows it to them once; the holder types it loosely (lower
    // case, spaces) and is in.
    let admin = s.browser("ada").await;
    let page = admin
        .post(
            &format!("/admin/users/{}/enrolment-code", s.users["casey"]),
            &[],
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("text");
    assert!(html.contains("Enrolment code requested"), "{html}");
    assert!(!html.contains("<code class=\"enrolment-code\">"), "{html}");
    let request = s
        .store
        .enrolment_code_awaiting_approval(s.users["casey"])
        .await
        .expect("request")
        .expect("waiting")
        .id;
    let page = s
        .browser("pat")
        .await
        .post(
            &format!("/admin/role-approvals/{request}"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("text");
    let issued = html
        .split("<code class=\"enrolment-code\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("code shown")
        .to_owned();
    assert_eq!(issued.len(), 19, "{issued}");
    let typed = issued.to_lowercase().replace('-', " ");
    let done = post_set_up(
        &s,
        &c,
        &csrf,
        &[("code", &code_of(&key, 0)), ("enrolment_code", &typed)],
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(
        s.store
            .staff_user(s.users["casey"])
            .await
            .expect("user")
            .mfa_enabled
    );
    let rows = audit_of(&s, "casey").await;
    assert!(rows
        .iter()
        .any(|r| r.action == "mfa_enrolled" && r.detail.contains("enrolment code")));
    assert!(audit_of(&s, "ada")
        .await
        .iter()
        .any(|r| r.action == "request_enrolment_code"));
    // Issued by the second person, who approved it and was shown it.
    let issued_rows: Vec<_> = audit_of(&s, "pat")
        .await
        .into_iter()
        .filter(|r| r.action == "mfa_enrolment_code_issued")
        .collect();
    assert_eq!(issued_rows.len(), 1);
    assert!(!issued_rows[0].detail.contains(&issued));

    // The code worked once: with the authenticator removed, it no longer enrols one.
    s.store
        .set_mfa_secret(&Actor::system("test"), s.users["casey"], None, false)
        .await
        .expect("remove");
    let (c, res) = password_step(&s, "casey").await;
    let html = res.text().await.expect("text");
    let (csrf, key) = (csrf_in(&html), key_in(&html));
    let again = post_set_up(
        &s,
        &c,
        &csrf,
        &[("code", &code_of(&key, 30)), ("enrolment_code", &issued)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn wrong_enrolment_codes_lock_the_account() {
    let s = start().await;
    s.store
        .set_mfa_required(&Actor::system("test"), Role::Counselor, true)
        .await
        .expect("policy");
    let issued = enrolment_code(&s, "casey").await;
    let (c, res) = password_step(&s, "casey").await;
    let html = res.text().await.expect("text");
    let (csrf, key) = (csrf_in(&html), key_in(&html));
    for attempt in 1..=5 {
        let res = post_set_up(
            &s,
            &c,
            &csrf,
            &[
                ("code", &code_of(&key, 0)),
                ("enrolment_code", "0000-0000-0000-0000"),
            ],
        )
        .await;
        let html = res.text().await.expect("text");
        if attempt == 5 {
            assert!(html.contains("This account is locked"), "attempt {attempt}");
        } else {
            assert!(
                html.contains("Enrolment code: not right"),
                "attempt {attempt}"
            );
        }
    }
    // Locked: the password and the real code get nowhere for now.
    let (_, again) = password_step(&s, "casey").await;
    assert!(again
        .text()
        .await
        .expect("text")
        .contains("This account is locked"));
    let res = post_set_up(
        &s,
        &c,
        &csrf,
        &[("code", &code_of(&key, 0)), ("enrolment_code", &issued)],
    )
    .await;
    assert_eq!(res.url().path(), "/login", "the half session ended");
    assert!(
        !s.store
            .staff_user(s.users["casey"])
            .await
            .expect("user")
            .mfa_enabled
    );
}

#[tokio::test]
async fn enrolment_codes_are_issued_by_administrators_only_and_never_for_an_account_with_a_factor()
{
    let s = start().await;
    let casey = s.users["casey"];
    let path = format!("{}/api/v1/users/{casey}/enrolment-code", s.base);
    for user in ["casey", "dora", "pat", "fran"] {
        let res = client()
            .post(&path)
            .bearer_auth(s.token(user).await)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{user}");
    }
    let ada = s.token("ada").await;
    // A counselor's code takes two people: the administrator's call is a request (202), and
    // the approval answers with the code, to the approver only (not the requester).
    let res = client()
        .post(&path)
        .bearer_auth(&ada)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let pending: serde_json::Value = res.json().await.expect("json");
    assert!(pending.get("code").is_none());
    let approval = pending["approval_id"].as_i64().expect("approval");
    let approve = format!("{}/api/v1/role-approvals/{approval}/approve", s.base);
    let own = client()
        .post(&approve)
        .bearer_auth(&ada)
        .send()
        .await
        .expect("post");
    assert_eq!(own.status(), StatusCode::CONFLICT);
    let res = client()
        .post(&approve)
        .bearer_auth(s.token("pat").await)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.expect("json");
    let code = body["code"].as_str().expect("code");
    assert_eq!(code.len(), 19);
    let expires: chrono::DateTime<chrono::Utc> = body["expires_at"]
        .as_str()
        .expect("expiry")
        .parse()
        .expect("time");
    let hours = (expires - chrono::Utc::now()).num_minutes();
    assert!((71 * 60..=72 * 60).contains(&hours), "{hours} minutes");
    // Where one person may (front desk: the password alone already signs in), the code is
    // issued at once; a second code replaces the first.
    let fran = s.users["fran"];
    let fran_path = format!("{}/api/v1/users/{fran}/enrolment-code", s.base);
    let mut codes = Vec::new();
    for _ in 0..2 {
        let res = client()
            .post(&fran_path)
            .bearer_auth(&ada)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::OK);
        let issued: serde_json::Value = res.json().await.expect("json");
        codes.push(issued["code"].as_str().expect("code").to_owned());
    }
    assert_ne!(codes[0], codes[1]);
    for (bad, status) in [
        ("999999".to_owned(), StatusCode::NOT_FOUND),
        ("x".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        let res = client()
            .post(format!("{}/api/v1/users/{bad}/enrolment-code", s.base))
            .bearer_auth(&ada)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), status, "{bad}");
    }
    enable_mfa(&s, "casey").await;
    let res = client()
        .post(&path)
        .bearer_auth(&ada)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = s
        .browser("ada")
        .await
        .post(&format!("/admin/users/{casey}/enrolment-code"), &[])
        .await;
    assert_eq!(page.status(), StatusCode::CONFLICT);
    assert!(page
        .text()
        .await
        .expect("text")
        .contains("already has a second factor"));
}
