//! Storage tests, run on SQLite by default and on PostgreSQL with TRELLIS_TEST_DATABASE=postgres.

use trellis_domain::access::Role;
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::Admission;
use trellis_storage::patients::{PatientQuery, RegisterOutcome};
use trellis_storage::testing::raw_execute;
use trellis_storage::{Store, StoreError};

mod common;

use common::*;

#[tokio::test]
async fn episode_admit_level_change_and_discharge_keep_history() {
    let c = clinic().await;
    let patient = register(&c, "Dana", "Reyes").await;
    let admit = c
        .store
        .patient_grant::<can::AdmitEpisode>(&c.intake, patient)
        .await
        .expect("intake may admit a site patient");
    let episode = c
        .store
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
            day(2026, 11, 27),
        )
        .await
        .expect("admit");
    let second = c
        .store
        .admit(
            &admit,
            &Admission {
                program_id: c.program,
                admitted_on: day(2026, 11, 3),
                referral_source: "Self or family".into(),
                primary_counselor_id: None,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "again".into(),
            },
            day(2026, 11, 27),
        )
        .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");

    let change = c
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&c.counselor, patient)
        .await
        .expect("counselor of the program");
    let before_admission = c
        .store
        .change_level(
            &change,
            episode,
            LevelOfCare::Outpatient,
            day(2026, 10, 1),
            "x",
            day(2026, 11, 27),
        )
        .await;
    assert!(matches!(before_admission, Err(StoreError::Invalid(_))));
    c.store
        .change_level(
            &change,
            episode,
            LevelOfCare::Outpatient,
            day(2026, 11, 23),
            "Met phase 2 goals; stepping down",
            day(2026, 11, 27),
        )
        .await
        .expect("step down");

    let discharge = c
        .store
        .patient_grant::<can::DischargeEpisode>(&c.counselor, patient)
        .await
        .expect("grant");
    // The step-down took effect on the 23rd: a discharge dated before it is refused.
    let before_step_down = c
        .store
        .discharge(
            &discharge,
            episode,
            day(2026, 11, 22),
            DischargeReason::TreatmentCompleted,
            None,
            day(2026, 11, 27),
        )
        .await;
    match before_step_down {
        Err(StoreError::Invalid(errors)) => {
            assert_eq!(errors[0].field, "discharged_on");
            assert!(
                errors[0].message.contains("effective 2026-11-23"),
                "{errors:?}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    c.store
        .discharge(
            &discharge,
            episode,
            day(2026, 11, 26),
            DischargeReason::TreatmentCompleted,
            None,
            day(2026, 11, 27),
        )
        .await
        .expect("discharge");
    let again = c
        .store
        .discharge(
            &discharge,
            episode,
            day(2026, 11, 26),
            DischargeReason::TreatmentCompleted,
            None,
            day(2026, 11, 27),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));

    let read = c
        .store
        .patient_grant::<can::ReadEpisodes>(&c.counselor, patient)
        .await
        .expect("grant");
    let episodes = c.store.episodes(&read).await.expect("episodes");
    assert_eq!(episodes.len(), 1);
    assert_eq!(
        episodes[0].reason(),
        Some(DischargeReason::TreatmentCompleted)
    );
    assert_eq!(episodes[0].current_level, "1");
    let clinical = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("clinical grant");
    let history = c
        .store
        .level_history(&read, Some(&clinical), episode)
        .await
        .expect("history");
    let levels: Vec<&str> = history.iter().map(|h| h.level.as_str()).collect();
    assert_eq!(levels, vec!["2.1", "1"]);
    assert_eq!(history[1].decided_by_name, "casey");
    assert_eq!(
        history[1].reason.as_deref(),
        Some("Met phase 2 goals; stepping down")
    );
}

#[tokio::test]
async fn counselors_see_only_patients_of_their_programs() {
    let c = clinic().await;
    let patient = register(&c, "Lee", "Park").await;
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
                admitted_on: day(2026, 11, 20),
                referral_source: "Court or criminal justice".into(),
                primary_counselor_id: None,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "placement".into(),
            },
            day(2026, 11, 27),
        )
        .await
        .expect("admit");
    assert!(c
        .store
        .patient_grant::<can::ReadDemographics>(&c.counselor, patient)
        .await
        .is_ok());
    let denied = c
        .store
        .patient_grant::<can::ReadDemographics>(&c.outsider, patient)
        .await;
    assert!(matches!(denied, Err(StoreError::Denied(_))), "{denied:?}");
    let role_denied = c
        .store
        .patient_grant::<can::DischargeEpisode>(&c.intake, patient)
        .await;
    assert!(matches!(role_denied, Err(StoreError::Denied(_))));

    let list = |actor: Actor| {
        let store = c.store.clone();
        async move {
            let grant = store.grant::<can::ReadDemographics>(&actor).expect("grant");
            store
                .search_patients(
                    &grant,
                    &PatientQuery {
                        text: Some("park".into()),
                        limit: 50,
                        ..Default::default()
                    },
                )
                .await
                .expect("search")
                .len()
        }
    };
    assert_eq!(list(c.counselor.clone()).await, 1);
    assert_eq!(list(c.outsider.clone()).await, 0);

    let audit = c
        .store
        .grant::<can::ReadAudit>(&Actor::system("test"))
        .expect("grant");
    let rows = c
        .store
        .search_audit(
            &audit,
            &trellis_storage::audit::AuditQuery {
                patient_id: Some(patient),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
    assert!(rows
        .iter()
        .any(|r| r.action == "access_denied" && r.username == "olive"));
    assert!(rows.iter().any(|r| r.action == "admit"));
    let _ = c.other_program;
}

#[tokio::test]
async fn duplicate_registration_is_flagged_before_creating() {
    let c = clinic().await;
    let first = register(&c, "Maria", "Núñez").await;
    let grant = c
        .store
        .grant::<can::EditDemographics>(&c.intake)
        .expect("grant");
    let outcome = c
        .store
        .register_patient(
            &grant,
            c.site,
            &registration("maria", "NUNEZ"),
            day(2026, 11, 27),
            false,
        )
        .await
        .expect("register");
    match outcome {
        RegisterOutcome::PossibleDuplicates(candidates) => {
            assert_eq!(candidates.len(), 1);
            assert_eq!(candidates[0].patient_id, first);
        }
        other => panic!("expected a duplicate warning, got {other:?}"),
    }
    let confirmed = c
        .store
        .register_patient(
            &grant,
            c.site,
            &registration("maria", "NUNEZ"),
            day(2026, 11, 27),
            true,
        )
        .await
        .expect("register");
    assert!(matches!(confirmed, RegisterOutcome::Created(id) if id != first));
    let bad = c
        .store
        .register_patient(
            &grant,
            c.site,
            &registration("", "X"),
            day(2026, 11, 27),
            true,
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(ref e)) if e[0].field == "legal_first_name"));
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_tampering() {
    let c = clinic().await;
    let patient = register(&c, "Sam", "Ortiz").await;
    let read = c
        .store
        .patient_grant::<can::ReadDemographics>(&c.intake, patient)
        .await
        .expect("grant");
    c.store.patient(&read).await.expect("read");
    let ok = c.store.verify_audit().await.expect("verify");
    assert!(ok.is_intact(), "{:?}", ok.problems);
    assert!(ok.rows >= 5);

    // The application cannot alter the log: the database refuses.
    let refused = raw_execute(&c.store, "UPDATE audit_log SET detail = 'x' WHERE id = 2").await;
    assert!(refused.is_err());
    // A database superuser can; verification finds it.
    match c.store.engine() {
        trellis_storage::Engine::Sqlite => {
            raw_execute(&c.store, "DROP TRIGGER audit_log_no_update")
                .await
                .expect("drop");
        }
        trellis_storage::Engine::Postgres => {
            raw_execute(
                &c.store,
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
            )
            .await
            .expect("disable");
        }
    }
    raw_execute(
        &c.store,
        "UPDATE audit_log SET detail = 'nothing to see' WHERE id = 2",
    )
    .await
    .expect("tamper");
    let broken = c.store.verify_audit().await.expect("verify");
    assert!(!broken.is_intact());
    assert!(
        broken.problems.iter().any(|p| p.starts_with("row 2:")),
        "{:?}",
        broken.problems
    );
}

