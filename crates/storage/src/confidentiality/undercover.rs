//! Court orders placing an undercover agent or informant in the program (42 CFR 2.67). The
//! privacy officer records each with the findings and limits the rule requires; nothing is
//! disclosed under one (it is not a disclosure authority), and its page states the limit on
//! what the agent learns.

use chrono::Utc;
use serde::Serialize;
use trellis_domain::consent::{validate_undercover_order, UndercoverOrder};
use trellis_domain::patient::FieldError;

use super::limit;
use crate::access::{can, Grant};
use crate::audit::{self, AuditEvent};
use crate::{Day, Instant, Result, Store, StoreError};

const TERMS: &str = "undercover_orders.terms";

/// An order under §2.67 on file.
#[derive(Debug, Clone, Serialize)]
pub struct UndercoverRecord {
    /// Id.
    pub id: i64,
    /// The order as recorded.
    pub order: UndercoverOrder,
    /// Whether today is within the placement.
    pub running: bool,
    /// When it was recorded.
    pub recorded_at: Instant,
    /// Who recorded it.
    pub recorded_by: String,
}

impl Store {
    /// Records an order placing an undercover agent or informant, after checking its findings,
    /// limits and a placement of at most twelve months (audited).
    pub async fn record_undercover_order(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
        order: &UndercoverOrder,
    ) -> Result<i64> {
        let mut errors = Vec::new();
        for (field, text) in [
            ("court", &order.court),
            ("case_number", &order.case_number),
            ("applicant", &order.applicant),
            ("protective_measures", &order.protective_measures),
        ] {
            limit(field, text, 1000, &mut errors);
        }
        if let Err(problems) = validate_undercover_order(order, Utc::now().date_naive()) {
            errors.extend(
                problems
                    .into_iter()
                    .map(|(field, p)| FieldError::new(field, p.to_string())),
            );
        }
        let (Some(placed_on), Some(ends_on), true) =
            (order.placed_on, order.ends_on, errors.is_empty())
        else {
            return Err(StoreError::Invalid(errors));
        };
        let trimmed = UndercoverOrder {
            court: order.court.trim().into(),
            case_number: order.case_number.trim().into(),
            applicant: order.applicant.trim().into(),
            protective_measures: order.protective_measures.trim().into(),
            ..order.clone()
        };
        let sealed = serde_json::to_string(&trimmed)
            .map_err(|e| StoreError::Corrupt(format!("undercover order: {e}")))?;
        let by = grant.actor().staff_id()?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO undercover_orders (terms, placed_on, ends_on, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(self.seal(TERMS, &sealed)?)
        .bind(Day(placed_on))
        .bind(Day(ends_on))
        .bind(Instant::now())
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "undercover_order",
                record_id: Some(id),
                patient_id: None,
                detail: "42 CFR 2.67 placement order".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every order under §2.67, newest first, for the privacy officer (audited).
    pub async fn undercover_orders(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
    ) -> Result<Vec<UndercoverRecord>> {
        let rows: Vec<(i64, String, Day, Day, Instant, String)> = sqlx::query_as(
            "SELECT o.id, o.terms, o.placed_on, o.ends_on, o.recorded_at, u.display_name
             FROM undercover_orders o JOIN users u ON u.id = o.recorded_by ORDER BY o.id DESC",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "undercover_order",
                record_id: None,
                patient_id: None,
                detail: format!("{} placement orders", rows.len()),
            },
        )
        .await?;
        let today = Utc::now().date_naive();
        rows.into_iter()
            .map(
                |(id, terms, placed_on, ends_on, recorded_at, recorded_by)| {
                    let order: UndercoverOrder = serde_json::from_str(&self.open(TERMS, &terms)?)
                        .map_err(|e| {
                        StoreError::Corrupt(format!("undercover order {id}: {e}"))
                    })?;
                    Ok(UndercoverRecord {
                        id,
                        order,
                        running: (placed_on.0..=ends_on.0).contains(&today),
                        recorded_at,
                        recorded_by,
                    })
                },
            )
            .collect()
    }
}
