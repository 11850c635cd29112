//! Part 2 pages over HTTP: consents, the consent-checked disclosure path, the accounting of
//! disclosures, emergency access and the privacy officer's page.

mod common;

use common::{call, fields};
use reqwest::StatusCode;

fn consent_form(expires: &str) -> Vec<(&'static str, String)> {
    vec![
        ("disclosing_program", "Adult SUD IOP".into()),
        ("categories", "attendance".into()),
        ("categories", "drug_screens".into()),
        ("recipient_kind", "named".into()),
        ("recipient_name", "Jordan Lee, County Probation".into()),
        ("recipient_class", "treating_providers".into()),
        ("purposes", "legal".into()),
        ("redisclosure_statement", String::new()),
        (
            "revocation_statement",
            "I may revoke this consent in writing at any time, except where the program has \
             already acted in reliance on it."
                .into(),
        ),
        ("expiry_kind", "date".into()),
        ("expiry_date", expires.into()),
        ("signer_name", "Dana Reyes".into()),
        ("signer_authority", "patient".into()),
        ("signed_on", common::today().to_string()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A disclosure to the directory entry `officer` (the probation officer's id).
fn to_probation(officer: &str) -> [(&'static str, &str); 3] {
    [
        ("recipient_id", officer),
        ("purpose", "legal"),
        ("categories", "attendance"),
    ]
}

async fn probation_officer(s: &common::TestServer) -> String {
    s.recipient(
        "Jordan Lee, County Probation",
        trellis_domain::consent::RecipientKind::LawEnforcement,
    )
    .await
    .to_string()
}

#[tokio::test]
async fn record_a_consent_disclose_under_it_and_see_it_in_the_accounting() {
    let s = common::start().await;
    let casey = s.browser("casey").await;
    let p = s.patient_id;
    let officer = probation_officer(&s).await;

    // Refused with no consent on file: the reason is shown and nothing is recorded.
    let res = casey
        .post(
            &format!("/patients/{p}/disclosures"),
            &to_probation(&officer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("Disclosure refused"));
    assert!(html.contains("no consent on file"));

    // A consent missing elements is refused field by field; nothing stored.
    let mut bad = consent_form("2099-01-01");
    bad.retain(|(k, _)| *k != "recipient_name" && *k != "signer_name");
    let res = casey
        .post(&format!("/patients/{p}/consents"), &pairs(&bad))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("recipient(s)"), "{html}");
    assert!(html.contains("signature"));
    let res = casey
        .post(
            &format!("/patients/{p}/consents"),
            &[("categories", "nonsense"), ("signed_on", "yesterday")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = casey
        .get(&format!("/patients/{p}/consents"))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("No consents on file"));

    let expires = (common::today() + chrono::Duration::days(90)).to_string();
    let res = casey
        .post(
            &format!("/patients/{p}/consents"),
            &pairs(&consent_form(&expires)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("data-state=\"active\""), "{html}");
    assert!(html.contains("Jordan Lee, County Probation"));

    // Another purpose is refused with the reason.
    let res = casey
        .post(
            &format!("/patients/{p}/disclosures"),
            &[
                ("recipient_id", officer.as_str()),
                ("purpose", "employment"),
                ("categories", "attendance"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("different purpose"));
    // Bad input: no recipient, unknown purpose.
    let res = casey
        .post(
            &format!("/patients/{p}/disclosures"),
            &[("purpose", "gossip"), ("categories", "attendance")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Allowed: the packet carries the record, the notice and the consent's scope.
    let res = casey
        .post(
            &format!("/patients/{p}/disclosures"),
            &to_probation(&officer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.url().path().contains("/disclosures/"));
    let html = res.text().await.expect("text");
    assert!(html.contains("Adult SUD IOP: admitted"), "{html}");
    assert!(html.contains("42 CFR part 2"));
    assert!(html.contains("id=\"consent-scope\""));

    let html = casey
        .get(&format!("/patients/{p}/disclosures"))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("Jordan Lee, County Probation"));
    assert!(html.contains("Consent #"));
    let audit = s.audit_for(p).await;
    assert!(audit.iter().any(|a| a.action == "disclose"));
    assert!(audit.iter().any(|a| a.action == "disclosure_refused"));

    // Revocation: the consent stops covering disclosures.
    let consent_id: i64 = {
        let grant = s
            .store
            .grant::<trellis_storage::access::can::ReadAudit>(
                &trellis_storage::access::Actor::system("test"),
            )
            .expect("grant");
        let report = s
            .store
            .privacy_report(
                &grant,
                common::CLINIC_TIMEZONE,
                common::today(),
                common::today(),
            )
            .await
            .expect("report");
        report.disclosures[0].consent_id.expect("consent")
    };
    let res = casey
        .post(&format!("/patients/{p}/consents/{consent_id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = casey
        .post(
            &format!("/patients/{p}/consents/{consent_id}/revoke"),
            &[
                ("in_writing", "yes"),
                ("received_on", &common::today().to_string()),
                (
                    "revocation_text",
                    "I no longer want probation told anything.",
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("data-state=\"revoked\""));
    let print = casey
        .get(&format!("/patients/{p}/consents/{consent_id}"))
        .await;
    assert_eq!(print.status(), StatusCode::OK);
    let print = print.text().await.expect("text");
    assert!(print.contains("Right to revoke"));
    // The print is the program's record, not a copy to send out (issue 20).
    assert!(print.contains("Internal copy — not for disclosure."));
    assert!(print.contains(&format!("/patients/{p}/consents#disclose-h")));
    assert!(print.contains("Signed as</dt><dd>The patient"), "{print}");
    let res = casey
        .post(
            &format!("/patients/{p}/disclosures"),
            &to_probation(&officer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.expect("text").contains("revoked"));

    // The privacy officer sees the disclosure and the revocation.
    let pat = s.browser("pat").await;
    let html = pat.get("/privacy").await.text().await.expect("text");
    assert!(html.contains("Jordan Lee, County Probation"));
    assert!(html.contains(&format!("#{consent_id}")));
    let res = pat
        .post("/privacy/notice", &[("notice", "statement_2")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Only the rule's own statements may be chosen, never other words.
    let res = pat
        .post(
            "/privacy/notice",
            &[("notice", "Custom Part 2 notice text.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = pat.get("/privacy?from=notadate").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn who_may_see_consents_disclose_and_read_the_privacy_page() {
    let s = common::start().await;
    let p = s.patient_id;
    let officer = probation_officer(&s).await;
    for user in ["bill", "fran", "nate"] {
        let b = s.browser(user).await;
        let res = b.get(&format!("/patients/{p}/consents")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{user}");
        let res = b
            .post(
                &format!("/patients/{p}/disclosures"),
                &to_probation(&officer),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{user}");
    }
    // Intake records consents but does not disclose.
    let ingrid = s.browser("ingrid").await;
    let html = ingrid
        .get(&format!("/patients/{p}/consents"))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("Record a consent"));
    assert!(!html.contains("Check consent and disclose"));
    // A counselor outside the program is out of scope.
    let olive = s.browser("olive").await;
    let res = olive.get(&format!("/patients/{p}/consents")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let casey = s.browser("casey").await;
    assert_eq!(casey.get("/privacy").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        casey
            .post("/privacy/notice", &[("notice", "x")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.browser("bill")
            .await
            .get("/emergency-access")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn break_the_glass_opens_the_record_with_a_reason_and_tells_the_privacy_officer() {
    let s = common::start().await;
    let p = s.patient_id;
    let olive = s.browser("olive").await;
    assert_eq!(
        olive.get(&format!("/patients/{p}")).await.status(),
        StatusCode::FORBIDDEN
    );
    let mrn = trellis_storage::patients::mrn(p);
    let res = olive
        .post(
            "/emergency-access",
            &[
                ("mrn", mrn.as_str()),
                ("ground", "medical_emergency"),
                ("reason", ""),
                ("recipient_name", "Dr Priya Shah"),
                ("recipient_facility", ""),
                ("nature", "Suspected overdose"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("state why the record must be opened now"));
    let res = olive
        .post(
            "/emergency-access",
            &[("mrn", "TR999999"), ("ground", "medical_emergency")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        olive.get(&format!("/patients/{p}")).await.status(),
        StatusCode::FORBIDDEN
    );

    let res = olive
        .post(
            "/emergency-access",
            &[
                ("mrn", mrn.as_str()),
                ("ground", "medical_emergency"),
                ("reason", "ED called; patient unresponsive"),
                ("recipient_name", "Dr Priya Shah"),
                ("recipient_facility", "St. Mary's Emergency Department"),
                ("nature", "Suspected overdose"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("text").contains("Dana"));
    let audit = s.audit_for(p).await;
    assert!(audit.iter().any(|a| a.action == "break_glass"));
    assert!(audit.iter().any(|a| a.detail.starts_with("break_glass")));

    let pat = s.browser("pat").await;
    let tasks = pat.get("/tasks").await.text().await.expect("text");
    assert!(tasks.contains("Review emergency access"), "{tasks}");
    let html = pat.get("/privacy").await.text().await.expect("text");
    assert!(html.contains("ED called; patient unresponsive"));
    assert!(
        html.contains("St. Mary&#x27;s Emergency Department") || html.contains("St. Mary&#39;s")
    );
}

#[tokio::test]
async fn the_api_records_consents_discloses_through_the_check_and_keeps_collaterals() {
    use reqwest::Method;
    use serde_json::json;
    let s = common::start().await;
    let p = s.patient_id;
    let casey = s.token("casey").await;

    // Collateral contacts: bad input names the field, nothing stored.
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/collaterals"),
        Some(json!({})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["relationship"]);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/collaterals"),
        Some(json!({"relationship": "probation_officer", "name": " ", "email": "nope", "phone": "12"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["name", "phone", "email"]);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/collaterals"),
        Some(
            json!({"relationship": "probation_officer", "name": "Jordan Lee",
            "organisation": "County Probation", "phone": "555-201-3344",
            "email": "jlee@probation.example.org"}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let officer = body["id"].as_i64().expect("id");
    let (_, list) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/patients/{p}/collaterals"),
        None,
    )
    .await;
    assert_eq!(list[0]["may_receive"], json!([]));
    assert_eq!(list[0]["portal_account_id"], serde_json::Value::Null);

    // Consents: every §2.31 element is checked, as on the form.
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/consents"),
        Some(json!({})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&body),
        ["recipient_kind", "signed_on", "signer_authority"]
    );
    let expires = (common::today() + chrono::Duration::days(90)).to_string();
    let consent = json!({
        "disclosing_program": "Adult SUD IOP",
        "categories": ["attendance", "drug_screens"],
        "recipient_kind": "named",
        "collateral_id": officer,
        "purposes": ["legal"],
        "revocation_statement": "I may revoke this consent in writing at any time, except where the program has already acted in reliance on it.",
        "expiry_kind": "date",
        "expiry_date": expires,
        "signer_name": "Dana Reyes",
        "signer_authority": "patient",
        "signed_on": common::today().to_string(),
    });
    let mut bad = consent.clone();
    bad["categories"] = json!(["nonsense"]);
    bad["expiry_kind"] = json!("whenever");
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/consents"),
        Some(bad),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["categories", "expiry_kind"]);
    let mut missing = consent.clone();
    missing["signer_name"] = json!("");
    missing["purposes"] = json!([]);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/consents"),
        Some(missing),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["purposes", "signer_name"]);
    let mut stranger = consent.clone();
    stranger["collateral_id"] = json!(officer + 1000);
    stranger["recipient_name"] = json!("Jordan Lee, County Probation");
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/consents"),
        Some(stranger),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["collateral_id"]);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/consents"),
        Some(consent),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let consent_id = body["id"].as_i64().expect("id");

    let (st, list) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/patients/{p}/consents"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list[0]["state"], "active");
    assert_eq!(
        list[0]["recipients"][0]["description"],
        "Jordan Lee, County Probation"
    );
    assert_eq!(list[0]["collateral_id"], officer);
    let (st, one) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/consents/{consent_id}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        one["print_url"],
        format!("/patients/{p}/consents/{consent_id}")
    );
    assert!(one["revocation_statement"]
        .as_str()
        .expect("text")
        .contains("revoke"));
    let (st, _) = call(&s, &casey, Method::GET, "/consents/999999", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // What the contact may receive now.
    let (_, list) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/patients/{p}/collaterals"),
        None,
    )
    .await;
    let allowed = &list[0]["may_receive"][0];
    assert_eq!(allowed["consent_id"], consent_id);
    assert_eq!(allowed["purpose"], "legal");
    assert_eq!(allowed["categories"], json!(["attendance", "drug_screens"]));

    // Disclosures: bad input, a refusal with its reason (audited), then the packet.
    let path = format!("/patients/{p}/disclosures");
    let (st, body) = call(&s, &casey, Method::POST, &path, Some(json!({}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["purpose"]);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &path,
        Some(json!({"purpose": "legal", "recipient_id": 1, "categories": ["x"]})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["categories"]);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &path,
        Some(json!({"purpose": "legal", "recipient_class": "health_plans", "categories": []})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // A class cannot be typed at disclosure time: only a directory entry names the recipient.
    assert_eq!(fields(&body), ["recipient_id", "categories"]);
    let roofer = s
        .recipient(
            "Sam Ortiz, Ortiz Roofing",
            trellis_domain::consent::RecipientKind::Employer,
        )
        .await;
    let officer_entry = s
        .recipient(
            "Jordan Lee, County Probation",
            trellis_domain::consent::RecipientKind::LawEnforcement,
        )
        .await;
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &path,
        Some(json!({"recipient_id": roofer, "purpose": "employment",
            "categories": ["attendance"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "disclosure_refused");
    assert_eq!(body["reason"], "different_recipient");
    let to_officer = json!({"recipient_id": officer_entry, "purpose": "legal",
        "categories": ["attendance", "drug_screens"]});
    let (st, made) = call(&s, &casey, Method::POST, &path, Some(to_officer.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    assert_eq!(made["consent_id"], consent_id);
    assert!(made["packet"]["notice"]
        .as_str()
        .expect("notice")
        .contains("42 CFR part 2"));
    assert!(made["packet"]["consent_scope"]
        .as_str()
        .expect("scope")
        .contains("Jordan Lee"));
    let (st, accounting) = call(&s, &casey, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(accounting.as_array().expect("list").len(), 1);
    let (st, _) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/disclosures/{}", made["id"]),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let audit = s.audit_for(p).await;
    assert!(audit.iter().any(|a| a.action == "disclosure_refused"));
    assert!(audit.iter().any(|a| a.action == "disclose"));
    assert!(audit
        .iter()
        .any(|a| a.record_type == "collateral_contact" && a.action == "read"));

    // Revocation needs the written confirmation; afterwards the contact may receive nothing.
    let revoke = format!("/consents/{consent_id}/revoke");
    let (st, body) = call(&s, &casey, Method::POST, &revoke, Some(json!({}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["in_writing", "received_on"]);
    let written = json!({
        "in_writing": true,
        "received_on": common::today().to_string(),
        "revocation_text": "Stop telling the officer anything.",
    });
    let (st, _) = call(&s, &casey, Method::POST, &revoke, Some(written.clone())).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = call(&s, &casey, Method::POST, &revoke, Some(written)).await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, body) = call(&s, &casey, Method::POST, &path, Some(to_officer)).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["reason"], "consent_revoked");
    let (_, list) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/patients/{p}/collaterals"),
        None,
    )
    .await;
    assert_eq!(list[0]["may_receive"], json!([]));

    // Editing and end-dating the contact.
    let contact = format!("/collaterals/{officer}");
    let (st, body) = call(
        &s,
        &casey,
        Method::PUT,
        &contact,
        Some(json!({"relationship": "uncle"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["relationship"]);
    let (st, _) = call(&s, &casey, Method::PUT, &contact,
        Some(json!({"relationship": "probation_officer", "name": "Jordan Lee", "phone": "555-201-9999"}))).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let end = format!("{contact}/end");
    let (st, body) = call(&s, &casey, Method::POST, &end, Some(json!({}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["ended_on"]);
    let tomorrow = (common::today() + chrono::Duration::days(1)).to_string();
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        &end,
        Some(json!({"ended_on": tomorrow})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let today = common::today().to_string();
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        &end,
        Some(json!({"ended_on": today})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        &end,
        Some(json!({"ended_on": today})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (_, list) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/patients/{p}/collaterals"),
        None,
    )
    .await;
    assert_eq!(list[0]["ended_on"], today.as_str());
    assert_eq!(list[0]["phone"], "555-201-9999");
    // The consents page writes the end day the way every page writes days.
    let html = s
        .browser("casey")
        .await
        .get(&format!("/patients/{p}/consents"))
        .await
        .text()
        .await
        .expect("text");
    let ended = format!("ended {}", common::today().format("%b %-d, %Y"));
    assert!(html.contains(&ended), "{ended} not in the page");
    assert!(!html.contains(&format!("ended {today}")));

    // The privacy officer's report.
    let pat = s.token("pat").await;
    let (st, report) = call(&s, &pat, Method::GET, "/privacy-report", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(report["disclosures"].as_array().expect("list").len(), 1);
    assert_eq!(report["revocations"][0]["consent_id"], consent_id);
    let (st, body) = call(
        &s,
        &pat,
        Method::GET,
        "/privacy-report?from=yesterday",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["from"]);
    let (st, _) = call(&s, &casey, Method::GET, "/privacy-report", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_api_break_the_glass_needs_the_reason_and_facts_and_the_right_role() {
    use reqwest::Method;
    use serde_json::json;
    let s = common::start().await;
    let p = s.patient_id;
    let olive = s.token("olive").await;
    let path = format!("/patients/{p}/emergency-access");
    let (st, body) = call(&s, &olive, Method::POST, &path, Some(json!({}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["ground"]);
    let facts = json!({"ground": "medical_emergency", "reason": "",
        "recipient_name": "Dr Priya Shah", "recipient_facility": "", "nature": "Suspected overdose"});
    let (st, body) = call(&s, &olive, Method::POST, &path, Some(facts)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["reason", "recipient_facility"]);
    let (st, _) = call(&s, &olive, Method::GET, &format!("/patients/{p}"), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let facts = json!({"ground": "medical_emergency", "reason": "ED called; patient unresponsive",
        "recipient_name": "Dr Priya Shah", "recipient_facility": "St. Mary's ED",
        "nature": "Suspected overdose"});
    let (st, body) = call(
        &s,
        &olive,
        Method::POST,
        "/patients/999999/emergency-access",
        Some(facts.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    let (st, body) = call(&s, &olive, Method::POST, &path, Some(facts.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert!(body["expires_at"].is_string());
    let (st, _) = call(&s, &olive, Method::GET, &format!("/patients/{p}"), None).await;
    assert_eq!(st, StatusCode::OK);
    let pat = s.token("pat").await;
    let (_, report) = call(&s, &pat, Method::GET, "/privacy-report", None).await;
    assert_eq!(
        report["break_glass"][0]["reason"],
        "ED called; patient unresponsive"
    );
    // Opening the record discloses nothing; what is told is recorded when it is told.
    assert_eq!(report["disclosures"].as_array().map(Vec::len), Some(0));
    let told = format!("/patients/{p}/emergency-disclosures");
    let (st, body) = call(&s, &olive, Method::POST, &told, Some(json!({}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["ground"]);
    let what = json!({"ground": "medical_emergency", "recipient_name": "Dr Priya Shah",
        "recipient_facility": "St. Mary's ED", "nature": "Suspected overdose",
        "categories": ["medications"], "information": "Buprenorphine 16 mg daily"});
    let (st, body) = call(&s, &olive, Method::POST, &told, Some(what)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["packet"]["emergency"]["disclosed_by"], "olive");
    let (_, report) = call(&s, &pat, Method::GET, "/privacy-report", None).await;
    assert_eq!(report["disclosures"][0]["kind"], "emergency");
    assert_eq!(
        report["disclosures"][0]["packet"]["emergency"]["ground"],
        "medical_emergency"
    );
    for user in ["bill", "fran", "pat"] {
        let token = s.token(user).await;
        let (st, _) = call(&s, &token, Method::POST, &path, Some(facts.clone())).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{user}");
    }
}

#[tokio::test]
async fn the_api_refuses_billing_and_front_desk_and_lets_the_privacy_officer_in() {
    use reqwest::Method;
    use serde_json::json;
    let s = common::start().await;
    let p = s.patient_id;
    let reads = [
        format!("/patients/{p}/consents"),
        format!("/patients/{p}/collaterals"),
        format!("/patients/{p}/disclosures"),
        "/privacy-report".to_owned(),
    ];
    for user in ["bill", "fran"] {
        let token = s.token(user).await;
        for path in &reads {
            let (st, body) = call(&s, &token, Method::GET, path, None).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{user} {path}");
            assert_eq!(body["error"]["code"], "forbidden");
        }
        for path in [
            format!("/patients/{p}/disclosures"),
            format!("/patients/{p}/collaterals"),
        ] {
            let (st, _) = call(&s, &token, Method::POST, &path, Some(json!({}))).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{user} {path}");
        }
    }
    let pat = s.token("pat").await;
    for path in &reads {
        let (st, _) = call(&s, &pat, Method::GET, path, None).await;
        assert_eq!(st, StatusCode::OK, "pat {path}");
    }
    // Intake records consents and contacts but does not disclose.
    let ingrid = s.token("ingrid").await;
    let (st, _) = call(
        &s,
        &ingrid,
        Method::GET,
        &format!("/patients/{p}/collaterals"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = call(
        &s,
        &ingrid,
        Method::GET,
        &format!("/patients/{p}/disclosures"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_api_records_an_expiry_event_and_keeps_the_written_revocation() {
    use reqwest::Method;
    use serde_json::json;
    let s = common::start().await;
    let p = s.patient_id;
    let casey = s.token("casey").await;
    let consent = json!({
        "disclosing_program": "Adult SUD IOP",
        "categories": ["attendance"],
        "recipient_kind": "named",
        "recipient_name": "Jordan Lee, County Probation",
        "purposes": ["legal"],
        "revocation_statement": "I may revoke this consent at any time.",
        "expiry_kind": "event",
        "expiry_event": "the end of my probation",
        "signer_name": "Dana Reyes",
        "signer_authority": "patient",
        "signed_on": common::today().to_string(),
    });
    // A revocation statement without "in writing" and the reliance exception is refused.
    let consents = format!("/patients/{p}/consents");
    let (st, body) = call(&s, &casey, Method::POST, &consents, Some(consent.clone())).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&body),
        ["revocation_statement", "revocation_statement"]
    );
    let mut good = consent;
    good["revocation_statement"] = json!(
        "I may revoke this consent in writing, except where the program already acted in reliance on it."
    );
    let (st, body) = call(&s, &casey, Method::POST, &consents, Some(good.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");

    let event = format!("/consents/{id}/expiry-event");
    let tomorrow = (common::today() + chrono::Duration::days(1)).to_string();
    for bad in [
        json!({}),
        json!({"occurred_on": "soon"}),
        json!({"occurred_on": tomorrow}),
    ] {
        let (st, body) = call(&s, &casey, Method::POST, &event, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), ["occurred_on"]);
    }
    let today = json!({"occurred_on": common::today().to_string()});
    let (st, _) = call(&s, &casey, Method::POST, &event, Some(today.clone())).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = call(&s, &casey, Method::POST, &event, Some(today)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (_, one) = call(&s, &casey, Method::GET, &format!("/consents/{id}"), None).await;
    assert_eq!(one["state"], "expired");
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{p}/disclosures"),
        Some(
            json!({"recipient_id": probation_officer(&s).await.parse::<i64>().expect("id"),
                "purpose": "legal", "categories": ["attendance"]}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["reason"], "consent_expired");
    let audit = s.audit_for(p).await;
    assert!(audit
        .iter()
        .any(|a| a.action == "expire" && a.record_type == "consent"));

    // A second consent, revoked in writing: the date and text are kept and shown.
    let (_, body) = call(&s, &casey, Method::POST, &consents, Some(good)).await;
    let second = body["id"].as_i64().expect("id");
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/consents/{second}/revoke"),
        Some(
            json!({"in_writing": true, "received_on": common::today().to_string(),
            "revocation_text": "  "}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["revocation_text"]);
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/consents/{second}/revoke"),
        Some(
            json!({"in_writing": true, "received_on": common::today().to_string(),
            "revocation_text": "Please stop telling probation anything."}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, one) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/consents/{second}"),
        None,
    )
    .await;
    assert_eq!(one["state"], "revoked");
    assert_eq!(one["revocation_received_on"], common::today().to_string());
    assert_eq!(
        one["revocation_text"],
        "Please stop telling probation anything."
    );
}

#[tokio::test]
async fn sud_counseling_notes_are_the_authors_alone_and_need_a_consent_of_their_own() {
    use reqwest::Method;
    use serde_json::json;
    let s = common::start().await;
    let p = s.patient_id;
    let casey = s.browser("casey").await;
    let today = common::today().to_string();

    // Bad input is refused with the field named, nothing stored.
    let res = casey
        .post(
            &format!("/patients/{p}/counseling-notes"),
            &[("session_on", today.as_str()), ("text", "  ")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = casey
        .post(
            &format!("/patients/{p}/counseling-notes"),
            &[("session_on", "someday"), ("text", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = casey
        .post(
            &format!("/patients/{p}/counseling-notes"),
            &[
                ("session_on", today.as_str()),
                ("text", "Grief about her father came up; she wept."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Counseling note saved"), "{html}");
    assert!(html.contains("Grief about her father"));

    // Through the API: the author lists it; the clinical director (who reads every clinical
    // record) lists none; a counselor outside the patient's programs is refused.
    let (st, body) = call(
        &s,
        &s.token("casey").await,
        Method::GET,
        &format!("/patients/{p}/counseling-notes"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    let dora = s.token("dora").await;
    let (st, body) = call(
        &s,
        &dora,
        Method::GET,
        &format!("/patients/{p}/counseling-notes"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, json!([]));
    let (st, _) = call(
        &s,
        &s.token("olive").await,
        Method::GET,
        &format!("/patients/{p}/counseling-notes"),
        None,
    )
    .await;
    assert!(
        st == StatusCode::NOT_FOUND || st == StatusCode::FORBIDDEN,
        "{st}"
    );
    let (st, body) = call(
        &s,
        &dora,
        Method::POST,
        &format!("/patients/{p}/counseling-notes"),
        Some(json!({"session_on": today, "text": ""})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["text"]);

    // Nor on the director's pages: the Notes tab, the counseling-notes page, the chart.
    let director = s.browser("dora").await;
    for page in [
        format!("/patients/{p}/notes"),
        format!("/patients/{p}/counseling-notes"),
        format!("/patients/{p}"),
    ] {
        let html = director.get(&page).await.text().await.expect("text");
        assert!(!html.contains("Grief about her father"), "{page}");
    }

    // A consent naming counseling notes with anything else is refused, as is one that does
    // not say treatment does not depend on it.
    let expires = (common::today() + chrono::Duration::days(90)).to_string();
    let mut combined = consent_form(&expires);
    combined.retain(|(k, _)| *k != "categories");
    combined.push(("categories", "counseling_notes".into()));
    combined.push(("categories", "attendance".into()));
    combined.push((
        "information_description",
        trellis_domain::consent::COUNSELING_NOTES_STATEMENT.into(),
    ));
    let res = casey
        .post(&format!("/patients/{p}/consents"), &pairs(&combined))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("may cover nothing else"));
    let mut silent = consent_form(&expires);
    silent.retain(|(k, _)| *k != "categories");
    silent.push(("categories", "counseling_notes".into()));
    let res = casey
        .post(&format!("/patients/{p}/consents"), &pairs(&silent))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("treatment does not depend on signing it"));
    let mut alone = silent.clone();
    alone.push((
        "information_description",
        trellis_domain::consent::COUNSELING_NOTES_STATEMENT.into(),
    ));
    let res = casey
        .post(&format!("/patients/{p}/consents"), &pairs(&alone))
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Under it, the author discloses them to the named recipient; the packet carries them.
    let officer = probation_officer(&s).await;
    let res = casey
        .post(
            &format!("/patients/{p}/disclosures"),
            &[
                ("recipient_id", officer.as_str()),
                ("purpose", "legal"),
                ("categories", "counseling_notes"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Grief about her father"), "{html}");
    assert!(html.contains("SUD counseling notes"));
}

#[tokio::test]
async fn a_copy_for_the_patient_needs_no_consent_and_is_in_the_accounting() {
    use reqwest::Method;
    use serde_json::json;
    let s = common::start().await;
    let p = s.patient_id;
    let casey = s.browser("casey").await;

    // Nothing chosen, or counseling notes: refused, nothing recorded.
    let res = casey
        .post(&format!("/patients/{p}/patient-copies"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = casey
        .post(
            &format!("/patients/{p}/patient-copies"),
            &[("categories", "counseling_notes")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("are not part of the patient"));

    // With no consent on file, the copy is made, carries the notice and is accounted for.
    let res = casey
        .post(
            &format!("/patients/{p}/patient-copies"),
            &[("categories", "demographics"), ("categories", "attendance")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("The patient (right of access)"), "{html}");
    assert!(html.contains("42 CFR 2.23"));
    assert!(html.contains("id=\"notice\""));
    let accounting = casey
        .get(&format!("/patients/{p}/disclosures"))
        .await
        .text()
        .await
        .expect("text");
    assert!(accounting.contains("The patient (right of access)"));

    // The API: bad input names the field; a copy is 201 and in the accounting.
    let token = s.token("casey").await;
    let (st, body) = call(
        &s,
        &token,
        Method::POST,
        &format!("/patients/{p}/patient-copies"),
        Some(json!({"categories": ["gossip"]})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["categories"]);
    let (st, body) = call(
        &s,
        &token,
        Method::POST,
        &format!("/patients/{p}/patient-copies"),
        Some(json!({"categories": ["demographics"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "patient_access");
    assert!(body["consent_id"].is_null());
    let (_, list) = call(
        &s,
        &token,
        Method::GET,
        &format!("/patients/{p}/disclosures"),
        None,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    // Billing may not make one.
    let (st, _) = call(
        &s,
        &s.token("bill").await,
        Method::POST,
        &format!("/patients/{p}/patient-copies"),
        Some(json!({"categories": ["demographics"]})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}
