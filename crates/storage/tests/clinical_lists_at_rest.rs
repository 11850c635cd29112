//! Diagnoses, flag summaries and task titles at rest (issue 11 item 7): stored sealed, still
//! read back, matched and counted, and sealed on upgrade when an older Trellis wrote them clear.
//! On SQLite by default and on PostgreSQL with TRELLIS_TEST_DATABASE=postgres.

mod common;

use common::{clinic, clinic_on, register, today, Clinic};
use trellis_domain::care::LevelOfCare;
use trellis_storage::access::{can, Actor};
use trellis_storage::assessments::NewDiagnosis;
use trellis_storage::crypto::MasterKey;
use trellis_storage::episodes::Admission;
use trellis_storage::medications::{NewDrugScreen, NewMedication};
use trellis_storage::tasks::Severity;
use trellis_storage::testing::{fresh_database_url, open_sealed, raw_execute, raw_strings};
use trellis_storage::{Store, StoreError};

/// Every column of these lists that is sealed: (table, the column naming a row, column).
const SEALED: [(&str, &str, &str); 11] = [
    ("patient_diagnoses", "id", "code"),
    ("patient_diagnoses", "id", "description"),
    ("medications", "id", "name"),
    ("medications", "id", "dose"),
    ("medications", "id", "frequency"),
    ("medication_ingredients", "medication_id", "rxcui"),
    ("drug_screen_results", "id", "analyte"),
    ("drug_screen_results", "id", "result"),
    ("drug_screen_results", "id", "expectation_reason"),
    ("patient_flags", "id", "summary"),
    ("tasks", "id", "title"),
];

/// Words written below that must never be stored in the clear.
const CLEAR_WORDS: [&str; 12] = [
    "2598",
    "fentanyl",
    "positive",
    "Clonazepam",
    "75 mg",
    "every morning",
    "F11.20",
    "Opioid",
    "F32.1",
    "Depressive",
    "stockpile",
    "Fentanyl",
];

/// A patient admitted with the fixture's counselor as primary counselor.
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
                admitted_on: today(),
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

async fn add_diagnosis(
    c: &Clinic,
    patient: i64,
    code: &str,
    description: &str,
) -> Result<i64, StoreError> {
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
        .add_diagnosis(
            &grant,
            &NewDiagnosis {
                code: code.into(),
                description: description.into(),
                primary: false,
                onset_on: None,
            },
            today(),
        )
        .await
}

/// Writes diagnoses, a medication, a manual flag and an unexpected fentanyl screen (which
/// raises its own flag).
async fn write_the_lists(c: &Clinic, patient: i64) {
    add_diagnosis(c, patient, "F11.20", "")
        .await
        .expect("curated");
    add_diagnosis(c, patient, "F32.1", "Major Depressive disorder, moderate")
        .await
        .expect("described");
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
        .record_medication(
            &write,
            &NewMedication {
                name: "Clonazepam 0.5 mg tablet".into(),
                ingredients: vec!["2598".into()],
                dose: "75 mg".into(),
                route: "oral".into(),
                frequency: "every morning".into(),
                prescriber_name: Some("Dr. Ortiz (outside)".into()),
                started_on: Some(today()),
                ..NewMedication::default()
            },
            today(),
        )
        .await
        .expect("medication");
    c.store
        .raise_manual_flag(&write, Severity::High, "Said she has a stockpile of pills")
        .await
        .expect("flag");
    let screen = c
        .store
        .record_drug_screen(
            &write,
            &NewDrugScreen {
                collected_on: Some(today()),
                specimen: "urine".into(),
                observed: true,
                testing: "point_of_care".into(),
                collected_by: None,
                results: vec![
                    ("fentanyl".into(), "positive".into()),
                    ("cocaine".into(), "negative".into()),
                ],
            },
            today(),
        )
        .await
        .expect("screen");
    assert!(
        screen.flag_id.is_some(),
        "an unexpected positive raises a flag"
    );
}

