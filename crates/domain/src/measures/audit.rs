//! AUDIT (WHO, Babor et al. 2001): ten items, 1–8 scored 0–4 and 9–10 only 0, 2 or 4; total 0–40.
//!
//! Two readings of the bands exist and the program chooses one ([`AuditBandSet`]):
//! - WHO manual risk zones: I 0–7, II 8–15, III 16–19, IV 20–40, with the rule to give "the
//!   next-higher intervention" to patients scoring "2 or more on Questions 4, 5 and 6, or 4 on
//!   Questions 9 or 10".
//! - auditscreen.org: 1–7 low risk, 8–14 hazardous or harmful, ≥ 15 likely dependence.
//!
//! The WHO sentence is ambiguous: "2 or more on Questions 4, 5 and 6" can mean any one of those
//! items scoring ≥ 2, or their sum reaching 2. The brief and the reference's derived vector use
//! "any one item" (the default); the sum reading is available as [`AuditStepUp::DependenceItemsSum`].

use super::form::{validate, AnswerOption, Form, FormItem};
use super::{Band, Flag, Instrument, MeasureError, MeasureScore, Responses};
use serde::{Deserialize, Serialize};

/// LOINC code of the AUDIT (10-item) total; from secondary sources, consistent in two repos.
pub const LOINC_TOTAL: &str = "75624-7";

/// Item 1 anchors (drinking frequency).
pub(crate) const FREQUENCY: [AnswerOption; 5] = [
    AnswerOption::new(0, "Never"),
    AnswerOption::new(1, "Monthly or less"),
    AnswerOption::new(2, "2–4 times a month"),
    AnswerOption::new(3, "2–3 times a week"),
    AnswerOption::new(4, "4 or more times a week"),
];

/// Item 2 anchors (drinks on a typical drinking day).
pub(crate) const TYPICAL_DRINKS: [AnswerOption; 5] = [
    AnswerOption::new(0, "1 or 2"),
    AnswerOption::new(1, "3 or 4"),
    AnswerOption::new(2, "5 or 6"),
    AnswerOption::new(3, "7 to 9"),
    AnswerOption::new(4, "10 or more"),
];

/// Items 3–8 anchors (how often).
pub(crate) const HOW_OFTEN: [AnswerOption; 5] = [
    AnswerOption::new(0, "Never"),
    AnswerOption::new(1, "Less than monthly"),
    AnswerOption::new(2, "Monthly"),
    AnswerOption::new(3, "Weekly"),
    AnswerOption::new(4, "Daily or almost daily"),
];

/// Items 9–10 anchors: only 0, 2 and 4 exist.
const EVER: [AnswerOption; 3] = [
    AnswerOption::new(0, "No"),
    AnswerOption::new(2, "Yes, but not in the last year"),
    AnswerOption::new(4, "Yes, during the last year"),
];

const ITEMS: [FormItem; 10] = [
    FormItem::new("1", "Drinking frequency", &FREQUENCY),
    FormItem::new("2", "Drinks on a typical drinking day", &TYPICAL_DRINKS),
    FormItem::new("3", "Six or more drinks on one occasion", &HOW_OFTEN),
    FormItem::new("4", "Unable to stop once started", &HOW_OFTEN),
    FormItem::new("5", "Failed to do what was expected", &HOW_OFTEN),
    FormItem::new("6", "Needed a morning drink", &HOW_OFTEN),
    FormItem::new("7", "Guilt or remorse after drinking", &HOW_OFTEN),
    FormItem::new("8", "Could not remember the night before", &HOW_OFTEN),
    FormItem::new("9", "Injury because of drinking", &EVER),
    FormItem::new("10", "Others concerned about drinking", &EVER),
];

/// The AUDIT form.
pub static FORM: Form = Form {
    instrument: Instrument::Audit,
    look_back: "Past year",
    items: &ITEMS,
    loinc_panel: None,
    loinc_total: Some(LOINC_TOTAL),
};

