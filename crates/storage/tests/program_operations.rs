//! Program operations on both engines: tracks, sessions, enrolment, attendance, hours, outreach.

use chrono::{NaiveDate, NaiveTime, Weekday};
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::patient::Registration;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::hours::WeekStanding;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::Admission;
use trellis_storage::org::{NewProgram, NewSite};
use trellis_storage::patients::RegisterOutcome;
use trellis_storage::schedule::{NewRoom, NewTrack};
use trellis_storage::staff::NewStaff;
use trellis_storage::testing::fresh_store;
use trellis_storage::{Store, StoreError};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

struct Clinic {
    store: Store,
    site: i64,
    program: i64,
    track: i64,
    counselor: Actor,
    front_desk: Actor,
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

async fn clinic(max_group_size: i64) -> Clinic {
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
                max_group_size,
            },
        )
        .await
        .expect("program");
    let room = store
        .create_room(
            &programs,
            NewRoom {
                site_id: site,
                name: "Group room 1".into(),
                capacity: 14,
            },
        )
        .await
        .expect("room");
    let track = store
        .create_track(
            &programs,
            NewTrack {
                program_id: program,
                name: "Evening".into(),
                room_id: Some(room),
                telehealth: false,
                starts_on: day(2026, 1, 5),
                slots: [Weekday::Mon, Weekday::Wed, Weekday::Thu]
                    .into_iter()
                    .map(|d| WeeklySlot::new(d, at(18, 0), at(21, 0)).expect("slot"))
                    .collect(),
                topics: [
                    "Relapse prevention",
                    "Triggers",
                    "Cravings",
                    "Stress management",
                ]
                .into_iter()
                .map(|t| (t.to_owned(), format!("{t} worksheet")))
                .collect(),
            },
        )
        .await
        .expect("track");
    let counselor = staff(&store, "casey", Role::Counselor).await;
    let front_desk = staff(&store, "frankie", Role::FrontDesk).await;
    let users = store.grant::<can::ManageUsers>(&admin).expect("grant");
    store
        .set_assignments(
            &users,
            counselor.user_id.expect("id"),
            &[(site, Some(program))],
        )
        .await
        .expect("assign");
    store
        .set_assignments(&users, front_desk.user_id.expect("id"), &[(site, None)])
        .await
        .expect("assign");
    Clinic {
        store,
        site,
        program,
        track,
        counselor,
        front_desk,
    }
}

