//! Appointments and the reminders before each: booking, rescheduling, cancelling, and the
//! notice the patient gets when one moves or is cancelled.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    Cursor, Error, InvalidItem, Page, PageQuery, Paged, Result, Services, audit_entry, limits,
    list_entry,
};
use crate::domain::id::{AppointmentId, PatientId};
use crate::domain::patient::Purpose;
use crate::outbound::{MessageRequest, appointment_vars, too_soon_for_a_letter};
use crate::store::{
    Actor, Appointment, AppointmentKind, AppointmentPlace, AppointmentStatus, AuditAction,
    AuditEntry, Patient, PreparedMessage, ReminderPlan, TimeKey,
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

/// A booking's audit entry: one per appointment, batch or not, so "who booked this
/// appointment" is answered by its own entry, found by its id like every other change to it.
fn booking_audit(actor: &Actor, now: DateTime<Utc>, appointment: &Appointment) -> AuditEntry {
    audit_entry(
        actor,
        now,
        AuditAction::AppointmentBook,
        format!("appointment:{}", appointment.id),
    )
}

/// The most appointments one batch may book: a clinic's list, small enough that its one
/// transaction holds the database for a moment only.
pub const MAX_BATCH: usize = 1_000;

/// One appointment of a batch: the patient's id beside the single booking's fields.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchAppointmentIn {
    pub patient_id: PatientId,
    #[serde(flatten)]
    pub appointment: AppointmentIn,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppointmentBatchIn {
    /// At most 1,000, booked all together or, if any is invalid, none.
    pub appointments: Vec<BatchAppointmentIn>,
}

/// A booking's fields once they keep every rule: what a single booking and each item of a
/// batch are checked into, so both follow the same rules.
struct Booking {
    starts_at: DateTime<Utc>,
    place: AppointmentPlace,
    site_name: Option<String>,
    kind: AppointmentKind,
    staff_name: Option<String>,
}

/// A field of a booking that breaks a rule, in the words the single booking answers with.
struct FieldError {
    field: &'static str,
    detail: String,
}

impl FieldError {
    fn new(field: &'static str, detail: impl Into<String>) -> Self {
        FieldError {
            field,
            detail: detail.into(),
        }
    }

    /// A limit's refusal (`limits`), kept as its words with the field it names.
    fn limit(field: &'static str, checked: Result<()>) -> std::result::Result<(), Self> {
        checked.map_err(|e| FieldError::new(field, e.to_string()))
    }
}

/// Checks every field of a booking as at `now`; the problems in the order the single booking
/// has always reported them (it answers with the first).
fn check_booking(
    input: AppointmentIn,
    now: DateTime<Utc>,
) -> std::result::Result<Booking, Vec<FieldError>> {
    let mut problems = Vec::new();
    let limits = [
        FieldError::limit("kind", limits::at_most("kind", &input.kind, limits::CODE)),
        FieldError::limit(
            "site_name",
            limits::optional("site_name", input.site_name.as_deref(), limits::NAME),
        ),
        FieldError::limit(
            "staff_name",
            limits::optional("staff_name", input.staff_name.as_deref(), limits::NAME),
        ),
    ];
    problems.extend(limits.into_iter().filter_map(std::result::Result::err));
    let starts_at = whole_seconds(input.starts_at);
    if starts_at <= now {
        problems.push(FieldError::new("starts_at", "starts_at is in the past"));
    }
    let kind = AppointmentKind::parse(&input.kind);
    if kind.is_none() && !problems.iter().any(|p| p.field == "kind") {
        problems.push(FieldError::new(
            "kind",
            "kind must be assessment, home_visit or review",
        ));
    }
    let site_name = trimmed(input.site_name);
    if input.place == AppointmentPlace::Site && site_name.is_none() {
        problems.push(FieldError::new(
            "site_name",
            "site_name is required when place is site",
        ));
    }
    match kind {
        Some(kind) if problems.is_empty() => Ok(Booking {
            starts_at,
            place: input.place,
            site_name,
            kind,
            staff_name: trimmed(input.staff_name),
        }),
        _ => Err(problems),
    }
}

impl Services {
    /// Books an appointment and plans its reminders (one already past is not sent).
    pub async fn book_appointment(
        &self,
        actor: &Actor,
        patient_id: &PatientId,
        input: AppointmentIn,
    ) -> Result<Appointment> {
        let now = self.now();
        let booking = check_booking(input, now).map_err(|problems| {
            Error::Invalid(
                problems
                    .into_iter()
                    .next()
                    .map_or_else(String::new, |p| p.detail),
            )
        })?;
        let patient = self.patient_record(patient_id).await?.patient;
        let (appointment, plans) = self.new_appointment(&patient, booking, now);
        let audit = booking_audit(actor, now, &appointment);
        self.store
            .create_appointment(&appointment, &plans, &audit)
            .await?;
        self.appointment_record(&appointment.id).await
    }

    /// Books a batch of appointments (a clinic's list) exactly as one at a time would be,
    /// checked, planned and audited alike, but in one transaction: all are booked, or, if
    /// any item is invalid or names no patient, none is and each bad item is named. Returns
    /// them in the order sent.
    pub async fn book_appointments(
        &self,
        actor: &Actor,
        batch: AppointmentBatchIn,
    ) -> Result<Vec<Appointment>> {
        let items = batch.appointments;
        if items.is_empty() {
            return Err(Error::Invalid(
                "appointments: send at least one appointment".into(),
            ));
        }
        if items.len() > MAX_BATCH {
            return Err(Error::Invalid(format!(
                "appointments: at most {MAX_BATCH} in one batch (this one has {}); \
                 send the rest in another",
                items.len()
            )));
        }
        let now = self.now();
        let mut ids: Vec<PatientId> = items.iter().map(|i| i.patient_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let patients: HashMap<PatientId, Patient> = self
            .store
            .patients_by_id(&ids)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let mut invalid = Vec::new();
        let mut checked = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let patient = patients.get(&item.patient_id);
            if patient.is_none() {
                invalid.push(InvalidItem {
                    index,
                    field: "patient_id".into(),
                    detail: format!("no patient {}", item.patient_id),
                });
            }
            match (check_booking(item.appointment, now), patient) {
                (Ok(booking), Some(patient)) => checked.push((patient, booking)),
                (Ok(_), None) => {}
                (Err(problems), _) => {
                    invalid.extend(problems.into_iter().map(|p| InvalidItem {
                        index,
                        field: p.field.into(),
                        detail: p.detail,
                    }));
                }
            }
        }
        if !invalid.is_empty() {
            return Err(Error::InvalidItems(invalid));
        }
        let mut bookings = Vec::with_capacity(checked.len());
        let mut audits = Vec::with_capacity(checked.len());
        for (patient, booking) in checked {
            let (appointment, plans) = self.new_appointment(patient, booking, now);
            audits.push(booking_audit(actor, now, &appointment));
            bookings.push((appointment, plans));
        }
        Ok(self.store.create_appointments(&bookings, &audits).await?)
    }

    /// A new appointment for the patient, and its reminders planned around their quiet hours.
    fn new_appointment(
        &self,
        patient: &Patient,
        booking: Booking,
        now: DateTime<Utc>,
    ) -> (Appointment, Vec<ReminderPlan>) {
        let appointment = Appointment {
            id: crate::new_id().into(),
            patient_id: patient.id.clone(),
            starts_at: booking.starts_at,
            place: booking.place,
            site_name: booking.site_name,
            kind: booking.kind,
            staff_name: booking.staff_name,
            status: AppointmentStatus::Booked,
            created_at: now,
            updated_at: now,
            reminders: Vec::new(),
        };
        let plans = self.outbound.plan_reminders(
            appointment.starts_at,
            self.outbound.quiet_hours_for(patient),
        );
        (appointment, plans)
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
