//! The demo clinic: two sites, adult and co-occurring IOP programs, staff in every role and
//! about sixty patients across admission, treatment, step-down and discharge. Dates are relative
//! to today so the demo always looks current; names and details are invented.

use anyhow::Result;
use chrono::{Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use trellis_domain::access::Role;
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_domain::measures::Instrument;
use trellis_domain::patient::Registration;
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::{Admission, REFERRAL_SOURCES};
use trellis_storage::measures::NewMeasure;
use trellis_storage::notes::{AttendeeNote, NewGroupNote, NewNote, NoteKind, NoteTemplate};
use trellis_storage::org::{NewProgram, NewSite};
use trellis_storage::patients::RegisterOutcome;
use trellis_storage::staff::NewStaff;
use trellis_storage::Store;

/// The password of every demo account.
pub const PASSWORD: &str = "trellis-demo-2026";

/// Demo staff: (username, role, name).
pub const STAFF: [(&str, Role, &str); 12] = [
    ("admin", Role::Admin, "Alex Morgan"),
    ("director", Role::ClinicalDirector, "Dr. Renee Walsh"),
    ("counselor", Role::Counselor, "Jordan Ellis, LCSW"),
    ("counselor2", Role::Counselor, "Sam Whitaker, LPC"),
    ("counselor3", Role::Counselor, "Maya Chen, LADC"),
    ("prescriber", Role::Prescriber, "Dr. Amir Haddad, MD"),
    ("nurse", Role::Nurse, "Grace Okafor, RN"),
    ("peer", Role::PeerSpecialist, "Luis Romero, CPRS"),
    ("intake", Role::Intake, "Tess Brennan"),
    ("frontdesk", Role::FrontDesk, "Kim Novak"),
    ("billing", Role::Billing, "Priya Raman"),
    ("privacy", Role::PrivacyOfficer, "Helen Ward"),
];

/// Demo first names with sex recorded at birth and pronouns.
const FIRST: [(&str, &str, &str); 40] = [
    ("Aaliyah", "female", "she/her"),
    ("Marcus", "male", "he/him"),
    ("Elena", "female", "she/her"),
    ("DeShawn", "male", "he/him"),
    ("Priscilla", "female", "she/her"),
    ("Tyler", "male", "he/him"),
    ("Mei", "female", "she/her"),
    ("Jamal", "male", "he/him"),
    ("Rosa", "female", "she/her"),
    ("Connor", "male", "he/him"),
    ("Fatima", "female", "she/her"),
    ("Brandon", "male", "he/him"),
    ("Keisha", "female", "she/her"),
    ("Ethan", "male", "he/him"),
    ("Lucia", "female", "she/her"),
    ("Darnell", "male", "he/him"),
    ("Hannah", "female", "she/her"),
    ("Miguel", "male", "he/him"),
    ("Nadia", "female", "she/her"),
    ("Austin", "male", "he/him"),
    ("Tamika", "female", "she/her"),
    ("Ryan", "male", "he/him"),
    ("Sofia", "female", "she/her"),
    ("Andre", "male", "he/him"),
    ("Brianna", "female", "she/her"),
    ("Kevin", "male", "he/him"),
    ("Yesenia", "female", "she/her"),
    ("Cody", "male", "he/him"),
    ("Imani", "female", "she/her"),
    ("Derek", "male", "he/him"),
    ("Valeria", "female", "she/her"),
    ("Travis", "male", "he/him"),
    ("Chloe", "female", "she/her"),
    ("Omar", "male", "he/him"),
    ("Jasmine", "female", "she/her"),
    ("Shane", "male", "he/him"),
    ("Leah", "female", "she/her"),
    ("Victor", "male", "he/him"),
    ("Monique", "female", "she/her"),
    ("Blake", "unknown", "they/them"),
];
const LAST: [&str; 40] = [
    "Alvarez",
    "Bennett",
    "Carter",
    "Diaz",
    "Edwards",
    "Flores",
    "Garcia",
    "Hughes",
    "Ibrahim",
    "Jackson",
    "Kowalski",
    "Lopez",
    "Mitchell",
    "Nguyen",
    "Owens",
    "Patel",
    "Quinn",
    "Ramirez",
    "Sullivan",
    "Thompson",
    "Underwood",
    "Vasquez",
    "Washington",
    "Xu",
    "Young",
    "Zimmerman",
    "Brooks",
    "Coleman",
    "Dunn",
    "Foster",
    "Grant",
    "Hayes",
    "Irwin",
    "Jensen",
    "Keller",
    "Lambert",
    "Morales",
    "Norris",
    "Ortega",
    "Price",
];
const LANGUAGES: [&str; 6] = [
    "English",
    "English",
    "English",
    "Spanish",
    "English",
    "Vietnamese",
];

struct Clinic {
    actors: Vec<(String, Actor)>,
    programs: Vec<(i64, i64)>,
}

impl Clinic {
    fn actor(&self, username: &str) -> Result<&Actor> {
        self.actors
            .iter()
            .find(|(u, _)| u == username)
            .map(|(_, a)| a)
            .ok_or_else(|| anyhow::anyhow!("demo staff member {username} is missing"))
    }
}

/// Loads the demo clinic into an empty database.
pub async fn load(store: &Store) -> Result<()> {
    let system = Actor::system("demo");
    let orgs = store.grant::<can::ManagePrograms>(&system)?;
    let downtown = store
        .create_site(
            &orgs,
            NewSite {
                code: "DTN".into(),
                name: "Downtown Recovery Center".into(),
                timezone: "America/New_York".into(),
                address: Some("410 Market Street, Suite 300".into()),
                phone: Some("(555) 201-4400".into()),
            },
        )
        .await?;
    let riverside = store
        .create_site(
            &orgs,
            NewSite {
                code: "RVS".into(),
                name: "Riverside Clinic".into(),
                timezone: "America/New_York".into(),
                address: Some("88 River Road".into()),
                phone: Some("(555) 201-4500".into()),
            },
        )
        .await?;
    let program = |site_id, name: &str, population: &str| NewProgram {
        site_id,
        name: name.into(),
        population: population.into(),
        level_of_care: LevelOfCare::IntensiveOutpatient,
        weekly_minimum_hours: 9.0,
        max_group_size: 12,
    };
    let dtn_adult = store
        .create_program(&orgs, program(downtown, "Adult SUD IOP", "adult"))
        .await?;
    let dtn_cooc = store
        .create_program(&orgs, program(downtown, "Co-occurring IOP", "co_occurring"))
        .await?;
    let rvs_adult = store
        .create_program(&orgs, program(riverside, "Adult SUD IOP", "adult"))
        .await?;
    let rvs_cooc = store
        .create_program(
            &orgs,
            program(riverside, "Co-occurring IOP", "co_occurring"),
        )
        .await?;

    let users = store.grant::<can::ManageUsers>(&system)?;
    let mut actors = Vec::new();
    for (username, role, name) in STAFF {
        let id = store
            .create_staff(
                &users,
                &NewStaff {
                    username: username.into(),
                    display_name: name.into(),
                    email: Some(format!("{username}@trellis-demo.example")),
                    role,
                    password: PASSWORD.into(),
                },
            )
            .await?;
        let assignments: Vec<(i64, Option<i64>)> = match username {
            "counselor" => vec![(downtown, Some(dtn_adult))],
            "counselor2" => vec![(downtown, Some(dtn_cooc))],
            "counselor3" => vec![(riverside, Some(rvs_adult)), (riverside, Some(rvs_cooc))],
            "prescriber" | "nurse" | "peer" => vec![(downtown, None), (riverside, None)],
            "intake" | "billing" => vec![(downtown, None), (riverside, None)],
            "frontdesk" => vec![(downtown, None)],
            _ => Vec::new(),
        };
        if !assignments.is_empty() {
            store.set_assignments(&users, id, &assignments).await?;
        }
        actors.push((
            username.to_owned(),
            Actor {
                user_id: Some(id),
                username: username.into(),
                role,
                ip: None,
                request_id: None,
            },
        ));
    }
    let clinic = Clinic {
        actors,
        programs: vec![
            (downtown, dtn_adult),
            (downtown, dtn_cooc),
            (riverside, rvs_adult),
            (riverside, rvs_cooc),
        ],
    };
    // Every program gives PHQ-9 and GAD-7 at intake and every two weeks, and the BAM weekly.
    for (_, program) in &clinic.programs {
        for (instrument, every_days) in [
            (Instrument::Phq9, 14),
            (Instrument::Gad7, 14),
            (Instrument::Bam, 7),
        ] {
            store
                .set_measure_schedule(&orgs, *program, instrument, Some(every_days))
                .await?;
        }
    }
    patients(store, &clinic).await?;
    schedule(store, &clinic, downtown).await?;
    notes(store, &clinic).await
}

/// A cycle of twelve group topics with the materials facilitators use.
const CURRICULUM: [(&str, &str); 12] = [
    (
        "Relapse prevention: warning signs",
        "Relapse warning-signs checklist; personal relapse timeline worksheet",
    ),
    (
        "Triggers and high-risk situations",
        "High-risk situations inventory; coping plan card",
    ),
    (
        "Cravings and urge surfing",
        "Urge-surfing audio script; craving log",
    ),
    (
        "Stress management",
        "Progressive muscle relaxation script; weekly stress map",
    ),
    ("Emotional regulation", "Feelings wheel; emotion log"),
    (
        "CBT skills: thoughts, feelings, actions",
        "Thought record (5-column); cognitive distortions handout",
    ),
    (
        "DBT skills: distress tolerance",
        "TIPP and STOP skills handouts; pros-and-cons worksheet",
    ),
    (
        "Communication and relationships",
        "Assertive communication scripts; refusal-skills role plays",
    ),
    (
        "Family education: addiction as a family illness",
        "Family roles handout; invitation letter for family night",
    ),
    (
        "Job readiness",
        "Résumé template; answering questions about gaps in work history",
    ),
    (
        "Financial management",
        "Monthly budget sheet; debt and bills planner",
    ),
    (
        "Building a recovery support network",
        "Mutual-help meeting list (AA, NA, SMART Recovery); support map",
    ),
];

/// Rooms, the Downtown adult program's three tracks with a real curriculum, group enrolment of
/// that program's patients, and a realistic past week of attendance. The evening track always
/// has a session today (a one-off when today is not one of its days) so the front desk has a
/// group to check in.
async fn schedule(store: &Store, clinic: &Clinic, downtown: i64) -> Result<()> {
    use chrono::{Datelike, NaiveTime, Weekday};
    use trellis_domain::schedule::attendance::AttendanceStatus;
    use trellis_domain::schedule::track::WeeklySlot;
    use trellis_domain::schedule::zone::SiteZone;
    use trellis_storage::schedule::{NewRoom, NewTrack};

    let system = Actor::system("demo");
    let orgs = store.grant::<can::ManagePrograms>(&system)?;
    let mut rooms = Vec::new();
    for (name, capacity) in [
        ("Group room A", 14),
        ("Group room B", 12),
        ("Family room", 8),
    ] {
        rooms.push(
            store
                .create_room(
                    &orgs,
                    NewRoom {
                        site_id: downtown,
                        name: name.into(),
                        capacity,
                    },
                )
                .await?,
        );
    }
    let zone = SiteZone::parse("America/New_York")?;
    let today = zone.local_date(Utc::now());
    // The cycle started twelve weeks ago, on a Monday.
    let starts_on = today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 84);
    let at = |h: u32, m: u32| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
    let (_, adult_program) = clinic.programs[0];
    let topics: Vec<(String, String)> = CURRICULUM
        .iter()
        .map(|(t, m)| ((*t).to_owned(), (*m).to_owned()))
        .collect();
    let mut tracks = Vec::new();
    for (name, days, start, end, room) in [
        (
            "Morning",
            vec![Weekday::Mon, Weekday::Tue, Weekday::Thu],
            at(9, 0),
            at(12, 0),
            rooms[0],
        ),
        (
            "Evening",
            vec![Weekday::Mon, Weekday::Wed, Weekday::Thu],
            at(18, 0),
            at(21, 0),
            rooms[1],
        ),
        (
            "Weekend",
            vec![Weekday::Sat, Weekday::Sun],
            at(10, 0),
            at(13, 30),
            rooms[0],
        ),
    ] {
        let slots = days
            .into_iter()
            .map(|d| WeeklySlot::new(d, start, end))
            .collect::<Result<Vec<_>, _>>()?;
        tracks.push(
            store
                .create_track(
                    &orgs,
                    NewTrack {
                        program_id: adult_program,
                        name: name.into(),
                        room_id: Some(room),
                        telehealth: false,
                        starts_on,
                        slots,
                        topics: topics.clone(),
                    },
                )
                .await?,
        );
    }
    let front_desk = clinic.actor("frontdesk")?;
    let manage = store.grant::<can::ManageSchedule>(front_desk)?;
    let evening = tracks[1];
    if !matches!(today.weekday(), Weekday::Mon | Weekday::Wed | Weekday::Thu) {
        store
            .add_one_off_session(&manage, evening, today, at(18, 0), at(21, 0))
            .await?;
    }
    // The program's patients: evening for most (they work days), mornings and weekends for some.
    let counselor = clinic.actor("counselor")?;
    let read_episodes = store.grant::<can::ReadEpisodes>(counselor)?;
    let caseload = store.caseload(&read_episodes).await?;
    for (i, entry) in caseload.iter().enumerate() {
        if entry.admitted_on.0 > today {
            continue;
        }
        let track = match i % 4 {
            0 | 1 => evening,
            2 => tracks[0],
            _ => tracks[2],
        };
        let grant = store
            .patient_grant::<can::ManageSchedule>(front_desk, entry.patient_id)
            .await?;
        store.enrol(&grant, track, entry.admitted_on.0).await?;
    }
    // Last week and this week up to yesterday: mostly present, some late, the odd absence, and
    // one patient who has missed two evenings in a row (an outreach task for the counselor).
    let read = store.grant::<can::ReadSchedule>(front_desk)?;
    let mut rng = StdRng::seed_from_u64(4);
    for offset in (1..=10).rev() {
        let date = today - Duration::days(offset);
        for sheet in store.day_sheet(&read, downtown, date).await? {
            for (n, line) in sheet.roster.iter().enumerate() {
                let grant = store
                    .patient_grant::<can::ManageSchedule>(front_desk, line.patient_id)
                    .await?;
                let roll: u32 = rng.gen_range(0..100);
                let (status, minutes) =
                    if n == 0 && sheet.session.track_id == evening && offset <= 4 {
                        (AttendanceStatus::AbsentUnexcused, None)
                    } else if roll < 72 {
                        (AttendanceStatus::Present, None)
                    } else if roll < 82 {
                        (AttendanceStatus::Late, Some(sheet.session.minutes - 30))
                    } else if roll < 88 {
                        (
                            AttendanceStatus::LeftEarly,
                            Some(sheet.session.minutes - 60),
                        )
                    } else if roll < 95 {
                        (AttendanceStatus::AbsentExcused, None)
                    } else {
                        (AttendanceStatus::AbsentUnexcused, None)
                    };
                store
                    .record_attendance(&grant, sheet.session.id, status, minutes)
                    .await?;
            }
        }
    }
    // A fortnight ahead is on the calendar too.
    store
        .materialise_sessions(&read, downtown, today, today + Duration::days(14))
        .await?;
    Ok(())
}

