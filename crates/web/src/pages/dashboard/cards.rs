//! The dashboard's cards, one function per card, each ready to show.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use trellis_domain::consent::breach::BreachConclusion;
use trellis_storage::access::can;
use trellis_storage::dashboard::{DueTask, SHORT_LIST};
use trellis_storage::discharge::FOLLOW_UP_TASK_KIND;
use trellis_storage::medications::PRESCRIBER_REVIEW_TASK_KIND;
use trellis_storage::notes::Lateness;
use trellis_storage::tasks::Task;
use trellis_storage::{Day, Instant};

use crate::error::AppError;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// A kind of task as staff name it.
fn task_label(kind: &str) -> String {
    match kind {
        "safety_flag" => "Safety flags to answer".into(),
        "outreach" => "Absence outreach".into(),
        FOLLOW_UP_TASK_KIND => "Follow-up calls after discharge".into(),
        PRESCRIBER_REVIEW_TASK_KIND => "Drug screens to review".into(),
        "consent" => "Consents to act on".into(),
        "emergency" | "break_glass_review" => "Emergency access to review".into(),
        "privacy_review" => "Privacy reviews".into(),
        other => {
            let words = other.replace('_', " ");
            let mut chars = words.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// One line of the tasks card: a kind of task and how many are open, due and overdue.
pub struct TaskLine {
    pub(super) label: String,
    pub(super) open: usize,
    pub(super) due: usize,
    pub(super) overdue: usize,
    kind: String,
}

/// The signed-in person's open tasks: counted by kind, and the most urgent few.
pub struct TasksCard {
    pub(super) lines: Vec<TaskLine>,
    pub(super) first: Vec<super::super::tasks::TaskView>,
    pub(super) total: usize,
    pub(super) overdue: usize,
    open: Vec<Task>,
}

impl TasksCard {
    fn of_kind(&self, kind: &str) -> Option<&TaskLine> {
        self.lines.iter().find(|l| l.kind == kind)
    }
}

pub(super) async fn tasks(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
) -> Result<TasksCard, AppError> {
    let grant = state.store.grant::<can::ReadDemographics>(&staff.actor)?;
    // Most urgent first, as the tasks page lists them.
    let open = state.store.my_tasks(&grant).await?;
    let mut lines: Vec<TaskLine> = Vec::new();
    for t in &open {
        let due = t.due_on.is_some_and(|d| d.0 <= today);
        let overdue = t.due_on.is_some_and(|d| d.0 < today);
        let line = match lines.iter_mut().position(|l| l.kind == t.kind) {
            Some(i) => &mut lines[i],
            None => {
                lines.push(TaskLine {
                    label: task_label(&t.kind),
                    open: 0,
                    due: 0,
                    overdue: 0,
                    kind: t.kind.clone(),
                });
                let last = lines.len() - 1;
                &mut lines[last]
            }
        };
        line.open += 1;
        line.due += usize::from(due);
        line.overdue += usize::from(overdue);
    }
    let first =
        super::super::tasks::task_views(open.iter().take(SHORT_LIST).cloned().collect(), state);
    Ok(TasksCard {
        total: open.len(),
        overdue: lines.iter().map(|l| l.overdue).sum(),
        lines,
        first,
        open,
    })
}

/// Something to do today for one patient, linking to where it is done.
pub struct Todo {
    pub(super) label: String,
    pub(super) href: String,
    pub(super) overdue: bool,
}

/// A caseload patient with what needs doing today.
pub struct CaseloadLine {
    pub(super) patient_id: i64,
    pub(super) name: String,
    pub(super) pronouns: Option<String>,
    pub(super) program: String,
    pub(super) level: String,
    pub(super) admitted_on: String,
    pub(super) flags: i64,
    pub(super) todo: Vec<Todo>,
}

/// The counselor's caseload, one row a patient, with today's work beside each.
pub struct CaseloadCard {
    pub(super) lines: Vec<CaseloadLine>,
}

pub(super) async fn caseload(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
    tasks: &TasksCard,
) -> Result<CaseloadCard, AppError> {
    let store = &state.store;
    let episodes = store.grant::<can::ReadEpisodes>(&staff.actor)?;
    let clinical = store.grant::<can::ReadClinical>(&staff.actor)?;
    let caseload = store.caseload(&episodes).await?;
    let mut todo: HashMap<i64, Vec<Todo>> = HashMap::new();
    let mut add = |patient: i64, label: String, href: String, overdue: bool| {
        todo.entry(patient).or_default().push(Todo {
            label,
            href,
            overdue,
        });
    };
    for (n, lateness) in store.late_notes(&clinical, Instant::now()).await? {
        add(
            n.patient_id,
            format!("Note for {} unsigned", view::day(&n.session_on)),
            format!("/patients/{}/notes#note{}", n.patient_id, n.id),
            lateness == Lateness::Overdue,
        );
    }
    for r in store.unsigned_plans(&clinical).await? {
        add(
            r.patient_id,
            format!(
                "{} ({})",
                if r.drafts > 0 {
                    "Plan waiting for signatures"
                } else {
                    "Plan not written"
                },
                since_admission(r.admitted_on.0, today)
            ),
            format!("/patients/{}/treatment-plan", r.patient_id),
            false,
        );
    }
    for r in store.overdue_plan_reviews(&clinical, today).await? {
        add(
            r.patient_id,
            format!("Plan review was due {}", view::day(&r.review_due_on)),
            format!("/patients/{}/treatment-plan", r.patient_id),
            true,
        );
    }
    let horizon = today + Duration::days(super::super::DUE_HORIZON_DAYS);
    for d in store
        .caseload_measures_due(&clinical, today, horizon)
        .await?
    {
        add(
            d.patient_id,
            format!("{} due {}", d.instrument.name(), view::day(&d.due_on)),
            format!("/patients/{}/measures", d.patient_id),
            d.overdue,
        );
    }
    for t in &tasks.open {
        let (Some(patient), Some(due)) = (t.patient_id, t.due_on) else {
            continue;
        };
        if due.0 <= today {
            add(
                patient,
                t.title.clone(),
                format!("/tasks#task{}", t.id),
                due.0 < today,
            );
        }
    }
    let mut lines: Vec<CaseloadLine> = caseload
        .into_iter()
        .map(|e| CaseloadLine {
            todo: todo.remove(&e.patient_id).unwrap_or_default(),
            patient_id: e.patient_id,
            name: e.patient_name,
            pronouns: e.pronouns,
            program: e.program_name,
            level: view::level(&e.current_level),
            admitted_on: view::day(&e.admitted_on),
            flags: e.open_flags,
        })
        .collect();
    // Overdue work first, then the most to do; otherwise by name, as the caseload reads.
    lines.sort_by_key(|l| {
        (
            !l.todo.iter().any(|t| t.overdue),
            std::cmp::Reverse(l.todo.len()),
        )
    });
    Ok(CaseloadCard { lines })
}

/// An unsigned note past its deadline (no clinical text).
pub struct LateNote {
    pub(super) id: i64,
    pub(super) patient_id: i64,
    pub(super) patient: String,
    pub(super) session: String,
    pub(super) author: String,
    author_id: i64,
    pub(super) overdue: bool,
}

/// Unsigned notes: the person's own, or everyone's for a clinical director.
pub struct LateNotesCard {
    pub(super) lines: Vec<LateNote>,
    pub(super) total: usize,
    pub(super) overdue: usize,
    all: Vec<(i64, bool)>,
}

pub(super) async fn late_notes(state: &AppState, staff: &Staff) -> Result<LateNotesCard, AppError> {
    let grant = state.store.grant::<can::ReadClinical>(&staff.actor)?;
    let mut late: Vec<LateNote> = state
        .store
        .late_notes(&grant, Instant::now())
        .await?
        .into_iter()
        .map(|(n, l)| LateNote {
            id: n.id,
            patient_id: n.patient_id,
            patient: n.patient_name,
            session: view::day(&n.session_on),
            author: n.author_name,
            author_id: n.author_id,
            overdue: l == Lateness::Overdue,
        })
        .collect();
    let all = late.iter().map(|n| (n.author_id, n.overdue)).collect();
    let total = late.len();
    let overdue = late.iter().filter(|n| n.overdue).count();
    // The oldest first (they are listed by session day), a few; the notes tab has the rest.
    late.truncate(SHORT_LIST);
    Ok(LateNotesCard {
        lines: late,
        total,
        overdue,
        all,
    })
}

/// One counselor's row in the program view.
pub struct CounselorLine {
    pub(super) name: String,
    pub(super) caseload: i64,
    pub(super) open_flags: i64,
    pub(super) late_notes: usize,
    pub(super) unsigned_plans: i64,
    pub(super) reviews_overdue: i64,
}

/// The clinical director's program-wide view.
pub struct ProgramCard {
    pub(super) census: i64,
    pub(super) pending_admissions: i64,
    pub(super) open_flags: i64,
    pub(super) high_flags: i64,
    pub(super) flags_over_a_week: i64,
    pub(super) oldest_flag_days: Option<i64>,
    pub(super) follow_ups_overdue: i64,
    pub(super) under_minimum: usize,
    pub(super) hours_week: String,
    /// That week's Monday, for the weekly-hours page's link (YYYY-MM-DD).
    pub(super) hours_date: String,
    pub(super) unsigned_plans: i64,
    pub(super) reviews_overdue: i64,
    pub(super) cosign: usize,
    pub(super) counselors: Vec<CounselorLine>,
}

pub(super) async fn program(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
    late: &LateNotesCard,
) -> Result<ProgramCard, AppError> {
    let store = &state.store;
    let clinical = store.grant::<can::ReadClinical>(&staff.actor)?;
    let overview = store.program_overview(&clinical, today).await?;
    let cosign = store.cosign_queue(&clinical).await?.len();
    // Hours are judged on the last whole week, the one the weekly-hours page opens on.
    let last_week = today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7);
    let schedule = store.grant::<can::ReadSchedule>(&staff.actor)?;
    let under_minimum = state
        .under_minimum_counts
        .get_or_count(&state.store, &schedule, last_week)
        .await?;
    let counselors: Vec<CounselorLine> = overview
        .counselors
        .into_iter()
        .map(|c| CounselorLine {
            late_notes: late
                .all
                .iter()
                .filter(|(author, _)| *author == c.counselor_id)
                .count(),
            name: c.counselor_name,
            caseload: c.caseload,
            open_flags: c.open_flags,
            unsigned_plans: c.unsigned_plans,
            reviews_overdue: c.reviews_overdue,
        })
        .collect();
    Ok(ProgramCard {
        census: overview.census,
        pending_admissions: overview.pending_admissions,
        open_flags: overview.open_flags,
        high_flags: overview.high_flags,
        flags_over_a_week: overview.flags_over_a_week,
        oldest_flag_days: overview
            .oldest_flag
            .map(|at| (Instant::now().0 - at.0).num_days()),
        follow_ups_overdue: overview.follow_ups_overdue,
        under_minimum,
        hours_week: view::day(&Day(last_week)),
        hours_date: last_week.format("%Y-%m-%d").to_string(),
        unsigned_plans: counselors.iter().map(|c| c.unsigned_plans).sum(),
        reviews_overdue: counselors.iter().map(|c| c.reviews_overdue).sum(),
        cosign,
        counselors,
    })
}

/// A patient line on a dashboard: who, what, when.
pub struct PatientLine {
    pub(super) patient_id: i64,
    pub(super) name: String,
    pub(super) what: String,
    pub(super) when: String,
    pub(super) overdue: bool,
}

fn due_line(t: DueTask, today: NaiveDate, what: String) -> PatientLine {
    PatientLine {
        patient_id: t.patient_id,
        name: t.patient_name,
        what,
        when: view::day(&t.due_on),
        overdue: t.due_on.0 < today,
    }
}

/// Medication and screen work for a nurse or prescriber.
pub struct MedicalCard {
    pub(super) on_medication: i64,
    pub(super) on_moud: i64,
    pub(super) screens_to_collect: i64,
    pub(super) screen_interval_days: i64,
    pub(super) reviews_open: usize,
    pub(super) reviews_overdue: usize,
    pub(super) unexpected: Vec<PatientLine>,
    pub(super) unexpected_total: usize,
}

pub(super) async fn medical(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
    tasks: &TasksCard,
) -> Result<MedicalCard, AppError> {
    let grant = state.store.grant::<can::ReadClinical>(&staff.actor)?;
    let summary = state.store.medical_summary(&grant, today).await?;
    let reviews = tasks.of_kind(PRESCRIBER_REVIEW_TASK_KIND);
    let unexpected_total = summary.unexpected_results.len();
    Ok(MedicalCard {
        on_medication: summary.on_medication,
        on_moud: summary.on_moud,
        screens_to_collect: summary.screens_to_collect,
        screen_interval_days: trellis_storage::dashboard::SCREEN_INTERVAL_DAYS,
        reviews_open: reviews.map_or(0, |r| r.open),
        reviews_overdue: reviews.map_or(0, |r| r.overdue),
        unexpected: summary
            .unexpected_results
            .into_iter()
            .take(SHORT_LIST)
            .map(|t| PatientLine {
                overdue: false,
                ..due_line(t, today, "unexpected finding".into())
            })
            .collect(),
        unexpected_total,
    })
}

/// Admissions work for the intake coordinator.
pub struct IntakeCard {
    pub(super) today: Vec<PatientLine>,
    pub(super) this_week: i64,
    pub(super) upcoming: Vec<PatientLine>,
    pub(super) incomplete: Vec<PatientLine>,
    pub(super) incomplete_total: i64,
    pub(super) incomplete_more: i64,
}

/// How long a patient has been in care, or when a future admission starts ("admits in 3 days").
fn since_admission(admitted_on: NaiveDate, today: NaiveDate) -> String {
    match (today - admitted_on).num_days() {
        0 => "admitted today".to_owned(),
        1 => "1 day since admission".to_owned(),
        n if n > 1 => format!("{n} days since admission"),
        _ => admits_in(admitted_on, today),
    }
}

/// "admits today", "admits tomorrow", "admits in N days" for an admission on `day`.
pub fn admits_in(day: NaiveDate, today: NaiveDate) -> String {
    match (day - today).num_days() {
        0 => "admits today".into(),
        1 => "admits tomorrow".into(),
        n if n > 1 => format!("admits in {n} days"),
        n => format!("admitted {} days ago", -n),
    }
}

pub(super) async fn intake(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
) -> Result<IntakeCard, AppError> {
    let grant = state.store.grant::<can::ReadEpisodes>(&staff.actor)?;
    let summary = state.store.intake_summary(&grant, today).await?;
    let line = |a: trellis_storage::dashboard::Admission, what: String| PatientLine {
        patient_id: a.patient_id,
        name: a.patient_name,
        when: view::day(&a.admitted_on),
        what,
        overdue: false,
    };
    Ok(IntakeCard {
        today: summary
            .today
            .into_iter()
            .map(|a| {
                let program = a.program_name.clone();
                line(a, program)
            })
            .collect(),
        this_week: summary.this_week,
        upcoming: summary
            .upcoming
            .into_iter()
            .map(|a| {
                let what = format!("{}, {}", a.program_name, admits_in(a.admitted_on.0, today));
                line(a, what)
            })
            .collect(),
        incomplete_more: summary.incomplete_total
            - i64::try_from(summary.incomplete.len()).unwrap_or(0),
        incomplete: summary
            .incomplete
            .into_iter()
            .map(|a| {
                let what = format!(
                    "no intake assessment, {}",
                    admits_in(a.admitted_on.0, today)
                );
                line(a, what)
            })
            .collect(),
        incomplete_total: summary.incomplete_total,
    })
}

/// Outreach and follow-up calls due, for peer support.
pub struct OutreachCard {
    pub(super) lines: Vec<PatientLine>,
    pub(super) total: i64,
    pub(super) more: i64,
}

pub(super) async fn outreach(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
) -> Result<OutreachCard, AppError> {
    let grant = state.store.grant::<can::ReadClinical>(&staff.actor)?;
    let (total, due) = state.store.outreach_due(&grant, today).await?;
    Ok(OutreachCard {
        more: total - i64::try_from(due.len()).unwrap_or(0),
        lines: due
            .into_iter()
            .map(|t| {
                let what = if t.kind == FOLLOW_UP_TASK_KIND {
                    "Follow-up call after discharge"
                } else {
                    "Absence outreach"
                };
                due_line(t, today, what.into())
            })
            .collect(),
        total,
    })
}

/// An open breach incident on the privacy officer's card: dates only, never its text.
pub struct IncidentLine {
    pub(super) id: i64,
    pub(super) discovered_on: String,
    pub(super) what: &'static str,
    pub(super) deadline: String,
    pub(super) overdue: bool,
}

/// The privacy officer's work: restriction requests to decide and breach incidents still open.
pub struct PrivacyCard {
    pub(super) restrictions_pending: usize,
    pub(super) oldest_request: Option<String>,
    pub(super) incidents: Vec<IncidentLine>,
}

pub(super) async fn privacy(state: &AppState, staff: &Staff) -> Result<PrivacyCard, AppError> {
    let store = &state.store;
    let pending = store
        .pending_restrictions(&store.grant::<can::DecideRestrictions>(&staff.actor)?)
        .await?;
    let incidents = store
        .incidents(&store.grant::<can::KeepBreachRegister>(&staff.actor)?)
        .await?;
    Ok(PrivacyCard {
        restrictions_pending: pending.len(),
        oldest_request: pending
            .iter()
            .map(|r| r.requested_on)
            .min()
            .map(|d| view::day(&Day(d))),
        incidents: incidents
            .into_iter()
            .filter_map(|i| {
                // Open until assessed, and for a breach until every patient has a letter.
                let what = match i.conclusion() {
                    None => "risk assessment to make",
                    Some(BreachConclusion::Breach) if !i.letters_complete => {
                        "letters to patients to send"
                    }
                    Some(_) => return None,
                };
                Some(IncidentLine {
                    id: i.id,
                    discovered_on: view::day(&Day(i.discovered_on)),
                    what,
                    deadline: view::day(&Day(i.deadline)),
                    overdue: i.overdue,
                })
            })
            .collect(),
    })
}

/// A group session on the front desk's card: when, where, how many have arrived.
pub struct SessionLine {
    pub(super) time: String,
    pub(super) track: String,
    pub(super) place: String,
    pub(super) expected: usize,
    pub(super) arrived: usize,
    pub(super) unmarked: usize,
}

/// Today at the front desk: sessions and arrivals, and who is admitted today (names only).
pub struct FrontDeskCard {
    pub(super) site: String,
    pub(super) sessions: Vec<SessionLine>,
    pub(super) expected: usize,
    pub(super) arrived: usize,
    pub(super) admissions: Vec<(i64, String)>,
}

pub(super) async fn front_desk(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
) -> Result<FrontDeskCard, AppError> {
    let store = &state.store;
    let schedule = store.grant::<can::ReadSchedule>(&staff.actor)?;
    // The day sheet's own default: the first site.
    let site = store
        .sites()
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound("site"))?;
    let tz: chrono_tz::Tz = site.timezone.parse().unwrap_or(state.timezone);
    let sessions: Vec<SessionLine> = store
        .day_sheet(&schedule, site.id, today)
        .await?
        .into_iter()
        .map(|s| {
            let g = s.session;
            SessionLine {
                time: format!(
                    "{}–{}",
                    g.starts_at.0.with_timezone(&tz).format("%H:%M"),
                    g.ends_at.0.with_timezone(&tz).format("%H:%M")
                ),
                track: g.track_name,
                place: if g.telehealth {
                    "Telehealth".into()
                } else {
                    g.room_name.unwrap_or_default()
                },
                expected: s.roster.len(),
                arrived: s
                    .roster
                    .iter()
                    .filter(|l| l.status.is_some_and(|st| st.attended()))
                    .count(),
                unmarked: s.roster.iter().filter(|l| l.status.is_none()).count(),
            }
        })
        .collect();
    let demographics = store.grant::<can::ReadDemographics>(&staff.actor)?;
    let admissions = store
        .admissions_on(&demographics, today)
        .await?
        .into_iter()
        .map(|a| (a.patient_id, a.patient_name))
        .collect();
    Ok(FrontDeskCard {
        site: site.name,
        expected: sessions.iter().map(|s| s.expected).sum(),
        arrived: sessions.iter().map(|s| s.arrived).sum(),
        sessions,
        admissions,
    })
}

/// Placeholder counts for billing until the revenue work fills the card.
pub struct BillingCard {
    pub(super) census: i64,
    pub(super) services_this_week: i64,
}

pub(super) async fn billing(
    state: &AppState,
    staff: &Staff,
    today: NaiveDate,
) -> Result<BillingCard, AppError> {
    let grant = state.store.grant::<can::ReadBilling>(&staff.actor)?;
    let summary = state.store.billing_summary(&grant, today).await?;
    Ok(BillingCard {
        census: summary.census,
        services_this_week: summary.services_this_week,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn future_admissions_count_the_days_until_they_start() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("day");
        assert_eq!(admits_in(today, today), "admits today");
        assert_eq!(
            admits_in(today + Duration::days(1), today),
            "admits tomorrow"
        );
        assert_eq!(
            admits_in(today + Duration::days(5), today),
            "admits in 5 days"
        );
        assert_eq!(
            admits_in(today - Duration::days(3), today),
            "admitted 3 days ago"
        );
    }

    #[test]
    fn an_unwritten_plan_before_admission_says_when_the_patient_admits() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("day");
        assert_eq!(since_admission(today, today), "admitted today");
        assert_eq!(
            since_admission(today - Duration::days(4), today),
            "4 days since admission"
        );
        assert_eq!(
            since_admission(today + Duration::days(3), today),
            "admits in 3 days"
        );
    }

    #[test]
    fn task_kinds_read_as_the_clinic_says_them() {
        assert_eq!(
            task_label(FOLLOW_UP_TASK_KIND),
            "Follow-up calls after discharge"
        );
        assert_eq!(task_label("something_new"), "Something new");
    }
}

/// How long the director's count of patients under their weekly minimum is kept.
const UNDER_MINIMUM_KEPT: std::time::Duration = std::time::Duration::from_secs(300);

/// The directors' counts of patients under their weekly minimum last week, kept five minutes
/// per director and week. Counting judges every open episode's week in the network (1,600
/// episodes and 5,000 services on the network data, about 60 ms of CPU); a past week changes
/// only when attendance is corrected late, and the weekly hours page, where the count leads,
/// is always judged afresh.
#[derive(Default)]
pub struct UnderMinimumCounts(
    std::sync::Mutex<HashMap<(i64, NaiveDate), (usize, std::time::Instant)>>,
);

impl UnderMinimumCounts {
    /// The count for this director and week: kept, or counted now (and audited) and kept.
    pub(super) async fn get_or_count(
        &self,
        store: &trellis_storage::Store,
        grant: &trellis_storage::access::Grant<can::ReadSchedule>,
        week: NaiveDate,
    ) -> Result<usize, AppError> {
        let key = (grant.actor().user_id.unwrap_or(0), week);
        let now = std::time::Instant::now();
        if let Some((count, at)) = self.kept().get(&key) {
            if now.duration_since(*at) < UNDER_MINIMUM_KEPT {
                return Ok(*count);
            }
        }
        let count = store.network_hours_under_minimum(grant, week).await?;
        let mut kept = self.kept();
        kept.retain(|_, (_, at)| now.duration_since(*at) < UNDER_MINIMUM_KEPT);
        kept.insert(key, (count, now));
        Ok(count)
    }

    fn kept(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(i64, NaiveDate), (usize, std::time::Instant)>> {
        // A panic while holding the lock cannot leave a half-written count behind.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
