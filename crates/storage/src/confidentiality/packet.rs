//! What a disclosure packet carries: each information category drawn from the record as it
//! stands when the disclosure is made (one place, so every way out carries the same content).

use std::collections::BTreeSet;
use trellis_domain::consent::InformationCategory;

use super::PacketSection;
use crate::{Result, Store};

impl Store {
    /// The information drawn from today's record for each requested category. SUD counseling
    /// notes are only ever the discloser's own (their author is their only reader).
    pub(super) async fn packet_sections(
        &self,
        patient_id: i64,
        categories: &BTreeSet<InformationCategory>,
        discloser: i64,
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
                    .fetch_one(self.reader())
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
                        .fetch_all(self.reader())
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
                    .fetch_all(self.reader())
                    .await?;
                    lines.extend(
                        changes
                            .into_iter()
                            .map(|(level, on)| format!("Level of care {level} from {on}")),
                    );
                    if lines.is_empty() {
                        lines.push("No episodes of care recorded.".into());
                    }
                    lines
                }
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
                        .fetch_all(self.reader())
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
                    .fetch_all(self.reader())
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
                _ => {
                    vec!["Not included in packets yet: nothing disclosed for this category.".into()]
                }
            };
            sections.push(PacketSection {
                heading: category.label().to_owned(),
                lines,
            });
        }
        Ok(sections)
    }
}
