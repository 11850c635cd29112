//! GAD-7 (Spitzer 2006): seven items 0–3 over the past two weeks, total 0–21.

use super::form::{validate, AnswerOption, Form, FormItem};
use super::{Band, Flag, Instrument, MeasureError, MeasureScore, Responses};

/// LOINC code of the GAD-7 panel.
pub const LOINC_PANEL: &str = "69737-5";
/// LOINC code of the GAD-7 total score (not the panel code, which some repos wrongly use).
pub const LOINC_TOTAL: &str = "70274-6";
/// LOINC codes of items 1–7; items 1–2 are not confirmed by the reference, so they are `None`.
pub const LOINC_ITEMS: [Option<&str>; 7] = [
    None,
    None,
    Some("69733-4"),
    Some("69734-2"),
    Some("69735-9"),
    Some("69689-8"),
    Some("69736-7"),
];

/// Same frequency anchors as the PHQ-9; LOINC answer codes are not confirmed for GAD-7.
const OPTIONS: [AnswerOption; 4] = [
    AnswerOption::new(0, "Not at all"),
    AnswerOption::new(1, "Several days"),
    AnswerOption::new(2, "More than half the days"),
    AnswerOption::new(3, "Nearly every day"),
];

const ITEMS: [FormItem; 7] = [
    FormItem::new("1", "Nervous, anxious or on edge", &OPTIONS),
    FormItem::new("2", "Unable to stop or control worrying", &OPTIONS),
    FormItem::new("3", "Worrying too much", &OPTIONS).loinc("69733-4"),
    FormItem::new("4", "Trouble relaxing", &OPTIONS).loinc("69734-2"),
    FormItem::new("5", "Restlessness", &OPTIONS).loinc("69735-9"),
    FormItem::new("6", "Easily annoyed or irritable", &OPTIONS).loinc("69689-8"),
    FormItem::new("7", "Afraid something awful might happen", &OPTIONS).loinc("69736-7"),
];

/// The GAD-7 form.
pub static FORM: Form = Form {
    instrument: Instrument::Gad7,
    look_back: "Past 2 weeks",
    items: &ITEMS,
    loinc_panel: Some(LOINC_PANEL),
    loinc_total: Some(LOINC_TOTAL),
};

/// Total at or above which further evaluation for an anxiety disorder is recommended.
pub const FURTHER_EVALUATION_CUTOFF: u16 = 10;

/// Anxiety severity band (cut points 5, 10, 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gad7Band {
    /// 0–4.
    Minimal,
    /// 5–9.
    Mild,
    /// 10–14.
    Moderate,
    /// 15–21.
    Severe,
}

impl Gad7Band {
    /// The band a total falls in.
    pub fn from_total(total: u16) -> Self {
        match total {
            0..=4 => Gad7Band::Minimal,
            5..=9 => Gad7Band::Mild,
            10..=14 => Gad7Band::Moderate,
            _ => Gad7Band::Severe,
        }
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Gad7Band::Minimal => "minimal",
            Gad7Band::Mild => "mild",
            Gad7Band::Moderate => "moderate",
            Gad7Band::Severe => "severe",
        }
    }

    /// Label staff see.
    pub fn label(self) -> &'static str {
        match self {
            Gad7Band::Minimal => "Minimal",
            Gad7Band::Mild => "Mild",
            Gad7Band::Moderate => "Moderate",
            Gad7Band::Severe => "Severe",
        }
    }
}

/// Scores a GAD-7.
pub fn score(responses: &Responses) -> Result<MeasureScore, MeasureError> {
    let answers = validate(&FORM, responses)?;
    let total = answers.total();
    let band = Gad7Band::from_total(total);
    Ok(MeasureScore::new(
        Instrument::Gad7,
        Some(total),
        Band::new(band.code(), band.label()),
    )
    .with_flag(Flag::new(
        "further_evaluation",
        "Total ≥ 10: further evaluation recommended",
        total >= FURTHER_EVALUATION_CUTOFF,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(values: &[u8]) -> MeasureScore {
        score(&Responses::all_answered(values)).unwrap()
    }

    #[test]
    fn g1_pacio_october_is_7_mild() {
        let s = scored(&[1, 1, 1, 1, 0, 1, 2]);
        assert_eq!(s.total(), Some(7));
        assert_eq!(s.band().code, "mild");
        assert!(!s.is_flagged("further_evaluation"));
        assert!(!s.requires_attention());
    }

    #[test]
    fn g2_pacio_january_is_4_minimal() {
        let s = scored(&[1, 0, 0, 1, 0, 1, 1]);
        assert_eq!(s.total(), Some(4));
        assert_eq!(s.band().code, "minimal");
    }

    #[test]
    fn g3_band_boundaries() {
        let cases = [
            (0, "minimal", false),
            (4, "minimal", false),
            (5, "mild", false),
            (9, "mild", false),
            (10, "moderate", true),
            (14, "moderate", true),
            (15, "severe", true),
            (21, "severe", true),
        ];
        for (total, code, flagged) in cases {
            let mut values = [0u8; 7];
            let mut left = total;
            for v in values.iter_mut() {
                *v = left.min(3);
                left -= *v;
            }
            let s = scored(&values);
            assert_eq!(s.total(), Some(u16::from(total)));
            assert_eq!(s.band().code, code, "total {total}");
            assert_eq!(s.is_flagged("further_evaluation"), flagged, "total {total}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        let err = |r: Responses| score(&r).unwrap_err().to_string();
        assert_eq!(
            err(Responses::all_answered(&[0; 6])),
            "GAD-7: expected 7 answers, got 6"
        );
        assert_eq!(
            err(Responses::all_answered(&[0; 9])),
            "GAD-7: expected 7 answers, got 9"
        );
        assert_eq!(
            err(Responses::all_answered(&[0, 0, 0, 0, 0, 0, 4])),
            "GAD-7 item 7: 4 is not an allowed answer (0–3)"
        );
        let mut missing = Responses::all_answered(&[1; 7]);
        missing.answers[2] = None;
        assert_eq!(
            err(missing),
            "GAD-7 item 3: no answer (all 7 items are required)"
        );
    }

    #[test]
    fn unconfirmed_item_codes_stay_empty() {
        assert_eq!(FORM.items[0].loinc, None);
        assert_eq!(FORM.items[1].loinc, None);
        let form_codes: Vec<Option<&str>> = FORM.items.iter().map(|i| i.loinc).collect();
        assert_eq!(form_codes, LOINC_ITEMS);
    }
}
