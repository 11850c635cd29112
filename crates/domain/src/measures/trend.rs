//! Which way a score moved since the one before it, for the chart overview. On every instrument
//! with a total a higher total means more symptoms or risk (see `change`), so a lower total is
//! better. This says only which way the number went; whether a change is meaningful is judged
//! by `change_since_baseline` on the Measures tab.

use serde::{Deserialize, Serialize};

/// Which way a total moved from the previous administration of the same instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreTrend {
    /// A lower total: fewer symptoms or less risk.
    Better,
    /// A higher total.
    Worse,
    /// The same total.
    Same,
}

impl ScoreTrend {
    /// The word staff see.
    pub fn label(self) -> &'static str {
        match self {
            ScoreTrend::Better => "better",
            ScoreTrend::Worse => "worse",
            ScoreTrend::Same => "same",
        }
    }
}

/// The trend from `previous` to `latest` total.
pub fn score_trend(previous: u16, latest: u16) -> ScoreTrend {
    match latest.cmp(&previous) {
        std::cmp::Ordering::Less => ScoreTrend::Better,
        std::cmp::Ordering::Greater => ScoreTrend::Worse,
        std::cmp::Ordering::Equal => ScoreTrend::Same,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_total_is_better_on_every_instrument() {
        // PHQ-9 14 (moderate) at intake, 9 (mild) a month later: fewer symptoms.
        assert_eq!(score_trend(14, 9), ScoreTrend::Better);
        // AUDIT 8 then 16: more risk.
        assert_eq!(score_trend(8, 16), ScoreTrend::Worse);
        assert_eq!(score_trend(5, 5), ScoreTrend::Same);
        assert_eq!(ScoreTrend::Worse.label(), "worse");
    }
}
