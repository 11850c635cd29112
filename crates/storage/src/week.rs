//! A site's week at a glance: its group sessions and booked appointments from Monday to Sunday,
//! for the week view of the schedule. Rosters stay on the day sheet: the week shows no more
//! than when and where each session meets, and whose appointment it is.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::access::{can, patient_scope_sql, Grant};
use crate::appointments::{Appointment, APPOINTMENT_SELECT};
use crate::audit::{self, AuditEvent};
use crate::schedule::{GroupSession, SESSION_SELECT};
use crate::{Day, Result, Store};

/// One site's week: sessions and appointments in start order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SiteWeek {
    /// The Monday the week starts on.
    pub monday: NaiveDate,
    /// Group sessions meeting that week (materialised from the tracks if needed).
    pub sessions: Vec<GroupSession>,
    /// Booked appointments that week of the patients the reader may see.
    pub appointments: Vec<Appointment>,
}

impl Store {
    /// The week starting on `monday` at a site: its group sessions (no rosters) and the booked
    /// appointments of the patients the reader may see, each patient shown audited.
    pub async fn site_week(
        &self,
        grant: &Grant<can::ReadSchedule>,
        site_id: i64,
        monday: NaiveDate,
    ) -> Result<SiteWeek> {
        let sunday = monday
            .checked_add_days(Days::new(6))
            .ok_or_else(|| crate::StoreError::invalid("date", "is out of range"))?;
        self.materialise_sessions(grant, site_id, monday, sunday)
            .await?;
        let sessions: Vec<GroupSession> = sqlx::query_as(&format!(
            "{SESSION_SELECT} JOIN programs pr ON pr.id = t.program_id
             WHERE pr.site_id = $1 AND gs.local_date >= $2 AND gs.local_date <= $3
             ORDER BY gs.starts_at, t.name"
        ))
        .bind(site_id)
        .bind(Day(monday))
        .bind(Day(sunday))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let sql = format!(
            "{APPOINTMENT_SELECT} WHERE a.site_id = $1 AND a.local_date >= $2 AND a.local_date <= $3
             AND a.status = 'booked' AND {} ORDER BY a.starts_at, a.id",
            patient_scope_sql(grant.actor().role, "$4")
        );
        let mut appointments: Vec<Appointment> = sqlx::query_as(&sql)
            .bind(site_id)
            .bind(Day(monday))
            .bind(Day(sunday))
            .bind(grant.actor().staff_id()?)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        self.fill_patient_names(&mut *self.read_conn().await?, &mut appointments)
            .await?;
        let shown: Vec<i64> = appointments.iter().map(|a| a.patient_id).collect();
        audit::record_shown(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "site_week",
                record_id: Some(site_id),
                patient_id: None,
                detail: Day(monday).to_db(),
            },
            &shown,
        )
        .await?;
        Ok(SiteWeek {
            monday,
            sessions,
            appointments,
        })
    }
}
