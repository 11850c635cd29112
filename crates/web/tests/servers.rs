//! Two servers on one database (run with TRELLIS_TEST_DATABASE=postgres for the network
//! set-up): a session made on one works on the other, signing out on one ends it on both,
//! and background jobs scheduled once run once across both.

mod common;

use common::{client, csrf_in};
use reqwest::StatusCode;
use std::time::Duration;
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::crypto::MasterKey;
use trellis_storage::jobs::{NewJob, HOUSEKEEPING};
use trellis_storage::staff::NewStaff;
use trellis_storage::testing::{fresh_database_url, raw_strings};
use trellis_storage::{Instant, Store};
use trellis_web::{AppState, Config};

const PASSWORD: &str = "correct horse battery staple";

/// A server with its own connection pool and background worker; stops when dropped.
struct Server {
    base: String,
    store: Store,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn server(url: &str, key: &MasterKey) -> Server {
    let store = Store::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store.unlock(key).await.expect("unlock");
    // Sign-in with a password alone, as the other web tests do (tests/common `start_with`).
    for role in Role::ALL {
        store
            .set_mfa_required(&Actor::system("test"), role, false)
            .await
            .expect("policy");
    }
    let config = Config {
        job_poll: Some(Duration::from_millis(50)),
        ..Config::default()
    };
    let state = AppState::new(store.clone(), config).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = trellis_web::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    Server {
        base,
        store,
        _stop: tx,
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    raw_strings(store, &format!("SELECT CAST(({sql}) AS TEXT)"))
        .await
        .expect("count")[0]
        .parse()
        .expect("number")
}

#[tokio::test]
async fn two_servers_share_sessions_and_run_each_job_once() {
    let url = fresh_database_url().await.expect("database");
    let key = MasterKey::generate().0;
    let a = server(&url, &key).await;
    let b = server(&url, &key).await;
    let users = a
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    a.store
        .create_staff(
            &users,
            &NewStaff {
                username: "casey".into(),
                display_name: "Casey".into(),
                email: None,
                role: Role::Counselor,
                password: PASSWORD.into(),
            },
        )
        .await
        .expect("staff");

    // Sign in on A.
    let browser = client();
    let login = browser
        .get(format!("{}/login", a.base))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("text");
    let signed_in = browser
        .post(format!("{}/login", a.base))
        .header("Origin", &a.base)
        .form(&[
            ("csrf_token", csrf_in(&login).as_str()),
            ("username", "casey"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(signed_in.status(), StatusCode::OK);
    let csrf = csrf_in(&signed_in.text().await.expect("text"));
    assert!(!csrf.is_empty());

    // The same cookie (the browser sends it to any port of the host) works on B.
    let on_b = browser
        .get(format!("{}/dashboard", b.base))
        .send()
        .await
        .expect("dashboard on b");
    assert_eq!(on_b.status(), StatusCode::OK);
    assert!(!on_b.url().path().starts_with("/login"), "{}", on_b.url());

    // A state change on B with the CSRF token A issued: signing out ends the session on A too.
    let out = browser
        .post(format!("{}/logout", b.base))
        .header("Origin", &b.base)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("logout on b");
    assert!(out.status().is_success(), "{}", out.status());
    let on_a = browser
        .get(format!("{}/dashboard", a.base))
        .send()
        .await
        .expect("dashboard on a");
    assert!(on_a.url().path().starts_with("/login"), "{}", on_a.url());

    // Jobs scheduled once (and once more with the same key from the other server) run once.
    for i in 0..20 {
        let job = NewJob {
            kind: HOUSEKEEPING.into(),
            unique_key: Some(format!("test-{i}")),
            payload: "{}".into(),
            run_at: Instant::now(),
        };
        assert!(a.store.schedule_job(&job).await.expect("schedule on a"));
        assert!(!b.store.schedule_job(&job).await.expect("schedule on b"));
    }
    let mut waited = 0;
    while count(&a.store, "SELECT COUNT(*) FROM jobs WHERE status <> 'done'").await > 0 {
        assert!(waited < 200, "jobs still pending after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let jobs = count(
        &a.store,
        "SELECT COUNT(*) FROM jobs WHERE kind <> 'consent_expiry'",
    )
    .await;
    // 20 scheduled plus the hour's recurring housekeeping (both servers schedule it; two if
    // the test straddles an hour).
    assert!(jobs == 21 || jobs == 22, "{jobs} jobs");
    // The daily consent-expiry check is scheduled by both servers and made once (twice only if
    // the test straddles midnight UTC).
    let daily = count(
        &a.store,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'consent_expiry'",
    )
    .await;
    assert!(daily == 1 || daily == 2, "{daily} consent-expiry checks");
    assert_eq!(
        count(&a.store, "SELECT COUNT(*) FROM jobs WHERE attempts <> 1").await,
        0
    );
    assert_eq!(
        count(
            &a.store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'housekeeping'"
        )
        .await,
        jobs
    );
    let verified = a.store.verify_audit().await.expect("verify");
    assert!(verified.is_intact(), "{:?}", verified.problems);
}
