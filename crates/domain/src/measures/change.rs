//! Change since baseline for outcome reporting (REFERENCE §6.2).
//!
//! On every instrument here a higher total means more symptoms or risk, so a negative change is an
//! improvement. Metric choice changes reported improvement rates a lot, so the rules are fixed:
//! PHQ-9 and GAD-7 response = drop of 50 % or more, remission = current total below 5, reliable
//! change = 5 points (PHQ-9 MCID, Löwe 2004; applied to GAD-7 the same way); PCL-5 reliable change
//! = 5 points, clinically meaningful = 10 points.

use super::{Instrument, MeasureError};
use serde::{Deserialize, Serialize};

/// Points of change that count as reliable for PHQ-9, GAD-7 and PCL-5.
const RELIABLE_POINTS: i32 = 5;
/// Points of change on the PCL-5 that count as clinically meaningful.
const PCL5_MEANINGFUL_POINTS: i32 = 10;
/// PHQ-9 and GAD-7 totals below this count as remission.
const REMISSION_BELOW: u16 = 5;

/// Which way a change crossed a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeDirection {
    /// Fewer symptoms by at least the threshold.
    Improved,
    /// More symptoms by at least the threshold.
    Worsened,
    /// Change smaller than the threshold.
    Unchanged,
}

impl ChangeDirection {
    /// Classifies a change in points against a threshold.
    fn of(points: i32, threshold: i32) -> Self {
        if points <= -threshold {
            ChangeDirection::Improved
        } else if points >= threshold {
            ChangeDirection::Worsened
        } else {
            ChangeDirection::Unchanged
        }
    }
}

/// How a total moved between baseline and now; rules that do not apply to the instrument are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Instrument compared.
    pub instrument: Instrument,
    /// Baseline total.
    pub baseline: u16,
    /// Current total.
    pub current: u16,
    /// Current minus baseline (negative = improvement).
    pub points: i32,
    /// Change as a percentage of baseline; `None` when the baseline is 0.
    pub percent: Option<f64>,
    /// PHQ-9/GAD-7: total dropped by 50 % or more (never with a baseline of 0).
    pub response: Option<bool>,
    /// PHQ-9/GAD-7: current total below 5.
    pub remission: Option<bool>,
    /// PHQ-9/GAD-7/PCL-5: change of 5 points or more.
    pub reliable_change: Option<ChangeDirection>,
    /// PCL-5: change of 10 points or more.
    pub meaningful_change: Option<ChangeDirection>,
}

