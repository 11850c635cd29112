//! Today and the week as the signed-in patient sees them: their groups and appointments with
//! times and place, and the clinic's phone number.

use serde::Serialize;
use trellis_domain::schedule::appointments::AppointmentKind;

use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Flag, Instant, Result, Store};

/// One group or appointment on the patient's week.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalEvent {
    /// Start.
    pub starts_at: Instant,
    /// End.
    pub ends_at: Instant,
    /// What it is, in plain words ("Group: Evening IOP", "Counseling").
    pub what: String,
    /// Whether it is a group (else an appointment).
    pub group: bool,
    /// Where: room and street address, or "Video visit".
    pub place: String,
}

/// The patient's coming days.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalWeek {
    /// The clinic's time zone, for showing times.
    pub timezone: String,
    /// The clinic's phone number.
    pub clinic_phone: Option<String>,
    /// Groups and appointments, by start.
    pub events: Vec<PortalEvent>,
}

impl Store {
    /// The patient's groups and appointments starting in `from..to`, audited as the patient's
    /// own read.
    pub async fn portal_week(
        &self,
        grant: &PatientGrant<can::UsePortal>,
        from: Instant,
        to: Instant,
    ) -> Result<PortalWeek> {
        let patient_id = grant.patient_id();
        let (timezone, address, clinic_phone): (String, Option<String>, Option<String>) =
            sqlx::query_as(
                "SELECT s.timezone, s.address, s.phone FROM patients p
                 JOIN sites s ON s.id = p.site_id WHERE p.id = $1",
            )
            .bind(patient_id)
            .fetch_one(&mut *self.read_conn().await?)
            .await?;
        let place = |room: Option<String>, telehealth: bool| -> String {
            match (telehealth, room, &address) {
                (true, _, _) => "Video visit".into(),
                (false, Some(room), Some(address)) => format!("{room}, {address}"),
                (false, Some(room), None) => room,
                (false, None, Some(address)) => address.clone(),
                (false, None, None) => "At the clinic".into(),
            }
        };
        let appointments: Vec<(Instant, Instant, String, Option<String>, Flag)> = sqlx::query_as(
            "SELECT a.starts_at, a.ends_at, a.kind, r.name, a.telehealth FROM appointments a
             LEFT JOIN rooms r ON r.id = a.room_id
             WHERE a.patient_id = $1 AND a.status = 'booked' AND a.starts_at >= $2
                 AND a.starts_at < $3",
        )
        .bind(patient_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let sessions: Vec<(Instant, Instant, String, Option<String>, Flag)> = sqlx::query_as(
            "SELECT gs.starts_at, gs.ends_at, t.name, r.name, t.telehealth FROM group_sessions gs
             JOIN tracks t ON t.id = gs.track_id
             JOIN track_enrolments te ON te.track_id = gs.track_id AND te.patient_id = $1
                 AND te.enrolled_on <= gs.local_date
                 AND (te.ended_on IS NULL OR te.ended_on >= gs.local_date)
             LEFT JOIN rooms r ON r.id = t.room_id
             WHERE gs.starts_at >= $2 AND gs.starts_at < $3",
        )
        .bind(patient_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut events = Vec::with_capacity(appointments.len() + sessions.len());
        for (starts_at, ends_at, kind, room, telehealth) in appointments {
            let kind: AppointmentKind = parse_code(&kind, "appointment kind")?;
            events.push(PortalEvent {
                starts_at,
                ends_at,
                what: kind.label().to_owned(),
                group: false,
                place: place(room, telehealth.0),
            });
        }
        for (starts_at, ends_at, track, room, telehealth) in sessions {
            events.push(PortalEvent {
                starts_at,
                ends_at,
                what: format!("Group: {track}"),
                group: true,
                place: place(room, telehealth.0),
            });
        }
        events.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.what.cmp(&b.what)));
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "portal_week",
                record_id: None,
                patient_id: Some(patient_id),
                detail: format!("{} events", events.len()),
            },
        )
        .await?;
        Ok(PortalWeek {
            timezone,
            clinic_phone,
            events,
        })
    }
}
