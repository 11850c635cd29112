//! Revenue, first slice (issue 14, item 1): payers, billing-provider settings, coverages and
//! eligibility checks. Billing keeps them; clinicians cannot read them; the subscriber and the
//! card's ids are sealed; bad input stores nothing. SQLite by default, PostgreSQL with
//! TRELLIS_TEST_DATABASE=postgres.

mod common;

use chrono::Duration;
use common::{admitted_to, clinic, staff, today, Clinic};
use trellis_domain::access::Role;
use trellis_domain::revenue::coverage::{
    CoverageRank, CoverageTerms, EligibilityMethod, EligibilityResult, SubscriberRelationship,
};
use trellis_domain::revenue::payer::{ClaimType, PayerTerms, UnitDefinition};
use trellis_domain::revenue::provider::BillingProvider;
use trellis_storage::access::{can, Actor};
use trellis_storage::revenue::coverages::NewEligibilityCheck;
use trellis_storage::testing::raw_strings;
use trellis_storage::StoreError;

fn medicaid() -> PayerTerms {
    PayerTerms {
        name: "State  Medicaid".into(),
        payer_code: "skmcd".into(),
        claim_type: ClaimType::Professional,
        sud_procedure: "h0015".into(),
        mh_procedure: "S9480".into(),
        sud_revenue_code: None,
        mh_revenue_code: Some(" ".into()),
        unit: UnitDefinition::PerDay,
        rate_cents: 16_500,
        minimum_minutes: 180,
        needs_prior_authorisation: true,
        timely_filing_days: 90,
    }
}

/// The clinic with a billing specialist assigned to its site.
async fn billing_clinic() -> (Clinic, Actor) {
    let c = clinic().await;
    let bill = staff(&c.store, "bill", Role::Billing).await;
    let users = c
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    c.store
        .set_assignments(&users, bill.user_id.expect("id"), &[(c.site, None)])
        .await
        .expect("assign");
    (c, bill)
}

async fn count(c: &Clinic, table: &str) -> usize {
    raw_strings(&c.store, &format!("SELECT CAST(id AS TEXT) FROM {table}"))
        .await
        .expect("count")
        .len()
}

#[tokio::test]
async fn billing_keeps_payers_and_bad_terms_store_nothing() {
    let (c, bill) = billing_clinic().await;
    let manage = c.store.grant::<can::ManageBilling>(&bill).expect("grant");
    let id = c.store.add_payer(&manage, &medicaid()).await.expect("add");
    let read = c.store.grant::<can::ReadBilling>(&bill).expect("grant");
    let saved = c.store.payer(&read, id).await.expect("payer");
    // Stored as the codes claims carry: trimmed and in capitals; a blank revenue code is none.
    assert_eq!(saved.terms.name, "State Medicaid");
    assert_eq!(saved.terms.payer_code, "SKMCD");
    assert_eq!(saved.terms.sud_procedure, "H0015");
    assert_eq!(saved.terms.mh_revenue_code, None);
    assert!(saved.terms.needs_prior_authorisation);

    // The same payer id twice would send claims to one place under two sets of terms.
    match c.store.add_payer(&manage, &medicaid()).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "payer_code"),
        other => panic!("expected a duplicate refused, got {other:?}"),
    }
    for (bad, field) in [
        (
            PayerTerms {
                claim_type: ClaimType::Institutional,
                payer_code: "OTHER".into(),
                ..medicaid()
            },
            "sud_revenue_code",
        ),
        (
            PayerTerms {
                rate_cents: 0,
                payer_code: "OTHER".into(),
                ..medicaid()
            },
            "rate",
        ),
        (
            PayerTerms {
                minimum_minutes: 721,
                payer_code: "OTHER".into(),
                ..medicaid()
            },
            "minimum_minutes",
        ),
        (
            PayerTerms {
                sud_procedure: "H15".into(),
                payer_code: "OTHER".into(),
                ..medicaid()
            },
            "sud_procedure",
        ),
    ] {
        match c.store.add_payer(&manage, &bad).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, field),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    assert_eq!(count(&c, "payers").await, 1);

    // A change and a retirement are audited; a retired payer takes no more changes.
    let cheaper = PayerTerms {
        rate_cents: 15_000,
        ..medicaid()
    };
    c.store
        .update_payer(&manage, id, &cheaper, false)
        .await
        .expect("update");
    c.store
        .update_payer(&manage, id, &cheaper, true)
        .await
        .expect("retire");
    assert!(matches!(
        c.store.update_payer(&manage, id, &cheaper, false).await,
        Err(StoreError::Conflict(_))
    ));
    let log = raw_strings(
        &c.store,
        "SELECT action || ': ' || detail FROM audit_log WHERE record_type = 'payer' ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        log,
        [
            "create: claim type professional",
            "update: rate 16500 -> 15000, minimum minutes 180 -> 180",
            "retire: rate 15000 -> 15000, minimum minutes 180 -> 180"
        ]
    );

    // Only billing changes payers; clinicians do not even read them.
    assert!(c.store.grant::<can::ManageBilling>(&c.counselor).is_err());
    assert!(c.store.grant::<can::ReadBilling>(&c.counselor).is_err());
}

