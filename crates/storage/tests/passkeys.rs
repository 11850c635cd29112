//! Passkeys as a second factor (issue 11 item 2), at the storage layer: the ceremony waiting on
//! a session, set-up under the enrolment-code rule, sign-in failures in the same lockout,
//! removal and an administrator's reset. The WebAuthn checks themselves are tested over HTTP
//! and in the browser.

use chrono::Duration;
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::staff::{
    ApprovalKind, Ceremony, Decision, EnrolmentIssue, EnrolmentOutcome, LoginOutcome, NewPasskey,
    PasskeyUse, SecondFactorOutcome, StaffUser, LOCKOUT_THRESHOLD,
};
use trellis_storage::testing::{fresh_store, raw_execute, raw_strings};
use trellis_storage::{Instant, Store, StoreError};

const PASSWORD: &str = "correct horse battery";
const IP: &str = "10.0.0.9";

fn admin() -> Actor {
    Actor::system("test")
}

/// An administrator's staff account, acting as itself (held to the two-person rule, unlike the
/// command line's system actor).
async fn staff_admin(store: &Store, username: &str) -> Actor {
    let grant = store.grant::<can::ManageUsers>(&admin()).expect("grant");
    let id = store
        .create_staff(
            &grant,
            &trellis_storage::staff::NewStaff {
                username: username.into(),
                display_name: username.into(),
                email: None,
                role: Role::Admin,
                password: PASSWORD.into(),
            },
        )
        .await
        .expect("admin");
    Actor {
        user_id: Some(id),
        username: username.into(),
        role: Role::Admin,
        ip: Some(IP.into()),
        request_id: None,
    }
}

async fn store() -> Store {
    fresh_store().await.expect("store")
}

/// A counselor (second factor required by default) with no second factor yet.
async fn account(store: &Store, username: &str) -> i64 {
    let grant = store.grant::<can::ManageUsers>(&admin()).expect("grant");
    store
        .create_staff(
            &grant,
            &trellis_storage::staff::NewStaff {
                username: username.into(),
                display_name: username.into(),
                email: None,
                role: Role::Counselor,
                password: PASSWORD.into(),
            },
        )
        .await
        .expect("create staff")
}

/// Signs in with the password and opens the half-signed-in session that follows.
async fn password_session(store: &Store, username: &str) -> (StaffUser, String) {
    let user = match store.login(username, PASSWORD, IP).await.expect("login") {
        LoginOutcome::NeedsMfa(user) | LoginOutcome::NeedsMfaEnrolment(user) => user,
        other => panic!("expected a second step, got {other:?}"),
    };
    let (secret, _) = store
        .create_session(&user, false, IP, "Firefox", Duration::hours(1))
        .await
        .expect("session");
    (user, secret)
}

fn passkey(credential_id: &str) -> NewPasskey {
    NewPasskey {
        credential_id: credential_id.into(),
        name: "  work laptop ".into(),
        credential: format!("{{\"cred\":\"{credential_id}\"}}"),
    }
}

/// Sets up a first passkey with an enrolment code; returns the session that did it.
async fn enrolled(store: &Store, username: &str, credential_id: &str) -> (i64, String) {
    let id = account(store, username).await;
    let grant = store.grant::<can::ManageUsers>(&admin()).expect("grant");
    let code = store.issue_enrolment_code(&grant, id).await.expect("code");
    let (_, secret) = password_session(store, username).await;
    let outcome = store
        .confirm_passkey_enrolment(&secret, id, Ok(passkey(credential_id)), &code.code, IP)
        .await
        .expect("enrol");
    assert_eq!(outcome, EnrolmentOutcome::Enrolled);
    (id, secret)
}

async fn failures_audited(store: &Store) -> Vec<String> {
    raw_strings(
        store,
        "SELECT detail FROM audit_log WHERE action = 'mfa_failed' ORDER BY id",
    )
    .await
    .expect("audit")
}