#[tokio::test]
async fn password_failures_pause_the_account_for_that_address_only() {
    use trellis_storage::staff::LoginOutcome;
    let c = clinic().await;
    let login = |user: &'static str, password: &'static str, ip: &'static str| {
        let store = c.store.clone();
        async move { store.login(user, password, ip).await.expect("login") }
    };
    // Five wrong passwords from one address: each answered like an unknown account.
    for _ in 0..5 {
        assert_eq!(
            login("casey", "wrong password!", "10.0.0.1").await,
            LoginOutcome::Invalid
        );
    }
    assert_eq!(
        login("nobody", "whatever-whatever", "10.0.0.1").await,
        LoginOutcome::Invalid
    );
    // A sixth wrong one still says nothing about a lock: unknown and locked look the same.
    assert_eq!(
        login("casey", "wrong password!", "10.0.0.1").await,
        LoginOutcome::Invalid
    );
    // The right password from that address is held back...
    assert!(matches!(
        login("casey", "correct horse battery", "10.0.0.1").await,
        LoginOutcome::Locked(_)
    ));
    // ...but the owner at their own address gets in: nobody can hold the account locked.
    assert!(matches!(
        login("casey", "correct horse battery", "192.0.2.7").await,
        LoginOutcome::Success(_) | LoginOutcome::NeedsMfaEnrolment(_)
    ));
    assert!(matches!(
        login("ingrid", "correct horse battery", "10.0.0.1").await,
        LoginOutcome::Success(_)
    ));
}

