//! Treatment plans: problems (from diagnoses or assessment findings), goals in the patient's own
//! words, measurable objectives with target dates, and the interventions that serve them.
//!
//! Every plan is a series of versions. A version is a draft until the patient and the clinician
//! sign it; a signed version is locked, and any change is a revision: a new version (the next
//! number) that starts as a copy of the latest signed one. Old versions are kept and readable,
//! never overwritten. A signed version is due for review after the program's review interval.
//! The plan's text is one document encrypted at rest; objectives are also rows (id, target date,
//! status) so progress notes can link them and step-down rules can count those met.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use std::fmt;
use std::str::FromStr;
use trellis_domain::patient::FieldError;
use trellis_domain::placement::DiagnosisCode;

use crate::access::{can, Actor, Grant, PatientGrant};
use crate::assessments::CODE_COLUMN as DIAGNOSIS_CODE;
use crate::audit::{self, AuditEvent};
use crate::{Day, Instant, Result, Store, StoreError};

pub(crate) const CONTENT_COLUMN: &str = "treatment_plans.content";
const PATIENT_SIGNATURE_COLUMN: &str = "treatment_plans.patient_signature";
/// Review interval when a plan has no program (written outside an episode).
pub const DEFAULT_REVIEW_DAYS: i64 = 30;
/// The longest text accepted in any one field of a plan.
pub const MAX_PLAN_TEXT_CHARS: usize = 2_000;
/// The most problems, goals per problem, objectives per goal or interventions per objective.
pub const MAX_PLAN_ITEMS: usize = 20;

/// How an intervention is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Individual cognitive behavioural therapy.
    IndividualCbt,
    /// Dialectical behaviour therapy skills.
    DbtSkills,
    /// Group therapy.
    Group,
    /// Family therapy.
    FamilyTherapy,
    /// Psychoeducation.
    Psychoeducation,
    /// Medication management.
    MedicationManagement,
    /// Peer support.
    PeerSupport,
    /// Case management.
    CaseManagement,
    /// Motivational interviewing.
    MotivationalInterviewing,
    /// Relapse prevention.
    RelapsePrevention,
}

impl Modality {
    /// Every modality, in the order forms list them.
    pub const ALL: [Modality; 10] = [
        Modality::IndividualCbt,
        Modality::DbtSkills,
        Modality::Group,
        Modality::FamilyTherapy,
        Modality::Psychoeducation,
        Modality::MedicationManagement,
        Modality::PeerSupport,
        Modality::CaseManagement,
        Modality::MotivationalInterviewing,
        Modality::RelapsePrevention,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Modality::IndividualCbt => "individual_cbt",
            Modality::DbtSkills => "dbt_skills",
            Modality::Group => "group",
            Modality::FamilyTherapy => "family_therapy",
            Modality::Psychoeducation => "psychoeducation",
            Modality::MedicationManagement => "medication_management",
            Modality::PeerSupport => "peer_support",
            Modality::CaseManagement => "case_management",
            Modality::MotivationalInterviewing => "motivational_interviewing",
            Modality::RelapsePrevention => "relapse_prevention",
        }
    }

    /// The label staff and patients see.
    pub fn label(self) -> &'static str {
        match self {
            Modality::IndividualCbt => "Individual CBT",
            Modality::DbtSkills => "DBT skills",
            Modality::Group => "Group therapy",
            Modality::FamilyTherapy => "Family therapy",
            Modality::Psychoeducation => "Psychoeducation",
            Modality::MedicationManagement => "Medication management",
            Modality::PeerSupport => "Peer support",
            Modality::CaseManagement => "Case management",
            Modality::MotivationalInterviewing => "Motivational interviewing",
            Modality::RelapsePrevention => "Relapse prevention",
        }
    }
}

impl FromStr for Modality {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        Modality::ALL
            .into_iter()
            .find(|m| m.code() == s.trim())
            .ok_or_else(|| StoreError::invalid("modality", "choose a modality from the list"))
    }
}

/// Where an objective stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveStatus {
    /// Being worked on.
    Open,
    /// Achieved.
    Met,
    /// The target date passed without it being achieved.
    NotMet,
    /// Replaced by a changed objective in a later version.
    Revised,
}

impl ObjectiveStatus {
    /// Every status, in the order forms list them.
    pub const ALL: [ObjectiveStatus; 4] = [
        ObjectiveStatus::Open,
        ObjectiveStatus::Met,
        ObjectiveStatus::NotMet,
        ObjectiveStatus::Revised,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ObjectiveStatus::Open => "open",
            ObjectiveStatus::Met => "met",
            ObjectiveStatus::NotMet => "not_met",
            ObjectiveStatus::Revised => "revised",
        }
    }

    /// The label staff and patients see.
    pub fn label(self) -> &'static str {
        match self {
            ObjectiveStatus::Open => "Open",
            ObjectiveStatus::Met => "Met",
            ObjectiveStatus::NotMet => "Not met",
            ObjectiveStatus::Revised => "Revised",
        }
    }
}

