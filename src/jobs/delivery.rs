//! Sending one stored text through the SMS provider: paced to the provider's rate, retrying
//! temporary failures with exponential backoff, and — for a patient's message — falling back
//! to the next channel when the text cannot go. A letter for GOV.UK Notify takes the same
//! queue (`deliver_letter`): retried the same way, and on the print list when Notify will not
//! take it.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::failover::Providers;
use crate::channels::letter::{LetterProvider, Postage};
use crate::channels::sms::{SendError, Sender};
use crate::clock::Clock;
use crate::domain::channel::Channel;
use crate::domain::id::MessageId;
use crate::domain::patient::MessagePurpose;
use crate::domain::phone::PhoneNumber;
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::store::{
    Delivery, Message, MessageStatus, MobileState, NextStep, Patient, Receipt, Store, StoreError,
};

/// Keeps one provider's sends under its rate (`CRHT_SMS_RATE_PER_SEC`) across every worker.
#[derive(Debug)]
pub enum Pace {
    /// SQLite: one gateway per database file, so an in-process limiter sees every send. A
    /// burst of one: never more than the rate in any one-second window.
    Local(DefaultDirectRateLimiter),
    /// PostgreSQL: several gateways share the database, so each send first reserves a slot
    /// in a row they all share, the provider's (`slot`: its place in the list, from 1); an
    /// in-process limiter could not see the others.
    Shared { interval: Duration, slot: i32 },
}

impl Pace {
    pub fn new(rate_per_sec: NonZeroU32, shared: bool, slot: i32) -> Self {
        // Sends are spaced 5% wider than the rate asks: the provider counts arrivals, and a
        // request that leaves late (a busy machine) must not bunch up with the next one.
        let interval = Duration::from_secs_f64(1.05 / f64::from(rate_per_sec.get()));
        if shared {
            Pace::Shared { interval, slot }
        } else {
            let quota = Quota::with_period(interval)
                .unwrap_or_else(|| Quota::per_second(rate_per_sec))
                .allow_burst(NonZeroU32::MIN);
            Pace::Local(RateLimiter::direct(quota))
        }
    }

    async fn wait(&self, store: &dyn Store, clock: &dyn Clock) -> Result<(), StoreError> {
        match self {
            Pace::Local(limiter) => limiter.until_ready().await,
            Pace::Shared { interval, slot } => {
                let wait = store
                    .reserve_send_slot(*slot, *interval, clock.now())
                    .await?;
                tokio::time::sleep(wait).await;
            }
        }
        Ok(())
    }
}

/// What sending needs; shared by every delivery job of a process.
#[derive(Debug)]
pub struct DeliveryContext {
    pub store: Arc<dyn Store>,
    /// The providers in order of preference, each with its pace.
    pub sms: Providers,
    /// GOV.UK Notify for letters (`CRHT_NOTIFY_LETTERS`); `None`: letters are printed.
    pub letters: Option<Arc<dyn LetterProvider>>,
    pub clock: Arc<dyn Clock>,
    /// Most non-urgent texts sent in one clock hour, every gateway together.
    pub budget_per_hour: NonZeroU32,
    pub metrics: Metrics,
    pub backoff: ExponentialBuilder,
    /// For a patient's message that cannot go by text.
    pub outbound: Arc<Outbound>,
}

/// From `base` (0.5 s by default), doubling up to 30 s, with jitter; six retries before a
/// patient's message falls back (an alert to staff is handed back to the queue instead).
pub fn backoff(base: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(base)
        .with_max_delay(Duration::from_secs(30))
        .with_max_times(6)
        .with_jitter()
}

/// The wait before the `attempt`-th resend of a text the network reported as temporarily
/// undeliverable (from the same backoff policy).
pub fn resend_delay(base: Duration, attempt: usize) -> Option<Duration> {
    backoff(base).build().nth(attempt)
}

/// What a provider error code says about the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberProblem {
    /// 21610: the person texted STOP to the provider.
    OptedOut,
    /// The number cannot take texts (invalid, not a mobile, unreachable carrier, blocked).
    Unusable,
    /// Worth another try later (handset off, carrier hiccup).
    Temporary,
    /// Anything else: give up on this text, keep the number.
    Other,
}

