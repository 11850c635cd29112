//! Strong sign-in and credentials that follow the person (issue 11), at the storage layer.

use chrono::Duration;
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::staff::{
    LoginOutcome, NewStaff, SecondFactorOutcome, DEFAULT_TOKEN_MAX_DAYS, LOCKOUT_THRESHOLD,
};
use trellis_storage::testing::{fresh_store, raw_execute};
use trellis_storage::{Instant, Store, StoreError};

const PASSWORD: &str = "correct horse battery";

fn admin() -> Actor {
    Actor::system("test")
}

async fn account(store: &Store, username: &str, role: Role) -> i64 {
    let grant = store.grant::<can::ManageUsers>(&admin()).expect("grant");
    store
        .create_staff(
            &grant,
            &NewStaff {
                username: username.into(),
                display_name: username.into(),
                email: None,
                role,
                password: PASSWORD.into(),
            },
        )
        .await
        .expect("create staff")
}

fn max() -> Duration {
    Duration::days(DEFAULT_TOKEN_MAX_DAYS)
}

/// A half-signed-in session for a user with MFA on.
async fn half_session(store: &Store, username: &str) -> (i64, String) {
    let id = account(store, username, Role::Counselor).await;
    store
        .set_mfa_secret(&admin(), id, Some("JBSWY3DPEHPK3PXP"), true)
        .await
        .expect("mfa");
    let LoginOutcome::NeedsMfa(user) = store
        .login(username, PASSWORD, "10.0.0.9")
        .await
        .expect("login")
    else {
        panic!("expected the second factor");
    };
    let (secret, _) = store
        .create_session(&user, false, "10.0.0.9", "Firefox", Duration::hours(1))
        .await
        .expect("session");
    (id, secret)
}

#[tokio::test]
async fn a_time_step_is_accepted_once_and_never_an_earlier_one() {
    let store = fresh_store().await.expect("store");
    let (id, secret) = half_session(&store, "casey").await;
    let step = 59_000_000;
    let first = store
        .second_factor(&secret, id, Some(step), "10.0.0.9")
        .await;
    assert_eq!(first.expect("verify"), SecondFactorOutcome::Verified);
    let (other, _) = {
        let user = store.staff_user(id).await.expect("user");
        store
            .create_session(&user, false, "10.0.0.9", "Firefox", Duration::hours(1))
            .await
            .expect("session")
    };
    for replay in [step, step - 1] {
        let again = store
            .second_factor(&other, id, Some(replay), "10.0.0.9")
            .await;
        assert_eq!(
            again.expect("verify"),
            SecondFactorOutcome::Wrong,
            "{replay}"
        );
    }
    // Another account cannot complete this session, even with a fresh step of its own.
    let olive = account(&store, "olive", Role::Counselor).await;
    let not_this_users = store
        .second_factor(&other, olive, Some(step + 1), "10.0.0.9")
        .await;
    assert!(matches!(
        not_this_users,
        Err(StoreError::NotFound("session"))
    ));
    let next = store
        .second_factor(&other, id, Some(step + 1), "10.0.0.9")
        .await;
    assert_eq!(next.expect("verify"), SecondFactorOutcome::Verified);
    let session = store
        .session(&other, Duration::minutes(15))
        .await
        .expect("read")
        .expect("live");
    assert!(session.mfa_verified);
}

#[tokio::test]
async fn wrong_codes_lock_the_account_and_end_the_half_session() {
    let store = fresh_store().await.expect("store");
    let (id, secret) = half_session(&store, "casey").await;
    for _ in 1..LOCKOUT_THRESHOLD {
        let out = store.second_factor(&secret, id, None, "10.0.0.9").await;
        assert_eq!(out.expect("verify"), SecondFactorOutcome::Wrong);
    }
    let last = store.second_factor(&secret, id, None, "10.0.0.9").await;
    assert!(matches!(
        last.expect("verify"),
        SecondFactorOutcome::Locked(_)
    ));
    assert!(store
        .session(&secret, Duration::minutes(15))
        .await
        .expect("read")
        .is_none());
    // Even a right code is refused while locked.
    let right = store.second_factor(&secret, id, Some(1), "10.0.0.9").await;
    assert!(matches!(
        right.expect("verify"),
        SecondFactorOutcome::Locked(_)
    ));
    assert!(matches!(
        store
            .login("casey", PASSWORD, "10.0.0.9")
            .await
            .expect("login"),
        LoginOutcome::Locked(_)
    ));
}