async fn admitted(c: &Clinic, first: &str) -> i64 {
    let intake = staff(&c.store, &format!("intake-{first}"), Role::Intake).await;
    let admin = Actor::system("test");
    let users = c.store.grant::<can::ManageUsers>(&admin).expect("grant");
    c.store
        .set_assignments(&users, intake.user_id.expect("id"), &[(c.site, None)])
        .await
        .expect("assign");
    let grant = c
        .store
        .grant::<can::EditDemographics>(&intake)
        .expect("grant");
    let id = match c
        .store
        .register_patient(
            &grant,
            c.site,
            &Registration {
                legal_first_name: first.into(),
                legal_last_name: "Rivera".into(),
                date_of_birth: Some(day(1990, 5, 17)),
                sex: "female".into(),
                ..Registration::default()
            },
            day(2026, 3, 1),
            false,
        )
        .await
        .expect("register")
    {
        RegisterOutcome::Created(id) => id,
        other => panic!("expected a new patient, got {other:?}"),
    };
    let admit = c
        .store
        .patient_grant::<can::AdmitEpisode>(&intake, id)
        .await
        .expect("grant");
    c.store
        .admit(
            &admit,
            &Admission {
                program_id: c.program,
                admitted_on: day(2026, 3, 2),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            day(2026, 3, 2),
        )
        .await
        .expect("admit");
    id
}

async fn enrol(c: &Clinic, patient: i64) -> Result<i64, StoreError> {
    let grant = c
        .store
        .patient_grant::<can::ManageSchedule>(&c.front_desk, patient)
        .await?;
    c.store.enrol(&grant, c.track, day(2026, 3, 2)).await
}

#[tokio::test]
async fn sessions_are_materialised_once_in_local_time_across_dst() {
    let c = clinic(12).await;
    let read = c
        .store
        .grant::<can::ReadSchedule>(&c.front_desk)
        .expect("grant");
    // 2026-03-08 is the spring-forward Sunday in New York.
    let added = c
        .store
        .materialise_sessions(&read, c.site, day(2026, 3, 2), day(2026, 3, 15))
        .await
        .expect("materialise");
    assert_eq!(added, 6);
    let again = c
        .store
        .materialise_sessions(&read, c.site, day(2026, 3, 1), day(2026, 3, 15))
        .await
        .expect("materialise again");
    assert_eq!(again, 0, "materialising is idempotent");
    let before = c
        .store
        .day_sheet(&read, c.site, day(2026, 3, 4))
        .await
        .expect("sheet");
    let after = c
        .store
        .day_sheet(&read, c.site, day(2026, 3, 11))
        .await
        .expect("sheet");
    // 18:00 EST is 23:00 UTC; 18:00 EDT is 22:00 UTC.
    assert_eq!(
        before[0].session.starts_at.to_db(),
        "2026-03-04T23:00:00.000000Z"
    );
    assert_eq!(
        after[0].session.starts_at.to_db(),
        "2026-03-11T22:00:00.000000Z"
    );
    assert_eq!(before[0].session.minutes, 180);
    // Weeks count from the track's first week: the topic cycle is the same however often asked.
    assert!(before[0].session.topic_title.is_some());
    assert!(before[0]
        .session
        .topic_materials
        .as_deref()
        .unwrap_or("")
        .ends_with("worksheet"));
}

#[tokio::test]
async fn closures_and_cancellations_remove_sessions() {
    let c = clinic(12).await;
    let admin = Actor::system("test");
    let programs = c.store.grant::<can::ManagePrograms>(&admin).expect("grant");
    let manage = c
        .store
        .grant::<can::ManageSchedule>(&c.front_desk)
        .expect("grant");
    let read = c
        .store
        .grant::<can::ReadSchedule>(&c.front_desk)
        .expect("grant");
    c.store
        .add_closure(&programs, c.site, day(2026, 3, 4), "Staff training day")
        .await
        .expect("closure");
    c.store
        .cancel_track_day(&manage, c.track, day(2026, 3, 5), "Facilitator ill")
        .await
        .expect("cancel");
    let bad = c
        .store
        .cancel_track_day(&manage, c.track, day(2026, 3, 9), " ")
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));
    assert!(c
        .store
        .day_sheet(&read, c.site, day(2026, 3, 4))
        .await
        .expect("sheet")
        .is_empty());
    assert!(c
        .store
        .day_sheet(&read, c.site, day(2026, 3, 5))
        .await
        .expect("sheet")
        .is_empty());
    assert_eq!(
        c.store
            .day_sheet(&read, c.site, day(2026, 3, 9))
            .await
            .expect("sheet")
            .len(),
        1
    );
}

#[tokio::test]
async fn enrolment_respects_the_group_cap_and_needs_an_open_episode() {
    let c = clinic(2).await;
    let a = admitted(&c, "Ana").await;
    let b = admitted(&c, "Bea").await;
    let d = admitted(&c, "Dee").await;
    enrol(&c, a).await.expect("first seat");
    assert!(
        matches!(enrol(&c, a).await, Err(StoreError::Conflict(_))),
        "no double enrolment"
    );
    enrol(&c, b).await.expect("second seat");
    assert!(
        matches!(enrol(&c, d).await, Err(StoreError::Conflict(_))),
        "the group is full"
    );
    let billing = staff(&c.store, "bill", Role::Billing).await;
    assert!(matches!(
        c.store
            .patient_grant::<can::ManageSchedule>(&billing, a)
            .await,
        Err(StoreError::Denied(_))
    ));
}

