//! Appointments and the reminders before each: booking, rescheduling, cancelling, and the
//! notice the patient gets when one moves or is cancelled.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    Cursor, Error, Page, PageQuery, Paged, Result, Services, audit_entry, limits, list_entry,
};
use crate::domain::id::{AppointmentId, PatientId};
use crate::domain::patient::Purpose;
use crate::outbound::{MessageRequest, appointment_vars, too_soon_for_a_letter};
use crate::store::{
    Actor, Appointment, AppointmentKind, AppointmentPlace, AppointmentStatus, AuditAction, Patient,
    PreparedMessage, TimeKey,
};

/// The templates of the notices an appointment's patient gets.
const MOVED_TEMPLATE: &str = "appointment_moved";
const CANCELLED_TEMPLATE: &str = "cancellation";

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppointmentIn {
    /// RFC 3339, e.g. `2026-12-01T10:00:00Z`.
    pub starts_at: DateTime<Utc>,
    pub place: AppointmentPlace,
    /// Required when `place` is `site`.
    pub site_name: Option<String>,
    /// `assessment`, `home_visit` or `review`.
    pub kind: String,
    pub staff_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppointmentPatch {
    /// The new start (RFC 3339).
    pub starts_at: DateTime<Utc>,
}

/// Appointments are to the second; finer parts would only make reminder times look odd.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    chrono::DurationRound::duration_trunc(at, chrono::TimeDelta::seconds(1)).unwrap_or(at)
}

