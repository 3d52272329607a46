//! The background sweeps: what the gateway does on a timer rather than because someone asked.
//!
//! Each pass marks idle conversations abandoned, escalates urgent referrals and patients nobody
//! acknowledged, puts back in the queue jobs a killed worker left running, moves reminders
//! coming due into the job queue, sends feedback requests coming due after a discharge
//! (`jobs::feedback`), and (hourly) forgets message words past the retention
//! period. Every step is one store call that does its own transaction, so a pass cut short by
//! a crash is simply run again by the next.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::intake::Intake;
use crate::jobs::feedback::{self, FeedbackContext};
use crate::metrics::Metrics;
use crate::store::{self, AuditAction, AuditEntry, Store};

/// What the sweeps run with.
#[derive(Debug)]
pub struct Sweeps {
    store: Arc<dyn Store>,
    intake: Arc<Intake>,
    feedback: Arc<FeedbackContext>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    every: Duration,
    abandon_after: TimeDelta,
    urgent_ack: TimeDelta,
    orphaned_after: Duration,
    retention: TimeDelta,
    /// When the retention sweep last ran (it runs at most hourly).
    retention_ran: Mutex<Option<DateTime<Utc>>>,
}

impl Sweeps {
    pub fn new(
        store: Arc<dyn Store>,
        intake: Arc<Intake>,
        feedback: Arc<FeedbackContext>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
        config: &Config,
    ) -> Sweeps {
        Sweeps {
            store,
            intake,
            feedback,
            clock,
            metrics,
            every: config.sweep_interval,
            abandon_after: TimeDelta::from_std(config.abandon_after).unwrap_or(TimeDelta::MAX),
            urgent_ack: TimeDelta::from_std(config.urgent_ack).unwrap_or(TimeDelta::MAX),
            orphaned_after: crate::jobs::orphaned_after(config.job_heartbeat),
            retention: TimeDelta::days(i64::from(config.retention_days)),
            retention_ran: Mutex::new(None),
        }
    }

    /// Runs a pass now and then every sweep interval until `shutdown`; a pass that fails is
    /// logged and the next one tries again.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(error) = self.run_once().await {
                        tracing::warn!(error = format!("{error:#}"), "background sweep failed");
                    }
                }
            }
        }
    }

    /// One pass of every sweep.
    pub async fn run_once(&self) -> anyhow::Result<()> {
        let now = self.clock.now();
        let idle_since = now
            .checked_sub_signed(self.abandon_after)
            .context("abandon_after is out of range")?;
        let abandoned = self.store.abandon_idle(idle_since, now).await?;
        if abandoned > 0 {
            self.metrics.conversations_abandoned.inc_by(abandoned);
            tracing::info!(abandoned, "idle conversations marked abandoned");
        }
        self.escalate(now).await?;
        let rescued = self.store.rescue_orphaned_jobs(self.orphaned_after).await?;
        if rescued > 0 {
            tracing::warn!(
                rescued,
                "jobs left running by a stopped worker put back in the queue"
            );
        }
        let queued = self
            .store
            .queue_due_reminders(now + store::queue_horizon())
            .await?;
        if queued > 0 {
            tracing::info!(queued, "reminders coming due put into the job queue");
        }
        feedback::request_due(&self.feedback, now).await?;
        self.retain(now).await?;
        Ok(())
    }

    /// Retention, hourly: the words of referrals closed, and patients out of care, for
    /// `CRHT_RETENTION_DAYS` are removed (`Store::forget_words_before`, README "Retention");
    /// who, when and what status stay.
    async fn retain(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        {
            let mut last = self
                .retention_ran
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| now - at < TimeDelta::hours(1)) {
                return Ok(());
            }
            *last = Some(now);
        }
        let forgotten = self
            .store
            .forget_words_before(now - self.retention, now)
            .await?;
        if forgotten > 0 {
            tracing::info!(forgotten, "words past the retention period removed");
        }
        // Console sessions end by tower-sessions' reckoning, on the system clock.
        let ended = self.store.delete_expired_sessions(Utc::now()).await?;
        if ended > 0 {
            tracing::debug!(ended, "ended console sessions removed");
        }
        Ok(())
    }

    /// Whether the step after `level` steps of an urgent flag raised at `urgent_at` is due:
    /// one acknowledgement window per step.
    fn due(&self, now: DateTime<Utc>, urgent_at: DateTime<Utc>, level: i64) -> bool {
        let steps = i32::try_from(level + 1).unwrap_or(i32::MAX);
        self.urgent_ack
            .checked_mul(steps)
            .and_then(|wait| urgent_at.checked_add_signed(wait))
            .is_some_and(|at| now >= at)
    }

    /// Urgent referrals and patients' urgent episodes nobody acknowledged within
    /// `CRHT_URGENT_ACK_MINUTES`: on-call is alerted again; after twice that, the team's
    /// escalation numbers. Every step audited.
    async fn escalate(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        for referral in self.store.unacknowledged_urgent().await? {
            let Some(urgent_at) = referral.urgent_at else {
                continue;
            };
            let level = referral.escalation_level;
            if !self.due(now, urgent_at, level) {
                continue;
            }
            let (action, to_escalation) = escalation_step(Subject::Referral, level);
            let alerts = self.intake.team_alerts(
                &referral.team,
                &referral.reference,
                "on_call_escalation",
                to_escalation,
            );
            let audit = AuditEntry::by_gateway(now, action, format!("referral:{}", referral.id))
                .for_referral(&referral.id);
            if self
                .store
                .escalate(&referral.id, level, &alerts, &audit)
                .await?
            {
                tracing::warn!(
                    referral_id = %referral.id,
                    level = level + 1,
                    "urgent referral escalated: not acknowledged"
                );
            }
        }
        // Safety rule 8: a patient's risk is followed up the same way. The alert names the
        // team only, never the patient, their number or their words.
        for record in self.store.unacknowledged_urgent_patients().await? {
            let Some(urgent_at) = record.episode.urgent_at else {
                continue;
            };
            let level = record.episode.escalation_level;
            if !self.due(now, urgent_at, level) {
                continue;
            }
            let (action, to_escalation) = escalation_step(Subject::Patient, level);
            let team = record.patient.team.as_deref().unwrap_or_default();
            let alerts =
                self.intake
                    .team_alerts(team, "", "on_call_escalation_patient", to_escalation);
            let audit =
                AuditEntry::by_gateway(now, action, format!("patient:{}", record.patient.id));
            if self
                .store
                .escalate_patient(&record.patient.id, level, &alerts, &audit)
                .await?
            {
                tracing::warn!(
                    patient_id = %record.patient.id,
                    level = level + 1,
                    "patient's urgent episode escalated: not acknowledged"
                );
            }
        }
        Ok(())
    }
}

/// The escalation step after `level` steps of a `subject`'s urgent flag (`referral` or
/// `patient`): its audit action, and whether it goes to the team's escalation numbers rather
/// than on-call again.
/// What an escalation step is about.
#[derive(Debug, Clone, Copy)]
enum Subject {
    Referral,
    Patient,
}

fn escalation_step(subject: Subject, level: i64) -> (AuditAction, bool) {
    let to_escalation = level != 0;
    let action = match (subject, to_escalation) {
        (Subject::Referral, false) => AuditAction::ReferralEscalatedOnCallAgain,
        (Subject::Referral, true) => AuditAction::ReferralEscalatedEscalationNumbers,
        (Subject::Patient, false) => AuditAction::PatientEscalatedOnCallAgain,
        (Subject::Patient, true) => AuditAction::PatientEscalatedEscalationNumbers,
    };
    (action, to_escalation)
}