/// Compares a current total with the baseline total of the same instrument.
pub fn change_since_baseline(
    instrument: Instrument,
    baseline_total: u16,
    current_total: u16,
) -> Result<Change, MeasureError> {
    let max = instrument
        .max_total()
        .ok_or(MeasureError::NoTotal { instrument })?;
    for value in [baseline_total, current_total] {
        if value > max {
            return Err(MeasureError::TotalOutOfRange {
                instrument,
                value,
                max,
            });
        }
    }
    let points = i32::from(current_total) - i32::from(baseline_total);
    let percent =
        (baseline_total > 0).then(|| f64::from(points) * 100.0 / f64::from(baseline_total));
    // Integer comparison so that exactly 50 % counts, without floating-point doubt.
    let responded = baseline_total > 0 && current_total * 2 <= baseline_total;
    let (response, remission, reliable_change, meaningful_change) = match instrument {
        Instrument::Phq9 | Instrument::Gad7 => (
            Some(responded),
            Some(current_total < REMISSION_BELOW),
            Some(ChangeDirection::of(points, RELIABLE_POINTS)),
            None,
        ),
        Instrument::Pcl5 => (
            None,
            None,
            Some(ChangeDirection::of(points, RELIABLE_POINTS)),
            Some(ChangeDirection::of(points, PCL5_MEANINGFUL_POINTS)),
        ),
        _ => (None, None, None, None),
    };
    Ok(Change {
        instrument,
        baseline: baseline_total,
        current: current_total,
        points,
        percent,
        response,
        remission,
        reliable_change,
        meaningful_change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(instrument: Instrument, baseline: u16, current: u16) -> Change {
        change_since_baseline(instrument, baseline, current).unwrap()
    }

    #[test]
    fn phq9_halving_is_response_and_reliable() {
        let c = change(Instrument::Phq9, 20, 10);
        assert_eq!(c.points, -10);
        assert_eq!(c.percent, Some(-50.0));
        assert_eq!(c.response, Some(true));
        assert_eq!(c.remission, Some(false));
        assert_eq!(c.reliable_change, Some(ChangeDirection::Improved));
        assert_eq!(c.meaningful_change, None);
    }

    #[test]
    fn phq9_response_boundary() {
        assert_eq!(change(Instrument::Phq9, 15, 7).response, Some(true));
        assert_eq!(change(Instrument::Phq9, 15, 8).response, Some(false));
        assert_eq!(change(Instrument::Phq9, 10, 5).response, Some(true));
        assert_eq!(change(Instrument::Phq9, 10, 6).response, Some(false));
    }

    #[test]
    fn phq9_remission_boundary() {
        assert_eq!(change(Instrument::Phq9, 12, 4).remission, Some(true));
        assert_eq!(change(Instrument::Phq9, 12, 5).remission, Some(false));
    }

    #[test]
    fn phq9_reliable_change_boundary_both_ways() {
        assert_eq!(
            change(Instrument::Phq9, 14, 9).reliable_change,
            Some(ChangeDirection::Improved)
        );
        assert_eq!(
            change(Instrument::Phq9, 14, 10).reliable_change,
            Some(ChangeDirection::Unchanged)
        );
        assert_eq!(
            change(Instrument::Phq9, 9, 14).reliable_change,
            Some(ChangeDirection::Worsened)
        );
        assert_eq!(
            change(Instrument::Phq9, 9, 13).reliable_change,
            Some(ChangeDirection::Unchanged)
        );
    }

    #[test]
    fn zero_baseline_has_no_percent_and_no_response() {
        let c = change(Instrument::Phq9, 0, 0);
        assert_eq!(c.points, 0);
        assert_eq!(c.percent, None);
        assert_eq!(c.response, Some(false));
        assert_eq!(c.remission, Some(true));
        assert_eq!(c.reliable_change, Some(ChangeDirection::Unchanged));
    }

    #[test]
    fn gad7_uses_the_same_rules() {
        let c = change(Instrument::Gad7, 16, 4);
        assert_eq!(c.points, -12);
        assert_eq!(c.percent, Some(-75.0));
        assert_eq!(c.response, Some(true));
        assert_eq!(c.remission, Some(true));
        assert_eq!(c.reliable_change, Some(ChangeDirection::Improved));
        let worse = change(Instrument::Gad7, 8, 12);
        assert_eq!(worse.percent, Some(50.0));
        assert_eq!(worse.response, Some(false));
        assert_eq!(worse.remission, Some(false));
        assert_eq!(worse.reliable_change, Some(ChangeDirection::Unchanged));
    }

    #[test]
    fn pcl5_reliable_and_meaningful_boundaries() {
        let c = change(Instrument::Pcl5, 50, 45);
        assert_eq!(c.reliable_change, Some(ChangeDirection::Improved));
        assert_eq!(c.meaningful_change, Some(ChangeDirection::Unchanged));
        assert_eq!(c.response, None);
        assert_eq!(c.remission, None);
        let c = change(Instrument::Pcl5, 50, 46);
        assert_eq!(c.reliable_change, Some(ChangeDirection::Unchanged));
        let c = change(Instrument::Pcl5, 50, 40);
        assert_eq!(c.meaningful_change, Some(ChangeDirection::Improved));
        assert_eq!(c.percent, Some(-20.0));
        let c = change(Instrument::Pcl5, 50, 41);
        assert_eq!(c.meaningful_change, Some(ChangeDirection::Unchanged));
        let c = change(Instrument::Pcl5, 30, 40);
        assert_eq!(c.meaningful_change, Some(ChangeDirection::Worsened));
    }

    #[test]
    fn other_totals_report_points_and_percent_only() {
        let c = change(Instrument::Audit, 20, 8);
        assert_eq!(c.points, -12);
        assert_eq!(c.percent, Some(-60.0));
        assert_eq!(
            (
                c.response,
                c.remission,
                c.reliable_change,
                c.meaningful_change
            ),
            (None, None, None, None)
        );
    }

    #[test]
    fn rejects_instruments_without_total_and_impossible_totals() {
        assert_eq!(
            change_since_baseline(Instrument::Bam, 1, 2).unwrap_err(),
            MeasureError::NoTotal {
                instrument: Instrument::Bam
            }
        );
        assert_eq!(
            change_since_baseline(Instrument::Cssrs, 0, 0)
                .unwrap_err()
                .to_string(),
            "C-SSRS has no total score, so change since baseline cannot be computed"
        );
        assert_eq!(
            change_since_baseline(Instrument::Phq9, 28, 10)
                .unwrap_err()
                .to_string(),
            "PHQ-9: total 28 is outside the possible range 0–27"
        );
        assert_eq!(
            change_since_baseline(Instrument::Dast10, 3, 11)
                .unwrap_err()
                .to_string(),
            "DAST-10: total 11 is outside the possible range 0–10"
        );
    }
}
