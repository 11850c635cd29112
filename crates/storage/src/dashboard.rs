//! What each role's dashboard summarises: counts and short lists, one round of queries per card
//! on the reader pool, each read joining the request's audit row as a search (naming the
//! patients a list shows), so dashboards never wait for the single writer. Nothing here returns
//! clinical text.

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use sqlx::FromRow;
use trellis_domain::access::Role;

use crate::access::{can, patient_scope_sql, Grant};
use crate::audit::{self, AuditEvent};
use crate::{Day, Instant, Result, Store, StoreError};

/// How many items a dashboard list shows before it links to the full page.
pub const SHORT_LIST: usize = 5;

/// The patient's name is encrypted: queries leave a placeholder that `fill_patient_names` fills.
const PATIENT_NAME: &str = "CAST('' AS TEXT)";

/// A task due soon, as a dashboard line (patient name and due day only).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct DueTask {
    /// Task.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Patient.
    pub patient_id: i64,
    /// Display name.
    pub patient_name: String,
    /// Due day.
    pub due_on: Day,
}

crate::patients::names_patient!(DueTask);

/// One counselor's share of the program, for the clinical director.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct CounselorLoad {
    /// Staff id.
    pub counselor_id: i64,
    /// Display name.
    pub counselor_name: String,
    /// Open episodes naming them primary counselor.
    pub caseload: i64,
    /// Open safety flags on those patients.
    pub open_flags: i64,
    /// Of those patients, how many have no plan signed since admission.
    pub unsigned_plans: i64,
    /// Of those patients, how many have a signed plan past its review date.
    pub reviews_overdue: i64,
}

/// The program-wide picture for a clinical director.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProgramOverview {
    /// Open episodes already admitted.
    pub census: i64,
    /// Admissions booked for a later day.
    pub pending_admissions: i64,
    /// Open safety flags.
    pub open_flags: i64,
    /// Of which high severity.
    pub high_flags: i64,
    /// Of which open more than seven days.
    pub flags_over_a_week: i64,
    /// When the oldest open flag was raised.
    pub oldest_flag: Option<Instant>,
    /// Follow-up calls after discharge past their due day.
    pub follow_ups_overdue: i64,
    /// Per primary counselor.
    pub counselors: Vec<CounselorLoad>,
}

/// Medication and screen work for a nurse or prescriber.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MedicalSummary {
    /// Patients in view on an active medication.
    pub on_medication: i64,
    /// Of which on a medication for opioid use disorder.
    pub on_moud: i64,
    /// Patients in care with no screen collected in the last [`SCREEN_INTERVAL_DAYS`] days.
    pub screens_to_collect: i64,
    /// Screens collected in the last 14 days with an unexpected or presumptive finding.
    pub unexpected_results: Vec<DueTask>,
}

/// How often a patient in care is expected to give a drug screen, for "patients due a drug screen".
pub const SCREEN_INTERVAL_DAYS: i64 = 7;

/// Admissions work for the intake coordinator.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntakeSummary {
    /// Admissions today.
    pub today: Vec<Admission>,
    /// Admissions from Monday to Sunday of this week.
    pub this_week: i64,
    /// Admissions booked for a later day, soonest first.
    pub upcoming: Vec<Admission>,
    /// Open episodes with no intake assessment yet, oldest first.
    pub incomplete: Vec<Admission>,
    /// How many open episodes have no intake assessment.
    pub incomplete_total: i64,
}

/// An admission as the intake dashboard lists it.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Admission {
    /// Patient.
    pub patient_id: i64,
    /// Display name.
    pub patient_name: String,
    /// Program.
    pub program_name: String,
    /// Admission day.
    pub admitted_on: Day,
}

crate::patients::names_patient!(Admission);

/// Placeholder counts for billing until the revenue work lands.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BillingSummary {
    /// Open episodes already admitted.
    pub census: i64,
    /// Group services attended this week (Monday to today).
    pub services_this_week: i64,
}

fn search(what: &str, n: usize) -> AuditEvent<'static> {
    AuditEvent {
        action: "search",
        record_type: "dashboard",
        record_id: None,
        patient_id: None,
        detail: format!("{what}: {n} results"),
    }
}

