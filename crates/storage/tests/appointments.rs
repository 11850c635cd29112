//! Appointments on both engines: conflicts against groups, appointments, availability, clinician
//! and room; overrides; check-in counting toward weekly hours; calendar feeds and revocation.

mod common;

use chrono::{Datelike, NaiveTime, TimeDelta, Utc, Weekday};
use common::{clinic, day, register, staff, today, Clinic};
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::schedule::appointments::AppointmentKind;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::conflicts::ConflictKind;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::{can, Actor};
use trellis_storage::appointments::{BookingOutcome, NewAppointment};
use trellis_storage::episodes::Admission;
use trellis_storage::schedule::{NewRoom, NewTrack};
use trellis_storage::{Day, Instant, StoreError};

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

struct Setup {
    c: Clinic,
    room: i64,
    small_room: i64,
    patient: i64,
    front_desk: Actor,
}

/// A room, an evening track (Mon/Wed 18:00–21:00) facilitated by the counselor, and one admitted
/// patient enrolled in it.
async fn setup() -> Setup {
    let c = clinic().await;
    let admin = Actor::system("test");
    let programs = c.store.grant::<can::ManagePrograms>(&admin).expect("grant");
    let room = c
        .store
        .create_room(
            &programs,
            NewRoom {
                site_id: c.site,
                name: "Group room".into(),
                capacity: 14,
            },
        )
        .await
        .expect("room");
    let small_room = c
        .store
        .create_room(
            &programs,
            NewRoom {
                site_id: c.site,
                name: "Office 2".into(),
                capacity: 3,
            },
        )
        .await
        .expect("room");
    let track = c
        .store
        .create_track(
            &programs,
            NewTrack {
                program_id: c.program,
                name: "Evening".into(),
                room_id: Some(room),
                telehealth: false,
                starts_on: day(2026, 10, 5),
                slots: [Weekday::Mon, Weekday::Wed]
                    .into_iter()
                    .map(|d| WeeklySlot::new(d, at(18, 0), at(21, 0)).expect("slot"))
                    .collect(),
                topics: vec![],
            },
        )
        .await
        .expect("track");
    c.store
        .set_track_facilitator(&programs, track, c.counselor.user_id)
        .await
        .expect("facilitator");
    let patient = register(&c, "Ana", "Rivera").await;
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
                admitted_on: day(2026, 10, 5),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            day(2026, 10, 5),
        )
        .await
        .expect("admit");
    let front_desk = staff(&c.store, "frankie", Role::FrontDesk).await;
    let users = c.store.grant::<can::ManageUsers>(&admin).expect("grant");
    c.store
        .set_assignments(&users, front_desk.user_id.expect("id"), &[(c.site, None)])
        .await
        .expect("assign");
    let grant = c
        .store
        .patient_grant::<can::ManageSchedule>(&front_desk, patient)
        .await
        .expect("grant");
    c.store
        .enrol(&grant, track, day(2026, 10, 5))
        .await
        .expect("enrol");
    Setup {
        c,
        room,
        small_room,
        patient,
        front_desk,
    }
}

fn appointment(
    s: &Setup,
    date: (i32, u32, u32),
    start: (u32, u32),
    minutes: i64,
) -> NewAppointment {
    NewAppointment {
        kind: AppointmentKind::IndividualTherapy,
        clinician_id: s.c.counselor.user_id.expect("id"),
        room_id: Some(s.small_room),
        telehealth: false,
        date: day(date.0, date.1, date.2),
        start: at(start.0, start.1),
        minutes,
        occupants: None,
        override_reason: None,
    }
}

