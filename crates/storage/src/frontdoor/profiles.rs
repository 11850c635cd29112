//! Programs' public profiles. Staff who configure programs edit them (audited like every
//! change to the organisation); the public pages read published ones without a grant and
//! without an audit row, since they carry no patient data: the finder reads only these tables
//! and the tracks' weekly pattern, never an enrolment or a session.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::FromRow;
use trellis_domain::frontdoor::profile::{
    check_profile, parse_services, split_list, times_of_week, ProfileInput, TimeOfWeek,
};
use trellis_domain::schedule::track::WeeklySlot;

use crate::access::{can, Grant};
use crate::audit::{self, AuditEvent};
use crate::schedule::{time_from, weekday_from};
use crate::{Day, Flag, Instant, Result, Store, StoreError};

/// One track as the public sees it: its name and when it meets.
#[derive(Debug, Clone)]
pub struct PublicTrack {
    /// Track name, e.g. "Evening".
    pub name: String,
    /// Whether it meets by video.
    pub telehealth: bool,
    /// Its weekly pattern in the site's local time.
    pub slots: Vec<WeeklySlot>,
}

/// A program's profile with the site it meets at.
#[derive(Debug, Clone)]
pub struct ProgramProfile {
    /// Program.
    pub program_id: i64,
    /// Program name.
    pub program_name: String,
    /// Site name.
    pub site_name: String,
    /// Site street address.
    pub site_address: Option<String>,
    /// Site main phone.
    pub site_phone: Option<String>,
    /// Site time zone (track times are in it).
    pub timezone: String,
    /// What staff entered (services parsed, lists as typed).
    pub input: ProfileInput,
    /// Tracks and their times.
    pub tracks: Vec<PublicTrack>,
    /// When its profile was last saved (none: never).
    pub updated_at: Option<Instant>,
}

impl ProgramProfile {
    /// When the program's groups meet.
    pub fn times(&self) -> Vec<TimeOfWeek> {
        let slots: Vec<WeeklySlot> = self.tracks.iter().flat_map(|t| t.slots.clone()).collect();
        times_of_week(&slots)
    }

    /// Languages, one entry each.
    pub fn languages(&self) -> Vec<String> {
        split_list(&self.input.languages)
    }

    /// Insurance accepted, one entry each.
    pub fn insurance(&self) -> Vec<String> {
        split_list(&self.input.insurance)
    }
}

#[derive(FromRow)]
struct ProfileRow {
    program_id: i64,
    program_name: String,
    site_name: String,
    site_address: Option<String>,
    site_phone: Option<String>,
    timezone: String,
    #[sqlx(try_from = "Flag")]
    published: bool,
    summary: Option<String>,
    zip: Option<String>,
    services: Option<String>,
    languages: Option<String>,
    insurance: Option<String>,
    accreditation: Option<String>,
    accreditation_number: Option<String>,
    accreditation_expires: Option<Day>,
    licence: Option<String>,
    licence_number: Option<String>,
    licence_expires: Option<Day>,
    intake_phone: Option<String>,
    intake_hours: Option<String>,
    updated_at: Option<Instant>,
}

/// Programs with their profile, if any (a program never profiled reads as an empty draft).
const PROFILE_SELECT: &str = "SELECT pr.id AS program_id, pr.name AS program_name,
    s.name AS site_name, s.address AS site_address, s.phone AS site_phone, s.timezone,
    COALESCE(pp.published, $1) AS published, pp.summary, pp.zip, pp.services, pp.languages,
    pp.insurance, pp.accreditation, pp.accreditation_number, pp.accreditation_expires,
    pp.licence, pp.licence_number, pp.licence_expires, pp.intake_phone, pp.intake_hours,
    pp.updated_at
    FROM programs pr JOIN sites s ON s.id = pr.site_id
    LEFT JOIN program_profiles pp ON pp.program_id = pr.id";

impl ProfileRow {
    fn into_profile(self, tracks: Vec<PublicTrack>) -> Result<ProgramProfile> {
        let text = |t: Option<String>| t.unwrap_or_default();
        let services = parse_services(&self.services.unwrap_or_default())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(ProgramProfile {
            program_id: self.program_id,
            program_name: self.program_name,
            site_name: self.site_name,
            site_address: self.site_address,
            site_phone: self.site_phone,
            timezone: self.timezone,
            input: ProfileInput {
                summary: text(self.summary),
                zip: text(self.zip),
                services,
                languages: text(self.languages),
                insurance: text(self.insurance),
                accreditation: text(self.accreditation),
                accreditation_number: text(self.accreditation_number),
                accreditation_expires: self.accreditation_expires.map(|d| d.0),
                licence: text(self.licence),
                licence_number: text(self.licence_number),
                licence_expires: self.licence_expires.map(|d| d.0),
                intake_phone: text(self.intake_phone),
                intake_hours: text(self.intake_hours),
                published: self.published,
            },
            tracks,
            updated_at: self.updated_at,
        })
    }
}

impl Store {
    /// Every active program's published profile, by site and program name. Public: no grant,
    /// no audit row (nothing about a patient is read).
    pub async fn published_programs(&self) -> Result<Vec<ProgramProfile>> {
        let rows: Vec<ProfileRow> = sqlx::query_as(&format!(
            "{PROFILE_SELECT} WHERE pp.published = $2 AND pr.active = $2
             ORDER BY s.name, pr.name, pr.id"
        ))
        .bind(false)
        .bind(true)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        self.with_tracks(rows).await
    }

