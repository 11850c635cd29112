//! The API contract over real HTTP: 412 on a stale `If-Match` for consents, appointments and
//! treatment plans,
//! a replayed `Idempotency-Key` on the POSTs that create clinical records, and paging through
//! lists whose sort keys tie.

mod common;

use common::*;
use reqwest::header::{ETAG, IF_MATCH, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use trellis_storage::access::{can, Actor};
use trellis_storage::schedule::NewRoom;

/// An API client acting with one bearer token.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// Status, headers and JSON body (null when empty).
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn expect(self, status: StatusCode, what: &str) -> Reply {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        self
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Api {
    async fn new(s: &TestServer, username: &'static str) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: s.base.clone(),
            token: s.token(username).await,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("send");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON")
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], None).await
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> Reply {
        self.send(Method::POST, path, headers, Some(body)).await
    }
}

async fn office(s: &TestServer) -> i64 {
    let grant = s
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    s.store
        .create_room(
            &grant,
            NewRoom {
                site_id: s.site_id,
                name: "Office 2".into(),
                capacity: 2,
            },
        )
        .await
        .expect("room")
}

fn consent_body() -> Value {
    json!({
        "disclosing_program": "Adult SUD IOP",
        "categories": ["attendance"],
        "recipient_kind": "named",
        "recipient_name": "County Probation",
        "purposes": ["legal"],
        "revocation_statement": trellis_domain::consent::DEFAULT_REVOCATION_STATEMENT,
        "expiry_kind": "date",
        "expiry_date": (today() + chrono::Duration::days(90)).to_string(),
        "signer_name": "Dana Reyes",
        "signer_authority": "patient",
        "signed_on": today().to_string(),
    })
}

#[tokio::test]
async fn a_stale_if_match_on_a_consent_revocation_is_refused_with_412() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let created = casey
        .post(
            &format!("/patients/{}/consents", s.patient_id),
            &[],
            consent_body(),
        )
        .await
        .expect(StatusCode::CREATED, "consent");
    let id = created.body["id"].as_i64().expect("id");
    let path = format!("/consents/{id}");
    let read = casey.get(&path).await.expect(StatusCode::OK, "read");
    let etag = read.header(ETAG.as_str()).expect("ETag").to_owned();
    let revoke = json!({"in_writing": true, "received_on": today().to_string(),
        "revocation_text": "I revoke my consent to share my records with County Probation."});
    let never = casey
        .post(
            &format!("{path}/revoke"),
            &[(IF_MATCH.as_str(), "\"12\"")],
            revoke.clone(),
        )
        .await
        .expect(StatusCode::PRECONDITION_FAILED, "a version never issued");
    assert_eq!(never.code(), "precondition_failed");
    casey
        .post(
            &format!("{path}/revoke"),
            &[(IF_MATCH.as_str(), &etag)],
            revoke.clone(),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "with the version read");
    let stale = casey
        .post(
            &format!("{path}/revoke"),
            &[(IF_MATCH.as_str(), &etag)],
            revoke.clone(),
        )
        .await
        .expect(
            StatusCode::PRECONDITION_FAILED,
            "the version before revocation",
        );
    assert_eq!(stale.code(), "precondition_failed");
    let now = casey.get(&path).await.expect(StatusCode::OK, "read again");
    assert_eq!(now.body["state"], "revoked");
    assert_ne!(now.header(ETAG.as_str()), Some(etag.as_str()));
    casey
        .post(&format!("{path}/revoke"), &[], revoke)
        .await
        .expect(StatusCode::CONFLICT, "without If-Match: already revoked");
}

