//! Phases on both engines: program settings, the recommendation with "not recorded" inputs, the
//! decision with its track change and history, bad input, and the configurable outreach rule.

mod common;

use chrono::{NaiveDate, NaiveTime, Weekday};
use common::{clinic, day, register, Clinic};
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::phases::{Criterion, Destination, Recommended};
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::Admission;
use trellis_storage::phases::{
    CheckStatus, NewPhase, NewPhaseDecision, PhaseDecisionKind, PhaseRules,
};
use trellis_storage::schedule::NewTrack;
use trellis_storage::StoreError;

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

fn phase(name: &str, days: u8, hours: u32) -> NewPhase {
    NewPhase {
        name: name.into(),
        days_per_week: days,
        weekly_minutes: hours * 60,
    }
}

fn admin() -> Actor {
    Actor::system("test")
}

async fn track(c: &Clinic, name: &str, days: &[Weekday], start: u32) -> i64 {
    let grant = c
        .store
        .grant::<can::ManagePrograms>(&admin())
        .expect("grant");
    c.store
        .create_track(
            &grant,
            NewTrack {
                program_id: c.program,
                name: name.into(),
                room_id: None,
                telehealth: true,
                starts_on: day(2026, 1, 5),
                slots: days
                    .iter()
                    .map(|d| WeeklySlot::new(*d, at(start, 0), at(start + 3, 0)).expect("slot"))
                    .collect(),
                topics: Vec::new(),
            },
        )
        .await
        .expect("track")
}

async fn set_phases(c: &Clinic, rules: &PhaseRules) -> Vec<i64> {
    let grant = c
        .store
        .grant::<can::ManagePrograms>(&admin())
        .expect("grant");
    c.store
        .set_phase_settings(
            &grant,
            c.program,
            &[
                phase("Phase 1", 3, 9),
                phase("Phase 2", 2, 6),
                phase("Continuing care", 1, 3),
            ],
            rules,
        )
        .await
        .expect("phases")
        .phases
        .iter()
        .map(|p| p.id)
        .collect()
}

