//! Conflict checks for individual, family and psychiatry appointments, and group caps.
//!
//! Every interval is half-open (`start..end`), so back-to-back bookings do not clash. Reasons give
//! ids and times in the site's zone only, never patient details.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::track::WeeklySlot;
use super::zone::SiteZone;
use super::ScheduleError;

/// A span of time between two instants, end after start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TimeRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TimeRange {
    /// A checked range; the end must be after the start.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, ScheduleError> {
        if end <= start {
            return Err(ScheduleError::EndNotAfterStart { start, end });
        }
        Ok(TimeRange { start, end })
    }

    /// Start instant.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// End instant.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Whether the two ranges share any time.
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Something already in someone's calendar: a track session, an appointment, a booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commitment {
    /// Identifier of the session or appointment.
    pub id: String,
    /// What it is, in staff's words ("Evening track group").
    pub label: String,
    /// When.
    pub when: TimeRange,
}

/// A room and how many people it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// Identifier.
    pub id: String,
    /// Most people allowed at once.
    pub capacity: u32,
}

/// An existing use of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomBooking {
    /// The room.
    pub room_id: String,
    /// When.
    pub when: TimeRange,
    /// People in the room during the booking.
    pub occupants: u32,
}

/// A patient's declared weekly availability, in the site's local time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientAvailability {
    /// When the patient can come; empty means no restriction was declared.
    pub available: Vec<WeeklySlot>,
    /// Fixed obligations such as work or school hours, each with a label ("Work").
    pub busy: Vec<(String, WeeklySlot)>,
}

/// An appointment someone wants to book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposedAppointment {
    /// The patient.
    pub patient_id: String,
    /// The clinician.
    pub clinician_id: String,
    /// The room, if one is needed (telehealth needs none).
    pub room_id: Option<String>,
    /// When.
    pub when: TimeRange,
    /// People it puts in the room (patient, clinician, family members).
    pub occupants: u32,
}

/// What is already booked around a proposed appointment.
#[derive(Debug, Clone, Copy)]
pub struct Existing<'a> {
    /// The patient's track sessions and appointments.
    pub patient: &'a [Commitment],
    /// The clinician's appointments and groups.
    pub clinician: &'a [Commitment],
    /// Rooms and their capacities.
    pub rooms: &'a [Room],
    /// Bookings of any room (only the proposed room's are looked at).
    pub room_bookings: &'a [RoomBooking],
    /// The patient's declared availability.
    pub availability: &'a PatientAvailability,
}

/// The kind of clash, with the data behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConflictKind {
    /// The patient is already booked then.
    PatientDoubleBooked {
        /// The clashing commitment.
        with: String,
    },
    /// The clinician is already booked then.
    ClinicianDoubleBooked {
        /// The clashing commitment.
        with: String,
    },
    /// The room would hold more people than it can.
    RoomOverCapacity {
        /// The room.
        room_id: String,
        /// Its capacity.
        capacity: u32,
        /// Most people in it at once with the appointment added.
        peak: u32,
    },
    /// The proposed room is not in the list of rooms.
    UnknownRoom {
        /// The room asked for.
        room_id: String,
    },
    /// The patient did not declare themselves available for all of the time.
    OutsidePatientAvailability,
    /// The time overlaps a fixed obligation such as work hours.
    OverlapsPatientObligation {
        /// The obligation's label.
        label: String,
    },
    /// The group already has as many patients as its cap.
    GroupFull {
        /// The group or track.
        group_id: String,
        /// Patients enrolled now.
        enrolled: u32,
        /// The cap.
        cap: u32,
    },
}

/// One clash and a sentence staff can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// What clashed.
    pub kind: ConflictKind,
    /// Why, in words.
    pub reason: String,
}

/// Every conflict a proposed appointment would create, in a stable order.
pub fn find_conflicts(
    proposed: &ProposedAppointment,
    existing: &Existing<'_>,
    zone: SiteZone,
) -> Result<Vec<Conflict>, ScheduleError> {
    let when = proposed.when;
    let span = |r: &TimeRange| describe(r, zone);
    let mut conflicts = Vec::new();

    for c in existing.patient.iter().filter(|c| c.when.overlaps(&when)) {
        conflicts.push(Conflict {
            reason: format!(
                "patient {} already has {} ({}) at {}",
                proposed.patient_id,
                c.label,
                c.id,
                span(&c.when)
            ),
            kind: ConflictKind::PatientDoubleBooked { with: c.id.clone() },
        });
    }
    for c in existing.clinician.iter().filter(|c| c.when.overlaps(&when)) {
        conflicts.push(Conflict {
            reason: format!(
                "clinician {} already has {} ({}) at {}",
                proposed.clinician_id,
                c.label,
                c.id,
                span(&c.when)
            ),
            kind: ConflictKind::ClinicianDoubleBooked { with: c.id.clone() },
        });
    }
    if let Some(room_id) = &proposed.room_id {
        conflicts.extend(room_conflict(proposed, room_id, existing, zone));
    }
    conflicts.extend(availability_conflicts(&when, existing.availability, zone)?);
    Ok(conflicts)
}

