//! Medications and drug screens in storage, on SQLite by default and on PostgreSQL with
//! TRELLIS_TEST_DATABASE=postgres.

mod common;

use chrono::NaiveDate;
use common::*;
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::screens::Finding;
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::Admission;
use trellis_storage::medications::{
    NewDrugScreen, NewMedication, Route, ScreenResult, PRESCRIBER_REVIEW_TASK_KIND,
};
use trellis_storage::phases::{CheckStatus, NewPhase, PhaseRules};
use trellis_storage::testing::raw_strings;
use trellis_storage::StoreError;

fn today() -> NaiveDate {
    day(2026, 11, 27)
}

/// Dana, admitted to the adult program with casey as her primary counselor.
async fn admitted(c: &Clinic) -> i64 {
    let patient = register(c, "Dana", "Reyes").await;
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
                admitted_on: day(2026, 11, 2),
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

/// Buprenorphine/naloxone (RxNorm 1819 + 7242).
const SUBOXONE: &[&str] = &["1819", "7242"];

fn medication(name: &str, started_on: NaiveDate) -> NewMedication {
    coded(name, &[], started_on)
}

fn coded(name: &str, ingredients: &[&str], started_on: NaiveDate) -> NewMedication {
    NewMedication {
        name: name.into(),
        ingredients: ingredients.iter().map(|c| (*c).to_owned()).collect(),
        dose: "8 mg".into(),
        route: "sublingual".into(),
        frequency: "once daily".into(),
        prescriber_name: Some("Dr. Ortiz (outside)".into()),
        started_on: Some(started_on),
        reason: Some("opioid use disorder, stabilising".into()),
        ..NewMedication::default()
    }
}

fn screen(on: NaiveDate, results: &[(&str, &str)]) -> NewDrugScreen {
    NewDrugScreen {
        collected_on: Some(on),
        specimen: "urine".into(),
        observed: true,
        testing: "point_of_care".into(),
        collected_by: Some("Nurse Nate".into()),
        results: results
            .iter()
            .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
            .collect(),
    }
}

async fn open_tasks(c: &Clinic, actor: &Actor) -> Vec<String> {
    let grant = c
        .store
        .grant::<can::ReadDemographics>(actor)
        .expect("grant");
    c.store
        .my_tasks(&grant)
        .await
        .expect("tasks")
        .into_iter()
        .map(|t| t.title)
        .collect()
}

fn fields(e: StoreError) -> Vec<&'static str> {
    match e {
        StoreError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn prescribed_buprenorphine_explains_its_positive_and_raises_no_flag() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let med = c
        .store
        .record_medication(
            &write,
            &coded(
                "Buprenorphine/naloxone 8/2 mg film",
                SUBOXONE,
                day(2026, 11, 1),
            ),
            today(),
        )
        .await
        .expect("medication");
    let recorded = c
        .store
        .record_drug_screen(
            &write,
            &screen(
                day(2026, 11, 20),
                &[("buprenorphine", "positive"), ("fentanyl", "negative")],
            ),
            today(),
        )
        .await
        .expect("screen");
    assert_eq!(recorded.flag_id, None);
    assert!(recorded.unexpected.is_empty());
    assert!(open_tasks(&c, &c.counselor).await.is_empty());

    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let meds = c.store.medications(&read).await.expect("list");
    assert_eq!(meds.len(), 1);
    assert_eq!(meds[0].id, med);
    assert!(meds[0].moud, "MOUD taken from the buprenorphine ingredient");
    assert_eq!(meds[0].ingredients, ["1819", "7242"]);
    assert_eq!(meds[0].route, Route::Sublingual);
    assert_eq!(
        meds[0].reason.as_deref(),
        Some("opioid use disorder, stabilising")
    );
    let screens = c.store.drug_screens(&read).await.expect("screens");
    let bup = &screens[0].results[0];
    assert_eq!(bup.analyte, "buprenorphine");
    assert_eq!(bup.expected, Some(true));
    assert!(bup
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("Buprenorphine/naloxone"));
    assert_eq!(
        screens[0].results[1].expected, None,
        "negatives are not classified"
    );

    // The reason is encrypted at rest.
    let stored = raw_strings(&c.store, "SELECT reason FROM medications")
        .await
        .expect("raw");
    assert!(!stored[0].contains("opioid"));
}

#[tokio::test]
async fn an_unexpected_fentanyl_positive_raises_a_flag_and_a_task_for_the_counselor() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    let nurse = staff(&c.store, "nate", Role::Nurse).await;
    let users = c
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    c.store
        .set_assignments(
            &users,
            nurse.user_id.expect("id"),
            &[(c.site, Some(c.program))],
        )
        .await
        .expect("assign");
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&nurse, patient)
        .await
        .expect("grant");
    c.store
        .record_medication(
            &write,
            &coded(
                "Buprenorphine/naloxone 8/2 mg film",
                SUBOXONE,
                day(2026, 11, 1),
            ),
            today(),
        )
        .await
        .expect("medication");
    let recorded = c
        .store
        .record_drug_screen(
            &write,
            &screen(
                day(2026, 11, 25),
                &[
                    ("buprenorphine", "positive"),
                    ("fentanyl", "positive"),
                    ("opiates", "positive"),
                    ("cocaine", "invalid"),
                ],
            ),
            today(),
        )
        .await
        .expect("screen");
    assert_eq!(recorded.unexpected, vec!["fentanyl", "opiates"]);
    let flag = recorded.flag_id.expect("a flag");

    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let flags = c.store.open_flags(&read).await.expect("flags");
    assert_eq!(flags.len(), 1);
    assert!(flags[0].summary.contains("Fentanyl"));
    // An unprescribed opioid is an overdose risk: high severity, so the directors hear too.
    assert_eq!(flags[0].severity, "high");
    assert!(flags[0].summary.contains("overdose risk"));
    let tasks = open_tasks(&c, &c.counselor).await;
    assert_eq!(tasks.len(), 1, "one task for the primary counselor");
    assert!(tasks[0].contains("Unexpected positive drug screen"));

    let screens = c.store.drug_screens(&read).await.expect("screens");
    assert_eq!(screens[0].flag_id, Some(flag));
    let fentanyl = screens[0]
        .results
        .iter()
        .find(|r| r.analyte == "fentanyl")
        .expect("fentanyl");
    assert_eq!(fentanyl.expected, Some(false));
    assert!(fentanyl
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("not explained"));
    let invalid = screens[0]
        .results
        .iter()
        .find(|r| r.analyte == "cocaine")
        .expect("cocaine");
    assert_eq!(invalid.result, ScreenResult::Invalid);

    // The step-down rule's view: every result since a day.
    let since = c
        .store
        .screen_results_since(&read, day(2026, 11, 21))
        .await
        .expect("since");
    assert_eq!(since.len(), 4);
    assert_eq!(
        since
            .iter()
            .filter(|r| r.expectation.as_deref() == Some("unexpected"))
            .count(),
        2
    );
    assert!(c
        .store
        .screen_results_since(&read, day(2026, 11, 26))
        .await
        .expect("since")
        .is_empty());
}

