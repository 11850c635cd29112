//! Discharge storage tests: follow-up tasks opened by a discharge, the summary generated from the
//! record (edited, signed, locked), the aftercare plan, follow-up outcomes and their report.
//! Run on SQLite by default and on PostgreSQL with TRELLIS_TEST_DATABASE=postgres.

use chrono::{Duration, NaiveDate, NaiveTime, Weekday};
use std::collections::BTreeMap;
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_domain::measures::Instrument;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::{can, Actor};
use trellis_storage::discharge::{
    AftercareKind, ContactResult, FollowUpOutcome, NewAftercareItem, RecoveryStatus,
    FOLLOW_UP_TASK_KIND,
};
use trellis_storage::episodes::Admission;
use trellis_storage::measures::NewMeasure;
use trellis_storage::schedule::NewTrack;
use trellis_storage::testing::raw_strings;
use trellis_storage::StoreError;

mod common;

use common::*;

/// Admits a patient 40 days ago to the clinic's program, with the clinic counselor as primary.
async fn admitted(c: &Clinic, first: &str) -> (i64, i64) {
    let patient = register(c, first, "Rivera").await;
    let admit = c
        .store
        .patient_grant::<can::AdmitEpisode>(&c.intake, patient)
        .await
        .expect("grant");
    let episode = c
        .store
        .admit(
            &admit,
            &Admission {
                program_id: c.program,
                admitted_on: today() - Duration::days(40),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    (patient, episode)
}

async fn discharge(c: &Clinic, patient: i64, episode: i64, reason: DischargeReason) {
    let grant = c
        .store
        .patient_grant::<can::DischargeEpisode>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
        .discharge(
            &grant,
            episode,
            today() - Duration::days(1),
            reason,
            None,
            today(),
        )
        .await
        .expect("discharge");
}

async fn write_grant(
    c: &Clinic,
    actor: &Actor,
    patient: i64,
) -> trellis_storage::access::PatientGrant<can::WriteClinical> {
    c.store
        .patient_grant::<can::WriteClinical>(actor, patient)
        .await
        .expect("grant")
}

async fn read_grant(
    c: &Clinic,
    patient: i64,
) -> trellis_storage::access::PatientGrant<can::ReadClinical> {
    c.store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant")
}

async fn phq9(c: &Clinic, patient: i64, on: NaiveDate, answer: u8) {
    let grant = write_grant(c, &c.counselor, patient).await;
    c.store
        .record_measure(
            &grant,
            &NewMeasure {
                instrument: Instrument::Phq9,
                administered_on: on,
                answers: [vec![Some(answer); 8], vec![Some(0)]].concat(),
            },
            today(),
        )
        .await
        .expect("measure");
}

/// A telehealth track with a two-topic curriculum; the patient attends the first session.
async fn attend_one_group(c: &Clinic, patient: i64) {
    let admin = Actor::system("test");
    let programs = c.store.grant::<can::ManagePrograms>(&admin).expect("grant");
    let at = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("time");
    let start = today() - Duration::days(40);
    let track = c
        .store
        .create_track(
            &programs,
            NewTrack {
                program_id: c.program,
                name: "Evening".into(),
                room_id: None,
                telehealth: true,
                starts_on: start,
                slots: [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ]
                .into_iter()
                .map(|d| WeeklySlot::new(d, at(18), at(21)).expect("slot"))
                .collect(),
                topics: vec![
                    ("Triggers".into(), "worksheet".into()),
                    ("Cravings".into(), "worksheet".into()),
                ],
            },
        )
        .await
        .expect("track");
    let read = c
        .store
        .grant::<can::ReadSchedule>(&c.counselor)
        .expect("grant");
    c.store
        .materialise_sessions(&read, c.site, start, today() - Duration::days(3))
        .await
        .expect("sessions");
    let schedule = c
        .store
        .patient_grant::<can::ManageSchedule>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store.enrol(&schedule, track, start).await.expect("enrol");
    let first: Vec<String> = raw_strings(
        &c.store,
        "SELECT CAST(id AS TEXT) FROM group_sessions ORDER BY starts_at LIMIT 1",
    )
    .await
    .expect("session");
    c.store
        .record_attendance(
            &schedule,
            first[0].parse().expect("id"),
            AttendanceStatus::Present,
            None,
        )
        .await
        .expect("attend");
}

#[tokio::test]
async fn discharge_opens_three_follow_up_tasks_for_the_counselor_but_none_after_a_death() {
    let c = clinic().await;
    let (patient, episode) = admitted(&c, "Ana").await;
    discharge(&c, patient, episode, DischargeReason::TreatmentCompleted).await;
    let follow_ups = c
        .store
        .follow_ups(&read_grant(&c, patient).await, episode)
        .await
        .expect("follow-ups");
    let out = today() - Duration::days(1);
    assert_eq!(
        follow_ups
            .iter()
            .map(|f| (f.days_after, f.due_on.0))
            .collect::<Vec<_>>(),
        vec![
            (30, out + Duration::days(30)),
            (60, out + Duration::days(60)),
            (90, out + Duration::days(90)),
        ]
    );
    assert!(follow_ups.iter().all(|f| f.contact_result.is_none()));
    let read = c
        .store
        .grant::<can::ReadDemographics>(&c.counselor)
        .expect("grant");
    let mine = c.store.my_tasks(&read).await.expect("tasks");
    assert_eq!(
        mine.iter()
            .filter(|t| t.kind == FOLLOW_UP_TASK_KIND)
            .count(),
        3
    );
    assert!(mine
        .iter()
        .any(|t| t.title == "30-day follow-up call after discharge"));

    let (other, other_episode) = admitted(&c, "Ben").await;
    discharge(&c, other, other_episode, DischargeReason::Death).await;
    let none = c
        .store
        .follow_ups(&read_grant(&c, other).await, other_episode)
        .await
        .expect("follow-ups");
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_phq9_baseline_below_10_is_never_reported_as_remission() {
    let c = clinic().await;
    let (patient, episode) = admitted(&c, "Ana").await;
    // 8 → 0: below the measured baseline, so neither response nor remission (issue 19, item 4).
    phq9(&c, patient, today() - Duration::days(30), 1).await;
    phq9(&c, patient, today() - Duration::days(2), 0).await;
    discharge(&c, patient, episode, DischargeReason::TreatmentCompleted).await;
    let write = write_grant(&c, &c.counselor, patient).await;
    c.store
        .generate_discharge_summary(&write, episode)
        .await
        .expect("generate");
    let summary = c
        .store
        .discharge_summary(&read_grant(&c, patient).await, episode)
        .await
        .expect("read")
        .expect("a summary");
    let measures = summary
        .sections
        .iter()
        .find(|s| s.key == "measures")
        .map(|s| s.text.clone())
        .expect("section");
    assert!(
        measures.contains("PHQ-9: 8 on")
            && measures.contains("change -8")
            && measures.contains("; response and remission not applicable: baseline below 10")
            && measures.contains("; reliable improvement (4 points or more)"),
        "{measures}"
    );
    assert!(!measures.contains("remission (below 5)"), "{measures}");
}

#[tokio::test]
async fn the_summary_is_generated_from_the_record_then_edited_signed_and_locked() {
    let c = clinic().await;
    let (patient, episode) = admitted(&c, "Ana").await;
    phq9(&c, patient, today() - Duration::days(39), 2).await;
    phq9(&c, patient, today() - Duration::days(2), 0).await;
    attend_one_group(&c, patient).await;
    let write = write_grant(&c, &c.counselor, patient).await;
    c.store
        .add_aftercare_item(
            &write,
            episode,
            &NewAftercareItem {
                kind: AftercareKind::StepDown,
                detail: "Eastside Outpatient".into(),
                contact: "555-0100".into(),
                scheduled_on: Some(today() + Duration::days(5)),
            },
            today(),
        )
        .await
        .expect("aftercare");
    // Not before discharge.
    let early = c.store.generate_discharge_summary(&write, episode).await;
    assert!(matches!(early, Err(StoreError::Conflict(_))), "{early:?}");
    discharge(&c, patient, episode, DischargeReason::TreatmentCompleted).await;
    let id = c
        .store
        .generate_discharge_summary(&write, episode)
        .await
        .expect("generate");
    let again = c.store.generate_discharge_summary(&write, episode).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let summary = c
        .store
        .discharge_summary(&read_grant(&c, patient).await, episode)
        .await
        .expect("read")
        .expect("a summary");
    let section = |key: &str| {
        summary
            .sections
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.text.clone())
            .expect("section")
    };
    assert!(summary.is_draft());
    assert!(
        section("stay").contains("Treatment completed (TEDS 1)"),
        "{}",
        section("stay")
    );
    assert!(
        section("stay").contains("40 days in care"),
        "{}",
        section("stay")
    );
    assert!(
        section("levels").contains("ASAM 2.1"),
        "{}",
        section("levels")
    );
    assert!(
        section("attendance").contains("attended: 1 of 1 marked")
            && section("attendance").contains("Hours of service: 3.0"),
        "{}",
        section("attendance")
    );
    assert!(
        section("curriculum").contains("Evening: 1 of 2 topics completed (")
            && section("curriculum").contains("). Missing: "),
        "{}",
        section("curriculum")
    );
    assert!(
        section("measures").contains("PHQ-9: 16")
            && section("measures").contains("→ 0")
            && section("measures").contains("change -16")
            && section("measures").contains("; response (50% or more lower)")
            && section("measures").contains("; remission (below 5)")
            && section("measures").contains("; reliable improvement (4 points or more)")
            && section("measures").contains("; clinically important improvement (MCID 5)"),
        "{}",
        section("measures")
    );
    assert_eq!(section("plan_progress"), "None recorded.");
    assert_eq!(section("medications"), "None recorded.");
    assert!(
        section("referrals").contains("988"),
        "{}",
        section("referrals")
    );
    assert!(
        section("referrals")
            .contains("Step-down to outpatient: Eastside Outpatient (contact: 555-0100)"),
        "{}",
        section("referrals")
    );
    assert_eq!(section("course"), "");

    // Encrypted at rest.
    let raw = raw_strings(&c.store, "SELECT sections FROM discharge_summaries")
        .await
        .expect("raw");
    assert!(!raw[0].contains("Eastside"));

    // The course of treatment is required to sign.
    let unsigned = c.store.sign_discharge_summary(&write, id).await;
    assert!(
        matches!(unsigned, Err(StoreError::Invalid(ref f)) if f[0].field == "course"),
        "{unsigned:?}"
    );
    let unknown = c
        .store
        .update_discharge_summary(
            &write,
            id,
            &BTreeMap::from([("diagnosis".to_owned(), "x".to_owned())]),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::Invalid(_))),
        "{unknown:?}"
    );
    c.store
        .update_discharge_summary(
            &write,
            id,
            &BTreeMap::from([(
                "course".to_owned(),
                "Engaged well; completed IOP.".to_owned(),
            )]),
        )
        .await
        .expect("edit");
    c.store
        .sign_discharge_summary(&write, id)
        .await
        .expect("sign");
    let signed = c
        .store
        .discharge_summary(&read_grant(&c, patient).await, episode)
        .await
        .expect("read")
        .expect("a summary");
    assert!(!signed.is_draft());
    assert_eq!(signed.signed_by_name.as_deref(), Some("casey"));
    assert!(signed
        .sections
        .iter()
        .any(|s| s.key == "course" && s.text == "Engaged well; completed IOP."));
    // Edits kept the generated sections.
    assert!(signed
        .sections
        .iter()
        .any(|s| s.key == "stay" && !s.text.is_empty()));

    let twice = c.store.sign_discharge_summary(&write, id).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let edit = c
        .store
        .update_discharge_summary(
            &write,
            id,
            &BTreeMap::from([("course".to_owned(), "changed".to_owned())]),
        )
        .await;
    assert!(matches!(edit, Err(StoreError::Conflict(_))), "{edit:?}");

    // Another program's counselor cannot reach it.
    let outsider = c
        .store
        .patient_grant::<can::ReadClinical>(&c.outsider, patient)
        .await;
    assert!(matches!(outsider, Err(StoreError::Denied(_))));
}

