//! AUDIT-C (Bush 1998; Bradley 2003/2007): AUDIT items 1–3, each 0–4, total 0–12.
//!
//! Positive at ≥ 4 for men and ≥ 3 for women; some services (e.g. VA/DoD) use a unisex ≥ 5.

use super::audit::{FREQUENCY, HOW_OFTEN, TYPICAL_DRINKS};
use super::form::{validate, Form, FormItem};
use super::{Band, Flag, Instrument, MeasureError, MeasureScore, Responses, Sex};
use serde::{Deserialize, Serialize};

/// LOINC code of the AUDIT-C panel.
pub const LOINC_PANEL: &str = "72109-2";
/// LOINC code of the AUDIT-C total score.
pub const LOINC_TOTAL: &str = "75626-2";
/// LOINC codes of items 1–3; item 1 (believed 68518-0) is not confirmed, so it is `None`.
pub const LOINC_ITEMS: [Option<&str>; 3] = [None, Some("68519-8"), Some("68520-6")];

const ITEMS: [FormItem; 3] = [
    FormItem::new("1", "Drinking frequency", &FREQUENCY),
    FormItem::new("2", "Drinks on a typical drinking day", &TYPICAL_DRINKS).loinc("68519-8"),
    FormItem::new("3", "Six or more drinks on one occasion", &HOW_OFTEN).loinc("68520-6"),
];

/// The AUDIT-C form.
pub static FORM: Form = Form {
    instrument: Instrument::AuditC,
    look_back: "Past year",
    items: &ITEMS,
    loinc_panel: Some(LOINC_PANEL),
    loinc_total: Some(LOINC_TOTAL),
};

/// Which positive-screen cut-off the program uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditCCutoff {
    /// Men ≥ 4, women ≥ 3 (needs the respondent's sex).
    #[default]
    SexSpecific,
    /// Everyone ≥ 5.
    Unisex5,
}

/// AUDIT-C screen result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditCResult {
    /// Below the cut-off.
    Negative,
    /// At or above the cut-off.
    Positive,
}

impl AuditCResult {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            AuditCResult::Negative => "negative",
            AuditCResult::Positive => "positive",
        }
    }

    /// Label staff see.
    pub fn label(self) -> &'static str {
        match self {
            AuditCResult::Negative => "Negative screen",
            AuditCResult::Positive => "Positive screen",
        }
    }
}

/// The cut-off that applies and how staff read it; `None` when sex is needed but missing.
fn cutoff(choice: AuditCCutoff, sex: Option<Sex>) -> Option<(u16, &'static str)> {
    match (choice, sex) {
        (AuditCCutoff::Unisex5, _) => Some((5, "Total ≥ 5 (unisex cut-off)")),
        (AuditCCutoff::SexSpecific, Some(Sex::Male)) => Some((4, "Total ≥ 4 (men)")),
        (AuditCCutoff::SexSpecific, Some(Sex::Female)) => Some((3, "Total ≥ 3 (women)")),
        (AuditCCutoff::SexSpecific, None) => None,
    }
}

