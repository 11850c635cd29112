//! Intake assessments, placement decisions and diagnoses in storage, on SQLite by default and
//! on PostgreSQL with TRELLIS_TEST_DATABASE=postgres.

mod common;

use std::collections::BTreeMap;

use common::{clinic, day, register, staff, Clinic};
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::measures::Instrument;
use trellis_domain::placement::{
    Caution, Dimension, DimensionRating, DimensionRatings, DiscrepancyReason, Population, Rule,
};
use trellis_storage::access::{can, Actor};
use trellis_storage::assessments::{NewAssessment, NewDiagnosis, PlacementInput, SubstanceUse};
use trellis_storage::episodes::Admission;
use trellis_storage::measures::NewMeasure;
use trellis_storage::testing::raw_strings;
use trellis_storage::StoreError;

fn today() -> chrono::NaiveDate {
    day(2026, 11, 27)
}

fn ratings(values: [i64; 6]) -> DimensionRatings {
    DimensionRatings::from_ratings(Dimension::ALL.into_iter().zip(values).map(|(d, v)| {
        DimensionRating::new(d, v, format!("D{} narrative: drinks alone", d.number())).unwrap()
    }))
    .unwrap()
}

fn intake(values: [i64; 6], on: chrono::NaiveDate) -> NewAssessment {
    NewAssessment {
        assessed_on: on,
        sections: BTreeMap::from([
            (
                "mental_health".to_owned(),
                "Low mood since the divorce".to_owned(),
            ),
            ("legal".to_owned(), "DUI pending".to_owned()),
        ]),
        substances: vec![SubstanceUse {
            substance: "Alcohol".into(),
            route: "oral".into(),
            frequency: "daily".into(),
            age_first_use: Some(15),
            last_use_on: Some(day(2026, 11, 25)),
        }],
        ratings: ratings(values),
    }
}

/// A patient admitted to the counselor's program.
async fn admitted(c: &Clinic, first: &str) -> i64 {
    let patient = register(c, first, "Okafor").await;
    let grant = c
        .store
        .patient_grant::<can::AdmitEpisode>(&c.intake, patient)
        .await
        .unwrap();
    c.store
        .admit(
            &grant,
            &Admission {
                program_id: c.program,
                admitted_on: day(2026, 11, 20),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "Intake".into(),
            },
            today(),
        )
        .await
        .unwrap();
    patient
}

async fn add_dx(c: &Clinic, actor: &Actor, patient: i64, code: &str, primary: bool) -> i64 {
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(actor, patient)
        .await
        .unwrap();
    c.store
        .add_diagnosis(
            &grant,
            &NewDiagnosis {
                code: code.into(),
                primary,
                ..NewDiagnosis::default()
            },
            today(),
        )
        .await
        .unwrap()
}