/// Twilio's error codes, as documented for Programmable Messaging, and GOV.UK Notify's
/// failure statuses (`notify::receipt` keeps them as the receipt's code). Notify's
/// `permanent-failure` (a wrong number, or the network refused the text) falls back without
/// marking the number: Notify does not say which, and a number marked unusable would get no
/// more texts.
pub fn classify(code: Option<&str>) -> NumberProblem {
    match code.unwrap_or_default() {
        "temporary-failure" | "technical-failure" => NumberProblem::Temporary,
        "21610" => NumberProblem::OptedOut,
        "21211" | "21612" | "21614" | "21408" | "30004" | "30005" | "30006" => {
            NumberProblem::Unusable
        }
        "30001" | "30002" | "30003" | "30008" | "30009" | "30010" => NumberProblem::Temporary,
        _ => NumberProblem::Other,
    }
}

/// Why a text to a number that opted out was not sent (its error code, and the reason its
/// patient's message moved to the next channel).
pub const OPTED_OUT: &str = "sms_opted_out";

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Sent {
        provider_id: String,
    },
    /// The provider refused for good; recorded, and a patient's message fell back.
    Refused {
        code: Option<String>,
    },
    /// Already sent, withdrawn or rerouted: nothing done.
    Skipped,
    /// A non-urgent text past the hour's budget: queued again for `until`.
    Held {
        until: DateTime<Utc>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Temporary failures outlasted the backoff; the queue will try again.
    #[error("provider still failing: {0}")]
    StillFailing(SendError),
}

/// The apalis handler.
#[tracing::instrument(skip_all, fields(message_id = %job.message_id))]
pub async fn deliver(job: Delivery, ctx: Data<Arc<DeliveryContext>>) -> Result<(), BoxDynError> {
    deliver_message(&ctx, &job.message_id)
        .await
        .map(|_| ())
        .map_err(Into::into)
}

