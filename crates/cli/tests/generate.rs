//! `trellis generate` at a tiny size, on the engine the test run targets: the counts are as
//! asked, the audit chain verifies, and generated clinical text opens through the store.

use std::process::{Command, Output};
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::crypto::MasterKey;
use trellis_storage::testing::{fresh_database_url, raw_strings};
use trellis_storage::Store;

fn trellis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(args)
        .output()
        .expect("run trellis")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn count(store: &Store, sql: &str) -> i64 {
    let sql = format!("SELECT CAST(({sql}) AS TEXT)");
    raw_strings(store, &sql).await.expect("count")[0]
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn a_tiny_network_has_the_counts_asked_and_a_verifiable_audit_log() {
    let url = fresh_database_url().await.expect("database");
    let dir = std::env::temp_dir().join(format!("trellis-generate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = dir.join("master.key");
    let _ = std::fs::remove_file(&key);
    let key_path = key.display().to_string();
    let made = trellis(&["keys", "generate", "--out", &key_path]);
    assert!(made.status.success(), "{}", text(&made.stderr));

    let generated = trellis(&[
        "generate",
        "--database-url",
        &url,
        "--master-key-file",
        &key_path,
        "--sites",
        "2",
        "--years",
        "1",
        "--episodes",
        "40",
        "--quiet",
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let report = text(&generated.stdout);
    assert!(report.contains("generated 2 sites"), "{report}");
    assert!(report.contains(" 40 episodes"), "{report}");

    let verified = trellis(&[
        "audit",
        "verify",
        "--database-url",
        &url,
        "--master-key-file",
        &key_path,
    ]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(text(&verified.stdout).contains("audit log intact"));

    let store = Store::connect(&url).await.expect("connect");
    store
        .unlock(&MasterKey::from_file(&key).expect("key"))
        .await
        .expect("unlock");
    let generated_sites = "SELECT id FROM sites WHERE code LIKE 'N%'";
    assert_eq!(
        count(
            &store,
            &format!("SELECT COUNT(*) FROM sites WHERE id IN ({generated_sites})")
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &store,
            &format!("SELECT COUNT(*) FROM episodes WHERE site_id IN ({generated_sites})")
        )
        .await,
        40
    );
    let attendance = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM attendance a JOIN patients p ON p.id = a.patient_id \
             WHERE p.site_id IN ({generated_sites})"
        ),
    )
    .await;
    assert!(
        report.contains(&format!(" {attendance} attendance")),
        "{report} vs {attendance}"
    );
    assert!(attendance > 40, "a year of groups: {attendance}");
    // Every generated record has its audit row: one enrolment row per episode at least.
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'enrol' AND username LIKE 'n0%'"
        )
        .await,
        40
    );
    // A generated plan names only diagnoses on its own patient's list, each problem linked.
    let linked = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM plan_problem_diagnoses l \
             JOIN treatment_plans t ON t.id = l.plan_id JOIN patients p ON p.id = t.patient_id \
             WHERE p.site_id IN ({generated_sites})"
        ),
    )
    .await;
    assert!(linked > 0, "generated plans link their diagnoses");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM plan_problem_diagnoses l \
             JOIN treatment_plans t ON t.id = l.plan_id \
             JOIN patient_diagnoses d ON d.id = l.diagnosis_id \
             WHERE d.patient_id <> t.patient_id"
        )
        .await,
        0
    );
    // Two sites, each fully staffed, and session ids that later inserts do not collide with.
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM users WHERE username LIKE 'n0%'"
        )
        .await,
        16
    );

    // Generated notes were sealed with the store's keys: they open for the patient's counselor.
    let counselor = store
        .staff_by_username("n03.counselor1")
        .await
        .expect("generated counselor");
    let actor = Actor {
        user_id: Some(counselor.id),
        username: counselor.username.clone(),
        role: Role::Counselor,
        ip: None,
        request_id: None,
    };
    let patient: i64 = raw_strings(
        &store,
        &format!(
            "SELECT CAST(MIN(n.patient_id) AS TEXT) FROM progress_notes n \
             JOIN episodes e ON e.patient_id = n.patient_id \
             WHERE e.primary_counselor_id = {}",
            counselor.id
        ),
    )
    .await
    .expect("a note")[0]
        .parse()
        .expect("id");
    let grant = store
        .patient_grant::<can::ReadClinical>(&actor, patient)
        .await
        .expect("grant");
    let notes = store.notes(&grant).await.expect("notes open");
    assert!(!notes.is_empty());
    assert!(notes[0].sections.iter().any(|(_, text)| !text.is_empty()));

    // Every generated episode was placed from an intake assessment, as in a clinic, and the
    // assessment opens through the store with its placement.
    assert_eq!(
        count(
            &store,
            &format!(
                "SELECT COUNT(*) FROM episodes e WHERE e.site_id IN ({generated_sites}) \
                 AND NOT EXISTS (SELECT 1 FROM intake_assessments a WHERE a.episode_id = e.id)"
            )
        )
        .await,
        0
    );
    let assessments = store.assessments(&grant).await.expect("assessments open");
    assert!(!assessments.is_empty());
    assert!(assessments[0].placement.is_some());
    assert!(assessments[0]
        .sections
        .values()
        .any(|text| !text.is_empty()));

    // Later writes through the store get fresh ids (sequences moved past the generated ones).
    let system = Actor::system("test");
    let orgs = store.grant::<can::ManagePrograms>(&system).expect("grant");
    store
        .create_site(
            &orgs,
            trellis_storage::org::NewSite {
                code: "ZZZ".into(),
                name: "After generation".into(),
                timezone: "America/New_York".into(),
                address: None,
                phone: None,
            },
        )
        .await
        .expect("a site after generation");
}

#[test]
fn generate_refuses_bad_sizes_and_a_missing_key() {
    for fraction in ["0", "1.5", "-1", "many"] {
        let out = trellis(&[
            "generate",
            "--database-url",
            "sqlite:///tmp/trellis-never.db",
            &format!("--fraction={fraction}"),
        ]);
        assert!(!out.status.success(), "--fraction {fraction} was accepted");
        assert!(
            text(&out.stderr).contains("fraction"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = trellis(&[
        "generate",
        "--database-url",
        "sqlite:///tmp/trellis-generate-nokey.db",
        "--episodes",
        "0",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("episodes"));
    let dir = std::env::temp_dir().join(format!("trellis-generate-nokey-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args([
            "generate",
            "--database-url",
            &format!("sqlite://{}/t.db", dir.display()),
            "--episodes",
            "5",
        ])
        .env_remove("TRELLIS_MASTER_KEY")
        .env_remove("TRELLIS_MASTER_KEY_FILE")
        .output()
        .expect("run trellis");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("master key"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demo_refuses_an_unknown_scale_and_a_bad_fraction() {
    let dir = std::env::temp_dir().join(format!("trellis-demo-bad-{}", std::process::id()));
    let data = dir.display().to_string();
    let scale = trellis(&["demo", "--data-dir", &data, "--scale", "galaxy"]);
    assert!(!scale.status.success());
    assert!(
        text(&scale.stderr).contains("--scale"),
        "{}",
        text(&scale.stderr)
    );
    let fraction = trellis(&[
        "demo",
        "--data-dir",
        &data,
        "--scale",
        "network",
        "--fraction",
        "0",
    ]);
    assert!(!fraction.status.success());
    assert!(
        text(&fraction.stderr).contains("fraction"),
        "{}",
        text(&fraction.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
