//! DAST-10 (Skinner 1982): ten yes/no items about the past 12 months, excluding alcohol and tobacco.
//!
//! Answers are stored as given (No = 0, Yes = 1); scoring gives one point per "Yes" except item 3
//! ("able to stop when you want to?"), where "No" scores the point.

use super::form::{validate, AnswerOption, Form, FormItem};
use super::{Band, Instrument, MeasureError, MeasureScore, Responses};

/// LOINC code of the DAST-10 total; from secondary sources, not checked against LOINC itself.
pub const LOINC_TOTAL: &str = "82667-7";

/// The reverse-scored item.
const REVERSED_ITEM: usize = 3;

const NO_YES: [AnswerOption; 2] = [AnswerOption::new(0, "No"), AnswerOption::new(1, "Yes")];

const ITEMS: [FormItem; 10] = [
    FormItem::new("1", "Drug use other than for medical reasons", &NO_YES),
    FormItem::new("2", "Use of more than one drug at a time", &NO_YES),
    FormItem::new(
        "3",
        "Always able to stop when wanted (reverse scored)",
        &NO_YES,
    ),
    FormItem::new("4", "Blackouts or flashbacks from drug use", &NO_YES),
    FormItem::new("5", "Felt bad or guilty about drug use", &NO_YES),
    FormItem::new("6", "Partner or parents complained about drug use", &NO_YES),
    FormItem::new("7", "Neglected family because of drug use", &NO_YES),
    FormItem::new("8", "Illegal activities to obtain drugs", &NO_YES),
    FormItem::new("9", "Withdrawal symptoms when stopping", &NO_YES),
    FormItem::new("10", "Medical problems from drug use", &NO_YES),
];

/// The DAST-10 form.
pub static FORM: Form = Form {
    instrument: Instrument::Dast10,
    look_back: "Past 12 months",
    items: &ITEMS,
    loinc_panel: None,
    loinc_total: Some(LOINC_TOTAL),
};

/// Degree of problems related to drug use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dast10Band {
    /// 0: no problems reported.
    NoProblems,
    /// 1–2: low level; monitor and reassess.
    Low,
    /// 3–5: moderate level; further investigation.
    Moderate,
    /// 6–8: substantial level; intensive assessment.
    Substantial,
    /// 9–10: severe level; intensive assessment.
    Severe,
}

impl Dast10Band {
    /// The band a total falls in.
    pub fn from_total(total: u16) -> Self {
        match total {
            0 => Dast10Band::NoProblems,
            1..=2 => Dast10Band::Low,
            3..=5 => Dast10Band::Moderate,
            6..=8 => Dast10Band::Substantial,
            _ => Dast10Band::Severe,
        }
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Dast10Band::NoProblems => "none",
            Dast10Band::Low => "low",
            Dast10Band::Moderate => "moderate",
            Dast10Band::Substantial => "substantial",
            Dast10Band::Severe => "severe",
        }
    }

    /// Label staff see, with the action the source attaches to it.
    pub fn label(self) -> &'static str {
        match self {
            Dast10Band::NoProblems => "No problems reported",
            Dast10Band::Low => "Low level: monitor, reassess later",
            Dast10Band::Moderate => "Moderate level: further investigation",
            Dast10Band::Substantial => "Substantial level: intensive assessment",
            Dast10Band::Severe => "Severe level: intensive assessment",
        }
    }
}

/// Scores a DAST-10 by the published rule, so an all-"No" form scores 1 (item 3 "No").
///
/// Some programs stop the scale after "No" to item 1 and record 0; that is a local policy not
/// found in the sources, so it is not applied here: a program that wants it must not administer
/// the remaining items and must record the result itself.
pub fn score(responses: &Responses) -> Result<MeasureScore, MeasureError> {
    let answers = validate(&FORM, responses)?;
    let total: u16 = (1..=10)
        .map(|n| {
            let yes = answers.item(n) == 1;
            let point = if n == REVERSED_ITEM { !yes } else { yes };
            u16::from(point)
        })
        .sum();
    let band = Dast10Band::from_total(total);
    Ok(MeasureScore::new(
        Instrument::Dast10,
        Some(total),
        Band::new(band.code(), band.label()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers with "Yes" on the listed items and "No" elsewhere.
    fn yes_on(items: &[usize]) -> Responses {
        let values: Vec<u8> = (1..=10).map(|n| u8::from(items.contains(&n))).collect();
        Responses::all_answered(&values)
    }

    fn scored(items: &[usize]) -> MeasureScore {
        score(&yes_on(items)).unwrap()
    }

    #[test]
    fn all_no_scores_1_low_because_item_3_is_reversed() {
        let s = scored(&[]);
        assert_eq!(s.total(), Some(1));
        assert_eq!(s.band().code, "low");
        assert!(!s.requires_attention());
    }

    #[test]
    fn all_yes_scores_9_severe() {
        let s = scored(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(s.total(), Some(9));
        assert_eq!(s.band().code, "severe");
    }

    #[test]
    fn four_yes_plus_item_3_yes_is_4_moderate() {
        let s = scored(&[1, 2, 3, 4, 5]);
        assert_eq!(s.total(), Some(4));
        assert_eq!(s.band().code, "moderate");
    }

    #[test]
    fn band_boundaries() {
        let cases: [(&[usize], u16, &str); 9] = [
            (&[3], 0, "none"),
            (&[], 1, "low"),
            (&[1], 2, "low"),
            (&[1, 2], 3, "moderate"),
            (&[1, 2, 4, 5], 5, "moderate"),
            (&[1, 2, 4, 5, 6], 6, "substantial"),
            (&[1, 2, 4, 5, 6, 7, 8], 8, "substantial"),
            (&[1, 2, 4, 5, 6, 7, 8, 9], 9, "severe"),
            (&[1, 2, 4, 5, 6, 7, 8, 9, 10], 10, "severe"),
        ];
        for (items, total, code) in cases {
            let s = scored(items);
            assert_eq!(s.total(), Some(total), "{items:?}");
            assert_eq!(s.band().code, code, "{items:?}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        let err = |r: Responses| score(&r).unwrap_err().to_string();
        assert_eq!(
            err(Responses::all_answered(&[0; 9])),
            "DAST-10: expected 10 answers, got 9"
        );
        assert_eq!(
            err(Responses::all_answered(&[0; 11])),
            "DAST-10: expected 10 answers, got 11"
        );
        assert_eq!(
            err(Responses::all_answered(&[0, 0, 2, 0, 0, 0, 0, 0, 0, 0])),
            "DAST-10 item 3: 2 is not an allowed answer (0–1)"
        );
        let mut missing = yes_on(&[]);
        missing.answers[9] = None;
        assert_eq!(
            err(missing),
            "DAST-10 item 10: no answer (all 10 items are required)"
        );
    }
}