pub async fn deliver_message(
    ctx: &DeliveryContext,
    id: &MessageId,
) -> Result<Delivered, DeliveryError> {
    let Some(message) = ctx.store.message(id).await? else {
        tracing::warn!("message to deliver no longer exists");
        return Ok(Delivered::Skipped);
    };
    if !ctx.store.start_sending(id, ctx.clock.now()).await? {
        return Ok(Delivered::Skipped);
    }
    if message.channel == Some(Channel::Letter) {
        return deliver_letter(ctx, &message).await;
    }
    let to = message
        .to
        .as_deref()
        .and_then(|to| PhoneNumber::parse(to).ok());
    let (Some(to), Some(body)) = (to, message.body.as_deref()) else {
        ctx.store
            .fail_sending(id, Some("no_number"), ctx.clock.now(), &|_, _| {
                NextStep::Stop
            })
            .await?;
        return Ok(Delivered::Refused {
            code: Some("no_number".into()),
        });
    };
    // STOP means stop, everywhere: the number may have opted out since this was queued, or
    // while it was another record's. Only alerts to on-call staff, and the replies the intake
    // let past an opt-out (the STOP confirmation, a 999 answer), are never held back.
    if !message.goes_past_opt_out() && ctx.store.number_opted_out(&to).await? {
        tracing::info!(
            purpose = %message.purpose,
            "the number has opted out of texts; not sent"
        );
        let after = fall_back(&ctx.outbound, OPTED_OUT, MobileState::default());
        ctx.store
            .fail_sending(id, Some(OPTED_OUT), ctx.clock.now(), &after)
            .await?;
        return Ok(Delivered::Refused {
            code: Some(OPTED_OUT.into()),
        });
    }
    // The hourly budget of non-urgent texts. Urgent messages, on-call alerts and replies to
    // a person texting (999 answers among them: TwiML through Twilio, purpose `reply` through
    // Notify) never wait.
    if message.purpose.is_non_urgent() {
        let now = ctx.clock.now();
        let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let until = hour + TimeDelta::hours(1);
        let budget = ctx.budget_per_hour.get();
        if !ctx
            .store
            .take_from_budget(id, hour, budget, until, now)
            .await?
        {
            ctx.metrics.sms_budget_held.inc();
            tracing::warn!(
                purpose = %message.purpose,
                budget,
                %until,
                "the hourly budget of non-urgent texts is spent; text held for the next hour"
            );
            return Ok(Delivered::Held { until });
        }
    }
    let sender = sender(message.purpose);
    let first_try = std::sync::atomic::AtomicBool::new(true);
    let attempt = || async {
        // A STOP may arrive while a text waits for its next try: asked again before each.
        if !first_try.swap(false, std::sync::atomic::Ordering::Relaxed)
            && !message.goes_past_opt_out()
            && ctx
                .store
                .number_opted_out(&to)
                .await
                .map_err(|e| SendError::Transient(format!("cannot check opt-out: {e}")))?
        {
            return Err(SendError::Permanent {
                code: Some(OPTED_OUT.into()),
                reason: "the number opted out while the text waited to be tried again".into(),
            });
        }
        // Chosen again on every try. When this try's failure hands over to the next provider,
        // the next is tried at once rather than after the backoff.
        let mut tried = 0;
        loop {
            let index = ctx.sms.choose(tokio::time::Instant::now());
            let route = ctx.sms.route(index);
            route
                .pace
                .wait(ctx.store.as_ref(), ctx.clock.as_ref())
                .await
                .map_err(|e| SendError::Transient(format!("rate slot unavailable: {e}")))?;
            let result = route.provider.send(&to, body, id, sender).await;
            let now = tokio::time::Instant::now();
            ctx.sms.report(index, &result, now);
            tried += 1;
            match &result {
                Ok(_) => {
                    ctx.metrics
                        .sms_provider_sends
                        .get_or_create(&crate::metrics::ProviderLabels {
                            provider: route.provider.name(),
                        })
                        .inc();
                }
                Err(SendError::Transient(_))
                    if tried < ctx.sms.count() && ctx.sms.choose(now) != index =>
                {
                    continue;
                }
                Err(_) => {}
            }
            break result;
        }
    };
    let result = attempt
        .retry(ctx.backoff)
        .when(SendError::is_transient)
        .adjust(provider_wait)
        .notify(|error, wait| {
            ctx.metrics.sms_retries.inc();
            tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "send failed; will retry");
        })
        .await;
    match result {
        Ok(sent) => {
            ctx.store
                .finish_sending(
                    id,
                    MessageStatus::Sent,
                    Some(&sent.provider_id),
                    ctx.clock.now(),
                )
                .await?;
            ctx.metrics.sms_sent.inc();
            tracing::info!(purpose = %message.purpose, "text handed to the provider");
            Ok(Delivered::Sent {
                provider_id: sent.provider_id,
            })
        }
        Err(SendError::Permanent { code, reason }) if code.as_deref() == Some(OPTED_OUT) => {
            tracing::info!(reason, purpose = %message.purpose, "not sent");
            let after = fall_back(&ctx.outbound, OPTED_OUT, MobileState::default());
            ctx.store
                .fail_sending(id, code.as_deref(), ctx.clock.now(), &after)
                .await?;
            Ok(Delivered::Refused { code })
        }
        Err(SendError::Permanent { code, reason }) => {
            ctx.metrics.sms_failed.inc();
            tracing::warn!(reason, code = ?code, "provider refused the text for good");
            let after = cannot_text(&ctx.outbound, code.as_deref());
            ctx.store
                .fail_sending(id, code.as_deref(), ctx.clock.now(), &after)
                .await?;
            Ok(Delivered::Refused { code })
        }
        Err(transient) if message.is_to_patient() => {
            // A patient's message does not wait for the provider forever: next channel.
            tracing::warn!(error = %transient, "provider still failing after backoff; falling back");
            let after = fall_back(
                &ctx.outbound,
                "provider_unavailable",
                MobileState::default(),
            );
            ctx.store
                .fail_sending(id, Some("provider_unavailable"), ctx.clock.now(), &after)
                .await?;
            Ok(Delivered::Refused {
                code: Some("provider_unavailable".into()),
            })
        }
        Err(transient) => {
            // An alert to staff is never given up: the queue tries again.
            tracing::warn!(error = %transient, "provider still failing after backoff");
            ctx.store
                .finish_sending(id, MessageStatus::Queued, None, ctx.clock.now())
                .await?;
            Err(DeliveryError::StillFailing(transient))
        }
    }
}

