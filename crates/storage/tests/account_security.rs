//! The rest of issue 11 at the storage layer: an account without a second factor is not taken
//! over by one administrator (the enrolment code takes a second person, who never also chose
//! the password), switching the second-factor requirement off takes two people, a person
//! lists and ends their own sessions with their password (ASVS 3.3.4), and is told of every
//! change to their credentials until they acknowledge it (ASVS 2.2.3, 2.5.x).

mod common;

use chrono::Duration;
use common::staff;
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::staff::{
    session_handle, ApprovalKind, CredentialChange, Decision, EndSessionsOutcome, EnrolmentIssue,
    EnrolmentOutcome, LoginOutcome, NewPasskey, RoleChange, SessionsToEnd, StaffUser,
    LOCKOUT_THRESHOLD,
};
use trellis_storage::testing::{fresh_store, raw_strings};
use trellis_storage::{Store, StoreError};

const PASSWORD: &str = "correct horse battery";
const TAKEN_OVER: &str = "plum orchard lantern seventeen";
const IP: &str = "10.0.0.9";

fn system() -> Actor {
    Actor::system("test")
}

/// Signs in with a password and opens the session that follows (half signed in when a second
/// step waits).
async fn session(store: &Store, username: &str, password: &str, browser: &str) -> String {
    let (user, verified): (StaffUser, bool) =
        match store.login(username, password, IP).await.expect("login") {
            LoginOutcome::Success(user) => (user, true),
            LoginOutcome::NeedsMfa(user) | LoginOutcome::NeedsMfaEnrolment(user) => (user, false),
            other => panic!("expected to sign in, got {other:?}"),
        };
    store
        .create_session(&user, verified, IP, browser, Duration::hours(1))
        .await
        .expect("session")
        .0
}

/// Sets up a first passkey with an enrolment code from the given session.
async fn enrol(store: &Store, secret: &str, user_id: i64, code: &str) -> EnrolmentOutcome {
    let passkey = NewPasskey {
        credential_id: format!("cred-{user_id}-{code}"),
        name: "laptop".into(),
        credential: "{}".into(),
    };
    store
        .confirm_passkey_enrolment(secret, user_id, Ok(passkey), code, IP)
        .await
        .expect("enrol")
}

fn code_of(decision: Decision) -> String {
    match decision {
        Decision::EnrolmentCodeIssued(code) => code.code,
        Decision::Decided => panic!("an approved enrolment code is issued to the approver"),
    }
}

