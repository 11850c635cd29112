//! Treatment plan storage tests: versions, signatures and locking, revisions that keep the old
//! version, review due dates, objectives met, notes linked to objectives, and access.
//! Run on SQLite by default and on PostgreSQL with TRELLIS_TEST_DATABASE=postgres.

use chrono::Duration;
use std::collections::BTreeMap;
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_storage::access::can;
use trellis_storage::assessments::NewDiagnosis;
use trellis_storage::episodes::Admission;
use trellis_storage::notes::{AttendeeNote, NewNote, NoteKind, NoteTemplate};
use trellis_storage::testing::raw_strings;
use trellis_storage::treatment_plans::{
    Goal, Intervention, Modality, Objective, ObjectiveStatus, PlanContent, PlanSignatures, Problem,
};
use trellis_storage::StoreError;

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
                admitted_on: today() - Duration::days(40),
                referral_source: "Self or family".into(),
                primary_counselor_id: c.counselor.user_id,
                level: LevelOfCare::IntensiveOutpatient,
                reason: "ASAM assessment".into(),
            },
            today(),
        )
        .await
        .expect("admit");
    // The plans below name F10.20, which must be on the patient's own list.
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store
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
    patient
}

fn plan(c: &Clinic) -> PlanContent {
    let staff = c.counselor.user_id.expect("id");
    let objective = |text: &str| Objective {
        id: None,
        text: text.into(),
        target_on: today() + Duration::days(30),
        status: ObjectiveStatus::Open,
        interventions: vec![Intervention {
            modality: Modality::IndividualCbt,
            frequency: "weekly".into(),
            staff_id: staff,
        }],
    };
    PlanContent {
        problems: vec![Problem {
            text: "Alcohol use disorder, moderate: drinking daily after work".into(),
            diagnosis_code: Some("f10.20".into()),
            diagnosis_id: None,
            finding: None,
            goals: vec![Goal {
                text: "I want to stop drinking so I can be there for my kids".into(),
                objectives: vec![
                    objective("Attend 3 IOP groups a week for 4 weeks"),
                    objective("Name 3 triggers and a coping step for each"),
                ],
            }],
        }],
    }
}

fn signatures() -> PlanSignatures {
    PlanSignatures {
        patient: "Maya Lopez".into(),
        clinician: "Casey Counselor".into(),
    }
}

fn dap() -> BTreeMap<String, String> {
    ["data", "assessment", "plan"]
        .into_iter()
        .map(|k| (k.to_owned(), format!("{k} text")))
        .collect()
}

