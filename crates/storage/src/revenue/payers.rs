//! Payers and each site's billing-provider settings: the organisation's own facts, which hold
//! no patient's record, so reading them is not audited; every change is.

use serde::Serialize;
use trellis_domain::revenue::payer::{validate_payer, PayerTerms};
use trellis_domain::revenue::provider::{validate_provider, BillingProvider};

use crate::access::{can, Grant};
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Flag, Instant, Result, Store, StoreError};

/// A payer on file.
#[derive(Debug, Clone, Serialize)]
pub struct PayerRecord {
    /// Id.
    pub id: i64,
    /// Its terms as last saved.
    pub terms: PayerTerms,
    /// When it was retired (no new coverages name it), if it was.
    pub retired_at: Option<Instant>,
    /// When it was last changed.
    pub updated_at: Instant,
    /// Who last changed it.
    pub updated_by: String,
}

/// A site's billing-provider settings on file.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderRecord {
    /// The site.
    pub site_id: i64,
    /// The settings.
    pub provider: BillingProvider,
    /// When they were last changed.
    pub updated_at: Instant,
    /// Who last changed them.
    pub updated_by: String,
}

const PAYER_SELECT: &str = "SELECT p.id, p.name, p.payer_code, p.claim_type, p.sud_procedure,
        p.mh_procedure, p.sud_revenue_code, p.mh_revenue_code, p.unit, p.rate_cents,
        p.minimum_minutes, p.needs_prior_authorisation, p.timely_filing_days, p.retired_at,
        p.updated_at, u.username
     FROM payers p JOIN users u ON u.id = p.updated_by";

#[derive(sqlx::FromRow)]
struct PayerRow {
    id: i64,
    name: String,
    payer_code: String,
    claim_type: String,
    sud_procedure: String,
    mh_procedure: String,
    sud_revenue_code: Option<String>,
    mh_revenue_code: Option<String>,
    unit: String,
    rate_cents: i64,
    minimum_minutes: i64,
    #[sqlx(try_from = "Flag")]
    needs_prior_authorisation: bool,
    timely_filing_days: i64,
    retired_at: Option<Instant>,
    updated_at: Instant,
    username: String,
}

impl PayerRow {
    fn record(self) -> Result<PayerRecord> {
        Ok(PayerRecord {
            id: self.id,
            terms: PayerTerms {
                name: self.name,
                payer_code: self.payer_code,
                claim_type: parse_code(&self.claim_type, "claim type")?,
                sud_procedure: self.sud_procedure,
                mh_procedure: self.mh_procedure,
                sud_revenue_code: self.sud_revenue_code,
                mh_revenue_code: self.mh_revenue_code,
                unit: parse_code(&self.unit, "unit definition")?,
                rate_cents: self.rate_cents,
                minimum_minutes: self.minimum_minutes,
                needs_prior_authorisation: self.needs_prior_authorisation,
                timely_filing_days: self.timely_filing_days,
            },
            retired_at: self.retired_at,
            updated_at: self.updated_at,
            updated_by: self.username,
        })
    }
}