#[tokio::test]
async fn one_administrator_alone_cannot_take_over_an_account_without_a_second_factor() {
    let store = fresh_store().await.expect("store");
    let ada = staff(&store, "ada", Role::Admin).await;
    let abe = staff(&store, "abe", Role::Admin).await;
    let pat = staff(&store, "pat", Role::PrivacyOfficer).await;
    let nina = staff(&store, "nina", Role::Counselor)
        .await
        .user_id
        .expect("id");
    let grant = store.grant::<can::ManageUsers>(&ada).expect("grant");

    // The attack: ada sets the password of a counselor who never enrolled, then gives herself
    // the enrolment code. The password alone stops at the set-up, and the code is not hers.
    store
        .set_password(&ada, nina, TAKEN_OVER)
        .await
        .expect("set");
    assert!(matches!(
        store.login("nina", TAKEN_OVER, IP).await.expect("login"),
        LoginOutcome::NeedsMfaEnrolment(_)
    ));
    let direct = store.issue_enrolment_code(&grant, nina).await;
    assert!(matches!(direct, Err(StoreError::Conflict(_))), "{direct:?}");
    let EnrolmentIssue::AwaitingApproval(request) = store
        .request_enrolment_code(&grant, nina)
        .await
        .expect("request")
    else {
        panic!("a counselor's enrolment code waits for a second person");
    };
    assert_eq!(
        store
            .request_enrolment_code(&grant, nina)
            .await
            .expect("again"),
        EnrolmentIssue::AwaitingApproval(request),
        "an open request is answered, not doubled"
    );
    let listed = store.role_approvals(&abe).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, ApprovalKind::EnrolmentCode);
    assert!(matches!(
        store.decide_role_approval(&ada, request, true).await,
        Err(StoreError::Conflict(_))
    ));
    // abe, who set no password here, approves and is the one shown the code.
    let code = code_of(
        store
            .decide_role_approval(&abe, request, true)
            .await
            .expect("approve"),
    );
    // A new password drops a code handed over before it: the approver's code and a password
    // chosen later by someone else (or by the approver) never combine.
    store.set_password(&abe, nina, PASSWORD).await.expect("set");
    let secret = session(&store, "nina", PASSWORD, "Firefox").await;
    assert_eq!(
        enrol(&store, &secret, nina, &code).await,
        EnrolmentOutcome::EnrolmentCodeWrong
    );

    // abe now set the password, so abe may not approve its code; the privacy officer may.
    let EnrolmentIssue::AwaitingApproval(request) = store
        .request_enrolment_code(&grant, nina)
        .await
        .expect("request")
    else {
        panic!("still two people");
    };
    let refused = store.decide_role_approval(&abe, request, true).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let code = code_of(
        store
            .decide_role_approval(&pat, request, true)
            .await
            .expect("approve"),
    );
    let secret = session(&store, "nina", PASSWORD, "Firefox").await;
    assert_eq!(
        enrol(&store, &secret, nina, &code).await,
        EnrolmentOutcome::Enrolled
    );

    // One person is enough where the password alone already gets in (front desk, no second
    // factor required), and for the command line, which sets up the first accounts.
    let fran = staff(&store, "fran", Role::FrontDesk)
        .await
        .user_id
        .expect("id");
    assert!(matches!(
        store
            .request_enrolment_code(&grant, fran)
            .await
            .expect("issue"),
        EnrolmentIssue::Issued(_)
    ));
    let omar = staff(&store, "omar", Role::Counselor)
        .await
        .user_id
        .expect("id");
    let cli = store.grant::<can::ManageUsers>(&system()).expect("grant");
    store
        .issue_enrolment_code(&cli, omar)
        .await
        .expect("the command line issues alone");

    let actions = raw_strings(
        &store,
        "SELECT action FROM audit_log WHERE action IN ('request_enrolment_code',
             'mfa_enrolment_code_issued', 'set_password') ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        actions,
        vec![
            "set_password",
            "request_enrolment_code",
            "mfa_enrolment_code_issued",
            "set_password",
            "request_enrolment_code",
            "mfa_enrolment_code_issued",
            "mfa_enrolment_code_issued",
            "mfa_enrolment_code_issued",
        ]
    );
}

