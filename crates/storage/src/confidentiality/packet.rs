//! What a disclosure packet carries: each information category drawn from the record as it
//! stands when the disclosure is made (one place, so every way out carries the same content).
//! Only what the category names leaves: the assessment's ratings and levels but not the
//! placement rules' wording, the progress notes' dates, services and minutes but not their
//! text, unless the discloser chooses to add them ([`PacketDetail`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use trellis_domain::consent::InformationCategory;
use trellis_domain::placement::rules::Recommendation;

use super::PacketSection;
use crate::treatment_plans::{PlanContent, CONTENT_COLUMN};
use crate::{Day, Flag, Instant, Result, Store, StoreError};

/// What the discloser chose to add beyond a category's summary (minimum necessary: off unless
/// chosen, and each choice is in the audit row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketDetail {
    /// The text of each signed progress note, with the summary of progress.
    pub note_text: bool,
    /// The placement rules' reasons behind the recommended level, with the assessment.
    pub recommendation_wording: bool,
}

impl PacketDetail {
    /// What the audit row says was added (no text of the record).
    pub(super) fn audit_words(self) -> String {
        let mut words = Vec::new();
        if self.note_text {
            words.push("note text");
        }
        if self.recommendation_wording {
            words.push("recommendation wording");
        }
        if words.is_empty() {
            String::new()
        } else {
            format!("; with {}", words.join(", "))
        }
    }
}

fn none_recorded(lines: &mut Vec<String>, what: &str) {
    if lines.is_empty() {
        lines.push(format!("No {what} recorded."));
    }
}

