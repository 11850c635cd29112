//! The patient portal's accounts (issue 13): invitations made by the patient's treating staff,
//! redeemed once within 72 hours, the staff password policy, a patient who reaches their own
//! record alone, and staff ending the account. SQLite by default, PostgreSQL with
//! TRELLIS_TEST_DATABASE=postgres.

mod common;

use chrono::Duration;
use common::{admitted_to, checked_in_session, staff, Clinic};
use trellis_domain::access::Role;
use trellis_domain::portal::AccountState;
use trellis_storage::access::{can, Actor};
use trellis_storage::portal::Redemption;
use trellis_storage::staff::LoginOutcome;
use trellis_storage::testing::{raw_execute, raw_strings};
use trellis_storage::{Instant, StoreError};

const PASSWORD: &str = "blue kettle river morning";

async fn invite(c: &Clinic, by: &Actor, patient: i64) -> String {
    let grant = c
        .store
        .patient_grant::<can::ManagePortalAccounts>(by, patient)
        .await
        .expect("grant");
    c.store.invite_to_portal(&grant).await.expect("invite").code
}

async fn redeem(c: &Clinic, code: &str, username: &str, password: &str) -> Result<(), StoreError> {
    c.store
        .redeem_portal_invitation(
            &Redemption {
                code,
                username,
                password,
            },
            "10.0.0.9",
        )
        .await
}

async fn sign_in(c: &Clinic, username: &str) -> Actor {
    match c
        .store
        .login(username, PASSWORD, "10.0.0.9")
        .await
        .expect("login")
    {
        LoginOutcome::Success(user) => {
            assert_eq!(user.role, "patient");
            Actor {
                user_id: Some(user.id),
                username: user.username,
                role: Role::Patient,
                ip: None,
                request_id: None,
            }
        }
        other => panic!("expected a sign-in, got {other:?}"),
    }
}

fn field(e: StoreError) -> &'static str {
    match e {
        StoreError::Invalid(fields) => fields[0].field,
        other => panic!("expected a refused field, got {other:?}"),
    }
}

async fn state(c: &Clinic, patient: i64) -> AccountState {
    let grant = c
        .store
        .patient_grant::<can::ManagePortalAccounts>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store.portal_account(&grant).await.expect("account").state
}

#[tokio::test]
async fn an_invitation_is_redeemed_once_and_the_patient_reaches_only_their_own_record() {
    let c = common::clinic().await;
    let patient = admitted_to(&c, "Alex", "Rivera", c.program).await;
    let other = admitted_to(&c, "Sam", "Okafor", c.program).await;
    assert_eq!(state(&c, patient).await, AccountState::None);
    let code = invite(&c, &c.counselor, patient).await;
    assert_eq!(code.len(), 19, "four groups of four: {code}");
    assert_eq!(state(&c, patient).await, AccountState::Invited);
    // The code is kept only as its hash.
    let stored = raw_strings(
        &c.store,
        "SELECT invitation_hash FROM portal_accounts WHERE invitation_hash IS NOT NULL",
    )
    .await
    .expect("read");
    assert!(!stored.iter().any(|h| h.contains(&code.replace('-', ""))));

    // Bad input: a wrong code, a weak password, a bad username; nothing is opened.
    assert_eq!(
        field(
            redeem(&c, "AAAA-BBBB-CCCC-DDDD", "alexr", PASSWORD)
                .await
                .unwrap_err()
        ),
        "code"
    );
    assert_eq!(
        field(redeem(&c, &code, "alexr", "password1").await.unwrap_err()),
        "password"
    );
    assert_eq!(
        field(
            redeem(&c, &code, "Alex Rivera!", PASSWORD)
                .await
                .unwrap_err()
        ),
        "username"
    );
    // A staff username is taken like any other.
    assert_eq!(
        field(redeem(&c, &code, "casey", PASSWORD).await.unwrap_err()),
        "username"
    );
    // Lower case and dashes do not matter in the code.
    redeem(&c, &code.to_lowercase(), "alexr", PASSWORD)
        .await
        .expect("redeem");
    assert_eq!(state(&c, patient).await, AccountState::Active);
    // Once only.
    assert_eq!(
        field(redeem(&c, &code, "alexr2", PASSWORD).await.unwrap_err()),
        "code"
    );

    let me = sign_in(&c, "alexr").await;
    let mine = c
        .store
        .patient_grant::<can::UsePortal>(&me, patient)
        .await
        .expect("own record");
    // Another patient's id gets nothing, and the refusal is audited.
    assert!(matches!(
        c.store.patient_grant::<can::UsePortal>(&me, other).await,
        Err(StoreError::Denied(_))
    ));
    // No staff permission, even on their own record.
    assert!(matches!(
        c.store
            .patient_grant::<can::ReadDemographics>(&me, patient)
            .await,
        Err(StoreError::Denied(_))
    ));
    assert!(c.store.grant::<can::ReadClinical>(&me).is_err());
    let refusals = raw_strings(
        &c.store,
        "SELECT action FROM audit_log WHERE role = 'patient' AND action = 'access_denied'",
    )
    .await
    .expect("audit");
    assert_eq!(refusals.len(), 2);

    // The week: today's group, read and audited as the patient.
    checked_in_session(&c, &[patient]).await;
    let from = Instant(chrono::Utc::now() - Duration::days(1));
    let to = Instant(chrono::Utc::now() + Duration::days(7));
    let week = c.store.portal_week(&mine, from, to).await.expect("week");
    assert_eq!(week.events.len(), 1);
    assert!(week.events[0].group);
    assert_eq!(week.events[0].place, "Video visit");
    let reads = raw_strings(
        &c.store,
        "SELECT record_type FROM audit_log WHERE role = 'patient' AND action = 'read'",
    )
    .await
    .expect("audit");
    assert_eq!(reads, vec!["portal_week".to_owned()]);
    assert_eq!(
        c.store
            .portal_patient(me.user_id.expect("id"))
            .await
            .expect("bound"),
        patient
    );
    // The patient's account is no staff account.
    assert!(!c
        .store
        .staff()
        .await
        .expect("staff")
        .iter()
        .any(|u| u.username == "alexr"));
}