#[tokio::test]
async fn a_stopped_medication_no_longer_explains_a_positive() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let mut clonazepam = coded("Clonazepam 0.5 mg", &["2598"], day(2026, 10, 1));
    clonazepam.route = "oral".into();
    let id = c
        .store
        .record_medication(&write, &clonazepam, today())
        .await
        .expect("medication");
    assert_eq!(
        fields(
            c.store
                .stop_medication(&write, id, Some(day(2026, 9, 1)), "tapered", today())
                .await
                .expect_err("before start")
        ),
        vec!["stopped_on"]
    );
    c.store
        .stop_medication(&write, id, Some(day(2026, 11, 10)), "tapered off", today())
        .await
        .expect("stop");
    assert!(matches!(
        c.store
            .stop_medication(&write, id, Some(day(2026, 11, 11)), "again", today())
            .await,
        Err(StoreError::Conflict(_))
    ));
    let during = c
        .store
        .record_drug_screen(
            &write,
            &screen(day(2026, 11, 5), &[("benzodiazepines", "positive")]),
            today(),
        )
        .await
        .expect("screen");
    assert!(during.unexpected.is_empty());
    let after = c
        .store
        .record_drug_screen(
            &write,
            &screen(day(2026, 11, 20), &[("benzodiazepines", "positive")]),
            today(),
        )
        .await
        .expect("screen");
    assert_eq!(after.unexpected, vec!["benzodiazepines"]);
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let flags = c.store.open_flags(&read).await.expect("flags");
    assert_eq!(flags.len(), 1);
    assert_eq!(
        flags[0].severity, "moderate",
        "no opioid, no overdose escalation"
    );
    assert!(!flags[0].summary.contains("overdose"));

    c.store
        .record_adherence(
            &write,
            id,
            Some(day(2026, 11, 3)),
            "missed_doses",
            &Some("ran out over the weekend".into()),
            today(),
        )
        .await
        .expect("adherence");
    c.store
        .record_side_effect(
            &write,
            id,
            Some(day(2026, 11, 3)),
            "drowsy",
            "mild",
            today(),
        )
        .await
        .expect("side effect");
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let meds = c.store.medications(&read).await.expect("list");
    assert_eq!(meds[0].stop_reason.as_deref(), Some("tapered off"));
    assert!(!meds[0].active_on(day(2026, 11, 20)));
    assert_eq!(
        meds[0].adherence[0].note.as_deref(),
        Some("ran out over the weekend")
    );
    assert_eq!(meds[0].side_effects[0].effect, "drowsy");
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_at_fault() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let mut bad = medication("Sertraline 50 mg", day(2026, 11, 1));
    bad.stopped_on = Some(day(2026, 10, 1));
    bad.route = "telepathic".into();
    bad.otp_dispensed = true;
    assert_eq!(
        fields(
            c.store
                .record_medication(&write, &bad, today())
                .await
                .expect_err("bad")
        ),
        vec!["route", "stopped_on", "otp_dispensed"]
    );
    let future = medication("Naltrexone 50 mg", day(2026, 12, 1));
    assert_eq!(
        fields(
            c.store
                .record_medication(&write, &future, today())
                .await
                .expect_err("future")
        ),
        vec!["started_on"]
    );
    for (s, field) in [
        (screen(day(2026, 11, 20), &[]), "results"),
        (
            screen(day(2026, 11, 20), &[("glue", "positive")]),
            "results",
        ),
        (
            screen(
                day(2026, 11, 20),
                &[("thc", "positive"), ("thc", "negative")],
            ),
            "results",
        ),
        (screen(day(2026, 11, 20), &[("thc", "maybe")]), "results"),
        (
            screen(day(2026, 11, 28), &[("thc", "negative")]),
            "collected_on",
        ),
    ] {
        assert_eq!(
            fields(
                c.store
                    .record_drug_screen(&write, &s, today())
                    .await
                    .expect_err("bad screen")
            ),
            vec![field]
        );
    }
    let mut no_specimen = screen(day(2026, 11, 20), &[("thc", "negative")]);
    no_specimen.specimen = "hair".into();
    assert_eq!(
        fields(
            c.store
                .record_drug_screen(&write, &no_specimen, today())
                .await
                .expect_err("specimen")
        ),
        vec!["specimen"]
    );
    // Another patient's medication cannot be stopped through this patient's grant.
    let other = register(&c, "Lee", "Park").await;
    let other_write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.intake, other)
        .await;
    assert!(matches!(other_write, Err(StoreError::Denied(_))));
    assert!(matches!(
        c.store
            .stop_medication(&write, 9999, Some(today()), "n/a", today())
            .await,
        Err(StoreError::NotFound("medication"))
    ));
}

