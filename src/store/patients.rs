//! Patients and their e-Health Passports, appointments, and the reminders before each.
//!
//! Longer than most files on purpose (about 650 lines of code): the trait for this area and
//! its one body of queries (`patient_store_impl!`) belong together, and a `macro_rules!` body
//! cannot be split across files without splitting the trait with it.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{AuditEntry, NewMessage, PreparedMessage, Result};
use crate::domain::channel::AccessNeed;
use crate::domain::id::{AppointmentId, MessageId, PatientId, ReferralId, ReminderId};
use crate::domain::nhs::NhsNumber;
use crate::domain::patient::ContactPreferences;
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::schedule::{Plan, QuietHours};
use crate::domain::text_enum;

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
    pub id: PatientId,
    pub name: String,
    pub preferred_name: Option<String>,
    pub pronouns: Option<String>,
    /// One record per NHS number: a second would split the person's care.
    pub nhs_number: Option<NhsNumber>,
    pub date_of_birth: Option<NaiveDate>,
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
    pub referral_id: Option<ReferralId>,
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

/// Where a patient's urgent episode stands (safety rule 8). An episode opens when a text from
/// the patient shows risk (on-call is alerted once), is re-alerted and escalated like an urgent
/// referral's while nobody acknowledges it, and closes when a clinician acknowledges it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrgentEpisode {
    /// When the open episode began; `None` when none is open.
    pub urgent_at: Option<DateTime<Utc>>,
    /// Escalation steps taken: 1 when on-call was alerted again, 2 when the team's escalation
    /// numbers were.
    pub escalation_level: i64,
    /// The last acknowledgement, kept as history after its episode closed.
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
}

/// A patient with where their urgent episode stands, as staff see them.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRecord {
    pub patient: Patient,
    pub episode: UrgentEpisode,
    /// When a clinician discharged them (`POST /patients/{id}/discharge`); `None` while in
    /// the team's care.
    pub discharged_at: Option<DateTime<Utc>>,
}

/// What saving a passport staff wrote came to.
#[derive(Debug, Clone, PartialEq)]
pub enum PassportSaved {
    Saved(Box<PatientRecord>),
    NoSuchPatient,
    /// The mobile is new to this record and already on another patient's (the one named),
    /// and staff did not say it is shared.
    MobileOnAnotherRecord {
        patient_id: PatientId,
    },
    /// A new patient from a referral that already has one (the one named).
    ReferralHasPatient {
        patient_id: PatientId,
    },
    /// The NHS number is already on another patient's record (the one named): the same person
    /// twice, for staff to merge, never two records.
    NhsNumberOnAnotherRecord {
        patient_id: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct PatientFilter {
    pub mobile: Option<PhoneNumber>,
    /// What staff typed to find a patient, read every way it can be.
    pub search: Option<PatientSearch>,
    /// `Some(true)`: only patients with an open urgent episode; `Some(false)`: only those
    /// without.
    pub urgent: Option<bool>,
    /// After this patient in the list's order (the last one of the page before).
    pub after: Option<PatientKey>,
    pub limit: u32,
}

/// A patient's place in the list: urgent first, longest waiting first, then the rest by when
/// their record was made. `since` is when the open urgent episode began, and the record's
/// creation for a patient with none, so no part of the key is ever null and a row-value
/// comparison works the same on both engines.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatientKey {
    pub urgent: bool,
    pub since: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub id: String,
}

impl PatientKey {
    pub fn of(record: &PatientRecord) -> Self {
        PatientKey {
            urgent: record.episode.urgent_at.is_some(),
            since: record
                .episode
                .urgent_at
                .unwrap_or(record.patient.created_at),
            created_at: record.patient.created_at,
            id: record.patient.id.to_string(),
        }
    }
}

/// One search box, three readings: a patient matches on any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientSearch {
    /// A part of the name or preferred name, lowercased; matched as a substring.
    pub name: String,
    /// The digits, when the text is digits with spaces or dashes (a whole NHS number).
    pub nhs_number: Option<String>,
    /// The text read as a phone number.
    pub mobile: Option<PhoneNumber>,
}

impl PatientSearch {
    /// The `LIKE` pattern for the name: `%`, `_` and the escape character itself match only
    /// themselves (`ESCAPE '\'`).
    pub fn name_pattern(&self) -> String {
        super::referrals::contains_pattern(&self.name)
    }
}

