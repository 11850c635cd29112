//! The chart overview and the chart header over real HTTP: what each role sees (minimum
//! necessary), and facts that two pages show agreeing (hours and weeks under the minimum,
//! plan review dates, future admissions, overdue follow-up calls).

mod common;

use chrono::{Datelike, Duration, NaiveTime, Utc, Weekday};
use common::*;
use reqwest::StatusCode;
use trellis_domain::access::Role;
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_domain::measures::Instrument;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_domain::schedule::zone::SiteZone;
use trellis_storage::access::{can, Actor};
use trellis_storage::assessments::NewDiagnosis;
use trellis_storage::episodes::Admission;
use trellis_storage::measures::NewMeasure;
use trellis_storage::medications::NewMedication;
use trellis_storage::schedule::NewTrack;
use trellis_storage::treatment_plans::{
    Goal, Intervention, Modality, Objective, ObjectiveStatus, PlanContent, PlanSignatures, Problem,
};

const MORNING: u32 = 7;

async fn page(s: &TestServer, user: &str, path: &str) -> String {
    let b = s.browser(user).await;
    let res = b.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{user} {path}");
    res.text().await.expect("text")
}

/// The text of the element with `id`, up to its closing tag.
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} in {html}"));
    let from = start + html[start..].find('>').expect("tag end") + 1;
    &html[from..from + html[from..].find('<').expect("text end")]
}

/// A daily 07:00–10:00 track Dana has been enrolled in for two weeks; she came on every day of
/// this week before today and on two days of last week.
async fn morning_group(s: &TestServer) {
    let system = Actor::system("test");
    let programs = s
        .store
        .grant::<can::ManagePrograms>(&system)
        .expect("grant");
    let at = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("time");
    let track = s
        .store
        .create_track(
            &programs,
            NewTrack {
                program_id: s.program_id,
                name: "Morning".into(),
                room_id: None,
                telehealth: true,
                starts_on: today() - Duration::days(30),
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
                .map(|d| WeeklySlot::new(d, at(MORNING), at(MORNING + 3)).expect("slot"))
                .collect(),
                topics: Vec::new(),
            },
        )
        .await
        .expect("track");
    let fran = actor(&s.users, "fran", Role::FrontDesk);
    let manage = s
        .store
        .patient_grant::<can::ManageSchedule>(&fran, s.patient_id)
        .await
        .expect("grant");
    s.store
        .enrol(&manage, track, today() - Duration::days(14))
        .await
        .expect("enrol");
    let read = s.store.grant::<can::ReadSchedule>(&fran).expect("grant");
    let monday = today() - Duration::days(i64::from(today().weekday().num_days_from_monday()));
    let last_monday = monday - Duration::days(7);
    let mut days: Vec<_> = (0..(today() - monday).num_days())
        .map(|d| monday + Duration::days(d))
        .collect();
    days.extend([last_monday, last_monday + Duration::days(2)]);
    for d in days {
        let sheet = s.store.day_sheet(&read, s.site_id, d).await.expect("sheet");
        let session = sheet
            .iter()
            .find(|x| x.session.track_name == "Morning")
            .expect("session");
        s.store
            .record_attendance(&manage, session.session.id, AttendanceStatus::Present, None)
            .await
            .expect("attendance");
    }
}

/// Hours still to come this week on the morning track: sessions not yet started.
fn morning_hours_left() -> u32 {
    let zone = SiteZone::parse(CLINIC_TIMEZONE.name()).expect("zone");
    let sunday = today() + Duration::days(6 - i64::from(today().weekday().num_days_from_monday()));
    let mut hours = 0;
    let mut d = today();
    while d <= sunday {
        let start = zone
            .resolve(d.and_time(NaiveTime::from_hms_opt(MORNING, 0, 0).expect("time")))
            .expect("start");
        if start >= Utc::now() {
            hours += 3;
        }
        d += Duration::days(1);
    }
    hours
}

async fn program_phases(s: &TestServer) {
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
}

