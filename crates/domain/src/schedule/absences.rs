//! Absence follow-up: consecutive unexcused absences call for outreach (TIP 47 treats no-shows as
//! an attrition red flag).

use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use super::attendance::AttendanceStatus;

/// A patient's mark for one session, as given in session order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMark {
    /// The session.
    pub session_id: String,
    /// How the patient attended it.
    pub status: AttendanceStatus,
}

/// When absences call for outreach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutreachRule {
    /// Unexcused absences in a row that call for outreach (default 2).
    pub consecutive_unexcused: NonZeroUsize,
    /// Whether an excused absence ends a run. By default it neither ends nor extends one, because
    /// an excused absence says nothing about engagement either way.
    pub excused_breaks_run: bool,
}

impl Default for OutreachRule {
    fn default() -> Self {
        OutreachRule {
            consecutive_unexcused: NonZeroUsize::MIN.saturating_add(1),
            excused_breaks_run: false,
        }
    }
}

/// A run of unexcused absences long enough to call for outreach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutreachNeeded {
    /// The unexcused absences in the run, in session order.
    pub session_ids: Vec<String>,
    /// Whether the run reaches the patient's latest session (still absent).
    pub ongoing: bool,
    /// Why, in words staff can act on.
    pub reason: String,
}

/// The most recent run of unexcused absences that reaches the rule's threshold, if any.
pub fn outreach_needed(marks: &[SessionMark], rule: &OutreachRule) -> Option<OutreachNeeded> {
    let threshold = rule.consecutive_unexcused.get();
    // The qualifying run and the position of its last absence.
    let mut found: Option<(Vec<&str>, usize)> = None;
    let mut run: Vec<&str> = Vec::new();
    for (i, mark) in marks.iter().enumerate() {
        match mark.status {
            AttendanceStatus::AbsentUnexcused => {
                run.push(&mark.session_id);
                if run.len() >= threshold {
                    found = Some((run.clone(), i));
                }
            }
            AttendanceStatus::AbsentExcused if !rule.excused_breaks_run => {}
            _ => run.clear(),
        }
    }
    let (ids, last) = found?;
    // Still going if nothing after the run ended it (only neutral excused absences follow).
    let ongoing = marks
        .get(last + 1..)
        .unwrap_or_default()
        .iter()
        .all(|m| m.status == AttendanceStatus::AbsentExcused && !rule.excused_breaks_run);
    Some(OutreachNeeded {
        reason: format!(
            "{} unexcused absences in a row{} (outreach after {threshold})",
            ids.len(),
            if ongoing { ", and not back since" } else { "" },
        ),
        session_ids: ids.into_iter().map(str::to_owned).collect(),
        ongoing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttendanceStatus::*;

    fn marks(statuses: &[AttendanceStatus]) -> Vec<SessionMark> {
        statuses
            .iter()
            .enumerate()
            .map(|(i, s)| SessionMark {
                session_id: format!("s{}", i + 1),
                status: *s,
            })
            .collect()
    }

    #[test]
    fn two_no_shows_in_a_row_call_for_outreach() {
        let got = outreach_needed(
            &marks(&[Present, AbsentUnexcused, AbsentUnexcused]),
            &OutreachRule::default(),
        )
        .unwrap();
        assert_eq!(got.session_ids, vec!["s2", "s3"]);
        assert!(got.ongoing);
        assert_eq!(
            got.reason,
            "2 unexcused absences in a row, and not back since (outreach after 2)"
        );
    }

    #[test]
    fn attendance_breaks_a_run() {
        let m = marks(&[AbsentUnexcused, Late, AbsentUnexcused, Present]);
        assert_eq!(outreach_needed(&m, &OutreachRule::default()), None);
    }

    #[test]
    fn the_latest_qualifying_run_is_reported_in_full() {
        let m = marks(&[
            AbsentUnexcused,
            AbsentUnexcused,
            Present,
            AbsentUnexcused,
            AbsentUnexcused,
            AbsentUnexcused,
            LeftEarly,
        ]);
        let got = outreach_needed(&m, &OutreachRule::default()).unwrap();
        assert_eq!(got.session_ids, vec!["s4", "s5", "s6"]);
        assert!(!got.ongoing);
        assert_eq!(
            got.reason,
            "3 unexcused absences in a row (outreach after 2)"
        );
    }

    #[test]
    fn excused_absences_are_neutral_unless_configured() {
        let m = marks(&[
            AbsentUnexcused,
            AbsentExcused,
            AbsentUnexcused,
            AbsentExcused,
        ]);
        let got = outreach_needed(&m, &OutreachRule::default()).unwrap();
        assert_eq!(got.session_ids, vec!["s1", "s3"]);
        assert!(got.ongoing);
        let strict = OutreachRule {
            excused_breaks_run: true,
            ..OutreachRule::default()
        };
        assert_eq!(outreach_needed(&m, &strict), None);
    }

    #[test]
    fn threshold_is_configurable() {
        let three = OutreachRule {
            consecutive_unexcused: NonZeroUsize::new(3).unwrap(),
            ..OutreachRule::default()
        };
        let m = marks(&[AbsentUnexcused, AbsentUnexcused]);
        assert_eq!(outreach_needed(&m, &three), None);
        assert_eq!(OutreachRule::default().consecutive_unexcused.get(), 2);
    }
}