#[tokio::test]
async fn billing_and_front_desk_cannot_read_medications() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    for (name, role) in [("bill", Role::Billing), ("fran", Role::FrontDesk)] {
        let actor = staff(&c.store, name, role).await;
        assert!(matches!(
            c.store
                .patient_grant::<can::ReadClinical>(&actor, patient)
                .await,
            Err(StoreError::Denied(_))
        ));
    }
}

/// A staff prescriber assigned to the adult program.
async fn prescriber(c: &Clinic) -> Actor {
    let doc = staff(&c.store, "dr_ortiz", Role::Prescriber).await;
    let users = c
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    c.store
        .set_assignments(
            &users,
            doc.user_id.expect("id"),
            &[(c.site, Some(c.program))],
        )
        .await
        .expect("assign");
    doc
}

/// Step-down needs only the latest screen negative, so one screen decides the criterion.
async fn one_negative_screen_to_step_down(c: &Clinic) {
    let grant = c
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    let phase = |name: &str| NewPhase {
        name: name.into(),
        days_per_week: 3,
        weekly_minutes: 540,
    };
    c.store
        .set_phase_settings(
            &grant,
            c.program,
            &[phase("Phase 1"), phase("Phase 2")],
            &PhaseRules {
                negative_screens: 1,
                ..PhaseRules::default()
            },
        )
        .await
        .expect("phases");
}

async fn negative_screens_check(c: &Clinic, patient: i64) -> CheckStatus {
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let review = c
        .store
        .phase_review(&read, today())
        .await
        .expect("review")
        .expect("phases");
    review
        .step_down
        .checks
        .iter()
        .find(|c| c.label == "negative drug screens")
        .expect("check")
        .status
}