#[tokio::test]
async fn a_ceremony_is_answered_once_by_its_own_session_and_kind() {
    let store = store().await;
    account(&store, "amara").await;
    account(&store, "bela").await;
    let (_, amara) = password_session(&store, "amara").await;
    let (_, bela) = password_session(&store, "bela").await;
    store
        .begin_passkey_ceremony(&amara, Ceremony::SignIn, "challenge-1")
        .await
        .expect("begin");
    assert_eq!(
        store
            .take_passkey_ceremony(&bela, Ceremony::SignIn)
            .await
            .expect("take"),
        None,
        "another session cannot answer it"
    );
    assert_eq!(
        store
            .take_passkey_ceremony(&amara, Ceremony::SetUp)
            .await
            .expect("take"),
        None,
        "a sign-in challenge does not set up a passkey"
    );
    assert_eq!(
        store
            .take_passkey_ceremony(&amara, Ceremony::SignIn)
            .await
            .expect("take"),
        None,
        "a refused take discards the ceremony"
    );
    store
        .begin_passkey_ceremony(&amara, Ceremony::SignIn, "challenge-2")
        .await
        .expect("begin");
    store
        .begin_passkey_ceremony(&amara, Ceremony::SignIn, "challenge-3")
        .await
        .expect("begin again");
    assert_eq!(
        store
            .take_passkey_ceremony(&amara, Ceremony::SignIn)
            .await
            .expect("take"),
        Some("challenge-3".to_owned()),
        "the latest challenge replaces the earlier one"
    );
    assert_eq!(
        store
            .take_passkey_ceremony(&amara, Ceremony::SignIn)
            .await
            .expect("take"),
        None,
        "a ceremony is answered once: a replay finds nothing"
    );
    assert!(matches!(
        store
            .begin_passkey_ceremony("no-such-session", Ceremony::SignIn, "x")
            .await,
        Err(StoreError::NotFound("session"))
    ));
}

#[tokio::test]
async fn a_ceremony_not_answered_within_five_minutes_is_refused() {
    let store = store().await;
    account(&store, "carmen").await;
    let (user, secret) = password_session(&store, "carmen").await;
    store
        .begin_passkey_ceremony(&secret, Ceremony::SetUp, "challenge")
        .await
        .expect("begin");
    let six_minutes_ago = Instant(Instant::now().0 - Duration::minutes(6)).to_db();
    raw_execute(
        &store,
        &format!(
            "UPDATE staff_sessions SET passkey_ceremony_at = '{six_minutes_ago}' WHERE user_id = {}",
            user.id
        ),
    )
    .await
    .expect("age it");
    assert_eq!(
        store
            .take_passkey_ceremony(&secret, Ceremony::SetUp)
            .await
            .expect("take"),
        None
    );
}

