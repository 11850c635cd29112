//! Access without the patient's consent beyond disclosures (issue 20): the auditor's sign-in
//! under a §2.53 agreement (bound to one agreement, created by two people, reviewing only its
//! program's patients and its information, within its period, until it ends; every review kept
//! for the privacy officer) and orders placing an undercover agent or informant (§2.67).
//! SQLite by default, PostgreSQL with TRELLIS_TEST_DATABASE=postgres.

mod common;

use chrono::Duration;
use common::{admitted_to, clinic, listed, record_authority, staff, today, Clinic};
use trellis_domain::access::Role;
use trellis_domain::consent::{
    AuditBody, InformationCategory as Cat, RecipientKind, Terms, UndercoverOrder,
};
use trellis_storage::access::{can, Actor};
use trellis_storage::confidentiality::authorities::NewAuthority;
use trellis_storage::staff::NewStaff;
use trellis_storage::StoreError;

fn audit_agreement(recipient: i64, starts_in: i64) -> NewAuthority {
    NewAuthority {
        terms: Terms::AuditEvaluation {
            body: AuditBody::GovernmentAgency,
            body_name: "State Department of Health".into(),
            scope: "Annual licensing review of charts".into(),
        },
        recipient_id: Some(recipient),
        categories: [Cat::Attendance, Cat::Diagnoses].into(),
        dated_on: Some(today() - Duration::days(2)),
        starts_on: Some(today() + Duration::days(starts_in)),
        ends_on: Some(today() + Duration::days(30)),
        recipient_bound: true,
    }
}

fn auditor_account(username: &str) -> NewStaff {
    NewStaff {
        username: username.into(),
        display_name: "Avery Auditor".into(),
        email: None,
        role: Role::Auditor,
        password: "correct horse battery".into(),
    }
}

fn as_auditor(id: i64, username: &str) -> Actor {
    Actor {
        user_id: Some(id),
        username: username.into(),
        role: Role::Auditor,
        ip: Some("127.0.0.1".into()),
        request_id: None,
    }
}

fn field(e: StoreError) -> String {
    match e {
        StoreError::Invalid(errors) => errors[0].field.to_string(),
        other => panic!("expected a field error, got {other:?}"),
    }
}

async fn review(c: &Clinic, auditor: &Actor, patient: i64) -> Result<Vec<String>, StoreError> {
    let grant = c
        .store
        .patient_grant::<can::ReviewUnderAgreement>(auditor, patient)
        .await?;
    let review = c.store.auditor_review(&grant).await?;
    Ok(review.sections.into_iter().map(|s| s.heading).collect())
}

#[tokio::test]
async fn an_auditor_reviews_only_their_agreements_patients_and_information_until_it_ends() {
    let c = clinic().await;
    let privacy = staff(&c.store, "pat", Role::PrivacyOfficer).await;
    let admin = staff(&c.store, "ada", Role::Admin).await;
    let inside = admitted_to(&c, "Alex", "Rivera", c.program).await;
    let outside = admitted_to(&c, "Sam", "Ortiz", c.other_program).await;
    let body = listed(
        &c.store,
        &privacy,
        "State Licensing Unit",
        RecipientKind::Other,
    )
    .await;
    let agreement = record_authority(&c.store, &privacy, None, &audit_agreement(body, -1))
        .await
        .expect("agreement");
    let users = c.store.grant::<can::ManageUsers>(&admin).expect("grant");

    // Bound to an audit agreement, or not created at all.
    let plain = c
        .store
        .create_staff(&users, &auditor_account("avery"))
        .await;
    assert_eq!(field(plain.expect_err("no agreement")), "role");
    for bad in [None, Some(agreement + 100)] {
        let e = c
            .store
            .create_auditor(&users, &auditor_account("avery"), bad, Some(c.program))
            .await
            .expect_err("not an agreement");
        assert_eq!(field(e), "authority_id");
    }
    let e = c
        .store
        .create_auditor(&users, &auditor_account("avery"), Some(agreement), Some(-5))
        .await
        .expect_err("no such program");
    assert_eq!(field(e), "program_id");

    // Two people: inactive until someone other than the proposer approves; a second factor by
    // default.
    let id = c
        .store
        .create_auditor(
            &users,
            &auditor_account("avery"),
            Some(agreement),
            Some(c.program),
        )
        .await
        .expect("auditor");
    assert!(!c.store.staff_user(id).await.expect("user").active);
    let approval = c
        .store
        .role_awaiting_approval(id)
        .await
        .expect("approval")
        .expect("awaiting");
    assert!(matches!(
        c.store
            .decide_role_approval(&admin, approval.id, true)
            .await,
        Err(StoreError::Conflict(_))
    ));
    c.store
        .decide_role_approval(&privacy, approval.id, true)
        .await
        .expect("approved");
    assert!(c.store.staff_user(id).await.expect("user").active);
    assert!(c.store.mfa_required(Role::Auditor).await.expect("policy"));
    let auditor = as_auditor(id, "avery");

    // No chart, no writes: the review is the auditor's whole access.
    assert!(matches!(
        c.store
            .patient_grant::<can::ReadDemographics>(&auditor, inside)
            .await,
        Err(StoreError::Denied(_))
    ));
    assert!(c.store.grant::<can::Disclose>(&auditor).is_err());

    let grant = c
        .store
        .grant::<can::ReviewUnderAgreement>(&auditor)
        .expect("grant");
    let scope = c.store.auditor_scope(&grant).await.expect("scope");
    assert_eq!(scope.authority_id, agreement);
    assert!(scope.refusal.is_none());
    assert_eq!(scope.program.as_deref(), Some("Adult SUD IOP"));
    assert_eq!(
        c.store.auditor_patients(&grant, 50, 0).await.expect("list"),
        [inside]
    );
    assert_eq!(
        review(&c, &auditor, inside).await.expect("review"),
        [Cat::Attendance.label(), Cat::Diagnoses.label()]
    );
    assert!(matches!(
        review(&c, &auditor, outside).await,
        Err(StoreError::Denied(_))
    ));

    // The privacy officer sees the account and each review.
    let officer = c
        .store
        .grant::<can::DiscloseWithoutConsent>(&privacy)
        .expect("grant");
    let accounts = c
        .store
        .auditor_accounts(&officer, agreement)
        .await
        .expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0].active);
    let reads = c
        .store
        .auditor_reads(&officer, agreement, 50, 0)
        .await
        .expect("reads");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].patient_id, inside);
    assert_eq!(reads[0].username, "avery");
    assert_eq!(reads[0].categories, ["attendance", "diagnoses"]);
    assert!(c
        .store
        .auditor_reads(&officer, agreement, 50, 1)
        .await
        .expect("second page")
        .is_empty());

    // Ended early: nothing from that moment, and no new auditor on it.
    c.store
        .end_authority(&officer, agreement, "Licensing review finished")
        .await
        .expect("ended");
    assert!(matches!(
        review(&c, &auditor, inside).await,
        Err(StoreError::Denied(_))
    ));
    assert!(matches!(
        c.store.auditor_patients(&grant, 50, 0).await,
        Err(StoreError::Denied(_))
    ));
    let e = c
        .store
        .create_auditor(&users, &auditor_account("avery2"), Some(agreement), None)
        .await
        .expect_err("ended");
    assert_eq!(field(e), "authority_id");
    assert_eq!(
        c.store
            .auditor_reads(&officer, agreement, 50, 0)
            .await
            .expect("reads")
            .len(),
        1
    );
}

