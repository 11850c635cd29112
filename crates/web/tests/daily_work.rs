//! Daily work over HTTP: checking in a session's roster with one save (htmx and plain form),
//! group notes written from the session's attendance, and the service code and time on notes.

mod common;

use reqwest::StatusCode;

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
    let (session, patients) = common::evening_group(&s, "casey").await;
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
    let (session, patients) = common::evening_group(&s, "casey").await;
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

async fn post_group_note(
    s: &common::TestServer,
    token: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    common::client()
        .post(format!("{}/api/v1/group-notes", s.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn the_group_note_api_starts_from_a_session_and_writes_only_for_those_who_came() {
    use serde_json::json;
    use trellis_domain::access::Role;
    use trellis_domain::schedule::attendance::AttendanceStatus;
    use trellis_storage::access::can;

    let s = common::start().await;
    let (session, patients) = common::evening_group(&s, "casey").await;
    let (came, absent) = (patients[0].0, patients[2].0);
    let fran = common::actor(&s.users, "fran", Role::FrontDesk);
    for (patient, status) in [
        (came, AttendanceStatus::Present),
        (absent, AttendanceStatus::AbsentUnexcused),
    ] {
        let grant = s
            .store
            .patient_grant::<can::ManageSchedule>(&fran, patient)
            .await
            .expect("grant");
        s.store
            .record_attendance(&grant, session, status, None)
            .await
            .expect("mark");
    }
    let casey = s.token("casey").await;
    let dap = json!({"data": "Shared a trigger.", "assessment": "Engaged.", "plan": "Continue."});
    let part = |patient: i64| json!({"patient_id": patient, "sections": dap.clone()});

    // Bad input: no session, a session that does not exist, a member who did not come.
    let res = post_group_note(
        &s,
        &casey,
        json!({"shared_text": "Relapse prevention", "attendees": [part(came)]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.expect("text").contains("session_id"));
    let res = post_group_note(
        &s,
        &casey,
        json!({"session_id": 999_999, "shared_text": "x", "attendees": [part(came)]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = post_group_note(
        &s,
        &casey,
        json!({"session_id": session, "shared_text": "x", "attendees": [part(came), part(absent)]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = post_group_note(
        &s,
        &casey,
        json!({"session_id": session, "shared_text": "  ", "attendees": [part(came)]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Only the track's facilitator (or a clinical director) writes it.
    let pete = s.token("pete").await;
    let res = post_group_note(
        &s,
        &pete,
        json!({"session_id": session, "shared_text": "x", "attendees": [part(came)]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = post_group_note(
        &s,
        &casey,
        json!({"session_id": session, "shared_text": "Relapse prevention: warning signs.",
               "attendees": [part(came)], "sign": true}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let notes = trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT CAST(patient_id AS TEXT) || ':' || service_code || ':'
             || CAST(duration_minutes AS TEXT) || ':' || COALESCE(signed_at, 'unsigned')
         FROM progress_notes WHERE group_note_id IS NOT NULL",
    )
    .await
    .expect("rows");
    assert_eq!(notes.len(), 1, "no note for the absent member");
    assert!(notes[0].starts_with(&format!("{came}:group:180:")) && !notes[0].ends_with("unsigned"));
    let again = post_group_note(
        &s,
        &casey,
        json!({"session_id": session, "shared_text": "x", "attendees": [part(came)]}),
    )
    .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}
