//! The finder: published programs by distance from a ZIP code, time of week, insurance and
//! service. It sees only what programs publish.

use super::places::{miles_between, Place};
use super::profile::{Service, TimeOfWeek};

/// What the finder knows of one published program.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Where it meets (its ZIP code's centroid), if known.
    pub place: Option<Place>,
    /// When its groups meet.
    pub times: Vec<TimeOfWeek>,
    /// Services offered.
    pub services: Vec<Service>,
    /// Insurance accepted, as published.
    pub insurance: Vec<String>,
}

/// What a visitor asked for; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Where they start from.
    pub from: Option<Place>,
    /// How far they will travel, in miles (only with `from`).
    pub within_miles: Option<f64>,
    /// When they can come.
    pub time: Option<TimeOfWeek>,
    /// Insurance they hold (matched ignoring case).
    pub insurance: Option<String>,
    /// A service they need.
    pub service: Option<Service>,
}

/// The distances a visitor may choose from, in miles.
pub const DISTANCES: [u32; 5] = [5, 10, 25, 50, 100];

/// The listings that fit `search`, as (index into `listings`, miles away), nearest first when
/// a starting place is given (programs with no known place last), otherwise in the given order.
pub fn find(listings: &[Listing], search: &Search) -> Vec<(usize, Option<f64>)> {
    let mut found: Vec<(usize, Option<f64>)> = listings
        .iter()
        .enumerate()
        .filter(|(_, l)| search.time.is_none_or(|t| l.times.contains(&t)))
        .filter(|(_, l)| search.service.is_none_or(|s| l.services.contains(&s)))
        .filter(|(_, l)| {
            search.insurance.as_deref().is_none_or(|wanted| {
                l.insurance
                    .iter()
                    .any(|i| i.trim().eq_ignore_ascii_case(wanted.trim()))
            })
        })
        .map(|(i, l)| {
            let miles = search.from.zip(l.place).map(|(a, b)| miles_between(a, b));
            (i, miles)
        })
        .filter(|(_, miles)| match (search.within_miles, search.from) {
            (Some(limit), Some(_)) => miles.is_some_and(|m| m <= limit),
            _ => true,
        })
        .collect();
    if search.from.is_some() {
        // A stable sort keeps the given order among equals and puts unknown places last.
        found.sort_by(|a, b| match (a.1, b.1) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontdoor::places::zip_centroid;

    fn listing(
        zip: Option<&str>,
        times: &[TimeOfWeek],
        services: &[Service],
        ins: &[&str],
    ) -> Listing {
        Listing {
            place: zip.map(|z| zip_centroid(z).expect("zip")),
            times: times.to_vec(),
            services: services.to_vec(),
            insurance: ins.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn programs() -> Vec<Listing> {
        use Service as S;
        use TimeOfWeek as T;
        vec![
            // 0: Manhattan, mornings, Medicaid.
            listing(Some("10001"), &[T::Morning], &[S::Group], &["Medicaid"]),
            // 1: Old City Philadelphia, evenings and weekends, medication.
            listing(
                Some("19106"),
                &[T::Evening, T::Weekend],
                &[S::Group, S::Medication],
                &["Medicaid", "Aetna"],
            ),
            // 2: Roxborough, Philadelphia, evenings.
            listing(
                Some("19128"),
                &[T::Evening],
                &[S::Group, S::Family],
                &["Aetna"],
            ),
            // 3: no ZIP published.
            listing(None, &[T::Evening], &[S::Group], &[]),
        ]
    }

    fn indexes(found: &[(usize, Option<f64>)]) -> Vec<usize> {
        found.iter().map(|(i, _)| *i).collect()
    }

    #[test]
    fn nearest_first_from_a_zip_code_with_unknown_places_last() {
        let from = zip_centroid("19107").ok();
        let found = find(
            &programs(),
            &Search {
                from,
                ..Search::default()
            },
        );
        assert_eq!(indexes(&found), vec![1, 2, 0, 3]);
        assert!(found[0].1.expect("miles") < 1.5);
        assert!(found[3].1.is_none());
    }

    #[test]
    fn distance_limit_drops_far_and_unplaced_programs() {
        let found = find(
            &programs(),
            &Search {
                from: zip_centroid("19107").ok(),
                within_miles: Some(25.0),
                ..Search::default()
            },
        );
        assert_eq!(indexes(&found), vec![1, 2]);
        // Without a starting place the limit means nothing.
        let found = find(
            &programs(),
            &Search {
                within_miles: Some(5.0),
                ..Search::default()
            },
        );
        assert_eq!(indexes(&found), vec![0, 1, 2, 3]);
    }

    #[test]
    fn time_service_and_insurance_each_narrow_the_list() {
        let search = |time, service, insurance: Option<&str>| Search {
            time,
            service,
            insurance: insurance.map(str::to_owned),
            ..Search::default()
        };
        let all = programs();
        assert_eq!(
            indexes(&find(&all, &search(Some(TimeOfWeek::Evening), None, None))),
            vec![1, 2, 3]
        );
        assert_eq!(
            indexes(&find(&all, &search(Some(TimeOfWeek::Weekend), None, None))),
            vec![1]
        );
        assert_eq!(
            indexes(&find(&all, &search(None, Some(Service::Family), None))),
            vec![2]
        );
        assert_eq!(
            indexes(&find(&all, &search(None, None, Some(" aetna")))),
            vec![1, 2]
        );
        assert_eq!(
            indexes(&find(
                &all,
                &search(
                    Some(TimeOfWeek::Evening),
                    Some(Service::Medication),
                    Some("Medicaid")
                )
            )),
            vec![1]
        );
        assert!(find(&all, &search(Some(TimeOfWeek::Afternoon), None, None)).is_empty());
    }
}
