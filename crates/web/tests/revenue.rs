//! Revenue, first slice (issue 14, item 1) through the pages and the API: billing keeps payers,
//! each site's billing-provider settings and patients' coverages with eligibility checks; bad
//! input on every form and endpoint is refused naming its field, with nothing stored; clinicians
//! are refused; billing's Coverage tab carries no clinical text.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn payer_form<'a>(name: &'a str, code: &'a str, rate: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("payer_code", code),
        ("claim_type", "professional"),
        ("sud_procedure", "H0015"),
        ("mh_procedure", "S9480"),
        ("sud_revenue_code", ""),
        ("mh_revenue_code", ""),
        ("unit", "per_day"),
        ("rate", rate),
        ("minimum_minutes", "180"),
        ("needs_prior_authorisation", "1"),
        ("timely_filing_days", "90"),
    ]
}

fn payer_body(code: &str) -> serde_json::Value {
    json!({
        "name": "Valley Health Plan PPO", "payer_code": code, "claim_type": "professional",
        "sud_procedure": "H0015", "mh_procedure": "S9480", "unit": "per_day",
        "rate_cents": 22500, "minimum_minutes": 180, "needs_prior_authorisation": true,
        "timely_filing_days": 180,
    })
}

#[tokio::test]
async fn billing_adds_a_payer_on_the_page_and_bad_forms_store_nothing() {
    let s = start().await;
    let bill = s.browser("bill").await;
    let page = bill.get("/billing/payers").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("Add a payer"));

    // Every refused field is named and linked; nothing is stored.
    let mut bad = payer_form("", "x", "free");
    bad.retain(|(k, _)| *k != "claim_type");
    bad.push(("claim_type", "837x"));
    let res = bill.post("/billing/payers", &bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("html");
    for anchor in [
        "#new_claim_type",
        "#new_rate",
        "#new_name",
        "#new_payer_code",
    ] {
        assert!(html.contains(anchor), "{anchor} missing from {html}");
    }
    let token = s.token("bill").await;
    let (_, list) = call(&s, &token, Method::GET, "/payers", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));

    let res = bill
        .post(
            "/billing/payers",
            &payer_form("State Medicaid", "SKMCD", "165.00"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("State Medicaid") && html.contains("$165.00"));
    assert!(html.contains("saved."));

    // A second payer with the same payer id is refused on the page (422) and the API (409).
    let res = bill
        .post(
            "/billing/payers",
            &payer_form("Medicaid again", "skmcd", "1"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = call(
        &s,
        &token,
        Method::POST,
        "/payers",
        Some(payer_body("SKMCD")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(fields(&body), ["payer_code"]);

    // Read by the clinical director and administrators; refused to clinicians and front desk.
    for (user, allowed) in [
        ("dora", true),
        ("ada", true),
        ("casey", false),
        ("fran", false),
    ] {
        let status = s.browser(user).await.get("/billing/payers").await.status();
        assert_eq!(status == StatusCode::OK, allowed, "{user}: {status}");
    }
}

#[tokio::test]
async fn the_payer_api_states_and_enforces_its_terms() {
    let s = start().await;
    let token = s.token("bill").await;
    let (status, created) = call(
        &s,
        &token,
        Method::POST,
        "/payers",
        Some(payer_body("VHP01")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("id");
    let (status, payer) = call(&s, &token, Method::GET, &format!("/payers/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(payer["minimum_minutes"], 180);
    assert_eq!(payer["claim_type"], "professional");

    for (change, field) in [
        (json!({ "claim_type": "institutional" }), "sud_revenue_code"),
        (json!({ "rate_cents": 0 }), "rate"),
        (json!({ "minimum_minutes": 0 }), "minimum_minutes"),
        (json!({ "timely_filing_days": 9999 }), "timely_filing_days"),
        (json!({ "sud_procedure": "h15" }), "sud_procedure"),
        (json!({ "unit": "per_week" }), "unit"),
    ] {
        let mut body = payer_body("OTHER");
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (status, refused) = call(&s, &token, Method::POST, "/payers", Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {refused}"
        );
        assert_eq!(fields(&refused)[0], field, "{refused}");
    }
    let (_, list) = call(&s, &token, Method::GET, "/payers", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    let mut retire = payer_body("VHP01");
    retire["retired"] = json!(true);
    let (status, _) = call(
        &s,
        &token,
        Method::PUT,
        &format!("/payers/{id}"),
        Some(retire),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &s,
        &token,
        Method::PUT,
        &format!("/payers/{id}"),
        Some(payer_body("VHP01")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(&s, &token, Method::GET, "/payers/999999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn provider_body(npi: &str) -> serde_json::Value {
    json!({
        "legal_name": "Trellis Recovery Services, Inc.", "npi": npi, "tax_id": "12-3456789",
        "taxonomy": "261QR0405X", "address_line": "410 Market Street", "city": "Albany",
        "state": "NY", "zip": "12207", "place_of_service": "57",
    })
}

#[tokio::test]
async fn billing_provider_settings_need_an_npi_whose_check_digit_matches() {
    let s = start().await;
    let token = s.token("bill").await;
    let path = format!("/sites/{}/billing-provider", s.site_id);
    let (status, body) = call(
        &s,
        &token,
        Method::PUT,
        &path,
        Some(provider_body("1234567890")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["npi"]);
    let mut bad = provider_body("1234567893");
    bad["place_of_service"] = json!("99");
    bad["state"] = json!("ny");
    let (status, body) = call(&s, &token, Method::PUT, &path, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["state", "place_of_service"]);
    let (_, list) = call(&s, &token, Method::GET, "/billing-providers", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));

    let (status, _) = call(
        &s,
        &token,
        Method::PUT,
        &path,
        Some(provider_body("1234567893")),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = call(&s, &token, Method::GET, "/billing-providers", None).await;
    assert_eq!(list[0]["provider"]["tax_id"], "123456789");
    let (status, _) = call(
        &s,
        &token,
        Method::PUT,
        "/sites/999999/billing-provider",
        Some(provider_body("1234567893")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The page: a bad NPI comes back with the site's form open and the field named.
    let bill = s.browser("bill").await;
    let res = bill
        .post(
            &format!("/billing/providers/{}", s.site_id),
            &[
                ("legal_name", "Trellis Recovery Services, Inc."),
                ("npi", "1234567894"),
                ("tax_id", "12-3456789"),
                ("taxonomy", "261QR0405X"),
                ("address_line", "410 Market Street"),
                ("city", "Albany"),
                ("state", "NY"),
                ("zip", "12207"),
                ("place_of_service", "57"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("html");
    assert!(html.contains(&format!("#s{}_npi", s.site_id)), "{html}");
    let page = bill
        .get("/billing/providers")
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains("1234567893") && page.contains("Non-residential substance abuse"));
}

#[tokio::test]
async fn billing_keeps_coverage_and_eligibility_and_clinicians_are_refused() {
    let s = start().await;
    let token = s.token("bill").await;
    let (_, created) = call(
        &s,
        &token,
        Method::POST,
        "/payers",
        Some(payer_body("VHP01")),
    )
    .await;
    let payer = created["id"].as_i64().expect("payer");
    let patient = s.patient_id;
    let bill = s.browser("bill").await;
    let tab = format!("/patients/{patient}/coverage");

    // The page: a dependant without the subscriber's name, and a bad date, are refused.
    let payer_text = payer.to_string();
    let form = |subscriber: &'static str, from: &'static str| {
        vec![
            ("rank", "primary"),
            ("payer_id", payer_text.as_str()),
            ("relationship", "spouse"),
            ("subscriber_name", subscriber),
            ("member_id", "VHP000310004"),
            ("group_number", "G-20418"),
            ("effective_from", from),
            ("effective_to", ""),
        ]
    };
    let res = bill
        .post(
            &format!("/patients/{patient}/coverages"),
            &form("", "2026-01-01"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("html")
        .contains("#new_subscriber_name"));
    let res = bill
        .post(
            &format!("/patients/{patient}/coverages"),
            &form("Jordan Ellis", "01/01/2026"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, none) = call(
        &s,
        &token,
        Method::GET,
        &format!("/patients/{patient}/coverages"),
        None,
    )
    .await;
    assert_eq!(none.as_array().map(Vec::len), Some(0));

    let res = bill
        .post(
            &format!("/patients/{patient}/coverages"),
            &form("Jordan Ellis", "2026-01-01"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("VHP000310004") && html.contains("Jordan Ellis (Spouse)"));
    assert!(html.contains("Coverage saved."));
    assert!(!html.contains("2026-01-01 to") && html.contains("from Jan 1, 2026"));

    // The API: every bad body names its field.
    let path = format!("/patients/{patient}/coverages");
    let (_, listed) = call(&s, &token, Method::GET, &path, None).await;
    let coverage = listed[0]["id"].as_i64().expect("coverage");
    let good = json!({ "rank": "primary", "payer_id": payer, "relationship": "self",
        "member_id": "VHP1", "effective_from": "2026-01-01" });
    for (change, field) in [
        (json!({ "rank": "tertiary" }), "rank"),
        (json!({ "payer_id": null }), "payer_id"),
        (json!({ "rank": "self_pay" }), "payer_id"),
        (json!({ "member_id": "" }), "member_id"),
        (json!({ "relationship": "child" }), "subscriber_name"),
        (json!({ "effective_from": "soon" }), "effective_from"),
        (json!({ "effective_to": "2025-12-31" }), "effective_to"),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (status, refused) = call(&s, &token, Method::POST, &path, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {refused}"
        );
        assert_eq!(fields(&refused)[0], field, "{refused}");
    }
    let mut unknown = good.clone();
    unknown["payer_id"] = json!(999_999);
    let (status, refused) = call(&s, &token, Method::POST, &path, Some(unknown)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (_, still) = call(&s, &token, Method::GET, &path, None).await;
    assert_eq!(still.as_array().map(Vec::len), Some(1));

    // Eligibility: bad bodies refused, a good one recorded and shown.
    let checks = format!("/patients/{patient}/coverages/{coverage}/eligibility-checks");
    for (body, field) in [
        (
            json!({ "checked_on": "2026-01-05", "method": "fax", "result": "active" }),
            "method",
        ),
        (
            json!({ "checked_on": "2026-01-05", "method": "portal", "result": "maybe" }),
            "result",
        ),
        (
            json!({ "checked_on": "2999-01-01", "method": "portal", "result": "active" }),
            "checked_on",
        ),
    ] {
        let (status, refused) = call(&s, &token, Method::POST, &checks, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {refused}"
        );
        assert_eq!(fields(&refused)[0], field);
    }
    let (status, _) = call(
        &s,
        &token,
        Method::POST,
        &format!("/patients/{patient}/coverages/999999/eligibility-checks"),
        Some(json!({ "checked_on": "2026-01-05", "method": "portal", "result": "active" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = bill
        .post(
            &format!("/patients/{patient}/coverages/{coverage}/eligibility"),
            &[
                ("checked_on", "2026-01-05"),
                ("method", "portal"),
                ("result", "not_confirmed"),
                ("reference", "REF-55100"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("Could not be confirmed") && html.contains("Jan 5, 2026"));
    let res = bill
        .post(
            &format!("/patients/{patient}/coverages/{coverage}/eligibility"),
            &[("checked_on", ""), ("method", ""), ("result", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("html")
        .contains(&format!("#e{coverage}_checked_on")));

    // Clinicians and front desk are refused the tab; billing's tab shows no clinical tabs.
    for user in ["casey", "fran", "priya"] {
        let status = s.browser(user).await.get(&tab).await.status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}");
    }
    let page = bill.get(&tab).await.text().await.expect("html");
    for clinical in [
        "/assessment\"",
        "/notes\"",
        "/medications\"",
        "/treatment-plan\"",
    ] {
        assert!(!page.contains(clinical), "billing's chart links {clinical}");
    }
    let audited = s.audit_for(patient).await;
    assert!(audited
        .iter()
        .any(|r| r.username == "bill" && r.record_type == "coverages" && r.action == "read"));
}
