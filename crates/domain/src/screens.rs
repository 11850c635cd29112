//! Drug screens: which positive results a patient's current medications explain.
//!
//! A positive result is *expected* when a current medication produces it (buprenorphine →
//! buprenorphine, methadone → methadone; a prescribed benzodiazepine, stimulant or opioid
//! analgesic → that class); anything else is *unexpected* and raises a safety flag. Naltrexone
//! explains no positive: it is an antagonist that standard panels do not test for.

/// Whether a positive result is explained by a current medication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// A current medication explains the positive.
    Expected,
    /// Nothing prescribed explains it: raise a flag.
    Unexpected,
}

/// The panel analytes a medication makes positive, by lower-case medication name.
fn analytes_of(medication: &str) -> &'static [&'static str] {
    let m = medication.trim().to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&[
        "buprenorphine",
        "suboxone",
        "subutex",
        "sublocade",
        "zubsolv",
    ]) {
        &["buprenorphine"]
    } else if has(&["methadone", "methadose"]) {
        &["methadone"]
    } else if has(&[
        "alprazolam",
        "lorazepam",
        "clonazepam",
        "diazepam",
        "chlordiazepoxide",
    ]) {
        &["benzodiazepines"]
    } else if has(&["amphetamine", "adderall", "lisdexamfetamine", "vyvanse"]) {
        &["amphetamines"]
    } else if has(&["methylphenidate", "ritalin", "concerta"]) {
        &["methylphenidate"]
    } else if has(&["oxycodone", "percocet", "oxycontin"]) {
        &["oxycodone"]
    } else if has(&["morphine", "codeine", "hydrocodone"]) {
        &["opiates"]
    } else if has(&["tramadol"]) {
        &["tramadol"]
    } else if has(&["fentanyl"]) {
        &["fentanyl"]
    } else {
        &[]
    }
}

/// The analytes a screen can report, as (code, label), in the order entry forms list them.
/// The codes are the ones [`classify_positive`] matches medications against.
pub const PANEL: [(&str, &str); 17] = [
    ("amphetamines", "Amphetamines"),
    ("methamphetamine", "Methamphetamine"),
    ("barbiturates", "Barbiturates"),
    ("benzodiazepines", "Benzodiazepines"),
    ("buprenorphine", "Buprenorphine"),
    ("cocaine", "Cocaine"),
    ("fentanyl", "Fentanyl"),
    ("mdma", "MDMA (ecstasy)"),
    ("methadone", "Methadone"),
    ("methylphenidate", "Methylphenidate"),
    ("opiates", "Opiates (morphine, codeine, heroin)"),
    ("oxycodone", "Oxycodone"),
    ("pcp", "PCP"),
    ("thc", "THC (cannabis)"),
    ("tramadol", "Tramadol"),
    ("xylazine", "Xylazine"),
    ("etg", "Alcohol (EtG)"),
];

/// The label of a panel analyte code, or `None` for a code not on the panel.
pub fn analyte_label(code: &str) -> Option<&'static str> {
    PANEL.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// The first current medication that explains a positive `analyte`, if any.
pub fn explaining_medication<'a>(
    analyte: &str,
    current_medications: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let analyte = analyte.trim().to_lowercase();
    current_medications
        .into_iter()
        .find(|m| analytes_of(m).contains(&analyte.as_str()))
}

/// Whether a positive `analyte` is expected given the patient's current medication names.
pub fn classify_positive<'a>(
    analyte: &str,
    current_medications: impl IntoIterator<Item = &'a str>,
) -> Expectation {
    match explaining_medication(analyte, current_medications) {
        Some(_) => Expectation::Expected,
        None => Expectation::Unexpected,
    }
}

/// The analytes whose unexpected positive signals a risk of overdose: illicit or unprescribed
/// opioids, and xylazine, which is sold mixed with fentanyl and does not respond to naloxone.
/// Tolerance falls quickly in treatment, so a return to opioids is when overdose is most likely
/// (SAMHSA TIP 63, ch. 3). Buprenorphine is left out: its ceiling effect makes an unprescribed
/// dose far less dangerous, though it is still unexpected.
const OVERDOSE_RISK: [&str; 6] = [
    "fentanyl",
    "xylazine",
    "opiates",
    "oxycodone",
    "methadone",
    "tramadol",
];