#[tokio::test]
async fn a_token_carries_its_owners_role_and_no_other() {
    let store = fresh_store().await.expect("store");
    let ada = account(&store, "ada", Role::Admin).await;
    let casey = account(&store, "casey", Role::Counselor).await;
    for (user, role) in [
        (ada, Role::Prescriber),
        (ada, Role::PrivacyOfficer),
        (casey, Role::ClinicalDirector),
    ] {
        let refused = store
            .create_token(&admin(), user, "ci", role, None, max())
            .await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid(f)) if f[0].field == "role"),
            "{role:?}: {refused:?}"
        );
    }
    let token = store
        .create_token(&admin(), casey, "ci", Role::Counselor, None, max())
        .await
        .expect("own role");
    let (user, role) = store
        .token_actor(&token, max())
        .await
        .expect("read")
        .expect("live");
    assert_eq!((user.id, role), (casey, Role::Counselor));
}

#[tokio::test]
async fn tokens_expire_by_default_within_the_maximum_lifetime() {
    let store = fresh_store().await.expect("store");
    let casey = account(&store, "casey", Role::Counselor).await;
    let token = store
        .create_token(&admin(), casey, "ci", Role::Counselor, None, max())
        .await
        .expect("token");
    let listed = store.tokens().await.expect("tokens");
    let expires = listed[0].expires_at.expect("an expiry by default");
    let days = (expires.0 - listed[0].created_at.0).num_days();
    assert_eq!(days, DEFAULT_TOKEN_MAX_DAYS);
    let beyond = Instant(chrono::Utc::now() + Duration::days(DEFAULT_TOKEN_MAX_DAYS + 1));
    let refused = store
        .create_token(&admin(), casey, "ci", Role::Counselor, Some(beyond), max())
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))));
    // A token made before expiry was required (none stored) ends at the maximum lifetime.
    raw_execute(
        &store,
        "UPDATE api_tokens SET expires_at = NULL, created_at = '2020-01-01T00:00:00.000000Z'",
    )
    .await
    .expect("age the token");
    assert!(store
        .token_actor(&token, max())
        .await
        .expect("read")
        .is_none());
    assert!(store
        .token_actor(&token, Duration::days(100_000))
        .await
        .expect("read")
        .is_some());
}

#[tokio::test]
async fn role_change_deactivation_and_password_reset_revoke_tokens() {
    let store = fresh_store().await.expect("store");
    let grant = store.grant::<can::ManageUsers>(&admin()).expect("grant");
    let dora = account(&store, "dora", Role::ClinicalDirector).await;
    let olive = account(&store, "olive", Role::Counselor).await;
    let casey = account(&store, "casey", Role::Counselor).await;
    let token = |user, role| {
        let store = store.clone();
        async move {
            store
                .create_token(&admin(), user, "ci", role, None, max())
                .await
                .expect("token")
        }
    };
    let (t_dora, t_olive, t_casey) = (
        token(dora, Role::ClinicalDirector).await,
        token(olive, Role::Counselor).await,
        token(casey, Role::Counselor).await,
    );
    store
        .update_staff(&grant, dora, "dora", Role::Counselor, true)
        .await
        .expect("demote");
    store
        .set_password(&admin(), olive, "violet tugboat marmalade")
        .await
        .expect("reset");
    store
        .update_staff(&grant, casey, "casey", Role::Counselor, false)
        .await
        .expect("deactivate");
    for t in [&t_dora, &t_olive, &t_casey] {
        assert!(store.token_actor(t, max()).await.expect("read").is_none());
    }
    assert!(store
        .tokens()
        .await
        .expect("tokens")
        .iter()
        .all(|t| t.revoked_at.is_some()));
    // A deactivated user can get no new token either.
    let refused = store
        .create_token(&admin(), casey, "ci", Role::Counselor, None, max())
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))));
}

