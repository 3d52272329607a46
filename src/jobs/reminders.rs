//! Turning a due reminder into a message, exactly once.
//!
//! The job carries the reminder's version; a reschedule or cancellation moves the version on,
//! so an old job finds itself stale and does nothing. The reminder's row changes from
//! `pending` to `sent` in the same transaction as its message is stored, so two workers (or
//! two gateways) racing on one reminder produce one message.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};

use crate::clock::Clock;
use crate::domain::id::MessageId;
use crate::domain::patient::Purpose;
use crate::domain::schedule::{Plan, plan_reminder};
use crate::outbound::{MessageRequest, Outbound, OutboundError, appointment_vars};
use crate::store::{AppointmentKind, AppointmentStatus, ReminderJob, ReminderStatus, StoreError};

#[derive(Debug)]
pub struct ReminderContext {
    pub outbound: Arc<Outbound>,
    pub clock: Arc<dyn Clock>,
}

/// What became of one reminder job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reminded {
    /// Its message was queued.
    Queued { message_id: MessageId },
    /// Not sent, with the reason recorded on the reminder.
    Skipped(String),
    /// Quiet hours: moved to a later allowed time.
    Moved,
    /// Rescheduled, cancelled or already done: nothing to do.
    Stale,
}

/// The apalis handler.
#[tracing::instrument(skip_all, fields(reminder_id = %job.reminder_id, version = job.version))]
pub async fn remind(job: ReminderJob, ctx: Data<Arc<ReminderContext>>) -> Result<(), BoxDynError> {
    match remind_once(&ctx, &job).await {
        Ok(outcome) => {
            tracing::info!(?outcome, "reminder handled");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn remind_once(
    ctx: &ReminderContext,
    job: &ReminderJob,
) -> Result<Reminded, OutboundError> {
    let store = &ctx.outbound.store;
    let Some(found) = store.reminder_context(&job.reminder_id).await? else {
        return Ok(Reminded::Stale);
    };
    let (reminder, appointment, patient) = (&found.reminder, &found.appointment, &found.patient);
    if reminder.version != job.version || reminder.status != ReminderStatus::Pending {
        return Ok(Reminded::Stale);
    }
    let mut now = ctx.clock.now();
    // The queue counts in whole seconds: never send before the reminder's own time.
    if let Some(early) = reminder.send_at.and_then(|at| (at - now).to_std().ok())
        && early <= std::time::Duration::from_secs(2)
    {
        tokio::time::sleep(early).await;
        now = ctx.clock.now();
    }
    let skip = |reason: &'static str| async move {
        store
            .skip_reminder(&job.reminder_id, job.version, reason, now)
            .await
            .map(|done| {
                if done {
                    Reminded::Skipped(reason.to_owned())
                } else {
                    Reminded::Stale
                }
            })
    };
    if appointment.status == AppointmentStatus::Cancelled {
        return Ok(skip("appointment_cancelled").await?);
    }
    if now >= appointment.starts_at {
        // Never after the appointment has started (e.g. the gateway was down at the time).
        return Ok(skip("at_or_after_start").await?);
    }
    let quiet = ctx.outbound.quiet_hours_for(patient);
    if quiet.contains(now) {
        return Ok(
            match plan_reminder(now, appointment.starts_at, now, quiet) {
                Plan::SendAt(later) => {
                    if store
                        .move_reminder(&job.reminder_id, job.version, later, now)
                        .await?
                    {
                        Reminded::Moved
                    } else {
                        Reminded::Stale
                    }
                }
                Plan::Skip(reason) => skip(reason.as_str()).await?,
            },
        );
    }
    // The first reminder of an assessment says what to have ready: the earliest one that is
    // going (or has gone) — decided from the plan, not from timing, so two reminders handled
    // at once still agree on which is first.
    let first_of_assessment = appointment.kind == AppointmentKind::Assessment
        && appointment
            .reminders
            .iter()
            .filter(|r| matches!(r.status, ReminderStatus::Pending | ReminderStatus::Sent))
            .map(|r| r.offset_seconds)
            .max()
            == Some(reminder.offset_seconds);
    let request = MessageRequest {
        purpose: Purpose::Reminder,
        template: "reminder".into(),
        vars: appointment_vars(appointment, first_of_assessment),
        appointment_id: Some(appointment.id.clone()),
        reminder_key: Some(format!("{}:{}", reminder.id, reminder.version)),
        fast: false,
    };
    let prepared = ctx
        .outbound
        .prepare(patient, &request, crate::new_id().into(), Vec::new())?;
    let message_id = prepared.id.clone();
    match store
        .send_reminder(&job.reminder_id, job.version, &prepared, now)
        .await
    {
        Ok(true) => Ok(Reminded::Queued { message_id }),
        Ok(false) => Ok(Reminded::Stale),
        // Another worker stored this reminder's message first.
        Err(StoreError::Conflict(_)) => Ok(Reminded::Stale),
        Err(other) => Err(other.into()),
    }
}
