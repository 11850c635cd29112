//! Discharge: the discharge summary (a draft generated from the record, edited by the counselor,
//! then signed and locked), the aftercare plan, and the 30/60/90-day follow-ups after discharge
//! whose outcomes (reached or not; in recovery, returned to use, readmitted) feed outcome reports.
//!
//! The summary is gathered section by section, each from its own small function, so that a new
//! part of the record (treatment plans, medications) is one function to fill in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};
use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::measures::{change_since_baseline, Instrument};

use crate::access::{can, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::episodes::Episode;
use crate::tasks::{open_task, NewTask};
use crate::treatment_plans::{ObjectiveStatus, PlanContent};
use crate::{Day, Instant, Result, Store, StoreError};

/// Summary text is clinical narrative: encrypted at rest.
const SECTIONS_COLUMN: &str = "discharge_summaries.sections";
/// Aftercare details name providers and the patient's plans: encrypted at rest.
const DETAIL_COLUMN: &str = "aftercare_items.detail";
/// Referral contacts: encrypted at rest.
const CONTACT_COLUMN: &str = "aftercare_items.contact";
/// What the follow-up call learned: encrypted at rest.
const FOLLOW_UP_NOTE_COLUMN: &str = "discharge_follow_ups.note";
/// The follow-up's outcome as written into its task (tasks.rs keeps outcomes sealed).
const TASK_OUTCOME_COLUMN: &str = "tasks.outcome";

/// The task kind of a follow-up call; such a task is completed by recording its outcome.
pub const FOLLOW_UP_TASK_KIND: &str = "discharge_follow_up";
/// Days after discharge at which the program reaches out.
pub const FOLLOW_UP_DAYS: [i64; 3] = [30, 60, 90];
/// A follow-up call may be made this many days before it is due, not earlier.
const FOLLOW_UP_EARLY_DAYS: i64 = 7;
/// A measure given this long before discharge or less counts as given at discharge.
const AT_DISCHARGE_DAYS: i64 = 14;
/// Measures compared between admission and discharge.
const COMPARED: [Instrument; 3] = [Instrument::Phq9, Instrument::Gad7, Instrument::Bam];

/// The summary's sections as (key, label), in print order. The last two are the counselor's own.
pub const SUMMARY_SECTIONS: [(&str, &str); 10] = [
    ("stay", "Admission and discharge"),
    ("levels", "Level-of-care history"),
    ("attendance", "Attendance and hours"),
    ("curriculum", "Curriculum"),
    ("measures", "Measures at admission and discharge"),
    ("plan_progress", "Treatment-plan progress"),
    ("medications", "Medications"),
    ("referrals", "Aftercare and referrals"),
    ("course", "Course of treatment"),
    ("recommendations", "Recommendations"),
];
/// The section the counselor must write before signing.
const REQUIRED_SECTION: &str = "course";
/// Longest section text.
const SECTION_MAX: usize = 20_000;
/// What a section with nothing in the record says.
const NONE_RECORDED: &str = "None recorded.";

/// One section of a discharge summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SummarySection {
    /// Key.
    pub key: String,
    /// Label.
    pub label: String,
    /// Text.
    pub text: String,
}

/// A discharge summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DischargeSummary {
    /// Id.
    pub id: i64,
    /// Episode.
    pub episode_id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Sections in print order.
    pub sections: Vec<SummarySection>,
    /// When the draft was generated.
    pub generated_at: Instant,
    /// Last edit.
    pub updated_at: Instant,
    /// When signed (then locked).
    pub signed_at: Option<Instant>,
    /// Who signed.
    pub signed_by_name: Option<String>,
}

impl DischargeSummary {
    /// Whether it can still be edited.
    pub fn is_draft(&self) -> bool {
        self.signed_at.is_none()
    }
}

#[derive(FromRow)]
struct SummaryRow {
    id: i64,
    episode_id: i64,
    patient_id: i64,
    sections: String,
    generated_at: Instant,
    updated_at: Instant,
    signed_at: Option<Instant>,
    signed_by_name: Option<String>,
}

macro_rules! coded {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal, $label:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stored code.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The label staff see.
            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> std::result::Result<Self, ()> {
                $name::ALL.iter().copied().find(|v| v.code() == s).ok_or(())
            }
        }
    };
}

coded!(
    /// What an aftercare plan can hold.
    AftercareKind {
        /// Step-down to outpatient care (with the provider).
        StepDown = "step_down", "Step-down to outpatient";
        /// Mutual-help meetings (AA, NA, SMART Recovery…).
        MutualHelp = "mutual_help", "Mutual-help meetings";
        /// The program's alumni group.
        AlumniGroup = "alumni_group", "Alumni group";
        /// Sober living (the house's name).
        SoberLiving = "sober_living", "Sober living";
        /// Psychiatry follow-up (provider and date).
        Psychiatry = "psychiatry", "Psychiatry follow-up";
        /// Primary care.
        PrimaryCare = "primary_care", "Primary care";
        /// A referral to a named service, with its contact.
        Referral = "referral", "Referral";
        /// Anything else, described.
        Other = "other", "Other";
        /// The 988 Suicide & Crisis Lifeline: part of every plan, never added or removed.
        CrisisLine = "crisis_line_988", "Crisis line";
    }
);