/// Scores an AUDIT-C; with sex-specific cut-offs the respondent's sex must be recorded.
pub fn score(responses: &Responses, choice: AuditCCutoff) -> Result<MeasureScore, MeasureError> {
    let answers = validate(&FORM, responses)?;
    let (cut, cut_label) = cutoff(choice, responses.sex).ok_or(MeasureError::SexRequired)?;
    let total = answers.total();
    let result = if total >= cut {
        AuditCResult::Positive
    } else {
        AuditCResult::Negative
    };
    // Per the US Core note: a positive screen built only from item 1 probably means drinking
    // within limits, so intake should be reviewed rather than the screen taken at face value.
    let item1_only =
        result == AuditCResult::Positive && answers.item(2) == 0 && answers.item(3) == 0;
    Ok(MeasureScore::new(
        Instrument::AuditC,
        Some(total),
        Band::new(result.code(), result.label()),
    )
    .with_flag(Flag::new(
        "positive",
        cut_label,
        result == AuditCResult::Positive,
    ))
    .with_flag(Flag::new(
        "item1_only",
        "All points from item 1: probably drinking within limits; review intake",
        item1_only,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sex_specific(values: [u8; 3], sex: Sex) -> MeasureScore {
        score(
            &Responses::all_answered(&values).with_sex(sex),
            AuditCCutoff::SexSpecific,
        )
        .unwrap()
    }

    fn unisex(values: [u8; 3]) -> MeasureScore {
        score(&Responses::all_answered(&values), AuditCCutoff::Unisex5).unwrap()
    }

    #[test]
    fn clincalc_vectors_a1_to_a6() {
        let cases = [
            ([3, 2, 2], Sex::Male, 7, "positive"),
            ([1, 1, 1], Sex::Female, 3, "positive"),
            ([1, 1, 1], Sex::Male, 3, "negative"),
            ([2, 1, 1], Sex::Male, 4, "positive"),
            ([4, 4, 4], Sex::Female, 12, "positive"),
            ([0, 0, 0], Sex::Male, 0, "negative"),
        ];
        for (values, sex, total, code) in cases {
            let s = sex_specific(values, sex);
            assert_eq!(s.total(), Some(total), "{values:?}");
            assert_eq!(s.band().code, code, "{values:?} {sex:?}");
            assert_eq!(s.is_flagged("positive"), code == "positive");
            assert!(!s.requires_attention());
        }
        // A1 is also positive on the unisex cut-off.
        assert_eq!(unisex([3, 2, 2]).band().code, "positive");
    }

    #[test]
    fn a7_missing_sex_is_rejected_for_sex_specific_cutoffs() {
        let err = score(
            &Responses::all_answered(&[1, 1, 1]),
            AuditCCutoff::SexSpecific,
        )
        .unwrap_err();
        assert_eq!(err, MeasureError::SexRequired);
        assert_eq!(
            err.to_string(),
            "AUDIT-C: the respondent's sex is needed for the sex-specific cut-off (men ≥ 4, \
             women ≥ 3); record it or use the unisex cut-off (≥ 5)"
        );
    }

    #[test]
    fn cutoff_boundaries() {
        assert_eq!(sex_specific([1, 1, 1], Sex::Male).band().code, "negative");
        assert_eq!(sex_specific([2, 1, 1], Sex::Male).band().code, "positive");
        assert_eq!(sex_specific([1, 1, 0], Sex::Female).band().code, "negative");
        assert_eq!(sex_specific([1, 1, 1], Sex::Female).band().code, "positive");
        assert_eq!(unisex([2, 1, 1]).band().code, "negative");
        assert_eq!(unisex([2, 2, 1]).band().code, "positive");
        // Unisex ignores a recorded sex.
        let female = score(
            &Responses::all_answered(&[1, 1, 1]).with_sex(Sex::Female),
            AuditCCutoff::Unisex5,
        )
        .unwrap();
        assert_eq!(female.band().code, "negative");
        assert_eq!(female.flags()[0].label, "Total ≥ 5 (unisex cut-off)");
    }

    #[test]
    fn positive_from_item1_alone_is_flagged_for_review() {
        let s = sex_specific([4, 0, 0], Sex::Male);
        assert_eq!(s.band().code, "positive");
        assert!(s.is_flagged("item1_only"));
        assert!(!sex_specific([3, 1, 0], Sex::Male).is_flagged("item1_only"));
        assert!(!sex_specific([2, 0, 0], Sex::Male).is_flagged("item1_only"));
    }

    #[test]
    fn rejects_bad_input() {
        let err = |values: &[u8]| {
            score(
                &Responses::all_answered(values).with_sex(Sex::Male),
                AuditCCutoff::SexSpecific,
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(err(&[1, 1]), "AUDIT-C: expected 3 answers, got 2");
        assert_eq!(err(&[0; 10]), "AUDIT-C: expected 3 answers, got 10");
        assert_eq!(
            err(&[0, 5, 0]),
            "AUDIT-C item 2: 5 is not an allowed answer (0–4)"
        );
        let missing = Responses::new(vec![Some(1), None, Some(0)]).with_sex(Sex::Female);
        assert_eq!(
            score(&missing, AuditCCutoff::SexSpecific)
                .unwrap_err()
                .to_string(),
            "AUDIT-C item 2: no answer (all 3 items are required)"
        );
    }

    #[test]
    fn item_codes_match_the_reference() {
        let form_codes: Vec<Option<&str>> = FORM.items.iter().map(|i| i.loinc).collect();
        assert_eq!(form_codes, LOINC_ITEMS);
    }
}
