//! Brief Addiction Monitor, IOP form (BAM-IOP, VA): 17 items about the past 7 days, coded 0–4.
//!
//! Three subscales: Use = 4 + 5 + 6, Risk = 1 + 2 + 3 + 8 + 11 + 15, Protective = 9 + 10 + 12 +
//! 13 + 14 + 16, each 0–24 (Use 0–12); clinically significant at Use ≥ 1, Risk ≥ 12, Protective
//! ≤ 12 (Blueprint; the VA interpretation text says the same as "above 0", "above 11", "below 13").
//! Items 7A–7G detail item 6 and are not scored; item 17 stands alone. There is no validated
//! total, and the authors ask clinicians to read item-level answers.
//!
//! The form has 23 positions: items 1–6, 7A–7G, 8–17. The day-count labels for the 7-day form
//! are not confirmed against the official VA form (REFERENCE §1.7, §8.1); scoring uses only the
//! 0–4 codes, so correcting a label changes no score. No LOINC codes are known.

use super::form::{validate, AnswerOption, Answers, Asked, Form, FormItem};
use super::{Band, Flag, Instrument, MeasureError, MeasureScore, Responses};

/// Use subscale cut-off (at or above).
pub const USE_CUTOFF: u16 = 1;
/// Risk subscale cut-off (at or above).
pub const RISK_CUTOFF: u16 = 12;
/// Protective subscale cut-off (at or below).
pub const PROTECTIVE_CUTOFF: u16 = 12;

/// Items in each subscale, by item number.
const USE_ITEMS: [usize; 3] = [4, 5, 6];
const RISK_ITEMS: [usize; 6] = [1, 2, 3, 8, 11, 15];
const PROTECTIVE_ITEMS: [usize; 6] = [9, 10, 12, 13, 14, 16];
/// Stand-alone satisfaction-with-recovery item.
const SATISFACTION_ITEM: usize = 17;
/// Positions of the 7A–7G drug-type items.
const DRUG_TYPE_POSITIONS: std::ops::RangeInclusive<usize> = 6..=12;

const HEALTH: [AnswerOption; 5] = [
    AnswerOption::new(0, "Excellent"),
    AnswerOption::new(1, "Very good"),
    AnswerOption::new(2, "Good"),
    AnswerOption::new(3, "Fair"),
    AnswerOption::new(4, "Poor"),
];

/// Day-count bins for the 7-day form; labels unconfirmed (see the module note).
const DAYS: [AnswerOption; 5] = [
    AnswerOption::new(0, "0 days"),
    AnswerOption::new(1, "1 day"),
    AnswerOption::new(2, "2 days"),
    AnswerOption::new(3, "3–4 days"),
    AnswerOption::new(4, "5–7 days"),
];

const HOW_MUCH: [AnswerOption; 5] = [
    AnswerOption::new(0, "Not at all"),
    AnswerOption::new(1, "Slightly"),
    AnswerOption::new(2, "Moderately"),
    AnswerOption::new(3, "Considerably"),
    AnswerOption::new(4, "Extremely"),
];

/// Income is scored in the protective direction: Yes = 4.
const INCOME: [AnswerOption; 2] = [AnswerOption::new(0, "No"), AnswerOption::new(4, "Yes")];