impl Store {
    /// The information drawn from today's record for each requested category. SUD counseling
    /// notes are only ever the discloser's own (their author is their only reader).
    pub(super) async fn packet_sections(
        &self,
        patient_id: i64,
        categories: &BTreeSet<InformationCategory>,
        discloser: i64,
        detail: PacketDetail,
    ) -> Result<Vec<PacketSection>> {
        let mut sections = Vec::new();
        for category in categories {
            let lines = match category {
                InformationCategory::Demographics => {
                    let sealed: (
                        String,
                        String,
                        Option<String>,
                        String,
                        String,
                        Option<String>,
                    ) = sqlx::query_as(
                        "SELECT legal_first_name, legal_last_name, preferred_name,
                                 date_of_birth, sex, address
                             FROM patients WHERE id = $1",
                    )
                    .bind(patient_id)
                    .fetch_one(&mut *self.read_conn().await?)
                    .await?;
                    let row = (
                        self.open_identity("legal_first_name", &sealed.0)?,
                        self.open_identity("legal_last_name", &sealed.1)?,
                        self.open_identity_opt("preferred_name", sealed.2)?,
                        self.open_date_of_birth(&sealed.3)?,
                        sealed.4,
                        self.open_identity_opt("address", sealed.5)?,
                    );
                    let mut lines = vec![
                        format!("Legal name: {} {}", row.0, row.1),
                        format!("Date of birth: {}", row.3),
                        format!("Sex: {}", row.4),
                    ];
                    if let Some(p) = row.2 {
                        lines.push(format!("Preferred name: {p}"));
                    }
                    if let Some(a) = row.5 {
                        lines.push(format!("Address: {a}"));
                    }
                    lines
                }
                InformationCategory::Attendance => {
                    let rows: Vec<(String, crate::Day, Option<crate::Day>, String)> =
                        sqlx::query_as(
                            "SELECT pr.name, e.admitted_on, e.discharged_on, e.current_level
                             FROM episodes e JOIN programs pr ON pr.id = e.program_id
                             WHERE e.patient_id = $1 ORDER BY e.admitted_on, e.id",
                        )
                        .bind(patient_id)
                        .fetch_all(&mut *self.read_conn().await?)
                        .await?;
                    let mut lines: Vec<String> = rows
                        .into_iter()
                        .map(|(program, admitted, discharged, level)| match discharged {
                            Some(d) => format!(
                                "{program}: admitted {admitted}, discharged {d} (last level of care {level})"
                            ),
                            None => format!(
                                "{program}: admitted {admitted}, in treatment (level of care {level})"
                            ),
                        })
                        .collect();
                    let changes: Vec<(String, crate::Day)> = sqlx::query_as(
                        "SELECT c.level, c.effective_on FROM level_of_care_changes c
                         JOIN episodes e ON e.id = c.episode_id
                         WHERE e.patient_id = $1 ORDER BY c.effective_on, c.id",
                    )
                    .bind(patient_id)
                    .fetch_all(&mut *self.read_conn().await?)
                    .await?;
                    lines.extend(
                        changes
                            .into_iter()
                            .map(|(level, on)| format!("Level of care {level} from {on}")),
                    );
                    if lines.is_empty() {
                        lines.push("No episodes of care recorded.".into());
                    }
                    lines.extend(self.attendance_lines(patient_id).await?);
                    lines
                }
                InformationCategory::Assessment => {
                    self.assessment_lines(patient_id, detail).await?
                }
                InformationCategory::DrugScreens => self.drug_screen_lines(patient_id).await?,
                InformationCategory::TreatmentPlan => self.treatment_plan_lines(patient_id).await?,
                InformationCategory::ProgressSummary => {
                    self.progress_lines(patient_id, detail).await?
                }
                InformationCategory::MeasureScores => self.measure_lines(patient_id).await?,
                InformationCategory::DischargeSummary => {
                    self.signed_summary_lines(patient_id).await?
                }
                InformationCategory::Diagnoses => {
                    let rows: Vec<(String, String, crate::Flag, Option<crate::Day>)> =
                        sqlx::query_as(
                            "SELECT code, description, is_primary, resolved_on
                             FROM patient_diagnoses WHERE patient_id = $1 ORDER BY id",
                        )
                        .bind(patient_id)
                        .fetch_all(&mut *self.read_conn().await?)
                        .await?;
                    let mut lines: Vec<String> = rows
                        .into_iter()
                        .map(|(code, description, primary, resolved)| {
                            let code = self.open(crate::assessments::CODE_COLUMN, &code)?;
                            let description =
                                self.open(crate::assessments::DESCRIPTION_COLUMN, &description)?;
                            let mut line = format!("{code} {description}");
                            if primary.0 {
                                line.push_str(" (primary)");
                            }
                            if let Some(on) = resolved {
                                line.push_str(&format!(", resolved {on}"));
                            }
                            Ok(line)
                        })
                        .collect::<Result<_>>()?;
                    if lines.is_empty() {
                        lines.push("No diagnoses recorded.".into());
                    }
                    lines
                }
                InformationCategory::Medications => {
                    let rows: Vec<(
                        String,
                        String,
                        String,
                        String,
                        crate::Day,
                        Option<crate::Day>,
                    )> = sqlx::query_as(
                        "SELECT name, dose, route, frequency, started_on, stopped_on
                             FROM medications WHERE patient_id = $1 ORDER BY started_on, id",
                    )
                    .bind(patient_id)
                    .fetch_all(&mut *self.read_conn().await?)
                    .await?;
                    let mut lines: Vec<String> = rows
                        .into_iter()
                        .map(|(name, dose, route, frequency, started, stopped)| {
                            let (name, dose, frequency) =
                                self.open_medication(&name, &dose, &frequency)?;
                            Ok(match stopped {
                                Some(s) => {
                                    format!("{name} {dose} {route} {frequency}, {started} to {s}")
                                }
                                None => {
                                    format!("{name} {dose} {route} {frequency}, since {started}")
                                }
                            })
                        })
                        .collect::<Result<_>>()?;
                    if lines.is_empty() {
                        lines.push("No medications recorded.".into());
                    }
                    lines
                }
                InformationCategory::CounselingNotes => {
                    let notes = self.counseling_notes_by(patient_id, discloser).await?;
                    notes
                        .into_iter()
                        .rev()
                        .map(|n| format!("Session {}: {}", n.session_on, n.text))
                        .collect()
                }
                InformationCategory::BillingAndClaims => {
                    vec![
                        "Trellis keeps no charges or claims: nothing disclosed for this category."
                            .into(),
                    ]
                }
            };
            sections.push(PacketSection {
                heading: category.label().to_owned(),
                lines,
            });
        }
        Ok(sections)
    }

