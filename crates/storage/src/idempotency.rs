//! Idempotency keys: a retried POST that creates a clinical record gets the first answer back
//! instead of recording twice.

use crate::access::Actor;
use crate::{Instant, Result, Store, StoreError};

const RESPONSE_COLUMN: &str = "idempotency_keys.response";
/// The status of answers kept before the status was (all of them were 201 Created).
const CREATED: u16 = 201;

/// What a claim on an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new and now held for this request: do the work, then [`Store::settle_key`]
    /// (or [`Store::release_key`] if it failed).
    Fresh,
    /// The key was used for this same request, which was answered: send the same answer.
    Replay {
        /// The first answer's status (201 unless it said otherwise).
        status: u16,
        /// The `Location` of the first answer.
        location: Option<String>,
        /// The first answer's JSON body.
        body: String,
    },
    /// The key was used for a different request (another body or another record).
    Mismatch,
    /// The first request with this key is still being answered.
    InProgress,
}

impl Store {
    /// Claims `key` for the acting staff member's request with this fingerprint.
    pub async fn claim_key(&self, actor: &Actor, key: &str, fingerprint: &str) -> Result<Claim> {
        let user_id = actor.staff_id()?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(key)
        .bind(fingerprint)
        .bind(Instant::now())
        .execute(self.writer())
        .await;
        match inserted {
            Ok(_) => return Ok(Claim::Fresh),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {}
            Err(e) => return Err(StoreError::Database(e)),
        }
        let (stored, status, location, response): (
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT fingerprint, status, location, response FROM idempotency_keys
                 WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_one(self.writer())
        .await?;
        Ok(match response {
            _ if stored != fingerprint => Claim::Mismatch,
            None => Claim::InProgress,
            Some(sealed) => Claim::Replay {
                status: status
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(CREATED),
                location,
                body: self.open(RESPONSE_COLUMN, &sealed)?,
            },
        })
    }

    /// Stores the answer to a request that holds `key`.
    pub async fn settle_key(
        &self,
        actor: &Actor,
        key: &str,
        status: u16,
        location: Option<&str>,
        body: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $3, location = $4, response = $5
             WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(actor.staff_id()?)
        .bind(key)
        .bind(i64::from(status))
        .bind(location)
        .bind(self.seal(RESPONSE_COLUMN, body)?)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Frees `key` after the request holding it failed, so that a retry can do the work.
    pub async fn release_key(&self, actor: &Actor, key: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys
             WHERE user_id = $1 AND idempotency_key = $2 AND response IS NULL",
        )
        .bind(actor.staff_id()?)
        .bind(key)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
