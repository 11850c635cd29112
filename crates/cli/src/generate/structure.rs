//! The generated sites: programs cloned from the demo's, rooms, tracks with weekly slots,
//! staff with their assignments, and every group session of the years generated.

use anyhow::Result;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use trellis_domain::access::Role;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_domain::schedule::zone::SiteZone;
use trellis_storage::bulk::{BulkAudit, BulkLoad, Value};
use trellis_storage::Instant;

use super::templates::Templates;
use super::{Counts, Options};

/// Time zones the generated sites spread over.
const ZONES: [&str; 4] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
];

/// Cities for the generated sites' names.
const CITIES: [&str; 18] = [
    "Northgate",
    "Lakeside",
    "Fairview",
    "Brookfield",
    "Cedar Hill",
    "Millbrook",
    "Oak Ridge",
    "Westport",
    "Eastwood",
    "Highland",
    "Pinecrest",
    "Riverbend",
    "Stonebridge",
    "Maple Grove",
    "Summit",
    "Clearwater",
    "Ashford",
    "Harbor Point",
];

/// A weekly slot: weekday, start hour, end hour (local time).
type Slot = (Weekday, u32, u32);

/// The tracks of each generated program: name and weekly slots.
const TRACKS: [(&str, &[Slot]); 3] = [
    (
        "Morning",
        &[
            (Weekday::Mon, 9, 12),
            (Weekday::Wed, 9, 12),
            (Weekday::Fri, 9, 12),
        ],
    ),
    (
        "Evening",
        &[
            (Weekday::Mon, 18, 21),
            (Weekday::Tue, 18, 21),
            (Weekday::Thu, 18, 21),
        ],
    ),
    (
        "Weekend",
        &[
            (Weekday::Wed, 18, 21),
            (Weekday::Sat, 9, 12),
            (Weekday::Sun, 9, 12),
        ],
    ),
];

/// Counselors per generated program.
const COUNSELORS_PER_PROGRAM: usize = 2;

/// A generated staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    /// User id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
}

impl Staff {
    /// An audit row by this staff member.
    pub fn audit(
        &self,
        at: Instant,
        action: &'static str,
        record_type: &'static str,
        record_id: i64,
        patient_id: Option<i64>,
        detail: String,
    ) -> BulkAudit {
        BulkAudit {
            at,
            user_id: Some(self.id),
            username: self.username.clone(),
            role: self.role.code().to_owned(),
            action,
            record_type,
            record_id: Some(record_id),
            patient_id,
            detail,
        }
    }
}

/// One group session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Session id.
    pub id: i64,
    /// The site's calendar day.
    pub local_date: NaiveDate,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Length.
    pub minutes: i64,
}

/// A track and its sessions in date order.
pub struct Track {
    /// Track id.
    pub id: i64,
    /// Its sessions.
    pub sessions: Vec<Session>,
}

/// A generated program.
pub struct Program {
    /// Program id.
    pub id: i64,
    /// Level of care code.
    pub level_of_care: Value,
    /// Days between plan reviews.
    pub plan_review_days: i64,
    /// Counselors assigned to it.
    pub counselors: Vec<Staff>,
    /// Its tracks.
    pub tracks: Vec<Track>,
}

/// A generated site.
pub struct Site {
    /// Site id.
    pub id: i64,
    /// Its time zone.
    pub zone: SiteZone,
    /// Its programs.
    pub programs: Vec<Program>,
    /// Its intake coordinator.
    pub intake: Staff,
    /// Its nurse (drug screens).
    pub nurse: Staff,
}

/// The generated network.
pub struct Network {
    /// The generated sites.
    pub sites: Vec<Site>,
    /// The first day of the generated history.
    pub start: NaiveDate,
}

