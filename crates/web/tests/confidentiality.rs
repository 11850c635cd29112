//! Part 2 pages over HTTP: consents, the consent-checked disclosure path, the accounting of
//! disclosures, emergency access and the privacy officer's page.

mod common;

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
            "I may revoke this consent in writing at any time.".into(),
        ),
        ("expiry_kind", "date".into()),
        ("expiry_date", expires.into()),
        ("signer_name", "Dana Reyes".into()),
        ("signed_on", common::today().to_string()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

const TO_PROBATION: [(&str, &str); 3] = [
    ("recipient_name", "Jordan Lee, County Probation"),
    ("purpose", "legal"),
    ("categories", "attendance"),
];

#[tokio::test]
async fn record_a_consent_disclose_under_it_and_see_it_in_the_accounting() {
    let s = common::start().await;
    let casey = s.browser("casey").await;
    let p = s.patient_id;

    // Refused with no consent on file: the reason is shown and nothing is recorded.
    let res = casey
        .post(&format!("/patients/{p}/disclosures"), &TO_PROBATION)
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
                ("recipient_name", "Jordan Lee, County Probation"),
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
        .post(&format!("/patients/{p}/disclosures"), &TO_PROBATION)
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
            .privacy_report(&grant, common::today(), common::today())
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
            &[("in_writing", "yes")],
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
    assert!(print
        .text()
        .await
        .expect("text")
        .contains("Right to revoke"));
    let res = casey
        .post(&format!("/patients/{p}/disclosures"), &TO_PROBATION)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.expect("text").contains("revoked"));

    // The privacy officer sees the disclosure and the revocation.
    let pat = s.browser("pat").await;
    let html = pat.get("/privacy").await.text().await.expect("text");
    assert!(html.contains("Jordan Lee, County Probation"));
    assert!(html.contains(&format!("#{consent_id}")));
    let res = pat
        .post(
            "/privacy/notice",
            &[("notice", "Custom Part 2 notice text.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = pat.post("/privacy/notice", &[("notice", " ")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = pat.get("/privacy?from=notadate").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn who_may_see_consents_disclose_and_read_the_privacy_page() {
    let s = common::start().await;
    let p = s.patient_id;
    for user in ["bill", "fran", "nate"] {
        let b = s.browser(user).await;
        let res = b.get(&format!("/patients/{p}/consents")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{user}");
        let res = b
            .post(&format!("/patients/{p}/disclosures"), &TO_PROBATION)
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