impl AftercareKind {
    /// What the detail field holds for this kind, and whether it is required.
    pub fn detail_prompt(self) -> (&'static str, bool) {
        match self {
            AftercareKind::StepDown => ("Provider", true),
            AftercareKind::MutualHelp => ("Which meetings (AA, NA, SMART…)", true),
            AftercareKind::AlumniGroup => ("Day and time", false),
            AftercareKind::SoberLiving => ("Residence name", true),
            AftercareKind::Psychiatry => ("Provider", true),
            AftercareKind::PrimaryCare => ("Provider", false),
            AftercareKind::Referral => ("Service referred to", true),
            AftercareKind::Other => ("What", true),
            AftercareKind::CrisisLine => ("", false),
        }
    }
}

/// The line every aftercare plan carries.
pub const CRISIS_LINE_DETAIL: &str = "988 Suicide & Crisis Lifeline: call or text 988, any time";

coded!(
    /// Whether the follow-up call reached the person.
    ContactResult {
        /// Spoke with the person (or, with consent, their contact).
        Reached = "reached", "Reached";
        /// No contact after trying.
        NotReached = "not_reached", "Not reached";
    }
);

coded!(
    /// What the follow-up learned about recovery.
    RecoveryStatus {
        /// In recovery (no return to use reported).
        InRecovery = "in_recovery", "In recovery";
        /// Returned to use.
        ReturnedToUse = "returned_to_use", "Returned to use";
        /// Readmitted to treatment.
        Readmitted = "readmitted", "Readmitted";
        /// Not known.
        Unknown = "unknown", "Unknown";
    }
);

/// One line of an aftercare plan.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AftercareItem {
    /// Id (`None` for the crisis line every plan carries).
    pub id: Option<i64>,
    /// Kind.
    pub kind: AftercareKind,
    /// Provider, meeting, residence or description.
    pub detail: Option<String>,
    /// Phone or address to reach them.
    pub contact: Option<String>,
    /// First appointment, if booked.
    pub scheduled_on: Option<Day>,
}

impl AftercareItem {
    /// One line for the summary and the print.
    pub fn describe(&self) -> String {
        let mut line = self.kind.label().to_owned();
        if let Some(d) = &self.detail {
            let _ = write!(line, ": {d}");
        }
        if let Some(c) = &self.contact {
            let _ = write!(line, " (contact: {c})");
        }
        if let Some(on) = &self.scheduled_on {
            let _ = write!(line, ", first appointment {}", crate::readable_day(on.0));
        }
        line
    }
}

/// An aftercare line to add.
#[derive(Debug, Clone)]
pub struct NewAftercareItem {
    /// Kind (not the crisis line, which is always there).
    pub kind: AftercareKind,
    /// Provider, meeting, residence or description.
    pub detail: String,
    /// Contact.
    pub contact: String,
    /// First appointment.
    pub scheduled_on: Option<NaiveDate>,
}

#[derive(FromRow)]
struct AftercareRow {
    id: i64,
    kind: String,
    detail: Option<String>,
    contact: Option<String>,
    scheduled_on: Option<Day>,
}

/// A follow-up after discharge.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FollowUp {
    /// Id.
    pub id: i64,
    /// Episode.
    pub episode_id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The outreach task.
    pub task_id: i64,
    /// 30, 60 or 90.
    pub days_after: i64,
    /// Due date.
    pub due_on: Day,
    /// Who the task is assigned to.
    pub assigned_to_name: Option<String>,
    /// Contact result, once recorded.
    pub contact_result: Option<ContactResult>,
    /// Recovery status, once recorded.
    pub recovery_status: Option<RecoveryStatus>,
    /// What was learned.
    pub note: Option<String>,
    /// When recorded.
    pub recorded_at: Option<Instant>,
    /// Who recorded it.
    pub recorded_by_name: Option<String>,
}

#[derive(FromRow)]
struct FollowUpRow {
    id: i64,
    episode_id: i64,
    patient_id: i64,
    task_id: i64,
    days_after: i64,
    due_on: Day,
    assigned_to_name: Option<String>,
    contact_result: Option<String>,
    recovery_status: Option<String>,
    note: Option<String>,
    recorded_at: Option<Instant>,
    recorded_by_name: Option<String>,
}

/// What a follow-up call found.
#[derive(Debug, Clone)]
pub struct FollowUpOutcome {
    /// Reached or not (required).
    pub contact: Option<ContactResult>,
    /// Recovery status (required; "unknown" when not reached).
    pub status: Option<RecoveryStatus>,
    /// Note.
    pub note: String,
}

/// One row of the follow-up outcome report: counts for the 30-, 60- or 90-day follow-up.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OutcomeCounts {
    /// 30, 60 or 90.
    pub days_after: i64,
    /// Follow-ups scheduled.
    pub scheduled: i64,
    /// Still open.
    pub open: i64,
    /// Open and past due.
    pub overdue: i64,
    /// Reached.
    pub reached: i64,
    /// Not reached.
    pub not_reached: i64,
    /// In recovery.
    pub in_recovery: i64,
    /// Returned to use.
    pub returned_to_use: i64,
    /// Readmitted.
    pub readmitted: i64,
    /// Unknown.
    pub unknown: i64,
}

const SUMMARY_SELECT: &str = "SELECT d.id, d.episode_id, d.patient_id, d.sections,
    d.generated_at, d.updated_at, d.signed_at, u.display_name AS signed_by_name
    FROM discharge_summaries d LEFT JOIN users u ON u.id = d.signed_by";

const FOLLOW_UP_SELECT: &str = "SELECT f.id, f.episode_id, f.patient_id, f.task_id, f.days_after,
    f.due_on, a.display_name AS assigned_to_name, f.contact_result, f.recovery_status, f.note,
    f.recorded_at, r.display_name AS recorded_by_name
    FROM discharge_follow_ups f JOIN tasks t ON t.id = f.task_id
    LEFT JOIN users a ON a.id = t.assigned_to
    LEFT JOIN users r ON r.id = f.recorded_by";

