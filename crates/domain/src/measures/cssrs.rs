//! C-SSRS screener: six yes/no questions plus the Q6 "within the past 3 months?" follow-up.
//!
//! Skip logic: Q3–Q5 are asked only when Q2 = Yes; the follow-up is asked only when Q6 = Yes.
//! The screener is not a summed scale: risk comes from the highest item endorsed and its recency
//! (Columbia triage guidance; three-tier mapping as in REFERENCE §1.6). An all-"No" screen is
//! reported as "none" here; the HL7 BH IG example codes it "Low", which is a local choice.

use super::form::{validate, AnswerOption, Asked, Form, FormItem};
use super::{
    Band, Flag, Instrument, MeasureError, MeasureScore, Responses, SafetyLevel, SafetySignal,
};

/// LOINC codes of Q1–Q6 and the Q6 recency follow-up, in form order.
pub const LOINC_ITEMS: [&str; 7] = [
    "93246-7", "93247-5", "93248-3", "93249-1", "93250-9", "93267-3", "93269-9",
];
/// LOINC code of the suicide risk level observation.
pub const LOINC_RISK_LEVEL: &str = "93374-7";

const NO_YES: [AnswerOption; 2] = [AnswerOption::new(0, "No"), AnswerOption::new(1, "Yes")];

/// Position of Q2, which opens Q3–Q5.
const Q2: usize = 1;
/// Position of Q6, which opens the recency follow-up.
const Q6: usize = 5;
/// Position of the Q6 recency follow-up.
const Q6_RECENT: usize = 6;

const IF_Q2_YES: Asked = Asked::OnlyIf {
    item: Q2,
    answer: 1,
};

const ITEMS: [FormItem; 7] = [
    FormItem::new("1", "Wish to be dead (past month)", &NO_YES).loinc(LOINC_ITEMS[0]),
    FormItem::new("2", "Active suicidal thoughts (past month)", &NO_YES).loinc(LOINC_ITEMS[1]),
    FormItem::new("3", "Thoughts of a method (past month)", &NO_YES)
        .loinc(LOINC_ITEMS[2])
        .asked(IF_Q2_YES),
    FormItem::new(
        "4",
        "Some intent to act, no specific plan (past month)",
        &NO_YES,
    )
    .loinc(LOINC_ITEMS[3])
    .asked(IF_Q2_YES),
    FormItem::new("5", "Specific plan with intent (past month)", &NO_YES)
        .loinc(LOINC_ITEMS[4])
        .asked(IF_Q2_YES),
    FormItem::new("6", "Suicidal behaviour (lifetime)", &NO_YES).loinc(LOINC_ITEMS[5]),
    FormItem::new("6a", "Suicidal behaviour within the past 3 months", &NO_YES)
        .loinc(LOINC_ITEMS[6])
        .asked(Asked::OnlyIf {
            item: Q6,
            answer: 1,
        }),
];

/// The C-SSRS screener form.
pub static FORM: Form = Form {
    instrument: Instrument::Cssrs,
    look_back: "Past month (Q1–Q5); lifetime, then past 3 months (Q6)",
    items: &ITEMS,
    loinc_panel: None,
    loinc_total: None,
};

/// Suicide risk from the highest item endorsed and its recency.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CssrsRisk {
    /// Every answer "No".
    NoRisk,
    /// Wish to be dead or non-specific suicidal thoughts (Q1 or Q2).
    Low,
    /// Thoughts of a method (Q3), or suicidal behaviour more than 3 months ago.
    Moderate,
    /// Intent (Q4), plan with intent (Q5), or suicidal behaviour within 3 months.
    High,
}