#[tokio::test]
async fn failures_from_many_addresses_slow_the_account_but_do_not_lock_it() {
    use trellis_storage::staff::{LoginOutcome, BACKOFF_AFTER, BACKOFF_STEP_MS};
    let c = clinic().await;
    for i in 0..BACKOFF_AFTER {
        let ip = format!("198.51.100.{i}");
        assert_eq!(
            c.store
                .login("ingrid", "wrong password!", &ip)
                .await
                .expect("login"),
            LoginOutcome::Invalid
        );
    }
    let started = std::time::Instant::now();
    let outcome = c
        .store
        .login("ingrid", "correct horse battery", "192.0.2.7")
        .await
        .expect("login");
    assert!(matches!(outcome, LoginOutcome::Success(_)), "{outcome:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(BACKOFF_STEP_MS),
        "the answer waited: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn clinical_text_is_encrypted_at_rest_and_survives_master_key_rotation() {
    use trellis_storage::crypto::MasterKey;
    let url = trellis_storage::testing::fresh_database_url()
        .await
        .expect("url");
    let store = Store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let (old_key, _) = MasterKey::generate();
    store.unlock(&old_key).await.expect("unlock");
    let c = clinic_on(store).await;
    let patient = register(&c, "Rita", "Moreno").await;
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
                admitted_on: day(2026, 11, 20),
                referral_source: "Self or family".into(),
                primary_counselor_id: None,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "Panic attacks and daily benzodiazepine misuse".into(),
            },
            day(2026, 11, 27),
        )
        .await
        .expect("admit");
    let raw: Vec<String> = sqlx_rows(&c.store, "SELECT reason FROM level_of_care_changes").await;
    assert!(
        raw.iter()
            .all(|r| r.starts_with("enc:v1:") && !r.contains("benzodiazepine")),
        "{raw:?}"
    );

    let (new_key, _) = MasterKey::generate();
    assert!(
        c.store.rotate_master_key(&new_key, &old_key).await.is_err(),
        "wrong old key refused"
    );
    assert_eq!(
        c.store
            .rotate_master_key(&old_key, &new_key)
            .await
            .expect("rotate"),
        1
    );
    let reopened = Store::connect(&url).await.expect("connect");
    assert!(
        reopened.unlock(&old_key).await.is_err(),
        "old key no longer unlocks"
    );
    reopened.unlock(&new_key).await.expect("new key unlocks");
    let read = reopened
        .patient_grant::<can::ReadEpisodes>(&c.counselor, patient)
        .await
        .expect("grant");
    let clinical = reopened
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("clinical grant");
    let history = reopened
        .level_history(&read, Some(&clinical), episode)
        .await
        .expect("history");
    assert_eq!(
        history[0].reason.as_deref(),
        Some("Panic attacks and daily benzodiazepine misuse")
    );
    // Intake reads episodes but not clinical text: the levels without the clinician's reasons.
    let intake_read = reopened
        .patient_grant::<can::ReadEpisodes>(&c.intake, patient)
        .await
        .expect("intake grant");
    let history = reopened
        .level_history(&intake_read, None, episode)
        .await
        .expect("history");
    assert_eq!(history[0].level, "2.1");
    assert_eq!(history[0].reason, None);
}