const ITEMS: [FormItem; 23] = [
    FormItem::new("1", "Physical health", &HEALTH),
    FormItem::new("2", "Nights with trouble sleeping", &DAYS),
    FormItem::new("3", "Days depressed, anxious, angry or very upset", &DAYS),
    FormItem::new("4", "Days with any alcohol", &DAYS),
    FormItem::new("5", "Days of heavy drinking (5+ men, 4+ women)", &DAYS),
    FormItem::new(
        "6",
        "Days using illegal drugs or misusing prescriptions",
        &DAYS,
    ),
    FormItem::new("7A", "Days using marijuana", &DAYS).asked(Asked::Optional),
    FormItem::new("7B", "Days using sedatives or tranquilizers", &DAYS).asked(Asked::Optional),
    FormItem::new("7C", "Days using cocaine or crack", &DAYS).asked(Asked::Optional),
    FormItem::new("7D", "Days using other stimulants", &DAYS).asked(Asked::Optional),
    FormItem::new("7E", "Days using opiates", &DAYS).asked(Asked::Optional),
    FormItem::new("7F", "Days using inhalants", &DAYS).asked(Asked::Optional),
    FormItem::new("7G", "Days using other drugs or medications", &DAYS).asked(Asked::Optional),
    FormItem::new("8", "Bothered by cravings", &HOW_MUCH),
    FormItem::new("9", "Confidence in staying abstinent", &HOW_MUCH),
    FormItem::new("10", "Days at self-help meetings", &DAYS),
    FormItem::new("11", "Days in risky situations", &DAYS),
    FormItem::new(
        "12",
        "Religion or spirituality supports recovery",
        &HOW_MUCH,
    ),
    FormItem::new("13", "Days at work, school or volunteering", &DAYS),
    FormItem::new("14", "Enough legal income for necessities", &INCOME),
    FormItem::new("15", "Bothered by family or social problems", &HOW_MUCH),
    FormItem::new("16", "Days with people supportive of recovery", &DAYS),
    FormItem::new("17", "Satisfaction with recovery progress", &HOW_MUCH),
];

/// The BAM-IOP form.
pub static FORM: Form = Form {
    instrument: Instrument::Bam,
    look_back: "Past 7 days",
    items: &ITEMS,
    loinc_panel: None,
    loinc_total: None,
};

/// Form position of a numbered item (7A–7G sit between items 6 and 8).
fn position(item: usize) -> usize {
    if item <= 6 {
        item.saturating_sub(1)
    } else {
        item + 5
    }
}

/// Sum of the answers to the given item numbers.
fn sum(answers: &Answers<'_>, items: &[usize]) -> u16 {
    items
        .iter()
        .map(|&n| u16::from(answers.at(position(n))))
        .sum()
}

/// Whether any subscale reaches its cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BamStatus {
    /// No subscale at its cut-off.
    NoFlags,
    /// At least one subscale at its cut-off; see the flags for which.
    Flagged,
}

impl BamStatus {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            BamStatus::NoFlags => "no_flags",
            BamStatus::Flagged => "flagged",
        }
    }

    /// Label staff see.
    pub fn label(self) -> &'static str {
        match self {
            BamStatus::NoFlags => "No subscale at its clinical cut-off",
            BamStatus::Flagged => "One or more subscales at their clinical cut-off",
        }
    }
}

/// Rejects day counts that contradict each other, as the VA's BAM-IOP checks do: heavy-drinking
/// days cannot exceed drinking days, and days on one drug cannot exceed days on any drug. The bins
/// are ordered, so comparing codes compares days.
fn check_consistency(answers: &Answers<'_>) -> Result<(), MeasureError> {
    let label = |pos: usize| {
        ITEMS
            .get(pos)
            .and_then(|i| i.answer_label(answers.at(pos)))
            .unwrap_or("?")
    };
    let (any_alcohol, heavy) = (position(4), position(5));
    if answers.at(heavy) > answers.at(any_alcohol) {
        return Err(MeasureError::Inconsistent {
            instrument: Instrument::Bam,
            item: "5",
            detail: format!(
                "heavy-drinking days ({}) cannot be more than days with any alcohol in item 4 ({})",
                label(heavy),
                label(any_alcohol)
            ),
        });
    }
    let any_drug = position(6);
    for pos in DRUG_TYPE_POSITIONS {
        if answers.at(pos) > answers.at(any_drug) {
            return Err(MeasureError::Inconsistent {
                instrument: Instrument::Bam,
                item: ITEMS.get(pos).map_or("7", |i| i.id),
                detail: format!(
                    "days using this drug ({}) cannot be more than days using any drug in item 6 ({})",
                    label(pos),
                    label(any_drug)
                ),
            });
        }
    }
    Ok(())
}

