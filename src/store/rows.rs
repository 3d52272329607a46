//! Rows as the database returns them, for the store types a row does not decode into directly.
//!
//! The queries themselves (in `referrals.rs`, `patients.rs`, `outbox.rs`, `shared.rs`) are
//! written once for both engines: placeholders are `$1`-style, which SQLite also understands;
//! timestamps go through `Ts`; JSON is stored as text. Ids (`domain::id`) and `text_enum!`
//! enums are `sqlx::Type`s, so a store type that is its row but for timestamps derives
//! `FromRow` itself (`#[sqlx(try_from = "Ts")]`, or `OptionalTs`) and has no row type here;
//! the rows left hold JSON text, phone numbers or postcodes to parse, or columns the type
//! does not keep.

use serde::de::DeserializeOwned;
use sqlx::FromRow;

use super::{
    Address, CurrentConversation, Message, MessageEvent, MessageStatus, Patient, PatientContact,
    PatientRecord, Referral, StoreError, Ts, UpcomingAppointment, UrgentEpisode,
};
use crate::conversation::{Conversation, Status};
use crate::domain::id::{AppointmentId, ConversationId, MessageId, PatientId, ReferralId};
use crate::domain::nhs::NhsNumber;
use crate::domain::patient::MessagePurpose;
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::referral::{ReferralRoute, ReferralSource, ReferralStatus};
use crate::domain::schedule::QuietHours;

pub(super) fn to_json_text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse_enum<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("{what} {text}")))
}

fn phone(what: &str, text: Option<String>) -> Result<Option<PhoneNumber>, StoreError> {
    text.map(|t| PhoneNumber::parse(&t).map_err(|_| StoreError::Corrupt(format!("{what} number"))))
        .transpose()
}

/// A new id of any kind: a ULID, as text.
pub(super) fn new_id<Id: From<String>>() -> Id {
    ulid::Ulid::generate().to_string().into()
}

/// A unique-constraint violation becomes a conflict the API can answer with 409.
pub(super) fn conflict_on_unique(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict("already exists".into())
        }
        _ => StoreError::Database(error),
    }
}

