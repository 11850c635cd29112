//! PHQ-9 (Kroenke 2001): nine items 0–3 over the past two weeks, total 0–27; item 9 is a safety item.

use super::form::{validate, AnswerOption, Form, FormItem};
use super::{
    Band, Flag, Instrument, MeasureError, MeasureScore, Responses, SafetyLevel, SafetySignal,
};

/// LOINC code of the PHQ-9 panel.
pub const LOINC_PANEL: &str = "44249-1";
/// LOINC code of the PHQ-9 total score.
pub const LOINC_TOTAL: &str = "44261-6";
/// LOINC codes of items 1–9 (item 9 = 44260-8).
pub const LOINC_ITEMS: [&str; 9] = [
    "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
    "44260-8",
];
/// LOINC code of the unscored 10th "how difficult" item, which is not part of the scored form.
pub const LOINC_DIFFICULTY: &str = "69722-7";

/// Frequency anchors with their LOINC answer codes.
const OPTIONS: [AnswerOption; 4] = [
    AnswerOption::coded(0, "Not at all", "LA6568-5"),
    AnswerOption::coded(1, "Several days", "LA6569-3"),
    AnswerOption::coded(2, "More than half the days", "LA6570-1"),
    AnswerOption::coded(3, "Nearly every day", "LA6571-9"),
];

const ITEMS: [FormItem; 9] = [
    FormItem::new("1", "Little interest or pleasure", &OPTIONS).loinc(LOINC_ITEMS[0]),
    FormItem::new("2", "Low mood or hopelessness", &OPTIONS).loinc(LOINC_ITEMS[1]),
    FormItem::new("3", "Sleep problems", &OPTIONS).loinc(LOINC_ITEMS[2]),
    FormItem::new("4", "Tiredness or low energy", &OPTIONS).loinc(LOINC_ITEMS[3]),
    FormItem::new("5", "Appetite change", &OPTIONS).loinc(LOINC_ITEMS[4]),
    FormItem::new("6", "Feeling bad about oneself", &OPTIONS).loinc(LOINC_ITEMS[5]),
    FormItem::new("7", "Trouble concentrating", &OPTIONS).loinc(LOINC_ITEMS[6]),
    FormItem::new("8", "Slowed down or restless", &OPTIONS).loinc(LOINC_ITEMS[7]),
    FormItem::new("9", "Thoughts of death or self-harm", &OPTIONS).loinc(LOINC_ITEMS[8]),
];

/// The PHQ-9 form.
pub static FORM: Form = Form {
    instrument: Instrument::Phq9,
    look_back: "Past 2 weeks",
    items: &ITEMS,
    loinc_panel: Some(LOINC_PANEL),
    loinc_total: Some(LOINC_TOTAL),
};

/// Depression severity band (cut points 5, 10, 15, 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phq9Band {
    /// 0–4.
    Minimal,
    /// 5–9.
    Mild,
    /// 10–14.
    Moderate,
    /// 15–19.
    ModeratelySevere,
    /// 20–27.
    Severe,
}

impl Phq9Band {
    /// The band a total falls in.
    pub fn from_total(total: u16) -> Self {
        match total {
            0..=4 => Phq9Band::Minimal,
            5..=9 => Phq9Band::Mild,
            10..=14 => Phq9Band::Moderate,
            15..=19 => Phq9Band::ModeratelySevere,
            _ => Phq9Band::Severe,
        }
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Phq9Band::Minimal => "minimal",
            Phq9Band::Mild => "mild",
            Phq9Band::Moderate => "moderate",
            Phq9Band::ModeratelySevere => "moderately_severe",
            Phq9Band::Severe => "severe",
        }
    }

    /// Label staff see.
    pub fn label(self) -> &'static str {
        match self {
            Phq9Band::Minimal => "Minimal or none",
            Phq9Band::Mild => "Mild",
            Phq9Band::Moderate => "Moderate",
            Phq9Band::ModeratelySevere => "Moderately severe",
            Phq9Band::Severe => "Severe",
        }
    }
}

