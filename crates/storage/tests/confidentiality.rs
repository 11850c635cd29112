//! 42 CFR Part 2 storage tests: consents, the consent-checked disclosure path, the accounting of
//! disclosures and emergency access. SQLite by default, PostgreSQL with
//! TRELLIS_TEST_DATABASE=postgres.

mod common;

use chrono::{Duration, NaiveDate, Utc};
use common::listed;
use trellis_domain::access::Role;
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_domain::consent::{
    criminal_justice, AuditBody, BoardDetermination, CourtDocument, CourtOrder, CriminalJustice,
    CriminalJusticeCondition, LiftGround, OrderPurpose, RestrictionDecision, Revocability, Terms,
};
use trellis_domain::consent::{
    DisclosureRefusal, EmergencyGround, Expiry, InformationCategory as Cat, NoticeForm, Purpose,
    Recipient, RecipientKind, COUNSELING_NOTES_STATEMENT, DEFAULT_REVOCATION_STATEMENT,
    DEFAULT_TPO_REDISCLOSURE_STATEMENT, NOTICE_STATEMENT_1, NOTICE_VERSION, TPO_GENERIC_RECIPIENTS,
};
use trellis_domain::patient::Registration;
use trellis_storage::access::{can, Actor};
use trellis_storage::confidentiality::authorities::{
    AuthorisedDisclosureInput, AuthorisedOutcome, NewAuthority,
};
use trellis_storage::confidentiality::{
    DisclosureInput, DisclosureOutcome, EmergencyAccess, EmergencyDisclosureInput, NewConsent,
    WrittenRevocation,
};
use trellis_storage::counseling_notes::NewCounselingNote;
use trellis_storage::episodes::Admission;
use trellis_storage::org::{NewProgram, NewSite};
use trellis_storage::patients::RegisterOutcome;
use trellis_storage::privacy::restrictions::NewRestriction;
use trellis_storage::staff::NewStaff;
use trellis_storage::testing::{fresh_store, open_sealed, raw_execute, raw_strings};
use trellis_storage::{Store, StoreError};

struct Clinic {
    store: Store,
    patient: i64,
    counselor: Actor,
    outsider: Actor,
    privacy: Actor,
    billing: Actor,
    /// Recipient directory entries, kept by the privacy officer.
    probation_office: i64,
    employer: i64,
    health_plan: i64,
    officer_lee: i64,
}