#[tokio::test]
async fn overview_hours_and_weeks_under_the_minimum_agree_with_the_schedule_and_phase_tabs() {
    let s = start().await;
    morning_group(&s).await;
    program_phases(&s).await;
    let chart = format!("/patients/{}", s.patient_id);
    let overview = page(&s, "casey", &chart).await;
    let schedule = page(&s, "casey", &format!("{chart}/schedule")).await;
    let phase = page(&s, "casey", &format!("{chart}/phase")).await;

    // This week's hours: the Schedule tab's "This week, so far" row, the same figure.
    let table = &schedule[schedule.find("id=\"weekly-hours\"").expect("hours table")..];
    let table = &table[..table.find("</table>").expect("end")];
    let this_week = table
        .split("<tr>")
        .find(|row| row.contains(">This week, so far<"))
        .expect("this week's row");
    let this_week = &this_week[this_week.find("class=\"hours\">").expect("hours") + 14..];
    let this_week = &this_week[..this_week.find('<').expect("end")];
    assert_eq!(by_id(&overview, "hours-this-week"), this_week);
    let days_this_week = today().weekday().num_days_from_monday();
    assert_eq!(this_week, format!("{} h", days_this_week * 3));
    // Still scheduled: the sessions of the week not yet begun.
    assert_eq!(
        by_id(&overview, "hours-still-scheduled"),
        format!("{} h", morning_hours_left())
    );

    // Weeks under the minimum: last week had 6 of 9 hours. The overview, the Schedule tab's
    // run of "Under minimum" weeks back from last week, and the Phase tab say the same.
    let under = by_id(&overview, "weeks-under-minimum");
    let run = table
        .split("<tr>")
        .skip_while(|row| !row.contains(">This week, so far<"))
        .skip(1)
        .take_while(|row| row.contains(">Under minimum<"))
        .count();
    assert_eq!(under, run.to_string(), "{table}");
    assert!(run >= 1, "{table}");
    assert!(
        phase.contains(&format!("under the weekly minimum {under} weeks running")),
        "the Phase tab agrees with the overview's {under}: {phase}"
    );
}

/// Dana's clinical record: an alcohol use disorder on her list, buprenorphine, two PHQ-9s
/// (worse), and a plan signed today.
async fn clinical_record(s: &TestServer) {
    let casey = actor(&s.users, "casey", Role::Counselor);
    let write = s
        .store
        .patient_grant::<can::WriteClinical>(&casey, s.patient_id)
        .await
        .expect("grant");
    let diagnosis = s
        .store
        .add_diagnosis(
            &write,
            &NewDiagnosis {
                code: "F10.20".into(),
                primary: true,
                ..NewDiagnosis::default()
            },
            today(),
        )
        .await
        .expect("diagnosis");
    let priya = actor(&s.users, "priya", Role::Prescriber);
    let prescribe = s
        .store
        .patient_grant::<can::WriteClinical>(&priya, s.patient_id)
        .await
        .expect("grant");
    s.store
        .record_medication(
            &prescribe,
            &NewMedication {
                name: "Naltrexone 50 mg tablet".into(),
                dose: "50 mg".into(),
                route: "oral".into(),
                frequency: "once daily".into(),
                ingredients: vec!["7243".into()],
                prescriber_id: Some(s.users["priya"]),
                started_on: Some(today() - Duration::days(7)),
                reason: Some("alcohol use disorder".into()),
                ..NewMedication::default()
            },
            today(),
        )
        .await
        .expect("medication");
    for (days_ago, answer) in [(10, 1), (2, 2)] {
        s.store
            .record_measure(
                &write,
                &NewMeasure {
                    instrument: Instrument::Phq9,
                    administered_on: today() - Duration::days(days_ago),
                    answers: [vec![Some(answer); 8], vec![Some(0)]].concat(),
                },
                today(),
            )
            .await
            .expect("measure");
    }
    let content = PlanContent {
        problems: vec![Problem {
            text: "Drinking daily after work".into(),
            diagnosis_code: None,
            diagnosis_id: Some(diagnosis),
            finding: None,
            goals: vec![Goal {
                text: "I want my evenings back".into(),
                objectives: vec![Objective {
                    id: None,
                    text: "Attend 3 groups a week".into(),
                    target_on: today() + Duration::days(28),
                    status: ObjectiveStatus::Open,
                    interventions: vec![Intervention {
                        modality: Modality::Group,
                        frequency: "3 times a week".into(),
                        staff_id: s.users["casey"],
                    }],
                }],
            }],
        }],
    };
    s.store.write_plan(&write, &content).await.expect("plan");
    s.store
        .sign_plan(
            &write,
            1,
            &PlanSignatures {
                patient: "Dana Reyes".into(),
                clinician: "Casey".into(),
            },
            today(),
        )
        .await
        .expect("sign");
}

