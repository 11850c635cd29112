//! The chart's overview tab: one screen that tells the episode's story (level and phase,
//! diagnoses, medications, what is coming up, this week's hours, last scores, flags and tasks,
//! the plan and its review, consents in force). Each part is read only with the grant of a role
//! that may see it (docs/minimum-necessary.md): front desk and billing see the schedule part.

use chrono::{Datelike, Duration, NaiveDate};
use trellis_domain::measures::score_trend;
use trellis_domain::schedule::appointments::AppointmentKind;
use trellis_domain::schedule::hours::{weeks_under_minimum, WeekStanding};
use trellis_storage::access::can;
use trellis_storage::chart_overview::UpcomingService;
use trellis_storage::tasks::Task;

use super::schedule::{hours, WEEKS_SHOWN};
use crate::error::AppError;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// How many sessions and appointments the overview lists.
const NEXT_SHOWN: usize = 5;

/// A line with an optional badge: text, and (badge label, tone) when there is one.
pub struct Line {
    /// What the line says.
    pub text: String,
    /// Where it links, if anywhere.
    pub href: Option<String>,
    /// A badge after it: label and tone (`ok`, `warn`, `flag`, `overdue`).
    pub badge: Option<(String, &'static str)>,
}

impl Line {
    fn plain(text: String) -> Line {
        Line {
            text,
            href: None,
            badge: None,
        }
    }
}

/// The clinical part: only for roles that read the clinical record.
pub struct ClinicalSummary {
    /// "Phase 2 since Nov 3, 2026", when the program has phases.
    pub phase: Option<String>,
    /// Active diagnoses, primary first.
    pub diagnoses: Vec<Line>,
    /// Medications not stopped.
    pub medications: Vec<Line>,
    /// The latest score per instrument with its direction.
    pub scores: Vec<Line>,
    /// Open tasks, soonest due first.
    pub tasks: Vec<Line>,
    /// The goals of the plan in force, in the patient's words.
    pub goals: Vec<String>,
    /// The plan line: version and review date, or that there is none signed.
    pub plan: Line,
}

/// The schedule part: for every role that reads the schedule.
pub struct ScheduleSummary {
    /// The program's weekly minimum ("9 h"), if the patient has an open episode.
    pub minimum: Option<String>,
    /// Hours so far this week.
    pub this_week: String,
    /// Hours still scheduled this week (sessions and appointments not yet marked).
    pub still_scheduled: String,
    /// Whether what is done plus what is scheduled falls short of the minimum.
    pub short: bool,
    /// Last week's hours and its standing.
    pub last_week: Option<Line>,
    /// Whole weeks in a row under the minimum, counting back from last week.
    pub weeks_under: usize,
    /// The next sessions and appointments.
    pub next: Vec<Line>,
}

/// The overview tab's content.
pub struct OverviewTab {
    /// Level, admission and phase facts for roles that read episodes.
    pub care: Vec<(&'static str, String)>,
    /// Clinical summary (clinical roles).
    pub clinical: Option<ClinicalSummary>,
    /// Schedule summary (roles that read the schedule).
    pub schedule: Option<ScheduleSummary>,
    /// Consents in force (roles that manage consents).
    pub consents: Option<Vec<Line>>,
}

fn appointment_label(code: &str) -> String {
    code.parse::<AppointmentKind>()
        .map(|k| k.label().to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

fn upcoming_line(u: &UpcomingService, state: &AppState) -> Line {
    let what = if u.is_group() {
        format!("{} (group)", u.what)
    } else {
        appointment_label(&u.what)
    };
    Line::plain(format!(
        "{}: {what}, {} min",
        u.starts_at
            .0
            .with_timezone(&state.timezone)
            .format("%a %b %-d, %H:%M"),
        u.minutes
    ))
}

/// The Sunday that ends the week of `today` (weeks run Monday to Sunday).
fn week_end(today: NaiveDate) -> NaiveDate {
    today + Duration::days(6 - i64::from(today.weekday().num_days_from_monday()))
}

async fn schedule_summary(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    today: NaiveDate,
) -> Result<Option<ScheduleSummary>, AppError> {
    let Some(grant) = state
        .store
        .patient_grant_if_role::<can::ReadSchedule>(&staff.actor, patient_id)
        .await?
    else {
        return Ok(None);
    };
    let store = &state.store;
    let hours_read = store.patient_hours(&grant, today, WEEKS_SHOWN).await?;
    // A fortnight ahead, so a patient between groups still sees what comes next.
    let upcoming = store
        .upcoming_services(&grant, today, today + Duration::days(14))
        .await?;
    let end = week_end(today);
    let scheduled: i64 = upcoming
        .iter()
        .filter(|u| u.local_date.0 <= end)
        .map(|u| u.minutes)
        .sum();
    let scheduled = u32::try_from(scheduled).unwrap_or(0);
    let this_week = hours_read
        .weeks
        .last()
        .filter(|w| w.standing == WeekStanding::InProgress)
        .map_or(0, |w| w.minutes);
    let minimum = hours_read.policy.map(|p| p.weekly_minimum_minutes);
    let last_week = hours_read
        .weeks
        .iter()
        .rev()
        .nth(1)
        .filter(|w| w.standing != WeekStanding::NotInCare)
        .map(|w| Line {
            text: format!("Last week: {}", hours(w.minutes)),
            href: None,
            badge: Some((
                w.standing.label().to_owned(),
                if w.standing.is_under() { "flag" } else { "ok" },
            )),
        });
    Ok(Some(ScheduleSummary {
        minimum: minimum.filter(|m| *m > 0).map(hours),
        this_week: hours(this_week),
        still_scheduled: hours(scheduled),
        short: minimum.is_some_and(|m| m > 0 && this_week + scheduled < m),
        last_week,
        weeks_under: weeks_under_minimum(&hours_read.weeks),
        next: upcoming
            .iter()
            .take(NEXT_SHOWN)
            .map(|u| upcoming_line(u, state))
            .collect(),
    }))
}

async fn clinical_summary(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    today: NaiveDate,
) -> Result<Option<ClinicalSummary>, AppError> {
    let Some(grant) = state
        .store
        .patient_grant_if_role::<can::ReadClinical>(&staff.actor, patient_id)
        .await?
    else {
        return Ok(None);
    };
    let store = &state.store;
    let phase = store
        .current_phase(&grant)
        .await?
        .map(|(name, since)| format!("{name} since {}", view::day(&since)));
    let diagnoses = store
        .diagnoses(&grant)
        .await?
        .into_iter()
        .filter(|d| d.resolved_on.is_none())
        .map(|d| Line {
            text: format!("{} {}", d.code, d.description),
            href: None,
            badge: d.primary.then(|| ("primary".to_owned(), "")),
        })
        .collect();
    let medications = store
        .active_medications(&grant)
        .await?
        .into_iter()
        .map(|m| Line {
            text: format!("{}, {} {}", m.name, m.dose, m.frequency),
            href: None,
            badge: m.moud.then(|| ("MOUD".to_owned(), "")),
        })
        .collect();
    let scores = store
        .latest_scores(&grant)
        .await?
        .into_iter()
        .map(|s| {
            let total = s.total.map(|t| format!(" {t}")).unwrap_or_default();
            let trend = s.total.zip(s.previous_total).map(|(latest, previous)| {
                let trend = score_trend(previous, latest);
                let tone = match trend {
                    trellis_domain::measures::ScoreTrend::Better => "ok",
                    trellis_domain::measures::ScoreTrend::Worse => "flag",
                    trellis_domain::measures::ScoreTrend::Same => "",
                };
                (format!("{} (was {previous})", trend.label()), tone)
            });
            Line {
                text: format!(
                    "{}{total}, {} ({})",
                    s.instrument.name(),
                    s.band_label,
                    view::day(&s.administered_on)
                ),
                href: None,
                badge: trend,
            }
        })
        .collect();
    let tasks = task_lines(store.open_patient_tasks(&grant).await?, today);
    let plan = store.current_plan(&grant).await?;
    let goals = plan
        .iter()
        .flat_map(|p| p.content.problems.iter())
        .flat_map(|p| p.goals.iter().map(|g| g.text.clone()))
        .collect();
    let plan_href = Some(format!("/patients/{patient_id}/treatment-plan"));
    let plan = match plan {
        Some(p) => Line {
            text: match &p.review_due_on {
                Some(d) => format!("Version {}, review due {}", p.version, view::day(d)),
                None => format!("Version {}", p.version),
            },
            href: plan_href,
            badge: p
                .review_overdue(today)
                .then(|| ("review overdue".to_owned(), "overdue")),
        },
        None => Line {
            text: "No signed plan yet".into(),
            href: plan_href,
            badge: None,
        },
    };
    Ok(Some(ClinicalSummary {
        phase,
        diagnoses,
        medications,
        scores,
        tasks,
        goals,
        plan,
    }))
}

/// One line per piece of work: a flag's copies (its counselor's and, for high risk, the
/// clinical directors') are one line naming who holds it, not the same words twice.
fn task_lines(tasks: Vec<Task>, today: NaiveDate) -> Vec<Line> {
    let mut groups: Vec<Vec<Task>> = Vec::new();
    for t in tasks {
        match groups
            .iter_mut()
            .find(|g| t.flag_id.is_some() && g[0].flag_id == t.flag_id)
        {
            Some(group) => group.push(t),
            None => groups.push(vec![t]),
        }
    }
    groups
        .into_iter()
        .map(|group| {
            let t = &group[0];
            let due = group.iter().filter_map(|t| t.due_on.as_ref()).min();
            let mut text = match due {
                Some(d) => format!("{}, due {}", t.title, view::day(d)),
                None => t.title.clone(),
            };
            if group.len() > 1 {
                let holders: Vec<String> = group
                    .iter()
                    .map(|t| match &t.assigned_role {
                        Some(role) => view::role(role).to_lowercase(),
                        None => "counselor".to_owned(),
                    })
                    .collect();
                text.push_str(&format!(" (with the {})", holders.join(" and the ")));
            }
            Line {
                text,
                href: Some(format!("/tasks#task{}", t.id)),
                badge: due
                    .is_some_and(|d| d.0 < today)
                    .then(|| ("overdue".to_owned(), "overdue")),
            }
        })
        .collect()
}

async fn consents_in_force(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
) -> Result<Option<Vec<Line>>, AppError> {
    let Some(grant) = state
        .store
        .patient_grant_if_role::<can::ManageConsents>(&staff.actor, patient_id)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        state
            .store
            .consents(&grant)
            .await?
            .into_iter()
            .filter(|c| c.state == "active")
            .map(|c| Line {
                text: c
                    .consent
                    .recipients
                    .iter()
                    .map(|r| r.describe().to_owned())
                    .collect::<Vec<_>>()
                    .join("; "),
                href: Some(format!("/patients/{patient_id}/consents")),
                badge: Some((
                    c.consent
                        .expiry
                        .as_ref()
                        .map(|e| format!("until {e}"))
                        .unwrap_or_else(|| "in force".into()),
                    "ok",
                )),
            })
            .collect(),
    ))
}

/// The overview of `patient_id`'s chart as `staff` may see it. `care` comes from the chart
/// header's episode read, so the overview reads no episode twice.
pub async fn overview(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    care: Vec<(&'static str, String)>,
) -> Result<OverviewTab, AppError> {
    let today = state.today();
    Ok(OverviewTab {
        care,
        clinical: clinical_summary(state, staff, patient_id, today).await?,
        schedule: schedule_summary(state, staff, patient_id, today).await?,
        consents: consents_in_force(state, staff, patient_id).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_ends_on_sunday() {
        let wednesday = NaiveDate::from_ymd_opt(2026, 12, 2).expect("date");
        let sunday = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
        assert_eq!(week_end(wednesday), sunday);
        assert_eq!(week_end(sunday), sunday);
    }

    fn task(id: i64, flag_id: Option<i64>, role: Option<&str>, due: NaiveDate) -> Task {
        Task {
            id,
            patient_id: Some(1),
            patient_name: None,
            flag_id,
            kind: "safety_flag".into(),
            title: format!("Task {}", flag_id.unwrap_or(id)),
            priority: "high".into(),
            assigned_to: role.is_none().then_some(7),
            assigned_role: role.map(str::to_owned),
            due_on: Some(trellis_storage::Day(due)),
            created_at: trellis_storage::Instant::now(),
            completed_at: None,
            outcome: None,
        }
    }

    #[test]
    fn a_flags_copies_are_one_line_naming_who_holds_it() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
        let lines = task_lines(
            vec![
                task(1, Some(9), None, today),
                task(2, Some(9), Some("clinical_director"), today),
                task(3, None, None, today - Duration::days(1)),
                task(4, None, None, today - Duration::days(1)),
            ],
            today,
        );
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Task 9, due Dec 7, 2026 (with the counselor and the clinical director)",
                "Task 3, due Dec 6, 2026",
                "Task 4, due Dec 6, 2026",
            ]
        );
        assert!(lines[0].badge.is_none());
        assert!(lines[1].badge.is_some());
    }
}