#[tokio::test]
async fn a_signed_version_is_locked_and_due_for_review_after_the_program_interval() {
    let c = clinic().await;
    let patient = admitted(&c, "Maya", "Lopez").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let created = c.store.write_plan(&write, &plan(&c)).await.expect("write");
    assert_eq!(created.version, 1);
    // No plan is in force until one is signed.
    assert!(c
        .store
        .current_plan(&read)
        .await
        .expect("current")
        .is_none());
    // A second new version while a draft exists is refused.
    assert!(matches!(
        c.store.write_plan(&write, &plan(&c)).await,
        Err(StoreError::Conflict(_))
    ));
    let draft = c.store.plan_version(&read, 1).await.expect("read");
    assert!(!draft.is_signed());
    assert_eq!(
        draft.content.problems[0].diagnosis_code.as_deref(),
        Some("F10.20")
    );
    // The typed code was matched to the row on the patient's list.
    let listed = c.store.diagnoses(&read).await.expect("diagnoses");
    assert_eq!(draft.content.problems[0].diagnosis_id, Some(listed[0].id));
    assert!(draft
        .content
        .objectives()
        .all(|(_, _, _, o)| o.id.is_some()));
    // The text is encrypted at rest.
    let raw = raw_strings(&c.store, "SELECT content FROM treatment_plans")
        .await
        .expect("raw");
    assert!(!raw[0].contains("kids"), "plan text stored in the clear");

    let due = c
        .store
        .sign_plan(&write, 1, &signatures(), today())
        .await
        .expect("sign");
    assert_eq!(due, today() + Duration::days(30));
    let signed = c.store.plan_version(&read, 1).await.expect("read");
    assert_eq!(signed.patient_signature.as_deref(), Some("Maya Lopez"));
    assert_eq!(signed.clinician_signed_by, c.counselor.user_id);
    assert!(signed.patient_signed_at.is_some() && signed.is_signed());
    let raw = raw_strings(&c.store, "SELECT patient_signature FROM treatment_plans")
        .await
        .expect("raw");
    assert!(!raw[0].contains("Maya"), "signature stored in the clear");
    // Signing twice, or editing the signed version, is refused.
    assert!(matches!(
        c.store.sign_plan(&write, 1, &signatures(), today()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        c.store.update_plan_draft(&write, 1, &plan(&c)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        c.store.update_plan_draft(&write, 9, &plan(&c)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(c.store.objectives_met(&read).await.expect("met"), (0, 2));

    // A program with a 14-day interval: the next signature falls due sooner.
    let programs = c
        .store
        .grant::<can::ManagePrograms>(&trellis_storage::access::Actor::system("test"))
        .expect("grant");
    c.store
        .set_plan_review_days(&programs, c.program, 14)
        .await
        .expect("interval");
    assert!(matches!(
        c.store.set_plan_review_days(&programs, c.program, 0).await,
        Err(StoreError::Invalid(_))
    ));
    let revision = c.store.revise_plan(&write, 1).await.expect("revise");
    assert_eq!(revision.version, 2);
    let due = c
        .store
        .sign_plan(&write, 2, &signatures(), today())
        .await
        .expect("sign");
    assert_eq!(due, today() + Duration::days(14));
}

#[tokio::test]
async fn a_revision_is_a_new_version_and_the_old_one_is_kept() {
    let c = clinic().await;
    let patient = admitted(&c, "Maya", "Lopez").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    // Signed 40 days ago: the review is overdue.
    c.store.write_plan(&write, &plan(&c)).await.expect("write");
    c.store
        .sign_plan(&write, 1, &signatures(), today() - Duration::days(40))
        .await
        .expect("sign");
    let caseload = c
        .store
        .grant::<can::ReadClinical>(&c.counselor)
        .expect("grant");
    let overdue = c
        .store
        .overdue_plan_reviews(&caseload, today())
        .await
        .expect("overdue");
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].patient_id, patient);
    assert_eq!(overdue[0].version, 1);
    assert!(c
        .store
        .current_plan(&read)
        .await
        .expect("current")
        .expect("plan")
        .review_overdue(today()));

    // A revision from a stale version, or of an unknown patient plan, is refused.
    assert!(matches!(
        c.store.revise_plan(&write, 3).await,
        Err(StoreError::Conflict(_))
    ));
    let v2 = c.store.revise_plan(&write, 1).await.expect("revise");
    assert_eq!(v2.version, 2);
    assert!(matches!(
        c.store.revise_plan(&write, 2).await,
        Err(StoreError::Conflict(_))
    ));
    let mut edited = c.store.plan_version(&read, 2).await.expect("v2").content;
    let v1 = c.store.plan_version(&read, 1).await.expect("v1").content;
    assert_eq!(without_ids(edited.clone()), without_ids(v1));
    edited.problems[0].goals[0].objectives[0].status = ObjectiveStatus::Met;
    edited.problems[0].goals[0].objectives[1].text = "Name 5 triggers".into();
    c.store
        .update_plan_draft(&write, 2, &edited)
        .await
        .expect("edit draft");
    // Until version 2 is signed, version 1 is in force and still overdue.
    assert_eq!(c.store.objectives_met(&read).await.expect("met"), (0, 2));
    c.store
        .sign_plan(&write, 2, &signatures(), today())
        .await
        .expect("sign");
    assert_eq!(c.store.objectives_met(&read).await.expect("met"), (1, 2));
    assert!(c
        .store
        .overdue_plan_reviews(&caseload, today())
        .await
        .expect("overdue")
        .is_empty());
    let versions = c.store.plan_versions(&read).await.expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    let old = c.store.plan_version(&read, 1).await.expect("v1");
    assert_eq!(
        old.content.problems[0].goals[0].objectives[1].text,
        "Name 3 triggers and a coping step for each"
    );
    assert_eq!(
        old.content.problems[0].goals[0].objectives[0].status,
        ObjectiveStatus::Open
    );
    let current = c
        .store
        .current_plan(&read)
        .await
        .expect("current")
        .expect("plan");
    assert_eq!(current.version, 2);
}

/// The field an invalid-input error names first.
fn field_of<T: std::fmt::Debug>(r: Result<T, StoreError>) -> &'static str {
    match r {
        Err(StoreError::Invalid(e)) => e[0].field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

/// Plan content without objective ids (each version has its own objective rows).
fn without_ids(mut content: PlanContent) -> PlanContent {
    for problem in &mut content.problems {
        for goal in &mut problem.goals {
            for objective in &mut goal.objectives {
                objective.id = None;
            }
        }
    }
    content
}

#[tokio::test]
async fn bad_plans_and_signatures_are_refused_with_the_field_at_fault() {
    let c = clinic().await;
    let patient = admitted(&c, "Maya", "Lopez").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    assert_eq!(
        field_of(c.store.write_plan(&write, &PlanContent::default()).await),
        "problems"
    );
    let mut empty_goal = plan(&c);
    empty_goal.problems[0].goals[0].text = "  ".into();
    assert_eq!(
        field_of(c.store.write_plan(&write, &empty_goal).await),
        "goals"
    );
    let mut no_objectives = plan(&c);
    no_objectives.problems[0].goals[0].objectives.clear();
    assert_eq!(
        field_of(c.store.write_plan(&write, &no_objectives).await),
        "objectives"
    );
    let mut bad_code = plan(&c);
    bad_code.problems[0].diagnosis_code = Some("10.2".into());
    assert_eq!(
        field_of(c.store.write_plan(&write, &bad_code).await),
        "diagnosis_code"
    );
    // One truth per fact: a plan names only a diagnosis on the patient's own list.
    let mut not_on_list = plan(&c);
    not_on_list.problems[0].diagnosis_code = Some("F11.20".into());
    assert_eq!(
        field_of(c.store.write_plan(&write, &not_on_list).await),
        "diagnosis_code"
    );
    let other = admitted(&c, "Omar", "Haddad").await;
    let others: i64 = raw_strings(
        &c.store,
        &format!("SELECT CAST(id AS TEXT) FROM patient_diagnoses WHERE patient_id = {other}"),
    )
    .await
    .expect("ids")[0]
        .parse()
        .expect("id");
    let mut someone_elses = plan(&c);
    someone_elses.problems[0].diagnosis_code = None;
    someone_elses.problems[0].diagnosis_id = Some(others);
    assert_eq!(
        field_of(c.store.write_plan(&write, &someone_elses).await),
        "diagnosis_id"
    );
    let mut no_frequency = plan(&c);
    no_frequency.problems[0].goals[0].objectives[0].interventions[0].frequency = String::new();
    assert_eq!(
        field_of(c.store.write_plan(&write, &no_frequency).await),
        "frequency"
    );
    let mut stranger = plan(&c);
    stranger.problems[0].goals[0].objectives[0].interventions[0].staff_id = 999_999;
    assert_eq!(
        field_of(c.store.write_plan(&write, &stranger).await),
        "staff_id"
    );
    assert!("hypnosis".parse::<Modality>().is_err());

    c.store.write_plan(&write, &plan(&c)).await.expect("write");
    let unsigned = PlanSignatures {
        patient: " ".into(),
        clinician: "Casey".into(),
    };
    assert_eq!(
        field_of(c.store.sign_plan(&write, 1, &unsigned, today()).await),
        "patient_signature"
    );
}

#[tokio::test]
async fn notes_link_only_objectives_of_the_patients_signed_plan() {
    let c = clinic().await;
    let maya = admitted(&c, "Maya", "Lopez").await;
    let omar = admitted(&c, "Omar", "Haddad").await;
    let grant = |p| c.store.patient_grant::<can::WriteClinical>(&c.counselor, p);
    let (maya_w, omar_w) = (grant(maya).await.expect("g"), grant(omar).await.expect("g"));
    let maya_r = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, maya)
        .await
        .expect("grant");
    c.store.write_plan(&maya_w, &plan(&c)).await.expect("write");
    let draft_objective = c
        .store
        .plan_version(&maya_r, 1)
        .await
        .expect("v1")
        .content
        .problems[0]
        .goals[0]
        .objectives[0]
        .id
        .expect("id");
    let note = |objective_ids: Vec<i64>| NewNote {
        kind: NoteKind::Individual,
        template: NoteTemplate::Dap,
        session_on: today(),
        sections: dap(),
        objective_ids,
        service: None,
    };
    // A draft's objectives cannot be linked.
    assert!(matches!(
        c.store
            .write_note(&maya_w, &note(vec![draft_objective]), today())
            .await,
        Err(StoreError::Invalid(_))
    ));
    c.store
        .sign_plan(&maya_w, 1, &signatures(), today())
        .await
        .expect("sign");
    let objective = c
        .store
        .current_plan(&maya_r)
        .await
        .expect("plan")
        .expect("plan")
        .content
        .problems[0]
        .goals[0]
        .objectives[1]
        .id
        .expect("id");
    let id = c
        .store
        .write_note(&maya_w, &note(vec![objective]), today())
        .await
        .expect("note");
    assert_eq!(
        c.store.note(&maya_r, id).await.expect("note").objective_ids,
        [objective]
    );
    // Maya's objective on Omar's note, or listed twice, is refused.
    assert!(matches!(
        c.store
            .write_note(&omar_w, &note(vec![objective]), today())
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        c.store
            .write_note(&maya_w, &note(vec![objective, objective]), today())
            .await,
        Err(StoreError::Invalid(_))
    ));
    // In a group note each attendee's part links their own objectives.
    let session = checked_in_session(&c, &[maya, omar]).await;
    let write = c
        .store
        .grant::<can::WriteClinical>(&c.counselor)
        .expect("grant");
    let shared = "Mapped high-risk situations";
    let part = |objective_ids| AttendeeNote {
        sections: dap(),
        objective_ids,
    };
    assert!(matches!(
        c.store
            .write_session_group_note(
                &write,
                session,
                shared,
                &[
                    (maya_w.clone(), part(vec![])),
                    (omar_w.clone(), part(vec![objective])),
                ],
                true,
                today(),
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    c.store
        .write_session_group_note(
            &write,
            session,
            shared,
            &[(maya_w, part(vec![objective])), (omar_w, part(vec![]))],
            true,
            today(),
        )
        .await
        .expect("group note");
    let notes = c.store.notes(&maya_r).await.expect("notes");
    let group_part = notes
        .iter()
        .find(|n| n.group_note_id.is_some())
        .expect("maya's part")
        .id;
    assert_eq!(
        c.store
            .note(&maya_r, group_part)
            .await
            .expect("note")
            .objective_ids,
        [objective]
    );
}

#[tokio::test]
async fn billing_and_front_desk_cannot_read_plans() {
    let c = clinic().await;
    let patient = admitted(&c, "Maya", "Lopez").await;
    for (name, role) in [("bill", Role::Billing), ("fran", Role::FrontDesk)] {
        let actor = staff(&c.store, name, role).await;
        let denied = c
            .store
            .patient_grant::<can::ReadClinical>(&actor, patient)
            .await;
        assert!(matches!(denied, Err(StoreError::Denied(_))), "{name}");
        assert!(
            c.store.grant::<can::ReadClinical>(&actor).is_err(),
            "{name}"
        );
    }
    // Another program's counselor is refused too.
    assert!(c
        .store
        .patient_grant::<can::ReadClinical>(&c.outsider, patient)
        .await
        .is_err());
}

#[tokio::test]
async fn a_version_written_before_problems_were_linked_reads_as_linked_to_the_patients_row() {
    let c = clinic().await;
    let patient = admitted(&c, "Maya", "Lopez").await;
    let write = c
        .store
        .patient_grant::<can::WriteClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    let read = c
        .store
        .patient_grant::<can::ReadClinical>(&c.counselor, patient)
        .await
        .expect("grant");
    c.store.write_plan(&write, &plan(&c)).await.expect("write");
    c.store
        .sign_plan(&write, 1, &signatures(), today())
        .await
        .expect("sign");
    // As a version from before the link table: its problem names the diagnosis by code only.
    trellis_storage::testing::raw_execute(&c.store, "DELETE FROM plan_problem_diagnoses")
        .await
        .expect("unlink");
    let listed = c.store.diagnoses(&read).await.expect("diagnoses");
    let old = c.store.plan_version(&read, 1).await.expect("read");
    assert_eq!(old.content.problems[0].diagnosis_id, Some(listed[0].id));
    let current = c
        .store
        .current_plan(&read)
        .await
        .expect("current")
        .expect("signed");
    assert_eq!(current.content.problems[0].diagnosis_id, Some(listed[0].id));
}
