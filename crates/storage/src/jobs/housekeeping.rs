//! Housekeeping: removes ended sign-in sessions and login failures too old to count towards a
//! rate limit, records the run in the audit log, and keeps SQLite's planner statistics fresh.

use chrono::Duration;

use crate::access::Actor;
use crate::audit::{self, AuditEvent};
use crate::{Instant, Result, Store};

/// The housekeeping job's kind.
pub const HOUSEKEEPING: &str = "housekeeping";

/// Sessions idle this long are over whatever the configured idle timeout (at most 4 hours).
const IDLE_LIMIT: Duration = Duration::hours(24);
/// Login failures older than this no longer count towards any limit.
const FAILURE_WINDOW: Duration = Duration::days(1);

impl Store {
    /// Runs housekeeping once; returns what it removed, in words without personal data.
    pub async fn housekeeping(&self) -> Result<String> {
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let sessions =
            sqlx::query("DELETE FROM staff_sessions WHERE expires_at < $1 OR last_seen_at < $2")
                .bind(now)
                .bind(Instant(now.0 - IDLE_LIMIT))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let failures = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(Instant(now.0 - FAILURE_WINDOW))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let result = format!("{sessions} ended sessions, {failures} old login failures removed");
        audit::append(
            &mut tx,
            &Actor::system("housekeeping"),
            AuditEvent {
                action: "housekeeping",
                record_type: "staff_sessions",
                record_id: None,
                patient_id: None,
                detail: result.clone(),
            },
        )
        .await?;
        tx.commit().await?;
        if self.engine == crate::Engine::Sqlite {
            // SQLite's practice for long-lived connections: refresh the planner's statistics
            // now and then; it re-analyses only tables that changed enough to matter.
            sqlx::query("PRAGMA optimize").execute(&self.write).await?;
        }
        Ok(result)
    }
}