/// How long to wait before the next try: the provider's own `Retry-After` on a 429, else the
/// backoff's plan.
fn provider_wait(error: &SendError, planned: Option<Duration>) -> Option<Duration> {
    match error {
        SendError::RateLimited {
            retry_after: Some(wait),
        } => Some(*wait),
        _ => planned,
    }
}

/// The sender a message leaves from: messages to patients from the reminders' sender, so a
/// STOP sent to one of them never reaches the referral number; everything a person texting,
/// or on-call staff, should be able to answer from the referral number.
pub fn sender(purpose: MessagePurpose) -> Sender {
    if purpose.for_patient().is_some() {
        Sender::Reminders
    } else {
        Sender::ReferralNumber
    }
}

/// The class of post for a letter: first class (next working day) for an urgent message or
/// one about an appointment, whose date will not wait three days (`outbound::LETTER_NOTICE`
/// assumes next-day post); second class, Notify's default, for everything else.
pub fn postage(message: &Message) -> Postage {
    if message.purpose == MessagePurpose::Urgent || message.appointment_id.is_some() {
        Postage::First
    } else {
        Postage::Second
    }
}

/// A letter that GOV.UK Notify will not take goes on the print list, for `reason`.
fn print_instead(reason: String) -> impl Fn(&Message, Option<&Patient>) -> NextStep + Send + Sync {
    move |_, _| NextStep::PrintLetter {
        reason: reason.clone(),
    }
}

/// Posts one claimed letter through GOV.UK Notify: temporary failures (429, 5xx, timeouts)
/// are tried again on the send backoff; a refusal (400, 403), or Notify still failing after
/// the backoff, puts the letter on the print list, so it is never lost.
async fn deliver_letter(
    ctx: &DeliveryContext,
    message: &Message,
) -> Result<Delivered, DeliveryError> {
    let id = &message.id;
    let pdf = match &ctx.letters {
        Some(_) => ctx.store.posted_letter(id).await?,
        None => None,
    };
    let (Some(letters), Some(pdf)) = (&ctx.letters, pdf) else {
        // CRHT_NOTIFY_LETTERS was turned off after the letter was queued.
        tracing::warn!("a letter queued for GOV.UK Notify goes to the print list instead");
        let code = "notify_letters_off";
        ctx.store
            .fail_sending(id, Some(code), ctx.clock.now(), &print_instead(code.into()))
            .await?;
        return Ok(Delivered::Refused {
            code: Some(code.into()),
        });
    };
    let postage = postage(message);
    let attempt = || async { letters.send_letter(&pdf, id, postage).await };
    let result = attempt
        .retry(ctx.backoff)
        .when(SendError::is_transient)
        .adjust(provider_wait)
        .notify(|error, wait| {
            tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "letter not taken; will retry");
        })
        .await;
    match result {
        Ok(sent) => {
            ctx.store
                .finish_sending(
                    id,
                    MessageStatus::Sent,
                    Some(&sent.provider_id),
                    ctx.clock.now(),
                )
                .await?;
            tracing::info!(purpose = %message.purpose, postage = postage.as_str(), "letter handed to GOV.UK Notify");
            Ok(Delivered::Sent {
                provider_id: sent.provider_id,
            })
        }
        Err(error) => {
            let code = match &error {
                SendError::Permanent { code, .. } => {
                    code.clone().unwrap_or_else(|| "notify_refused".into())
                }
                _ => "provider_unavailable".into(),
            };
            tracing::warn!(%error, code, "GOV.UK Notify did not take the letter; it goes to the print list");
            ctx.store
                .fail_sending(
                    id,
                    Some(&code),
                    ctx.clock.now(),
                    &print_instead(code.clone()),
                )
                .await?;
            Ok(Delivered::Refused { code: Some(code) })
        }
    }
}