#[tokio::test]
async fn a_stale_if_match_on_an_appointment_is_refused_with_412() {
    let s = start().await;
    let room = office(&s).await;
    let fran = Api::new(&s, "fran").await;
    let list = format!("/patients/{}/appointments", s.patient_id);
    let booking = |start: &str, end: &str| {
        json!({
            "kind": "individual_therapy", "clinician_id": s.users["casey"], "room_id": room,
            "date": (today() + chrono::Duration::days(1)).to_string(),
            "start": start, "end": end, "occupants": 2,
        })
    };
    let first = fran
        .post(&list, &[], booking("10:00", "11:00"))
        .await
        .expect(StatusCode::CREATED, "book");
    let second = fran
        .post(&list, &[], booking("13:00", "14:00"))
        .await
        .expect(StatusCode::CREATED, "book another");
    let etag_of = |listed: &Value, id: &Value| -> String {
        listed
            .as_array()
            .expect("list")
            .iter()
            .find(|a| a["id"] == *id)
            .and_then(|a| a["etag"].as_str())
            .expect("etag")
            .to_owned()
    };
    let listed = fran.get(&list).await.expect(StatusCode::OK, "list").body;
    let (a, b) = (&first.body["id"], &second.body["id"]);
    let read_a = etag_of(&listed, a);
    let read_b = etag_of(&listed, b);
    let present = json!({"status": "present"});
    fran.post(
        &format!("/appointments/{a}/attendance"),
        &[(IF_MATCH.as_str(), &read_a)],
        present.clone(),
    )
    .await
    .expect(StatusCode::NO_CONTENT, "first mark");
    let stale = fran
        .post(
            &format!("/appointments/{a}/attendance"),
            &[(IF_MATCH.as_str(), &read_a)],
            json!({"status": "late", "minutes_attended": 30}),
        )
        .await
        .expect(
            StatusCode::PRECONDITION_FAILED,
            "a second mark from the same read",
        );
    assert_eq!(stale.code(), "precondition_failed");
    fran.post(
        &format!("/appointments/{a}/cancel"),
        &[(IF_MATCH.as_str(), &read_a)],
        json!({}),
    )
    .await
    .expect(
        StatusCode::PRECONDITION_FAILED,
        "a cancellation from the old read",
    );
    fran.post(
        &format!("/appointments/{b}/cancel"),
        &[(IF_MATCH.as_str(), "W/\"1\"")],
        json!({}),
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED, "an ETag never issued");
    fran.post(
        &format!("/appointments/{b}/cancel"),
        &[(IF_MATCH.as_str(), &read_b)],
        json!({}),
    )
    .await
    .expect(StatusCode::NO_CONTENT, "cancelled from the current version");
    let now = fran.get(&list).await.expect(StatusCode::OK, "list").body;
    let marked = now
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["id"] == *a)
        .expect("listed");
    assert_eq!(
        marked["attendance_status"], "present",
        "the stale mark saved nothing"
    );
    assert_ne!(etag_of(&now, a), read_a);
    assert_ne!(etag_of(&now, b), read_b);
}

/// Posts `body` twice under one key: the second answer is the first again, marked replayed,
/// and `list` grows by one entry only.
#[tokio::test]
async fn a_stale_if_match_on_a_treatment_plan_draft_is_refused_with_412() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let p = s.patient_id;
    casey
        .post(
            &format!("/patients/{p}/diagnoses"),
            &[],
            json!({"code": "F10.20", "onset_on": today().to_string()}),
        )
        .await
        .expect(StatusCode::CREATED, "diagnosis");
    let plan = |objective: &str| {
        json!({"problems": [{
            "text": "Alcohol use disorder, moderate",
            "diagnosis_code": "F10.20",
            "goals": [{
                "text": "I want to be sober for my daughter's graduation",
                "objectives": [{
                    "text": objective,
                    "target_on": (today() + chrono::Duration::days(30)).to_string(),
                    "interventions": [{"modality": "group", "frequency": "3 times a week",
                        "staff_id": s.users["casey"]}]
                }]
            }]
        }]})
    };
    casey
        .post(
            &format!("/patients/{p}/treatment-plans"),
            &[],
            plan("Attend 3 groups a week"),
        )
        .await
        .expect(StatusCode::CREATED, "draft");
    let draft = format!("/patients/{p}/treatment-plans/1");
    let read = casey.get(&draft).await.expect(StatusCode::OK, "read");
    let etag = read.header(ETAG.as_str()).expect("ETag").to_owned();
    casey
        .send(
            Method::PUT,
            &draft,
            &[(IF_MATCH.as_str(), etag.as_str())],
            Some(plan("Attend 4 groups a week")),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "first writer");
    // A second writer holding the same read is refused, and nothing of theirs is saved.
    let stale = casey
        .send(
            Method::PUT,
            &draft,
            &[(IF_MATCH.as_str(), etag.as_str())],
            Some(plan("Attend 1 group a week")),
        )
        .await
        .expect(StatusCode::PRECONDITION_FAILED, "second writer");
    assert_eq!(stale.code(), "precondition_failed");
    casey
        .send(
            Method::PUT,
            &draft,
            &[(IF_MATCH.as_str(), "\"not a version\"")],
            Some(plan("Attend 1 group a week")),
        )
        .await
        .expect(StatusCode::PRECONDITION_FAILED, "a version never issued");
    let now = casey.get(&draft).await.expect(StatusCode::OK, "read again");
    assert_eq!(
        now.body["problems"][0]["goals"][0]["objectives"][0]["text"],
        "Attend 4 groups a week"
    );
    let fresh = now.header(ETAG.as_str()).expect("ETag").to_owned();
    assert_ne!(fresh, etag);
    casey
        .send(
            Method::PUT,
            &draft,
            &[(IF_MATCH.as_str(), fresh.as_str())],
            Some(plan("Attend 1 group a week")),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "with the fresh version");
}

