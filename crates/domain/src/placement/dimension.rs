//! The six ASAM dimensions (3rd edition names), their 0–4 risk ratings and a complete rating set.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::care::UnknownCode;

/// One of the six ASAM assessment dimensions (3rd edition, 2013).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// D1 Acute intoxication and/or withdrawal potential.
    Withdrawal,
    /// D2 Biomedical conditions and complications.
    Biomedical,
    /// D3 Emotional, behavioral or cognitive conditions and complications.
    EmotionalBehavioralCognitive,
    /// D4 Readiness to change.
    ReadinessToChange,
    /// D5 Relapse, continued use or continued problem potential.
    RelapsePotential,
    /// D6 Recovery/living environment.
    RecoveryEnvironment,
}

impl Dimension {
    /// The six dimensions in ASAM order.
    pub const ALL: [Dimension; 6] = [
        Dimension::Withdrawal,
        Dimension::Biomedical,
        Dimension::EmotionalBehavioralCognitive,
        Dimension::ReadinessToChange,
        Dimension::RelapsePotential,
        Dimension::RecoveryEnvironment,
    ];

    /// The dimension number, 1–6.
    pub fn number(self) -> u8 {
        match self {
            Dimension::Withdrawal => 1,
            Dimension::Biomedical => 2,
            Dimension::EmotionalBehavioralCognitive => 3,
            Dimension::ReadinessToChange => 4,
            Dimension::RelapsePotential => 5,
            Dimension::RecoveryEnvironment => 6,
        }
    }

    /// The stored code ("d1" … "d6").
    pub fn code(self) -> &'static str {
        match self {
            Dimension::Withdrawal => "d1",
            Dimension::Biomedical => "d2",
            Dimension::EmotionalBehavioralCognitive => "d3",
            Dimension::ReadinessToChange => "d4",
            Dimension::RelapsePotential => "d5",
            Dimension::RecoveryEnvironment => "d6",
        }
    }

    /// The 3rd-edition dimension title.
    pub fn title(self) -> &'static str {
        match self {
            Dimension::Withdrawal => "Acute intoxication and/or withdrawal potential",
            Dimension::Biomedical => "Biomedical conditions and complications",
            Dimension::EmotionalBehavioralCognitive => {
                "Emotional, behavioral or cognitive conditions and complications"
            }
            Dimension::ReadinessToChange => "Readiness to change",
            Dimension::RelapsePotential => "Relapse, continued use or continued problem potential",
            Dimension::RecoveryEnvironment => "Recovery/living environment",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "D{} {}", self.number(), self.title())
    }
}

impl FromStr for Dimension {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Dimension::ALL
            .into_iter()
            .find(|d| d.code().eq_ignore_ascii_case(s) || s == d.number().to_string())
            .ok_or_else(|| UnknownCode {
                kind: "ASAM dimension",
                code: s.to_owned(),
            })
    }
}

/// A 0–4 risk rating; construct it with [`Rating::new`] so it is always in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Rating(u8);

impl Rating {
    /// No risk or problem.
    pub const NONE: Rating = Rating(0);
    /// Mild.
    pub const MILD: Rating = Rating(1);
    /// Moderate.
    pub const MODERATE: Rating = Rating(2);
    /// Significant (severe).
    pub const SIGNIFICANT: Rating = Rating(3);
    /// Severe, imminent danger.
    pub const SEVERE: Rating = Rating(4);

    /// A rating if `value` is 0–4.
    pub fn new(value: u8) -> Option<Rating> {
        (value <= 4).then_some(Rating(value))
    }

    /// The number, 0–4.
    pub fn value(self) -> u8 {
        self.0
    }

    /// The usual word for the rating, for reasons and reports.
    pub fn label(self) -> &'static str {
        match self.0 {
            0 => "no risk",
            1 => "mild",
            2 => "moderate",
            3 => "significant",
            _ => "severe, imminent danger",
        }
    }
}

impl<'de> Deserialize<'de> for Rating {
    // Deserialise through `new` so stored data cannot smuggle in a 7.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u8::deserialize(deserializer)?;
        Rating::new(value)
            .ok_or_else(|| serde::de::Error::custom(format!("ASAM rating {value} is outside 0–4")))
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.label())
    }
}

/// Why a set of dimension ratings was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    /// A rating above 4 (or below 0, when parsed from text).
    #[error("{dimension}: rating {value} is outside 0–4")]
    OutOfRange {
        /// The dimension whose rating is wrong.
        dimension: Dimension,
        /// The rejected value, as entered.
        value: i64,
    },
    /// A dimension has no rating; all six are required.
    #[error("{0}: no rating (all six dimensions must be rated)")]
    Missing(Dimension),
    /// The same dimension was rated twice.
    #[error("{0}: rated more than once")]
    Duplicate(Dimension),
}

/// One dimension's rating with the clinician's narrative (history and "here and now").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionRating {
    /// Which dimension.
    pub dimension: Dimension,
    /// The 0–4 risk rating.
    pub rating: Rating,
    /// The clinician's justification; free text, may be empty.
    pub narrative: String,
}

impl DimensionRating {
    /// Validates the number as entered (so negative input also gets a typed error).
    pub fn new(
        dimension: Dimension,
        value: i64,
        narrative: impl Into<String>,
    ) -> Result<DimensionRating, RatingError> {
        let rating = u8::try_from(value)
            .ok()
            .and_then(Rating::new)
            .ok_or(RatingError::OutOfRange { dimension, value })?;
        Ok(DimensionRating {
            dimension,
            rating,
            narrative: narrative.into(),
        })
    }
}

