//! Standard measures (PHQ-9, GAD-7, AUDIT, AUDIT-C, DAST-10, PCL-5, C-SSRS, BAM), scored as published.
//!
//! Every instrument follows one path: its [`Form`] lists the items and their allowed answers (so a UI
//! can render it), [`score`] checks a set of [`Responses`] against that form and returns a
//! [`MeasureScore`], which carries any [`SafetySignal`]. Sources, and the open questions behind each
//! configurable choice in [`ScoringOptions`], are in `shared/domain/REFERENCE.md` §1 and §8.

pub mod audit;
pub mod audit_c;
pub mod bam;
mod change;
pub mod cssrs;
pub mod dast10;
mod error;
mod form;
pub mod gad7;
pub mod pcl5;
pub mod phq9;
mod result;
mod trend;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use audit::{AuditBandSet, AuditStepUp};
pub use audit_c::AuditCCutoff;
pub use change::{
    change_since_baseline, how_change_is_judged, reliable_change_index, Applicability, Change,
    ChangeDirection, Citation, NormativeSd, NotApplicableReason, ReliableChange,
    ReliableChangeIndex, PHQ9_MEASURED_BASELINE, RELIABLE_CHANGE_CRITERION,
};
pub use error::MeasureError;
pub use form::{AnswerOption, Asked, Form, FormItem};
pub use result::{Band, Flag, MeasureScore, SafetyLevel, SafetySignal};
pub use trend::{score_trend, ScoreTrend};

/// A standard measure the program administers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Instrument {
    /// Patient Health Questionnaire-9 (depression).
    Phq9,
    /// Generalized Anxiety Disorder-7.
    Gad7,
    /// Alcohol Use Disorders Identification Test, 10 items.
    Audit,
    /// AUDIT consumption items (AUDIT items 1–3).
    AuditC,
    /// Drug Abuse Screening Test, 10 items.
    Dast10,
    /// PTSD Checklist for DSM-5.
    Pcl5,
    /// Columbia Suicide Severity Rating Scale, screener version.
    Cssrs,
    /// Brief Addiction Monitor, IOP form (past 7 days).
    Bam,
}

impl Instrument {
    /// Every instrument, in the order forms are usually listed.
    pub const ALL: [Instrument; 8] = [
        Instrument::Phq9,
        Instrument::Gad7,
        Instrument::Audit,
        Instrument::AuditC,
        Instrument::Dast10,
        Instrument::Pcl5,
        Instrument::Cssrs,
        Instrument::Bam,
    ];

    /// The stored code ("phq9"); the same string serde uses.
    pub fn code(self) -> &'static str {
        match self {
            Instrument::Phq9 => "phq9",
            Instrument::Gad7 => "gad7",
            Instrument::Audit => "audit",
            Instrument::AuditC => "auditc",
            Instrument::Dast10 => "dast10",
            Instrument::Pcl5 => "pcl5",
            Instrument::Cssrs => "cssrs",
            Instrument::Bam => "bam",
        }
    }

    /// The short name staff use ("PHQ-9").
    pub fn name(self) -> &'static str {
        match self {
            Instrument::Phq9 => "PHQ-9",
            Instrument::Gad7 => "GAD-7",
            Instrument::Audit => "AUDIT",
            Instrument::AuditC => "AUDIT-C",
            Instrument::Dast10 => "DAST-10",
            Instrument::Pcl5 => "PCL-5",
            Instrument::Cssrs => "C-SSRS",
            Instrument::Bam => "BAM",
        }
    }

    /// The full title for headings and printouts.
    pub fn full_name(self) -> &'static str {
        match self {
            Instrument::Phq9 => "Patient Health Questionnaire-9",
            Instrument::Gad7 => "Generalized Anxiety Disorder-7",
            Instrument::Audit => "Alcohol Use Disorders Identification Test",
            Instrument::AuditC => "AUDIT-Consumption",
            Instrument::Dast10 => "Drug Abuse Screening Test-10",
            Instrument::Pcl5 => "PTSD Checklist for DSM-5",
            Instrument::Cssrs => "Columbia Suicide Severity Rating Scale (screener)",
            Instrument::Bam => "Brief Addiction Monitor (IOP, past 7 days)",
        }
    }

    /// The items and answer options, for rendering and validation.
    pub fn form(self) -> &'static Form {
        match self {
            Instrument::Phq9 => &phq9::FORM,
            Instrument::Gad7 => &gad7::FORM,
            Instrument::Audit => &audit::FORM,
            Instrument::AuditC => &audit_c::FORM,
            Instrument::Dast10 => &dast10::FORM,
            Instrument::Pcl5 => &pcl5::FORM,
            Instrument::Cssrs => &cssrs::FORM,
            Instrument::Bam => &bam::FORM,
        }
    }

    /// The highest possible total, or `None` when the instrument has no total (C-SSRS, BAM).
    pub fn max_total(self) -> Option<u16> {
        match self {
            Instrument::Phq9 => Some(27),
            Instrument::Gad7 => Some(21),
            Instrument::Audit => Some(40),
            Instrument::AuditC => Some(12),
            Instrument::Dast10 => Some(10),
            Instrument::Pcl5 => Some(80),
            Instrument::Cssrs | Instrument::Bam => None,
        }
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Instrument {
    type Err = MeasureError;

    /// Accepts the code or the name in any case, with or without hyphens ("PHQ-9", "phq9", "audit-c").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Instrument::ALL
            .into_iter()
            .find(|i| i.code() == wanted)
            .ok_or_else(|| MeasureError::UnknownInstrument(s.trim().to_owned()))
    }
}

/// The respondent's sex, as the AUDIT-C sex-specific cut-offs were validated (men ≥ 4, women ≥ 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Cut-off for men applies.
    Male,
    /// Cut-off for women applies.
    Female,
}