/// A patient admitted on Monday 2026-03-02 and enrolled in `track` from then.
async fn admitted(c: &Clinic, first: &str, track: i64) -> i64 {
    let p = register(c, first, "Rivera").await;
    let grant = c
        .store
        .patient_grant::<can::AdmitEpisode>(&c.intake, p)
        .await
        .expect("grant");
    c.store
        .admit(
            &grant,
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
    let schedule = c
        .store
        .patient_grant::<can::ManageSchedule>(&c.counselor, p)
        .await
        .expect("grant");
    c.store
        .enrol(&schedule, track, day(2026, 3, 2))
        .await
        .expect("enrol");
    p
}

/// Marks the patient at every session of the site from `from` to `to` with `status`.
async fn mark(c: &Clinic, p: i64, from: NaiveDate, to: NaiveDate, status: AttendanceStatus) {
    let read = c
        .store
        .grant::<can::ReadSchedule>(&c.counselor)
        .expect("grant");
    let grant = c
        .store
        .patient_grant::<can::ManageSchedule>(&c.counselor, p)
        .await
        .expect("grant");
    let mut d = from;
    while d <= to {
        for sheet in c.store.day_sheet(&read, c.site, d).await.expect("sheet") {
            if sheet.roster.iter().any(|l| l.patient_id == p) {
                c.store
                    .record_attendance(&grant, sheet.session.id, status, None)
                    .await
                    .expect("mark");
            }
        }
        d = d.succ_opt().expect("next day");
    }
}

fn decision(kind: PhaseDecisionKind, on: NaiveDate, reason: &str) -> NewPhaseDecision {
    NewPhaseDecision {
        decision: kind,
        phase_id: None,
        effective_on: on,
        track_id: None,
        reason: reason.into(),
    }
}

#[tokio::test]
async fn settings_default_round_trip_and_are_checked() {
    let c = clinic().await;
    let settings = c.store.phase_settings(c.program).await.expect("settings");
    assert!(settings.phases.is_empty());
    assert_eq!(settings.rules, PhaseRules::default());
    assert_eq!(settings.rules.outreach_after_unexcused, 2);
    let rules = PhaseRules {
        min_weeks_in_phase: 3,
        outreach_after_unexcused: 3,
        ..PhaseRules::default()
    };
    let ids = set_phases(&c, &rules).await;
    assert_eq!(ids.len(), 3);
    let settings = c.store.phase_settings(c.program).await.expect("settings");
    assert_eq!(settings.rules, rules);
    assert_eq!(settings.phases[2].name, "Continuing care");
    assert_eq!(settings.phases[0].weekly_minutes, 540);
    // Phases 2 and 3 ask for less than ASAM 2.1's 9 hours: saved, and staff are told.
    assert_eq!(
        settings.warnings,
        vec![
            "Phase \"Phase 2\" asks for 6 h a week, below ASAM's floor of 9 h for level 2.1 \
             Intensive outpatient (IOP) (adults): patients in it receive a lower level's \
             intensity, and the weeks count as under the level's minimum."
                .to_owned(),
            "Phase \"Continuing care\" asks for 3 h a week, below ASAM's floor of 9 h for level \
             2.1 Intensive outpatient (IOP) (adults): patients in it receive a lower level's \
             intensity, and the weeks count as under the level's minimum."
                .to_owned(),
        ]
    );

    let grant = c
        .store
        .grant::<can::ManagePrograms>(&admin())
        .expect("grant");
    let bad = c
        .store
        .set_phase_settings(&grant, c.program, &[phase("Phase 1", 0, 9)], &rules)
        .await;
    assert!(
        matches!(bad, Err(StoreError::Invalid(ref e)) if e[0].field == "phases"),
        "{bad:?}"
    );
    let bad = c
        .store
        .set_phase_settings(
            &grant,
            c.program,
            &[phase("Phase 1", 3, 9)],
            &PhaseRules {
                outreach_after_unexcused: 0,
                min_attendance_percent: 101,
                ..rules
            },
        )
        .await;
    let Err(StoreError::Invalid(errors)) = bad else {
        panic!("expected invalid settings");
    };
    let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        vec!["min_attendance_percent", "outreach_after_unexcused"]
    );
    let missing = c
        .store
        .set_phase_settings(&grant, 9999, &[phase("Phase 1", 3, 9)], &rules)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
    let clerk = common::staff(&c.store, "fran", Role::FrontDesk).await;
    assert!(matches!(
        c.store.grant::<can::ManagePrograms>(&clerk),
        Err(StoreError::Denied(_))
    ));
}

