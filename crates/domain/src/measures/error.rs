//! Why a set of responses, an option or a change request was rejected, in words staff can act on.

use super::Instrument;

/// A rejected input; nothing is scored from input that fails any check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// The number of answers does not match the form.
    #[error("{instrument}: expected {expected} answers, got {got}")]
    WrongItemCount {
        /// Instrument being scored.
        instrument: Instrument,
        /// Items on the form.
        expected: usize,
        /// Answers received.
        got: usize,
    },
    /// A required item has no answer.
    #[error("{instrument} item {item}: no answer ({why})")]
    MissingAnswer {
        /// Instrument being scored.
        instrument: Instrument,
        /// Item id as printed on the form ("4", "7A").
        item: &'static str,
        /// Why the item is required here.
        why: String,
    },
    /// An answer value the item does not offer.
    #[error("{instrument} item {item}: {value} is not an allowed answer ({allowed})")]
    NotAllowed {
        /// Instrument being scored.
        instrument: Instrument,
        /// Item id as printed on the form.
        item: &'static str,
        /// The rejected value.
        value: u8,
        /// The values the item accepts ("0–3", "0, 2 or 4").
        allowed: String,
    },
    /// An item was answered although the skip logic says it is not asked.
    #[error("{instrument} item {item}: answered, but it is asked only when {condition}")]
    NotAsked {
        /// Instrument being scored.
        instrument: Instrument,
        /// Item id as printed on the form.
        item: &'static str,
        /// The condition under which it is asked ("item 2 = Yes").
        condition: String,
    },
    /// Answers that contradict each other.
    #[error("{instrument} item {item}: {detail}")]
    Inconsistent {
        /// Instrument being scored.
        instrument: Instrument,
        /// Item id as printed on the form.
        item: &'static str,
        /// What contradicts what.
        detail: String,
    },
    /// AUDIT-C with sex-specific cut-offs needs the respondent's sex.
    #[error(
        "AUDIT-C: the respondent's sex is needed for the sex-specific cut-off (men ≥ 4, women ≥ 3); \
         record it or use the unisex cut-off (≥ 5)"
    )]
    SexRequired,
    /// A PCL-5 cut-off outside the possible totals.
    #[error("PCL-5 cut-off {0} is outside the possible range 1–80")]
    InvalidPcl5Cutoff(u8),
    /// Change since baseline was asked for an instrument without a total.
    #[error("{instrument} has no total score, so change since baseline cannot be computed")]
    NoTotal {
        /// Instrument asked about.
        instrument: Instrument,
    },
    /// A total that the instrument cannot produce.
    #[error("{instrument}: total {value} is outside the possible range 0–{max}")]
    TotalOutOfRange {
        /// Instrument asked about.
        instrument: Instrument,
        /// The rejected total.
        value: u16,
        /// The instrument's highest total.
        max: u16,
    },
    /// An instrument code or name that is not known.
    #[error(
        "unknown instrument {0:?} (expected one of phq9, gad7, audit, auditc, dast10, pcl5, cssrs, bam)"
    )]
    UnknownInstrument(String),
}
