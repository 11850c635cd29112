//! The JSON API over real HTTP: every endpoint's happy path, bad input on every POST and PUT
//! (a 4xx naming the field, and nothing stored), credentials, 404/405, duplicates, the audit
//! trail, an episode from admission to discharge, and the OpenAPI document's snapshot.

mod common;

use common::*;
use reqwest::header::{ALLOW, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

/// An API client acting with one bearer token.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// A response: status, headers and the JSON body (null when empty).
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    /// The error code of a JSON error.
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The fields named by a JSON error.
    fn fields(&self) -> BTreeSet<String> {
        self.body["error"]["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn expect(self, status: StatusCode, what: &str) -> Reply {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        self
    }
}

fn names(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{status}: not JSON: {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )
        })
    };
    Reply {
        status,
        headers,
        body,
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

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("send")).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// Registers a patient and returns the id.
    async fn register(&self, s: &TestServer, first: &str, last: &str) -> i64 {
        let created = self
            .post(
                "/patients",
                json!({
                    "site_id": s.site_id,
                    "legal_first_name": first,
                    "legal_last_name": last,
                    "date_of_birth": "1984-02-29",
                    "sex": "male",
                    "pronouns": "he/him",
                }),
            )
            .await
            .expect(StatusCode::CREATED, "register");
        created.body["id"].as_i64().expect("id")
    }
}

// ---- The OpenAPI document ----

#[test]
fn openapi_document_matches_the_snapshot() {
    let generated = trellis_web::api::openapi_json().expect("document");
    if std::env::var("UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(SNAPSHOT, &generated).expect("write docs/openapi.json");
        return;
    }
    let stored = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        stored == generated,
        "docs/openapi.json is out of date with the API's annotations; \
         run `UPDATE_OPENAPI=1 cargo test -p trellis-web --test api` and commit the result"
    );
}

fn document() -> Value {
    serde_json::to_value(trellis_web::api::openapi()).expect("json")
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let routed: BTreeSet<(String, String)> = trellis_web::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        routed.len(),
        trellis_web::api::ROUTES.len(),
        "routes are unique"
    );
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            documented.insert((method.clone(), path.clone()));
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(operation_ids.insert(id.to_owned()), "duplicate id {id}");
            assert!(
                operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has a tag"
            );
        }
    }
    assert_eq!(routed, documented);
}

#[test]
fn document_declares_bearer_security_and_error_schema() {
    let doc = document();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["security"]
        .as_array()
        .expect("security")
        .contains(&json!({"bearer": []})));
    assert!(doc["components"]["schemas"]["ApiErrorBody"].is_object());
    // A possible duplicate, or (with an Idempotency-Key) the first request still being answered.
    assert_eq!(
        doc["paths"]["/patients"]["post"]["responses"]["409"]["content"]["application/json"]
            ["schema"]["anyOf"],
        json!([
            {"$ref": "#/components/schemas/PossibleDuplicate"},
            {"$ref": "#/components/schemas/ApiErrorBody"}
        ])
    );
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_needs_no_credentials() {
    let s = start().await;
    let res = reqwest::get(format!("{}/api/v1/openapi.json", s.base))
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
    let served = res.text().await.expect("text");
    assert_eq!(served, trellis_web::api::openapi_json().expect("document"));
}

// ---- Credentials, unknown routes and methods ----

