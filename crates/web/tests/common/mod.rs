//! Test harness: a real Trellis server on a free port, a fresh database (SQLite, or PostgreSQL
//! with TRELLIS_TEST_DATABASE=postgres), a small clinic and a staff member in every role.
#![allow(dead_code)]

use chrono::NaiveDate;
use reqwest::{Client, Response, StatusCode};
use std::collections::HashMap;
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::patient::Registration;
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::Admission;
use trellis_storage::org::{NewProgram, NewSite};
use trellis_storage::patients::RegisterOutcome;
use trellis_storage::staff::NewStaff;
use trellis_storage::testing::fresh_store;
use trellis_storage::Store;
use trellis_web::{AppState, Config};

/// Every test account's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server with its clinic.
pub struct TestServer {
    /// "http://127.0.0.1:PORT"
    pub base: String,
    /// Direct access to the same database, for setting up and checking.
    pub store: Store,
    /// Staff ids by username.
    pub users: HashMap<&'static str, i64>,
    /// The site.
    pub site_id: i64,
    /// Adult SUD IOP, where counselor "casey" works.
    pub program_id: i64,
    /// Co-occurring IOP, where counselor "olive" works.
    pub other_program_id: i64,
    /// A patient admitted to the adult program with casey as primary counselor.
    pub patient_id: i64,
    /// That patient's episode.
    pub episode_id: i64,
    /// A patient admitted to the co-occurring program (outside casey's view).
    pub other_patient_id: i64,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Staff accounts: (username, role). Counselors are assigned to one program each; site-wide
/// roles to the whole site; clinical director, admin and privacy officer see everyone.
pub const STAFF: [(&str, Role); 11] = [
    ("ada", Role::Admin),
    ("dora", Role::ClinicalDirector),
    ("casey", Role::Counselor),
    ("olive", Role::Counselor),
    ("priya", Role::Prescriber),
    ("nate", Role::Nurse),
    ("pete", Role::PeerSpecialist),
    ("ingrid", Role::Intake),
    ("fran", Role::FrontDesk),
    ("bill", Role::Billing),
    ("pat", Role::PrivacyOfficer),
];

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The fixture site's time zone; "today" must be read in it, as the server does.
pub const CLINIC_TIMEZONE: chrono_tz::Tz = chrono_tz::America::New_York;

/// Today at the fixture site. UTC's date runs a day ahead of New York every evening, and a
/// date that is "today" in UTC is then "in the future" to the server.
pub fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&CLINIC_TIMEZONE)
        .date_naive()
}

/// Starts a server with default settings.
pub async fn start() -> TestServer {
    start_with(Config::default()).await
}

/// Starts a server with the given settings. Every role signs in with a password alone, as if an
/// administrator had turned the second factor off, so tests of other features need no codes;
/// [`start_with_default_policies`] keeps the shipped default (second factor for clinical and
/// administering roles).
pub async fn start_with(config: Config) -> TestServer {
    let s = start_with_default_policies(config).await;
    for role in Role::ALL {
        s.store
            .set_mfa_required(&Actor::system("test"), role, false)
            .await
            .expect("policy");
    }
    s
}

/// Starts a server with the given settings and the shipped sign-in policies.
pub async fn start_with_default_policies(config: Config) -> TestServer {
    let store = fresh_store().await.expect("fresh database");
    let system = Actor::system("test");
    let orgs = store.grant::<can::ManagePrograms>(&system).expect("grant");
    let site_id = store
        .create_site(
            &orgs,
            NewSite {
                code: "DTN".into(),
                name: "Downtown".into(),
                timezone: CLINIC_TIMEZONE.name().into(),
                address: None,
                phone: None,
            },
        )
        .await
        .expect("site");
    let program = |name: &str| NewProgram {
        site_id,
        name: name.into(),
        population: "adult".into(),
        level_of_care: LevelOfCare::IntensiveOutpatient,
        weekly_minimum_hours: 9.0,
        max_group_size: 12,
    };
    let program_id = store
        .create_program(&orgs, program("Adult SUD IOP"))
        .await
        .expect("program");
    let other_program_id = store
        .create_program(&orgs, program("Co-occurring IOP"))
        .await
        .expect("program");
    let users_grant = store.grant::<can::ManageUsers>(&system).expect("grant");
    let mut users = HashMap::new();
    for (username, role) in STAFF {
        let id = store
            .create_staff(
                &users_grant,
                &NewStaff {
                    username: username.into(),
                    display_name: format!("{username} ({})", role.label()),
                    email: None,
                    role,
                    password: PASSWORD.into(),
                },
            )
            .await
            .expect("staff");
        users.insert(username, id);
        let assignment = match username {
            "casey" => Some((site_id, Some(program_id))),
            "olive" => Some((site_id, Some(other_program_id))),
            "priya" | "nate" | "pete" => Some((site_id, Some(program_id))),
            "ingrid" | "fran" | "bill" => Some((site_id, None)),
            _ => None,
        };
        if let Some(a) = assignment {
            store
                .set_assignments(&users_grant, id, &[a])
                .await
                .expect("assign");
        }
    }
    let intake = actor(&users, "ingrid", Role::Intake);
    let (patient_id, episode_id) = admitted(
        &store,
        &intake,
        site_id,
        program_id,
        users["casey"],
        "Dana",
        "Reyes",
    )
    .await;
    let (other_patient_id, _) = admitted(
        &store,
        &intake,
        site_id,
        other_program_id,
        users["olive"],
        "Lee",
        "Park",
    )
    .await;

    let state = AppState::new(store.clone(), config).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = trellis_web::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    TestServer {
        base,
        store,
        users,
        site_id,
        program_id,
        other_program_id,
        patient_id,
        episode_id,
        other_patient_id,
        shutdown: Some(tx),
    }
}

