//! Clinical record storage tests: progress notes, group notes, signing, addenda, co-signature.
//! Run on SQLite by default and on PostgreSQL with TRELLIS_TEST_DATABASE=postgres.
#![allow(dead_code)]

use std::collections::BTreeMap;
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::schedule::zone::SiteZone;
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::Admission;
use trellis_storage::notes::{AttendeeNote, NewNote, NoteKind, NoteTemplate};
use trellis_storage::testing::raw_strings;
use trellis_storage::{Instant, StoreError};

mod common;

use common::*;

async fn admitted(c: &Clinic, first: &str, last: &str) -> i64 {
    let patient = register(c, first, last).await;
    let admit = c
        .store
        .patient_grant::<can::AdmitEpisode>(&c.intake, patient)
        .await
        .expect("grant");
    c.store
        .admit(
            &admit,
            &Admission {
                program_id: c.program,
                admitted_on: today() - chrono::Duration::days(20),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    patient
}

fn dap(data: &str) -> BTreeMap<String, String> {
    [
        ("data", data),
        ("assessment", "Engaged, mood brighter than last week"),
        ("plan", "Continue IOP; practise urge surfing"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn write(c: &Clinic, author: &Actor, patient: i64, data: &str) -> i64 {
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(author, patient)
        .await
        .expect("write grant");
    c.store
        .write_note(
            &grant,
            &NewNote {
                kind: NoteKind::Individual,
                template: NoteTemplate::Dap,
                session_on: today(),
                sections: dap(data),
                objective_ids: Vec::new(),
                service: None,
            },
            today(),
        )
        .await
        .expect("write note")
}

#[tokio::test]
async fn note_text_is_encrypted_signing_locks_and_changes_are_addenda() {
    let c = clinic().await;
    let patient = admitted(&c, "Dana", "Reyes").await;
    let note = write(
        &c,
        &c.counselor,
        patient,
        "Reported three days without cravings",
    )
    .await;
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
        .update_note(&grant, note, &dap("Reported four days without cravings"))
        .await
        .expect("a draft can change");

    let raw = raw_strings(&c.store, "SELECT sections FROM progress_notes")
        .await
        .expect("raw");
    assert!(raw.iter().all(|s| !s.contains("cravings")), "{raw:?}");

    c.store.sign_note(&grant, note).await.expect("sign");
    let locked = c.store.update_note(&grant, note, &dap("rewritten")).await;
    assert!(matches!(locked, Err(StoreError::Conflict(_))), "{locked:?}");
    let again = c.store.sign_note(&grant, note).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    c.store
        .add_addendum(
            &grant,
            note,
            "Late entry: patient also mentioned a job interview",
        )
        .await
        .expect("addendum");
    let raw = raw_strings(&c.store, "SELECT body FROM note_addenda")
        .await
        .expect("raw");
    assert!(raw.iter().all(|s| !s.contains("interview")), "{raw:?}");

    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("read");
    let notes = c.store.notes(&read).await.expect("notes");
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert!(!n.is_draft());
    assert_eq!(n.signed_by, c.counselor.user_id);
    assert!(!n.needs_cosign);
    assert_eq!(n.sections[0].1, "Reported four days without cravings");
    assert_eq!(n.addenda.len(), 1);
    assert!(n.addenda[0].body.contains("job interview"));
}

#[tokio::test]
async fn a_counselor_cannot_sign_or_edit_another_counselors_note() {
    let c = clinic().await;
    let patient = admitted(&c, "Dana", "Reyes").await;
    let note = write(&c, &c.counselor, patient, "Session data").await;
    // A second counselor on the same program sees the patient but does not own the note.
    let colleague = staff(&c.store, "cole", Role::Counselor).await;
    let users = c
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    c.store
        .set_assignments(
            &users,
            colleague.user_id.expect("id"),
            &[(c.site, Some(c.program))],
        )
        .await
        .expect("assign");
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(&colleague, patient)
        .await
        .expect("in view");
    let sign = c.store.sign_note(&grant, note).await;
    assert!(matches!(sign, Err(StoreError::Denied(_))), "{sign:?}");
    let edit = c.store.update_note(&grant, note, &dap("changed")).await;
    assert!(matches!(edit, Err(StoreError::Denied(_))), "{edit:?}");
    // A counselor outside the program gets no grant at all.
    let outside = c
        .store
        .patient_grant::<can::WriteClinical>(&c.outsider, patient)
        .await;
    assert!(matches!(outside, Err(StoreError::Denied(_))));
}

#[tokio::test]
async fn bad_note_input_is_rejected_and_nothing_is_stored() {
    let c = clinic().await;
    let patient = admitted(&c, "Dana", "Reyes").await;
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let mut missing = dap("x");
    missing.remove("plan");
    let mut birp_keys = dap("x");
    birp_keys.insert("behavior".into(), "not a DAP section".into());
    for (sections, session_on) in [
        (missing, today()),
        (birp_keys, today()),
        (dap("ok"), today() + chrono::Duration::days(1)),
    ] {
        let result = c
            .store
            .write_note(
                &grant,
                &NewNote {
                    kind: NoteKind::Individual,
                    template: NoteTemplate::Dap,
                    session_on,
                    sections,
                    objective_ids: Vec::new(),
                    service: None,
                },
                today(),
            )
            .await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    }
    let count = raw_strings(&c.store, "SELECT sections FROM progress_notes")
        .await
        .expect("raw");
    assert!(count.is_empty());
}

#[tokio::test]
async fn peer_specialist_notes_wait_for_a_clinical_directors_cosignature() {
    let c = clinic().await;
    let patient = admitted(&c, "Dana", "Reyes").await;
    let peer = staff(&c.store, "pete", Role::PeerSpecialist).await;
    let director = staff(&c.store, "dora", Role::ClinicalDirector).await;
    let users = c
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    c.store
        .set_assignments(&users, peer.user_id.expect("id"), &[(c.site, None)])
        .await
        .expect("assign");
    let note = write(&c, &peer, patient, "Peer check-in").await;
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(&peer, patient)
        .await
        .expect("grant");
    c.store.sign_note(&grant, note).await.expect("sign");

    let queue_grant = c
        .store
        .grant::<can::ReadClinical>(&director)
        .expect("grant");
    let queue = c.store.cosign_queue(&queue_grant).await.expect("queue");
    assert_eq!(queue.iter().map(|n| n.id).collect::<Vec<_>>(), vec![note]);
    let not_director = c.store.cosign_note(&grant, note).await;
    assert!(matches!(not_director, Err(StoreError::Denied(_))));
    let dgrant = c
        .store
        .patient_grant::<can::WriteClinical>(&director, patient)
        .await
        .expect("grant");
    c.store.cosign_note(&dgrant, note).await.expect("cosign");
    assert!(c
        .store
        .cosign_queue(&queue_grant)
        .await
        .expect("queue")
        .is_empty());

    // A counselor marked by an administrator also needs co-signature.
    c.store
        .set_requires_cosign(&users, c.counselor.user_id.expect("id"), true)
        .await
        .expect("flag");
    assert!(c
        .store
        .requires_cosign(c.counselor.user_id.expect("id"))
        .await
        .expect("read"));
    let second = write(&c, &c.counselor, patient, "Session").await;
    let cg = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store.sign_note(&cg, second).await.expect("sign");
    assert_eq!(
        c.store
            .cosign_queue(&queue_grant)
            .await
            .expect("queue")
            .len(),
        1
    );
}

#[tokio::test]
async fn unsigned_notes_turn_late_after_24_hours_and_overdue_after_72() {
    use trellis_storage::notes::{lateness, Lateness};
    let session = day(2026, 11, 20);
    let at = |d: u32, h: u32| {
        Instant(
            day(2026, 11, d)
                .and_hms_opt(h, 0, 0)
                .expect("time")
                .and_utc(),
        )
    };
    // The clock starts at midnight in New York (05:00 UTC in November), not at UTC midnight.
    let zone = SiteZone::parse(CLINIC_TIMEZONE.name()).expect("zone");
    assert_eq!(lateness(session, zone, at(21, 4)), None);
    assert_eq!(lateness(session, zone, at(21, 5)), Some(Lateness::Late));
    assert_eq!(lateness(session, zone, at(23, 4)), Some(Lateness::Late));
    assert_eq!(lateness(session, zone, at(23, 5)), Some(Lateness::Overdue));

    let c = clinic().await;
    let patient = admitted(&c, "Dana", "Reyes").await;
    let grant = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let old = c
        .store
        .write_note(
            &grant,
            &NewNote {
                kind: NoteKind::Family,
                template: NoteTemplate::Birp,
                session_on: today() - chrono::Duration::days(4),
                sections: [
                    ("behavior", "b"),
                    ("intervention", "i"),
                    ("response", "r"),
                    ("plan", "p"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                objective_ids: Vec::new(),
                service: None,
            },
            today(),
        )
        .await
        .expect("note");
    write(&c, &c.counselor, patient, "today's session").await;
    let list = c
        .store
        .grant::<can::ReadClinical>(&c.counselor)
        .expect("grant");
    let late = c
        .store
        .late_notes(&list, Instant::now())
        .await
        .expect("late");
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].0.id, old);
    assert_eq!(late[0].1, Lateness::Overdue);
}

#[tokio::test]
async fn a_group_note_lands_in_each_attendees_chart_and_signs_them_all() {
    let c = clinic().await;
    let mut patients = Vec::new();
    for (first, last) in [("Dana", "Reyes"), ("Sam", "Okafor"), ("Lee", "Park")] {
        patients.push(admitted(&c, first, last).await);
    }
    let mut attendees = Vec::new();
    for (i, p) in patients.iter().enumerate() {
        let grant = c
            .store
            .patient_grant::<can::WriteClinical>(&c.counselor, *p)
            .await
            .expect("grant");
        attendees.push((
            grant,
            AttendeeNote {
                sections: dap(&format!("Attendee {i} shared a relapse warning sign")),
                objective_ids: Vec::new(),
            },
        ));
    }
    let session = checked_in_session(&c, &patients).await;
    let write = c
        .store
        .grant::<can::WriteClinical>(&c.counselor)
        .expect("grant");
    let shared = "Topic: high-risk situations and coping plans";
    // An objective from someone else's plan is refused, and nothing is written.
    let mut bad = attendees.clone();
    bad[0].1.objective_ids = vec![999];
    let refused = c
        .store
        .write_session_group_note(&write, session, shared, &bad, false, today())
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    let group = c
        .store
        .write_session_group_note(&write, session, shared, &attendees, false, today())
        .await
        .expect("group note");
    let raw = raw_strings(&c.store, "SELECT shared_text FROM group_notes")
        .await
        .expect("raw");
    assert_eq!(raw.len(), 1);
    assert!(raw.iter().all(|s| !s.contains("high-risk")));

    let other = staff(&c.store, "cole", Role::Counselor).await;
    let og = c.store.grant::<can::WriteClinical>(&other).expect("grant");
    let denied = c.store.sign_group_note(&og, group).await;
    assert!(matches!(denied, Err(StoreError::Denied(_))));
    c.store.sign_group_note(&write, group).await.expect("sign");

    for (i, p) in patients.iter().enumerate() {
        let read = c
            .store
            .patient_grant::<can::ReadClinical>(&c.counselor, *p)
            .await
            .expect("read");
        let notes = c.store.notes(&read).await.expect("notes");
        assert_eq!(notes.len(), 1, "one note in each chart");
        assert_eq!(notes[0].group_note_id, Some(group));
        assert!(!notes[0].is_draft(), "signed with the group");
        assert!(notes[0].sections[0].1.contains(&format!("Attendee {i}")));
        assert_eq!(notes[0].group_shared_text.as_deref(), Some(shared));
    }
}