/// Answers for a 0–3 instrument adding up to `total` over the first `scored` items (the rest 0),
/// spread evenly so the series looks like real forms.
fn spread(items: usize, scored: usize, total: u16) -> Vec<Option<u8>> {
    let mut answers = vec![Some(0u8); items];
    let mut left = total.min(3 * scored as u16);
    let mut i = 0;
    while left > 0 {
        if let Some(Some(v)) = answers.get_mut(i % scored) {
            if *v < 3 {
                *v += 1;
                left -= 1;
            }
        }
        i += 1;
    }
    answers
}

/// REFERENCE §1.7's BAM vector (items 1–6, item 7's sub-items not asked, items 8–17): no flags.
const BAM_WEEK: [Option<u8>; 23] = [
    Some(2),
    Some(1),
    Some(2),
    Some(0),
    Some(0),
    Some(0),
    None,
    None,
    None,
    None,
    None,
    None,
    None,
    Some(1),
    Some(3),
    Some(2),
    Some(1),
    Some(2),
    Some(4),
    Some(4),
    Some(1),
    Some(3),
    Some(3),
];

/// PHQ-9 and GAD-7 every two weeks since admission, improving as treatment goes on; the BAM
/// weekly for every other patient; for one patient the latest PHQ-9 endorses item 9, which
/// raises the flag and its tasks exactly as it would in the clinic.
async fn measures(
    store: &Store,
    counselor: &Actor,
    patient: i64,
    admitted_on: NaiveDate,
    today: NaiveDate,
    seed: usize,
    item_9: bool,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed as u64);
    let grant = store
        .patient_grant::<can::WriteClinical>(counselor, patient)
        .await?;
    let mut phq: u16 = rng.gen_range(12..23);
    let mut gad: u16 = rng.gen_range(9..18);
    let mut on = admitted_on;
    let mut forms = Vec::new();
    while on <= today {
        forms.push(NewMeasure {
            instrument: Instrument::Phq9,
            administered_on: on,
            answers: spread(9, 8, phq),
        });
        forms.push(NewMeasure {
            instrument: Instrument::Gad7,
            administered_on: on,
            answers: spread(7, 7, gad),
        });
        phq = phq.saturating_sub(rng.gen_range(1..5));
        gad = gad.saturating_sub(rng.gen_range(0..4));
        on += Duration::days(14);
    }
    if item_9 {
        if let Some(last) = forms
            .iter_mut()
            .rev()
            .find(|m| m.instrument == Instrument::Phq9)
        {
            last.answers[8] = Some(1);
        }
    }
    if seed.is_multiple_of(2) {
        let mut week = admitted_on;
        while week <= today {
            forms.push(NewMeasure {
                instrument: Instrument::Bam,
                administered_on: week,
                answers: BAM_WEEK.to_vec(),
            });
            week += Duration::days(7);
        }
    }
    forms.sort_by_key(|m| m.administered_on);
    for form in &forms {
        store.record_measure(&grant, form, today).await?;
    }
    Ok(())
}

