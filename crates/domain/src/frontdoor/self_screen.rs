//! The public self-screen ("Is an IOP right for me?"): AUDIT-C and DAST-10, scored by the same
//! code as in the chart, and a few plain questions on daily life, withdrawal, safety and home.
//! The answer says which level of care may fit, in plain words and without a diagnosis, and any
//! answer that signals danger puts crisis help first. Nothing here is stored.

use crate::measures::{audit_c, dast10, AuditCCutoff, MeasureError, Responses};

/// The AUDIT-C questions as a visitor reads them (Bush 1998), in form order.
pub const AUDIT_C_QUESTIONS: [&str; 3] = [
    "How often do you have a drink containing alcohol?",
    "How many drinks containing alcohol do you have on a typical day when you are drinking?",
    "How often do you have six or more drinks on one occasion?",
];

/// The DAST-10 questions as a visitor reads them (Skinner 1982), about the past 12 months and
/// drugs other than alcohol and tobacco, in form order.
pub const DAST_10_QUESTIONS: [&str; 10] = [
    "Have you used drugs other than those required for medical reasons?",
    "Do you use more than one drug at a time?",
    "Are you always able to stop using drugs when you want to?",
    "Have you had blackouts or flashbacks as a result of drug use?",
    "Do you ever feel bad or guilty about your drug use?",
    "Does your spouse or a parent ever complain about your involvement with drugs?",
    "Have you neglected your family because of your use of drugs?",
    "Have you engaged in illegal activities in order to obtain drugs?",
    "Have you ever had withdrawal symptoms (felt sick) when you stopped taking drugs?",
    "Have you had medical problems as a result of your drug use (for example memory loss, hepatitis, convulsions or bleeding)?",
];

/// A plain yes/no question beyond the two scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    /// Drinking or drug use got in the way of work, school or home in the past month.
    DailyLife,
    /// Withdrawal with shaking, seizures, hallucinations or confusion.
    SevereWithdrawal,
    /// Thoughts of ending one's life in the past month. Danger.
    ThoughtsOfSuicide,
    /// Not safe right now, or afraid someone will hurt them. Danger.
    UnsafeNow,
    /// A stable, safe place to live where staying off alcohol and drugs is possible.
    SafeHome,
    /// Someone at home or nearby who supports getting help.
    Support,
}

impl Plain {
    /// Every plain question, in the order the form asks them.
    pub const ALL: [Plain; 6] = [
        Plain::DailyLife,
        Plain::SevereWithdrawal,
        Plain::ThoughtsOfSuicide,
        Plain::UnsafeNow,
        Plain::SafeHome,
        Plain::Support,
    ];

    /// The form field's name.
    pub fn code(self) -> &'static str {
        match self {
            Plain::DailyLife => "daily_life",
            Plain::SevereWithdrawal => "severe_withdrawal",
            Plain::ThoughtsOfSuicide => "thoughts_of_suicide",
            Plain::UnsafeNow => "unsafe_now",
            Plain::SafeHome => "safe_home",
            Plain::Support => "support",
        }
    }

    /// The question.
    pub fn question(self) -> &'static str {
        match self {
            Plain::DailyLife => "In the past month, has drinking or drug use made it hard to keep up with work, school, family or home?",
            Plain::SevereWithdrawal => "When you stop or cut down, have you had shaking, seizures, seeing or hearing things that are not there, or confusion?",
            Plain::ThoughtsOfSuicide => "In the past month, have you had thoughts of killing yourself or wished you were dead?",
            Plain::UnsafeNow => "Are you in danger right now, or afraid that someone will hurt you?",
            Plain::SafeHome => "Do you have a safe, stable place to live where you could stay off alcohol and drugs?",
            Plain::Support => "Is there someone in your life who supports you getting help?",
        }
    }

    /// Whether "yes" to this question signals danger, so crisis help comes first.
    pub fn yes_is_danger(self) -> bool {
        matches!(self, Plain::ThoughtsOfSuicide | Plain::UnsafeNow)
    }
}