/// Every stored value of the sealed columns.
async fn stored(store: &Store) -> Vec<String> {
    let mut values = Vec::new();
    for (table, key, column) in SEALED {
        values.extend(
            raw_strings(
                store,
                &format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {key}"),
            )
            .await
            .expect("raw read"),
        );
    }
    values
}

/// What the lists show the counselor: diagnoses, medications, open flags and their task titles.
async fn shown(c: &Clinic, patient: i64) -> [Vec<String>; 6] {
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let diagnoses = c
        .store
        .diagnoses(&read)
        .await
        .expect("diagnoses")
        .into_iter()
        .map(|d| format!("{} {}", d.code.as_str(), d.description))
        .collect();
    let flags = c
        .store
        .open_flags(&read)
        .await
        .expect("flags")
        .into_iter()
        .map(|f| f.summary)
        .collect();
    let medications = c
        .store
        .medications(&read)
        .await
        .expect("medications")
        .into_iter()
        .map(|m| format!("{} {} {} {:?}", m.name, m.dose, m.frequency, m.ingredients))
        .collect();
    let screens = c
        .store
        .drug_screens(&read)
        .await
        .expect("screens")
        .into_iter()
        .flat_map(|s| s.results)
        .map(|r| format!("{} {:?} {:?}", r.analyte, r.result, r.expected))
        .collect();
    let since = c
        .store
        .screen_results_since(&read, today())
        .await
        .expect("results since")
        .into_iter()
        .map(|r| format!("{} {} {:?}", r.analyte, r.result, r.expectation))
        .collect();
    let tasks = my_task_titles(c, &c.counselor).await;
    [diagnoses, medications, screens, since, flags, tasks]
}

async fn my_task_titles(c: &Clinic, actor: &Actor) -> Vec<String> {
    let grant = c
        .store
        .grant::<can::ReadDemographics>(actor)
        .expect("grant");
    let mut titles: Vec<String> = c
        .store
        .my_tasks(&grant)
        .await
        .expect("tasks")
        .into_iter()
        .map(|t| t.title)
        .collect();
    titles.sort();
    titles
}

fn assert_sealed(values: &[String]) {
    assert!(values.len() >= 12, "every kind has rows: {}", values.len());
    for v in values {
        assert!(v.starts_with("enc:v1:"), "not sealed: {v}");
    }
    for word in CLEAR_WORDS {
        assert!(
            !values.iter().any(|v| v.contains(word)),
            "{word} found in the clear"
        );
    }
}

