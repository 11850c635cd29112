//! Program operations over HTTP: tracks and rooms, enrolment, the day sheet with check-in, weekly
//! hours on the chart and the alert list, the API, bad input and who may do what.

mod common;

use chrono::{NaiveTime, Utc, Weekday};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trellis_domain::schedule::track::WeeklySlot;
use trellis_domain::schedule::zone::SiteZone;
use trellis_storage::access::{can, Actor};
use trellis_storage::schedule::{NewRoom, NewTrack};

/// A track meeting every day 18:00–21:00 so that today always has a session.
async fn daily_track(s: &common::TestServer) -> i64 {
    let grant = s
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    let room = s
        .store
        .create_room(
            &grant,
            NewRoom {
                site_id: s.site_id,
                name: "Group room A".into(),
                capacity: 12,
            },
        )
        .await
        .expect("room");
    let at = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("time");
    s.store
        .create_track(
            &grant,
            NewTrack {
                program_id: s.program_id,
                name: "Evening".into(),
                room_id: Some(room),
                telehealth: false,
                starts_on: common::today() - chrono::Duration::days(30),
                slots: [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun,
                ]
                .into_iter()
                .map(|d| WeeklySlot::new(d, at(18), at(21)).expect("slot"))
                .collect(),
                topics: vec![
                    (
                        "Relapse prevention".into(),
                        "Warning-signs checklist".into(),
                    ),
                    ("Cravings".into(), "Craving log".into()),
                ],
            },
        )
        .await
        .expect("track")
}

async fn todays_session(s: &common::TestServer) -> i64 {
    let site = s.store.site(s.site_id).await.expect("site");
    let today = SiteZone::parse(&site.timezone)
        .expect("zone")
        .local_date(Utc::now());
    let actor = common::actor(&s.users, "fran", trellis_domain::access::Role::FrontDesk);
    let grant = s.store.grant::<can::ReadSchedule>(&actor).expect("grant");
    s.store
        .day_sheet(&grant, s.site_id, today)
        .await
        .expect("sheet")[0]
        .session
        .id
}

async fn attendance_rows(s: &common::TestServer) -> Vec<String> {
    trellis_storage::testing::raw_strings(&s.store, "SELECT status FROM attendance")
        .await
        .expect("rows")
}