    /// Each session attended or missed: the day, the service, and the minutes present.
    async fn attendance_lines(&self, patient_id: i64) -> Result<Vec<String>> {
        let zone = self.patient_zone(patient_id).await?;
        let groups: Vec<(Instant, String, String, i64, i64)> = sqlx::query_as(
            "SELECT service_start, service_type, status, minutes_attended, session_minutes
             FROM attendance WHERE patient_id = $1 ORDER BY service_start, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let visits: Vec<(Instant, String, String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT service_start, kind, attendance_status, minutes_attended, minutes
             FROM appointments
             WHERE patient_id = $1 AND service_start IS NOT NULL AND attendance_status IS NOT NULL
             ORDER BY service_start, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut rows: Vec<(Instant, String)> = groups
            .into_iter()
            .map(|(start, service, status, attended, minutes)| {
                let day = start.0.with_timezone(&zone).date_naive();
                let service = service.replace('_', " ");
                let status = status.replace('_', " ");
                (
                    start,
                    format!("{day} {service}: {status}, {attended} of {minutes} minutes"),
                )
            })
            .collect();
        rows.extend(
            visits
                .into_iter()
                .map(|(start, kind, status, attended, minutes)| {
                    let day = start.0.with_timezone(&zone).date_naive();
                    let kind = kind.replace('_', " ");
                    let status = status.replace('_', " ");
                    let attended = attended.unwrap_or(0);
                    (
                        start,
                        format!(
                            "{day} {kind} appointment: {status}, {attended} of {minutes} minutes"
                        ),
                    )
                }),
        );
        rows.sort_by_key(|(start, _)| start.0);
        let mut lines: Vec<String> = rows.into_iter().map(|(_, line)| line).collect();
        none_recorded(&mut lines, "sessions");
        Ok(lines)
    }

    /// Each intake assessment's six ASAM dimension ratings, the level recommended and the level
    /// placed; the rules' reasons only when chosen.
    async fn assessment_lines(&self, patient_id: i64, detail: PacketDetail) -> Result<Vec<String>> {
        type Row = (
            Day,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            String,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT assessed_on, d1_rating, d2_rating, d3_rating, d4_rating, d5_rating,
                    d6_rating, recommended_level, actual_level, recommendation
             FROM intake_assessments WHERE patient_id = $1 ORDER BY assessed_on, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut lines = Vec::new();
        for (on, d1, d2, d3, d4, d5, d6, recommended, placed, sealed) in rows {
            lines.push(format!(
                "Assessed {on}: ASAM dimension ratings 1: {d1}, 2: {d2}, 3: {d3}, 4: {d4}, \
                 5: {d5}, 6: {d6}; level recommended {recommended}; {}",
                placed.map_or("not yet placed".into(), |p| format!("placed at {p}"))
            ));
            if detail.recommendation_wording {
                let json = self.open(crate::assessments::RECOMMENDATION_COLUMN, &sealed)?;
                let recommendation: Recommendation = serde_json::from_str(&json)
                    .map_err(|_| StoreError::Corrupt("recommendation is malformed".into()))?;
                lines.extend(
                    recommendation
                        .reasons
                        .into_iter()
                        .map(|r| format!("Reason: {}", r.text)),
                );
            }
        }
        none_recorded(&mut lines, "assessments");
        Ok(lines)
    }

    /// Each drug screen: the day, the specimen, whether observed, and each result.
    async fn drug_screen_lines(&self, patient_id: i64) -> Result<Vec<String>> {
        let screens: Vec<(i64, Day, String, Flag)> = sqlx::query_as(
            "SELECT id, collected_on, specimen, observed FROM drug_screens
             WHERE patient_id = $1 ORDER BY collected_on, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let results: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT r.screen_id, r.analyte, r.result, r.expectation
             FROM drug_screen_results r JOIN drug_screens s ON s.id = r.screen_id
             WHERE s.patient_id = $1 ORDER BY r.screen_id, r.analyte",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut lines: Vec<String> = screens
            .into_iter()
            .map(|(id, on, specimen, observed)| {
                let found: Vec<String> = results
                    .iter()
                    .filter(|r| r.0 == id)
                    .map(|(_, analyte, result, expectation)| {
                        match (result.as_str(), expectation.as_deref()) {
                            ("positive", Some("expected")) => {
                                format!("{analyte} positive (expected)")
                            }
                            _ => format!("{analyte} {result}"),
                        }
                    })
                    .collect();
                format!(
                    "{on} {specimen}{}: {}",
                    if observed.0 { ", observed" } else { "" },
                    if found.is_empty() {
                        "no results recorded".into()
                    } else {
                        found.join(", ")
                    }
                )
            })
            .collect();
        none_recorded(&mut lines, "drug screens");
        Ok(lines)
    }

    /// The treatment plan in force: the latest version the clinician signed, problem by problem.
    async fn treatment_plan_lines(&self, patient_id: i64) -> Result<Vec<String>> {
        let row: Option<(i64, i64, String, Instant)> = sqlx::query_as(
            "SELECT id, version, content, clinician_signed_at FROM treatment_plans
             WHERE patient_id = $1 AND clinician_signed_at IS NOT NULL
             ORDER BY version DESC LIMIT 1",
        )
        .bind(patient_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let Some((id, version, sealed, signed_at)) = row else {
            return Ok(vec!["No signed treatment plan recorded.".into()]);
        };
        let statuses: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT problem_index, goal_index, position, status FROM plan_objectives
             WHERE plan_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let content: PlanContent = serde_json::from_str(&self.open(CONTENT_COLUMN, &sealed)?)
            .map_err(|e| StoreError::Corrupt(format!("plan content: {e}")))?;
        let zone = self.patient_zone(patient_id).await?;
        let mut lines = vec![format!(
            "Version {version}, signed {}",
            signed_at.0.with_timezone(&zone).date_naive()
        )];
        for (p, problem) in content.problems.iter().enumerate() {
            lines.push(format!("Problem {}: {}", p + 1, problem.text));
            for (g, goal) in problem.goals.iter().enumerate() {
                lines.push(format!("Goal {}.{}: {}", p + 1, g + 1, goal.text));
                for (o, objective) in goal.objectives.iter().enumerate() {
                    let status = statuses
                        .iter()
                        .find(|(pi, gi, oi, _)| (*pi, *gi, *oi) == (p as i64, g as i64, o as i64))
                        .map_or(objective.status.label(), |(_, _, _, s)| {
                            s.parse::<crate::treatment_plans::ObjectiveStatus>()
                                .map_or("not recorded", |s| s.label())
                        });
                    let interventions: Vec<String> = objective
                        .interventions
                        .iter()
                        .map(|i| format!("{} {}", i.modality.label(), i.frequency))
                        .collect();
                    lines.push(format!(
                        "Objective {}.{}.{}: {} (by {}; {status}){}",
                        p + 1,
                        g + 1,
                        o + 1,
                        objective.text,
                        objective.target_on,
                        if interventions.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", interventions.join(", "))
                        }
                    ));
                }
            }
        }
        Ok(lines)
    }

    /// A summary of progress: each signed progress note's day, kind, service and minutes; the
    /// note's text only when chosen.
    async fn progress_lines(&self, patient_id: i64, detail: PacketDetail) -> Result<Vec<String>> {
        type Row = (Day, String, Option<String>, Option<i64>, String);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT session_on, kind, service_code, duration_minutes, sections FROM progress_notes
             WHERE patient_id = $1 AND signed_at IS NOT NULL ORDER BY session_on, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut lines = Vec::new();
        for (on, kind, service, minutes, sealed) in rows {
            let kind = kind
                .parse::<crate::notes::NoteKind>()
                .map_or(kind.replace('_', " "), |k| k.label().to_owned());
            lines.push(format!(
                "{on} {kind}{}{}",
                service.map_or(String::new(), |s| format!(", service {s}")),
                minutes.map_or(String::new(), |m| format!(", {m} minutes"))
            ));
            if detail.note_text {
                let sections: Vec<(String, String)> =
                    serde_json::from_str(&self.open(crate::notes::SECTIONS_COLUMN, &sealed)?)
                        .map_err(|e| StoreError::Corrupt(format!("note sections: {e}")))?;
                lines.extend(
                    sections
                        .into_iter()
                        .filter(|(_, text)| !text.trim().is_empty())
                        .map(|(heading, text)| format!("  {heading}: {text}")),
                );
            }
        }
        none_recorded(&mut lines, "signed progress notes");
        Ok(lines)
    }

    /// Each standardised measure given: the day, the instrument, the total and its band.
    async fn measure_lines(&self, patient_id: i64) -> Result<Vec<String>> {
        let rows: Vec<(Day, String, Option<i64>, String)> = sqlx::query_as(
            "SELECT administered_on, instrument, total, band_label FROM measure_administrations
             WHERE patient_id = $1 ORDER BY administered_on, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut lines: Vec<String> = rows
            .into_iter()
            .map(|(on, instrument, total, band)| {
                let name = instrument
                    .parse::<trellis_domain::measures::Instrument>()
                    .map_or(instrument.clone(), |i| i.name().to_owned());
                match total {
                    Some(t) => format!("{on} {name}: {t} ({band})"),
                    None => format!("{on} {name}: {band}"),
                }
            })
            .collect();
        none_recorded(&mut lines, "measures");
        Ok(lines)
    }
}