#[tokio::test]
async fn an_auditor_outside_the_agreements_period_is_refused() {
    let c = clinic().await;
    let privacy = staff(&c.store, "pat", Role::PrivacyOfficer).await;
    let inside = admitted_to(&c, "Alex", "Rivera", c.program).await;
    let body = listed(
        &c.store,
        &privacy,
        "State Licensing Unit",
        RecipientKind::Other,
    )
    .await;
    // Starts in three days: not yet.
    let agreement = record_authority(&c.store, &privacy, None, &audit_agreement(body, 3))
        .await
        .expect("agreement");
    let system = Actor::system("test");
    let users = c.store.grant::<can::ManageUsers>(&system).expect("grant");
    let id = c
        .store
        .create_auditor(&users, &auditor_account("avery"), Some(agreement), None)
        .await
        .expect("auditor");
    let auditor = as_auditor(id, "avery");
    let grant = c
        .store
        .grant::<can::ReviewUnderAgreement>(&auditor)
        .expect("grant");
    let scope = c.store.auditor_scope(&grant).await.expect("scope");
    assert_eq!(
        scope.refusal.map(|r| r.code()),
        Some("outside_period"),
        "not yet in effect"
    );
    assert!(matches!(
        review(&c, &auditor, inside).await,
        Err(StoreError::Denied(_))
    ));
    // Nothing was shown, so nothing is listed; the refusal is in the audit log.
    let officer = c
        .store
        .grant::<can::DiscloseWithoutConsent>(&privacy)
        .expect("grant");
    assert!(c
        .store
        .auditor_reads(&officer, agreement, 50, 0)
        .await
        .expect("reads")
        .is_empty());
    // Other roles never review.
    assert!(c
        .store
        .grant::<can::ReviewUnderAgreement>(&privacy)
        .is_err());
}

fn placement() -> UndercoverOrder {
    UndercoverOrder {
        court: "US District Court".into(),
        case_number: "CR-26-0091".into(),
        applicant: "State Attorney General, Medicaid Fraud Unit".into(),
        dated_on: Some(today() - Duration::days(3)),
        placed_on: Some(today()),
        ends_on: Some(today() + Duration::days(200)),
        director_notice: true,
        criminal_activity: true,
        other_means_unavailable: true,
        public_interest_outweighs: true,
        placement_authorised: true,
        disclosure_limited: true,
        protective_measures: "Proceedings sealed".into(),
    }
}

#[tokio::test]
async fn an_undercover_placement_order_needs_its_findings_and_at_most_twelve_months() {
    let c = clinic().await;
    let privacy = staff(&c.store, "pat", Role::PrivacyOfficer).await;
    let grant = c
        .store
        .grant::<can::DiscloseWithoutConsent>(&privacy)
        .expect("grant");
    let too_long = UndercoverOrder {
        ends_on: Some(today() + Duration::days(400)),
        disclosure_limited: false,
        ..placement()
    };
    let Err(StoreError::Invalid(errors)) = c.store.record_undercover_order(&grant, &too_long).await
    else {
        panic!("a placement over twelve months is refused");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
    assert_eq!(fields, ["disclosure_limited", "ends_on"]);
    let id = c
        .store
        .record_undercover_order(&grant, &placement())
        .await
        .expect("recorded");
    let orders = c.store.undercover_orders(&grant).await.expect("orders");
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].id, id);
    assert!(orders[0].running);
    assert_eq!(orders[0].order.applicant, placement().applicant);
    // The terms are sealed at rest.
    let stored =
        trellis_storage::testing::raw_strings(&c.store, "SELECT terms FROM undercover_orders")
            .await
            .expect("raw");
    assert!(!stored[0].contains("Medicaid Fraud"));
    // Only the privacy officer records them.
    assert!(c
        .store
        .grant::<can::DiscloseWithoutConsent>(&c.counselor)
        .is_err());
}
