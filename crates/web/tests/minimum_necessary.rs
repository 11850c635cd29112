//! Minimum necessary (issue 11, item 1): each finding of the attack review reproduced, and now
//! absent. The table of who sees what is docs/minimum-necessary.md.

mod common;

use chrono::{NaiveTime, Weekday};
use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use trellis_domain::care::LevelOfCare;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::{can, Actor};
use trellis_storage::schedule::{NewRoom, NewTrack};
use trellis_storage::tasks::Severity;

/// A clinician's reasoning, written where only clinical roles should read it.
const REASON: &str = "Relapsed after a family crisis; craving daily";

async fn api_get(s: &TestServer, username: &'static str, path: &str) -> Value {
    let res = client()
        .get(format!("{}/api/v1{path}", s.base))
        .bearer_auth(s.token(username).await)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK, "{username} GET {path}");
    res.json().await.expect("json")
}

async fn page(s: &TestServer, username: &'static str, path: &str) -> String {
    let res = s.browser(username).await.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{username} GET {path}");
    res.text().await.expect("text")
}

#[tokio::test]
async fn level_of_care_reasons_are_clinical_text_only_clinical_roles_read() {
    let s = start().await;
    let casey = actor(&s.users, "casey", trellis_domain::access::Role::Counselor);
    let grant = s
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&casey, s.patient_id)
        .await
        .expect("grant");
    s.store
        .change_level(
            &grant,
            s.episode_id,
            LevelOfCare::PartialHospitalization,
            today(),
            REASON,
            today(),
        )
        .await
        .expect("change level");
    let path = format!("/episodes/{}/levels", s.episode_id);
    // The attack review's finding: billing, admin, intake and the privacy officer read this.
    for username in ["bill", "ada", "ingrid", "pat"] {
        let history = api_get(&s, username, &path).await;
        let rows = history.as_array().expect("array");
        assert_eq!(rows.len(), 2, "{username} still sees the levels");
        assert_eq!(rows[1]["level"], "2.5");
        for row in rows {
            assert!(row.get("reason").is_none(), "{username}: {row}");
        }
        let html = page(
            &s,
            username,
            &format!("/patients/{}/episodes", s.patient_id),
        )
        .await;
        assert!(html.contains("Level-of-care history"), "{username}");
        assert!(!html.contains(REASON), "{username} reads the reason");
        assert!(
            !html.contains("ASAM assessment"),
            "{username} reads the reason"
        );
    }
    for username in ["casey", "dora", "priya", "nate", "pete"] {
        let history = api_get(&s, username, &path).await;
        assert_eq!(history[0]["reason"], "ASAM assessment", "{username}");
        assert_eq!(history[1]["reason"], REASON, "{username}");
    }
    let html = page(&s, "casey", &format!("/patients/{}/episodes", s.patient_id)).await;
    assert!(html.contains(REASON));
    // Front desk reads no episodes at all.
    let res = client()
        .get(format!("{}/api/v1{path}", s.base))
        .bearer_auth(s.token("fran").await)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn front_desk_sees_demographics_but_no_level_counselor_or_flags_in_the_patient_list() {
    let s = start().await;
    let casey = actor(&s.users, "casey", trellis_domain::access::Role::Counselor);
    let write = s
        .store
        .patient_grant::<can::WriteClinical>(&casey, s.patient_id)
        .await
        .expect("grant");
    s.store
        .raise_manual_flag(&write, Severity::High, "Safety plan review")
        .await
        .expect("flag");
    let dana = |list: &Value| -> Value {
        list["patients"]
            .as_array()
            .expect("patients")
            .iter()
            .find(|p| p["legal_last_name"] == "Reyes")
            .cloned()
            .expect("Dana is listed")
    };
    let front_desk = dana(&api_get(&s, "fran", "/patients").await);
    assert_eq!(front_desk["date_of_birth"], "1990-05-17");
    assert_eq!(front_desk["status"], "in_treatment");
    for field in ["current_level", "counselor_name", "open_flags"] {
        assert!(front_desk.get(field).is_none(), "front desk gets {field}");
    }
    // Billing reads episodes (level and counselor) but not the clinical flag count.
    let billing = dana(&api_get(&s, "bill", "/patients").await);
    assert_eq!(billing["current_level"], "2.1");
    assert!(billing.get("open_flags").is_none(), "billing gets flags");
    let counselor = dana(&api_get(&s, "casey", "/patients").await);
    assert_eq!(counselor["current_level"], "2.1");
    assert_eq!(counselor["open_flags"], 1);
    assert!(counselor["counselor_name"]
        .as_str()
        .expect("name")
        .starts_with("casey"));

    let html = page(&s, "fran", "/patients").await;
    assert!(html.contains("Reyes"));
    for leak in ["casey (Counselor)", "1 flag", ">Level<", "badge level"] {
        assert!(!html.contains(leak), "front desk list shows {leak:?}");
    }
    let html = page(&s, "casey", "/patients").await;
    for shown in ["casey (Counselor)", "1 flag", ">Level<"] {
        assert!(html.contains(shown), "counselor list lacks {shown:?}");
    }
}

#[tokio::test]
async fn curriculum_gaps_on_the_schedule_tab_are_for_clinical_roles_only() {
    let s = start().await;
    let system = Actor::system("test");
    let programs = s
        .store
        .grant::<can::ManagePrograms>(&system)
        .expect("grant");
    let room = s
        .store
        .create_room(
            &programs,
            NewRoom {
                site_id: s.site_id,
                name: "Group room".into(),
                capacity: 12,
            },
        )
        .await
        .expect("room");
    let at = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("time");
    let track = s
        .store
        .create_track(
            &programs,
            NewTrack {
                program_id: s.program_id,
                name: "Evening".into(),
                room_id: Some(room),
                telehealth: false,
                starts_on: today() - chrono::Duration::days(21),
                slots: vec![WeeklySlot::new(Weekday::Mon, at(18), at(21)).expect("slot")],
                topics: ["Relapse prevention", "Coping with cravings"]
                    .into_iter()
                    .map(|t| (t.to_owned(), String::new()))
                    .collect(),
            },
        )
        .await
        .expect("track");
    let fran = actor(&s.users, "fran", trellis_domain::access::Role::FrontDesk);
    let enrol = s
        .store
        .patient_grant::<can::ManageSchedule>(&fran, s.patient_id)
        .await
        .expect("grant");
    s.store
        .enrol(&enrol, track, today() - chrono::Duration::days(7))
        .await
        .expect("enrol");
    let tab = format!("/patients/{}/schedule", s.patient_id);
    // The attack review's finding: front desk, billing and admin saw "Relapse prevention" missing.
    for username in ["fran", "bill", "ada"] {
        let html = page(&s, username, &tab).await;
        assert!(
            html.contains("Evening"),
            "{username} still sees the enrolment"
        );
        assert!(!html.contains("Still missing"), "{username}");
        assert!(!html.contains("Relapse prevention"), "{username}");
        let body = api_get(
            &s,
            username,
            &format!("/patients/{}/schedule", s.patient_id),
        )
        .await;
        assert!(body.get("coverage").is_none(), "{username}: {body}");
        assert!(body.get("weeks").is_some(), "{username} still sees hours");
    }
    let html = page(&s, "casey", &tab).await;
    assert!(html.contains("Still missing"));
    assert!(html.contains("Relapse prevention"));
    let body = api_get(&s, "casey", &format!("/patients/{}/schedule", s.patient_id)).await;
    assert!(
        body["coverage"][0]["missing"]
            .as_array()
            .is_some_and(|m| m.contains(&serde_json::json!("Relapse prevention"))),
        "{body}"
    );
}
