//! Change since baseline for outcome reporting (REFERENCE §6.2; docs/clinical-rules/measures.md).
//!
//! On every instrument here a higher total means more symptoms or risk, so a negative change is an
//! improvement. Metric choice changes reported improvement rates a lot, so each judgement is named
//! for what it is and applies only where its source says it does:
//! - PHQ-9 response (drop of 50 % or more) and remission (below 5) only from a baseline of 10 or
//!   more, the denominator of NCQA's depression response/remission measure and NQF 0710/1884;
//! - reliable change by the Jacobson–Truax index of each instrument, from a cited SD and
//!   reliability ([`ReliableChangeIndex`]);
//! - PHQ-9 clinically important change: the 5-point MCID of Löwe et al. 2004 (not a reliable
//!   change index);
//! - PCL-5 clinically meaningful change: 10 points (secondary sources only, grade S).
//!
//! GAD-7 response and remission are not reported: no quality measure or validation study defining
//! them was found, so they are [`Applicability::NotDefined`] rather than borrowed from the PHQ-9.

use super::{Instrument, MeasureError};
use serde::{Deserialize, Serialize};
use std::f64::consts::SQRT_2;

/// PHQ-9 response and remission count only from this baseline (NCQA DRR; NQF 0710/1884: > 9).
pub const PHQ9_MEASURED_BASELINE: u16 = 10;
/// PHQ-9 totals below this count as remission (same sources).
const PHQ9_REMISSION_BELOW: u16 = 5;
/// PHQ-9 minimal clinically important difference (Löwe et al., Med Care 2004).
const PHQ9_MCID_POINTS: i32 = 5;
/// PCL-5 change counted as clinically meaningful (REFERENCE §1.5, secondary sources, grade S).
const PCL5_MEANINGFUL_POINTS: i32 = 10;
/// |RC| above this is reliable change at p < .05 (Jacobson & Truax 1991).
pub const RELIABLE_CHANGE_CRITERION: f64 = 1.96;

/// Whether a rule reaches a result for this pair of scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", content = "result", rename_all = "snake_case")]
pub enum Applicability<T> {
    /// The rule applies; its result.
    Applies(T),
    /// The instrument has this rule, but it cannot be applied here, for this reason.
    NotApplicable(NotApplicableReason),
    /// The instrument has no such rule.
    NotDefined,
}

impl<T: Copy> Applicability<T> {
    /// The result, when the rule applies.
    pub fn result(&self) -> Option<T> {
        match self {
            Applicability::Applies(value) => Some(*value),
            _ => None,
        }
    }
}

/// Why a rule the instrument has does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotApplicableReason {
    /// PHQ-9 response and remission are measured only from a baseline of 10 or more.
    BaselineBelow10,
    /// No normative SD for the instrument could be confirmed, so no reliable change index.
    NoConfirmedNormativeSd,
}

impl NotApplicableReason {
    /// The reason in the clinic's words.
    pub fn label(self) -> &'static str {
        match self {
            NotApplicableReason::BaselineBelow10 => "baseline below 10",
            NotApplicableReason::NoConfirmedNormativeSd => {
                "no confirmed normative standard deviation for this instrument"
            }
        }
    }
}

/// Which way a change crossed a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeDirection {
    /// Fewer symptoms, beyond the threshold.
    Improved,
    /// More symptoms, beyond the threshold.
    Worsened,
    /// Within the threshold.
    Unchanged,
}

impl ChangeDirection {
    /// Classifies a change in points against a threshold that counts when reached.
    fn at_least(points: i32, threshold: i32) -> Self {
        if points <= -threshold {
            ChangeDirection::Improved
        } else if points >= threshold {
            ChangeDirection::Worsened
        } else {
            ChangeDirection::Unchanged
        }
    }
}

/// A Jacobson–Truax reliable change result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliableChange {
    /// RC = (current − baseline) / S_diff.
    pub index: f64,
    /// Improved or worsened when |RC| > 1.96, otherwise unchanged.
    pub direction: ChangeDirection,
    /// The smallest change in points that is reliable on this instrument.
    pub min_points: u16,
}

/// Where a published figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Citation {
    /// Authors, year and journal.
    pub source: &'static str,
    /// The sample the figure describes.
    pub sample: &'static str,
}