/// Whether an *unexpected* positive for `analyte` signals a risk of overdose, so that the flag
/// is high severity and the clinical directors are told as well as the primary counselor.
pub fn signals_overdose_risk(analyte: &str) -> bool {
    OVERDOSE_RISK.contains(&analyte.trim().to_lowercase().as_str())
}

/// Whether a medication is a medication for opioid use disorder (MOUD).
pub fn is_moud(medication: &str) -> bool {
    let m = medication.trim().to_lowercase();
    [
        "buprenorphine",
        "suboxone",
        "subutex",
        "sublocade",
        "zubsolv",
        "naltrexone",
        "vivitrol",
        "methadone",
        "methadose",
    ]
    .iter()
    .any(|w| m.contains(w))
}

#[cfg(test)]
mod tests {
    #[test]
    fn unexpected_opioids_and_xylazine_signal_overdose_risk() {
        for analyte in [
            "fentanyl",
            "Fentanyl ",
            "xylazine",
            "opiates",
            "oxycodone",
            "methadone",
        ] {
            assert!(signals_overdose_risk(analyte), "{analyte}");
        }
        for analyte in [
            "buprenorphine",
            "thc",
            "cocaine",
            "etg",
            "benzodiazepines",
            "unknown",
        ] {
            assert!(!signals_overdose_risk(analyte), "{analyte}");
        }
        // Every listed analyte is on the panel, so a typo here cannot silently drop one.
        for analyte in OVERDOSE_RISK {
            assert!(analyte_label(analyte).is_some(), "{analyte}");
        }
    }

    use super::*;

    #[test]
    fn buprenorphine_explains_a_buprenorphine_positive_only() {
        let meds = ["Buprenorphine/naloxone 8/2 mg"];
        assert_eq!(
            classify_positive("buprenorphine", meds),
            Expectation::Expected
        );
        assert_eq!(classify_positive("fentanyl", meds), Expectation::Unexpected);
        assert_eq!(
            classify_positive("methadone", meds),
            Expectation::Unexpected
        );
    }

    #[test]
    fn methadone_explains_methadone() {
        assert_eq!(
            classify_positive("Methadone", ["methadone 80 mg"]),
            Expectation::Expected
        );
    }

    #[test]
    fn naltrexone_and_no_medication_explain_nothing() {
        assert_eq!(
            classify_positive("opiates", ["Naltrexone 50 mg"]),
            Expectation::Unexpected
        );
        assert_eq!(classify_positive("cocaine", []), Expectation::Unexpected);
        assert_eq!(
            classify_positive("thc", ["sertraline"]),
            Expectation::Unexpected
        );
    }

    #[test]
    fn prescribed_classes_are_expected() {
        assert_eq!(
            classify_positive("benzodiazepines", ["clonazepam 0.5 mg"]),
            Expectation::Expected
        );
        assert_eq!(
            classify_positive("amphetamines", ["Adderall XR"]),
            Expectation::Expected
        );
    }

    #[test]
    fn the_explaining_medication_is_named() {
        let meds = ["sertraline 50 mg", "Suboxone 8/2 mg"];
        assert_eq!(
            explaining_medication("buprenorphine", meds),
            Some("Suboxone 8/2 mg")
        );
        // Buprenorphine is not detected by the opiate immunoassay: it explains no opiates.
        assert_eq!(explaining_medication("opiates", meds), None);
    }

    #[test]
    fn every_analyte_a_medication_explains_is_on_the_panel() {
        for med in [
            "buprenorphine",
            "methadone",
            "clonazepam",
            "adderall",
            "ritalin",
            "oxycodone",
            "morphine",
            "tramadol",
            "fentanyl patch",
        ] {
            for analyte in analytes_of(med) {
                assert!(analyte_label(analyte).is_some(), "{analyte}");
            }
        }
        assert_eq!(analyte_label("etg"), Some("Alcohol (EtG)"));
        assert_eq!(analyte_label("glue"), None);
    }

    #[test]
    fn moud_is_recognised_by_name() {
        assert!(is_moud("Suboxone"));
        assert!(is_moud("naltrexone ER (Vivitrol)"));
        assert!(is_moud("Methadone"));
        assert!(!is_moud("sertraline"));
    }
}