impl FromStr for ObjectiveStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        ObjectiveStatus::ALL
            .into_iter()
            .find(|m| m.code() == s.trim())
            .ok_or_else(|| StoreError::invalid("status", "choose open, met, not met or revised"))
    }
}

impl fmt::Display for ObjectiveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One intervention: what is done, how often, by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    /// How it is delivered.
    pub modality: Modality,
    /// How often, in words ("weekly", "3 times a week").
    pub frequency: String,
    /// The staff member responsible.
    pub staff_id: i64,
}

/// A measurable objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// The objective's row id (set when read back; ignored when written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// What the patient will do, measurably.
    pub text: String,
    /// By when.
    pub target_on: NaiveDate,
    /// Where it stands.
    pub status: ObjectiveStatus,
    /// The interventions that serve it.
    pub interventions: Vec<Intervention>,
}

/// A goal, in the patient's own words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// The patient's words.
    pub text: String,
    /// Its objectives.
    pub objectives: Vec<Objective>,
}

/// A problem the plan addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The problem as the clinician states it.
    pub text: String,
    /// The ICD-10-CM code of the diagnosis it comes from, if any (normalised), as it was when
    /// the version was written.
    pub diagnosis_code: Option<String>,
    /// The diagnosis on the patient's list it comes from (set when written and read back; a
    /// code alone is matched to the list, and one not on it is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis_id: Option<i64>,
    /// The assessment finding it comes from, if any.
    pub finding: Option<String>,
    /// Its goals.
    pub goals: Vec<Goal>,
}

/// The body of a plan version.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanContent {
    /// The problems, in order.
    pub problems: Vec<Problem>,
}

impl PlanContent {
    /// Every objective with its place, as (problem index, goal index, position, objective).
    pub fn objectives(&self) -> impl Iterator<Item = (usize, usize, usize, &Objective)> {
        self.problems.iter().enumerate().flat_map(|(p, problem)| {
            problem.goals.iter().enumerate().flat_map(move |(g, goal)| {
                goal.objectives
                    .iter()
                    .enumerate()
                    .map(move |(o, objective)| (p, g, o, objective))
            })
        })
    }
}

/// A plan version (text decrypted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreatmentPlan {
    /// Row id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The episode it was written in, if one was open.
    pub episode_id: Option<i64>,
    /// Version number, from 1.
    pub version: i64,
    /// Problems, goals, objectives (with their ids) and interventions.
    pub content: PlanContent,
    /// Who wrote this version.
    pub created_by_name: String,
    /// When it was started.
    pub created_at: Instant,
    /// When the draft last changed.
    pub updated_at: Instant,
    /// The patient's typed signature.
    pub patient_signature: Option<String>,
    /// When the patient signed.
    pub patient_signed_at: Option<Instant>,
    /// The clinician's typed signature.
    pub clinician_signature: Option<String>,
    /// The signing clinician's account.
    pub clinician_signed_by: Option<i64>,
    /// When the clinician signed (a signed version is locked).
    pub clinician_signed_at: Option<Instant>,
    /// When the next review is due (set at signing).
    pub review_due_on: Option<Day>,
}

impl TreatmentPlan {
    /// Whether the version is signed, hence locked.
    pub fn is_signed(&self) -> bool {
        self.clinician_signed_at.is_some()
    }

    /// Whether its review date has passed.
    pub fn review_overdue(&self, today: NaiveDate) -> bool {
        self.review_due_on.is_some_and(|d| d.0 < today)
    }
}

/// A version as listed in the history (no clinical text).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct PlanVersion {
    /// Row id.
    pub id: i64,
    /// Version number.
    pub version: i64,
    /// Who wrote it.
    pub created_by_name: String,
    /// When it was started.
    pub created_at: Instant,
    /// When the clinician signed, if signed.
    pub clinician_signed_at: Option<Instant>,
    /// When its review was due, if signed.
    pub review_due_on: Option<Day>,
}

/// The new version's row id and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanRef {
    /// Row id.
    pub id: i64,
    /// Version number.
    pub version: i64,
}

/// The typed signatures that lock a version.
#[derive(Debug, Clone)]
pub struct PlanSignatures {
    /// The patient's name as they typed it.
    pub patient: String,
    /// The clinician's name as they typed it (the clinician is the signing user).
    pub clinician: String,
}

/// A signed plan whose review date has passed, for the caseload list (no clinical text).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct OverdueReview {
    /// Patient.
    pub patient_id: i64,
    /// Their display name.
    pub patient_name: String,
    /// The version due for review.
    pub version: i64,
    /// When the review was due.
    pub review_due_on: Day,
}

