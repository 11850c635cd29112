//! Each role's dashboard over real HTTP: what it shows, what it must not show (minimum
//! necessary), overdue badges; and facts two pages show that must agree (weekly hours).

mod common;

use chrono::Duration;
use common::*;
use reqwest::StatusCode;
use trellis_domain::access::Role;
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_domain::patient::Registration;
use trellis_storage::access::can;
use trellis_storage::episodes::Admission;
use trellis_storage::notes::{NewNote, NoteKind, NoteTemplate};
use trellis_storage::patients::RegisterOutcome;
use trellis_storage::tasks::Severity;

/// The world the dashboards summarise: Dana (casey's) has a note four days late and a flag;
/// Alex (casey's) is discharged with a follow-up call past due; Sam (casey's) starts today and
/// Kim in three days; Lee (olive's) is in the other program.
struct World {
    s: TestServer,
    note_id: i64,
}

async fn register(s: &TestServer, first: &str, last: &str) -> i64 {
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let grant = s
        .store
        .grant::<can::EditDemographics>(&intake)
        .expect("grant");
    let registration = Registration {
        legal_first_name: first.into(),
        legal_last_name: last.into(),
        date_of_birth: Some(day(1988, 3, 9)),
        sex: "male".into(),
        ..Registration::default()
    };
    let RegisterOutcome::Created(id) = s
        .store
        .register_patient(&grant, s.site_id, &registration, today(), false)
        .await
        .expect("register")
    else {
        panic!("unexpected duplicate");
    };
    id
}