#[tokio::test]
async fn a_negative_buprenorphine_on_active_moud_raises_a_flag_and_a_prescriber_task() {
    let c = clinic().await;
    one_negative_screen_to_step_down(&c).await;
    let patient = admitted(&c).await;
    let doc = prescriber(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let mut suboxone = coded(
        "Buprenorphine/naloxone 8/2 mg film",
        SUBOXONE,
        day(2026, 11, 1),
    );
    suboxone.prescriber_name = None;
    suboxone.prescriber_id = doc.user_id;
    let med = c
        .store
        .record_medication(&write, &suboxone, today())
        .await
        .expect("medication");
    let recorded = c
        .store
        .record_drug_screen(
            &write,
            &screen(
                day(2026, 11, 25),
                &[("buprenorphine", "negative"), ("fentanyl", "negative")],
            ),
            today(),
        )
        .await
        .expect("screen");
    assert!(recorded.flag_id.is_some(), "a flag");
    assert!(recorded.unexpected.is_empty());
    assert_eq!(recorded.review_task_ids.len(), 1);
    let doc_tasks = open_tasks(&c, &doc).await;
    assert_eq!(
        doc_tasks,
        [
            "Buprenorphine expected but not detected: discuss adherence, confirm by LC-MS/MS \
          (screen collected Nov 25, 2026)"
        ]
    );
    let counselor_tasks = open_tasks(&c, &c.counselor).await;
    assert_eq!(counselor_tasks.len(), 1);
    assert!(counselor_tasks[0].contains("Buprenorphine expected but not detected"));

    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let screens = c.store.drug_screens(&read).await.expect("screens");
    let bup = &screens[0].results[0];
    assert_eq!(bup.finding, Some(Finding::NotDetected));
    assert_eq!(bup.medication_id, Some(med));
    assert_eq!(bup.expected, None, "a negative is not an expected positive");
    assert_eq!(screens[0].results[1].finding, None);
    // The step-down review never counts this screen as negative.
    assert_eq!(
        negative_screens_check(&c, patient).await,
        CheckStatus::NotMet
    );
    let rows = c
        .store
        .screen_results_since(&read, day(2026, 11, 25))
        .await
        .expect("rows");
    assert_eq!(rows[0].expectation.as_deref(), Some("missing"));

    // Answering the counselor's flag leaves the prescriber's review open.
    let task = c
        .store
        .patient_tasks(&read)
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.kind == "safety_flag")
        .expect("flag task");
    c.store
        .complete_task(&c.counselor, task.id, "talked it through")
        .await
        .expect("complete");
    assert_eq!(open_tasks(&c, &doc).await.len(), 1);
    // The prescriber's open review is still an unanswered safety task: no step down yet.
    let review = c
        .store
        .phase_review(&read, today())
        .await
        .expect("review")
        .expect("phases");
    let task_check = review
        .step_down
        .checks
        .iter()
        .find(|c| c.label == "no unanswered safety task")
        .expect("check");
    assert_eq!(
        task_check.status,
        CheckStatus::NotMet,
        "{}",
        task_check.reason
    );
}

