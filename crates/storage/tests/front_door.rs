//! Programs' public profiles (issue 15, item 1): staff who configure programs save them,
//! checked and audited; the public reads only published ones, with the times of the program's
//! tracks, and reads no patient data. SQLite by default, PostgreSQL with
//! TRELLIS_TEST_DATABASE=postgres.

mod common;

use chrono::{NaiveTime, Weekday};
use common::{clinic, day, staff, Clinic};
use trellis_domain::access::Role;
use trellis_domain::frontdoor::profile::{ProfileInput, Service, TimeOfWeek};
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::{can, Actor};
use trellis_storage::audit::AuditQuery;
use trellis_storage::schedule::NewTrack;
use trellis_storage::StoreError;

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

fn published() -> ProfileInput {
    ProfileInput {
        summary: "Adults in early recovery.".into(),
        zip: "19106".into(),
        services: vec![Service::Group, Service::Medication],
        languages: "English, Spanish".into(),
        insurance: "Medicaid, Aetna".into(),
        licence: "Pennsylvania DDAP".into(),
        licence_number: "51-0042".into(),
        licence_expires: Some(day(2027, 6, 30)),
        intake_phone: "(555) 201-4410".into(),
        intake_hours: "Mon–Fri 8 am–8 pm".into(),
        published: true,
        ..ProfileInput::default()
    }
}

async fn evening_track(c: &Clinic) {
    let orgs = c
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    c.store
        .create_track(
            &orgs,
            NewTrack {
                program_id: c.program,
                name: "Evening".into(),
                room_id: None,
                telehealth: true,
                starts_on: day(2026, 1, 5),
                slots: [Weekday::Mon, Weekday::Wed]
                    .into_iter()
                    .map(|d| WeeklySlot::new(d, at(18, 0), at(21, 0)).expect("slot"))
                    .collect(),
                topics: Vec::new(),
            },
        )
        .await
        .expect("track");
}

#[tokio::test]
async fn a_published_profile_is_public_with_its_tracks_times_and_a_draft_is_not() {
    let c = clinic().await;
    evening_track(&c).await;
    let director = staff(&c.store, "dora", Role::ClinicalDirector).await;
    let orgs = c
        .store
        .grant::<can::ManagePrograms>(&director)
        .expect("grant");
    let today = day(2026, 12, 7);
    // Never profiled: an empty draft for staff, nothing for the public.
    let draft = c
        .store
        .program_profile(&orgs, c.program)
        .await
        .expect("draft");
    assert!(!draft.input.published);
    assert!(c.store.published_programs().await.expect("list").is_empty());
    assert!(matches!(
        c.store.published_program(c.program).await,
        Err(StoreError::NotFound(_))
    ));

    c.store
        .save_program_profile(&orgs, c.program, &published(), today)
        .await
        .expect("save");
    let half_done = ProfileInput {
        summary: "Opening soon.".into(),
        ..ProfileInput::default()
    };
    c.store
        .save_program_profile(&orgs, c.other_program, &half_done, today)
        .await
        .expect("a draft may be half done");

    let public = c.store.published_programs().await.expect("list");
    assert_eq!(public.len(), 1);
    let p = &public[0];
    assert_eq!(p.program_id, c.program);
    assert_eq!(p.input.services, vec![Service::Group, Service::Medication]);
    assert_eq!(p.insurance(), vec!["Medicaid", "Aetna"]);
    assert_eq!(p.input.licence_expires, Some(day(2027, 6, 30)));
    assert_eq!(p.times(), vec![TimeOfWeek::Evening]);
    assert_eq!(p.tracks.len(), 1);
    assert_eq!(p.tracks[0].slots.len(), 2);
    assert!(p.tracks[0].telehealth);
    let one = c.store.published_program(c.program).await.expect("one");
    assert_eq!(one.input.summary, "Adults in early recovery.");
    assert!(matches!(
        c.store.published_program(c.other_program).await,
        Err(StoreError::NotFound(_))
    ));

    // Saving again replaces the profile: unpublishing takes it off the public pages.
    let unpublished = ProfileInput {
        published: false,
        ..published()
    };
    c.store
        .save_program_profile(&orgs, c.program, &unpublished, today)
        .await
        .expect("unpublish");
    assert!(c.store.published_programs().await.expect("list").is_empty());

    // Each save is audited against the program, with no patient named.
    let audit = c
        .store
        .grant::<can::ReadAudit>(&Actor::system("test"))
        .expect("grant");
    let rows = c
        .store
        .search_audit(
            &audit,
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    let saves: Vec<_> = rows
        .iter()
        .filter(|r| r.record_type == "program_profile")
        .collect();
    assert_eq!(saves.len(), 3);
    assert!(saves
        .iter()
        .all(|r| r.patient_id.is_none() && r.username == "dora"));
}

#[tokio::test]
async fn refused_profiles_change_nothing_and_say_which_field() {
    let c = clinic().await;
    let admin = staff(&c.store, "ada", Role::Admin).await;
    let orgs = c.store.grant::<can::ManagePrograms>(&admin).expect("grant");
    let today = day(2026, 12, 7);
    let lapsed = ProfileInput {
        zip: "00000".into(),
        licence_expires: Some(day(2026, 12, 1)),
        ..published()
    };
    match c
        .store
        .save_program_profile(&orgs, c.program, &lapsed, today)
        .await
    {
        Err(StoreError::Invalid(fields)) => {
            let names: Vec<_> = fields.iter().map(|f| f.field).collect();
            assert_eq!(names, vec!["zip", "licence_expires"]);
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert!(matches!(
        c.store
            .save_program_profile(&orgs, 9999, &published(), today)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let profile = c
        .store
        .program_profile(&orgs, c.program)
        .await
        .expect("profile");
    assert!(profile.updated_at.is_none());
    // Only the roles that configure programs may edit a profile.
    let counselor = c.store.grant::<can::ManagePrograms>(&c.counselor);
    assert!(counselor.is_err());
}
