//! Medications as coded ingredients: the RxNorm ingredient codes (RXCUI) Trellis knows, each
//! with the panel analytes a dose makes positive and the immunoassays it may make falsely
//! positive. A medication explains a screen result only through these codes, never through the
//! words of its free-text name.
//!
//! Codes are RxNorm ingredient (TTY IN) concepts from the U.S. National Library of Medicine.
//! Checked against: the CDC MME conversion-factor code system (HL7/CDC opioid MME guide,
//! `cqframework/opioid-mme-r4`, `codesystem-CDCMMEResearchConversionFactors.json`) for
//! buprenorphine, codeine, fentanyl, hydrocodone, methadone, morphine, oxycodone and tramadol;
//! independent ingredient tables in public code for the others (naloxone from a single source).
//! Lisdexamfetamine is left out: its RXCUI could not be confirmed, so a lisdexamfetamine
//! prescription stays uncoded and explains no amphetamine positive.
//!
//! What each ingredient produces: buprenorphine is metabolised to norbuprenorphine and methadone
//! to EDDP (Cleveland Clinic J Med 2022;89(10):557); morphine and codeine read on the opiates
//! immunoassay, which cannot tell them from heroin (only 6-MAM can). Cross-reactivities are
//! presumptive positives reported in the literature: naltrexone → oxycodone (noroxymorphone);
//! sertraline → benzodiazepines (sertraline label; Nasky 2009); trazodone → amphetamines and
//! fentanyl, quetiapine → methadone, bupropion → amphetamines (Brahm et al., Am J Health Syst
//! Pharm 2010;67:1344; Saitman et al., J Anal Toxicol 2014;38:387); risperidone → fentanyl
//! (case reports on long-acting risperidone).

/// An RxNorm ingredient with what it does to a drug screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingredient {
    /// RxNorm concept id of the ingredient, e.g. "1819".
    pub rxcui: &'static str,
    /// Ingredient name as staff see it.
    pub name: &'static str,
    /// Panel analytes a dose makes positive (so it explains their positives).
    pub produces: &'static [&'static str],
    /// Panel immunoassays it may make falsely positive (shown as presumptive, never explained).
    pub cross_reacts: &'static [&'static str],
    /// For an opioid MOUD: the (parent, metabolite) analytes that show a dose was taken.
    pub markers: Option<(&'static str, &'static str)>,
    /// A medication for opioid use disorder ingredient (buprenorphine, methadone, naltrexone).
    pub moud: bool,
}

/// An ingredient with no screen effect and no MOUD role.
const fn plain(
    rxcui: &'static str,
    name: &'static str,
    produces: &'static [&'static str],
    cross_reacts: &'static [&'static str],
) -> Ingredient {
    Ingredient {
        rxcui,
        name,
        produces,
        cross_reacts,
        markers: None,
        moud: false,
    }
}

/// Every coded ingredient, in the order forms list them: MOUD first, then by class.
pub const INGREDIENTS: [Ingredient; 21] = [
    Ingredient {
        rxcui: "1819",
        name: "buprenorphine",
        produces: &["buprenorphine", "norbuprenorphine"],
        cross_reacts: &[],
        markers: Some(("buprenorphine", "norbuprenorphine")),
        moud: true,
    },
    Ingredient {
        rxcui: "6813",
        name: "methadone",
        produces: &["methadone", "eddp"],
        cross_reacts: &[],
        markers: Some(("methadone", "eddp")),
        moud: true,
    },
    Ingredient {
        rxcui: "7243",
        name: "naltrexone",
        produces: &[],
        cross_reacts: &["oxycodone"],
        markers: None,
        moud: true,
    },
    plain("7242", "naloxone", &[], &[]),
    plain("4337", "fentanyl", &["fentanyl"], &[]),
    plain("7052", "morphine", &["opiates"], &[]),
    plain("2670", "codeine", &["opiates"], &[]),
    plain("5489", "hydrocodone", &["opiates"], &[]),
    plain("7804", "oxycodone", &["oxycodone"], &[]),
    plain("10689", "tramadol", &["tramadol"], &[]),
    plain("596", "alprazolam", &["benzodiazepines"], &[]),
    plain("6470", "lorazepam", &["benzodiazepines"], &[]),
    plain("2598", "clonazepam", &["benzodiazepines"], &[]),
    plain("3322", "diazepam", &["benzodiazepines"], &[]),
    plain("725", "amphetamine", &["amphetamines"], &[]),
    plain("6901", "methylphenidate", &["methylphenidate"], &[]),
    plain("36437", "sertraline", &[], &["benzodiazepines"]),
    plain("10737", "trazodone", &[], &["amphetamines", "fentanyl"]),
    plain("51272", "quetiapine", &[], &["methadone"]),
    plain("35636", "risperidone", &[], &["fentanyl"]),
    plain("42347", "bupropion", &[], &["amphetamines"]),
];

