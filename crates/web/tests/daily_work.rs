//! Daily work over HTTP: checking in a session's roster with one save (htmx and plain form),
//! group notes written from the session's attendance, and the service code and time on notes.

mod common;

use chrono::{NaiveTime, Utc, Weekday};
use reqwest::StatusCode;
use trellis_domain::access::Role;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_domain::schedule::zone::SiteZone;
use trellis_storage::access::{can, Actor};
use trellis_storage::schedule::{NewRoom, NewTrack};

/// A track meeting every day 18:00–21:00, facilitated by casey, with three patients of
/// casey's enrolled: returns (today's session, [patients]).
async fn evening_group(s: &common::TestServer) -> (i64, Vec<(i64, String)>) {
    let system = Actor::system("test");
    let grant = s
        .store
        .grant::<can::ManagePrograms>(&system)
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
    let track = s
        .store
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
                topics: Vec::new(),
            },
        )
        .await
        .expect("track");
    s.store
        .set_track_facilitator(&grant, track, Some(s.users["casey"]))
        .await
        .expect("facilitator");
    let intake = common::actor(&s.users, "ingrid", Role::Intake);
    let mut patients = vec![(s.patient_id, String::new())];
    for (first, last) in [("Robin", "Okafor"), ("Sam", "Lindqvist")] {
        let (id, _) = common::admitted(
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
    let fran = common::actor(&s.users, "fran", Role::FrontDesk);
    for (id, _) in &patients {
        let grant = s
            .store
            .patient_grant::<can::ManageSchedule>(&fran, *id)
            .await
            .expect("grant");
        s.store
            .enrol(&grant, track, common::today() - chrono::Duration::days(14))
            .await
            .expect("enrol");
    }
    let site = s.store.site(s.site_id).await.expect("site");
    let today = SiteZone::parse(&site.timezone)
        .expect("zone")
        .local_date(Utc::now());
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

async fn marks(s: &common::TestServer) -> Vec<String> {
    let mut rows = trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT CAST(patient_id AS TEXT) || ':' || status || ':' || CAST(minutes_attended AS TEXT)
         FROM attendance",
    )
    .await
    .expect("rows");
    rows.sort();
    rows
}

#[tokio::test]
async fn a_roster_is_checked_in_with_one_save_and_bad_rows_name_the_patient() {
    let s = common::start().await;
    let (session, patients) = evening_group(&s).await;
    let [(p1, _), (p2, robin), (p3, _)] = [
        patients[0].clone(),
        patients[1].clone(),
        patients[2].clone(),
    ];
    let fran = s.browser("fran").await;
    let sheet = fran
        .get("/schedule/day-sheet")
        .await
        .text()
        .await
        .expect("text");
    assert!(sheet.contains(&format!("action=\"/schedule/sessions/{session}/check-in\"")));
    assert!(sheet.contains(&format!(
        "hx-post=\"/schedule/sessions/{session}/check-in\""
    )));
    assert!(sheet.contains("Save all"));
    assert!(sheet.contains("/static/vendor/htmx-2.0.11.min.js"));
    // Everyone present by default.
    for (p, _) in &patients {
        assert!(sheet.contains(&format!("name=\"status_{p}\" value=\"present\" checked")));
    }
    let path = format!("/schedule/sessions/{session}/check-in");
    let (p1s, p2s, p3s) = (p1.to_string(), p2.to_string(), p3.to_string());
    let form = |s2: &'static str, m2: &'static str| {
        vec![
            (format!("status_{p1s}"), "present".to_owned()),
            (format!("missed_{p1s}"), String::new()),
            (format!("status_{p2s}"), s2.to_owned()),
            (format!("missed_{p2s}"), m2.to_owned()),
            (format!("status_{p3s}"), "absent_excused".to_owned()),
            (format!("missed_{p3s}"), "20".to_owned()),
        ]
    };
    // Bad rows: nothing is saved, and the summary names the patient and links to the field.
    for (status, missed, anchor, message) in [
        ("late", "", format!("mn-{session}-{p2}"), "give the minutes"),
        ("late", "soon", format!("mn-{session}-{p2}"), "whole number"),
        (
            "left_early",
            "180",
            format!("mn-{session}-{p2}"),
            "between 1 and 179",
        ),
        ("asleep", "", format!("st-{session}-{p2}"), "choose present"),
    ] {
        let fields = form(status, missed);
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = fran.post(&path, &refs).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{status} {missed}"
        );
        let html = res.text().await.expect("text");
        assert!(
            html.contains(&format!("href=\"#{anchor}\">{robin}: ")),
            "{html}"
        );
        assert!(html.contains(&format!("id=\"{anchor}\"")), "anchor exists");
        assert!(html.contains(message), "{message}");
        assert!(marks(&s).await.is_empty(), "nothing stored");
    }

    // Billing reads the schedule but checks no one in.
    let bill = s.browser("bill").await;
    let fields = form("present", "");
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        bill.post(&path, &refs).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(marks(&s).await.is_empty());

    // One save without JavaScript: back to the day sheet with the confirmation; minutes typed
    // on the absent row are dropped.
    let fields = form("late", "15");
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = fran.post(&path, &refs).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .url()
        .query()
        .is_some_and(|q| q.contains(&format!("saved={session}"))));
    let html = res.text().await.expect("text");
    assert!(
        html.contains("Check-in saved for Evening group"),
        "confirmation"
    );
    assert!(html.contains("1 present, 1 late, 1 absent."));
    assert_eq!(marks(&s).await, {
        let mut v = vec![
            format!("{p1}:present:180"),
            format!("{p2}:late:165"),
            format!("{p3}:absent_excused:0"),
        ];
        v.sort();
        v
    });

    // With htmx: the roster alone comes back with the live-region confirmation.
    let fields = form("left_early", "30");
    let mut body: Vec<(&str, &str)> = vec![("csrf_token", fran.csrf.as_str())];
    body.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let res = fran
        .client
        .post(format!("{}{path}", s.base))
        .header("Origin", &s.base)
        .header("HX-Request", "true")
        .form(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(!html.contains("<html"), "a fragment");
    assert!(html.contains(&format!("id=\"session{session}\"")));
    assert!(html.contains("hx-swap-oob=\"innerHTML:#live\""));
    assert!(html.contains("1 left early"));
    assert!(marks(&s).await.contains(&format!("{p2}:left_early:150")));

    // The tablet mode is the same roster, large.
    let kiosk = fran.get(&format!("{path}?kiosk=1")).await;
    assert_eq!(kiosk.status(), StatusCode::OK);
    let html = kiosk.text().await.expect("text");
    assert!(html.contains("class=\"kiosk\"") && html.contains("name=\"kiosk\" value=\"1\""));
    assert_eq!(
        fran.get("/schedule/sessions/999999/check-in")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_group_note_is_written_and_signed_from_the_sessions_attendance() {
    let s = common::start().await;
    let (session, patients) = evening_group(&s).await;
    let [(p1, _), (p2, robin), (p3, sam)] = [
        patients[0].clone(),
        patients[1].clone(),
        patients[2].clone(),
    ];
    let fran = s.browser("fran").await;
    let path = format!("/schedule/sessions/{session}/check-in");
    let (a, b, c) = (
        format!("status_{p1}"),
        format!("status_{p2}"),
        format!("status_{p3}"),
    );
    let missed = format!("missed_{p2}");
    let res = fran
        .post(
            &path,
            &[
                (a.as_str(), "present"),
                (b.as_str(), "late"),
                (missed.as_str(), "30"),
                (c.as_str(), "absent_unexcused"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let casey = s.browser("casey").await;
    let note_path = format!("/schedule/sessions/{session}/group-note");
    let my_day = casey
        .get("/schedule/my-day")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        my_day.contains(&format!("href=\"{note_path}\"")),
        "started from My day"
    );
    let sheet = casey
        .get("/schedule/day-sheet")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        sheet.contains(&format!("href=\"{note_path}\"")),
        "and from the day sheet"
    );

    // Another counselor, not the facilitator, may not write it; the front desk may not either.
    let olive = s.browser("olive").await;
    assert_eq!(olive.get(&note_path).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(fran.get(&note_path).await.status(), StatusCode::FORBIDDEN);

    let form = casey.get(&note_path).await.text().await.expect("text");
    assert!(form.contains(&format!("id=\"p{p1}_data\"")));
    assert!(form.contains(&format!("id=\"p{p2}_data\"")));
    assert!(
        !form.contains(&format!("id=\"p{p3}_data\"")),
        "absent: no note"
    );
    assert!(form.contains(&format!("{sam} · absent: no note")));
    assert!(form.contains("Late: 150 of 180 min, 18:30–21:00"));
    assert!(!form.contains("caseload"));

    // Bad input: the shared part and Robin's part missing.
    let fields = |shared: &'static str, robin_data: &'static str| {
        let mut f = vec![("shared_text".to_owned(), shared.to_owned())];
        for (p, data) in [(p1, "Engaged, shared a trigger."), (p2, robin_data)] {
            f.push((format!("p{p}_data"), data.to_owned()));
            f.push((
                format!("p{p}_assessment"),
                "Coping skills improving.".into(),
            ));
            f.push((format!("p{p}_plan"), "Continue group.".into()));
        }
        f.push(("action".into(), "sign".into()));
        f
    };
    let bad = fields("", "");
    let refs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = casey.post(&note_path, &refs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("href=\"#shared_text\">What the group did</a>: is required"));
    assert!(html.contains(&format!(
        "href=\"#p{p2}_data\">{robin}: Data</a>: is required"
    )));
    assert!(html.contains(&format!("id=\"p{p2}_data\"")));
    assert!(
        html.contains("Engaged, shared a trigger."),
        "typed text kept"
    );
    let notes = || async {
        trellis_storage::testing::raw_strings(
            &s.store,
            "SELECT CAST(patient_id AS TEXT) || ':' || service_code || ':'
                 || CAST(duration_minutes AS TEXT) || ':' || COALESCE(signed_at, 'unsigned')
             FROM progress_notes WHERE group_note_id IS NOT NULL ORDER BY patient_id",
        )
        .await
        .expect("rows")
    };
    assert!(notes().await.is_empty());

    // Save and sign in one step.
    let good = fields(
        "Relapse prevention: warning signs.",
        "Arrived late; joined the role play.",
    );
    let refs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = casey.post(&note_path, &refs).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page_path = res.url().path().to_owned();
    let html = res.text().await.expect("text");
    assert!(html.contains("Group note saved and signed: 2 member notes."));
    assert!(html.contains(&format!("/patients/{p2}/notes#note")));
    assert!(html.contains("18:30–21:00 · 150 min"));
    let rows = notes().await;
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with(&format!("{p1}:group:180:")) && !rows[0].ends_with("unsigned"));
    assert!(rows[1].starts_with(&format!("{p2}:group:150:")) && !rows[1].ends_with("unsigned"));

    // One note per session; the session now links to it, and so does the list.
    let again = casey.post(&note_path, &refs).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let sheet = casey
        .get("/schedule/day-sheet")
        .await
        .text()
        .await
        .expect("text");
    assert!(sheet.contains(&format!("href=\"{page_path}\"")));
    let list = casey.get("/group-notes").await.text().await.expect("text");
    assert!(list.contains(&format!("href=\"{page_path}\"")));
    assert!(
        !list.contains("name=\"shared_text\""),
        "the old caseload form is gone"
    );
    assert_eq!(olive.get(&page_path).await.status(), StatusCode::FORBIDDEN);
    let dora = s.browser("dora").await;
    assert_eq!(dora.get(&page_path).await.status(), StatusCode::OK);
    let chart = casey
        .get(&format!("/patients/{p2}/notes"))
        .await
        .text()
        .await
        .expect("text");
    assert!(chart.contains("Group therapy · 18:30–21:00 · 150 min"));
    assert_eq!(
        casey
            .get("/schedule/sessions/999999/group-note")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn chart_notes_record_their_service_code_and_time() {
    let s = common::start().await;
    let casey = s.browser("casey").await;
    let path = format!("/patients/{}/notes", s.patient_id);
    let today = common::today().format("%Y-%m-%d").to_string();
    let post = |code: &'static str, started: &'static str, ended: &'static str| {
        let today = today.clone();
        let casey = &casey;
        let path = path.clone();
        async move {
            casey
                .post(
                    &path,
                    &[
                        ("template", "dap"),
                        ("service_code", code),
                        ("session_on", &today),
                        ("started", started),
                        ("ended", ended),
                        ("data", "Discussed the week."),
                        ("assessment", "Stable."),
                        ("plan", "Meet next week."),
                    ],
                )
                .await
        }
    };
    for (code, started, ended, message) in [
        ("", "14:00", "14:50", "choose the service"),
        ("group", "14:00", "14:50", "written from the group"),
        ("crisis", "", "14:50", "is required"),
        ("crisis", "2pm", "14:50", "must be a time"),
        ("crisis", "14:00", "13:00", "end time must be after"),
    ] {
        let res = post(code, started, ended).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code} {started} {ended}"
        );
        assert!(
            res.text().await.expect("text").contains(message),
            "{message}"
        );
    }
    let res = post("crisis", "14:00", "14:50").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(
        html.contains("Crisis intervention · 14:00–14:50 · 50 min"),
        "{html}"
    );
    assert!(html.contains("name=\"started\""));
}