text_enum! {
    pub enum AppointmentPlace {
        Home = "home",
        Site = "site",
    }
}

text_enum! {
    pub enum AppointmentKind {
        Assessment = "assessment",
        HomeVisit = "home_visit",
        Review = "review",
    }
}

text_enum! {
    pub enum AppointmentStatus {
        Booked = "booked",
        /// The patient texted YES.
        Confirmed = "confirmed",
        Cancelled = "cancelled",
    }
}

text_enum! {
    pub enum ReminderStatus {
        Pending = "pending",
        Sent = "sent",
        Skipped = "skipped",
        Cancelled = "cancelled",
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Reminder {
    pub id: ReminderId,
    pub appointment_id: AppointmentId,
    pub offset_seconds: i64,
    /// The appointment's start less the offset.
    #[sqlx(try_from = "super::Ts")]
    pub due_at: DateTime<Utc>,
    /// When it will go (moved out of quiet hours); `None` once skipped or cancelled.
    #[sqlx(try_from = "super::OptionalTs")]
    pub send_at: Option<DateTime<Utc>>,
    pub status: ReminderStatus,
    pub reason: Option<String>,
    pub version: i64,
    pub message_id: Option<MessageId>,
}

/// An appointment as stored; staff see it with its reminders as `http::appointments` shows them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Appointment {
    pub id: AppointmentId,
    pub patient_id: PatientId,
    #[sqlx(try_from = "super::Ts")]
    pub starts_at: DateTime<Utc>,
    pub place: AppointmentPlace,
    pub site_name: Option<String>,
    pub kind: AppointmentKind,
    pub staff_name: Option<String>,
    /// `booked`, `confirmed` (the patient texted YES) or `cancelled`.
    pub status: AppointmentStatus,
    #[sqlx(try_from = "super::Ts")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "super::Ts")]
    pub updated_at: DateTime<Utc>,
    /// Earliest first (read separately: `appointment`, `appointments_for_patient`).
    #[serde(skip)]
    #[sqlx(skip)]
    pub reminders: Vec<Reminder>,
}

/// One reminder's plan, computed when an appointment is booked or moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPlan {
    pub offset_seconds: i64,
    pub due_at: DateTime<Utc>,
    pub plan: Plan,
}

/// A patient's safety plan in their own words: each section a list of short lines, any of
/// them empty. The section names are the contract of the staff API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SafetyPlanSections {
    /// Signs that a crisis may be starting.
    pub warning_signs: Vec<String>,
    /// Things the patient can do on their own to feel better or take their mind off things.
    pub things_i_can_do: Vec<String>,
    /// People and places that help.
    pub people_and_places: Vec<String>,
    /// People the patient can ask for help.
    pub people_i_can_ask: Vec<String>,
    /// Professionals and services to call.
    pub professionals_and_services: Vec<String>,
    /// Making the patient's surroundings safer.
    pub making_surroundings_safer: Vec<String>,
    /// Reasons for living.
    pub reasons_for_living: Vec<String>,
}

impl SafetyPlanSections {
    /// Every section with its name, in the plan's order.
    pub fn sections(&self) -> [(&'static str, &Vec<String>); 7] {
        [
            ("warning_signs", &self.warning_signs),
            ("things_i_can_do", &self.things_i_can_do),
            ("people_and_places", &self.people_and_places),
            ("people_i_can_ask", &self.people_i_can_ask),
            (
                "professionals_and_services",
                &self.professionals_and_services,
            ),
            ("making_surroundings_safer", &self.making_surroundings_safer),
            ("reasons_for_living", &self.reasons_for_living),
        ]
    }

    /// True when no section has a line.
    pub fn is_empty(&self) -> bool {
        self.sections().iter().all(|(_, lines)| lines.is_empty())
    }
}

/// A patient's safety plan as stored: one per patient, each new version replacing the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyPlan {
    pub patient_id: PatientId,
    pub sections: SafetyPlanSections,
    pub updated_at: DateTime<Utc>,
    /// The member of staff who wrote this version (their name as the audit log has it).
    pub updated_by: String,
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

    async fn patient(&self, id: &PatientId) -> Result<Option<Patient>>;

