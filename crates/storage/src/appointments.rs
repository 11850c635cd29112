//! Appointments without conflicts, the patient's weekly availability, the clinician's day, and
//! calendar feed tokens with what a feed shows.
//!
//! Booking runs `trellis_domain::schedule::conflicts::find_conflicts` against the patient's track
//! sessions and other appointments, their declared availability, the clinician's appointments and
//! the groups they facilitate, and the room's other uses. Double-bookings refuse the booking unless
//! staff give a reason to override (kept on the appointment and in the audit log); availability
//! clashes only warn. Attended minutes count toward weekly service hours as the kind's service.

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};
use trellis_domain::access::{permits, Permission, Role};
use trellis_domain::schedule::appointments::{refuses_booking, AppointmentKind};
use trellis_domain::schedule::attendance::{Attendance, AttendanceStatus};
use trellis_domain::schedule::conflicts::{
    find_conflicts, Commitment, Conflict, Existing, PatientAvailability, ProposedAppointment,
    Room as ConflictRoom, RoomBooking, TimeRange,
};
use trellis_domain::schedule::hours::ServiceRecord;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_domain::schedule::zone::SiteZone;

use crate::access::{can, patient_scope_sql, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::schedule::OpenCaseload;
use crate::staff::{random_secret, secret_hash};
use crate::{parse_code, Day, Flag, Instant, Result, Store, StoreError};

/// An appointment someone asks to book, in the site's local time.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    /// What it is for.
    pub kind: AppointmentKind,
    /// The clinician who sees the patient.
    pub clinician_id: i64,
    /// The room, or none for telehealth.
    pub room_id: Option<i64>,
    /// Held by telehealth.
    pub telehealth: bool,
    /// Local date.
    pub date: NaiveDate,
    /// Local start time.
    pub start: NaiveTime,
    /// Planned length in minutes as the local clock reads it (end time less start time); across
    /// a DST change the stored length is the real time between the two.
    pub minutes: i64,
    /// People in the room; none means two (four for a family session).
    pub occupants: Option<i64>,
    /// Why it is booked despite a double-booking; required only then.
    pub override_reason: Option<String>,
}

/// What a booking attempt came to.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BookingOutcome {
    /// Booked; the warnings are the conflicts staff accepted or overrode.
    Booked {
        /// The new appointment.
        id: i64,
        /// Conflicts found (availability warnings, or double-bookings overridden).
        warnings: Vec<Conflict>,
    },
    /// Not booked: a double-booking needs an override reason.
    Refused {
        /// Every conflict found, double-bookings first to fix.
        conflicts: Vec<Conflict>,
    },
}

/// An appointment as listed.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Appointment {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Name to address the patient by.
    pub patient_name: String,
    /// Site.
    pub site_id: i64,
    /// Kind code.
    pub kind: String,
    /// Clinician.
    pub clinician_id: i64,
    /// Clinician's name.
    pub clinician_name: String,
    /// Room.
    pub room_id: Option<i64>,
    /// Room name.
    pub room_name: Option<String>,
    /// Telehealth.
    #[sqlx(try_from = "Flag")]
    pub telehealth: bool,
    /// Local date.
    pub local_date: Day,
    /// Start.
    pub starts_at: Instant,
    /// End.
    pub ends_at: Instant,
    /// Planned minutes.
    pub minutes: i64,
    /// booked or cancelled.
    pub status: String,
    /// Why it was booked despite a double-booking.
    pub override_reason: Option<String>,
    /// Attendance status code, once marked.
    pub attendance_status: Option<String>,
    /// Minutes attended, once marked.
    pub minutes_attended: Option<i64>,
    /// When it last changed (booked, cancelled or attendance marked): its version for
    /// `If-Match`. An appointment is either cancelled or has attendance, never both, and a
    /// new mark replaces the last, so this is always the latest change.
    pub last_changed: Instant,
}

/// SQL: an appointment's last-changed instant (see [`Appointment::last_changed`]).
const APPOINTMENT_VERSION: &str = "COALESCE(attendance_recorded_at, cancelled_at, created_at)";

impl Appointment {
    /// The kind, parsed.
    pub fn kind(&self) -> Result<AppointmentKind> {
        parse_code(&self.kind, "appointment kind")
    }
}

/// One weekly window of a patient's availability or obligations.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AvailabilityWindow {
    /// Id.
    pub id: i64,
    /// available, work or school.
    pub label: String,
    /// The slot, in the site's local time.
    pub slot: WeeklySlot,
}

/// The labels a window may carry: when the patient can come, or what keeps them busy.
pub const AVAILABILITY_LABELS: [(&str, &str); 3] = [
    ("work", "Work"),
    ("school", "School"),
    ("available", "Can attend"),
];

/// A group session a clinician facilitates, for their day.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct FacilitatedSession {
    /// Session.
    pub id: i64,
    /// Track name.
    pub track_name: String,
    /// Start.
    pub starts_at: Instant,
    /// End.
    pub ends_at: Instant,
    /// Room name.
    pub room_name: Option<String>,
    /// Telehealth.
    #[sqlx(try_from = "Flag")]
    pub telehealth: bool,
}

/// A clinician's day: their appointments and the groups they facilitate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClinicianDay {
    /// Appointments (booked and cancelled), by start.
    pub appointments: Vec<Appointment>,
    /// Group sessions, by start.
    pub sessions: Vec<FacilitatedSession>,
}

/// A calendar feed as listed (never the secret).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct CalendarFeed {
    /// Id.
    pub id: i64,
    /// Clinician whose calendar it is.
    pub clinician_id: Option<i64>,
    /// Patient whose calendar it is.
    pub patient_id: Option<i64>,
    /// Created.
    pub created_at: Instant,
    /// Revoked.
    pub revoked_at: Option<Instant>,
    /// Last fetched.
    pub last_fetched_at: Option<Instant>,
}

