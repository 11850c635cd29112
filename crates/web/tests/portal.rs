//! The patient portal through HTTP (issue 13): a counselor invites a patient from the chart,
//! the patient signs up with the code and a password, signs in at /portal and sees their week
//! with crisis help; every read is audited with the patient as the actor; bad input on each
//! form; staff end the account and the patient's session ends with it.

mod common;

use common::*;
use reqwest::StatusCode;
use trellis_domain::access::Role;
use trellis_storage::access::can;

const PATIENT_PASSWORD: &str = "blue kettle river morning";

/// The invitation code shown on the chart's Portal tab.
fn code_in(html: &str) -> String {
    let marker = "id=\"invitation-code\">";
    let start = html.find(marker).expect("code shown") + marker.len();
    html[start..start + html[start..].find('<').expect("end")].to_owned()
}

/// A browser with no session, holding the token of the portal form at `path`.
async fn portal_form(s: &TestServer, path: &str) -> Browser {
    let client = client();
    let page = client
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("text");
    Browser {
        client,
        base: s.base.clone(),
        csrf: csrf_in(&page),
    }
}

#[tokio::test]
async fn a_counselor_invites_and_the_patient_signs_up_signs_in_and_sees_their_week() {
    let s = start().await;
    let casey = s.browser("casey").await;
    let page = casey
        .get(&format!("/patients/{}/portal-account", s.patient_id))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("text").contains("Not invited"));
    let res = casey
        .post(
            &format!("/patients/{}/portal-account/invitation", s.patient_id),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    let code = code_in(&html);
    assert_eq!(code.len(), 19);
    // Shown once: the page read again has no code.
    let again = casey
        .get(&format!("/patients/{}/portal-account", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(!again.contains(&code));
    assert!(again.contains("Invited, not yet signed up"));

    // Bad input on the sign-up form: each refused with 422 and nothing opened.
    let mut welcome = portal_form(&s, "/portal/welcome").await;
    for (fields, problem) in [
        (
            [
                ("code", ""),
                ("username", "dana"),
                ("password", PATIENT_PASSWORD),
                ("password_again", PATIENT_PASSWORD),
            ],
            "Your code is missing",
        ),
        (
            [
                ("code", "AAAA-BBBB-CCCC-DDDD"),
                ("username", "dana"),
                ("password", PATIENT_PASSWORD),
                ("password_again", PATIENT_PASSWORD),
            ],
            "Your code does not work",
        ),
        (
            [
                ("code", code.as_str()),
                ("username", "dana"),
                ("password", PATIENT_PASSWORD),
                ("password_again", "something else"),
            ],
            "not the same",
        ),
        (
            [
                ("code", code.as_str()),
                ("username", "dana"),
                ("password", "short"),
                ("password_again", "short"),
            ],
            "Password must be at least 12",
        ),
        (
            [
                ("code", code.as_str()),
                ("username", "Dana Reyes"),
                ("password", PATIENT_PASSWORD),
                ("password_again", PATIENT_PASSWORD),
            ],
            "Username must be",
        ),
    ] {
        let res = welcome.post("/portal/welcome", &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let body = res.text().await.expect("text");
        assert!(body.contains(problem), "{problem}: {body}");
        assert!(body.contains("988"), "crisis help on every page");
        // The answer is a fresh form with a fresh token, as a browser would send next.
        welcome.csrf = csrf_in(&body);
    }
    let res = welcome
        .post(
            "/portal/welcome",
            &[
                ("code", code.as_str()),
                ("username", "dana"),
                ("password", PATIENT_PASSWORD),
                ("password_again", PATIENT_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("Your account is ready"));

    // A wrong password, then the right one.
    let sign_in = portal_form(&s, "/portal/sign-in").await;
    let res = sign_in
        .post(
            "/portal/sign-in",
            &[("username", "dana"), ("password", "not the password")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let sign_in = portal_form(&s, "/portal/sign-in").await;
    let res = sign_in
        .post(
            "/portal/sign-in",
            &[("username", "dana"), ("password", PATIENT_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.url().path(), "/portal/today");
    let today = res.text().await.expect("text");
    assert!(today.contains("My week"));
    assert!(today.contains("Today, "));
    assert!(today.contains("tel:988") && today.contains("sms:988") && today.contains("tel:911"));

    // The patient's reads are in the audit log under their own name and role.
    let audit = s.audit_for(s.patient_id).await;
    assert!(audit
        .iter()
        .any(|r| r.username == "dana" && r.role == "patient" && r.record_type == "portal_week"));
    assert!(audit
        .iter()
        .any(|r| r.username == "casey" && r.action == "portal_invitation"));

    // The portal session reaches no staff page, and a staff session no portal page.
    let staff_page = sign_in.get("/dashboard").await;
    assert_eq!(staff_page.url().path(), "/login");
    let portal_page = casey.get("/portal/today").await;
    assert_eq!(portal_page.url().path(), "/portal/sign-in");
    // Each realm's sign-in refuses the other's accounts.
    let staff_at_portal = portal_form(&s, "/portal/sign-in").await;
    let res = staff_at_portal
        .post(
            "/portal/sign-in",
            &[("username", "casey"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let patient_at_staff = portal_form(&s, "/login").await;
    let res = patient_at_staff
        .post(
            "/login",
            &[("username", "dana"), ("password", PATIENT_PASSWORD)],
        )
        .await;
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("This sign-in is for staff"));

    // Ending the account signs the patient out at once.
    let res = casey
        .post(
            &format!("/patients/{}/portal-account/end", s.patient_id),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("text").contains("Ended by staff"));
    let after = sign_in.get("/portal/today").await;
    assert_eq!(after.url().path(), "/portal/sign-in");
}

#[tokio::test]
async fn staff_outside_the_patients_care_cannot_invite_and_the_api_says_what_the_page_does() {
    let s = start().await;
    // Olive counsels another program; front desk holds demographics only.
    for who in ["olive", "fran", "bill"] {
        let b = s.browser(who).await;
        let res = b
            .post(
                &format!("/patients/{}/portal-account/invitation", s.patient_id),
                &[],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{who}");
    }
    let token = s.token("ingrid").await;
    let api = reqwest::Client::new();
    let url = format!("{}/api/v1/patients/{}/portal-account", s.base, s.patient_id);
    let account: serde_json::Value = api
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(account["state"], "none");
    let res = api
        .post(format!("{url}/invitation"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("invite");
    assert_eq!(res.status(), StatusCode::CREATED);
    let invitation: serde_json::Value = res.json().await.expect("json");
    let code = invitation["code"].as_str().expect("code").to_owned();
    s.store
        .redeem_portal_invitation(
            &trellis_storage::portal::Redemption {
                code: &code,
                username: "dana",
                password: PATIENT_PASSWORD,
            },
            "127.0.0.1",
        )
        .await
        .expect("redeem");
    let account: serde_json::Value = api
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(account["state"], "active");
    assert_eq!(account["username"], "dana");
    // No second invitation while the account is in use.
    let res = api
        .post(format!("{url}/invitation"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("invite");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = api
        .post(format!("{url}/end"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let casey = actor(&s.users, "casey", Role::Counselor);
    let grant = s
        .store
        .patient_grant::<can::ManagePortalAccounts>(&casey, s.patient_id)
        .await
        .expect("grant");
    assert_eq!(
        s.store.portal_account(&grant).await.expect("account").state,
        trellis_domain::portal::AccountState::Revoked
    );
}