#[tokio::test]
async fn missing_or_invalid_credentials_get_401_json() {
    let s = start().await;
    let client = reqwest::Client::new();
    for (method, path) in [
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/patients"),
        (Method::POST, "/api/v1/patients/search"),
    ] {
        let anonymous = reply(
            client
                .request(method.clone(), format!("{}{path}", s.base))
                .json(&json!({}))
                .send()
                .await
                .expect("send"),
        )
        .await
        .expect(StatusCode::UNAUTHORIZED, path);
        assert_eq!(anonymous.code(), "unauthenticated");
        let forged = reply(
            client
                .request(method, format!("{}{path}", s.base))
                .bearer_auth("trl_not-a-real-token")
                .json(&json!({}))
                .send()
                .await
                .expect("send"),
        )
        .await
        .expect(StatusCode::UNAUTHORIZED, path);
        assert_eq!(forged.code(), "unauthenticated");
    }
    let challenged = client
        .get(format!("{}/api/v1/me", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(challenged.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn residential_levels_are_a_transfer_not_a_level_change() {
    let s = start().await;
    let token = s.token("casey").await;
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/episodes/{}/levels", s.base, s.episode_id))
        .bearer_auth(token)
        .json(&json!({"level": "3.5", "effective_on": today().to_string(), "reason": "needs residential"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = res.json().await.expect("json");
    assert!(body["error"]["fields"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("Transferred"));
}

#[tokio::test]
async fn tokens_of_deactivated_accounts_stop_working() {
    let s = start().await;
    let admin = Api::new(&s, "ada").await;
    let casey = Api::new(&s, "casey").await;
    casey.get("/me").await.expect(StatusCode::OK, "before");
    admin
        .put(
            &format!("/users/{}", s.users["casey"]),
            json!({"display_name": "Casey", "role": "counselor", "active": false}),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "deactivate");
    let after = casey
        .get("/me")
        .await
        .expect(StatusCode::UNAUTHORIZED, "after");
    assert_eq!(after.code(), "unauthenticated");
}

#[tokio::test]
async fn undeclared_methods_get_405_json_and_unknown_paths_404_json() {
    let s = start().await;
    let api = Api::new(&s, "ada").await;
    let deleted = api
        .send(Method::DELETE, "/patients", None)
        .await
        .expect(StatusCode::METHOD_NOT_ALLOWED, "DELETE /patients");
    assert_eq!(deleted.code(), "method_not_allowed");
    let allow = deleted.headers[ALLOW].to_str().expect("ascii").to_owned();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
    for (method, path) in [
        (Method::PATCH, format!("/patients/{}", s.patient_id)),
        (Method::GET, format!("/episodes/{}/discharge", s.episode_id)),
        (Method::DELETE, "/users/1".to_owned()),
        (Method::POST, "/openapi.json".to_owned()),
    ] {
        let r = api
            .send(method.clone(), &path, None)
            .await
            .expect(StatusCode::METHOD_NOT_ALLOWED, &format!("{method} {path}"));
        assert_eq!(r.code(), "method_not_allowed");
    }
    let unknown = api
        .get("/no-such-thing")
        .await
        .expect(StatusCode::NOT_FOUND, "unknown path");
    assert_eq!(unknown.code(), "not_found");
    let missing = api
        .get("/patients/999999")
        .await
        .expect(StatusCode::NOT_FOUND, "unknown patient");
    assert_eq!(missing.code(), "not_found");
    let missing = api
        .get("/users/999999")
        .await
        .expect(StatusCode::NOT_FOUND, "unknown user");
    assert_eq!(missing.code(), "not_found");
    let doctor = Api::new(&s, "dora").await;
    let missing = doctor
        .get("/episodes/999999/levels")
        .await
        .expect(StatusCode::NOT_FOUND, "unknown episode");
    assert_eq!(missing.code(), "not_found");
    let bad_id = api
        .get("/patients/abc")
        .await
        .expect(StatusCode::BAD_REQUEST, "non-numeric id");
    assert_eq!(bad_id.code(), "bad_request");
    assert_eq!(bad_id.fields(), names(&["id"]));
}

#[tokio::test]
async fn sessions_may_call_the_api_but_state_changes_need_the_csrf_header() {
    let s = start().await;
    let b = s.browser("casey").await;
    let me = reply(
        b.client
            .get(format!("{}/api/v1/me", s.base))
            .send()
            .await
            .expect("get"),
    )
    .await
    .expect(StatusCode::OK, "session GET");
    assert_eq!(me.body["username"], "casey");
    let url = format!("{}/api/v1/patients/search", s.base);
    let without = reply(
        b.client
            .post(&url)
            .header("Origin", &s.base)
            .json(&json!({"text": "reyes"}))
            .send()
            .await
            .expect("post"),
    )
    .await
    .expect(StatusCode::FORBIDDEN, "no CSRF header");
    assert_eq!(without.code(), "csrf_failed");
    let with = reply(
        b.client
            .post(&url)
            .header("Origin", &s.base)
            .header("X-CSRF-Token", &b.csrf)
            .json(&json!({"text": "reyes"}))
            .send()
            .await
            .expect("post"),
    )
    .await
    .expect(StatusCode::OK, "with CSRF header");
    assert_eq!(with.body["patients"][0]["id"], s.patient_id);
}

// ---- Account and reference data ----

#[tokio::test]
async fn me_sites_programs_and_counselors() {
    let s = start().await;
    let api = Api::new(&s, "casey").await;
    let me = api.get("/me").await.expect(StatusCode::OK, "me");
    assert_eq!(me.body["user_id"], s.users["casey"]);
    assert_eq!(me.body["role"], "counselor");
    assert!(me.body["display_name"]
        .as_str()
        .is_some_and(|n| n.starts_with("casey")));
    let permissions: Vec<&str> = me.body["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(permissions.contains(&"read_clinical"));
    assert!(permissions.contains(&"discharge_episode"));
    assert!(!permissions.contains(&"manage_users"));

    let sites = api.get("/sites").await.expect(StatusCode::OK, "sites");
    assert_eq!(sites.body[0]["id"], s.site_id);
    assert_eq!(sites.body[0]["timezone"], "America/New_York");
    let programs = api
        .get("/programs")
        .await
        .expect(StatusCode::OK, "programs");
    let program_ids: Vec<i64> = programs
        .body
        .as_array()
        .expect("programs")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert_eq!(program_ids.len(), 2);
    assert!(program_ids.contains(&s.program_id) && program_ids.contains(&s.other_program_id));
    assert_eq!(programs.body[0]["level_of_care"], "2.1");

    let counselors = api
        .get("/counselors")
        .await
        .expect(StatusCode::OK, "counselors");
    let rows = counselors.body.as_array().expect("counselors");
    let ids: BTreeSet<i64> = rows.iter().filter_map(|c| c["id"].as_i64()).collect();
    assert_eq!(
        ids,
        [s.users["casey"], s.users["olive"], s.users["dora"]]
            .into_iter()
            .collect()
    );
    for row in rows {
        let keys: Vec<&String> = row.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["id", "name"], "id and name only");
    }
}

#[tokio::test]
async fn dashboard_shows_the_caseload_and_todays_admissions() {
    let s = start().await;
    let intake = Api::new(&s, "ingrid").await;
    let id = intake.register(&s, "Omar", "Bell").await;
    intake
        .post(
            &format!("/patients/{id}/episodes"),
            json!({
                "program_id": s.program_id,
                "admitted_on": clinic_today(),
                "referral_source": "Self or family",
                "primary_counselor_id": s.users["casey"],
                "level": "2.1",
                "reason": "ASAM: D5 at 2",
            }),
        )
        .await
        .expect(StatusCode::CREATED, "admit");
    let casey = Api::new(&s, "casey").await;
    let dash = casey
        .get("/dashboard")
        .await
        .expect(StatusCode::OK, "dashboard");
    let caseload: Vec<i64> = dash.body["caseload"]
        .as_array()
        .expect("caseload")
        .iter()
        .filter_map(|c| c["patient_id"].as_i64())
        .collect();
    assert!(caseload.contains(&s.patient_id) && caseload.contains(&id));
    assert!(!caseload.contains(&s.other_patient_id));
    assert_eq!(dash.body["admissions"][0]["patient_id"], id);
    assert_eq!(dash.body["admissions"][0]["mrn"], format!("TR{id:06}"));
    let desk = Api::new(&s, "fran").await;
    let dash = desk
        .get("/dashboard")
        .await
        .expect(StatusCode::OK, "front desk");
    assert!(
        dash.body["caseload"].is_null(),
        "no caseload for front desk"
    );
    assert_eq!(dash.body["admissions"][0]["patient_id"], id);
}

/// Today at the test clinic (America/New_York), the day the server validates dates against.
fn clinic_today() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive()
        .to_string()
}

// ---- Patients ----

#[tokio::test]
async fn list_and_search_stay_within_the_callers_view_and_are_audited() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let list = casey.get("/patients").await.expect(StatusCode::OK, "list");
    let ids: Vec<i64> = list.body["patients"]
        .as_array()
        .expect("patients")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![s.patient_id], "only casey's program");
    let row = &list.body["patients"][0];
    assert_eq!(row["name"], "Dana Reyes");
    assert_eq!(row["status"], "in_treatment");
    assert_eq!(row["current_level"], "2.1");
    assert_eq!(list.body["has_more"], false);

    let dora = Api::new(&s, "dora").await;
    let first = dora
        .get("/patients?limit=1")
        .await
        .expect(StatusCode::OK, "page 1");
    assert_eq!(first.body["patients"].as_array().map(Vec::len), Some(1));
    assert_eq!(first.body["has_more"], true);
    let second = dora
        .get("/patients?limit=1&offset=1")
        .await
        .expect(StatusCode::OK, "page 2");
    assert_eq!(second.body["has_more"], false);
    assert_ne!(
        first.body["patients"][0]["id"],
        second.body["patients"][0]["id"]
    );

    for (text, expected) in [
        ("reyes", Some(s.patient_id)),
        ("Dana Reyes", Some(s.patient_id)),
        ("Reyes, D", Some(s.patient_id)),
        (&format!("TR{:06}", s.patient_id)[..], Some(s.patient_id)),
        ("1990-05-17", Some(s.patient_id)),
        ("park", None),
    ] {
        let found = casey
            .post("/patients/search", json!({"text": text}))
            .await
            .expect(StatusCode::OK, text);
        let ids: Vec<i64> = found.body["patients"]
            .as_array()
            .expect("patients")
            .iter()
            .filter_map(|p| p["id"].as_i64())
            .collect();
        assert_eq!(ids, expected.into_iter().collect::<Vec<_>>(), "{text}");
    }
    let open = dora
        .post("/patients/search", json!({"text": "", "open_only": true}))
        .await
        .expect(StatusCode::OK, "open only");
    assert_eq!(open.body["patients"].as_array().map(Vec::len), Some(2));

    let audit = s.store.clone();
    let rows = audit_rows(&audit, "casey").await;
    assert!(rows
        .iter()
        .any(|r| r.action == "search" && r.record_type == "patient"));
}

async fn audit_rows(
    store: &trellis_storage::Store,
    username: &str,
) -> Vec<trellis_storage::audit::AuditRow> {
    let grant = store
        .grant::<trellis_storage::access::can::ReadAudit>(&trellis_storage::access::Actor::system(
            "test",
        ))
        .expect("grant");
    store
        .search_audit(
            &grant,
            &trellis_storage::audit::AuditQuery {
                username: Some(username.to_owned()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
}

#[tokio::test]
async fn registration_warns_on_duplicates_then_creates_on_confirmation() {
    let s = start().await;
    let intake = Api::new(&s, "ingrid").await;
    let same_person = json!({
        "site_id": s.site_id,
        "legal_first_name": "dana",
        "legal_last_name": "REYES",
        "date_of_birth": "1990-05-17",
        "sex": "female",
    });
    let dup = intake
        .post("/patients", same_person.clone())
        .await
        .expect(StatusCode::CONFLICT, "duplicate");
    assert_eq!(dup.code(), "possible_duplicate");
    assert_eq!(dup.body["error"]["fields"], json!([]));
    let candidate = &dup.body["candidates"][0];
    assert_eq!(candidate["patient_id"], s.patient_id);
    assert_eq!(candidate["mrn"], format!("TR{:06}", s.patient_id));
    assert_eq!(candidate["name"], "Dana Reyes");
    assert_eq!(candidate["date_of_birth"], "1990-05-17");
    let found = intake
        .post("/patients/search", json!({"text": "1990-05-17"}))
        .await
        .expect(StatusCode::OK, "search");
    assert_eq!(
        found.body["patients"].as_array().map(Vec::len),
        Some(2),
        "nothing was registered (Dana and Lee share the date)"
    );
    assert!(s
        .audit_for(s.patient_id)
        .await
        .iter()
        .any(|r| r.action == "duplicate_shown" && r.username == "ingrid"));

    let mut confirmed = same_person;
    confirmed["confirm_new"] = json!(true);
    let created = intake
        .post("/patients", confirmed)
        .await
        .expect(StatusCode::CREATED, "confirmed");
    let id = created.body["id"].as_i64().expect("id");
    assert_eq!(created.body["mrn"], format!("TR{id:06}"));
    assert_eq!(
        created.headers[LOCATION].to_str().expect("ascii"),
        format!("/api/v1/patients/{id}")
    );
    let patient = intake
        .get(&format!("/patients/{id}"))
        .await
        .expect(StatusCode::OK, "get");
    assert_eq!(patient.body["legal_first_name"], "dana");
    assert_eq!(patient.body["site_id"], s.site_id);
    let audit = s.audit_for(id).await;
    assert!(audit
        .iter()
        .any(|r| r.action == "create" && r.detail == "registered after duplicate warning"));
}

#[tokio::test]
async fn demographics_read_and_update_are_audited() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let path = format!("/patients/{}", s.patient_id);
    let p = casey.get(&path).await.expect(StatusCode::OK, "read");
    assert_eq!(p.body["display_name"], "Dana Reyes");
    assert_eq!(p.body["mrn"], format!("TR{:06}", s.patient_id));
    assert_eq!(p.body["pronouns"], "she/her");
    assert_eq!(p.body["date_of_birth"], "1990-05-17");
    assert!(p.body["age"].as_i64().is_some_and(|a| a >= 35));
    casey
        .put(
            &path,
            json!({
                "legal_first_name": "Dana",
                "legal_last_name": "Reyes",
                "preferred_name": "Dee",
                "date_of_birth": "1990-05-17",
                "sex": "female",
                "pronouns": "they/them",
                "phone": "555-010-2000",
            }),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "update");
    let p = casey.get(&path).await.expect(StatusCode::OK, "read again");
    assert_eq!(p.body["display_name"], "Dee Reyes");
    assert_eq!(p.body["pronouns"], "they/them");
    assert_eq!(p.body["phone"], "555-010-2000");
    let audit = s.audit_for(s.patient_id).await;
    let by_casey: Vec<&str> = audit
        .iter()
        .filter(|r| r.username == "casey" && r.record_type == "patient")
        .map(|r| r.action.as_str())
        .collect();
    assert!(by_casey.contains(&"read") && by_casey.contains(&"update"));
    assert!(
        audit
            .iter()
            .filter(|r| r.username == "casey")
            .all(|r| r.request_id.is_some() && r.ip.is_some()),
        "API audit rows carry the request id and address"
    );
}

#[tokio::test]
async fn counselor_is_denied_a_patient_outside_their_programs_and_it_is_audited() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    for path in [
        format!("/patients/{}", s.other_patient_id),
        format!("/patients/{}/episodes", s.other_patient_id),
    ] {
        let denied = casey.get(&path).await.expect(StatusCode::FORBIDDEN, &path);
        assert_eq!(denied.code(), "forbidden");
        assert!(
            !denied.body.to_string().contains("Park"),
            "a denial reveals nothing about the patient"
        );
    }
    let audit = s.audit_for(s.other_patient_id).await;
    assert!(audit
        .iter()
        .any(|r| r.username == "casey" && r.action == "access_denied"));
}

// ---- Episodes ----

#[tokio::test]
async fn admit_change_level_and_discharge() {
    let s = start().await;
    let intake = Api::new(&s, "ingrid").await;
    let casey = Api::new(&s, "casey").await;
    let id = intake.register(&s, "Omar", "Bell").await;
    let admitted = intake
        .post(
            &format!("/patients/{id}/episodes"),
            json!({
                "program_id": s.program_id,
                "admitted_on": clinic_today(),
                "referral_source": "Employer or EAP",
                "primary_counselor_id": s.users["casey"],
                "level": "2.1",
                "reason": "ASAM: D3 and D5 at 2",
            }),
        )
        .await
        .expect(StatusCode::CREATED, "admit");
    let episode = admitted.body["id"].as_i64().expect("episode id");
    let again = intake
        .post(
            &format!("/patients/{id}/episodes"),
            json!({
                "program_id": s.program_id,
                "admitted_on": clinic_today(),
                "referral_source": "Self or family",
                "level": "2.1",
                "reason": "again",
            }),
        )
        .await
        .expect(StatusCode::CONFLICT, "second open episode");
    assert_eq!(again.code(), "conflict");

    let episodes = casey
        .get(&format!("/patients/{id}/episodes"))
        .await
        .expect(StatusCode::OK, "episodes");
    let e = &episodes.body[0];
    assert_eq!(e["id"], episode);
    assert_eq!(e["status"], "active");
    assert_eq!(e["current_level"], "2.1");
    assert_eq!(e["referral_source"], "Employer or EAP");
    assert_eq!(e["primary_counselor_id"], s.users["casey"]);

    let changed = casey
        .post(
            &format!("/episodes/{episode}/levels"),
            json!({"level": "2.5", "effective_on": clinic_today(), "reason": "Relapse; needs more structure"}),
        )
        .await
        .expect(StatusCode::CREATED, "change level");
    assert_eq!(changed.body["level"], "2.5");
    let history = casey
        .get(&format!("/episodes/{episode}/levels"))
        .await
        .expect(StatusCode::OK, "history");
    let levels: Vec<&str> = history
        .body
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["level"].as_str())
        .collect();
    assert_eq!(levels, ["2.1", "2.5"]);
    assert_eq!(history.body[1]["reason"], "Relapse; needs more structure");
    assert_eq!(history.body[1]["decided_by"], s.users["casey"]);

    casey
        .post(
            &format!("/episodes/{episode}/discharge"),
            json!({"discharged_on": clinic_today(), "reason": 4, "note": "to residential"}),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "discharge");
    let episodes = casey
        .get(&format!("/patients/{id}/episodes"))
        .await
        .expect(StatusCode::OK, "episodes");
    assert_eq!(episodes.body[0]["status"], "discharged");
    assert_eq!(episodes.body[0]["discharge_reason"], 4);
    assert_eq!(episodes.body[0]["discharge_note"], "to residential");
    assert_eq!(episodes.body[0]["current_level"], "2.5");
    let twice = casey
        .post(
            &format!("/episodes/{episode}/discharge"),
            json!({"discharged_on": clinic_today(), "reason": 1}),
        )
        .await
        .expect(StatusCode::CONFLICT, "discharged twice");
    assert_eq!(twice.code(), "conflict");
    casey
        .post(
            &format!("/episodes/{episode}/levels"),
            json!({"level": "1", "effective_on": clinic_today(), "reason": "step down"}),
        )
        .await
        .expect(StatusCode::CONFLICT, "level change after discharge");

    let actions: Vec<String> = s
        .audit_for(id)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    for action in ["admit", "change_level", "discharge", "read"] {
        assert!(actions.iter().any(|a| a == action), "{action} audited");
    }
}

// ---- Bad input: a 4xx naming the field, and nothing stored ----

#[tokio::test]
async fn bad_patient_input_names_the_field_and_stores_nothing() {
    let s = start().await;
    let intake = Api::new(&s, "ingrid").await;
    let cases = [
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &[
                "site_id",
                "legal_first_name",
                "legal_last_name",
                "date_of_birth",
                "sex",
            ][..],
        ),
        (
            json!({"site_id": "one", "legal_first_name": "Zed", "legal_last_name": "Quill"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["site_id"][..],
        ),
        (
            json!({"site_id": s.site_id, "legal_first_name": "Zed", "legal_last_name": "Quill",
                   "date_of_birth": "17/05/1990", "sex": "robot", "email": "nope"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["date_of_birth", "sex", "email"][..],
        ),
        // Well-formed but naming no site: it does not fit what is stored.
        (
            json!({"site_id": 999, "legal_first_name": "Zed", "legal_last_name": "Quill",
                   "date_of_birth": "1990-05-17", "sex": "male"}),
            StatusCode::CONFLICT,
            &["site_id"][..],
        ),
        (
            json!({"site_id": s.site_id, "legal_first_name": 7, "legal_last_name": "Quill"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["legal_first_name"][..],
        ),
    ];
    for (body, status, fields) in cases {
        let r = intake
            .post("/patients", body.clone())
            .await
            .expect(status, &body.to_string());
        let code = if status == StatusCode::CONFLICT {
            "conflict"
        } else {
            "validation_failed"
        };
        assert_eq!(r.code(), code, "{body}");
        assert_eq!(r.fields(), names(fields), "{body}");
        assert!(
            !r.body.to_string().contains("robot") && !r.body.to_string().contains("17/05/1990"),
            "errors do not repeat the values sent"
        );
    }
    let not_json = reply(
        intake
            .request(Method::POST, "/patients")
            .header(CONTENT_TYPE, "application/json")
            .body("{\"site_id\": ")
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect(StatusCode::BAD_REQUEST, "truncated JSON");
    assert_eq!(not_json.code(), "bad_request");
    let form = reply(
        intake
            .request(Method::POST, "/patients")
            .form(&[("legal_first_name", "Zed")])
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, "form body");
    assert_eq!(form.code(), "unsupported_media_type");
    let huge = reply(
        intake
            .request(Method::POST, "/patients")
            .header(CONTENT_TYPE, "application/json")
            .body(vec![b' '; 3 * 1024 * 1024])
            .send()
            .await
            .expect("send"),
    )
    .await
    .expect(StatusCode::PAYLOAD_TOO_LARGE, "3 MiB body");
    assert_eq!(huge.code(), "payload_too_large");
    let found = intake
        .post("/patients/search", json!({"text": "quill"}))
        .await
        .expect(StatusCode::OK, "search");
    assert_eq!(found.body["patients"], json!([]), "nothing was registered");

    let path = format!("/patients/{}", s.patient_id);
    let r = intake
        .put(
            &path,
            json!({"legal_first_name": "", "legal_last_name": "Reyes", "date_of_birth": "1990-05-17",
                   "sex": "female", "phone": "call me"}),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "bad update");
    assert_eq!(r.fields(), names(&["legal_first_name", "phone"]));
    let r = intake
        .put(&path, json!({"legal_first_name": ["Dana"]}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "wrong type");
    assert_eq!(r.fields(), names(&["legal_first_name"]));
    let p = intake.get(&path).await.expect(StatusCode::OK, "unchanged");
    assert_eq!(p.body["legal_first_name"], "Dana");
    assert_eq!(p.body["phone"], Value::Null);

    for (body, fields) in [
        (json!({"text": 5}), &["text"][..]),
        (json!({"text": "x".repeat(101)}), &["text"][..]),
        (json!({"limit": 0, "offset": -1}), &["limit", "offset"][..]),
    ] {
        let r = intake
            .post("/patients/search", body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    for (query, field) in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("offset=-3", "offset"),
    ] {
        let r = intake
            .get(&format!("/patients?{query}"))
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, query);
        assert_eq!(r.fields(), names(&[field]), "{query}");
    }
}

#[tokio::test]
async fn bad_episode_input_names_the_field_and_stores_nothing() {
    let s = start().await;
    let intake = Api::new(&s, "ingrid").await;
    let casey = Api::new(&s, "casey").await;
    let id = intake.register(&s, "Omar", "Bell").await;
    let admit = format!("/patients/{id}/episodes");
    for (body, fields) in [
        (
            json!({}),
            &[
                "program_id",
                "admitted_on",
                "referral_source",
                "level",
                "reason",
            ][..],
        ),
        (json!({"program_id": "adult"}), &["program_id"][..]),
        (
            json!({"program_id": s.program_id, "admitted_on": "tomorrow", "referral_source": "Self",
                   "level": "9.9", "reason": "x"}),
            &["admitted_on", "level"][..],
        ),
        (
            json!({"program_id": 999, "admitted_on": clinic_today(), "referral_source": "Self",
                   "level": "2.1", "reason": "x"}),
            &["program_id"][..],
        ),
        (
            json!({"program_id": s.program_id, "admitted_on": clinic_today(), "referral_source": "Self",
                   "primary_counselor_id": s.users["fran"], "level": "2.1", "reason": "x"}),
            &["primary_counselor_id"][..],
        ),
        (
            json!({"program_id": s.program_id, "admitted_on": "2001-01-01", "referral_source": "Self",
                   "level": "2.1", "reason": "x"}),
            &["admitted_on"][..],
        ),
    ] {
        let r = intake
            .post(&admit, body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.code(), "validation_failed");
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    let episodes = intake.get(&admit).await.expect(StatusCode::OK, "episodes");
    assert_eq!(episodes.body, json!([]), "no episode was opened");

    let levels = format!("/episodes/{}/levels", s.episode_id);
    for (body, fields) in [
        (json!({}), &["level", "effective_on", "reason"][..]),
        (
            json!({"level": "9.9", "effective_on": "tomorrow", "reason": ""}),
            &["level", "effective_on", "reason"][..],
        ),
        (
            json!({"level": "2.1", "effective_on": clinic_today(), "reason": "same"}),
            &["level"][..],
        ),
        (
            json!({"level": "2.5", "effective_on": "2001-01-01", "reason": "too early"}),
            &["effective_on"][..],
        ),
        (json!({"level": 2.5}), &["level"][..]),
    ] {
        let r = casey
            .post(&levels, body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    let history = casey.get(&levels).await.expect(StatusCode::OK, "history");
    assert_eq!(history.body.as_array().map(Vec::len), Some(1), "unchanged");

    let discharge = format!("/episodes/{}/discharge", s.episode_id);
    for (body, fields) in [
        (json!({}), &["discharged_on", "reason"][..]),
        (
            json!({"discharged_on": clinic_today(), "reason": 9}),
            &["reason"][..],
        ),
        (
            json!({"discharged_on": clinic_today(), "reason": "four"}),
            &["reason"][..],
        ),
        (
            json!({"discharged_on": "2001-01-01", "reason": 1}),
            &["discharged_on"][..],
        ),
        (
            json!({"discharged_on": clinic_today(), "reason": 1, "note": "n".repeat(2001)}),
            &["note"][..],
        ),
    ] {
        let r = casey
            .post(&discharge, body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    let episodes = casey
        .get(&format!("/patients/{}/episodes", s.patient_id))
        .await
        .expect(StatusCode::OK, "episodes");
    assert_eq!(episodes.body[0]["status"], "active", "still open");
}

#[tokio::test]
async fn bad_staff_input_names_the_field_and_stores_nothing() {
    let s = start().await;
    let admin = Api::new(&s, "ada").await;
    let before = admin.get("/users").await.expect(StatusCode::OK, "users");
    for (body, status, fields) in [
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["role", "display_name", "password"][..],
        ),
        (
            json!({"username": "New Person", "display_name": "N", "role": "counselor",
                   "password": "long enough password"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["username"][..],
        ),
        (
            json!({"username": "np", "display_name": "N", "role": "wizard", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["role", "password"][..],
        ),
        (
            json!({"username": "casey", "display_name": "Another Casey", "role": "counselor",
                   "password": "long enough password"}),
            StatusCode::CONFLICT,
            &[][..],
        ),
    ] {
        let r = admin
            .post("/users", body.clone())
            .await
            .expect(status, &body.to_string());
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    let after = admin.get("/users").await.expect(StatusCode::OK, "users");
    assert_eq!(before.body, after.body, "no account was created");

    let olive = format!("/users/{}", s.users["olive"]);
    for (body, status, fields) in [
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["display_name", "role", "active"][..],
        ),
        (
            json!({"display_name": "Olive", "role": "counselor", "active": "yes"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            &["active"][..],
        ),
    ] {
        let r = admin
            .put(&olive, body.clone())
            .await
            .expect(status, &body.to_string());
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    let own = admin
        .put(
            &format!("/users/{}", s.users["ada"]),
            json!({"display_name": "Ada", "role": "counselor", "active": true}),
        )
        .await
        .expect(StatusCode::CONFLICT, "self-demotion");
    assert_eq!(own.code(), "conflict");

    let assignments = format!("{olive}/assignments");
    for (body, fields) in [
        (json!({}), &[][..]),
        (json!([{"program_id": s.program_id}]), &["[0].site_id"][..]),
        (json!([{"site_id": "downtown"}]), &["[0].site_id"][..]),
    ] {
        let r = admin
            .put(&assignments, body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.code(), "validation_failed");
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    // Well-formed, but naming a site that does not exist or a program at another site.
    for body in [
        json!([{"site_id": 999}]),
        json!([{"site_id": 999, "program_id": s.program_id}]),
    ] {
        let r = admin
            .put(&assignments, body.clone())
            .await
            .expect(StatusCode::CONFLICT, &body.to_string());
        assert_eq!(r.code(), "conflict");
        assert_eq!(r.fields(), names(&["assignments"]), "{body}");
    }
    let detail = admin.get(&olive).await.expect(StatusCode::OK, "olive");
    assert_eq!(detail.body["display_name"], "olive (Counselor)");
    assert_eq!(
        detail.body["assignments"][0]["program_id"], s.other_program_id,
        "assignments unchanged"
    );

    let password = format!("{olive}/password");
    for body in [
        json!({}),
        json!({"password": "short"}),
        json!({"password": 12}),
    ] {
        let r = admin
            .post(&password, body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.fields(), names(&["password"]), "{body}");
    }
    s.browser("olive").await; // the old password still works

    let before = admin
        .get("/mfa-policy")
        .await
        .expect(StatusCode::OK, "policy");
    for body in [
        json!({}),
        json!({"mfa_required": ["wizard"]}),
        json!({"mfa_required": "admin"}),
    ] {
        let r = admin
            .put("/mfa-policy", body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.fields(), names(&["mfa_required"]), "{body}");
    }
    let after = admin
        .get("/mfa-policy")
        .await
        .expect(StatusCode::OK, "policy");
    assert_eq!(before.body, after.body, "policy unchanged");
}

// ---- Staff administration ----

/// A second person (the privacy officer) approves the one role waiting.
async fn approve_the_open_role(privacy: &Api) {
    let pending = privacy
        .get("/role-approvals")
        .await
        .expect(StatusCode::OK, "approvals");
    let approval = pending.body[0]["id"].as_i64().expect("approval");
    privacy
        .send(
            Method::POST,
            &format!("/role-approvals/{approval}/approve"),
            None,
        )
        .await
        .expect(StatusCode::NO_CONTENT, "approve");
}

#[tokio::test]
async fn administrators_manage_accounts_assignments_passwords_and_mfa_policy() {
    let s = start().await;
    let admin = Api::new(&s, "ada").await;
    let users = admin.get("/users").await.expect(StatusCode::OK, "users");
    assert_eq!(users.body.as_array().map(Vec::len), Some(STAFF.len()));
    let created = admin
        .post(
            "/users",
            json!({"username": "Quinn", "display_name": "Quinn Ortiz", "email": "quinn@example.org",
                   "role": "counselor", "password": "a long first password"}),
        )
        .await
        .expect(StatusCode::CREATED, "create");
    let id = created.body["id"].as_i64().expect("id");
    let path = format!("/users/{id}");
    assert_eq!(
        created.headers[LOCATION].to_str().expect("ascii"),
        format!("/api/v1{path}")
    );
    // A counselor reads clinical records: the account waits, inactive, for a second person.
    let user = admin.get(&path).await.expect(StatusCode::OK, "get");
    assert_eq!(user.body["username"], "quinn");
    assert_eq!(user.body["role"], "counselor");
    assert_eq!(user.body["active"], false);
    assert_eq!(user.body["locked"], false);
    assert_eq!(user.body["assignments"], json!([]));
    let privacy = Api::new(&s, "pat").await;
    approve_the_open_role(&privacy).await;
    let user = admin.get(&path).await.expect(StatusCode::OK, "get");
    assert_eq!(user.body["active"], true);

    let proposed = admin
        .put(
            &path,
            json!({"display_name": "Quinn O.", "role": "clinical_director", "active": true}),
        )
        .await
        .expect(StatusCode::ACCEPTED, "update");
    assert!(proposed.body["approval_id"].as_i64().is_some());
    let user = admin.get(&path).await.expect(StatusCode::OK, "get");
    assert_eq!(user.body["role"], "counselor", "the role waits");
    approve_the_open_role(&privacy).await;
    admin
        .put(
            &format!("{path}/assignments"),
            json!([{"site_id": s.site_id}, {"site_id": s.site_id, "program_id": s.program_id}]),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "assign");
    let user = admin.get(&path).await.expect(StatusCode::OK, "get");
    assert_eq!(user.body["display_name"], "Quinn O.");
    assert_eq!(user.body["role"], "clinical_director");
    let assigned: BTreeSet<Option<i64>> = user.body["assignments"]
        .as_array()
        .expect("assignments")
        .iter()
        .map(|a| a["program_id"].as_i64())
        .collect();
    assert_eq!(assigned, [None, Some(s.program_id)].into_iter().collect());

    admin
        .post(
            &format!("{path}/password"),
            json!({"password": "a brand new passphrase"}),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "password");
    let login = s
        .store
        .login("quinn", "a brand new passphrase", "127.0.0.9")
        .await
        .expect("login");
    assert!(matches!(
        login,
        trellis_storage::staff::LoginOutcome::Success(_)
    ));
    for _ in 0..trellis_storage::staff::LOCKOUT_THRESHOLD {
        s.store
            .login("quinn", "wrong password", "127.0.0.9")
            .await
            .expect("login");
    }
    // Paused for that address; the administrator's unlock lifts it.
    assert!(matches!(
        s.store
            .login("quinn", "a brand new passphrase", "127.0.0.9")
            .await
            .expect("login"),
        trellis_storage::staff::LoginOutcome::Locked(_)
    ));
    admin
        .send(Method::POST, &format!("{path}/unlock"), None)
        .await
        .expect(StatusCode::NO_CONTENT, "unlock");
    let unlocked = admin.get(&path).await.expect(StatusCode::OK, "unlocked");
    assert_eq!(unlocked.body["locked"], false);
    assert!(matches!(
        s.store
            .login("quinn", "a brand new passphrase", "127.0.0.9")
            .await
            .expect("login"),
        trellis_storage::staff::LoginOutcome::Success(_)
    ));
    admin
        .send(Method::POST, "/users/999999/unlock", None)
        .await
        .expect(StatusCode::NOT_FOUND, "unlock unknown");

    admin
        .put(
            "/mfa-policy",
            json!({"mfa_required": ["admin", "privacy_officer"]}),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "policy");
    let policy = admin
        .get("/mfa-policy")
        .await
        .expect(StatusCode::OK, "policy");
    let required: Vec<&str> = policy
        .body
        .as_array()
        .expect("policy")
        .iter()
        .filter(|p| p["mfa_required"] == true)
        .filter_map(|p| p["role"].as_str())
        .collect();
    assert_eq!(required, ["admin", "privacy_officer"]);

    let actions: Vec<String> = audit_rows(&s.store, "ada")
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    for action in [
        "create",
        "update",
        "set_assignments",
        "set_password",
        "unlock",
        "set_mfa_policy",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} audited");
    }
}

// ---- The audit log ----

#[tokio::test]
async fn audit_search_and_verification() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    casey
        .get(&format!("/patients/{}", s.patient_id))
        .await
        .expect(StatusCode::OK, "read");
    let privacy = Api::new(&s, "pat").await;
    let rows = privacy
        .get(&format!(
            "/audit?patient_id={}&username=CASEY&limit=10",
            s.patient_id
        ))
        .await
        .expect(StatusCode::OK, "search");
    let entries = rows.body.as_array().expect("rows");
    assert!(!entries.is_empty());
    assert!(entries
        .iter()
        .all(|r| r["username"] == "casey" && r["patient_id"] == s.patient_id));
    assert!(entries
        .iter()
        .any(|r| r["action"] == "read" && r["record_type"] == "patient"));
    assert!(entries[0]["hash"].as_str().is_some_and(|h| h.len() == 64));

    let now = chrono::Utc::now();
    let window = format!(
        "/audit?from={}&to={}",
        (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
    );
    let recent = privacy.get(&window).await.expect(StatusCode::OK, "window");
    assert!(!recent.body.as_array().expect("rows").is_empty());
    let future = privacy
        .get(&format!(
            "/audit?from={}",
            (now + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
        ))
        .await
        .expect(StatusCode::OK, "future");
    assert_eq!(future.body, json!([]));
    for (query, fields) in [
        ("from=yesterday&to=2026-13-01", &["from", "to"][..]),
        ("to=", &["to"][..]),
        ("limit=0", &["limit"][..]),
        ("patient_id=TR000001", &["patient_id"][..]),
    ] {
        let r = privacy
            .get(&format!("/audit?{query}"))
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, query);
        assert_eq!(r.fields(), names(fields), "{query}");
    }
    // Pages are keyed by row id: the second page starts below the first one's last row,
    // overlaps nothing, and the last page says no more follow.
    let first = privacy
        .get("/audit?limit=2")
        .await
        .expect(StatusCode::OK, "first page");
    assert_eq!(first.headers["x-has-more"], "true");
    let next: i64 = first.headers["x-next-before"]
        .to_str()
        .expect("header")
        .parse()
        .expect("row id");
    let first_ids: Vec<i64> = first
        .body
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(first_ids.len(), 2);
    assert_eq!(*first_ids.last().expect("last"), next);
    let second = privacy
        .get(&format!("/audit?limit=2&before={next}"))
        .await
        .expect(StatusCode::OK, "second page");
    assert!(second
        .body
        .as_array()
        .expect("rows")
        .iter()
        .all(|r| r["id"].as_i64().is_some_and(|id| id < next)));
    let oldest = privacy
        .get("/audit?limit=1000&before=2")
        .await
        .expect(StatusCode::OK, "oldest page");
    assert_eq!(oldest.body.as_array().expect("rows").len(), 1);
    assert_eq!(oldest.headers["x-has-more"], "false");
    assert!(oldest.headers.get("x-next-before").is_none());
    let r = privacy
        .get("/audit?before=0")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "before=0");
    assert_eq!(r.fields(), names(&["before"]));

    let searches = audit_rows(&s.store, "pat").await;
    assert!(searches
        .iter()
        .any(|r| r.action == "search" && r.record_type == "audit_log"));

    let v = privacy
        .send(Method::POST, "/audit/verify", None)
        .await
        .expect(StatusCode::OK, "verify");
    assert_eq!(v.body["intact"], true);
    assert!(v.body["rows"].as_i64().is_some_and(|n| n > 0));
    assert_eq!(v.body["problems"], json!([]));
    casey.get("/audit").await.expect(
        StatusCode::FORBIDDEN,
        "counselors do not read the audit log",
    );
}

// ---- Safety flags and tasks ----

#[tokio::test]
async fn a_flag_opens_tasks_that_only_their_assignees_may_close() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let flags = format!("/patients/{}/flags", s.patient_id);
    for (body, fields) in [
        (json!({}), &["severity", "summary"][..]),
        (
            json!({"severity": "extreme", "summary": "x"}),
            &["severity"][..],
        ),
        (
            json!({"severity": "high", "summary": "x".repeat(201)}),
            &["summary"][..],
        ),
    ] {
        let r = casey
            .post(&flags, body.clone())
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, &body.to_string());
        assert_eq!(r.fields(), names(fields), "{body}");
    }
    let none = casey.get(&flags).await.expect(StatusCode::OK, "no flags");
    assert_eq!(none.body, json!([]), "bad input raised nothing");
    let desk = Api::new(&s, "fran").await;
    desk.post(&flags, json!({"severity": "high", "summary": "x"}))
        .await
        .expect(
            StatusCode::FORBIDDEN,
            "front desk writes no clinical content",
        );

    let raised = casey
        .post(
            &flags,
            json!({"severity": "high", "summary": "Disclosed a plan to overdose"}),
        )
        .await
        .expect(StatusCode::CREATED, "raise");
    let flag_id = raised.body["id"].as_i64().expect("flag id");
    let open = casey.get(&flags).await.expect(StatusCode::OK, "flags");
    assert_eq!(open.body[0]["id"], flag_id);
    assert_eq!(open.body[0]["severity"], "high");
    assert_eq!(open.body[0]["kind"], "manual");

    let mine = casey.get("/tasks").await.expect(StatusCode::OK, "tasks");
    let task = mine.body[0].clone();
    assert_eq!(task["flag_id"], flag_id);
    assert_eq!(task["assigned_to"], s.users["casey"]);
    assert_eq!(task["priority"], "urgent");
    let dash = casey
        .get("/dashboard")
        .await
        .expect(StatusCode::OK, "dashboard");
    assert_eq!(dash.body["tasks"][0]["id"], task["id"]);
    let dora = Api::new(&s, "dora").await;
    let directors = dora.get("/tasks").await.expect(StatusCode::OK, "tasks");
    assert_eq!(directors.body[0]["assigned_role"], "clinical_director");

    let complete = format!("/tasks/{}/complete", task["id"]);
    let priya = Api::new(&s, "priya").await;
    let refused = priya
        .post(&complete, json!({"outcome": "not mine to answer"}))
        .await
        .expect(StatusCode::FORBIDDEN, "someone else's task");
    assert_eq!(refused.code(), "forbidden");
    let empty = casey
        .post(&complete, json!({"outcome": "  "}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "empty outcome");
    assert_eq!(empty.fields(), names(&["outcome"]));
    casey
        .post("/tasks/999999/complete", json!({"outcome": "done"}))
        .await
        .expect(StatusCode::NOT_FOUND, "unknown task");
    casey
        .post(
            &complete,
            json!({"outcome": "Safety plan with patient and partner; psychiatry same day"}),
        )
        .await
        .expect(StatusCode::NO_CONTENT, "complete");
    let after = casey.get(&flags).await.expect(StatusCode::OK, "flags");
    assert_eq!(after.body, json!([]), "the flag is resolved");
    let left = dora.get("/tasks").await.expect(StatusCode::OK, "tasks");
    assert_eq!(left.body, json!([]), "its sibling task closed too");
    let again = casey
        .post(&complete, json!({"outcome": "again"}))
        .await
        .expect(StatusCode::CONFLICT, "already done");
    assert_eq!(again.code(), "conflict");
    let actions: Vec<String> = s
        .audit_for(s.patient_id)
        .await
        .into_iter()
        .filter(|r| r.username == "casey")
        .map(|r| r.action)
        .collect();
    for action in ["raise_flag", "complete"] {
        assert!(actions.iter().any(|a| a == action), "{action} audited");
    }
}

#[test]
fn every_201_names_its_location_and_every_list_its_total() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let responses = &operation["responses"];
            if let Some(created) = responses.get("201") {
                assert!(
                    created["headers"].get("Location").is_some(),
                    "{method} {path}: 201 documents Location"
                );
            }
            let ok = &responses["200"];
            // The audit log pages by row id (`before`, `X-Has-More`): it only grows.
            if path == "/audit" {
                assert!(ok["headers"].get("X-Has-More").is_some(), "/audit pages");
                continue;
            }
            if ok["content"]["application/json"]["schema"]["type"] == "array" {
                assert!(
                    ok["headers"].get("X-Total-Count").is_some(),
                    "{method} {path}: a list documents X-Total-Count"
                );
                let params: Vec<&str> = operation["parameters"]
                    .as_array()
                    .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                assert!(
                    params.contains(&"limit") && params.contains(&"offset"),
                    "{method} {path}: a list takes limit and offset"
                );
            }
        }
    }
}

#[test]
fn code_fields_are_enums_and_required_fields_are_required() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let roles = schemas["NewUser"]["properties"]["role"]["enum"]
        .as_array()
        .expect("role enum");
    assert!(roles.contains(&json!("counselor")) && roles.len() == 11);
    assert_eq!(
        schemas["PatientFields"]["properties"]["sex"]["enum"],
        json!(["female", "male", "intersex", "unknown"])
    );
    for (schema, field) in [
        ("BookingBody", "date"),
        ("BookingBody", "start"),
        ("BookingBody", "end"),
        ("BookingBody", "kind"),
        ("NewMeasureBody", "administered_on"),
        ("ResolveDiagnosisBody", "resolved_on"),
        ("EnrolmentBody", "enrolled_on"),
    ] {
        assert!(
            schemas[schema]["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(field))),
            "{schema}.{field} is required"
        );
    }
    assert_eq!(
        schemas["NewUser"]["properties"]["password"]["minLength"],
        12
    );
}

#[tokio::test]
async fn list_pages_are_bounded_and_carry_the_total() {
    let s = start().await;
    let admin = Api::new(&s, "ada").await;
    let all = admin.get("/users").await.expect(StatusCode::OK, "users");
    let total: usize = all.headers["x-total-count"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert_eq!(total, all.body.as_array().expect("list").len());
    assert!(total >= 3, "the test clinic has several accounts");
    let second = admin
        .get("/users?limit=1&offset=1")
        .await
        .expect(StatusCode::OK, "second page");
    assert_eq!(second.body.as_array().expect("list").len(), 1);
    assert_eq!(
        second.body[0]["id"], all.body[1]["id"],
        "the order is stable"
    );
    assert_eq!(second.headers["x-total-count"], total.to_string().as_str());
    let past = admin
        .get(&format!("/users?offset={total}"))
        .await
        .expect(StatusCode::OK, "past the end");
    assert_eq!(past.body, json!([]));
    admin
        .get("/users?limit=500")
        .await
        .expect(StatusCode::OK, "the largest page");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-3", "limit"),
        ("offset=-1", "offset"),
        ("limit=ten", "limit"),
    ] {
        let refused = admin
            .get(&format!("/users?{query}"))
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, query);
        assert_eq!(refused.fields(), names(&[field]), "{query}");
    }
    let refused = admin
        .get("/users?limit=501")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "too large");
    assert_eq!(
        refused.body["error"]["fields"][0]["message"],
        "must be between 1 and 500"
    );
}

impl Api {
    async fn put_if_match(&self, path: &str, etag: &str, body: Value) -> Reply {
        let req = self
            .request(Method::PUT, path)
            .header(reqwest::header::IF_MATCH, etag)
            .json(&body);
        reply(req.send().await.expect("send")).await
    }

    async fn post_with_key(&self, path: &str, key: &str, body: Value) -> Reply {
        let req = self
            .request(Method::POST, path)
            .header("Idempotency-Key", key)
            .json(&body);
        reply(req.send().await.expect("send")).await
    }
}

#[tokio::test]
async fn a_stale_if_match_on_demographics_is_refused_with_412() {
    let s = start().await;
    let intake = Api::new(&s, "ingrid").await;
    let id = intake.register(&s, "Rosa", "Vance").await;
    let path = format!("/patients/{id}");
    let read = intake.get(&path).await.expect(StatusCode::OK, "read");
    let etag = read.headers["etag"].to_str().expect("ascii").to_owned();
    let fields = |phone: &str| {
        json!({
            "site_id": s.site_id,
            "legal_first_name": "Rosa",
            "legal_last_name": "Vance",
            "date_of_birth": "1984-02-29",
            "sex": "female",
            "phone": phone,
        })
    };
    intake
        .put_if_match(&path, &etag, fields("555-0100"))
        .await
        .expect(StatusCode::NO_CONTENT, "first writer");
    let stale = intake
        .put_if_match(&path, &etag, fields("555-0199"))
        .await
        .expect(StatusCode::PRECONDITION_FAILED, "second writer");
    assert_eq!(stale.code(), "precondition_failed");
    let garbage = intake
        .put_if_match(&path, "\"yesterday\"", fields("555-0199"))
        .await
        .expect(StatusCode::PRECONDITION_FAILED, "an ETag never issued");
    assert_eq!(garbage.code(), "precondition_failed");
    let now = intake.get(&path).await.expect(StatusCode::OK, "read again");
    assert_eq!(
        now.body["phone"], "555-0100",
        "the stale writes saved nothing"
    );
    assert_ne!(now.headers["etag"], etag.as_str());
    let fresh = now.headers["etag"].to_str().expect("ascii").to_owned();
    intake
        .put_if_match(&path, &fresh, fields("555-0199"))
        .await
        .expect(StatusCode::NO_CONTENT, "with the current version");
    intake
        .put(&path, fields("555-0142"))
        .await
        .expect(StatusCode::NO_CONTENT, "without If-Match");
}

#[tokio::test]
async fn a_replayed_idempotency_key_records_the_measure_once() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let path = format!("/patients/{}/measures", s.patient_id);
    let body = json!({"instrument": "gad7", "administered_on": clinic_today(), "answers": [1, 1, 1, 1, 1, 1, 1]});
    let first = casey
        .post_with_key(&path, "4d8e2c1a-retry", body.clone())
        .await
        .expect(StatusCode::CREATED, "first");
    assert_eq!(first.headers[LOCATION], format!("/api/v1{path}").as_str());
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = casey
        .post_with_key(&path, "4d8e2c1a-retry", body.clone())
        .await
        .expect(StatusCode::CREATED, "replay");
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers[LOCATION], first.headers[LOCATION]);
    let listed = casey.get(&path).await.expect(StatusCode::OK, "list");
    assert_eq!(
        listed.body.as_array().expect("list").len(),
        1,
        "recorded once"
    );

    let other = json!({"instrument": "gad7", "administered_on": clinic_today(), "answers": [2, 2, 2, 2, 2, 2, 2]});
    let reused = casey
        .post_with_key(&path, "4d8e2c1a-retry", other.clone())
        .await
        .expect(StatusCode::CONFLICT, "same key, other body");
    assert_eq!(reused.code(), "idempotency_key_reused");
    let bad = casey
        .post_with_key(&path, "", other.clone())
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "empty key");
    assert_eq!(bad.fields(), names(&["Idempotency-Key"]));
    // A failed request frees its key for the corrected retry.
    let wrong = json!({"instrument": "gad7", "administered_on": clinic_today(), "answers": [1, 1]});
    casey
        .post_with_key(&path, "second-key", wrong)
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "refused");
    casey
        .post_with_key(&path, "second-key", other)
        .await
        .expect(StatusCode::CREATED, "corrected retry");
    let listed = casey.get(&path).await.expect(StatusCode::OK, "list");
    assert_eq!(listed.body.as_array().expect("list").len(), 2);
}

#[tokio::test]
async fn answers_out_of_range_name_the_body_field_and_what_is_allowed() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let path = format!("/patients/{}/measures", s.patient_id);
    for value in [json!(300), json!(4), json!(-1)] {
        let refused = casey
            .post(
                &path,
                json!({"instrument": "gad7", "administered_on": clinic_today(),
                       "answers": [1, value, 1, 1, 1, 1, 1]}),
            )
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY, "out of range");
        assert_eq!(refused.fields(), names(&["answers"]), "{value}");
        assert_eq!(
            refused.body["error"]["fields"][0]["message"], "item 2 must be between 0 and 3",
            "{value}"
        );
    }
    let short = casey
        .post(
            &path,
            json!({"instrument": "gad7", "administered_on": clinic_today(), "answers": [1]}),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "too few");
    assert_eq!(short.fields(), names(&["answers"]));
}

#[tokio::test]
async fn calendar_feeds_are_made_listed_and_revoked_through_the_api() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let made = casey
        .post("/calendar-feeds", json!({}))
        .await
        .expect(StatusCode::CREATED, "own feed");
    let feed = made.body["id"].as_i64().expect("id");
    let url = made.body["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/calendar/cal_") && url.ends_with(".ics"));
    assert_eq!(
        made.headers[LOCATION],
        format!("/api/v1/calendar-feeds/{feed}").as_str()
    );
    let ics = client()
        .get(format!("{}{url}", s.base))
        .send()
        .await
        .expect("feed");
    assert_eq!(ics.status(), StatusCode::OK);
    let listed = casey
        .get("/calendar-feeds")
        .await
        .expect(StatusCode::OK, "list");
    assert_eq!(listed.body[0]["id"], feed);
    assert!(
        !listed.body.to_string().contains("cal_"),
        "the secret is shown once"
    );
    casey
        .get(&format!("/calendar-feeds/{feed}"))
        .await
        .expect(StatusCode::OK, "one");
    casey
        .post(&format!("/calendar-feeds/{feed}/revoke"), json!({}))
        .await
        .expect(StatusCode::NO_CONTENT, "revoke");
    casey
        .post(&format!("/calendar-feeds/{feed}/revoke"), json!({}))
        .await
        .expect(StatusCode::NOT_FOUND, "revoked already");
    let gone = client()
        .get(format!("{}{url}", s.base))
        .send()
        .await
        .expect("feed");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let patient = format!("/patients/{}/calendar-feeds", s.patient_id);
    let made = casey
        .post(&patient, json!({}))
        .await
        .expect(StatusCode::CREATED, "patient feed");
    let feed = made.body["id"].as_i64().expect("id");
    assert_eq!(
        casey
            .get(&patient)
            .await
            .expect(StatusCode::OK, "list")
            .body[0]["patient_id"],
        s.patient_id
    );
    casey
        .post(
            &format!(
                "/patients/{}/calendar-feeds/{feed}/revoke",
                s.other_patient_id
            ),
            json!({}),
        )
        .await
        .expect(StatusCode::FORBIDDEN, "a patient outside casey's view");
    let dora = Api::new(&s, "dora").await;
    dora.post(
        &format!(
            "/patients/{}/calendar-feeds/{feed}/revoke",
            s.other_patient_id
        ),
        json!({}),
    )
    .await
    .expect(StatusCode::NOT_FOUND, "the feed is not that patient's");
    casey
        .post(&format!("{patient}/{feed}/revoke"), json!({}))
        .await
        .expect(StatusCode::NO_CONTENT, "revoke the patient's");
    casey
        .get(&format!("{patient}/abc"))
        .await
        .expect(StatusCode::BAD_REQUEST, "a malformed id");
    let billing = Api::new(&s, "bill").await;
    billing.post(&patient, json!({})).await.expect(
        StatusCode::FORBIDDEN,
        "billing may not make a patient's feed",
    );
}

#[tokio::test]
async fn the_request_id_in_the_audit_log_is_made_by_the_server() {
    let s = start().await;
    let token = s.token("casey").await;
    let res = client()
        .get(format!("{}/api/v1/patients/{}", s.base, s.patient_id))
        .bearer_auth(&token)
        .header("x-request-id", "chosen-by-the-client")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let ours = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(ours, "chosen-by-the-client");
    assert_eq!(
        res.headers()["x-client-request-id"],
        "chosen-by-the-client",
        "the client's id is echoed separately"
    );
    let audit = s.audit_for(s.patient_id).await;
    assert!(audit
        .iter()
        .any(|r| r.request_id.as_deref() == Some(ours.as_str())));
    assert!(audit
        .iter()
        .all(|r| r.request_id.as_deref() != Some("chosen-by-the-client")));
}

#[tokio::test]
async fn a_page_reading_several_records_writes_one_audit_row_naming_them() {
    let s = start().await;
    let casey = s.browser("casey").await;
    for tab in ["", "/measures", "/schedule"] {
        let res = casey.get(&format!("/patients/{}{tab}", s.patient_id)).await;
        assert_eq!(res.status(), StatusCode::OK, "{tab}");
        let id = res.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let rows: Vec<_> = s
            .audit_for(s.patient_id)
            .await
            .into_iter()
            .filter(|r| r.request_id.as_deref() == Some(id.as_str()) && r.action == "read")
            .collect();
        assert_eq!(rows.len(), 1, "one read row for {tab:?}: {rows:?}");
        assert_eq!(rows[0].patient_id, Some(s.patient_id));
        assert!(rows[0].patients.contains(&s.patient_id));
    }
    let v = s.store.verify_audit().await.expect("verify");
    assert!(v.is_intact(), "{:?}", v.problems);
}

#[tokio::test]
async fn a_read_whose_audit_row_cannot_be_written_sends_no_data() {
    let s = start().await;
    let casey = Api::new(&s, "casey").await;
    let browser = s.browser("casey").await;
    let path = format!("/patients/{}", s.patient_id);
    casey.get(&path).await.expect(StatusCode::OK, "read");
    let refuse: &[&str] = match s.store.engine() {
        trellis_storage::Engine::Sqlite => {
            &["CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log
             WHEN NEW.action = 'read' BEGIN SELECT RAISE(ABORT, 'refused'); END"]
        }
        trellis_storage::Engine::Postgres => &[
            "CREATE FUNCTION refuse_reads() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.action = 'read' THEN RAISE EXCEPTION 'refused'; END IF;
             RETURN NEW; END; $$",
            "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log
             FOR EACH ROW EXECUTE FUNCTION refuse_reads()",
        ],
    };
    for sql in refuse {
        trellis_storage::testing::raw_execute(&s.store, sql)
            .await
            .expect("trigger");
    }
    let refused = casey.get(&path).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = refused.body.to_string();
    assert!(!body.contains("Reyes") && !body.contains("1990"), "{body}");
    let page = browser.get(&path).await;
    assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let html = page.text().await.expect("body");
    assert!(!html.contains("Reyes"), "the chart is not sent");
}

/// The document's examples are real requests: sent as written (with this server's ids), the
/// server accepts them.
#[tokio::test]
async fn the_documented_examples_are_accepted_as_sent() {
    let s = start().await;
    let doc = document();
    let example = |schema: &str| doc["components"]["schemas"][schema]["example"].clone();
    for schema in [
        "NewPatient",
        "NewEpisode",
        "NewMeasureBody",
        "NewDiagnosisBody",
        "NewNoteBody",
        "BookingBody",
        "AttendanceBody",
        "NewMedicationBody",
    ] {
        assert!(example(schema).is_object(), "{schema} has an example");
    }
    let casey = Api::new(&s, "casey").await;
    let mut patient = example("NewPatient");
    patient["site_id"] = json!(s.site_id);
    casey
        .send(Method::POST, "/patients", Some(patient))
        .await
        .expect(StatusCode::CREATED, "the patient example");
    casey
        .send(
            Method::POST,
            &format!("/patients/{}/measures", s.patient_id),
            Some(example("NewMeasureBody")),
        )
        .await
        .expect(StatusCode::CREATED, "the measure example");
}