    /// Urgent patients first (longest waiting first), then the rest, oldest record first.
    async fn patients(&self, filter: &PatientFilter) -> Result<Vec<Patient>>;

    /// The patients with these ids, in no particular order; an unknown id is left out.
    async fn patients_by_id(&self, ids: &[PatientId]) -> Result<Vec<Patient>>;

    async fn patient_record(&self, id: &PatientId) -> Result<Option<PatientRecord>>;

    /// As `patients`, with each one's urgent episode.
    async fn patient_records(&self, filter: &PatientFilter) -> Result<Vec<PatientRecord>>;

    /// Saves a patient's safety plan (replacing any earlier version) with its audit entry,
    /// in one transaction; `false` when there is no such patient.
    async fn save_safety_plan(&self, plan: &SafetyPlan, audit: &AuditEntry) -> Result<bool>;

    /// A patient's safety plan, if one has been written.
    async fn safety_plan(&self, patient_id: &PatientId) -> Result<Option<SafetyPlan>>;

    /// Saves a passport staff wrote (a new patient when `new`) and audits it, in one
    /// transaction. A mobile new to this record that is already on another patient's is
    /// refused unless `shared_mobile` (a family phone, say). The record's SMS opt-out follows
    /// its number: a number that texted STOP is opted out here too, and a new number starts
    /// afresh. The urgent episode is never changed here.
    async fn save_passport(
        &self,
        patient: &Patient,
        new: bool,
        shared_mobile: bool,
        audit: &AuditEntry,
    ) -> Result<PassportSaved>;

    /// A clinician acknowledges the patient's open urgent episode: it closes (escalation
    /// stops and its level goes back to 0), the risk signals stay as history, and the audit
    /// entry is written in the same transaction. With no episode open nothing changes and nothing is audited. `None` when
    /// there is no such patient.
    async fn acknowledge_patient(
        &self,
        id: &PatientId,
        audit: &AuditEntry,
    ) -> Result<Option<PatientRecord>>;

    /// Patients whose urgent episode is open with escalation steps still to come, longest
    /// waiting first.
    async fn unacknowledged_urgent_patients(&self) -> Result<Vec<PatientRecord>>;

    /// Takes a patient's open episode from escalation level `from` to `from + 1`, queueing
    /// the alerts and auditing the step in one transaction; `false` if another gateway did it
    /// first or a clinician acknowledged it meanwhile.
    async fn escalate_patient(
        &self,
        patient_id: &PatientId,
        from: i64,
        alerts: &[NewMessage],
        audit: &AuditEntry,
    ) -> Result<bool>;

    /// Books an appointment and schedules its reminders, all in one transaction.
    /// Books an appointment, plans its reminders and audits it, in one transaction.
    async fn create_appointment(
        &self,
        appointment: &Appointment,
        plans: &[ReminderPlan],
        audit: &AuditEntry,
    ) -> Result<()>;

    /// Books many new appointments, plans their reminders and writes their audit entries, all
    /// in one transaction and a few statements per table (a clinic list imported at once);
    /// returns them as stored, with their reminders, in the order given.
    async fn create_appointments(
        &self,
        batch: &[(Appointment, Vec<ReminderPlan>)],
        audits: &[AuditEntry],
    ) -> Result<Vec<Appointment>>;

    async fn appointment(&self, id: &AppointmentId) -> Result<Option<Appointment>>;

    /// A page of the patient's appointments, earliest first, after `after`.
    async fn appointments_for_patient(
        &self,
        patient_id: &PatientId,
        after: Option<&super::TimeKey>,
        limit: u32,
    ) -> Result<Vec<Appointment>>;

    /// Moves an appointment: every reminder is planned again (a job scheduled for the old time
    /// finds itself stale), and the notice to the patient is queued — all or nothing.
    async fn reschedule_appointment(
        &self,
        id: &AppointmentId,
        starts_at: DateTime<Utc>,
        plans: &[ReminderPlan],
        notice: Option<&PreparedMessage>,
        audit: &AuditEntry,
        per_day: u32,
    ) -> Result<Option<Appointment>>;

    /// Cancels an appointment: its reminders are withdrawn and the notice queued.
    async fn cancel_appointment(
        &self,
        id: &AppointmentId,
        reason: &str,
        notice: Option<&PreparedMessage>,
        audit: &AuditEntry,
        per_day: u32,
    ) -> Result<Option<Appointment>>;