/// Scores a BAM-IOP: three subscales with their flags and the stand-alone item 17.
pub fn score(responses: &Responses) -> Result<MeasureScore, MeasureError> {
    let answers = validate(&FORM, responses)?;
    check_consistency(&answers)?;
    let use_score = sum(&answers, &USE_ITEMS);
    let risk = sum(&answers, &RISK_ITEMS);
    let protective = sum(&answers, &PROTECTIVE_ITEMS);
    let satisfaction = u16::from(answers.at(position(SATISFACTION_ITEM)));

    let use_flag = use_score >= USE_CUTOFF;
    let risk_flag = risk >= RISK_CUTOFF;
    let protective_flag = protective <= PROTECTIVE_CUTOFF;
    let status = if use_flag || risk_flag || protective_flag {
        BamStatus::Flagged
    } else {
        BamStatus::NoFlags
    };
    Ok(MeasureScore::new(
        Instrument::Bam,
        None,
        Band::new(status.code(), status.label()),
    )
    .with_subscale("use", use_score)
    .with_subscale("risk", risk)
    .with_subscale("protective", protective)
    // Item 17 is reported beside the subscales, not summed into any of them.
    .with_subscale("satisfaction", satisfaction)
    .with_flag(Flag::new(
        "use",
        "Use ≥ 1: any alcohol or drug use",
        use_flag,
    ))
    .with_flag(Flag::new("risk", "Risk ≥ 12", risk_flag))
    .with_flag(Flag::new("protective", "Protective ≤ 12", protective_flag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items 1–6 and 8–17 (16 values, item 7 sub-items left blank).
    fn form(values: [u8; 16]) -> Responses {
        let mut answers: Vec<Option<u8>> = values[..6].iter().copied().map(Some).collect();
        answers.extend([None; 7]);
        answers.extend(values[6..].iter().copied().map(Some));
        Responses::new(answers)
    }

    /// REFERENCE §1.7 derived vector: items 1–6, then 8–17.
    const VECTOR: [u8; 16] = [2, 1, 2, 0, 0, 0, 1, 3, 2, 1, 2, 4, 4, 1, 3, 3];

    fn scored(values: [u8; 16]) -> MeasureScore {
        score(&form(values)).unwrap()
    }

    fn error(r: &Responses) -> String {
        score(r).unwrap_err().to_string()
    }

    #[test]
    fn derived_vector_has_no_flags() {
        let s = scored(VECTOR);
        assert_eq!(s.total(), None);
        assert_eq!(s.subscale("use"), Some(0));
        assert_eq!(s.subscale("risk"), Some(8));
        assert_eq!(s.subscale("protective"), Some(18));
        assert_eq!(s.subscale("satisfaction"), Some(3));
        assert!(!s.is_flagged("use"));
        assert!(!s.is_flagged("risk"));
        assert!(!s.is_flagged("protective"));
        assert_eq!(s.band().code, "no_flags");
        assert!(!s.requires_attention());
    }

    #[test]
    fn derived_vector_with_drinking_raises_use() {
        let mut v = VECTOR;
        v[3] = 2;
        v[4] = 1;
        let s = scored(v);
        assert_eq!(s.subscale("use"), Some(3));
        assert!(s.is_flagged("use"));
        assert_eq!(s.band().code, "flagged");
    }

    #[test]
    fn use_boundary_0_1() {
        let mut v = VECTOR;
        v[5] = 1;
        let s = scored(v);
        assert_eq!(s.subscale("use"), Some(1));
        assert!(s.is_flagged("use"));
    }

    #[test]
    fn risk_boundary_11_12() {
        // Risk items 1, 2, 3, 8, 11, 15 at positions 0, 1, 2, 6, 9, 13 of the 16 values.
        let mut v = VECTOR;
        for (pos, value) in [(0, 2), (1, 2), (2, 2), (6, 2), (9, 2), (13, 1)] {
            v[pos] = value;
        }
        let below = scored(v);
        assert_eq!(below.subscale("risk"), Some(11));
        assert!(!below.is_flagged("risk"));
        v[13] = 2;
        let at = scored(v);
        assert_eq!(at.subscale("risk"), Some(12));
        assert!(at.is_flagged("risk"));
        assert_eq!(at.band().code, "flagged");
    }

    #[test]
    fn protective_boundary_13_12() {
        // Protective items 9, 10, 12, 13, 14, 16 at positions 7, 8, 10, 11, 12, 14.
        let mut v = VECTOR;
        for (pos, value) in [(7, 3), (8, 2), (10, 2), (11, 2), (12, 4), (14, 0)] {
            v[pos] = value;
        }
        let above = scored(v);
        assert_eq!(above.subscale("protective"), Some(13));
        assert!(!above.is_flagged("protective"));
        v[11] = 1;
        let at = scored(v);
        assert_eq!(at.subscale("protective"), Some(12));
        assert!(at.is_flagged("protective"));
    }

    #[test]
    fn drug_type_items_are_optional_and_unscored() {
        let mut v = VECTOR;
        v[5] = 3;
        let mut r = form(v);
        r.answers[6] = Some(3); // 7A
        r.answers[10] = Some(2); // 7E
        let s = score(&r).unwrap();
        assert_eq!(s.subscale("use"), Some(3));
        assert_eq!(s.subscale("risk"), Some(8));
    }

    #[test]
    fn contradictory_day_counts_are_rejected() {
        let mut v = VECTOR;
        v[3] = 1;
        v[4] = 2;
        assert_eq!(
            error(&form(v)),
            "BAM item 5: heavy-drinking days (2 days) cannot be more than days with any alcohol \
             in item 4 (1 day)"
        );
        let mut r = form(VECTOR);
        r.answers[8] = Some(1); // 7C with item 6 = 0 days
        assert_eq!(
            error(&r),
            "BAM item 7C: days using this drug (1 day) cannot be more than days using any drug \
             in item 6 (0 days)"
        );
    }

    #[test]
    fn rejects_bad_input() {
        let mut r = form(VECTOR);
        r.answers[19] = Some(2); // item 14 takes only 0 or 4
        assert_eq!(
            error(&r),
            "BAM item 14: 2 is not an allowed answer (0 or 4)"
        );
        let mut r = form(VECTOR);
        r.answers[0] = Some(5);
        assert_eq!(error(&r), "BAM item 1: 5 is not an allowed answer (0–4)");
        let mut r = form(VECTOR);
        r.answers[22] = None;
        assert_eq!(
            error(&r),
            "BAM item 17: no answer (this item is always asked)"
        );
        let mut r = form(VECTOR);
        r.answers[12] = Some(7); // 7G
        assert_eq!(error(&r), "BAM item 7G: 7 is not an allowed answer (0–4)");
        let seventeen = Responses::all_answered(&[0; 17]);
        assert_eq!(error(&seventeen), "BAM: expected 23 answers, got 17");
    }

    #[test]
    fn positions_follow_the_form() {
        assert_eq!(FORM.items[position(1)].id, "1");
        assert_eq!(FORM.items[position(6)].id, "6");
        assert_eq!(FORM.items[position(8)].id, "8");
        assert_eq!(FORM.items[position(17)].id, "17");
        let drug_ids: Vec<&str> = DRUG_TYPE_POSITIONS.map(|p| FORM.items[p].id).collect();
        assert_eq!(drug_ids, ["7A", "7B", "7C", "7D", "7E", "7F", "7G"]);
    }
}
