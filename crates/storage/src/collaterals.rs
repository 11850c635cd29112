//! Collateral contacts: the family members, sponsors, probation officers and employers linked
//! to a patient, and what each may receive right now under the patient's consents.
//!
//! Contact details are PHI and sealed; a contact is end-dated rather than deleted. What a
//! collateral may receive is the domain's consent check (`trellis_domain::consent::may_receive`),
//! never a list kept here, so a revoked or expired consent stops it at once.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::consent::{may_receive, CollateralAllowance, CollateralRelationship, Consent};
use trellis_domain::patient::FieldError;

use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::confidentiality::limit;
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

const COLLATERAL_DETAILS: &str = "collateral_contacts.details";

/// A collateral contact as entered on the form or sent to the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewCollateral {
    /// How they are related to the patient.
    pub relationship: CollateralRelationship,
    /// Their name.
    pub name: String,
    /// Their organisation (court, employer…), if any.
    pub organisation: String,
    /// Phone.
    pub phone: String,
    /// Email.
    pub email: String,
    /// Anything staff should know (best time to call, what the patient wants shared).
    pub notes: String,
}

/// A collateral contact on file, with what they may receive as of the moment it was read.
#[derive(Debug, Clone, Serialize)]
pub struct CollateralRecord {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The contact as entered.
    pub contact: NewCollateral,
    /// Where a future portal login for this contact attaches; always empty for now.
    pub portal_account_id: Option<i64>,
    /// When they were added.
    pub added_at: Instant,
    /// Who added them.
    pub added_by: String,
    /// The last day they were a contact, once end-dated.
    pub ended_on: Option<Day>,
    /// Consents that name this contact by link.
    pub linked_consents: Vec<i64>,
    /// What they may receive now, consent by consent (empty once end-dated).
    pub may_receive: Vec<CollateralAllowance>,
}

impl CollateralRecord {
    /// Whether the contact is current (not end-dated).
    pub fn is_current(&self) -> bool {
        self.ended_on.is_none()
    }

    /// How the contact is named on a consent or a disclosure: "Name, Organisation".
    pub fn recipient_label(&self) -> String {
        recipient_label(&self.contact)
    }
}

/// "Name, Organisation", or the name alone.
pub fn recipient_label(contact: &NewCollateral) -> String {
    let name = contact.name.trim();
    match contact.organisation.trim() {
        "" => name.to_owned(),
        org => format!("{name}, {org}"),
    }
}

/// The stored, sealed part of a contact (everything but the relationship).
#[derive(Serialize, Deserialize)]
struct Details {
    name: String,
    organisation: String,
    phone: String,
    email: String,
    notes: String,
}

fn validate(new: &NewCollateral) -> Result<Details> {
    let mut errors = Vec::new();
    let details = Details {
        name: new.name.trim().to_owned(),
        organisation: new.organisation.trim().to_owned(),
        phone: new.phone.trim().to_owned(),
        email: new.email.trim().to_owned(),
        notes: new.notes.trim().to_owned(),
    };
    if details.name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    }
    limit("name", &details.name, 200, &mut errors);
    limit("organisation", &details.organisation, 200, &mut errors);
    limit("notes", &details.notes, 2000, &mut errors);
    let digits = details.phone.chars().filter(char::is_ascii_digit).count();
    if !details.phone.is_empty()
        && (details.phone.chars().count() > 40
            || digits < 7
            || !details
                .phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +()-.x".contains(c)))
    {
        errors.push(FieldError::new(
            "phone",
            "enter a phone number, e.g. 555-201-3344",
        ));
    }
    let email_ok = details.email.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
    }) && !details.email.chars().any(char::is_whitespace)
        && details.email.chars().count() <= 200;
    if !details.email.is_empty() && !email_ok {
        errors.push(FieldError::new(
            "email",
            "enter an email address, e.g. name@example.org",
        ));
    }
    if errors.is_empty() {
        Ok(details)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

type CollateralRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Instant,
    String,
    Option<Day>,
);