/// Which published band set the program reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditBandSet {
    /// WHO manual zones I–IV (0–7, 8–15, 16–19, 20–40).
    #[default]
    WhoZones,
    /// auditscreen.org reading (low risk 0–7, hazardous 8–14, likely dependence ≥ 15).
    AuditScreen,
}

/// How the WHO "next-higher intervention" rule is read (see the module note on its ambiguity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStepUp {
    /// Step up when any of items 4–6 scores ≥ 2, or item 9 or 10 scores 4.
    #[default]
    AnyDependenceItem,
    /// Step up when items 4 + 5 + 6 sum to ≥ 2, or item 9 or 10 scores 4.
    DependenceItemsSum,
    /// Report the band of the total only.
    Off,
}

/// An AUDIT band from either band set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditBand {
    /// WHO zone I (0–7): alcohol education.
    ZoneI,
    /// WHO zone II (8–15): simple advice.
    ZoneII,
    /// WHO zone III (16–19): simple advice, brief counselling and continued monitoring.
    ZoneIII,
    /// WHO zone IV (20–40): referral for diagnostic evaluation and treatment.
    ZoneIV,
    /// auditscreen.org 0–7.
    LowRisk,
    /// auditscreen.org 8–14.
    Hazardous,
    /// auditscreen.org 15 or more.
    LikelyDependence,
}

impl AuditBand {
    /// The band a total falls in under the chosen band set.
    pub fn from_total(total: u16, set: AuditBandSet) -> Self {
        match set {
            AuditBandSet::WhoZones => match total {
                0..=7 => AuditBand::ZoneI,
                8..=15 => AuditBand::ZoneII,
                16..=19 => AuditBand::ZoneIII,
                _ => AuditBand::ZoneIV,
            },
            // auditscreen.org starts its low band at 1; 0 (no drinking) is read as low risk too.
            AuditBandSet::AuditScreen => match total {
                0..=7 => AuditBand::LowRisk,
                8..=14 => AuditBand::Hazardous,
                _ => AuditBand::LikelyDependence,
            },
        }
    }

    /// The next band up in the same set; the top band stays where it is.
    pub fn step_up(self) -> Self {
        match self {
            AuditBand::ZoneI => AuditBand::ZoneII,
            AuditBand::ZoneII => AuditBand::ZoneIII,
            AuditBand::ZoneIII | AuditBand::ZoneIV => AuditBand::ZoneIV,
            AuditBand::LowRisk => AuditBand::Hazardous,
            AuditBand::Hazardous | AuditBand::LikelyDependence => AuditBand::LikelyDependence,
        }
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            AuditBand::ZoneI => "zone_1",
            AuditBand::ZoneII => "zone_2",
            AuditBand::ZoneIII => "zone_3",
            AuditBand::ZoneIV => "zone_4",
            AuditBand::LowRisk => "low_risk",
            AuditBand::Hazardous => "hazardous",
            AuditBand::LikelyDependence => "likely_dependence",
        }
    }

    /// Label staff see, with the intervention the source attaches to it.
    pub fn label(self) -> &'static str {
        match self {
            AuditBand::ZoneI => "Zone I: alcohol education",
            AuditBand::ZoneII => "Zone II: simple advice",
            AuditBand::ZoneIII => {
                "Zone III: simple advice, brief counselling and continued monitoring"
            }
            AuditBand::ZoneIV => "Zone IV: referral for diagnostic evaluation and treatment",
            AuditBand::LowRisk => "Low risk",
            AuditBand::Hazardous => "Hazardous or harmful drinking",
            AuditBand::LikelyDependence => "Likely alcohol dependence",
        }
    }
}

