//! MOUD adherence on a screen. For an active opioid MOUD (buprenorphine, methadone) whose
//! analytes were tested: neither the drug nor its metabolite detected suggests missed doses or
//! diversion; the parent drug without its metabolite suggests the drug was added to the
//! specimen rather than taken (Cleveland Clinic J Med 2022;89(10):557; Accurso et al., J Subst
//! Abuse Treat 2017). Both call for a conversation and confirmation, never a sanction. Only
//! analytes on the tested panel are judged: an untested metabolite is said to be untested.
//! Naltrexone has no panel marker, so its adherence is not judged from screens.

use super::{
    analyte_label, ActiveMedication, AnalyteAssessment, Finding, Ingredient, PrescriberReview,
    Reading,
};

/// The first active medication marked MOUD with an opioid MOUD ingredient, with that
/// ingredient.
pub fn opioid_moud(active: &[ActiveMedication<'_>]) -> Option<(usize, &'static Ingredient)> {
    active.iter().enumerate().find_map(|(i, m)| {
        m.moud
            .then(|| m.coded().find(|ing| ing.markers.is_some()))
            .flatten()
            .map(|ing| (i, ing))
    })
}

/// A panel label without its parenthesis: "Norbuprenorphine (buprenorphine metabolite)" →
/// "Norbuprenorphine".
fn short(analyte: &str) -> &str {
    analyte_label(analyte)
        .unwrap_or(analyte)
        .split(" (")
        .next()
        .unwrap_or(analyte)
}

/// Marks adherence findings on the results and asks each medication's prescriber to review.
pub(super) fn check_adherence(
    results: &mut [AnalyteAssessment],
    reviews: &mut Vec<PrescriberReview>,
    active: &[ActiveMedication<'_>],
) {
    for (i, m) in active.iter().enumerate().filter(|(_, m)| m.moud) {
        for (parent, metabolite) in m.coded().filter_map(|ing| ing.markers) {
            let reading = |a: &str| results.iter().find(|r| r.analyte == a).map(|r| r.reading);
            let (p, q) = (reading(parent), reading(metabolite));
            let negatives: Vec<&str> = [(parent, p), (metabolite, q)]
                .into_iter()
                .filter(|(_, r)| *r == Some(Reading::Negative))
                .map(|(a, _)| a)
                .collect();
            let (parent_name, metabolite_name) = (short(parent), short(metabolite));
            if p == Some(Reading::Positive) && q == Some(Reading::Negative) {
                let title = format!(
                    "{parent_name} detected without {metabolite_name}: parent drug without \
                     metabolite, possibly added to the specimen; discuss and confirm by LC-MS/MS"
                );
                mark(results, metabolite, Finding::NoMetabolite, i, &title);
                reviews.push(PrescriberReview {
                    medication: i,
                    title,
                });
            } else if p == Some(Reading::Positive) && q.is_none() {
                if let Some(r) = results.iter_mut().find(|r| r.analyte == parent) {
                    let note = format!(
                        "; {metabolite_name} not tested, so this specimen cannot show the dose \
                         was taken"
                    );
                    r.reason.get_or_insert_with(String::new).push_str(&note);
                }
            } else if p != Some(Reading::Positive)
                && q != Some(Reading::Positive)
                && (p == Some(Reading::Negative) || q == Some(Reading::Negative))
            {
                let title = format!(
                    "{parent_name} expected but not detected: discuss adherence, confirm by \
                     LC-MS/MS"
                );
                for analyte in negatives {
                    mark(results, analyte, Finding::NotDetected, i, &title);
                }
                reviews.push(PrescriberReview {
                    medication: i,
                    title,
                });
            }
        }
    }
}

fn mark(
    results: &mut [AnalyteAssessment],
    analyte: &str,
    finding: Finding,
    medication: usize,
    reason: &str,
) {
    if let Some(r) = results.iter_mut().find(|r| r.analyte == analyte) {
        r.finding = Some(finding);
        r.medication = Some(medication);
        r.reason = Some(reason.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::super::{assess, ScreenAssessment, Urgency};
    use super::*;
    use Reading::{Invalid, Negative, Positive};

    fn on(ingredients: &[String], rs: &[(&str, Reading)]) -> ScreenAssessment {
        let meds = [ActiveMedication {
            name: "Buprenorphine/naloxone 8/2 mg film",
            ingredients,
            moud: true,
        }];
        let results: Vec<(String, Reading)> =
            rs.iter().map(|(a, r)| ((*a).to_owned(), *r)).collect();
        assess(&results, &meds)
    }

    fn bup() -> Vec<String> {
        vec!["1819".into(), "7242".into()]
    }

    fn finding(a: &ScreenAssessment, analyte: &str) -> Option<Finding> {
        a.results
            .iter()
            .find(|r| r.analyte == analyte)
            .and_then(|r| r.finding)
    }

    #[test]
    fn a_negative_buprenorphine_on_active_moud_is_a_finding_for_the_prescriber() {
        let a = on(
            &bup(),
            &[("buprenorphine", Negative), ("fentanyl", Negative)],
        );
        assert_eq!(finding(&a, "buprenorphine"), Some(Finding::NotDetected));
        assert_eq!(finding(&a, "fentanyl"), None);
        assert_eq!(a.urgency, Some(Urgency::Moderate));
        assert_eq!(a.reviews.len(), 1);
        assert_eq!(
            a.reviews[0].title,
            "Buprenorphine expected but not detected: discuss adherence, confirm by LC-MS/MS"
        );
        assert_eq!(Finding::NotDetected.expectation(), "missing");
    }

    #[test]
    fn buprenorphine_without_norbuprenorphine_suggests_it_was_added_to_the_specimen() {
        let a = on(
            &bup(),
            &[("buprenorphine", Positive), ("norbuprenorphine", Negative)],
        );
        assert_eq!(finding(&a, "buprenorphine"), Some(Finding::Expected));
        assert_eq!(finding(&a, "norbuprenorphine"), Some(Finding::NoMetabolite));
        assert_eq!(a.urgency, Some(Urgency::Moderate));
        assert!(a.reviews[0].title.contains(
            "parent drug without metabolite, possibly added to the specimen; discuss and confirm"
        ));
    }

    #[test]
    fn an_untested_metabolite_is_said_to_be_untested_not_spiking() {
        let a = on(&bup(), &[("buprenorphine", Positive)]);
        assert_eq!(finding(&a, "buprenorphine"), Some(Finding::Expected));
        assert!(a.reviews.is_empty());
        assert_eq!(a.urgency, None);
        let reason = a.results[0].reason.clone().unwrap_or_default();
        assert!(reason.contains("Norbuprenorphine not tested"), "{reason}");
    }

    #[test]
    fn the_metabolite_alone_shows_the_dose_was_taken() {
        let a = on(
            &bup(),
            &[("buprenorphine", Negative), ("norbuprenorphine", Positive)],
        );
        assert_eq!(finding(&a, "buprenorphine"), None);
        assert_eq!(a.urgency, None);
    }

    #[test]
    fn methadone_without_eddp_and_neither_detected() {
        let methadone = vec!["6813".to_owned()];
        let spiked = on(&methadone, &[("methadone", Positive), ("eddp", Negative)]);
        assert_eq!(finding(&spiked, "eddp"), Some(Finding::NoMetabolite));
        assert!(spiked.reviews[0]
            .title
            .starts_with("Methadone detected without EDDP"));
        let missed = on(&methadone, &[("methadone", Negative), ("eddp", Negative)]);
        assert_eq!(finding(&missed, "methadone"), Some(Finding::NotDetected));
        assert_eq!(finding(&missed, "eddp"), Some(Finding::NotDetected));
        assert_eq!(missed.reviews.len(), 1, "one review per medication");
    }

    #[test]
    fn untested_or_invalid_moud_analytes_are_not_judged() {
        let a = on(&bup(), &[("fentanyl", Negative)]);
        assert_eq!(a.urgency, None);
        let a = on(&bup(), &[("buprenorphine", Invalid)]);
        assert_eq!(a.urgency, None);
        assert_eq!(finding(&a, "buprenorphine"), None);
    }

    #[test]
    fn only_medications_marked_moud_and_coded_are_checked() {
        // Uncoded: the ingredient is unknown, so nothing is expected.
        let a = on(&[], &[("buprenorphine", Negative)]);
        assert_eq!(a.urgency, None);
        // Buprenorphine for pain, not marked MOUD: no adherence judgement.
        let pain = bup();
        let meds = [ActiveMedication {
            name: "Butrans patch",
            ingredients: &pain,
            moud: false,
        }];
        let a = assess(&[("buprenorphine".into(), Negative)], &meds);
        assert_eq!(a.urgency, None);
        assert_eq!(opioid_moud(&meds), None);
        // Naltrexone has no marker on the panel.
        let naltrexone = vec!["7243".to_owned()];
        let a = on(&naltrexone, &[("oxycodone", Negative)]);
        assert_eq!(a.urgency, None);
    }
}
