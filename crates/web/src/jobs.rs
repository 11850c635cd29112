//! The background worker each server runs: it schedules the recurring jobs (idempotently, so
//! every server may) and works the job queue the servers share, so each job runs once.

use std::time::Duration;
use tokio::task::JoinHandle;
use trellis_storage::Store;

/// Starts the worker; it runs until aborted.
pub fn spawn_worker(store: Store, poll: Duration) -> JoinHandle<()> {
    let worker = format!(
        "{}-{}",
        std::process::id(),
        &trellis_storage::staff::random_secret()[..8]
    );
    tokio::spawn(async move {
        tracing::info!(%worker, "background job worker started");
        loop {
            if let Err(e) = store.schedule_recurring().await {
                tracing::warn!(error = %e, "cannot schedule recurring jobs");
            }
            loop {
                match store.work_one(&worker).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot work the job queue");
                        break;
                    }
                }
            }
            tokio::time::sleep(poll).await;
        }
    })
}
