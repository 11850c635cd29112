//! The screening panel: the analytes a screen can report, and which of them signal a risk of
//! overdose or, with an opioid MOUD, of respiratory depression.

/// The analytes a screen can report, as (code, label), in the order entry forms list them.
/// Each MOUD's metabolite follows its parent (buprenorphine → norbuprenorphine, methadone →
/// EDDP), and 6-MAM, the heroin-specific marker, follows the opiates class it belongs to.
pub const PANEL: [(&str, &str); 20] = [
    ("amphetamines", "Amphetamines"),
    ("methamphetamine", "Methamphetamine"),
    ("barbiturates", "Barbiturates"),
    ("benzodiazepines", "Benzodiazepines"),
    ("buprenorphine", "Buprenorphine"),
    (
        "norbuprenorphine",
        "Norbuprenorphine (buprenorphine metabolite)",
    ),
    ("cocaine", "Cocaine"),
    ("fentanyl", "Fentanyl"),
    ("mdma", "MDMA (ecstasy)"),
    ("methadone", "Methadone"),
    ("eddp", "EDDP (methadone metabolite)"),
    ("methylphenidate", "Methylphenidate"),
    ("opiates", "Opiates (morphine, codeine, heroin)"),
    ("6mam", "6-MAM (heroin-specific)"),
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

/// Where a panel analyte sits in the panel's order (unknown codes last).
pub fn panel_position(code: &str) -> usize {
    PANEL
        .iter()
        .position(|(c, _)| *c == code)
        .unwrap_or(usize::MAX)
}

/// One analyte's reading on a specimen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Detected.
    Positive,
    /// Not detected.
    Negative,
    /// The specimen or test was unusable for this analyte.
    Invalid,
}

/// The analytes whose unexplained positive signals a risk of overdose: illicit or unprescribed
/// opioids, heroin's marker 6-MAM, and xylazine, which is sold mixed with fentanyl and does not
/// respond to naloxone. Tolerance falls quickly in treatment, so a return to opioids is when
/// overdose is most likely (SAMHSA TIP 63, ch. 3). Buprenorphine is left out: its ceiling
/// effect makes an unprescribed dose far less dangerous, though it is still unexpected.
const OVERDOSE_RISK: [&str; 7] = [
    "fentanyl",
    "xylazine",
    "opiates",
    "6mam",
    "oxycodone",
    "methadone",
    "tramadol",
];

/// Whether an unexplained positive for `analyte` signals a risk of overdose, so that the flag
/// is high severity and the clinical directors are told as well as the primary counselor.
pub fn signals_overdose_risk(analyte: &str) -> bool {
    OVERDOSE_RISK.contains(&analyte.trim().to_lowercase().as_str())
}

/// CNS depressants whose unexplained positive, with an opioid MOUD active, is a risk of
/// respiratory depression: FDA's 2016 boxed warning on opioids with benzodiazepines and other
/// CNS depressants, and its 2017 safety communication that buprenorphine and methadone must
/// not be withheld from such patients but need careful management.
const CNS_DEPRESSANTS: [&str; 3] = ["benzodiazepines", "barbiturates", "etg"];

/// Whether `analyte` is a CNS depressant that, with an opioid MOUD, raises the flag to high.
pub fn is_cns_depressant(analyte: &str) -> bool {
    CNS_DEPRESSANTS.contains(&analyte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_opioids_and_xylazine_signal_overdose_risk() {
        for analyte in [
            "fentanyl",
            "Fentanyl ",
            "xylazine",
            "opiates",
            "6mam",
            "oxycodone",
            "methadone",
        ] {
            assert!(signals_overdose_risk(analyte), "{analyte}");
        }
        for analyte in [
            "buprenorphine",
            "norbuprenorphine",
            "eddp",
            "thc",
            "cocaine",
            "etg",
            "benzodiazepines",
            "unknown",
        ] {
            assert!(!signals_overdose_risk(analyte), "{analyte}");
        }
        // Every listed analyte is on the panel, so a typo here cannot silently drop one.
        for analyte in OVERDOSE_RISK.iter().chain(CNS_DEPRESSANTS.iter()) {
            assert!(analyte_label(analyte).is_some(), "{analyte}");
        }
    }

    #[test]
    fn each_moud_metabolite_and_heroin_marker_is_on_the_panel() {
        for code in ["norbuprenorphine", "eddp", "6mam"] {
            assert!(analyte_label(code).is_some(), "{code}");
        }
        assert_eq!(
            panel_position("norbuprenorphine"),
            panel_position("buprenorphine") + 1
        );
        assert_eq!(panel_position("eddp"), panel_position("methadone") + 1);
        assert_eq!(analyte_label("etg"), Some("Alcohol (EtG)"));
        assert_eq!(analyte_label("glue"), None);
        assert_eq!(panel_position("glue"), usize::MAX);
    }

    #[test]
    fn alcohol_benzodiazepines_and_barbiturates_are_the_cns_depressants() {
        assert!(is_cns_depressant("etg"));
        assert!(is_cns_depressant("benzodiazepines"));
        assert!(is_cns_depressant("barbiturates"));
        assert!(!is_cns_depressant("thc"));
        assert!(!is_cns_depressant("fentanyl"));
    }
}