fn fields(err: StoreError) -> Vec<(&'static str, String)> {
    match err {
        StoreError::Invalid(errors) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn an_intake_is_stored_with_its_recommendation_and_history_is_newest_first() {
    let c = clinic().await;
    let patient = admitted(&c, "Amara").await;
    add_dx(&c, &c.counselor, patient, "f1020", true).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    // D2 = 2 (needs medical monitoring) points at IOP although the other ratings are low.
    let (first, rec) = c
        .store
        .record_assessment(
            &write,
            &intake([1, 2, 1, 1, 1, 1], day(2026, 11, 20)),
            today(),
        )
        .await
        .unwrap();
    assert_eq!(rec.level, LevelOfCare::IntensiveOutpatient);
    assert!(rec
        .reasons
        .iter()
        .any(|r| r.rule == Rule::BiomedicalModerate && r.decisive));
    let (second, rec2) = c
        .store
        .record_assessment(&write, &intake([1, 1, 1, 1, 3, 3], today()), today())
        .await
        .unwrap();
    assert_eq!(rec2.level, LevelOfCare::ResidentialHighIntensity);

    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let history = c.store.assessments(&read).await.unwrap();
    assert_eq!(
        history.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![second, first]
    );
    let old = &history[1];
    assert_eq!(old.recommendation.level, LevelOfCare::IntensiveOutpatient);
    assert_eq!(old.population, Population::Adult);
    assert!(old.episode_id.is_some());
    assert_eq!(old.sections["legal"], "DUI pending");
    assert_eq!(old.substances[0].age_first_use, Some(15));
    assert_eq!(
        old.ratings.get(Dimension::Biomedical).narrative,
        "D2 narrative: drinks alone"
    );
    assert!(old.placement.is_none());
    assert_eq!(old.recorded_by_name.as_deref(), Some("casey"));

    // Narratives, substances and the recommendation's reasons are encrypted at rest.
    for column in [
        "sections",
        "substances",
        "dimension_narratives",
        "recommendation",
    ] {
        for raw in raw_strings(
            &c.store,
            &format!("SELECT {column} FROM intake_assessments"),
        )
        .await
        .unwrap()
        {
            assert!(raw.starts_with("enc:"), "{column} is sealed");
            // Phrases with spaces: base64 ciphertext never holds one, so no chance match.
            assert!(!raw.contains("DUI pending") && !raw.contains("drinks alone"));
        }
    }
}

#[tokio::test]
async fn the_recommendation_depends_on_a_recorded_sud_diagnosis() {
    let c = clinic().await;
    let patient = admitted(&c, "Bo").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let (_, without) = c
        .store
        .record_assessment(&write, &intake([0, 1, 1, 0, 1, 1], today()), today())
        .await
        .unwrap();
    assert_eq!(without.level, LevelOfCare::EarlyIntervention);
    add_dx(&c, &c.counselor, patient, "F41.1", true).await;
    add_dx(&c, &c.counselor, patient, "F12.20", false).await;
    let (_, with) = c
        .store
        .record_assessment(&write, &intake([0, 1, 1, 0, 1, 1], today()), today())
        .await
        .unwrap();
    assert_eq!(with.level, LevelOfCare::Outpatient);
}

#[tokio::test]
async fn nicotine_alone_does_not_qualify_for_an_sud_level_of_care() {
    let c = clinic().await;
    let patient = admitted(&c, "Nia").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    add_dx(&c, &c.counselor, patient, "F17.210", true).await;
    let (_, nicotine) = c
        .store
        .record_assessment(&write, &intake([0, 1, 1, 0, 1, 1], today()), today())
        .await
        .unwrap();
    assert_eq!(nicotine.level, LevelOfCare::EarlyIntervention);
    assert_eq!(nicotine.reasons[0].rule, Rule::LowRiskNicotineOnly);
    assert!(nicotine.reasons[0]
        .text
        .contains("nicotine dependence (F17) is the only substance use disorder diagnosis"));
    let (_, higher) = c
        .store
        .record_assessment(&write, &intake([0, 1, 2, 0, 2, 1], today()), today())
        .await
        .unwrap();
    assert_eq!(higher.level, LevelOfCare::IntensiveOutpatient);
    assert_eq!(higher.cautions, vec![Caution::NicotineOnlyDiagnosis]);
    add_dx(&c, &c.counselor, patient, "F10.20", false).await;
    let (_, alcohol) = c
        .store
        .record_assessment(&write, &intake([0, 1, 1, 0, 1, 1], today()), today())
        .await
        .unwrap();
    assert_eq!(alcohol.level, LevelOfCare::Outpatient);
    assert!(alcohol.cautions.is_empty());
}

async fn give(
    c: &Clinic,
    patient: i64,
    instrument: Instrument,
    on: chrono::NaiveDate,
    answers: Vec<Option<u8>>,
) {
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    c.store
        .record_measure(
            &grant,
            &NewMeasure {
                instrument,
                administered_on: on,
                answers,
            },
            today(),
        )
        .await
        .unwrap();
}

/// C-SSRS answers: Q1–Q5, Q6 and its recency follow-up (asked only after Q6 = yes).
fn cssrs(q4: bool) -> Vec<Option<u8>> {
    let q4 = u8::from(q4);
    vec![Some(1), Some(1), Some(0), Some(q4), Some(0), Some(0), None]
}

#[tokio::test]
async fn a_recent_high_risk_cssrs_raises_the_level_and_asks_for_a_same_day_evaluation() {
    let c = clinic().await;
    let patient = admitted(&c, "Sol").await;
    add_dx(&c, &c.counselor, patient, "F10.20", true).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let low = [0, 1, 1, 0, 1, 1];
    // Too old to count (40 days before the assessment), then within the 30 days.
    give(
        &c,
        patient,
        Instrument::Cssrs,
        today() - chrono::Duration::days(40),
        cssrs(true),
    )
    .await;
    let (_, old) = c
        .store
        .record_assessment(&write, &intake(low, today()), today())
        .await
        .unwrap();
    assert_eq!(old.level, LevelOfCare::Outpatient, "{:?}", old.reasons);
    let screened_on = today() - chrono::Duration::days(5);
    give(&c, patient, Instrument::Cssrs, screened_on, cssrs(true)).await;
    let (_, high) = c
        .store
        .record_assessment(&write, &intake(low, today()), today())
        .await
        .unwrap();
    assert_eq!(high.level, LevelOfCare::PartialHospitalization);
    assert!(high
        .reasons
        .iter()
        .any(|r| r.rule == Rule::CurrentSuicideRisk && r.decisive));
    assert!(matches!(
        high.cautions.as_slice(),
        [Caution::CurrentSuicideRisk { screened_on: on, .. }] if *on == screened_on
    ));
    // An assessment dated before the screen does not know of it.
    let (_, before) = c
        .store
        .record_assessment(
            &write,
            &intake(low, screened_on - chrono::Duration::days(1)),
            today(),
        )
        .await
        .unwrap();
    assert_eq!(before.level, LevelOfCare::Outpatient);
    // The latest screen counts: a later one without intent no longer raises the level.
    give(&c, patient, Instrument::Cssrs, today(), cssrs(false)).await;
    let (_, later) = c
        .store
        .record_assessment(&write, &intake(low, today()), today())
        .await
        .unwrap();
    assert_eq!(later.level, LevelOfCare::Outpatient);
    assert!(later.cautions.is_empty());
}

#[tokio::test]
async fn phq9_item9_endorsed_before_the_assessment_adds_a_caution() {
    let c = clinic().await;
    let patient = admitted(&c, "Ada").await;
    add_dx(&c, &c.counselor, patient, "F10.20", true).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let on = today() - chrono::Duration::days(3);
    let mut answers = vec![Some(1); 8];
    answers.push(Some(1));
    give(&c, patient, Instrument::Phq9, on, answers).await;
    let (_, rec) = c
        .store
        .record_assessment(&write, &intake([0, 1, 2, 0, 1, 1], today()), today())
        .await
        .unwrap();
    assert_eq!(rec.level, LevelOfCare::IntensiveOutpatient);
    assert_eq!(
        rec.cautions,
        vec![Caution::SuicidalThoughtsReported { screened_on: on }]
    );
}

#[tokio::test]
async fn a_placement_that_differs_needs_a_reason_and_is_recorded_once() {
    let c = clinic().await;
    let patient = admitted(&c, "Chidi").await;
    add_dx(&c, &c.counselor, patient, "F11.20", true).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let (id, rec) = c
        .store
        .record_assessment(&write, &intake([1, 1, 3, 1, 2, 2], today()), today())
        .await
        .unwrap();
    assert_eq!(rec.level, LevelOfCare::PartialHospitalization);

    let missing = c
        .store
        .record_placement(&write, id, &PlacementInput::default())
        .await
        .unwrap_err();
    assert_eq!(fields(missing)[0].0, "actual_level");

    let iop = Some(LevelOfCare::IntensiveOutpatient);
    let no_reason = c
        .store
        .record_placement(
            &write,
            id,
            &PlacementInput {
                actual: iop,
                ..PlacementInput::default()
            },
        )
        .await
        .unwrap_err();
    let problems = fields(no_reason);
    assert_eq!(problems[0].0, "discrepancy_reasons");
    assert!(problems[0].1.contains("give at least one reason"));

    let bare_other = c
        .store
        .record_placement(
            &write,
            id,
            &PlacementInput {
                actual: iop,
                reasons: vec![DiscrepancyReason::Other],
                other_text: "  ".into(),
                ..PlacementInput::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(bare_other)[0].0, "discrepancy_other");

    c.store
        .record_placement(
            &write,
            id,
            &PlacementInput {
                actual: iop,
                reasons: vec![DiscrepancyReason::Transportation, DiscrepancyReason::Other],
                other_text: "Works nights".into(),
                explanation: "PHP only runs days".into(),
            },
        )
        .await
        .unwrap();
    let again = c
        .store
        .record_placement(
            &write,
            id,
            &PlacementInput {
                actual: Some(LevelOfCare::PartialHospitalization),
                ..PlacementInput::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)));

    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let placed = c.store.assessments(&read).await.unwrap()[0]
        .placement
        .clone()
        .expect("placed");
    assert_eq!(placed.actual, LevelOfCare::IntensiveOutpatient);
    assert_eq!(
        placed.reasons,
        vec![DiscrepancyReason::Transportation, DiscrepancyReason::Other]
    );
    assert_eq!(placed.other_text, "Works nights");
    assert_eq!(placed.explanation, "PHP only runs days");
    let raw = raw_strings(&c.store, "SELECT discrepancy_other FROM intake_assessments")
        .await
        .unwrap();
    assert!(raw[0].starts_with("enc:"));

    // Another patient's assessment id is not found through this patient's grant.
    let other = admitted(&c, "Dee").await;
    let other_write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, other)
        .await
        .unwrap();
    let err = c
        .store
        .record_placement(
            &other_write,
            id,
            &PlacementInput {
                actual: iop,
                ..PlacementInput::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("assessment")));
    assert_eq!(c.store.assessment_patient_id(id).await.unwrap(), patient);
}

#[tokio::test]
async fn bad_intakes_name_the_problem_and_store_nothing() {
    let c = clinic().await;
    let patient = admitted(&c, "Eve").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let mut bad = intake([1, 1, 1, 1, 1, 1], day(2026, 12, 1));
    bad.substances.push(SubstanceUse {
        substance: "".into(),
        route: "teleport".into(),
        frequency: "daily".into(),
        age_first_use: Some(0),
        last_use_on: Some(day(2027, 1, 1)),
    });
    bad.sections.insert("horoscope".into(), "Leo".into());
    let problems = fields(
        c.store
            .record_assessment(&write, &bad, today())
            .await
            .unwrap_err(),
    );
    let text: Vec<String> = problems.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    assert!(text.contains(&"assessed_on: cannot be in the future".to_owned()));
    assert!(text.contains(&"sections: unknown intake section".to_owned()));
    assert!(text.contains(&"substances: substance row 2: name the substance".to_owned()));
    assert!(text.contains(&"substances: substance row 2: choose a route".to_owned()));
    assert!(text.iter().any(|t| t.contains("age of first use")));
    assert!(text
        .iter()
        .any(|t| t.contains("last use cannot be in the future")));
    let n = raw_strings(&c.store, "SELECT assessed_on FROM intake_assessments")
        .await
        .unwrap();
    assert!(n.is_empty());
}

#[tokio::test]
async fn diagnoses_are_validated_have_one_primary_and_resolve_once() {
    let c = clinic().await;
    let patient = admitted(&c, "Femi").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let add = |code: &str, description: &str| NewDiagnosis {
        code: code.into(),
        description: description.into(),
        primary: false,
        onset_on: None,
    };
    let malformed = c
        .store
        .add_diagnosis(&write, &add("F1.020", ""), today())
        .await
        .unwrap_err();
    let problems = fields(malformed);
    assert_eq!(problems[0].0, "code");
    assert!(problems[0]
        .1
        .contains("the dot belongs after the first three characters"));
    let undescribed = c
        .store
        .add_diagnosis(&write, &add("F99", ""), today())
        .await
        .unwrap_err();
    assert_eq!(fields(undescribed)[0].0, "description");
    let future = c
        .store
        .add_diagnosis(
            &write,
            &NewDiagnosis {
                onset_on: Some(day(2027, 1, 1)),
                ..add("F32.1", "")
            },
            today(),
        )
        .await
        .unwrap_err();
    assert_eq!(fields(future)[0].0, "onset_on");

    let alcohol = add_dx(&c, &c.counselor, patient, "f10.20", true).await;
    let mdd = add_dx(&c, &c.counselor, patient, "F32.1", false).await;
    let free = c
        .store
        .add_diagnosis(
            &write,
            &add("F50.00", "Anorexia nervosa, unspecified"),
            today(),
        )
        .await
        .unwrap();
    let duplicate = c
        .store
        .add_diagnosis(&write, &add("F10.20", ""), today())
        .await
        .unwrap_err();
    assert!(fields(duplicate)[0].1.contains("already on the active"));
    // A new primary takes the mark from the old one.
    let opioid = add_dx(&c, &c.counselor, patient, "F11.20", true).await;

    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .unwrap();
    let list = c.store.diagnoses(&read).await.unwrap();
    assert_eq!(list[0].id, opioid, "primary first");
    assert!(list[0].primary);
    assert_eq!(list.iter().filter(|d| d.primary).count(), 1);
    let dx = list.iter().find(|d| d.id == alcohol).unwrap();
    assert_eq!(dx.code.as_str(), "F10.20");
    assert_eq!(dx.description, "Alcohol dependence, uncomplicated");
    assert_eq!(
        list.iter().find(|d| d.id == free).unwrap().description,
        "Anorexia nervosa, unspecified"
    );

    let future = c
        .store
        .resolve_diagnosis(&write, mdd, day(2026, 12, 2), today())
        .await
        .unwrap_err();
    assert_eq!(fields(future)[0].0, "resolved_on");
    c.store
        .resolve_diagnosis(&write, opioid, today(), today())
        .await
        .unwrap();
    let twice = c
        .store
        .resolve_diagnosis(&write, opioid, today(), today())
        .await
        .unwrap_err();
    assert!(matches!(twice, StoreError::Conflict(_)));
    let list = c.store.diagnoses(&read).await.unwrap();
    let resolved = list.last().unwrap();
    assert_eq!(resolved.id, opioid, "resolved last");
    assert!(!resolved.primary);
    assert_eq!(resolved.resolved_on.map(|d| d.0), Some(today()));
    assert_eq!(resolved.resolved_by_name.as_deref(), Some("casey"));
    // Resolved, the code may be diagnosed again.
    add_dx(&c, &c.counselor, patient, "F11.20", false).await;
    assert_eq!(c.store.diagnosis_patient_id(mdd).await.unwrap(), patient);
}

#[tokio::test]
async fn only_clinical_roles_in_scope_reach_assessments_and_diagnoses() {
    let c = clinic().await;
    let patient = admitted(&c, "Gil").await;
    let billing = staff(&c.store, "bill", Role::Billing).await;
    let front = staff(&c.store, "fran", Role::FrontDesk).await;
    for actor in [&billing, &front, &c.intake, &c.outsider] {
        assert!(
            matches!(
                c.store
                    .patient_grant::<can::ReadClinical>(actor, patient)
                    .await,
                Err(StoreError::Denied(_))
            ),
            "{} may not read",
            actor.username
        );
        assert!(matches!(
            c.store
                .patient_grant::<can::WriteClinical>(actor, patient)
                .await,
            Err(StoreError::Denied(_))
        ));
    }
    // Reads and writes are audited.
    add_dx(&c, &c.counselor, patient, "F10.20", true).await;
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .unwrap();
    c.store.diagnoses(&read).await.unwrap();
    c.store.assessments(&read).await.unwrap();
    let audited = raw_strings(
        &c.store,
        "SELECT record_type FROM audit_log WHERE record_type IN ('diagnosis', 'intake_assessment')",
    )
    .await
    .unwrap();
    assert_eq!(audited.len(), 3);
}
