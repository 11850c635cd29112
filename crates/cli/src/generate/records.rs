//! Generated episodes and everything recorded during them: the patient (new, or readmitted),
//! enrolment and group attendance, progress notes, measures, a treatment plan, drug screens,
//! individual appointments, a Part 2 consent, sometimes a disclosure, and their audit rows.

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashMap;
use trellis_domain::patient::Registration;
use trellis_storage::bulk::{BulkAudit, BulkLoad, Value};
use trellis_storage::episodes::REFERRAL_SOURCES;
use trellis_storage::Instant;

use super::structure::{Network, Staff};
use super::templates::{AssessmentTemplate, Templates};
use super::{Counts, Options};
use crate::demo::{FIRST, LANGUAGES, LAST};

/// Share of episodes that readmit an earlier patient of the same site.
const READMISSION: f64 = 0.15;
/// Share of episodes with a disclosure under their consent.
const DISCLOSURE: f64 = 0.25;

/// One planned episode: where, who and when.
#[derive(Debug, Clone)]
pub struct PlannedEpisode {
    site: usize,
    program: usize,
    track: usize,
    counselor: usize,
    admitted_on: NaiveDate,
    /// The last day in treatment (discharged the day after), whether or not it has come yet.
    planned_end: NaiveDate,
    /// TEDS discharge reason code.
    discharge_reason: i64,
}

/// Plans every episode, in admission order.
pub fn plan_episodes(
    network: &Network,
    options: &Options,
    today: NaiveDate,
    rng: &mut StdRng,
) -> Vec<PlannedEpisode> {
    let days = (today - network.start).num_days().max(1);
    let mut plan: Vec<PlannedEpisode> = (0..options.episodes)
        .map(|_| {
            let site = rng.gen_range(0..network.sites.len());
            let programs = &network.sites[site].programs;
            let program = rng.gen_range(0..programs.len());
            let admitted_on = network.start + Duration::days(rng.gen_range(0..days));
            // Most stay the usual 9–15 weeks; some drop out early. About 31 group sessions per
            // episode on average: 2.5 million attendance rows for 80,000 episodes.
            let dropped = rng.gen_bool(0.3);
            let weeks = if dropped {
                rng.gen_range(3..9)
            } else {
                rng.gen_range(9..16)
            };
            PlannedEpisode {
                site,
                program,
                track: rng.gen_range(0..programs[program].tracks.len()),
                counselor: rng.gen_range(0..programs[program].counselors.len()),
                admitted_on,
                planned_end: admitted_on + Duration::weeks(weeks) - Duration::days(1),
                discharge_reason: if dropped {
                    2
                } else if rng.gen_bool(0.1) {
                    4
                } else {
                    1
                },
            }
        })
        .collect();
    plan.sort_by_key(|e| e.admitted_on);
    plan
}

/// Rows of one table, gathered for a batch.
#[derive(Default)]
struct Rows(Vec<Vec<Value>>);

impl Rows {
    fn push(&mut self, row: Vec<Value>) {
        self.0.push(row);
    }
}

/// Writes planned episodes batch by batch, remembering patients for readmissions.
pub struct Generator<'a> {
    network: &'a Network,
    templates: &'a Templates,
    today: NaiveDate,
    now: DateTime<Utc>,
    /// Per site: (patient id, the day their last episode ended, their legal name).
    patients: Vec<Vec<(i64, NaiveDate, String)>>,
    /// Plan versions per patient.
    plan_versions: HashMap<i64, i64>,
    /// The diagnoses on each patient's list: (code, row id).
    diagnoses: HashMap<i64, Vec<(String, i64)>>,
}

fn day(d: NaiveDate) -> Value {
    d.format("%Y-%m-%d").to_string().into()
}

/// Local clock time on a day as a stored instant (site zone applied).
fn at(site_zone: trellis_domain::schedule::zone::SiteZone, d: NaiveDate, h: u32) -> Instant {
    let time = NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN);
    Instant(
        site_zone
            .resolve(d.and_time(time))
            .unwrap_or_else(|_| d.and_time(time).and_utc()),
    )
}