/// A visitor's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// AUDIT-C items 1–3, each 0–4.
    pub audit_c: [u8; 3],
    /// DAST-10 items 1–10, 0 = No, 1 = Yes.
    pub dast_10: [u8; 10],
    /// The plain questions, in [`Plain::ALL`] order, true = yes.
    pub plain: [bool; 6],
}

impl Answers {
    /// The answer to one plain question.
    pub fn said_yes(&self, q: Plain) -> bool {
        Plain::ALL
            .iter()
            .position(|p| *p == q)
            .is_some_and(|i| self.plain[i])
    }
}

/// Which level of care may fit, in words that do not diagnose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Few signs of harm: a talk with a doctor or counselor, or outpatient counseling.
    Outpatient,
    /// Signs that use is causing harm: an intensive outpatient program may fit.
    Intensive,
    /// Withdrawal that can be dangerous, or heavy use without a safe place to live: a more
    /// intensive start (medically managed withdrawal or residential care) may be safer first.
    MoreIntensiveFirst,
}

impl Fit {
    /// The heading of the answer.
    pub fn heading(self) -> &'static str {
        match self {
            Fit::Outpatient => "Outpatient counseling or a check-in may be enough for now",
            Fit::Intensive => "An intensive outpatient program may be a good fit",
            Fit::MoreIntensiveFirst => "A more intensive start may be safer first",
        }
    }

    /// What it means, plainly.
    pub fn explanation(self) -> &'static str {
        match self {
            Fit::Outpatient => "Your answers show few signs that alcohol or drugs are causing harm right now. If you are still worried, a talk with your doctor or a counselor is a good next step, and our intake team is glad to answer questions.",
            Fit::Intensive => "Your answers suggest alcohol or drugs are getting in the way of your life. An intensive outpatient program meets several times a week for a few hours, so you can keep living at home and working. Only an assessment with a clinician can say what fits; a call to intake is the first step.",
            Fit::MoreIntensiveFirst => "Stopping suddenly can be dangerous after heavy use, and recovery is harder without a safe place to stay. Medically supervised withdrawal or a residential program may be a safer first step, with an intensive outpatient program afterwards. Please do not stop suddenly on your own: call intake or your doctor, who can help you find the right place.",
        }
    }
}

/// What the self-screen tells the visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Any answer signalled danger: crisis help (988, 911) comes first.
    pub danger: bool,
    /// Which level of care may fit.
    pub fit: Fit,
    /// AUDIT-C total (0–12).
    pub audit_c_total: u16,
    /// DAST-10 total (0–10).
    pub dast_10_total: u16,
}

/// AUDIT-C total from which the self-screen reads drinking as a sign of harm: the unisex
/// cut-off, since the self-screen does not ask the visitor's sex.
const AUDIT_C_POSITIVE: u16 = 5;
/// AUDIT-C total read as heavy drinking (the top band, 8–12).
const AUDIT_C_HEAVY: u16 = 8;
/// DAST-10 total from which drug use reads as a sign of harm (moderate level, 3–5).
const DAST_10_MODERATE: u16 = 3;
/// DAST-10 total read as heavy use (substantial level, 6 and over).
const DAST_10_SUBSTANTIAL: u16 = 6;