impl CssrsRisk {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            CssrsRisk::NoRisk => "none",
            CssrsRisk::Low => "low",
            CssrsRisk::Moderate => "moderate",
            CssrsRisk::High => "high",
        }
    }

    /// The risk level stored as a band code, if it is one.
    pub fn from_code(code: &str) -> Option<CssrsRisk> {
        [
            CssrsRisk::NoRisk,
            CssrsRisk::Low,
            CssrsRisk::Moderate,
            CssrsRisk::High,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }

    /// Label staff see.
    pub fn label(self) -> &'static str {
        match self {
            CssrsRisk::NoRisk => "No risk identified",
            CssrsRisk::Low => "Low risk",
            CssrsRisk::Moderate => "Moderate risk",
            CssrsRisk::High => "High risk",
        }
    }

    /// The safety signal this risk level raises: moderate and high only.
    fn signal(self) -> Option<SafetySignal> {
        match self {
            CssrsRisk::NoRisk | CssrsRisk::Low => None,
            CssrsRisk::Moderate => Some(SafetySignal::new(
                SafetyLevel::Moderate,
                "C-SSRS moderate risk",
                "Clinician review: behavioural health referral and consider safety precautions",
            )),
            CssrsRisk::High => Some(SafetySignal::new(
                SafetyLevel::High,
                "C-SSRS high risk",
                "Immediate referral to mental health and safety precautions",
            )),
        }
    }
}

