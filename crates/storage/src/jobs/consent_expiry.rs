//! The daily consent-expiry check: consents that expire on a date within the next 14 days are
//! put in front of the privacy officer and the patient's counselor as tasks, once each, so a
//! consent is renewed (or knowingly allowed to lapse) before disclosures start being refused.

use crate::access::Actor;
use crate::audit::{self, AuditEvent};
use crate::tasks::{open_task, NewTask};
use crate::{Day, Instant, Result, Store};
use chrono::Utc;
use trellis_domain::access::Role;

/// The consent-expiry job's kind.
pub const CONSENT_EXPIRY: &str = "consent_expiry";

/// How many days ahead the check looks.
pub const EXPIRY_NOTICE_DAYS: i64 = 14;

impl Store {
    /// Runs the consent-expiry check once; returns how many consents it notified about, in
    /// words without personal data.
    pub async fn consent_expiry_check(&self) -> Result<String> {
        let actor = Actor::system(CONSENT_EXPIRY);
        let pending: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, patient_id FROM consents
             WHERE revoked_at IS NULL AND expiry_notice_at IS NULL ORDER BY patient_id, id",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut patients: Vec<i64> = pending.iter().map(|(_, p)| *p).collect();
        patients.dedup();
        let mut notified = 0;
        for patient_id in patients {
            let zone = self.patient_zone(patient_id).await?;
            let today = Utc::now().with_timezone(&zone).date_naive();
            let counselor: Option<i64> = sqlx::query_scalar(
                "SELECT primary_counselor_id FROM episodes
                 WHERE patient_id = $1 AND status = 'open' AND primary_counselor_id IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(patient_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?;
            for loaded in self.load_consents(patient_id).await? {
                let id = loaded.consent.id.0;
                if !pending.contains(&(id, patient_id)) {
                    continue;
                }
                let Some(expires) = loaded.consent.expires_within(today, EXPIRY_NOTICE_DAYS) else {
                    continue;
                };
                // Ids and dates only: task titles are shown in lists and must not carry PHI.
                let title = format!(
                    "Consent #{id} expires at the end of {}: renew it with the patient or \
                     let it lapse (42 CFR 2.31(a)(7))",
                    crate::readable_day(expires)
                );
                let mut tx = self.begin().await?;
                let assignees = [(None, Some(Role::PrivacyOfficer)), (counselor, None)];
                for (assigned_to, assigned_role) in assignees {
                    if assigned_to.is_none() && assigned_role.is_none() {
                        continue;
                    }
                    open_task(
                        self,
                        &mut tx,
                        &actor,
                        &NewTask {
                            patient_id: Some(patient_id),
                            flag_id: None,
                            kind: "consent_expiring",
                            title: &title,
                            priority: "routine",
                            assigned_to,
                            assigned_role,
                            due_on: Some(Day(expires)),
                        },
                    )
                    .await?;
                }
                sqlx::query("UPDATE consents SET expiry_notice_at = $1 WHERE id = $2")
                    .bind(Instant::now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                audit::append(
                    &mut tx,
                    &actor,
                    AuditEvent {
                        action: "expiry_notice",
                        record_type: "consent",
                        record_id: Some(id),
                        patient_id: Some(patient_id),
                        detail: format!("expires {expires}"),
                    },
                )
                .await?;
                tx.commit().await?;
                notified += 1;
            }
        }
        Ok(format!(
            "{notified} consents expiring within {EXPIRY_NOTICE_DAYS} days notified"
        ))
    }
}