/// A normative standard deviation as published: either one figure, or by sex, in which case the
/// whole-sample SD is pooled from the published subgroup means and SDs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NormativeSd {
    /// One SD for the whole sample.
    Reported(f64),
    /// Women's and men's mean and SD with the share of women in the sample.
    BySex {
        /// Share of women in the sample (0–1).
        female_share: f64,
        /// Women's (mean, SD).
        female: (f64, f64),
        /// Men's (mean, SD).
        male: (f64, f64),
    },
}

impl NormativeSd {
    /// The whole-sample SD: total variance = within-group variance + between-group variance.
    pub fn value(self) -> f64 {
        match self {
            NormativeSd::Reported(sd) => sd,
            NormativeSd::BySex {
                female_share,
                female: (female_mean, female_sd),
                male: (male_mean, male_sd),
            } => {
                let male_share = 1.0 - female_share;
                let mean = female_share * female_mean + male_share * male_mean;
                let variance = female_share * (female_sd.powi(2) + (female_mean - mean).powi(2))
                    + male_share * (male_sd.powi(2) + (male_mean - mean).powi(2));
                variance.sqrt()
            }
        }
    }
}

/// The figures behind an instrument's Jacobson–Truax reliable change index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliableChangeIndex {
    /// Instrument.
    pub instrument: Instrument,
    /// Normative standard deviation of the total.
    pub sd: NormativeSd,
    /// Where the SD comes from.
    pub sd_source: Citation,
    /// Reliability of the total (r).
    pub reliability: f64,
    /// What kind of reliability, and where it comes from.
    pub reliability_source: Citation,
}

impl ReliableChangeIndex {
    /// S_diff = √2 · SD · √(1 − r), the standard error of a difference between two scores.
    pub fn s_diff(&self) -> f64 {
        SQRT_2 * self.sd.value() * (1.0 - self.reliability).sqrt()
    }

    /// RC for a change in points.
    pub fn index(&self, points: i32) -> f64 {
        f64::from(points) / self.s_diff()
    }

    /// The smallest whole-point change whose |RC| exceeds 1.96.
    pub fn min_points(&self) -> u16 {
        let threshold = RELIABLE_CHANGE_CRITERION * self.s_diff();
        // Totals are whole points: the first integer strictly above the threshold.
        (1..=u16::MAX)
            .find(|&p| f64::from(p) > threshold)
            .unwrap_or(u16::MAX)
    }

    /// Classifies a change.
    pub fn judge(&self, points: i32) -> ReliableChange {
        let index = self.index(points);
        let direction = if index < -RELIABLE_CHANGE_CRITERION {
            ChangeDirection::Improved
        } else if index > RELIABLE_CHANGE_CRITERION {
            ChangeDirection::Worsened
        } else {
            ChangeDirection::Unchanged
        };
        ReliableChange {
            index,
            direction,
            min_points: self.min_points(),
        }
    }
}

/// PHQ-9: SD pooled from the German general-population standardisation sample (n = 5,018,
/// 53.6 % women; women 3.1 (SD 3.5), men 2.7 (SD 3.5)); reliability = internal consistency
/// α = 0.89 from the PHQ-9 validation study. The often-quoted test–retest r = 0.84 (Kroenke
/// 2001) could not be confirmed in the copies read, so α is used.
const PHQ9_RCI: ReliableChangeIndex = ReliableChangeIndex {
    instrument: Instrument::Phq9,
    sd: NormativeSd::BySex {
        female_share: 0.536,
        female: (3.1, 3.5),
        male: (2.7, 3.5),
    },
    sd_source: Citation {
        source: "Kocalevent, Hinz & Brähler 2013, General Hospital Psychiatry 35(5):551–555",
        sample: "German general population, n = 5,018",
    },
    reliability: 0.89,
    reliability_source: Citation {
        source: "Kroenke, Spitzer & Williams 2001, Journal of General Internal Medicine 16:606–613",
        sample: "internal consistency (Cronbach's α), US primary care patients",
    },
};