#[tokio::test]
async fn diagnoses_flag_summaries_and_task_titles_are_not_stored_in_the_clear() {
    let c = clinic().await;
    let patient = admitted(&c).await;
    write_the_lists(&c, patient).await;
    assert_sealed(&stored(&c.store).await);

    let [diagnoses, medications, screens, since, flags, tasks] = shown(&c, patient).await;
    assert_eq!(screens.len(), 2, "{screens:?}");
    assert!(
        screens
            .iter()
            .any(|r| r.starts_with("fentanyl Positive Some(false)")),
        "{screens:?}"
    );
    assert_eq!(
        since,
        vec![
            "cocaine negative None",
            "fentanyl positive Some(\"unexpected\")"
        ],
        "sorted by analyte within a screen"
    );
    assert_eq!(
        medications,
        vec!["Clonazepam 0.5 mg tablet 75 mg every morning [\"2598\"]"]
    );
    assert_eq!(
        diagnoses,
        vec![
            "F11.20 Opioid dependence, uncomplicated",
            "F32.1 Major Depressive disorder, moderate"
        ]
    );
    assert_eq!(flags.len(), 2);
    assert!(flags
        .iter()
        .any(|f| f == "Said she has a stockpile of pills"));
    assert!(
        flags.iter().any(|f| f.contains("Fentanyl")),
        "raised by the screen: {flags:?}"
    );
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert!(tasks
        .iter()
        .any(|t| t == "Respond to flag: Said she has a stockpile of pills"));
    assert!(tasks.iter().any(|t| t.contains("Fentanyl")), "{tasks:?}");

    // Matching on a sealed code still works: an active code is refused a second time.
    match add_diagnosis(&c, patient, "f11.20", "").await {
        Err(StoreError::Invalid(errors)) => {
            assert_eq!(errors[0].field, "code");
            assert!(errors[0]
                .message
                .contains("already on the active diagnosis list"));
        }
        other => panic!("expected a duplicate refused, got {other:?}"),
    }
    // Flags still count in SQL: the clinical directors' overview sees both.
    let director = common::staff(
        &c.store,
        "director",
        trellis_domain::access::Role::ClinicalDirector,
    )
    .await;
    let grant = c
        .store
        .grant::<can::ReadClinical>(&director)
        .expect("grant");
    let overview = c
        .store
        .program_overview(&grant, today())
        .await
        .expect("overview");
    assert_eq!((overview.open_flags, overview.high_flags), (2, 2));
    // The medical dashboard still finds the unexpected result in SQL (its expectation is clear).
    let medical = c
        .store
        .medical_summary(
            &c.store
                .grant::<can::ReadClinical>(&c.counselor)
                .expect("grant"),
            today(),
        )
        .await
        .expect("medical summary");
    assert_eq!(medical.unexpected_results.len(), 1);
    assert_eq!(medical.on_medication, 1);
}

#[tokio::test]
async fn clear_lists_from_an_older_trellis_are_sealed_at_start_up() {
    let store = Store::connect(&fresh_database_url().await.expect("url"))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let key = MasterKey::generate().0;
    store.unlock(&key).await.expect("unlock");
    let c = clinic_on(store).await;
    let patient = admitted(&c).await;
    write_the_lists(&c, patient).await;
    let before = shown(&c, patient).await;
    // As an older Trellis left them: every value of these columns in the clear, and each column
    // listed for sealing as migration 0110 lists them.
    for (table, key, column) in SEALED {
        raw_execute(
            &c.store,
            &format!("INSERT INTO columns_to_seal (name) VALUES ('{table}.{column}')"),
        )
        .await
        .expect("list the column");
        let ids = raw_strings(
            &c.store,
            &format!(
                "SELECT CAST({key} AS TEXT) FROM {table} WHERE {column} IS NOT NULL ORDER BY {key}"
            ),
        )
        .await
        .expect("ids");
        for id in ids {
            let clear = clear_value(&c, table, key, column, &id).await;
            raw_execute(
                &c.store,
                &format!(
                    "UPDATE {table} SET {column} = '{}' WHERE {key} = {id}",
                    clear.replace('\'', "''")
                ),
            )
            .await
            .expect("write clear");
        }
    }
    assert!(stored(&c.store)
        .await
        .iter()
        .any(|v| v.contains("stockpile")));

    c.store
        .unlock(&key)
        .await
        .expect("unlock seals the old rows");
    let sealed_once = stored(&c.store).await;
    assert_sealed(&sealed_once);
    assert!(
        raw_strings(&c.store, "SELECT name FROM columns_to_seal")
            .await
            .expect("list")
            .is_empty(),
        "each column leaves the list once sealed"
    );
    assert_eq!(shown(&c, patient).await, before, "the same lists as before");
    c.store.unlock(&key).await.expect("unlock again");
    assert_eq!(stored(&c.store).await, sealed_once, "idempotent");
}

/// The clear text an older Trellis would have stored for one row.
async fn clear_value(c: &Clinic, table: &str, key: &str, column: &str, id: &str) -> String {
    let sealed = raw_strings(
        &c.store,
        &format!("SELECT {column} FROM {table} WHERE {key} = {id}"),
    )
    .await
    .expect("raw")
    .remove(0);
    open_sealed(&c.store, &format!("{table}.{column}"), &sealed).expect("open")
}