impl Store {
    /// Links a collateral contact to the patient (audited).
    pub async fn add_collateral(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        new: &NewCollateral,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let details = self.seal_details(&validate(new)?)?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO collateral_contacts (patient_id, relationship, details, added_at,
                 added_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $4) RETURNING id",
        )
        .bind(grant.patient_id())
        .bind(new.relationship.code())
        .bind(details)
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "collateral_contact",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: new.relationship.code().into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Corrects a current collateral contact's details (audited; an end-dated one answers
    /// Conflict).
    pub async fn update_collateral(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        collateral_id: i64,
        new: &NewCollateral,
    ) -> Result<()> {
        let details = self.seal_details(&validate(new)?)?;
        let mut tx = self.begin().await?;
        self.current_collateral(&mut tx, grant.patient_id(), collateral_id)
            .await?;
        sqlx::query(
            "UPDATE collateral_contacts SET relationship = $1, details = $2, updated_at = $3
             WHERE id = $4",
        )
        .bind(new.relationship.code())
        .bind(details)
        .bind(Instant::now())
        .bind(collateral_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "collateral_contact",
                record_id: Some(collateral_id),
                patient_id: Some(grant.patient_id()),
                detail: new.relationship.code().into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// End-dates a collateral contact on `on` (today or earlier): they stay in the record and
    /// in past disclosures, but may receive nothing more (audited).
    pub async fn end_collateral(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        collateral_id: i64,
        on: NaiveDate,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let zone = self.patient_zone(grant.patient_id()).await?;
        if on > Utc::now().with_timezone(&zone).date_naive() {
            return Err(StoreError::invalid("ended_on", "cannot be in the future"));
        }
        let mut tx = self.begin().await?;
        self.current_collateral(&mut tx, grant.patient_id(), collateral_id)
            .await?;
        sqlx::query(
            "UPDATE collateral_contacts SET ended_on = $1, ended_by = $2, updated_at = $3
             WHERE id = $4",
        )
        .bind(Day(on))
        .bind(by)
        .bind(Instant::now())
        .bind(collateral_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "end",
                record_type: "collateral_contact",
                record_id: Some(collateral_id),
                patient_id: Some(grant.patient_id()),
                detail: format!("ended {on}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient's collateral contacts, current first, each with what they may receive now
    /// (audited).
    pub async fn collaterals(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
    ) -> Result<Vec<CollateralRecord>> {
        let patient_id = grant.patient_id();
        let zone = self.patient_zone(patient_id).await?;
        let now = Utc::now().with_timezone(&zone);
        let loaded = self.load_consents(patient_id).await?;
        let consents: Vec<Consent> = loaded.iter().map(|l| l.consent.clone()).collect();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let rows: Vec<CollateralRow> = sqlx::query_as(
            "SELECT c.id, c.patient_id, c.relationship, c.details, c.portal_account_id,
                    c.added_at, u.display_name, c.ended_on
             FROM collateral_contacts c JOIN users u ON u.id = c.added_by
             WHERE c.patient_id = $1
             ORDER BY CASE WHEN c.ended_on IS NULL THEN 0 ELSE 1 END, c.id",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "collateral_contact",
                record_id: None,
                patient_id: Some(patient_id),
                detail: format!("collateral contacts ({})", rows.len()),
            },
        )
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(
                |(id, patient_id, relationship, details, portal, added_at, added_by, ended_on)| {
                    let d: Details = serde_json::from_str(
                        &self.open(COLLATERAL_DETAILS, &details)?,
                    )
                    .map_err(|e| StoreError::Corrupt(format!("collateral contact {id}: {e}")))?;
                    let contact = NewCollateral {
                        relationship: parse_code(&relationship, "collateral relationship")?,
                        name: d.name,
                        organisation: d.organisation,
                        phone: d.phone,
                        email: d.email,
                        notes: d.notes,
                    };
                    let linked: Vec<&crate::confidentiality::LoadedConsent> = loaded
                        .iter()
                        .filter(|l| l.collateral_id == Some(id))
                        .collect();
                    let allowances = if ended_on.is_some() {
                        Vec::new()
                    } else {
                        // The consent's own wording first: it is the legal record.
                        let mut names: Vec<String> = linked
                            .iter()
                            .flat_map(|l| l.consent.recipients.iter())
                            .map(|r| r.describe().to_owned())
                            .collect();
                        names.push(recipient_label(&contact));
                        names.push(contact.name.trim().to_owned());
                        may_receive(&consents, &names, &now)
                    };
                    Ok(CollateralRecord {
                        id,
                        patient_id,
                        contact,
                        portal_account_id: portal,
                        added_at,
                        added_by,
                        ended_on,
                        linked_consents: linked.iter().map(|l| l.consent.id.0).collect(),
                        may_receive: allowances,
                    })
                },
            )
            .collect()
    }

    /// The patient a collateral contact belongs to (for API calls addressed by contact id).
    pub async fn collateral_patient_id(&self, collateral_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM collateral_contacts WHERE id = $1")
            .bind(collateral_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("collateral contact"))
    }

    /// Checks that a collateral contact is the patient's and current.
    pub(crate) async fn current_collateral(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        patient_id: i64,
        collateral_id: i64,
    ) -> Result<()> {
        let found: Option<Option<Day>> = sqlx::query_scalar(
            "SELECT ended_on FROM collateral_contacts WHERE id = $1 AND patient_id = $2",
        )
        .bind(collateral_id)
        .bind(patient_id)
        .fetch_optional(&mut **tx)
        .await?;
        match found {
            None => Err(StoreError::NotFound("collateral contact")),
            Some(Some(_)) => Err(StoreError::Conflict(
                "this collateral contact has been end-dated".into(),
            )),
            Some(None) => Ok(()),
        }
    }

    fn seal_details(&self, details: &Details) -> Result<String> {
        let json = serde_json::to_string(details)
            .map_err(|e| StoreError::Corrupt(format!("collateral contact: {e}")))?;
        self.seal(COLLATERAL_DETAILS, &json)
    }
}
