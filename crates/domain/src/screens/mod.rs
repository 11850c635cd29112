//! Drug screens: what each result means given the medications active on the collection day.
//!
//! A medication explains a positive only through its coded RxNorm ingredients
//! ([`ingredients`]); a free-text name explains nothing. Every assessment keeps its reason:
//!
//! - a positive explained by a coded prescription is *expected*; an explained opioid positive
//!   (fentanyl, opiates, oxycodone, tramadol, or methadone not prescribed as MOUD) still asks the
//!   prescriber to review and confirm, so an overdose signal is never silently dropped;
//! - a positive nothing explains is *unexpected* and raises a flag (high for an overdose-risk
//!   analyte, or for a CNS depressant with an opioid MOUD); with a known cross-reactant on the
//!   medication list it is shown *presumptive: confirm*, without lowering the flag;
//! - for an active opioid MOUD ([`moud`]), the medication expected but not detected, or the
//!   parent drug without its metabolite, is an adherence finding for the prescriber.

pub mod ingredients;
pub mod moud;
pub mod panel;

use chrono::NaiveDate;

pub use ingredients::{ingredient, Ingredient, INGREDIENTS};
pub use panel::{
    analyte_label, is_cns_depressant, panel_position, signals_overdose_risk, Reading, PANEL,
};

use ingredients::OTHER_CROSS_REACTIONS;

/// What an analyte's result means for the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// A positive a coded prescription explains.
    Expected,
    /// An opioid positive a coded prescription explains: the prescriber reviews and confirms.
    Review,
    /// A positive nothing prescribed explains.
    Unexpected,
    /// An unexplained positive with a known cross-reactant: presumptive, confirm.
    Presumptive,
    /// An active MOUD expected on this specimen but not detected.
    NotDetected,
    /// The MOUD's parent drug detected without its metabolite.
    NoMetabolite,
}

impl Finding {
    /// Every finding.
    pub const ALL: [Finding; 6] = [
        Finding::Expected,
        Finding::Review,
        Finding::Unexpected,
        Finding::Presumptive,
        Finding::NotDetected,
        Finding::NoMetabolite,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Finding::Expected => "expected",
            Finding::Review => "review",
            Finding::Unexpected => "unexpected",
            Finding::Presumptive => "presumptive",
            Finding::NotDetected => "not_detected",
            Finding::NoMetabolite => "no_metabolite",
        }
    }

    /// The label staff see beside the result.
    pub fn label(self) -> &'static str {
        match self {
            Finding::Expected => "expected",
            Finding::Review => "expected: review and confirm",
            Finding::Unexpected => "unexpected",
            Finding::Presumptive => "unexpected, presumptive: confirm",
            Finding::NotDetected => "MOUD expected but not detected",
            Finding::NoMetabolite => "parent drug without metabolite",
        }
    }

    /// The finding for a stored code.
    pub fn from_code(code: &str) -> Option<Finding> {
        Finding::ALL.into_iter().find(|f| f.code() == code)
    }

    /// How the phase review reads it: "expected" counts toward a negative screen, "unexpected"
    /// as a positive, "missing" (an adherence finding on a negative result) never as negative.
    pub fn expectation(self) -> &'static str {
        match self {
            Finding::Expected | Finding::Review => "expected",
            Finding::Unexpected | Finding::Presumptive => "unexpected",
            Finding::NotDetected | Finding::NoMetabolite => "missing",
        }
    }

    /// Whether the result should be confirmed by LC-MS/MS before it changes care.
    pub fn needs_confirmation(self) -> bool {
        self != Finding::Expected
    }
}

/// A medication active on the collection day, as the rules read it.
#[derive(Debug, Clone, Copy)]
pub struct ActiveMedication<'a> {
    /// Display name, as written (used only in reasons, never to match).
    pub name: &'a str,
    /// Its RxNorm ingredient codes; unknown codes are ignored.
    pub ingredients: &'a [String],
    /// Marked as a medication for opioid use disorder.
    pub moud: bool,
}