/// A calendar feed just created: its id and the secret token, which is shown this once.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedFeed {
    /// Id.
    pub id: i64,
    /// The secret token (`cal_…`); only its hash is stored.
    pub secret: String,
}

/// One event of a calendar feed, already worded for the phone it may end up on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedEvent {
    /// Stable unique id ("appointment-12", "session-40").
    pub uid: String,
    /// Start.
    pub starts_at: Instant,
    /// End.
    pub ends_at: Instant,
    /// Summary: the kind of service only, never a diagnosis or clinical text.
    pub summary: String,
    /// Where: room and site, or the site's street address.
    pub location: Option<String>,
}

/// What a calendar feed shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedContent {
    /// The feed.
    pub feed_id: i64,
    /// Calendar name.
    pub name: String,
    /// The zone events are written in.
    pub zone: SiteZone,
    /// Events, by start.
    pub events: Vec<FeedEvent>,
}

crate::patients::names_patient!(Appointment);

pub(crate) const APPOINTMENT_SELECT: &str = "SELECT a.id, a.patient_id,
    CAST('' AS TEXT) AS patient_name,
    a.site_id, a.kind, a.clinician_id, u.display_name AS clinician_name, a.room_id,
    r.name AS room_name, a.telehealth, a.local_date, a.starts_at, a.ends_at, a.minutes, a.status,
    a.override_reason, a.attendance_status, a.minutes_attended,
    COALESCE(a.attendance_recorded_at, a.cancelled_at, a.created_at) AS last_changed
    FROM appointments a JOIN patients p ON p.id = a.patient_id JOIN users u ON u.id = a.clinician_id
    LEFT JOIN rooms r ON r.id = a.room_id";

const FACILITATED_SELECT: &str = "SELECT gs.id, t.name AS track_name, gs.starts_at, gs.ends_at,
    r.name AS room_name, t.telehealth
    FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id LEFT JOIN rooms r ON r.id = t.room_id";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn range(start: Instant, end: Instant) -> Result<TimeRange> {
    TimeRange::new(start.0, end.0).map_err(corrupt)
}

/// The weekday stored as 0 = Monday.
fn weekday_from(n: i64) -> Result<chrono::Weekday> {
    u8::try_from(n)
        .ok()
        .and_then(|n| chrono::Weekday::try_from(n).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("weekday {n}")))
}

fn time_from(s: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| StoreError::Corrupt(format!("time {s:?}")))
}

impl Store {
    /// Books an appointment for the patient after checking every conflict. Double-bookings refuse
    /// the booking unless an override reason is given; availability clashes come back as warnings.
    pub async fn book_appointment(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        new: &NewAppointment,
    ) -> Result<BookingOutcome> {
        let patient_id = grant.patient_id();
        let mut errors = Vec::new();
        if !(5..=480).contains(&new.minutes) {
            errors.push(trellis_domain::patient::FieldError::new(
                "minutes",
                "must be between 5 and 480 minutes",
            ));
        }
        if new.room_id.is_none() != new.telehealth {
            errors.push(trellis_domain::patient::FieldError::new(
                "room_id",
                "choose a room or telehealth, not both",
            ));
        }
        let occupants = new.occupants.unwrap_or(match new.kind {
            AppointmentKind::FamilySession => 4,
            _ => 2,
        });
        if !(1..=50).contains(&occupants) {
            errors.push(trellis_domain::patient::FieldError::new(
                "occupants",
                "must be between 1 and 50 people",
            ));
        }
        let override_reason = new
            .override_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if override_reason.is_some_and(|r| r.chars().count() > 300) {
            errors.push(trellis_domain::patient::FieldError::new(
                "override_reason",
                "say why in at most 300 characters",
            ));
        }
        let clinician = self.staff_user(new.clinician_id).await.ok();
        let clinician_ok = clinician.as_ref().is_some_and(|u| {
            u.active
                && u.role()
                    .is_ok_and(|role| permits(role, Permission::WriteClinical))
        });
        if !clinician_ok {
            errors.push(trellis_domain::patient::FieldError::new(
                "clinician_id",
                "choose an active clinician",
            ));
        }
        let patient_site: i64 = sqlx::query_scalar("SELECT site_id FROM patients WHERE id = $1")
            .bind(patient_id)
            .fetch_one(&mut *self.read_conn().await?)
            .await?;
        let site_id = match new.room_id {
            Some(room_id) => {
                let site: Option<i64> =
                    sqlx::query_scalar("SELECT site_id FROM rooms WHERE id = $1")
                        .bind(room_id)
                        .fetch_optional(&mut *self.read_conn().await?)
                        .await?;
                match site {
                    Some(site) => site,
                    None => {
                        errors.push(trellis_domain::patient::FieldError::new(
                            "room_id",
                            "choose a room",
                        ));
                        patient_site
                    }
                }
            }
            None => patient_site,
        };
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let site = self.site(site_id).await?;
        let zone = SiteZone::parse(&site.timezone).map_err(corrupt)?;
        // Both ends are wall-clock times on the booking's day: each must happen exactly once, and
        // the length is measured between the real instants, so a booking across a DST change
        // never ends before it starts.
        let local_start = new.date.and_time(new.start);
        let starts = zone
            .resolve_exact(local_start)
            .map_err(|e| StoreError::invalid("start", format!("the start time {e}")))?;
        let local_end = local_start
            .checked_add_signed(TimeDelta::minutes(new.minutes))
            .ok_or_else(|| StoreError::invalid("end", "out of range"))?;
        let ends = zone
            .resolve_exact(local_end)
            .map_err(|e| StoreError::invalid("end", format!("the end time {e}")))?;
        let when =
            TimeRange::new(starts, ends).map_err(|e| StoreError::invalid("end", e.to_string()))?;
        let minutes = (ends - starts).num_minutes();
        // The clock length was checked above; across a spring-forward gap the real one is shorter.
        if minutes < 5 {
            return Err(StoreError::invalid(
                "end",
                format!(
                    "the clocks go forward during this booking, so it lasts {minutes} min in real \
                     time; book at least 5"
                ),
            ));
        }
        // Sessions exist only once materialised; make sure the days around the booking have theirs.
        let read = self.grant::<can::ReadSchedule>(grant.actor())?;
        let first = new.date.pred_opt().unwrap_or(new.date);
        let last = new.date.succ_opt().unwrap_or(new.date);
        self.materialise_sessions(&read, site_id, first, last)
            .await?;

        let mut tx = self.begin().await?;
        // Read inside the write transaction so two bookings cannot both take the same slot.
        let window = (
            Instant(starts - TimeDelta::days(1)),
            Instant(ends + TimeDelta::days(1)),
        );
        let patient = patient_commitments(&mut tx, patient_id, window.0, window.1).await?;
        let clinician =
            clinician_commitments(&mut tx, new.clinician_id, window.0, window.1).await?;
        let rooms: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, capacity FROM rooms WHERE site_id = $1")
                .bind(site_id)
                .fetch_all(&mut *tx)
                .await?;
        let rooms: Vec<ConflictRoom> = rooms
            .into_iter()
            .map(|(id, capacity)| ConflictRoom {
                id: id.to_string(),
                capacity: u32::try_from(capacity).unwrap_or(0),
            })
            .collect();
        let room_bookings = match new.room_id {
            Some(room_id) => room_bookings(&mut tx, room_id, window.0, window.1).await?,
            None => Vec::new(),
        };
        let availability = patient_availability(&mut tx, patient_id).await?;
        let proposed = ProposedAppointment {
            patient_id: patient_id.to_string(),
            clinician_id: new.clinician_id.to_string(),
            room_id: new.room_id.map(|r| r.to_string()),
            when,
            occupants: u32::try_from(occupants).unwrap_or(2),
        };
        let conflicts = find_conflicts(
            &proposed,
            &Existing {
                patient: &patient,
                clinician: &clinician,
                rooms: &rooms,
                room_bookings: &room_bookings,
                availability: &availability,
            },
            zone,
        )
        .map_err(|e| StoreError::invalid("date", e.to_string()))?;
        let hard = conflicts.iter().any(refuses_booking);
        if hard && override_reason.is_none() {
            let mut conflicts = conflicts;
            conflicts.sort_by_key(|c| !refuses_booking(c));
            return Ok(BookingOutcome::Refused { conflicts });
        }
        let actor = grant.actor();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO appointments (patient_id, site_id, kind, clinician_id, room_id, telehealth,
                 occupants, local_date, local_start, minutes, starts_at, ends_at, status,
                 override_reason, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'booked', $13, $14, $15)
             RETURNING id",
        )
        .bind(patient_id)
        .bind(site_id)
        .bind(new.kind.code())
        .bind(new.clinician_id)
        .bind(new.room_id)
        .bind(new.telehealth)
        .bind(occupants)
        .bind(Day(new.date))
        .bind(new.start.format("%H:%M").to_string())
        .bind(minutes)
        .bind(Instant(starts))
        .bind(Instant(ends))
        // The reason is kept only when it overrode something.
        .bind(override_reason.filter(|_| hard))
        .bind(Instant::now())
        .bind(actor.staff_id()?)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: if hard { "book_override" } else { "book" },
                record_type: "appointment",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!("{} conflicts", conflicts.len()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(BookingOutcome::Booked {
            id,
            warnings: conflicts,
        })
    }