#[tokio::test]
async fn recommendation_tells_not_recorded_from_met_and_decision_moves_track() {
    let c = clinic().await;
    let phases = set_phases(&c, &PhaseRules::default()).await;
    let evening = track(
        &c,
        "Evening",
        &[Weekday::Mon, Weekday::Wed, Weekday::Thu],
        18,
    )
    .await;
    let morning = track(&c, "Morning", &[Weekday::Tue, Weekday::Fri], 9).await;
    let p = admitted(&c, "Ana", evening).await;
    // Four full weeks, present at every session; one excused absence does not count against the
    // rate, and it falls in the second week, so the last two whole weeks meet the phase's hours.
    mark(
        &c,
        p,
        day(2026, 3, 2),
        day(2026, 3, 11),
        AttendanceStatus::Present,
    )
    .await;
    mark(
        &c,
        p,
        day(2026, 3, 12),
        day(2026, 3, 12),
        AttendanceStatus::AbsentExcused,
    )
    .await;
    mark(
        &c,
        p,
        day(2026, 3, 13),
        day(2026, 3, 29),
        AttendanceStatus::Present,
    )
    .await;
    let today = day(2026, 3, 30);
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, p)
        .await
        .expect("grant");
    let review = c
        .store
        .phase_review(&read, today)
        .await
        .expect("review")
        .expect("in a program with phases");
    assert_eq!(review.current.name, "Phase 1");
    assert_eq!(review.since.0, day(2026, 3, 2));
    assert_eq!(review.weeks_in_phase, 4);
    let statuses: Vec<_> = review
        .step_down
        .checks
        .iter()
        .map(|c| (c.label.as_str(), c.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("weeks in phase", CheckStatus::Met),
            ("attendance rate", CheckStatus::Met),
            ("negative drug screens", CheckStatus::NotRecorded),
            ("treatment-plan objectives met", CheckStatus::NotRecorded),
            ("weekly hours met", CheckStatus::Met),
            ("no open safety flag", CheckStatus::Met),
            ("no unanswered safety task", CheckStatus::Met),
            ("no step-up sign", CheckStatus::Met),
        ]
    );
    assert_eq!(review.recommended, Recommended::Stay);
    assert_eq!(
        review.step_down.checks[1].reason,
        "attended 11 of 11 sessions (100%; needs at least 80%)"
    );
    assert!(!review.step_down.recommended, "not on unrecorded data");
    assert!(review.step_down.ready_for_review());
    assert!(review.step_down.summary.contains("not recorded in Trellis"));
    assert_eq!(
        review.step_down.destination,
        Destination::Phase {
            index: 1,
            name: "Phase 2".into()
        }
    );
    assert!(!review.step_up.recommended, "{}", review.step_up.summary);

    let caseload = c
        .store
        .grant::<can::ReadClinical>(&c.counselor)
        .expect("grant");
    let ready = c
        .store
        .step_down_candidates(&caseload, today)
        .await
        .expect("list");
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].patient_id, p);
    assert_eq!(ready[0].not_recorded.len(), 2);

    // Promoted from next Monday, to the morning track.
    let decide = c
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&c.counselor, p)
        .await
        .expect("grant");
    let schedule = c
        .store
        .patient_grant::<can::ManageSchedule>(&c.counselor, p)
        .await
        .expect("grant");
    let mut promote = decision(PhaseDecisionKind::StepDown, day(2026, 4, 6), "");
    promote.phase_id = Some(phases[1]);
    promote.track_id = Some(morning);
    c.store
        .decide_phase(&decide, Some(&schedule), &promote, today)
        .await
        .expect("promote");
    let sched_read = c
        .store
        .patient_grant::<can::ReadSchedule>(&c.counselor, p)
        .await
        .expect("grant");
    let enrolments = c
        .store
        .patient_schedule(&sched_read, None, today, 1)
        .await
        .expect("schedule")
        .enrolments;
    let spans: Vec<_> = enrolments
        .iter()
        .map(|e| {
            (
                e.track_name.as_str(),
                e.enrolled_on.0,
                e.ended_on.as_ref().map(|d| d.0),
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            ("Morning", day(2026, 4, 6), None),
            ("Evening", day(2026, 3, 2), Some(day(2026, 4, 5))),
        ]
    );
    let review = c
        .store
        .phase_review(&read, day(2026, 4, 7))
        .await
        .expect("review")
        .expect("phases");
    assert_eq!(review.current.name, "Phase 2");
    assert_eq!(review.since.0, day(2026, 4, 6));
    assert_eq!(review.history.len(), 1);
    let h = &review.history[0];
    assert_eq!(h.decision, PhaseDecisionKind::StepDown);
    assert_eq!(h.track_name.as_deref(), Some("Morning"));
    assert_eq!(h.decided_by_name, "casey");
    // Both sides as they stood: eight step-down checks and three step-up signs.
    assert_eq!(h.recommendation.checks.len(), 11);
    assert_eq!(h.recommendation.checks[2].status, CheckStatus::NotRecorded);

    // Bad input: each refused with its field, nothing stored.
    let refused = |r: Result<i64, StoreError>, field: &str| match r {
        Err(StoreError::Invalid(e)) => assert_eq!(e[0].field, field, "{e:?}"),
        other => panic!("expected invalid {field}, got {other:?}"),
    };
    let today = day(2026, 4, 7);
    refused(
        c.store
            .decide_phase(
                &decide,
                None,
                &decision(PhaseDecisionKind::StepDown, day(2026, 4, 5), ""),
                today,
            )
            .await,
        "effective_on",
    );
    refused(
        c.store
            .decide_phase(
                &decide,
                None,
                &decision(PhaseDecisionKind::StepUp, day(2026, 4, 8), "  "),
                today,
            )
            .await,
        "reason",
    );
    let mut unknown = decision(PhaseDecisionKind::StepDown, day(2026, 4, 8), "");
    unknown.phase_id = Some(99_999);
    refused(
        c.store.decide_phase(&decide, None, &unknown, today).await,
        "phase_id",
    );
    let mut skip = decision(PhaseDecisionKind::StepUp, day(2026, 4, 8), "relapse");
    skip.phase_id = Some(phases[2]);
    refused(
        c.store.decide_phase(&decide, None, &skip, today).await,
        "phase_id",
    );
    refused(
        c.store
            .decide_phase(
                &decide,
                None,
                &decision(PhaseDecisionKind::StepDown, day(2026, 6, 1), ""),
                today,
            )
            .await,
        "effective_on",
    );
    let mut track_without_right = decision(PhaseDecisionKind::StepDown, day(2026, 4, 8), "");
    track_without_right.track_id = Some(evening);
    assert!(matches!(
        c.store
            .decide_phase(&decide, None, &track_without_right, today)
            .await,
        Err(StoreError::Denied(_))
    ));

    // Step up back to phase 1 (with a reason), and from phase 1 no further: that is PHP.
    c.store
        .decide_phase(
            &decide,
            None,
            &decision(
                PhaseDecisionKind::StepUp,
                day(2026, 4, 9),
                "Two positive screens",
            ),
            today,
        )
        .await
        .expect("step up");
    refused(
        c.store
            .decide_phase(
                &decide,
                None,
                &decision(PhaseDecisionKind::StepUp, day(2026, 4, 9), "worse"),
                today,
            )
            .await,
        "decision",
    );
    let review = c
        .store
        .phase_review(&read, day(2026, 4, 9))
        .await
        .expect("review")
        .expect("phases");
    assert_eq!(review.current.name, "Phase 1");
    assert_eq!(review.history.len(), 2);
    assert_eq!(review.history[0].reason, "Two positive screens");
    assert_eq!(
        review.step_up.destination,
        Destination::Level {
            level: LevelOfCare::PartialHospitalization
        }
    );

    // Someone outside the program cannot read or decide.
    assert!(matches!(
        c.store
            .patient_grant::<can::ReadClinical>(&c.outsider, p)
            .await,
        Err(StoreError::Denied(_))
    ));
    let nurse = common::staff(&c.store, "nate", Role::Nurse).await;
    assert!(matches!(
        c.store
            .patient_grant::<can::ChangeLevelOfCare>(&nurse, p)
            .await,
        Err(StoreError::Denied(_))
    ));
}

