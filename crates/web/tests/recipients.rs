//! The Part 2 recipient directory over HTTP (issue 11, item 4): the attack review's findings (a
//! counselor disclosing under a TPO consent to a probation officer declared as program
//! operations, and to an employer declared as a health plan) reproduced and now refused; the
//! privacy officer alone keeps the directory, on the page and over the API.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trellis_domain::access::Role;
use trellis_domain::consent::{
    Expiry, InformationCategory, Purpose, Recipient, DEFAULT_REVOCATION_STATEMENT,
    DEFAULT_TPO_REDISCLOSURE_STATEMENT, TPO_GENERIC_RECIPIENTS,
};
use trellis_storage::access::can;
use trellis_storage::confidentiality::NewConsent;

/// Dana's treatment, payment and operations consent, as the counselor records it.
async fn tpo_consent(s: &TestServer) {
    let casey = actor(&s.users, "casey", Role::Counselor);
    let grant = s
        .store
        .patient_grant::<can::ManageConsents>(&casey, s.patient_id)
        .await
        .expect("grant");
    s.store
        .record_consent(
            &grant,
            &NewConsent {
                disclosing_program: "Adult SUD IOP".into(),
                categories: [InformationCategory::Attendance].into(),
                information_description: String::new(),
                recipients: vec![Recipient::TpoGeneric {
                    description: TPO_GENERIC_RECIPIENTS.into(),
                }],
                purposes: [
                    Purpose::Treatment,
                    Purpose::Payment,
                    Purpose::HealthCareOperations,
                ]
                .into(),
                other_purpose: String::new(),
                redisclosure_statement: DEFAULT_TPO_REDISCLOSURE_STATEMENT.into(),
                revocation_statement: DEFAULT_REVOCATION_STATEMENT.into(),
                expiry: Some(Expiry::EndOfTreatment { ended_at: None }),
                signer_name: "Dana Reyes".into(),
                signer_relationship: None,
                signer_authority: Some(trellis_domain::consent::SignerAuthority::Patient),
                minor_also_signed: false,
                court_document: String::new(),
                signed_on: Some(today()),
                collateral_id: None,
                criminal_justice: None,
            },
        )
        .await
        .expect("consent");
}