async fn staff(store: &Store, username: &str, role: Role) -> Actor {
    let admin = Actor::system("test");
    let grant = store.grant::<can::ManageUsers>(&admin).expect("grant");
    let id = store
        .create_staff(
            &grant,
            &NewStaff {
                username: username.into(),
                display_name: username.into(),
                email: None,
                role,
                password: "correct horse battery".into(),
            },
        )
        .await
        .expect("create staff");
    Actor {
        user_id: Some(id),
        username: username.into(),
        role,
        ip: None,
        request_id: None,
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn clinic() -> Clinic {
    let store = fresh_store().await.expect("fresh store");
    let admin = Actor::system("test");
    let programs = store.grant::<can::ManagePrograms>(&admin).expect("grant");
    // UTC keeps "today" the same for the test and the store.
    let site = store
        .create_site(
            &programs,
            NewSite {
                code: "DTN".into(),
                name: "Downtown".into(),
                timezone: "UTC".into(),
                address: None,
                phone: None,
            },
        )
        .await
        .expect("site");
    let program = |name: &str| NewProgram {
        site_id: site,
        name: name.into(),
        population: "adult".into(),
        level_of_care: LevelOfCare::IntensiveOutpatient,
        weekly_minimum_hours: 9.0,
        max_group_size: 12,
    };
    let main = store
        .create_program(&programs, program("Adult SUD IOP"))
        .await
        .expect("program");
    let other = store
        .create_program(&programs, program("Co-occurring IOP"))
        .await
        .expect("program");
    let counselor = staff(&store, "casey", Role::Counselor).await;
    let outsider = staff(&store, "olive", Role::Counselor).await;
    let intake = staff(&store, "ingrid", Role::Intake).await;
    let privacy = staff(&store, "pat", Role::PrivacyOfficer).await;
    let billing = staff(&store, "bill", Role::Billing).await;
    let users = store.grant::<can::ManageUsers>(&admin).expect("grant");
    for (actor, assignment) in [
        (&counselor, (site, Some(main))),
        (&outsider, (site, Some(other))),
        (&intake, (site, None)),
        (&privacy, (site, None)),
        (&billing, (site, None)),
    ] {
        store
            .set_assignments(&users, actor.user_id.expect("id"), &[assignment])
            .await
            .expect("assign");
    }
    let edit = store
        .grant::<can::EditDemographics>(&intake)
        .expect("grant");
    let patient = match store
        .register_patient(
            &edit,
            site,
            &Registration {
                legal_first_name: "Alex".into(),
                legal_last_name: "Rivera".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1990, 5, 17),
                sex: "female".into(),
                ..Registration::default()
            },
            today(),
            false,
        )
        .await
        .expect("register")
    {
        RegisterOutcome::Created(id) => id,
        other => panic!("expected a new patient, got {other:?}"),
    };
    let admit = store
        .patient_grant::<can::AdmitEpisode>(&intake, patient)
        .await
        .expect("grant");
    store
        .admit(
            &admit,
            &Admission {
                program_id: main,
                admitted_on: today() - Duration::days(10),
                referral_source: "Court or criminal justice".into(),
                primary_counselor_id: counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    let probation_office = listed(
        &store,
        &privacy,
        "Jordan Lee, County Probation",
        RecipientKind::LawEnforcement,
    )
    .await;
    let employer = listed(&store, &privacy, "Acme Staffing", RecipientKind::Employer).await;
    let health_plan = listed(
        &store,
        &privacy,
        "Valley Health Plan",
        RecipientKind::HealthPlan,
    )
    .await;
    let officer_lee = listed(
        &store,
        &privacy,
        "Officer J. Lee, Probation Dept.",
        RecipientKind::LawEnforcement,
    )
    .await;
    Clinic {
        store,
        patient,
        counselor,
        outsider,
        privacy,
        billing,
        probation_office,
        employer,
        health_plan,
        officer_lee,
    }
}

fn probation_consent(expires: NaiveDate) -> NewConsent {
    NewConsent {
        disclosing_program: "Adult SUD IOP".into(),
        categories: [Cat::Attendance, Cat::DrugScreens].into(),
        information_description: "attendance and drug screen results".into(),
        recipients: vec![Recipient::Named {
            name: "Jordan Lee, County Probation".into(),
        }],
        purposes: [Purpose::LegalProceedings].into(),
        other_purpose: String::new(),
        redisclosure_statement: String::new(),
        revocation_statement: DEFAULT_REVOCATION_STATEMENT.into(),
        expiry: Some(Expiry::OnDate { date: expires }),
        signer_name: "Alex Rivera".into(),
        signer_relationship: None,
        signer_authority: Some(trellis_domain::consent::SignerAuthority::Patient),
        minor_also_signed: false,
        court_document: String::new(),
        signed_on: Some(today() - Duration::days(5)),
        collateral_id: None,
        criminal_justice: None,
    }
}

fn tpo_consent() -> NewConsent {
    NewConsent {
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
    }
}

fn to_probation(c: &Clinic) -> DisclosureInput {
    DisclosureInput {
        recipient_id: Some(c.probation_office),
        purpose: Purpose::LegalProceedings,
        purpose_detail: String::new(),
        categories: [Cat::Attendance].into(),
    }
}

async fn record(c: &Clinic, consent: &NewConsent) -> i64 {
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    c.store
        .record_consent(&grant, consent)
        .await
        .expect("record consent")
}

async fn disclose(c: &Clinic, input: &DisclosureInput) -> DisclosureOutcome {
    let grant = c
        .store
        .patient_grant::<can::Disclose>(&c.counselor, c.patient)
        .await
        .expect("grant");
    c.store.disclose(&grant, input).await.expect("disclose")
}

fn refused(outcome: DisclosureOutcome) -> DisclosureRefusal {
    match outcome {
        DisclosureOutcome::Refused(r) => r,
        DisclosureOutcome::Made(d) => panic!("expected a refusal, got disclosure {}", d.id),
    }
}

async fn accounting_len(c: &Clinic) -> usize {
    let grant = c
        .store
        .patient_grant::<can::Disclose>(&c.counselor, c.patient)
        .await
        .expect("grant");
    c.store.accounting(&grant).await.expect("accounting").len()
}

#[tokio::test]
async fn disclosure_is_refused_without_consent_and_the_refusal_is_audited() {
    let c = clinic().await;
    assert_eq!(
        refused(disclose(&c, &to_probation(&c)).await),
        DisclosureRefusal::NoConsentOnFile
    );
    assert_eq!(accounting_len(&c).await, 0);
    let audit = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'disclosure_refused'",
    )
    .await
    .expect("audit");
    assert_eq!(audit.len(), 1);
    assert!(audit[0].contains("no consent on file"), "{audit:?}");
    assert!(
        !audit[0].contains("Jordan"),
        "no recipient names in the audit log"
    );
}

#[tokio::test]
async fn disclosure_under_a_matching_consent_carries_notice_and_scope_and_is_accounted_for() {
    let c = clinic().await;
    let consent = record(&c, &probation_consent(today() + Duration::days(90))).await;
    let made = match disclose(&c, &to_probation(&c)).await {
        DisclosureOutcome::Made(d) => d,
        DisclosureOutcome::Refused(r) => panic!("refused: {r}"),
    };
    assert_eq!(made.consent_id, Some(consent));
    assert_eq!(made.packet.notice, NOTICE_STATEMENT_1);
    assert_eq!(made.packet.notice_version, NOTICE_VERSION);
    assert!(made.packet.consent_scope.contains("Jordan Lee"));
    assert!(made.packet.sections[0].lines[0].contains("Adult SUD IOP"));

    // The privacy officer's choice of statement is used from then on.
    let po = c.store.grant::<can::ReadAudit>(&c.privacy).expect("grant");
    c.store
        .set_disclosure_notice(&po, NoticeForm::Short)
        .await
        .expect("set notice");
    let second = match disclose(&c, &to_probation(&c)).await {
        DisclosureOutcome::Made(d) => d,
        DisclosureOutcome::Refused(r) => panic!("refused: {r}"),
    };
    assert_eq!(
        second.packet.notice,
        "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
    );

    let grant = c
        .store
        .patient_grant::<can::Disclose>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let accounting = c.store.accounting(&grant).await.expect("accounting");
    assert_eq!(
        accounting.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![second.id, made.id]
    );
    assert_eq!(accounting[1].recipient, "Jordan Lee, County Probation");
    assert_eq!(accounting[1].disclosed_by, "casey");
    let one = c.store.disclosure(&grant, made.id).await.expect("packet");
    assert_eq!(one.packet, made.packet);

    // Recipients and packets are sealed at rest.
    let raw = raw_strings(&c.store, "SELECT recipient || packet FROM disclosures")
        .await
        .expect("raw");
    assert!(raw
        .iter()
        .all(|r| !r.contains("Jordan") && !r.contains("Rivera")));
    let raw = raw_strings(&c.store, "SELECT body FROM consents")
        .await
        .expect("raw");
    assert!(raw
        .iter()
        .all(|r| !r.contains("Jordan") && !r.contains("Rivera")));
}

#[tokio::test]
async fn disclosure_is_refused_for_another_recipient_purpose_or_information() {
    let c = clinic().await;
    record(&c, &probation_consent(today() + Duration::days(90))).await;
    let mut other_recipient = to_probation(&c);
    other_recipient.recipient_id = Some(c.employer);
    assert!(matches!(
        refused(disclose(&c, &other_recipient).await),
        DisclosureRefusal::DifferentRecipient { .. }
    ));
    let mut other_purpose = to_probation(&c);
    other_purpose.purpose = Purpose::Employment;
    assert!(matches!(
        refused(disclose(&c, &other_purpose).await),
        DisclosureRefusal::DifferentPurpose { .. }
    ));
    let mut more = to_probation(&c);
    more.categories = [Cat::Attendance, Cat::Diagnoses].into();
    assert!(matches!(
        refused(disclose(&c, &more).await),
        DisclosureRefusal::InformationNotCovered { .. }
    ));
    assert_eq!(accounting_len(&c).await, 0);
}

#[tokio::test]
async fn expired_and_revoked_consents_cover_nothing() {
    let c = clinic().await;
    // Signed five days ago, expired yesterday.
    record(&c, &probation_consent(today() - Duration::days(1))).await;
    assert!(matches!(
        refused(disclose(&c, &to_probation(&c)).await),
        DisclosureRefusal::Expired { .. }
    ));

    let live = record(&c, &probation_consent(today() + Duration::days(30))).await;
    assert!(matches!(
        disclose(&c, &to_probation(&c)).await,
        DisclosureOutcome::Made(_)
    ));
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let written = WrittenRevocation {
        received_on: today(),
        text: "I take back my consent to tell probation about my treatment.".into(),
        event_on: None,
    };
    c.store
        .revoke_consent(&grant, live, &written)
        .await
        .expect("revoke");
    assert!(matches!(
        c.store.revoke_consent(&grant, live, &written).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        c.store.revoke_consent(&grant, 999_999, &written).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        refused(disclose(&c, &to_probation(&c)).await),
        DisclosureRefusal::Revoked { .. }
    ));

    let list = c.store.consents(&grant).await.expect("list");
    let states: Vec<&str> = list.iter().map(|r| r.state).collect();
    assert_eq!(states, vec!["revoked", "expired"]);
    assert_eq!(
        list[0]
            .consent
            .revocation
            .as_ref()
            .map(|r| r.recorded_by.as_str()),
        Some("casey")
    );

    let po = c.store.grant::<can::ReadAudit>(&c.privacy).expect("grant");
    let report = c
        .store
        .privacy_report(&po, chrono_tz::UTC, today() - Duration::days(1), today())
        .await
        .expect("report");
    assert_eq!(report.revocations.len(), 1);
    assert_eq!(report.disclosures.len(), 1);
    assert!(matches!(
        c.store
            .privacy_report(&po, chrono_tz::UTC, today(), today() - Duration::days(1))
            .await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn tpo_consent_covers_classes_but_never_proceedings_against_the_patient() {
    let c = clinic().await;
    record(&c, &tpo_consent()).await;
    let to_plan = DisclosureInput {
        recipient_id: Some(c.health_plan),
        purpose: Purpose::Payment,
        purpose_detail: String::new(),
        categories: [Cat::Demographics, Cat::BillingAndClaims].into(),
    };
    let made = match disclose(&c, &to_plan).await {
        DisclosureOutcome::Made(d) => d,
        DisclosureOutcome::Refused(r) => panic!("refused: {r}"),
    };
    assert!(made.packet.sections[0].lines[0].contains("Alex Rivera"));
    assert_eq!(
        refused(disclose(&c, &to_probation(&c)).await),
        DisclosureRefusal::ProceedingsAgainstPatient
    );
}

#[tokio::test]
async fn a_consent_missing_elements_is_rejected_with_each_field_named() {
    let c = clinic().await;
    let mut bad = probation_consent(today() + Duration::days(30));
    bad.recipients.clear();
    bad.signer_name = "Sam Rivera".into();
    bad.revocation_statement = " ".into();
    bad.expiry = None;
    bad.signed_on = Some(today() + Duration::days(3));
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let Err(StoreError::Invalid(errors)) = c.store.record_consent(&grant, &bad).await else {
        panic!("expected invalid");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
    for field in [
        "recipients",
        "signer_relationship",
        "revocation_statement",
        "expiry",
        "signed_on",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    let mut generic = probation_consent(today() + Duration::days(30));
    generic.recipients = vec![Recipient::TpoGeneric {
        description: TPO_GENERIC_RECIPIENTS.into(),
    }];
    assert!(matches!(
        c.store.record_consent(&grant, &generic).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(c.store.consents(&grant).await.expect("list").is_empty());

    let bad_input = DisclosureInput {
        recipient_id: None,
        purpose: Purpose::Other,
        purpose_detail: String::new(),
        categories: Default::default(),
    };
    let disclose = c
        .store
        .patient_grant::<can::Disclose>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let Err(StoreError::Invalid(errors)) = c.store.disclose(&disclose, &bad_input).await else {
        panic!("expected invalid");
    };
    assert_eq!(errors.len(), 3);
}

#[tokio::test]
async fn permissions_billing_cannot_disclose_and_outsiders_are_out_of_scope() {
    let c = clinic().await;
    assert!(matches!(
        c.store
            .patient_grant::<can::Disclose>(&c.billing, c.patient)
            .await,
        Err(StoreError::Denied(_))
    ));
    assert!(matches!(
        c.store
            .patient_grant::<can::ManageConsents>(&c.outsider, c.patient)
            .await,
        Err(StoreError::Denied(_))
    ));
    assert!(c.store.grant::<can::ReadAudit>(&c.counselor).is_err());
    assert!(c.store.grant::<can::BreakGlass>(&c.billing).is_err());
}

fn emergency() -> EmergencyAccess {
    EmergencyAccess {
        ground: EmergencyGround::MedicalEmergency,
        reason: "Patient brought to the ED unresponsive; program closed".into(),
        recipient_name: "Dr Priya Shah".into(),
        recipient_facility: "St. Mary's Emergency Department".into(),
        nature: "Suspected overdose; current medications requested".into(),
    }
}

#[tokio::test]
async fn break_the_glass_needs_a_reason_is_audited_notifies_and_expires() {
    let c = clinic().await;
    let glass = c
        .store
        .grant::<can::BreakGlass>(&c.outsider)
        .expect("grant");
    assert!(c
        .store
        .patient_grant::<can::ReadEpisodes>(&c.outsider, c.patient)
        .await
        .is_err());

    let mut no_reason = emergency();
    no_reason.reason = "   ".into();
    no_reason.recipient_facility = String::new();
    let Err(StoreError::Invalid(errors)) = c.store.break_glass(&glass, c.patient, &no_reason).await
    else {
        panic!("expected invalid");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
    assert_eq!(fields, vec!["reason", "recipient_facility"]);
    assert!(matches!(
        c.store.break_glass(&glass, 999_999, &emergency()).await,
        Err(StoreError::NotFound(_))
    ));

    let until = c
        .store
        .break_glass(&glass, c.patient, &emergency())
        .await
        .expect("break glass");
    let minutes = (until.0 - Utc::now()).num_minutes();
    assert!(
        (58..=60).contains(&minutes),
        "default 60 minutes, got {minutes}"
    );

    let read = c
        .store
        .patient_grant::<can::ReadEpisodes>(&c.outsider, c.patient)
        .await
        .expect("emergency access opens the record");
    c.store.episodes(&read).await.expect("read");
    let marked = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE detail LIKE 'break_glass%'",
    )
    .await
    .expect("audit");
    assert!(
        marked.len() >= 2,
        "the access and the read are marked: {marked:?}"
    );

    let tasks = raw_strings(
        &c.store,
        "SELECT assigned_role FROM tasks WHERE kind = 'break_glass_review'",
    )
    .await
    .expect("tasks");
    assert_eq!(tasks, vec!["privacy_officer".to_owned()]);

    // Opening the record discloses nothing: the accounting stays empty until something is told.
    let po = c.store.grant::<can::ReadAudit>(&c.privacy).expect("grant");
    let report = c
        .store
        .privacy_report(&po, chrono_tz::UTC, today(), today())
        .await
        .expect("report");
    assert_eq!(report.break_glass.len(), 1);
    assert!(report.disclosures.is_empty());

    // Expired access no longer opens the record.
    raw_execute(
        &c.store,
        "UPDATE break_glass SET expires_at = '2000-01-01T00:00:00.000000Z'",
    )
    .await
    .expect("expire");
    assert!(matches!(
        c.store
            .patient_grant::<can::ReadEpisodes>(&c.outsider, c.patient)
            .await,
        Err(StoreError::Denied(_))
    ));
    let raw = raw_strings(&c.store, "SELECT record FROM break_glass")
        .await
        .expect("raw");
    assert!(raw.iter().all(|r| !r.contains("overdose")));
}

#[tokio::test]
async fn break_the_glass_opens_reading_only_and_is_limited_per_person_per_day() {
    let c = clinic().await;
    let glass = c
        .store
        .grant::<can::BreakGlass>(&c.outsider)
        .expect("grant");
    c.store
        .break_glass(&glass, c.patient, &emergency())
        .await
        .expect("break glass");
    // Reading is widened...
    c.store
        .patient_grant::<can::ReadClinical>(&c.outsider, c.patient)
        .await
        .expect("emergency read");
    // ...but not disclosing, consents or writing (the attack review: its widened scope also
    // covered disclosures and consents).
    assert!(matches!(
        c.store
            .patient_grant::<can::Disclose>(&c.outsider, c.patient)
            .await,
        Err(StoreError::Denied(_))
    ));
    assert!(matches!(
        c.store
            .patient_grant::<can::ManageConsents>(&c.outsider, c.patient)
            .await,
        Err(StoreError::Denied(_))
    ));
    assert!(matches!(
        c.store
            .patient_grant::<can::WriteClinical>(&c.outsider, c.patient)
            .await,
        Err(StoreError::Denied(_))
    ));
    // The attack review broke the glass four times in a row: the default allows two a day.
    c.store
        .break_glass(&glass, c.patient, &emergency())
        .await
        .expect("second");
    let third = c.store.break_glass(&glass, c.patient, &emergency()).await;
    let Err(StoreError::Conflict(message)) = third else {
        panic!("expected the daily limit, got {third:?}");
    };
    assert!(message.contains("2 times"), "{message}");
    // Each use raised its own task for the privacy officer; the refusal is audited.
    let tasks = raw_strings(
        &c.store,
        "SELECT assigned_role FROM tasks WHERE kind = 'break_glass_review'",
    )
    .await
    .expect("tasks");
    assert_eq!(tasks.len(), 2);
    let refused = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'access_denied' AND detail LIKE 'break_glass limit%'",
    )
    .await
    .expect("audit");
    assert_eq!(refused.len(), 1);
    // The limit is configurable.
    c.store
        .set_setting("part2.break_glass_per_day", "3")
        .await
        .expect("setting");
    c.store
        .break_glass(&glass, c.patient, &emergency())
        .await
        .expect("third, now allowed");
}

#[tokio::test]
async fn break_the_glass_duration_is_configurable() {
    let c = clinic().await;
    c.store
        .set_setting("part2.break_glass_minutes", "15")
        .await
        .expect("setting");
    let glass = c
        .store
        .grant::<can::BreakGlass>(&c.outsider)
        .expect("grant");
    let until = c
        .store
        .break_glass(&glass, c.patient, &emergency())
        .await
        .expect("break glass");
    let minutes = (until.0 - Utc::now()).num_minutes();
    assert!((13..=15).contains(&minutes), "{minutes}");
}

async fn first_state(c: &Clinic) -> &'static str {
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    c.store.consents(&grant).await.expect("list")[0].state
}

#[tokio::test]
async fn end_of_treatment_is_the_first_discharge_after_signing_and_stays_ended() {
    let c = clinic().await;
    record(&c, &tpo_consent()).await; // signed today
    assert_eq!(first_state(&c).await, "active");
    // An earlier discharge (before signing) is not the end of this consent's treatment.
    raw_execute(
        &c.store,
        "UPDATE episodes SET status = 'discharged', discharged_on = '2000-01-01'",
    )
    .await
    .expect("old discharge");
    assert_eq!(first_state(&c).await, "active");
    raw_execute(
        &c.store,
        &format!("UPDATE episodes SET discharged_on = '{}'", today()),
    )
    .await
    .expect("discharge");
    // Covered through the discharge day, then over: look from tomorrow by moving the stored
    // end back a day (the rule reads the stored end, not the episodes, once it is fixed).
    assert_eq!(first_state(&c).await, "active");
    raw_execute(
        &c.store,
        &format!(
            "UPDATE consents SET treatment_ended_at = '{}'",
            (Utc::now() - Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ),
    )
    .await
    .expect("move end back");
    assert_eq!(first_state(&c).await, "expired");
    // Readmitted: a new open episode does not bring the consent back.
    raw_execute(
        &c.store,
        &format!(
            "INSERT INTO episodes (patient_id, program_id, site_id, status, admitted_on,
                 referral_source, primary_counselor_id, current_level, created_at, created_by)
             SELECT patient_id, program_id, site_id, 'open', '{}', referral_source,
                 primary_counselor_id, current_level, created_at, created_by FROM episodes",
            today()
        ),
    )
    .await
    .expect("readmit");
    assert_eq!(first_state(&c).await, "expired");
}

#[tokio::test]
async fn an_expiry_event_is_recorded_audited_and_ends_the_consent() {
    let c = clinic().await;
    let mut on_event = probation_consent(today());
    on_event.expiry = Some(Expiry::Event {
        description: "the end of my probation".into(),
        occurred_at: None,
    });
    let id = record(&c, &on_event).await;
    let dated = record(&c, &probation_consent(today() + Duration::days(30))).await;
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let bad = [
        (today() + Duration::days(1), "occurred_on"),
        (today() - Duration::days(6), "occurred_on"),
    ];
    for (day, field) in bad {
        let Err(StoreError::Invalid(errors)) = c.store.record_expiry_event(&grant, id, day).await
        else {
            panic!("expected invalid for {day}");
        };
        assert_eq!(errors[0].field, field);
    }
    assert!(matches!(
        c.store.record_expiry_event(&grant, dated, today()).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        c.store.record_expiry_event(&grant, 999_999, today()).await,
        Err(StoreError::NotFound(_))
    ));
    c.store
        .record_expiry_event(&grant, id, today())
        .await
        .expect("record event");
    assert!(matches!(
        c.store.record_expiry_event(&grant, id, today()).await,
        Err(StoreError::Conflict(_))
    ));
    let list = c.store.consents(&grant).await.expect("list");
    let event = list.iter().find(|r| r.id == id).expect("consent");
    assert_eq!(event.state, "expired");
    assert!(matches!(
        event.consent.expiry,
        Some(Expiry::Event {
            occurred_at: Some(_),
            ..
        })
    ));
    let audit = raw_strings(
        &c.store,
        &format!("SELECT action FROM audit_log WHERE record_type = 'consent' AND record_id = {id}"),
    )
    .await
    .expect("audit");
    assert!(audit.iter().any(|a| a == "expire"), "{audit:?}");
}

#[tokio::test]
async fn a_written_revocation_is_kept_with_its_date_and_text() {
    let c = clinic().await;
    let id = record(&c, &probation_consent(today() + Duration::days(30))).await;
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let bad = [
        (today() + Duration::days(1), "In writing.", "received_on"),
        (today() - Duration::days(6), "In writing.", "received_on"),
        (today(), "  ", "revocation_text"),
    ];
    for (received_on, text, field) in bad {
        let written = WrittenRevocation {
            received_on,
            text: text.into(),
            event_on: None,
        };
        let Err(StoreError::Invalid(errors)) = c.store.revoke_consent(&grant, id, &written).await
        else {
            panic!("expected invalid {field}");
        };
        assert_eq!(errors[0].field, field);
    }
    let written = WrittenRevocation {
        received_on: today() - Duration::days(1),
        text: "I, Alex Rivera, revoke my consent to tell probation.".into(),
        event_on: None,
    };
    c.store
        .revoke_consent(&grant, id, &written)
        .await
        .expect("revoke");
    let list = c.store.consents(&grant).await.expect("list");
    assert_eq!(list[0].state, "revoked");
    assert_eq!(list[0].written_revocation.as_ref(), Some(&written));
    // The copy is sealed at rest: it is the patient's own words.
    let raw = raw_strings(&c.store, "SELECT revocation_copy FROM consents")
        .await
        .expect("raw");
    assert!(raw.iter().all(|r| !r.contains("Alex Rivera")));
}

#[tokio::test]
async fn statements_without_the_required_elements_are_refused() {
    let c = clinic().await;
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let mut weak = tpo_consent();
    weak.revocation_statement = "I may revoke this consent.".into();
    weak.redisclosure_statement = "My records may be shared.".into();
    let Err(StoreError::Invalid(errors)) = c.store.record_consent(&grant, &weak).await else {
        panic!("expected invalid");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            "revocation_statement",
            "revocation_statement",
            "redisclosure_statement",
            "redisclosure_statement"
        ]
    );
    assert!(
        errors[1].message.contains("reliance"),
        "{}",
        errors[1].message
    );
}

#[tokio::test]
async fn the_daily_check_tells_the_privacy_officer_and_counselor_once() {
    let c = clinic().await;
    let soon = record(&c, &probation_consent(today() + Duration::days(10))).await;
    record(&c, &probation_consent(today() + Duration::days(40))).await;
    record(&c, &tpo_consent()).await;
    let result = c.store.consent_expiry_check().await.expect("check");
    assert!(result.starts_with("1 consents"), "{result}");
    let tasks = raw_strings(
        &c.store,
        "SELECT COALESCE(assigned_role, '') || '|' || COALESCE(CAST(assigned_to AS TEXT), '')
             || '|' || title FROM tasks WHERE kind = 'consent_expiring' ORDER BY id",
    )
    .await
    .expect("tasks")
    .into_iter()
    .map(|t| {
        let (who, title) = t.rsplit_once('|').expect("title");
        let title = open_sealed(&c.store, "tasks.title", title).expect("sealed title");
        format!("{who}|{title}")
    })
    .collect::<Vec<_>>();
    let counselor = c.counselor.user_id.expect("id");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert!(tasks[0].starts_with("privacy_officer||"), "{tasks:?}");
    assert!(tasks[1].starts_with(&format!("|{counselor}|")), "{tasks:?}");
    assert!(tasks[0].contains(&format!("Consent #{soon}")));
    assert!(!tasks[0].contains("Rivera") && !tasks[0].contains("Probation"));
    // Run again (another day, another server): nothing new.
    let again = c.store.consent_expiry_check().await.expect("again");
    assert!(again.starts_with("0 consents"), "{again}");
    // The check is one of the recurring jobs, scheduled once per day whoever asks.
    c.store.schedule_recurring().await.expect("schedule");
    c.store.schedule_recurring().await.expect("schedule again");
    let jobs = raw_strings(
        &c.store,
        "SELECT kind FROM jobs WHERE kind = 'consent_expiry'",
    )
    .await
    .expect("jobs");
    assert_eq!(jobs.len(), 1);
}

#[tokio::test]
async fn a_backup_file_holds_no_consent_or_disclosure_text_in_clear() {
    if trellis_storage::testing::engine() != trellis_storage::Engine::Sqlite {
        // PostgreSQL backups are pg_dump's; the columns are the same ciphertext.
        return;
    }
    let c = clinic().await;
    record(&c, &probation_consent(today() + Duration::days(30))).await;
    assert!(matches!(
        disclose(&c, &to_probation(&c)).await,
        DisclosureOutcome::Made(_)
    ));
    let dir = std::env::temp_dir().join(format!(
        "trellis-backup-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("backup.db");
    c.store.backup_sqlite(&file).await.expect("backup");
    let bytes = std::fs::read(&file).expect("read backup");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("County Probation"));
    assert!(!text.contains("drug screen results"));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

fn officer() -> trellis_storage::collaterals::NewCollateral {
    trellis_storage::collaterals::NewCollateral {
        relationship: trellis_domain::consent::CollateralRelationship::ProbationOfficer,
        name: "Jordan Lee".into(),
        organisation: "County Probation".into(),
        phone: "555-201-3344".into(),
        email: "jlee@probation.example.org".into(),
        notes: "Prefers email".into(),
    }
}

#[tokio::test]
async fn collateral_contacts_are_validated_sealed_audited_and_scoped() {
    let c = clinic().await;
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let bad = trellis_storage::collaterals::NewCollateral {
        name: " ".into(),
        phone: "call me".into(),
        email: "not-an-address".into(),
        notes: "x".repeat(2001),
        ..officer()
    };
    match c.store.add_collateral(&grant, &bad).await {
        Err(StoreError::Invalid(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["name", "notes", "phone", "email"]);
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let id = c
        .store
        .add_collateral(&grant, &officer())
        .await
        .expect("add");
    let raw = raw_strings(&c.store, "SELECT details FROM collateral_contacts")
        .await
        .expect("raw");
    assert!(
        !raw[0].contains("Jordan") && !raw[0].contains("555-201-3344"),
        "sealed"
    );
    let list = c.store.collaterals(&grant).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].recipient_label(), "Jordan Lee, County Probation");
    assert!(list[0].may_receive.is_empty(), "no consent yet");
    assert_eq!(list[0].portal_account_id, None);
    assert_eq!(
        c.store.collateral_patient_id(id).await.expect("patient"),
        c.patient
    );
    let actions = raw_strings(
        &c.store,
        "SELECT action FROM audit_log WHERE record_type = 'collateral_contact'",
    )
    .await
    .expect("audit");
    assert_eq!(actions, ["create", "read"]);

    // Billing and counselors outside the program may not see or add contacts.
    for outsider in [&c.billing, &c.outsider] {
        assert!(matches!(
            c.store
                .patient_grant::<can::ManageConsents>(outsider, c.patient)
                .await,
            Err(StoreError::Denied(_))
        ));
    }
    // The privacy officer may.
    let po = c
        .store
        .patient_grant::<can::ManageConsents>(&c.privacy, c.patient)
        .await
        .expect("privacy officer");
    assert_eq!(c.store.collaterals(&po).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_collateral_receives_exactly_what_an_active_consent_allows() {
    let c = clinic().await;
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let officer_id = c
        .store
        .add_collateral(&grant, &officer())
        .await
        .expect("add");
    // A TPO consent never covers a family member or officer by name.
    record(&c, &tpo_consent()).await;
    // The consent's recipient text differs from the contact's name: the link carries it.
    let consent = record(
        &c,
        &NewConsent {
            recipients: vec![Recipient::Named {
                name: "Officer J. Lee, Probation Dept.".into(),
            }],
            collateral_id: Some(officer_id),
            ..probation_consent(today() + Duration::days(60))
        },
    )
    .await;
    let list = c.store.collaterals(&grant).await.expect("list");
    assert_eq!(list[0].linked_consents, [consent]);
    assert_eq!(list[0].may_receive.len(), 1, "{:?}", list[0].may_receive);
    let allowed = &list[0].may_receive[0];
    assert_eq!(allowed.consent_id.0, consent);
    assert_eq!(allowed.purpose, Purpose::LegalProceedings);
    assert_eq!(allowed.recipient, "Officer J. Lee, Probation Dept.");
    assert_eq!(
        allowed.categories,
        [Cat::Attendance, Cat::DrugScreens].into()
    );
    // Disclosing to them goes through the one path and is accounted for.
    let made = disclose(
        &c,
        &DisclosureInput {
            recipient_id: Some(c.officer_lee),
            ..to_probation(&c)
        },
    )
    .await;
    assert!(matches!(made, DisclosureOutcome::Made(_)));
    assert_eq!(accounting_len(&c).await, 1);

    // A consent naming another patient's or an unknown contact is refused.
    match c
        .store
        .record_consent(
            &grant,
            &NewConsent {
                collateral_id: Some(officer_id + 100),
                ..probation_consent(today() + Duration::days(60))
            },
        )
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "collateral_id"),
        other => panic!("expected invalid, got {other:?}"),
    }

    // Revoked: nothing more.
    c.store
        .revoke_consent(
            &grant,
            consent,
            &WrittenRevocation {
                received_on: today(),
                text: "I revoke it.".into(),
                event_on: None,
            },
        )
        .await
        .expect("revoke");
    let list = c.store.collaterals(&grant).await.expect("list");
    assert!(list[0].may_receive.is_empty());

    // A new consent, then the contact is end-dated: nothing, and no more edits.
    record(
        &c,
        &NewConsent {
            collateral_id: Some(officer_id),
            ..probation_consent(today() + Duration::days(60))
        },
    )
    .await;
    assert_eq!(
        c.store.collaterals(&grant).await.expect("list")[0]
            .may_receive
            .len(),
        1
    );
    assert!(matches!(
        c.store
            .end_collateral(&grant, officer_id, today() + Duration::days(1))
            .await,
        Err(StoreError::Invalid(_))
    ));
    c.store
        .end_collateral(&grant, officer_id, today())
        .await
        .expect("end");
    let list = c.store.collaterals(&grant).await.expect("list");
    assert!(!list[0].is_current());
    assert!(list[0].may_receive.is_empty());
    assert!(matches!(
        c.store
            .update_collateral(&grant, officer_id, &officer())
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        c.store.end_collateral(&grant, officer_id, today()).await,
        Err(StoreError::Conflict(_))
    ));
    match c
        .store
        .record_consent(
            &grant,
            &NewConsent {
                collateral_id: Some(officer_id),
                ..probation_consent(today() + Duration::days(60))
            },
        )
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, "collateral_id"),
        other => panic!("expected invalid, got {other:?}"),
    }
}

fn told_the_ed() -> EmergencyDisclosureInput {
    EmergencyDisclosureInput {
        ground: EmergencyGround::MedicalEmergency,
        recipient_name: "Dr Priya Shah".into(),
        recipient_facility: "St. Mary's Emergency Department".into(),
        nature: "Suspected overdose; patient unresponsive".into(),
        categories: [Cat::Demographics].into(),
        information: "Takes buprenorphine 16 mg daily; last dose this morning.".into(),
    }
}

#[tokio::test]
async fn an_emergency_disclosure_is_recorded_when_made_with_what_was_told() {
    let c = clinic().await;
    let glass = c
        .store
        .grant::<can::BreakGlass>(&c.outsider)
        .expect("grant");
    // Outside the patient's programs, nothing may be recorded until the record is opened.
    assert!(c
        .store
        .patient_grant::<can::BreakGlass>(&c.outsider, c.patient)
        .await
        .is_err());
    c.store
        .break_glass(&glass, c.patient, &emergency())
        .await
        .expect("break glass");
    let grant = c
        .store
        .patient_grant::<can::BreakGlass>(&c.outsider, c.patient)
        .await
        .expect("in scope by emergency access");
    let mut nothing = told_the_ed();
    nothing.categories.clear();
    nothing.information = " ".into();
    nothing.recipient_facility = String::new();
    let Err(StoreError::Invalid(errors)) =
        c.store.record_emergency_disclosure(&grant, &nothing).await
    else {
        panic!("expected invalid");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
    assert_eq!(fields, ["recipient_facility", "categories"]);

    let before = Utc::now();
    let made = c
        .store
        .record_emergency_disclosure(&grant, &told_the_ed())
        .await
        .expect("record");
    let facts = made.packet.emergency.as_ref().expect("facts");
    assert_eq!(facts.recipient_name, "Dr Priya Shah");
    assert_eq!(facts.recipient_facility, "St. Mary's Emergency Department");
    assert_eq!(facts.disclosed_by, "olive");
    assert!(facts.disclosed_at.is_some_and(|at| at >= before));
    assert!(facts.nature.contains("overdose"));
    assert_eq!(made.kind, "emergency");
    assert_eq!(made.categories, ["Demographics"]);
    let headings: Vec<&str> = made
        .packet
        .sections
        .iter()
        .map(|s| s.heading.as_str())
        .collect();
    assert_eq!(headings, ["Demographics", "Told to the medical personnel"]);
    assert!(made.packet.sections[1].lines[0].contains("buprenorphine"));

    let po = c.store.grant::<can::ReadAudit>(&c.privacy).expect("grant");
    let report = c
        .store
        .privacy_report(&po, chrono_tz::UTC, today(), today())
        .await
        .expect("report");
    assert_eq!(report.disclosures.len(), 1);
    let tasks = raw_strings(
        &c.store,
        "SELECT assigned_role FROM tasks WHERE kind = 'emergency_disclosure_review'",
    )
    .await
    .expect("tasks");
    assert_eq!(tasks, ["privacy_officer"]);
    // What was told is sealed at rest.
    let raw = raw_strings(&c.store, "SELECT packet FROM disclosures")
        .await
        .expect("raw");
    assert!(raw.iter().all(|p| !p.contains("buprenorphine")));
}

async fn set_up_director(c: &Clinic) -> Actor {
    let director = staff(&c.store, "dana", Role::ClinicalDirector).await;
    let site: Vec<String> = raw_strings(&c.store, "SELECT CAST(id AS TEXT) FROM sites")
        .await
        .expect("site");
    let users = c
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    c.store
        .set_assignments(
            &users,
            director.user_id.expect("id"),
            &[(site[0].parse().expect("id"), None)],
        )
        .await
        .expect("assign");
    director
}

fn counseling_notes_consent() -> NewConsent {
    NewConsent {
        categories: [Cat::CounselingNotes].into(),
        information_description: COUNSELING_NOTES_STATEMENT.into(),
        recipients: vec![Recipient::Named {
            name: "Dr. Sam Ortiz".into(),
        }],
        purposes: [Purpose::Treatment].into(),
        expiry: Some(Expiry::OnDate {
            date: today() + Duration::days(90),
        }),
        signed_on: Some(today()),
        ..tpo_consent()
    }
}

#[tokio::test]
async fn sud_counseling_notes_are_read_by_their_author_alone_and_leave_only_under_their_own_consent(
) {
    let c = clinic().await;
    let director = set_up_director(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let empty = c
        .store
        .write_counseling_note(
            &write,
            &NewCounselingNote {
                session_on: today(),
                text: "  ".into(),
            },
            today(),
        )
        .await;
    assert!(
        matches!(&empty, Err(StoreError::Invalid(f)) if f[0].field == "text"),
        "{empty:?}"
    );
    let future = c
        .store
        .write_counseling_note(
            &write,
            &NewCounselingNote {
                session_on: today() + Duration::days(1),
                text: "x".into(),
            },
            today(),
        )
        .await;
    assert!(
        matches!(&future, Err(StoreError::Invalid(f)) if f[0].field == "session_on"),
        "{future:?}"
    );
    c.store
        .write_counseling_note(
            &write,
            &NewCounselingNote {
                session_on: today(),
                text: "Talked through the brother's relapse and the guilt it stirred.".into(),
            },
            today(),
        )
        .await
        .expect("write");

    // The author reads it; the clinical director (whose role reads every clinical record) and
    // another counselor given the patient by emergency access read none of it.
    let read = |actor: Actor| {
        let store = c.store.clone();
        let patient = c.patient;
        async move {
            let grant = store
                .patient_grant::<can::ReadClinical>(&actor, patient)
                .await
                .expect("grant");
            store.my_counseling_notes(&grant).await.expect("read")
        }
    };
    let own = read(c.counselor.clone()).await;
    assert_eq!(own.len(), 1);
    assert!(own[0].text.contains("brother's relapse"));
    assert!(read(director.clone()).await.is_empty());
    let glass = c
        .store
        .grant::<can::BreakGlass>(&c.outsider)
        .expect("grant");
    c.store
        .break_glass(&glass, c.patient, &emergency())
        .await
        .expect("break glass");
    assert!(read(c.outsider.clone()).await.is_empty());
    // Sealed at rest.
    let raw = raw_strings(&c.store, "SELECT body FROM counseling_notes")
        .await
        .expect("raw");
    assert!(!raw[0].contains("relapse"));

    // A consent that combines counseling notes with anything else is refused, and so is one
    // that does not say treatment does not depend on it.
    let consents = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let mut combined = counseling_notes_consent();
    combined.categories.insert(Cat::DischargeSummary);
    let mut conditioned = counseling_notes_consent();
    conditioned.information_description = "my counselor's notes".into();
    for (consent, message) in [(combined, "nothing else"), (conditioned, "does not depend")] {
        let refused = c.store.record_consent(&consents, &consent).await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid(f)) if f.iter().any(|e| e.message.contains(message))),
            "{refused:?}"
        );
    }

    // Every other category, under a consent covering them all, carries none of the note.
    let ortiz = listed(
        &c.store,
        &c.privacy,
        "Dr. Sam Ortiz",
        RecipientKind::TreatingProvider,
    )
    .await;
    let everything_else: std::collections::BTreeSet<Cat> = Cat::ALL
        .iter()
        .copied()
        .filter(|k| *k != Cat::CounselingNotes)
        .collect();
    record(
        &c,
        &NewConsent {
            categories: everything_else.clone(),
            ..counseling_notes_consent()
        },
    )
    .await;
    let DisclosureOutcome::Made(packet) = disclose(
        &c,
        &DisclosureInput {
            recipient_id: Some(ortiz),
            purpose: Purpose::Treatment,
            purpose_detail: String::new(),
            categories: everything_else,
        },
    )
    .await
    else {
        panic!("expected the disclosure under the consent for everything else");
    };
    let text = serde_json::to_string(&packet.packet).expect("json");
    assert!(!text.contains("relapse"), "{text}");

    // Asking for the notes with anything else is refused: no consent can cover both.
    let both = disclose(
        &c,
        &DisclosureInput {
            recipient_id: Some(ortiz),
            purpose: Purpose::Treatment,
            purpose_detail: String::new(),
            categories: [Cat::CounselingNotes, Cat::Diagnoses].into(),
        },
    )
    .await;
    assert!(matches!(both, DisclosureOutcome::Refused(_)));

    // Under their own consent, the author discloses them; the director, who wrote none, cannot.
    record(&c, &counseling_notes_consent()).await;
    let notes_only = DisclosureInput {
        recipient_id: Some(ortiz),
        purpose: Purpose::Treatment,
        purpose_detail: String::new(),
        categories: [Cat::CounselingNotes].into(),
    };
    let DisclosureOutcome::Made(own) = disclose(&c, &notes_only).await else {
        panic!("expected the author's disclosure");
    };
    assert!(own.packet.sections[0].lines[0].contains("brother's relapse"));
    let by_director = c
        .store
        .patient_grant::<can::Disclose>(&director, c.patient)
        .await
        .expect("grant");
    let theirs = c.store.disclose(&by_director, &notes_only).await;
    assert!(
        matches!(&theirs, Err(StoreError::Invalid(f)) if f[0].field == "categories"),
        "{theirs:?}"
    );

    // An emergency disclosure never carries them.
    let emergency_grant = c
        .store
        .patient_grant::<can::BreakGlass>(&c.outsider, c.patient)
        .await
        .expect("grant");
    let mut told = told_the_ed();
    told.categories.insert(Cat::CounselingNotes);
    let refused = c
        .store
        .record_emergency_disclosure(&emergency_grant, &told)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Invalid(f)) if f[0].field == "categories"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_packet_carries_the_signed_discharge_summary_diagnoses_and_medications() {
    let c = clinic().await;
    let episode: i64 = raw_strings(&c.store, "SELECT CAST(id AS TEXT) FROM episodes")
        .await
        .expect("episode")[0]
        .parse()
        .expect("id");
    let discharge = c
        .store
        .patient_grant::<can::DischargeEpisode>(&c.counselor, c.patient)
        .await
        .expect("grant");
    c.store
        .discharge(
            &discharge,
            episode,
            today() - Duration::days(1),
            DischargeReason::TreatmentCompleted,
            None,
            today(),
        )
        .await
        .expect("discharge");
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let summary = c
        .store
        .generate_discharge_summary(&write, episode)
        .await
        .expect("generate");
    let ortiz = listed(
        &c.store,
        &c.privacy,
        "Dr. Sam Ortiz",
        RecipientKind::TreatingProvider,
    )
    .await;
    record(
        &c,
        &NewConsent {
            categories: [Cat::DischargeSummary, Cat::Diagnoses, Cat::Medications].into(),
            information_description: "discharge summary, diagnoses and medications".into(),
            ..counseling_notes_consent()
        },
    )
    .await;
    let input = DisclosureInput {
        recipient_id: Some(ortiz),
        purpose: Purpose::Treatment,
        purpose_detail: String::new(),
        categories: [Cat::DischargeSummary].into(),
    };
    // A draft never leaves the program.
    let DisclosureOutcome::Made(draft) = disclose(&c, &input).await else {
        panic!("expected a disclosure");
    };
    assert_eq!(
        draft.packet.sections[0].lines,
        ["No signed discharge summary."]
    );
    c.store
        .update_discharge_summary(
            &write,
            summary,
            &std::collections::BTreeMap::from([(
                "course".to_owned(),
                "Engaged well; completed IOP.".to_owned(),
            )]),
        )
        .await
        .expect("edit");
    c.store
        .sign_discharge_summary(&write, summary)
        .await
        .expect("sign");
    let DisclosureOutcome::Made(signed) = disclose(&c, &input).await else {
        panic!("expected a disclosure");
    };
    let lines = &signed.packet.sections[0].lines;
    assert!(
        lines[0].starts_with("Discharge summary signed"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "Course of treatment: Engaged well; completed IOP."),
        "{lines:?}"
    );
    assert_eq!(signed.packet.notice, NOTICE_STATEMENT_1);
    let DisclosureOutcome::Made(other) = disclose(
        &c,
        &DisclosureInput {
            categories: [Cat::Diagnoses, Cat::Medications].into(),
            ..input
        },
    )
    .await
    else {
        panic!("expected a disclosure");
    };
    let headings: Vec<&str> = other
        .packet
        .sections
        .iter()
        .map(|s| s.heading.as_str())
        .collect();
    assert_eq!(headings, ["Diagnoses", "Medications"]);
    assert_eq!(other.packet.sections[0].lines, ["No diagnoses recorded."]);
    assert_eq!(accounting_len(&c).await, 3);
}

fn court_order(c: &Clinic) -> NewAuthority {
    NewAuthority {
        terms: Terms::CourtOrder(CourtOrder {
            document: CourtDocument::Order,
            court: "County Superior Court".into(),
            case_number: "FC-2026-118".into(),
            purpose: OrderPurpose::Noncriminal,
            other_means_unavailable: true,
            public_interest_outweighs: true,
            extremely_serious_crime: false,
            substantial_value: false,
            program_heard: false,
            communications_ground: None,
            protective_measures: "Filed under seal".into(),
        }),
        recipient_id: Some(c.probation_office),
        categories: [Cat::Attendance].into(),
        dated_on: Some(today() - Duration::days(1)),
        starts_on: Some(today() - Duration::days(1)),
        ends_on: Some(today() + Duration::days(30)),
        recipient_bound: false,
    }
}

async fn record_authority(
    c: &Clinic,
    patient: Option<i64>,
    new: &NewAuthority,
) -> Result<i64, StoreError> {
    let grant = c
        .store
        .grant::<can::DiscloseWithoutConsent>(&c.privacy)
        .expect("grant");
    let patient_grant = match patient {
        Some(id) => Some(
            c.store
                .patient_grant::<can::DiscloseWithoutConsent>(&c.privacy, id)
                .await
                .expect("patient grant"),
        ),
        None => None,
    };
    c.store
        .record_authority(&grant, patient_grant.as_ref(), new)
        .await
}

async fn disclose_under(c: &Clinic, authority_id: i64, categories: &[Cat]) -> AuthorisedOutcome {
    let grant = c
        .store
        .patient_grant::<can::DiscloseWithoutConsent>(&c.privacy, c.patient)
        .await
        .expect("grant");
    c.store
        .disclose_under_authority(
            &grant,
            &AuthorisedDisclosureInput {
                authority_id: Some(authority_id),
                categories: categories.iter().copied().collect(),
            },
        )
        .await
        .expect("disclose under authority")
}

fn fields(e: StoreError) -> Vec<&'static str> {
    match e {
        StoreError::Invalid(errors) => errors.iter().map(|f| f.field).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn a_court_order_discloses_without_consent_within_its_limits_and_is_accounted_for() {
    let c = clinic().await;
    let order = record_authority(&c, Some(c.patient), &court_order(&c))
        .await
        .expect("record order");
    // No consent is on file: the order alone authorises, within its limits (§2.64(e)).
    let made = match disclose_under(&c, order, &[Cat::Attendance]).await {
        AuthorisedOutcome::Made(d) => d,
        AuthorisedOutcome::Refused(r) => panic!("refused: {r}"),
    };
    assert_eq!(made.kind, "court_order");
    assert_eq!(made.consent_id, None);
    assert_eq!(made.packet.notice, NOTICE_STATEMENT_1);
    assert!(made.packet.consent_scope.contains("FC-2026-118"));
    assert_eq!(accounting_len(&c).await, 1);
    match disclose_under(&c, order, &[Cat::Attendance, Cat::Medications]).await {
        AuthorisedOutcome::Refused(r) => assert_eq!(r.code(), "information_not_covered"),
        AuthorisedOutcome::Made(_) => panic!("medications are outside the order"),
    }
    assert_eq!(accounting_len(&c).await, 1);
    let refusals = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'disclosure_refused'",
    )
    .await
    .expect("audit");
    assert_eq!(refusals.len(), 1);
    assert!(
        refusals[0].contains("information_not_covered"),
        "{refusals:?}"
    );
    // The privacy officer sees the order's access; the terms are sealed at rest.
    let grant = c
        .store
        .grant::<can::DiscloseWithoutConsent>(&c.privacy)
        .expect("grant");
    let (record, access) = c.store.authority(&grant, order).await.expect("authority");
    assert_eq!(record.patient_id, Some(c.patient));
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].disclosure_id, made.id);
    let raw = raw_strings(&c.store, "SELECT terms FROM disclosure_authorities")
        .await
        .expect("raw");
    assert!(!raw[0].contains("Superior"), "terms are sealed");
}

#[tokio::test]
async fn a_subpoena_or_an_order_without_findings_is_refused() {
    let c = clinic().await;
    let mut subpoena = court_order(&c);
    if let Terms::CourtOrder(o) = &mut subpoena.terms {
        o.document = CourtDocument::Subpoena;
    }
    let e = record_authority(&c, Some(c.patient), &subpoena)
        .await
        .expect_err("a subpoena alone");
    match e {
        StoreError::Invalid(errors) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, "document");
            assert!(errors[0].message.contains("subpoena alone never"));
        }
        other => panic!("expected the subpoena refused, got {other:?}"),
    }
    let mut no_findings = court_order(&c);
    if let Terms::CourtOrder(o) = &mut no_findings.terms {
        o.public_interest_outweighs = false;
        o.purpose = OrderPurpose::CriminalCaseAgainstPatient;
    }
    no_findings.categories = [Cat::Assessment].into();
    assert_eq!(
        fields(
            record_authority(&c, Some(c.patient), &no_findings)
                .await
                .expect_err("no findings")
        ),
        ["findings", "findings", "communications_ground"]
    );
    // An order is about one patient; an agreement about none.
    assert_eq!(
        fields(
            record_authority(&c, None, &court_order(&c))
                .await
                .expect_err("no patient")
        ),
        ["patient_id"]
    );
    let none: i64 = raw_strings(
        &c.store,
        "SELECT CAST(COUNT(*) AS TEXT) FROM disclosure_authorities",
    )
    .await
    .expect("count")[0]
        .parse()
        .expect("number");
    assert_eq!(none, 0);
}

#[tokio::test]
async fn a_qso_agreement_covers_its_contractor_within_its_dates_only() {
    let c = clinic().await;
    let billing_service = listed(
        &c.store,
        &c.privacy,
        "Claims Express LLC",
        RecipientKind::ProgramOperations,
    )
    .await;
    let qso = |recipient: i64, starts: NaiveDate, bound: bool| NewAuthority {
        terms: Terms::QualifiedService {
            services: "Claims submission".into(),
        },
        recipient_id: Some(recipient),
        categories: [Cat::Demographics, Cat::BillingAndClaims].into(),
        dated_on: Some(today() - Duration::days(60)),
        starts_on: Some(starts),
        ends_on: Some(starts + Duration::days(365)),
        recipient_bound: bound,
    };
    assert_eq!(
        fields(
            record_authority(&c, None, &qso(c.employer, today(), false))
                .await
                .expect_err("not a contractor, not bound")
        ),
        ["recipient_id", "recipient_bound"]
    );
    let current = record_authority(
        &c,
        None,
        &qso(billing_service, today() - Duration::days(30), true),
    )
    .await
    .expect("qso");
    let future = record_authority(
        &c,
        None,
        &qso(billing_service, today() + Duration::days(1), true),
    )
    .await
    .expect("future qso");
    assert!(matches!(
        disclose_under(&c, current, &[Cat::BillingAndClaims]).await,
        AuthorisedOutcome::Made(_)
    ));
    match disclose_under(&c, future, &[Cat::BillingAndClaims]).await {
        AuthorisedOutcome::Refused(r) => assert_eq!(r.code(), "outside_period"),
        AuthorisedOutcome::Made(_) => panic!("the agreement has not started"),
    }
}

#[tokio::test]
async fn audit_and_research_need_their_agreement_and_board_decision() {
    let c = clinic().await;
    let auditor = listed(
        &c.store,
        &c.privacy,
        "State Licensing Unit",
        RecipientKind::Other,
    )
    .await;
    let audit = NewAuthority {
        terms: Terms::AuditEvaluation {
            body: AuditBody::GovernmentAgency,
            body_name: "State Department of Health".into(),
            scope: "Annual licensing review of charts".into(),
        },
        recipient_id: Some(auditor),
        categories: [Cat::Attendance, Cat::TreatmentPlan].into(),
        dated_on: Some(today()),
        starts_on: Some(today()),
        ends_on: Some(today() + Duration::days(14)),
        recipient_bound: true,
    };
    let id = record_authority(&c, None, &audit).await.expect("audit");
    assert!(matches!(
        disclose_under(&c, id, &[Cat::Attendance]).await,
        AuthorisedOutcome::Made(_)
    ));
    let mut research = NewAuthority {
        terms: Terms::Research {
            board: String::new(),
            decided_on: None,
            protocol: "IRB-2026-0412".into(),
            determination: BoardDetermination::Waiver,
        },
        recipient_bound: false,
        ..audit
    };
    assert_eq!(
        fields(
            record_authority(&c, None, &research)
                .await
                .expect_err("no board")
        ),
        ["board", "decided_on", "recipient_bound"]
    );
    research.terms = Terms::Research {
        board: "University IRB".into(),
        decided_on: Some(today() - Duration::days(3)),
        protocol: "IRB-2026-0412".into(),
        determination: BoardDetermination::Waiver,
    };
    research.recipient_bound = true;
    record_authority(&c, None, &research)
        .await
        .expect("research");
}

#[tokio::test]
async fn the_signers_authority_is_checked_and_kept_with_the_consent() {
    // §2.14, §2.15: recording a consent checks who signed it against the record.
    use trellis_domain::consent::SignerAuthority as Authority;
    let c = clinic().await;
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let signed_by = |authority: Option<Authority>, court_document: &str| NewConsent {
        signer_name: "Robin Rivera".into(),
        signer_relationship: Some("Sibling".into()),
        signer_authority: authority,
        court_document: court_document.into(),
        ..probation_consent(today() + Duration::days(60))
    };
    for (new, field) in [
        (signed_by(None, ""), "signer_authority"),
        (
            signed_by(Some(Authority::PersonalRepresentative), "  "),
            "court_document",
        ),
        (
            signed_by(Some(Authority::ParentOrGuardian), ""),
            "signer_authority",
        ),
        (
            signed_by(Some(Authority::ExecutorOrAdministrator), ""),
            "signer_authority",
        ),
    ] {
        let Err(StoreError::Invalid(errors)) = c.store.record_consent(&grant, &new).await else {
            panic!("expected {field} refused");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, [field]);
    }
    assert!(c.store.consents(&grant).await.expect("list").is_empty());

    let order = "Guardianship order, County Probate Court 2025-GD-118";
    let id = c
        .store
        .record_consent(
            &grant,
            &signed_by(Some(Authority::PersonalRepresentative), order),
        )
        .await
        .expect("a representative with the court document signs");
    let consents = c.store.consents(&grant).await.expect("list");
    let signer = consents[0].signer.clone().expect("signer kept");
    assert_eq!(consents[0].id, id);
    assert_eq!(signer.authority, Authority::PersonalRepresentative);
    assert_eq!(signer.court_document.as_deref(), Some(order));
    let raw = raw_strings(&c.store, "SELECT court_document FROM consent_signers")
        .await
        .expect("raw")
        .join(" ");
    assert!(!raw.contains("2025-GD-118"), "the court document is sealed");

    // After the recorded date of death: the executor, not the patient.
    c.store
        .record_date_of_death(&grant, Some(today() - Duration::days(1)))
        .await
        .expect("date of death");
    let patient = NewConsent {
        signed_on: Some(today()),
        ..probation_consent(today() + Duration::days(60))
    };
    assert!(matches!(
        c.store.record_consent(&grant, &patient).await,
        Err(StoreError::Invalid(e)) if e[0].field == "signer_authority"
    ));
    c.store
        .record_consent(
            &grant,
            &NewConsent {
                signed_on: Some(today()),
                ..signed_by(Some(Authority::ExecutorOrAdministrator), "")
            },
        )
        .await
        .expect("the executor signs");
}

#[tokio::test]
async fn the_packet_carries_every_category_trellis_holds_and_only_what_was_chosen() {
    // Issue 20: one door out, so the packet carries each category from the record as it stands;
    // note text and the placement rules' wording leave only when chosen, and the audit says so.
    use std::collections::BTreeMap;
    use trellis_domain::measures::Instrument;
    use trellis_domain::placement::{Dimension, DimensionRating, DimensionRatings};
    use trellis_storage::assessments::{NewAssessment, SubstanceUse};
    use trellis_storage::confidentiality::PacketDetail;
    use trellis_storage::measures::NewMeasure;
    use trellis_storage::notes::{NewNote, NoteKind, NoteTemplate};
    use trellis_storage::treatment_plans::{
        Goal, Intervention, Modality, Objective, ObjectiveStatus, PlanContent, PlanSignatures,
        Problem,
    };
    let c = clinic().await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let ratings =
        DimensionRatings::from_ratings(Dimension::ALL.into_iter().zip([1_i64, 2, 1, 1, 1, 1]).map(
            |(d, v)| DimensionRating::new(d, v, "narrative kept in the program").expect("rating"),
        ))
        .expect("ratings");
    c.store
        .record_assessment(
            &write,
            &NewAssessment {
                assessed_on: today() - Duration::days(9),
                sections: BTreeMap::from([("legal".to_owned(), "DUI pending".to_owned())]),
                substances: vec![SubstanceUse {
                    substance: "Alcohol".into(),
                    route: "oral".into(),
                    frequency: "daily".into(),
                    age_first_use: Some(15),
                    last_use_on: Some(today() - Duration::days(12)),
                }],
                ratings,
            },
            today(),
        )
        .await
        .expect("assessment");
    let staff = c.counselor.user_id.expect("id");
    c.store
        .write_plan(
            &write,
            &PlanContent {
                problems: vec![Problem {
                    text: "Drinking daily after work".into(),
                    diagnosis_code: None,
                    diagnosis_id: None,
                    finding: None,
                    goals: vec![Goal {
                        text: "Be there for my kids".into(),
                        objectives: vec![Objective {
                            id: None,
                            text: "Attend 3 IOP groups a week".into(),
                            target_on: today() + Duration::days(30),
                            status: ObjectiveStatus::Open,
                            interventions: vec![Intervention {
                                modality: Modality::IndividualCbt,
                                frequency: "weekly".into(),
                                staff_id: staff,
                            }],
                        }],
                    }],
                }],
            },
        )
        .await
        .expect("plan");
    c.store
        .sign_plan(
            &write,
            1,
            &PlanSignatures {
                patient: "Alex Rivera".into(),
                clinician: "Casey Counselor".into(),
            },
            today(),
        )
        .await
        .expect("sign plan");
    let note = c
        .store
        .write_note(
            &write,
            &NewNote {
                kind: NoteKind::Individual,
                template: NoteTemplate::Dap,
                session_on: today() - Duration::days(2),
                sections: ["data", "assessment", "plan"]
                    .into_iter()
                    .map(|k| (k.to_owned(), format!("{k}: cravings at work")))
                    .collect(),
                objective_ids: Vec::new(),
                service: None,
            },
            today(),
        )
        .await
        .expect("note");
    c.store.sign_note(&write, note).await.expect("sign note");
    c.store
        .record_measure(
            &write,
            &NewMeasure {
                instrument: Instrument::Phq9,
                administered_on: today() - Duration::days(3),
                answers: vec![Some(1); 9],
            },
            today(),
        )
        .await
        .expect("measure");
    let screen_on = today() - Duration::days(4);
    raw_execute(
        &c.store,
        &format!(
            "INSERT INTO drug_screens (patient_id, collected_on, specimen, observed, testing,
                 recorded_by, recorded_at)
             VALUES ({}, '{screen_on}', 'urine', TRUE, 'lab', {staff}, '2026-01-01T00:00:00Z')",
            c.patient
        ),
    )
    .await
    .expect("screen");
    raw_execute(
        &c.store,
        "INSERT INTO drug_screen_results (screen_id, analyte, result)
         SELECT id, 'opiates', 'negative' FROM drug_screens",
    )
    .await
    .expect("result");

    let ortiz = listed(
        &c.store,
        &c.privacy,
        "Dr. Sam Ortiz",
        RecipientKind::TreatingProvider,
    )
    .await;
    let every: std::collections::BTreeSet<Cat> = [
        Cat::Attendance,
        Cat::Assessment,
        Cat::DrugScreens,
        Cat::TreatmentPlan,
        Cat::ProgressSummary,
        Cat::MeasureScores,
    ]
    .into();
    record(
        &c,
        &NewConsent {
            categories: every.clone(),
            information_description: "my treatment record".into(),
            ..counseling_notes_consent()
        },
    )
    .await;
    let input = DisclosureInput {
        recipient_id: Some(ortiz),
        purpose: Purpose::Treatment,
        purpose_detail: String::new(),
        categories: every,
    };
    let DisclosureOutcome::Made(summary) = disclose(&c, &input).await else {
        panic!("expected a disclosure");
    };
    let section = |d: &trellis_storage::confidentiality::DisclosureRecord, heading: &str| {
        d.packet
            .sections
            .iter()
            .find(|s| s.heading == heading)
            .unwrap_or_else(|| panic!("{heading} missing"))
            .lines
            .join("\n")
    };
    let assessment = section(&summary, "Assessments");
    assert!(
        assessment.contains("ASAM dimension ratings 1: 1, 2: 2")
            && assessment.contains("level recommended"),
        "{assessment}"
    );
    assert!(!assessment.contains("Reason:"), "{assessment}");
    assert!(!assessment.contains("narrative kept"), "{assessment}");
    let screens = section(&summary, "Drug screen results");
    assert!(
        screens.contains(&format!("{screen_on} urine, observed: opiates negative")),
        "{screens}"
    );
    let plan = section(&summary, "Treatment plan");
    assert!(plan.contains("Version 1, signed"), "{plan}");
    assert!(
        plan.contains("Objective 1.1.1: Attend 3 IOP groups a week"),
        "{plan}"
    );
    let progress = section(&summary, "Summary of progress");
    assert!(
        progress.contains(&(today() - Duration::days(2)).to_string()),
        "{progress}"
    );
    assert!(!progress.contains("cravings at work"), "{progress}");
    let measures = section(&summary, "Measure scores");
    assert!(measures.contains("PHQ-9: 9"), "{measures}");
    assert!(section(&summary, "Attendance and participation").contains("admitted"));

    // The discloser may add the notes' text and the rules' wording; the audit row says so.
    let grant = c
        .store
        .patient_grant::<can::Disclose>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let DisclosureOutcome::Made(full) = c
        .store
        .disclose_with(
            &grant,
            &input,
            PacketDetail {
                note_text: true,
                recommendation_wording: true,
            },
        )
        .await
        .expect("disclose")
    else {
        panic!("expected a disclosure");
    };
    assert!(section(&full, "Summary of progress").contains("cravings at work"));
    assert!(section(&full, "Assessments").contains("Reason:"));
    let audit = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'disclose' ORDER BY id",
    )
    .await
    .expect("audit");
    assert!(!audit[0].contains("with"), "{audit:?}");
    assert!(
        audit[1].contains("progress_summary")
            && audit[1].contains("with note text, recommendation wording"),
        "{audit:?}"
    );
    assert!(!audit.join(" ").contains("cravings"));
}

