//! PCL-5 (VA National Center for PTSD): twenty items 0–4 over the past month, total 0–80.
//!
//! Two provisional-diagnosis methods can disagree, so both are always reported: a total cut-off
//! (31–33 in general samples, higher in some clinical ones, so it is configurable) and the DSM-5
//! cluster rule. The source gives no empirically derived severity ranges. No LOINC code is given
//! for the total because third-party claims conflict.

use super::form::{validate, AnswerOption, Answers, Form, FormItem};
use super::{Band, Flag, Instrument, MeasureError, MeasureScore, Responses};

/// Default total cut-off for a provisional PTSD diagnosis.
pub const DEFAULT_CUTOFF: u8 = 33;

/// An item rated at least this counts as an endorsed symptom for the DSM-5 rule.
const ENDORSED: u8 = 2;

const OPTIONS: [AnswerOption; 5] = [
    AnswerOption::new(0, "Not at all"),
    AnswerOption::new(1, "A little bit"),
    AnswerOption::new(2, "Moderately"),
    AnswerOption::new(3, "Quite a bit"),
    AnswerOption::new(4, "Extremely"),
];

const ITEMS: [FormItem; 20] = [
    FormItem::new("1", "Intrusive memories", &OPTIONS),
    FormItem::new("2", "Disturbing dreams", &OPTIONS),
    FormItem::new("3", "Reliving the event (flashbacks)", &OPTIONS),
    FormItem::new("4", "Upset by reminders", &OPTIONS),
    FormItem::new("5", "Physical reactions to reminders", &OPTIONS),
    FormItem::new("6", "Avoiding memories, thoughts or feelings", &OPTIONS),
    FormItem::new("7", "Avoiding external reminders", &OPTIONS),
    FormItem::new("8", "Trouble remembering parts of the event", &OPTIONS),
    FormItem::new("9", "Strong negative beliefs", &OPTIONS),
    FormItem::new("10", "Blaming self or others", &OPTIONS),
    FormItem::new("11", "Strong negative feelings", &OPTIONS),
    FormItem::new("12", "Loss of interest in activities", &OPTIONS),
    FormItem::new("13", "Feeling distant or cut off", &OPTIONS),
    FormItem::new("14", "Trouble having positive feelings", &OPTIONS),
    FormItem::new("15", "Irritability or aggression", &OPTIONS),
    FormItem::new("16", "Risky or self-destructive behaviour", &OPTIONS),
    FormItem::new("17", "Being over-alert", &OPTIONS),
    FormItem::new("18", "Easily startled", &OPTIONS),
    FormItem::new("19", "Difficulty concentrating", &OPTIONS),
    FormItem::new("20", "Trouble sleeping", &OPTIONS),
];

/// The PCL-5 form.
pub static FORM: Form = Form {
    instrument: Instrument::Pcl5,
    look_back: "Past month",
    items: &ITEMS,
    loinc_panel: None,
    loinc_total: None,
};

/// A DSM-5 symptom cluster: its subscale name, its items and how many must be endorsed.
struct Cluster {
    name: &'static str,
    items: std::ops::RangeInclusive<usize>,
    needed: usize,
}

const CLUSTERS: [Cluster; 4] = [
    Cluster {
        name: "cluster_b",
        items: 1..=5,
        needed: 1,
    },
    Cluster {
        name: "cluster_c",
        items: 6..=7,
        needed: 1,
    },
    Cluster {
        name: "cluster_d",
        items: 8..=14,
        needed: 2,
    },
    Cluster {
        name: "cluster_e",
        items: 15..=20,
        needed: 2,
    },
];

impl Cluster {
    /// Sum of the cluster's items.
    fn sum(&self, answers: &Answers<'_>) -> u16 {
        answers.sum_items(self.items.clone())
    }

    /// Whether enough of the cluster's items are rated 2 or more.
    fn met(&self, answers: &Answers<'_>) -> bool {
        self.items
            .clone()
            .filter(|&n| answers.item(n) >= ENDORSED)
            .count()
            >= self.needed
    }
}

/// The two provisional-diagnosis methods combined into one band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pcl5Result {
    /// Neither method indicates PTSD.
    BelowThreshold,
    /// Only the total cut-off is met.
    ProvisionalByTotal,
    /// Only the DSM-5 cluster rule is met.
    ProvisionalByClusters,
    /// Both methods indicate PTSD.
    ProvisionalByBoth,
}

impl Pcl5Result {
    /// Combines the two methods' outcomes.
    pub fn from_methods(total_met: bool, clusters_met: bool) -> Self {
        match (total_met, clusters_met) {
            (false, false) => Pcl5Result::BelowThreshold,
            (true, false) => Pcl5Result::ProvisionalByTotal,
            (false, true) => Pcl5Result::ProvisionalByClusters,
            (true, true) => Pcl5Result::ProvisionalByBoth,
        }
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Pcl5Result::BelowThreshold => "below_threshold",
            Pcl5Result::ProvisionalByTotal => "provisional_total",
            Pcl5Result::ProvisionalByClusters => "provisional_clusters",
            Pcl5Result::ProvisionalByBoth => "provisional_both",
        }
    }

    /// Label staff see.
    pub fn label(self) -> &'static str {
        match self {
            Pcl5Result::BelowThreshold => "Below provisional PTSD threshold (both methods)",
            Pcl5Result::ProvisionalByTotal => "Provisional PTSD by total cut-off only",
            Pcl5Result::ProvisionalByClusters => "Provisional PTSD by DSM-5 cluster rule only",
            Pcl5Result::ProvisionalByBoth => "Provisional PTSD (total cut-off and DSM-5 rule)",
        }
    }
}

