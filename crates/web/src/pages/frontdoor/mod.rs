//! The front door: the public pages people find the program by (`public`: the finder and each
//! program's page, no sign-in), the self-screen (`self_screen`) and the staff form that edits
//! what the program pages show (`profiles`).

pub(crate) mod profiles;
pub(crate) mod public;
pub(crate) mod self_screen;

use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::frontdoor::profiles::PublicTrack;

/// One track's times as a visitor reads them: "Mon, Tue, Thu · 9:00 am – 12:00 pm", a line for
/// each distinct start and end.
pub(crate) fn track_times(track: &PublicTrack) -> Vec<String> {
    let mut groups: Vec<(chrono::NaiveTime, chrono::NaiveTime, Vec<&'static str>)> = Vec::new();
    for s in &track.slots {
        let day = weekday(s);
        match groups
            .iter_mut()
            .find(|(start, end, _)| *start == s.start && *end == s.end)
        {
            Some((_, _, days)) => days.push(day),
            None => groups.push((s.start, s.end, vec![day])),
        }
    }
    groups
        .into_iter()
        .map(|(start, end, days)| {
            format!("{} · {} – {}", days.join(", "), clock(start), clock(end))
        })
        .collect()
}

fn weekday(s: &WeeklySlot) -> &'static str {
    match s.weekday {
        chrono::Weekday::Mon => "Mon",
        chrono::Weekday::Tue => "Tue",
        chrono::Weekday::Wed => "Wed",
        chrono::Weekday::Thu => "Thu",
        chrono::Weekday::Fri => "Fri",
        chrono::Weekday::Sat => "Sat",
        chrono::Weekday::Sun => "Sun",
    }
}

/// "6:00 pm".
fn clock(t: chrono::NaiveTime) -> String {
    t.format("%-I:%M %P").to_string()
}