/// The ingredient with this RXCUI, or `None` for a code Trellis does not know.
pub fn ingredient(rxcui: &str) -> Option<&'static Ingredient> {
    INGREDIENTS.iter().find(|i| i.rxcui == rxcui.trim())
}

/// Non-medication causes of a presumptive positive, as (analyte, cause).
pub const OTHER_CROSS_REACTIONS: [(&str, &str); 1] = [("opiates", "poppy seeds")];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screens::panel::analyte_label;

    fn produces(rxcui: &str) -> Vec<&'static str> {
        ingredient(rxcui).expect("known").produces.to_vec()
    }

    #[test]
    fn each_ingredient_maps_to_the_analytes_it_makes_positive() {
        assert_eq!(produces("1819"), ["buprenorphine", "norbuprenorphine"]);
        assert_eq!(produces("6813"), ["methadone", "eddp"]);
        assert!(produces("7243").is_empty(), "naltrexone explains nothing");
        assert!(produces("7242").is_empty(), "naloxone explains nothing");
        assert_eq!(produces("4337"), ["fentanyl"]);
        assert_eq!(produces("7052"), ["opiates"]);
        assert_eq!(produces("2670"), ["opiates"]);
        assert_eq!(produces("5489"), ["opiates"]);
        assert_eq!(produces("7804"), ["oxycodone"]);
        assert_eq!(produces("10689"), ["tramadol"]);
        for benzo in ["596", "6470", "2598", "3322"] {
            assert_eq!(produces(benzo), ["benzodiazepines"], "{benzo}");
        }
        assert_eq!(produces("725"), ["amphetamines"]);
        assert_eq!(produces("6901"), ["methylphenidate"]);
        for psych in ["36437", "10737", "51272", "35636", "42347"] {
            assert!(produces(psych).is_empty(), "{psych} explains nothing");
        }
    }

    #[test]
    fn each_moud_has_its_parent_and_metabolite_pair() {
        assert_eq!(
            ingredient("1819").and_then(|i| i.markers),
            Some(("buprenorphine", "norbuprenorphine"))
        );
        assert_eq!(
            ingredient("6813").and_then(|i| i.markers),
            Some(("methadone", "eddp"))
        );
        // Naltrexone is MOUD but nothing on the panel shows a dose was taken.
        let naltrexone = ingredient("7243").expect("naltrexone");
        assert!(naltrexone.moud);
        assert_eq!(naltrexone.markers, None);
        let moud: Vec<&str> = INGREDIENTS
            .iter()
            .filter(|i| i.moud)
            .map(|i| i.name)
            .collect();
        assert_eq!(moud, ["buprenorphine", "methadone", "naltrexone"]);
    }

    #[test]
    fn known_cross_reactivities_are_listed() {
        let cross = |rxcui: &str| ingredient(rxcui).expect("known").cross_reacts.to_vec();
        assert_eq!(cross("7243"), ["oxycodone"]);
        assert_eq!(cross("36437"), ["benzodiazepines"]);
        assert_eq!(cross("10737"), ["amphetamines", "fentanyl"]);
        assert_eq!(cross("51272"), ["methadone"]);
        assert_eq!(cross("35636"), ["fentanyl"]);
        assert_eq!(cross("42347"), ["amphetamines"]);
        assert_eq!(OTHER_CROSS_REACTIONS, [("opiates", "poppy seeds")]);
    }

    #[test]
    fn every_analyte_named_in_the_table_is_on_the_panel_and_codes_are_unique() {
        for i in INGREDIENTS {
            for a in i.produces.iter().chain(i.cross_reacts) {
                assert!(analyte_label(a).is_some(), "{} → {a}", i.name);
            }
            if let Some((parent, metabolite)) = i.markers {
                assert!(i.produces.contains(&parent) && i.produces.contains(&metabolite));
            }
            assert!(i.rxcui.chars().all(|c| c.is_ascii_digit()), "{}", i.rxcui);
            assert_eq!(
                INGREDIENTS.iter().filter(|j| j.rxcui == i.rxcui).count(),
                1,
                "{}",
                i.rxcui
            );
        }
        for (analyte, _) in OTHER_CROSS_REACTIONS {
            assert!(analyte_label(analyte).is_some());
        }
    }

    #[test]
    fn unknown_codes_are_not_ingredients() {
        assert_eq!(ingredient("700810"), None, "lisdexamfetamine is not coded");
        assert_eq!(ingredient("fentanyl"), None, "names are not codes");
        assert_eq!(ingredient(" 1819 ").map(|i| i.name), Some("buprenorphine"));
    }
}
