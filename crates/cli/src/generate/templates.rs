//! The demo clinic's records that generated ones are cloned from: their shapes (JSON layouts,
//! codes, section names) stay whatever the store writes today.

use anyhow::{bail, Result};
use std::collections::HashMap;
use trellis_storage::bulk::{BulkLoad, Value};

/// A progress note's kind, template and (decrypted) sections.
pub struct NoteTemplate {
    /// Session kind code.
    pub kind: Value,
    /// Template code.
    pub template: Value,
    /// Sections as the store writes them (JSON), decrypted.
    pub sections: String,
}

/// A scored measure administration (responses decrypted).
pub struct MeasureTemplate {
    /// Instrument code.
    pub instrument: Value,
    /// Item responses (JSON), decrypted.
    pub responses: String,
    /// Total score.
    pub total: Value,
    /// Subscale scores (JSON).
    pub subscales: Value,
    /// Severity band code.
    pub band_code: Value,
    /// Severity band label.
    pub band_label: Value,
}

/// A signed treatment plan and its objectives.
pub struct PlanTemplate {
    /// Problems, goals, objectives and interventions (JSON), decrypted.
    pub content: String,
    /// The patient's typed signature, decrypted.
    pub patient_signature: Option<String>,
    /// The clinician's typed signature.
    pub clinician_signature: Value,
    /// (problem_index, goal_index, position, status)
    pub objectives: Vec<[Value; 4]>,
    /// The diagnoses its problems come from: (problem_index, ICD-10-CM code, description). The
    /// generated patient is given these, so the plan names only diagnoses on their own list.
    pub diagnoses: Vec<(i64, String, Value)>,
}

/// A drug screen and its per-analyte results.
pub struct ScreenTemplate {
    /// Specimen code.
    pub specimen: Value,
    /// Whether collection was observed.
    pub observed: Value,
    /// Testing method code.
    pub testing: Value,
    /// Who collected it.
    pub collected_by: Value,
    /// (analyte, result, expectation, expectation_reason, finding)
    pub results: Vec<[Value; 5]>,
}

/// A disclosure made under a consent.
pub struct DisclosureTemplate {
    /// Disclosure kind code.
    pub kind: Value,
    /// Purpose code.
    pub purpose: Value,
    /// Information categories (JSON).
    pub categories: Value,
    /// Recipient (JSON).
    pub recipient: Value,
    /// What was sent (JSON).
    pub packet: Value,
}

/// An intake assessment placed at the level it recommended (sealed parts decrypted).
pub struct AssessmentTemplate {
    /// Population code.
    pub population: Value,
    /// Biopsychosocial sections (JSON), decrypted.
    pub sections: String,
    /// Substance rows (JSON), decrypted.
    pub substances: String,
    /// The six dimension ratings, in order.
    pub ratings: [Value; 6],
    /// The six dimension narratives (JSON), decrypted.
    pub narratives: String,
    /// The recommended (and placed) level's code.
    pub level: Value,
    /// The recommendation as computed then (JSON), decrypted.
    pub recommendation: String,
}

/// Everything the generator clones.
pub struct Templates {
    /// The demo counselor's password hash: generated staff sign in with the demo password.
    pub password_hash: String,
    /// (name, population, level_of_care, weekly_minimum_hours, max_group_size, plan_review_days)
    pub programs: Vec<[Value; 6]>,
    /// Signed individual progress notes.
    pub notes: Vec<NoteTemplate>,
    /// Measures without a safety answer.
    pub measures: Vec<MeasureTemplate>,
    /// Signed plans.
    pub plans: Vec<PlanTemplate>,
    /// Intake assessments placed where they recommended: every generated episode has one, as
    /// in a clinic (without them the intake dashboard's "incomplete" list is the whole census).
    pub assessments: Vec<AssessmentTemplate>,
    /// Unflagged screens not explained by one patient's medication.
    pub screens: Vec<ScreenTemplate>,
    /// Bodies of unrevoked patient consents (JSON).
    pub consents: Vec<Value>,
    /// Disclosures made under a consent.
    pub disclosures: Vec<DisclosureTemplate>,
}

fn take<const N: usize>(row: &[Value]) -> [Value; N] {
    std::array::from_fn(|i| row[i].clone())
}

