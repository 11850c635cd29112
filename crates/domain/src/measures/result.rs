//! The scored result of one instrument, with its band, flags and safety signal.

use super::Instrument;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A band, zone or risk level: a stable code for storage and a label for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    /// Stable code ("moderate", "zone_2").
    pub code: String,
    /// Label shown to staff ("Moderate").
    pub label: String,
}

impl Band {
    /// A band from an instrument's band enum.
    pub(crate) fn new(code: &str, label: &str) -> Self {
        Band {
            code: code.to_owned(),
            label: label.to_owned(),
        }
    }
}

/// A rule the instrument evaluates (a cut-off, a critical item); every evaluated rule is listed,
/// raised or not, so that both results of a two-method instrument are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// Stable code ("use", "dsm5_cluster_rule").
    pub code: String,
    /// The rule as staff read it ("Risk ≥ 12").
    pub label: String,
    /// Whether the rule is met.
    pub raised: bool,
}

impl Flag {
    /// A flag with its outcome.
    pub(crate) fn new(code: &str, label: impl Into<String>, raised: bool) -> Self {
        Flag {
            code: code.to_owned(),
            label: label.into(),
            raised,
        }
    }
}

/// How urgently a clinician must act on a safety signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SafetyLevel {
    /// Clinician review and referral; consider safety precautions.
    Moderate,
    /// Immediate clinical evaluation and safety precautions.
    High,
}

impl SafetyLevel {
    /// Label staff see.
    pub fn label(self) -> &'static str {
        match self {
            SafetyLevel::Moderate => "Moderate",
            SafetyLevel::High => "High",
        }
    }
}

/// A finding that needs a clinician's attention whatever the total (suicide risk items).
#[must_use = "a safety signal must reach a clinician"]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetySignal {
    /// Urgency.
    pub level: SafetyLevel,
    /// What was found ("PHQ-9 item 9 endorsed").
    pub reason: String,
    /// What the source guidance asks the clinician to do.
    pub action: String,
}

impl SafetySignal {
    /// A signal with its urgency, finding and required action.
    pub(crate) fn new(level: SafetyLevel, reason: &str, action: &str) -> Self {
        SafetySignal {
            level,
            reason: reason.to_owned(),
            action: action.to_owned(),
        }
    }
}

/// The scored result of one instrument.
///
/// Fields are read through methods so a result can only come from scoring; the safety signal is
/// serialized first and always (as `null` when absent) so no consumer of the JSON can miss the key,
/// and the type is `#[must_use]` so a discarded result is a compiler warning.
#[must_use = "a measure score can carry a safety signal that a clinician must see"]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureScore {
    safety_signal: Option<SafetySignal>,
    instrument: Instrument,
    total: Option<u16>,
    subscales: BTreeMap<String, u16>,
    band: Band,
    flags: Vec<Flag>,
}

impl MeasureScore {
    /// A result without subscales, flags or signal yet.
    pub(crate) fn new(instrument: Instrument, total: Option<u16>, band: Band) -> Self {
        MeasureScore {
            safety_signal: None,
            instrument,
            total,
            subscales: BTreeMap::new(),
            band,
            flags: Vec::new(),
        }
    }

    /// Adds a subscale value.
    pub(crate) fn with_subscale(mut self, name: &str, value: u16) -> Self {
        self.subscales.insert(name.to_owned(), value);
        self
    }

    /// Adds an evaluated flag.
    pub(crate) fn with_flag(mut self, flag: Flag) -> Self {
        self.flags.push(flag);
        self
    }

    /// Attaches the safety signal, if any.
    pub(crate) fn with_safety_signal(mut self, signal: Option<SafetySignal>) -> Self {
        self.safety_signal = signal;
        self
    }

    /// The safety signal a clinician must see, if any; check this before anything else.
    pub fn safety_signal(&self) -> Option<&SafetySignal> {
        self.safety_signal.as_ref()
    }

    /// Whether the result carries a safety signal.
    pub fn requires_attention(&self) -> bool {
        self.safety_signal.is_some()
    }

    /// The instrument scored.
    pub fn instrument(&self) -> Instrument {
        self.instrument
    }

    /// The total, or `None` for instruments without a validated total (C-SSRS, BAM).
    pub fn total(&self) -> Option<u16> {
        self.total
    }

    /// Subscale values by name (BAM "use"/"risk"/"protective", PCL-5 "cluster_b", …).
    pub fn subscales(&self) -> &BTreeMap<String, u16> {
        &self.subscales
    }

    /// One subscale value by name.
    pub fn subscale(&self, name: &str) -> Option<u16> {
        self.subscales.get(name).copied()
    }

    /// The band, zone or risk level.
    pub fn band(&self) -> &Band {
        &self.band
    }

    /// Every rule evaluated, raised or not.
    pub fn flags(&self) -> &[Flag] {
        &self.flags
    }

    /// Whether the flag with this code was evaluated and raised.
    pub fn is_flagged(&self, code: &str) -> bool {
        self.flags.iter().any(|f| f.code == code && f.raised)
    }
}
