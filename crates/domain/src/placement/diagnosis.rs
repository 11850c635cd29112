//! ICD-10-CM diagnosis codes: format validation for free entry and a curated pick list.
//!
//! Validation checks the shape of a code only; whether it exists in the current ICD-10-CM
//! release is for the code set the clinic loads, not for this module.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A well-formed ICD-10-CM code, normalised to upper case with the dot after the category ("F10.20").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DiagnosisCode(String);

/// Why a diagnosis code was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiagnosisCodeError {
    /// Nothing was entered.
    #[error("enter a diagnosis code")]
    Empty,
    /// The first three characters are not a category such as "F10".
    #[error(
        "{0:?} is not an ICD-10-CM code: it must start with a letter and two digits, e.g. F10"
    )]
    InvalidCategory(String),
    /// A dot anywhere but after the three-character category, or more than one dot.
    #[error("{0:?}: the dot belongs after the first three characters, e.g. F10.20")]
    MisplacedDot(String),
    /// The part after the category is not 1–4 letters or digits.
    #[error("{0:?}: after the category there must be 1 to 4 letters or digits, e.g. F10.20")]
    InvalidSubcategory(String),
}

impl DiagnosisCode {
    /// Validates and normalises free entry: case, surrounding space and the dot are forgiven.
    pub fn parse(input: &str) -> Result<DiagnosisCode, DiagnosisCodeError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(DiagnosisCodeError::Empty);
        }
        let chars: Vec<char> = trimmed.to_ascii_uppercase().chars().collect();
        let invalid_category = || DiagnosisCodeError::InvalidCategory(trimmed.to_owned());
        // ICD-10-CM categories are a letter, a digit, then a digit or letter (F10, but also M1A).
        if chars.len() < 3 || !chars[0].is_ascii_uppercase() || !chars[1].is_ascii_digit() {
            return Err(invalid_category());
        }
        let dots: Vec<usize> = (0..chars.len()).filter(|&i| chars[i] == '.').collect();
        let subcategory_start = match dots.as_slice() {
            [] => 3,
            [3] => 4,
            _ => return Err(DiagnosisCodeError::MisplacedDot(trimmed.to_owned())),
        };
        if !chars[2].is_ascii_alphanumeric() {
            return Err(invalid_category());
        }
        let category: String = chars[..3].iter().collect();
        let subcategory: String = chars[subcategory_start..].iter().collect();
        let subcategory_ok = subcategory.chars().count() <= 4
            && subcategory.chars().all(|ch| ch.is_ascii_alphanumeric())
            // "F10." has a dot with nothing after it.
            && !(subcategory_start == 4 && subcategory.is_empty());
        if !subcategory_ok {
            return Err(DiagnosisCodeError::InvalidSubcategory(trimmed.to_owned()));
        }
        Ok(if subcategory.is_empty() {
            DiagnosisCode(category)
        } else {
            DiagnosisCode(format!("{category}.{subcategory}"))
        })
    }

    /// The normalised code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the code is in F10–F19, mental and behavioural disorders due to psychoactive substance use.
    pub fn is_substance_related(&self) -> bool {
        let b = self.0.as_bytes();
        b.len() >= 3 && b[0] == b'F' && b[1] == b'1' && b[2].is_ascii_digit()
    }

    /// Whether the code is in F17, nicotine dependence (DSM-5 tobacco use disorder).
    pub fn is_nicotine(&self) -> bool {
        self.0.starts_with("F17")
    }

    /// The curated entry for this code, if it is on the pick list.
    pub fn curated(&self) -> Option<&'static CuratedDiagnosis> {
        CURATED_DIAGNOSES.iter().find(|d| d.code == self.0)
    }
}

impl fmt::Display for DiagnosisCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DiagnosisCode {
    type Err = DiagnosisCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DiagnosisCode::parse(s)
    }
}

impl TryFrom<String> for DiagnosisCode {
    type Error = DiagnosisCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DiagnosisCode::parse(&s)
    }
}

impl From<DiagnosisCode> for String {
    fn from(code: DiagnosisCode) -> Self {
        code.0
    }
}

/// Which substance use disorder diagnoses a patient has, as placement reads them.
///
/// Tobacco use disorder is a substance use disorder (DSM-5), but the ASAM criteria are used to
/// place patients for every substance use disorder except tobacco (Williams et al. 2016, J Addict
/// Med 10(5)): nicotine (F17) alone does not qualify a patient for an SUD level of care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SudDiagnosis {
    /// No F10–F19 code.
    None,
    /// F17 codes only.
    NicotineOnly,
    /// At least one F10–F19 code other than F17.
    Qualifying,
}

impl SudDiagnosis {
    /// Reads a patient's active diagnosis codes.
    pub fn of<'a>(codes: impl IntoIterator<Item = &'a DiagnosisCode>) -> SudDiagnosis {
        let mut found = SudDiagnosis::None;
        for code in codes.into_iter().filter(|c| c.is_substance_related()) {
            if !code.is_nicotine() {
                return SudDiagnosis::Qualifying;
            }
            found = SudDiagnosis::NicotineOnly;
        }
        found
    }
}