#[tokio::test]
async fn the_overview_tells_a_clinician_the_episode_on_one_screen() {
    let s = start().await;
    clinical_record(&s).await;
    let html = page(&s, "casey", &format!("/patients/{}", s.patient_id)).await;
    for part in [
        "2.1 Intensive outpatient",
        "F10.20",
        "Naltrexone 50 mg tablet, 50 mg once daily",
        "PHQ-9 16",
        "worse (was 8)",
        "I want my evenings back",
        "Version 1, review due",
        "This week",
        "Consents in force",
        "Flags and tasks",
    ] {
        assert!(html.contains(part), "{part:?} missing: {html}");
    }
    // Signed today: the review is a month away, not overdue, on the overview and the plan tab.
    assert!(!html.contains("review overdue"), "{html}");
    let plan = page(
        &s,
        "casey",
        &format!("/patients/{}/treatment-plan", s.patient_id),
    )
    .await;
    assert!(!plan.contains("Review overdue"), "{plan}");
    let due = trellis_storage::Day(today() + Duration::days(30));
    let due = due.0.format("%b %-d, %Y").to_string();
    assert!(plan.contains(&due), "{plan}");
    assert!(html.contains(&format!("review due {due}")), "{html}");
    // The header on every tab: age, status, level, counselor and flag count.
    let header = &html[html.find("class=\"chart-header\"").expect("header")..];
    let header = &header[..header.find("</section>").expect("end")];
    for part in [
        "Age",
        "Active",
        "Level of care",
        "Primary counselor",
        "Open flags",
    ] {
        assert!(header.contains(part), "{part:?}: {header}");
    }
}

#[tokio::test]
async fn each_role_sees_only_its_part_of_the_overview() {
    let s = start().await;
    clinical_record(&s).await;
    let chart = format!("/patients/{}", s.patient_id);
    let clinical = [
        "F10.20",
        "Naltrexone",
        "PHQ-9",
        "I want my evenings back",
        "Flags and tasks",
    ];
    // (user, sees the clinical part, sees the schedule, sees consents, sees level/counselor)
    for (user, sees_clinical, sees_schedule, sees_consents, sees_care) in [
        ("casey", true, true, true, true),
        ("dora", true, true, true, true),
        ("nate", true, true, false, true),
        ("fran", false, true, false, false),
        ("bill", false, true, false, true),
        ("ingrid", false, true, true, true),
        ("ada", false, true, false, true),
        ("pat", false, false, true, true),
    ] {
        let html = page(&s, user, &chart).await;
        for word in clinical {
            assert_eq!(html.contains(word), sees_clinical, "{user}: {word}");
        }
        assert_eq!(
            html.contains("id=\"overview-hours\""),
            sees_schedule,
            "{user}: hours"
        );
        assert_eq!(
            html.contains("Consents in force"),
            sees_consents,
            "{user}: consents"
        );
        assert_eq!(
            html.contains("Primary counselor"),
            sees_care,
            "{user}: counselor"
        );
        assert_eq!(html.contains("Open flags"), sees_clinical, "{user}: flags");
        // Everyone sees who the patient is.
        assert!(html.contains("Dana Reyes"), "{user}");
    }
}