#[tokio::test]
async fn staff_end_an_account_and_may_invite_again() {
    let c = common::clinic().await;
    let patient = admitted_to(&c, "Alex", "Rivera", c.program).await;
    let code = invite(&c, &c.intake, patient).await;
    redeem(&c, &code, "alexr", PASSWORD).await.expect("redeem");
    let me = sign_in(&c, "alexr").await;
    let user_id = me.user_id.expect("id");
    // No second invitation while the account is in use.
    let grant = c
        .store
        .patient_grant::<can::ManagePortalAccounts>(&c.counselor, patient)
        .await
        .expect("grant");
    assert!(matches!(
        c.store.invite_to_portal(&grant).await,
        Err(StoreError::Conflict(_))
    ));
    c.store.end_portal_account(&grant).await.expect("end");
    assert_eq!(state(&c, patient).await, AccountState::Revoked);
    assert!(matches!(
        c.store
            .login("alexr", PASSWORD, "10.0.0.9")
            .await
            .expect("login"),
        LoginOutcome::Invalid
    ));
    assert!(c.store.portal_patient(user_id).await.is_err());
    assert!(matches!(
        c.store.patient_grant::<can::UsePortal>(&me, patient).await,
        Err(StoreError::Denied(_))
    ));
    // Ending it again changes nothing.
    c.store.end_portal_account(&grant).await.expect("end again");
    // Invited again, the patient chooses anew and keeps the one account.
    let code = invite(&c, &c.counselor, patient).await;
    assert_eq!(state(&c, patient).await, AccountState::Invited);
    redeem(&c, &code, "alex.r", PASSWORD).await.expect("redeem");
    let again = sign_in(&c, "alex.r").await;
    assert_eq!(again.user_id, Some(user_id));
    let actions = raw_strings(
        &c.store,
        "SELECT action FROM audit_log WHERE record_type = 'portal_account' AND action <> 'read' ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        actions,
        vec![
            "portal_invitation",
            "portal_account_opened",
            "portal_account_ended",
            "portal_invitation",
            "portal_account_opened"
        ]
    );
}

#[tokio::test]
async fn an_invitation_runs_out_after_72_hours() {
    let c = common::clinic().await;
    let patient = admitted_to(&c, "Alex", "Rivera", c.program).await;
    let code = invite(&c, &c.counselor, patient).await;
    let past = Instant(chrono::Utc::now() - Duration::minutes(1));
    raw_execute(
        &c.store,
        &format!("UPDATE portal_accounts SET invitation_expires_at = '{past}'"),
    )
    .await
    .expect("age");
    assert_eq!(state(&c, patient).await, AccountState::InvitationExpired);
    assert_eq!(
        field(redeem(&c, &code, "alexr", PASSWORD).await.unwrap_err()),
        "code"
    );
}

#[tokio::test]
async fn only_the_patients_treating_staff_and_intake_manage_the_account() {
    let c = common::clinic().await;
    let patient = admitted_to(&c, "Alex", "Rivera", c.program).await;
    let front_desk = staff(&c.store, "fran", Role::FrontDesk).await;
    let billing = staff(&c.store, "bill", Role::Billing).await;
    for actor in [&c.outsider, &front_desk, &billing] {
        assert!(
            matches!(
                c.store
                    .patient_grant::<can::ManagePortalAccounts>(actor, patient)
                    .await,
                Err(StoreError::Denied(_))
            ),
            "{}",
            actor.username
        );
    }
    // No administrator makes a patient account, or turns a staff account into one.
    let users = c
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    let made = c
        .store
        .create_staff(
            &users,
            &trellis_storage::staff::NewStaff {
                username: "sneaky".into(),
                display_name: "Sneaky".into(),
                email: None,
                role: Role::Patient,
                password: PASSWORD.into(),
            },
        )
        .await;
    assert!(matches!(made, Err(StoreError::Invalid(_))));
    let changed = c
        .store
        .update_staff(
            &users,
            front_desk.user_id.expect("id"),
            "Fran",
            Role::Patient,
            true,
        )
        .await;
    assert!(matches!(changed, Err(StoreError::Invalid(_))));
}