async fn replayed_once(api: &Api, path: &str, list: &str, key: &str, body: Value) {
    let before = api.get(list).await.expect(StatusCode::OK, list).body;
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    let headers = [("Idempotency-Key", key)];
    let first = api.post(path, &headers, body.clone()).await;
    assert!(first.status.is_success(), "{path}: {}", first.body);
    assert!(first.header("idempotent-replayed").is_none(), "{path}");
    let again = api.post(path, &headers, body.clone()).await;
    assert_eq!(again.status, first.status, "{path}: {}", again.body);
    assert_eq!(again.body, first.body, "{path}");
    assert_eq!(again.header("idempotent-replayed"), Some("true"), "{path}");
    assert_eq!(
        again.header(LOCATION.as_str()),
        first.header(LOCATION.as_str()),
        "{path}"
    );
    let after = api.get(list).await.expect(StatusCode::OK, list).body;
    assert_eq!(count(&after), count(&before) + 1, "{path}: recorded once");
    let mut other = body;
    other["idempotency_test"] = json!("another body");
    let reused = api.post(path, &headers, other).await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{path}");
    assert_eq!(reused.code(), "idempotency_key_reused", "{path}");
}

#[tokio::test]
async fn a_replayed_idempotency_key_records_each_kind_of_clinical_record_once() {
    let s = start().await;
    let room = office(&s).await;
    let casey = Api::new(&s, "casey").await;
    let fran = Api::new(&s, "fran").await;
    let p = s.patient_id;
    let flags = format!("/patients/{p}/flags");
    replayed_once(
        &casey,
        &flags,
        &flags,
        "flag-1",
        json!({"severity": "moderate", "summary": "missed two groups"}),
    )
    .await;
    let diagnoses = format!("/patients/{p}/diagnoses");
    replayed_once(
        &casey,
        &diagnoses,
        &diagnoses,
        "diagnosis-1",
        json!({"code": "F10.20", "onset_on": today().to_string()}),
    )
    .await;
    let consents = format!("/patients/{p}/consents");
    replayed_once(&casey, &consents, &consents, "consent-1", consent_body()).await;
    let appointments = format!("/patients/{p}/appointments");
    replayed_once(
        &fran,
        &appointments,
        &appointments,
        "appointment-1",
        json!({
            "kind": "individual_therapy", "clinician_id": s.users["casey"], "room_id": room,
            "date": (today() + chrono::Duration::days(2)).to_string(),
            "start": "09:00", "end": "09:50", "occupants": 2,
        }),
    )
    .await;
    let notes = format!("/patients/{p}/notes");
    replayed_once(
        &casey,
        &notes,
        &notes,
        "note-1",
        json!({
            "kind": "individual", "template": "dap", "session_on": today().to_string(),
            "sections": {"data": "d", "assessment": "a", "plan": "p"},
        }),
    )
    .await;
    let availability = format!("/patients/{p}/availability");
    replayed_once(
        &fran,
        &availability,
        &availability,
        "availability-1",
        json!({"id": 0, "label": "available", "weekday": "Tue", "start": "17:00", "end": "20:00"}),
    )
    .await;
}

#[test]
fn the_document_offers_an_idempotency_key_on_every_post_that_creates_a_clinical_record() {
    let document = serde_json::to_value(trellis_web::api::openapi()).expect("document");
    let idempotent: Vec<_> = trellis_web::api::OPERATIONS
        .iter()
        .filter(|op| op.idempotent)
        .collect();
    assert!(idempotent.len() >= 25, "{}", idempotent.len());
    for op in idempotent {
        assert_eq!(op.method, "post", "{}", op.path);
        let operation = &document["paths"][op.path]["post"];
        let offered = operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
        assert!(offered, "{}", op.path);
        assert!(operation["responses"]["409"].is_object(), "{}", op.path);
    }
}

#[tokio::test]
async fn paging_through_a_list_whose_sort_keys_tie_yields_every_row_once() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let flags = format!("/patients/{}/flags", s.patient_id);
    // Flags sort by severity then time raised: raise more than a page, all alike.
    for n in 0..7 {
        casey
            .post(
                &flags,
                &[],
                json!({"severity": "moderate", "summary": format!("tie {n}")}),
            )
            .await
            .expect(StatusCode::CREATED, "raise");
    }
    let whole = casey.get(&flags).await.expect(StatusCode::OK, "whole list");
    let total: usize = whole
        .header("x-total-count")
        .and_then(|t| t.parse().ok())
        .expect("X-Total-Count");
    assert!(total >= 7);
    let mut seen = Vec::new();
    for offset in (0..total + 2).step_by(2) {
        let page = casey
            .get(&format!("{flags}?limit=2&offset={offset}"))
            .await
            .expect(StatusCode::OK, "page");
        assert_eq!(
            page.header("x-total-count"),
            Some(total.to_string().as_str())
        );
        seen.extend(
            page.body
                .as_array()
                .expect("page")
                .iter()
                .map(|f| f["id"].as_i64().expect("id")),
        );
    }
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), total, "every row once: {seen:?}");
    assert_eq!(unique.len(), total, "no row twice: {seen:?}");
    for bad in ["limit=0", "limit=501", "offset=-1", "limit=x"] {
        let refused = casey.get(&format!("{flags}?{bad}")).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    casey
        .get(&format!("{flags}?limit=500&offset=0"))
        .await
        .expect(StatusCode::OK, "the largest page");
}