#[tokio::test]
async fn plan_review_dates_agree_on_the_plan_tab_the_overview_and_the_dashboard() {
    let s = start().await;
    clinical_record(&s).await;
    // A second patient whose plan was signed 40 days ago (a paper plan entered late).
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let (kim, _) = admitted(
        &s.store,
        &intake,
        s.site_id,
        s.program_id,
        s.users["casey"],
        "Kim",
        "Brandt",
    )
    .await;
    let casey = actor(&s.users, "casey", Role::Counselor);
    let write = s
        .store
        .patient_grant::<can::WriteClinical>(&casey, kim)
        .await
        .expect("grant");
    let mut content = PlanContent::default();
    content.problems.push(Problem {
        text: "Low mood".into(),
        diagnosis_code: None,
        diagnosis_id: None,
        finding: Some("Reports low mood most days".into()),
        goals: vec![Goal {
            text: "I want to get out of bed".into(),
            objectives: vec![Objective {
                id: None,
                text: "Daily activity schedule".into(),
                target_on: today() + Duration::days(14),
                status: ObjectiveStatus::Open,
                interventions: vec![Intervention {
                    modality: Modality::IndividualCbt,
                    frequency: "weekly".into(),
                    staff_id: s.users["casey"],
                }],
            }],
        }],
    });
    s.store.write_plan(&write, &content).await.expect("plan");
    s.store
        .sign_plan(
            &write,
            1,
            &PlanSignatures {
                patient: "Kim Brandt".into(),
                clinician: "Casey".into(),
            },
            today() - Duration::days(40),
        )
        .await
        .expect("sign");
    let due = (today() - Duration::days(10))
        .format("%b %-d, %Y")
        .to_string();
    let plan = page(&s, "casey", &format!("/patients/{kim}/treatment-plan")).await;
    assert!(plan.contains("Review overdue"), "{plan}");
    assert!(plan.contains(&due), "{plan}");
    // The signature is dated the day it was signed, the day the review is counted from.
    let signed_on = (today() - Duration::days(40))
        .format("%Y-%m-%d")
        .to_string();
    assert!(plan.contains(&signed_on), "{plan}");
    let overview = page(&s, "casey", &format!("/patients/{kim}")).await;
    assert!(
        overview.contains(&format!(
            "review due {due}</a> <span class=\"badge overdue\">review overdue"
        )),
        "{overview}"
    );
    let dashboard = page(&s, "casey", "/dashboard").await;
    assert!(
        dashboard.contains(&format!("Plan review was due {due}")),
        "{dashboard}"
    );
    // Dana's, signed today, is nowhere overdue.
    let dana = dashboard
        .split("<tr>")
        .find(|row| row.contains("Dana Reyes"))
        .expect("Dana on the caseload");
    assert!(!dana.contains("Plan review"), "{dana}");
}