/// Scores a PCL-5 with the given total cut-off (1–80).
pub fn score(responses: &Responses, cutoff: u8) -> Result<MeasureScore, MeasureError> {
    if !(1..=80).contains(&cutoff) {
        return Err(MeasureError::InvalidPcl5Cutoff(cutoff));
    }
    let answers = validate(&FORM, responses)?;
    let total = answers.total();
    let total_met = total >= u16::from(cutoff);
    let clusters_met = CLUSTERS.iter().all(|c| c.met(&answers));
    let result = Pcl5Result::from_methods(total_met, clusters_met);
    let scored = CLUSTERS.iter().fold(
        MeasureScore::new(
            Instrument::Pcl5,
            Some(total),
            Band::new(result.code(), result.label()),
        ),
        |s, c| s.with_subscale(c.name, c.sum(&answers)),
    );
    Ok(scored
        .with_flag(Flag::new(
            "total_cutoff",
            format!("Total ≥ {cutoff}"),
            total_met,
        ))
        .with_flag(Flag::new(
            "dsm5_cluster_rule",
            "DSM-5 rule: items rated ≥ 2 in at least 1 B, 1 C, 2 D and 2 E",
            clusters_met,
        )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(values: &[u8]) -> MeasureScore {
        score(&Responses::all_answered(values), DEFAULT_CUTOFF).unwrap()
    }

    #[test]
    fn derived_vector_meets_dsm_rule_below_total_cutoff() {
        let s = scored(&[2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]);
        assert_eq!(s.total(), Some(12));
        assert_eq!(s.subscale("cluster_b"), Some(2));
        assert_eq!(s.subscale("cluster_c"), Some(2));
        assert_eq!(s.subscale("cluster_d"), Some(4));
        assert_eq!(s.subscale("cluster_e"), Some(4));
        assert!(!s.is_flagged("total_cutoff"));
        assert!(s.is_flagged("dsm5_cluster_rule"));
        assert_eq!(s.band().code, "provisional_clusters");
        assert_eq!(s.flags().len(), 2);
        assert!(!s.requires_attention());
    }

    /// B all 4 (20), C 0, D all 1 (7), E `e_ones` items at 1: C has no endorsed item, so the DSM
    /// rule is never met and only the total moves.
    fn total_only(e_ones: usize) -> Vec<u8> {
        let mut v = vec![4, 4, 4, 4, 4, 0, 0, 1, 1, 1, 1, 1, 1, 1];
        v.extend((0..6).map(|i| u8::from(i < e_ones)));
        v
    }

    #[test]
    fn default_cutoff_boundary_32_33() {
        let below = scored(&total_only(5));
        assert_eq!(below.total(), Some(32));
        assert_eq!(below.band().code, "below_threshold");
        let at = scored(&total_only(6));
        assert_eq!(at.total(), Some(33));
        assert_eq!(at.band().code, "provisional_total");
        assert!(!at.is_flagged("dsm5_cluster_rule"));
        assert_eq!(at.flags()[0].label, "Total ≥ 33");
    }

    #[test]
    fn cutoff_is_configurable() {
        let r = Responses::all_answered(&total_only(6));
        let s = score(&r, 38).unwrap();
        assert_eq!(s.total(), Some(33));
        assert_eq!(s.band().code, "below_threshold");
        assert_eq!(s.flags()[0].label, "Total ≥ 38");
        assert_eq!(score(&r, 31).unwrap().band().code, "provisional_total");
    }

    #[test]
    fn both_and_neither() {
        let all = scored(&[4; 20]);
        assert_eq!(all.total(), Some(80));
        assert_eq!(all.band().code, "provisional_both");
        assert_eq!(all.subscale("cluster_b"), Some(20));
        assert_eq!(all.subscale("cluster_c"), Some(8));
        assert_eq!(all.subscale("cluster_d"), Some(28));
        assert_eq!(all.subscale("cluster_e"), Some(24));
        let none = scored(&[0; 20]);
        assert_eq!(none.total(), Some(0));
        assert_eq!(none.band().code, "below_threshold");
    }

    #[test]
    fn dsm_rule_needs_two_d_and_two_e() {
        // One endorsed D item only.
        let mut v = [0u8; 20];
        for n in [1, 6, 8, 15, 16] {
            v[n - 1] = 2;
        }
        assert!(!scored(&v).is_flagged("dsm5_cluster_rule"));
        v[8] = 2;
        assert!(scored(&v).is_flagged("dsm5_cluster_rule"));
        // A rating of 1 does not count as endorsed.
        v[15] = 1;
        assert!(!scored(&v).is_flagged("dsm5_cluster_rule"));
    }

    #[test]
    fn rejects_bad_input_and_bad_cutoff() {
        let err = |r: Responses, cut: u8| score(&r, cut).unwrap_err().to_string();
        assert_eq!(
            err(Responses::all_answered(&[0; 19]), 33),
            "PCL-5: expected 20 answers, got 19"
        );
        assert_eq!(
            err(Responses::all_answered(&[0; 21]), 33),
            "PCL-5: expected 20 answers, got 21"
        );
        let mut bad = [0u8; 20];
        bad[19] = 5;
        assert_eq!(
            err(Responses::all_answered(&bad), 33),
            "PCL-5 item 20: 5 is not an allowed answer (0–4)"
        );
        let mut missing = Responses::all_answered(&[0; 20]);
        missing.answers[0] = None;
        assert_eq!(
            err(missing, 33),
            "PCL-5 item 1: no answer (all 20 items are required)"
        );
        let ok = Responses::all_answered(&[0; 20]);
        assert_eq!(
            score(&ok, 0).unwrap_err(),
            MeasureError::InvalidPcl5Cutoff(0)
        );
        assert_eq!(
            err(ok, 81),
            "PCL-5 cut-off 81 is outside the possible range 1–80"
        );
    }
}