fn sections(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Progress notes for the first counselor's caseload: signed notes, two unsigned from days ago
/// (late on the dashboard), a family note, and a signed evening group note with four attendees.
async fn notes(store: &Store, clinic: &Clinic) -> Result<()> {
    let today = Utc::now().date_naive();
    let counselor = clinic.actor("counselor")?;
    let caseload = store
        .caseload(&store.grant::<can::ReadEpisodes>(counselor)?)
        .await?;
    let dap = |data: &str| {
        sections(&[
            ("data", data),
            (
                "assessment",
                "Engaged and reflective; cravings reported as manageable.",
            ),
            (
                "plan",
                "Continue IOP three evenings a week; practise the coping card daily.",
            ),
        ])
    };
    let mut group = Vec::new();
    for (i, entry) in caseload.iter().take(8).enumerate() {
        let grant = store
            .patient_grant::<can::WriteClinical>(counselor, entry.patient_id)
            .await?;
        let days_ago = 1 + (i as i64 % 4);
        let note = store
            .write_note(
                &grant,
                &NewNote {
                    kind: if i == 3 { NoteKind::Family } else { NoteKind::Individual },
                    template: NoteTemplate::Dap,
                    session_on: today - Duration::days(days_ago),
                    sections: dap("Reviewed the week: attended all groups, one high-risk weekend avoided by calling a sponsor."),
                },
                today,
            )
            .await?;
        // Two notes stay unsigned so the dashboard shows late-note alerts.
        if i != 1 && i != 5 {
            store.sign_note(&grant, note).await?;
            if i == 0 {
                store
                    .add_addendum(
                        &grant,
                        note,
                        "Patient called the next day: new job starts Monday; schedule reviewed.",
                    )
                    .await?;
            }
        }
        if i < 4 {
            group.push((
                grant,
                AttendeeNote {
                    sections: dap("Shared a personal high-risk situation and a plan for it."),
                    objective_ids: Vec::new(),
                },
            ));
        }
    }
    if group.len() >= 3 {
        let id = store
            .write_group_note(
                &NewGroupNote {
                    title: "Evening relapse prevention group".into(),
                    session_on: today - Duration::days(1),
                    template: NoteTemplate::Dap,
                    shared_text: "Psychoeducation on triggers and high-risk situations; each member built a coping card.".into(),
                },
                &group,
                today,
            )
            .await?;
        store
            .sign_group_note(&store.grant::<can::WriteClinical>(counselor)?, id)
            .await?;
    }
    Ok(())
}

fn counselor_for(program_index: usize) -> &'static str {
    match program_index {
        0 => "counselor",
        1 => "counselor2",
        _ => "counselor3",
    }
}