/// A §2.35 consent: probation made treatment a condition of release; revocable from `revocable`.
fn criminal_justice_consent(revocable: NaiveDate) -> NewConsent {
    let when = Revocability::OnDate { date: revocable };
    NewConsent {
        revocation_statement: criminal_justice::revocation_statement(&when),
        criminal_justice: Some(CriminalJustice {
            condition: CriminalJusticeCondition::Release,
            monitoring_duty: "Supervises the patient's probation".into(),
            duration_statement: "Until the end of the probation term and of treatment".into(),
            revocable: Some(when),
            no_later_than_final_disposition: true,
        }),
        ..probation_consent(today() + Duration::days(60))
    }
}

#[tokio::test]
async fn a_criminal_justice_consent_is_irrevocable_until_its_time_and_limits_redisclosure() {
    let c = clinic().await;
    let grant = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    // §2.35(b)–(c): the duration, when it becomes revocable, confirmed no later than the final
    // disposition, and a statement that says so; named monitors only (§2.35(a)(1)).
    let mut vague = criminal_justice_consent(today() + Duration::days(30));
    vague.revocation_statement = DEFAULT_REVOCATION_STATEMENT.into();
    vague.recipients = vec![Recipient::Class {
        class: trellis_domain::consent::RecipientClass::TreatingProviders,
        description: "the courts".into(),
    }];
    if let Some(cj) = vague.criminal_justice.as_mut() {
        cj.duration_statement = " ".into();
        cj.no_later_than_final_disposition = false;
    }
    let e = c
        .store
        .record_consent(&grant, &vague)
        .await
        .expect_err("incomplete");
    assert_eq!(
        fields(e),
        [
            "duration_statement",
            "recipients",
            "no_later_than_final_disposition",
            "revocation_statement"
        ]
    );
    let id = record(&c, &criminal_justice_consent(today() + Duration::days(30))).await;
    // The packet tells the recipient the §2.35(d) limit on use and redisclosure.
    let made = match disclose(&c, &to_probation(&c)).await {
        DisclosureOutcome::Made(d) => d,
        DisclosureOutcome::Refused(r) => panic!("refused: {r}"),
    };
    assert!(made.packet.consent_scope.contains("42 CFR 2.35(d)"));
    assert!(made
        .packet
        .consent_scope
        .contains("Supervises the patient's probation"));
    // A written revocation before the stated day does not take effect (§2.35(c)).
    let early = WrittenRevocation {
        received_on: today(),
        text: "I want to stop this.".into(),
        event_on: None,
    };
    assert_eq!(
        fields(
            c.store
                .revoke_consent(&grant, id, &early)
                .await
                .expect_err("not yet revocable")
        ),
        ["received_on"]
    );
    let consents = c.store.consents(&grant).await.expect("consents");
    assert_eq!(consents[0].state, "active");
    assert!(consents[0].consent.criminal_justice.is_some());

    // Revocable after an event: the event's day must be confirmed, not after the revocation.
    let event = Revocability::Event {
        description: "the final disposition of case 24-CR-118".into(),
    };
    let mut on_event = criminal_justice_consent(today());
    on_event.revocation_statement = criminal_justice::revocation_statement(&event);
    if let Some(cj) = on_event.criminal_justice.as_mut() {
        cj.revocable = Some(event);
    }
    let id = record(&c, &on_event).await;
    assert_eq!(
        fields(
            c.store
                .revoke_consent(&grant, id, &early)
                .await
                .expect_err("event not confirmed")
        ),
        ["event_on"]
    );
    let after_event = WrittenRevocation {
        event_on: Some(today() - Duration::days(1)),
        ..early.clone()
    };
    c.store
        .revoke_consent(&grant, id, &after_event)
        .await
        .expect("revocable since the event");
    let audit = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'revoke'",
    )
    .await
    .expect("audit");
    assert!(audit[0].contains("revocable since the event"), "{audit:?}");
}