/// A complete assessment: exactly one rating for each of the six dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<DimensionRating>", into = "Vec<DimensionRating>")]
pub struct DimensionRatings([DimensionRating; 6]);

impl DimensionRatings {
    /// Builds the set, reporting every missing or duplicated dimension at once.
    pub fn from_ratings(
        ratings: impl IntoIterator<Item = DimensionRating>,
    ) -> Result<DimensionRatings, Vec<RatingError>> {
        let mut slots: [Option<DimensionRating>; 6] = Default::default();
        let mut errors = Vec::new();
        for rating in ratings {
            let slot = &mut slots[usize::from(rating.dimension.number() - 1)];
            if slot.is_some() {
                errors.push(RatingError::Duplicate(rating.dimension));
            } else {
                *slot = Some(rating);
            }
        }
        for dimension in Dimension::ALL {
            if slots[usize::from(dimension.number() - 1)].is_none() {
                errors.push(RatingError::Missing(dimension));
            }
        }
        match slots {
            [Some(d1), Some(d2), Some(d3), Some(d4), Some(d5), Some(d6)] if errors.is_empty() => {
                Ok(DimensionRatings([d1, d2, d3, d4, d5, d6]))
            }
            // Any empty slot was reported as missing above, so `errors` is not empty here.
            _ => Err(errors),
        }
    }

    /// The rating and narrative for one dimension.
    pub fn get(&self, dimension: Dimension) -> &DimensionRating {
        &self.0[usize::from(dimension.number() - 1)]
    }

    /// The rating for one dimension.
    pub fn rating(&self, dimension: Dimension) -> Rating {
        self.get(dimension).rating
    }

    /// All six, in dimension order.
    pub fn iter(&self) -> impl Iterator<Item = &DimensionRating> {
        self.0.iter()
    }
}

impl TryFrom<Vec<DimensionRating>> for DimensionRatings {
    type Error = String;
    fn try_from(ratings: Vec<DimensionRating>) -> Result<Self, Self::Error> {
        DimensionRatings::from_ratings(ratings).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

impl From<DimensionRatings> for Vec<DimensionRating> {
    fn from(ratings: DimensionRatings) -> Self {
        ratings.0.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rated(dimension: Dimension, value: i64) -> DimensionRating {
        DimensionRating::new(dimension, value, "").unwrap()
    }

    #[test]
    fn out_of_range_rating_names_the_dimension() {
        let err = DimensionRating::new(Dimension::RelapsePotential, 5, "x").unwrap_err();
        assert_eq!(
            err,
            RatingError::OutOfRange {
                dimension: Dimension::RelapsePotential,
                value: 5
            }
        );
        assert!(err.to_string().starts_with("D5 Relapse"));
        assert!(DimensionRating::new(Dimension::Withdrawal, -1, "").is_err());
        assert_eq!(rated(Dimension::Withdrawal, 4).rating, Rating::SEVERE);
        assert_eq!(rated(Dimension::Withdrawal, 0).rating, Rating::NONE);
    }

    #[test]
    fn a_rating_set_needs_all_six_dimensions_once() {
        let partial = [
            rated(Dimension::Withdrawal, 1),
            rated(Dimension::Withdrawal, 2),
            rated(Dimension::Biomedical, 0),
        ];
        let errors = DimensionRatings::from_ratings(partial).unwrap_err();
        assert_eq!(
            errors,
            vec![
                RatingError::Duplicate(Dimension::Withdrawal),
                RatingError::Missing(Dimension::EmotionalBehavioralCognitive),
                RatingError::Missing(Dimension::ReadinessToChange),
                RatingError::Missing(Dimension::RelapsePotential),
                RatingError::Missing(Dimension::RecoveryEnvironment),
            ]
        );

        // Order of entry does not matter.
        let full = DimensionRatings::from_ratings(
            Dimension::ALL
                .into_iter()
                .rev()
                .map(|d| rated(d, i64::from(d.number()) % 5)),
        )
        .unwrap();
        assert_eq!(full.rating(Dimension::Withdrawal).value(), 1);
        assert_eq!(full.rating(Dimension::RecoveryEnvironment).value(), 1);
        assert_eq!(full.rating(Dimension::RelapsePotential).value(), 0);
        let order: Vec<Dimension> = full.iter().map(|r| r.dimension).collect();
        assert_eq!(order, Dimension::ALL);
    }

    #[test]
    fn dimensions_parse_from_code_or_number() {
        for d in Dimension::ALL {
            assert_eq!(d.code().parse::<Dimension>(), Ok(d));
            assert_eq!(d.number().to_string().parse::<Dimension>(), Ok(d));
        }
        assert!("d7".parse::<Dimension>().is_err());
    }

    #[test]
    fn ratings_cannot_be_deserialised_out_of_range() {
        use serde::de::value::{Error, U8Deserializer};
        use serde::de::IntoDeserializer;
        let three: U8Deserializer<Error> = 3u8.into_deserializer();
        assert_eq!(Rating::deserialize(three), Ok(Rating::SIGNIFICANT));
        let five: U8Deserializer<Error> = 5u8.into_deserializer();
        assert!(Rating::deserialize(five).is_err());
        assert!(Rating::new(5).is_none());
    }
}