#[tokio::test]
async fn front_desk_checks_in_and_the_counselor_sees_weekly_hours() {
    let s = common::start().await;
    let track = daily_track(&s).await;
    let fran = s.browser("fran").await;

    // Enrolment from the chart: bad input first, then a real one.
    let patient = s.patient_id;
    let bad = fran
        .post(
            &format!("/patients/{patient}/enrolments"),
            &[("track_id", ""), ("enrolled_on", "")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let start = (common::today() - chrono::Duration::days(14))
        .format("%Y-%m-%d")
        .to_string();
    let ok = fran
        .post(
            &format!("/patients/{patient}/enrolments"),
            &[("track_id", &track.to_string()), ("enrolled_on", &start)],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok
        .text()
        .await
        .expect("text")
        .contains("Evening · Adult SUD IOP"));

    let sheet = fran.get("/schedule/day-sheet").await;
    assert_eq!(sheet.status(), StatusCode::OK);
    let html = sheet.text().await.expect("text");
    assert!(html.contains("Evening group"));
    assert!(html.contains(&format!("data-patient=\"{patient}\"")));
    let session = todays_session(&s).await;

    // Bad marks: unknown status, late without minutes, minutes longer than the session.
    for fields in [
        vec![("status", "asleep"), ("minutes", "")],
        vec![("status", "late"), ("minutes", "")],
        vec![("status", "present"), ("minutes", "999")],
        vec![("status", "present"), ("minutes", "three")],
    ] {
        let mut form = vec![("patient_id", patient.to_string())];
        form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = fran
            .post(&format!("/schedule/sessions/{session}/attendance"), &refs)
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
    }
    assert!(attendance_rows(&s).await.is_empty(), "nothing stored");

    // Billing may read the schedule but not check anyone in.
    let bill = s.browser("bill").await;
    let refused = bill
        .post(
            &format!("/schedule/sessions/{session}/attendance"),
            &[("patient_id", &patient.to_string()), ("status", "present")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(attendance_rows(&s).await.is_empty());

    let marked = fran
        .post(
            &format!("/schedule/sessions/{session}/attendance"),
            &[
                ("patient_id", &patient.to_string()),
                ("status", "present"),
                ("minutes", ""),
            ],
        )
        .await;
    assert_eq!(marked.status(), StatusCode::OK);
    assert!(marked
        .text()
        .await
        .expect("text")
        .contains("180 of 180 min"));
    assert_eq!(attendance_rows(&s).await, vec!["present"]);

    let casey = s.browser("casey").await;
    let chart = casey.get(&format!("/patients/{patient}/schedule")).await;
    assert_eq!(chart.status(), StatusCode::OK);
    let html = chart.text().await.expect("text");
    assert!(html.contains("Program minimum: <strong>9 h</strong>"));
    assert!(html.contains("<td class=\"hours\">3 h</td>"));
    assert!(html.contains("Relapse prevention") || html.contains("Cravings"));

    let alerts = fran
        .get("/schedule/hours")
        .await
        .text()
        .await
        .expect("text");
    assert!(alerts.contains(&format!("/patients/{patient}/schedule")));
    assert!(alerts.contains("Under minimum"));
}

#[tokio::test]
async fn program_admins_manage_tracks_and_rooms() {
    let s = common::start().await;
    let ada = s.browser("ada").await;
    assert_eq!(ada.get("/schedule/tracks").await.status(), StatusCode::OK);
    let bad = ada
        .post(
            "/schedule/tracks",
            &[
                ("program_id", &s.program_id.to_string()),
                ("name", "Evening"),
                ("room_id", "telehealth"),
                ("starts_on", "2026-01-05"),
                ("slots", "Funday 18:00-21:00"),
                ("topics", ""),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("text").contains("Mon 18:00-21:00"));
    assert!(s.store.tracks().await.expect("tracks").is_empty());
    let ok = ada
        .post(
            "/schedule/tracks",
            &[
                ("program_id", &s.program_id.to_string()),
                ("name", "Evening"),
                ("room_id", "telehealth"),
                ("starts_on", "2026-01-05"),
                ("slots", "Mon 18:00-21:00\nWed 18:00-21:00\nThu 18:00-21:00"),
                (
                    "topics",
                    "Relapse prevention | Warning-signs checklist\nCravings | Craving log",
                ),
            ],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let tracks = s.store.tracks().await.expect("tracks");
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].slots.len(), 3);
    assert_eq!(tracks[0].topics[1].materials, "Craving log");

    let room_bad = ada
        .post(
            "/schedule/rooms",
            &[
                ("site_id", &s.site_id.to_string()),
                ("name", "A"),
                ("capacity", "lots"),
            ],
        )
        .await;
    assert_eq!(room_bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let room = ada
        .post(
            "/schedule/rooms",
            &[
                ("site_id", &s.site_id.to_string()),
                ("name", "Group room B"),
                ("capacity", "12"),
            ],
        )
        .await;
    assert_eq!(room.status(), StatusCode::OK);
    assert_eq!(s.store.rooms().await.expect("rooms").len(), 1);

    for who in ["fran", "casey", "bill"] {
        let b = s.browser(who).await;
        assert_eq!(
            b.get("/schedule/tracks").await.status(),
            StatusCode::FORBIDDEN,
            "{who}"
        );
    }
}

async fn api(
    s: &common::TestServer,
    who: &'static str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let token = s.token(who).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1{path}", s.base);
    let req = match method {
        "POST" => client.post(url).json(&body.unwrap_or(json!({}))),
        _ => client.get(url),
    };
    let res = req.bearer_auth(token).send().await.expect("send");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_api_offers_every_schedule_action() {
    let s = common::start().await;
    let (status, _) = api(
        &s,
        "fran",
        "POST",
        "/rooms",
        Some(json!({"site_id": s.site_id, "name": "X", "capacity": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, room) = api(
        &s,
        "ada",
        "POST",
        "/rooms",
        Some(json!({"site_id": s.site_id, "name": "Group room A", "capacity": 12})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api(&s, "ada", "POST", "/tracks", Some(json!({"program_id": s.program_id, "name": "Bad", "room_id": room["id"], "starts_on": "2026-01-05", "slots": ["Mon 9-12"]}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let slots: Vec<String> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .map(|d| format!("{d} 18:00-21:00"))
        .collect();
    let (status, track) = api(
        &s,
        "ada",
        "POST",
        "/tracks",
        Some(json!({
            "program_id": s.program_id, "name": "Evening", "room_id": room["id"],
            "starts_on": "2026-01-05", "slots": slots,
            "topics": [{"title": "Relapse prevention", "materials": "Checklist"}]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, tracks) = api(&s, "bill", "GET", "/tracks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tracks[0]["slots"].as_array().map(Vec::len), Some(7));

    let patient = s.patient_id;
    let (status, _) = api(
        &s,
        "bill",
        "POST",
        &format!("/patients/{patient}/enrolments"),
        Some(json!({"track_id": track["id"], "enrolled_on": "2026-01-05"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api(
        &s,
        "fran",
        "POST",
        &format!("/patients/{patient}/enrolments"),
        Some(json!({"track_id": track["id"], "enrolled_on": "soon"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api(
        &s,
        "fran",
        "POST",
        &format!("/patients/{patient}/enrolments"),
        Some(json!({"track_id": track["id"], "enrolled_on": "2026-01-05"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, sheet) = api(
        &s,
        "fran",
        "GET",
        &format!("/sites/{}/day-sheet", s.site_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let session = sheet[0]["id"].as_i64().expect("session");
    assert_eq!(sheet[0]["roster"][0]["patient_id"], json!(patient));
    let (status, _) = api(
        &s,
        "fran",
        "GET",
        &format!("/sites/{}/day-sheet?date=tomorrow", s.site_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let path = format!("/sessions/{session}/attendance");
    let (status, _) = api(
        &s,
        "bill",
        "POST",
        &path,
        Some(json!({"patient_id": patient, "status": "present"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api(
        &s,
        "fran",
        "POST",
        &path,
        Some(json!({"patient_id": patient, "status": "late"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api(
        &s,
        "fran",
        "POST",
        &path,
        Some(json!({"patient_id": patient, "status": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(attendance_rows(&s).await.is_empty());
    let (status, _) = api(
        &s,
        "fran",
        "POST",
        &path,
        Some(json!({"patient_id": patient, "status": "late", "minutes_attended": 150})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, schedule) = api(
        &s,
        "casey",
        "GET",
        &format!("/patients/{patient}/schedule"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schedule["weekly_minimum_minutes"], json!(540));
    assert_eq!(schedule["weeks"][5]["minutes"], json!(150));
    assert_eq!(schedule["days"][0]["per_diem_eligible"], json!(false));
    let (status, _) = api(
        &s,
        "olive",
        "GET",
        &format!("/patients/{patient}/schedule"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "outside olive's program");
    let (status, alerts) = api(
        &s,
        "fran",
        "GET",
        &format!("/sites/{}/hours-alerts", s.site_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(alerts
        .as_array()
        .expect("list")
        .iter()
        .any(|a| a["patient_id"] == json!(patient)));
}