#[tokio::test]
async fn an_order_corrected_or_ended_early_keeps_the_reason_and_authorises_nothing_after() {
    let c = clinic().await;
    let order = record_authority(&c, Some(c.patient), &court_order(&c))
        .await
        .expect("record order");
    let grant = c
        .store
        .grant::<can::DiscloseWithoutConsent>(&c.privacy)
        .expect("grant");
    // A correction is checked like a new order, keeps its kind, and says why.
    let mut corrected = court_order(&c);
    corrected.categories = [Cat::Attendance, Cat::DrugScreens].into();
    assert_eq!(
        fields(
            c.store
                .correct_authority(&grant, order, &corrected, " ")
                .await
                .expect_err("no reason")
        ),
        ["reason"]
    );
    let mut as_subpoena = corrected.clone();
    if let Terms::CourtOrder(o) = &mut as_subpoena.terms {
        o.document = CourtDocument::Subpoena;
    }
    assert_eq!(
        fields(
            c.store
                .correct_authority(&grant, order, &as_subpoena, "misread")
                .await
                .expect_err("a subpoena")
        ),
        ["document"]
    );
    c.store
        .correct_authority(&grant, order, &corrected, "the order also names screens")
        .await
        .expect("correct");
    match disclose_under(&c, order, &[Cat::DrugScreens]).await {
        AuthorisedOutcome::Made(d) => assert_eq!(d.kind, "court_order"),
        AuthorisedOutcome::Refused(r) => panic!("refused: {r}"),
    }
    // Ended early: nothing more leaves under it, and the reason is kept, sealed.
    assert_eq!(
        fields(
            c.store
                .end_authority(&grant, order, "")
                .await
                .expect_err("no reason")
        ),
        ["reason"]
    );
    c.store
        .end_authority(&grant, order, "Vacated by the court on appeal")
        .await
        .expect("end");
    match disclose_under(&c, order, &[Cat::Attendance]).await {
        AuthorisedOutcome::Refused(r) => assert_eq!(r.code(), "authority_ended"),
        AuthorisedOutcome::Made(_) => panic!("an ended order authorises nothing"),
    }
    assert!(matches!(
        c.store
            .end_authority(&grant, order, "again")
            .await
            .expect_err("ended once"),
        StoreError::Invalid(_)
    ));
    assert!(matches!(
        c.store
            .correct_authority(&grant, order, &corrected, "too late")
            .await
            .expect_err("ended"),
        StoreError::Invalid(_)
    ));
    let (record, access) = c.store.authority(&grant, order).await.expect("authority");
    assert!(!record.in_effect);
    assert!(record.authority.ended_at.is_some());
    assert_eq!(access.len(), 1);
    let changes: Vec<(&str, &str)> = record
        .changes
        .iter()
        .map(|ch| (ch.change.as_str(), ch.reason.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("correction", "the order also names screens"),
            ("end", "Vacated by the court on appeal")
        ]
    );
    let raw = raw_strings(&c.store, "SELECT reason FROM disclosure_authority_changes")
        .await
        .expect("raw");
    assert!(raw.iter().all(|r| !r.contains("Vacated")), "sealed");
    let audit = raw_strings(
        &c.store,
        "SELECT action FROM audit_log WHERE record_type = 'disclosure_authority' ORDER BY id",
    )
    .await
    .expect("audit");
    assert!(audit.contains(&"update".to_owned()) && audit.contains(&"end".to_owned()));
}