/// Scores an AUDIT; the band is the stepped-up band when the step-up rule applies.
pub fn score(
    responses: &Responses,
    bands: AuditBandSet,
    step_up: AuditStepUp,
) -> Result<MeasureScore, MeasureError> {
    let answers = validate(&FORM, responses)?;
    let total = answers.total();
    let consumption = answers.sum_items(1..=3);
    let dependence = answers.sum_items(4..=6);
    let harm = answers.sum_items(7..=10);

    let dependence_rule = match step_up {
        AuditStepUp::AnyDependenceItem => (4..=6).any(|n| answers.item(n) >= 2),
        AuditStepUp::DependenceItemsSum => dependence >= 2,
        AuditStepUp::Off => false,
    };
    let harm_rule = step_up != AuditStepUp::Off && (answers.item(9) == 4 || answers.item(10) == 4);
    let stepped_up = dependence_rule || harm_rule;

    let by_total = AuditBand::from_total(total, bands);
    let band = if stepped_up {
        by_total.step_up()
    } else {
        by_total
    };
    let step_up_label = if stepped_up {
        format!(
            "Next-higher intervention (items 4–6 ≥ 2 or item 9/10 = 4): band by total is {}",
            by_total.label()
        )
    } else {
        "Next-higher intervention (items 4–6 ≥ 2 or item 9/10 = 4)".to_owned()
    };
    Ok(MeasureScore::new(
        Instrument::Audit,
        Some(total),
        Band::new(band.code(), band.label()),
    )
    .with_subscale("consumption", consumption)
    .with_subscale("dependence", dependence)
    .with_subscale("harm", harm)
    .with_flag(Flag::new("step_up", step_up_label, stepped_up)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(values: &[u8]) -> MeasureScore {
        score(
            &Responses::all_answered(values),
            AuditBandSet::WhoZones,
            AuditStepUp::AnyDependenceItem,
        )
        .unwrap()
    }

    /// A response set with the given total and no step-up trigger (items 4–6 and 9–10 stay low).
    fn with_total(total: u8) -> [u8; 10] {
        // Items 1–3 and 7–8 take up to 4 each (20); items 4–6 take up to 1 each (3); items 9–10
        // take 2 each (4): 27 reachable without triggering the rule.
        let mut values = [0u8; 10];
        let mut left = total;
        for (pos, cap) in [
            (0, 4),
            (1, 4),
            (2, 4),
            (6, 4),
            (7, 4),
            (3, 1),
            (4, 1),
            (5, 1),
        ] {
            values[pos] = left.min(cap);
            left -= values[pos];
        }
        for pos in [8, 9] {
            values[pos] = if left >= 2 { 2 } else { 0 };
            left -= values[pos];
        }
        assert_eq!(left, 0, "total {total} not reachable without step-up");
        values
    }

    #[test]
    fn all_zero_is_zone_1() {
        let s = who(&[0; 10]);
        assert_eq!(s.total(), Some(0));
        assert_eq!(s.band().code, "zone_1");
        assert!(!s.is_flagged("step_up"));
        assert!(!s.requires_attention());
    }

    #[test]
    fn derived_vector_9_is_zone_2() {
        let s = who(&[2, 1, 1, 0, 0, 0, 1, 0, 2, 2]);
        assert_eq!(s.total(), Some(9));
        assert_eq!(s.band().code, "zone_2");
        assert!(!s.is_flagged("step_up"));
        assert_eq!(s.subscale("consumption"), Some(4));
        assert_eq!(s.subscale("dependence"), Some(0));
        assert_eq!(s.subscale("harm"), Some(5));
    }

    #[test]
    fn all_fours_is_40_zone_4() {
        let s = who(&[4; 10]);
        assert_eq!(s.total(), Some(40));
        assert_eq!(s.band().code, "zone_4");
        // The rule applies but zone IV is the top.
        assert!(s.is_flagged("step_up"));
    }

    #[test]
    fn item4_of_2_steps_zone_1_up_to_zone_2() {
        let s = who(&[1, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s.total(), Some(3));
        assert_eq!(s.band().code, "zone_2");
        assert!(s.is_flagged("step_up"));
        assert_eq!(
            s.flags()[0].label,
            "Next-higher intervention (items 4–6 ≥ 2 or item 9/10 = 4): band by total is \
             Zone I: alcohol education"
        );
    }

    #[test]
    fn item9_or_10_of_4_steps_up() {
        assert_eq!(who(&[0, 0, 0, 0, 0, 0, 0, 0, 4, 0]).band().code, "zone_2");
        assert_eq!(who(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 4]).band().code, "zone_2");
        // 2 ("not in the last year") does not.
        assert_eq!(who(&[0, 0, 0, 0, 0, 0, 0, 0, 2, 2]).band().code, "zone_1");
    }

    #[test]
    fn step_up_readings_differ_on_split_dependence_points() {
        let values = [1, 0, 0, 1, 1, 0, 0, 0, 0, 0];
        let r = Responses::all_answered(&values);
        let any = score(&r, AuditBandSet::WhoZones, AuditStepUp::AnyDependenceItem).unwrap();
        let sum = score(&r, AuditBandSet::WhoZones, AuditStepUp::DependenceItemsSum).unwrap();
        assert_eq!(any.band().code, "zone_1");
        assert_eq!(sum.band().code, "zone_2");
        let stepped = Responses::all_answered(&[1, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
        let off = score(&stepped, AuditBandSet::WhoZones, AuditStepUp::Off).unwrap();
        assert_eq!(off.band().code, "zone_1");
        assert!(!off.is_flagged("step_up"));
    }

    #[test]
    fn who_zone_boundaries() {
        for (total, code) in [
            (7, "zone_1"),
            (8, "zone_2"),
            (15, "zone_2"),
            (16, "zone_3"),
            (19, "zone_3"),
            (20, "zone_4"),
        ] {
            let s = who(&with_total(total));
            assert_eq!(s.total(), Some(u16::from(total)));
            assert_eq!(s.band().code, code, "total {total}");
            assert!(!s.is_flagged("step_up"), "total {total}");
        }
        assert_eq!(
            AuditBand::from_total(40, AuditBandSet::WhoZones),
            AuditBand::ZoneIV
        );
    }

    #[test]
    fn auditscreen_boundaries_and_step_up() {
        for (total, code) in [
            (0, "low_risk"),
            (7, "low_risk"),
            (8, "hazardous"),
            (14, "hazardous"),
            (15, "likely_dependence"),
            (27, "likely_dependence"),
        ] {
            let s = score(
                &Responses::all_answered(&with_total(total)),
                AuditBandSet::AuditScreen,
                AuditStepUp::AnyDependenceItem,
            )
            .unwrap();
            assert_eq!(s.band().code, code, "total {total}");
            assert_eq!(
                s.band().label,
                AuditBand::from_total(total.into(), AuditBandSet::AuditScreen).label()
            );
        }
        let stepped = score(
            &Responses::all_answered(&[1, 0, 0, 2, 0, 0, 0, 0, 0, 0]),
            AuditBandSet::AuditScreen,
            AuditStepUp::AnyDependenceItem,
        )
        .unwrap();
        assert_eq!(stepped.band().code, "hazardous");
    }

    #[test]
    fn rejects_bad_input() {
        let err = |values: &[u8]| {
            score(
                &Responses::all_answered(values),
                AuditBandSet::WhoZones,
                AuditStepUp::AnyDependenceItem,
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err(&[0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            "AUDIT item 9: 1 is not an allowed answer (0, 2 or 4)"
        );
        assert_eq!(
            err(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 3]),
            "AUDIT item 10: 3 is not an allowed answer (0, 2 or 4)"
        );
        assert_eq!(
            err(&[5, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            "AUDIT item 1: 5 is not an allowed answer (0–4)"
        );
        assert_eq!(err(&[0; 9]), "AUDIT: expected 10 answers, got 9");
        assert_eq!(err(&[0; 11]), "AUDIT: expected 10 answers, got 11");
        let mut missing = Responses::all_answered(&[0; 10]);
        missing.answers[5] = None;
        assert_eq!(
            score(&missing, AuditBandSet::WhoZones, AuditStepUp::Off)
                .unwrap_err()
                .to_string(),
            "AUDIT item 6: no answer (all 10 items are required)"
        );
    }
}