/// Where a demo patient is in their care.
#[derive(Clone, Copy)]
enum Course {
    RegisteredOnly,
    AdmissionPending,
    AdmittedToday,
    Active,
    SteppedUpThenDown,
    SteppedDown,
    Discharged(DischargeReason),
    Readmitted,
}

async fn patients(store: &Store, clinic: &Clinic) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(2026);
    let today = Utc::now().date_naive();
    let intake = clinic.actor("intake")?;
    let mut courses = Vec::new();
    courses.extend([Course::RegisteredOnly; 3]);
    courses.extend([Course::AdmissionPending; 4]);
    courses.extend([Course::AdmittedToday; 3]);
    courses.extend([Course::Active; 28]);
    courses.extend([Course::SteppedUpThenDown; 3]);
    courses.extend([Course::SteppedDown; 7]);
    for reason in [
        DischargeReason::TreatmentCompleted,
        DischargeReason::TreatmentCompleted,
        DischargeReason::TreatmentCompleted,
        DischargeReason::TreatmentCompleted,
        DischargeReason::DroppedOut,
        DischargeReason::DroppedOut,
        DischargeReason::Transferred,
        DischargeReason::TerminatedByFacility,
        DischargeReason::Incarcerated,
        DischargeReason::Other,
    ] {
        courses.push(Course::Discharged(reason));
    }
    courses.extend([Course::Readmitted; 3]);
    let mut item_9_shown = false;

    for (i, course) in courses.into_iter().enumerate() {
        let program_index = i % clinic.programs.len();
        let (site_id, program_id) = clinic.programs[program_index];
        let counselor = clinic.actor(counselor_for(program_index))?;
        let (first, sex, pronouns) = FIRST[(i * 7 + 3) % FIRST.len()];
        // Shift last names on each pass through the first names so no two patients share a name.
        let last = LAST[(i * 11 + 5 + (i / FIRST.len()) * 7) % LAST.len()];
        let dob = today - Duration::days(rng.gen_range(19 * 365..62 * 365));
        let registration = Registration {
            legal_first_name: first.into(),
            legal_last_name: last.into(),
            preferred_name: (i % 9 == 4).then(|| first[..first.len().min(3)].to_owned()),
            date_of_birth: Some(dob),
            sex: sex.into(),
            gender_identity: None,
            pronouns: Some(pronouns.into()),
            phone: Some(format!(
                "(555) {:03}-{:04}",
                300 + i,
                rng.gen_range(1000..9999)
            )),
            email: Some(format!(
                "{}.{}@mail.example",
                first.to_lowercase(),
                last.to_lowercase()
            )),
            address: Some(format!(
                "{} {} Street",
                rng.gen_range(10..999),
                LAST[(i + 13) % LAST.len()]
            )),
            emergency_contact_name: Some(format!("{} {last}", FIRST[(i + 17) % FIRST.len()].0)),
            emergency_contact_phone: Some(format!(
                "(555) {:03}-{:04}",
                600 + i,
                rng.gen_range(1000..9999)
            )),
            emergency_contact_relationship: Some(
                ["Spouse", "Parent", "Sibling", "Friend", "Partner"][i % 5].into(),
            ),
            preferred_language: Some(LANGUAGES[i % LANGUAGES.len()].into()),
        };
        let edit = store.grant::<can::EditDemographics>(intake)?;
        let RegisterOutcome::Created(patient) = store
            .register_patient(&edit, site_id, &registration, today, true)
            .await?
        else {
            continue;
        };
        let referral = REFERRAL_SOURCES[rng.gen_range(0..REFERRAL_SOURCES.len())];
        let admit = |on: NaiveDate, level: LevelOfCare, reason: &str| Admission {
            program_id,
            admitted_on: on,
            referral_source: referral.into(),
            primary_counselor_id: counselor.user_id,
            level,
            reason: reason.into(),
        };
        let iop = LevelOfCare::IntensiveOutpatient;
        let assessment =
            "Intake ASAM assessment: highest risk in dimensions 3 and 5 (rated 2); safe at home";
        match course {
            Course::RegisteredOnly => {}
            Course::AdmissionPending => {
                let on = today + Duration::days(rng.gen_range(1..7));
                admit_episode(store, intake, patient, &admit(on, iop, assessment), today).await?;
            }
            Course::AdmittedToday => {
                admit_episode(
                    store,
                    intake,
                    patient,
                    &admit(today, iop, assessment),
                    today,
                )
                .await?;
            }
            Course::Active => {
                let on = today - Duration::days(rng.gen_range(3..70));
                admit_episode(store, intake, patient, &admit(on, iop, assessment), today).await?;
                let item_9 = program_index == 0 && !item_9_shown;
                item_9_shown |= item_9;
                measures(store, counselor, patient, on, today, i, item_9).await?;
            }
            Course::SteppedUpThenDown => {
                let on = today - Duration::days(rng.gen_range(40..80));
                let e = admit_episode(store, intake, patient, &admit(on, iop, assessment), today)
                    .await?;
                change(
                    store,
                    counselor,
                    patient,
                    e,
                    LevelOfCare::PartialHospitalization,
                    on + Duration::days(12),
                    "Return to daily use and missed sessions; stepped up to PHP for more structure",
                    today,
                )
                .await?;
                change(
                    store,
                    counselor,
                    patient,
                    e,
                    iop,
                    on + Duration::days(30),
                    "Stable for three weeks in PHP; negative screens; back to IOP",
                    today,
                )
                .await?;
            }
            Course::SteppedDown => {
                let on = today - Duration::days(rng.gen_range(60..84));
                let php = "Step-down from residential: IOP-level supports needed after PHP";
                let e = admit_episode(
                    store,
                    intake,
                    patient,
                    &admit(on, LevelOfCare::PartialHospitalization, php),
                    today,
                )
                .await?;
                change(
                    store,
                    counselor,
                    patient,
                    e,
                    iop,
                    on + Duration::days(14),
                    "Completed PHP phase; attendance 95 %; stepped down to IOP",
                    today,
                )
                .await?;
                change(store, counselor, patient, e, LevelOfCare::Outpatient, on + Duration::days(56), "Met phase 2 goals, negative screens for 4 weeks; stepped down to outpatient continuing care", today).await?;
            }
            Course::Discharged(reason) => {
                let on = today - Duration::days(rng.gen_range(100..300));
                let e = admit_episode(store, intake, patient, &admit(on, iop, assessment), today)
                    .await?;
                let length = match reason {
                    DischargeReason::TreatmentCompleted => rng.gen_range(56..90),
                    _ => rng.gen_range(10..50),
                };
                discharge(
                    store,
                    counselor,
                    patient,
                    e,
                    on + Duration::days(length),
                    reason,
                    today,
                )
                .await?;
            }
            Course::Readmitted => {
                let on = today - Duration::days(rng.gen_range(200..360));
                let e = admit_episode(store, intake, patient, &admit(on, iop, assessment), today)
                    .await?;
                discharge(
                    store,
                    counselor,
                    patient,
                    e,
                    on + Duration::days(rng.gen_range(15..40)),
                    DischargeReason::DroppedOut,
                    today,
                )
                .await?;
                let again = today - Duration::days(rng.gen_range(5..30));
                admit_episode(
                    store,
                    intake,
                    patient,
                    &admit(
                        again,
                        iop,
                        "Readmission after return to use; ASAM reassessment supports IOP",
                    ),
                    today,
                )
                .await?;
            }
        }
    }
    Ok(())
}

async fn admit_episode(
    store: &Store,
    intake: &Actor,
    patient: i64,
    admission: &Admission,
    today: NaiveDate,
) -> Result<i64> {
    let grant = store
        .patient_grant::<can::AdmitEpisode>(intake, patient)
        .await?;
    Ok(store.admit(&grant, admission, today).await?)
}

#[allow(clippy::too_many_arguments)]
async fn change(
    store: &Store,
    counselor: &Actor,
    patient: i64,
    episode: i64,
    level: LevelOfCare,
    on: NaiveDate,
    reason: &str,
    today: NaiveDate,
) -> Result<()> {
    let grant = store
        .patient_grant::<can::ChangeLevelOfCare>(counselor, patient)
        .await?;
    Ok(store
        .change_level(&grant, episode, level, on, reason, today)
        .await?)
}

async fn discharge(
    store: &Store,
    counselor: &Actor,
    patient: i64,
    episode: i64,
    on: NaiveDate,
    reason: DischargeReason,
    today: NaiveDate,
) -> Result<()> {
    let grant = store
        .patient_grant::<can::DischargeEpisode>(counselor, patient)
        .await?;
    Ok(store
        .discharge(&grant, episode, on, reason, None, today)
        .await?)
}
