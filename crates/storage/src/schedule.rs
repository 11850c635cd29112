//! Program operations: rooms, tracks and their curriculum, concrete group sessions, group
//! enrolment, attendance, weekly service hours and absence outreach.
//!
//! The rules live in `trellis_domain::schedule`; this module stores their inputs and results.
//! Sessions are materialised from a track's weekly pattern on demand for a date range
//! (idempotent: one row per track and start instant), so a day sheet always has rows to mark.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::{Any, FromRow, Transaction};
use trellis_domain::care::LevelOfCare;
use trellis_domain::schedule::absences::{outreach_needed, SessionMark};
use trellis_domain::schedule::attendance::{Attendance, AttendanceStatus};
use trellis_domain::schedule::curriculum::{Curriculum, Topic};
use trellis_domain::schedule::hours::{
    care_weeks, service_hours, week_start, CareWeek, DayEligibility, HoursPolicy, HoursStatus,
    PolicyHistory, ServiceHours, ServiceRecord, ServiceType, WeekStanding,
};
use trellis_domain::schedule::track::{expand_sessions, Track, WeeklySlot};
use trellis_domain::schedule::zone::SiteZone;
use trellis_domain::schedule::ScheduleError;

use crate::access::{can, patient_scope_sql, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::org::unique_violation;
use crate::tasks::{open_task, NewTask};
use crate::{parse_code, Day, Flag, Instant, Result, Store, StoreError};

/// A room at a site, with the number of people it holds.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Room {
    /// Id.
    pub id: i64,
    /// Site.
    pub site_id: i64,
    /// Name ("Group room 2").
    pub name: String,
    /// How many people it seats.
    pub capacity: i64,
}

/// A new room.
#[derive(Debug, Clone)]
pub struct NewRoom {
    /// Site.
    pub site_id: i64,
    /// Name.
    pub name: String,
    /// Seats.
    pub capacity: i64,
}

/// One curriculum topic of a track, with what the facilitator uses to teach it.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct TrackTopic {
    /// Place in the cycle, from 0.
    pub position: i64,
    /// Title ("Triggers and high-risk situations").
    pub title: String,
    /// Materials (handouts, worksheets).
    pub materials: String,
}

/// A track: a named weekly pattern of group sessions of a program.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrackInfo {
    /// Id.
    pub id: i64,
    /// Program.
    pub program_id: i64,
    /// Program name.
    pub program_name: String,
    /// Site.
    pub site_id: i64,
    /// Site time zone.
    pub timezone: String,
    /// Name ("Evening").
    pub name: String,
    /// Room, if held in one.
    pub room_id: Option<i64>,
    /// Room name.
    pub room_name: Option<String>,
    /// Whether held by telehealth.
    pub telehealth: bool,
    /// First day of the curriculum cycle.
    pub starts_on: Day,
    /// Group size cap (the program's).
    pub max_group_size: i64,
    /// Patients enrolled now.
    pub enrolled: i64,
    /// Weekly pattern in the site's local time.
    pub slots: Vec<WeeklySlot>,
    /// Curriculum in teaching order.
    pub topics: Vec<TrackTopic>,
}

#[derive(FromRow)]
struct TrackRow {
    id: i64,
    program_id: i64,
    program_name: String,
    site_id: i64,
    timezone: String,
    name: String,
    room_id: Option<i64>,
    room_name: Option<String>,
    #[sqlx(try_from = "Flag")]
    telehealth: bool,
    starts_on: Day,
    max_group_size: i64,
    enrolled: i64,
}

/// A new track.
#[derive(Debug, Clone)]
pub struct NewTrack {
    /// Program.
    pub program_id: i64,
    /// Name.
    pub name: String,
    /// Room, or none for telehealth.
    pub room_id: Option<i64>,
    /// Held by telehealth.
    pub telehealth: bool,
    /// First day of the curriculum cycle.
    pub starts_on: NaiveDate,
    /// Weekly pattern, local time.
    pub slots: Vec<WeeklySlot>,
    /// Curriculum: (title, materials) in teaching order.
    pub topics: Vec<(String, String)>,
}

/// A concrete group session.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct GroupSession {
    /// Id.
    pub id: i64,
    /// Track.
    pub track_id: i64,
    /// Track name.
    pub track_name: String,
    /// Local date it starts on.
    pub local_date: Day,
    /// Start.
    pub starts_at: Instant,
    /// End.
    pub ends_at: Instant,
    /// Real length in minutes.
    pub minutes: i64,
    /// Curriculum position taught, if the track has a curriculum.
    pub topic_position: Option<i64>,
    /// Topic title.
    pub topic_title: Option<String>,
    /// Topic materials.
    pub topic_materials: Option<String>,
    /// Room name.
    pub room_name: Option<String>,
    /// Whether held by telehealth.
    #[sqlx(try_from = "Flag")]
    pub telehealth: bool,
}

/// One enrolled patient's line on a day sheet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SheetLine {
    /// Patient.
    pub patient_id: i64,
    /// Name to address them by.
    pub patient_name: String,
    /// Status marked, if any.
    pub status: Option<AttendanceStatus>,
    /// Minutes attended, if marked.
    pub minutes_attended: Option<i64>,
}

crate::patients::names_patient!(SheetLine);

/// A session on the day sheet with its roster.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SheetSession {
    /// The session.
    pub session: GroupSession,
    /// Enrolled patients, by name.
    pub roster: Vec<SheetLine>,
}

/// A patient's enrolment in a track.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Enrolment {
    /// Id.
    pub id: i64,
    /// Track.
    pub track_id: i64,
    /// Track name.
    pub track_name: String,
    /// Program name.
    pub program_name: String,
    /// From.
    pub enrolled_on: Day,
    /// Until (none while enrolled).
    pub ended_on: Option<Day>,
}

/// One attendance mark as the chart lists it.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct AttendanceMark {
    /// Session.
    pub session_id: i64,
    /// Track name.
    pub track_name: String,
    /// Session start.
    pub starts_at: Instant,
    /// Status code.
    pub status: String,
    /// Minutes attended.
    pub minutes_attended: i64,
    /// Session length.
    pub session_minutes: i64,
}

/// Curriculum coverage for one enrolment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coverage {
    /// Track name.
    pub track_name: String,
    /// Topics attended, in cycle order.
    pub attended: Vec<String>,
    /// Topics still missing, in the order they next come up.
    pub missing: Vec<String>,
    /// Sessions until the last missing topic has been taught.
    pub sessions_to_complete: u64,
}

/// The chart's schedule and attendance view of one patient.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatientSchedule {
    /// Track enrolments, newest first.
    pub enrolments: Vec<Enrolment>,
    /// Attendance, newest first.
    pub attendance: Vec<AttendanceMark>,
    /// The weekly minimum and ceiling applied, if the patient has an open episode.
    pub policy: Option<HoursPolicy>,
    /// The last weeks' hours, oldest first.
    pub weeks: Vec<CareWeek>,
    /// Days with service, with their per-diem eligibility.
    pub days: Vec<DayEligibility>,
    /// Curriculum coverage per current enrolment: which topics the patient has not had is
    /// clinical (minimum necessary), so `None` unless read with a clinical grant.
    pub coverage: Option<Vec<Coverage>>,
}