#[tokio::test]
async fn an_open_high_risk_flag_blocks_step_down_and_suggests_step_up() {
    let c = clinic().await;
    set_phases(&c, &PhaseRules::default()).await;
    let evening = track(
        &c,
        "Evening",
        &[Weekday::Mon, Weekday::Wed, Weekday::Thu],
        18,
    )
    .await;
    let p = admitted(&c, "Bea", evening).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, p)
        .await
        .expect("grant");
    c.store
        .raise_manual_flag(
            &write,
            trellis_storage::tasks::Severity::High,
            "Overdose last night",
        )
        .await
        .expect("flag");
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, p)
        .await
        .expect("grant");
    let review = c
        .store
        .phase_review(&read, day(2026, 3, 30))
        .await
        .expect("review")
        .expect("phases");
    let flag = review
        .step_down
        .checks
        .iter()
        .find(|c| c.criterion == Criterion::NoHighRiskFlag)
        .expect("check");
    assert_eq!(flag.status, CheckStatus::NotMet);
    assert!(!review.step_down.ready_for_review());
    assert!(review.step_up.recommended);
    assert!(!review.step_down.recommended);
    assert_eq!(review.recommended, Recommended::StepUp);
    // No attendance at all: zero weeks attended counts against, under minimum two weeks running.
    assert!(review
        .step_up
        .checks
        .iter()
        .any(|c| c.label == "under minimum weekly hours" && c.status == CheckStatus::Met));
}