/// GAD-7: SD pooled from the German general-population standardisation sample (n = 5,030,
/// 53.6 % women; women 3.2 (SD 3.5), men 2.7 (SD 3.2)); reliability = that sample's α = 0.89.
/// Spitzer 2006 (α = 0.92, test–retest 0.83) was seen only in secondary summaries.
const GAD7_RCI: ReliableChangeIndex = ReliableChangeIndex {
    instrument: Instrument::Gad7,
    sd: NormativeSd::BySex {
        female_share: 0.536,
        female: (3.2, 3.5),
        male: (2.7, 3.2),
    },
    sd_source: Citation {
        source: "Löwe et al. 2008, Medical Care 46(3):266–274",
        sample: "German general population, n = 5,030",
    },
    reliability: 0.89,
    reliability_source: Citation {
        source: "Löwe et al. 2008, Medical Care 46(3):266–274",
        sample: "internal consistency (Cronbach's α), same sample",
    },
};

/// The instrument's reliable change index, where its figures could be confirmed. The PCL-5's
/// reliability is published (Blevins et al. 2015: α = .94, test–retest r = .82) but no normative
/// SD from an identifiable sample was found, so it has none.
pub fn reliable_change_index(instrument: Instrument) -> Option<ReliableChangeIndex> {
    match instrument {
        Instrument::Phq9 => Some(PHQ9_RCI),
        Instrument::Gad7 => Some(GAD7_RCI),
        _ => None,
    }
}

/// How a total moved between baseline and now, judged by each rule the instrument has.
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
    /// PHQ-9: total dropped by 50 % or more, from a baseline of 10 or more.
    pub response: Applicability<bool>,
    /// PHQ-9: current total below 5, from a baseline of 10 or more.
    pub remission: Applicability<bool>,
    /// PHQ-9, GAD-7: Jacobson–Truax reliable change; PCL-5: not applicable (no confirmed SD).
    pub reliable_change: Applicability<ReliableChange>,
    /// PHQ-9: change of at least the 5-point MCID (Löwe et al. 2004).
    pub clinically_important_change: Applicability<ChangeDirection>,
    /// PCL-5: change of at least 10 points (grade S).
    pub meaningful_change: Applicability<ChangeDirection>,
}

impl Change {
    /// Each judgement as one phrase for the chart and the discharge summary, in a fixed order.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        match (self.response, self.remission) {
            (Applicability::NotApplicable(r), Applicability::NotApplicable(_)) => {
                out.push(format!(
                    "response and remission not applicable: {}",
                    r.label()
                ));
            }
            (response, remission) => {
                if response.result() == Some(true) {
                    out.push("response (50% or more lower)".to_owned());
                }
                if remission.result() == Some(true) {
                    out.push("remission (below 5)".to_owned());
                }
            }
        }
        match self.reliable_change {
            Applicability::Applies(rc) => out.push(match rc.direction {
                ChangeDirection::Improved => {
                    format!("reliable improvement ({} points or more)", rc.min_points)
                }
                ChangeDirection::Worsened => {
                    format!("reliable worsening ({} points or more)", rc.min_points)
                }
                ChangeDirection::Unchanged => {
                    format!("no reliable change (needs {} points)", rc.min_points)
                }
            }),
            Applicability::NotApplicable(r) => {
                out.push(format!("reliable change not assessed: {}", r.label()));
            }
            Applicability::NotDefined => {}
        }
        if let Some(d) = self.clinically_important_change.result() {
            out.push(
                match d {
                    ChangeDirection::Improved => "clinically important improvement (MCID 5)",
                    ChangeDirection::Worsened => "clinically important worsening (MCID 5)",
                    ChangeDirection::Unchanged => "below the clinically important change (MCID 5)",
                }
                .to_owned(),
            );
        }
        if let Some(d) = self.meaningful_change.result() {
            out.push(
                match d {
                    ChangeDirection::Improved => "clinically meaningful improvement (10 points)",
                    ChangeDirection::Worsened => "clinically meaningful worsening (10 points)",
                    ChangeDirection::Unchanged => "below the clinically meaningful 10 points",
                }
                .to_owned(),
            );
        }
        out
    }
}

