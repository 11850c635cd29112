//! The audit log at scale and keyed: group commit for reads, patients named by list reads, the
//! keyed chain, the marker row that seals an older unkeyed chain, and signed checkpoints.

use trellis_storage::access::can;
use trellis_storage::audit::{AuditQuery, AuditRow};
use trellis_storage::patients::PatientQuery;
use trellis_storage::testing::{allow_audit_tampering, raw_execute, rewrite_audit_chain};
use trellis_storage::{Engine, Store, StoreError};

mod common;

use common::*;

async fn rows_for(store: &Store, patient_id: i64) -> Vec<AuditRow> {
    let grant = store
        .grant::<can::ReadAudit>(&trellis_storage::access::Actor::system("test"))
        .expect("grant");
    store
        .search_audit(
            &grant,
            &AuditQuery {
                patient_id: Some(patient_id),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("search")
}

#[tokio::test]
async fn concurrent_reads_and_writes_share_one_gap_free_chain() {
    let c = clinic().await;
    let patient = register(&c, "Sam", "Ortiz").await;
    let read = c
        .store
        .patient_grant::<can::ReadDemographics>(&c.intake, patient)
        .await
        .expect("grant");
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let store = c.store.clone();
        let read = read.clone();
        tasks.push(tokio::spawn(async move { store.patient(&read).await }));
    }
    // Writes append in their own transactions while the appender commits the reads' batches.
    let mut writes = Vec::new();
    for i in 0..5 {
        writes.push(register(&c, "Writer", &format!("Number{i}")).await);
    }
    for task in tasks {
        task.await.expect("join").expect("read");
    }
    let reads = rows_for(&c.store, patient)
        .await
        .into_iter()
        .filter(|r| r.action == "read" && r.record_type == "patient")
        .count();
    assert_eq!(reads, 40, "every read has its row");
    let v = c.store.verify_audit().await.expect("verify");
    assert!(v.is_intact(), "{:?}", v.problems);
    assert_eq!(writes.len(), 5);
}

#[tokio::test]
async fn a_read_whose_audit_row_cannot_be_written_returns_no_data() {
    let c = clinic().await;
    let patient = register(&c, "Sam", "Ortiz").await;
    match c.store.engine() {
        Engine::Sqlite => {
            raw_execute(
                &c.store,
                "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log WHEN NEW.action = 'read'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END",
            )
            .await
            .expect("trigger");
        }
        Engine::Postgres => {
            raw_execute(
                &c.store,
                "CREATE FUNCTION refuse_reads() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.action = 'read' THEN RAISE EXCEPTION 'refused'; END IF;
                 RETURN NEW; END; $$",
            )
            .await
            .expect("function");
            raw_execute(
                &c.store,
                "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log
                 FOR EACH ROW EXECUTE FUNCTION refuse_reads()",
            )
            .await
            .expect("trigger");
        }
    }
    let read = c
        .store
        .patient_grant::<can::ReadDemographics>(&c.intake, patient)
        .await
        .expect("grant");
    let refused = c.store.patient(&read).await;
    assert!(
        matches!(refused, Err(StoreError::AuditUnavailable(_))),
        "{refused:?}"
    );
    // Writes keep their own rows, and the chain stays whole.
    register(&c, "Kim", "Lee").await;
    let v = c.store.verify_audit().await.expect("verify");
    assert!(v.is_intact(), "{:?}", v.problems);
}

#[tokio::test]
async fn a_list_read_names_every_patient_shown_and_each_finds_it() {
    let c = clinic().await;
    let ids = [
        register(&c, "Ana", "Quinn").await,
        register(&c, "Bo", "Quist").await,
        register(&c, "Cy", "Quill").await,
    ];
    let grant = c
        .store
        .grant::<can::ReadDemographics>(&c.intake)
        .expect("grant");
    let shown = c
        .store
        .search_patients(
            &grant,
            &PatientQuery {
                text: Some("qu".into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .expect("search");
    assert_eq!(shown.len(), 3);
    for id in ids {
        let rows = rows_for(&c.store, id).await;
        let list = rows
            .iter()
            .find(|r| r.action == "search" && r.record_type == "patient")
            .unwrap_or_else(|| panic!("patient {id} does not find the list read"));
        let mut expected = ids.to_vec();
        expected.sort();
        assert_eq!(list.patients, expected);
        assert_eq!(list.patient_id, None);
    }
    let v = c.store.verify_audit().await.expect("verify");
    assert!(v.is_intact(), "{:?}", v.problems);

    // The patients a row names are covered by its MAC.
    allow_audit_tampering(&c.store).await.expect("tamper");
    raw_execute(
        &c.store,
        &format!("DELETE FROM audit_patients WHERE patient_id = {}", ids[0]),
    )
    .await
    .expect("delete");
    let broken = c.store.verify_audit().await.expect("verify");
    assert!(
        broken
            .problems
            .iter()
            .any(|p| p.ends_with("contents were altered")),
        "{:?}",
        broken.problems
    );
}

#[tokio::test]
async fn a_chain_recomputed_without_the_key_is_detected() {
    for forged_key in [None, Some(b"the attacker's own key".as_slice())] {
        let c = clinic().await;
        let patient = register(&c, "Sam", "Ortiz").await;
        let read = c
            .store
            .patient_grant::<can::ReadDemographics>(&c.intake, patient)
            .await
            .expect("grant");
        c.store.patient(&read).await.expect("read");
        assert!(c.store.verify_audit().await.expect("verify").is_intact());
        allow_audit_tampering(&c.store).await.expect("tamper");
        raw_execute(
            &c.store,
            "UPDATE audit_log SET username = 'someone_else' WHERE id = 2",
        )
        .await
        .expect("edit");
        rewrite_audit_chain(&c.store, forged_key)
            .await
            .expect("recompute");
        let v = c.store.verify_audit().await.expect("verify");
        assert!(!v.is_intact(), "a recomputed chain passed ({forged_key:?})");
        let expected = match forged_key {
            None => "does not end in a keyed row",
            Some(_) => "row 1: contents were altered",
        };
        assert!(
            v.problems.iter().any(|p| p.contains(expected)),
            "{:?}",
            v.problems
        );
    }
}

#[tokio::test]
async fn an_unkeyed_chain_is_sealed_by_the_first_keyed_row() {
    let key = trellis_storage::crypto::MasterKey::generate().0;
    let url = trellis_storage::testing::fresh_database_url()
        .await
        .expect("url");
    let store = Store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store.unlock(&key).await.expect("unlock");
    let c = clinic_on(store).await;
    register(&c, "Sam", "Ortiz").await;
    // A log written before keying: every row plain SHA-256.
    allow_audit_tampering(&c.store).await.expect("tamper");
    rewrite_audit_chain(&c.store, None).await.expect("unkeyed");
    let before = c.store.verify_audit().await.expect("verify");
    assert!(before
        .problems
        .iter()
        .any(|p| p.contains("does not end in a keyed row")));

    // Unlocking appends the marker row; from there on the chain is keyed.
    c.store.unlock(&key).await.expect("unlock again");
    let rows = c.store.verify_audit().await.expect("verify");
    assert!(rows.is_intact(), "{:?}", rows.problems);
    let marker: Vec<String> = trellis_storage::testing::raw_strings(
        &c.store,
        "SELECT detail FROM audit_log WHERE action = 'key_chain'",
    )
    .await
    .expect("marker");
    assert_eq!(marker.len(), 1, "{marker:?}");

    // Editing an unkeyed row and recomputing the unkeyed part breaks the keyed row after it.
    raw_execute(
        &c.store,
        "UPDATE audit_log SET role = 'billing' WHERE id = 1",
    )
    .await
    .expect("edit");
    let v = c.store.verify_audit().await.expect("verify");
    assert!(
        v.problems.iter().any(|p| p.starts_with("row 1:")),
        "{:?}",
        v.problems
    );
}

#[tokio::test]
async fn checkpoints_detect_a_truncated_log_and_refuse_forgeries() {
    let c = clinic().await;
    let patient = register(&c, "Sam", "Ortiz").await;
    let read = c
        .store
        .patient_grant::<can::ReadDemographics>(&c.intake, patient)
        .await
        .expect("grant");
    c.store.patient(&read).await.expect("read");
    let checkpoint = c.store.audit_checkpoint().await.expect("checkpoint");
    c.store.patient(&read).await.expect("read");
    let ok = c
        .store
        .verify_audit_against(std::slice::from_ref(&checkpoint))
        .await
        .expect("verify");
    assert!(ok.is_intact(), "{:?}", ok.problems);

    // A forged checkpoint (edited count) is refused.
    let mut forged = checkpoint.clone();
    forged.rows -= 1;
    let v = c
        .store
        .verify_audit_against(&[forged])
        .await
        .expect("verify");
    assert!(v.problems.iter().any(|p| p.contains("not signed")));

    // Cut the last three rows and move the head back: the keyed chain alone still checks out,
    // the checkpoint does not.
    allow_audit_tampering(&c.store).await.expect("tamper");
    let keep = checkpoint.rows - 2;
    raw_execute(
        &c.store,
        &format!("DELETE FROM audit_patients WHERE audit_id > {keep}"),
    )
    .await
    .expect("cut");
    raw_execute(
        &c.store,
        &format!("DELETE FROM audit_log WHERE id > {keep}"),
    )
    .await
    .expect("cut");
    raw_execute(
        &c.store,
        &format!(
            "UPDATE audit_head SET last_id = {keep},
                 last_hash = (SELECT hash FROM audit_log WHERE id = {keep}) WHERE id = 1"
        ),
    )
    .await
    .expect("head");
    let alone = c.store.verify_audit().await.expect("verify");
    assert!(alone.is_intact(), "{:?}", alone.problems);
    let v = c
        .store
        .verify_audit_against(&[checkpoint])
        .await
        .expect("verify");
    assert!(
        v.problems.iter().any(|p| p.contains("rows were removed")),
        "{:?}",
        v.problems
    );
}