#[tokio::test]
async fn outreach_follows_the_programs_threshold() {
    let c = clinic().await;
    set_phases(
        &c,
        &PhaseRules {
            outreach_after_unexcused: 3,
            ..PhaseRules::default()
        },
    )
    .await;
    let evening = track(
        &c,
        "Evening",
        &[Weekday::Mon, Weekday::Wed, Weekday::Thu],
        18,
    )
    .await;
    let p = admitted(&c, "Cam", evening).await;
    // Mon and Wed: two no-shows, no task yet; Thu makes three.
    mark(
        &c,
        p,
        day(2026, 3, 2),
        day(2026, 3, 4),
        AttendanceStatus::AbsentUnexcused,
    )
    .await;
    let mine = c
        .store
        .grant::<can::ReadDemographics>(&c.counselor)
        .expect("grant");
    let outreach = |tasks: Vec<trellis_storage::tasks::Task>| {
        tasks.iter().filter(|t| t.kind == "outreach").count()
    };
    assert_eq!(outreach(c.store.my_tasks(&mine).await.expect("tasks")), 0);
    mark(
        &c,
        p,
        day(2026, 3, 5),
        day(2026, 3, 5),
        AttendanceStatus::AbsentUnexcused,
    )
    .await;
    assert_eq!(outreach(c.store.my_tasks(&mine).await.expect("tasks")), 1);
}

#[tokio::test]
async fn a_moderate_flag_and_its_unanswered_task_block_a_step_down_with_every_sign_switched_off() {
    let c = clinic().await;
    // Every step-up sign a program can switch off is off; safety still decides.
    let quiet = PhaseRules {
        weeks_under_minimum: 0,
        positive_screens: 0,
        ..PhaseRules::default()
    };
    set_phases(&c, &quiet).await;
    let evening = track(
        &c,
        "Evening",
        &[Weekday::Mon, Weekday::Wed, Weekday::Thu],
        18,
    )
    .await;
    let p = admitted(&c, "Dee", evening).await;
    mark(
        &c,
        p,
        day(2026, 3, 2),
        day(2026, 3, 29),
        AttendanceStatus::Present,
    )
    .await;
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, p)
        .await
        .expect("grant");
    let today = day(2026, 3, 30);
    let calm = c
        .store
        .phase_review(&read, today)
        .await
        .expect("review")
        .expect("phases");
    assert!(calm.step_down.ready_for_review(), "{}", calm.summary);
    assert!(calm.summary.contains(
        "switched off in the program's settings: under minimum weekly hours, positive drug screens"
    ));

    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, p)
        .await
        .expect("grant");
    c.store
        .raise_manual_flag(
            &write,
            trellis_storage::tasks::Severity::Moderate,
            "Passive death wish at check-in",
        )
        .await
        .expect("flag");
    let review = c
        .store
        .phase_review(&read, today)
        .await
        .expect("review")
        .expect("phases");
    let status = |criterion: Criterion| {
        review
            .step_down
            .checks
            .iter()
            .find(|c| c.criterion == criterion)
            .map(|c| c.status)
    };
    assert_eq!(status(Criterion::NoHighRiskFlag), Some(CheckStatus::NotMet));
    assert_eq!(
        status(Criterion::NoOpenSafetyTask),
        Some(CheckStatus::NotMet)
    );
    assert!(!review.step_down.ready_for_review());
    assert_eq!(review.recommended, Recommended::Stay);
    assert!(review.summary.starts_with(
        "Stay in the current phase: a safety check blocks a step down (not met: no open safety \
         flag, no unanswered safety task)."
    ));
    // A moderate flag is not itself a step-up sign.
    assert!(!review.step_up.recommended);
    let caseload = c
        .store
        .grant::<can::ReadClinical>(&c.counselor)
        .expect("grant");
    assert!(c
        .store
        .step_down_candidates(&caseload, today)
        .await
        .expect("list")
        .is_empty());
}