    /// One published profile; a program not published is not found.
    pub async fn published_program(&self, program_id: i64) -> Result<ProgramProfile> {
        let rows: Vec<ProfileRow> = sqlx::query_as(&format!(
            "{PROFILE_SELECT} WHERE pr.id = $3 AND pp.published = $2 AND pr.active = $2"
        ))
        .bind(false)
        .bind(true)
        .bind(program_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        self.with_tracks(rows)
            .await?
            .pop()
            .ok_or(StoreError::NotFound("program"))
    }

    /// A program's profile for staff to edit, published or not.
    pub async fn program_profile(
        &self,
        _grant: &Grant<can::ManagePrograms>,
        program_id: i64,
    ) -> Result<ProgramProfile> {
        let rows: Vec<ProfileRow> = sqlx::query_as(&format!("{PROFILE_SELECT} WHERE pr.id = $2"))
            .bind(false)
            .bind(program_id)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        self.with_tracks(rows)
            .await?
            .pop()
            .ok_or(StoreError::NotFound("program"))
    }

    /// Saves a program's profile after checking it (`check_profile`), audited.
    pub async fn save_program_profile(
        &self,
        grant: &Grant<can::ManagePrograms>,
        program_id: i64,
        input: &ProfileInput,
        today: NaiveDate,
    ) -> Result<()> {
        let errors = check_profile(input, today);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let services: Vec<&str> = input.services.iter().map(|s| s.code()).collect();
        let zip = input.zip.trim();
        let zip = (!zip.is_empty())
            .then(|| trellis_domain::frontdoor::places::parse_zip(zip))
            .transpose()
            .map_err(|e| StoreError::invalid("zip", e.to_string()))?;
        let mut tx = self.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE id = $1")
            .bind(program_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound("program"));
        }
        sqlx::query(
            "INSERT INTO program_profiles (program_id, published, summary, zip, services,
                 languages, insurance, accreditation, accreditation_number, accreditation_expires,
                 licence, licence_number, licence_expires, intake_phone, intake_hours,
                 updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (program_id) DO UPDATE SET published = excluded.published,
                 summary = excluded.summary, zip = excluded.zip, services = excluded.services,
                 languages = excluded.languages, insurance = excluded.insurance,
                 accreditation = excluded.accreditation,
                 accreditation_number = excluded.accreditation_number,
                 accreditation_expires = excluded.accreditation_expires,
                 licence = excluded.licence, licence_number = excluded.licence_number,
                 licence_expires = excluded.licence_expires,
                 intake_phone = excluded.intake_phone, intake_hours = excluded.intake_hours,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(program_id)
        .bind(input.published)
        .bind(input.summary.trim())
        .bind(zip)
        .bind(services.join(" "))
        .bind(input.languages.trim())
        .bind(input.insurance.trim())
        .bind(input.accreditation.trim())
        .bind(input.accreditation_number.trim())
        .bind(input.accreditation_expires.map(Day))
        .bind(input.licence.trim())
        .bind(input.licence_number.trim())
        .bind(input.licence_expires.map(Day))
        .bind(input.intake_phone.trim())
        .bind(input.intake_hours.trim())
        .bind(Instant::now())
        .bind(grant.actor().user_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "program_profile",
                record_id: Some(program_id),
                patient_id: None,
                detail: if input.published {
                    "published".into()
                } else {
                    "draft".into()
                },
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds each program's tracks and their weekly pattern (two queries for any number).
    async fn with_tracks(&self, rows: Vec<ProfileRow>) -> Result<Vec<ProgramProfile>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.program_id.to_string()).collect();
        // Ids are integers from our own rows, so listing them inline is safe.
        let in_list = ids.join(",");
        let tracks: Vec<(i64, i64, String, Flag)> = sqlx::query_as(&format!(
            "SELECT id, program_id, name, telehealth FROM tracks
             WHERE program_id IN ({in_list}) ORDER BY program_id, name, id"
        ))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let slot_rows: Vec<(i64, i64, String, String)> = sqlx::query_as(&format!(
            "SELECT ts.track_id, ts.weekday, ts.start_time, ts.end_time FROM track_slots ts
             JOIN tracks t ON t.id = ts.track_id WHERE t.program_id IN ({in_list})
             ORDER BY ts.track_id, ts.weekday, ts.start_time"
        ))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut slots: HashMap<i64, Vec<WeeklySlot>> = HashMap::new();
        for (track_id, weekday, start, end) in slot_rows {
            let slot =
                WeeklySlot::new(weekday_from(weekday)?, time_from(&start)?, time_from(&end)?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            slots.entry(track_id).or_default().push(slot);
        }
        let mut by_program: HashMap<i64, Vec<PublicTrack>> = HashMap::new();
        for (id, program_id, name, telehealth) in tracks {
            let slots = slots.remove(&id).unwrap_or_default();
            // A track with no weekly pattern tells a visitor nothing about when to come.
            if !slots.is_empty() {
                by_program.entry(program_id).or_default().push(PublicTrack {
                    name,
                    telehealth: telehealth.0,
                    slots,
                });
            }
        }
        rows.into_iter()
            .map(|r| {
                let tracks = by_program.remove(&r.program_id).unwrap_or_default();
                r.into_profile(tracks)
            })
            .collect()
    }
}