#[tokio::test]
async fn switching_the_second_factor_off_for_a_role_takes_two_people() {
    let store = fresh_store().await.expect("store");
    let ada = staff(&store, "ada", Role::Admin).await;
    let abe = staff(&store, "abe", Role::Admin).await;
    assert!(store.mfa_required(Role::Counselor).await.expect("policy"));

    let RoleChange::AwaitingApproval(request) = store
        .set_mfa_required(&ada, Role::Counselor, false)
        .await
        .expect("ask")
    else {
        panic!("switching off waits for a second person");
    };
    assert!(
        store.mfa_required(Role::Counselor).await.expect("policy"),
        "still required until approved"
    );
    assert_eq!(
        store
            .set_mfa_required(&ada, Role::Counselor, false)
            .await
            .expect("again"),
        RoleChange::AwaitingApproval(request)
    );
    assert!(matches!(
        store.decide_role_approval(&ada, request, true).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .decide_role_approval(&abe, request, true)
        .await
        .expect("approve");
    assert!(!store.mfa_required(Role::Counselor).await.expect("policy"));

    // Switching on is one person's, and withdraws a request to switch off made before it.
    assert_eq!(
        store
            .set_mfa_required(&ada, Role::Counselor, true)
            .await
            .expect("on"),
        RoleChange::Applied
    );
    assert!(store.mfa_required(Role::Counselor).await.expect("policy"));
    let RoleChange::AwaitingApproval(stale) = store
        .set_mfa_required(&ada, Role::Counselor, false)
        .await
        .expect("ask")
    else {
        panic!("waits");
    };
    store
        .set_mfa_required(&abe, Role::Counselor, true)
        .await
        .expect("on");
    assert!(matches!(
        store.decide_role_approval(&abe, stale, true).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.mfa_required(Role::Counselor).await.expect("policy"));
    // A role not required is set by one person either way; so is anything the command line does.
    assert_eq!(
        store
            .set_mfa_required(&ada, Role::FrontDesk, false)
            .await
            .expect("off"),
        RoleChange::Applied
    );
    assert_eq!(
        store
            .set_mfa_required(&system(), Role::Nurse, false)
            .await
            .expect("off"),
        RoleChange::Applied
    );
}

#[tokio::test]
async fn a_person_lists_their_sessions_and_ends_one_or_all_others_with_their_password() {
    let store = fresh_store().await.expect("store");
    let fay = staff(&store, "fay", Role::FrontDesk).await;
    let other = staff(&store, "gus", Role::FrontDesk).await;
    let here = session(&store, "fay", PASSWORD, "Firefox").await;
    let phone = session(&store, "fay", PASSWORD, "Safari").await;
    let library = session(&store, "fay", PASSWORD, "Chrome").await;
    let gus = session(&store, "gus", PASSWORD, "Edge").await;
    let fay_id = fay.user_id.expect("id");

    let listed = store.own_sessions(&here, fay_id).await.expect("list");
    assert_eq!(listed.len(), 3, "only fay's sessions");
    let mut browsers: Vec<_> = listed.iter().filter_map(|s| s.browser.clone()).collect();
    browsers.sort();
    assert_eq!(browsers, vec!["Chrome", "Firefox", "Safari"]);
    assert!(listed.iter().all(|s| s.ip.as_deref() == Some(IP)));
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].handle, session_handle(&here));

    let alive = |secret: String| {
        let store = store.clone();
        async move {
            store
                .session(&secret, Duration::minutes(15))
                .await
                .expect("session")
                .is_some()
        }
    };
    // A wrong password ends nothing.
    let one = SessionsToEnd::One(session_handle(&phone));
    assert_eq!(
        store
            .end_own_sessions(&fay, &here, "not my password", &one, IP)
            .await
            .expect("end"),
        EndSessionsOutcome::WrongPassword
    );
    assert!(alive(phone.clone()).await);
    // Nobody ends another person's session, even knowing its handle.
    let theirs = SessionsToEnd::One(session_handle(&gus));
    assert!(matches!(
        store
            .end_own_sessions(&fay, &here, PASSWORD, &theirs, IP)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(alive(gus.clone()).await);
    assert_eq!(
        store
            .end_own_sessions(&fay, &here, PASSWORD, &one, IP)
            .await
            .expect("end"),
        EndSessionsOutcome::Ended(1)
    );
    assert!(!alive(phone).await);
    assert!(alive(library.clone()).await);
    assert_eq!(
        store
            .end_own_sessions(&fay, &here, PASSWORD, &SessionsToEnd::AllOthers, IP)
            .await
            .expect("end"),
        EndSessionsOutcome::Ended(1)
    );
    assert!(!alive(library).await);
    assert!(alive(here.clone()).await, "the session asking stays");
    assert!(alive(gus).await);

    // Guessing the password here counts toward the lockout, which ends this session too.
    let mut last = EndSessionsOutcome::Ended(0);
    for _ in 0..LOCKOUT_THRESHOLD {
        last = store
            .end_own_sessions(&fay, &here, "still not it", &SessionsToEnd::AllOthers, IP)
            .await
            .expect("end");
    }
    assert!(matches!(last, EndSessionsOutcome::Locked(_)), "{last:?}");
    assert!(!alive(here).await);
    let actions = raw_strings(
        &store,
        "SELECT action FROM audit_log WHERE action IN ('end_own_sessions', 'end_sessions_failed')
         ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(actions[0], "end_sessions_failed");
    assert_eq!(
        actions.iter().filter(|a| *a == "end_own_sessions").count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "end_sessions_failed")
            .count(),
        LOCKOUT_THRESHOLD as usize,
        "the first wrong one and those up to the lock; once locked, nothing more is tried"
    );
    assert!(other.user_id.is_some());
}

#[tokio::test]
async fn changes_to_credentials_are_told_to_the_person_until_acknowledged() {
    let store = fresh_store().await.expect("store");
    let ada = staff(&store, "ada", Role::Admin).await;
    let abe = staff(&store, "abe", Role::Admin).await;
    let nina = staff(&store, "nina", Role::Counselor).await;
    let nina_id = nina.user_id.expect("id");
    let grant = store.grant::<can::ManageUsers>(&ada).expect("grant");
    assert!(store
        .credential_notices(nina_id)
        .await
        .expect("notices")
        .is_empty());

    store
        .set_password(&ada, nina_id, TAKEN_OVER)
        .await
        .expect("set");
    let EnrolmentIssue::AwaitingApproval(request) = store
        .request_enrolment_code(&grant, nina_id)
        .await
        .expect("request")
    else {
        panic!("two people");
    };
    let code = code_of(
        store
            .decide_role_approval(&abe, request, true)
            .await
            .expect("approve"),
    );
    let secret = session(&store, "nina", TAKEN_OVER, "Firefox").await;
    assert_eq!(
        enrol(&store, &secret, nina_id, &code).await,
        EnrolmentOutcome::Enrolled
    );
    let notices = store.credential_notices(nina_id).await.expect("notices");
    let changes: Vec<_> = notices.iter().map(|n| n.change).collect();
    assert_eq!(
        changes,
        vec![
            CredentialChange::SecondFactorEnrolled,
            CredentialChange::EnrolmentCodeIssued,
            CredentialChange::PasswordSet,
        ],
        "newest first"
    );
    assert_eq!(notices[2].changed_by_name.as_deref(), Some("ada"));
    assert_eq!(notices[1].changed_by_name.as_deref(), Some("abe"));
    assert_eq!(notices[0].changed_by, Some(nina_id));
    assert!(store
        .credential_notices(ada.user_id.expect("id"))
        .await
        .expect("notices")
        .is_empty());

    // Acknowledged up to the newest shown; one that arrives after stays.
    let newest = notices[0].id;
    store
        .set_password(&system(), nina_id, PASSWORD)
        .await
        .expect("set");
    store
        .acknowledge_credential_notices(&nina, newest)
        .await
        .expect("acknowledge");
    let left = store.credential_notices(nina_id).await.expect("notices");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].change, CredentialChange::PasswordSet);
    assert_eq!(left[0].changed_by_name, None, "the command line");
    // Another person acknowledges nothing of nina's.
    assert!(matches!(
        store.acknowledge_credential_notices(&ada, left[0].id).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .acknowledge_credential_notices(&nina, left[0].id)
        .await
        .expect("acknowledge");
    assert!(matches!(
        store
            .acknowledge_credential_notices(&nina, left[0].id)
            .await,
        Err(StoreError::NotFound(_))
    ));

    // A role change is told too.
    let grant = store.grant::<can::ManageUsers>(&system()).expect("grant");
    store
        .update_staff(&grant, nina_id, "nina", Role::PeerSpecialist, true)
        .await
        .expect("update");
    let left = store.credential_notices(nina_id).await.expect("notices");
    assert_eq!(left[0].change, CredentialChange::RoleChanged);
}