/// The room check: the most people in the room at once during the appointment, appointment included.
fn room_conflict(
    proposed: &ProposedAppointment,
    room_id: &str,
    existing: &Existing<'_>,
    zone: SiteZone,
) -> Option<Conflict> {
    let Some(room) = existing.rooms.iter().find(|r| r.id == room_id) else {
        return Some(Conflict {
            reason: format!("room {room_id} is not a known room"),
            kind: ConflictKind::UnknownRoom {
                room_id: room_id.to_owned(),
            },
        });
    };
    let when = proposed.when;
    // Sweep over the bookings' starts and ends inside the appointment; ends sort before starts at
    // the same instant because the ranges are half-open.
    let mut events: Vec<(DateTime<Utc>, bool, u32)> = Vec::new();
    for b in existing
        .room_bookings
        .iter()
        .filter(|b| b.room_id == room_id && b.when.overlaps(&when))
    {
        events.push((b.when.start.max(when.start), true, b.occupants));
        events.push((b.when.end.min(when.end), false, b.occupants));
    }
    events.sort_by_key(|&(at, is_start, _)| (at, is_start));
    let (mut now, mut peak) = (0u32, 0u32);
    for (_, is_start, n) in events {
        if is_start {
            now = now.saturating_add(n);
            peak = peak.max(now);
        } else {
            now = now.saturating_sub(n);
        }
    }
    let peak = peak.saturating_add(proposed.occupants);
    (peak > room.capacity).then(|| Conflict {
        reason: format!(
            "room {} holds {} but would have {} at once during {}",
            room.id,
            room.capacity,
            peak,
            describe(&when, zone)
        ),
        kind: ConflictKind::RoomOverCapacity {
            room_id: room.id.clone(),
            capacity: room.capacity,
            peak,
        },
    })
}

/// The patient's declared availability and obligations around the appointment.
fn availability_conflicts(
    when: &TimeRange,
    availability: &PatientAvailability,
    zone: SiteZone,
) -> Result<Vec<Conflict>, ScheduleError> {
    let mut conflicts = Vec::new();
    if !availability.available.is_empty() {
        let mut windows = occurrences(availability.available.iter(), when, zone)?;
        windows.sort_by_key(|w| w.start);
        // Walk the windows in order; a gap before the appointment's end leaves part uncovered.
        let mut covered_to = when.start;
        for w in &windows {
            if w.start > covered_to {
                break;
            }
            covered_to = covered_to.max(w.end);
        }
        if covered_to < when.end {
            conflicts.push(Conflict {
                reason: format!(
                    "{} is outside the times the patient said they can attend",
                    describe(when, zone)
                ),
                kind: ConflictKind::OutsidePatientAvailability,
            });
        }
    }
    for (label, slot) in &availability.busy {
        if let Some(hit) = occurrences(std::iter::once(slot), when, zone)?
            .into_iter()
            .find(|w| w.overlaps(when))
        {
            conflicts.push(Conflict {
                reason: format!(
                    "{} overlaps the patient's {} ({})",
                    describe(when, zone),
                    label.to_lowercase(),
                    describe(&hit, zone)
                ),
                kind: ConflictKind::OverlapsPatientObligation {
                    label: label.clone(),
                },
            });
        }
    }
    Ok(conflicts)
}

/// Occurrences of weekly slots that could touch `when`: from the local day before its start (a
/// slot crossing midnight) to the local day of its end.
fn occurrences<'s>(
    slots: impl Iterator<Item = &'s WeeklySlot> + Clone,
    when: &TimeRange,
    zone: SiteZone,
) -> Result<Vec<TimeRange>, ScheduleError> {
    let first = zone
        .local_date(when.start)
        .pred_opt()
        .ok_or(ScheduleError::OutOfRange)?;
    let last = zone.local_date(when.end);
    let mut out = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= last) {
        for slot in slots.clone() {
            if slot.weekday == date.weekday() {
                let (start, end) = slot.instants_on(date, zone)?;
                out.push(TimeRange { start, end });
            }
        }
    }
    Ok(out)
}

