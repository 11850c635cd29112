//! What one web request's reads share: one reader connection, and the patients already found
//! in the actor's scope.
//!
//! sqlx returns a pooled connection by spawning a task that pings it (a round trip to the
//! SQLite connection's thread, or to the PostgreSQL server) before it is idle again, so a page
//! whose thirty reads each took their own connection paid thirty extra round trips and task
//! spawns. Inside [`Store::reading_one_connection`] the first read takes a connection and every
//! later read of the request reuses it; it goes back to the pool once, when the request's
//! handler is done. A chart view asks for a grant on the same patient five times (one per
//! part, each with its own permission); the scope query behind them is the same, so it runs once.

use crate::{Result, Store};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};
use std::collections::HashSet;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};
use trellis_domain::access::Role;

tokio::task_local! {
    static REQUEST_READER: RequestReader;
}

/// The request's connection slot, filled by its first read, and its scope answers.
#[derive(Clone)]
struct RequestReader {
    /// Which store's pool the connection came from (a process may run several stores).
    store: usize,
    slot: Arc<Mutex<Option<PoolConnection<Any>>>>,
    /// (user, role, patient) found in scope during this request. Only "yes" is kept: a refusal
    /// is asked again (and audited again) each time.
    in_scope: Arc<std::sync::Mutex<HashSet<(i64, Role, i64)>>>,
}

/// A connection to read from: the request's shared one, or one of its own outside a request
/// (or while the request's is in use, e.g. by a read transaction that calls another read).
pub(crate) enum ReadConn {
    Own(PoolConnection<Any>),
    Shared(OwnedMutexGuard<Option<PoolConnection<Any>>>),
}

impl Deref for ReadConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            ReadConn::Own(conn) => conn,
            ReadConn::Shared(guard) => guard.as_ref().expect("filled before it is handed out"),
        }
    }
}

impl DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            ReadConn::Own(conn) => conn,
            ReadConn::Shared(guard) => guard.as_mut().expect("filled before it is handed out"),
        }
    }
}

/// A distinct number per connected store.
pub(crate) fn next_store_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Store {
    /// Runs `work` (a web request's handler) with every read it makes through this store on
    /// one pooled connection, returned when `work` ends.
    pub async fn reading_one_connection<F: Future>(&self, work: F) -> F::Output {
        let reader = RequestReader {
            store: self.id,
            slot: Arc::new(Mutex::new(None)),
            in_scope: Arc::default(),
        };
        REQUEST_READER.scope(reader, work).await
    }

    /// A connection for reads: the request's own when inside one and free, else a pooled one.
    pub(crate) async fn read_conn(&self) -> Result<ReadConn> {
        let shared = REQUEST_READER
            .try_with(|r| (r.store == self.id).then(|| r.slot.clone()))
            .ok()
            .flatten();
        if let Some(mut guard) = shared.and_then(|slot| slot.try_lock_owned().ok()) {
            if guard.is_none() {
                *guard = Some(self.read.acquire().await?);
            }
            return Ok(ReadConn::Shared(guard));
        }
        Ok(ReadConn::Own(self.read.acquire().await?))
    }

    /// Whether this request already found `patient_id` in the scope of `user_id` acting as `role`.
    pub(crate) fn known_in_scope(&self, user_id: i64, role: Role, patient_id: i64) -> bool {
        REQUEST_READER
            .try_with(|r| {
                r.store == self.id
                    && r.in_scope
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .contains(&(user_id, role, patient_id))
            })
            .unwrap_or(false)
    }

    /// Remembers for the rest of the request that `patient_id` is in the user's scope.
    pub(crate) fn remember_in_scope(&self, user_id: i64, role: Role, patient_id: i64) {
        let _ = REQUEST_READER.try_with(|r| {
            if r.store == self.id {
                r.in_scope
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((user_id, role, patient_id));
            }
        });
    }

    /// Gives the request's reader connection back to the pool if it holds one and is not
    /// using it: on PostgreSQL reads and writes share one pool, and a request holding a reader
    /// while it waits for a writer could, with enough such requests, leave none to wait for.
    pub(crate) fn release_request_reader(&self) {
        let shared = REQUEST_READER
            .try_with(|r| (r.store == self.id).then(|| r.slot.clone()))
            .ok()
            .flatten();
        if let Some(mut guard) = shared.and_then(|slot| slot.try_lock_owned().ok()) {
            guard.take();
        }
    }
}
