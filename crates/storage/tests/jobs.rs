//! The job queue: scheduled once, claimed by one worker, leases taken over, failures retried.

use trellis_storage::jobs::{NewJob, HOUSEKEEPING};
use trellis_storage::testing::{fresh_store, raw_execute};
use trellis_storage::Instant;

#[tokio::test]
async fn a_job_scheduled_twice_is_one_job_and_runs_once() {
    let store = fresh_store().await.expect("store");
    let job = NewJob {
        kind: HOUSEKEEPING.into(),
        unique_key: Some("k".into()),
        payload: "{}".into(),
        run_at: Instant::now(),
    };
    assert!(store.schedule_job(&job).await.expect("schedule"));
    assert!(!store.schedule_job(&job).await.expect("schedule again"));
    let claimed = store.claim_job("a").await.expect("claim").expect("a job");
    assert_eq!(claimed.attempts, 1);
    assert!(store.claim_job("b").await.expect("claim").is_none());
    assert!(store.finish_job(&claimed, "a", "ok").await.expect("finish"));
    assert!(!store.work_one("b").await.expect("nothing left"));
}

#[tokio::test]
async fn a_lapsed_lease_is_taken_over_and_the_first_worker_cannot_finish() {
    let store = fresh_store().await.expect("store");
    store
        .schedule_job(&NewJob {
            kind: HOUSEKEEPING.into(),
            unique_key: None,
            payload: "{}".into(),
            run_at: Instant::now(),
        })
        .await
        .expect("schedule");
    let first = store.claim_job("a").await.expect("claim").expect("job");
    raw_execute(
        &store,
        "UPDATE jobs SET locked_until = '2000-01-01T00:00:00.000000Z'",
    )
    .await
    .expect("lapse");
    let second = store
        .claim_job("b")
        .await
        .expect("claim")
        .expect("taken over");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    assert!(!store.finish_job(&first, "a", "late").await.expect("finish"));
    assert!(store.finish_job(&second, "b", "ok").await.expect("finish"));
}

#[tokio::test]
async fn unknown_kinds_fail_and_are_retried_then_given_up() {
    let store = fresh_store().await.expect("store");
    assert!(store
        .schedule_job(&NewJob {
            kind: " ".into(),
            unique_key: None,
            payload: "{}".into(),
            run_at: Instant::now(),
        })
        .await
        .is_err());
    store
        .schedule_job(&NewJob {
            kind: "no_such_job".into(),
            unique_key: None,
            payload: "{}".into(),
            run_at: Instant::now(),
        })
        .await
        .expect("schedule");
    assert!(store.work_one("a").await.expect("ran"));
    assert_eq!(
        store.job_counts().await.expect("counts"),
        vec![("queued".to_owned(), 1)]
    );
    raw_execute(
        &store,
        "UPDATE jobs SET attempts = 4, run_at = '2000-01-01T00:00:00.000000Z'",
    )
    .await
    .expect("age");
    assert!(store.work_one("a").await.expect("ran"));
    assert_eq!(
        store.job_counts().await.expect("counts"),
        vec![("failed".to_owned(), 1)]
    );
}
