//! The Part 2 recipient directory (issue 11, item 4): the privacy officer alone keeps recipients
//! and their class, disclosures choose an entry, and a treatment, payment and operations consent
//! never reaches law enforcement, courts, employers or family members. SQLite by default,
//! PostgreSQL with TRELLIS_TEST_DATABASE=postgres.

mod common;

use chrono::Duration;
use common::{clinic, register, staff, today, Clinic};
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::consent::{
    DisclosureRefusal, Expiry, InformationCategory as Cat, Purpose, Recipient, RecipientKind,
    DEFAULT_REVOCATION_STATEMENT, DEFAULT_TPO_REDISCLOSURE_STATEMENT, TPO_GENERIC_RECIPIENTS,
};
use trellis_storage::access::{can, Actor};
use trellis_storage::confidentiality::{DisclosureInput, DisclosureOutcome, NewConsent};
use trellis_storage::episodes::Admission;
use trellis_storage::recipients::NewRecipient;
use trellis_storage::testing::raw_strings;
use trellis_storage::StoreError;

/// The clinic, one admitted patient of the counselor with a TPO consent, and a privacy officer.
async fn setting() -> (Clinic, i64, Actor) {
    let c = clinic().await;
    let privacy = staff(&c.store, "pat", Role::PrivacyOfficer).await;
    let patient = register(&c, "Alex", "Rivera").await;
    let admit = c
        .store
        .patient_grant::<can::AdmitEpisode>(&c.intake, patient)
        .await
        .expect("grant");
    c.store
        .admit(
            &admit,
            &Admission {
                program_id: c.program,
                admitted_on: today() - Duration::days(10),
                referral_source: "Self".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    let consents = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
        .record_consent(
            &consents,
            &NewConsent {
                disclosing_program: "Adult SUD IOP".into(),
                categories: [Cat::Demographics, Cat::Attendance, Cat::BillingAndClaims].into(),
                information_description: String::new(),
                recipients: vec![Recipient::TpoGeneric {
                    description: TPO_GENERIC_RECIPIENTS.into(),
                }],
                purposes: [
                    Purpose::Treatment,
                    Purpose::Payment,
                    Purpose::HealthCareOperations,
                ]
                .into(),
                other_purpose: String::new(),
                redisclosure_statement: DEFAULT_TPO_REDISCLOSURE_STATEMENT.into(),
                revocation_statement: DEFAULT_REVOCATION_STATEMENT.into(),
                expiry: Some(Expiry::EndOfTreatment { ended_at: None }),
                signer_name: "Alex Rivera".into(),
                signer_relationship: None,
                signer_authority: Some(trellis_domain::consent::SignerAuthority::Patient),
                minor_also_signed: false,
                court_document: String::new(),
                signed_on: Some(today()),
                collateral_id: None,
                criminal_justice: None,
            },
        )
        .await
        .expect("consent");
    (c, patient, privacy)
}

fn entry(name: &str, kind: RecipientKind) -> NewRecipient {
    NewRecipient {
        name: name.into(),
        kind,
        contact: "Fax 555-201-0000".into(),
    }
}

async fn add(c: &Clinic, privacy: &Actor, name: &str, kind: RecipientKind) -> i64 {
    let grant = c
        .store
        .grant::<can::ManageRecipients>(privacy)
        .expect("grant");
    c.store
        .add_recipient(&grant, &entry(name, kind))
        .await
        .expect("add recipient")
}

fn request(recipient_id: i64, purpose: Purpose) -> DisclosureInput {
    DisclosureInput {
        recipient_id: Some(recipient_id),
        purpose,
        purpose_detail: String::new(),
        categories: [Cat::Attendance].into(),
    }
}

async fn disclose(
    c: &Clinic,
    patient: i64,
    input: &DisclosureInput,
) -> Result<DisclosureOutcome, StoreError> {
    let grant = c
        .store
        .patient_grant::<can::Disclose>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store.disclose(&grant, input).await
}

#[tokio::test]
async fn a_tpo_consent_no_longer_reaches_a_probation_officer_or_an_employer() {
    let (c, patient, privacy) = setting().await;
    let officer = add(
        &c,
        &privacy,
        "Officer Dana Lee, County Probation",
        RecipientKind::LawEnforcement,
    )
    .await;
    let employer = add(&c, &privacy, "Acme Staffing", RecipientKind::Employer).await;
    let plan = add(
        &c,
        &privacy,
        "Valley Health Plan",
        RecipientKind::HealthPlan,
    )
    .await;

    // The findings: the officer disclosed to "as program operations", the employer "as a health
    // plan". The class is the directory's, so the TPO consent is refused for both.
    for (to, purpose, kind) in [
        (
            officer,
            Purpose::HealthCareOperations,
            RecipientKind::LawEnforcement,
        ),
        (employer, Purpose::Payment, RecipientKind::Employer),
    ] {
        match disclose(&c, patient, &request(to, purpose)).await {
            Ok(DisclosureOutcome::Refused(r)) => {
                assert_eq!(r, DisclosureRefusal::BeyondTpo { kind })
            }
            Ok(DisclosureOutcome::Made(d)) => panic!("disclosed {} to {kind}", d.id),
            Err(e) => panic!("{e}"),
        }
    }
    let refusals = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'disclosure_refused' ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(refusals.len(), 2);
    assert!(
        refusals[0].contains("class law_enforcement"),
        "{refusals:?}"
    );
    assert!(
        refusals[1].ends_with("recipient beyond a TPO consent"),
        "{refusals:?}"
    );

    // A health plan in the directory is covered, and the accounting links the entry.
    let made = match disclose(&c, patient, &request(plan, Purpose::Payment)).await {
        Ok(DisclosureOutcome::Made(d)) => d,
        other => panic!("expected a disclosure, got {other:?}"),
    };
    assert_eq!(made.recipient, "Valley Health Plan");
    let linked = raw_strings(
        &c.store,
        &format!(
            "SELECT CAST(recipient_id AS TEXT) FROM disclosures WHERE id = {}",
            made.id
        ),
    )
    .await
    .expect("row");
    assert_eq!(linked, [plan.to_string()]);
}

#[tokio::test]
async fn only_the_privacy_officer_keeps_the_directory_and_every_change_is_audited() {
    let (c, patient, privacy) = setting().await;
    // A counselor (who may disclose) cannot list a recipient or set a class.
    assert!(matches!(
        c.store.grant::<can::ManageRecipients>(&c.counselor),
        Err(StoreError::Denied(_))
    ));
    let grant = c
        .store
        .grant::<can::ManageRecipients>(&privacy)
        .expect("grant");
    let id = add(&c, &privacy, "County Drug Court", RecipientKind::Other).await;

    // Bad input: no name, a name too long, a duplicate name.
    for (bad, field) in [
        (entry("  ", RecipientKind::Court), "name"),
        (entry(&"x".repeat(301), RecipientKind::Court), "name"),
        (entry("county  DRUG court", RecipientKind::Court), "name"),
    ] {
        match c.store.add_recipient(&grant, &bad).await {
            Err(StoreError::Invalid(errors)) => assert_eq!(errors[0].field, field),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    // The privacy officer corrects the class; the log keeps the old and new class, not the name.
    c.store
        .update_recipient(
            &grant,
            id,
            &entry("County Drug Court", RecipientKind::Court),
            false,
        )
        .await
        .expect("update");
    let details = raw_strings(
        &c.store,
        "SELECT action || ': ' || detail FROM audit_log
         WHERE record_type = 'disclosure_recipient' ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(
        details,
        ["create: class other", "update: class other -> court"]
    );
    let stored = raw_strings(&c.store, "SELECT details FROM disclosure_recipients")
        .await
        .expect("raw");
    assert!(stored.iter().all(|d| !d.contains("Drug")), "{stored:?}");

    // The directory lists it for anyone who may disclose.
    let disclosers = c.store.grant::<can::Disclose>(&c.counselor).expect("grant");
    let listed = c.store.recipients(&disclosers).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].recipient.kind, RecipientKind::Court);

    // Retired: no new disclosures, and no more changes.
    c.store
        .update_recipient(
            &grant,
            id,
            &entry("County Drug Court", RecipientKind::Court),
            true,
        )
        .await
        .expect("retire");
    match disclose(&c, patient, &request(id, Purpose::LegalProceedings)).await {
        Err(StoreError::Invalid(errors)) => assert_eq!(errors[0].field, "recipient_id"),
        other => panic!("expected invalid, got {other:?}"),
    }
    assert!(matches!(
        c.store
            .update_recipient(&grant, id, &entry("Court", RecipientKind::Court), false)
            .await,
        Err(StoreError::Conflict(_))
    ));

    // A disclosure must name an entry that exists.
    for missing in [None, Some(id + 100)] {
        let input = DisclosureInput {
            recipient_id: missing,
            ..request(id, Purpose::LegalProceedings)
        };
        match disclose(&c, patient, &input).await {
            Err(StoreError::Invalid(errors)) => assert_eq!(errors[0].field, "recipient_id"),
            other => panic!("expected invalid, got {other:?}"),
        }
    }
    assert!(matches!(
        c.store
            .update_recipient(
                &grant,
                id + 100,
                &entry("Nobody", RecipientKind::Other),
                false
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// Words of the recipient, collateral and disclosure below that must never be stored in the clear.
const CLEAR_WORDS: [&str; 8] = [
    "Quillfeather",
    "Brightwater",
    "555-707-3131",
    "quill@brightwater.example",
    "Oksana",
    "Vantongeren",
    "555-808-4242",
    "ov@family.example",
];

#[tokio::test]
async fn recipients_and_collateral_contacts_names_and_contact_details_are_not_stored_in_the_clear()
{
    let (c, patient, privacy) = setting().await;
    let grant = c
        .store
        .grant::<can::ManageRecipients>(&privacy)
        .expect("grant");
    let plan = c
        .store
        .add_recipient(
            &grant,
            &NewRecipient {
                name: "Quillfeather Brightwater Health Plan".into(),
                kind: RecipientKind::HealthPlan,
                contact: "Fax 555-707-3131, quill@brightwater.example".into(),
            },
        )
        .await
        .expect("add recipient");
    let consents = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
        .add_collateral(
            &consents,
            &trellis_storage::collaterals::NewCollateral {
                relationship: trellis_domain::consent::CollateralRelationship::Spouse,
                name: "Oksana Vantongeren".into(),
                organisation: String::new(),
                phone: "555-808-4242".into(),
                email: "ov@family.example".into(),
                notes: String::new(),
            },
        )
        .await
        .expect("add collateral");
    let made = match disclose(&c, patient, &request(plan, Purpose::Payment)).await {
        Ok(DisclosureOutcome::Made(d)) => d,
        other => panic!("expected a disclosure, got {other:?}"),
    };

    // Every column that holds a name or contact detail is ciphertext, on either engine.
    let mut everything = Vec::new();
    for (table, column) in [
        ("disclosure_recipients", "details"),
        ("collateral_contacts", "details"),
        ("disclosures", "recipient"),
        ("disclosures", "packet"),
        ("consents", "body"),
    ] {
        let stored = raw_strings(&c.store, &format!("SELECT {column} FROM {table}"))
            .await
            .expect("raw read");
        assert!(!stored.is_empty(), "{table}.{column} has rows");
        assert!(
            stored.iter().all(|v| v.starts_with("enc:v1:")),
            "{table}.{column} is not sealed"
        );
        everything.extend(stored);
    }
    for word in CLEAR_WORDS {
        assert!(
            !everything.iter().any(|v| v.contains(word)),
            "{word} found in the clear"
        );
    }
    // On SQLite, the files themselves (database and write-ahead log) hold none of it either.
    if c.store.engine() == trellis_storage::Engine::Sqlite {
        let path = c.store.sqlite_path().expect("sqlite path").to_owned();
        let mut bytes = std::fs::read(&path).expect("database file");
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        for word in CLEAR_WORDS {
            assert!(
                !bytes.windows(word.len()).any(|w| w == word.as_bytes()),
                "{word} found in the database files"
            );
        }
    }

    // Finding a recipient by name still works: the directory is read and matched by name (the
    // disclosure form's list, and a second entry with the same name refused whatever its case).
    let disclosers = c.store.grant::<can::Disclose>(&c.counselor).expect("grant");
    let listed = c.store.recipients(&disclosers).await.expect("list");
    assert!(listed
        .iter()
        .any(|r| r.id == plan && r.recipient.name == "Quillfeather Brightwater Health Plan"));
    match c
        .store
        .add_recipient(
            &grant,
            &entry(
                "quillfeather  BRIGHTWATER health plan",
                RecipientKind::HealthPlan,
            ),
        )
        .await
    {
        Err(StoreError::Invalid(errors)) => assert_eq!(errors[0].field, "name"),
        other => panic!("expected the name to be found taken, got {other:?}"),
    }
    // And everything reads back.
    assert_eq!(made.recipient, "Quillfeather Brightwater Health Plan");
    let contacts = c.store.collaterals(&consents).await.expect("collaterals");
    assert_eq!(contacts[0].contact.name, "Oksana Vantongeren");
    assert_eq!(contacts[0].contact.email, "ov@family.example");
}
