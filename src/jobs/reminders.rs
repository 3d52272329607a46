//! Turning a due reminder into a message and sending it, exactly once, in one job.
//!
//! The job carries the reminder's version; a reschedule or cancellation moves the version on,
//! so an old job finds itself stale and does nothing. The reminder's row changes from
//! `pending` to `sent` in the same transaction as its message is stored, so two workers (or
//! two gateways) racing on one reminder produce one message. A text that may go now is
//! claimed for sending in that same transaction and sent by this job (`delivery::send_claimed`);
//! if the job dies before the send is recorded, the queue runs it again and it finds its
//! reminder sent with the text still `sending`, and sends that text (at least once to the
//! provider, as any delivery is) — it never composes a second message. Everything else (a
//! letter, a call, a text held by the budget or to a number that opted out) goes on as any
//! message does, by its delivery job or task.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use chrono::{DurationRound, TimeDelta};

use super::delivery::{Delivered, DeliveryContext, DeliveryError, deliver_message, send_claimed};
use crate::clock::Clock;
use crate::domain::channel::Channel;
use crate::domain::id::MessageId;
use crate::domain::patient::Purpose;
use crate::domain::schedule::{Plan, plan_reminder};
use crate::outbound::{MessageRequest, Outbound, OutboundError, appointment_vars};
use crate::store::{
    AppointmentKind, AppointmentStatus, HourBudget, MessageStatus, ReminderJob, ReminderStatus,
    ReminderStored, StoreError,
};

#[derive(Debug)]
pub struct ReminderContext {
    pub outbound: Arc<Outbound>,
    pub clock: Arc<dyn Clock>,
    /// How a reminder's text is sent: the delivery jobs' providers, pace and policy.
    pub delivery: Arc<DeliveryContext>,
}

/// What became of one reminder job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reminded {
    /// Its message was stored and left to its delivery job, task or inbox item.
    Queued { message_id: MessageId },
    /// Its text was sent by this job (`outcome`: sent, refused and fallen back, or held).
    Sent {
        message_id: MessageId,
        outcome: Delivered,
    },
    /// Not sent, with the reason recorded on the reminder.
    Skipped(String),
    /// Quiet hours: moved to a later allowed time.
    Moved,
    /// Rescheduled, cancelled or already done: nothing to do.
    Stale,
}

#[derive(Debug, thiserror::Error)]
pub enum RemindError {
    #[error(transparent)]
    Compose(#[from] OutboundError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Deliver(#[from] DeliveryError),
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
) -> Result<Reminded, RemindError> {
    let store = &ctx.outbound.store;
    let Some(found) = store.reminder_context(&job.reminder_id).await? else {
        return Ok(Reminded::Stale);
    };
    let (reminder, appointment, patient) = (&found.reminder, &found.appointment, &found.patient);
    if reminder.version != job.version {
        return Ok(Reminded::Stale);
    }
    match (reminder.status, &reminder.message_id) {
        (ReminderStatus::Pending, _) => {}
        (ReminderStatus::Sent, Some(message_id)) => return resume(ctx, message_id).await,
        _ => return Ok(Reminded::Stale),
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
    // A reminder is a non-urgent text: it takes from the hour's budget when it goes now.
    let send_now = prepared.purpose.is_non_urgent().then(|| {
        let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        HourBudget {
            hour,
            per_hour: ctx.delivery.budget_per_hour.get(),
        }
    });
    match store
        .send_reminder(&job.reminder_id, job.version, &prepared, send_now, now)
        .await
    {
        Ok(ReminderStored::Claimed) => {
            let Some(message) = store.message(&message_id).await? else {
                return Err(StoreError::Corrupt(format!("message {message_id} vanished")).into());
            };
            let outcome = send_claimed(&ctx.delivery, &message).await?;
            Ok(Reminded::Sent {
                message_id,
                outcome,
            })
        }
        Ok(ReminderStored::Queued) => Ok(Reminded::Queued { message_id }),
        Ok(ReminderStored::Stale) => Ok(Reminded::Stale),
        // Another worker stored this reminder's message first.
        Err(StoreError::Conflict(_)) => Ok(Reminded::Stale),
        Err(other) => Err(other.into()),
    }
}

/// This job stored its reminder's message before and may have died before the text was
/// sent: a text it claimed and never finished (`sending`) is sent now, through the delivery
/// job's own path, which claims it again and checks the opt-out and the budget again. A text
/// still `queued` has a delivery job of its own, and anything else is finished: both are left.
async fn resume(ctx: &ReminderContext, message_id: &MessageId) -> Result<Reminded, RemindError> {
    let Some(message) = ctx.outbound.store.message(message_id).await? else {
        return Ok(Reminded::Stale);
    };
    if message.channel != Some(Channel::Sms) || message.status != MessageStatus::Sending {
        return Ok(Reminded::Stale);
    }
    tracing::warn!("the reminder's text was claimed but not recorded as sent; sending it now");
    let outcome = deliver_message(&ctx.delivery, message_id).await?;
    Ok(Reminded::Sent {
        message_id: message_id.clone(),
        outcome,
    })
}
