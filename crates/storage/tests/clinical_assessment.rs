//! Standard measures and their schedule in storage, on SQLite by default and on PostgreSQL with
//! TRELLIS_TEST_DATABASE=postgres.

use chrono::NaiveDate;
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::measures::Instrument;
use trellis_domain::patient::Registration;
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::Admission;
use trellis_storage::measures::NewMeasure;
use trellis_storage::org::{NewProgram, NewSite};
use trellis_storage::patients::RegisterOutcome;
use trellis_storage::staff::NewStaff;
use trellis_storage::testing::{fresh_store, raw_strings};
use trellis_storage::{Store, StoreError};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

const TODAY: (i32, u32, u32) = (2026, 11, 27);

fn today() -> NaiveDate {
    day(TODAY.0, TODAY.1, TODAY.2)
}

struct Clinic {
    store: Store,
    program: i64,
    patient: i64,
    counselor: Actor,
    director: Actor,
    billing: Actor,
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

async fn clinic() -> Clinic {
    let store = fresh_store().await.expect("store");
    let admin = Actor::system("test");
    let programs = store.grant::<can::ManagePrograms>(&admin).expect("grant");
    let site = store
        .create_site(
            &programs,
            NewSite {
                code: "DTN".into(),
                name: "Downtown".into(),
                timezone: "America/New_York".into(),
                address: None,
                phone: None,
            },
        )
        .await
        .expect("site");
    let program = store
        .create_program(
            &programs,
            NewProgram {
                site_id: site,
                name: "Adult SUD IOP".into(),
                population: "adult".into(),
                level_of_care: LevelOfCare::IntensiveOutpatient,
                weekly_minimum_hours: 9.0,
                max_group_size: 12,
            },
        )
        .await
        .expect("program");
    let counselor = staff(&store, "casey", Role::Counselor).await;
    let director = staff(&store, "dora", Role::ClinicalDirector).await;
    let billing = staff(&store, "bill", Role::Billing).await;
    let intake = staff(&store, "ingrid", Role::Intake).await;
    let users = store.grant::<can::ManageUsers>(&admin).expect("grant");
    for (actor, scope) in [
        (&counselor, Some(program)),
        (&billing, None),
        (&intake, None),
    ] {
        store
            .set_assignments(&users, actor.user_id.expect("id"), &[(site, scope)])
            .await
            .expect("assign");
    }
    let register = store
        .grant::<can::EditDemographics>(&intake)
        .expect("grant");
    let patient = match store
        .register_patient(
            &register,
            site,
            &Registration {
                legal_first_name: "Dana".into(),
                legal_last_name: "Reyes".into(),
                date_of_birth: Some(day(1990, 5, 17)),
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
                program_id: program,
                admitted_on: day(2026, 11, 2),
                referral_source: "Self or family".into(),
                primary_counselor_id: counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    Clinic {
        store,
        program,
        patient,
        counselor,
        director,
        billing,
    }
}

fn phq9(on: NaiveDate, answers: [u8; 9]) -> NewMeasure {
    NewMeasure {
        instrument: Instrument::Phq9,
        administered_on: on,
        answers: answers.iter().copied().map(Some).collect(),
    }
}

async fn open_tasks(store: &Store, actor: &Actor) -> usize {
    let grant = store.grant::<can::ReadDemographics>(actor).expect("grant");
    store.my_tasks(&grant).await.expect("tasks").len()
}

#[tokio::test]
async fn measures_are_scored_stored_and_listed_oldest_first() {
    let c = clinic().await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let first = c
        .store
        .record_measure(
            &write,
            &phq9(day(2026, 11, 2), [2, 2, 2, 2, 2, 2, 2, 2, 0]),
            today(),
        )
        .await
        .expect("record");
    assert_eq!(first.score.total(), Some(16));
    assert_eq!(first.flag_id, None);
    c.store
        .record_measure(
            &write,
            &phq9(day(2026, 11, 16), [1, 1, 1, 1, 1, 0, 1, 1, 0]),
            today(),
        )
        .await
        .expect("record");
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let list = c.store.measures(&read).await.expect("list");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].total, Some(16));
    assert_eq!(list[0].band_code, "moderately_severe");
    assert_eq!(list[1].total, Some(7));
    assert_eq!(list[1].answers[5], Some(0));
    assert!(list[0].episode_id.is_some());

    let raw = raw_strings(&c.store, "SELECT responses FROM measure_administrations")
        .await
        .expect("raw");
    assert!(raw
        .iter()
        .all(|r| !r.contains("[2,2") && !r.contains("null")));
}

#[tokio::test]
async fn invalid_answers_are_refused_with_the_item_and_nothing_is_stored() {
    let c = clinic().await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let short = NewMeasure {
        instrument: Instrument::Phq9,
        administered_on: today(),
        answers: vec![Some(1); 8],
    };
    let Err(StoreError::Invalid(errors)) = c.store.record_measure(&write, &short, today()).await
    else {
        panic!("eight answers to a nine-item form must be refused");
    };
    assert_eq!(errors[0].field, "responses");
    assert!(errors[0].message.contains("expected 9 answers, got 8"));

    let out_of_range = phq9(today(), [1, 1, 1, 4, 1, 1, 1, 1, 0]);
    let Err(StoreError::Invalid(errors)) =
        c.store.record_measure(&write, &out_of_range, today()).await
    else {
        panic!("4 is not a PHQ-9 answer");
    };
    assert!(
        errors[0].message.contains("item 4"),
        "{}",
        errors[0].message
    );

    let future = phq9(day(2026, 12, 1), [0; 9]);
    assert!(matches!(
        c.store.record_measure(&write, &future, today()).await,
        Err(StoreError::Invalid(_))
    ));
    let n = raw_strings(&c.store, "SELECT instrument FROM measure_administrations")
        .await
        .expect("raw");
    assert!(n.is_empty(), "nothing stored");
}

#[tokio::test]
async fn phq9_item_9_raises_one_high_flag_with_tasks_in_the_same_write() {
    let c = clinic().await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let recorded = c
        .store
        .record_measure(&write, &phq9(today(), [1, 1, 1, 1, 1, 1, 1, 1, 1]), today())
        .await
        .expect("record");
    let flag = recorded.flag_id.expect("item 9 raises a flag");
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let flags = c.store.open_flags(&read).await.expect("flags");
    assert_eq!(flags.len(), 1, "exactly one flag per signal");
    assert_eq!(flags[0].id, flag);
    assert_eq!(flags[0].severity, "high");
    assert_eq!(flags[0].kind, "suicide_risk");
    assert_eq!(open_tasks(&c.store, &c.counselor).await, 1);
    assert_eq!(
        open_tasks(&c.store, &c.director).await,
        1,
        "high reaches the directors"
    );
    let list = c.store.measures(&read).await.expect("list");
    assert_eq!(list[0].flag_id, Some(flag));
    assert_eq!(list[0].safety_level.as_deref(), Some("high"));

    // A measure without a signal raises nothing more.
    c.store
        .record_measure(&write, &phq9(today(), [0; 9]), today())
        .await
        .expect("record");
    assert_eq!(c.store.open_flags(&read).await.expect("flags").len(), 1);
}

#[tokio::test]
async fn cssrs_moderate_raises_a_moderate_flag_for_the_counselor_only() {
    let c = clinic().await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    // Q1–Q3 yes (a method, no intent), no behaviour: moderate risk.
    let moderate = NewMeasure {
        instrument: Instrument::Cssrs,
        administered_on: today(),
        answers: vec![Some(1), Some(1), Some(1), Some(0), Some(0), Some(0), None],
    };
    let recorded = c
        .store
        .record_measure(&write, &moderate, today())
        .await
        .expect("record");
    assert!(recorded.flag_id.is_some());
    assert_eq!(open_tasks(&c.store, &c.counselor).await, 1);
    assert_eq!(
        open_tasks(&c.store, &c.director).await,
        0,
        "moderate stays with the counselor"
    );
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    assert_eq!(
        c.store.open_flags(&read).await.expect("flags")[0].severity,
        "moderate"
    );

    // Answering Q3 when Q2 was "No" breaks the skip logic: refused, naming the item.
    let skipped = NewMeasure {
        instrument: Instrument::Cssrs,
        administered_on: today(),
        answers: vec![Some(1), Some(0), Some(1), None, None, Some(0), None],
    };
    let Err(StoreError::Invalid(errors)) = c.store.record_measure(&write, &skipped, today()).await
    else {
        panic!("skip-logic violation must be refused");
    };
    assert!(
        errors[0].message.contains("item 3"),
        "{}",
        errors[0].message
    );
}

#[tokio::test]
async fn billing_cannot_read_measures() {
    let c = clinic().await;
    let refused = c
        .store
        .patient_grant::<can::ReadClinical>(&c.billing, c.patient)
        .await;
    assert!(matches!(refused, Err(StoreError::Denied(_))));
}

#[tokio::test]
async fn due_list_follows_the_program_schedule() {
    let c = clinic().await;
    let admin = Actor::system("test");
    let programs = c.store.grant::<can::ManagePrograms>(&admin).expect("grant");
    c.store
        .set_measure_schedule(&programs, c.program, Instrument::Phq9, Some(14))
        .await
        .expect("schedule");
    c.store
        .set_measure_schedule(&programs, c.program, Instrument::Bam, Some(7))
        .await
        .expect("schedule");
    assert!(matches!(
        c.store
            .set_measure_schedule(&programs, c.program, Instrument::Gad7, Some(0))
            .await,
        Err(StoreError::Invalid(_))
    ));
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    c.store
        .record_measure(&write, &phq9(day(2026, 11, 20), [0; 9]), today())
        .await
        .expect("record");
    let grant = c
        .store
        .grant::<can::ReadClinical>(&c.counselor)
        .expect("grant");
    let due = c
        .store
        .caseload_measures_due(&grant, today(), day(2026, 12, 31))
        .await
        .expect("due");
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].instrument, Instrument::Bam);
    assert_eq!(
        due[0].due_on.0,
        day(2026, 11, 2),
        "never given: due at admission"
    );
    assert!(due[0].overdue);
    assert_eq!(due[1].instrument, Instrument::Phq9);
    assert_eq!(due[1].due_on.0, day(2026, 12, 4));
    assert!(!due[1].overdue);
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, c.patient)
        .await
        .expect("grant");
    let mine = c
        .store
        .patient_measures_due(&read, today(), today())
        .await
        .expect("due");
    assert_eq!(mine.len(), 1, "only the overdue BAM by today");
}