async fn sqlx_rows(store: &Store, sql: &str) -> Vec<String> {
    trellis_storage::testing::raw_strings(store, sql)
        .await
        .expect("query")
}

#[tokio::test]
async fn a_flag_opens_tasks_that_stay_open_until_someone_records_the_response() {
    use trellis_storage::tasks::Severity;
    let c = clinic().await;
    let patient = register(&c, "Noor", "Haddad").await;
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
                admitted_on: day(2026, 11, 20),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "placement".into(),
            },
            day(2026, 11, 27),
        )
        .await
        .expect("admit");
    let director = staff(&c.store, "dora", Role::ClinicalDirector).await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let flag = c
        .store
        .raise_manual_flag(&write, Severity::High, "Said they had a plan to overdose")
        .await
        .expect("flag");

    let tasks_of = |actor: Actor| {
        let store = c.store.clone();
        async move {
            let grant = store.grant::<can::ReadDemographics>(&actor).expect("grant");
            store.my_tasks(&grant).await.expect("tasks")
        }
    };
    let mine = tasks_of(c.counselor.clone()).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].flag_id, Some(flag));
    assert_eq!(mine[0].priority, "urgent");
    assert_eq!(
        tasks_of(director.clone()).await.len(),
        1,
        "high risk reaches the clinical directors"
    );
    assert!(tasks_of(c.outsider.clone()).await.is_empty());

    let refused = c.store.complete_task(&c.intake, mine[0].id, "n/a").await;
    assert!(matches!(refused, Err(StoreError::Denied(_))), "{refused:?}");
    let empty = c.store.complete_task(&c.counselor, mine[0].id, "  ").await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))));
    c.store
        .complete_task(
            &c.counselor,
            mine[0].id,
            "Same-day safety plan; means restriction with family",
        )
        .await
        .expect("complete");
    assert!(tasks_of(c.counselor.clone()).await.is_empty());
    assert!(
        tasks_of(director).await.is_empty(),
        "sibling task closes with the flag"
    );
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    assert!(c.store.open_flags(&read).await.expect("flags").is_empty());
    let history = c.store.patient_tasks(&read).await.expect("tasks");
    assert!(history.iter().any(
        |t| t.outcome.as_deref() == Some("Same-day safety plan; means restriction with family")
    ));
    let raw = trellis_storage::testing::raw_strings(
        &c.store,
        "SELECT outcome FROM tasks WHERE outcome IS NOT NULL",
    )
    .await
    .expect("raw");
    assert!(
        raw.iter().all(|o| !o.contains("safety plan")),
        "outcomes are encrypted at rest"
    );
}