const EPISODE_SELECT: &str = "SELECT e.id, e.patient_id, e.program_id, pr.name AS program_name,
    e.site_id, s.name AS site_name, e.status, e.admitted_on, e.referral_source,
    e.primary_counselor_id, u.display_name AS primary_counselor_name, e.current_level,
    e.discharged_on, e.discharge_reason, CAST(NULL AS TEXT) AS discharge_note
    FROM episodes e
    JOIN programs pr ON pr.id = e.program_id
    JOIN sites s ON s.id = e.site_id
    LEFT JOIN users u ON u.id = e.primary_counselor_id";

fn optional_text(field: &'static str, value: &str, max: usize) -> Result<Option<String>> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

async fn audit_event(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    action: &'static str,
    record_type: &'static str,
    record_id: Option<i64>,
    patient_id: i64,
) -> Result<()> {
    audit::append(
        tx,
        actor,
        AuditEvent {
            action,
            record_type,
            record_id,
            patient_id: Some(patient_id),
            detail: String::new(),
        },
    )
    .await
}

/// Opens the 30/60/90-day follow-up tasks for a discharge, inside the discharge's transaction.
/// They go to the primary counselor (the clinical directors if there is none). No outreach is
/// scheduled after a death.
pub(crate) async fn schedule_follow_ups(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    episode: &Episode,
    discharged_on: NaiveDate,
) -> Result<()> {
    for days in FOLLOW_UP_DAYS {
        let due_on = discharged_on + Duration::days(days);
        let title = format!("{days}-day follow-up call after discharge");
        let task_id = open_task(
            store,
            tx,
            actor,
            &NewTask {
                patient_id: Some(episode.patient_id),
                flag_id: None,
                kind: FOLLOW_UP_TASK_KIND,
                title: &title,
                priority: "routine",
                assigned_to: episode.primary_counselor_id,
                assigned_role: episode
                    .primary_counselor_id
                    .is_none()
                    .then_some(Role::ClinicalDirector),
                due_on: Some(Day(due_on)),
            },
        )
        .await?;
        sqlx::query(
            "INSERT INTO discharge_follow_ups (episode_id, patient_id, task_id, days_after, due_on)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(episode.id)
        .bind(episode.patient_id)
        .bind(task_id)
        .bind(days)
        .bind(Day(due_on))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Admission, discharge, length of stay, reason and counselor.
fn stay_section(episode: &Episode) -> String {
    let mut text = format!(
        "Program: {} ({}). Admitted {}",
        episode.program_name,
        episode.site_name,
        crate::readable_day(episode.admitted_on.0)
    );
    if let Some(out) = episode.discharged_on {
        let days = (out.0 - episode.admitted_on.0).num_days() + 1;
        let unit = if days == 1 { "day" } else { "days" };
        let _ = write!(
            text,
            ", discharged {} ({days} {unit} in care)",
            crate::readable_day(out.0)
        );
    }
    text.push('.');
    if let Some(reason) = episode.reason() {
        let _ = write!(
            text,
            " Discharge reason: {} (TEDS {}).",
            reason.label(),
            reason.teds_code()
        );
    }
    if let Some(c) = &episode.primary_counselor_name {
        let _ = write!(text, " Primary counselor: {c}.");
    }
    text
}

/// The levels of care in order, with their start dates.
async fn levels_section(tx: &mut Transaction<'static, Any>, episode: &Episode) -> Result<String> {
    let levels: Vec<(String, Day)> = sqlx::query_as(
        "SELECT level, effective_on FROM level_of_care_changes WHERE episode_id = $1
         ORDER BY effective_on, id",
    )
    .bind(episode.id)
    .fetch_all(&mut **tx)
    .await?;
    if levels.is_empty() {
        return Ok(NONE_RECORDED.into());
    }
    Ok(levels
        .iter()
        .map(|(code, from)| {
            let name = code
                .parse::<LevelOfCare>()
                .map(|l| format!("{} {}", l.code(), l.name()))
                .unwrap_or_else(|_| code.clone());
            format!("From {}: ASAM {name}", crate::readable_day(from.0))
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The episode's window as text dates, for filtering sessions by their local day.
fn window(episode: &Episode) -> (Day, Day) {
    (
        episode.admitted_on,
        episode.discharged_on.unwrap_or(Day(NaiveDate::MAX)),
    )
}

/// Sessions marked, attended and missed, and the hours of service, within the episode.
async fn attendance_section(
    tx: &mut Transaction<'static, Any>,
    episode: &Episode,
) -> Result<String> {
    let (from, to) = window(episode);
    let marks: Vec<(String, i64)> = sqlx::query_as(
        "SELECT a.status, a.minutes_attended FROM attendance a
         JOIN group_sessions gs ON gs.id = a.session_id
         WHERE a.patient_id = $1 AND gs.local_date >= $2 AND gs.local_date <= $3",
    )
    .bind(episode.patient_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    if marks.is_empty() {
        return Ok(NONE_RECORDED.into());
    }
    let attended = marks.iter().filter(|(_, m)| *m > 0).count();
    let minutes: i64 = marks.iter().map(|(_, m)| m).sum();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for (status, _) in &marks {
        *by_status.entry(status.as_str()).or_default() += 1;
    }
    let statuses = by_status
        .iter()
        .map(|(s, n)| format!("{} {n}", s.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "Group sessions attended: {attended} of {} marked ({statuses}). Hours of service: {:.1}.",
        marks.len(),
        minutes as f64 / 60.0
    ))
}

/// Curriculum topics attended and still missing, per track the patient was enrolled in.
async fn curriculum_section(
    tx: &mut Transaction<'static, Any>,
    episode: &Episode,
) -> Result<String> {
    let (from, to) = window(episode);
    let tracks: Vec<(i64, String)> = sqlx::query_as(
        "SELECT DISTINCT t.id, t.name FROM track_enrolments te JOIN tracks t ON t.id = te.track_id
         WHERE te.patient_id = $1 AND te.enrolled_on <= $3
           AND (te.ended_on IS NULL OR te.ended_on >= $2)
         ORDER BY t.name, t.id",
    )
    .bind(episode.patient_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    let mut lines = Vec::new();
    for (track_id, track_name) in tracks {
        let topics: Vec<(i64, String)> = sqlx::query_as(
            "SELECT position, title FROM track_topics WHERE track_id = $1 ORDER BY position",
        )
        .bind(track_id)
        .fetch_all(&mut **tx)
        .await?;
        if topics.is_empty() {
            continue;
        }
        let done: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT gs.topic_position FROM attendance a
             JOIN group_sessions gs ON gs.id = a.session_id
             WHERE a.patient_id = $1 AND gs.track_id = $2 AND a.minutes_attended > 0
               AND gs.topic_position IS NOT NULL AND gs.local_date >= $3 AND gs.local_date <= $4",
        )
        .bind(episode.patient_id)
        .bind(track_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?;
        let (completed, missing): (Vec<_>, Vec<_>) =
            topics.iter().partition(|(p, _)| done.contains(p));
        let titles = |list: &[&(i64, String)]| {
            list.iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut line = format!(
            "{track_name}: {} of {} topics completed",
            completed.len(),
            topics.len()
        );
        if !completed.is_empty() {
            let _ = write!(line, " ({})", titles(&completed));
        }
        if missing.is_empty() {
            line.push('.');
        } else {
            let _ = write!(line, ". Missing: {}.", titles(&missing));
        }
        lines.push(line);
    }
    Ok(if lines.is_empty() {
        NONE_RECORDED.into()
    } else {
        lines.join("\n")
    })
}

/// First and last PHQ-9, GAD-7 and BAM in the episode, with the change; notes a measure not
/// repeated at discharge.
async fn measures_section(tx: &mut Transaction<'static, Any>, episode: &Episode) -> Result<String> {
    let rows: Vec<(String, Day, Option<i64>, String, String)> = sqlx::query_as(
        "SELECT instrument, administered_on, total, subscales, band_label
         FROM measure_administrations WHERE episode_id = $1 ORDER BY administered_on, id",
    )
    .bind(episode.id)
    .fetch_all(&mut **tx)
    .await?;
    let mut lines = Vec::new();
    for instrument in COMPARED {
        let given: Vec<_> = rows.iter().filter(|r| r.0 == instrument.code()).collect();
        let (Some(first), Some(last)) = (given.first(), given.last()) else {
            continue;
        };
        // The BAM has no total: its use subscale (items 4–6) is the comparable number.
        let score = |row: &(String, Day, Option<i64>, String, String)| -> Option<u16> {
            match row.2 {
                Some(total) => u16::try_from(total).ok(),
                None => serde_json::from_str::<BTreeMap<String, u16>>(&row.3)
                    .ok()
                    .and_then(|s| s.get("use").copied()),
            }
        };
        let what = if instrument == Instrument::Bam {
            "BAM use score"
        } else {
            instrument.name()
        };
        let mut line = match (score(first), score(last)) {
            (Some(a), Some(b)) if given.len() > 1 => {
                let mut l = format!(
                    "{what}: {a} on {} ({}) → {b} on {} ({}), change {:+}",
                    crate::readable_day(first.1 .0),
                    first.4,
                    crate::readable_day(last.1 .0),
                    last.4,
                    i32::from(b) - i32::from(a)
                );
                // The same judgements, sources and wording as the chart's Measures tab.
                if let Ok(change) = change_since_baseline(instrument, a, b) {
                    for finding in change.findings() {
                        l.push_str("; ");
                        l.push_str(&finding);
                    }
                }
                l
            }
            (Some(a), _) => format!(
                "{what}: {a} on {} ({}); given once",
                crate::readable_day(first.1 .0),
                first.4
            ),
            _ => format!("{what}: given {} times", given.len()),
        };
        if let Some(out) = episode.discharged_on {
            if last.1 .0 < out.0 - Duration::days(AT_DISCHARGE_DAYS) {
                line.push_str("; not repeated at discharge");
            }
        }
        lines.push(line);
    }
    Ok(if lines.is_empty() {
        NONE_RECORDED.into()
    } else {
        lines.join("\n")
    })
}

impl Store {
    /// Progress on the episode's latest signed treatment plan: each objective with its status
    /// and target date, grouped under its problem; `None` when no plan was signed.
    async fn treatment_plan_progress_section(
        &self,
        tx: &mut Transaction<'static, Any>,
        episode: &Episode,
    ) -> Result<Option<String>> {
        let latest: Option<(i64, String)> = sqlx::query_as(
            "SELECT version, content FROM treatment_plans
             WHERE episode_id = $1 AND clinician_signed_at IS NOT NULL
             ORDER BY version DESC LIMIT 1",
        )
        .bind(episode.id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((version, sealed)) = latest else {
            return Ok(None);
        };
        let json = self.open("treatment_plans.content", &sealed)?;
        let plan: PlanContent = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("plan content: {e}")))?;
        let objectives: Vec<_> = plan.objectives().collect();
        let met = objectives
            .iter()
            .filter(|(_, _, _, o)| o.status == ObjectiveStatus::Met)
            .count();
        let mut out = format!(
            "Treatment plan version {version}: {met} of {} objectives met.",
            objectives.len()
        );
        for problem in &plan.problems {
            let _ = write!(out, "\n{}", problem.text);
            for objective in problem.goals.iter().flat_map(|g| &g.objectives) {
                let _ = write!(
                    out,
                    "\n  - {} ({}; target {})",
                    objective.text,
                    objective.status.label(),
                    crate::readable_day(objective.target_on)
                );
            }
        }
        Ok(Some(out))
    }

    /// Medications active on the discharge day (name, dose, route, frequency; MOUD marked), and
    /// those stopped during the episode; `None` when none were recorded.
    async fn medications_section(
        &self,
        tx: &mut Transaction<'static, Any>,
        episode: &Episode,
    ) -> Result<Option<String>> {
        let discharged = episode
            .discharged_on
            .map_or_else(String::new, |d| d.0.to_string());
        let sealed: Vec<(String, String, String, String, Option<Day>, crate::Flag)> =
            sqlx::query_as(
                "SELECT name, dose, route, frequency, stopped_on, moud FROM medications
                 WHERE patient_id = $1 AND (stopped_on IS NULL OR stopped_on >= $2)
                   AND started_on <= $3
                 ORDER BY id",
            )
            .bind(episode.patient_id)
            .bind(Day(episode.admitted_on.0))
            .bind(discharged)
            .fetch_all(&mut **tx)
            .await?;
        if sealed.is_empty() {
            return Ok(None);
        }
        // Names are sealed, so the alphabetical order is made here (stable: by id within a name).
        let mut rows = sealed
            .into_iter()
            .map(|(name, dose, route, frequency, stopped, moud)| {
                let (name, dose, frequency) = self.open_medication(&name, &dose, &frequency)?;
                Ok((name, dose, route, frequency, stopped, moud))
            })
            .collect::<Result<Vec<_>>>()?;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let lines: Vec<String> = rows
            .into_iter()
            .map(|(name, dose, route, frequency, stopped, moud)| {
                let moud = if moud.0 {
                    " (medication for addiction treatment)"
                } else {
                    ""
                };
                match stopped.filter(|s| Some(s.0) <= episode.discharged_on.map(|d| d.0)) {
                    Some(on) => {
                        format!(
                            "{name} {dose} {route} {frequency}{moud}: stopped {}",
                            crate::readable_day(on.0)
                        )
                    }
                    None => format!("{name} {dose} {route} {frequency}{moud}: continuing"),
                }
            })
            .collect();
        Ok(Some(lines.join("\n")))
    }
}

/// The aftercare plan and referrals, one line each.
fn referrals_section(plan: &[AftercareItem]) -> String {
    plan.iter()
        .map(AftercareItem::describe)
        .collect::<Vec<_>>()
        .join("\n")
}

fn crisis_line() -> AftercareItem {
    AftercareItem {
        id: None,
        kind: AftercareKind::CrisisLine,
        detail: Some(CRISIS_LINE_DETAIL.into()),
        contact: None,
        scheduled_on: None,
    }
}

impl Store {
    async fn episode_of(
        &self,
        tx: &mut Transaction<'static, Any>,
        patient_id: i64,
        episode_id: i64,
    ) -> Result<Episode> {
        sqlx::query_as(&format!(
            "{EPISODE_SELECT} WHERE e.id = $1 AND e.patient_id = $2"
        ))
        .bind(episode_id)
        .bind(patient_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("episode"))
    }

    /// The patient's signed discharge summaries as packet lines (drafts never leave the
    /// program). No audit row: the disclosure that carries them is the record.
    pub(crate) async fn signed_summary_lines(&self, patient_id: i64) -> Result<Vec<String>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
            "{SUMMARY_SELECT} WHERE d.patient_id = $1 AND d.signed_at IS NOT NULL ORDER BY d.id"
        ))
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut lines = Vec::new();
        for row in rows {
            let summary = self.summary_from_row(row)?;
            lines.push(format!(
                "Discharge summary signed {} by {}",
                summary
                    .signed_at
                    .map(|at| crate::readable_day(at.0.date_naive()))
                    .unwrap_or_default(),
                summary.signed_by_name.as_deref().unwrap_or("unknown")
            ));
            lines.extend(
                summary
                    .sections
                    .into_iter()
                    .filter(|s| !s.text.trim().is_empty())
                    .map(|s| format!("{}: {}", s.label, s.text.trim())),
            );
        }
        if lines.is_empty() {
            lines.push("No signed discharge summary.".into());
        }
        Ok(lines)
    }

    fn summary_from_row(&self, row: SummaryRow) -> Result<DischargeSummary> {
        let stored: BTreeMap<String, String> =
            serde_json::from_str(&self.open(SECTIONS_COLUMN, &row.sections)?)
                .map_err(|_| StoreError::Corrupt("summary sections are not a map".into()))?;
        Ok(DischargeSummary {
            id: row.id,
            episode_id: row.episode_id,
            patient_id: row.patient_id,
            sections: SUMMARY_SECTIONS
                .iter()
                .map(|(key, label)| SummarySection {
                    key: (*key).into(),
                    label: (*label).into(),
                    text: stored.get(*key).cloned().unwrap_or_default(),
                })
                .collect(),
            generated_at: row.generated_at,
            updated_at: row.updated_at,
            signed_at: row.signed_at,
            signed_by_name: row.signed_by_name,
        })
    }

    async fn aftercare_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        episode_id: i64,
    ) -> Result<Vec<AftercareItem>> {
        let rows: Vec<AftercareRow> = sqlx::query_as(
            "SELECT id, kind, detail, contact, scheduled_on FROM aftercare_items
             WHERE episode_id = $1 ORDER BY id",
        )
        .bind(episode_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut plan = vec![crisis_line()];
        for row in rows {
            plan.push(AftercareItem {
                id: Some(row.id),
                kind: crate::parse_code(&row.kind, "aftercare kind")?,
                detail: row
                    .detail
                    .as_deref()
                    .map(|d| self.open(DETAIL_COLUMN, d))
                    .transpose()?,
                contact: row
                    .contact
                    .as_deref()
                    .map(|c| self.open(CONTACT_COLUMN, c))
                    .transpose()?,
                scheduled_on: row.scheduled_on,
            });
        }
        Ok(plan)
    }

    /// Which patient and episode a summary belongs to (ids only, for the access check).
    pub async fn discharge_summary_owner(&self, summary_id: i64) -> Result<(i64, i64)> {
        sqlx::query_as("SELECT patient_id, episode_id FROM discharge_summaries WHERE id = $1")
            .bind(summary_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("discharge summary"))
    }

    /// Which patient and episode a follow-up task is about (ids only, for the access check); a
    /// task that is not a follow-up is not found.
    pub async fn follow_up_owner(&self, task_id: i64) -> Result<(i64, i64)> {
        sqlx::query_as("SELECT patient_id, episode_id FROM discharge_follow_ups WHERE task_id = $1")
            .bind(task_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("follow-up"))
    }

    /// The episode's discharge summary, if one has been started (audited).
    pub async fn discharge_summary(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        episode_id: i64,
    ) -> Result<Option<DischargeSummary>> {
        let mut tx = self.begin().await?;
        self.episode_of(&mut tx, grant.patient_id(), episode_id)
            .await?;
        let row: Option<SummaryRow> =
            sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE d.episode_id = $1"))
                .bind(episode_id)
                .fetch_optional(&mut *tx)
                .await?;
        audit_event(
            &mut tx,
            grant.actor(),
            "read",
            "discharge_summary",
            row.as_ref().map(|r| r.id),
            grant.patient_id(),
        )
        .await?;
        tx.commit().await?;
        row.map(|r| self.summary_from_row(r)).transpose()
    }

    /// Generates the draft summary of a discharged episode from the record: one section per
    /// part of the record, and empty sections for the counselor's own account.
    pub async fn generate_discharge_summary(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        episode_id: i64,
    ) -> Result<i64> {
        let staff_id = grant.actor().staff_id()?;
        let mut tx = self.begin().await?;
        let episode = self
            .episode_of(&mut tx, grant.patient_id(), episode_id)
            .await?;
        if episode.is_open() {
            return Err(StoreError::Conflict(
                "discharge the episode before writing its discharge summary".into(),
            ));
        }
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM discharge_summaries WHERE episode_id = $1")
                .bind(episode_id)
                .fetch_optional(&mut *tx)
                .await?;
        if existing.is_some() {
            return Err(StoreError::Conflict(
                "this episode already has a discharge summary".into(),
            ));
        }
        let plan = self.aftercare_in(&mut tx, episode_id).await?;
        let none = || NONE_RECORDED.to_owned();
        let sections: BTreeMap<&str, String> = BTreeMap::from([
            ("stay", stay_section(&episode)),
            ("levels", levels_section(&mut tx, &episode).await?),
            ("attendance", attendance_section(&mut tx, &episode).await?),
            ("curriculum", curriculum_section(&mut tx, &episode).await?),
            ("measures", measures_section(&mut tx, &episode).await?),
            (
                "plan_progress",
                self.treatment_plan_progress_section(&mut tx, &episode)
                    .await?
                    .unwrap_or_else(none),
            ),
            (
                "medications",
                self.medications_section(&mut tx, &episode)
                    .await?
                    .unwrap_or_else(none),
            ),
            ("referrals", referrals_section(&plan)),
            ("course", String::new()),
            ("recommendations", String::new()),
        ]);
        let json = serde_json::to_string(&sections)
            .map_err(|e| StoreError::Corrupt(format!("summary sections: {e}")))?;
        let now = Instant::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO discharge_summaries (episode_id, patient_id, sections, generated_at,
                 generated_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $4) RETURNING id",
        )
        .bind(episode_id)
        .bind(grant.patient_id())
        .bind(self.seal(SECTIONS_COLUMN, &json)?)
        .bind(now)
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await?;
        audit_event(
            &mut tx,
            grant.actor(),
            "create",
            "discharge_summary",
            Some(id),
            grant.patient_id(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn draft_summary(
        &self,
        tx: &mut Transaction<'static, Any>,
        patient_id: i64,
        summary_id: i64,
    ) -> Result<DischargeSummary> {
        let row: SummaryRow = sqlx::query_as(&format!(
            "{SUMMARY_SELECT} WHERE d.id = $1 AND d.patient_id = $2"
        ))
        .bind(summary_id)
        .bind(patient_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("discharge summary"))?;
        if row.signed_at.is_some() {
            return Err(StoreError::Conflict(
                "this discharge summary is signed and can no longer change".into(),
            ));
        }
        self.summary_from_row(row)
    }

    /// Saves a draft's sections (keys not given keep their text).
    pub async fn update_discharge_summary(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        summary_id: i64,
        sections: &BTreeMap<String, String>,
    ) -> Result<()> {
        if let Some(unknown) = sections
            .keys()
            .find(|k| !SUMMARY_SECTIONS.iter().any(|(s, _)| s == k))
        {
            return Err(StoreError::invalid(
                "sections",
                format!("{unknown:?} is not a discharge summary section"),
            ));
        }
        if let Some((key, _)) = sections
            .iter()
            .find(|(_, t)| t.chars().count() > SECTION_MAX)
        {
            return Err(StoreError::invalid(
                SUMMARY_SECTIONS
                    .iter()
                    .find(|(s, _)| s == key)
                    .map_or("sections", |(s, _)| *s),
                format!("must be at most {SECTION_MAX} characters"),
            ));
        }
        let mut tx = self.begin().await?;
        let draft = self
            .draft_summary(&mut tx, grant.patient_id(), summary_id)
            .await?;
        let merged: BTreeMap<String, String> = draft
            .sections
            .into_iter()
            .map(|s| {
                let text = sections
                    .get(&s.key)
                    .map(|t| t.trim().to_owned())
                    .unwrap_or(s.text);
                (s.key, text)
            })
            .collect();
        let json = serde_json::to_string(&merged)
            .map_err(|e| StoreError::Corrupt(format!("summary sections: {e}")))?;
        sqlx::query("UPDATE discharge_summaries SET sections = $2, updated_at = $3 WHERE id = $1")
            .bind(summary_id)
            .bind(self.seal(SECTIONS_COLUMN, &json)?)
            .bind(Instant::now())
            .execute(&mut *tx)
            .await?;
        audit_event(
            &mut tx,
            grant.actor(),
            "update",
            "discharge_summary",
            Some(summary_id),
            grant.patient_id(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs the summary, which locks it. The course of treatment must be written first.
    pub async fn sign_discharge_summary(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        summary_id: i64,
    ) -> Result<()> {
        let staff_id = grant.actor().staff_id()?;
        let mut tx = self.begin().await?;
        let draft = self
            .draft_summary(&mut tx, grant.patient_id(), summary_id)
            .await?;
        let written = draft
            .sections
            .iter()
            .any(|s| s.key == REQUIRED_SECTION && !s.text.trim().is_empty());
        if !written {
            return Err(StoreError::invalid(
                REQUIRED_SECTION,
                "write the course of treatment before signing",
            ));
        }
        sqlx::query(
            "UPDATE discharge_summaries SET signed_at = $2, signed_by = $3
             WHERE id = $1 AND signed_at IS NULL",
        )
        .bind(summary_id)
        .bind(Instant::now())
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
        audit_event(
            &mut tx,
            grant.actor(),
            "sign",
            "discharge_summary",
            Some(summary_id),
            grant.patient_id(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The episode's aftercare plan, the crisis line first (audited).
    pub async fn aftercare_plan(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        episode_id: i64,
    ) -> Result<Vec<AftercareItem>> {
        let mut tx = self.begin().await?;
        self.episode_of(&mut tx, grant.patient_id(), episode_id)
            .await?;
        let plan = self.aftercare_in(&mut tx, episode_id).await?;
        audit_event(
            &mut tx,
            grant.actor(),
            "read",
            "aftercare_plan",
            Some(episode_id),
            grant.patient_id(),
        )
        .await?;
        tx.commit().await?;
        Ok(plan)
    }

    /// Adds a line to the episode's aftercare plan.
    pub async fn add_aftercare_item(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        episode_id: i64,
        item: &NewAftercareItem,
        today: NaiveDate,
    ) -> Result<i64> {
        let staff_id = grant.actor().staff_id()?;
        if item.kind == AftercareKind::CrisisLine {
            return Err(StoreError::invalid(
                "kind",
                "the 988 crisis line is already part of every plan",
            ));
        }
        let (prompt, required) = item.kind.detail_prompt();
        let detail = optional_text("detail", &item.detail, 300)?;
        if required && detail.is_none() {
            return Err(StoreError::invalid(
                "detail",
                format!("{prompt} is required for {}", item.kind.label()),
            ));
        }
        let contact = optional_text("contact", &item.contact, 300)?;
        if item.kind == AftercareKind::Referral && contact.is_none() {
            return Err(StoreError::invalid(
                "contact",
                "a referral needs a phone or address",
            ));
        }
        if let Some(on) = item.scheduled_on {
            if on < today - Duration::days(366) || on > today + Duration::days(366) {
                return Err(StoreError::invalid(
                    "scheduled_on",
                    "must be within a year of today",
                ));
            }
        }
        let mut tx = self.begin().await?;
        self.episode_of(&mut tx, grant.patient_id(), episode_id)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO aftercare_items (episode_id, patient_id, kind, detail, contact,
                 scheduled_on, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(episode_id)
        .bind(grant.patient_id())
        .bind(item.kind.code())
        .bind(detail.map(|d| self.seal(DETAIL_COLUMN, &d)).transpose()?)
        .bind(contact.map(|c| self.seal(CONTACT_COLUMN, &c)).transpose()?)
        .bind(item.scheduled_on.map(Day))
        .bind(Instant::now())
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await?;
        audit_event(
            &mut tx,
            grant.actor(),
            "create",
            "aftercare_item",
            Some(id),
            grant.patient_id(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    fn follow_up_from_row(&self, row: FollowUpRow) -> Result<FollowUp> {
        Ok(FollowUp {
            id: row.id,
            episode_id: row.episode_id,
            patient_id: row.patient_id,
            task_id: row.task_id,
            days_after: row.days_after,
            due_on: row.due_on,
            assigned_to_name: row.assigned_to_name,
            contact_result: row
                .contact_result
                .as_deref()
                .map(|c| crate::parse_code(c, "contact result"))
                .transpose()?,
            recovery_status: row
                .recovery_status
                .as_deref()
                .map(|s| crate::parse_code(s, "recovery status"))
                .transpose()?,
            note: row
                .note
                .as_deref()
                .map(|n| self.open(FOLLOW_UP_NOTE_COLUMN, n))
                .transpose()?,
            recorded_at: row.recorded_at,
            recorded_by_name: row.recorded_by_name,
        })
    }

    /// The episode's follow-ups after discharge, in order (audited).
    pub async fn follow_ups(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        episode_id: i64,
    ) -> Result<Vec<FollowUp>> {
        let mut tx = self.begin().await?;
        self.episode_of(&mut tx, grant.patient_id(), episode_id)
            .await?;
        let rows: Vec<FollowUpRow> = sqlx::query_as(&format!(
            "{FOLLOW_UP_SELECT} WHERE f.episode_id = $1 ORDER BY f.days_after, f.id"
        ))
        .bind(episode_id)
        .fetch_all(&mut *tx)
        .await?;
        audit_event(
            &mut tx,
            grant.actor(),
            "read",
            "discharge_follow_up",
            None,
            grant.patient_id(),
        )
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|r| self.follow_up_from_row(r))
            .collect()
    }

    /// Records what a follow-up call found, which completes its task. The contact result and
    /// the recovery status are required; a person not reached can only be "unknown" or
    /// "readmitted" (known from another record).
    pub async fn record_follow_up(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        task_id: i64,
        outcome: &FollowUpOutcome,
        today: NaiveDate,
    ) -> Result<()> {
        let staff_id = grant.actor().staff_id()?;
        let Some(contact) = outcome.contact else {
            return Err(StoreError::invalid(
                "contact_result",
                "say whether the person was reached",
            ));
        };
        let Some(status) = outcome.status else {
            return Err(StoreError::invalid(
                "recovery_status",
                "choose a recovery status (unknown if not learned)",
            ));
        };
        if contact == ContactResult::NotReached
            && !matches!(status, RecoveryStatus::Unknown | RecoveryStatus::Readmitted)
        {
            return Err(StoreError::invalid(
                "recovery_status",
                "when the person was not reached the status is unknown (or readmitted, if known from a record)",
            ));
        }
        let note = optional_text("note", &outcome.note, 2000)?;
        let mut tx = self.begin().await?;
        let row: FollowUpRow = sqlx::query_as(&format!(
            "{FOLLOW_UP_SELECT} WHERE f.task_id = $1 AND f.patient_id = $2"
        ))
        .bind(task_id)
        .bind(grant.patient_id())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("follow-up"))?;
        if row.recorded_at.is_some() {
            return Err(StoreError::Conflict(
                "this follow-up's outcome is already recorded".into(),
            ));
        }
        let earliest = row.due_on.0 - Duration::days(FOLLOW_UP_EARLY_DAYS);
        if today < earliest {
            return Err(StoreError::invalid(
                "contact_result",
                format!(
                    "the {}-day follow-up is not due until {}",
                    row.days_after, row.due_on.0
                ),
            ));
        }
        let now = Instant::now();
        sqlx::query(
            "UPDATE discharge_follow_ups SET contact_result = $2, recovery_status = $3, note = $4,
                 recorded_at = $5, recorded_by = $6
             WHERE id = $1",
        )
        .bind(row.id)
        .bind(contact.code())
        .bind(status.code())
        .bind(
            note.as_deref()
                .map(|n| self.seal(FOLLOW_UP_NOTE_COLUMN, n))
                .transpose()?,
        )
        .bind(now)
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
        let summary = format!("{}; {}", contact.label(), status.label());
        sqlx::query(
            "UPDATE tasks SET completed_at = $2, completed_by = $3, outcome = $4
             WHERE id = $1 AND completed_at IS NULL",
        )
        .bind(task_id)
        .bind(now)
        .bind(staff_id)
        .bind(self.seal(TASK_OUTCOME_COLUMN, &summary)?)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "record_outcome",
                record_type: "discharge_follow_up",
                record_id: Some(row.id),
                patient_id: Some(grant.patient_id()),
                detail: format!("{} {} {}", row.days_after, contact.code(), status.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Follow-up outcomes across the organisation: counts per 30/60/90-day follow-up (no patient
    /// detail). Audited as a report.
    pub async fn follow_up_outcomes(
        &self,
        grant: &Grant<can::ReadOutcomes>,
        today: NaiveDate,
    ) -> Result<Vec<OutcomeCounts>> {
        let mut tx = self.begin().await?;
        let rows: Vec<(i64, Day, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT days_after, due_on, contact_result, recovery_status FROM discharge_follow_ups",
        )
        .fetch_all(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "report",
                record_type: "follow_up_outcomes",
                record_id: None,
                patient_id: None,
                detail: format!("{} follow-ups", rows.len()),
            },
        )
        .await?;
        tx.commit().await?;
        let mut report: Vec<OutcomeCounts> = FOLLOW_UP_DAYS
            .iter()
            .map(|d| OutcomeCounts {
                days_after: *d,
                ..OutcomeCounts::default()
            })
            .collect();
        for (days, due_on, contact, status) in rows {
            let Some(counts) = report.iter_mut().find(|c| c.days_after == days) else {
                continue;
            };
            counts.scheduled += 1;
            match contact.as_deref() {
                None => {
                    counts.open += 1;
                    if due_on.0 < today {
                        counts.overdue += 1;
                    }
                }
                Some("reached") => counts.reached += 1,
                Some(_) => counts.not_reached += 1,
            }
            match status.as_deref() {
                Some("in_recovery") => counts.in_recovery += 1,
                Some("returned_to_use") => counts.returned_to_use += 1,
                Some("readmitted") => counts.readmitted += 1,
                Some(_) => counts.unknown += 1,
                None => {}
            }
        }
        Ok(report)
    }
}
