//! Feedback requests after discharge, sent as they come due by the sweeps, exactly once.
//!
//! A discharge plans one request (`store::FeedbackStore::discharge_patient`), due
//! `CRHT_FEEDBACK_AFTER` later. When it comes due it goes by the patient's own channels (a
//! text when they have a usable mobile of their own, else a letter), unless it is their quiet
//! hours or within 72 hours of a text from them that screened as risk: then it is moved on
//! (`domain::schedule::feedback_time`). The request's row changes from `pending` to `sent` in
//! the same transaction as its message is stored, and that change checks again that no risk
//! text has arrived meanwhile, so two gateways sweeping at once, or a restart, send it once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, json};

use crate::domain::channel::Channel;
use crate::domain::id::MessageId;
use crate::domain::patient::Purpose;
use crate::domain::schedule::{FEEDBACK_AFTER_RISK, FeedbackWait, feedback_time};
use crate::outbound::{FEEDBACK_REQUEST, MessageRequest, Outbound, OutboundError};
use crate::store::{DueFeedback, Skipped, StoreError};

/// Most requests one sweep looks at (the rest wait for the next pass).
const PER_SWEEP: u32 = 100;

/// Why a feedback request is never texted to a mobile another record shares (H-32).
pub const SHARED_MOBILE: &str = "shared_mobile";

#[derive(Debug)]
pub struct FeedbackContext {
    pub outbound: Arc<Outbound>,
    /// The Trust's feedback page (`CRHT_FEEDBACK_URL`), linked from the request when set.
    pub feedback_url: Option<String>,
}

/// What became of one due request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// Its message was stored and routed.
    Queued { message_id: MessageId },
    /// Moved on: quiet hours, or a recent risk text.
    Moved(FeedbackWait),
    /// Sent or moved by another gateway meanwhile, or a risk text arrived as it was sent.
    Stale,
}

/// Sends (or moves on) every feedback request due by `now`; how many were sent. A request
/// that cannot be prepared is logged and left for the next pass, never blocking the others.
pub async fn request_due(ctx: &FeedbackContext, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut sent = 0;
    for due in ctx.outbound.store.due_feedback(now, PER_SWEEP).await? {
        match request_one(ctx, &due, now).await {
            Ok(Requested::Queued { message_id }) => {
                sent += 1;
                tracing::info!(patient_id = %due.patient.id, %message_id, "feedback request sent");
            }
            Ok(outcome) => {
                tracing::debug!(patient_id = %due.patient.id, ?outcome, "feedback request not sent now")
            }
            Err(OutboundError::Store(error)) => return Err(error),
            Err(error) => {
                tracing::error!(patient_id = %due.patient.id, %error, "feedback request could not be prepared")
            }
        }
    }
    Ok(sent)
}

pub async fn request_one(
    ctx: &FeedbackContext,
    due: &DueFeedback,
    now: DateTime<Utc>,
) -> Result<Requested, OutboundError> {
    let store = &ctx.outbound.store;
    let quiet = ctx.outbound.quiet_hours_for(&due.patient);
    if let Some((at, why)) = feedback_time(now, quiet, due.last_risk_text_at) {
        let moved = store
            .move_feedback(&due.id, due.version, at, why.as_str(), now)
            .await?;
        return Ok(if moved {
            Requested::Moved(why)
        } else {
            Requested::Stale
        });
    }
    let mut vars = Map::new();
    if let Some(url) = &ctx.feedback_url {
        vars.insert("feedback_url".into(), json!(url));
    }
    let skipped = if due.mobile_shared {
        vec![Skipped {
            channel: Channel::Sms,
            reason: SHARED_MOBILE.into(),
        }]
    } else {
        Vec::new()
    };
    let request = MessageRequest {
        purpose: Purpose::Update,
        template: FEEDBACK_REQUEST.into(),
        vars,
        appointment_id: None,
        reminder_key: None,
        fast: false,
    };
    let prepared = ctx
        .outbound
        .prepare(&due.patient, &request, crate::new_id().into(), skipped)?;
    let message_id = prepared.id.clone();
    match store
        .send_feedback(
            &due.id,
            due.version,
            &prepared,
            now - FEEDBACK_AFTER_RISK,
            now,
        )
        .await
    {
        Ok(true) => Ok(Requested::Queued { message_id }),
        Ok(false) | Err(StoreError::Conflict(_)) => Ok(Requested::Stale),
        Err(other) => Err(other.into()),
    }
}