#[tokio::test]
async fn booking_checks_conflicts_and_needs_a_reason_to_double_book() {
    let s = setup().await;
    let store = &s.c.store;
    let grant = store
        .patient_grant::<can::ManageSchedule>(&s.front_desk, s.patient)
        .await
        .expect("grant");
    let work = WeeklySlot::new(Weekday::Mon, at(9, 0), at(17, 0)).expect("slot");
    store
        .add_availability(&grant, "work", work)
        .await
        .expect("availability");
    assert!(matches!(
        store.add_availability(&grant, "gym", work).await,
        Err(StoreError::Invalid(_))
    ));

    // Monday 2026-11-02 16:30–17:30 overlaps work hours: booked, with a warning.
    let first = store
        .book_appointment(&grant, &appointment(&s, (2026, 11, 2), (16, 30), 60))
        .await
        .expect("book");
    let BookingOutcome::Booked {
        id: first_id,
        warnings,
    } = first
    else {
        panic!("expected a booking, got {first:?}");
    };
    assert_eq!(warnings.len(), 1);
    assert!(matches!(
        warnings[0].kind,
        ConflictKind::OverlapsPatientObligation { .. }
    ));

    // 17:30–18:30 runs into the patient's Monday group (and the counselor facilitates it).
    let clash = store
        .book_appointment(&grant, &appointment(&s, (2026, 11, 2), (17, 30), 60))
        .await
        .expect("book");
    let BookingOutcome::Refused { conflicts } = clash else {
        panic!("expected a refusal, got {clash:?}");
    };
    let kinds: Vec<_> = conflicts.iter().map(|c| c.kind.clone()).collect();
    assert!(kinds
        .iter()
        .any(|k| matches!(k, ConflictKind::PatientDoubleBooked { .. })));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, ConflictKind::ClinicianDoubleBooked { .. })));
    assert!(
        !conflicts[0].reason.contains("Ana"),
        "no patient names in reasons"
    );

    // Same slot as the first: double-booked patient and clinician; a blank reason is no reason.
    let mut again = appointment(&s, (2026, 11, 2), (16, 30), 30);
    again.override_reason = Some("   ".into());
    assert!(matches!(
        store.book_appointment(&grant, &again).await.expect("book"),
        BookingOutcome::Refused { .. }
    ));
    again.override_reason = Some("Crisis session agreed with the counselor".into());
    let BookingOutcome::Booked { id: overridden, .. } =
        store.book_appointment(&grant, &again).await.expect("book")
    else {
        panic!("override should book");
    };
    let read = store
        .patient_grant::<can::ReadSchedule>(&s.c.counselor, s.patient)
        .await
        .expect("grant");
    let list = store.patient_appointments(&read).await.expect("list");
    let row = list.iter().find(|a| a.id == overridden).expect("listed");
    assert_eq!(
        row.override_reason.as_deref(),
        Some("Crisis session agreed with the counselor")
    );
    assert!(list
        .iter()
        .find(|a| a.id == first_id)
        .expect("first")
        .override_reason
        .is_none());

    // A family session of five in a three-seat office is over capacity.
    let mut family = appointment(&s, (2026, 11, 3), (10, 0), 60);
    family.kind = AppointmentKind::FamilySession;
    family.occupants = Some(5);
    let BookingOutcome::Refused { conflicts } =
        store.book_appointment(&grant, &family).await.expect("book")
    else {
        panic!("over capacity should refuse");
    };
    assert!(matches!(
        conflicts[0].kind,
        ConflictKind::RoomOverCapacity {
            capacity: 3,
            peak: 5,
            ..
        }
    ));

    // Bad input: no room and no telehealth, a non-clinician, a silly length.
    let mut bad = appointment(&s, (2026, 11, 3), (10, 0), 60);
    bad.room_id = None;
    assert!(matches!(
        store.book_appointment(&grant, &bad).await,
        Err(StoreError::Invalid(_))
    ));
    let mut bad = appointment(&s, (2026, 11, 3), (10, 0), 60);
    bad.clinician_id = s.front_desk.user_id.expect("id");
    assert!(matches!(
        store.book_appointment(&grant, &bad).await,
        Err(StoreError::Invalid(_))
    ));
    let bad = appointment(&s, (2026, 11, 3), (10, 0), 0);
    assert!(matches!(
        store.book_appointment(&grant, &bad).await,
        Err(StoreError::Invalid(_))
    ));

    // Cancelling frees the slot.
    store
        .cancel_appointment(&grant, overridden)
        .await
        .expect("cancel");
    assert!(matches!(
        store.cancel_appointment(&grant, overridden).await,
        Err(StoreError::Conflict(_))
    ));
    let _ = s.room;
}

