//! Trellis domain rules: the clinic's vocabulary and decisions as plain types and functions, no I/O.

pub mod access;
pub mod care;
pub mod consent;
pub mod documentation;
pub mod frontdoor;
pub mod measures;
pub mod patient;
pub mod placement;
pub mod portal;
pub mod revenue;
pub mod schedule;
pub mod screens;

/// A day as people read it, e.g. "Nov 27, 2026": every page and every text written for staff
/// (task titles, flag summaries, generated summaries) writes days this one way.
pub fn readable_day(d: chrono::NaiveDate) -> String {
    d.format("%b %-d, %Y").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_day_reads_month_day_year() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 7).expect("date");
        assert_eq!(super::readable_day(d), "Nov 7, 2026");
    }
}