    async fn reminder_context(&self, reminder_id: &ReminderId) -> Result<Option<ReminderContext>>;

    /// Marks a pending reminder skipped (at that version); `false` if it was not pending.
    async fn skip_reminder(
        &self,
        reminder_id: &ReminderId,
        version: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Marks a pending reminder sent and queues its message, in one transaction; `false` (and
    /// nothing queued) if it was sent already, withdrawn, or moved to another version.
    async fn send_reminder(
        &self,
        reminder_id: &ReminderId,
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
        reminder_id: &ReminderId,
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

            async fn patient(&self, id: &$crate::domain::id::PatientId) -> $crate::store::Result<Option<$crate::store::Patient>> {
                Ok(self.patient_record(id).await?.map(|r| r.patient))
            }

            async fn patients(
                &self,
                filter: &$crate::store::PatientFilter,
            ) -> $crate::store::Result<Vec<$crate::store::Patient>> {
                Ok(self
                    .patient_records(filter)
                    .await?
                    .into_iter()
                    .map(|r| r.patient)
                    .collect())
            }

            async fn patients_by_id(
                &self,
                ids: &[$crate::domain::id::PatientId],
            ) -> $crate::store::Result<Vec<$crate::store::Patient>> {
                use $crate::store::values;
                let mut found = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(values::rows_per_statement("?")) {
                    let sql = format!(
                        concat!($crate::store::rows::patient_select!(), " WHERE p.id IN ({})"),
                        values::rows(chunk.len(), "?")
                    );
                    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(false);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    let rows: Vec<$crate::store::rows::PatientRow> = query.fetch_all(&self.pool).await?;
                    for row in rows {
                        found.push(row.into_record()?.patient);
                    }
                }
                Ok(found)
            }

            async fn patient_record(
                &self,
                id: &$crate::domain::id::PatientId,
            ) -> $crate::store::Result<Option<$crate::store::PatientRecord>> {
                let row: Option<$crate::store::rows::PatientRow> =
                    sqlx::query_as(concat!($crate::store::rows::patient_select!(), " WHERE p.id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map($crate::store::rows::PatientRow::into_record).transpose()
            }

            async fn patient_records(
                &self,
                filter: &$crate::store::PatientFilter,
            ) -> $crate::store::Result<Vec<$crate::store::PatientRecord>> {
                let rows: Vec<$crate::store::rows::PatientRow> = sqlx::query_as(concat!(
                    $crate::store::rows::patient_select!(),
                    " WHERE ($1 IS NULL OR p.mobile = $1) AND ($2 IS NULL OR p.urgent = $2) \
                     AND ($4 IS NULL OR LOWER(p.name) LIKE $4 ESCAPE '\\' \
                     OR LOWER(COALESCE(p.preferred_name, '')) LIKE $4 ESCAPE '\\' \
                     OR p.nhs_number = $5 OR p.mobile = $6) \
                     AND ($7 IS NULL OR (NOT p.urgent, \
                     CASE WHEN p.urgent THEN COALESCE(p.urgent_at, p.updated_at) ELSE p.created_at END, \
                     p.created_at, p.id) > (NOT $7, $8, $9, $10)) \
                     ORDER BY p.urgent DESC, \
                     CASE WHEN p.urgent THEN COALESCE(p.urgent_at, p.updated_at) ELSE p.created_at END, \
                     p.created_at, p.id LIMIT $3"
                ))
                        .bind(filter.mobile.as_ref().map(|m| m.e164().to_owned()))
                        .bind(filter.urgent)
                        .bind(i64::from(filter.limit))
                        .bind(filter.search.as_ref().map(|s| s.name_pattern()))
                        .bind(filter.search.as_ref().and_then(|s| s.nhs_number.clone()))
                        .bind(filter.search.as_ref().and_then(|s| s.mobile.as_ref().map(|m| m.e164().to_owned())))
                        .bind(filter.after.as_ref().map(|k| k.urgent))
                        .bind(filter.after.as_ref().map(|k| $crate::store::Ts(k.since)))
                        .bind(filter.after.as_ref().map(|k| $crate::store::Ts(k.created_at)))
                        .bind(filter.after.as_ref().map(|k| k.id.as_str()))
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map($crate::store::rows::PatientRow::into_record)
                    .collect()
            }

            async fn save_passport(
                &self,
                patient: &$crate::store::Patient,
                new: bool,
                shared_mobile: bool,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<$crate::store::PassportSaved> {
                use $crate::store::PassportSaved;
                let mut tx = self.begin_write().await?;
                if let (true, Some(referral_id)) = (new, &patient.referral_id) {
                    let existing: Option<($crate::domain::id::PatientId,)> =
                        sqlx::query_as("SELECT id FROM patients WHERE referral_id = $1")
                            .bind(referral_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some((patient_id,)) = existing {
                        return Ok(PassportSaved::ReferralHasPatient { patient_id });
                    }
                }
                if let Some(nhs_number) = &patient.nhs_number {
                    // The unique index is the backstop; this names the other record.
                    let other: Option<(String,)> = sqlx::query_as(
                        "SELECT id FROM patients WHERE nhs_number = $1 AND id <> $2",
                    )
                    .bind(nhs_number.as_str())
                    .bind(&patient.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((patient_id,)) = other {
                        return Ok(PassportSaved::NhsNumberOnAnotherRecord { patient_id });
                    }
                }
                if let Some(mobile) = &patient.mobile {
                    // Taken with the number's inbound texts and any other registration of
                    // it, so two records can never both claim a number unshared.
                    Self::lock_phone(&mut *tx, mobile.e164()).await?;
                    let current: Option<(Option<String>,)> =
                        sqlx::query_as("SELECT mobile FROM patients WHERE id = $1")
                            .bind(&patient.id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let unchanged = current
                        .as_ref()
                        .is_some_and(|(m,)| m.as_deref() == Some(mobile.e164()));
                    if !shared_mobile && !unchanged {
                        let other: Option<($crate::domain::id::PatientId,)> = sqlx::query_as(
                            "SELECT id FROM patients WHERE mobile = $1 AND id <> $2 \
                             ORDER BY created_at, id LIMIT 1",
                        )
                        .bind(mobile.e164())
                        .bind(&patient.id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some((patient_id,)) = other {
                            return Ok(PassportSaved::MobileOnAnotherRecord { patient_id });
                        }
                    }
                }
                if !Self::write_patient(&mut *tx, patient, new).await? {
                    return Ok(PassportSaved::NoSuchPatient);
                }
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(match self.patient_record(&patient.id).await? {
                    Some(record) => PassportSaved::Saved(Box::new(record)),
                    None => PassportSaved::NoSuchPatient,
                })
            }

            async fn save_safety_plan(
                &self,
                plan: &$crate::store::SafetyPlan,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                let known: Option<(String,)> = sqlx::query_as("SELECT id FROM patients WHERE id = $1")
                    .bind(&plan.patient_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if known.is_none() {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO safety_plans (patient_id, sections, updated_at, updated_by) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (patient_id) DO UPDATE SET sections = excluded.sections, \
                     updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                )
                .bind(&plan.patient_id)
                .bind($crate::store::rows::to_json_text(&plan.sections)?)
                .bind(Ts(plan.updated_at))
                .bind(&plan.updated_by)
                .execute(&mut *tx)
                .await?;
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn safety_plan(
                &self,
                patient_id: &$crate::domain::id::PatientId,
            ) -> $crate::store::Result<Option<$crate::store::SafetyPlan>> {
                let row: Option<$crate::store::rows::SafetyPlanRow> = sqlx::query_as(
                    "SELECT patient_id, sections, updated_at, updated_by FROM safety_plans \
                     WHERE patient_id = $1",
                )
                .bind(patient_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::rows::SafetyPlanRow::into_plan).transpose()
            }

            async fn acknowledge_patient(
                &self,
                id: &$crate::domain::id::PatientId,
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<Option<$crate::store::PatientRecord>> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                // The episode closes and its escalation with it; the next risk text opens a
                // new one from the start (the audit log keeps each step of this one).
                let done = sqlx::query(
                    "UPDATE patients SET urgent = FALSE, urgent_at = NULL, escalation_level = 0, \
                     acknowledged_at = $1, acknowledged_by = $2, updated_at = $1 \
                     WHERE id = $3 AND urgent",
                )
                .bind(Ts(audit.at))
                .bind(&audit.actor)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    Self::insert_audit(&mut *tx, audit).await?;
                }
                tx.commit().await?;
                self.patient_record(id).await
            }

            async fn unacknowledged_urgent_patients(
                &self,
            ) -> $crate::store::Result<Vec<$crate::store::PatientRecord>> {
                let rows: Vec<$crate::store::rows::PatientRow> = sqlx::query_as(concat!(
                    $crate::store::rows::patient_select!(),
                    " WHERE p.urgent AND p.escalation_level < 2 \
                     ORDER BY COALESCE(p.urgent_at, p.updated_at), p.id"
                ))
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map($crate::store::rows::PatientRow::into_record)
                    .collect()
            }

            async fn escalate_patient(
                &self,
                patient_id: &$crate::domain::id::PatientId,
                from: i64,
                alerts: &[$crate::store::NewMessage],
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                // The episode's start is pinned before `updated_at` moves on, so the next
                // step is timed from when the risk was flagged.
                let done = sqlx::query(
                    "UPDATE patients SET escalation_level = $1, \
                     urgent_at = COALESCE(urgent_at, updated_at), updated_at = $2 \
                     WHERE id = $3 AND urgent AND escalation_level = $4",
                )
                .bind(from + 1)
                .bind(Ts(audit.at))
                .bind(patient_id)
                .bind(from)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                for alert in alerts {
                    Self::insert_alert(&mut *tx, alert, None, Some(patient_id), audit.at).await?;
                }
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn create_appointment(
                &self,
                appointment: &$crate::store::Appointment,
                plans: &[$crate::store::ReminderPlan],
                audit: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_appointment(&mut *tx, appointment, plans).await?;
                Self::insert_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_appointments(
                &self,
                batch: &[($crate::store::Appointment, Vec<$crate::store::ReminderPlan>)],
                audits: &[$crate::store::AuditEntry],
            ) -> $crate::store::Result<Vec<$crate::store::Appointment>> {
                use $crate::domain::schedule::Plan;
                use $crate::store::queue::reminder_job;
                use $crate::store::rows::new_id;
                use $crate::store::{values, Reminder, ReminderStatus, Ts};
                // Everything is decided before the transaction, so the writer is held only
                // for the statements themselves.
                let mut booked = Vec::with_capacity(batch.len());
                // Each reminder beside its job's id (only those due soon are queued, as in
                // `plan_reminders`) and when it was written.
                let mut reminders = Vec::with_capacity(batch.len() * 2);
                let mut jobs = Vec::new();
                for (appointment, plans) in batch {
                    // Returned as reading them back would give them.
                    let at = Ts::stored(appointment.created_at);
                    let mut appointment = $crate::store::Appointment {
                        starts_at: Ts::stored(appointment.starts_at),
                        created_at: at,
                        updated_at: at,
                        ..appointment.clone()
                    };
                    for plan in plans {
                        let (status, send_at, reason) = match plan.plan {
                            Plan::SendAt(t) => (ReminderStatus::Pending, Some(Ts::stored(t)), None),
                            Plan::Skip(why) => (ReminderStatus::Skipped, None, Some(why.as_str().to_owned())),
                        };
                        let reminder = Reminder {
                            id: new_id(),
                            appointment_id: appointment.id.clone(),
                            offset_seconds: plan.offset_seconds,
                            due_at: Ts::stored(plan.due_at),
                            send_at,
                            status,
                            reason,
                            version: 1,
                            message_id: None,
                        };
                        let job_id = send_at
                            .filter(|t| *t <= at + $crate::store::queue_horizon())
                            .map(|_| new_id::<String>());
                        if let (Some(job_id), Some(send_at)) = (&job_id, send_at) {
                            jobs.push(reminder_job(job_id, &reminder.id, 1, send_at)?);
                        }
                        reminders.push((reminder.clone(), job_id, at));
                        appointment.reminders.push(reminder);
                    }
                    appointment
                        .reminders
                        .sort_by_key(|r| std::cmp::Reverse(r.offset_seconds));
                    booked.push(appointment);
                }

                let mut tx = self.begin_write().await?;
                const APPOINTMENT: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
                for chunk in booked.chunks(values::rows_per_statement(APPOINTMENT)) {
                    let sql = format!(
                        "INSERT INTO appointments (id, patient_id, starts_at, place, site_name, kind, \
                         staff_name, status, created_at, updated_at) VALUES {}",
                        values::rows(chunk.len(), APPOINTMENT)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(values::persistent(chunk.len()));
                    for a in chunk {
                        query = query
                            .bind(&a.id)
                            .bind(&a.patient_id)
                            .bind(Ts(a.starts_at))
                            .bind(a.place)
                            .bind(&a.site_name)
                            .bind(&a.kind)
                            .bind(&a.staff_name)
                            .bind(a.status)
                            .bind(Ts(a.created_at))
                            .bind(Ts(a.created_at));
                    }
                    query.execute(&mut *tx).await?;
                }
                const REMINDER: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)";
                for chunk in reminders.chunks(values::rows_per_statement(REMINDER)) {
                    let sql = format!(
                        "INSERT INTO reminders (id, appointment_id, offset_seconds, due_at, send_at, status, \
                         reason, version, job_id, message_id, updated_at) VALUES {}",
                        values::rows(chunk.len(), REMINDER)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(values::persistent(chunk.len()));
                    for (r, job_id, at) in chunk {
                        query = query
                            .bind(&r.id)
                            .bind(&r.appointment_id)
                            .bind(r.offset_seconds)
                            .bind(Ts(r.due_at))
                            .bind(r.send_at.map(Ts))
                            .bind(r.status)
                            .bind(&r.reason)
                            .bind(r.version)
                            .bind(job_id)
                            .bind(Ts(*at));
                    }
                    query.execute(&mut *tx).await?;
                }
                Self::enqueue_many(&mut *tx, &jobs).await?;
                Self::insert_audits(&mut *tx, audits).await?;
                tx.commit().await?;
                Ok(booked)
            }

            async fn appointment(&self, id: &$crate::domain::id::AppointmentId) -> $crate::store::Result<Option<$crate::store::Appointment>> {
                let appointment: Option<$crate::store::Appointment> =
                    sqlx::query_as("SELECT * FROM appointments WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                let Some(mut appointment) = appointment else { return Ok(None) };
                appointment.reminders = sqlx::query_as(
                    "SELECT * FROM reminders WHERE appointment_id = $1 ORDER BY offset_seconds DESC",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                Ok(Some(appointment))
            }

            async fn appointments_for_patient(
                &self,
                patient_id: &$crate::domain::id::PatientId,
                after: Option<&$crate::store::TimeKey>,
                limit: u32,
            ) -> $crate::store::Result<Vec<$crate::store::Appointment>> {
                let mut appointments: Vec<$crate::store::Appointment> = sqlx::query_as(
                    "SELECT * FROM appointments WHERE patient_id = $1 \
                     AND ($2 IS NULL OR (starts_at, id) > ($2, $3)) \
                     ORDER BY starts_at, id LIMIT $4",
                )
                .bind(patient_id)
                .bind(after.map(|k| $crate::store::Ts(k.at)))
                .bind(after.map(|k| k.id.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let reminders: Vec<$crate::store::Reminder> = sqlx::query_as(
                    "SELECT r.* FROM reminders r JOIN appointments a ON a.id = r.appointment_id \
                     WHERE a.patient_id = $1 ORDER BY r.offset_seconds DESC",
                )
                .bind(patient_id)
                .fetch_all(&self.pool)
                .await?;
                for appointment in &mut appointments {
                    appointment.reminders = reminders
                        .iter()
                        .filter(|r| r.appointment_id == appointment.id)
                        .cloned()
                        .collect();
                }
                Ok(appointments)
            }

            async fn reschedule_appointment(
                &self,
                id: &$crate::domain::id::AppointmentId,
                starts_at: chrono::DateTime<chrono::Utc>,
                plans: &[$crate::store::ReminderPlan],
                notice: Option<&$crate::store::PreparedMessage>,
                audit: &$crate::store::AuditEntry,
                per_day: u32,
            ) -> $crate::store::Result<Option<$crate::store::Appointment>> {
                use $crate::store::Ts;
                let at = audit.at;
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
                Self::insert_notice_and_audit(&mut *tx, notice, audit, per_day).await?;
                tx.commit().await?;
                self.appointment(id).await
            }

            async fn cancel_appointment(
                &self,
                id: &$crate::domain::id::AppointmentId,
                reason: &str,
                notice: Option<&$crate::store::PreparedMessage>,
                audit: &$crate::store::AuditEntry,
                per_day: u32,
            ) -> $crate::store::Result<Option<$crate::store::Appointment>> {
                let at = audit.at;
                let mut tx = self.begin_write().await?;
                if !Self::cancel_appointment_in(&mut *tx, id, reason, at).await? {
                    return Ok(None);
                }
                Self::insert_notice_and_audit(&mut *tx, notice, audit, per_day).await?;
                tx.commit().await?;
                self.appointment(id).await
            }

            async fn reminder_context(
                &self,
                reminder_id: &$crate::domain::id::ReminderId,
            ) -> $crate::store::Result<Option<$crate::store::ReminderContext>> {
                let reminder: Option<$crate::store::Reminder> =
                    sqlx::query_as("SELECT * FROM reminders WHERE id = $1")
                        .bind(reminder_id)
                        .fetch_optional(&self.pool)
                        .await?;
                let Some(reminder) = reminder else { return Ok(None) };
                let Some(appointment) = self.appointment(&reminder.appointment_id).await? else {
                    return Ok(None);
                };
                let Some(patient) = self.patient(&appointment.patient_id).await? else {
                    return Ok(None);
                };
                Ok(Some($crate::store::ReminderContext {
                    reminder,
                    appointment,
                    patient,
                }))
            }

            async fn skip_reminder(
                &self,
                reminder_id: &$crate::domain::id::ReminderId,
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
                reminder_id: &$crate::domain::id::ReminderId,
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
                use $crate::store::queue::reminder_job;
                use $crate::store::rows::new_id;
                use $crate::store::{values, Ts};
                const BATCH: usize = 1_000;
                const ROW: &str = "(?, ?, ?)";
                let mut queued = 0;
                loop {
                    let mut tx = self.begin_write().await?;
                    let due: Vec<(String, i64)> = sqlx::query_as(
                        "SELECT id, version FROM reminders \
                         WHERE status = 'pending' AND job_id IS NULL AND send_at <= $1 \
                         ORDER BY send_at LIMIT $2",
                    )
                    .bind(Ts(until))
                    .bind(BATCH as i64)
                    .fetch_all(&mut *tx)
                    .await?;
                    if due.is_empty() {
                        return Ok(queued);
                    }
                    // One statement gives the lot their jobs. Only a reminder still without a
                    // job, at the version read, is changed and returned: on PostgreSQL another
                    // gateway's sweep may have read the same rows, and whichever commits second
                    // finds `job_id` set (its UPDATE waits for the first's row locks, then
                    // checks again) and queues nothing for them. The jobs' idempotency keys
                    // (`reminder-{id}-v{version}`) stay as the second guard.
                    let sql = format!(
                        "UPDATE reminders SET job_id = v.column2 FROM (VALUES {}) AS v \
                         WHERE reminders.id = v.column1 AND reminders.version = v.column3 \
                         AND reminders.job_id IS NULL AND reminders.status = 'pending' \
                         RETURNING reminders.id, reminders.version, reminders.job_id, reminders.send_at",
                        values::rows(due.len(), ROW)
                    );
                    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(false);
                    for (id, version) in &due {
                        query = query.bind(id).bind(new_id::<String>()).bind(*version);
                    }
                    let taken: Vec<(String, i64, String, Ts)> = query.fetch_all(&mut *tx).await?;
                    let jobs = taken
                        .iter()
                        .map(|(id, version, job_id, send_at)| reminder_job(job_id, id, *version, send_at.0))
                        .collect::<$crate::store::Result<Vec<_>>>()?;
                    Self::enqueue_many(&mut *tx, &jobs).await?;
                    tx.commit().await?;
                    queued += taken.len() as u64;
                    if due.len() < BATCH {
                        return Ok(queued);
                    }
                }
            }

            async fn move_reminder(
                &self,
                reminder_id: &$crate::domain::id::ReminderId,
                version: i64,
                send_at: chrono::DateTime<chrono::Utc>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let mut tx = self.begin_write().await?;
                let job_id = (send_at <= at + $crate::store::queue_horizon())
                    .then($crate::store::rows::new_id::<String>);
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
                        &$crate::store::queue::reminder_job(job_id, reminder_id, version + 1, send_at)?,
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