    /// Active staff who may see patients in appointments (the clinical roles), by name.
    pub async fn clinicians(&self) -> Result<Vec<(i64, String)>> {
        let users: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, display_name, role FROM users WHERE active = $1 ORDER BY display_name, id",
        )
        .bind(true)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        Ok(users
            .into_iter()
            .filter(|(_, _, role)| {
                role.parse::<Role>()
                    .is_ok_and(|r| permits(r, Permission::WriteClinical))
            })
            .map(|(id, name, _)| (id, name))
            .collect())
    }

    /// The patient an appointment belongs to, to ask for a grant before touching it.
    pub async fn appointment_patient(&self, id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM appointments WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("appointment"))
    }

    /// One appointment of the patient.
    async fn patient_appointment(&self, patient_id: i64, id: i64) -> Result<Appointment> {
        let mut appointment: Appointment = sqlx::query_as(&format!(
            "{APPOINTMENT_SELECT} WHERE a.id = $1 AND a.patient_id = $2"
        ))
        .bind(id)
        .bind(patient_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("appointment"))?;
        self.fill_patient_names(
            &mut *self.read_conn().await?,
            std::slice::from_mut(&mut appointment),
        )
        .await?;
        Ok(appointment)
    }

    /// Cancels a booked appointment; refused once attendance has been marked.
    pub async fn cancel_appointment(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        id: i64,
    ) -> Result<()> {
        self.cancel_appointment_if(grant, id, None).await
    }

    /// Cancels a booked appointment only if it was last changed at `last_changed` (the version
    /// the caller read), else `Stale`; `None` cancels whatever the current version.
    pub async fn cancel_appointment_if(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        id: i64,
        last_changed: Option<Instant>,
    ) -> Result<()> {
        let patient_id = grant.patient_id();
        let appointment = self.patient_appointment(patient_id, id).await?;
        if last_changed.is_some_and(|at| at != appointment.last_changed) {
            return Err(StoreError::Stale("the appointment"));
        }
        if appointment.attendance_status.is_some() {
            return Err(StoreError::Conflict(
                "attendance has been marked; the appointment stays on record".into(),
            ));
        }
        let actor = grant.actor();
        let mut tx = self.begin().await?;
        let changed = sqlx::query(&format!(
            "UPDATE appointments SET status = 'cancelled', cancelled_at = $2, cancelled_by = $3
             WHERE id = $1 AND status = 'booked' AND attendance_status IS NULL
             AND {APPOINTMENT_VERSION} = $4"
        ))
        .bind(id)
        .bind(Instant::now())
        .bind(actor.staff_id()?)
        .bind(appointment.last_changed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(match last_changed {
                Some(_) => StoreError::Stale("the appointment"),
                None => StoreError::Conflict("the appointment is already cancelled".into()),
            });
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "cancel",
                record_type: "appointment",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the patient's attendance at an appointment (check-in), replacing an earlier mark.
    /// Minutes default to the planned length for a patient present throughout.
    pub async fn record_appointment_attendance(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        id: i64,
        status: AttendanceStatus,
        minutes: Option<i64>,
    ) -> Result<()> {
        self.record_appointment_attendance_if(grant, id, status, minutes, None)
            .await
    }

    /// Marks attendance only if the appointment was last changed at `last_changed` (the
    /// version the caller read), else `Stale`; `None` marks whatever the current version.
    pub async fn record_appointment_attendance_if(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        id: i64,
        status: AttendanceStatus,
        minutes: Option<i64>,
        last_changed: Option<Instant>,
    ) -> Result<()> {
        let patient_id = grant.patient_id();
        let appointment = self.patient_appointment(patient_id, id).await?;
        if last_changed.is_some_and(|at| at != appointment.last_changed) {
            return Err(StoreError::Stale("the appointment"));
        }
        if appointment.status != "booked" {
            return Err(StoreError::Conflict("the appointment was cancelled".into()));
        }
        let planned = u32::try_from(appointment.minutes).unwrap_or(0);
        let mark = Attendance::record(status, planned, minutes)
            .map_err(|e| StoreError::invalid("minutes_attended", e.to_string()))?;
        // Where the attended minutes sit in time: a late arrival's at the end.
        let service_start = if status == AttendanceStatus::Late {
            appointment.ends_at.0 - TimeDelta::minutes(i64::from(mark.minutes_attended()))
        } else {
            appointment.starts_at.0
        };
        let actor = grant.actor();
        let mut tx = self.begin().await?;
        // Conditional on the version read, so that of two marks racing only one is recorded.
        let changed = sqlx::query(&format!(
            "UPDATE appointments SET attendance_status = $2, minutes_attended = $3,
                 service_start = $4, attendance_recorded_at = $5, attendance_recorded_by = $6
             WHERE id = $1 AND status = 'booked' AND {APPOINTMENT_VERSION} = $7"
        ))
        .bind(id)
        .bind(status.code())
        .bind(i64::from(mark.minutes_attended()))
        .bind(Instant(service_start))
        .bind(Instant::now())
        .bind(actor.staff_id()?)
        .bind(appointment.last_changed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(match last_changed {
                Some(_) => StoreError::Stale("the appointment"),
                None => StoreError::Conflict(
                    "the appointment changed while the mark was being recorded; try again".into(),
                ),
            });
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "record_attendance",
                record_type: "appointment",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: status.code().to_owned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient's appointments, newest first.
    pub async fn patient_appointments(
        &self,
        grant: &PatientGrant<can::ReadSchedule>,
    ) -> Result<Vec<Appointment>> {
        let patient_id = grant.patient_id();
        let mut rows: Vec<Appointment> = sqlx::query_as(&format!(
            "{APPOINTMENT_SELECT} WHERE a.patient_id = $1 ORDER BY a.starts_at DESC, a.id DESC"
        ))
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        self.fill_patient_names(&mut *self.read_conn().await?, &mut rows)
            .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "appointments",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        Ok(rows)
    }

    /// Booked appointments at a site on a local date, of the patients the reader may see.
    pub async fn site_appointments(
        &self,
        grant: &Grant<can::ReadSchedule>,
        site_id: i64,
        date: NaiveDate,
    ) -> Result<Vec<Appointment>> {
        let sql = format!(
            "{APPOINTMENT_SELECT} WHERE a.site_id = $1 AND a.local_date = $2
             AND a.status = 'booked' AND {} ORDER BY a.starts_at, a.id",
            patient_scope_sql(grant.actor().role, "$3")
        );
        let mut rows: Vec<Appointment> = sqlx::query_as(&sql)
            .bind(site_id)
            .bind(Day(date))
            .bind(grant.actor().staff_id()?)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        self.fill_patient_names(&mut *self.read_conn().await?, &mut rows)
            .await?;
        let shown: Vec<i64> = rows.iter().map(|r: &Appointment| r.patient_id).collect();
        audit::record_shown(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "site_appointments",
                record_id: Some(site_id),
                patient_id: None,
                detail: Day(date).to_db(),
            },
            &shown,
        )
        .await?;
        Ok(rows)
    }

    /// A clinician's day: their appointments and the group sessions they facilitate that start on
    /// the local date in `zone`.
    pub async fn clinician_day(
        &self,
        grant: &Grant<can::ReadSchedule>,
        clinician_id: i64,
        date: NaiveDate,
        zone: SiteZone,
    ) -> Result<ClinicianDay> {
        let from = zone
            .resolve(date.and_time(NaiveTime::MIN))
            .map_err(|e| StoreError::invalid("date", e.to_string()))?;
        let to = zone
            .resolve(
                date.succ_opt()
                    .ok_or(StoreError::invalid("date", "out of range"))?
                    .and_time(NaiveTime::MIN),
            )
            .map_err(|e| StoreError::invalid("date", e.to_string()))?;
        // Only patients the reader may see: a counselor looking at a colleague's day sees the
        // appointments of their own caseload.
        let mut appointments: Vec<Appointment> = sqlx::query_as(&format!(
            "{APPOINTMENT_SELECT} WHERE a.clinician_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3
             AND {} ORDER BY a.starts_at, a.id",
            patient_scope_sql(grant.actor().role, "$4")
        ))
        .bind(clinician_id)
        .bind(Instant(from))
        .bind(Instant(to))
        .bind(grant.actor().staff_id()?)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        self.fill_patient_names(&mut *self.read_conn().await?, &mut appointments)
            .await?;
        let sessions = sqlx::query_as(&format!(
            "{FACILITATED_SELECT} WHERE t.facilitator_id = $1 AND gs.starts_at >= $2
             AND gs.starts_at < $3 ORDER BY gs.starts_at, gs.id"
        ))
        .bind(clinician_id)
        .bind(Instant(from))
        .bind(Instant(to))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let shown: Vec<i64> = appointments
            .iter()
            .map(|r: &Appointment| r.patient_id)
            .collect();
        audit::record_shown(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "clinician_day",
                record_id: Some(clinician_id),
                patient_id: None,
                detail: Day(date).to_db(),
            },
            &shown,
        )
        .await?;
        Ok(ClinicianDay {
            appointments,
            sessions,
        })
    }

    /// Sets who facilitates a track's groups (their calendar then shows the sessions).
    pub async fn set_track_facilitator(
        &self,
        grant: &Grant<can::ManagePrograms>,
        track_id: i64,
        facilitator_id: Option<i64>,
    ) -> Result<()> {
        if let Some(user_id) = facilitator_id {
            self.staff_user(user_id)
                .await
                .map_err(|_| StoreError::invalid("facilitator_id", "choose a staff member"))?;
        }
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE tracks SET facilitator_id = $2 WHERE id = $1")
            .bind(track_id)
            .bind(facilitator_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("track"));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "track",
                record_id: Some(track_id),
                patient_id: None,
                detail: "facilitator".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient's weekly availability and obligations.
    pub async fn availability(
        &self,
        grant: &PatientGrant<can::ReadSchedule>,
    ) -> Result<Vec<AvailabilityWindow>> {
        let rows: Vec<(i64, String, i64, String, String)> = sqlx::query_as(
            "SELECT id, label, weekday, start_time, end_time FROM patient_availability
             WHERE patient_id = $1 ORDER BY weekday, start_time, id",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        rows.into_iter()
            .map(|(id, label, weekday, start, end)| {
                Ok(AvailabilityWindow {
                    id,
                    label,
                    slot: WeeklySlot::new(
                        weekday_from(weekday)?,
                        time_from(&start)?,
                        time_from(&end)?,
                    )
                    .map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Adds a weekly window: when the patient can attend, or work or school hours.
    pub async fn add_availability(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        label: &str,
        slot: WeeklySlot,
    ) -> Result<i64> {
        let label = label.trim();
        if !AVAILABILITY_LABELS.iter().any(|(code, _)| *code == label) {
            return Err(StoreError::invalid(
                "label",
                "choose work, school or can attend",
            ));
        }
        let patient_id = grant.patient_id();
        let actor = grant.actor();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patient_availability (patient_id, label, weekday, start_time, end_time,
                 created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(patient_id)
        .bind(label)
        .bind(i64::from(slot.weekday.num_days_from_monday()))
        .bind(slot.start.format("%H:%M").to_string())
        .bind(slot.end.format("%H:%M").to_string())
        .bind(Instant::now())
        .bind(actor.staff_id()?)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "create",
                record_type: "patient_availability",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Removes one of the patient's weekly windows.
    pub async fn remove_availability(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        id: i64,
    ) -> Result<()> {
        let patient_id = grant.patient_id();
        let mut tx = self.begin().await?;
        let changed =
            sqlx::query("DELETE FROM patient_availability WHERE id = $1 AND patient_id = $2")
                .bind(id)
                .bind(patient_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("availability window"));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "delete",
                record_type: "patient_availability",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a calendar feed of the acting clinician's own calendar; returns it with the secret
    /// token (shown once, stored only hashed).
    pub async fn create_clinician_feed(
        &self,
        grant: &Grant<can::ReadSchedule>,
    ) -> Result<IssuedFeed> {
        let actor = grant.actor();
        let user_id = actor.staff_id()?;
        self.insert_feed(actor, Some(user_id), None).await
    }

    /// Creates a calendar feed of a patient's appointments and groups; returns it with the secret
    /// token.
    pub async fn create_patient_feed(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
    ) -> Result<IssuedFeed> {
        self.insert_feed(grant.actor(), None, Some(grant.patient_id()))
            .await
    }

    async fn insert_feed(
        &self,
        actor: &Actor,
        clinician_id: Option<i64>,
        patient_id: Option<i64>,
    ) -> Result<IssuedFeed> {
        let secret = format!("cal_{}", random_secret());
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO calendar_feeds (clinician_id, patient_id, token_hash, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(clinician_id)
        .bind(patient_id)
        .bind(secret_hash(&secret))
        .bind(Instant::now())
        .bind(actor.staff_id()?)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "create",
                record_type: "calendar_feed",
                record_id: Some(id),
                patient_id,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedFeed { id, secret })
    }

    /// The acting clinician's own feeds, newest first.
    pub async fn clinician_feeds(
        &self,
        grant: &Grant<can::ReadSchedule>,
    ) -> Result<Vec<CalendarFeed>> {
        Ok(sqlx::query_as(
            "SELECT id, clinician_id, patient_id, created_at, revoked_at, last_fetched_at
             FROM calendar_feeds WHERE clinician_id = $1 ORDER BY id DESC",
        )
        .bind(grant.actor().staff_id()?)
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// A patient's feeds, newest first.
    pub async fn patient_feeds(
        &self,
        grant: &PatientGrant<can::ReadSchedule>,
    ) -> Result<Vec<CalendarFeed>> {
        Ok(sqlx::query_as(
            "SELECT id, clinician_id, patient_id, created_at, revoked_at, last_fetched_at
             FROM calendar_feeds WHERE patient_id = $1 ORDER BY id DESC",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// Revokes one of the acting clinician's own feeds.
    pub async fn revoke_clinician_feed(
        &self,
        grant: &Grant<can::ReadSchedule>,
        feed_id: i64,
    ) -> Result<()> {
        let owner = grant.actor().staff_id()?;
        self.revoke_feed(grant.actor(), feed_id, "clinician_id", owner, None)
            .await
    }

    /// Revokes one of a patient's feeds.
    pub async fn revoke_patient_feed(
        &self,
        grant: &PatientGrant<can::ManageSchedule>,
        feed_id: i64,
    ) -> Result<()> {
        let patient_id = grant.patient_id();
        self.revoke_feed(
            grant.actor(),
            feed_id,
            "patient_id",
            patient_id,
            Some(patient_id),
        )
        .await
    }

    async fn revoke_feed(
        &self,
        actor: &Actor,
        feed_id: i64,
        owner_column: &'static str,
        owner: i64,
        patient_id: Option<i64>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(&format!(
            "UPDATE calendar_feeds SET revoked_at = $3 WHERE id = $1 AND {owner_column} = $2
             AND revoked_at IS NULL"
        ))
        .bind(feed_id)
        .bind(owner)
        .bind(Instant::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("calendar feed"));
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "revoke",
                record_type: "calendar_feed",
                record_id: Some(feed_id),
                patient_id,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What a live feed token shows for events starting in `from..to`; unknown and revoked tokens
    /// are "not found". The fetch is audited as the token (no user is signed in to a calendar app).
    pub async fn calendar_feed(
        &self,
        secret: &str,
        from: Instant,
        to: Instant,
    ) -> Result<FeedContent> {
        #[derive(FromRow)]
        struct FeedRow {
            id: i64,
            clinician_id: Option<i64>,
            patient_id: Option<i64>,
            created_by: i64,
        }
        // A feed ends with its creator's account: a deactivated clinician's link stops working.
        let feed: FeedRow = sqlx::query_as(
            "SELECT f.id, f.clinician_id, f.patient_id, f.created_by FROM calendar_feeds f
             JOIN users u ON u.id = f.created_by
             WHERE f.token_hash = $1 AND f.revoked_at IS NULL AND u.active = $2",
        )
        .bind(secret_hash(secret))
        .bind(true)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("calendar feed"))?;
        let content = match (feed.clinician_id, feed.patient_id) {
            (Some(clinician_id), _) => {
                self.clinician_feed_events(feed.id, clinician_id, from, to)
                    .await?
            }
            (None, Some(patient_id)) => {
                self.patient_feed_events(feed.id, patient_id, from, to)
                    .await?
            }
            (None, None) => return Err(StoreError::Corrupt("calendar feed without owner".into())),
        };
        // The fetch acts on the authority of whoever created the feed; the audit row names the
        // feed, not a signed-in user.
        let role = self
            .staff_user(feed.created_by)
            .await?
            .role()
            .unwrap_or(Role::FrontDesk);
        let actor = Actor {
            user_id: None,
            username: format!("calendar_feed:{}", feed.id),
            role,
            ip: None,
            request_id: None,
        };
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE calendar_feeds SET last_fetched_at = $2 WHERE id = $1")
            .bind(feed.id)
            .bind(Instant::now())
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            &actor,
            AuditEvent {
                action: "read",
                record_type: "calendar_feed",
                record_id: Some(feed.id),
                patient_id: feed.patient_id,
                detail: format!("{} events", content.events.len()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(content)
    }

    async fn clinician_feed_events(
        &self,
        feed_id: i64,
        clinician_id: i64,
        from: Instant,
        to: Instant,
    ) -> Result<FeedContent> {
        let user = self.staff_user(clinician_id).await?;
        let rows: Vec<FeedAppointmentRow> =
            sqlx::query_as(
                "SELECT a.id, a.kind, a.starts_at, a.ends_at, r.name, a.telehealth, s.name, s.timezone
                 FROM appointments a JOIN sites s ON s.id = a.site_id LEFT JOIN rooms r ON r.id = a.room_id
                 WHERE a.clinician_id = $1 AND a.status = 'booked' AND a.starts_at >= $2
                 AND a.starts_at < $3",
            )
            .bind(clinician_id)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        let mut zone = None;
        let mut events = Vec::new();
        for (id, kind, starts_at, ends_at, room, telehealth, site, tz) in rows {
            zone.get_or_insert(tz);
            let kind: AppointmentKind = parse_code(&kind, "appointment kind")?;
            events.push(FeedEvent {
                uid: format!("appointment-{id}"),
                starts_at,
                ends_at,
                // The kind of service only: a clinician's phone calendar is no place for patient
                // names or clinical detail.
                summary: kind.label().to_owned(),
                location: Some(place(room, telehealth.0, &site)),
            });
        }
        let sessions: Vec<FeedSessionRow> = sqlx::query_as(
            "SELECT gs.id, gs.starts_at, gs.ends_at, r.name, t.telehealth, s.name, s.timezone
                 FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id
                 JOIN programs pr ON pr.id = t.program_id JOIN sites s ON s.id = pr.site_id
                 LEFT JOIN rooms r ON r.id = t.room_id
                 WHERE t.facilitator_id = $1 AND gs.starts_at >= $2 AND gs.starts_at < $3",
        )
        .bind(clinician_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        for (id, starts_at, ends_at, room, telehealth, site, tz) in sessions {
            zone.get_or_insert(tz);
            events.push(FeedEvent {
                uid: format!("session-{id}"),
                starts_at,
                ends_at,
                summary: "Group session".into(),
                location: Some(place(room, telehealth.0, &site)),
            });
        }
        events.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.uid.cmp(&b.uid)));
        let zone = match zone {
            Some(tz) => tz,
            None => self.first_site_timezone().await?,
        };
        Ok(FeedContent {
            feed_id,
            name: format!("Trellis · {}", user.display_name),
            zone: SiteZone::parse(&zone).map_err(corrupt)?,
            events,
        })
    }

    async fn patient_feed_events(
        &self,
        feed_id: i64,
        patient_id: i64,
        from: Instant,
        to: Instant,
    ) -> Result<FeedContent> {
        let (tz, address): (String, Option<String>) = sqlx::query_as(
            "SELECT s.timezone, s.address FROM patients p JOIN sites s ON s.id = p.site_id
             WHERE p.id = $1",
        )
        .bind(patient_id)
        .fetch_one(&mut *self.read_conn().await?)
        .await?;
        let appointments: Vec<(i64, Instant, Instant, Flag)> = sqlx::query_as(
            "SELECT id, starts_at, ends_at, telehealth FROM appointments
             WHERE patient_id = $1 AND status = 'booked' AND starts_at >= $2 AND starts_at < $3",
        )
        .bind(patient_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let sessions: Vec<(i64, Instant, Instant, Flag)> = sqlx::query_as(
            "SELECT gs.id, gs.starts_at, gs.ends_at, t.telehealth FROM group_sessions gs
             JOIN tracks t ON t.id = gs.track_id
             JOIN track_enrolments te ON te.track_id = gs.track_id AND te.patient_id = $1
                 AND te.enrolled_on <= gs.local_date
                 AND (te.ended_on IS NULL OR te.ended_on >= gs.local_date)
             WHERE gs.starts_at >= $2 AND gs.starts_at < $3",
        )
        .bind(patient_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        // A patient's calendar sits on a phone that others may see. Under 42 CFR Part 2 even the
        // fact of being in a substance use program is protected, so every event is a plain
        // "Appointment" with the street address only: no program, track, kind, room or site name.
        let location = |telehealth: bool| {
            if telehealth {
                Some("Video visit".to_owned())
            } else {
                address.clone()
            }
        };
        let mut events: Vec<FeedEvent> = appointments
            .into_iter()
            .map(|(id, starts_at, ends_at, telehealth)| FeedEvent {
                uid: format!("appointment-{id}"),
                starts_at,
                ends_at,
                summary: "Appointment".into(),
                location: location(telehealth.0),
            })
            .chain(
                sessions
                    .into_iter()
                    .map(|(id, starts_at, ends_at, telehealth)| FeedEvent {
                        uid: format!("session-{id}"),
                        starts_at,
                        ends_at,
                        summary: "Appointment".into(),
                        location: location(telehealth.0),
                    }),
            )
            .collect();
        events.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.uid.cmp(&b.uid)));
        Ok(FeedContent {
            feed_id,
            name: "Appointments".into(),
            zone: SiteZone::parse(&tz).map_err(corrupt)?,
            events,
        })
    }

    async fn first_site_timezone(&self) -> Result<String> {
        let tz: Option<String> =
            sqlx::query_scalar("SELECT timezone FROM sites ORDER BY id LIMIT 1")
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
        Ok(tz.unwrap_or_else(|| "UTC".into()))
    }
}

/// "Room 3 · Downtown", or "Telehealth".
fn place(room: Option<String>, telehealth: bool, site: &str) -> String {
    match (telehealth, room) {
        (true, _) => "Telehealth".into(),
        (false, Some(room)) => format!("{room} · {site}"),
        (false, None) => site.to_owned(),
    }
}

/// The attended minutes of a patient's appointments starting in `from..to`, as service records
/// for the weekly hours. Drug screens count as no service.
pub(crate) async fn appointment_service_records(
    store: &Store,
    patient_id: i64,
    from: Instant,
    to: Instant,
) -> Result<Vec<(i64, ServiceRecord)>> {
    let rows: Vec<(i64, String, Instant, i64)> = sqlx::query_as(
        "SELECT patient_id, kind, service_start, minutes_attended FROM appointments
         WHERE status = 'booked' AND minutes_attended > 0 AND service_start >= $1
         AND service_start < $2 AND patient_id = $3",
    )
    .bind(from)
    .bind(to)
    .bind(patient_id)
    .fetch_all(&mut *store.read_conn().await?)
    .await?;
    as_service_records(rows)
}

/// The attended appointment minutes starting in `from..to` of the patients of a weekly-hours
/// list's open episodes, as service records (read by patient, not the whole network's week).
pub(crate) async fn caseload_appointment_records(
    store: &Store,
    caseload: &OpenCaseload,
    from: Instant,
    to: Instant,
) -> Result<Vec<(i64, ServiceRecord)>> {
    let sql = format!(
        "SELECT patient_id, kind, service_start, minutes_attended FROM appointments
         WHERE status = 'booked' AND minutes_attended > 0 AND service_start >= $1
         AND service_start < $2
         AND patient_id IN (SELECT e.patient_id FROM episodes e WHERE {})",
        caseload.filter(3)
    );
    let rows: Vec<(i64, String, Instant, i64)> = caseload
        .bind(sqlx::query_as(&sql).bind(from).bind(to))
        .fetch_all(&mut *store.read_conn().await?)
        .await?;
    as_service_records(rows)
}

/// One patient's attended appointment minutes starting in `from..to`, read inside the caller's
/// transaction (the phase review judges them with the group minutes, as the Schedule tab does).
pub(crate) async fn patient_appointment_records_in(
    tx: &mut sqlx::AnyConnection,
    patient_id: i64,
    from: Instant,
    to: Instant,
) -> Result<Vec<ServiceRecord>> {
    let rows: Vec<(i64, String, Instant, i64)> = sqlx::query_as(
        "SELECT patient_id, kind, service_start, minutes_attended FROM appointments
         WHERE status = 'booked' AND minutes_attended > 0 AND service_start >= $1
         AND service_start < $2 AND patient_id = $3",
    )
    .bind(from)
    .bind(to)
    .bind(patient_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(as_service_records(rows)?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// Appointment rows as service records; kinds that are no service (a drug screen) are left out.
fn as_service_records(rows: Vec<(i64, String, Instant, i64)>) -> Result<Vec<(i64, ServiceRecord)>> {
    let mut out = Vec::new();
    for (patient_id, kind, start, minutes) in rows {
        let kind: AppointmentKind = parse_code(&kind, "appointment kind")?;
        let Some(service) = kind.service_type() else {
            continue;
        };
        out.push((
            patient_id,
            ServiceRecord {
                start: start.0,
                minutes: u32::try_from(minutes).unwrap_or(0),
                service,
            },
        ));
    }
    Ok(out)
}

/// The patient's track sessions and booked appointments starting in `from..to`.
async fn patient_commitments(
    tx: &mut Transaction<'static, Any>,
    patient_id: i64,
    from: Instant,
    to: Instant,
) -> Result<Vec<Commitment>> {
    let sessions: Vec<(i64, String, Instant, Instant)> = sqlx::query_as(
        "SELECT gs.id, t.name, gs.starts_at, gs.ends_at FROM group_sessions gs
         JOIN tracks t ON t.id = gs.track_id
         JOIN track_enrolments te ON te.track_id = gs.track_id AND te.patient_id = $1
             AND te.enrolled_on <= gs.local_date
             AND (te.ended_on IS NULL OR te.ended_on >= gs.local_date)
         WHERE gs.starts_at >= $2 AND gs.starts_at < $3",
    )
    .bind(patient_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    let appointments: Vec<(i64, String, Instant, Instant)> = sqlx::query_as(
        "SELECT id, kind, starts_at, ends_at FROM appointments WHERE patient_id = $1
         AND status = 'booked' AND starts_at >= $2 AND starts_at < $3",
    )
    .bind(patient_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    commitments(sessions, appointments)
}

/// The clinician's booked appointments and facilitated group sessions starting in `from..to`.
async fn clinician_commitments(
    tx: &mut Transaction<'static, Any>,
    clinician_id: i64,
    from: Instant,
    to: Instant,
) -> Result<Vec<Commitment>> {
    let sessions: Vec<(i64, String, Instant, Instant)> = sqlx::query_as(
        "SELECT gs.id, t.name, gs.starts_at, gs.ends_at FROM group_sessions gs
         JOIN tracks t ON t.id = gs.track_id
         WHERE t.facilitator_id = $1 AND gs.starts_at >= $2 AND gs.starts_at < $3",
    )
    .bind(clinician_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    let appointments: Vec<(i64, String, Instant, Instant)> = sqlx::query_as(
        "SELECT id, kind, starts_at, ends_at FROM appointments WHERE clinician_id = $1
         AND status = 'booked' AND starts_at >= $2 AND starts_at < $3",
    )
    .bind(clinician_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    commitments(sessions, appointments)
}

/// Sessions and appointments as the conflict rule's commitments, labelled in staff words.
fn commitments(
    sessions: Vec<(i64, String, Instant, Instant)>,
    appointments: Vec<(i64, String, Instant, Instant)>,
) -> Result<Vec<Commitment>> {
    let mut out = Vec::new();
    for (id, track, start, end) in sessions {
        out.push(Commitment {
            id: format!("session {id}"),
            label: format!("{track} group"),
            when: range(start, end)?,
        });
    }
    for (id, kind, start, end) in appointments {
        let kind: AppointmentKind = parse_code(&kind, "appointment kind")?;
        out.push(Commitment {
            id: format!("appointment {id}"),
            label: kind.label().to_lowercase(),
            when: range(start, end)?,
        });
    }
    Ok(out)
}

/// Other uses of a room starting in `from..to`: booked appointments, and group sessions with
/// their enrolled patients plus the facilitator.
async fn room_bookings(
    tx: &mut Transaction<'static, Any>,
    room_id: i64,
    from: Instant,
    to: Instant,
) -> Result<Vec<RoomBooking>> {
    let appointments: Vec<(Instant, Instant, i64)> = sqlx::query_as(
        "SELECT starts_at, ends_at, occupants FROM appointments WHERE room_id = $1
         AND status = 'booked' AND starts_at >= $2 AND starts_at < $3",
    )
    .bind(room_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    let sessions: Vec<(Instant, Instant, i64)> = sqlx::query_as(
        "SELECT gs.starts_at, gs.ends_at,
             (SELECT COUNT(*) FROM track_enrolments te WHERE te.track_id = gs.track_id
              AND te.enrolled_on <= gs.local_date
              AND (te.ended_on IS NULL OR te.ended_on >= gs.local_date)) + 1
         FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id
         WHERE t.room_id = $1 AND gs.starts_at >= $2 AND gs.starts_at < $3",
    )
    .bind(room_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    appointments
        .into_iter()
        .chain(sessions)
        .map(|(start, end, occupants)| {
            Ok(RoomBooking {
                room_id: room_id.to_string(),
                when: range(start, end)?,
                occupants: u32::try_from(occupants).unwrap_or(0),
            })
        })
        .collect()
}

/// The patient's windows as the conflict rule reads them: "available" windows limit when they can
/// come; work and school hours are obligations.
async fn patient_availability(
    tx: &mut Transaction<'static, Any>,
    patient_id: i64,
) -> Result<PatientAvailability> {
    let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
        "SELECT label, weekday, start_time, end_time FROM patient_availability
         WHERE patient_id = $1 ORDER BY weekday, start_time",
    )
    .bind(patient_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut availability = PatientAvailability::default();
    for (label, weekday, start, end) in rows {
        let slot = WeeklySlot::new(weekday_from(weekday)?, time_from(&start)?, time_from(&end)?)
            .map_err(corrupt)?;
        match AVAILABILITY_LABELS.iter().find(|(code, _)| *code == label) {
            Some(("available", _)) => availability.available.push(slot),
            Some((_, shown)) => availability.busy.push(((*shown).to_owned(), slot)),
            None => return Err(StoreError::Corrupt(format!("availability label {label:?}"))),
        }
    }
    Ok(availability)
}

/// An appointment on a clinician's feed: id, kind, start, end, room, telehealth, site, zone.
type FeedAppointmentRow = (
    i64,
    String,
    Instant,
    Instant,
    Option<String>,
    Flag,
    String,
    String,
);
/// A group session on a clinician's feed: id, start, end, room, telehealth, site, zone.
type FeedSessionRow = (i64, Instant, Instant, Option<String>, Flag, String, String);