fn trimmed(value: Option<String>) -> Option<String> {
    value.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl Services {
    /// Books an appointment and plans its reminders (one already past is not sent).
    pub async fn book_appointment(
        &self,
        actor: &Actor,
        patient_id: &PatientId,
        mut input: AppointmentIn,
    ) -> Result<Appointment> {
        limits::at_most("kind", &input.kind, limits::CODE)?;
        limits::optional("site_name", input.site_name.as_deref(), limits::NAME)?;
        limits::optional("staff_name", input.staff_name.as_deref(), limits::NAME)?;
        input.starts_at = whole_seconds(input.starts_at);
        let patient = self.patient_record(patient_id).await?.patient;
        let now = self.now();
        if input.starts_at <= now {
            return Err(Error::Invalid("starts_at is in the past".into()));
        }
        let Some(kind) = AppointmentKind::parse(&input.kind) else {
            return Err(Error::Invalid(
                "kind must be assessment, home_visit or review".into(),
            ));
        };
        let site_name = trimmed(input.site_name);
        if input.place == AppointmentPlace::Site && site_name.is_none() {
            return Err(Error::Invalid(
                "site_name is required when place is site".into(),
            ));
        }
        let appointment = Appointment {
            id: crate::new_id().into(),
            patient_id: patient.id.clone(),
            starts_at: input.starts_at,
            place: input.place,
            site_name,
            kind,
            staff_name: trimmed(input.staff_name),
            status: AppointmentStatus::Booked,
            created_at: now,
            updated_at: now,
            reminders: Vec::new(),
        };
        let plans = self.outbound.plan_reminders(
            appointment.starts_at,
            self.outbound.quiet_hours_for(&patient),
        );
        let audit = audit_entry(
            actor,
            now,
            AuditAction::AppointmentBook,
            format!("appointment:{}", appointment.id),
        );
        self.store
            .create_appointment(&appointment, &plans, &audit)
            .await?;
        self.appointment_record(&appointment.id).await
    }

    /// One appointment for staff; the read is audited before it is made.
    pub async fn appointment(&self, actor: &Actor, id: &AppointmentId) -> Result<Appointment> {
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::AppointmentRead,
                format!("appointment:{id}"),
            ))
            .await?;
        self.appointment_record(id).await
    }

    async fn appointment_record(&self, id: &AppointmentId) -> Result<Appointment> {
        self.store
            .appointment(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no appointment {id}")))
    }

    /// A page of the patient's appointments, earliest first; the read is audited with the
    /// ids shown before the page is returned.
    pub async fn appointments_for_patient(
        &self,
        actor: &Actor,
        patient_id: &PatientId,
        query: PageQuery,
    ) -> Result<Paged<Appointment>> {
        let limit = Page::APPOINTMENTS.limit(query.limit);
        let after: Option<TimeKey> = Cursor::decode(query.cursor.as_deref())?;
        self.patient_record(patient_id).await?;
        let rows = self
            .store
            .appointments_for_patient(patient_id, after.as_ref(), limit + 1)
            .await?;
        let page = Paged::of(rows, limit, |a| TimeKey::new(a.starts_at, &a.id));
        self.store
            .audit(&list_entry(
                actor,
                self.now(),
                AuditAction::AppointmentList,
                format!("patient:{patient_id}"),
                page.items.iter().map(|a| a.id.as_ref()),
            ))
            .await?;
        Ok(page)
    }

    /// Moves an appointment: its reminders move with it, and the patient is told.
    pub async fn reschedule_appointment(
        &self,
        actor: &Actor,
        id: &AppointmentId,
        mut input: AppointmentPatch,
    ) -> Result<Appointment> {
        input.starts_at = whole_seconds(input.starts_at);
        let now = self.now();
        if input.starts_at <= now {
            return Err(Error::Invalid("starts_at is in the past".into()));
        }
        let current = self.appointment_record(id).await?;
        if current.status == AppointmentStatus::Cancelled {
            return Err(Error::Conflict(
                "the appointment is cancelled; book a new one".into(),
            ));
        }
        let patient = self.patient_record(&current.patient_id).await?.patient;
        let moved = Appointment {
            starts_at: input.starts_at,
            ..current.clone()
        };
        let plans = self
            .outbound
            .plan_reminders(input.starts_at, self.outbound.quiet_hours_for(&patient));
        // Moved from or to a time less than 48 hours away: a letter would come too late.
        let fast = too_soon_for_a_letter(now, &[current.starts_at, input.starts_at]);
        let message = (input.starts_at != current.starts_at)
            .then(|| self.notice(&patient, &moved, MOVED_TEMPLATE, fast))
            .transpose()?;
        let audit = audit_entry(
            actor,
            now,
            AuditAction::AppointmentReschedule,
            format!("appointment:{id}"),
        );
        self.store
            .reschedule_appointment(
                id,
                input.starts_at,
                &plans,
                message.as_ref(),
                &audit,
                self.messages_per_day,
            )
            .await?
            .ok_or_else(|| Error::Conflict("the appointment is cancelled; book a new one".into()))
    }

    /// Cancels an appointment: its reminders are withdrawn and, if it has not started, the
    /// patient is told. It stays listed, as cancelled; cancelling it again changes nothing.
    pub async fn cancel_appointment(&self, actor: &Actor, id: &AppointmentId) -> Result<()> {
        let current = self.appointment_record(id).await?;
        if current.status == AppointmentStatus::Cancelled {
            return Ok(());
        }
        let patient = self.patient_record(&current.patient_id).await?.patient;
        let now = self.now();
        let fast = too_soon_for_a_letter(now, &[current.starts_at]);
        let message = (current.starts_at > now)
            .then(|| self.notice(&patient, &current, CANCELLED_TEMPLATE, fast))
            .transpose()?;
        let audit = audit_entry(
            actor,
            now,
            AuditAction::AppointmentCancel,
            format!("appointment:{id}"),
        );
        self.store
            .cancel_appointment(
                id,
                "cancelled_by_team",
                message.as_ref(),
                &audit,
                self.messages_per_day,
            )
            .await?;
        Ok(())
    }

    /// A notice to the patient about their appointment (moved or cancelled), ready to be
    /// queued with the change; `fast` when it cannot wait for the post.
    fn notice(
        &self,
        patient: &Patient,
        appointment: &Appointment,
        template: &str,
        fast: bool,
    ) -> Result<PreparedMessage> {
        let request = MessageRequest {
            purpose: Purpose::Update,
            template: template.to_owned(),
            vars: appointment_vars(appointment, false),
            appointment_id: Some(appointment.id.clone()),
            reminder_key: None,
            fast,
        };
        Ok(self
            .outbound
            .prepare(patient, &request, crate::new_id().into(), Vec::new())?)
    }
}