/// Scores a PHQ-9; any answer above 0 on item 9 raises a high-urgency safety signal whatever the
/// total, because the source asks for immediate evaluation of every positive answer.
pub fn score(responses: &Responses) -> Result<MeasureScore, MeasureError> {
    let answers = validate(&FORM, responses)?;
    let total = answers.total();
    let band = Phq9Band::from_total(total);
    let item9_endorsed = answers.item(9) >= 1;
    let signal = item9_endorsed.then(|| {
        SafetySignal::new(
            SafetyLevel::High,
            "PHQ-9 item 9 endorsed",
            "Immediate clinical evaluation of suicide risk (e.g. C-SSRS), whatever the total",
        )
    });
    Ok(MeasureScore::new(
        Instrument::Phq9,
        Some(total),
        Band::new(band.code(), band.label()),
    )
    .with_flag(Flag::new(
        "item9_endorsed",
        "Item 9 (thoughts of death or self-harm) answered above \"Not at all\"",
        item9_endorsed,
    ))
    .with_safety_signal(signal))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(values: &[u8]) -> MeasureScore {
        score(&Responses::all_answered(values)).unwrap()
    }

    fn error(values: &[u8]) -> String {
        score(&Responses::all_answered(values))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn p1_us_core_example_is_12_moderate() {
        let s = scored(&[2, 2, 2, 2, 1, 1, 2, 0, 0]);
        assert_eq!(s.total(), Some(12));
        assert_eq!(s.band().code, "moderate");
        assert_eq!(s.band().label, "Moderate");
        assert_eq!(s.safety_signal(), None);
        assert!(!s.is_flagged("item9_endorsed"));
    }

    #[test]
    fn p2_is_8_mild() {
        let s = scored(&[2, 2, 1, 1, 1, 0, 1, 0, 0]);
        assert_eq!(s.total(), Some(8));
        assert_eq!(s.band().code, "mild");
        assert!(!s.requires_attention());
    }

    #[test]
    fn p3_item9_alone_signals_despite_minimal_total() {
        let s = scored(&[0, 0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(s.total(), Some(3));
        assert_eq!(s.band().code, "minimal");
        assert!(s.is_flagged("item9_endorsed"));
        let signal = s.safety_signal().unwrap();
        assert_eq!(signal.reason, "PHQ-9 item 9 endorsed");
        assert_eq!(signal.level, SafetyLevel::High);
    }

    #[test]
    fn p4_all_nearly_every_day_is_27_severe_with_signal() {
        let s = scored(&[3; 9]);
        assert_eq!(s.total(), Some(27));
        assert_eq!(s.band().code, "severe");
        assert!(s.requires_attention());
    }

    #[test]
    fn item9_several_days_is_enough_for_a_signal() {
        let s = scored(&[0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(s.requires_attention());
    }

    #[test]
    fn p5_band_boundaries() {
        let cases = [
            (0, "minimal"),
            (4, "minimal"),
            (5, "mild"),
            (9, "mild"),
            (10, "moderate"),
            (14, "moderate"),
            (15, "moderately_severe"),
            (19, "moderately_severe"),
            (20, "severe"),
            (24, "severe"),
        ];
        for (total, code) in cases {
            // Spread the total over items 1–8 so item 9 stays 0.
            let mut values = [0u8; 9];
            let mut left = total;
            for v in values.iter_mut().take(8) {
                *v = left.min(3);
                left -= *v;
            }
            let s = scored(&values);
            assert_eq!(s.total(), Some(u16::from(total)));
            assert_eq!(s.band().code, code, "total {total}");
            assert!(!s.requires_attention());
        }
        assert_eq!(Phq9Band::from_total(27), Phq9Band::Severe);
    }

    #[test]
    fn p6_rejects_wrong_counts_and_values() {
        assert_eq!(error(&[0; 8]), "PHQ-9: expected 9 answers, got 8");
        assert_eq!(error(&[0; 10]), "PHQ-9: expected 9 answers, got 10");
        assert_eq!(
            error(&[0, 0, 0, 4, 0, 0, 0, 0, 0]),
            "PHQ-9 item 4: 4 is not an allowed answer (0–3)"
        );
        assert_eq!(
            error(&[0, 0, 0, 5, 0, 0, 0, 0, 0]),
            "PHQ-9 item 4: 5 is not an allowed answer (0–3)"
        );
    }

    #[test]
    fn rejects_unanswered_item() {
        let mut r = Responses::all_answered(&[1; 9]);
        r.answers[8] = None;
        assert_eq!(
            score(&r).unwrap_err(),
            MeasureError::MissingAnswer {
                instrument: Instrument::Phq9,
                item: "9",
                why: "all 9 items are required".into(),
            }
        );
        assert_eq!(
            score(&r).unwrap_err().to_string(),
            "PHQ-9 item 9: no answer (all 9 items are required)"
        );
    }

    #[test]
    fn form_carries_loinc_answer_codes() {
        assert_eq!(FORM.items[8].loinc, Some("44260-8"));
        assert_eq!(FORM.items[0].options[3].label, "Nearly every day");
        assert_eq!(FORM.items[0].options[3].loinc, Some("LA6571-9"));
    }
}