async fn admit_on(s: &TestServer, patient: i64, on: chrono::NaiveDate) {
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let grant = s
        .store
        .patient_grant::<can::AdmitEpisode>(&intake, patient)
        .await
        .expect("grant");
    s.store
        .admit(
            &grant,
            &Admission {
                program_id: s.program_id,
                admitted_on: on,
                referral_source: "Self or family".into(),
                primary_counselor_id: Some(s.users["casey"]),
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
}

async fn world() -> World {
    let s = start().await;
    let casey = actor(&s.users, "casey", Role::Counselor);
    let write = s
        .store
        .patient_grant::<can::WriteClinical>(&casey, s.patient_id)
        .await
        .expect("grant");
    let note_id = s
        .store
        .write_note(
            &write,
            &NewNote {
                kind: NoteKind::Individual,
                template: NoteTemplate::Dap,
                session_on: today() - Duration::days(4),
                sections: ["data", "assessment", "plan"]
                    .into_iter()
                    .map(|k| (k.to_owned(), "dashboard note".to_owned()))
                    .collect(),
                objective_ids: Vec::new(),
                service: None,
            },
            today(),
        )
        .await
        .expect("note");
    s.store
        .raise_manual_flag(&write, Severity::Moderate, "dashboard flag summary")
        .await
        .expect("flag");
    // Alex (casey's) is discharged today; the 60-day follow-up call is then moved into the
    // past, as if the discharge had been months ago (the 30- and 90-day calls stay ahead).
    let alex = register(&s, "Alex", "Moreno").await;
    admit_on(&s, alex, today() - Duration::days(14)).await;
    let discharge = s
        .store
        .patient_grant::<can::DischargeEpisode>(&casey, alex)
        .await
        .expect("grant");
    let alex_episode = s
        .store
        .episodes(
            &s.store
                .patient_grant::<can::ReadEpisodes>(&casey, alex)
                .await
                .expect("grant"),
        )
        .await
        .expect("episodes")[0]
        .id;
    s.store
        .discharge(
            &discharge,
            alex_episode,
            today(),
            DischargeReason::TreatmentCompleted,
            None,
            today(),
        )
        .await
        .expect("discharge");
    let two_days_ago = (today() - Duration::days(2)).format("%Y-%m-%d").to_string();
    for sql in [
        format!(
            "UPDATE tasks SET due_on = '{two_days_ago}' WHERE id IN
                 (SELECT task_id FROM discharge_follow_ups WHERE days_after = 60)"
        ),
        format!("UPDATE discharge_follow_ups SET due_on = '{two_days_ago}' WHERE days_after = 60"),
    ] {
        trellis_storage::testing::raw_execute(&s.store, &sql)
            .await
            .expect("move follow-up");
    }
    let sam = register(&s, "Sam", "Okafor").await;
    admit_on(&s, sam, today()).await;
    let kim = register(&s, "Kim", "Brandt").await;
    admit_on(&s, kim, today() + Duration::days(3)).await;
    World { s, note_id }
}

async fn dashboard(s: &TestServer, user: &str) -> String {
    let b = s.browser(user).await;
    let res = b.get("/dashboard").await;
    assert_eq!(res.status(), StatusCode::OK, "{user}");
    res.text().await.expect("text")
}

#[tokio::test]
async fn counselor_sees_her_caseload_with_what_is_due_today_and_no_one_else() {
    let w = world().await;
    let html = dashboard(&w.s, "casey").await;
    assert!(html.contains("id=\"caseload\""));
    assert!(html.contains("Dana Reyes"));
    assert!(
        html.contains(&format!(
            "/patients/{}/notes#note{}",
            w.s.patient_id, w.note_id
        )),
        "the late note links to itself"
    );
    assert!(html.contains("1 open flag"));
    assert!(
        html.contains("badge overdue\">overdue"),
        "a note four days late is overdue"
    );
    assert!(html.contains("Plan not written"));
    assert!(!html.contains("Lee Park"), "olive's patient is not casey's");
    assert!(!html.contains("Program today"), "no program-wide view");
    assert!(!html.contains("Per counselor"));
}

#[tokio::test]
async fn director_sees_the_program_per_counselor_and_reaches_a_late_note_in_one_click() {
    let w = world().await;
    let html = dashboard(&w.s, "dora").await;
    assert!(html.contains("Program today"));
    assert!(html.contains("Per counselor"));
    assert!(html.contains("casey (Counselor)"));
    // Dana, Sam and Lee are in care; Kim is booked; Alex is discharged.
    assert!(
        html.contains("<strong>3</strong> in care, 1 admission booked"),
        "{html}"
    );
    assert!(html.contains("<strong>1</strong> open safety flags"));
    assert!(html
        .contains("<strong>1</strong> follow-up calls</a> <span class=\"badge overdue\">overdue"));
    let link = format!("/patients/{}/notes#note{}", w.s.patient_id, w.note_id);
    assert!(html.contains(&link), "the late note is one click away");
    let b = w.s.browser("dora").await;
    let note = b.get(&link).await;
    assert_eq!(note.status(), StatusCode::OK);
    assert!(note
        .text()
        .await
        .expect("text")
        .contains(&format!("id=\"note{}\"", w.note_id)));
}

#[tokio::test]
async fn front_desk_sees_today_and_names_only() {
    let w = world().await;
    let html = dashboard(&w.s, "fran").await;
    assert!(html.contains("Today at Downtown"));
    assert!(html.contains("New admissions today"));
    assert!(html.contains("Sam Okafor"), "today's new admission by name");
    for word in [
        "Intensive outpatient",
        "2.1",
        "casey (Counselor)",
        "open flag",
        "Notes late",
        "Dana Reyes",
        "Program today",
        "Medications",
        "intake assessment",
    ] {
        assert!(!html.contains(word), "front desk must not see {word:?}");
    }
}

#[tokio::test]
async fn billing_sees_counts_and_no_clinical_words_or_names() {
    let w = world().await;
    let html = dashboard(&w.s, "bill").await;
    assert!(
        html.contains("<strong>3</strong> patients in care"),
        "{html}"
    );
    for word in [
        "Dana Reyes",
        "Sam Okafor",
        "open flag",
        "Notes late",
        "note",
        "Drug screen",
        "Intensive outpatient",
    ] {
        assert!(!html.contains(word), "billing must not see {word:?}");
    }
}

#[tokio::test]
async fn intake_sees_admissions_today_coming_up_and_unfinished_intakes() {
    let w = world().await;
    let html = dashboard(&w.s, "ingrid").await;
    assert!(html.contains("Admissions today"));
    assert!(html.contains("Sam Okafor"));
    assert!(html.contains("Kim Brandt"));
    assert!(html.contains("admits in 3 days"));
    assert!(html.contains("Intakes not finished"));
    assert!(html.contains("no intake assessment"));
    for word in ["open flag", "Notes late", "dashboard flag summary"] {
        assert!(!html.contains(word), "intake must not see {word:?}");
    }
}

#[tokio::test]
async fn peer_specialist_sees_follow_up_calls_with_the_overdue_one_marked() {
    let w = world().await;
    let html = dashboard(&w.s, "pete").await;
    assert!(html.contains("Outreach and follow-up calls due"));
    let start = html.find("Alex Moreno").expect("Alex's call is listed");
    let line = &html[start..start + html[start..].find("</li>").expect("end of line")];
    assert!(line.contains("Follow-up call after discharge"), "{line}");
    assert!(line.contains("badge overdue\">overdue"), "{line}");
    assert!(!html.contains("Lee Park"), "Lee is outside pete's program");
    assert!(!html.contains("id=\"caseload\""));
}

#[tokio::test]
async fn overdue_follow_up_call_is_marked_overdue_on_the_tasks_page_though_routine() {
    let w = world().await;
    let b = w.s.browser("casey").await;
    let html = b.get("/tasks").await.text().await.expect("text");
    let start = html.find("60-day").expect("the 60-day call is listed");
    let card = &html[html[..start].rfind("<section").expect("card")..];
    let card = &card[..card.find("</section>").expect("end")];
    assert!(card.contains(">routine<"), "{card}");
    assert!(card.contains("badge overdue\">overdue"), "{card}");
    let dash = dashboard(&w.s, "casey").await;
    assert!(dash.contains("Follow-up calls after discharge"));
    assert!(dash.contains("1 overdue"), "{dash}");
}

#[tokio::test]
async fn nurse_sees_medication_and_screen_work_but_no_caseload() {
    let w = world().await;
    let html = dashboard(&w.s, "nate").await;
    assert!(html.contains("Medications and screens"));
    // Dana and Sam are in care with no screen in the last week.
    assert!(
        html.contains("<strong>2</strong> patients due a drug screen"),
        "{html}"
    );
    assert!(!html.contains("id=\"caseload\""));
    assert!(!html.contains("Per counselor"));
}

#[tokio::test]
async fn admin_and_privacy_officer_see_tasks_and_no_patient_lists() {
    let w = world().await;
    for user in ["ada", "pat"] {
        let html = dashboard(&w.s, user).await;
        assert!(html.contains("My tasks"), "{user}");
        for word in ["Dana Reyes", "Sam Okafor", "Notes late", "Program today"] {
            assert!(!html.contains(word), "{user} must not see {word:?}");
        }
    }
}

#[tokio::test]
async fn schedule_and_phase_tabs_count_the_same_weeks_under_the_minimum() {
    let s = start().await;
    let dora = s.browser("dora").await;
    let saved = dora
        .post(
            &format!("/programs/{}/phases", s.program_id),
            &[
                ("phases", "Phase 1 | 5 | 9\nPhase 2 | 3 | 6"),
                ("min_weeks_in_phase", "4"),
                ("min_attendance_percent", "80"),
                ("negative_screens", "2"),
                ("objectives_met", "1"),
                ("weeks_under_minimum", "1"),
                ("positive_screens", "2"),
                ("screen_window", "3"),
                ("outreach_after_unexcused", "3"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let casey = s.browser("casey").await;
    let schedule = casey
        .get(&format!("/patients/{}/schedule", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    let table = &schedule[schedule.find("id=\"weekly-hours\"").expect("hours table")..];
    let table = &table[..table.find("</table>").expect("end")];
    let under = table.matches(">Under minimum<").count();
    // Dana came to nothing since her admission 14 days ago: every whole week since is short,
    // the weeks before it and this week are not judged.
    assert!(under >= 1, "{table}");
    assert!(table.contains(">Before admission<"), "{table}");
    assert!(table.contains(">This week, so far<"), "{table}");
    let phase = casey
        .get(&format!("/patients/{}/phase", s.patient_id))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        phase.contains(&format!("under the weekly minimum {under} weeks running")),
        "the Phase tab agrees with the Schedule tab's {under} weeks: {phase}"
    );
}
