//! 42 CFR Part 2 patient rights and the breach register over HTTP (issue 20, items 5–7):
//! restriction requests recorded, decided and honoured by the disclosure path (§2.26), the
//! self-pay restriction that cannot be refused, the patient notice and its admission task
//! (§2.22), the date of death and the site's minor-consent rule (§2.14, §2.15), and the breach
//! register's assessment, 60-day clock, letters and annual log (§2.16, 45 CFR 164.400–414).

mod common;

use chrono::{Datelike, Duration};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trellis_domain::access::Role;
use trellis_domain::consent::{
    Expiry, InformationCategory, Purpose, Recipient, RecipientKind, SignerAuthority, Signing,
    DEFAULT_REVOCATION_STATEMENT, DEFAULT_TPO_REDISCLOSURE_STATEMENT, TPO_GENERIC_RECIPIENTS,
};
use trellis_storage::access::can;
use trellis_storage::confidentiality::NewConsent;

/// Dana's treatment, payment and operations consent covering attendance and diagnoses.
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
                categories: [
                    InformationCategory::Attendance,
                    InformationCategory::Diagnoses,
                ]
                .into(),
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
                signer_authority: Some(SignerAuthority::Patient),
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

async fn disclose(s: &TestServer, token: &str, to: i64, purpose: &str) -> (StatusCode, Value) {
    call(
        s,
        token,
        Method::POST,
        &format!("/patients/{}/disclosures", s.patient_id),
        Some(json!({"recipient_id": to, "purpose": purpose, "categories": ["diagnoses"]})),
    )
    .await
}