/// "Mon 2024-03-04 18:00–21:00" in the site's zone (the end's date is shown when it differs).
fn describe(range: &TimeRange, zone: SiteZone) -> String {
    let start = zone.local(range.start);
    let end = zone.local(range.end);
    let end_fmt = if end.date() == start.date() {
        "%H:%M"
    } else {
        "%a %Y-%m-%d %H:%M"
    };
    format!(
        "{}–{}",
        start.format("%a %Y-%m-%d %H:%M"),
        end.format(end_fmt)
    )
}

/// The most patients a group may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCap(pub u32);

impl Default for GroupCap {
    /// 12 patients: a common program setting, not a published standard (states may set their own).
    fn default() -> Self {
        GroupCap(12)
    }
}

/// A conflict if one more patient would take the group over its cap.
pub fn group_enrolment_conflict(group_id: &str, enrolled: u32, cap: GroupCap) -> Option<Conflict> {
    (enrolled >= cap.0).then(|| Conflict {
        reason: format!(
            "group {group_id} already has {enrolled} patients and its cap is {}",
            cap.0
        ),
        kind: ConflictKind::GroupFull {
            group_id: group_id.to_owned(),
            enrolled,
            cap: cap.0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, NaiveTime, Weekday};

    fn ny() -> SiteZone {
        SiteZone::parse("America/New_York").unwrap()
    }

    /// A range from local New York times "YYYY-MM-DD HH:MM".
    fn local(start: &str, end: &str) -> TimeRange {
        let at = |s: &str| {
            ny().resolve(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
                .unwrap()
        };
        TimeRange::new(at(start), at(end)).unwrap()
    }

    fn slot(w: Weekday, start: (u32, u32), end: (u32, u32)) -> WeeklySlot {
        WeeklySlot::new(
            w,
            NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap(),
            NaiveTime::from_hms_opt(end.0, end.1, 0).unwrap(),
        )
        .unwrap()
    }

    fn commitment(id: &str, label: &str, when: TimeRange) -> Commitment {
        Commitment {
            id: id.into(),
            label: label.into(),
            when,
        }
    }

    fn proposal(when: TimeRange) -> ProposedAppointment {
        ProposedAppointment {
            patient_id: "p-1".into(),
            clinician_id: "c-7".into(),
            room_id: Some("r-2".into()),
            when,
            occupants: 2,
        }
    }

    #[test]
    fn every_kind_of_clash_is_reported_with_a_reason() {
        // Monday 2024-06-03, New York (EDT).
        let patient = [
            commitment(
                "s-1",
                "Evening track group",
                local("2024-06-03 18:00", "2024-06-03 21:00"),
            ),
            commitment(
                "a-1",
                "Psychiatry follow-up",
                local("2024-06-03 16:30", "2024-06-03 17:30"),
            ),
        ];
        let clinician = [
            commitment(
                "a-2",
                "Individual session",
                local("2024-06-03 15:00", "2024-06-03 16:00"),
            ),
            commitment(
                "a-3",
                "Family session",
                local("2024-06-03 16:45", "2024-06-03 17:15"),
            ),
        ];
        let rooms = [Room {
            id: "r-2".into(),
            capacity: 4,
        }];
        let bookings = [
            RoomBooking {
                room_id: "r-2".into(),
                when: local("2024-06-03 16:00", "2024-06-03 16:30"),
                occupants: 2,
            },
            RoomBooking {
                room_id: "r-2".into(),
                when: local("2024-06-03 16:15", "2024-06-03 17:00"),
                occupants: 3,
            },
            RoomBooking {
                room_id: "r-9".into(),
                when: local("2024-06-03 16:00", "2024-06-03 17:00"),
                occupants: 30,
            },
        ];
        let availability = PatientAvailability {
            available: vec![slot(Weekday::Mon, (12, 0), (17, 0))],
            busy: vec![("Work".into(), slot(Weekday::Mon, (8, 0), (16, 30)))],
        };
        let existing = Existing {
            patient: &patient,
            clinician: &clinician,
            rooms: &rooms,
            room_bookings: &bookings,
            availability: &availability,
        };
        let got = find_conflicts(
            &proposal(local("2024-06-03 16:00", "2024-06-03 17:00")),
            &existing,
            ny(),
        )
        .unwrap();
        let reasons: Vec<_> = got.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "patient p-1 already has Psychiatry follow-up (a-1) at Mon 2024-06-03 16:30–17:30",
                "clinician c-7 already has Family session (a-3) at Mon 2024-06-03 16:45–17:15",
                "room r-2 holds 4 but would have 7 at once during Mon 2024-06-03 16:00–17:00",
                "Mon 2024-06-03 16:00–17:00 overlaps the patient's work (Mon 2024-06-03 08:00–16:30)",
            ]
        );
        assert_eq!(
            got[0].kind,
            ConflictKind::PatientDoubleBooked { with: "a-1".into() }
        );
        assert_eq!(
            got[2].kind,
            ConflictKind::RoomOverCapacity {
                room_id: "r-2".into(),
                capacity: 4,
                peak: 7
            }
        );

        // An hour later: after work, inside availability? No: availability ends at 17:00.
        let later = find_conflicts(
            &proposal(local("2024-06-03 17:00", "2024-06-03 18:00")),
            &existing,
            ny(),
        )
        .unwrap();
        let kinds: Vec<_> = later.into_iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![
                ConflictKind::PatientDoubleBooked { with: "a-1".into() },
                ConflictKind::ClinicianDoubleBooked { with: "a-3".into() },
                ConflictKind::OutsidePatientAvailability,
            ]
        );
    }

    #[test]
    fn back_to_back_is_not_a_clash() {
        let patient = [commitment(
            "s-1",
            "Group",
            local("2024-06-03 18:00", "2024-06-03 21:00"),
        )];
        let clinician = [commitment(
            "a-2",
            "Individual",
            local("2024-06-03 16:00", "2024-06-03 17:00"),
        )];
        let rooms = [Room {
            id: "r-2".into(),
            capacity: 2,
        }];
        let bookings = [RoomBooking {
            room_id: "r-2".into(),
            when: local("2024-06-03 16:00", "2024-06-03 17:00"),
            occupants: 2,
        }];
        let availability = PatientAvailability::default();
        let existing = Existing {
            patient: &patient,
            clinician: &clinician,
            rooms: &rooms,
            room_bookings: &bookings,
            availability: &availability,
        };
        let got = find_conflicts(
            &proposal(local("2024-06-03 17:00", "2024-06-03 18:00")),
            &existing,
            ny(),
        )
        .unwrap();
        assert_eq!(got, vec![]);
    }

    #[test]
    fn availability_can_span_midnight_and_adjacent_windows() {
        let availability = PatientAvailability {
            available: vec![
                slot(Weekday::Mon, (22, 0), (2, 0)),
                slot(Weekday::Wed, (12, 0), (14, 0)),
                slot(Weekday::Wed, (14, 0), (16, 0)),
            ],
            busy: vec![("Night shift".into(), slot(Weekday::Thu, (22, 0), (6, 0)))],
        };
        let existing = Existing {
            patient: &[],
            clinician: &[],
            rooms: &[],
            room_bookings: &[],
            availability: &availability,
        };
        let check = |start: &str, end: &str| {
            let mut p = proposal(local(start, end));
            p.room_id = None;
            find_conflicts(&p, &existing, ny())
                .unwrap()
                .into_iter()
                .map(|c| c.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(check("2024-06-04 00:30", "2024-06-04 01:30"), vec![]);
        assert_eq!(
            check("2024-06-04 01:30", "2024-06-04 02:30"),
            vec![ConflictKind::OutsidePatientAvailability]
        );
        assert_eq!(check("2024-06-05 13:00", "2024-06-05 15:00"), vec![]);
        let friday_early = check("2024-06-07 05:00", "2024-06-07 07:00");
        assert_eq!(
            friday_early,
            vec![
                ConflictKind::OutsidePatientAvailability,
                ConflictKind::OverlapsPatientObligation {
                    label: "Night shift".into()
                },
            ]
        );
    }

    #[test]
    fn unknown_room_is_reported() {
        let availability = PatientAvailability::default();
        let existing = Existing {
            patient: &[],
            clinician: &[],
            rooms: &[],
            room_bookings: &[],
            availability: &availability,
        };
        let got = find_conflicts(
            &proposal(local("2024-06-03 10:00", "2024-06-03 11:00")),
            &existing,
            ny(),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![Conflict {
                kind: ConflictKind::UnknownRoom {
                    room_id: "r-2".into()
                },
                reason: "room r-2 is not a known room".into(),
            }]
        );
    }

    #[test]
    fn end_before_start_is_refused() {
        let a = local("2024-06-03 10:00", "2024-06-03 11:00");
        let err = TimeRange::new(a.end(), a.start()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the end (2024-06-03 14:00:00 UTC) must be after the start (2024-06-03 15:00:00 UTC)"
        );
        assert!(TimeRange::new(a.start(), a.start()).is_err());
    }

    #[test]
    fn group_cap_defaults_to_twelve() {
        assert_eq!(
            group_enrolment_conflict("evening", 11, GroupCap::default()),
            None
        );
        let full = group_enrolment_conflict("evening", 12, GroupCap::default()).unwrap();
        assert_eq!(
            full.reason,
            "group evening already has 12 patients and its cap is 12"
        );
        assert!(group_enrolment_conflict("evening", 10, GroupCap(10)).is_some());
    }
}