impl<'a> Generator<'a> {
    /// A generator for `network`.
    pub fn new(network: &'a Network, templates: &'a Templates, today: NaiveDate) -> Self {
        Generator {
            network,
            templates,
            today,
            now: Utc::now(),
            patients: vec![Vec::new(); network.sites.len()],
            plan_versions: HashMap::new(),
            diagnoses: HashMap::new(),
        }
    }

    /// Writes one batch of episodes and their records in the open transaction.
    pub async fn write_batch(
        &mut self,
        load: &mut BulkLoad<'_>,
        batch: &[PlannedEpisode],
        rng: &mut StdRng,
        counts: &mut Counts,
    ) -> Result<()> {
        let t = self.templates;
        let mut patients = Rows::default();
        let mut name_tokens = Rows::default();
        let mut episodes = Rows::default();
        let mut enrolments = Rows::default();
        let mut attendance = Rows::default();
        let mut notes = Rows::default();
        let mut measures = Rows::default();
        let mut plans = Rows::default();
        let mut diagnoses = Rows::default();
        let mut plan_diagnoses = Rows::default();
        let mut objectives = Rows::default();
        let mut screens = Rows::default();
        let mut results = Rows::default();
        let mut appointments = Rows::default();
        let mut consents = Rows::default();
        let mut disclosures = Rows::default();
        let mut assessments = Rows::default();
        let mut audit: Vec<BulkAudit> = Vec::new();

        for e in batch {
            let site = &self.network.sites[e.site];
            let zone = site.zone;
            let program = &site.programs[e.program];
            let counselor: &Staff = &program.counselors[e.counselor];
            let track = &program.tracks[e.track];
            let discharged = e.planned_end < self.today;
            let end = e.planned_end.min(self.today);
            let admitted_at = at(zone, e.admitted_on, 10);

            // The patient: an earlier one of this site back for another episode, or a new one.
            let earlier = &mut self.patients[e.site];
            let readmit = if !earlier.is_empty() && rng.gen_bool(READMISSION) {
                let i = rng.gen_range(0..earlier.len());
                (earlier[i].1 + Duration::days(30) < e.admitted_on).then_some(i)
            } else {
                None
            };
            let (patient_id, legal_name) = match readmit {
                Some(i) => {
                    earlier[i].1 = e.planned_end.max(earlier[i].1);
                    (earlier[i].0, earlier[i].2.clone())
                }
                None => {
                    let id = load.reserve_ids("patients", 1).await?;
                    let (first, sex, pronouns) = FIRST[rng.gen_range(0..FIRST.len())];
                    let last = LAST[rng.gen_range(0..LAST.len())];
                    let age = rng.gen_range(18..66);
                    let born = e.admitted_on - Duration::days(365 * age + rng.gen_range(0..365));
                    // Sealed and indexed exactly as registering a patient does.
                    let identity = load.seal_identity(&Registration {
                        legal_first_name: first.into(),
                        legal_last_name: last.into(),
                        date_of_birth: Some(born),
                        sex: sex.into(),
                        pronouns: Some(pronouns.into()),
                        phone: Some(format!(
                            "(555) {:03}-{:04}",
                            rng.gen_range(200..999),
                            rng.gen_range(0..10000)
                        )),
                        preferred_language: Some(
                            LANGUAGES[rng.gen_range(0..LANGUAGES.len())].into(),
                        ),
                        ..Registration::default()
                    })?;
                    for token in identity.name_tokens {
                        name_tokens.push(vec![id.into(), token.into()]);
                    }
                    patients.push(vec![
                        id.into(),
                        site.id.into(),
                        identity.legal_first_name.into(),
                        identity.legal_last_name.into(),
                        identity.date_of_birth.into(),
                        identity.dob_index.into(),
                        sex.into(),
                        identity.pronouns.into(),
                        identity.phone.into(),
                        identity.preferred_language.into(),
                        admitted_at.into(),
                        site.intake.id.into(),
                        admitted_at.into(),
                    ]);
                    audit.push(site.intake.audit(
                        admitted_at,
                        "create",
                        "patient",
                        id,
                        Some(id),
                        String::new(),
                    ));
                    let name = format!("{first} {last}");
                    earlier.push((id, e.planned_end, name.clone()));
                    (id, name)
                }
            };

            let episode_id = load.reserve_ids("episodes", 1).await?;
            episodes.push(vec![
                episode_id.into(),
                patient_id.into(),
                program.id.into(),
                site.id.into(),
                if discharged { "discharged" } else { "open" }.into(),
                day(e.admitted_on),
                REFERRAL_SOURCES[rng.gen_range(0..REFERRAL_SOURCES.len())].into(),
                counselor.id.into(),
                program.level_of_care.clone(),
                if discharged {
                    day(e.planned_end + Duration::days(1))
                } else {
                    Value::Text(None)
                },
                Value::Int(discharged.then_some(e.discharge_reason)),
                admitted_at.into(),
                site.intake.id.into(),
            ]);
            audit.push(site.intake.audit(
                admitted_at,
                "admit",
                "episode",
                episode_id,
                Some(patient_id),
                format!("program {}", program.id),
            ));
            if discharged {
                let when = at(zone, e.planned_end + Duration::days(1), 12);
                audit.push(counselor.audit(
                    when,
                    "discharge",
                    "episode",
                    episode_id,
                    Some(patient_id),
                    format!("reason {}", e.discharge_reason),
                ));
            }

            // The intake assessment the counselor placed the patient with, that morning.
            let fitting: Vec<&AssessmentTemplate> = t
                .assessments
                .iter()
                .filter(|a| a.level == program.level_of_care)
                .collect();
            let a = if fitting.is_empty() {
                &t.assessments[rng.gen_range(0..t.assessments.len())]
            } else {
                fitting[rng.gen_range(0..fitting.len())]
            };
            let assessed_at = at(zone, e.admitted_on, 9);
            let assessment_id = load.reserve_ids("intake_assessments", 1).await?;
            let mut row = vec![
                assessment_id.into(),
                patient_id.into(),
                episode_id.into(),
                day(e.admitted_on),
                a.population.clone(),
                load.seal("intake_assessments.sections", &a.sections)?
                    .into(),
                load.seal("intake_assessments.substances", &a.substances)?
                    .into(),
            ];
            row.extend(a.ratings.iter().cloned());
            row.extend([
                load.seal("intake_assessments.dimension_narratives", &a.narratives)?
                    .into(),
                a.level.clone(),
                load.seal("intake_assessments.recommendation", &a.recommendation)?
                    .into(),
                a.level.clone(),
                assessed_at.into(),
                counselor.id.into(),
                assessed_at.into(),
                counselor.id.into(),
            ]);
            assessments.push(row);
            audit.push(counselor.audit(
                assessed_at,
                "create",
                "intake_assessment",
                assessment_id,
                Some(patient_id),
                String::new(),
            ));

            let enrolment_id = load.reserve_ids("track_enrolments", 1).await?;
            enrolments.push(vec![
                enrolment_id.into(),
                track.id.into(),
                patient_id.into(),
                day(e.admitted_on),
                if discharged {
                    day(e.planned_end)
                } else {
                    Value::Text(None)
                },
                admitted_at.into(),
                counselor.id.into(),
            ]);
            audit.push(counselor.audit(
                admitted_at,
                "enrol",
                "track_enrolment",
                enrolment_id,
                Some(patient_id),
                format!("track {}", track.id),
            ));

            // Group attendance: every session of the track from admission to the end so far.
            let from = track
                .sessions
                .partition_point(|s| s.local_date < e.admitted_on);
            let to = track.sessions.partition_point(|s| s.local_date <= end);
            let attended: Vec<_> = track.sessions[from..to]
                .iter()
                .filter(|s| s.ends_at < self.now)
                .collect();
            let first_attendance = load
                .reserve_ids("attendance", attended.len() as i64)
                .await?;
            for (i, s) in attended.iter().enumerate() {
                let roll: f64 = rng.gen();
                let (status, minutes) = match roll {
                    r if r < 0.78 => ("present", s.minutes),
                    r if r < 0.84 => ("late", (s.minutes - 20).max(0)),
                    r if r < 0.88 => ("left_early", (s.minutes - 45).max(0)),
                    r if r < 0.94 => ("absent_excused", 0),
                    _ => ("absent_unexcused", 0),
                };
                let recorded = Instant(s.ends_at);
                attendance.push(vec![
                    (first_attendance + i as i64).into(),
                    s.id.into(),
                    patient_id.into(),
                    status.into(),
                    minutes.into(),
                    s.minutes.into(),
                    "group".into(),
                    Instant(s.starts_at).into(),
                    recorded.into(),
                    counselor.id.into(),
                ]);
                audit.push(counselor.audit(
                    recorded,
                    "record_attendance",
                    "group_session",
                    s.id,
                    Some(patient_id),
                    status.to_owned(),
                ));
            }

            // Every two weeks: an individual session (appointment), its progress note and a
            // drug screen; every four weeks a measure.
            let mut d = e.admitted_on + Duration::days(2);
            let horizon = end.min(self.today);
            let mut week = 0;
            while d <= e.planned_end.min(self.today + Duration::days(14)) {
                let starts = at(zone, d, 13);
                let ends = Instant(starts.0 + Duration::minutes(50));
                let past = ends.0 < self.now && d <= horizon;
                let appointment_id = load.reserve_ids("appointments", 1).await?;
                appointments.push(vec![
                    appointment_id.into(),
                    patient_id.into(),
                    site.id.into(),
                    "individual_therapy".into(),
                    counselor.id.into(),
                    false.into(),
                    1i64.into(),
                    day(d),
                    "13:00".into(),
                    50i64.into(),
                    starts.into(),
                    ends.into(),
                    "booked".into(),
                    if past {
                        "present".into()
                    } else {
                        Value::Text(None)
                    },
                    Value::Int(past.then_some(50)),
                    if past {
                        starts.into()
                    } else {
                        Value::Text(None)
                    },
                    if past { ends.into() } else { Value::Text(None) },
                    Value::Int(past.then_some(counselor.id)),
                    admitted_at.into(),
                    counselor.id.into(),
                ]);
                audit.push(counselor.audit(
                    admitted_at,
                    "book",
                    "appointment",
                    appointment_id,
                    Some(patient_id),
                    String::new(),
                ));
                if !past {
                    d += Duration::days(14);
                    continue;
                }
                let note = &t.notes[rng.gen_range(0..t.notes.len())];
                let note_id = load.reserve_ids("progress_notes", 1).await?;
                notes.push(vec![
                    note_id.into(),
                    patient_id.into(),
                    note.kind.clone(),
                    note.template.clone(),
                    day(d),
                    load.seal("progress_notes.sections", &note.sections)?.into(),
                    "[]".into(),
                    counselor.id.into(),
                    ends.into(),
                    ends.into(),
                    ends.into(),
                    counselor.id.into(),
                    false.into(),
                ]);
                audit.push(counselor.audit(
                    ends,
                    "create",
                    "progress_note",
                    note_id,
                    Some(patient_id),
                    String::new(),
                ));
                audit.push(counselor.audit(
                    ends,
                    "sign",
                    "progress_note",
                    note_id,
                    Some(patient_id),
                    String::new(),
                ));

                let screen = &t.screens[rng.gen_range(0..t.screens.len())];
                let screen_id = load.reserve_ids("drug_screens", 1).await?;
                let collected = at(zone, d, 12);
                screens.push(vec![
                    screen_id.into(),
                    patient_id.into(),
                    episode_id.into(),
                    day(d),
                    screen.specimen.clone(),
                    screen.observed.clone(),
                    screen.testing.clone(),
                    screen.collected_by.clone(),
                    site.nurse.id.into(),
                    collected.into(),
                ]);
                let first_result = load
                    .reserve_ids("drug_screen_results", screen.results.len() as i64)
                    .await?;
                for (i, r) in screen.results.iter().enumerate() {
                    let mut row = vec![(first_result + i as i64).into(), screen_id.into()];
                    row.extend(r.iter().cloned());
                    for (at, column) in [
                        (2, "drug_screen_results.analyte"),
                        (3, "drug_screen_results.result"),
                        (5, "drug_screen_results.expectation_reason"),
                    ] {
                        if let Some(clear) = row[at].as_text() {
                            row[at] = load.seal(column, clear)?.into();
                        }
                    }
                    results.push(row);
                }
                audit.push(site.nurse.audit(
                    collected,
                    "create",
                    "drug_screen",
                    screen_id,
                    Some(patient_id),
                    String::new(),
                ));

                if week % 2 == 0 {
                    let m = &t.measures[rng.gen_range(0..t.measures.len())];
                    let measure_id = load.reserve_ids("measure_administrations", 1).await?;
                    measures.push(vec![
                        measure_id.into(),
                        patient_id.into(),
                        episode_id.into(),
                        m.instrument.clone(),
                        day(d),
                        load.seal("measure_administrations.responses", &m.responses)?
                            .into(),
                        m.total.clone(),
                        m.subscales.clone(),
                        m.band_code.clone(),
                        m.band_label.clone(),
                        ends.into(),
                        counselor.id.into(),
                    ]);
                    audit.push(counselor.audit(
                        ends,
                        "create",
                        "measure",
                        measure_id,
                        Some(patient_id),
                        String::new(),
                    ));
                }
                week += 1;
                d += Duration::days(14);
            }

            // The treatment plan, signed in the first week.
            let plan_day = e.admitted_on + Duration::days(5);
            if plan_day <= horizon {
                let p = &t.plans[rng.gen_range(0..t.plans.len())];
                let version = self.plan_versions.entry(patient_id).or_insert(0);
                *version += 1;
                let plan_id = load.reserve_ids("treatment_plans", 1).await?;
                let signed = at(zone, plan_day, 15);
                // The patient signs with their own name, not the demo patient's.
                let patient_signature = match &p.patient_signature {
                    Some(_) => {
                        Value::from(load.seal("treatment_plans.patient_signature", &legal_name)?)
                    }
                    None => Value::Text(None),
                };
                // Each problem from a diagnosis links a row on this patient's own list, added
                // at intake (before the plan) when it is not there yet.
                let list = self.diagnoses.entry(patient_id).or_default();
                for (problem_index, code, description) in &p.diagnoses {
                    let diagnosis_id = match list.iter().find(|(c, _)| c == code) {
                        Some((_, id)) => *id,
                        None => {
                            let id = load.reserve_ids("patient_diagnoses", 1).await?;
                            diagnoses.push(vec![
                                id.into(),
                                patient_id.into(),
                                load.seal("patient_diagnoses.code", code)?.into(),
                                load.seal(
                                    "patient_diagnoses.description",
                                    description.as_text().unwrap_or_default(),
                                )?
                                .into(),
                                list.is_empty().into(),
                                at(zone, e.admitted_on, 11).into(),
                                counselor.id.into(),
                            ]);
                            audit.push(counselor.audit(
                                at(zone, e.admitted_on, 11),
                                "create",
                                "diagnosis",
                                id,
                                Some(patient_id),
                                String::new(),
                            ));
                            list.push((code.clone(), id));
                            id
                        }
                    };
                    plan_diagnoses.push(vec![
                        plan_id.into(),
                        (*problem_index).into(),
                        diagnosis_id.into(),
                    ]);
                }
                plans.push(vec![
                    plan_id.into(),
                    patient_id.into(),
                    episode_id.into(),
                    (*version).into(),
                    load.seal("treatment_plans.content", &p.content)?.into(),
                    counselor.id.into(),
                    signed.into(),
                    signed.into(),
                    patient_signature,
                    signed.into(),
                    p.clinician_signature.clone(),
                    counselor.id.into(),
                    signed.into(),
                    day(plan_day + Duration::days(program.plan_review_days)),
                ]);
                let first_objective = load
                    .reserve_ids("plan_objectives", p.objectives.len() as i64)
                    .await?;
                for (i, o) in p.objectives.iter().enumerate() {
                    let mut row = vec![(first_objective + i as i64).into(), plan_id.into()];
                    row.extend(o[..3].iter().cloned());
                    row.push(day(plan_day + Duration::days(60)));
                    row.push(o[3].clone());
                    objectives.push(row);
                }
                audit.push(counselor.audit(
                    signed,
                    "create",
                    "treatment_plan",
                    plan_id,
                    Some(patient_id),
                    format!("version {version}"),
                ));
                audit.push(counselor.audit(
                    signed,
                    "sign",
                    "treatment_plan",
                    plan_id,
                    Some(patient_id),
                    String::new(),
                ));
            }

            // Part 2 consent at admission, and sometimes a disclosure under it.
            let consent_id = load.reserve_ids("consents", 1).await?;
            consents.push(vec![
                consent_id.into(),
                patient_id.into(),
                t.consents[rng.gen_range(0..t.consents.len())].clone(),
                admitted_at.into(),
                site.intake.id.into(),
            ]);
            audit.push(site.intake.audit(
                admitted_at,
                "create",
                "consent",
                consent_id,
                Some(patient_id),
                String::new(),
            ));
            let disclosed_on = e.admitted_on + Duration::days(10);
            if disclosed_on <= horizon && rng.gen_bool(DISCLOSURE) {
                let x = &t.disclosures[rng.gen_range(0..t.disclosures.len())];
                let disclosure_id = load.reserve_ids("disclosures", 1).await?;
                let when = at(zone, disclosed_on, 11);
                disclosures.push(vec![
                    disclosure_id.into(),
                    patient_id.into(),
                    consent_id.into(),
                    x.kind.clone(),
                    x.purpose.clone(),
                    x.categories.clone(),
                    x.recipient.clone(),
                    x.packet.clone(),
                    when.into(),
                    counselor.id.into(),
                ]);
                audit.push(counselor.audit(
                    when,
                    "disclose",
                    "disclosure",
                    disclosure_id,
                    Some(patient_id),
                    format!("consent {consent_id}"),
                ));
            }
        }

        counts.patients += patients.0.len() as u64;
        counts.episodes += episodes.0.len() as u64;
        counts.attendance += attendance.0.len() as u64;
        counts.notes += notes.0.len() as u64;
        counts.measures += measures.0.len() as u64;
        counts.plans += plans.0.len() as u64;
        counts.screens += screens.0.len() as u64;
        counts.appointments += appointments.0.len() as u64;
        counts.consents += consents.0.len() as u64;
        counts.disclosures += disclosures.0.len() as u64;
        counts.audit_rows += audit.len() as u64;

        load.insert(
            "patients",
            &[
                "id",
                "site_id",
                "legal_first_name",
                "legal_last_name",
                "date_of_birth",
                "dob_index",
                "sex",
                "pronouns",
                "phone",
                "preferred_language",
                "created_at",
                "created_by",
                "updated_at",
            ],
            &patients.0,
        )
        .await?;
        load.insert(
            "patient_name_tokens",
            &["patient_id", "token"],
            &name_tokens.0,
        )
        .await?;
        load.insert(
            "episodes",
            &[
                "id",
                "patient_id",
                "program_id",
                "site_id",
                "status",
                "admitted_on",
                "referral_source",
                "primary_counselor_id",
                "current_level",
                "discharged_on",
                "discharge_reason",
                "created_at",
                "created_by",
            ],
            &episodes.0,
        )
        .await?;
        load.insert(
            "intake_assessments",
            &[
                "id",
                "patient_id",
                "episode_id",
                "assessed_on",
                "population",
                "sections",
                "substances",
                "d1_rating",
                "d2_rating",
                "d3_rating",
                "d4_rating",
                "d5_rating",
                "d6_rating",
                "dimension_narratives",
                "recommended_level",
                "recommendation",
                "actual_level",
                "placed_at",
                "placed_by",
                "recorded_at",
                "recorded_by",
            ],
            &assessments.0,
        )
        .await?;
        load.insert(
            "track_enrolments",
            &[
                "id",
                "track_id",
                "patient_id",
                "enrolled_on",
                "ended_on",
                "created_at",
                "created_by",
            ],
            &enrolments.0,
        )
        .await?;
        load.insert(
            "attendance",
            &[
                "id",
                "session_id",
                "patient_id",
                "status",
                "minutes_attended",
                "session_minutes",
                "service_type",
                "service_start",
                "recorded_at",
                "recorded_by",
            ],
            &attendance.0,
        )
        .await?;
        load.insert(
            "progress_notes",
            &[
                "id",
                "patient_id",
                "kind",
                "template",
                "session_on",
                "sections",
                "objective_ids",
                "author_id",
                "created_at",
                "updated_at",
                "signed_at",
                "signed_by",
                "needs_cosign",
            ],
            &notes.0,
        )
        .await?;
        load.insert(
            "measure_administrations",
            &[
                "id",
                "patient_id",
                "episode_id",
                "instrument",
                "administered_on",
                "responses",
                "total",
                "subscales",
                "band_code",
                "band_label",
                "recorded_at",
                "recorded_by",
            ],
            &measures.0,
        )
        .await?;
        load.insert(
            "patient_diagnoses",
            &[
                "id",
                "patient_id",
                "code",
                "description",
                "is_primary",
                "recorded_at",
                "recorded_by",
            ],
            &diagnoses.0,
        )
        .await?;
        load.insert(
            "treatment_plans",
            &[
                "id",
                "patient_id",
                "episode_id",
                "version",
                "content",
                "created_by",
                "created_at",
                "updated_at",
                "patient_signature",
                "patient_signed_at",
                "clinician_signature",
                "clinician_signed_by",
                "clinician_signed_at",
                "review_due_on",
            ],
            &plans.0,
        )
        .await?;
        load.insert(
            "plan_problem_diagnoses",
            &["plan_id", "problem_index", "diagnosis_id"],
            &plan_diagnoses.0,
        )
        .await?;
        load.insert(
            "plan_objectives",
            &[
                "id",
                "plan_id",
                "problem_index",
                "goal_index",
                "position",
                "target_on",
                "status",
            ],
            &objectives.0,
        )
        .await?;
        load.insert(
            "drug_screens",
            &[
                "id",
                "patient_id",
                "episode_id",
                "collected_on",
                "specimen",
                "observed",
                "testing",
                "collected_by",
                "recorded_by",
                "recorded_at",
            ],
            &screens.0,
        )
        .await?;
        load.insert(
            "drug_screen_results",
            &[
                "id",
                "screen_id",
                "analyte",
                "result",
                "expectation",
                "expectation_reason",
                "finding",
            ],
            &results.0,
        )
        .await?;
        load.insert(
            "appointments",
            &[
                "id",
                "patient_id",
                "site_id",
                "kind",
                "clinician_id",
                "telehealth",
                "occupants",
                "local_date",
                "local_start",
                "minutes",
                "starts_at",
                "ends_at",
                "status",
                "attendance_status",
                "minutes_attended",
                "service_start",
                "attendance_recorded_at",
                "attendance_recorded_by",
                "created_at",
                "created_by",
            ],
            &appointments.0,
        )
        .await?;
        load.insert(
            "consents",
            &["id", "patient_id", "body", "recorded_at", "recorded_by"],
            &consents.0,
        )
        .await?;
        load.insert(
            "disclosures",
            &[
                "id",
                "patient_id",
                "consent_id",
                "kind",
                "purpose",
                "categories",
                "recipient",
                "packet",
                "disclosed_at",
                "disclosed_by",
            ],
            &disclosures.0,
        )
        .await?;
        load.audit(&audit).await?;
        Ok(())
    }
}
