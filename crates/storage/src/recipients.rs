//! The Part 2 recipient directory: the people and organisations disclosures may go to, each with
//! the class the privacy officer gave it. A disclosure names an entry, so the class that decides
//! which consents reach the recipient is never typed by the person disclosing.
//!
//! Names and contact details are sealed; an entry is retired rather than deleted so the
//! accounting of disclosures keeps pointing at it.

use serde::{Deserialize, Serialize};
use trellis_domain::consent::RecipientKind;
use trellis_domain::patient::FieldError;

use crate::access::{can, Grant};
use crate::audit::{self, AuditEvent};
use crate::confidentiality::limit;
use crate::{parse_code, Instant, Result, Store, StoreError};

const RECIPIENT_DETAILS: &str = "disclosure_recipients.details";

/// A directory entry as entered by the privacy officer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewRecipient {
    /// The person or organisation, as consents name them ("Officer Dana Lee, County Probation").
    pub name: String,
    /// Their class.
    pub kind: RecipientKind,
    /// How to reach them (address, fax, secure email), for whoever sends the packet.
    pub contact: String,
}

/// A directory entry on file.
#[derive(Debug, Clone, Serialize)]
pub struct RecipientRecord {
    /// Id.
    pub id: i64,
    /// The entry as last saved.
    pub recipient: NewRecipient,
    /// When it was retired, once it has been (no new disclosures go to it).
    pub retired_at: Option<Instant>,
    /// When it was last changed.
    pub updated_at: Instant,
    /// Who last changed it.
    pub updated_by: String,
}

impl RecipientRecord {
    /// Whether new disclosures may go to this entry.
    pub fn is_current(&self) -> bool {
        self.retired_at.is_none()
    }
}

/// The sealed part of an entry.
#[derive(Serialize, Deserialize)]
struct Details {
    name: String,
    contact: String,
}