#[tokio::test]
async fn weak_passwords_are_refused_on_creation_and_reset_and_the_demo_password_passes() {
    let store = fresh_store().await.expect("store");
    let grant = store.grant::<can::ManageUsers>(&admin()).expect("grant");
    let casey = account(&store, "casey", Role::Counselor).await;
    for weak in ["password1234", "aaaaaaaaaaaa", "short"] {
        let created = store
            .create_staff(
                &grant,
                &NewStaff {
                    username: "newstaff".into(),
                    display_name: "New Staff".into(),
                    email: None,
                    role: Role::Counselor,
                    password: weak.into(),
                },
            )
            .await;
        match created {
            Err(StoreError::Invalid(f)) => {
                assert_eq!(f[0].field, "password");
                assert!(!f[0].message.contains(weak));
            }
            other => panic!("{weak}: {other:?}"),
        }
        assert!(matches!(
            store.set_password(&admin(), casey, weak).await,
            Err(StoreError::Invalid(_))
        ));
    }
    store
        .set_password(&admin(), casey, "trellis-demo-2026")
        .await
        .expect("the demo password is strong enough");
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes_only() {
    let store = fresh_store().await.expect("store");
    account(&store, "casey", Role::Counselor).await;
    let hashes = trellis_storage::testing::raw_strings(
        &store,
        "SELECT password_hash FROM users WHERE username = 'casey'",
    )
    .await
    .expect("read");
    assert!(hashes[0].starts_with("$argon2id$"), "{}", hashes[0]);
    assert!(!hashes[0].contains(PASSWORD));
}

fn person(id: i64, username: &str, role: Role) -> Actor {
    Actor {
        user_id: Some(id),
        username: username.into(),
        role,
        ip: Some("10.0.0.9".into()),
        request_id: None,
    }
}

#[tokio::test]
async fn one_administrator_alone_cannot_create_a_clinical_account() {
    use trellis_storage::staff::RoleChange;
    let store = fresh_store().await.expect("store");
    let ada = person(
        account(&store, "ada", Role::Admin).await,
        "ada",
        Role::Admin,
    );
    let abe = person(
        account(&store, "abe", Role::Admin).await,
        "abe",
        Role::Admin,
    );
    let fran = person(
        account(&store, "fran", Role::FrontDesk).await,
        "fran",
        Role::FrontDesk,
    );
    // The attack review: an admin created a clinical-director account and read notes with it.
    let grant = store.grant::<can::ManageUsers>(&ada).expect("grant");
    let cd = store
        .create_staff(
            &grant,
            &NewStaff {
                username: "dir".into(),
                display_name: "Director".into(),
                email: None,
                role: Role::ClinicalDirector,
                password: PASSWORD.into(),
            },
        )
        .await
        .expect("proposed");
    assert!(!store.staff_user(cd).await.expect("user").active);
    assert_eq!(
        store
            .login("dir", PASSWORD, "10.0.0.9")
            .await
            .expect("login"),
        LoginOutcome::Invalid
    );
    // Nor can the same administrator activate it, or approve their own proposal.
    assert!(matches!(
        store
            .update_staff(&grant, cd, "Director", Role::ClinicalDirector, true)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let pending = store.role_approvals(&ada).await.expect("list");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].role, "clinical_director");
    assert!(matches!(
        store.decide_role_approval(&ada, pending[0].id, true).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.decide_role_approval(&fran, pending[0].id, true).await,
        Err(StoreError::Denied(_))
    ));
    assert!(matches!(
        store.role_approvals(&fran).await,
        Err(StoreError::Denied(_))
    ));
    // A second administrator approves: the account is active with its role.
    store
        .decide_role_approval(&abe, pending[0].id, true)
        .await
        .expect("approve");
    let user = store.staff_user(cd).await.expect("user");
    assert!(user.active);
    assert_eq!(user.role, "clinical_director");
    assert!(store.role_approvals(&abe).await.expect("list").is_empty());
    assert!(matches!(
        store.decide_role_approval(&abe, pending[0].id, true).await,
        Err(StoreError::NotFound(_))
    ));

    // Promoting an existing account is proposed too; the privacy officer may decide.
    let ingrid = account(&store, "ingrid", Role::Intake).await;
    let change = store
        .update_staff(&grant, ingrid, "ingrid", Role::Counselor, true)
        .await
        .expect("update");
    let RoleChange::AwaitingApproval(approval) = change else {
        panic!("expected a proposal, got {change:?}");
    };
    assert_eq!(
        store.staff_user(ingrid).await.expect("user").role,
        "intake",
        "the role waits"
    );
    let pat = person(
        account(&store, "pat", Role::PrivacyOfficer).await,
        "pat",
        Role::PrivacyOfficer,
    );
    store
        .decide_role_approval(&pat, approval, false)
        .await
        .expect("refuse");
    assert_eq!(store.staff_user(ingrid).await.expect("user").role, "intake");
    // A role without clinical text or disclosure needs no second person.
    assert_eq!(
        store
            .update_staff(&grant, ingrid, "ingrid", Role::Billing, true)
            .await
            .expect("update"),
        RoleChange::Applied
    );
    assert_eq!(
        store.staff_user(ingrid).await.expect("user").role,
        "billing"
    );
    let change = store
        .update_staff(&grant, ingrid, "ingrid", Role::Nurse, true)
        .await
        .expect("update");
    let RoleChange::AwaitingApproval(approval) = change else {
        panic!("expected a proposal");
    };
    store
        .decide_role_approval(&pat, approval, true)
        .await
        .expect("approve");
    assert_eq!(store.staff_user(ingrid).await.expect("user").role, "nurse");
    let audit: Vec<String> = trellis_storage::testing::raw_strings(
        &store,
        "SELECT action FROM audit_log WHERE action IN ('propose_role', 'approve_role', 'refuse_role') ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        audit,
        vec![
            "propose_role",
            "approve_role",
            "propose_role",
            "refuse_role",
            "propose_role",
            "approve_role"
        ]
    );
}