/// A SQLite database in its own temporary folder (file modes are SQLite's concern only).
fn sqlite_folder(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "trellis-{name}-{}-{}",
        std::process::id(),
        &trellis_storage::staff::random_secret()[..8]
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

#[cfg(unix)]
#[tokio::test]
async fn database_wal_and_backup_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let dir = sqlite_folder("modes");
    let db = dir.join("trellis.db");
    // An earlier version left the database world-readable: opening it tightens that too.
    std::fs::write(&db, b"").expect("empty db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store.set_setting("probe", "1").await.expect("write");
    for file in ["trellis.db", "trellis.db-wal", "trellis.db-shm"] {
        let path = dir.join(file);
        assert!(path.exists(), "{file}");
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    let backup = dir.join("backup.db");
    store.backup_sqlite(&backup).await.expect("backup");
    assert_eq!(mode(&backup), 0o600);
    let copy = Store::connect(&format!("sqlite://{}", backup.display()))
        .await
        .expect("open backup");
    assert_eq!(
        copy.setting("probe").await.expect("read").as_deref(),
        Some("1")
    );
    // A fresh database is private from its first byte.
    let fresh = dir.join("fresh.db");
    Store::connect(&format!("sqlite://{}", fresh.display()))
        .await
        .expect("connect")
        .migrate()
        .await
        .expect("migrate");
    assert_eq!(mode(&fresh), 0o600);
    std::fs::remove_dir_all(&dir).ok();
}

/// The cost of `synchronous = FULL` on the writer (run by hand, on the disk Trellis will use:
/// `TRELLIS_BENCH_DIR=/var/lib/trellis cargo test -p trellis-storage --test store
/// synchronous_full_cost -- --ignored --nocapture`). Figures are in docs/security.md.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn synchronous_full_cost() {
    let dir = match std::env::var("TRELLIS_BENCH_DIR") {
        Ok(d) => std::path::PathBuf::from(d),
        Err(_) => sqlite_folder("sync"),
    };
    for mode in ["FULL", "NORMAL"] {
        let db = dir.join(format!("sync-{mode}-{}.db", std::process::id()));
        let store = Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        trellis_storage::testing::raw_execute(&store, &format!("PRAGMA synchronous = {mode}"))
            .await
            .expect("pragma");
        let n = 500;
        let started = std::time::Instant::now();
        for i in 0..n {
            store
                .set_setting(&format!("k{}", i % 50), &i.to_string())
                .await
                .expect("write");
        }
        let per = started.elapsed() / n;
        println!("synchronous = {mode}: {per:?} per commit over {n} commits");
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", db.display())).ok();
        }
    }
}

/// A web request's reads share one connection and remember who is in scope; neither may carry
/// over to another user or request, and a refusal is asked and audited every time.
#[tokio::test]
async fn reads_in_one_request_share_a_connection_but_never_a_refusal_or_another_users_scope() {
    let c = clinic().await;
    let patient = admitted_to(&c, "Rosa", "Park", c.program).await;
    let store = c.store.clone();
    let (counselor, outsider) = (c.counselor.clone(), c.outsider.clone());
    store
        .reading_one_connection(async {
            for _ in 0..3 {
                let grant = store
                    .patient_grant::<can::ReadEpisodes>(&counselor, patient)
                    .await
                    .expect("in scope");
                // A card that reads in a transaction on the shared connection and, inside it,
                // reads again: the inner read takes a connection of its own, no deadlock.
                assert_eq!(store.episodes(&grant).await.expect("episodes").len(), 1);
                let clinical = store
                    .patient_grant::<can::ReadClinical>(&counselor, patient)
                    .await
                    .expect("in scope");
                store.current_phase(&clinical).await.expect("phase");
                store.medications(&clinical).await.expect("medications");
            }
            // The counselor's scope is not the outsider's, even on the same patient and request.
            for _ in 0..2 {
                let refused = store
                    .patient_grant::<can::ReadEpisodes>(&outsider, patient)
                    .await;
                assert!(matches!(refused, Err(StoreError::Denied(_))), "{refused:?}");
            }
            // Scope remembered is no role granted: the intake role may not discharge.
            let role_refused = store
                .patient_grant::<can::DischargeEpisode>(&c.intake, patient)
                .await;
            assert!(matches!(role_refused, Err(StoreError::Denied(_))));
        })
        .await;
    let audit = store
        .grant::<can::ReadAudit>(&Actor::system("test"))
        .expect("grant");
    let refusals = store
        .search_audit(
            &audit,
            &trellis_storage::audit::AuditQuery {
                patient_id: Some(patient),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .into_iter()
        .filter(|r| r.action == "access_denied" && r.username == "olive")
        .count();
    assert_eq!(refusals, 2, "each refusal is audited");
}