/// The terms with text trimmed and codes in capitals, or every problem found.
fn cleaned(t: &PayerTerms) -> Result<PayerTerms> {
    let upper = |s: &str| s.trim().to_uppercase();
    let clean = PayerTerms {
        name: t.name.split_whitespace().collect::<Vec<_>>().join(" "),
        payer_code: upper(&t.payer_code),
        sud_procedure: upper(&t.sud_procedure),
        mh_procedure: upper(&t.mh_procedure),
        sud_revenue_code: t
            .sud_revenue_code
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        mh_revenue_code: t
            .mh_revenue_code
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        ..t.clone()
    };
    let errors = validate_payer(&clean);
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

impl Store {
    /// Every payer, current ones first, each group by name.
    pub async fn payers(&self, _grant: &Grant<can::ReadBilling>) -> Result<Vec<PayerRecord>> {
        let rows: Vec<PayerRow> = sqlx::query_as(&format!(
            "{PAYER_SELECT} ORDER BY CASE WHEN p.retired_at IS NULL THEN 0 ELSE 1 END, p.name, p.id"
        ))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        rows.into_iter().map(PayerRow::record).collect()
    }

    /// One payer, current or retired.
    pub async fn payer(&self, _grant: &Grant<can::ReadBilling>, id: i64) -> Result<PayerRecord> {
        self.payer_by_id(id).await
    }

    pub(crate) async fn payer_by_id(&self, id: i64) -> Result<PayerRecord> {
        let row: Option<PayerRow> = sqlx::query_as(&format!("{PAYER_SELECT} WHERE p.id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?;
        row.ok_or(StoreError::NotFound("payer"))?.record()
    }

    // Two current payers with one payer id would send claims to the same place under two
    // sets of terms.
    async fn refuse_duplicate_payer(&self, code: &str, except: Option<i64>) -> Result<()> {
        let taken: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM payers WHERE payer_code = $1 AND retired_at IS NULL AND id <> $2",
        )
        .bind(code)
        .bind(except.unwrap_or(0))
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        match taken {
            Some(_) => Err(StoreError::invalid(
                "payer_code",
                "is already on file for another payer; change that payer instead",
            )),
            None => Ok(()),
        }
    }

    /// Adds a payer with its terms (audited).
    pub async fn add_payer(
        &self,
        grant: &Grant<can::ManageBilling>,
        terms: &PayerTerms,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let t = cleaned(terms)?;
        self.refuse_duplicate_payer(&t.payer_code, None).await?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO payers (name, payer_code, claim_type, sud_procedure, mh_procedure,
                 sud_revenue_code, mh_revenue_code, unit, rate_cents, minimum_minutes,
                 needs_prior_authorisation, timely_filing_days, created_at, created_by,
                 updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13, $14)
             RETURNING id",
        )
        .bind(&t.name)
        .bind(&t.payer_code)
        .bind(t.claim_type.code())
        .bind(&t.sud_procedure)
        .bind(&t.mh_procedure)
        .bind(&t.sud_revenue_code)
        .bind(&t.mh_revenue_code)
        .bind(t.unit.code())
        .bind(t.rate_cents)
        .bind(t.minimum_minutes)
        .bind(t.needs_prior_authorisation)
        .bind(t.timely_filing_days)
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "payer",
                record_id: Some(id),
                patient_id: None,
                detail: format!("claim type {}", t.claim_type.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a payer's terms, or retires it (audited). A retired payer stays on the
    /// coverages and claims that name it.
    pub async fn update_payer(
        &self,
        grant: &Grant<can::ManageBilling>,
        id: i64,
        terms: &PayerTerms,
        retire: bool,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let before = self.payer_by_id(id).await?;
        let t = cleaned(terms)?;
        if before.retired_at.is_some() {
            return Err(StoreError::Conflict(
                "this payer was retired; add it again instead".into(),
            ));
        }
        self.refuse_duplicate_payer(&t.payer_code, Some(id)).await?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE payers SET name = $1, payer_code = $2, claim_type = $3, sud_procedure = $4,
                 mh_procedure = $5, sud_revenue_code = $6, mh_revenue_code = $7, unit = $8,
                 rate_cents = $9, minimum_minutes = $10, needs_prior_authorisation = $11,
                 timely_filing_days = $12, updated_at = $13, updated_by = $14, retired_at = $15
             WHERE id = $16",
        )
        .bind(&t.name)
        .bind(&t.payer_code)
        .bind(t.claim_type.code())
        .bind(&t.sud_procedure)
        .bind(&t.mh_procedure)
        .bind(&t.sud_revenue_code)
        .bind(&t.mh_revenue_code)
        .bind(t.unit.code())
        .bind(t.rate_cents)
        .bind(t.minimum_minutes)
        .bind(t.needs_prior_authorisation)
        .bind(t.timely_filing_days)
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
                record_type: "payer",
                record_id: Some(id),
                patient_id: None,
                detail: format!(
                    "rate {} -> {}, minimum minutes {} -> {}",
                    before.terms.rate_cents,
                    t.rate_cents,
                    before.terms.minimum_minutes,
                    t.minimum_minutes
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every site's billing-provider settings that have been entered.
    pub async fn billing_providers(
        &self,
        _grant: &Grant<can::ReadBilling>,
    ) -> Result<Vec<ProviderRecord>> {
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Instant,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT b.site_id, b.legal_name, b.npi, b.tax_id, b.taxonomy, b.address_line,
                    b.city, b.state, b.zip, b.place_of_service, b.updated_at, u.username
             FROM billing_providers b JOIN users u ON u.id = b.updated_by ORDER BY b.site_id",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ProviderRecord {
                site_id: r.0,
                provider: BillingProvider {
                    legal_name: r.1,
                    npi: r.2,
                    tax_id: r.3,
                    taxonomy: r.4,
                    address_line: r.5,
                    city: r.6,
                    state: r.7,
                    zip: r.8,
                    place_of_service: r.9,
                },
                updated_at: r.10,
                updated_by: r.11,
            })
            .collect())
    }

    /// Saves a site's billing-provider settings, replacing what was there (audited).
    pub async fn set_billing_provider(
        &self,
        grant: &Grant<can::ManageBilling>,
        site_id: i64,
        provider: &BillingProvider,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        self.site(site_id).await?;
        let p = validate_provider(provider).map_err(StoreError::Invalid)?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM billing_providers WHERE site_id = $1")
            .bind(site_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO billing_providers (site_id, legal_name, npi, tax_id, taxonomy,
                 address_line, city, state, zip, place_of_service, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(site_id)
        .bind(&p.legal_name)
        .bind(&p.npi)
        .bind(&p.tax_id)
        .bind(&p.taxonomy)
        .bind(&p.address_line)
        .bind(&p.city)
        .bind(&p.state)
        .bind(&p.zip)
        .bind(&p.place_of_service)
        .bind(now)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "billing_provider",
                record_id: Some(site_id),
                patient_id: None,
                detail: format!("site {site_id}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