#[tokio::test]
async fn a_tpo_consent_reaches_neither_a_probation_officer_nor_an_employer() {
    let s = start().await;
    tpo_consent(&s).await;
    let pat = s.token("pat").await;
    let casey = s.token("casey").await;
    let mut ids = Vec::new();
    for (name, class) in [
        ("Officer Dana Lee, County Probation", "law_enforcement"),
        ("Acme Staffing", "employer"),
        ("Valley Health Plan", "health_plan"),
    ] {
        let (st, body) = call(
            &s,
            &pat,
            Method::POST,
            "/recipients",
            Some(json!({"name": name, "class": class, "contact": "Fax 555-201-0000"})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_i64().expect("id"));
    }
    let path = format!("/patients/{}/disclosures", s.patient_id);
    // The attack: the class typed by the requester. It is no longer read at all.
    for (to, purpose, typed) in [
        (ids[0], "operations", "program_operations"),
        (ids[1], "payment", "health_plans"),
    ] {
        let (st, body) = call(
            &s,
            &casey,
            Method::POST,
            &path,
            Some(
                json!({"recipient_id": to, "recipient_class": typed, "purpose": purpose,
                "categories": ["attendance"]}),
            ),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["reason"], "recipient_beyond_tpo");
        assert!(body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("specific written consent"));
    }
    // A health plan from the directory is covered.
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &path,
        Some(json!({"recipient_id": ids[2], "purpose": "payment", "categories": ["attendance"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["recipient"], "Valley Health Plan");
    // Bad input: no entry, an unknown entry, a retired entry.
    let (st, body) = call(
        &s,
        &pat,
        Method::PUT,
        &format!("/recipients/{}", ids[2]),
        Some(json!({"name": "Valley Health Plan", "class": "health_plan", "retired": true})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    for to in [Value::Null, json!(999_999), json!(ids[2])] {
        let (st, body) = call(
            &s,
            &casey,
            Method::POST,
            &path,
            Some(json!({"recipient_id": to, "purpose": "payment", "categories": ["attendance"]})),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{to}: {body}");
        assert_eq!(fields(&body), ["recipient_id"], "{to}");
    }
}

#[tokio::test]
async fn only_the_privacy_officer_sets_a_recipients_class() {
    let s = start().await;
    let pat = s.token("pat").await;
    let entry = json!({"name": "County Drug Court", "class": "court"});
    for user in ["casey", "dora", "ada", "bill"] {
        let token = s.token(user).await;
        let (st, _) = call(&s, &token, Method::POST, "/recipients", Some(entry.clone())).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{user}");
    }
    let (st, body) = call(&s, &pat, Method::POST, "/recipients", Some(entry.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    // Bad input names the field.
    for (bad, field) in [
        (json!({"name": "X", "class": "probation"}), "class"),
        (json!({"name": " ", "class": "court"}), "name"),
        (json!({"name": "y".repeat(301), "class": "court"}), "name"),
        (
            json!({"name": "county drug court", "class": "court"}),
            "name",
        ),
    ] {
        let (st, body) = call(&s, &pat, Method::POST, "/recipients", Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), [field]);
    }
    // A counselor (who may disclose) reads the directory but cannot change a class.
    let casey = s.token("casey").await;
    let (st, list) = call(&s, &casey, Method::GET, "/recipients", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list[0]["class"], "court");
    let (st, _) = call(
        &s,
        &casey,
        Method::PUT,
        &format!("/recipients/{id}"),
        Some(json!({"name": "County Drug Court", "class": "treating_provider"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = call(&s, &s.token("fran").await, Method::GET, "/recipients", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, one) = call(&s, &casey, Method::GET, &format!("/recipients/{id}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(one["class_label"], "Court");
    let (st, _) = call(&s, &pat, Method::PUT, "/recipients/999999", Some(entry)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The page: the privacy officer adds an entry; others are refused.
    let browser = s.browser("pat").await;
    let res = browser
        .post(
            "/privacy/recipients",
            &[
                ("name", "Riverside Family Clinic"),
                ("kind", "treating_provider"),
                ("contact", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.url().query().unwrap_or_default().starts_with("saved="));
    let html = res.text().await.expect("text");
    assert!(html.contains("Riverside Family Clinic"));
    assert!(html.contains("saved."));
    let res = browser
        .post("/privacy/recipients", &[("name", ""), ("kind", "")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    // The apostrophe is escaped by the template engine; how it spells that is its own business.
    assert!(
        html.contains("choose the recipient&#x27;s class")
            || html.contains("choose the recipient&#39;s class"),
        "{html}"
    );
    let res = browser
        .post(
            &format!("/privacy/recipients/{id}"),
            &[
                ("name", "County Drug Court"),
                ("kind", "court"),
                ("retire", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("text").contains("Retired"));
    let res = s.browser("casey").await.get("/privacy/recipients").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let actions: Vec<String> = s
        .store
        .search_audit(
            &s.store
                .grant::<can::ReadAudit>(&trellis_storage::access::Actor::system("test"))
                .expect("grant"),
            &trellis_storage::audit::AuditQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .into_iter()
        .filter(|a| a.record_type == "disclosure_recipient")
        .map(|a| format!("{} {}", a.username, a.action))
        .collect();
    assert_eq!(actions, ["pat retire", "pat create", "pat create"]);
}

#[tokio::test]
async fn the_privacy_page_links_the_directory_only_for_whoever_may_keep_it() {
    let s = start().await;
    // The administrator reads the privacy page but would be refused the directory: no link.
    for (user, linked) in [("pat", true), ("ada", false)] {
        let browser = s.browser(user).await;
        let res = browser.get("/privacy").await;
        assert_eq!(res.status(), StatusCode::OK, "{user}");
        let html = res.text().await.expect("text");
        assert_eq!(
            html.contains("href=\"/privacy/recipients\""),
            linked,
            "{user}"
        );
        let directory = browser.get("/privacy/recipients").await.status();
        assert_eq!(directory == StatusCode::OK, linked, "{user}: {directory}");
    }
}