#[tokio::test]
async fn buprenorphine_without_norbuprenorphine_goes_to_the_prescriber_role_for_an_outside_prescriber(
) {
    let c = clinic().await;
    one_negative_screen_to_step_down(&c).await;
    let patient = admitted(&c).await;
    let doc = prescriber(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
        .record_medication(
            &write,
            &coded("Suboxone 8/2 mg", SUBOXONE, day(2026, 11, 1)),
            today(),
        )
        .await
        .expect("medication");
    let recorded = c
        .store
        .record_drug_screen(
            &write,
            &screen(
                day(2026, 11, 25),
                &[
                    ("buprenorphine", "positive"),
                    ("norbuprenorphine", "negative"),
                ],
            ),
            today(),
        )
        .await
        .expect("screen");
    assert!(recorded.flag_id.is_some());
    let tasks = c
        .store
        .patient_tasks(
            &c.store
                .patient_grant::<can::ReadClinical>(&c.counselor, patient)
                .await
                .expect("grant"),
        )
        .await
        .expect("tasks");
    let review = tasks
        .iter()
        .find(|t| t.kind == PRESCRIBER_REVIEW_TASK_KIND)
        .expect("review");
    assert_eq!(review.assigned_role.as_deref(), Some("prescriber"));
    assert_eq!(review.assigned_to, None);
    assert!(review.title.contains(
        "parent drug without metabolite, possibly added to the specimen; discuss and confirm"
    ));
    // The prescriber assigned to the program sees it.
    assert_eq!(open_tasks(&c, &doc).await.len(), 1);
    assert_eq!(
        negative_screens_check(&c, patient).await,
        CheckStatus::NotMet
    );
}

#[tokio::test]
async fn free_text_fentanyl_explains_nothing_and_a_coded_one_asks_for_review() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let mut patch = medication("fentanyl patch", day(2026, 11, 1));
    patch.route = "transdermal".into();
    c.store
        .record_medication(&write, &patch, today())
        .await
        .expect("free text");
    let recorded = c
        .store
        .record_drug_screen(
            &write,
            &screen(day(2026, 11, 10), &[("fentanyl", "positive")]),
            today(),
        )
        .await
        .expect("screen");
    assert_eq!(recorded.unexpected, ["fentanyl"]);
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let flags = c.store.open_flags(&read).await.expect("flags");
    assert_eq!(flags.len(), 1);
    assert_eq!(
        flags[0].severity, "high",
        "free text never removes the overdose flag"
    );

    let mut coded_patch = coded("Fentanyl 25 mcg/h patch", &["4337"], day(2026, 11, 12));
    coded_patch.route = "transdermal".into();
    c.store
        .record_medication(&write, &coded_patch, today())
        .await
        .expect("coded");
    let recorded = c
        .store
        .record_drug_screen(
            &write,
            &screen(day(2026, 11, 20), &[("fentanyl", "positive")]),
            today(),
        )
        .await
        .expect("screen");
    assert!(recorded.unexpected.is_empty());
    assert!(recorded.flag_id.is_some(), "not silent");
    assert_eq!(recorded.review_task_ids.len(), 1);
    let tasks = c.store.patient_tasks(&read).await.expect("tasks");
    assert!(tasks.iter().any(|t| t.kind == PRESCRIBER_REVIEW_TASK_KIND
        && t.title.starts_with(
            "Fentanyl positive explained by prescribed fentanyl: review and confirm by LC-MS/MS"
        )));
    let screens = c.store.drug_screens(&read).await.expect("screens");
    assert_eq!(screens[0].results[0].finding, Some(Finding::Review));
}

#[tokio::test]
async fn naltrexone_and_an_oxycodone_positive_is_flagged_and_presumptive() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let mut naltrexone = coded("Naltrexone 50 mg", &["7243"], day(2026, 11, 1));
    naltrexone.route = "oral".into();
    c.store
        .record_medication(&write, &naltrexone, today())
        .await
        .expect("medication");
    let recorded = c
        .store
        .record_drug_screen(
            &write,
            &screen(day(2026, 11, 20), &[("oxycodone", "positive")]),
            today(),
        )
        .await
        .expect("screen");
    assert_eq!(recorded.unexpected, ["oxycodone"]);
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    assert_eq!(
        c.store.open_flags(&read).await.expect("flags")[0].severity,
        "high"
    );
    let screens = c.store.drug_screens(&read).await.expect("screens");
    let oxy = &screens[0].results[0];
    assert_eq!(oxy.finding, Some(Finding::Presumptive));
    assert_eq!(oxy.expected, Some(false));
    assert!(oxy
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("presumptive: naltrexone"));
}

#[tokio::test]
async fn unknown_ingredients_and_a_missing_prescriber_are_refused() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let mut bad = coded("Mystery 5 mg", &["999999"], day(2026, 11, 1));
    bad.prescriber_name = None;
    assert_eq!(
        fields(
            c.store
                .record_medication(&write, &bad, today())
                .await
                .expect_err("bad")
        ),
        vec!["ingredients", "prescriber_name"]
    );
    let mut both = coded("Sertraline 50 mg", &["36437"], day(2026, 11, 1));
    both.prescriber_id = Some(1);
    assert_eq!(
        fields(
            c.store
                .record_medication(&write, &both, today())
                .await
                .expect_err("both")
        ),
        vec!["prescriber_name", "prescriber_id"]
    );
    let mut moud_uncoded = medication("Suboxone", day(2026, 11, 1));
    moud_uncoded.moud = Some(true);
    assert_eq!(
        fields(
            c.store
                .record_medication(&write, &moud_uncoded, today())
                .await
                .expect_err("uncoded MOUD")
        ),
        vec!["ingredients"]
    );
    // A past medication from history may leave the prescriber unknown.
    let mut past = coded("Clonazepam 0.5 mg", &["2598"], day(2026, 9, 1));
    past.prescriber_name = None;
    past.stopped_on = Some(day(2026, 10, 1));
    c.store
        .record_medication(&write, &past, today())
        .await
        .expect("past");
}