#[tokio::test]
async fn the_first_passkey_needs_the_administrators_enrolment_code() {
    let store = store().await;
    let id = account(&store, "dmitri").await;
    let (_, secret) = password_session(&store, "dmitri").await;
    let outcome = store
        .confirm_passkey_enrolment(&secret, id, Ok(passkey("cred-d")), "", IP)
        .await
        .expect("confirm");
    assert_eq!(outcome, EnrolmentOutcome::EnrolmentCodeWrong);
    let outcome = store
        .confirm_passkey_enrolment(
            &secret,
            id,
            Ok(passkey("cred-d")),
            "AAAA-BBBB-CCCC-DDDD",
            IP,
        )
        .await
        .expect("confirm");
    assert_eq!(outcome, EnrolmentOutcome::EnrolmentCodeWrong);
    assert!(store.passkeys(id).await.expect("list").is_empty());
    assert!(!store.staff_user(id).await.expect("user").mfa_enabled);

    let grant = store.grant::<can::ManageUsers>(&admin()).expect("grant");
    let code = store.issue_enrolment_code(&grant, id).await.expect("code");
    let outcome = store
        .confirm_passkey_enrolment(
            &secret,
            id,
            Err("answered another challenge".into()),
            &code.code,
            IP,
        )
        .await
        .expect("confirm");
    assert_eq!(
        outcome,
        EnrolmentOutcome::Wrong,
        "a refused answer enrols nothing"
    );
    let outcome = store
        .confirm_passkey_enrolment(&secret, id, Ok(passkey("cred-d")), &code.code, IP)
        .await
        .expect("confirm");
    assert_eq!(outcome, EnrolmentOutcome::Enrolled);
    let listed = store.passkeys(id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "work laptop");
    assert!(store.staff_user(id).await.expect("user").mfa_enabled);
    let session = store
        .session(&secret, Duration::minutes(15))
        .await
        .expect("session")
        .expect("still signed in");
    assert!(
        session.mfa_verified,
        "setting up the first factor completes the sign-in"
    );
    assert_eq!(
        failures_audited(&store).await,
        vec![
            "set-up: enrolment code missing, wrong, used or expired",
            "set-up: enrolment code missing, wrong, used or expired",
            "set-up: passkey answered another challenge",
        ]
    );

    // The code is used up: a password holder cannot add another passkey with it.
    let (_, other) = password_session(&store, "dmitri").await;
    let refused = store
        .confirm_passkey_enrolment(&other, id, Ok(passkey("cred-evil")), &code.code, IP)
        .await;
    assert!(matches!(refused, Err(StoreError::Denied(_))), "{refused:?}");
    assert_eq!(store.passkeys(id).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_further_passkey_needs_a_session_signed_in_with_a_second_factor_and_ends_the_others() {
    let store = store().await;
    let (id, first) = enrolled(&store, "emeka", "cred-e1").await;
    let (_, half) = password_session(&store, "emeka").await;
    let outcome = store
        .confirm_passkey_enrolment(&first, id, Ok(passkey("cred-e2")), "", IP)
        .await
        .expect("add");
    assert_eq!(outcome, EnrolmentOutcome::Enrolled);
    assert_eq!(store.passkeys(id).await.expect("list").len(), 2);
    assert!(
        store
            .session(&half, Duration::minutes(15))
            .await
            .expect("session")
            .is_none(),
        "adding a factor ends the account's other sessions"
    );
    let again = store
        .confirm_passkey_enrolment(&first, id, Ok(passkey("cred-e2")), "", IP)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let actions = raw_strings(
        &store,
        "SELECT action FROM audit_log WHERE record_type = 'passkey' ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(actions, vec!["mfa_enrolled", "passkey_added"]);
}

#[tokio::test]
async fn a_passkey_signs_in_and_keeps_its_new_counter() {
    let store = store().await;
    let (id, _) = enrolled(&store, "fatima", "cred-f").await;
    let (_, secret) = password_session(&store, "fatima").await;
    let outcome = store
        .passkey_second_factor(
            &secret,
            id,
            Ok(PasskeyUse {
                credential_id: "cred-f".into(),
                credential: "{\"cred\":\"cred-f\",\"counter\":7}".into(),
            }),
            IP,
        )
        .await
        .expect("sign in");
    assert_eq!(outcome, SecondFactorOutcome::Verified);
    let kept = store.passkey_credentials(id).await.expect("credentials");
    assert_eq!(kept[0].credential, "{\"cred\":\"cred-f\",\"counter\":7}");
    assert!(store.passkeys(id).await.expect("list")[0]
        .last_used_at
        .is_some());
    let logins = raw_strings(
        &store,
        "SELECT detail FROM audit_log WHERE action = 'login' ORDER BY id",
    )
    .await
    .expect("audit");
    assert!(
        logins.iter().any(|d| d == "second factor: passkey"),
        "{logins:?}"
    );
}

#[tokio::test]
async fn passkey_refusals_count_toward_the_same_lockout_as_wrong_codes() {
    let store = store().await;
    let (id, _) = enrolled(&store, "goran", "cred-g").await;
    let (_, secret) = password_session(&store, "goran").await;
    // Two wrong app codes, then passkey refusals: one count.
    for _ in 0..2 {
        let outcome = store
            .second_factor(&secret, id, None, IP)
            .await
            .expect("code");
        assert_eq!(outcome, SecondFactorOutcome::Wrong);
    }
    let outcome = store
        .passkey_second_factor(
            &secret,
            id,
            Ok(PasskeyUse {
                credential_id: "cred-not-goran".into(),
                credential: "{}".into(),
            }),
            IP,
        )
        .await
        .expect("unknown");
    assert_eq!(outcome, SecondFactorOutcome::Wrong);
    let mut last = SecondFactorOutcome::Wrong;
    for _ in 3..LOCKOUT_THRESHOLD {
        last = store
            .passkey_second_factor(&secret, id, Err("answered another challenge".into()), IP)
            .await
            .expect("refused");
    }
    assert!(matches!(last, SecondFactorOutcome::Locked(_)), "{last:?}");
    assert!(
        store
            .session(&secret, Duration::minutes(15))
            .await
            .expect("session")
            .is_none(),
        "the lockout ends the half-signed-in session"
    );
    // Locked: even the right passkey is refused until it ends.
    let user = store.staff_user(id).await.expect("user");
    let (again, _) = store
        .create_session(&user, false, IP, "Firefox", Duration::hours(1))
        .await
        .expect("session");
    let outcome = store
        .passkey_second_factor(
            &again,
            id,
            Ok(PasskeyUse {
                credential_id: "cred-g".into(),
                credential: "{}".into(),
            }),
            IP,
        )
        .await
        .expect("locked");
    assert!(
        matches!(outcome, SecondFactorOutcome::Locked(_)),
        "{outcome:?}"
    );
    let audited = failures_audited(&store).await;
    assert_eq!(
        audited[2..],
        [
            "passkey: no longer set up".to_owned(),
            "passkey: answered another challenge".to_owned(),
            "passkey: answered another challenge; account locked for 15 minutes".to_owned(),
        ]
    );
}

#[tokio::test]
async fn holders_remove_passkeys_but_not_their_last_factor_and_an_administrator_resets_them_all() {
    let store = store().await;
    let (id, secret) = enrolled(&store, "hana", "cred-h1").await;
    store
        .confirm_passkey_enrolment(&secret, id, Ok(passkey("cred-h2")), "", IP)
        .await
        .expect("second passkey");
    let user = store.staff_user(id).await.expect("user");
    let hana = Actor {
        user_id: Some(id),
        username: user.username.clone(),
        role: Role::Counselor,
        ip: Some(IP.into()),
        request_id: None,
    };
    let other = account(&store, "ivo").await;
    let ivo = Actor {
        user_id: Some(other),
        username: "ivo".into(),
        role: Role::Counselor,
        ip: Some(IP.into()),
        request_id: None,
    };
    let listed = store.passkeys(id).await.expect("list");
    assert!(matches!(
        store.remove_passkey(&ivo, listed[0].id).await,
        Err(StoreError::NotFound("passkey"))
    ));
    store
        .remove_passkey(&hana, listed[0].id)
        .await
        .expect("remove");
    let last = store.remove_passkey(&hana, listed[1].id).await;
    assert!(matches!(last, Err(StoreError::Conflict(_))), "{last:?}");
    assert_eq!(store.passkeys(id).await.expect("list").len(), 1);

    // Two people remove them: one administrator requests, another approves.
    let ada = staff_admin(&store, "ada").await;
    let abe = staff_admin(&store, "abe").await;
    let grant = store.grant::<can::ManageUsers>(&ada).expect("grant");
    let request = store
        .request_second_factor_reset(&grant, id)
        .await
        .expect("request");
    assert_eq!(
        store
            .request_second_factor_reset(&grant, id)
            .await
            .expect("again"),
        request,
        "an open request is answered, not doubled"
    );
    assert_eq!(
        store.passkeys(id).await.expect("list").len(),
        1,
        "nothing is removed on request"
    );
    assert!(store.staff_user(id).await.expect("user").mfa_enabled);
    assert!(matches!(
        store.decide_role_approval(&ada, request, true).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        matches!(
            store.decide_role_approval(&hana, request, true).await,
            Err(StoreError::Denied(_))
        ),
        "the account's holder, a counselor, decides nothing"
    );
    assert_eq!(store.passkeys(id).await.expect("list").len(), 1);
    store
        .decide_role_approval(&abe, request, true)
        .await
        .expect("approve");
    assert!(store.passkeys(id).await.expect("list").is_empty());
    let user = store.staff_user(id).await.expect("user");
    assert!(!user.mfa_enabled);
    assert!(
        store
            .session(&secret, Duration::minutes(15))
            .await
            .expect("session")
            .is_none(),
        "a reset ends the account's sessions"
    );
    assert!(matches!(
        store.login("hana", PASSWORD, IP).await.expect("login"),
        LoginOutcome::NeedsMfaEnrolment(_)
    ));
    // A new enrolment code takes two people too: ada requests it, abe approves and holds it.
    assert!(matches!(
        store.issue_enrolment_code(&grant, id).await,
        Err(StoreError::Conflict(_))
    ));
    let EnrolmentIssue::AwaitingApproval(code_request) = store
        .request_enrolment_code(&grant, id)
        .await
        .expect("request a code")
    else {
        panic!("a counselor's enrolment code takes a second person");
    };
    assert!(matches!(
        store
            .decide_role_approval(&abe, code_request, true)
            .await
            .expect("approve"),
        Decision::EnrolmentCodeIssued(_)
    ));
    let actions = raw_strings(
        &store,
        "SELECT action FROM audit_log
         WHERE action IN ('passkey_removed', 'request_mfa_reset', 'mfa_reset') ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        actions,
        vec!["passkey_removed", "request_mfa_reset", "mfa_reset"]
    );
}

#[tokio::test]
async fn one_administrator_alone_cannot_remove_second_factors() {
    let store = store().await;
    let (id, _) = enrolled(&store, "jonas", "cred-j1").await;
    let ada = staff_admin(&store, "ada").await;
    let abe = staff_admin(&store, "abe").await;
    let grant = store.grant::<can::ManageUsers>(&ada).expect("grant");
    // Never one's own factors, not even as a request.
    let own = store
        .request_second_factor_reset(&grant, ada.user_id.expect("staff"))
        .await;
    assert!(matches!(own, Err(StoreError::Conflict(_))), "{own:?}");
    assert!(matches!(
        store.request_second_factor_reset(&grant, 999_999).await,
        Err(StoreError::NotFound(_))
    ));
    // A refusal keeps the factors; the request is listed for the second person until then.
    let request = store
        .request_second_factor_reset(&grant, id)
        .await
        .expect("request");
    let listed = store.role_approvals(&abe).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, ApprovalKind::SecondFactorReset);
    assert_eq!(listed[0].role, "counselor");
    assert_eq!(
        store
            .second_factor_reset_awaiting_approval(id)
            .await
            .expect("open")
            .map(|a| a.id),
        Some(request)
    );
    assert!(store
        .role_awaiting_approval(id)
        .await
        .expect("role")
        .is_none());
    store
        .decide_role_approval(&abe, request, false)
        .await
        .expect("refuse");
    assert_eq!(store.passkeys(id).await.expect("list").len(), 1);
    assert!(store.staff_user(id).await.expect("user").mfa_enabled);
    assert!(store
        .second_factor_reset_awaiting_approval(id)
        .await
        .expect("open")
        .is_none());
    // The second administrator asks the first to approve; the first cannot reset the second's
    // own factors alone either, but may approve a request about a third account.
    let grant = store.grant::<can::ManageUsers>(&abe).expect("grant");
    let request = store
        .request_second_factor_reset(&grant, id)
        .await
        .expect("request");
    assert!(matches!(
        store.decide_role_approval(&abe, request, true).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .decide_role_approval(&ada, request, true)
        .await
        .expect("approve");
    assert!(store.passkeys(id).await.expect("list").is_empty());
    let actions = raw_strings(
        &store,
        "SELECT action FROM audit_log
         WHERE action IN ('request_mfa_reset', 'refuse_mfa_reset', 'mfa_reset') ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        actions,
        vec![
            "request_mfa_reset",
            "refuse_mfa_reset",
            "request_mfa_reset",
            "mfa_reset"
        ]
    );
}