crate::patients::names_patient!(OverdueReview);

/// A patient in an open episode with no signed treatment plan yet, for the caseload list (no
/// clinical text).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct UnsignedPlan {
    /// Patient.
    pub patient_id: i64,
    /// Their display name.
    pub patient_name: String,
    /// When the open episode began.
    pub admitted_on: Day,
    /// How many draft versions are waiting (0: nothing written yet).
    pub drafts: i64,
}

crate::patients::names_patient!(UnsignedPlan);

/// An objective of a signed version, as notes offer and show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignedObjective {
    /// Objective id (what notes link).
    pub id: i64,
    /// The plan version it is on.
    pub version: i64,
    /// Whether that version is the plan in force.
    pub in_force: bool,
    /// The objective.
    pub text: String,
    /// Its target date.
    pub target_on: NaiveDate,
    /// Where it stood in that version.
    pub status: ObjectiveStatus,
}

/// A staff member who can be responsible for an intervention.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct PlanStaff {
    /// Account id.
    pub id: i64,
    /// Name.
    pub display_name: String,
}

#[derive(FromRow)]
struct PlanRow {
    id: i64,
    patient_id: i64,
    episode_id: Option<i64>,
    version: i64,
    content: String,
    created_by_name: String,
    created_at: Instant,
    updated_at: Instant,
    patient_signature: Option<String>,
    patient_signed_at: Option<Instant>,
    clinician_signature: Option<String>,
    clinician_signed_by: Option<i64>,
    clinician_signed_at: Option<Instant>,
    review_due_on: Option<Day>,
}

const PLAN_SELECT: &str = "SELECT t.id, t.patient_id, t.episode_id, t.version, t.content,
    u.display_name AS created_by_name, t.created_at, t.updated_at, t.patient_signature,
    t.patient_signed_at, t.clinician_signature, t.clinician_signed_by, t.clinician_signed_at,
    t.review_due_on
    FROM treatment_plans t JOIN users u ON u.id = t.created_by";

fn text_error(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    place: &str,
    text: &str,
    what: &str,
) {
    if text.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            format!("{place}: {what} is required"),
        ));
    } else if text.chars().count() > MAX_PLAN_TEXT_CHARS {
        errors.push(FieldError::new(
            field,
            format!("{place}: at most {MAX_PLAN_TEXT_CHARS} characters"),
        ));
    }
}

fn count_error(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    place: &str,
    n: usize,
    what: &str,
) {
    if n == 0 {
        errors.push(FieldError::new(
            field,
            format!("{place}: add at least one {what}"),
        ));
    } else if n > MAX_PLAN_ITEMS {
        errors.push(FieldError::new(
            field,
            format!("{place}: at most {MAX_PLAN_ITEMS} of them"),
        ));
    }
}