/// Creates the generated sites, their staff, tracks and sessions.
pub async fn build(
    load: &mut BulkLoad<'_>,
    templates: &Templates,
    options: &Options,
    today: NaiveDate,
    counts: &mut Counts,
) -> Result<Network> {
    let start = today - Duration::days(365 * i64::from(options.years));
    let last_session_day = today + Duration::days(14);
    let now = Instant::now();
    let admin = BulkAudit {
        at: now,
        user_id: None,
        username: "system:generate".into(),
        role: Role::Admin.code().to_owned(),
        action: "create",
        record_type: "site",
        record_id: None,
        patient_id: None,
        detail: String::new(),
    };
    let first_site = load.reserve_ids("sites", options.sites as i64).await?;
    let existing_sites = first_site - 1;
    let mut sites = Vec::new();
    let mut audit = Vec::new();
    let (mut site_rows, mut program_rows, mut room_rows, mut user_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut assignment_rows, mut track_rows, mut slot_rows, mut session_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in 0..options.sites {
        let site_id = first_site + s as i64;
        let number = existing_sites + s as i64 + 1;
        let code = format!("N{number:02}");
        let zone_name = ZONES[s % ZONES.len()];
        let zone = SiteZone::parse(zone_name)?;
        let city = CITIES[s % CITIES.len()];
        site_rows.push(vec![
            site_id.into(),
            code.clone().into(),
            format!("{city} Recovery Center ({code})").into(),
            zone_name.into(),
            format!("{} Main Street", 100 + s).into(),
            format!("(555) 4{:02}-{:04}", s % 100, 1000 + s).into(),
            now.into(),
        ]);
        audit.push(BulkAudit {
            record_id: Some(site_id),
            ..admin.clone()
        });
        let prefix = code.to_lowercase();
        let mut new_staff = |role: Role, name: String, label: String| -> Staff {
            let username = format!("{prefix}.{name}");
            user_rows.push((username.clone(), role, label));
            Staff {
                id: 0,
                username,
                role,
            }
        };
        let mut intake = new_staff(Role::Intake, "intake".into(), format!("Intake {code}"));
        let mut nurse = new_staff(Role::Nurse, "nurse".into(), format!("Nurse {code}"));
        let mut director = new_staff(
            Role::ClinicalDirector,
            "director".into(),
            format!("Director {code}"),
        );
        let mut front_desk = new_staff(
            Role::FrontDesk,
            "frontdesk".into(),
            format!("Front desk {code}"),
        );
        let mut program_counselors = Vec::new();
        for p in 0..templates.programs.len().min(2) {
            program_counselors.push(
                (0..COUNSELORS_PER_PROGRAM)
                    .map(|c| {
                        let n = p * COUNSELORS_PER_PROGRAM + c + 1;
                        new_staff(
                            Role::Counselor,
                            format!("counselor{n}"),
                            format!("Counselor {n} {code}"),
                        )
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let first_user = load
            .reserve_ids(
                "users",
                4 + program_counselors.iter().map(Vec::len).sum::<usize>() as i64,
            )
            .await?;
        let everyone = [&mut intake, &mut nurse, &mut director, &mut front_desk]
            .into_iter()
            .chain(program_counselors.iter_mut().flatten());
        for (id, staff) in (first_user..).zip(everyone) {
            staff.id = id;
        }
        for staff in [&intake, &nurse, &director, &front_desk] {
            assignment_rows.push(vec![staff.id.into(), site_id.into(), Value::Int(None)]);
        }
        let room_id = load.reserve_ids("rooms", 1).await?;
        room_rows.push(vec![
            room_id.into(),
            site_id.into(),
            "Group Room A".into(),
            12i64.into(),
            now.into(),
        ]);
        let mut programs = Vec::new();
        for (p, counselors) in program_counselors.into_iter().enumerate() {
            let template = &templates.programs[p];
            let program_id = load.reserve_ids("programs", 1).await?;
            let mut row = vec![program_id.into(), site_id.into()];
            row.extend(template.iter().cloned());
            row.push(Value::Bool(Some(true)));
            row.push(now.into());
            program_rows.push(row);
            audit.push(BulkAudit {
                record_type: "program",
                record_id: Some(program_id),
                ..admin.clone()
            });
            for c in &counselors {
                assignment_rows.push(vec![c.id.into(), site_id.into(), program_id.into()]);
            }
            let mut tracks = Vec::new();
            for (t, (name, slots)) in TRACKS.iter().enumerate() {
                let track_id = load.reserve_ids("tracks", 1).await?;
                let facilitator = &counselors[t % counselors.len()];
                track_rows.push(vec![
                    track_id.into(),
                    program_id.into(),
                    (*name).into(),
                    room_id.into(),
                    false.into(),
                    start.format("%Y-%m-%d").to_string().into(),
                    now.into(),
                    facilitator.id.into(),
                ]);
                audit.push(BulkAudit {
                    record_type: "track",
                    record_id: Some(track_id),
                    ..admin.clone()
                });
                let weekly: Vec<WeeklySlot> = slots
                    .iter()
                    .map(|(day, from, to)| {
                        WeeklySlot::new(*day, hour(*from), hour(*to)).map_err(anyhow::Error::from)
                    })
                    .collect::<Result<_>>()?;
                for slot in &weekly {
                    let id = load.reserve_ids("track_slots", 1).await?;
                    slot_rows.push(vec![
                        id.into(),
                        track_id.into(),
                        i64::from(slot.weekday.num_days_from_monday()).into(),
                        slot.start.format("%H:%M").to_string().into(),
                        slot.end.format("%H:%M").to_string().into(),
                    ]);
                }
                let mut day_sessions = Vec::new();
                let mut day = start;
                while day <= last_session_day {
                    for slot in weekly.iter().filter(|s| s.weekday == day.weekday()) {
                        let (starts_at, ends_at) = slot.instants_on(day, zone)?;
                        day_sessions.push(Session {
                            id: 0,
                            local_date: day,
                            starts_at,
                            ends_at,
                            minutes: (ends_at - starts_at).num_minutes(),
                        });
                    }
                    day += Duration::days(1);
                }
                let first = load
                    .reserve_ids("group_sessions", day_sessions.len() as i64)
                    .await?;
                for (i, session) in day_sessions.iter_mut().enumerate() {
                    session.id = first + i as i64;
                    session_rows.push(vec![
                        session.id.into(),
                        track_id.into(),
                        session.local_date.format("%Y-%m-%d").to_string().into(),
                        Instant(session.starts_at).into(),
                        Instant(session.ends_at).into(),
                        session.minutes.into(),
                        Value::Int(None),
                        false.into(),
                    ]);
                }
                counts.sessions += day_sessions.len() as u64;
                tracks.push(Track {
                    id: track_id,
                    sessions: day_sessions,
                });
            }
            let plan_review_days = template[5].as_int().unwrap_or(30);
            programs.push(Program {
                id: program_id,
                level_of_care: template[2].clone(),
                plan_review_days,
                counselors,
                tracks,
            });
        }
        sites.push(Site {
            id: site_id,
            zone,
            programs,
            intake,
            nurse,
        });
    }

    // Users were given consecutive ids in the order they were made.
    let first_user_id = sites.first().map(|s| s.intake.id).unwrap_or_default();
    let users: Vec<Vec<Value>> = user_rows
        .iter()
        .enumerate()
        .map(|(i, (username, role, label))| {
            vec![
                (first_user_id + i as i64).into(),
                username.clone().into(),
                label.clone().into(),
                Value::Text(None),
                role.code().into(),
                templates.password_hash.clone().into(),
                true.into(),
                Value::Text(None),
                false.into(),
                0i64.into(),
                now.into(),
                false.into(),
            ]
        })
        .collect();
    for u in &users {
        audit.push(BulkAudit {
            record_type: "user",
            record_id: u[0].as_int(),
            ..admin.clone()
        });
    }
    counts.sites = sites.len() as u64;
    counts.staff = users.len() as u64;
    load.insert(
        "sites",
        &[
            "id",
            "code",
            "name",
            "timezone",
            "address",
            "phone",
            "created_at",
        ],
        &site_rows,
    )
    .await?;
    load.insert(
        "users",
        &[
            "id",
            "username",
            "display_name",
            "email",
            "role",
            "password_hash",
            "active",
            "mfa_secret",
            "mfa_enabled",
            "failed_logins",
            "created_at",
            "requires_cosign",
        ],
        &users,
    )
    .await?;
    load.insert(
        "programs",
        &[
            "id",
            "site_id",
            "name",
            "population",
            "level_of_care",
            "weekly_minimum_hours",
            "max_group_size",
            "plan_review_days",
            "active",
            "created_at",
        ],
        &program_rows,
    )
    .await?;
    let first_assignment = load
        .reserve_ids("staff_assignments", assignment_rows.len() as i64)
        .await?;
    for (i, row) in assignment_rows.iter_mut().enumerate() {
        row.insert(0, (first_assignment + i as i64).into());
    }
    load.insert(
        "staff_assignments",
        &["id", "user_id", "site_id", "program_id"],
        &assignment_rows,
    )
    .await?;
    load.insert(
        "rooms",
        &["id", "site_id", "name", "capacity", "created_at"],
        &room_rows,
    )
    .await?;
    load.insert(
        "tracks",
        &[
            "id",
            "program_id",
            "name",
            "room_id",
            "telehealth",
            "starts_on",
            "created_at",
            "facilitator_id",
        ],
        &track_rows,
    )
    .await?;
    load.insert(
        "track_slots",
        &["id", "track_id", "weekday", "start_time", "end_time"],
        &slot_rows,
    )
    .await?;
    load.insert(
        "group_sessions",
        &[
            "id",
            "track_id",
            "local_date",
            "starts_at",
            "ends_at",
            "minutes",
            "topic_position",
            "one_off",
        ],
        &session_rows,
    )
    .await?;
    counts.audit_rows += audit.len() as u64;
    load.audit(&audit).await?;
    Ok(Network { sites, start })
}

fn hour(h: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN)
}
