//! Navigation over real HTTP: the header's patient search, the week view, the audit log's
//! filters and pages, and the HTML error pages (the API keeping its JSON errors).

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn the_header_searches_patients_by_post_and_the_search_is_audited() {
    let s = start().await;
    let fran = s.browser("fran").await;
    let week = fran.get("/schedule/week").await.text().await.expect("text");
    assert!(week.contains(r#"role="search""#) && week.contains(r#"action="/patients/search""#));
    let found = fran.post("/patients/search", &[("q", "Reyes")]).await;
    assert_eq!(found.status(), StatusCode::OK);
    assert_eq!(
        found.url().path(),
        "/patients/search",
        "no name in the address"
    );
    assert!(found.url().query().is_none());
    let html = found.text().await.expect("text");
    assert!(html.contains("Dana Reyes"), "{html}");
    assert!(s
        .audit_for(s.patient_id)
        .await
        .iter()
        .any(|r| r.username == "fran" && r.action == "search"));
    // Too long a query is cut, not refused; an empty one lists no one by name.
    let long = "x".repeat(500);
    let cut = fran.post("/patients/search", &[("q", long.as_str())]).await;
    assert_eq!(cut.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_week_view_shows_monday_to_sunday_and_refuses_a_bad_date() {
    let s = start().await;
    let fran = s.browser("fran").await;
    let res = fran.get("/schedule/week?date=2026-11-05").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Week of Nov 2 – Nov 8, 2026"), "{html}");
    for day in ["Monday Nov 2", "Sunday Nov 8"] {
        assert!(html.contains(day), "{day}");
    }
    assert!(html.contains("/schedule/day-sheet?site="));
    assert!(html.contains("date=2026-11-09"), "a link to the next week");
    let bad = fran.get("/schedule/week?date=next-tuesday").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("text").contains("must be a date"));
    let unknown = fran.get("/schedule/week?site=99999").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // The privacy officer reads no schedule.
    let pat = s.browser("pat").await;
    let refused = pat.get("/schedule/week").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.expect("text").contains("Not allowed"));
}

#[tokio::test]
async fn the_audit_log_filters_by_action_and_pages_by_row() {
    let s = start().await;
    let casey = s.browser("casey").await;
    for _ in 0..101 {
        assert_eq!(casey.get("/patients").await.status(), StatusCode::OK);
    }
    let ada = s.browser("ada").await;
    let reads = ada
        .get("/admin/audit?username=casey&action=search")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        reads.contains("<td>Searched</td>") && reads.contains("<td>Counselor</td>"),
        "readable labels: {reads}"
    );
    assert!(!reads.contains("<td>counselor</td>"), "no role codes");
    let older = reads
        .split(r#"href="/admin/audit?"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older entries")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(older.contains("before="), "{older}");
    let page_two = ada.get(&format!("/admin/audit?{older}")).await;
    assert_eq!(page_two.status(), StatusCode::OK);
    let html = page_two.text().await.expect("text");
    assert!(html.contains("Newest entries"), "{older}: {html}");
    let signins = ada
        .get("/admin/audit?action=login")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        signins.contains("<td>Signed in</td>") && !signins.contains("<td>Searched</td>"),
        "{signins}"
    );
    for (query, message) in [
        ("action=drop_table", "Choose an action"),
        ("before=-4", "not a row number"),
        ("before=abc", "not a row number"),
    ] {
        let html = ada
            .get(&format!("/admin/audit?{query}"))
            .await
            .text()
            .await
            .expect("text");
        assert!(html.contains(message), "{query}");
    }
}

#[tokio::test]
async fn bad_ids_and_unknown_pages_answer_an_html_page_the_api_answers_json() {
    let s = start().await;
    let dora = s.browser("dora").await;
    for (path, status, title) in [
        (
            "/patients/abc",
            StatusCode::BAD_REQUEST,
            "That link is not valid",
        ),
        ("/patients/99999999", StatusCode::NOT_FOUND, "Not found"),
        ("/no-such-page", StatusCode::NOT_FOUND, "Not found"),
        (
            "/notes/1",
            StatusCode::METHOD_NOT_ALLOWED,
            "cannot be opened this way",
        ),
    ] {
        let res = dora.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let csp = res
            .headers()
            .get("content-security-policy")
            .expect("CSP")
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(!csp.contains("unsafe-inline"));
        assert!(res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html")));
        let html = res.text().await.expect("text");
        assert!(html.contains(title), "{path}: {html}");
        assert!(
            !html.contains("<script") && !html.contains("style=") && !html.contains("javascript:")
        );
    }
    let token = s.token("dora").await;
    let api = client()
        .get(format!("{}/api/v1/patients/abc", s.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = api.json().await.expect("json");
    assert!(body["error"]["code"].is_string());
}
