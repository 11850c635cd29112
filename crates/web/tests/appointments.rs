//! Appointments over HTTP: booking from the chart with conflicts and the override path, check-in
//! from the day sheet, the clinician's day, calendar feeds (neutral, revocable) and the API's bad
//! input.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};
use trellis_storage::access::{can, Actor};
use trellis_storage::schedule::NewRoom;

async fn office(s: &common::TestServer, capacity: i64) -> i64 {
    let grant = s
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    s.store
        .create_room(
            &grant,
            NewRoom {
                site_id: s.site_id,
                name: format!("Office {capacity}"),
                capacity,
            },
        )
        .await
        .expect("room")
}

fn tomorrow() -> String {
    (common::today() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string()
}

#[tokio::test]
async fn booking_warns_refuses_double_booking_and_takes_an_override() {
    let s = common::start().await;
    let room = office(&s, 3).await;
    let fran = s.browser("fran").await;
    let patient = s.patient_id;
    let casey = s.users["casey"].to_string();
    let date = tomorrow();
    let room_s = room.to_string();
    let book = |start: &'static str, end: &'static str, reason: &'static str| {
        vec![
            ("kind", "individual_therapy"),
            ("clinician_id", casey.as_str()),
            ("room", room_s.as_str()),
            ("date", date.as_str()),
            ("start", start),
            ("end", end),
            ("occupants", ""),
            ("override_reason", reason),
        ]
    };
    let path = format!("/patients/{patient}/appointments");

    // Bad input: end before start, unknown kind.
    let mut bad = book("11:00", "10:00", "");
    let res = fran.post(&path, &bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("must be after the start"));
    bad = book("10:00", "11:00", "");
    bad[0] = ("kind", "massage");
    assert_eq!(
        fran.post(&path, &bad).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let first = fran.post(&path, &book("10:00", "11:00", "")).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first
        .text()
        .await
        .expect("text")
        .contains("Individual therapy"));

    // The same hour again: a double-booking, refused with the reason and an override box.
    let clash = fran.post(&path, &book("10:30", "11:30", "")).await;
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    let html = clash.text().await.expect("text");
    assert!(html.contains("Double-booking:"));
    assert!(html.contains("id=\"override_reason\""));
    let overridden = fran
        .post(
            &path,
            &book("10:30", "11:30", "Family crisis, agreed with Casey"),
        )
        .await;
    assert_eq!(overridden.status(), StatusCode::OK);
    let html = overridden.text().await.expect("text");
    assert!(html.contains("Booked, with these warnings"));
    assert!(html.contains("overridden: Family crisis"));

    // On the day sheet, with check-in; and on the counselor's day.
    let sheet = fran
        .get(&format!("/schedule/day-sheet?date={date}"))
        .await
        .text()
        .await
        .expect("text");
    assert!(sheet.contains("Individual therapy"));
    let id: i64 = sheet
        .split("data-appointment=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("appointment row");
    let bad_mark = fran
        .post(
            &format!("/patients/{patient}/appointments/{id}/attendance"),
            &[("status", "late"), ("minutes", "")],
        )
        .await;
    assert_eq!(bad_mark.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let marked = fran
        .post(
            &format!("/patients/{patient}/appointments/{id}/attendance"),
            &[
                ("status", "present"),
                ("minutes", ""),
                ("back", "day_sheet"),
                ("date", &date),
            ],
        )
        .await;
    assert_eq!(marked.status(), StatusCode::OK);
    let casey_b = s.browser("casey").await;
    let day = casey_b
        .get(&format!("/schedule/my-day?date={date}"))
        .await
        .text()
        .await
        .expect("text");
    assert!(day.contains("Individual therapy"));
    assert!(day.contains("Present"));
}

#[tokio::test]
async fn calendar_feeds_are_neutral_and_revocable() {
    let s = common::start().await;
    let room = office(&s, 4).await;
    let fran = s.browser("fran").await;
    let patient = s.patient_id;
    let res = fran
        .post(
            &format!("/patients/{patient}/appointments"),
            &[
                ("kind", "family_session"),
                ("clinician_id", &s.users["casey"].to_string()),
                ("room", &room.to_string()),
                ("date", &tomorrow()),
                ("start", "14:00"),
                ("end", "15:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let created = fran
        .post(&format!("/patients/{patient}/calendar-feeds"), &[])
        .await
        .text()
        .await
        .expect("text");
    let url = created
        .split("id=\"new-feed-url\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("feed url")
        .to_owned();
    let anonymous = common::client();
    let feed = anonymous
        .get(format!("{}{url}", s.base))
        .send()
        .await
        .expect("feed");
    assert_eq!(feed.status(), StatusCode::OK);
    assert!(feed
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .starts_with("text/calendar"));
    let text = feed.text().await.expect("text");
    let parsed: Vec<_> = ical::IcalParser::new(text.as_bytes())
        .collect::<Result<_, _>>()
        .expect("parses");
    assert_eq!(parsed[0].events.len(), 1);
    assert!(text.contains("SUMMARY:Appointment"));
    assert!(text.contains("DTSTART;TZID=America/New_York:"));
    for secret in ["Family", "IOP", "Adult", "Dana", "Reyes", "Office"] {
        assert!(!text.contains(secret), "the patient feed names {secret}");
    }
    // Revoked: 404 for the same link; an unknown link is 404 too.
    let feeds_page = fran
        .get(&format!("/patients/{patient}/schedule"))
        .await
        .text()
        .await
        .expect("text");
    let feed_id = feeds_page
        .split("/calendar-feeds/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("feed id")
        .to_owned();
    let revoked = fran
        .post(
            &format!("/patients/{patient}/calendar-feeds/{feed_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    for path in [url.as_str(), "/calendar/cal_0000.ics"] {
        let res = anonymous
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .expect("feed");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // The counselor's own feed, from their day page.
    let casey = s.browser("casey").await;
    let own = casey
        .post("/schedule/my-day/calendar-feeds", &[])
        .await
        .text()
        .await
        .expect("text");
    let own_url = own
        .split("id=\"new-feed-url\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("feed url")
        .to_owned();
    let text = anonymous
        .get(format!("{}{own_url}", s.base))
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    assert!(text.contains("SUMMARY:Family session"));
    assert!(!text.contains("Dana") && !text.contains("Reyes"));
    let audit = s.audit_for(patient).await;
    assert!(audit
        .iter()
        .any(|r| r.record_type == "calendar_feed" && r.action == "read" && r.user_id.is_none()));
}

#[tokio::test]
async fn the_api_books_and_refuses_bad_input() {
    let s = common::start().await;
    let room = office(&s, 3).await;
    let token = s.token("fran").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/patients/{}/appointments", s.base, s.patient_id);
    let body = |start: &str, end: &str, kind: &str, occupants: i64, reason: Option<&str>| {
        json!({
            "kind": kind, "clinician_id": s.users["casey"], "room_id": room,
            "date": tomorrow(), "start": start, "end": end, "occupants": occupants,
            "override_reason": reason,
        })
    };
    let post = |b: Value| client.post(&url).bearer_auth(&token).json(&b).send();
    let res = post(body("11:00", "10:00", "individual_therapy", 2, None))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = post(body("10:00", "11:00", "reiki", 2, None))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Five people in a three-seat office: refused as over capacity.
    let res = post(body("10:00", "11:00", "family_session", 5, None))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let refused: Value = res.json().await.expect("json");
    assert_eq!(refused["booked"], false);
    assert_eq!(refused["conflicts"][0]["kind"], "room_over_capacity");
    let res = post(body("10:00", "11:00", "individual_therapy", 2, None))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let booked: Value = res.json().await.expect("json");
    let id = booked["id"].as_i64().expect("id");
    // A double-booking with a blank reason is no override.
    let res = post(body("10:00", "11:00", "individual_therapy", 2, Some(" ")))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = post(body(
        "10:00",
        "11:00",
        "individual_therapy",
        2,
        Some("Interpreter only free then"),
    ))
    .await
    .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);

    let mark = |b: Value| {
        client
            .post(format!("{}/api/v1/appointments/{id}/attendance", s.base))
            .bearer_auth(&token)
            .json(&b)
            .send()
    };
    let res = mark(json!({"status": "snoozing"})).await.expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Longer than the stored appointment: well-formed, but it does not fit the record.
    let res = mark(json!({"status": "present", "minutes_attended": 61}))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = mark(json!({"status": "late"})).await.expect("send");
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "late needs minutes"
    );
    let res = mark(json!({"status": "present"})).await.expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cancel = client
        .post(format!("{}/api/v1/appointments/{id}/cancel", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(
        cancel.status(),
        StatusCode::CONFLICT,
        "attended stays on record"
    );

    let avail = format!("{}/api/v1/patients/{}/availability", s.base, s.patient_id);
    for bad in [
        json!({"label": "work", "weekday": "Funday", "start": "09:00", "end": "17:00"}),
        json!({"label": "gym", "weekday": "Mon", "start": "09:00", "end": "17:00"}),
        json!({"label": "work", "weekday": "Mon", "start": "09:00", "end": "09:00"}),
    ] {
        let res = client
            .post(&avail)
            .bearer_auth(&token)
            .json(&bad)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let res = client
        .post(&avail)
        .bearer_auth(&token)
        .json(&json!({"label": "school", "weekday": "Tue", "start": "08:00", "end": "15:00"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let list: Value = client
        .get(&avail)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["weekday"], "Tue");
}

/// The New York fall-back Sunday (first Sunday of November) inside the feed's reach, if any.
fn fall_back_in_feed_window() -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    let today = common::today();
    [today.year() - 1, today.year()]
        .into_iter()
        .filter_map(|y| {
            chrono::NaiveDate::from_weekday_of_month_opt(y, 11, chrono::Weekday::Sun, 1)
        })
        .find(|d| (*d - today).num_days() > -50 && (*d - today).num_days() < 170)
}

#[tokio::test]
async fn local_times_on_daylight_saving_nights_are_refused_or_exact() {
    let s = common::start().await;
    let room = office(&s, 3).await;
    let token = s.token("fran").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/patients/{}/appointments", s.base, s.patient_id);
    let post = |date: &str, start: &str, end: &str| {
        client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({
                "kind": "individual_therapy", "clinician_id": s.users["casey"], "room_id": room,
                "date": date, "start": start, "end": end,
            }))
            .send()
    };
    // Spring forward: 02:30 on 8 Mar 2026 does not exist in New York.
    let res = post("2026-03-08", "02:30", "03:20").await.expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "start");
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "the start time 02:30 does not exist on 8 Mar 2026 in America/New_York: clocks go \
         forward from 02:00 to 03:00"
    );
    // Fall back: 01:30 on 1 Nov 2026 happens twice, so it is refused rather than guessed.
    let res = post("2026-11-01", "01:30", "02:20").await.expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "start");
    let message = body["error"]["fields"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("the start time 01:30 happens twice on 1 Nov 2026"),
        "{message}"
    );
    let res = post("2026-11-01", "00:30", "01:20").await.expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["fields"][0]["field"], "end");

    // The chart's form says the same on its page.
    let fran = s.browser("fran").await;
    let patient = s.patient_id;
    let form = |date: String, start: &'static str, end: &'static str| {
        vec![
            ("kind", "individual_therapy".to_owned()),
            ("clinician_id", s.users["casey"].to_string()),
            ("room", room.to_string()),
            ("date", date),
            ("start", start.to_owned()),
            ("end", end.to_owned()),
        ]
    };
    let page_post = |fields: Vec<(&'static str, String)>| {
        let fran = &fran;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fran.post(&format!("/patients/{patient}/appointments"), &pairs)
                .await
        }
    };
    let res = page_post(form("2026-03-08".into(), "02:30", "03:20")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(
        html.contains("02:30 does not exist on 8 Mar 2026 in America/New_York"),
        "{html}"
    );

    // Booked across the fall-back night, the feed's event ends after it starts.
    let Some(night) = fall_back_in_feed_window() else {
        return;
    };
    let res = page_post(form(night.format("%Y-%m-%d").to_string(), "00:30", "02:20")).await;
    assert!(res.status().is_success(), "{}", res.status());
    let created = fran
        .post(&format!("/patients/{patient}/calendar-feeds"), &[])
        .await
        .text()
        .await
        .expect("text");
    let feed_url = created
        .split("id=\"new-feed-url\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("feed url")
        .to_owned();
    let text = common::client()
        .get(format!("{}{feed_url}", s.base))
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    let cal = ical::IcalParser::new(text.as_bytes())
        .next()
        .expect("a calendar")
        .expect("parses");
    assert_eq!(cal.events.len(), 1);
    let value = |name: &str| {
        cal.events[0]
            .properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap_or_default()
    };
    // 00:30 EDT and 02:20 EST, both wall-clock times that happen once: 170 real minutes.
    let zone = trellis_domain::schedule::zone::SiteZone::parse("America/New_York").expect("zone");
    let read = |v: String| {
        zone.resolve(chrono::NaiveDateTime::parse_from_str(&v, "%Y%m%dT%H%M%S").expect("local"))
            .expect("instant")
    };
    let (start, end) = (read(value("DTSTART")), read(value("DTEND")));
    assert_eq!((end - start).num_minutes(), 170);
}