pub fn actor(users: &HashMap<&'static str, i64>, username: &'static str, role: Role) -> Actor {
    Actor {
        user_id: Some(users[username]),
        username: username.into(),
        role,
        ip: Some("127.0.0.1".into()),
        request_id: None,
    }
}

/// Registers a patient and admits them 14 days ago with the given primary counselor.
pub async fn admitted(
    store: &Store,
    intake: &Actor,
    site_id: i64,
    program_id: i64,
    counselor: i64,
    first: &str,
    last: &str,
) -> (i64, i64) {
    let grant = store.grant::<can::EditDemographics>(intake).expect("grant");
    let registration = Registration {
        legal_first_name: first.into(),
        legal_last_name: last.into(),
        date_of_birth: Some(day(1990, 5, 17)),
        sex: "female".into(),
        pronouns: Some("she/her".into()),
        ..Registration::default()
    };
    let RegisterOutcome::Created(patient) = store
        .register_patient(&grant, site_id, &registration, today(), false)
        .await
        .expect("register")
    else {
        panic!("unexpected duplicate");
    };
    let admit = store
        .patient_grant::<can::AdmitEpisode>(intake, patient)
        .await
        .expect("grant");
    let episode = store
        .admit(
            &admit,
            &Admission {
                program_id,
                admitted_on: today() - chrono::Duration::days(14),
                referral_source: "Self or family".into(),
                primary_counselor_id: Some(counselor),
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    (patient, episode)
}

/// A browser-like client: keeps cookies, sends Origin on every request.
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub csrf: String,
}

pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .expect("client")
}

/// The value of `name="csrf_token"` in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    html.find(marker)
        .map(|i| {
            let rest = &html[i + marker.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_owned()
        })
        .unwrap_or_default()
}

impl TestServer {
    /// Signs in through the login form; returns a client holding the session.
    pub async fn browser(&self, username: &str) -> Browser {
        let client = client();
        let page = client
            .get(format!("{}/login", self.base))
            .send()
            .await
            .expect("login page")
            .text()
            .await
            .expect("text");
        let token = csrf_in(&page);
        let res = client
            .post(format!("{}/login", self.base))
            .header("Origin", &self.base)
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", username),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        let html = res.text().await.expect("text");
        Browser {
            client,
            base: self.base.clone(),
            csrf: csrf_in(&html),
        }
    }

    /// A bearer token for a staff member (of [`STAFF`] or added to `users` by a test), acting
    /// with their role.
    pub async fn token(&self, username: &'static str) -> String {
        let id = self.users[username];
        let role: Role = self
            .store
            .staff_user(id)
            .await
            .expect("known user")
            .role
            .parse()
            .expect("a role");
        self.store
            .create_token(
                &Actor::system("test"),
                id,
                "test",
                role,
                None,
                chrono::Duration::days(trellis_storage::staff::DEFAULT_TOKEN_MAX_DAYS),
            )
            .await
            .expect("token")
    }

    /// Audit rows for a patient, newest first.
    pub async fn audit_for(&self, patient_id: i64) -> Vec<trellis_storage::audit::AuditRow> {
        let grant = self
            .store
            .grant::<can::ReadAudit>(&Actor::system("test"))
            .expect("grant");
        self.store
            .search_audit(
                &grant,
                &trellis_storage::audit::AuditQuery {
                    patient_id: Some(patient_id),
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await
            .expect("audit")
    }
}

impl Browser {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("get")
    }

    /// Posts a form with the session's CSRF token and our Origin, like a real browser.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.base))
            .header("Origin", &self.base)
            .form(&form)
            .send()
            .await
            .expect("post")
    }
}