impl ActiveMedication<'_> {
    fn coded(&self) -> impl Iterator<Item = &'static Ingredient> + '_ {
        self.ingredients.iter().filter_map(|c| ingredient(c))
    }
}

/// How urgent a screen's flag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Soon: the primary counselor.
    Moderate,
    /// Today: the primary counselor and the clinical directors.
    High,
}

/// One analyte's result with what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyteAssessment {
    /// Panel code.
    pub analyte: String,
    /// The reading.
    pub reading: Reading,
    /// What it means, if anything (a plain negative or invalid result has none).
    pub finding: Option<Finding>,
    /// Index into the active medications of the one that explains or expected it.
    pub medication: Option<usize>,
    /// Why, in the clinic's words.
    pub reason: Option<String>,
}

/// A review the medication's prescriber is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrescriberReview {
    /// Index into the active medications.
    pub medication: usize,
    /// What to do, worded clinically.
    pub title: String,
}

/// What a whole screen means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenAssessment {
    /// Each analyte as given.
    pub results: Vec<AnalyteAssessment>,
    /// The flag's urgency, `None` when nothing needs a response.
    pub urgency: Option<Urgency>,
    /// Reviews for prescribers.
    pub reviews: Vec<PrescriberReview>,
    overdose_risk: bool,
    depressant_with_moud: bool,
}

impl ScreenAssessment {
    /// The analytes whose positive nothing prescribed explains.
    pub fn unexpected(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| matches!(r.finding, Some(Finding::Unexpected | Finding::Presumptive)))
            .map(|r| r.analyte.clone())
            .collect()
    }

    /// The flag's summary, `None` when nothing needs a response. It names analytes, never
    /// medications, so a task list shows no more than the assignee needs.
    pub fn flag_summary(&self, collected_on: NaiveDate) -> Option<String> {
        self.urgency?;
        let label = |a: &str| analyte_label(a).unwrap_or("unknown analyte");
        let mut parts = Vec::new();
        let unexpected: Vec<&str> = self
            .results
            .iter()
            .filter(|r| matches!(r.finding, Some(Finding::Unexpected | Finding::Presumptive)))
            .map(|r| label(&r.analyte))
            .collect();
        if !unexpected.is_empty() {
            parts.push(format!(
                "Unexpected positive drug screen ({})",
                unexpected.join(", ")
            ));
        }
        if self
            .results
            .iter()
            .any(|r| r.finding == Some(Finding::Presumptive))
        {
            parts.push("presumptive results: confirm by LC-MS/MS".to_owned());
        }
        for review in &self.reviews {
            if !parts.contains(&review.title) {
                parts.push(review.title.clone());
            }
        }
        let suffix = if self.overdose_risk {
            ": overdose risk, review naloxone and the safety plan"
        } else if self.depressant_with_moud {
            ": CNS depressant with opioid MOUD, risk of respiratory depression; review naloxone, \
             do not stop MOUD"
        } else {
            ""
        };
        Some(format!(
            "{}, collected {}{suffix}",
            parts.join("; "),
            crate::readable_day(collected_on)
        ))
    }
}