#[tokio::test]
async fn an_agreed_restriction_refuses_what_the_consent_would_allow() {
    // §2.26(a)(1)-(4): recorded, decided by the privacy officer, and binding once agreed.
    let s = start().await;
    tpo_consent(&s).await;
    let provider = s
        .recipient(
            "Dr. Lena Ortiz, Family Clinic",
            RecipientKind::TreatingProvider,
        )
        .await;
    let plan = s
        .recipient("Valley Health Plan", RecipientKind::HealthPlan)
        .await;
    let casey = s.token("casey").await;
    let pat = s.token("pat").await;
    let path = format!("/patients/{}/restrictions", s.patient_id);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &path,
        Some(json!({"what": "Do not send my diagnoses to Dr. Ortiz",
            "requested_on": today().to_string(), "recipient_id": provider,
            "categories": ["diagnoses"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    // Pending: not binding yet.
    let (st, body) = disclose(&s, &casey, provider, "treatment").await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    // Only the privacy officer decides; a refusal needs its reason.
    let decision = format!("/restrictions/{id}/decision");
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        &decision,
        Some(json!({"decision": "agreed"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for (bad, field) in [
        (json!({"decision": "refused", "reason": " "}), "reason"),
        (json!({"decision": "pending"}), "decision"),
        (json!({"decision": "maybe"}), "decision"),
    ] {
        let (st, body) = call(&s, &pat, Method::POST, &decision, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), [field]);
    }
    let (st, body) = call(&s, &pat, Method::GET, "/restrictions/pending", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body[0]["id"], id);
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &decision,
        Some(json!({"decision": "agreed"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, _) = call(
        &s,
        &pat,
        Method::POST,
        &decision,
        Some(json!({"decision": "refused", "reason": "changed our mind"})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // Agreed: the same disclosure is refused with the restriction's reason; others go ahead.
    let (st, body) = disclose(&s, &casey, provider, "treatment").await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["reason"], "restricted_by_patient");
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .contains(&format!("#{id}")));
    let (st, body) = disclose(&s, &casey, plan, "payment").await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = call(&s, &casey, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body[0]["decision"], "agreed");
    assert_eq!(body[0]["in_force"], true);
    assert!(s.audit_for(s.patient_id).await.iter().any(
        |r| r.action == "disclosure_refused" && r.detail.contains("restricted by the patient")
    ));
}

#[tokio::test]
async fn a_self_pay_restriction_to_a_health_plan_binds_at_once_and_cannot_be_refused() {
    // §2.26(a)(6), applying 45 CFR 164.522(a)(1)(vi).
    let s = start().await;
    tpo_consent(&s).await;
    let plan = s
        .recipient("Valley Health Plan", RecipientKind::HealthPlan)
        .await;
    let employer = s.recipient("Acme Staffing", RecipientKind::Employer).await;
    let casey = s.token("casey").await;
    let pat = s.token("pat").await;
    let path = format!("/patients/{}/restrictions", s.patient_id);
    let request = |extra: Value| {
        let mut body = json!({"what": "I paid for these sessions myself",
            "requested_on": today().to_string(), "self_pay": true});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    // Bad input names the field.
    let tomorrow = (today() + Duration::days(1)).to_string();
    for (bad, field) in [
        (request(json!({"recipient_id": employer})), "recipient_id"),
        (request(json!({})), "recipient_id"),
        (request(json!({"recipient_id": plan, "what": " "})), "what"),
        (
            request(json!({"recipient_id": plan, "requested_on": tomorrow})),
            "requested_on",
        ),
        (
            request(json!({"recipient_id": plan, "requested_on": "7/12/2026"})),
            "requested_on",
        ),
        (
            request(json!({"recipient_id": plan, "recipient_class": "court"})),
            "recipient_kind",
        ),
        (
            request(json!({"recipient_class": "insurer", "self_pay": false})),
            "recipient_class",
        ),
        (
            request(json!({"recipient_id": plan, "categories": ["notes"]})),
            "categories",
        ),
        (request(json!({"recipient_id": 999_999})), "recipient_id"),
    ] {
        let (st, body) = call(&s, &casey, Method::POST, &path, Some(bad.clone())).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(fields(&body), [field], "{bad}");
    }
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &path,
        Some(request(json!({"recipient_id": plan}))),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    // Binding before anyone decides.
    let (st, body) = disclose(&s, &casey, plan, "payment").await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["reason"], "restricted_by_patient");
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/restrictions/{id}/decision"),
        Some(json!({"decision": "refused", "reason": "we bill every visit"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["decision"]);
    assert!(body["error"]["fields"][0]["message"]
        .as_str()
        .expect("message")
        .contains("cannot be refused"));
}

#[tokio::test]
async fn admission_opens_a_notice_task_that_recording_the_notice_completes() {
    // §2.22: the notice given at admission, with its version, acknowledged or refused.
    let s = start().await;
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let (patient, _) = admitted(
        &s.store,
        &intake,
        s.site_id,
        s.program_id,
        s.users["casey"],
        "Noor",
        "Haddad",
    )
    .await;
    let tasks = |s: &TestServer| {
        let grant = s
            .store
            .grant::<can::ReadDemographics>(&intake)
            .expect("grant");
        let store = s.store.clone();
        async move {
            store
                .my_tasks(&grant)
                .await
                .expect("tasks")
                .into_iter()
                .filter(|t| t.patient_id == Some(patient) && t.kind == "patient_notice")
                .count()
        }
    };
    assert_eq!(tasks(&s).await, 1, "admission opens the notice task");
    let token = s.token("casey").await;
    let path = format!("/patients/{patient}/patient-notices");
    let tomorrow = (today() + Duration::days(1)).to_string();
    for (bad, field) in [
        (
            json!({"given_on": tomorrow, "acknowledgment": "acknowledged"}),
            "given_on",
        ),
        (
            json!({"given_on": "", "acknowledgment": "acknowledged"}),
            "given_on",
        ),
        (
            json!({"given_on": today().to_string(), "acknowledgment": "nodded"}),
            "acknowledgment",
        ),
    ] {
        let (st, body) = call(&s, &token, Method::POST, &path, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), [field]);
    }
    let page = s.browser("casey").await;
    let html = page
        .get(&format!("/patients/{patient}/consents"))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("none on file"),
        "the Consents tab shows the missing notice"
    );
    let (st, body) = call(
        &s,
        &token,
        Method::POST,
        &path,
        Some(json!({"given_on": today().to_string(), "acknowledgment": "refused_to_sign"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(
        tasks(&s).await,
        0,
        "recording the notice completes the task"
    );
    let (st, body) = call(&s, &token, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body[0]["acknowledgment"], "refused_to_sign");
    assert!(body[0]["version"]
        .as_str()
        .expect("version")
        .contains("2.22"));
    let html = page
        .get(&format!("/patients/{patient}/consents"))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("refused to sign"), "{html}");
    // A readmission of a patient with a notice on file opens no new task.
    assert!(s
        .audit_for(patient)
        .await
        .iter()
        .any(|r| r.action == "create" && r.record_type == "patient_notice"));
}

#[tokio::test]
async fn who_signs_follows_the_sites_rule_and_the_recorded_date_of_death() {
    // §2.14 minors under the site's rule; §2.15(b) only an executor or next of kin after death.
    let s = start().await;
    let ada = s.token("ada").await;
    let pat = s.token("pat").await;
    let casey = s.token("casey").await;
    let rule = format!("/sites/{}/minor-consent", s.site_id);
    let (st, body) = call(&s, &casey, Method::GET, &rule, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        body,
        json!({"age_of_majority": 18, "minor_may_consent_alone_from": null})
    );
    let (st, _) = call(
        &s,
        &pat,
        Method::PUT,
        &rule,
        Some(json!({"age_of_majority": 18, "minor_may_consent_alone_from": 12})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for (bad, field) in [
        (
            json!({"age_of_majority": 30, "minor_may_consent_alone_from": null}),
            "age_of_majority",
        ),
        (
            json!({"age_of_majority": 18, "minor_may_consent_alone_from": 18}),
            "minor_may_consent_alone_from",
        ),
    ] {
        let (st, body) = call(&s, &ada, Method::PUT, &rule, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), [field]);
    }
    let (st, body) = call(
        &s,
        &ada,
        Method::PUT,
        &rule,
        Some(json!({"age_of_majority": 18, "minor_may_consent_alone_from": 12})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let executor = Signing {
        authority: SignerAuthority::ExecutorOrAdministrator,
        signed_on: today(),
        minor_also_signed: false,
        court_document: String::new(),
    };
    let refused = s
        .store
        .check_consent_signer(s.patient_id, &executor)
        .await
        .expect_err("no death recorded");
    assert!(
        refused.to_string().contains("signer_authority")
            || format!("{refused:?}").contains("date of death")
    );
    let death = format!("/patients/{}/date-of-death", s.patient_id);
    let tomorrow = (today() + Duration::days(1)).to_string();
    for bad in [
        json!({"date_of_death": tomorrow}),
        json!({"date_of_death": "1900-01-01"}),
        json!({}),
    ] {
        let (st, body) = call(&s, &casey, Method::PUT, &death, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), ["date_of_death"]);
    }
    let yesterday = (today() - Duration::days(1)).to_string();
    let (st, body) = call(
        &s,
        &casey,
        Method::PUT,
        &death,
        Some(json!({"date_of_death": yesterday})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, body) = call(&s, &casey, Method::GET, &death, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["date_of_death"], yesterday);
    assert!(body["recorded_by"].is_string());
    s.store
        .check_consent_signer(s.patient_id, &executor)
        .await
        .expect("an executor signs after death");
    let patient_signs = Signing {
        authority: SignerAuthority::Patient,
        ..executor
    };
    assert!(s
        .store
        .check_consent_signer(s.patient_id, &patient_signs)
        .await
        .is_err());
}

#[tokio::test]
async fn the_breach_register_keeps_the_clock_the_letters_and_the_annual_log() {
    // 45 CFR 164.402(2), 164.404(b)-(c), 164.406, 164.408(c).
    let s = start().await;
    let pat = s.token("pat").await;
    for user in ["casey", "dora", "ada"] {
        let token = s.token(user).await;
        let (st, _) = call(&s, &token, Method::GET, "/breaches", None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{user}");
    }
    let discovered = today() - Duration::days(70);
    let incident = json!({
        "discovered_on": discovered.to_string(),
        "occurred_on": (discovered - Duration::days(2)).to_string(),
        "what_happened": "a day sheet was emailed to the wrong address",
        "information_involved": "Names and group times",
        "steps_for_patients": "Nothing is needed; call us with questions",
        "what_we_are_doing": "The recipient deleted it and confirmed in writing",
        "contact": "Call 1-800-555-0100",
        "patients_affected": 2,
        "most_in_one_state": 2,
        "patient_ids": [s.patient_id, s.other_patient_id],
    });
    let with = |k: &str, v: Value| {
        let mut b = incident.clone();
        b[k] = v;
        b
    };
    // After the latest today anywhere on Earth, which the register accepts as today.
    let tomorrow = (today() + Duration::days(2)).to_string();
    for (bad, field) in [
        (with("discovered_on", json!(tomorrow)), "discovered_on"),
        (with("discovered_on", json!("")), "discovered_on"),
        (
            with("occurred_on", json!(today().to_string())),
            "occurred_on",
        ),
        (with("what_happened", json!("  ")), "what_happened"),
        (with("contact", json!("")), "contact"),
        (
            {
                let mut b = with("patients_affected", json!(1));
                b["most_in_one_state"] = json!(1);
                b
            },
            "patients_affected",
        ),
        (with("most_in_one_state", json!(3)), "most_in_one_state"),
        (with("patient_ids", json!([999_999])), "patient_ids"),
    ] {
        let (st, body) = call(&s, &pat, Method::POST, "/breaches", Some(bad.clone())).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(fields(&body), [field], "{bad}");
    }
    let (st, body) = call(&s, &pat, Method::POST, "/breaches", Some(incident.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let (st, body) = call(&s, &pat, Method::GET, &format!("/breaches/{id}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        body["deadline"],
        (discovered + Duration::days(60)).to_string()
    );
    assert_eq!(
        body["overdue"], true,
        "70 days after discovery, nobody told"
    );
    assert_eq!(body["media_notice_required"], false);
    // The privacy officer has the task, due on the 60th day.
    let officer = actor(&s.users, "pat", Role::PrivacyOfficer);
    let tasks = s
        .store
        .my_tasks(
            &s.store
                .grant::<can::ReadDemographics>(&officer)
                .expect("grant"),
        )
        .await
        .expect("tasks");
    let task = tasks
        .iter()
        .find(|t| t.kind == "breach_notification")
        .expect("breach task");
    assert_eq!(
        task.due_on.map(|d| d.0),
        Some(discovered + Duration::days(60))
    );
    // Low probability needs every factor low.
    let assess = format!("/breaches/{id}/assessment");
    let assessment = json!({"nature_and_extent": "low", "unauthorized_recipient": "low",
        "acquired_or_viewed": "high", "mitigation": "low",
        "notes": "It was opened before it was deleted", "conclusion": "low_probability"});
    let (st, body) = call(&s, &pat, Method::POST, &assess, Some(assessment.clone())).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["conclusion"]);
    let mut bad = assessment.clone();
    bad["mitigation"] = json!("medium");
    let (st, body) = call(&s, &pat, Method::POST, &assess, Some(bad)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["mitigation"]);
    let mut breach = assessment.clone();
    breach["conclusion"] = json!("breach");
    let (st, body) = call(&s, &pat, Method::POST, &assess, Some(breach)).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    // Letters drafted from the incident, then recorded as sent.
    let (st, body) = call(
        &s,
        &pat,
        Method::GET,
        &format!("/breaches/{id}/letters/{}", s.patient_id),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let letter = body["text"].as_str().expect("text");
    assert!(letter.starts_with("Dear Dana Reyes"), "{letter}");
    assert!(letter.contains("a day sheet was emailed to the wrong address"));
    assert!(letter.contains("How to reach us\nCall 1-800-555-0100"));
    let before = (discovered - Duration::days(1)).to_string();
    for bad in [
        json!({"sent_on": before}),
        json!({"sent_on": tomorrow}),
        json!({}),
    ] {
        let (st, body) = call(
            &s,
            &pat,
            Method::POST,
            &format!("/breaches/{id}/letters/{}", s.patient_id),
            Some(bad),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), ["sent_on"]);
    }
    for patient in [s.patient_id, s.other_patient_id] {
        let (st, body) = call(
            &s,
            &pat,
            Method::POST,
            &format!("/breaches/{id}/letters/{patient}"),
            Some(json!({"sent_on": today().to_string()})),
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, body) = call(&s, &pat, Method::GET, &format!("/breaches/{id}"), None).await;
    assert_eq!(body["letters_complete"], true);
    assert_eq!(body["overdue"], false);
    let tasks = s
        .store
        .my_tasks(
            &s.store
                .grant::<can::ReadDemographics>(&officer)
                .expect("grant"),
        )
        .await
        .expect("tasks");
    assert!(
        tasks.iter().all(|t| t.kind != "breach_notification"),
        "task completed"
    );
    // Media notice only above 500 in a State.
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/breaches/{id}/notices"),
        Some(json!({"media_notified_on": today().to_string()})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["media_notified_on"]);
    // The annual log for HHS: this year's breaches under 500.
    let year = discovered.year();
    let (st, body) = call(
        &s,
        &pat,
        Method::GET,
        &format!("/breach-log?year={year}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(body[0]["id"], id);
    let (st, body) = call(
        &s,
        &pat,
        Method::GET,
        &format!("/breach-log?year={}", year - 1),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(0));
    let (st, _) = call(&s, &pat, Method::GET, "/breach-log?year=1999", None).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let page = s.browser("pat").await;
    let res = page
        .get(&format!("/privacy/breaches/log.csv?year={year}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.expect("csv");
    assert!(csv.starts_with("incident,"), "{csv}");
    assert!(csv.contains(&format!("\"{id}\"")));
    assert!(!csv.contains("Dana"), "the log names no patient");
    // Each patient's audit trail shows the incident.
    assert!(s
        .audit_for(s.other_patient_id)
        .await
        .iter()
        .any(|r| r.record_type == "breach_patient" && r.action == "letter_sent"));
}

#[tokio::test]
async fn the_privacy_pages_record_a_restriction_and_an_incident_and_name_bad_fields() {
    let s = start().await;
    let page = s.browser("pat").await;
    let path = format!("/patients/{}/restrictions", s.patient_id);
    let res = page
        .post(&path, &[("what", ""), ("requested_on", "")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("href=\"#requested_on\""), "{html}");
    let today = today().to_string();
    let res = page
        .post(
            &path,
            &[
                ("what", "Nothing to my employer"),
                ("requested_on", today.as_str()),
                ("recipient_kind", "employer"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Restriction request recorded."));
    assert!(html.contains("Any employer"));
    let res = page.get("/privacy/restrictions").await;
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("Nothing to my employer"));
    let res = page
        .post("/privacy/breaches", &[("discovered_on", today.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("href=\"#what_happened\""));
    let mrn = trellis_storage::patients::mrn(s.patient_id);
    let res = page
        .post(
            "/privacy/breaches",
            &[
                ("discovered_on", today.as_str()),
                ("what_happened", "a laptop was stolen"),
                ("information_involved", "Names"),
                ("steps_for_patients", "Watch for calls"),
                ("what_we_are_doing", "Disabled the account"),
                ("contact", "Call 555-0100"),
                ("patients_affected", "1"),
                ("most_in_one_state", "1"),
                ("patients", mrn.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("a task is due on its 60th day"), "{html}");
    assert!(html.contains("To assess"));
    // The privacy officer's dashboard counts both, and shows the incident by dates only.
    let html = page.get("/dashboard").await.text().await.expect("text");
    assert!(
        html.contains("<strong>1</strong> restriction request to decide"),
        "{html}"
    );
    assert!(
        html.contains("<strong>1</strong> breach incident open"),
        "{html}"
    );
    assert!(html.contains("risk assessment to make"), "{html}");
    assert!(!html.contains("a laptop was stolen"), "{html}");
    let counselor = s.browser("casey").await;
    assert!(!counselor
        .get("/dashboard")
        .await
        .text()
        .await
        .expect("text")
        .contains("breach incident"));
    assert_eq!(
        counselor.get("/privacy/breaches").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn court_orders_and_agreements_disclose_without_consent_within_their_limits() {
    // §§2.61–2.67 court orders, §2.11 QSO, §2.53 audit, §2.52 research: no consent is on file.
    let s = start().await;
    let court = s
        .recipient("Clerk, County Family Court", RecipientKind::Court)
        .await;
    let contractor = s
        .recipient("Claims Express LLC", RecipientKind::ProgramOperations)
        .await;
    let pat = s.token("pat").await;
    let casey = s.token("casey").await;
    let day = |d: i64| (today() + Duration::days(d)).to_string();
    let order = json!({"patient_id": s.patient_id, "document": "order",
        "court": "County Family Court", "case_number": "FC-2026-118", "purpose": "noncriminal",
        "other_means_unavailable": true, "public_interest_outweighs": true,
        "protective_measures": "Filed under seal", "recipient_id": court,
        "categories": ["attendance"], "dated_on": day(0), "starts_on": day(0), "ends_on": day(30)});
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        "/court-orders",
        Some(order.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "only the privacy officer");
    let mut subpoena = order.clone();
    subpoena["document"] = json!("subpoena");
    let (st, body) = call(&s, &pat, Method::POST, "/court-orders", Some(subpoena)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("subpoena alone never"), "{body}");
    let mut weak = order.clone();
    weak["public_interest_outweighs"] = json!(false);
    let (st, body) = call(&s, &pat, Method::POST, "/court-orders", Some(weak)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["findings"]);
    let (st, body) = call(&s, &pat, Method::POST, "/court-orders", Some(order)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let order_id = body["id"].as_i64().expect("id");
    let path = format!("/patients/{}/authorised-disclosures", s.patient_id);
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &path,
        Some(json!({"authority_id": order_id, "categories": ["attendance"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "court_order");
    assert!(body["packet"]["consent_scope"]
        .as_str()
        .expect("scope")
        .contains("FC-2026-118"));
    assert!(!body["packet"]["notice"]
        .as_str()
        .expect("notice")
        .is_empty());
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &path,
        Some(json!({"authority_id": order_id, "categories": ["diagnoses"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["reason"], "information_not_covered");
    let (st, body) = call(
        &s,
        &pat,
        Method::GET,
        &format!("/disclosure-authorities/{order_id}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["disclosures"].as_array().map(Vec::len), Some(1));
    // A QSO agreement that has not started yet covers nothing.
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        "/agreements",
        Some(
            json!({"kind": "qualified_service", "recipient_id": contractor,
            "categories": ["billing"], "dated_on": day(0), "starts_on": day(1),
            "ends_on": day(365), "recipient_bound": true, "services": "Claims submission"}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let qso = body["id"].as_i64().expect("id");
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &path,
        Some(json!({"authority_id": qso, "categories": ["billing"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["reason"], "outside_period");
    // Research without the board's decision, and an audit without the written undertaking.
    for (bad, expected) in [
        (
            json!({"kind": "research", "recipient_id": contractor, "categories": ["attendance"],
                "dated_on": day(0), "starts_on": day(0), "ends_on": day(10),
                "recipient_bound": true, "protocol": "IRB-1", "determination": "waiver"}),
            vec!["board", "decided_on"],
        ),
        (
            json!({"kind": "audit_evaluation", "recipient_id": contractor,
                "categories": ["attendance"], "dated_on": day(0), "starts_on": day(0),
                "ends_on": day(10), "body": "payer", "body_name": "Valley Health Plan",
                "scope": "Claims audit"}),
            vec!["recipient_bound"],
        ),
    ] {
        let (st, body) = call(&s, &pat, Method::POST, "/agreements", Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), expected);
    }
    let (st, body) = call(&s, &pat, Method::GET, "/disclosure-authorities", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(2));
    let (_, body) = call(
        &s,
        &pat,
        Method::GET,
        &format!("/patients/{}/disclosures", s.patient_id),
        None,
    )
    .await;
    assert_eq!(body.as_array().map(Vec::len), Some(1));

    // The pages: the register, a subpoena refused by name, and a disclosure under the order.
    let page = s.browser("pat").await;
    let html = page
        .get("/privacy/authorities")
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("Claims Express LLC"), "{html}");
    let res = page
        .post("/privacy/court-orders", &[("document", "subpoena")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("subpoena alone never"), "{html}");
    let form = format!("/patients/{}/authorised-disclosure", s.patient_id);
    let html = page.get(&form).await.text().await.expect("text");
    assert!(html.contains(&format!("value=\"{order_id}\"")), "{html}");
    let res = page
        .post(
            &form,
            &[
                ("authority_id", order_id.to_string().as_str()),
                ("categories", "diagnoses"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("does not cover: Diagnoses"));
    let res = page
        .post(
            &form,
            &[
                ("authority_id", order_id.to_string().as_str()),
                ("categories", "attendance"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("FC-2026-118"), "{html}");
    let html = page
        .get(&format!("/patients/{}/disclosures", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("No consent needed: Court order"), "{html}");
    let counselor = s.browser("casey").await;
    assert_eq!(
        counselor.get("/privacy/authorities").await.status(),
        StatusCode::FORBIDDEN
    );
}

/// A consent to the probation office, signed today by `signer_name` on `authority`.
fn signed_consent(signer_name: &str, authority: &str) -> Value {
    json!({
        "disclosing_program": "Adult SUD IOP",
        "categories": ["attendance"],
        "recipient_kind": "named",
        "recipient_name": "Jordan Lee, County Probation",
        "purposes": ["legal"],
        "revocation_statement": DEFAULT_REVOCATION_STATEMENT,
        "expiry_kind": "date",
        "expiry_date": (today() + Duration::days(90)).to_string(),
        "signer_name": signer_name,
        "signer_relationship": if authority == "patient" { "" } else { "Authorised signer" },
        "signer_authority": authority,
        "signed_on": today().to_string(),
    })
}

/// Registers a fifteen-year-old and admits them to casey's program.
async fn minor(s: &TestServer) -> i64 {
    use trellis_domain::care::LevelOfCare;
    use trellis_domain::patient::Registration;
    use trellis_storage::episodes::Admission;
    use trellis_storage::patients::RegisterOutcome;
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let grant = s
        .store
        .grant::<can::EditDemographics>(&intake)
        .expect("grant");
    let born = today()
        .with_year(today().year() - 15)
        .unwrap_or(today() - Duration::days(15 * 365 + 4));
    let RegisterOutcome::Created(patient) = s
        .store
        .register_patient(
            &grant,
            s.site_id,
            &Registration {
                legal_first_name: "Jamie".into(),
                legal_last_name: "Cole".into(),
                date_of_birth: Some(born),
                sex: "male".into(),
                ..Registration::default()
            },
            today(),
            false,
        )
        .await
        .expect("register")
    else {
        panic!("unexpected duplicate");
    };
    let admit = s
        .store
        .patient_grant::<can::AdmitEpisode>(&intake, patient)
        .await
        .expect("grant");
    s.store
        .admit(
            &admit,
            &Admission {
                program_id: s.program_id,
                admitted_on: today() - Duration::days(3),
                referral_source: "Self or family".into(),
                primary_counselor_id: Some(s.users["casey"]),
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    patient
}

#[tokio::test]
async fn recording_a_consent_checks_who_signs() {
    // §2.14 minors under the site's rule, §2.15(a) personal representatives, §2.15(b) deceased
    // patients: the consent asks on what authority it is signed and refuses who may not sign.
    let s = start().await;
    let casey = s.token("casey").await;
    let ada = s.token("ada").await;
    let jamie = minor(&s).await;
    let jamies = format!("/patients/{jamie}/consents");

    // Bad input: no authority, an unknown one, a representative without the court document, a
    // parent without the minor's signature.
    let mut missing = signed_consent("Jamie Cole", "patient");
    missing
        .as_object_mut()
        .expect("object")
        .remove("signer_authority");
    let mut unknown = signed_consent("Jamie Cole", "patient");
    unknown["signer_authority"] = json!("king");
    for (bad, field) in [
        (missing, "signer_authority"),
        (unknown, "signer_authority"),
        (
            signed_consent("Morgan Cole", "personal_representative"),
            "court_document",
        ),
        (
            signed_consent("Morgan Cole", "parent_or_guardian"),
            "minor_also_signed",
        ),
    ] {
        let (st, body) = call(&s, &casey, Method::POST, &jamies, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), [field], "{body}");
    }

    // The cautious default: a parent or guardian co-signs, so the minor alone is refused (409:
    // the refusal depends on the record, not the body).
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &jamies,
        Some(signed_consent("Jamie Cole", "patient")),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(fields(&body), ["signer_authority"]);
    assert!(body.to_string().contains("2.14(c)"), "{body}");
    let mut parent = signed_consent("Morgan Cole", "parent_or_guardian");
    parent["minor_also_signed"] = json!(true);
    let (st, body) = call(&s, &casey, Method::POST, &jamies, Some(parent.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, view) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/consents/{}", body["id"]),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(view["signer_authority"], "parent_or_guardian");
    assert_eq!(view["minor_also_signed"], true);

    // Where the state lets a minor of 12 consent alone, only the minor signs.
    let (st, _) = call(
        &s,
        &ada,
        Method::PUT,
        &format!("/sites/{}/minor-consent", s.site_id),
        Some(json!({"age_of_majority": 18, "minor_may_consent_alone_from": 12})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = call(&s, &casey, Method::POST, &jamies, Some(parent)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("2.14(b)"), "{body}");
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &jamies,
        Some(signed_consent("Jamie Cole", "patient")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");

    // A personal representative with the court document; kept and shown with the consent.
    let danas = format!("/patients/{}/consents", s.patient_id);
    let mut representative = signed_consent("Robin Reyes", "personal_representative");
    representative["court_document"] =
        json!("Guardianship order, County Probate Court 2025-GD-118");
    let (st, body) = call(&s, &casey, Method::POST, &danas, Some(representative)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let print = s
        .browser("casey")
        .await
        .get(&format!(
            "/patients/{}/consents/{}",
            s.patient_id, body["id"]
        ))
        .await
        .text()
        .await
        .expect("text");
    assert!(print.contains("2025-GD-118"), "{print}");

    // After the recorded date of death only an executor, administrator or next of kin signs.
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &danas,
        Some(signed_consent("Sam Reyes", "executor_or_administrator")),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("date of death"), "{body}");
    let (st, _) = call(
        &s,
        &casey,
        Method::PUT,
        &format!("/patients/{}/date-of-death", s.patient_id),
        Some(json!({"date_of_death": (today() - Duration::days(1)).to_string()})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &danas,
        Some(signed_consent("Dana Reyes", "patient")),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &danas,
        Some(signed_consent("Sam Reyes", "executor_or_administrator")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");

    // The form asks too, and names the field it refuses.
    let browser = s.browser("casey").await;
    let form = browser.get(&jamies).await;
    let html = form.text().await.expect("text");
    assert!(
        html.contains("name=\"signer_authority\" value=\"patient\" checked"),
        "{html}"
    );
    let res = browser
        .post(
            &format!("/patients/{jamie}/consents"),
            &[
                ("disclosing_program", "Adult SUD IOP"),
                ("categories", "attendance"),
                ("recipient_kind", "named"),
                ("recipient_name", "Jordan Lee, County Probation"),
                ("purposes", "legal"),
                ("revocation_statement", DEFAULT_REVOCATION_STATEMENT),
                ("expiry_kind", "date"),
                ("expiry_date", "2099-01-01"),
                ("signer_name", "Morgan Cole"),
                ("signer_relationship", "Parent"),
                ("signer_authority", "parent_or_guardian"),
                ("minor_also_signed", "yes"),
                ("signed_on", &today().to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("only the minor may sign"), "{html}");
}

#[tokio::test]
async fn a_substitute_notice_tells_the_patients_the_letters_cannot_reach() {
    // 45 CFR 164.404(d)(2): below 10 any reasonable means; from 10 the website or major media
    // with a toll-free number for 90 days. Once everyone is told the task completes.
    let s = start().await;
    let pat = s.token("pat").await;
    let discovered = today() - Duration::days(20);
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        "/breaches",
        Some(json!({
            "discovered_on": discovered.to_string(),
            "what_happened": "a laptop with the day sheets was stolen",
            "information_involved": "Names and group times",
            "steps_for_patients": "Nothing is needed; call us with questions",
            "what_we_are_doing": "The laptop was wiped remotely",
            "contact": "Call 1-800-555-0100",
            "patients_affected": 12,
            "most_in_one_state": 12,
            "patient_ids": [s.patient_id, s.other_patient_id],
        })),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let notices = format!("/breaches/{id}/substitute-notices");
    let notice = json!({
        "given_on": today().to_string(),
        "method": "website_posting",
        "patients_unreachable": 11,
        "patient_ids": [s.other_patient_id],
        "toll_free_number": "1-800-555-0199",
        "details": "Posted on the home page of downtownrecovery.example",
    });
    // Not a breach yet: nothing is due. Then assessed as a breach.
    let (st, _) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/breaches/{id}/assessment"),
        Some(
            json!({"nature_and_extent": "high", "unauthorized_recipient": "high",
            "acquired_or_viewed": "high", "mitigation": "low",
            "notes": "Unencrypted disk", "conclusion": "breach"}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let with = |k: &str, v: Value| {
        let mut b = notice.clone();
        b[k] = v;
        b
    };
    for (bad, field, status) in [
        (
            with("method", json!("telephone")),
            "method",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("toll_free_number", json!("")),
            "toll_free_number",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("method", json!("carrier_pigeon")),
            "method",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("details", json!(" ")),
            "details",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("given_on", json!((today() + Duration::days(2)).to_string())),
            "given_on",
            StatusCode::CONFLICT,
        ),
        (
            with("patients_unreachable", json!(13)),
            "patients_unreachable",
            StatusCode::CONFLICT,
        ),
        (
            with("patient_ids", json!([999_999])),
            "patient_ids",
            StatusCode::CONFLICT,
        ),
    ] {
        let (st, body) = call(&s, &pat, Method::POST, &notices, Some(bad.clone())).await;
        assert_eq!(st, status, "{bad}: {body}");
        assert_eq!(fields(&body), [field], "{bad}");
    }
    let casey = s.token("casey").await;
    let (st, _) = call(&s, &casey, Method::POST, &notices, Some(notice.clone())).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, body) = call(&s, &pat, Method::POST, &notices, Some(notice)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (_, body) = call(&s, &pat, Method::GET, &format!("/breaches/{id}"), None).await;
    assert_eq!(body["letters_complete"], false, "Dana's letter is not sent");
    let sub = &body["substitute_notices"][0];
    assert_eq!(sub["method"], "website_posting");
    assert_eq!(
        sub["keep_until"],
        (today() + Duration::days(90)).to_string()
    );
    let other = body["patients"]
        .as_array()
        .expect("patients")
        .iter()
        .find(|p| p["patient_id"] == s.other_patient_id)
        .expect("other patient");
    assert!(other["substitute_notice_id"].is_i64());
    // Dana's letter goes out: 1 letter + 11 by substitute notice = 12, everyone is told.
    let (st, _) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/breaches/{id}/letters/{}", s.patient_id),
        Some(json!({"sent_on": today().to_string()})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, body) = call(&s, &pat, Method::GET, &format!("/breaches/{id}"), None).await;
    assert_eq!(body["letters_complete"], true, "{body}");
    let officer = actor(&s.users, "pat", Role::PrivacyOfficer);
    let tasks = s
        .store
        .my_tasks(
            &s.store
                .grant::<can::ReadDemographics>(&officer)
                .expect("grant"),
        )
        .await
        .expect("tasks");
    assert!(tasks.iter().all(|t| t.kind != "breach_notification"));
    assert!(s
        .audit_for(s.other_patient_id)
        .await
        .iter()
        .any(|r| r.action == "substitute_notice"));

    // The register page shows it and offers the form; a bad form names the field.
    let page = s.browser("pat").await;
    let html = page
        .get(&format!("/privacy/breaches/{id}"))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("home page for 90 days, for 11 patient(s), toll-free 1-800-555-0199"),
        "{html}"
    );
    assert!(html.contains("Told by substitute notice"));
    let res = page
        .post(
            &format!("/privacy/breaches/{id}/substitute-notices"),
            &[
                ("given_on", today().to_string().as_str()),
                ("method", "telephone"),
                ("patients_unreachable", "10"),
                ("toll_free_number", ""),
                ("details", "Called them"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("164.404(d)(2)(ii)"), "{html}");
}

#[tokio::test]
async fn a_criminal_justice_consent_states_when_it_becomes_revocable_and_limits_redisclosure() {
    // §2.35: probation made treatment a condition of release.
    let s = start().await;
    let probation = s
        .recipient(
            "Jordan Lee, County Probation",
            RecipientKind::LawEnforcement,
        )
        .await;
    let casey = s.token("casey").await;
    let path = format!("/patients/{}/consents", s.patient_id);
    let revocable_on = (today() + Duration::days(30)).to_string();
    let mut consent = signed_consent("Dana Reyes", "patient");
    consent["criminal_justice"] = json!({"condition": "release",
        "monitoring_duty": "", "duration_statement": "Until the end of probation",
        "revocable_on": revocable_on, "no_later_than_final_disposition": false});
    let (st, body) = call(&s, &casey, Method::POST, &path, Some(consent.clone())).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        [
            "monitoring_duty",
            "no_later_than_final_disposition",
            "revocation_statement"
        ]
    );
    consent["criminal_justice"]["condition"] = json!("parole_board");
    let (st, body) = call(&s, &casey, Method::POST, &path, Some(consent.clone())).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["condition"]);
    consent["criminal_justice"] = json!({"condition": "release",
        "monitoring_duty": "Supervises the patient's probation",
        "duration_statement": "Until the end of probation",
        "revocable_on": revocable_on, "no_later_than_final_disposition": true});
    consent["revocation_statement"] = json!(format!(
        "I may not revoke this consent before {revocable_on}; after that in writing, except \
         where the program already acted in reliance on it."
    ));
    let (st, body) = call(&s, &casey, Method::POST, &path, Some(consent)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let (st, body) = call(&s, &casey, Method::GET, &format!("/consents/{id}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        body["criminal_justice"]["revocable_on"],
        json!(revocable_on)
    );
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{}/disclosures", s.patient_id),
        Some(json!({"recipient_id": probation, "purpose": "legal", "categories": ["attendance"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert!(body["packet"]["consent_scope"]
        .as_str()
        .expect("scope")
        .contains("42 CFR 2.35(d)"));
    // Irrevocable until the stated day (§2.35(c)).
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/consents/{id}/revoke"),
        Some(
            json!({"in_writing": true, "received_on": today().to_string(),
            "revocation_text": "I want to stop this."}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["received_on"]);
    assert!(body.to_string().contains("2.35(c)"), "{body}");
}

#[tokio::test]
async fn an_agreed_restriction_is_ended_by_the_program_telling_the_patient_and_still_refuses() {
    // §2.26 with 45 CFR 164.522(a)(2).
    let s = start().await;
    tpo_consent(&s).await;
    let provider = s
        .recipient(
            "Dr. Lena Ortiz, Family Clinic",
            RecipientKind::TreatingProvider,
        )
        .await;
    let casey = s.token("casey").await;
    let pat = s.token("pat").await;
    let (st, body) = call(
        &s,
        &casey,
        Method::POST,
        &format!("/patients/{}/restrictions", s.patient_id),
        Some(json!({"what": "Do not send my diagnoses to Dr. Ortiz",
            "requested_on": today().to_string(), "recipient_id": provider,
            "categories": ["diagnoses"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let (st, _) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/restrictions/{id}/decision"),
        Some(json!({"decision": "agreed"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let lift = format!("/restrictions/{id}/lift");
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        &lift,
        Some(json!({"ground": "patient_agreed", "lifted_on": today().to_string()})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "only the privacy officer");
    for (bad, field) in [
        (
            json!({"ground": "whenever", "lifted_on": today().to_string()}),
            "ground",
        ),
        (json!({"ground": "program_told"}), "lifted_on"),
        (
            json!({"ground": "program_told", "lifted_on": today().to_string(), "reason": " "}),
            "reason",
        ),
        (
            json!({"ground": "program_told", "reason": "workable no longer",
                "lifted_on": (today() + Duration::days(2)).to_string()}),
            "lifted_on",
        ),
    ] {
        let (st, body) = call(&s, &pat, Method::POST, &lift, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), [field]);
    }
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &lift,
        Some(
            json!({"ground": "program_told", "lifted_on": today().to_string(),
            "reason": "We cannot keep diagnoses from your doctor"}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, _) = call(
        &s,
        &pat,
        Method::POST,
        &lift,
        Some(json!({"ground": "patient_agreed", "lifted_on": today().to_string()})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // What was created before the patient was told is still restricted, and goes in every packet.
    let (st, body) = disclose(&s, &casey, provider, "treatment").await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["reason"], "restricted_by_patient");
    let (st, body) = call(
        &s,
        &casey,
        Method::GET,
        &format!("/patients/{}/restrictions", s.patient_id),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body[0]["lift_ground"], "program_told");
    assert_eq!(
        body[0]["lift_reason"],
        "We cannot keep diagnoses from your doctor"
    );
    assert!(s
        .audit_for(s.patient_id)
        .await
        .iter()
        .any(|r| r.action == "lift" && r.detail.starts_with("program_told")));
}

#[tokio::test]
async fn an_order_is_corrected_and_ended_early_with_its_reasons_kept() {
    let s = start().await;
    let court = s
        .recipient("Clerk, County Family Court", RecipientKind::Court)
        .await;
    let pat = s.token("pat").await;
    let casey = s.token("casey").await;
    let day = |d: i64| (today() + Duration::days(d)).to_string();
    let order = json!({"patient_id": s.patient_id, "document": "order",
        "court": "County Family Court", "case_number": "FC-2026-118", "purpose": "noncriminal",
        "other_means_unavailable": true, "public_interest_outweighs": true,
        "protective_measures": "Filed under seal", "recipient_id": court,
        "categories": ["attendance"], "dated_on": day(0), "starts_on": day(0), "ends_on": day(30)});
    let (st, body) = call(&s, &pat, Method::POST, "/court-orders", Some(order.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let corrections = format!("/disclosure-authorities/{id}/corrections");
    let mut corrected = order.clone();
    corrected["categories"] = json!(["attendance", "drug_screens"]);
    let (st, _) = call(
        &s,
        &casey,
        Method::POST,
        &corrections,
        Some(json!({"reason": "misread", "court_order": corrected})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for (bad, field) in [
        (json!({"reason": "misread"}), "court_order"),
        (json!({"reason": " ", "court_order": corrected}), "reason"),
        (
            json!({"reason": "misread", "agreement": {"kind": "research"}}),
            "court_order",
        ),
    ] {
        let (st, body) = call(&s, &pat, Method::POST, &corrections, Some(bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), [field]);
    }
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &corrections,
        Some(json!({"reason": "the order also names screens", "court_order": corrected})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body["authority"]["categories"],
        json!(["attendance", "drug_screens"])
    );
    // The page corrects its limits (information and period), with the reason.
    let page = s.browser("pat").await;
    let correction = format!("/privacy/authorities/{id}/correction");
    let (start, last) = (day(0), day(20));
    let mut form = vec![
        ("categories", "attendance"),
        ("starts_on", start.as_str()),
        ("ends_on", last.as_str()),
    ];
    let res = page.post(&correction, &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.expect("text").contains("say why"));
    form.push(("reason", "the order ends sooner"));
    let res = page.post(&correction, &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("corrected."), "{html}");
    // The corrected period, written as every page writes days.
    let shown = |d: i64| trellis_domain::readable_day(today() + Duration::days(d));
    assert!(
        html.contains(&format!("{} to {}", shown(0), shown(20))),
        "{html}"
    );
    assert!(html.contains("the order ends sooner"), "{html}");
    let end = format!("/disclosure-authorities/{id}/end");
    let (st, body) = call(&s, &pat, Method::POST, &end, Some(json!({"reason": ""}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["reason"]);
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &end,
        Some(json!({"reason": "Vacated on appeal"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["authority"]["in_effect"], false);
    assert!(body["authority"]["ended_at"].is_string());
    assert_eq!(
        body["authority"]["changes"][2]["reason"],
        "Vacated on appeal"
    );
    let (st, body) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/patients/{}/authorised-disclosures", s.patient_id),
        Some(json!({"authority_id": id, "categories": ["attendance"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["reason"], "authority_ended");
}

#[tokio::test]
async fn the_consent_form_records_a_criminal_justice_consent_with_the_2_35_statement() {
    let s = start().await;
    let page = s.browser("casey").await;
    let path = format!("/patients/{}/consents", s.patient_id);
    let revocable = (today() + Duration::days(30)).to_string();
    let expires = (today() + Duration::days(90)).to_string();
    let today = today().to_string();
    let mut form = vec![
        ("disclosing_program", "Adult SUD IOP"),
        ("categories", "attendance"),
        ("recipient_kind", "named"),
        ("recipient_name", "Jordan Lee, County Probation"),
        ("purposes", "legal"),
        ("revocation_statement", DEFAULT_REVOCATION_STATEMENT),
        ("expiry_kind", "date"),
        ("expiry_date", expires.as_str()),
        ("signer_name", "Dana Reyes"),
        ("signer_authority", "patient"),
        ("signed_on", today.as_str()),
        ("criminal_justice", "yes"),
        ("cj_condition", "release"),
        ("duration_statement", "Until the end of probation"),
        ("revocable_on", revocable.as_str()),
        ("no_later_than_final_disposition", "yes"),
    ];
    let res = page.post(&path, &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("href=\"#monitoring_duty\""), "{html}");
    form.push(("monitoring_duty", "Supervises the patient's probation"));
    let res = page.post(&path, &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    // The offered statement became the §2.35(c) one, and the tab shows what §2.35 adds.
    assert!(
        html.contains("42 CFR 2.35: A condition of parole"),
        "{html}"
    );
    assert!(
        html.contains(&format!("may not be revoked before {revocable}")),
        "{html}"
    );
}

#[tokio::test]
async fn an_auditor_signs_in_and_reviews_only_the_agreements_scope_until_it_ends() {
    // §2.53: an auditor account bound to one agreement, made by two people; it reviews on screen
    // only the agreement's program and information, and the privacy officer sees each review.
    let s = start().await;
    let body = s
        .recipient("State Licensing Unit", RecipientKind::Other)
        .await;
    let pat = s.token("pat").await;
    let ada = s.token("ada").await;
    let day = |d: i64| (today() + Duration::days(d)).to_string();
    let (st, created) = call(
        &s,
        &pat,
        Method::POST,
        "/agreements",
        Some(json!({"kind": "audit_evaluation", "recipient_id": body,
            "categories": ["attendance", "diagnoses"], "dated_on": day(-2), "starts_on": day(-1),
            "ends_on": day(30), "body": "government_agency",
            "body_name": "State Department of Health", "scope": "Annual licensing review",
            "recipient_bound": true})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let agreement = created["id"].as_i64().expect("id");
    let account = |authority: Value| {
        json!({"username": "avery", "display_name": "Avery Auditor", "role": "auditor",
            "password": PASSWORD, "authority_id": authority, "program_id": s.program_id})
    };
    for bad in [Value::Null, json!(agreement + 50)] {
        let (st, body) = call(&s, &ada, Method::POST, "/users", Some(account(bad))).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(fields(&body), ["authority_id"]);
    }
    let (st, created) = call(
        &s,
        &ada,
        Method::POST,
        "/users",
        Some(account(json!(agreement))),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let auditor_id = created["id"].as_i64().expect("id");
    let approval = s
        .store
        .role_awaiting_approval(auditor_id)
        .await
        .expect("approval")
        .expect("awaits a second person");
    let (st, _) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/role-approvals/{}/approve", approval.id),
        None,
    )
    .await;
    assert!(st.is_success(), "{st}");

    let avery = s.browser("avery").await;
    let html = avery.get("/dashboard").await.text().await.expect("text");
    assert!(html.contains("Records under review: agreement"), "{html}");
    assert!(
        html.contains("disclosed only back to this program"),
        "{html}"
    );
    let inside = trellis_storage::patients::mrn(s.patient_id);
    let outside = trellis_storage::patients::mrn(s.other_patient_id);
    assert!(html.contains(&inside) && !html.contains(&outside), "{html}");
    let res = avery
        .get(&format!("/review/patients/{}", s.patient_id))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("<h2>Diagnoses</h2>"), "{html}");
    assert!(!html.contains("Treatment plan"), "{html}");
    for refused in [
        format!("/review/patients/{}", s.other_patient_id),
        format!("/patients/{}", s.patient_id),
        format!("/patients/{}/disclosures", s.patient_id),
        "/patients".to_owned(),
    ] {
        assert_eq!(
            avery.get(&refused).await.status(),
            StatusCode::FORBIDDEN,
            "{refused}"
        );
    }

    // The privacy officer sees the account and the review on the agreement's page.
    let officer = s.browser("pat").await;
    let html = officer
        .get(&format!("/privacy/authorities/{agreement}"))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("Avery Auditor (avery)"), "{html}");
    assert!(html.contains(&format!("<td>{inside}</td>")), "{html}");

    // Ended early: the auditor's access ends at once.
    let (st, _) = call(
        &s,
        &pat,
        Method::POST,
        &format!("/disclosure-authorities/{agreement}/end"),
        Some(json!({"reason": "Licensing review finished"})),
    )
    .await;
    assert!(st.is_success(), "{st}");
    assert_eq!(
        avery
            .get(&format!("/review/patients/{}", s.patient_id))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let html = avery.get("/review").await.text().await.expect("text");
    assert!(html.contains("Nothing can be reviewed"), "{html}");
    assert!(!html.contains(&inside), "{html}");
}

#[tokio::test]
async fn an_undercover_placement_order_is_recorded_with_its_findings_and_twelve_months_at_most() {
    // §2.67: the privacy officer records the order; a placement over twelve months is refused.
    let s = start().await;
    let page = s.browser("pat").await;
    let day = |d: i64| (today() + Duration::days(d)).to_string();
    let mut form = vec![
        ("court", "US District Court".to_owned()),
        ("case_number", "CR-26-0091".to_owned()),
        ("applicant", "Medicaid Fraud Control Unit".to_owned()),
        ("dated_on", day(-2)),
        ("placed_on", day(0)),
        ("ends_on", day(400)),
        ("criminal_activity", "1".to_owned()),
        ("other_means_unavailable", "1".to_owned()),
        ("public_interest_outweighs", "1".to_owned()),
        ("director_notice", "1".to_owned()),
        ("placement_authorised", "1".to_owned()),
        ("disclosure_limited", "1".to_owned()),
        ("protective_measures", "Proceedings sealed".to_owned()),
    ];
    let send = |form: &Vec<(&'static str, String)>| {
        form.iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<(&str, String)>>()
    };
    let fields_of = send(&form);
    let pairs: Vec<(&str, &str)> = fields_of.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = page.post("/privacy/undercover-orders", &pairs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("at most twelve months"), "{html}");
    assert!(html.contains("href=\"#u_ends_on\""), "{html}");
    form[5].1 = day(300);
    let fields_of = send(&form);
    let pairs: Vec<(&str, &str)> = fields_of.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = page.post("/privacy/undercover-orders", &pairs).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Placement order #"), "{html}");
    assert!(html.contains("Medicaid Fraud Control Unit"), "{html}");
    let counselor = s.browser("casey").await;
    assert_eq!(
        counselor
            .post("/privacy/undercover-orders", &[("court", "x")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}