#[derive(Debug, FromRow)]
pub(super) struct ReferralRow {
    pub id: ReferralId,
    pub reference: String,
    pub status: ReferralStatus,
    pub urgent: bool,
    pub risk_signals: String,
    pub urgent_at: Option<Ts>,
    pub team: String,
    pub answers: String,
    pub incomplete: bool,
    pub submitted_at: Option<Ts>,
    pub escalation_level: i64,
    pub acknowledged_at: Option<Ts>,
    pub phone: Option<String>,
    pub language: Option<String>,
    pub interpreter: bool,
    pub source: ReferralSource,
    pub route: ReferralRoute,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl TryFrom<ReferralRow> for Referral {
    type Error = StoreError;
    fn try_from(row: ReferralRow) -> Result<Self, StoreError> {
        Ok(Referral {
            status: row.status,
            risk_signals: from_json("risk signals", &row.risk_signals)?,
            answers: from_json("answers", &row.answers)?,
            id: row.id,
            reference: row.reference,
            urgent: row.urgent,
            urgent_at: row.urgent_at.map(|t| t.0),
            team: row.team,
            incomplete: row.incomplete,
            submitted_at: row.submitted_at.map(|t| t.0),
            escalation_level: row.escalation_level,
            acknowledged_at: row.acknowledged_at.map(|t| t.0),
            phone: row.phone,
            language: row.language,
            interpreter: row.interpreter,
            source: row.source,
            route: row.route,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

#[derive(Debug, FromRow)]
pub(super) struct CurrentRow {
    pub conversation_id: ConversationId,
    pub state: String,
    pub conversation_status: String,
    #[sqlx(flatten)]
    pub referral: ReferralRow,
}

impl CurrentRow {
    pub fn into_current(self) -> Result<CurrentConversation, StoreError> {
        let mut state: Conversation = from_json("conversation state", &self.state)?;
        // The column is the truth: sweeps change it without rewriting the JSON.
        state.status = parse_enum::<Status>("conversation status", &self.conversation_status)?;
        Ok(CurrentConversation {
            id: self.conversation_id,
            state,
            referral: self.referral.try_into()?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(super) struct PatientContactRow {
    pub id: PatientId,
    pub name: String,
    pub preferred_name: Option<String>,
    pub language: Option<String>,
    pub access_needs: String,
    pub team: Option<String>,
    pub urgent: bool,
    pub risk_signals: String,
}

impl PatientContactRow {
    pub fn into_contact(
        self,
        next: Option<UpcomingAppointment>,
        safety_plan: Option<SafetyPlanRow>,
        feedback: Option<super::OpenFeedback>,
    ) -> Result<PatientContact, StoreError> {
        let safety_plan = match safety_plan {
            Some(row) => Some(row.into_plan()?.sections),
            None => None,
        };
        Ok(PatientContact {
            preferred_name: self
                .preferred_name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(self.name),
            risk_signals: from_json("risk signals", &self.risk_signals)?,
            easy_read: crate::domain::patient::wants_easy_read(&from_json::<Vec<_>>(
                "access needs",
                &self.access_needs,
            )?),
            language: self.language,
            id: self.id,
            team: self.team,
            urgent: self.urgent,
            next_appointment: next,
            safety_plan,
            feedback,
        })
    }
}

#[derive(Debug, FromRow)]
pub(super) struct SafetyPlanRow {
    pub patient_id: PatientId,
    pub sections: String,
    pub updated_at: super::Ts,
    pub updated_by: String,
}

impl SafetyPlanRow {
    pub fn into_plan(self) -> Result<super::SafetyPlan, StoreError> {
        Ok(super::SafetyPlan {
            patient_id: self.patient_id,
            sections: from_json("safety plan", &self.sections)?,
            updated_at: self.updated_at.0,
            updated_by: self.updated_by,
        })
    }
}

#[derive(Debug, FromRow)]
pub(super) struct MessageRow {
    pub id: MessageId,
    pub purpose: MessagePurpose,
    pub referral_id: Option<ReferralId>,
    pub patient_id: Option<PatientId>,
    pub appointment_id: Option<AppointmentId>,
    pub channel: String,
    pub to_phone: Option<String>,
    pub body: Option<String>,
    pub status: MessageStatus,
    pub provider_id: Option<String>,
    pub error_code: Option<String>,
    pub attempts: i64,
    pub template: Option<String>,
    pub vars: Option<String>,
    pub language: Option<String>,
    pub interpreter_may_be_needed: bool,
    pub skipped: String,
    pub past_opt_out: bool,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;
    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        Ok(Message {
            skipped: from_json("skipped channels", &row.skipped)?,
            vars: row
                .vars
                .as_deref()
                .map(|v| from_json("message vars", v))
                .transpose()?,
            id: row.id,
            purpose: row.purpose,
            referral_id: row.referral_id,
            patient_id: row.patient_id,
            appointment_id: row.appointment_id,
            channel: crate::domain::channel::Channel::parse(&row.channel),
            to: row.to_phone,
            body: row.body,
            status: row.status,
            provider_id: row.provider_id,
            error_code: row.error_code,
            attempts: row.attempts,
            template: row.template,
            language: row.language,
            interpreter_may_be_needed: row.interpreter_may_be_needed,
            past_opt_out: row.past_opt_out,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

#[derive(Debug, Clone, FromRow)]
pub(super) struct EventRow {
    pub message_id: MessageId,
    pub at: Ts,
    pub status: String,
    pub channel: Option<String>,
    pub detail: Option<String>,
}

impl From<EventRow> for MessageEvent {
    fn from(row: EventRow) -> Self {
        MessageEvent {
            at: row.at.0,
            status: row.status,
            channel: row.channel,
            detail: row.detail,
        }
    }
}

/// The start of every query for `PatientRow`s: each patient (as `p`) with whether their mobile
/// number has opted out of texts (STOP to the referral number counts for patient texts too).
macro_rules! patient_select {
    () => {
        "SELECT p.*, EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = p.mobile AND o.opted_out) \
         AS number_opted_out FROM patients p"
    };
}
pub(super) use patient_select;

#[derive(Debug, FromRow)]
pub(super) struct PatientRow {
    pub id: PatientId,
    pub name: String,
    pub preferred_name: Option<String>,
    pub pronouns: Option<String>,
    pub nhs_number: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub mobile: Option<String>,
    pub landline: Option<String>,
    pub address_lines: String,
    pub postcode: Option<String>,
    pub language: Option<String>,
    pub interpreter: bool,
    pub access_needs: String,
    pub support_person: Option<String>,
    pub service_animal: Option<String>,
    pub quiet_hours: Option<String>,
    pub team: Option<String>,
    pub contact_preferences: String,
    pub sms_opted_out: bool,
    pub mobile_failed: Option<String>,
    pub urgent: bool,
    pub risk_signals: String,
    pub notes: Option<String>,
    pub referral_id: Option<ReferralId>,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub urgent_at: Option<Ts>,
    pub escalation_level: i64,
    pub acknowledged_at: Option<Ts>,
    pub acknowledged_by: Option<String>,
    #[sqlx(default)]
    pub discharged_at: Option<Ts>,
    /// From `patient_select!`; false for a bare `SELECT * FROM patients`.
    #[sqlx(default)]
    pub number_opted_out: bool,
}

impl PatientRow {
    pub fn into_record(self) -> Result<PatientRecord, StoreError> {
        let episode = UrgentEpisode {
            // Flagged by a text before the episode's start was recorded: their last change.
            urgent_at: self
                .urgent
                .then(|| self.urgent_at.unwrap_or(self.updated_at).0),
            escalation_level: self.escalation_level,
            acknowledged_at: self.acknowledged_at.map(|t| t.0),
            acknowledged_by: self.acknowledged_by.clone(),
        };
        Ok(PatientRecord {
            discharged_at: self.discharged_at.map(|t| t.0),
            patient: self.try_into()?,
            episode,
        })
    }
}

impl TryFrom<PatientRow> for Patient {
    type Error = StoreError;
    fn try_from(row: PatientRow) -> Result<Self, StoreError> {
        Ok(Patient {
            nhs_number: row
                .nhs_number
                .map(|n| NhsNumber::parse(&n).map_err(|_| StoreError::Corrupt("NHS number".into())))
                .transpose()?,
            date_of_birth: row.date_of_birth,
            mobile: phone("mobile", row.mobile)?,
            landline: phone("landline", row.landline)?,
            address: Address {
                lines: from_json("address", &row.address_lines)?,
                postcode: row
                    .postcode
                    .map(|p| {
                        Postcode::parse(&p).map_err(|_| StoreError::Corrupt("postcode".into()))
                    })
                    .transpose()?,
            },
            access_needs: from_json("access needs", &row.access_needs)?,
            quiet_hours: row
                .quiet_hours
                .map(|q| {
                    QuietHours::parse(&q).ok_or_else(|| StoreError::Corrupt("quiet hours".into()))
                })
                .transpose()?,
            contact_preferences: from_json("contact preferences", &row.contact_preferences)?,
            risk_signals: from_json("risk signals", &row.risk_signals)?,
            id: row.id,
            name: row.name,
            preferred_name: row.preferred_name,
            pronouns: row.pronouns,
            language: row.language,
            interpreter: row.interpreter,
            support_person: row.support_person,
            service_animal: row.service_animal,
            team: row.team,
            sms_opted_out: row.sms_opted_out || row.number_opted_out,
            mobile_failed: row.mobile_failed,
            urgent: row.urgent,
            notes: row.notes,
            referral_id: row.referral_id,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}