/// Assesses a screen's results against the medications active on the collection day.
pub fn assess(results: &[(String, Reading)], active: &[ActiveMedication<'_>]) -> ScreenAssessment {
    let reading = |a: &str| results.iter().find(|(x, _)| x == a).map(|(_, r)| *r);
    let heroin_marker = reading("6mam") == Some(Reading::Positive);
    let opioid_moud = moud::opioid_moud(active);
    let mut out = ScreenAssessment {
        results: results
            .iter()
            .map(|(analyte, reading)| AnalyteAssessment {
                analyte: analyte.clone(),
                reading: *reading,
                finding: None,
                medication: None,
                reason: None,
            })
            .collect(),
        urgency: None,
        reviews: Vec::new(),
        overdose_risk: false,
        depressant_with_moud: false,
    };
    for r in out
        .results
        .iter_mut()
        .filter(|r| r.reading == Reading::Positive)
    {
        let label = analyte_label(&r.analyte).unwrap_or("unknown analyte");
        let explaining = active.iter().enumerate().find_map(|(i, m)| {
            m.coded()
                .find(|ing| ing.produces.contains(&r.analyte.as_str()))
                .map(|ing| (i, m, ing))
        });
        match explaining {
            Some((i, m, ing)) if signals_overdose_risk(&r.analyte) && !m.moud => {
                let title = format!(
                    "{label} positive explained by prescribed {}: review and confirm by LC-MS/MS",
                    ing.name
                );
                r.finding = Some(Finding::Review);
                r.medication = Some(i);
                r.reason = Some(format!(
                    "explained by {} ({}); an opioid in treatment for substance use: review \
                     and confirm by LC-MS/MS",
                    m.name, ing.name
                ));
                out.reviews.push(PrescriberReview {
                    medication: i,
                    title,
                });
            }
            Some((i, m, ing)) => {
                r.finding = Some(Finding::Expected);
                r.medication = Some(i);
                r.reason = Some(format!("explained by {} ({})", m.name, ing.name));
            }
            None => {
                let mut causes: Vec<String> = active
                    .iter()
                    .flat_map(|m| {
                        m.coded()
                            .filter(|ing| ing.cross_reacts.contains(&r.analyte.as_str()))
                            .map(move |ing| format!("{} ({})", ing.name, m.name))
                    })
                    .collect();
                // 6-MAM is specific to heroin, so poppy seeds cannot explain it away.
                causes.extend(
                    OTHER_CROSS_REACTIONS
                        .iter()
                        .filter(|(a, _)| *a == r.analyte && !heroin_marker)
                        .map(|(_, cause)| (*cause).to_owned()),
                );
                let mut reason = format!(
                    "{label} positive not explained by any coded prescription active on the \
                     collection day"
                );
                if causes.is_empty() {
                    r.finding = Some(Finding::Unexpected);
                } else {
                    r.finding = Some(Finding::Presumptive);
                    reason.push_str(&format!(
                        "; presumptive: {} can cause a positive {} immunoassay, confirm by \
                         LC-MS/MS",
                        causes.join(", "),
                        label.to_lowercase()
                    ));
                }
                if signals_overdose_risk(&r.analyte) {
                    out.overdose_risk = true;
                }
                if let (true, Some((_, ing))) = (is_cns_depressant(&r.analyte), opioid_moud) {
                    out.depressant_with_moud = true;
                    reason.push_str(&format!(
                        "; with {} MOUD: risk of respiratory depression, review naloxone and do \
                         not stop MOUD",
                        ing.name
                    ));
                }
                r.reason = Some(reason);
            }
        }
    }
    moud::check_adherence(&mut out.results, &mut out.reviews, active);
    let flagged = out.results.iter().any(|r| {
        matches!(
            r.finding,
            Some(Finding::Unexpected | Finding::Presumptive | Finding::NotDetected)
                | Some(Finding::NoMetabolite | Finding::Review)
        )
    });
    out.urgency = if out.overdose_risk || out.depressant_with_moud {
        Some(Urgency::High)
    } else if flagged {
        Some(Urgency::Moderate)
    } else {
        None
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("date")
    }

    fn results(rs: &[(&str, Reading)]) -> Vec<(String, Reading)> {
        rs.iter().map(|(a, r)| ((*a).to_owned(), *r)).collect()
    }

    fn codes(cs: &[&str]) -> Vec<String> {
        cs.iter().map(|c| (*c).to_owned()).collect()
    }

    fn finding(a: &ScreenAssessment, analyte: &str) -> Option<Finding> {
        a.results
            .iter()
            .find(|r| r.analyte == analyte)
            .and_then(|r| r.finding)
    }

    fn reason(a: &ScreenAssessment, analyte: &str) -> String {
        a.results
            .iter()
            .find(|r| r.analyte == analyte)
            .and_then(|r| r.reason.clone())
            .unwrap_or_default()
    }

    use Reading::{Invalid, Negative, Positive};

    #[test]
    fn a_free_text_fentanyl_entry_explains_nothing() {
        let none: Vec<String> = Vec::new();
        let meds = [ActiveMedication {
            name: "fentanyl patch",
            ingredients: &none,
            moud: false,
        }];
        let a = assess(&results(&[("fentanyl", Positive)]), &meds);
        assert_eq!(finding(&a, "fentanyl"), Some(Finding::Unexpected));
        assert_eq!(a.urgency, Some(Urgency::High));
        assert_eq!(a.unexpected(), ["fentanyl"]);
        let summary = a.flag_summary(day()).expect("flag");
        assert!(summary.starts_with("Unexpected positive drug screen (Fentanyl)"));
        assert!(summary.contains("overdose risk"));
        assert!(
            !summary.contains("patch"),
            "no medication names in the flag"
        );
    }

    #[test]
    fn a_coded_fentanyl_prescription_asks_its_prescriber_to_review_and_confirm() {
        let fentanyl = codes(&["4337"]);
        let meds = [ActiveMedication {
            name: "Fentanyl 25 mcg/h patch",
            ingredients: &fentanyl,
            moud: false,
        }];
        let a = assess(&results(&[("fentanyl", Positive)]), &meds);
        assert_eq!(finding(&a, "fentanyl"), Some(Finding::Review));
        assert_eq!(a.urgency, Some(Urgency::Moderate), "never silent");
        assert!(a.unexpected().is_empty());
        assert_eq!(
            a.reviews,
            [PrescriberReview {
                medication: 0,
                title: "Fentanyl positive explained by prescribed fentanyl: review and confirm \
                        by LC-MS/MS"
                    .into()
            }]
        );
        assert!(a
            .flag_summary(day())
            .expect("flag")
            .contains("review and confirm"));
    }

    #[test]
    fn morphine_or_codeine_explain_opiates_with_a_review_and_not_heroin() {
        let codeine = codes(&["2670"]);
        let meds = [ActiveMedication {
            name: "Tylenol #3",
            ingredients: &codeine,
            moud: false,
        }];
        let a = assess(
            &results(&[("opiates", Positive), ("6mam", Positive)]),
            &meds,
        );
        assert_eq!(finding(&a, "opiates"), Some(Finding::Review));
        assert_eq!(
            finding(&a, "6mam"),
            Some(Finding::Unexpected),
            "heroin marker"
        );
        assert_eq!(a.urgency, Some(Urgency::High));
    }

    #[test]
    fn an_unexplained_opiates_positive_is_presumptive_for_poppy_seeds_unless_6mam() {
        let a = assess(&results(&[("opiates", Positive)]), &[]);
        assert_eq!(finding(&a, "opiates"), Some(Finding::Presumptive));
        assert!(reason(&a, "opiates").contains("poppy seeds"));
        assert_eq!(
            a.urgency,
            Some(Urgency::High),
            "presumptive never lowers the flag"
        );
        let heroin = assess(&results(&[("opiates", Positive), ("6mam", Positive)]), &[]);
        assert_eq!(finding(&heroin, "opiates"), Some(Finding::Unexpected));
    }

    #[test]
    fn naltrexone_and_oxycodone_is_flagged_high_and_presumptive() {
        let naltrexone = codes(&["7243"]);
        let meds = [ActiveMedication {
            name: "Naltrexone 50 mg",
            ingredients: &naltrexone,
            moud: true,
        }];
        let a = assess(&results(&[("oxycodone", Positive)]), &meds);
        assert_eq!(finding(&a, "oxycodone"), Some(Finding::Presumptive));
        assert_eq!(a.urgency, Some(Urgency::High));
        assert!(reason(&a, "oxycodone").contains("presumptive: naltrexone (Naltrexone 50 mg)"));
        assert!(reason(&a, "oxycodone").contains("confirm by LC-MS/MS"));
        assert!(Finding::Presumptive
            .label()
            .contains("presumptive: confirm"));
    }

    #[test]
    fn sertraline_makes_a_benzodiazepine_positive_presumptive() {
        let sertraline = codes(&["36437"]);
        let meds = [ActiveMedication {
            name: "Sertraline 50 mg",
            ingredients: &sertraline,
            moud: false,
        }];
        let a = assess(&results(&[("benzodiazepines", Positive)]), &meds);
        assert_eq!(finding(&a, "benzodiazepines"), Some(Finding::Presumptive));
        assert_eq!(a.urgency, Some(Urgency::Moderate), "no opioid MOUD");
    }

    #[test]
    fn a_benzodiazepine_or_alcohol_with_opioid_moud_is_high() {
        let bup = codes(&["1819", "7242"]);
        let meds = [ActiveMedication {
            name: "Buprenorphine/naloxone 8/2 mg",
            ingredients: &bup,
            moud: true,
        }];
        for depressant in ["benzodiazepines", "etg", "barbiturates"] {
            let a = assess(
                &results(&[
                    ("buprenorphine", Positive),
                    ("norbuprenorphine", Positive),
                    (depressant, Positive),
                ]),
                &meds,
            );
            assert_eq!(a.urgency, Some(Urgency::High), "{depressant}");
            assert!(reason(&a, depressant).contains("respiratory depression"));
            assert!(a
                .flag_summary(day())
                .expect("flag")
                .contains("do not stop MOUD"));
        }
        // A prescribed benzodiazepine is expected: the prescribers manage the combination.
        let both = codes(&["1819", "2598"]);
        let meds = [ActiveMedication {
            name: "combined",
            ingredients: &both,
            moud: true,
        }];
        let a = assess(
            &results(&[("buprenorphine", Positive), ("benzodiazepines", Positive)]),
            &meds,
        );
        assert_eq!(finding(&a, "benzodiazepines"), Some(Finding::Expected));
        assert_eq!(a.urgency, None);
    }

    #[test]
    fn buprenorphine_with_its_metabolite_is_expected_and_raises_nothing() {
        let bup = codes(&["1819", "7242"]);
        let meds = [ActiveMedication {
            name: "Suboxone 8/2 mg",
            ingredients: &bup,
            moud: true,
        }];
        let a = assess(
            &results(&[
                ("buprenorphine", Positive),
                ("norbuprenorphine", Positive),
                ("fentanyl", Negative),
            ]),
            &meds,
        );
        assert_eq!(finding(&a, "buprenorphine"), Some(Finding::Expected));
        assert_eq!(finding(&a, "norbuprenorphine"), Some(Finding::Expected));
        assert_eq!(finding(&a, "fentanyl"), None);
        assert_eq!(a.urgency, None);
        assert_eq!(a.flag_summary(day()), None);
        assert!(reason(&a, "buprenorphine").contains("Suboxone 8/2 mg (buprenorphine)"));
    }

    #[test]
    fn an_unexplained_buprenorphine_is_unexpected_but_not_an_overdose_risk() {
        let a = assess(&results(&[("buprenorphine", Positive)]), &[]);
        assert_eq!(finding(&a, "buprenorphine"), Some(Finding::Unexpected));
        assert_eq!(a.urgency, Some(Urgency::Moderate));
    }

    #[test]
    fn invalid_results_have_no_finding() {
        let a = assess(&results(&[("cocaine", Invalid)]), &[]);
        assert_eq!(finding(&a, "cocaine"), None);
        assert_eq!(a.urgency, None);
    }

    #[test]
    fn findings_round_trip_and_map_to_the_phase_review() {
        for f in Finding::ALL {
            assert_eq!(Finding::from_code(f.code()), Some(f));
        }
        assert_eq!(Finding::from_code("maybe"), None);
        assert_eq!(Finding::Expected.expectation(), "expected");
        assert_eq!(Finding::Review.expectation(), "expected");
        assert_eq!(Finding::Presumptive.expectation(), "unexpected");
        assert_eq!(Finding::NotDetected.expectation(), "missing");
        assert_eq!(Finding::NoMetabolite.expectation(), "missing");
        assert!(!Finding::Expected.needs_confirmation());
        assert!(Finding::NotDetected.needs_confirmation());
    }
}
