//! Progress notes and group notes through the pages and the API: writing, signing, addenda,
//! bad input, and who may read or sign.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn counselor_writes_signs_and_adds_an_addendum_on_the_notes_tab() {
    let s = start().await;
    let b = s.browser("casey").await;
    let tab = format!("/patients/{}/notes", s.patient_id);
    let today = today().to_string();
    let saved = b
        .post(
            &tab,
            &[
                ("service_code", "individual"),
                ("started", "10:00"),
                ("ended", "10:50"),
                ("template", "dap"),
                ("session_on", &today),
                ("data", "Reported five days abstinent"),
                ("assessment", "Motivated"),
                ("plan", "Continue IOP"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let html = saved.text().await.expect("text");
    assert!(html.contains("Reported five days abstinent"));
    assert!(html.contains("Sign note"));

    let notes: serde_json::Value = client()
        .get(format!("{}/api/v1{tab}", s.base))
        .bearer_auth(s.token("casey").await)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let id = notes[0]["id"].as_i64().expect("id");
    let signed = b.post(&format!("/notes/{id}/sign"), &[]).await;
    assert_eq!(signed.status(), StatusCode::OK);
    let added = b
        .post(
            &format!("/notes/{id}/addenda"),
            &[("body", "Patient called later to add a new sober contact")],
        )
        .await;
    let html = added.text().await.expect("text");
    assert!(html.contains("new sober contact"));
    assert!(
        !html.contains("Sign note"),
        "a signed note has no sign button"
    );

    // Bad input: a missing section re-renders with a message and stores nothing new.
    let bad = b
        .post(
            &tab,
            &[
                ("service_code", "individual"),
                ("started", "10:00"),
                ("ended", "10:50"),
                ("template", "birp"),
                ("session_on", &today),
                ("behavior", "x"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("text").contains("is required"));
    let audit = s.audit_for(s.patient_id).await;
    assert!(audit.iter().any(|a| a.action == "sign"));
    assert!(audit
        .iter()
        .all(|a| !a.detail.contains("abstinent") && !a.detail.contains("sober")));
}

#[tokio::test]
async fn api_notes_lifecycle_bad_input_and_permissions() {
    let s = start().await;
    let casey = s.token("casey").await;
    let url = |p: &str| format!("{}/api/v1{p}", s.base);
    let path = format!("/patients/{}/notes", s.patient_id);
    let body = json!({
        "kind": "family", "template": "birp", "session_on": today().to_string(),
        "sections": {"behavior": "b", "intervention": "i", "response": "r", "plan": "p"}
    });
    let created = client()
        .post(url(&path))
        .bearer_auth(&casey)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");

    for bad in [
        json!({"kind": "group", "template": "dap", "session_on": today().to_string(), "sections": {}}),
        json!({"kind": "individual", "template": "soap", "session_on": today().to_string(), "sections": {}}),
        json!({"kind": "individual", "template": "dap", "session_on": "2099-01-01",
               "sections": {"data": "d", "assessment": "a", "plan": "p"}}),
    ] {
        let res = client()
            .post(url(&path))
            .bearer_auth(&casey)
            .json(&bad)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // Another clinician may not sign or change casey's note.
    for other in ["dora", "pete"] {
        let token = s.token(other).await;
        let sign = client()
            .post(url(&format!("/notes/{id}/sign")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(sign.status(), StatusCode::FORBIDDEN, "{other}");
    }
    // Billing and front desk read no notes.
    for role in ["bill", "fran", "ada"] {
        let token = s.token(role).await;
        for p in [path.clone(), format!("/notes/{id}")] {
            let res = client()
                .get(url(&p))
                .bearer_auth(&token)
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role} {p}");
        }
    }
    let sign = client()
        .post(url(&format!("/notes/{id}/sign")))
        .bearer_auth(&casey)
        .send()
        .await
        .expect("send");
    assert_eq!(sign.status(), StatusCode::NO_CONTENT);
    let edit = client()
        .put(url(&format!("/notes/{id}")))
        .bearer_auth(&casey)
        .json(&json!({"sections": {"behavior": "x", "intervention": "i", "response": "r", "plan": "p"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        edit.status(),
        StatusCode::CONFLICT,
        "signed notes are locked"
    );
    let note: serde_json::Value = client()
        .get(url(&format!("/notes/{id}")))
        .bearer_auth(&casey)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(note["sections"]["behavior"], "b");
    assert!(note["signed_at"].is_string());
}

#[tokio::test]
async fn peer_note_waits_for_cosignature_and_group_note_reaches_each_chart() {
    let s = start().await;
    let pete = s.token("pete").await;
    let url = |p: &str| format!("{}/api/v1{p}", s.base);
    let dap = json!({"data": "d", "assessment": "a", "plan": "p"});
    // Pete facilitates tonight's group; the patient came.
    let (session, _) = evening_group(&s, "pete").await;
    let fran = actor(&s.users, "fran", trellis_domain::access::Role::FrontDesk);
    let mark = s
        .store
        .patient_grant::<trellis_storage::access::can::ManageSchedule>(&fran, s.patient_id)
        .await
        .expect("grant");
    s.store
        .record_attendance(
            &mark,
            session,
            trellis_domain::schedule::attendance::AttendanceStatus::Present,
            None,
        )
        .await
        .expect("attended");
    let group = client()
        .post(url("/group-notes"))
        .bearer_auth(&pete)
        .json(&json!({
            "session_id": session, "shared_text": "Sharing recovery stories",
            "attendees": [{"patient_id": s.patient_id, "sections": dap}]
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(group.status(), StatusCode::CREATED);
    let gid = group.json::<serde_json::Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    let empty = client()
        .post(url("/group-notes"))
        .bearer_auth(&pete)
        .json(&json!({"session_id": session, "shared_text": "x", "attendees": []}))
        .send()
        .await
        .expect("send");
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let signed = client()
        .post(url(&format!("/group-notes/{gid}/sign")))
        .bearer_auth(&pete)
        .send()
        .await
        .expect("send");
    assert_eq!(signed.status(), StatusCode::NO_CONTENT);

    let dora = s.token("dora").await;
    let queue: serde_json::Value = client()
        .get(url("/notes/cosign-queue"))
        .bearer_auth(&dora)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let note = queue[0]["id"].as_i64().expect("a peer's note waits");
    let cosign = client()
        .post(url(&format!("/notes/{note}/cosign")))
        .bearer_auth(&dora)
        .send()
        .await
        .expect("send");
    assert_eq!(cosign.status(), StatusCode::NO_CONTENT);

    let b = s.browser("casey").await;
    let html = b
        .get(&format!("/patients/{}/notes", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(html.contains("Evening group"));
    assert!(html.contains("Sharing recovery stories"));
    assert!(html.contains("co-signed"));
}