fn provider(npi: &str) -> BillingProvider {
    BillingProvider {
        legal_name: "Trellis Recovery Services, Inc.".into(),
        npi: npi.into(),
        tax_id: "12-3456789".into(),
        taxonomy: "261QR0405X".into(),
        address_line: "410 Market Street".into(),
        city: "Albany".into(),
        state: "NY".into(),
        zip: "12207".into(),
        place_of_service: "57".into(),
    }
}

#[tokio::test]
async fn a_site_bills_under_an_npi_whose_check_digit_matches() {
    let (c, bill) = billing_clinic().await;
    let manage = c.store.grant::<can::ManageBilling>(&bill).expect("grant");
    // CMS's example NPI with its last digit changed.
    match c
        .store
        .set_billing_provider(&manage, c.site, &provider("1234567890"))
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "npi"),
        other => panic!("expected the NPI refused, got {other:?}"),
    }
    assert_eq!(
        raw_strings(&c.store, "SELECT npi FROM billing_providers")
            .await
            .expect("raw")
            .len(),
        0
    );
    c.store
        .set_billing_provider(&manage, c.site, &provider("1234567893"))
        .await
        .expect("save");
    // Saving again replaces the site's settings.
    c.store
        .set_billing_provider(&manage, c.site, &provider("1584720399"))
        .await
        .expect("replace");
    let read = c.store.grant::<can::ReadBilling>(&bill).expect("grant");
    let all = c.store.billing_providers(&read).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].provider.npi, "1584720399");
    assert_eq!(all[0].provider.tax_id, "123456789");
    assert!(matches!(
        c.store
            .set_billing_provider(&manage, 999_999, &provider("1234567893"))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn coverages_are_sealed_audited_and_billing_s_alone() {
    let (c, bill) = billing_clinic().await;
    let manage = c.store.grant::<can::ManageBilling>(&bill).expect("grant");
    let payer = c
        .store
        .add_payer(&manage, &medicaid())
        .await
        .expect("payer");
    let patient = admitted_to(&c, "Alex", "Rivera", c.program).await;
    let other = admitted_to(&c, "Sam", "Ortiz", c.program).await;
    let grant = c
        .store
        .patient_grant::<can::ManageBilling>(&bill, patient)
        .await
        .expect("grant");
    let terms = CoverageTerms {
        rank: CoverageRank::Primary,
        payer_id: Some(payer),
        relationship: SubscriberRelationship::Spouse,
        subscriber_name: "Jordan  Quillfeather".into(),
        member_id: "mc44100017".into(),
        group_number: String::new(),
        effective_from: today() - Duration::days(30),
        effective_to: None,
    };
    let coverage = c.store.add_coverage(&grant, &terms).await.expect("add");

    // Bad input names its field and stores nothing.
    for (bad, field) in [
        (
            CoverageTerms {
                subscriber_name: " ".into(),
                ..terms.clone()
            },
            "subscriber_name",
        ),
        (
            CoverageTerms {
                payer_id: None,
                ..terms.clone()
            },
            "payer_id",
        ),
        (
            CoverageTerms {
                payer_id: Some(999_999),
                ..terms.clone()
            },
            "payer_id",
        ),
        (
            CoverageTerms {
                effective_to: Some(today() - Duration::days(31)),
                ..terms.clone()
            },
            "effective_to",
        ),
        (
            CoverageTerms {
                member_id: "MC 4410".into(),
                ..terms.clone()
            },
            "member_id",
        ),
    ] {
        match c.store.add_coverage(&grant, &bad).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, field),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    assert_eq!(count(&c, "coverages").await, 1);

    // Eligibility: a future day is refused; another patient's coverage is not found.
    let check = |on| NewEligibilityCheck {
        checked_on: on,
        method: EligibilityMethod::Phone,
        result: EligibilityResult::Active,
        reference: "Call ref 88213, spoke to Dee".into(),
    };
    match c
        .store
        .record_eligibility_check(
            &grant,
            coverage,
            &check(today() + Duration::days(1)),
            today(),
        )
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "checked_on"),
        other => panic!("expected a future check refused, got {other:?}"),
    }
    let other_grant = c
        .store
        .patient_grant::<can::ManageBilling>(&bill, other)
        .await
        .expect("grant");
    assert!(matches!(
        c.store
            .record_eligibility_check(&other_grant, coverage, &check(today()), today())
            .await,
        Err(StoreError::NotFound(_))
    ));
    c.store
        .record_eligibility_check(&grant, coverage, &check(today()), today())
        .await
        .expect("check");

    let read = c
        .store
        .patient_grant::<can::ReadBilling>(&bill, patient)
        .await
        .expect("grant");
    let listed = c.store.coverages(&read).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].terms.subscriber_name, "Jordan Quillfeather");
    assert_eq!(listed[0].terms.member_id, "MC44100017");
    assert_eq!(listed[0].payer_name.as_deref(), Some("State Medicaid"));
    assert_eq!(listed[0].checks.len(), 1);
    assert_eq!(
        listed[0].checks[0].reference,
        "Call ref 88213, spoke to Dee"
    );
    let none = c
        .store
        .patient_grant::<can::ReadBilling>(&bill, other)
        .await
        .expect("grant");
    assert!(c.store.coverages(&none).await.expect("list").is_empty());

    // Ending it: the last day is given; on the day after it is no longer in force.
    let ended = CoverageTerms {
        effective_to: Some(today() - Duration::days(1)),
        ..terms.clone()
    };
    c.store
        .update_coverage(&grant, coverage, &ended)
        .await
        .expect("end");
    let listed = c.store.coverages(&read).await.expect("list");
    assert!(!listed[0].terms.in_force_on(today()));
    assert!(matches!(
        c.store
            .update_coverage(&other_grant, coverage, &ended)
            .await,
        Err(StoreError::NotFound(_))
    ));

    // The subscriber's name, the member id and the reference are ciphertext on either engine.
    let sealed = [
        raw_strings(&c.store, "SELECT details FROM coverages")
            .await
            .expect("raw"),
        raw_strings(&c.store, "SELECT reference FROM eligibility_checks")
            .await
            .expect("raw"),
    ]
    .concat();
    assert!(
        sealed.iter().all(|v| v.starts_with("enc:v1:")),
        "{sealed:?}"
    );
    assert!(!sealed
        .iter()
        .any(|v| v.contains("Quillfeather") || v.contains("MC4410") || v.contains("88213")));

    // Every read and write is in the patient's audit trail, without the card's ids.
    let log = raw_strings(
        &c.store,
        &format!(
            "SELECT action || ' ' || record_type || ': ' || detail FROM audit_log
             WHERE patient_id = {patient} AND record_type IN ('coverage', 'coverages',
               'eligibility_check') ORDER BY id"
        ),
    )
    .await
    .expect("audit");
    assert_eq!(
        log,
        [
            format!("create coverage: primary payer {payer}"),
            format!("create eligibility_check: coverage {coverage}: active"),
            "read coverages: 1 coverages".to_owned(),
            format!("update coverage: primary payer {payer}"),
            "read coverages: 1 coverages".to_owned(),
        ]
    );

    // Clinicians hold no billing permission: the refusal is audited under the patient.
    assert!(matches!(
        c.store
            .patient_grant::<can::ReadBilling>(&c.counselor, patient)
            .await,
        Err(StoreError::Denied(_))
    ));
}

#[tokio::test]
async fn self_pay_names_no_plan_and_keeps_no_card() {
    let (c, bill) = billing_clinic().await;
    let patient = admitted_to(&c, "Robin", "Vale", c.program).await;
    let grant = c
        .store
        .patient_grant::<can::ManageBilling>(&bill, patient)
        .await
        .expect("grant");
    c.store
        .add_coverage(
            &grant,
            &CoverageTerms {
                rank: CoverageRank::SelfPay,
                payer_id: None,
                relationship: SubscriberRelationship::Own,
                subscriber_name: "ignored".into(),
                member_id: "IGNORED".into(),
                group_number: String::new(),
                effective_from: today(),
                effective_to: None,
            },
        )
        .await
        .expect("self-pay");
    let read = c
        .store
        .patient_grant::<can::ReadBilling>(&bill, patient)
        .await
        .expect("grant");
    let listed = c.store.coverages(&read).await.expect("list");
    assert_eq!(listed[0].terms.rank, CoverageRank::SelfPay);
    assert_eq!(listed[0].terms.member_id, "");
    assert_eq!(listed[0].terms.subscriber_name, "");
    assert_eq!(listed[0].payer_name, None);
}