/// How many times a text the network reported as temporarily undeliverable is sent again
/// before the next channel is tried.
const RESENDS: i64 = 3;

/// The policy for a failed text that the store calls inside the failure's transaction: a
/// patient's message falls back to its next channel for `reason`, after `mobile` is recorded
/// on their record; anything else stops.
pub fn fall_back<'a>(
    outbound: &'a Outbound,
    reason: &'a str,
    mobile: MobileState,
) -> impl Fn(&Message, Option<&Patient>) -> NextStep + Send + Sync + 'a {
    move |message, patient| next_channel(outbound, message, patient, reason, &mobile)
}

/// The step `fall_back` takes for one message.
fn next_channel(
    outbound: &Outbound,
    message: &Message,
    patient: Option<&Patient>,
    reason: &str,
    mobile: &MobileState,
) -> NextStep {
    let next = patient
        .filter(|_| message.is_to_patient())
        .and_then(|patient| outbound.next_channel(message, patient, reason));
    match next {
        Some((failed, next)) => NextStep::FallBack {
            mobile: mobile.clone(),
            failed,
            next: Box::new(next),
        },
        None => NextStep::Stop,
    }
}

/// What the provider's `code` says about a patient's mobile, and the reason its message
/// moves to the next channel.
fn failure_verdict(code: Option<&str>) -> (MobileState, String) {
    match classify(code) {
        NumberProblem::OptedOut => (
            MobileState {
                opted_out: Some(true),
                failed: None,
            },
            OPTED_OUT.to_owned(),
        ),
        NumberProblem::Unusable => (
            MobileState {
                opted_out: None,
                failed: code.map(str::to_owned),
            },
            format!("sms_failed_{}", code.unwrap_or("unknown")),
        ),
        NumberProblem::Temporary | NumberProblem::Other => (
            MobileState::default(),
            format!("sms_failed_{}", code.unwrap_or("unknown")),
        ),
    }
}

/// A text to a patient failed for good with the provider's `code`: what it says about their
/// number is recorded, and the next channel tried.
pub fn cannot_text<'a>(
    outbound: &'a Outbound,
    code: Option<&str>,
) -> impl Fn(&Message, Option<&Patient>) -> NextStep + Send + Sync + 'a {
    let (mobile, reason) = failure_verdict(code);
    move |message, patient| next_channel(outbound, message, patient, &reason, &mobile)
}

/// A delivery receipt that moved a text's status: an `undelivered` or `failed` text to a
/// patient is sent again while the network calls it temporary (up to `RESENDS` times, on the
/// send backoff), then falls back as `cannot_text` says; every other receipt stops here.
pub fn after_receipt<'a>(
    outbound: &'a Outbound,
    receipt: &Receipt<'_>,
    backoff_base: Duration,
) -> impl Fn(&Message, Option<&Patient>) -> NextStep + Send + Sync + 'a {
    let failed = matches!(receipt.status, "undelivered" | "failed");
    let code = receipt.error_code.map(str::to_owned);
    let (mobile, reason) = failure_verdict(receipt.error_code);
    let at = receipt.at;
    move |message, patient| {
        if failed && message.channel == Some(Channel::Letter) {
            // GOV.UK Notify could not print or post it: staff print it.
            return NextStep::PrintLetter {
                reason: format!("notify_{}", code.as_deref().unwrap_or("failed")),
            };
        }
        if !failed || !message.is_to_patient() {
            return NextStep::Stop;
        }
        let resend = match classify(code.as_deref()) {
            NumberProblem::Temporary if message.attempts <= RESENDS => {
                resend_delay(backoff_base, usize::try_from(message.attempts).unwrap_or(0))
            }
            _ => None,
        };
        match resend {
            Some(delay) => NextStep::Resend {
                run_at: at + chrono::TimeDelta::from_std(delay).unwrap_or_default(),
            },
            None => next_channel(outbound, message, patient, &reason, &mobile),
        }
    }
}
