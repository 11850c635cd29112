//! Who may sign for a patient (42 CFR 2.14, 2.15): each site's minor-consent rule, the
//! patient's date of death with who recorded it, and the check of a signer's authority against
//! both (the rule itself is `trellis_domain::consent::check_signer`).

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use trellis_domain::consent::{
    check_signer, MinorConsentRule, PatientFacts, SignerAuthority, SignerProblem, Signing,
};

use crate::access::{can, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{Day, Instant, Result, Store, StoreError};

/// The recorded date of death, with who recorded it and when.
#[derive(Debug, Clone, Serialize)]
pub struct DeathRecord {
    /// The date of death.
    pub date_of_death: NaiveDate,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Instant,
}

impl Store {
    /// The site's minor-consent rule (the cautious default when the site has not set one).
    pub async fn minor_consent_rule(&self, site_id: i64) -> Result<MinorConsentRule> {
        self.site(site_id).await?;
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT age_of_majority, minor_alone_from FROM site_minor_consent WHERE site_id = $1",
        )
        .bind(site_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        Ok(match row {
            Some((majority, alone)) => MinorConsentRule {
                age_of_majority: majority as i32,
                minor_may_consent_alone_from: alone.map(|a| a as i32),
            },
            None => MinorConsentRule::default(),
        })
    }

    /// Sets the site's minor-consent rule, as the state's law reads (audited).
    pub async fn set_minor_consent_rule(
        &self,
        grant: &Grant<can::ManagePrograms>,
        site_id: i64,
        rule: &MinorConsentRule,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        self.site(site_id).await?;
        rule.validate().map_err(|message| {
            StoreError::invalid(
                if message.starts_with("the age of majority") {
                    "age_of_majority"
                } else {
                    "minor_may_consent_alone_from"
                },
                message,
            )
        })?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM site_minor_consent WHERE site_id = $1")
            .bind(site_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO site_minor_consent (site_id, age_of_majority, minor_alone_from,
                 updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(site_id)
        .bind(i64::from(rule.age_of_majority))
        .bind(rule.minor_may_consent_alone_from.map(i64::from))
        .bind(Instant::now())
        .bind(by)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "site_minor_consent",
                record_id: Some(site_id),
                patient_id: None,
                detail: format!(
                    "majority {}; minor alone from {}",
                    rule.age_of_majority,
                    rule.minor_may_consent_alone_from
                        .map_or("never".into(), |a| a.to_string())
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient's recorded date of death, if any (audited).
    pub async fn date_of_death(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
    ) -> Result<Option<DeathRecord>> {
        let row: Option<(Day, Instant, String)> = sqlx::query_as(
            "SELECT p.date_of_death, p.date_of_death_recorded_at, u.display_name
             FROM patients p JOIN users u ON u.id = p.date_of_death_recorded_by
             WHERE p.id = $1 AND p.date_of_death IS NOT NULL",
        )
        .bind(grant.patient_id())
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "date_of_death",
                record_id: Some(grant.patient_id()),
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        Ok(row.map(|(day, at, by)| DeathRecord {
            date_of_death: day.0,
            recorded_by: by,
            recorded_at: at,
        }))
    }

    /// Records the patient's date of death, with who recorded it (audited): from then on only
    /// an executor, administrator or next of kin signs for them (§2.15(b)).
    pub async fn record_date_of_death(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        date_of_death: Option<NaiveDate>,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let Some(day) = date_of_death else {
            return Err(StoreError::invalid("date_of_death", "is required"));
        };
        let zone = self.patient_zone(patient_id).await?;
        if day > Utc::now().with_timezone(&zone).date_naive() {
            return Err(StoreError::invalid(
                "date_of_death",
                "cannot be in the future",
            ));
        }
        let born: String = sqlx::query_scalar("SELECT date_of_birth FROM patients WHERE id = $1")
            .bind(patient_id)
            .fetch_one(&mut *self.read_conn().await?)
            .await?;
        let born = self.open_date_of_birth(&born)?;
        if day < born.0 {
            return Err(StoreError::invalid(
                "date_of_death",
                "cannot be before the date of birth",
            ));
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE patients SET date_of_death = $1, date_of_death_recorded_by = $2,
                 date_of_death_recorded_at = $3
             WHERE id = $4",
        )
        .bind(Day(day))
        .bind(by)
        .bind(Instant::now())
        .bind(patient_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "date_of_death",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether this signer may sign a consent for the patient, under their site's rule and
    /// their recorded date of death: the field error names the field to fix
    /// (`signer_authority`, `minor_also_signed`, `court_document` or `signed_on`).
    pub async fn check_consent_signer(&self, patient_id: i64, signing: &Signing) -> Result<()> {
        let (site_id, born, died): (i64, String, Option<Day>) = sqlx::query_as(
            "SELECT site_id, date_of_birth, date_of_death FROM patients WHERE id = $1",
        )
        .bind(patient_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("patient"))?;
        let born = self.open_date_of_birth(&born)?;
        let rule = self.minor_consent_rule(site_id).await?;
        let facts = PatientFacts {
            date_of_birth: born.0,
            date_of_death: died.map(|d| d.0),
        };
        check_signer(&facts, &rule, signing).map_err(|problem| {
            // Name the field the signer can fix.
            let field = match &problem {
                SignerProblem::CourtDocumentMissing => "court_document",
                SignerProblem::ParentAndMinorMustSign { .. }
                    if signing.authority == SignerAuthority::ParentOrGuardian =>
                {
                    "minor_also_signed"
                }
                SignerProblem::SignedBeforeBirth => "signed_on",
                _ => "signer_authority",
            };
            StoreError::invalid(field, problem.to_string())
        })
    }
}