/// Which part of the pick list an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosisGroup {
    /// Substance use disorders, F10–F19.
    SubstanceUse,
    /// Common co-occurring mental health conditions.
    CoOccurring,
}

/// A pick-list entry: code and its ICD-10-CM description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CuratedDiagnosis {
    /// The code, normalised.
    pub code: &'static str,
    /// The ICD-10-CM description.
    pub description: &'static str,
    /// Substance use or co-occurring.
    pub group: DiagnosisGroup,
}

const fn sud(code: &'static str, description: &'static str) -> CuratedDiagnosis {
    CuratedDiagnosis {
        code,
        description,
        group: DiagnosisGroup::SubstanceUse,
    }
}

const fn co(code: &'static str, description: &'static str) -> CuratedDiagnosis {
    CuratedDiagnosis {
        code,
        description,
        group: DiagnosisGroup::CoOccurring,
    }
}

/// The codes an SUD/co-occurring IOP uses most. DSM-5-TR maps mild use disorder to the ".10"
/// (abuse) codes and moderate or severe to ".20" (dependence). Billing-grade completeness needs
/// the full ICD-10-CM release; free entry covers everything else.
pub const CURATED_DIAGNOSES: &[CuratedDiagnosis] = &[
    sud("F10.10", "Alcohol abuse, uncomplicated"),
    sud("F10.11", "Alcohol abuse, in remission"),
    sud("F10.20", "Alcohol dependence, uncomplicated"),
    sud("F10.21", "Alcohol dependence, in remission"),
    sud(
        "F10.220",
        "Alcohol dependence with intoxication, uncomplicated",
    ),
    sud(
        "F10.230",
        "Alcohol dependence with withdrawal, uncomplicated",
    ),
    sud("F10.231", "Alcohol dependence with withdrawal delirium"),
    sud("F10.239", "Alcohol dependence with withdrawal, unspecified"),
    sud("F11.10", "Opioid abuse, uncomplicated"),
    sud("F11.11", "Opioid abuse, in remission"),
    sud("F11.20", "Opioid dependence, uncomplicated"),
    sud("F11.21", "Opioid dependence, in remission"),
    sud("F11.23", "Opioid dependence with withdrawal"),
    sud("F12.10", "Cannabis abuse, uncomplicated"),
    sud("F12.20", "Cannabis dependence, uncomplicated"),
    sud("F12.21", "Cannabis dependence, in remission"),
    sud(
        "F13.10",
        "Sedative, hypnotic or anxiolytic abuse, uncomplicated",
    ),
    sud(
        "F13.20",
        "Sedative, hypnotic or anxiolytic dependence, uncomplicated",
    ),
    sud(
        "F13.21",
        "Sedative, hypnotic or anxiolytic dependence, in remission",
    ),
    sud("F14.10", "Cocaine abuse, uncomplicated"),
    sud("F14.20", "Cocaine dependence, uncomplicated"),
    sud("F14.21", "Cocaine dependence, in remission"),
    sud("F15.10", "Other stimulant abuse, uncomplicated"),
    sud("F15.20", "Other stimulant dependence, uncomplicated"),
    sud("F15.21", "Other stimulant dependence, in remission"),
    sud("F16.10", "Hallucinogen abuse, uncomplicated"),
    sud("F16.20", "Hallucinogen dependence, uncomplicated"),
    sud("F17.200", "Nicotine dependence, unspecified, uncomplicated"),
    sud("F17.210", "Nicotine dependence, cigarettes, uncomplicated"),
    sud(
        "F17.290",
        "Nicotine dependence, other tobacco product, uncomplicated",
    ),
    sud("F18.10", "Inhalant abuse, uncomplicated"),
    sud("F18.20", "Inhalant dependence, uncomplicated"),
    sud(
        "F19.10",
        "Other psychoactive substance abuse, uncomplicated",
    ),
    sud(
        "F19.20",
        "Other psychoactive substance dependence, uncomplicated",
    ),
    sud(
        "F19.21",
        "Other psychoactive substance dependence, in remission",
    ),
    co("F31.0", "Bipolar disorder, current episode hypomanic"),
    co("F31.9", "Bipolar disorder, unspecified"),
    co("F31.81", "Bipolar II disorder"),
    co("F32.0", "Major depressive disorder, single episode, mild"),
    co(
        "F32.1",
        "Major depressive disorder, single episode, moderate",
    ),
    co(
        "F32.2",
        "Major depressive disorder, single episode, severe without psychotic features",
    ),
    co(
        "F32.3",
        "Major depressive disorder, single episode, severe with psychotic features",
    ),
    co(
        "F32.4",
        "Major depressive disorder, single episode, in partial remission",
    ),
    co(
        "F32.5",
        "Major depressive disorder, single episode, in full remission",
    ),
    co(
        "F32.9",
        "Major depressive disorder, single episode, unspecified",
    ),
    co("F32.A", "Depression, unspecified"),
    co("F33.0", "Major depressive disorder, recurrent, mild"),
    co("F33.1", "Major depressive disorder, recurrent, moderate"),
    co(
        "F33.2",
        "Major depressive disorder, recurrent severe without psychotic features",
    ),
    co(
        "F33.3",
        "Major depressive disorder, recurrent, severe with psychotic symptoms",
    ),
    co(
        "F33.41",
        "Major depressive disorder, recurrent, in partial remission",
    ),
    co(
        "F33.42",
        "Major depressive disorder, recurrent, in full remission",
    ),
    co("F33.9", "Major depressive disorder, recurrent, unspecified"),
    co("F41.0", "Panic disorder [episodic paroxysmal anxiety]"),
    co("F41.1", "Generalized anxiety disorder"),
    co("F41.9", "Anxiety disorder, unspecified"),
    co("F43.10", "Post-traumatic stress disorder, unspecified"),
    co("F43.12", "Post-traumatic stress disorder, chronic"),
    co(
        "F90.0",
        "Attention-deficit hyperactivity disorder, predominantly inattentive type",
    ),
    co(
        "F90.2",
        "Attention-deficit hyperactivity disorder, combined type",
    ),
    co(
        "F90.9",
        "Attention-deficit hyperactivity disorder, unspecified type",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_codes_are_normalised() {
        let cases = [
            ("F10.20", "F10.20"),
            ("f10.20", "F10.20"),
            ("F1020", "F10.20"),
            (" f17210 ", "F17.210"),
            ("F41.1", "F41.1"),
            ("F411", "F41.1"),
            ("F32.a", "F32.A"),
            ("F10", "F10"),
            ("T40.1X1A", "T40.1X1A"),
            ("M1A.0", "M1A.0"),
        ];
        for (input, normalised) in cases {
            assert_eq!(
                DiagnosisCode::parse(input).map(|c| c.to_string()),
                Ok(normalised.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn bad_codes_get_typed_errors() {
        use DiagnosisCodeError::*;
        let cases = [
            ("", Empty),
            ("   ", Empty),
            ("10.20", InvalidCategory("10.20".into())),
            ("FF0.20", InvalidCategory("FF0.20".into())),
            ("FF020", InvalidCategory("FF020".into())),
            ("F1", InvalidCategory("F1".into())),
            ("F1.020", MisplacedDot("F1.020".into())),
            ("F10.2.0", MisplacedDot("F10.2.0".into())),
            ("F10.", InvalidSubcategory("F10.".into())),
            ("F10.12345", InvalidSubcategory("F10.12345".into())),
            ("F10.2-0", InvalidSubcategory("F10.2-0".into())),
            ("F10 20", InvalidSubcategory("F10 20".into())),
            ("É10.20", InvalidCategory("É10.20".into())),
        ];
        for (input, error) in cases {
            assert_eq!(DiagnosisCode::parse(input), Err(error), "{input:?}");
        }
        assert!(DiagnosisCode::parse("F10.2-0")
            .unwrap_err()
            .to_string()
            .contains("1 to 4 letters or digits"));
    }

    #[test]
    fn nicotine_alone_does_not_qualify_for_placement() {
        let codes = |list: &[&str]| -> Vec<DiagnosisCode> {
            list.iter().map(|c| c.parse().unwrap()).collect()
        };
        assert_eq!(SudDiagnosis::of(&codes(&[])), SudDiagnosis::None);
        assert_eq!(SudDiagnosis::of(&codes(&["F41.1"])), SudDiagnosis::None);
        assert_eq!(
            SudDiagnosis::of(&codes(&["F17.210", "F41.1"])),
            SudDiagnosis::NicotineOnly
        );
        assert_eq!(
            SudDiagnosis::of(&codes(&["F17.210", "F17.290"])),
            SudDiagnosis::NicotineOnly
        );
        assert_eq!(
            SudDiagnosis::of(&codes(&["F17.210", "F10.20"])),
            SudDiagnosis::Qualifying
        );
        assert_eq!(
            SudDiagnosis::of(&codes(&["F10.20", "F17.210"])),
            SudDiagnosis::Qualifying
        );
        assert!("F17".parse::<DiagnosisCode>().unwrap().is_nicotine());
        assert!(!"F10.20".parse::<DiagnosisCode>().unwrap().is_nicotine());
    }

    #[test]
    fn curated_codes_are_well_formed_unique_and_grouped() {
        let mut seen = std::collections::HashSet::new();
        for entry in CURATED_DIAGNOSES {
            let code = DiagnosisCode::parse(entry.code).unwrap();
            assert_eq!(
                code.as_str(),
                entry.code,
                "curated codes are stored normalised"
            );
            assert!(seen.insert(entry.code), "{} listed twice", entry.code);
            assert_eq!(
                code.is_substance_related(),
                entry.group == DiagnosisGroup::SubstanceUse,
                "{}",
                entry.code
            );
            assert_eq!(code.curated(), Some(entry));
        }
        let lookup = "f1120".parse::<DiagnosisCode>().unwrap();
        assert_eq!(
            lookup.curated().map(|d| d.description),
            Some("Opioid dependence, uncomplicated")
        );
        assert_eq!("F99".parse::<DiagnosisCode>().unwrap().curated(), None);
        assert!(!"F20.9"
            .parse::<DiagnosisCode>()
            .unwrap()
            .is_substance_related());
    }
}