#[tokio::test]
async fn the_aftercare_plan_always_has_the_crisis_line_and_checks_its_lines() {
    let c = clinic().await;
    let (patient, episode) = admitted(&c, "Ana").await;
    let write = write_grant(&c, &c.counselor, patient).await;
    let plan = c
        .store
        .aftercare_plan(&read_grant(&c, patient).await, episode)
        .await
        .expect("plan");
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].kind, AftercareKind::CrisisLine);
    let item = |kind, detail: &str, contact: &str| NewAftercareItem {
        kind,
        detail: detail.into(),
        contact: contact.into(),
        scheduled_on: None,
    };
    let cases = [
        (item(AftercareKind::CrisisLine, "988", ""), "kind"),
        (item(AftercareKind::SoberLiving, " ", ""), "detail"),
        (
            item(AftercareKind::Referral, "Housing office", ""),
            "contact",
        ),
        (item(AftercareKind::Other, &"x".repeat(301), ""), "detail"),
    ];
    for (bad, field) in cases {
        let err = c
            .store
            .add_aftercare_item(&write, episode, &bad, today())
            .await;
        assert!(
            matches!(err, Err(StoreError::Invalid(ref f)) if f[0].field == field),
            "{field}: {err:?}"
        );
    }
    let far = NewAftercareItem {
        scheduled_on: Some(today() + Duration::days(400)),
        ..item(AftercareKind::Psychiatry, "Dr. Osei", "")
    };
    assert!(matches!(
        c.store
            .add_aftercare_item(&write, episode, &far, today())
            .await,
        Err(StoreError::Invalid(_))
    ));
    for good in [
        item(AftercareKind::MutualHelp, "AA Tuesdays", ""),
        item(AftercareKind::AlumniGroup, "", ""),
        item(AftercareKind::Referral, "Housing office", "555-0101"),
    ] {
        c.store
            .add_aftercare_item(&write, episode, &good, today())
            .await
            .expect("add");
    }
    let plan = c
        .store
        .aftercare_plan(&read_grant(&c, patient).await, episode)
        .await
        .expect("plan");
    assert_eq!(
        plan.iter().map(|i| i.kind).collect::<Vec<_>>(),
        vec![
            AftercareKind::CrisisLine,
            AftercareKind::MutualHelp,
            AftercareKind::AlumniGroup,
            AftercareKind::Referral
        ]
    );
    assert_eq!(plan[3].contact.as_deref(), Some("555-0101"));
    let raw = raw_strings(
        &c.store,
        "SELECT contact FROM aftercare_items WHERE contact IS NOT NULL",
    )
    .await
    .expect("raw");
    assert!(!raw[0].contains("555"));
    // An episode of another patient is not found through this patient's grant.
    let (_, other_episode) = admitted(&c, "Ben").await;
    assert!(matches!(
        c.store
            .add_aftercare_item(
                &write,
                other_episode,
                &item(AftercareKind::AlumniGroup, "", ""),
                today()
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn follow_up_outcomes_complete_their_task_and_feed_the_report() {
    let c = clinic().await;
    let (patient, episode) = admitted(&c, "Ana").await;
    discharge(&c, patient, episode, DischargeReason::TreatmentCompleted).await;
    let write = write_grant(&c, &c.counselor, patient).await;
    let follow_ups = c
        .store
        .follow_ups(&read_grant(&c, patient).await, episode)
        .await
        .expect("follow-ups");
    let thirty = follow_ups[0].task_id;
    let on_day = follow_ups[0].due_on.0;
    let outcome = |contact, status| FollowUpOutcome {
        contact,
        status,
        note: "Attending AA twice a week".into(),
    };
    let reached = outcome(
        Some(ContactResult::Reached),
        Some(RecoveryStatus::InRecovery),
    );

    // Bad input: no contact result, no status, a status nobody could know, too early.
    for (bad, field) in [
        (
            outcome(None, Some(RecoveryStatus::InRecovery)),
            "contact_result",
        ),
        (
            outcome(Some(ContactResult::Reached), None),
            "recovery_status",
        ),
        (
            outcome(
                Some(ContactResult::NotReached),
                Some(RecoveryStatus::InRecovery),
            ),
            "recovery_status",
        ),
    ] {
        let err = c.store.record_follow_up(&write, thirty, &bad, on_day).await;
        assert!(
            matches!(err, Err(StoreError::Invalid(ref f)) if f[0].field == field),
            "{field}: {err:?}"
        );
    }
    let early = c
        .store
        .record_follow_up(&write, thirty, &reached, today())
        .await;
    assert!(matches!(early, Err(StoreError::Invalid(_))), "{early:?}");

    // A task that is not a follow-up.
    let flag = c
        .store
        .raise_manual_flag(
            &write,
            trellis_storage::tasks::Severity::Moderate,
            "Concern",
        )
        .await
        .expect("flag");
    let flag_task: Vec<String> = raw_strings(
        &c.store,
        &format!("SELECT CAST(id AS TEXT) FROM tasks WHERE flag_id = {flag}"),
    )
    .await
    .expect("task");
    let flag_task: i64 = flag_task[0].parse().expect("id");
    assert!(matches!(
        c.store.follow_up_owner(flag_task).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        c.store
            .record_follow_up(&write, flag_task, &reached, on_day)
            .await,
        Err(StoreError::NotFound(_))
    ));
    // The generic task form cannot close a follow-up without its outcome.
    let generic = c.store.complete_task(&c.counselor, thirty, "called").await;
    assert!(
        matches!(generic, Err(StoreError::Conflict(_))),
        "{generic:?}"
    );

    assert_eq!(
        c.store.follow_up_owner(thirty).await.expect("owner"),
        (patient, episode)
    );
    c.store
        .record_follow_up(&write, thirty, &reached, on_day)
        .await
        .expect("record");
    let twice = c
        .store
        .record_follow_up(&write, thirty, &reached, on_day)
        .await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let sixty = follow_ups[1].task_id;
    c.store
        .record_follow_up(
            &write,
            sixty,
            &outcome(
                Some(ContactResult::NotReached),
                Some(RecoveryStatus::Unknown),
            ),
            follow_ups[1].due_on.0,
        )
        .await
        .expect("record");

    let after = c
        .store
        .follow_ups(&read_grant(&c, patient).await, episode)
        .await
        .expect("follow-ups");
    assert_eq!(after[0].contact_result, Some(ContactResult::Reached));
    assert_eq!(after[0].recovery_status, Some(RecoveryStatus::InRecovery));
    assert_eq!(after[0].note.as_deref(), Some("Attending AA twice a week"));
    assert_eq!(after[0].recorded_by_name.as_deref(), Some("casey"));
    let tasks = c
        .store
        .patient_tasks(&read_grant(&c, patient).await)
        .await
        .expect("tasks");
    let task = tasks.iter().find(|t| t.id == thirty).expect("task");
    assert!(task.completed_at.is_some());
    assert_eq!(task.outcome.as_deref(), Some("Reached; In recovery"));

    let admin = Actor::system("test");
    assert!(c.store.grant::<can::ReadOutcomes>(&c.counselor).is_err());
    let report = c
        .store
        .follow_up_outcomes(
            &c.store.grant::<can::ReadOutcomes>(&admin).expect("grant"),
            on_day + Duration::days(100),
        )
        .await
        .expect("report");
    assert_eq!(report.len(), 3);
    assert_eq!(
        (
            report[0].days_after,
            report[0].scheduled,
            report[0].reached,
            report[0].in_recovery
        ),
        (30, 1, 1, 1)
    );
    assert_eq!(
        (report[1].not_reached, report[1].unknown, report[1].open),
        (1, 1, 0)
    );
    assert_eq!((report[2].open, report[2].overdue), (1, 1));
}