#[tokio::test]
async fn every_sites_weekly_hours_in_one_list_judged_as_each_site_judges_them() {
    let c = clinic(12).await;
    let ana = admitted(&c, "Ana").await;
    enrol(&c, ana).await.expect("enrol");
    let admin = Actor::system("test");
    let programs = c.store.grant::<can::ManagePrograms>(&admin).expect("grant");
    // A second site three hours west, whose week starts three hours later in UTC.
    let west_site = c
        .store
        .create_site(
            &programs,
            NewSite {
                code: "HBR".into(),
                name: "Harbor".into(),
                timezone: "America/Los_Angeles".into(),
                address: None,
                phone: None,
            },
        )
        .await
        .expect("site");
    let west_program = c
        .store
        .create_program(
            &programs,
            NewProgram {
                site_id: west_site,
                name: "Adult SUD IOP West".into(),
                population: "adult".into(),
                level_of_care: LevelOfCare::IntensiveOutpatient,
                weekly_minimum_hours: 9.0,
                max_group_size: 12,
            },
        )
        .await
        .expect("program");
    let west = Clinic {
        store: c.store.clone(),
        site: west_site,
        program: west_program,
        track: c.track,
        counselor: c.counselor.clone(),
        front_desk: c.front_desk.clone(),
    };
    let bo = admitted(&west, "Bo").await;
    let read = c
        .store
        .grant::<can::ReadSchedule>(&c.front_desk)
        .expect("grant");
    let monday = c
        .store
        .day_sheet(&read, c.site, day(2026, 3, 2))
        .await
        .expect("sheet")[0]
        .session
        .id;
    let mark = c
        .store
        .patient_grant::<can::ManageSchedule>(&c.front_desk, ana)
        .await
        .expect("grant");
    c.store
        .record_attendance(&mark, monday, AttendanceStatus::Present, None)
        .await
        .expect("mark");
    let director = staff(&c.store, "dana", Role::ClinicalDirector).await;
    let every_site = c
        .store
        .grant::<can::ReadSchedule>(&director)
        .expect("grant");
    let week = day(2026, 3, 4);
    let mut per_site = Vec::new();
    for site in [c.site, west_site] {
        per_site.extend(
            c.store
                .hours_alerts(&every_site, site, week)
                .await
                .expect("alerts"),
        );
    }
    let minutes: Vec<(i64, u32)> = per_site.iter().map(|a| (a.patient_id, a.minutes)).collect();
    assert_eq!(minutes, vec![(ana, 180), (bo, 0)], "both under the minimum");
    let network = c
        .store
        .network_hours_alerts(&every_site, week)
        .await
        .expect("alerts");
    assert_eq!(network, per_site, "one list, the same judgement");
    // The list keeps to what the reader may see: the front desk works at the first site only.
    let front_desk = c
        .store
        .network_hours_alerts(&read, week)
        .await
        .expect("alerts");
    let shown: Vec<i64> = front_desk.iter().map(|a| a.patient_id).collect();
    assert_eq!(shown, vec![ana]);
    assert!(matches!(
        c.store
            .hours_alerts(&every_site, west_site + 100, week)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn attendance_counts_hours_flags_per_diem_and_opens_outreach_once() {
    let c = clinic(12).await;
    let p = admitted(&c, "Ana").await;
    enrol(&c, p).await.expect("enrol");
    let read = c
        .store
        .grant::<can::ReadSchedule>(&c.front_desk)
        .expect("grant");
    let sheet = |d: NaiveDate| {
        let store = c.store.clone();
        let read = read.clone();
        let site = c.site;
        async move { store.day_sheet(&read, site, d).await.expect("sheet") }
    };
    let grant = c
        .store
        .patient_grant::<can::ManageSchedule>(&c.front_desk, p)
        .await
        .expect("grant");
    // Week of Monday 2026-03-02: Monday full, Wednesday late 120 min, Thursday present.
    let mon = sheet(day(2026, 3, 2)).await[0].session.id;
    let wed = sheet(day(2026, 3, 4)).await[0].session.id;
    let thu = sheet(day(2026, 3, 5)).await[0].session.id;
    assert_eq!(sheet(day(2026, 3, 2)).await[0].roster.len(), 1);
    c.store
        .record_attendance(&grant, mon, AttendanceStatus::Present, None)
        .await
        .expect("mark");
    let late = c
        .store
        .record_attendance(&grant, wed, AttendanceStatus::Late, None)
        .await;
    assert!(
        matches!(late, Err(StoreError::Invalid(_))),
        "late needs minutes"
    );
    let too_long = c
        .store
        .record_attendance(&grant, wed, AttendanceStatus::Present, Some(181))
        .await;
    assert!(matches!(too_long, Err(StoreError::Invalid(_))));
    c.store
        .record_attendance(&grant, wed, AttendanceStatus::Late, Some(120))
        .await
        .expect("mark");
    c.store
        .record_attendance(&grant, thu, AttendanceStatus::Present, None)
        .await
        .expect("mark");
    let counselor = c
        .store
        .patient_grant::<can::ReadSchedule>(&c.counselor, p)
        .await
        .expect("grant");
    let clinical = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, p)
        .await
        .expect("clinical grant");
    let schedule = c
        .store
        .patient_schedule(&counselor, Some(&clinical), day(2026, 3, 6), 2)
        .await
        .expect("schedule");
    let week = schedule.weeks.last().expect("this week");
    assert_eq!(week.minutes, 480);
    // The week is not over, so it is not judged yet (480 min so far, under the minimum).
    assert_eq!(week.standing, WeekStanding::InProgress);
    let per_diem: Vec<bool> = schedule.days.iter().map(|d| d.per_diem_eligible).collect();
    assert_eq!(per_diem, vec![true, false, true], "Thu, Wed (2 h), Mon");
    let coverage = schedule.coverage.expect("coverage for a clinical reader");
    assert_eq!(coverage[0].attended.len(), 3);
    assert_eq!(coverage[0].missing.len(), 1);
    // Which topics a patient has missed is clinical: the schedule alone does not carry it.
    let without = c
        .store
        .patient_schedule(&counselor, None, day(2026, 3, 6), 2)
        .await
        .expect("schedule");
    assert_eq!(without.coverage, None);
    assert_eq!(without.weeks, schedule.weeks);
    let alerts = c
        .store
        .hours_alerts(&read, c.site, day(2026, 3, 4))
        .await
        .expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].minutes, 480);

    // Two no-shows in a row open one task for the counselor; a third does not open another.
    let m9 = sheet(day(2026, 3, 9)).await[0].session.id;
    let m11 = sheet(day(2026, 3, 11)).await[0].session.id;
    let m12 = sheet(day(2026, 3, 12)).await[0].session.id;
    let first = c
        .store
        .record_attendance(&grant, m9, AttendanceStatus::AbsentUnexcused, None)
        .await
        .expect("mark");
    assert_eq!(first.outreach_task_id, None);
    let second = c
        .store
        .record_attendance(&grant, m11, AttendanceStatus::AbsentUnexcused, None)
        .await
        .expect("mark");
    assert!(second.outreach_task_id.is_some());
    let third = c
        .store
        .record_attendance(&grant, m12, AttendanceStatus::AbsentUnexcused, None)
        .await
        .expect("mark");
    assert_eq!(third.outreach_task_id, None, "one task per run");
    let mine = c
        .store
        .grant::<can::ReadDemographics>(&c.counselor)
        .expect("grant");
    let tasks = c.store.my_tasks(&mine).await.expect("tasks");
    assert_eq!(tasks.iter().filter(|t| t.kind == "outreach").count(), 1);
    let absent_minutes = c
        .store
        .record_attendance(&grant, m12, AttendanceStatus::AbsentExcused, Some(30))
        .await;
    assert!(matches!(absent_minutes, Err(StoreError::Invalid(_))));
}

#[tokio::test]
async fn track_input_is_checked() {
    let c = clinic(12).await;
    let admin = Actor::system("test");
    let programs = c.store.grant::<can::ManagePrograms>(&admin).expect("grant");
    let bad = c
        .store
        .create_track(
            &programs,
            NewTrack {
                program_id: c.program,
                name: " ".into(),
                room_id: None,
                telehealth: false,
                starts_on: day(2026, 1, 5),
                slots: vec![],
                topics: vec![],
            },
        )
        .await;
    match bad {
        Err(StoreError::Invalid(errors)) => assert_eq!(errors.len(), 3),
        other => panic!("expected invalid, got {other:?}"),
    }
    let room = c
        .store
        .create_room(
            &programs,
            NewRoom {
                site_id: c.site,
                name: "Tiny".into(),
                capacity: 0,
            },
        )
        .await;
    assert!(matches!(room, Err(StoreError::Invalid(_))));
    assert!(c.store.grant::<can::ManagePrograms>(&c.front_desk).is_err());
}