/// How change on the instrument is judged, with the sources, for a note beside the figures;
/// `None` for instruments whose change is reported in points only.
pub fn how_change_is_judged(instrument: Instrument) -> Option<String> {
    let rci = |i: ReliableChangeIndex| {
        format!(
            "Reliable change (Jacobson & Truax 1991): {} points or more, from SD {:.2} ({}; {}) \
             and reliability {:.2} ({}; {}).",
            i.min_points(),
            i.sd.value(),
            i.sd_source.source,
            i.sd_source.sample,
            i.reliability,
            i.reliability_source.source,
            i.reliability_source.sample
        )
    };
    match instrument {
        Instrument::Phq9 => Some(format!(
            "PHQ-9: response (50% or more lower) and remission (below 5) are counted only from a \
             baseline of 10 or more, as in NCQA's depression response/remission measure and NQF \
             0710/1884. {} Clinically important change: 5 points, the minimal clinically \
             important difference (Löwe et al. 2004, Medical Care).",
            rci(PHQ9_RCI)
        )),
        Instrument::Gad7 => Some(format!(
            "GAD-7: {} No published GAD-7 response or remission measure was found, so none is \
             reported.",
            rci(GAD7_RCI)
        )),
        Instrument::Pcl5 => Some(
            "PCL-5: clinically meaningful change is 10 points (secondary sources, grade S). No \
             reliable change is reported: the reliability is published (Blevins et al. 2015, \
             Journal of Traumatic Stress) but no normative SD could be confirmed."
                .to_owned(),
        ),
        _ => None,
    }
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
    let (response, remission, clinically_important_change) = if instrument == Instrument::Phq9 {
        let (response, remission) = if baseline_total >= PHQ9_MEASURED_BASELINE {
            // Integer comparison so that exactly 50 % counts, without floating-point doubt.
            (
                Applicability::Applies(current_total * 2 <= baseline_total),
                Applicability::Applies(current_total < PHQ9_REMISSION_BELOW),
            )
        } else {
            let na = Applicability::NotApplicable(NotApplicableReason::BaselineBelow10);
            (na, na)
        };
        (
            response,
            remission,
            Applicability::Applies(ChangeDirection::at_least(points, PHQ9_MCID_POINTS)),
        )
    } else {
        (
            Applicability::NotDefined,
            Applicability::NotDefined,
            Applicability::NotDefined,
        )
    };
    let reliable_change = match (reliable_change_index(instrument), instrument) {
        (Some(rci), _) => Applicability::Applies(rci.judge(points)),
        (None, Instrument::Pcl5) => {
            Applicability::NotApplicable(NotApplicableReason::NoConfirmedNormativeSd)
        }
        (None, _) => Applicability::NotDefined,
    };
    let meaningful_change = if instrument == Instrument::Pcl5 {
        Applicability::Applies(ChangeDirection::at_least(points, PCL5_MEANINGFUL_POINTS))
    } else {
        Applicability::NotDefined
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
        clinically_important_change,
        meaningful_change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(instrument: Instrument, baseline: u16, current: u16) -> Change {
        change_since_baseline(instrument, baseline, current).unwrap()
    }

    fn reliable(c: &Change) -> Option<ChangeDirection> {
        c.reliable_change.result().map(|r| r.direction)
    }

    #[test]
    fn phq9_minimal_baseline_is_never_remission() {
        // The reviewed error: 3 → 3 was reported as remission.
        let c = change(Instrument::Phq9, 3, 3);
        let na = Applicability::NotApplicable(NotApplicableReason::BaselineBelow10);
        assert_eq!(c.response, na);
        assert_eq!(c.remission, na);
        assert_eq!(
            c.findings(),
            vec![
                "response and remission not applicable: baseline below 10",
                "no reliable change (needs 4 points)",
                "below the clinically important change (MCID 5)",
            ]
        );
    }

    #[test]
    fn phq9_moderate_baseline_to_minimal_is_response_and_remission() {
        let c = change(Instrument::Phq9, 12, 4);
        assert_eq!(c.points, -8);
        assert_eq!(c.response, Applicability::Applies(true));
        assert_eq!(c.remission, Applicability::Applies(true));
        assert_eq!(reliable(&c), Some(ChangeDirection::Improved));
        assert_eq!(
            c.clinically_important_change,
            Applicability::Applies(ChangeDirection::Improved)
        );
        assert_eq!(
            c.findings(),
            vec![
                "response (50% or more lower)",
                "remission (below 5)",
                "reliable improvement (4 points or more)",
                "clinically important improvement (MCID 5)",
            ]
        );
    }

    #[test]
    fn phq9_baseline_boundary_is_ten() {
        let nine = change(Instrument::Phq9, 9, 4);
        assert_eq!(
            nine.remission,
            Applicability::NotApplicable(NotApplicableReason::BaselineBelow10)
        );
        assert_eq!(
            nine.response,
            Applicability::NotApplicable(NotApplicableReason::BaselineBelow10)
        );
        let ten = change(Instrument::Phq9, 10, 4);
        assert_eq!(ten.remission, Applicability::Applies(true));
        assert_eq!(ten.response, Applicability::Applies(true));
    }

    #[test]
    fn phq9_response_and_remission_boundaries() {
        assert_eq!(
            change(Instrument::Phq9, 15, 7).response,
            Applicability::Applies(true)
        );
        assert_eq!(
            change(Instrument::Phq9, 15, 8).response,
            Applicability::Applies(false)
        );
        assert_eq!(
            change(Instrument::Phq9, 10, 5).response,
            Applicability::Applies(true)
        );
        assert_eq!(
            change(Instrument::Phq9, 10, 6).response,
            Applicability::Applies(false)
        );
        assert_eq!(
            change(Instrument::Phq9, 12, 5).remission,
            Applicability::Applies(false)
        );
        let halved = change(Instrument::Phq9, 20, 10);
        assert_eq!(halved.percent, Some(-50.0));
        assert_eq!(halved.meaningful_change, Applicability::NotDefined);
    }

    #[test]
    fn rci_thresholds_are_recomputed_from_sd_and_reliability() {
        // PHQ-9: pooled SD from women 3.1 (3.5), men 2.7 (3.5), 53.6 % women.
        let mean: f64 = 0.536 * 3.1 + 0.464 * 2.7;
        let variance = 0.536 * (3.5f64.powi(2) + (3.1 - mean).powi(2))
            + 0.464 * (3.5f64.powi(2) + (2.7 - mean).powi(2));
        let phq9 = reliable_change_index(Instrument::Phq9).unwrap();
        assert!((phq9.sd.value() - variance.sqrt()).abs() < 1e-12);
        assert!((phq9.sd.value() - 3.5057).abs() < 1e-3);
        let s_diff = 2f64.sqrt() * variance.sqrt() * (1.0f64 - 0.89).sqrt();
        assert!((phq9.s_diff() - s_diff).abs() < 1e-12);
        // 1.96 × 1.644 = 3.22 points: a change of 4 whole points is the first reliable one.
        assert!((1.96 * s_diff - 3.2228).abs() < 1e-3);
        assert_eq!(phq9.min_points(), 4);

        let gad7 = reliable_change_index(Instrument::Gad7).unwrap();
        assert!((gad7.sd.value() - 3.3734).abs() < 1e-3);
        assert!((1.96 * gad7.s_diff() - 3.1012).abs() < 1e-3);
        assert_eq!(gad7.min_points(), 4);

        // A single reported SD is used as is; the index is points over S_diff.
        let plain = ReliableChangeIndex {
            sd: NormativeSd::Reported(10.0),
            reliability: 0.75,
            ..phq9
        };
        assert!((plain.s_diff() - 2f64.sqrt() * 5.0).abs() < 1e-12);
        assert!((plain.index(-7) + 7.0 / (2f64.sqrt() * 5.0)).abs() < 1e-12);
        assert_eq!(plain.min_points(), 14);
        assert_eq!(reliable_change_index(Instrument::Pcl5), None);
        assert_eq!(reliable_change_index(Instrument::Audit), None);
    }

    #[test]
    fn reliable_change_boundary_both_ways() {
        assert_eq!(
            reliable(&change(Instrument::Phq9, 14, 10)),
            Some(ChangeDirection::Improved)
        );
        assert_eq!(
            reliable(&change(Instrument::Phq9, 14, 11)),
            Some(ChangeDirection::Unchanged)
        );
        assert_eq!(
            reliable(&change(Instrument::Phq9, 9, 13)),
            Some(ChangeDirection::Worsened)
        );
        assert_eq!(
            reliable(&change(Instrument::Phq9, 9, 12)),
            Some(ChangeDirection::Unchanged)
        );
        let rc = change(Instrument::Phq9, 14, 10)
            .reliable_change
            .result()
            .unwrap();
        assert!(rc.index < -1.96 && rc.index > -2.5, "{}", rc.index);
    }

    #[test]
    fn gad7_is_judged_by_its_own_index_not_by_five_points() {
        // A 4-point drop: reliable on the GAD-7 index, below the old fixed 5 points.
        let c = change(Instrument::Gad7, 12, 8);
        assert_eq!(c.points, -4);
        assert_eq!(reliable(&c), Some(ChangeDirection::Improved));
        // The PHQ-9 MCID and PHQ-9 response/remission are not borrowed for the GAD-7.
        assert_eq!(c.clinically_important_change, Applicability::NotDefined);
        assert_eq!(c.response, Applicability::NotDefined);
        assert_eq!(c.remission, Applicability::NotDefined);
        assert_eq!(
            c.findings(),
            vec!["reliable improvement (4 points or more)"]
        );
        let three = change(Instrument::Gad7, 12, 9);
        assert_eq!(reliable(&three), Some(ChangeDirection::Unchanged));
        // A large drop to a minimal score is still not called remission on the GAD-7.
        let big = change(Instrument::Gad7, 16, 4);
        assert_eq!(big.percent, Some(-75.0));
        assert_eq!(big.remission, Applicability::NotDefined);
    }

    #[test]
    fn pcl5_meaningful_change_and_no_reliable_index() {
        let c = change(Instrument::Pcl5, 50, 40);
        assert_eq!(
            c.meaningful_change,
            Applicability::Applies(ChangeDirection::Improved)
        );
        assert_eq!(
            c.reliable_change,
            Applicability::NotApplicable(NotApplicableReason::NoConfirmedNormativeSd)
        );
        assert_eq!(c.percent, Some(-20.0));
        assert_eq!(
            change(Instrument::Pcl5, 50, 41).meaningful_change,
            Applicability::Applies(ChangeDirection::Unchanged)
        );
        assert_eq!(
            change(Instrument::Pcl5, 30, 40).meaningful_change,
            Applicability::Applies(ChangeDirection::Worsened)
        );
        assert_eq!(
            c.findings(),
            vec![
                "reliable change not assessed: no confirmed normative standard deviation for \
                 this instrument",
                "clinically meaningful improvement (10 points)",
            ]
        );
    }

    #[test]
    fn zero_baseline_has_no_percent() {
        let c = change(Instrument::Phq9, 0, 0);
        assert_eq!(c.points, 0);
        assert_eq!(c.percent, None);
        assert_eq!(
            c.remission,
            Applicability::NotApplicable(NotApplicableReason::BaselineBelow10)
        );
    }

    #[test]
    fn other_totals_report_points_and_percent_only() {
        let c = change(Instrument::Audit, 20, 8);
        assert_eq!(c.points, -12);
        assert_eq!(c.percent, Some(-60.0));
        for rule in [c.response, c.remission] {
            assert_eq!(rule, Applicability::NotDefined);
        }
        assert_eq!(c.reliable_change, Applicability::NotDefined);
        assert!(c.findings().is_empty());
        assert_eq!(how_change_is_judged(Instrument::Audit), None);
    }

    #[test]
    fn the_method_note_names_its_sources_and_thresholds() {
        let phq9 = how_change_is_judged(Instrument::Phq9).unwrap();
        for needle in [
            "baseline of 10 or more",
            "NQF 0710/1884",
            "4 points or more",
            "Kocalevent, Hinz & Brähler 2013",
            "Kroenke, Spitzer & Williams 2001",
            "Löwe et al. 2004",
        ] {
            assert!(phq9.contains(needle), "{needle}: {phq9}");
        }
        let gad7 = how_change_is_judged(Instrument::Gad7).unwrap();
        assert!(gad7.contains("Löwe et al. 2008") && gad7.contains("SD 3.37"));
        assert!(how_change_is_judged(Instrument::Pcl5)
            .unwrap()
            .contains("grade S"));
    }

    #[test]
    fn the_clinical_rules_page_states_the_computed_thresholds() {
        let doc = include_str!("../../../../docs/clinical-rules/measures.md");
        for instrument in [Instrument::Phq9, Instrument::Gad7] {
            let rci = reliable_change_index(instrument).unwrap();
            let row = doc
                .lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "| {} | {:.2}, pooled",
                        instrument.name(),
                        rci.sd.value()
                    ))
                })
                .unwrap_or_else(|| panic!("no row for {instrument} with its SD"));
            assert!(
                row.contains(&format!(
                    "**{} points** (1.96 · S_diff = {:.2})",
                    rci.min_points(),
                    1.96 * rci.s_diff()
                )),
                "{row}"
            );
        }
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