/// The diagnosis each problem of a plan's content comes from, with its description; `None`
/// when one has no known description (the plan is then not cloned).
fn plan_diagnoses(
    content: &str,
    descriptions: &HashMap<String, Value>,
) -> Result<Option<Vec<(i64, String, Value)>>> {
    let content: serde_json::Value = serde_json::from_str(content)?;
    let mut out = Vec::new();
    let problems = content["problems"].as_array().cloned().unwrap_or_default();
    for (i, problem) in problems.iter().enumerate() {
        let Some(code) = problem["diagnosis_code"].as_str() else {
            continue;
        };
        let Some(description) = descriptions.get(code) else {
            return Ok(None);
        };
        out.push((i as i64, code.to_owned(), description.clone()));
    }
    Ok(Some(out))
}

impl Templates {
    /// Reads the templates from the demo clinic's rows.
    pub async fn read(load: &mut BulkLoad<'_>) -> Result<Templates> {
        let users = load.sample("users", &["username", "password_hash"]).await?;
        let password_hash = users
            .iter()
            .find(|u| u[0].as_text() == Some("counselor"))
            .and_then(|u| u[1].as_text())
            .map(str::to_owned);
        let Some(password_hash) = password_hash else {
            bail!("the demo counselor is missing: generate needs the demo clinic's records");
        };

        let programs: Vec<[Value; 6]> = load
            .sample(
                "programs",
                &[
                    "name",
                    "population",
                    "level_of_care",
                    "weekly_minimum_hours",
                    "max_group_size",
                    "plan_review_days",
                ],
            )
            .await?
            .iter()
            .map(|r| take(r))
            .collect();

        let mut notes = Vec::new();
        for r in load
            .sample(
                "progress_notes",
                &["kind", "template", "sections", "group_note_id", "signed_at"],
            )
            .await?
        {
            if r[3].as_int().is_some() || r[4].as_text().is_none() {
                continue; // group notes and unsigned drafts are not cloned
            }
            let sealed = r[2].as_text().unwrap_or_default();
            notes.push(NoteTemplate {
                kind: r[0].clone(),
                template: r[1].clone(),
                sections: load.open("progress_notes.sections", sealed)?,
            });
        }

        let mut measures = Vec::new();
        for r in load
            .sample(
                "measure_administrations",
                &[
                    "instrument",
                    "responses",
                    "total",
                    "subscales",
                    "band_code",
                    "band_label",
                    "safety_level",
                ],
            )
            .await?
        {
            if r[6].as_text().is_some() {
                continue; // a safety answer raises a flag and a task; not cloned
            }
            let sealed = r[1].as_text().unwrap_or_default();
            measures.push(MeasureTemplate {
                instrument: r[0].clone(),
                responses: load.open("measure_administrations.responses", sealed)?,
                total: r[2].clone(),
                subscales: r[3].clone(),
                band_code: r[4].clone(),
                band_label: r[5].clone(),
            });
        }

        let mut objectives: HashMap<i64, Vec<[Value; 4]>> = HashMap::new();
        for r in load
            .sample(
                "plan_objectives",
                &[
                    "plan_id",
                    "problem_index",
                    "goal_index",
                    "position",
                    "status",
                ],
            )
            .await?
        {
            let plan = r[0].as_int().unwrap_or_default();
            objectives.entry(plan).or_default().push(take(&r[1..]));
        }
        let mut descriptions: HashMap<String, Value> = HashMap::new();
        for r in load
            .sample("patient_diagnoses", &["code", "description"])
            .await?
        {
            let (Some(code), Some(description)) = (r[0].as_text(), r[1].as_text()) else {
                continue;
            };
            descriptions.insert(
                load.open("patient_diagnoses.code", code)?,
                load.open("patient_diagnoses.description", description)?
                    .into(),
            );
        }
        let mut plans = Vec::new();
        for r in load
            .sample(
                "treatment_plans",
                &[
                    "id",
                    "content",
                    "patient_signature",
                    "clinician_signature",
                    "clinician_signed_at",
                ],
            )
            .await?
        {
            if r[4].as_text().is_none() {
                continue; // drafts are not cloned
            }
            let id = r[0].as_int().unwrap_or_default();
            let content = load.open(
                "treatment_plans.content",
                r[1].as_text().unwrap_or_default(),
            )?;
            // Generated patients take no medications, so a plan naming one is not cloned.
            if content.to_lowercase().contains("buprenorphine") {
                continue;
            }
            let Some(diagnoses) = plan_diagnoses(&content, &descriptions)? else {
                continue;
            };
            let patient_signature = match r[2].as_text() {
                Some(s) => Some(load.open("treatment_plans.patient_signature", s)?),
                None => None,
            };
            plans.push(PlanTemplate {
                content,
                patient_signature,
                clinician_signature: r[3].clone(),
                objectives: objectives.remove(&id).unwrap_or_default(),
                diagnoses,
            });
        }

        let mut results: HashMap<i64, Vec<[Value; 5]>> = HashMap::new();
        // A result explained by one patient's medication does not carry over to another.
        let mut patient_specific = std::collections::HashSet::new();
        for r in load
            .sample(
                "drug_screen_results",
                &[
                    "screen_id",
                    "analyte",
                    "result",
                    "expectation",
                    "expectation_reason",
                    "finding",
                    "medication_id",
                ],
            )
            .await?
        {
            let screen = r[0].as_int().unwrap_or_default();
            if r[6].as_int().is_some() {
                patient_specific.insert(screen);
            }
            let mut result: [Value; 5] = take(&r[1..6]);
            // Analyte, result and reason are sealed in the demo database: cloned opened, and
            // sealed again for each generated row.
            for (i, column) in [
                (0, "drug_screen_results.analyte"),
                (1, "drug_screen_results.result"),
                (3, "drug_screen_results.expectation_reason"),
            ] {
                if let Some(sealed) = result[i].as_text() {
                    result[i] = load.open(column, sealed)?.into();
                }
            }
            results.entry(screen).or_default().push(result);
        }
        let mut screens = Vec::new();
        for r in load
            .sample(
                "drug_screens",
                &[
                    "id",
                    "specimen",
                    "observed",
                    "testing",
                    "collected_by",
                    "flag_id",
                ],
            )
            .await?
        {
            if r[5].as_int().is_some() {
                continue; // a flagged screen needs its flag and task; not cloned
            }
            let id = r[0].as_int().unwrap_or_default();
            let rows = results.remove(&id).unwrap_or_default();
            if rows.is_empty() || patient_specific.contains(&id) {
                continue;
            }
            screens.push(ScreenTemplate {
                specimen: r[1].clone(),
                observed: r[2].clone(),
                testing: r[3].clone(),
                collected_by: r[4].clone(),
                results: rows,
            });
        }

        let mut assessments = Vec::new();
        for r in load
            .sample(
                "intake_assessments",
                &[
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
                ],
            )
            .await?
        {
            if r[12].as_text().is_none() || r[12].as_text() != r[10].as_text() {
                continue; // unplaced, or placed elsewhere with reasons of its own: not cloned
            }
            let open = |column: &str, at: usize| -> Result<String> {
                Ok(load.open(column, r[at].as_text().unwrap_or_default())?)
            };
            assessments.push(AssessmentTemplate {
                population: r[0].clone(),
                sections: open("intake_assessments.sections", 1)?,
                substances: open("intake_assessments.substances", 2)?,
                ratings: take(&r[3..9]),
                narratives: open("intake_assessments.dimension_narratives", 9)?,
                level: r[10].clone(),
                recommendation: open("intake_assessments.recommendation", 11)?,
            });
        }

        let consents = load
            .sample("consents", &["body", "collateral_id", "revoked_at"])
            .await?
            .into_iter()
            .filter(|r| r[1].as_int().is_none() && r[2].as_text().is_none())
            .map(|r| r[0].clone())
            .collect();
        let disclosures = load
            .sample(
                "disclosures",
                &[
                    "kind",
                    "purpose",
                    "categories",
                    "recipient",
                    "packet",
                    "consent_id",
                ],
            )
            .await?
            .into_iter()
            .filter(|r| r[5].as_int().is_some())
            .map(|r| DisclosureTemplate {
                kind: r[0].clone(),
                purpose: r[1].clone(),
                categories: r[2].clone(),
                recipient: r[3].clone(),
                packet: r[4].clone(),
            })
            .collect();

        let templates = Templates {
            password_hash,
            programs,
            notes,
            measures,
            plans,
            assessments,
            screens,
            consents,
            disclosures,
        };
        for (what, n) in [
            ("programs", templates.programs.len()),
            ("signed progress notes", templates.notes.len()),
            ("measures", templates.measures.len()),
            ("signed treatment plans", templates.plans.len()),
            ("placed intake assessments", templates.assessments.len()),
            ("drug screens", templates.screens.len()),
            ("consents", templates.consents.len()),
            ("disclosures", templates.disclosures.len()),
        ] {
            if n == 0 {
                bail!("the demo clinic has no {what} to clone");
            }
        }
        Ok(templates)
    }
}
