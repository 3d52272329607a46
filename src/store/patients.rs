//! Patients and their e-Health Passports, appointments, and the reminders before each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PreparedMessage, Result};
use crate::domain::channel::AccessNeed;
use crate::domain::patient::ContactPreferences;
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::schedule::{Plan, QuietHours};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub lines: Vec<String>,
    pub postcode: Option<Postcode>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }
}

/// A patient under the team's care, with their e-Health Passport.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub id: String,
    pub name: String,
    pub preferred_name: Option<String>,
    pub pronouns: Option<String>,
    pub mobile: Option<PhoneNumber>,
    pub landline: Option<PhoneNumber>,
    pub address: Address,
    pub language: Option<String>,
    pub interpreter: bool,
    pub access_needs: Vec<AccessNeed>,
    pub support_person: Option<String>,
    pub service_animal: Option<String>,
    /// `None`: the service's default quiet hours.
    pub quiet_hours: Option<QuietHours>,
    pub team: Option<String>,
    pub contact_preferences: ContactPreferences,
    pub sms_opted_out: bool,
    /// The provider's code when texts to the mobile failed for good.
    pub mobile_failed: Option<String>,
    pub urgent: bool,
    pub risk_signals: Vec<String>,
    pub notes: Option<String>,
    pub referral_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Patient {
    /// The name to use in messages.
    pub fn preferred_name(&self) -> &str {
        self.preferred_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct PatientFilter {
    pub mobile: Option<PhoneNumber>,
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentPlace {
    Home,
    Site,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    Confirmed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStatus {
    Pending,
    Sent,
    Skipped,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub id: String,
    pub appointment_id: String,
    pub offset_seconds: i64,
    /// The appointment's start less the offset.
    pub due_at: DateTime<Utc>,
    /// When it will go (moved out of quiet hours); `None` once skipped or cancelled.
    pub send_at: Option<DateTime<Utc>>,
    pub status: ReminderStatus,
    pub reason: Option<String>,
    pub version: i64,
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    pub id: String,
    pub patient_id: String,
    pub starts_at: DateTime<Utc>,
    pub place: AppointmentPlace,
    pub site_name: Option<String>,
    /// `assessment`, `home_visit` or `review`.
    pub kind: String,
    pub staff_name: Option<String>,
    pub status: AppointmentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Earliest first.
    pub reminders: Vec<Reminder>,
}

/// One reminder's plan, computed when an appointment is booked or moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPlan {
    pub offset_seconds: i64,
    pub due_at: DateTime<Utc>,
    pub plan: Plan,
}

/// What a reminder job needs to compose its message.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderContext {
    pub reminder: Reminder,
    pub appointment: Appointment,
    pub patient: Patient,
}

#[async_trait]
pub trait PatientStore {
    async fn create_patient(&self, patient: &Patient) -> Result<()>;

    /// Saves every field of the patient; `false` when there is no such patient.
    async fn update_patient(&self, patient: &Patient) -> Result<bool>;

    async fn patient(&self, id: &str) -> Result<Option<Patient>>;

    async fn patients(&self, filter: &PatientFilter) -> Result<Vec<Patient>>;

    /// Books an appointment and schedules its reminders, all in one transaction.
    async fn create_appointment(
        &self,
        appointment: &Appointment,
        plans: &[ReminderPlan],
    ) -> Result<()>;

    /// Books many appointments in one transaction (imports, and the dispatch benchmark).
    async fn create_appointments(&self, batch: &[(Appointment, Vec<ReminderPlan>)]) -> Result<()>;

    async fn appointment(&self, id: &str) -> Result<Option<Appointment>>;

    async fn appointments_for_patient(&self, patient_id: &str) -> Result<Vec<Appointment>>;

    /// Moves an appointment: every reminder is planned again (a job scheduled for the old time
    /// finds itself stale), and the notice to the patient is queued — all or nothing.
    async fn reschedule_appointment(
        &self,
        id: &str,
        starts_at: DateTime<Utc>,
        plans: &[ReminderPlan],
        notice: Option<&PreparedMessage>,
        at: DateTime<Utc>,
    ) -> Result<Option<Appointment>>;

    /// Cancels an appointment: its reminders are withdrawn and the notice queued.
    async fn cancel_appointment(
        &self,
        id: &str,
        reason: &str,
        notice: Option<&PreparedMessage>,
        at: DateTime<Utc>,
    ) -> Result<Option<Appointment>>;

    async fn reminder_context(&self, reminder_id: &str) -> Result<Option<ReminderContext>>;

    /// Marks a pending reminder skipped (at that version); `false` if it was not pending.
    async fn skip_reminder(
        &self,
        reminder_id: &str,
        version: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Marks a pending reminder sent and queues its message, in one transaction; `false` (and
    /// nothing queued) if it was sent already, withdrawn, or moved to another version.
    async fn send_reminder(
        &self,
        reminder_id: &str,
        version: i64,
        message: &PreparedMessage,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Puts pending reminders due by `until` into the job queue (those planned further ahead
    /// than the queue horizon); returns how many. Safe to run on every gateway at once.
    async fn queue_due_reminders(&self, until: DateTime<Utc>) -> Result<u64>;

    /// Re-schedules a pending reminder whose job ran at a time it may not be sent (quiet hours).
    async fn move_reminder(
        &self,
        reminder_id: &str,
        version: i64,
        send_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool>;
}

/// Implements `PatientStore` for an engine's store (see `sqlite.rs` / `postgres.rs`).
macro_rules! patient_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::PatientStore for $store {
            async fn create_patient(&self, patient: &$crate::store::Patient) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                Self::write_patient(&mut *tx, patient, true).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_patient(&self, patient: &$crate::store::Patient) -> $crate::store::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = Self::write_patient(&mut *tx, patient, false).await?;
                tx.commit().await?;
                Ok(done)
            }

            async fn patient(&self, id: &str) -> $crate::store::Result<Option<$crate::store::Patient>> {
                let row: Option<$crate::store::rows::PatientRow> =
                    sqlx::query_as("SELECT * FROM patients WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn patients(
                &self,
                filter: &$crate::store::PatientFilter,
            ) -> $crate::store::Result<Vec<$crate::store::Patient>> {
                let rows: Vec<$crate::store::rows::PatientRow> = match &filter.mobile {
                    Some(mobile) => sqlx::query_as(
                        "SELECT * FROM patients WHERE mobile = $1 ORDER BY created_at, id LIMIT $2",
                    )
                    .bind(mobile.e164())
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await?,
                    None => sqlx::query_as("SELECT * FROM patients ORDER BY created_at, id LIMIT $1")
                        .bind(i64::from(filter.limit))
                        .fetch_all(&self.pool)
                        .await?,
                };
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn create_appointment(
                &self,
                appointment: &$crate::store::Appointment,
                plans: &[$crate::store::ReminderPlan],
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_appointment(&mut *tx, appointment, plans).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_appointments(
                &self,
                batch: &[($crate::store::Appointment, Vec<$crate::store::ReminderPlan>)],
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                for (appointment, plans) in batch {
                    Self::insert_appointment(&mut *tx, appointment, plans).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn appointment(&self, id: &str) -> $crate::store::Result<Option<$crate::store::Appointment>> {
                let row: Option<$crate::store::rows::AppointmentRow> =
                    sqlx::query_as("SELECT * FROM appointments WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                let Some(row) = row else { return Ok(None) };
                let reminders: Vec<$crate::store::rows::ReminderRow> = sqlx::query_as(
                    "SELECT * FROM reminders WHERE appointment_id = $1 ORDER BY offset_seconds DESC",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                Ok(Some($crate::store::rows::appointment_from(row, reminders)?))
            }

            async fn appointments_for_patient(
                &self,
                patient_id: &str,
            ) -> $crate::store::Result<Vec<$crate::store::Appointment>> {
                let rows: Vec<$crate::store::rows::AppointmentRow> = sqlx::query_as(
                    "SELECT * FROM appointments WHERE patient_id = $1 ORDER BY starts_at, id",
                )
                .bind(patient_id)
                .fetch_all(&self.pool)
                .await?;
                let reminders: Vec<$crate::store::rows::ReminderRow> = sqlx::query_as(
                    "SELECT r.* FROM reminders r JOIN appointments a ON a.id = r.appointment_id \
                     WHERE a.patient_id = $1 ORDER BY r.offset_seconds DESC",
                )
                .bind(patient_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|row| {
                        let own = reminders
                            .iter()
                            .filter(|r| r.appointment_id == row.id)
                            .cloned()
                            .collect();
                        $crate::store::rows::appointment_from(row, own)
                    })
                    .collect()
            }

            async fn reschedule_appointment(
                &self,
                id: &str,
                starts_at: chrono::DateTime<chrono::Utc>,
                plans: &[$crate::store::ReminderPlan],
                notice: Option<&$crate::store::PreparedMessage>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Option<$crate::store::Appointment>> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE appointments SET starts_at = $1, status = 'booked', updated_at = $2 \
                     WHERE id = $3 AND status <> 'cancelled'",
                )
                .bind(Ts(starts_at))
                .bind(Ts(at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                Self::plan_reminders(&mut *tx, id, plans, at).await?;
                if let Some(notice) = notice {
                    Self::insert_message(&mut *tx, notice, at).await?;
                }
                tx.commit().await?;
                self.appointment(id).await
            }

            async fn cancel_appointment(
                &self,
                id: &str,
                reason: &str,
                notice: Option<&$crate::store::PreparedMessage>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Option<$crate::store::Appointment>> {
                let mut tx = self.begin_write().await?;
                if !Self::cancel_appointment_in(&mut *tx, id, reason, at).await? {
                    return Ok(None);
                }
                if let Some(notice) = notice {
                    Self::insert_message(&mut *tx, notice, at).await?;
                }
                tx.commit().await?;
                self.appointment(id).await
            }

            async fn reminder_context(
                &self,
                reminder_id: &str,
            ) -> $crate::store::Result<Option<$crate::store::ReminderContext>> {
                let row: Option<$crate::store::rows::ReminderRow> =
                    sqlx::query_as("SELECT * FROM reminders WHERE id = $1")
                        .bind(reminder_id)
                        .fetch_optional(&self.pool)
                        .await?;
                let Some(row) = row else { return Ok(None) };
                let Some(appointment) = self.appointment(&row.appointment_id).await? else {
                    return Ok(None);
                };
                let Some(patient) = self.patient(&appointment.patient_id).await? else {
                    return Ok(None);
                };
                Ok(Some($crate::store::ReminderContext {
                    reminder: row.try_into()?,
                    appointment,
                    patient,
                }))
            }

            async fn skip_reminder(
                &self,
                reminder_id: &str,
                version: i64,
                reason: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE reminders SET status = 'skipped', reason = $1, send_at = NULL, updated_at = $2 \
                     WHERE id = $3 AND version = $4 AND status = 'pending'",
                )
                .bind(reason)
                .bind($crate::store::Ts(at))
                .bind(reminder_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn send_reminder(
                &self,
                reminder_id: &str,
                version: i64,
                message: &$crate::store::PreparedMessage,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE reminders SET status = 'sent', message_id = $1, updated_at = $2 \
                     WHERE id = $3 AND version = $4 AND status = 'pending'",
                )
                .bind(&message.id)
                .bind($crate::store::Ts(at))
                .bind(reminder_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::insert_message(&mut *tx, message, at).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn queue_due_reminders(
                &self,
                until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<u64> {
                use $crate::store::Ts;
                use $crate::store::rows::{new_id, reminder_job};
                let mut queued = 0;
                loop {
                    let mut tx = self.begin_write().await?;
                    let due: Vec<(String, i64, Ts)> = sqlx::query_as(
                        "SELECT id, version, send_at FROM reminders \
                         WHERE status = 'pending' AND job_id IS NULL AND send_at <= $1 \
                         ORDER BY send_at LIMIT 500",
                    )
                    .bind(Ts(until))
                    .fetch_all(&mut *tx)
                    .await?;
                    for (id, version, send_at) in &due {
                        let job_id = new_id();
                        sqlx::query("UPDATE reminders SET job_id = $1 WHERE id = $2 AND version = $3")
                            .bind(&job_id)
                            .bind(id)
                            .bind(version)
                            .execute(&mut *tx)
                            .await?;
                        Self::enqueue(&mut *tx, &reminder_job(&job_id, id, *version, send_at.0)?).await?;
                    }
                    tx.commit().await?;
                    queued += due.len() as u64;
                    if due.len() < 500 {
                        return Ok(queued);
                    }
                }
            }

            async fn move_reminder(
                &self,
                reminder_id: &str,
                version: i64,
                send_at: chrono::DateTime<chrono::Utc>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                let job_id = (send_at <= at + $crate::store::queue_horizon())
                    .then($crate::store::rows::new_id);
                let done = sqlx::query(
                    "UPDATE reminders SET send_at = $1, version = version + 1, job_id = $2, updated_at = $3 \
                     WHERE id = $4 AND version = $5 AND status = 'pending'",
                )
                .bind(Ts(send_at))
                .bind(&job_id)
                .bind(Ts(at))
                .bind(reminder_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                if let Some(job_id) = &job_id {
                    Self::enqueue(
                        &mut *tx,
                        &$crate::store::rows::reminder_job(job_id, reminder_id, version + 1, send_at)?,
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

pub(super) use patient_store_impl;