/// Scores the answers and says which level of care may fit.
pub fn assess(answers: &Answers) -> Result<Outcome, MeasureError> {
    let audit = audit_c::score(
        &Responses::all_answered(&answers.audit_c),
        AuditCCutoff::Unisex5,
    )?;
    let dast = dast10::score(&Responses::all_answered(&answers.dast_10))?;
    let audit_c_total = audit.total().unwrap_or(0);
    let dast_10_total = dast.total().unwrap_or(0);
    let danger = Plain::ALL
        .iter()
        .any(|q| q.yes_is_danger() && answers.said_yes(*q));
    let heavy = audit_c_total >= AUDIT_C_HEAVY || dast_10_total >= DAST_10_SUBSTANTIAL;
    let harm = audit_c_total >= AUDIT_C_POSITIVE
        || dast_10_total >= DAST_10_MODERATE
        || answers.said_yes(Plain::DailyLife);
    let fit = if answers.said_yes(Plain::SevereWithdrawal)
        || (heavy && !answers.said_yes(Plain::SafeHome))
    {
        Fit::MoreIntensiveFirst
    } else if harm {
        Fit::Intensive
    } else {
        Fit::Outpatient
    };
    Ok(Outcome {
        danger,
        fit,
        audit_c_total,
        dast_10_total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers with the given scale values, a safe home and support, and no other "yes".
    fn answers(audit_c: [u8; 3], dast_yes: &[usize]) -> Answers {
        let mut dast_10 = [0u8; 10];
        for n in dast_yes {
            dast_10[n - 1] = 1;
        }
        Answers {
            audit_c,
            dast_10,
            plain: [false, false, false, false, true, true],
        }
    }

    fn with(mut a: Answers, q: Plain, yes: bool) -> Answers {
        let i = Plain::ALL.iter().position(|p| *p == q).expect("question");
        a.plain[i] = yes;
        a
    }

    #[test]
    fn few_signs_suggest_outpatient_care() {
        // DAST-10: all "No" except "always able to stop" scores 0; AUDIT-C 1+0+0 = 1.
        let o = assess(&answers([1, 0, 0], &[3])).expect("scored");
        assert_eq!((o.audit_c_total, o.dast_10_total), (1, 0));
        assert_eq!(o.fit, Fit::Outpatient);
        assert!(!o.danger);
    }

    #[test]
    fn signs_of_harm_on_either_scale_or_in_daily_life_suggest_an_iop() {
        // AUDIT-C 2+2+1 = 5, the unisex cut-off.
        let o = assess(&answers([2, 2, 1], &[3])).expect("scored");
        assert_eq!(o.audit_c_total, 5);
        assert_eq!(o.fit, Fit::Intensive);
        // DAST-10 yes on 1, 2, 5 and "No" to item 3: 4 (moderate).
        let o = assess(&answers([0, 0, 0], &[1, 2, 5])).expect("scored");
        assert_eq!(o.dast_10_total, 4);
        assert_eq!(o.fit, Fit::Intensive);
        let o = assess(&with(answers([1, 0, 0], &[3]), Plain::DailyLife, true)).expect("scored");
        assert_eq!(o.fit, Fit::Intensive);
    }

    #[test]
    fn dangerous_withdrawal_or_heavy_use_without_a_safe_home_suggest_more_first() {
        let o = assess(&with(
            answers([2, 2, 1], &[3]),
            Plain::SevereWithdrawal,
            true,
        ))
        .expect("scored");
        assert_eq!(o.fit, Fit::MoreIntensiveFirst);
        // DAST-10 substantial (1, 2, 4, 5, 6, 7 yes and item 3 "No" = 7) with no safe home.
        let heavy = answers([0, 0, 0], &[1, 2, 4, 5, 6, 7]);
        assert_eq!(assess(&heavy).expect("scored").dast_10_total, 7);
        assert_eq!(assess(&heavy).expect("scored").fit, Fit::Intensive);
        let homeless = with(heavy, Plain::SafeHome, false);
        assert_eq!(
            assess(&homeless).expect("scored").fit,
            Fit::MoreIntensiveFirst
        );
    }

    #[test]
    fn a_danger_answer_is_flagged_whatever_the_scores() {
        for q in [Plain::ThoughtsOfSuicide, Plain::UnsafeNow] {
            let o = assess(&with(answers([0, 0, 0], &[3]), q, true)).expect("scored");
            assert!(o.danger, "{q:?}");
            assert_eq!(o.fit, Fit::Outpatient);
        }
        for q in [
            Plain::DailyLife,
            Plain::SevereWithdrawal,
            Plain::SafeHome,
            Plain::Support,
        ] {
            assert!(!q.yes_is_danger());
        }
    }

    #[test]
    fn out_of_range_answers_are_refused_by_the_scales() {
        assert!(assess(&answers([5, 0, 0], &[])).is_err());
        let mut bad = answers([0, 0, 0], &[]);
        bad.dast_10[0] = 2;
        assert!(assess(&bad).is_err());
    }
}