#[tokio::test]
async fn attended_appointments_count_toward_weekly_hours() {
    let s = setup().await;
    let store = &s.c.store;
    let grant = store
        .patient_grant::<can::ManageSchedule>(&s.front_desk, s.patient)
        .await
        .expect("grant");
    // Tuesday 2026-11-03: individual therapy 60 min (late, 45 attended) and a drug screen.
    let BookingOutcome::Booked { id: therapy, .. } = store
        .book_appointment(&grant, &appointment(&s, (2026, 11, 3), (10, 0), 60))
        .await
        .expect("book")
    else {
        panic!("book");
    };
    let mut screen = appointment(&s, (2026, 11, 3), (11, 0), 15);
    screen.kind = AppointmentKind::DrugScreen;
    let BookingOutcome::Booked { id: screen, .. } =
        store.book_appointment(&grant, &screen).await.expect("book")
    else {
        panic!("book");
    };
    assert!(matches!(
        store
            .record_appointment_attendance(&grant, therapy, AttendanceStatus::Late, None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    store
        .record_appointment_attendance(&grant, therapy, AttendanceStatus::Late, Some(45))
        .await
        .expect("check in");
    store
        .record_appointment_attendance(&grant, screen, AttendanceStatus::Present, None)
        .await
        .expect("check in");
    // Attendance marked: the appointment stays on record.
    assert!(matches!(
        store.cancel_appointment(&grant, therapy).await,
        Err(StoreError::Conflict(_))
    ));
    let read = store
        .patient_grant::<can::ReadSchedule>(&s.c.counselor, s.patient)
        .await
        .expect("grant");
    let schedule = store
        .patient_schedule(&read, None, day(2026, 11, 6), 1)
        .await
        .expect("schedule");
    // 45 therapy minutes count; the drug screen collection is no service.
    assert_eq!(schedule.weeks.last().expect("week").minutes, 45);
    let sheet_read = store
        .grant::<can::ReadSchedule>(&s.front_desk)
        .expect("grant");
    let alerts = store
        .hours_alerts(&sheet_read, s.c.site, day(2026, 11, 2))
        .await
        .expect("alerts");
    assert_eq!(alerts[0].minutes, 45);
    let on_sheet = store
        .site_appointments(&sheet_read, s.c.site, day(2026, 11, 3))
        .await
        .expect("sheet");
    assert_eq!(on_sheet.len(), 2);
    assert_eq!(on_sheet[0].attendance_status.as_deref(), Some("late"));
    let counselor_read = store
        .grant::<can::ReadSchedule>(&s.c.counselor)
        .expect("grant");
    let zone = trellis_domain::schedule::zone::SiteZone::parse("America/New_York").expect("zone");
    let my_day = store
        .clinician_day(
            &counselor_read,
            s.c.counselor.user_id.expect("id"),
            day(2026, 11, 2),
            zone,
        )
        .await
        .expect("day");
    assert_eq!(my_day.sessions.len(), 1, "the Monday group they facilitate");
}

#[tokio::test]
async fn calendar_feeds_are_neutral_audited_and_revocable() {
    let s = setup().await;
    let store = &s.c.store;
    let grant = store
        .patient_grant::<can::ManageSchedule>(&s.front_desk, s.patient)
        .await
        .expect("grant");
    // Next Monday: booking materialises the sessions of the days around it, and the counselor's
    // evening group meets on Mondays, so the feed has a group session whatever today is.
    let soon = today() + TimeDelta::days(7 - i64::from(today().weekday().num_days_from_monday()));
    let mut new = appointment(&s, (2026, 1, 1), (10, 0), 50);
    new.date = soon;
    store.book_appointment(&grant, &new).await.expect("book");
    let secret = store
        .create_patient_feed(&grant)
        .await
        .expect("feed")
        .secret;
    let from = Instant(Utc::now() - TimeDelta::days(1));
    let to = Instant(Utc::now() + TimeDelta::days(30));
    let feed = store.calendar_feed(&secret, from, to).await.expect("feed");
    assert!(!feed.events.is_empty());
    assert!(feed.events.iter().all(|e| e.summary == "Appointment"));
    assert!(feed
        .events
        .iter()
        .all(|e| !format!("{e:?}").contains("IOP") && !format!("{e:?}").contains("Evening")));

    let counselor = store
        .grant::<can::ReadSchedule>(&s.c.counselor)
        .expect("grant");
    let own = store
        .create_clinician_feed(&counselor)
        .await
        .expect("feed")
        .secret;
    let theirs = store.calendar_feed(&own, from, to).await.expect("feed");
    assert!(theirs
        .events
        .iter()
        .any(|e| e.summary == "Individual therapy"));
    assert!(theirs.events.iter().any(|e| e.summary == "Group session"));
    assert!(theirs
        .events
        .iter()
        .all(|e| !format!("{e:?}").contains("Ana")));

    let feeds = store
        .patient_feeds(
            &store
                .patient_grant::<can::ReadSchedule>(&s.front_desk, s.patient)
                .await
                .expect("grant"),
        )
        .await
        .expect("feeds");
    assert!(feeds[0].last_fetched_at.is_some());
    store
        .revoke_patient_feed(&grant, feeds[0].id)
        .await
        .expect("revoke");
    assert!(matches!(
        store.calendar_feed(&secret, from, to).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.calendar_feed("cal_nonsense", from, to).await,
        Err(StoreError::NotFound(_))
    ));
    // Someone else's feed cannot be revoked through one's own.
    let outsider = store
        .grant::<can::ReadSchedule>(&s.c.outsider)
        .expect("grant");
    let mine = store.clinician_feeds(&counselor).await.expect("feeds");
    assert!(matches!(
        store.revoke_clinician_feed(&outsider, mine[0].id).await,
        Err(StoreError::NotFound(_))
    ));
}

/// The one field error a refused booking carries.
fn only_error(result: Result<BookingOutcome, StoreError>) -> (&'static str, String) {
    match result {
        Err(StoreError::Invalid(errors)) if errors.len() == 1 => {
            (errors[0].field, errors[0].message.clone())
        }
        other => panic!("expected one field error, got {other:?}"),
    }
}

#[tokio::test]
async fn booked_times_on_daylight_saving_nights_are_exact_or_refused() {
    let s = setup().await;
    let store = &s.c.store;
    let grant = store
        .patient_grant::<can::ManageSchedule>(&s.front_desk, s.patient)
        .await
        .expect("grant");

    // 02:30 on 8 Mar 2026 does not exist in New York: refused, not moved to 03:30.
    let (field, message) = only_error(
        store
            .book_appointment(&grant, &appointment(&s, (2026, 3, 8), (2, 30), 50))
            .await,
    );
    assert_eq!(field, "start");
    assert_eq!(
        message,
        "the start time 02:30 does not exist on 8 Mar 2026 in America/New_York: clocks go forward from 02:00 to \
         03:00"
    );
    // 01:59–03:00 by the clock on 8 Mar 2026 is one real minute: refused.
    let (field, message) = only_error(
        store
            .book_appointment(&grant, &appointment(&s, (2026, 3, 8), (1, 59), 61))
            .await,
    );
    assert_eq!(field, "end");
    assert!(
        message.contains("so it lasts 1 min in real time"),
        "{message}"
    );
    // 01:30 on 1 Nov 2026 happens twice: refused rather than guessed.
    let (field, message) = only_error(
        store
            .book_appointment(&grant, &appointment(&s, (2026, 11, 1), (1, 30), 50))
            .await,
    );
    assert_eq!(field, "start");
    assert!(
        message.starts_with("the start time 01:30 happens twice on 1 Nov 2026"),
        "{message}"
    );
    // 00:30–01:20 ends in the repeated hour: the end is named.
    let (field, message) = only_error(
        store
            .book_appointment(&grant, &appointment(&s, (2026, 11, 1), (0, 30), 50))
            .await,
    );
    assert_eq!(field, "end");
    assert!(
        message.starts_with("the end time 01:20 happens twice"),
        "{message}"
    );

    // 00:30–02:20 by the clock spans the repeated hour: 110 clock minutes are 170 real ones.
    let across = store
        .book_appointment(&grant, &appointment(&s, (2026, 11, 1), (0, 30), 110))
        .await
        .expect("book");
    assert!(
        matches!(across, BookingOutcome::Booked { .. }),
        "{across:?}"
    );
    let read = store
        .patient_grant::<can::ReadSchedule>(&s.front_desk, s.patient)
        .await
        .expect("grant");
    let booked = store.patient_appointments(&read).await.expect("list");
    let a = booked
        .iter()
        .find(|a| a.local_date.0 == day(2026, 11, 1))
        .expect("the fall-back booking");
    assert_eq!(a.starts_at.0.to_rfc3339(), "2026-11-01T04:30:00+00:00");
    assert_eq!(a.ends_at.0.to_rfc3339(), "2026-11-01T07:20:00+00:00");
    assert!(a.ends_at.0 > a.starts_at.0);
    assert_eq!(a.minutes, 170);
}

#[tokio::test]
async fn a_site_week_holds_its_sessions_and_appointments_from_monday_to_sunday() {
    let s = setup().await;
    let store = &s.c.store;
    let grant = store
        .patient_grant::<can::ManageSchedule>(&s.front_desk, s.patient)
        .await
        .expect("grant");
    for date in [(2026, 11, 3), (2026, 11, 10)] {
        let BookingOutcome::Booked { .. } = store
            .book_appointment(&grant, &appointment(&s, date, (10, 0), 60))
            .await
            .expect("book")
        else {
            panic!("book");
        };
    }
    let read = store
        .grant::<can::ReadSchedule>(&s.front_desk)
        .expect("grant");
    let week = store
        .site_week(&read, s.c.site, day(2026, 11, 2))
        .await
        .expect("week");
    // The evening track meets Monday and Wednesday; one appointment falls in this week.
    let dates: Vec<_> = week.sessions.iter().map(|g| g.local_date).collect();
    assert_eq!(dates, vec![Day(day(2026, 11, 2)), Day(day(2026, 11, 4))]);
    assert_eq!(week.appointments.len(), 1);
    assert_eq!(week.appointments[0].local_date, Day(day(2026, 11, 3)));
    // A counselor outside the site's caseload sees the sessions but not the patient.
    let other = staff(store, "otto", Role::Counselor).await;
    let theirs = store.grant::<can::ReadSchedule>(&other).expect("grant");
    let seen = store
        .site_week(&theirs, s.c.site, day(2026, 11, 9))
        .await
        .expect("week");
    assert_eq!(seen.sessions.len(), 2);
    assert!(seen.appointments.is_empty());
}