fn validate(new: &NewRecipient) -> Result<Details> {
    let details = Details {
        name: new.name.split_whitespace().collect::<Vec<_>>().join(" "),
        contact: new.contact.trim().to_owned(),
    };
    let mut errors = Vec::new();
    if details.name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    }
    limit("name", &details.name, 300, &mut errors);
    limit("contact", &details.contact, 1000, &mut errors);
    if errors.is_empty() {
        Ok(details)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

type RecipientRow = (i64, String, String, Option<Instant>, Instant, String);

impl Store {
    /// The directory, current entries first, each group by name. Anyone who may disclose reads
    /// it to choose a recipient; it holds no patient's record, so reading it is not audited.
    pub async fn recipients(&self, _grant: &Grant<can::Disclose>) -> Result<Vec<RecipientRecord>> {
        self.all_recipients().await
    }

    /// The directory, for the privacy officer who keeps it.
    pub async fn recipient_directory(
        &self,
        _grant: &Grant<can::ManageRecipients>,
    ) -> Result<Vec<RecipientRecord>> {
        self.all_recipients().await
    }

    async fn all_recipients(&self) -> Result<Vec<RecipientRecord>> {
        let rows: Vec<RecipientRow> = sqlx::query_as(
            "SELECT r.id, r.kind, r.details, r.retired_at, r.updated_at, u.username
             FROM disclosure_recipients r JOIN users u ON u.id = r.updated_by",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut records = rows
            .into_iter()
            .map(|row| self.recipient_record(row))
            .collect::<Result<Vec<_>>>()?;
        records.sort_by_cached_key(|r| {
            (
                r.retired_at.is_some(),
                r.recipient.name.to_lowercase(),
                r.id,
            )
        });
        Ok(records)
    }

    fn recipient_record(&self, row: RecipientRow) -> Result<RecipientRecord> {
        let (id, kind, details, retired_at, updated_at, updated_by) = row;
        let details: Details = serde_json::from_str(&self.open(RECIPIENT_DETAILS, &details)?)
            .map_err(|e| StoreError::Corrupt(format!("recipient {id}: {e}")))?;
        Ok(RecipientRecord {
            id,
            recipient: NewRecipient {
                name: details.name,
                kind: parse_code(&kind, "recipient class")?,
                contact: details.contact,
            },
            retired_at,
            updated_at,
            updated_by,
        })
    }

    /// One entry, current or retired.
    pub(crate) async fn recipient(&self, id: i64) -> Result<RecipientRecord> {
        let row: Option<RecipientRow> = sqlx::query_as(
            "SELECT r.id, r.kind, r.details, r.retired_at, r.updated_at, u.username
             FROM disclosure_recipients r JOIN users u ON u.id = r.updated_by WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        self.recipient_record(row.ok_or(StoreError::NotFound("recipient"))?)
    }

    /// The entries whose ids `ids_sql` selects (with one `$1` bound to `bind`), in one query.
    pub(crate) async fn recipients_among(
        &self,
        ids_sql: &str,
        bind: i64,
    ) -> Result<Vec<RecipientRecord>> {
        let rows: Vec<RecipientRow> = sqlx::query_as(&format!(
            "SELECT r.id, r.kind, r.details, r.retired_at, r.updated_at, u.username
             FROM disclosure_recipients r JOIN users u ON u.id = r.updated_by
             WHERE r.id IN ({ids_sql})"
        ))
        .bind(bind)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        rows.into_iter()
            .map(|row| self.recipient_record(row))
            .collect()
    }

    // Two current entries with one name would make a consent naming them ambiguous.
    async fn refuse_duplicate(&self, name: &str, except: Option<i64>) -> Result<()> {
        let taken = self.all_recipients().await?.into_iter().any(|r| {
            r.is_current()
                && Some(r.id) != except
                && r.recipient.name.to_lowercase() == name.to_lowercase()
        });
        if taken {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "name",
                "is already in the directory; change that entry instead",
            )]));
        }
        Ok(())
    }

    /// Adds a person or organisation to the directory with their class (audited).
    pub async fn add_recipient(
        &self,
        grant: &Grant<can::ManageRecipients>,
        new: &NewRecipient,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let details = validate(new)?;
        self.refuse_duplicate(&details.name, None).await?;
        let sealed = self.seal_recipient(&details)?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO disclosure_recipients (kind, details, created_at, created_by, updated_at,
                 updated_by)
             VALUES ($1, $2, $3, $4, $3, $4) RETURNING id",
        )
        .bind(new.kind.code())
        .bind(sealed)
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "disclosure_recipient",
                record_id: Some(id),
                patient_id: None,
                detail: format!("class {}", new.kind.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Corrects an entry's name, class or contact, or retires it (audited, with the old and new
    /// class, since the class decides which consents reach the recipient).
    pub async fn update_recipient(
        &self,
        grant: &Grant<can::ManageRecipients>,
        id: i64,
        new: &NewRecipient,
        retire: bool,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let before = self.recipient(id).await?;
        if !before.is_current() {
            return Err(StoreError::Conflict(
                "this recipient was retired; add a new entry instead".into(),
            ));
        }
        let details = validate(new)?;
        self.refuse_duplicate(&details.name, Some(id)).await?;
        let sealed = self.seal_recipient(&details)?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE disclosure_recipients SET kind = $1, details = $2, updated_at = $3,
                 updated_by = $4, retired_at = $5
             WHERE id = $6",
        )
        .bind(new.kind.code())
        .bind(sealed)
        .bind(now)
        .bind(by)
        .bind(retire.then_some(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: if retire { "retire" } else { "update" },
                record_type: "disclosure_recipient",
                record_id: Some(id),
                patient_id: None,
                detail: format!(
                    "class {} -> {}",
                    before.recipient.kind.code(),
                    new.kind.code()
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A current entry for a new disclosure, or the field error naming why it cannot be used.
    pub(crate) async fn disclosure_recipient(&self, id: Option<i64>) -> Result<RecipientRecord> {
        let refuse = |message: &str| {
            StoreError::Invalid(vec![FieldError::new("recipient_id", message.to_owned())])
        };
        let Some(id) = id else {
            return Err(refuse("choose a recipient from the directory"));
        };
        match self.recipient(id).await {
            Ok(r) if r.is_current() => Ok(r),
            Ok(_) => Err(refuse(
                "this recipient was retired from the directory; choose another",
            )),
            Err(StoreError::NotFound(_)) => Err(refuse("is not in the recipient directory")),
            Err(e) => Err(e),
        }
    }

    fn seal_recipient(&self, details: &Details) -> Result<String> {
        let json = serde_json::to_string(details)
            .map_err(|e| StoreError::Corrupt(format!("recipient: {e}")))?;
        self.seal(RECIPIENT_DETAILS, &json)
    }
}