fn monday(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

impl Store {
    /// Outreach and post-discharge follow-up calls due within a week for patients in view,
    /// whoever holds them (peer support works them together with the counselor): the total and
    /// the first [`SHORT_LIST`], most overdue first.
    pub async fn outreach_due(
        &self,
        grant: &Grant<can::ReadClinical>,
        today: NaiveDate,
    ) -> Result<(i64, Vec<DueTask>)> {
        let actor = grant.actor();
        let scope = patient_scope_sql(actor.role, "$1");
        let filter = format!(
            "t.completed_at IS NULL AND t.kind IN ('outreach', $2) AND t.due_on <= $3 AND {scope}"
        );
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut rows: Vec<DueTask> = sqlx::query_as(&format!(
            "SELECT t.id, t.kind, p.id AS patient_id, {PATIENT_NAME} AS patient_name, t.due_on
             FROM tasks t JOIN patients p ON p.id = t.patient_id
             WHERE {filter} ORDER BY t.due_on, t.id LIMIT {SHORT_LIST}"
        ))
        .bind(actor.user_id.unwrap_or(0))
        .bind(crate::discharge::FOLLOW_UP_TASK_KIND)
        .bind(Day(today + Duration::days(7)))
        .fetch_all(&mut *tx)
        .await?;
        self.fill_patient_names(&mut tx, &mut rows).await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM tasks t JOIN patients p ON p.id = t.patient_id WHERE {filter}"
        ))
        .bind(actor.user_id.unwrap_or(0))
        .bind(crate::discharge::FOLLOW_UP_TASK_KIND)
        .bind(Day(today + Duration::days(7)))
        .fetch_one(&mut *tx)
        .await?;
        let shown: Vec<i64> = rows.iter().map(|r| r.patient_id).collect();
        audit::record_shown(self, actor, search("outreach due", rows.len()), &shown).await?;
        tx.commit().await?;
        Ok((total, rows))
    }

    /// The program-wide picture, for clinical directors only.
    pub async fn program_overview(
        &self,
        grant: &Grant<can::ReadClinical>,
        today: NaiveDate,
    ) -> Result<ProgramOverview> {
        let actor = grant.actor();
        if actor.role != Role::ClinicalDirector {
            return Err(StoreError::Denied(
                "the program overview is for clinical directors".into(),
            ));
        }
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let (census, pending_admissions): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN admitted_on <= $1 THEN 1 ELSE 0 END), 0),
                 COALESCE(SUM(CASE WHEN admitted_on > $1 THEN 1 ELSE 0 END), 0)
             FROM episodes WHERE status = 'open'",
        )
        .bind(Day(today))
        .fetch_one(&mut *tx)
        .await?;
        let week_ago = Instant(chrono::Utc::now() - Duration::days(7));
        let (open_flags, high_flags, flags_over_a_week, oldest_flag): (
            i64,
            i64,
            i64,
            Option<Instant>,
        ) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN severity = 'high' THEN 1 ELSE 0 END), 0),
                 COALESCE(SUM(CASE WHEN raised_at < $1 THEN 1 ELSE 0 END), 0), MIN(raised_at)
             FROM patient_flags WHERE resolved_at IS NULL",
        )
        .bind(week_ago)
        .fetch_one(&mut *tx)
        .await?;
        let follow_ups_overdue: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tasks WHERE completed_at IS NULL AND kind = $1 AND due_on < $2",
        )
        .bind(crate::discharge::FOLLOW_UP_TASK_KIND)
        .bind(Day(today))
        .fetch_one(&mut *tx)
        .await?;
        let counselors: Vec<CounselorLoad> = sqlx::query_as(
            "SELECT u.id AS counselor_id, u.display_name AS counselor_name,
                 COUNT(*) AS caseload,
                 CAST(COALESCE(SUM((SELECT COUNT(*) FROM patient_flags f
                     WHERE f.patient_id = e.patient_id AND f.resolved_at IS NULL)), 0) AS BIGINT)
                     AS open_flags,
                 COALESCE(SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM treatment_plans t
                     WHERE t.patient_id = e.patient_id AND t.clinician_signed_at IS NOT NULL
                       AND t.clinician_signed_at >= e.admitted_on) THEN 1 ELSE 0 END), 0)
                     AS unsigned_plans,
                 COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM treatment_plans t
                     WHERE t.patient_id = e.patient_id AND t.review_due_on < $1
                       AND t.version = (SELECT MAX(version) FROM treatment_plans s
                           WHERE s.patient_id = t.patient_id AND s.clinician_signed_at IS NOT NULL))
                     THEN 1 ELSE 0 END), 0) AS reviews_overdue
             FROM episodes e JOIN users u ON u.id = e.primary_counselor_id
             WHERE e.status = 'open' AND e.admitted_on <= $1
             GROUP BY u.id, u.display_name ORDER BY u.display_name, u.id",
        )
        .bind(Day(today))
        .fetch_all(&mut *tx)
        .await?;
        audit::record(self, actor, search("program overview", counselors.len())).await?;
        tx.commit().await?;
        Ok(ProgramOverview {
            census,
            pending_admissions,
            open_flags,
            high_flags,
            flags_over_a_week,
            oldest_flag,
            follow_ups_overdue,
            counselors,
        })
    }

    /// Medications in use, screens to collect and recent unexpected findings for patients in view.
    pub async fn medical_summary(
        &self,
        grant: &Grant<can::ReadClinical>,
        today: NaiveDate,
    ) -> Result<MedicalSummary> {
        let actor = grant.actor();
        let scope = patient_scope_sql(actor.role, "$1");
        let user = actor.user_id.unwrap_or(0);
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let (on_medication, on_moud): (i64, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(DISTINCT m.patient_id),
                 COUNT(DISTINCT CASE WHEN m.moud = $3 THEN m.patient_id END)
             FROM medications m JOIN patients p ON p.id = m.patient_id
             JOIN episodes e ON e.patient_id = p.id AND e.status = 'open'
             WHERE (m.stopped_on IS NULL OR m.stopped_on > $2) AND {scope}"
        ))
        .bind(user)
        .bind(Day(today))
        .bind(true)
        .fetch_one(&mut *tx)
        .await?;
        let screens_to_collect: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM episodes e
             WHERE e.status = 'open' AND e.admitted_on <= $2
               AND NOT EXISTS (SELECT 1 FROM drug_screens d
                   WHERE d.patient_id = e.patient_id AND d.collected_on > $3)
               AND {}",
            in_scope(&scope)
        ))
        .bind(user)
        .bind(Day(today))
        .bind(Day(today - Duration::days(SCREEN_INTERVAL_DAYS)))
        .fetch_one(&mut *tx)
        .await?;
        let mut unexpected_results: Vec<DueTask> = sqlx::query_as(&format!(
            "SELECT d.id, CAST('drug_screen' AS TEXT) AS kind, d.patient_id,
                 {PATIENT_NAME} AS patient_name, d.collected_on AS due_on
             FROM drug_screens d
             WHERE d.collected_on >= $2
               -- The rare finding first, then the scope for those screens only: SQLite tests
               -- conditions in the order written, and a join to patients here made it build
               -- a Bloom filter by reading every patient row (15 ms of the nurse's dashboard
               -- on the network data, against 0.4 ms this way).
               AND EXISTS (SELECT 1 FROM drug_screen_results r
                   WHERE r.screen_id = d.id AND r.expectation = 'unexpected')
               AND EXISTS (SELECT 1 FROM patients p WHERE p.id = d.patient_id AND {scope})
             ORDER BY d.collected_on DESC, d.id DESC"
        ))
        .bind(user)
        .bind(Day(today - Duration::days(14)))
        .fetch_all(&mut *tx)
        .await?;
        self.fill_patient_names(&mut tx, &mut unexpected_results)
            .await?;
        let shown: Vec<i64> = unexpected_results.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            search("medication and screen summary", unexpected_results.len()),
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(MedicalSummary {
            on_medication,
            on_moud,
            screens_to_collect,
            unexpected_results,
        })
    }

    /// Admissions today, this week and booked later, and open episodes still without an intake
    /// assessment, for patients in view.
    pub async fn intake_summary(
        &self,
        grant: &Grant<can::ReadEpisodes>,
        today: NaiveDate,
    ) -> Result<IntakeSummary> {
        let actor = grant.actor();
        let scope = patient_scope_sql(actor.role, "$1");
        let user = actor.user_id.unwrap_or(0);
        let select = format!(
            "SELECT p.id AS patient_id, {PATIENT_NAME} AS patient_name, pr.name AS program_name,
                 e.admitted_on
             FROM episodes e JOIN patients p ON p.id = e.patient_id
             JOIN programs pr ON pr.id = e.program_id"
        );
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut admitted: Vec<Admission> = sqlx::query_as(&format!(
            "{select} WHERE e.status = 'open' AND e.admitted_on >= $2 AND {scope}"
        ))
        .bind(user)
        .bind(Day(monday(today)))
        .fetch_all(&mut *tx)
        .await?;
        // This week's and later admissions: few enough to sort by name after decrypting.
        let names = self.fill_patient_names(&mut tx, &mut admitted).await?;
        admitted.sort_by_cached_key(|a| (a.admitted_on, names.order(a.patient_id)));
        // The missing assessment first: few open episodes lack one, and the scope is then
        // checked for those alone (SQLite tests conditions in the order written).
        let incomplete_filter = format!(
            "e.status = 'open' AND e.admitted_on <= $2
               AND NOT EXISTS (SELECT 1 FROM intake_assessments a WHERE a.episode_id = e.id)
               AND {}",
            in_scope(&scope)
        );
        let mut incomplete: Vec<Admission> = sqlx::query_as(&format!(
            "{select} WHERE {incomplete_filter} ORDER BY e.admitted_on, p.id LIMIT {SHORT_LIST}"
        ))
        .bind(user)
        .bind(Day(today))
        .fetch_all(&mut *tx)
        .await?;
        self.fill_patient_names(&mut tx, &mut incomplete).await?;
        let incomplete_total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM episodes e WHERE {incomplete_filter}"
        ))
        .bind(user)
        .bind(Day(today))
        .fetch_one(&mut *tx)
        .await?;
        let shown: Vec<i64> = admitted
            .iter()
            .chain(&incomplete)
            .map(|a| a.patient_id)
            .collect();
        audit::record_shown(
            self,
            actor,
            search("admissions", admitted.len() + incomplete.len()),
            &shown,
        )
        .await?;
        tx.commit().await?;
        let week_end = monday(today) + Duration::days(7);
        let this_week = admitted
            .iter()
            .filter(|a| a.admitted_on.0 < week_end)
            .count();
        let (today_list, later): (Vec<Admission>, Vec<Admission>) = admitted
            .into_iter()
            .filter(|a| a.admitted_on.0 >= today)
            .partition(|a| a.admitted_on.0 == today);
        Ok(IntakeSummary {
            today: today_list,
            this_week: i64::try_from(this_week).unwrap_or(i64::MAX),
            upcoming: later.into_iter().take(SHORT_LIST).collect(),
            incomplete,
            incomplete_total,
        })
    }

    /// Placeholder counts for billing: census and services attended this week.
    pub async fn billing_summary(
        &self,
        grant: &Grant<can::ReadBilling>,
        today: NaiveDate,
    ) -> Result<BillingSummary> {
        let actor = grant.actor();
        let scope = patient_scope_sql(actor.role, "$1");
        let user = actor.user_id.unwrap_or(0);
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let census: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM episodes e
             WHERE e.status = 'open' AND e.admitted_on <= $2 AND {}",
            in_scope(&scope)
        ))
        .bind(user)
        .bind(Day(today))
        .fetch_one(&mut *tx)
        .await?;
        let services_this_week: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM attendance a JOIN group_sessions gs ON gs.id = a.session_id
             JOIN patients p ON p.id = a.patient_id
             WHERE a.minutes_attended > 0 AND gs.local_date >= $2 AND gs.local_date <= $3
               AND {scope}"
        ))
        .bind(user)
        .bind(Day(monday(today)))
        .bind(Day(today))
        .fetch_one(&mut *tx)
        .await?;
        audit::record(self, actor, search("billing counts", 2)).await?;
        tx.commit().await?;
        Ok(BillingSummary {
            census,
            services_this_week,
        })
    }
}

/// The patient scope as a check on the episode `e`'s patient, for counts over episodes: a join
/// to patients there made SQLite read every patient row to build a Bloom filter.
fn in_scope(scope: &str) -> String {
    format!("EXISTS (SELECT 1 FROM patients p WHERE p.id = e.patient_id AND {scope})")
}
