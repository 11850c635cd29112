//! Shared storage-test fixture: a fresh database with one site, two programs, a counselor in
//! each, an intake coordinator, and helpers to register patients.
#![allow(dead_code)]

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::patient::Registration;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::{can, Actor};
use trellis_storage::org::{NewProgram, NewSite};
use trellis_storage::patients::RegisterOutcome;
use trellis_storage::schedule::NewTrack;
use trellis_storage::staff::NewStaff;
use trellis_storage::testing::fresh_store;
use trellis_storage::Store;

/// The fixture site's time zone; "today" must be read in it, as the store does.
pub const CLINIC_TIMEZONE: chrono_tz::Tz = chrono_tz::America::New_York;

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Today at the fixture site. UTC's date runs a day ahead of New York every evening, and a
/// date that is "today" in UTC is then "in the future" to the store.
pub fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&CLINIC_TIMEZONE)
        .date_naive()
}

pub struct Clinic {
    pub store: Store,
    pub site: i64,
    pub program: i64,
    pub other_program: i64,
    pub counselor: Actor,
    pub outsider: Actor,
    pub intake: Actor,
}

pub async fn staff(store: &Store, username: &str, role: Role) -> Actor {
    let admin = Actor::system("test");
    let grant = store
        .grant::<can::ManageUsers>(&admin)
        .expect("admin grant");
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
        ip: Some("127.0.0.1".into()),
        request_id: None,
    }
}

pub async fn clinic() -> Clinic {
    clinic_on(fresh_store().await.expect("fresh store")).await
}

pub async fn clinic_on(store: Store) -> Clinic {
    let admin = Actor::system("test");
    let programs = store.grant::<can::ManagePrograms>(&admin).expect("grant");
    let site = store
        .create_site(
            &programs,
            NewSite {
                code: "DTN".into(),
                name: "Downtown".into(),
                timezone: CLINIC_TIMEZONE.name().into(),
                address: None,
                phone: None,
            },
        )
        .await
        .expect("site");
    let new_program = |name: &str| NewProgram {
        site_id: site,
        name: name.into(),
        population: "adult".into(),
        level_of_care: LevelOfCare::IntensiveOutpatient,
        weekly_minimum_hours: 9.0,
        max_group_size: 12,
    };
    let program = store
        .create_program(&programs, new_program("Adult SUD IOP"))
        .await
        .expect("program");
    let other_program = store
        .create_program(&programs, new_program("Co-occurring IOP"))
        .await
        .expect("program");
    let counselor = staff(&store, "casey", Role::Counselor).await;
    let outsider = staff(&store, "olive", Role::Counselor).await;
    let intake = staff(&store, "ingrid", Role::Intake).await;
    let users = store.grant::<can::ManageUsers>(&admin).expect("grant");
    for (actor, assignment) in [
        (&counselor, (site, Some(program))),
        (&outsider, (site, Some(other_program))),
        (&intake, (site, None)),
    ] {
        store
            .set_assignments(&users, actor.user_id.expect("id"), &[assignment])
            .await
            .expect("assign");
    }
    Clinic {
        store,
        site,
        program,
        other_program,
        counselor,
        outsider,
        intake,
    }
}

pub fn registration(first: &str, last: &str) -> Registration {
    Registration {
        legal_first_name: first.into(),
        legal_last_name: last.into(),
        date_of_birth: Some(day(1990, 5, 17)),
        sex: "female".into(),
        pronouns: Some("she/her".into()),
        ..Registration::default()
    }
}

pub async fn register(c: &Clinic, first: &str, last: &str) -> i64 {
    let grant = c
        .store
        .grant::<can::EditDemographics>(&c.intake)
        .expect("grant");
    match c
        .store
        .register_patient(
            &grant,
            c.site,
            &registration(first, last),
            day(2026, 11, 27),
            false,
        )
        .await
        .expect("register")
    {
        RegisterOutcome::Created(id) => id,
        other => panic!("expected a new patient, got {other:?}"),
    }
}

/// Registers a patient and admits them to `program` ten days ago, with the fixture counselor.
pub async fn admitted_to(c: &Clinic, first: &str, last: &str, program: i64) -> i64 {
    let patient = register(c, first, last).await;
    let admit = c
        .store
        .patient_grant::<can::AdmitEpisode>(&c.intake, patient)
        .await
        .expect("grant");
    c.store
        .admit(
            &admit,
            &trellis_storage::episodes::Admission {
                program_id: program,
                admitted_on: today() - chrono::Duration::days(10),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    patient
}

/// Adds an entry to the recipient directory, as the privacy officer keeps it.
pub async fn listed(
    store: &Store,
    privacy: &Actor,
    name: &str,
    kind: trellis_domain::consent::RecipientKind,
) -> i64 {
    let grant = store
        .grant::<can::ManageRecipients>(privacy)
        .expect("grant");
    store
        .add_recipient(
            &grant,
            &trellis_storage::recipients::NewRecipient {
                name: name.into(),
                kind,
                contact: "Fax 555-201-0000".into(),
            },
        )
        .await
        .expect("add recipient")
}

/// Records a court order or agreement as the privacy officer (`patient` for a court order).
pub async fn record_authority(
    store: &Store,
    privacy: &Actor,
    patient: Option<i64>,
    new: &trellis_storage::confidentiality::authorities::NewAuthority,
) -> trellis_storage::Result<i64> {
    let grant = store
        .grant::<can::DiscloseWithoutConsent>(privacy)
        .expect("grant");
    let patient_grant = match patient {
        Some(id) => Some(
            store
                .patient_grant::<can::DiscloseWithoutConsent>(privacy, id)
                .await
                .expect("patient grant"),
        ),
        None => None,
    };
    store
        .record_authority(&grant, patient_grant.as_ref(), new)
        .await
}

/// A session today of a telehealth track in the clinic's program that the counselor
/// facilitates, with `patients` (admitted to that program) enrolled and checked in as present:
/// group notes are written from a session's attendance.
pub async fn checked_in_session(c: &Clinic, patients: &[i64]) -> i64 {
    let programs = c
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    let at = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("time");
    let track = c
        .store
        .create_track(
            &programs,
            NewTrack {
                program_id: c.program,
                name: format!("Group of {}", patients.len()),
                room_id: None,
                telehealth: true,
                starts_on: today() - Duration::days(7),
                // Its weekly session is another day: today's is the one-off below.
                slots: vec![
                    WeeklySlot::new(today().weekday().succ(), at(18), at(21)).expect("slot")
                ],
                topics: Vec::new(),
            },
        )
        .await
        .expect("track");
    c.store
        .set_track_facilitator(&programs, track, c.counselor.user_id)
        .await
        .expect("facilitator");
    let manage = c
        .store
        .grant::<can::ManageSchedule>(&c.counselor)
        .expect("grant");
    let session = c
        .store
        .add_one_off_session(&manage, track, today(), at(9), at(12))
        .await
        .expect("session");
    for &patient in patients {
        let grant = c
            .store
            .patient_grant::<can::ManageSchedule>(&c.counselor, patient)
            .await
            .expect("grant");
        c.store.enrol(&grant, track, today()).await.expect("enrol");
        c.store
            .record_attendance(&grant, session, AttendanceStatus::Present, None)
            .await
            .expect("present");
    }
    session
}