#[tokio::test]
async fn a_future_admission_says_when_it_starts_on_the_chart_and_the_patient_list() {
    let s = start().await;
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let grant = s
        .store
        .grant::<can::EditDemographics>(&intake)
        .expect("grant");
    let trellis_storage::patients::RegisterOutcome::Created(kim) = s
        .store
        .register_patient(
            &grant,
            s.site_id,
            &trellis_domain::patient::Registration {
                legal_first_name: "Kim".into(),
                legal_last_name: "Brandt".into(),
                date_of_birth: Some(day(1988, 3, 9)),
                sex: "male".into(),
                ..trellis_domain::patient::Registration::default()
            },
            today(),
            false,
        )
        .await
        .expect("register")
    else {
        panic!("duplicate");
    };
    let admit = s
        .store
        .patient_grant::<can::AdmitEpisode>(&intake, kim)
        .await
        .expect("grant");
    s.store
        .admit(
            &admit,
            &Admission {
                program_id: s.program_id,
                admitted_on: today() + Duration::days(3),
                referral_source: "Self or family".into(),
                primary_counselor_id: Some(s.users["casey"]),
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    let chart = page(&s, "casey", &format!("/patients/{kim}")).await;
    assert!(
        chart.contains("Admission pending, admits in 3 days"),
        "{chart}"
    );
    let episodes = page(&s, "casey", &format!("/patients/{kim}/episodes")).await;
    assert!(episodes.contains("admits in 3 days"), "{episodes}");
    let list = page(&s, "casey", "/patients").await;
    assert!(list.contains("admits in 3 days"), "{list}");
}

#[tokio::test]
async fn an_overdue_follow_up_call_is_marked_overdue_on_the_discharge_page_and_the_overview() {
    let s = start().await;
    let casey = actor(&s.users, "casey", Role::Counselor);
    let discharge = s
        .store
        .patient_grant::<can::DischargeEpisode>(&casey, s.patient_id)
        .await
        .expect("grant");
    s.store
        .discharge(
            &discharge,
            s.episode_id,
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
    let summary = page(
        &s,
        "casey",
        &format!("/episodes/{}/discharge-summary", s.episode_id),
    )
    .await;
    let row = summary
        .split("<tr")
        .find(|r| r.contains("60-day"))
        .expect("the 60-day call");
    assert!(row.contains("badge overdue\">overdue"), "{row}");
    let later = summary
        .split("<tr")
        .find(|r| r.contains("90-day"))
        .expect("the 90-day call");
    assert!(!later.contains("overdue"), "{later}");
    let overview = page(&s, "casey", &format!("/patients/{}", s.patient_id)).await;
    let line = overview
        .split("<li>")
        .find(|l| l.contains("60-day"))
        .expect("the call among the open tasks");
    assert!(line.contains("badge overdue\">overdue"), "{line}");
}

#[tokio::test]
async fn a_high_flag_is_one_task_line_on_the_overview_naming_who_holds_it() {
    let s = start().await;
    let dora = actor(&s.users, "dora", Role::ClinicalDirector);
    let grant = s
        .store
        .patient_grant::<can::WriteClinical>(&dora, s.patient_id)
        .await
        .expect("grant");
    s.store
        .raise_manual_flag(
            &grant,
            trellis_storage::tasks::Severity::High,
            "Said she has a stockpile of pills",
        )
        .await
        .expect("flag");
    // Two tasks answer it: casey's, as primary counselor, and the clinical directors'.
    let open = trellis_storage::testing::raw_strings(
        &s.store,
        "SELECT title FROM tasks WHERE kind = 'safety_flag' AND completed_at IS NULL",
    )
    .await
    .expect("tasks");
    assert_eq!(open.len(), 2);
    let overview = page(&s, "casey", &format!("/patients/{}", s.patient_id)).await;
    let tasks = overview
        .split("aria-label=\"Open tasks\"")
        .nth(1)
        .and_then(|t| t.split("</ul>").next())
        .expect("the open tasks");
    assert_eq!(
        tasks
            .matches("Respond to flag: Said she has a stockpile of pills")
            .count(),
        1,
        "{tasks}"
    );
    assert!(
        tasks.contains("(with the counselor and the clinical director)"),
        "{tasks}"
    );
}

/// Dana came to nothing in the whole weeks since her admission at IOP, and is stepped down to
/// outpatient from this week's Monday. Those weeks were short of IOP's 9 h and stay so on every
/// page: the Schedule tab (9 h beside each), the overview's run, the weekly-hours page and the
/// director's count. Judged by today's level (outpatient: no minimum) they would read "within".
#[tokio::test]
async fn past_weeks_are_judged_by_the_level_in_force_then_on_every_page() {
    let s = start().await;
    let casey = actor(&s.users, "casey", Role::Counselor);
    let grant = s
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&casey, s.patient_id)
        .await
        .expect("grant");
    let monday = today() - Duration::days(today().weekday().num_days_from_monday().into());
    s.store
        .change_level(
            &grant,
            s.episode_id,
            LevelOfCare::Outpatient,
            monday,
            "Stepped down after review",
            today(),
        )
        .await
        .expect("step down");
    let chart = format!("/patients/{}", s.patient_id);
    let overview = page(&s, "casey", &chart).await;
    let schedule = page(&s, "casey", &format!("{chart}/schedule")).await;
    let table = &schedule[schedule.find("id=\"weekly-hours\"").expect("hours table")..];
    let table = &table[..table.find("</table>").expect("end")];
    let rows: Vec<&str> = table.split("<tr>").collect();
    let this_week = rows
        .iter()
        .find(|row| row.contains(">This week, so far<"))
        .expect("this week's row");
    // This week is held to outpatient's range (no minimum), the weeks before to IOP's 9 h.
    assert!(this_week.contains(">none<"), "{this_week}");
    let run: Vec<&&str> = rows
        .iter()
        .skip_while(|row| !row.contains(">This week, so far<"))
        .skip(1)
        .take_while(|row| row.contains(">Under minimum<"))
        .collect();
    assert!(!run.is_empty(), "{table}");
    assert!(run.iter().all(|row| row.contains(">9 h<")), "{table}");
    assert!(
        schedule.contains("none at this level of care"),
        "today's level"
    );
    assert_eq!(
        by_id(&overview, "weeks-under-minimum"),
        run.len().to_string()
    );

    // Last week on the weekly-hours page and the director's dashboard: Dana, under IOP's 9 h.
    let last_week = monday - Duration::days(7);
    let hours = page(
        &s,
        "dora",
        &format!("/schedule/hours?site={}&date={last_week}", s.site_id),
    )
    .await;
    let row = hours
        .split("<tr>")
        .find(|row| row.contains(&format!("/patients/{}/schedule", s.patient_id)))
        .unwrap_or_else(|| panic!("Dana on the weekly-hours page: {hours}"));
    assert!(row.contains("<td>9 h</td>"), "{row}");
    assert!(row.contains("Under minimum"), "{row}");
    // The director's count is the page's (Lee, in the other program, came to nothing too).
    let under = hours.matches(">Under minimum<").count();
    let dashboard = page(&s, "dora", "/dashboard").await;
    assert!(
        dashboard.contains(&format!(
            "<strong>{under}</strong> under the weekly minimum"
        )),
        "{under}: {dashboard}"
    );
}