/// Scores a C-SSRS screener; moderate and high risk carry a safety signal.
pub fn score(responses: &Responses) -> Result<MeasureScore, MeasureError> {
    let answers = validate(&FORM, responses)?;
    // Unasked items read as "No" once validation has enforced the skip logic.
    let yes = |n: usize| answers.item(n) == 1;
    let behaviour_recent = yes(6) && answers.at(Q6_RECENT) == 1;
    let risk = if yes(4) || yes(5) || behaviour_recent {
        CssrsRisk::High
    } else if yes(3) || yes(6) {
        CssrsRisk::Moderate
    } else if yes(1) || yes(2) {
        CssrsRisk::Low
    } else {
        CssrsRisk::NoRisk
    };
    Ok(MeasureScore::new(
        Instrument::Cssrs,
        None,
        Band::new(risk.code(), risk.label()),
    )
    .with_flag(Flag::new(
        "ideation_past_month",
        "Suicidal ideation in the past month (Q1 or Q2)",
        yes(1) || yes(2),
    ))
    .with_flag(Flag::new(
        "behaviour_past_3_months",
        "Suicidal behaviour within the past 3 months",
        behaviour_recent,
    ))
    .with_safety_signal(risk.signal()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Option<u8> = Some(0);
    const Y: Option<u8> = Some(1);
    const SKIP: Option<u8> = None;

    fn scored(answers: [Option<u8>; 7]) -> MeasureScore {
        score(&Responses::new(answers.to_vec())).unwrap()
    }

    fn error(answers: Vec<Option<u8>>) -> String {
        score(&Responses::new(answers)).unwrap_err().to_string()
    }

    #[test]
    fn all_no_is_none_without_signal() {
        let s = scored([N, N, SKIP, SKIP, SKIP, N, SKIP]);
        assert_eq!(s.band().code, "none");
        assert_eq!(s.total(), None);
        assert_eq!(s.safety_signal(), None);
        assert!(!s.is_flagged("ideation_past_month"));
    }

    #[test]
    fn q1_only_is_low_without_signal() {
        let s = scored([Y, N, SKIP, SKIP, SKIP, N, SKIP]);
        assert_eq!(s.band().code, "low");
        assert!(s.is_flagged("ideation_past_month"));
        assert!(!s.requires_attention());
    }

    #[test]
    fn q2_yes_with_no_further_items_is_low() {
        let s = scored([N, Y, N, N, N, N, SKIP]);
        assert_eq!(s.band().code, "low");
        assert!(!s.requires_attention());
    }

    #[test]
    fn q1_q2_q3_is_moderate_with_moderate_signal() {
        let s = scored([Y, Y, Y, N, N, N, SKIP]);
        assert_eq!(s.band().code, "moderate");
        let signal = s.safety_signal().unwrap();
        assert_eq!(signal.level, SafetyLevel::Moderate);
        assert_eq!(signal.reason, "C-SSRS moderate risk");
    }

    #[test]
    fn q2_q4_is_high_with_high_signal() {
        let s = scored([N, Y, N, Y, N, N, SKIP]);
        assert_eq!(s.band().code, "high");
        assert_eq!(s.safety_signal().unwrap().level, SafetyLevel::High);
    }

    #[test]
    fn q5_is_high() {
        let s = scored([Y, Y, Y, N, Y, N, SKIP]);
        assert_eq!(s.band().code, "high");
        assert_eq!(s.safety_signal().unwrap().level, SafetyLevel::High);
    }

    #[test]
    fn recent_behaviour_is_high() {
        let s = scored([N, N, SKIP, SKIP, SKIP, Y, Y]);
        assert_eq!(s.band().code, "high");
        assert!(s.is_flagged("behaviour_past_3_months"));
        assert_eq!(s.safety_signal().unwrap().reason, "C-SSRS high risk");
    }

    #[test]
    fn lifetime_behaviour_not_recent_is_moderate() {
        let s = scored([N, N, SKIP, SKIP, SKIP, Y, N]);
        assert_eq!(s.band().code, "moderate");
        assert!(!s.is_flagged("behaviour_past_3_months"));
        assert_eq!(s.safety_signal().unwrap().level, SafetyLevel::Moderate);
    }

    #[test]
    fn risk_codes_read_back() {
        for risk in [
            CssrsRisk::NoRisk,
            CssrsRisk::Low,
            CssrsRisk::Moderate,
            CssrsRisk::High,
        ] {
            assert_eq!(CssrsRisk::from_code(risk.code()), Some(risk));
        }
        assert_eq!(CssrsRisk::from_code("severe"), None);
    }

    #[test]
    fn skip_logic_violations_are_rejected() {
        assert_eq!(
            error(vec![N, N, N, SKIP, SKIP, N, SKIP]),
            "C-SSRS item 3: answered, but it is asked only when item 2 = Yes"
        );
        assert_eq!(
            error(vec![Y, N, SKIP, SKIP, Y, N, SKIP]),
            "C-SSRS item 5: answered, but it is asked only when item 2 = Yes"
        );
        assert_eq!(
            error(vec![Y, Y, N, SKIP, N, N, SKIP]),
            "C-SSRS item 4: no answer (asked because item 2 = Yes)"
        );
        assert_eq!(
            error(vec![N, N, SKIP, SKIP, SKIP, Y, SKIP]),
            "C-SSRS item 6a: no answer (asked because item 6 = Yes)"
        );
        assert_eq!(
            error(vec![N, N, SKIP, SKIP, SKIP, N, N]),
            "C-SSRS item 6a: answered, but it is asked only when item 6 = Yes"
        );
    }

    #[test]
    fn rejects_bad_values_counts_and_missing_items() {
        assert_eq!(
            error(vec![Some(2), N, SKIP, SKIP, SKIP, N, SKIP]),
            "C-SSRS item 1: 2 is not an allowed answer (0–1)"
        );
        assert_eq!(
            error(vec![N, N, SKIP, SKIP, SKIP, N]),
            "C-SSRS: expected 7 answers, got 6"
        );
        assert_eq!(
            error(vec![N, SKIP, SKIP, SKIP, SKIP, N, SKIP]),
            "C-SSRS item 2: no answer (this item is always asked)"
        );
    }

    #[test]
    fn form_codes_follow_the_bh_ig() {
        let codes: Vec<Option<&str>> = FORM.items.iter().map(|i| i.loinc).collect();
        let expected: Vec<Option<&str>> = LOINC_ITEMS.iter().copied().map(Some).collect();
        assert_eq!(codes, expected);
    }
}