/// A patient whose hours this week are out of range.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HoursAlert {
    /// Patient.
    pub patient_id: i64,
    /// Name to address them by.
    pub patient_name: String,
    /// Program.
    pub program_name: String,
    /// Minutes this week.
    pub minutes: u32,
    /// The program's weekly minimum in minutes.
    pub minimum_minutes: u32,
    /// Under the minimum or at/over the ceiling.
    pub status: HoursStatus,
}

crate::patients::names_patient!(HoursAlert);

/// What recording attendance set off.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct AttendanceOutcome {
    /// The outreach task opened by this mark, if it completed a run of unexcused absences.
    pub outreach_task_id: Option<i64>,
}

pub(crate) const SESSION_SELECT: &str =
    "SELECT gs.id, gs.track_id, t.name AS track_name, gs.local_date,
    gs.starts_at, gs.ends_at, gs.minutes, gs.topic_position, tt.title AS topic_title,
    tt.materials AS topic_materials, r.name AS room_name, t.telehealth
    FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id
    LEFT JOIN rooms r ON r.id = t.room_id
    LEFT JOIN track_topics tt ON tt.track_id = gs.track_id AND tt.position = gs.topic_position";

const TRACK_SELECT: &str = "SELECT t.id, t.program_id, pr.name AS program_name, pr.site_id,
    s.timezone, t.name, t.room_id, r.name AS room_name, t.telehealth, t.starts_on,
    pr.max_group_size,
    (SELECT COUNT(*) FROM track_enrolments te WHERE te.track_id = t.id AND te.ended_on IS NULL)
        AS enrolled
    FROM tracks t JOIN programs pr ON pr.id = t.program_id JOIN sites s ON s.id = pr.site_id
    LEFT JOIN rooms r ON r.id = t.room_id";

/// One roster row: session, patient, name, status marked, minutes attended.
type RosterRow = (i64, i64, String, Option<String>, Option<i64>);

/// Where a query would name the patient: names are encrypted, so queries leave a placeholder
/// that `fill_patient_names` or `listed_names` fills after decrypting.
pub(crate) const PATIENT_NAME: &str = "CAST('' AS TEXT)";

fn schedule_error(field: &'static str, e: ScheduleError) -> StoreError {
    StoreError::invalid(field, e.to_string())
}

pub(crate) fn weekday_from(n: i64) -> Result<Weekday> {
    u8::try_from(n)
        .ok()
        .and_then(|n| Weekday::try_from(n).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("weekday {n}")))
}

pub(crate) fn time_from(s: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| StoreError::Corrupt(format!("time {s:?}")))
}