#[tokio::test]
async fn a_restriction_ended_by_the_program_still_covers_earlier_information_but_not_by_the_patient(
) {
    let c = clinic().await;
    record(&c, &probation_consent(today() + Duration::days(30))).await;
    let consents = c
        .store
        .patient_grant::<can::ManageConsents>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let decide = c
        .store
        .patient_grant::<can::DecideRestrictions>(&c.privacy, c.patient)
        .await
        .expect("grant");
    let ask = |recipient: i64, self_pay: bool| NewRestriction {
        what: "Do not tell them about my attendance".into(),
        requested_on: Some(today() - Duration::days(3)),
        recipient_id: Some(recipient),
        recipient_kind: None,
        categories: [Cat::Attendance].into(),
        self_pay,
    };
    let restriction = c
        .store
        .record_restriction(&consents, &ask(c.probation_office, false))
        .await
        .expect("request");
    // Only a restriction that binds can be ended.
    assert_eq!(
        fields(
            c.store
                .lift_restriction(
                    &decide,
                    restriction,
                    Some(LiftGround::ProgramTold),
                    Some(today()),
                    "no longer workable"
                )
                .await
                .expect_err("pending")
        ),
        ["ground"]
    );
    c.store
        .decide_restriction(&decide, restriction, RestrictionDecision::Agreed, "")
        .await
        .expect("agree");
    assert!(matches!(
        refused(disclose(&c, &to_probation(&c)).await),
        DisclosureRefusal::Restricted { .. }
    ));
    assert_eq!(
        fields(
            c.store
                .lift_restriction(
                    &decide,
                    restriction,
                    None,
                    Some(today() + Duration::days(1)),
                    ""
                )
                .await
                .expect_err("bad input")
        ),
        ["ground"]
    );
    assert_eq!(
        fields(
            c.store
                .lift_restriction(
                    &decide,
                    restriction,
                    Some(LiftGround::ProgramTold),
                    Some(today() + Duration::days(1)),
                    "no longer workable"
                )
                .await
                .expect_err("in the future")
        ),
        ["lifted_on"]
    );
    // Ended by the program, telling the patient: what was created before still may not go,
    // and every packet carries the record as it stands.
    c.store
        .lift_restriction(
            &decide,
            restriction,
            Some(LiftGround::ProgramTold),
            Some(today()),
            "Probation requires attendance reports",
        )
        .await
        .expect("lift");
    assert!(matches!(
        refused(disclose(&c, &to_probation(&c)).await),
        DisclosureRefusal::Restricted { .. }
    ));
    let shown = c.store.restrictions(&consents).await.expect("restrictions");
    assert!(shown[0].in_force);
    assert_eq!(
        shown[0].lift_reason.as_deref(),
        Some("Probation requires attendance reports")
    );
    assert!(matches!(
        c.store
            .lift_restriction(
                &decide,
                restriction,
                Some(LiftGround::PatientAgreed),
                Some(today()),
                ""
            )
            .await
            .expect_err("ended once"),
        StoreError::Conflict(_)
    ));

    // The patient agreeing ends it for everything.
    let second = c
        .store
        .record_restriction(&consents, &ask(c.officer_lee, false))
        .await
        .expect("request");
    c.store
        .decide_restriction(&decide, second, RestrictionDecision::Agreed, "")
        .await
        .expect("agree");
    c.store
        .lift_restriction(
            &decide,
            second,
            Some(LiftGround::PatientAgreed),
            Some(today()),
            "",
        )
        .await
        .expect("lift with the patient");
    let shown = c.store.restrictions(&consents).await.expect("restrictions");
    assert!(!shown[0].in_force);

    // A self-pay restriction to a health plan: never by the program alone.
    let self_pay = c
        .store
        .record_restriction(&consents, &ask(c.health_plan, true))
        .await
        .expect("self-pay");
    let e = c
        .store
        .lift_restriction(
            &decide,
            self_pay,
            Some(LiftGround::ProgramTold),
            Some(today()),
            "we bill the plan",
        )
        .await
        .expect_err("self-pay");
    match e {
        StoreError::Invalid(errors) => {
            assert_eq!(errors[0].field, "ground");
            assert!(errors[0].message.contains("164.522(a)(2)(iii)(A)"));
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let lifts = raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'lift' ORDER BY id",
    )
    .await
    .expect("audit");
    assert_eq!(lifts.len(), 2);
    assert!(lifts[0].starts_with("program_told"));
}