impl TestServer {
    /// The id of the recipient directory entry with this name, added as the privacy officer
    /// ("pat") would if it is not there yet.
    pub async fn recipient(&self, name: &str, kind: trellis_domain::consent::RecipientKind) -> i64 {
        let privacy = actor(&self.users, "pat", Role::PrivacyOfficer);
        let listing = self.store.grant::<can::Disclose>(&privacy).expect("grant");
        let known = self.store.recipients(&listing).await.expect("directory");
        if let Some(found) = known.iter().find(|r| r.recipient.name == name) {
            return found.id;
        }
        let grant = self
            .store
            .grant::<can::ManageRecipients>(&privacy)
            .expect("grant");
        self.store
            .add_recipient(
                &grant,
                &trellis_storage::recipients::NewRecipient {
                    name: name.into(),
                    kind,
                    contact: String::new(),
                },
            )
            .await
            .expect("add recipient")
    }
}

/// A track meeting every day 18:00–21:00, facilitated by `facilitator`, with three
/// patients of casey's enrolled: returns (today's session, [patients]).
pub async fn evening_group(s: &TestServer, facilitator: &'static str) -> (i64, Vec<(i64, String)>) {
    let system = Actor::system("test");
    let grant = s
        .store
        .grant::<can::ManagePrograms>(&system)
        .expect("grant");
    let room = s
        .store
        .create_room(
            &grant,
            trellis_storage::schedule::NewRoom {
                site_id: s.site_id,
                name: "Group room A".into(),
                capacity: 12,
            },
        )
        .await
        .expect("room");
    let at = |h| chrono::NaiveTime::from_hms_opt(h, 0, 0).expect("time");
    let track = s
        .store
        .create_track(
            &grant,
            trellis_storage::schedule::NewTrack {
                program_id: s.program_id,
                name: "Evening".into(),
                room_id: Some(room),
                telehealth: false,
                starts_on: today() - chrono::Duration::days(30),
                slots: [
                    chrono::Weekday::Mon,
                    chrono::Weekday::Tue,
                    chrono::Weekday::Wed,
                    chrono::Weekday::Thu,
                    chrono::Weekday::Fri,
                    chrono::Weekday::Sat,
                    chrono::Weekday::Sun,
                ]
                .into_iter()
                .map(|d| {
                    trellis_domain::schedule::track::WeeklySlot::new(d, at(18), at(21))
                        .expect("slot")
                })
                .collect(),
                topics: Vec::new(),
            },
        )
        .await
        .expect("track");
    s.store
        .set_track_facilitator(&grant, track, Some(s.users[facilitator]))
        .await
        .expect("facilitator");
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let mut patients = vec![(s.patient_id, String::new())];
    for (first, last) in [("Robin", "Okafor"), ("Sam", "Lindqvist")] {
        let (id, _) = admitted(
            &s.store,
            &intake,
            s.site_id,
            s.program_id,
            s.users["casey"],
            first,
            last,
        )
        .await;
        patients.push((id, format!("{first} {last}")));
    }
    let fran = actor(&s.users, "fran", Role::FrontDesk);
    for (id, _) in &patients {
        let grant = s
            .store
            .patient_grant::<can::ManageSchedule>(&fran, *id)
            .await
            .expect("grant");
        s.store
            .enrol(&grant, track, today() - chrono::Duration::days(14))
            .await
            .expect("enrol");
    }
    let site = s.store.site(s.site_id).await.expect("site");
    let today = trellis_domain::schedule::zone::SiteZone::parse(&site.timezone)
        .expect("zone")
        .local_date(chrono::Utc::now());
    let read = s.store.grant::<can::ReadSchedule>(&fran).expect("grant");
    let sheet = s
        .store
        .day_sheet(&read, s.site_id, today)
        .await
        .expect("sheet");
    let session = &sheet[0];
    // The first patient's name as the roster shows it.
    patients[0].1 = session
        .roster
        .iter()
        .find(|l| l.patient_id == s.patient_id)
        .expect("on roster")
        .patient_name
        .clone();
    (session.session.id, patients)
}

/// One API call with a bearer token: status and JSON body (null when empty).
pub async fn call(
    s: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut req = client()
        .request(method, format!("{}/api/v1{path}", s.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("send");
    let status = res.status();
    (status, res.json().await.unwrap_or_default())
}

/// The fields an API refusal names, in order.
pub fn fields(body: &serde_json::Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
