//! Sites and programs: the organisation patients are treated in.

use serde::Serialize;
use sqlx::FromRow;
use trellis_domain::care::LevelOfCare;

use crate::access::{can, Grant};
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Flag, Instant, Result, Store, StoreError};

/// A clinic site with its own time zone.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Site {
    /// Id.
    pub id: i64,
    /// Short code, e.g. "DTN".
    pub code: String,
    /// Name, e.g. "Downtown".
    pub name: String,
    /// IANA time zone, e.g. "America/New_York".
    pub timezone: String,
    /// Street address.
    pub address: Option<String>,
    /// Main phone.
    pub phone: Option<String>,
}

/// A treatment program at a site (e.g. Adult SUD IOP).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Program {
    /// Id.
    pub id: i64,
    /// Site.
    pub site_id: i64,
    /// Site name.
    pub site_name: String,
    /// Name.
    pub name: String,
    /// Population served: "adult", "adolescent", "co_occurring".
    pub population: String,
    /// ASAM level code of the program.
    pub level_of_care: String,
    /// Weekly service hours a patient must receive.
    pub weekly_minimum_hours: f64,
    /// Group size cap.
    pub max_group_size: i64,
    /// Whether it admits patients.
    #[sqlx(try_from = "Flag")]
    pub active: bool,
}

impl Program {
    /// The program's level of care.
    pub fn level(&self) -> Result<LevelOfCare> {
        parse_code(&self.level_of_care, "level of care")
    }
}

/// A new site.
#[derive(Debug, Clone)]
pub struct NewSite {
    /// Short code.
    pub code: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// Address.
    pub address: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// A new program.
#[derive(Debug, Clone)]
pub struct NewProgram {
    /// Site.
    pub site_id: i64,
    /// Name.
    pub name: String,
    /// Population served.
    pub population: String,
    /// Level of care.
    pub level_of_care: LevelOfCare,
    /// Weekly minimum hours.
    pub weekly_minimum_hours: f64,
    /// Group cap.
    pub max_group_size: i64,
}

const PROGRAM_SELECT: &str =
    "SELECT pr.id, pr.site_id, s.name AS site_name, pr.name, pr.population,
    pr.level_of_care, pr.weekly_minimum_hours, pr.max_group_size, pr.active
    FROM programs pr JOIN sites s ON s.id = pr.site_id";

impl Store {
    /// Creates a site.
    pub async fn create_site(
        &self,
        grant: &Grant<can::ManagePrograms>,
        site: NewSite,
    ) -> Result<i64> {
        if site.code.trim().is_empty() || site.name.trim().is_empty() {
            return Err(StoreError::invalid(
                "name",
                "site code and name are required",
            ));
        }
        if site.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(StoreError::invalid(
                "timezone",
                "must be an IANA time zone such as America/New_York",
            ));
        }
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sites (code, name, timezone, address, phone, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(site.code.trim())
        .bind(site.name.trim())
        .bind(&site.timezone)
        .bind(&site.address)
        .bind(&site.phone)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "a site with this code already exists"))?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "site",
                record_id: Some(id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates a program at a site.
    pub async fn create_program(
        &self,
        grant: &Grant<can::ManagePrograms>,
        program: NewProgram,
    ) -> Result<i64> {
        if program.name.trim().is_empty() {
            return Err(StoreError::invalid("name", "is required"));
        }
        if !(0.0..=168.0).contains(&program.weekly_minimum_hours) {
            return Err(StoreError::invalid(
                "weekly_minimum_hours",
                "must be between 0 and 168",
            ));
        }
        if !(1..=100).contains(&program.max_group_size) {
            return Err(StoreError::invalid(
                "max_group_size",
                "must be between 1 and 100",
            ));
        }
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO programs (site_id, name, population, level_of_care, weekly_minimum_hours,
                 max_group_size, active, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(program.site_id)
        .bind(program.name.trim())
        .bind(&program.population)
        .bind(program.level_of_care.code())
        .bind(program.weekly_minimum_hours)
        .bind(program.max_group_size)
        .bind(true)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "this site already has a program with this name"))?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "program",
                record_id: Some(id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every site, by name.
    pub async fn sites(&self) -> Result<Vec<Site>> {
        Ok(sqlx::query_as(
            "SELECT id, code, name, timezone, address, phone FROM sites ORDER BY name, id",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// One site.
    pub async fn site(&self, id: i64) -> Result<Site> {
        sqlx::query_as("SELECT id, code, name, timezone, address, phone FROM sites WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("site"))
    }

    /// Every program, by site and name.
    pub async fn programs(&self) -> Result<Vec<Program>> {
        Ok(
            sqlx::query_as(&format!("{PROGRAM_SELECT} ORDER BY s.name, pr.name, pr.id"))
                .fetch_all(&mut *self.read_conn().await?)
                .await?,
        )
    }

    /// One program.
    pub async fn program(&self, id: i64) -> Result<Program> {
        sqlx::query_as(&format!("{PROGRAM_SELECT} WHERE pr.id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("program"))
    }
}

/// Maps a unique-constraint violation to a conflict the user can act on.
pub(crate) fn unique_violation(e: sqlx::Error, message: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(message.to_owned())
        }
        _ => StoreError::Database(e),
    }
}