/// Checks a plan's content and normalises it (trimmed text, diagnosis codes as "F10.20").
/// Problems, goals, objectives and interventions are numbered from 1 in the messages.
pub fn checked_content(content: &PlanContent) -> Result<PlanContent> {
    let mut errors = Vec::new();
    let mut out = content.clone();
    count_error(
        &mut errors,
        "problems",
        "The plan",
        out.problems.len(),
        "problem",
    );
    for (p, problem) in out.problems.iter_mut().enumerate() {
        let place = format!("Problem {}", p + 1);
        text_error(
            &mut errors,
            "problems",
            &place,
            &problem.text,
            "the problem",
        );
        problem.text = problem.text.trim().to_owned();
        problem.diagnosis_code = match problem.diagnosis_code.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => match DiagnosisCode::parse(code) {
                Ok(code) => Some(code.as_str().to_owned()),
                Err(e) => {
                    errors.push(FieldError::new("diagnosis_code", format!("{place}: {e}")));
                    None
                }
            },
        };
        problem.finding = problem
            .finding
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        if let Some(f) = &problem.finding {
            text_error(&mut errors, "finding", &place, f, "the finding");
        }
        count_error(&mut errors, "goals", &place, problem.goals.len(), "goal");
        for (g, goal) in problem.goals.iter_mut().enumerate() {
            let place = format!("{place}, goal {}", g + 1);
            text_error(
                &mut errors,
                "goals",
                &place,
                &goal.text,
                "the goal in the patient's own words",
            );
            goal.text = goal.text.trim().to_owned();
            count_error(
                &mut errors,
                "objectives",
                &place,
                goal.objectives.len(),
                "objective",
            );
            for (o, objective) in goal.objectives.iter_mut().enumerate() {
                let place = format!("{place}, objective {}", o + 1);
                text_error(
                    &mut errors,
                    "objectives",
                    &place,
                    &objective.text,
                    "a measurable objective",
                );
                objective.text = objective.text.trim().to_owned();
                objective.id = None;
                count_error(
                    &mut errors,
                    "interventions",
                    &place,
                    objective.interventions.len(),
                    "intervention",
                );
                for (i, intervention) in objective.interventions.iter_mut().enumerate() {
                    let place = format!("{place}, intervention {}", i + 1);
                    text_error(
                        &mut errors,
                        "frequency",
                        &place,
                        &intervention.frequency,
                        "how often",
                    );
                    intervention.frequency = intervention.frequency.trim().to_owned();
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

fn check_signature(field: &'static str, text: &str, errors: &mut Vec<FieldError>) {
    let text = text.trim();
    if text.is_empty() {
        errors.push(FieldError::new(field, "type the full name to sign"));
    } else if text.chars().count() > 200 {
        errors.push(FieldError::new(field, "at most 200 characters"));
    }
}

impl Store {
    /// Every responsible staff member must be an active account.
    async fn check_responsible_staff(&self, content: &PlanContent) -> Result<()> {
        for (_, _, _, objective) in content.objectives() {
            for intervention in &objective.interventions {
                let active: Option<crate::Flag> =
                    sqlx::query_scalar("SELECT active FROM users WHERE id = $1")
                        .bind(intervention.staff_id)
                        .fetch_optional(&mut *self.read_conn().await?)
                        .await?;
                if !active.is_some_and(|a| a.0) {
                    return Err(StoreError::invalid(
                        "staff_id",
                        "the responsible staff member must be an active staff account",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Ties each problem that names a diagnosis to a row of the patient's own list: an id must
    /// be one of theirs, a code alone must be on their list (active first). The code is then
    /// the list's, so the plan and the list cannot disagree.
    async fn link_diagnoses(&self, patient_id: i64, content: &mut PlanContent) -> Result<()> {
        if content
            .problems
            .iter()
            .all(|p| p.diagnosis_id.is_none() && p.diagnosis_code.is_none())
        {
            return Ok(());
        }
        let sealed: Vec<(i64, String, Option<Day>)> = sqlx::query_as(
            "SELECT id, code, resolved_on FROM patient_diagnoses WHERE patient_id = $1
             ORDER BY resolved_on IS NOT NULL, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let list = sealed
            .into_iter()
            .map(|(id, code, resolved)| Ok((id, self.open(DIAGNOSIS_CODE, &code)?, resolved)))
            .collect::<Result<Vec<_>>>()?;
        let mut errors = Vec::new();
        for (p, problem) in content.problems.iter_mut().enumerate() {
            let place = format!("Problem {}", p + 1);
            let found = match (problem.diagnosis_id, problem.diagnosis_code.as_deref()) {
                (None, None) => continue,
                (Some(id), _) => {
                    let found = list.iter().find(|(d, _, _)| *d == id);
                    if found.is_none() {
                        errors.push(FieldError::new(
                            "diagnosis_id",
                            format!("{place}: choose a diagnosis from the patient's list"),
                        ));
                    }
                    found
                }
                (None, Some(code)) => {
                    let found = list.iter().find(|(_, c, _)| c == code);
                    if found.is_none() {
                        errors.push(FieldError::new(
                            "diagnosis_code",
                            format!(
                                "{place}: {code} is not on the patient's diagnosis list; add it \
                                 on the Assessment tab first"
                            ),
                        ));
                    }
                    found
                }
            };
            if let Some((id, code, _)) = found {
                problem.diagnosis_id = Some(*id);
                problem.diagnosis_code = Some(code.clone());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(errors))
        }
    }

    async fn insert_problem_diagnoses(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        plan_id: i64,
        content: &PlanContent,
    ) -> Result<()> {
        for (p, problem) in content.problems.iter().enumerate() {
            if let Some(diagnosis_id) = problem.diagnosis_id {
                sqlx::query(
                    "INSERT INTO plan_problem_diagnoses (plan_id, problem_index, diagnosis_id)
                     VALUES ($1, $2, $3)",
                )
                .bind(plan_id)
                .bind(p as i64)
                .bind(diagnosis_id)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    async fn insert_objectives(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        plan_id: i64,
        content: &PlanContent,
    ) -> Result<()> {
        for (p, g, o, objective) in content.objectives() {
            sqlx::query(
                "INSERT INTO plan_objectives (plan_id, problem_index, goal_index, position,
                     target_on, status) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(plan_id)
            .bind(p as i64)
            .bind(g as i64)
            .bind(o as i64)
            .bind(Day(objective.target_on))
            .bind(objective.status.code())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    fn seal_content(&self, content: &PlanContent) -> Result<String> {
        let json = serde_json::to_string(content)
            .map_err(|e| StoreError::Corrupt(format!("plan content: {e}")))?;
        self.seal(CONTENT_COLUMN, &json)
    }

    /// Writes a new plan version with the given content: version 1, or the next version after
    /// the latest signed one (a revision). Refused while an unsigned draft exists.
    pub async fn write_plan(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        content: &PlanContent,
    ) -> Result<PlanRef> {
        let author = grant.actor().staff_id()?;
        let mut content = checked_content(content)?;
        self.check_responsible_staff(&content).await?;
        self.link_diagnoses(grant.patient_id(), &mut content)
            .await?;
        let mut tx = self.begin().await?;
        let latest: Option<(i64, Option<Instant>)> = sqlx::query_as(
            "SELECT version, clinician_signed_at FROM treatment_plans WHERE patient_id = $1
             ORDER BY version DESC LIMIT 1",
        )
        .bind(grant.patient_id())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((version, None)) = latest {
            return Err(StoreError::Conflict(format!(
                "version {version} is an unsigned draft: change it, or sign it first"
            )));
        }
        let version = latest.map_or(1, |(v, _)| v + 1);
        let episode: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM episodes WHERE patient_id = $1 AND status = 'open'
             ORDER BY admitted_on DESC, id DESC LIMIT 1",
        )
        .bind(grant.patient_id())
        .fetch_optional(&mut *tx)
        .await?;
        let now = Instant::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO treatment_plans (patient_id, episode_id, version, content, created_by,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(grant.patient_id())
        .bind(episode)
        .bind(version)
        .bind(self.seal_content(&content)?)
        .bind(author)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        self.insert_objectives(&mut tx, id, &content).await?;
        self.insert_problem_diagnoses(&mut tx, id, &content).await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "treatment_plan",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("version {version}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(PlanRef { id, version })
    }

    /// Starts a revision: a new draft version copying `from_version`, which must be the latest
    /// version and signed (so a stale form cannot fork the history).
    pub async fn revise_plan(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        from_version: i64,
    ) -> Result<PlanRef> {
        let latest: Option<(i64, Option<Instant>)> = sqlx::query_as(
            "SELECT version, clinician_signed_at FROM treatment_plans WHERE patient_id = $1
             ORDER BY version DESC LIMIT 1",
        )
        .bind(grant.patient_id())
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        match latest {
            None => return Err(StoreError::NotFound("treatment plan")),
            Some((v, _)) if v != from_version => {
                return Err(StoreError::Conflict(format!(
                    "version {from_version} is not the latest version (version {v} is)"
                )))
            }
            Some((v, None)) => {
                return Err(StoreError::Conflict(format!(
                    "version {v} is an unsigned draft: change it directly"
                )))
            }
            Some(_) => {}
        }
        // Writing implies reading the version being copied; the read is audited as such.
        let current = self
            .read_plan(grant.actor(), grant.patient_id(), from_version)
            .await?
            .ok_or(StoreError::NotFound("treatment plan version"))?;
        self.write_plan(grant, &current.content).await
    }

    /// Replaces an unsigned draft's content; a signed version answers Conflict.
    pub async fn update_plan_draft(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        version: i64,
        content: &PlanContent,
    ) -> Result<()> {
        self.update_plan_draft_if(grant, version, content, None)
            .await
    }

    /// Replaces an unsigned draft's content only if it was last changed at `last_changed` (the
    /// version the caller read), else `Stale`; `None` writes whatever the current version.
    pub async fn update_plan_draft_if(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        version: i64,
        content: &PlanContent,
        last_changed: Option<Instant>,
    ) -> Result<()> {
        grant.actor().staff_id()?;
        let mut content = checked_content(content)?;
        self.check_responsible_staff(&content).await?;
        self.link_diagnoses(grant.patient_id(), &mut content)
            .await?;
        let (id, signed) = self.plan_state(grant.patient_id(), version).await?;
        if signed {
            return Err(StoreError::Conflict(
                "the version is signed and locked: revise the plan to change it".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE treatment_plans SET content = $2, updated_at = $3
             WHERE id = $1 AND clinician_signed_at IS NULL
               AND updated_at = COALESCE($4, updated_at)",
        )
        .bind(id)
        .bind(self.seal_content(&content)?)
        .bind(Instant::now())
        .bind(last_changed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 && last_changed.is_some() {
            return Err(StoreError::Stale("the treatment plan version"));
        }
        if changed == 0 {
            return Err(StoreError::Conflict(
                "the version was signed meanwhile".into(),
            ));
        }
        // A draft's objectives are never linked from notes (only signed ones are offered), so
        // they can be written afresh.
        sqlx::query("DELETE FROM plan_objectives WHERE plan_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.insert_objectives(&mut tx, id, &content).await?;
        sqlx::query("DELETE FROM plan_problem_diagnoses WHERE plan_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.insert_problem_diagnoses(&mut tx, id, &content).await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "treatment_plan",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("version {version}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn plan_state(&self, patient_id: i64, version: i64) -> Result<(i64, bool)> {
        let row: Option<(i64, Option<Instant>)> = sqlx::query_as(
            "SELECT id, clinician_signed_at FROM treatment_plans
             WHERE patient_id = $1 AND version = $2",
        )
        .bind(patient_id)
        .bind(version)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let (id, signed) = row.ok_or(StoreError::NotFound("treatment plan version"))?;
        Ok((id, signed.is_some()))
    }

    /// Signs a draft version with the patient's and the clinician's typed signatures, locking
    /// it; its review falls due the program's review interval after `today`, the day of
    /// signing. Returns the due date. A signing day more than a day back (a paper plan entered
    /// late, the demo's history) is recorded at noon UTC of that day, so the signature and the
    /// review date are counted from the same day.
    pub async fn sign_plan(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        version: i64,
        signatures: &PlanSignatures,
        today: NaiveDate,
    ) -> Result<NaiveDate> {
        let clinician = grant.actor().staff_id()?;
        let mut errors = Vec::new();
        check_signature("patient_signature", &signatures.patient, &mut errors);
        check_signature("clinician_signature", &signatures.clinician, &mut errors);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let (id, signed) = self.plan_state(grant.patient_id(), version).await?;
        if signed {
            return Err(StoreError::Conflict("the version is already signed".into()));
        }
        let mut tx = self.begin().await?;
        let days: Option<i64> = sqlx::query_scalar(
            "SELECT pr.plan_review_days FROM treatment_plans t
             JOIN episodes e ON e.id = t.episode_id
             JOIN programs pr ON pr.id = e.program_id WHERE t.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let due = today + Duration::days(days.unwrap_or(DEFAULT_REVIEW_DAYS));
        let now = Instant::now();
        // A day's leeway: the caller's local date may be behind the UTC date.
        let now = if today < now.0.date_naive() - Duration::days(1) {
            Instant(
                today
                    .and_time(chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default())
                    .and_utc(),
            )
        } else {
            now
        };
        let changed = sqlx::query(
            "UPDATE treatment_plans SET patient_signature = $2, patient_signed_at = $3,
                 clinician_signature = $4, clinician_signed_by = $5, clinician_signed_at = $3,
                 review_due_on = $6
             WHERE id = $1 AND clinician_signed_at IS NULL",
        )
        .bind(id)
        .bind(self.seal(PATIENT_SIGNATURE_COLUMN, signatures.patient.trim())?)
        .bind(now)
        .bind(signatures.clinician.trim())
        .bind(clinician)
        .bind(Day(due))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict("the version is already signed".into()));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "sign",
                record_type: "treatment_plan",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("version {version}; review due {due}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(due)
    }

    /// The patient's plan versions, newest first (audited; no clinical text).
    pub async fn plan_versions(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<PlanVersion>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let rows: Vec<PlanVersion> = sqlx::query_as(
            "SELECT t.id, t.version, u.display_name AS created_by_name, t.created_at,
                 t.clinician_signed_at, t.review_due_on
             FROM treatment_plans t JOIN users u ON u.id = t.created_by
             WHERE t.patient_id = $1 ORDER BY t.version DESC",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "treatment_plan",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "version list".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// One version of the patient's plan (audited; text decrypted).
    pub async fn plan_version(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        version: i64,
    ) -> Result<TreatmentPlan> {
        self.read_plan(grant.actor(), grant.patient_id(), version)
            .await?
            .ok_or(StoreError::NotFound("treatment plan version"))
    }

    /// The latest signed version, the plan in force (audited; text decrypted).
    pub async fn current_plan(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Option<TreatmentPlan>> {
        let signed: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM treatment_plans
             WHERE patient_id = $1 AND clinician_signed_at IS NOT NULL",
        )
        .bind(grant.patient_id())
        .fetch_one(&mut *self.read_conn().await?)
        .await?;
        match signed {
            Some(version) => {
                self.read_plan(grant.actor(), grant.patient_id(), version)
                    .await
            }
            None => Ok(None),
        }
    }

    async fn read_plan(
        &self,
        actor: &Actor,
        patient_id: i64,
        version: i64,
    ) -> Result<Option<TreatmentPlan>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let row: Option<PlanRow> = sqlx::query_as(&format!(
            "{PLAN_SELECT} WHERE t.patient_id = $1 AND t.version = $2"
        ))
        .bind(patient_id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let objectives: Vec<(i64, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT id, problem_index, goal_index, position, status FROM plan_objectives
             WHERE plan_id = $1",
        )
        .bind(row.id)
        .fetch_all(&mut *tx)
        .await?;
        let linked: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT problem_index, diagnosis_id FROM plan_problem_diagnoses WHERE plan_id = $1",
        )
        .bind(row.id)
        .fetch_all(&mut *tx)
        .await?;
        let listed: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, code FROM patient_diagnoses WHERE patient_id = $1
             ORDER BY resolved_on IS NOT NULL, id",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        let listed = listed
            .into_iter()
            .map(|(id, code)| Ok((id, self.open(DIAGNOSIS_CODE, &code)?)))
            .collect::<Result<Vec<_>>>()?;
        audit::record(
            self,
            actor,
            AuditEvent {
                action: "read",
                record_type: "treatment_plan",
                record_id: Some(row.id),
                patient_id: Some(patient_id),
                detail: format!("version {}", row.version),
            },
        )
        .await?;
        tx.commit().await?;
        let json = self.open(CONTENT_COLUMN, &row.content)?;
        let mut content: PlanContent = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("plan content: {e}")))?;
        for (p, problem) in content.problems.iter_mut().enumerate() {
            // The link table is the truth: a copied document carries no other patient's row.
            problem.diagnosis_id = linked
                .iter()
                .find(|(pi, _)| *pi == p as i64)
                .map(|(_, d)| *d)
                // A version written before problems were linked names its diagnosis by code
                // alone: it refers to the row of the patient's own list with that code, as a
                // code is matched when a plan is written; a code not on the list stays unlinked.
                .or_else(|| {
                    let code = problem.diagnosis_code.as_deref()?;
                    listed.iter().find(|(_, c)| c == code).map(|(id, _)| *id)
                });
            for (g, goal) in problem.goals.iter_mut().enumerate() {
                for (o, objective) in goal.objectives.iter_mut().enumerate() {
                    let found = objectives.iter().find(|(_, pi, gi, oi, _)| {
                        (*pi, *gi, *oi) == (p as i64, g as i64, o as i64)
                    });
                    if let Some((id, _, _, _, status)) = found {
                        objective.id = Some(*id);
                        objective.status = crate::parse_code(status, "objective status")?;
                    }
                }
            }
        }
        Ok(Some(TreatmentPlan {
            id: row.id,
            patient_id: row.patient_id,
            episode_id: row.episode_id,
            version: row.version,
            content,
            created_by_name: row.created_by_name,
            created_at: row.created_at,
            updated_at: row.updated_at,
            patient_signature: row
                .patient_signature
                .as_deref()
                .map(|s| self.open(PATIENT_SIGNATURE_COLUMN, s))
                .transpose()?,
            patient_signed_at: row.patient_signed_at,
            clinician_signature: row.clinician_signature,
            clinician_signed_by: row.clinician_signed_by,
            clinician_signed_at: row.clinician_signed_at,
            review_due_on: row.review_due_on,
        }))
    }

    /// Every objective of every signed version, newest version first (audited; text
    /// decrypted): notes offer those of the plan in force and show any they link.
    pub async fn signed_objectives(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<SignedObjective>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let plans: Vec<(i64, String)> = sqlx::query_as(
            "SELECT version, content FROM treatment_plans
             WHERE patient_id = $1 AND clinician_signed_at IS NOT NULL ORDER BY version DESC",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        let rows: Vec<(i64, i64, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT t.version, o.id, o.problem_index, o.goal_index, o.position, o.status
             FROM plan_objectives o JOIN treatment_plans t ON t.id = o.plan_id
             WHERE t.patient_id = $1 AND t.clinician_signed_at IS NOT NULL",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "treatment_plan",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "objectives".into(),
            },
        )
        .await?;
        tx.commit().await?;
        let current = plans.first().map(|(v, _)| *v);
        let mut out = Vec::new();
        for (version, sealed) in plans {
            let json = self.open(CONTENT_COLUMN, &sealed)?;
            let content: PlanContent = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("plan content: {e}")))?;
            for (p, g, o, objective) in content.objectives() {
                let place = (version, p as i64, g as i64, o as i64);
                if let Some((_, id, _, _, _, status)) = rows
                    .iter()
                    .find(|(v, _, pi, gi, oi, _)| (*v, *pi, *gi, *oi) == place)
                {
                    out.push(SignedObjective {
                        id: *id,
                        version,
                        in_force: Some(version) == current,
                        text: objective.text.clone(),
                        target_on: objective.target_on,
                        status: crate::parse_code(status, "objective status")?,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Objectives met and in total on the plan in force, for step-down criteria (audited).
    /// A patient without a signed plan has (0, 0).
    pub async fn objectives_met(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<(u32, u32)> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let statuses: Vec<String> = sqlx::query_scalar(
            "SELECT o.status FROM plan_objectives o
             JOIN treatment_plans t ON t.id = o.plan_id
             WHERE t.patient_id = $1 AND t.version = (SELECT MAX(version) FROM treatment_plans
                 WHERE patient_id = $1 AND clinician_signed_at IS NOT NULL)",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        let met = statuses
            .iter()
            .filter(|s| *s == ObjectiveStatus::Met.code())
            .count() as u32;
        let total = statuses.len() as u32;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "treatment_plan",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: format!("objectives met {met}/{total}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((met, total))
    }

    /// Signed plans in force whose review date has passed, for patients with an open episode
    /// whose primary counselor is the actor (audited search; no clinical text).
    pub async fn overdue_plan_reviews(
        &self,
        grant: &Grant<can::ReadClinical>,
        today: NaiveDate,
    ) -> Result<Vec<OverdueReview>> {
        let actor = grant.actor();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut rows: Vec<OverdueReview> = sqlx::query_as(
            "SELECT p.id AS patient_id,
                 CAST('' AS TEXT) AS patient_name,
                 t.version, t.review_due_on
             FROM treatment_plans t
             JOIN patients p ON p.id = t.patient_id
             JOIN episodes e ON e.patient_id = p.id AND e.status = 'open'
             WHERE e.primary_counselor_id = $1 AND t.review_due_on < $2
               AND t.version = (SELECT MAX(version) FROM treatment_plans s
                   WHERE s.patient_id = t.patient_id AND s.clinician_signed_at IS NOT NULL)
             ORDER BY t.review_due_on, p.id",
        )
        .bind(actor.user_id.unwrap_or(0))
        .bind(Day(today))
        .fetch_all(&mut *tx)
        .await?;
        self.fill_patient_names(&mut tx, &mut rows).await?;
        let shown: Vec<i64> = rows.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "treatment_plan",
                record_id: None,
                patient_id: None,
                detail: format!("overdue reviews: {} results", rows.len()),
            },
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// The actor's caseload (open episodes naming them primary counselor) with no signed plan
    /// since admission, longest-admitted first. A plan signed in an earlier episode does not
    /// count: a readmission needs its own plan.
    pub async fn unsigned_plans(
        &self,
        grant: &Grant<can::ReadClinical>,
    ) -> Result<Vec<UnsignedPlan>> {
        let actor = grant.actor();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut rows: Vec<UnsignedPlan> = sqlx::query_as(
            "SELECT p.id AS patient_id,
                 CAST('' AS TEXT) AS patient_name,
                 e.admitted_on,
                 (SELECT COUNT(*) FROM treatment_plans d
                     WHERE d.patient_id = p.id AND d.clinician_signed_at IS NULL) AS drafts
             FROM episodes e
             JOIN patients p ON p.id = e.patient_id
             WHERE e.primary_counselor_id = $1 AND e.status = 'open'
               AND NOT EXISTS (SELECT 1 FROM treatment_plans t
                   WHERE t.patient_id = p.id AND t.clinician_signed_at IS NOT NULL
                     AND t.clinician_signed_at >= e.admitted_on)
             ORDER BY e.admitted_on, p.id",
        )
        .bind(actor.user_id.unwrap_or(0))
        .fetch_all(&mut *tx)
        .await?;
        self.fill_patient_names(&mut tx, &mut rows).await?;
        let shown: Vec<i64> = rows.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "treatment_plan",
                record_id: None,
                patient_id: None,
                detail: format!("unsigned plans: {} results", rows.len()),
            },
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Active clinical staff, who may be responsible for interventions.
    pub async fn plan_staff(&self) -> Result<Vec<PlanStaff>> {
        Ok(sqlx::query_as(
            "SELECT id, display_name FROM users WHERE active = $1
               AND role IN ('counselor', 'clinical_director', 'prescriber', 'nurse',
                            'peer_specialist')
             ORDER BY display_name, id",
        )
        .bind(true)
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// The plan review interval of each program, as (program id, "site — program", days).
    pub async fn plan_review_intervals(&self) -> Result<Vec<(i64, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT pr.id, s.name || ' — ' || pr.name, pr.plan_review_days
             FROM programs pr JOIN sites s ON s.id = pr.site_id ORDER BY s.name, pr.name, pr.id",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// Sets how many days after signing a program's plans fall due for review (7–180).
    pub async fn set_plan_review_days(
        &self,
        grant: &Grant<can::ManagePrograms>,
        program_id: i64,
        days: i64,
    ) -> Result<()> {
        if !(7..=180).contains(&days) {
            return Err(StoreError::invalid(
                "plan_review_days",
                "must be between 7 and 180 days",
            ));
        }
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE programs SET plan_review_days = $2 WHERE id = $1")
            .bind(program_id)
            .bind(days)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("program"));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "program",
                record_id: Some(program_id),
                patient_id: None,
                detail: format!("plan_review_days={days}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
