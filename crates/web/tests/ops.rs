//! Operations over real HTTP: health check, security headers, request ids, cookie attributes,
//! metrics (off by default, administrators only when on).

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn health_check_answers_without_signing_in() {
    let s = start().await;
    let res = client()
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let s = start().await;
    let res = client()
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("get");
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(csp.contains("default-src 'self'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-request-id"].len(), 16);
    let cookie = h["set-cookie"].to_str().expect("cookie");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
}

#[tokio::test]
async fn session_cookie_is_secure_behind_https_and_renewed_at_login() {
    let s = start_with(trellis_web::Config {
        public_url: Some("https://trellis.example.org".into()),
        ..Default::default()
    })
    .await;
    let res = client()
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("get");
    assert!(res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .contains("Secure"));
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https_and_not_otherwise() {
    let https = start_with(trellis_web::Config {
        public_url: Some("https://trellis.example.org".into()),
        ..Default::default()
    })
    .await;
    for path in ["/login", "/healthz", "/no-such-page"] {
        let res = client()
            .get(format!("{}{path}", https.base))
            .send()
            .await
            .expect("get");
        assert_eq!(
            res.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().expect("ascii")),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
    }
    for public_url in [None, Some("http://trellis.example.org".to_owned())] {
        let plain = start_with(trellis_web::Config {
            public_url,
            ..Default::default()
        })
        .await;
        let res = client()
            .get(format!("{}/login", plain.base))
            .send()
            .await
            .expect("get");
        assert!(res.headers().get("strict-transport-security").is_none());
    }
}

#[tokio::test]
async fn login_issues_a_new_session_id_each_time() {
    let s = start().await;
    let first = s.browser("casey").await;
    let second = s.browser("casey").await;
    assert_ne!(first.csrf, second.csrf);
    assert_eq!(first.get("/dashboard").await.url().path(), "/dashboard");
    assert_eq!(second.get("/dashboard").await.url().path(), "/dashboard");
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let s = start().await;
    let token = s.token("ada").await;
    let res = client()
        .get(format!("{}/metrics", s.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_when_on_are_for_administrators_only() {
    let s = start_with(trellis_web::Config {
        metrics: true,
        ..Default::default()
    })
    .await;
    let c = client();
    c.get(format!("{}/healthz", s.base))
        .send()
        .await
        .expect("warm up");
    let denied = c
        .get(format!("{}/metrics", s.base))
        .bearer_auth(s.token("casey").await)
        .send()
        .await
        .expect("get");
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let anonymous = c
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    let ok = c
        .get(format!("{}/metrics", s.base))
        .bearer_auth(s.token("ada").await)
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status(), StatusCode::OK);
    let body = ok.text().await.expect("text");
    assert!(body.contains("trellis_http_requests_total"));
    assert!(body.contains("route=\"/healthz\""));
}

#[tokio::test]
async fn unknown_pages_are_404_and_oversized_bodies_refused() {
    let s = start().await;
    let b = s.browser("ingrid").await;
    assert_eq!(b.get("/no-such-page").await.status(), StatusCode::NOT_FOUND);
    let huge = "x".repeat(3 * 1024 * 1024);
    let res = b
        .post("/patients", &[("legal_first_name", huge.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