impl Store {
    /// Adds a room to a site.
    pub async fn create_room(
        &self,
        grant: &Grant<can::ManagePrograms>,
        room: NewRoom,
    ) -> Result<i64> {
        let name = room.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::invalid(
                "name",
                "give a name of at most 100 characters",
            ));
        }
        if !(1..=200).contains(&room.capacity) {
            return Err(StoreError::invalid("capacity", "must be between 1 and 200"));
        }
        self.site(room.site_id)
            .await
            .map_err(|_| StoreError::invalid("site_id", "choose a site"))?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rooms (site_id, name, capacity, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(room.site_id)
        .bind(name)
        .bind(room.capacity)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "this site already has a room with this name"))?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "room",
                record_id: Some(id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every room, by site and name.
    pub async fn rooms(&self) -> Result<Vec<Room>> {
        Ok(
            sqlx::query_as("SELECT id, site_id, name, capacity FROM rooms ORDER BY site_id, name")
                .fetch_all(&mut *self.read_conn().await?)
                .await?,
        )
    }

    /// Creates a track with its weekly pattern and curriculum.
    pub async fn create_track(
        &self,
        grant: &Grant<can::ManagePrograms>,
        track: NewTrack,
    ) -> Result<i64> {
        let mut errors = Vec::new();
        let name = track.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(trellis_domain::patient::FieldError::new(
                "name",
                "give a name of at most 100 characters",
            ));
        }
        if track.slots.is_empty() {
            errors.push(trellis_domain::patient::FieldError::new(
                "slots",
                "give at least one weekly session",
            ));
        }
        if track.room_id.is_none() && !track.telehealth {
            errors.push(trellis_domain::patient::FieldError::new(
                "room_id",
                "choose a room or telehealth",
            ));
        }
        if track.topics.iter().any(|(t, _)| t.trim().is_empty()) {
            errors.push(trellis_domain::patient::FieldError::new(
                "topics",
                "every curriculum topic needs a title",
            ));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let program = self
            .program(track.program_id)
            .await
            .map_err(|_| StoreError::invalid("program_id", "choose a program"))?;
        if let Some(room_id) = track.room_id {
            let room_site: Option<i64> =
                sqlx::query_scalar("SELECT site_id FROM rooms WHERE id = $1")
                    .bind(room_id)
                    .fetch_optional(&mut *self.read_conn().await?)
                    .await?;
            if room_site != Some(program.site_id) {
                return Err(StoreError::invalid(
                    "room_id",
                    "choose a room at the program's site",
                ));
            }
        }
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tracks (program_id, name, room_id, telehealth, starts_on, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(track.program_id)
        .bind(name)
        .bind(track.room_id)
        .bind(track.telehealth)
        .bind(Day(track.starts_on))
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "this program already has a track with this name"))?;
        for slot in &track.slots {
            sqlx::query(
                "INSERT INTO track_slots (track_id, weekday, start_time, end_time)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(i64::from(slot.weekday.num_days_from_monday()))
            .bind(slot.start.format("%H:%M").to_string())
            .bind(slot.end.format("%H:%M").to_string())
            .execute(&mut *tx)
            .await?;
        }
        for (position, (title, materials)) in track.topics.iter().enumerate() {
            sqlx::query(
                "INSERT INTO track_topics (track_id, position, title, materials)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(i64::try_from(position).map_err(|_| StoreError::invalid("topics", "too many"))?)
            .bind(title.trim())
            .bind(materials.trim())
            .execute(&mut *tx)
            .await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "track",
                record_id: Some(id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every track with its pattern and curriculum, by program and name.
    pub async fn tracks(&self) -> Result<Vec<TrackInfo>> {
        let rows: Vec<TrackRow> =
            sqlx::query_as(&format!("{TRACK_SELECT} ORDER BY pr.name, t.name, t.id"))
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
        self.track_details(rows, None).await
    }

    /// The tracks at the patient's site, the ones they can be enrolled in.
    pub async fn patient_site_tracks(
        &self,
        grant: &PatientGrant<can::ReadSchedule>,
    ) -> Result<Vec<TrackInfo>> {
        let site_id: i64 = sqlx::query_scalar("SELECT site_id FROM patients WHERE id = $1")
            .bind(grant.patient_id())
            .fetch_one(&mut *self.read_conn().await?)
            .await?;
        self.site_tracks(site_id).await
    }

    /// The tracks of one site with their pattern and curriculum, by program and name.
    pub async fn site_tracks(&self, site_id: i64) -> Result<Vec<TrackInfo>> {
        let rows: Vec<TrackRow> = sqlx::query_as(&format!(
            "{TRACK_SELECT} WHERE pr.site_id = $1 ORDER BY pr.name, t.name, t.id"
        ))
        .bind(site_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        self.track_details(rows, Some(site_id)).await
    }

    /// One track.
    pub async fn track(&self, id: i64) -> Result<TrackInfo> {
        let row: TrackRow = sqlx::query_as(&format!("{TRACK_SELECT} WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("track"))?;
        let site_id = row.site_id;
        self.track_details(vec![row], Some(site_id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound("track"))
    }

    /// Adds slots and topics to track rows (two queries, whatever the number of tracks).
    /// Adds their weekly pattern and curriculum to `rows`, all at `site_id` when given (so a
    /// site's tracks do not read the whole network's patterns).
    async fn track_details(
        &self,
        rows: Vec<TrackRow>,
        site_id: Option<i64>,
    ) -> Result<Vec<TrackInfo>> {
        let at_site = "($1 IS NULL OR track_id IN (SELECT t.id FROM tracks t
            JOIN programs pr ON pr.id = t.program_id WHERE pr.site_id = $1))";
        let slot_rows: Vec<(i64, i64, String, String)> = sqlx::query_as(&format!(
            "SELECT track_id, weekday, start_time, end_time FROM track_slots WHERE {at_site}
             ORDER BY track_id, weekday, start_time"
        ))
        .bind(site_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut slots: HashMap<i64, Vec<WeeklySlot>> = HashMap::new();
        for (track_id, weekday, start, end) in slot_rows {
            let slot =
                WeeklySlot::new(weekday_from(weekday)?, time_from(&start)?, time_from(&end)?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            slots.entry(track_id).or_default().push(slot);
        }
        let topic_rows: Vec<(i64, i64, String, String)> = sqlx::query_as(&format!(
            "SELECT track_id, position, title, materials FROM track_topics WHERE {at_site}
             ORDER BY track_id, position"
        ))
        .bind(site_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut topics: HashMap<i64, Vec<TrackTopic>> = HashMap::new();
        for (track_id, position, title, materials) in topic_rows {
            topics.entry(track_id).or_default().push(TrackTopic {
                position,
                title,
                materials,
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| TrackInfo {
                slots: slots.remove(&r.id).unwrap_or_default(),
                topics: topics.remove(&r.id).unwrap_or_default(),
                id: r.id,
                program_id: r.program_id,
                program_name: r.program_name,
                site_id: r.site_id,
                timezone: r.timezone,
                name: r.name,
                room_id: r.room_id,
                room_name: r.room_name,
                telehealth: r.telehealth,
                starts_on: r.starts_on,
                max_group_size: r.max_group_size,
                enrolled: r.enrolled,
            })
            .collect())
    }

    /// Closes a site for a day (a holiday): no group sessions are generated that day.
    pub async fn add_closure(
        &self,
        grant: &Grant<can::ManagePrograms>,
        site_id: i64,
        day: NaiveDate,
        reason: &str,
    ) -> Result<i64> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(StoreError::invalid(
                "reason",
                "say why, in at most 200 characters",
            ));
        }
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO site_closures (site_id, closed_on, reason) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(site_id)
        .bind(Day(day))
        .bind(reason)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "the site is already closed that day"))?;
        remove_unmarked_sessions(
            &mut tx,
            "SELECT gs.id FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id
             JOIN programs pr ON pr.id = t.program_id WHERE pr.site_id = $1 AND gs.local_date = $2",
            site_id,
            day,
        )
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "site_closure",
                record_id: Some(id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Cancels one day's sessions of a track; refused once attendance has been taken.
    pub async fn cancel_track_day(
        &self,
        grant: &Grant<can::ManageSchedule>,
        track_id: i64,
        day: NaiveDate,
        reason: &str,
    ) -> Result<i64> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(StoreError::invalid(
                "reason",
                "say why, in at most 200 characters",
            ));
        }
        self.track(track_id).await?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO track_cancellations (track_id, cancelled_on, reason) VALUES ($1, $2, $3)
             RETURNING id",
        )
        .bind(track_id)
        .bind(Day(day))
        .bind(reason)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "this track is already cancelled that day"))?;
        remove_unmarked_sessions(
            &mut tx,
            "SELECT id FROM group_sessions WHERE track_id = $1 AND local_date = $2",
            track_id,
            day,
        )
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "cancel",
                record_type: "track",
                record_id: Some(track_id),
                patient_id: None,
                detail: Day(day).to_db(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores the concrete sessions of every track at a site starting on a local date in
    /// `from..=to`, from the weekly pattern less closures and cancellations. Idempotent: a session
    /// already stored is left as it is. Returns how many were added.
    pub async fn materialise_sessions(
        &self,
        _grant: &Grant<can::ReadSchedule>,
        site_id: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u64> {
        if (to - from).num_days() > 366 {
            return Err(StoreError::invalid(
                "to",
                "materialise at most a year at a time",
            ));
        }
        let tracks = self.site_tracks(site_id).await?;
        let closures: Vec<Day> =
            sqlx::query_scalar("SELECT closed_on FROM site_closures WHERE site_id = $1")
                .bind(site_id)
                .fetch_all(&mut *self.read_conn().await?)
                .await?;
        let closures: Vec<NaiveDate> = closures.into_iter().map(|d| d.0).collect();
        let cancellations: Vec<(i64, Day)> = sqlx::query_as(
            "SELECT track_id, cancelled_on FROM track_cancellations WHERE cancelled_on >= $1
             AND cancelled_on <= $2",
        )
        .bind(Day(from))
        .bind(Day(to))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let existing: Vec<(i64, Instant)> = sqlx::query_as(
            "SELECT gs.track_id, gs.starts_at FROM group_sessions gs
             JOIN tracks t ON t.id = gs.track_id JOIN programs pr ON pr.id = t.program_id
             WHERE gs.local_date >= $1 AND gs.local_date <= $2 AND pr.site_id = $3",
        )
        .bind(Day(from))
        .bind(Day(to))
        .bind(site_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let existing: std::collections::HashSet<(i64, Instant)> = existing.into_iter().collect();
        // The sessions not stored yet: usually none, and then no write transaction is opened
        // (pages that show sessions call this on every view).
        let mut missing = Vec::new();
        for info in &tracks {
            let zone =
                SiteZone::parse(&info.timezone).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let track = Track {
                id: info.id.to_string(),
                name: info.name.clone(),
                zone,
                slots: info.slots.clone(),
                cancelled: cancellations
                    .iter()
                    .filter(|(t, _)| *t == info.id)
                    .map(|(_, d)| d.0)
                    .collect(),
            };
            let first = from.max(info.starts_on.0);
            if first > to {
                continue;
            }
            let sessions = expand_sessions(&track, first, to, &closures)
                .map_err(|e| schedule_error("from", e))?;
            for s in sessions {
                if !existing.contains(&(info.id, Instant(s.start))) {
                    let position = topic_position(info, s.local_date, &s.slot)?;
                    missing.push((info.id, s, position));
                }
            }
        }
        if missing.is_empty() {
            return Ok(0);
        }
        let mut added = 0;
        let mut tx = self.begin().await?;
        for (track_id, s, position) in missing {
            let inserted = sqlx::query(
                "INSERT INTO group_sessions (track_id, local_date, starts_at, ends_at, minutes,
                     topic_position, one_off)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (track_id, starts_at) DO NOTHING",
            )
            .bind(track_id)
            .bind(Day(s.local_date))
            .bind(Instant(s.start))
            .bind(Instant(s.end))
            .bind(i64::from(s.minutes()))
            .bind(position)
            .bind(false)
            .execute(&mut *tx)
            .await?;
            added += inserted.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Adds a one-off session of a track outside its weekly pattern (a make-up or extra group).
    pub async fn add_one_off_session(
        &self,
        grant: &Grant<can::ManageSchedule>,
        track_id: i64,
        date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
    ) -> Result<i64> {
        let info = self.track(track_id).await?;
        let zone =
            SiteZone::parse(&info.timezone).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let slot =
            WeeklySlot::new(date.weekday(), start, end).map_err(|e| schedule_error("end", e))?;
        let (starts, ends) = slot
            .instants_on(date, zone)
            .map_err(|e| schedule_error("date", e))?;
        let minutes = (ends - starts).num_minutes();
        let position = if info.topics.is_empty() {
            None
        } else {
            // The topic of the track's next regular session that day or after.
            topic_position(&info, date, &slot)?
        };
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO group_sessions (track_id, local_date, starts_at, ends_at, minutes,
                 topic_position, one_off)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(track_id)
        .bind(Day(date))
        .bind(Instant(starts))
        .bind(Instant(ends))
        .bind(minutes)
        .bind(position)
        .bind(true)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "this track already has a session at that time"))?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "group_session",
                record_id: Some(id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// One stored session.
    pub async fn group_session(&self, id: i64) -> Result<GroupSession> {
        sqlx::query_as(&format!("{SESSION_SELECT} WHERE gs.id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("session"))
    }

    /// Enrols a patient in a track from a date, within the program's group size cap. The patient
    /// must have an open episode in the track's program and not already be enrolled.
    pub async fn enrol(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        track_id: i64,
        enrolled_on: NaiveDate,
    ) -> Result<i64> {
        let info = self
            .track(track_id)
            .await
            .map_err(|_| StoreError::invalid("track_id", "choose a track"))?;
        let mut tx = self.begin().await?;
        let id = enrol_in_track(
            &mut tx,
            grant.actor(),
            grant.patient_id(),
            &info,
            enrolled_on,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The day sheet of a site: its group sessions on a local date (materialised if needed), each
    /// with the patients enrolled that day and what has been marked. Two queries for the rosters,
    /// whatever the number of sessions.
    pub async fn day_sheet(
        &self,
        grant: &Grant<can::ReadSchedule>,
        site_id: i64,
        date: NaiveDate,
    ) -> Result<Vec<SheetSession>> {
        self.materialise_sessions(grant, site_id, date, date)
            .await?;
        let sessions: Vec<GroupSession> = sqlx::query_as(&format!(
            "{SESSION_SELECT} JOIN programs pr ON pr.id = t.program_id
             WHERE pr.site_id = $1 AND gs.local_date = $2 ORDER BY gs.starts_at, t.name, gs.id"
        ))
        .bind(site_id)
        .bind(Day(date))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let user_id = grant.actor().staff_id()?;
        let roster_sql = format!(
            "SELECT gs.id, p.id, {PATIENT_NAME}, a.status, a.minutes_attended
             FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id
             JOIN programs pr ON pr.id = t.program_id
             JOIN track_enrolments te ON te.track_id = gs.track_id AND te.enrolled_on <= gs.local_date
                 AND (te.ended_on IS NULL OR te.ended_on >= gs.local_date)
             JOIN patients p ON p.id = te.patient_id
             LEFT JOIN attendance a ON a.session_id = gs.id AND a.patient_id = p.id
             WHERE pr.site_id = $1 AND gs.local_date = $2 AND {}",
            patient_scope_sql(grant.actor().role, "$3")
        );
        let mut rows: Vec<RosterRow> = sqlx::query_as(&roster_sql)
            .bind(site_id)
            .bind(Day(date))
            .bind(user_id)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        // Rosters are sorted by name once the names are decrypted: a day's rosters are small.
        let names = self
            .listed_names(&mut *self.read_conn().await?, rows.iter().map(|r| r.1))
            .await?;
        rows.sort_by_cached_key(|r| names.order(r.1));
        for row in &mut rows {
            row.2 = names.display(row.1);
        }
        let mut rosters: HashMap<i64, Vec<SheetLine>> = HashMap::new();
        let shown: Vec<i64> = rows.iter().map(|r| r.1).collect();
        for (session_id, patient_id, patient_name, status, minutes) in rows {
            let status = status
                .map(|s| parse_code::<AttendanceStatus>(&s, "attendance status"))
                .transpose()?;
            rosters.entry(session_id).or_default().push(SheetLine {
                patient_id,
                patient_name,
                status,
                minutes_attended: minutes,
            });
        }
        audit::record_shown(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "day_sheet",
                record_id: Some(site_id),
                patient_id: None,
                detail: Day(date).to_db(),
            },
            &shown,
        )
        .await?;
        Ok(sessions
            .into_iter()
            .map(|s| SheetSession {
                roster: rosters.remove(&s.id).unwrap_or_default(),
                session: s,
            })
            .collect())
    }

    /// Marks a patient's attendance at a group session (replacing an earlier mark). Minutes
    /// default to the session length for a patient present throughout. A mark that completes a
    /// run of unexcused absences opens one outreach task for the primary counselor per run.
    pub async fn record_attendance(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        session_id: i64,
        status: AttendanceStatus,
        minutes: Option<i64>,
    ) -> Result<AttendanceOutcome> {
        let session = self.group_session(session_id).await?;
        let session_minutes = u32::try_from(session.minutes).unwrap_or(0);
        let mark = Attendance::record(status, session_minutes, minutes)
            .map_err(|e| schedule_error("minutes_attended", e))?;
        let patient_id = grant.patient_id();
        let enrolled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM track_enrolments WHERE track_id = $1 AND patient_id = $2
             AND enrolled_on <= $3 AND (ended_on IS NULL OR ended_on >= $3)",
        )
        .bind(session.track_id)
        .bind(patient_id)
        .bind(session.local_date)
        .fetch_one(&mut *self.read_conn().await?)
        .await?;
        if enrolled == 0 {
            return Err(StoreError::invalid(
                "patient_id",
                "the patient is not enrolled in this group on that day",
            ));
        }
        // Where the attended minutes sit in time: a late arrival's at the end of the session.
        let service_start = if status == AttendanceStatus::Late {
            session.ends_at.0 - TimeDelta::minutes(i64::from(mark.minutes_attended()))
        } else {
            session.starts_at.0
        };
        let actor = grant.actor();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO attendance (session_id, patient_id, status, minutes_attended,
                 session_minutes, service_type, service_start, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (session_id, patient_id) DO UPDATE SET status = excluded.status,
                 minutes_attended = excluded.minutes_attended, service_start = excluded.service_start,
                 recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by",
        )
        .bind(session_id)
        .bind(patient_id)
        .bind(status.code())
        .bind(i64::from(mark.minutes_attended()))
        .bind(session.minutes)
        .bind(ServiceType::Group.code())
        .bind(Instant(service_start))
        .bind(Instant::now())
        .bind(actor.staff_id()?)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "record_attendance",
                record_type: "group_session",
                record_id: Some(session_id),
                patient_id: Some(patient_id),
                detail: status.code().to_owned(),
            },
        )
        .await?;
        let outreach_task_id = open_outreach_if_needed(self, &mut tx, actor, patient_id).await?;
        tx.commit().await?;
        Ok(AttendanceOutcome { outreach_task_id })
    }

    /// The chart's schedule tab: enrolments, attendance, weekly hours against the program's range
    /// for `weeks` weeks up to `today`, per-diem days and, with a clinical grant for the same
    /// patient, curriculum coverage.
    pub async fn patient_schedule(
        &self,
        grant: &PatientGrant<can::ReadSchedule>,
        clinical: Option<&PatientGrant<can::ReadClinical>>,
        today: NaiveDate,
        weeks: u32,
    ) -> Result<PatientSchedule> {
        let patient_id = grant.patient_id();
        let enrolments: Vec<Enrolment> = sqlx::query_as(
            "SELECT te.id, te.track_id, t.name AS track_name, pr.name AS program_name,
                 te.enrolled_on, te.ended_on
             FROM track_enrolments te JOIN tracks t ON t.id = te.track_id
             JOIN programs pr ON pr.id = t.program_id
             WHERE te.patient_id = $1 ORDER BY te.enrolled_on DESC, te.id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let attendance: Vec<AttendanceMark> = sqlx::query_as(
            "SELECT a.session_id, t.name AS track_name, gs.starts_at, a.status, a.minutes_attended,
                 a.session_minutes
             FROM attendance a JOIN group_sessions gs ON gs.id = a.session_id
             JOIN tracks t ON t.id = gs.track_id
             WHERE a.patient_id = $1 ORDER BY gs.starts_at DESC, gs.id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let setting = self.hours_setting(patient_id).await?;
        let policy = setting.policy_on(today)?;
        let first_week = week_start(today)
            .ok()
            .and_then(|m| m.checked_sub_days(Days::new(7 * u64::from(weeks.saturating_sub(1)))))
            .ok_or_else(|| StoreError::invalid("weeks", "out of range"))?;
        let mut records: Vec<ServiceRecord> = attendance
            .iter()
            .filter(|a| a.minutes_attended > 0)
            .map(|a| ServiceRecord {
                start: a.starts_at.0,
                minutes: u32::try_from(a.minutes_attended).unwrap_or(0),
                service: ServiceType::Group,
            })
            .collect();
        // Attended appointments count too: weekly hours are every service type's minutes.
        records.extend(
            crate::appointments::appointment_service_records(
                self,
                patient_id,
                // Every appointment, like the attendance list above: the weeks shown filter later.
                Instant(chrono::DateTime::UNIX_EPOCH),
                Instant(Utc::now() + TimeDelta::days(366)),
            )
            .await?
            .into_iter()
            .map(|(_, r)| r),
        );
        let (hours, weeks) = judge_weeks(&records, &setting, today, weeks)?;
        let mut days = hours.per_diem_days(&policy.unwrap_or(NO_HOURS));
        days.retain(|d| d.date >= first_week);
        days.reverse();
        let coverage = match clinical.filter(|c| c.patient_id() == patient_id) {
            Some(_) => Some(self.coverage(patient_id, &enrolments).await?),
            None => None,
        };
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "patient_schedule",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        Ok(PatientSchedule {
            enrolments,
            attendance,
            policy,
            weeks,
            days,
            coverage,
        })
    }

    /// What the hours rules need about a patient: the site's time zone, the open episode's
    /// levels of care over time (none without an open episode) and the day care began (none:
    /// `MAX`). Two queries: the episode, then its level history.
    pub(crate) async fn hours_setting(&self, patient_id: i64) -> Result<HoursSetting> {
        let program: Option<(i64, String, f64, String, String, Day)> = sqlx::query_as(
            "SELECT e.id, s.timezone, pr.weekly_minimum_hours, pr.level_of_care, e.current_level,
                 e.admitted_on
             FROM episodes e JOIN programs pr ON pr.id = e.program_id JOIN sites s ON s.id = e.site_id
             WHERE e.patient_id = $1 AND e.status = 'open'",
        )
        .bind(patient_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let Some((episode_id, zone_name, hours, level, current, admitted_on)) = program else {
            let zone_name = self.site_timezone_of_patient(patient_id).await?;
            // Without an open episode no week is in care, so none is judged.
            return Ok(HoursSetting {
                zone: parse_zone(&zone_name)?,
                levels: None,
                in_care_since: NaiveDate::MAX,
            });
        };
        let changes: Vec<(Day, String)> = sqlx::query_as(
            "SELECT effective_on, level FROM level_of_care_changes WHERE episode_id = $1
             ORDER BY effective_on, id",
        )
        .bind(episode_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        Ok(HoursSetting {
            zone: parse_zone(&zone_name)?,
            levels: Some(LevelHistory::new(
                hours,
                level,
                changes.into_iter().map(|(d, l)| (d.0, l)).collect(),
                (admitted_on.0, current),
            )),
            in_care_since: admitted_on.0,
        })
    }

    async fn site_timezone_of_patient(&self, patient_id: i64) -> Result<String> {
        Ok(sqlx::query_scalar(
            "SELECT s.timezone FROM patients p JOIN sites s ON s.id = p.site_id WHERE p.id = $1",
        )
        .bind(patient_id)
        .fetch_one(&mut *self.read_conn().await?)
        .await?)
    }

    /// Curriculum coverage for each current enrolment with a curriculum.
    async fn coverage(&self, patient_id: i64, enrolments: &[Enrolment]) -> Result<Vec<Coverage>> {
        let attended: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT DISTINCT gs.track_id, gs.topic_position FROM attendance a
             JOIN group_sessions gs ON gs.id = a.session_id
             WHERE a.patient_id = $1 AND a.minutes_attended > 0 AND gs.topic_position IS NOT NULL",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let now = Instant::now();
        let mut out = Vec::new();
        for e in enrolments.iter().filter(|e| e.ended_on.is_none()) {
            let info = self.track(e.track_id).await?;
            if info.topics.is_empty() {
                continue;
            }
            let topics: Vec<Topic> = info
                .topics
                .iter()
                .map(|t| Topic {
                    id: t.position.to_string(),
                    title: t.title.clone(),
                    required: true,
                })
                .collect();
            let curriculum =
                Curriculum::new(topics).map_err(|err| StoreError::Corrupt(err.to_string()))?;
            let done: Vec<String> = attended
                .iter()
                .filter(|(t, _)| *t == e.track_id)
                .map(|(_, p)| p.to_string())
                .collect();
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT topic_position FROM group_sessions WHERE track_id = $1 AND starts_at >= $2
                 AND topic_position IS NOT NULL ORDER BY starts_at LIMIT 1",
            )
            .bind(e.track_id)
            .bind(now)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?;
            let progress =
                curriculum.progress(&done, u64::try_from(next.unwrap_or(0)).unwrap_or(0));
            let title = |id: &str| {
                info.topics
                    .iter()
                    .find(|t| t.position.to_string() == id)
                    .map(|t| t.title.clone())
                    .unwrap_or_default()
            };
            out.push(Coverage {
                track_name: e.track_name.clone(),
                attended: info
                    .topics
                    .iter()
                    .filter(|t| done.contains(&t.position.to_string()))
                    .map(|t| t.title.clone())
                    .collect(),
                missing: progress.missing.iter().map(|id| title(id)).collect(),
                sessions_to_complete: progress.sessions_to_complete,
            });
        }
        Ok(out)
    }

    /// Patients with an open episode at a site whose service hours in the week starting on Monday
    /// `week` are under their program's minimum or at or over the level's ceiling. Three queries
    /// for any number of patients: the caseload, then their attended minutes that week.
    pub async fn hours_alerts(
        &self,
        grant: &Grant<can::ReadSchedule>,
        site_id: i64,
        week: NaiveDate,
    ) -> Result<Vec<HoursAlert>> {
        let week = week_start(week).map_err(|e| schedule_error("week", e))?;
        // An unknown site is not found rather than an empty list.
        self.site(site_id).await?;
        let alerts = self
            .judge_caseload_hours(grant, Some(site_id), week, true)
            .await?;
        audit_hours_alerts(self, grant, Some(site_id), week, &alerts).await?;
        Ok(alerts)
    }

    /// [`Store::hours_alerts`] for every site at once (the clinical director's dashboard): the
    /// same judgement in the same three queries, however many sites, rather than one round per
    /// site each reading the whole network's week.
    pub async fn network_hours_alerts(
        &self,
        grant: &Grant<can::ReadSchedule>,
        week: NaiveDate,
    ) -> Result<Vec<HoursAlert>> {
        let week = week_start(week).map_err(|e| schedule_error("week", e))?;
        let alerts = self.judge_caseload_hours(grant, None, week, true).await?;
        audit_hours_alerts(self, grant, None, week, &alerts).await?;
        Ok(alerts)
    }

    /// How many patients with an open episode at any site in view were under their program's
    /// minimum in the week starting on Monday `week`: the director's dashboard count. Nobody is
    /// named, so no name is decrypted; the audit row records the count read.
    pub async fn network_hours_under_minimum(
        &self,
        grant: &Grant<can::ReadSchedule>,
        week: NaiveDate,
    ) -> Result<usize> {
        let week = week_start(week).map_err(|e| schedule_error("week", e))?;
        let alerts = self.judge_caseload_hours(grant, None, week, false).await?;
        let under = alerts
            .iter()
            .filter(|a| a.status == HoursStatus::UnderMinimum)
            .count();
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "search",
                record_type: "hours_alerts",
                record_id: None,
                patient_id: None,
                detail: format!("{} under the minimum, week of {}", under, Day(week).to_db()),
            },
        )
        .await?;
        Ok(under)
    }

    /// The weekly-hours judgement of the open episodes at one site (or all) in view, for the week
    /// starting on Monday `week`. Only the caseload's own attendance and appointments are read
    /// (by patient, through their indexes), never the whole network's week. Names are left
    /// empty unless `named`.
    async fn judge_caseload_hours(
        &self,
        grant: &Grant<can::ReadSchedule>,
        site_id: Option<i64>,
        week: NaiveDate,
        named: bool,
    ) -> Result<Vec<HoursAlert>> {
        let user_id = grant.actor().staff_id()?;
        let week_end = week
            .checked_add_days(Days::new(7))
            .ok_or(StoreError::invalid("week", "out of range"))?;
        let caseload = OpenCaseload {
            admitted_by: Day(week_end),
            site_id,
        };
        let sql = format!(
            "SELECT p.id, {PATIENT_NAME}, pr.name, pr.weekly_minimum_hours, pr.level_of_care,
                 e.current_level, e.admitted_on, s.timezone, e.id
             FROM episodes e JOIN patients p ON p.id = e.patient_id
             JOIN programs pr ON pr.id = e.program_id JOIN sites s ON s.id = e.site_id
             WHERE {} AND {}",
            patient_scope_sql(grant.actor().role, "$1"),
            caseload.filter(2)
        );
        type CaseloadRow = (i64, String, String, f64, String, String, Day, String, i64);
        let patients: Vec<CaseloadRow> = caseload
            .bind(sqlx::query_as(&sql).bind(user_id))
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        let mut zones: HashMap<String, SiteZone> = HashMap::new();
        for (.., timezone, _) in &patients {
            zones.insert(timezone.clone(), parse_zone(timezone)?);
        }
        // The week in every zone concerned, a day earlier too, so services crossing local
        // midnight are counted; the domain then assigns every minute to its local day.
        let mut window: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        for zone in zones.values() {
            let from = zone
                .resolve(week.and_time(NaiveTime::MIN))
                .map_err(|e| schedule_error("week", e))?
                - TimeDelta::days(1);
            let to = zone
                .resolve(week_end.and_time(NaiveTime::MIN))
                .map_err(|e| schedule_error("week", e))?;
            window = Some(match window {
                Some((f, t)) => (f.min(from), t.max(to)),
                None => (from, to),
            });
        }
        let Some((from, to)) = window else {
            return Ok(Vec::new());
        };
        let minutes: Vec<(i64, Instant, i64, String)> = caseload
            .bind(
                sqlx::query_as(&format!(
                    "SELECT a.patient_id, a.service_start, a.minutes_attended, a.service_type
                     FROM attendance a
                     WHERE a.service_start >= $1 AND a.service_start < $2
                       AND a.minutes_attended > 0
                       AND a.patient_id IN (SELECT e.patient_id FROM episodes e WHERE {})",
                    caseload.filter(3)
                ))
                .bind(Instant(from))
                .bind(Instant(to)),
            )
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        let mut by_patient: BTreeMap<i64, Vec<ServiceRecord>> = BTreeMap::new();
        for (patient_id, start, minutes, service) in minutes {
            by_patient
                .entry(patient_id)
                .or_default()
                .push(ServiceRecord {
                    start: start.0,
                    minutes: u32::try_from(minutes).unwrap_or(0),
                    service: parse_code(&service, "service type")?,
                });
        }
        for (patient_id, record) in crate::appointments::caseload_appointment_records(
            self,
            &caseload,
            Instant(from),
            Instant(to),
        )
        .await?
        {
            by_patient.entry(patient_id).or_default().push(record);
        }
        // Every episode's level history in one query: each week is judged by the level in
        // force that week.
        let changes: Vec<(i64, Day, String)> = caseload
            .bind(sqlx::query_as(&format!(
                "SELECT c.episode_id, c.effective_on, c.level FROM level_of_care_changes c
                 WHERE c.episode_id IN (SELECT e.id FROM episodes e WHERE {})
                 ORDER BY c.episode_id, c.effective_on, c.id",
                caseload.filter(1)
            )))
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        let mut changes_by_episode: HashMap<i64, Vec<(NaiveDate, String)>> = HashMap::new();
        for (episode_id, effective_on, level) in changes {
            changes_by_episode
                .entry(episode_id)
                .or_default()
                .push((effective_on.0, level));
        }
        let mut alerts = Vec::new();
        for (
            patient_id,
            patient_name,
            program_name,
            hours,
            level,
            current,
            admitted_on,
            timezone,
            episode_id,
        ) in patients
        {
            let records = by_patient.remove(&patient_id).unwrap_or_default();
            let setting = HoursSetting {
                zone: zones[&timezone],
                levels: Some(LevelHistory::new(
                    hours,
                    level,
                    changes_by_episode.remove(&episode_id).unwrap_or_default(),
                    (admitted_on.0, current),
                )),
                in_care_since: admitted_on.0,
            };
            // The Schedule tab's rule: a week that began before admission is not judged (a part
            // week always looks short). Judged as if it had ended, so this week shows "so far".
            let (_, judged) = judge_weeks(&records, &setting, week_end, 2)?;
            let Some(CareWeek {
                minutes,
                standing: WeekStanding::Judged(status),
                policy: Some(policy),
                ..
            }) = judged.first().copied()
            else {
                continue;
            };
            if status != HoursStatus::Within {
                alerts.push(HoursAlert {
                    patient_id,
                    patient_name,
                    program_name,
                    minutes,
                    minimum_minutes: policy.weekly_minimum_minutes,
                    status,
                });
            }
        }
        if !named {
            return Ok(alerts);
        }
        // Only the patients listed are named (a network's caseload is thousands, its alerts
        // hundreds), sorted by name after decrypting.
        let names = self
            .listed_names(
                &mut *self.read_conn().await?,
                alerts.iter().map(|a| a.patient_id),
            )
            .await?;
        alerts.sort_by_cached_key(|a| names.order(a.patient_id));
        for alert in &mut alerts {
            alert.patient_name = names.display(alert.patient_id);
        }
        Ok(alerts)
    }
}

/// The open episodes a weekly-hours list covers: admitted by a day, at one site or every site.
pub(crate) struct OpenCaseload {
    /// Admitted on or before this day.
    pub(crate) admitted_by: Day,
    /// One site, or every site.
    pub(crate) site_id: Option<i64>,
}

impl OpenCaseload {
    /// The condition on `episodes e`, its parameters numbered from `$first`.
    pub(crate) fn filter(&self, first: usize) -> String {
        let mut sql = format!("e.status = 'open' AND e.admitted_on <= ${first}");
        if self.site_id.is_some() {
            sql.push_str(&format!(" AND e.site_id = ${}", first + 1));
        }
        sql
    }

    /// Binds the condition's parameters, after the query's own.
    pub(crate) fn bind<'q, O>(
        &self,
        query: QueryAs<'q, Any, O, AnyArguments<'q>>,
    ) -> QueryAs<'q, Any, O, AnyArguments<'q>> {
        let query = query.bind(self.admitted_by);
        match self.site_id {
            Some(id) => query.bind(id),
            None => query,
        }
    }
}

/// One audit row for a weekly-hours list, naming every patient it shows.
async fn audit_hours_alerts(
    store: &Store,
    grant: &Grant<can::ReadSchedule>,
    site_id: Option<i64>,
    week: NaiveDate,
    alerts: &[HoursAlert],
) -> Result<()> {
    let shown: Vec<i64> = alerts.iter().map(|r| r.patient_id).collect();
    audit::record_shown(
        store,
        grant.actor(),
        AuditEvent {
            action: "read",
            record_type: "hours_alerts",
            record_id: site_id,
            patient_id: None,
            detail: Day(week).to_db(),
        },
        &shown,
    )
    .await
}

/// A range for weeks at a level where ASAM sets no weekly hours (residential, OTP): nothing is
/// under or over it.
const NO_HOURS: HoursPolicy = HoursPolicy {
    weekly_minimum_minutes: 0,
    weekly_ceiling_minutes: None,
    per_diem_minimum_minutes: HoursPolicy::PER_DIEM_MINIMUM_MINUTES,
};

fn parse_zone(name: &str) -> Result<SiteZone> {
    SiteZone::parse(name).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What the hours rules need about a patient (`Store::hours_setting`).
pub(crate) struct HoursSetting {
    /// The site's time zone.
    pub(crate) zone: SiteZone,
    /// The open episode's levels of care over time; none without an open episode.
    pub(crate) levels: Option<LevelHistory>,
    /// The day care began (`MAX` without an open episode).
    pub(crate) in_care_since: NaiveDate,
}

impl HoursSetting {
    /// The weekly range in force on `day` (what pages show as the minimum); none without an
    /// open episode or at a level without weekly hours.
    pub(crate) fn policy_on(&self, day: NaiveDate) -> Result<Option<HoursPolicy>> {
        let Some(levels) = &self.levels else {
            return Ok(None);
        };
        match levels.changes.iter().rev().find(|(from, _)| *from <= day) {
            Some((_, level)) => {
                program_policy(levels.weekly_minimum_hours, &levels.program_level, level)
            }
            None => Ok(None),
        }
    }
}

/// An open episode's levels of care over time, with its program's setting.
pub(crate) struct LevelHistory {
    weekly_minimum_hours: f64,
    program_level: String,
    /// (effective day, level code), oldest first.
    changes: Vec<(NaiveDate, String)>,
}

impl LevelHistory {
    /// From the episode's recorded changes (oldest first), or, should none be recorded, its
    /// `current` level from admission.
    pub(crate) fn new(
        weekly_minimum_hours: f64,
        program_level: String,
        changes: Vec<(NaiveDate, String)>,
        current: (NaiveDate, String),
    ) -> Self {
        LevelHistory {
            weekly_minimum_hours,
            program_level,
            changes: if changes.is_empty() {
                vec![current]
            } else {
                changes
            },
        }
    }

    /// The weekly range of each level from the day it took effect.
    fn policies(&self) -> Result<PolicyHistory> {
        Ok(PolicyHistory::new(
            self.changes
                .iter()
                .map(|(from, level)| {
                    Ok((
                        *from,
                        program_policy(self.weekly_minimum_hours, &self.program_level, level)?
                            .unwrap_or(NO_HOURS),
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        ))
    }
}

/// The one judgement of weekly hours every page shows (the Schedule tab, the chart overview,
/// the hours alerts): `weeks` weeks up to `today` by the domain's `care_weeks`, each week
/// against the level of care in force that week.
pub(crate) fn judge_weeks(
    records: &[ServiceRecord],
    setting: &HoursSetting,
    today: NaiveDate,
    weeks: u32,
) -> Result<(ServiceHours, Vec<CareWeek>)> {
    let hours =
        service_hours(records, setting.zone).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let policies = match &setting.levels {
        Some(levels) => levels.policies()?,
        None => PolicyHistory::default(),
    };
    let weeks = care_weeks(&hours, &policies, setting.in_care_since, today, weeks)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok((hours, weeks))
}

/// The weekly range a patient is held to: the program's minimum with the ceiling of its level
/// of care (IOP: below 20 h) while they are at the program's level; once stepped to another
/// level, that level's own ASAM range (Level 1: under 9 h, no minimum), or none where ASAM sets
/// no hours.
fn program_policy(
    weekly_minimum_hours: f64,
    level: &str,
    current_level: &str,
) -> Result<Option<HoursPolicy>> {
    let level: LevelOfCare = parse_code(level, "level of care")?;
    let current: LevelOfCare = parse_code(current_level, "level of care")?;
    if current != level {
        return Ok(HoursPolicy::for_level(
            current,
            trellis_domain::schedule::hours::Population::Adult,
        ));
    }
    let ceiling = HoursPolicy::for_level(level, trellis_domain::schedule::hours::Population::Adult)
        .and_then(|p| p.weekly_ceiling_minutes);
    // Hours are held to two decimals at most in practice; rounding keeps 9.0 at exactly 540.
    let minimum = (weekly_minimum_hours * 60.0).round();
    let minimum = if minimum.is_finite() && minimum >= 0.0 && minimum <= f64::from(u32::MAX) {
        minimum as u32
    } else {
        return Err(StoreError::Corrupt("weekly minimum hours".into()));
    };
    let ceiling = ceiling.filter(|c| *c > minimum);
    HoursPolicy::new(minimum, ceiling, HoursPolicy::PER_DIEM_MINIMUM_MINUTES)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The curriculum position a session teaches: sessions count from the track's first week in slot
/// order, so the same date always gets the same topic however often it is materialised.
fn topic_position(info: &TrackInfo, date: NaiveDate, slot: &WeeklySlot) -> Result<Option<i64>> {
    if info.topics.is_empty() || info.slots.is_empty() {
        return Ok(None);
    }
    let first_monday =
        week_start(info.starts_on.0).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let monday = week_start(date).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let weeks = (monday - first_monday).num_days().max(0) / 7;
    let per_week = i64::try_from(info.slots.len()).unwrap_or(1);
    // One-off sessions take the topic of the first regular slot at or after their start.
    let index = info
        .slots
        .iter()
        .position(|s| {
            (s.weekday.num_days_from_monday(), s.start)
                >= (slot.weekday.num_days_from_monday(), slot.start)
        })
        .unwrap_or(0);
    let ordinal = weeks * per_week + i64::try_from(index).unwrap_or(0);
    let count = i64::try_from(info.topics.len()).unwrap_or(1);
    Ok(Some(ordinal.rem_euclid(count)))
}

/// Deletes a day's sessions that hold no attendance (a closure or cancellation), refusing if any
/// session that day already has marks: those are a record of care.
async fn remove_unmarked_sessions(
    tx: &mut Transaction<'static, Any>,
    select_sessions: &str,
    key: i64,
    day: NaiveDate,
) -> Result<()> {
    let ids: Vec<i64> = sqlx::query_scalar(select_sessions)
        .bind(key)
        .bind(Day(day))
        .fetch_all(&mut **tx)
        .await?;
    for id in ids {
        let marks: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM attendance WHERE session_id = $1")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        if marks > 0 {
            return Err(StoreError::Conflict(
                "attendance has already been taken that day; those sessions stay on record".into(),
            ));
        }
        sqlx::query("DELETE FROM group_sessions WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Enrols a patient in a track inside the caller's transaction (shared by enrolment from the
/// schedule and by a phase change that moves the patient to another track).
pub(crate) async fn enrol_in_track(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    patient_id: i64,
    info: &TrackInfo,
    enrolled_on: NaiveDate,
) -> Result<i64> {
    let track_id = info.id;
    let episode: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM episodes WHERE patient_id = $1 AND program_id = $2 AND status = 'open'",
    )
    .bind(patient_id)
    .bind(info.program_id)
    .fetch_optional(&mut **tx)
    .await?;
    if episode.is_none() {
        return Err(StoreError::invalid(
            "track_id",
            "the patient has no open episode in this track's program",
        ));
    }
    let already: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM track_enrolments WHERE track_id = $1 AND patient_id = $2
         AND ended_on IS NULL",
    )
    .bind(track_id)
    .bind(patient_id)
    .fetch_one(&mut **tx)
    .await?;
    if already > 0 {
        return Err(StoreError::Conflict(
            "the patient is already in this track".into(),
        ));
    }
    // Counted inside the write transaction, so two enrolments cannot both take the last seat.
    let enrolled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM track_enrolments WHERE track_id = $1 AND ended_on IS NULL",
    )
    .bind(track_id)
    .fetch_one(&mut **tx)
    .await?;
    if enrolled >= info.max_group_size {
        return Err(StoreError::Conflict(format!(
            "the {} track is full ({} of {})",
            info.name, enrolled, info.max_group_size
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO track_enrolments (track_id, patient_id, enrolled_on, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(track_id)
    .bind(patient_id)
    .bind(Day(enrolled_on))
    .bind(Instant::now())
    .bind(actor.staff_id()?)
    .fetch_one(&mut **tx)
    .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: "enrol",
            record_type: "track_enrolment",
            record_id: Some(id),
            patient_id: Some(patient_id),
            detail: format!("track {track_id}"),
        },
    )
    .await?;
    Ok(id)
}

/// Opens an outreach task for the primary counselor when the patient's latest marks make a run of
/// unexcused absences, once per run (the run is known by its first absence).
async fn open_outreach_if_needed(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    patient_id: i64,
) -> Result<Option<i64>> {
    let marks: Vec<(i64, String)> = sqlx::query_as(
        "SELECT a.session_id, a.status FROM attendance a JOIN group_sessions gs ON gs.id = a.session_id
         WHERE a.patient_id = $1 ORDER BY gs.starts_at",
    )
    .bind(patient_id)
    .fetch_all(&mut **tx)
    .await?;
    let marks: Vec<SessionMark> = marks
        .into_iter()
        .map(|(id, status)| {
            Ok(SessionMark {
                session_id: id.to_string(),
                status: parse_code(&status, "attendance status")?,
            })
        })
        .collect::<Result<_>>()?;
    // The program's setting (by default two unexcused absences in a row, excused ones neutral).
    let rule = crate::phases::outreach_rule_for_patient(tx, patient_id).await?;
    let Some(needed) = outreach_needed(&marks, &rule) else {
        return Ok(None);
    };
    if !needed.ongoing {
        return Ok(None);
    }
    let Some(first) = needed
        .session_ids
        .first()
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    let claimed = sqlx::query(
        "INSERT INTO outreach_runs (patient_id, first_session_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (patient_id, first_session_id) DO NOTHING",
    )
    .bind(patient_id)
    .bind(first)
    .bind(Instant::now())
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(None);
    }
    let counselor: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT primary_counselor_id FROM episodes WHERE patient_id = $1 AND status = 'open'",
    )
    .bind(patient_id)
    .fetch_optional(&mut **tx)
    .await?;
    let counselor = counselor.flatten();
    let today = crate::tasks::patient_today(tx, patient_id).await?;
    let title = format!("Reach out: {}", needed.reason);
    let task_id = open_task(
        store,
        tx,
        actor,
        &NewTask {
            patient_id: Some(patient_id),
            flag_id: None,
            kind: "outreach",
            title: &title,
            priority: "high",
            assigned_to: counselor,
            assigned_role: counselor
                .is_none()
                .then_some(trellis_domain::access::Role::ClinicalDirector),
            due_on: Some(today),
        },
    )
    .await?;
    sqlx::query(
        "UPDATE outreach_runs SET task_id = $1 WHERE patient_id = $2 AND first_session_id = $3",
    )
    .bind(task_id)
    .bind(patient_id)
    .bind(first)
    .execute(&mut **tx)
    .await?;
    Ok(Some(task_id))
}