/// One completed questionnaire: answers in [`Form`] item order plus what scoring needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responses {
    /// One entry per form item, in form order; the item's answer value (yes/no as 1/0), or `None`
    /// when it was not answered or not asked.
    pub answers: Vec<Option<u8>>,
    /// The respondent's sex; only AUDIT-C with sex-specific cut-offs needs it.
    pub sex: Option<Sex>,
}

impl Responses {
    /// Responses with some items possibly unanswered (`None`).
    pub fn new(answers: Vec<Option<u8>>) -> Self {
        Responses { answers, sex: None }
    }

    /// Responses where every item was answered.
    pub fn all_answered(values: &[u8]) -> Self {
        Responses::new(values.iter().copied().map(Some).collect())
    }

    /// The same responses with the respondent's sex recorded.
    pub fn with_sex(self, sex: Sex) -> Self {
        Responses {
            sex: Some(sex),
            ..self
        }
    }
}

/// Program-level choices where published sources disagree (REFERENCE §8.2); defaults follow the
/// primary sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoringOptions {
    /// Which AUDIT band set to report (WHO zones by default).
    pub audit_bands: AuditBandSet,
    /// How the WHO "next-higher intervention" rule reads AUDIT items 4–6.
    pub audit_step_up: AuditStepUp,
    /// AUDIT-C cut-off: sex-specific (default) or unisex ≥ 5.
    pub audit_c_cutoff: AuditCCutoff,
    /// PCL-5 total at or above which PTSD is provisionally indicated (default 33; 1–80).
    pub pcl5_cutoff: u8,
}

impl Default for ScoringOptions {
    fn default() -> Self {
        ScoringOptions {
            audit_bands: AuditBandSet::WhoZones,
            audit_step_up: AuditStepUp::AnyDependenceItem,
            audit_c_cutoff: AuditCCutoff::SexSpecific,
            pcl5_cutoff: pcl5::DEFAULT_CUTOFF,
        }
    }
}

/// Validates and scores one completed instrument; any safety signal is inside the result.
pub fn score(
    instrument: Instrument,
    responses: &Responses,
    options: &ScoringOptions,
) -> Result<MeasureScore, MeasureError> {
    match instrument {
        Instrument::Phq9 => phq9::score(responses),
        Instrument::Gad7 => gad7::score(responses),
        Instrument::Audit => audit::score(responses, options.audit_bands, options.audit_step_up),
        Instrument::AuditC => audit_c::score(responses, options.audit_c_cutoff),
        Instrument::Dast10 => dast10::score(responses),
        Instrument::Pcl5 => pcl5::score(responses, options.pcl5_cutoff),
        Instrument::Cssrs => cssrs::score(responses),
        Instrument::Bam => bam::score(responses),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_parsing_round_trip() {
        let codes: Vec<&str> = Instrument::ALL.iter().map(|i| i.code()).collect();
        assert_eq!(
            codes,
            ["phq9", "gad7", "audit", "auditc", "dast10", "pcl5", "cssrs", "bam"]
        );
        for i in Instrument::ALL {
            assert_eq!(i.code().parse::<Instrument>(), Ok(i));
            assert_eq!(i.name().parse::<Instrument>(), Ok(i));
            assert_eq!(i.to_string(), i.name());
            assert_eq!(i.form().instrument, i);
        }
        assert_eq!("Audit-C".parse::<Instrument>(), Ok(Instrument::AuditC));
        assert_eq!(" c-ssrs".parse::<Instrument>(), Ok(Instrument::Cssrs));
    }

    #[test]
    fn unknown_instrument_is_named_in_the_error() {
        let err = "PHQ-2".parse::<Instrument>().unwrap_err();
        assert_eq!(err, MeasureError::UnknownInstrument("PHQ-2".into()));
        assert_eq!(
            err.to_string(),
            "unknown instrument \"PHQ-2\" (expected one of phq9, gad7, audit, auditc, dast10, pcl5, cssrs, bam)"
        );
    }

    #[test]
    fn default_options_follow_primary_sources() {
        let o = ScoringOptions::default();
        assert_eq!(o.audit_bands, AuditBandSet::WhoZones);
        assert_eq!(o.audit_step_up, AuditStepUp::AnyDependenceItem);
        assert_eq!(o.audit_c_cutoff, AuditCCutoff::SexSpecific);
        assert_eq!(o.pcl5_cutoff, 33);
    }

    #[test]
    fn forms_have_the_published_item_counts() {
        let counts: Vec<usize> = Instrument::ALL
            .iter()
            .map(|i| i.form().items.len())
            .collect();
        // C-SSRS: 6 questions + the Q6 recency follow-up; BAM: 17 items with item 7 as 7A–7G.
        assert_eq!(counts, [9, 7, 10, 3, 10, 20, 7, 23]);
    }

    #[test]
    fn common_entry_point_dispatches_with_options() {
        let r = Responses::all_answered(&[1, 1, 1]);
        let err = score(Instrument::AuditC, &r, &ScoringOptions::default()).unwrap_err();
        assert_eq!(err, MeasureError::SexRequired);
        let unisex = ScoringOptions {
            audit_c_cutoff: AuditCCutoff::Unisex5,
            ..ScoringOptions::default()
        };
        let s = score(Instrument::AuditC, &r, &unisex).unwrap();
        assert_eq!(s.total(), Some(3));
        assert_eq!(s.band().code, "negative");

        let phq = score(
            Instrument::Phq9,
            &Responses::all_answered(&[0, 0, 0, 0, 0, 0, 0, 0, 1]),
            &ScoringOptions::default(),
        )
        .unwrap();
        assert!(phq.requires_attention());
    }
}
