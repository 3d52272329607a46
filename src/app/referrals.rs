//! The triage queue: referrals, their transcripts and status, and the conversation behind a
//! number. Only clinicians and admins read referral content, and every read is written to the
//! audit log first.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    Cursor, Error, Page, Paged, Result, Services, audit_entry, limits, query_text,
    require_referral_reader,
};
use crate::domain::id::ReferralId;
use crate::domain::phone::PhoneNumber;
use crate::domain::referral::ReferralStatus;
use crate::store::{
    Actor, AuditAction, ConversationSummary, Message, QueueKey, Referral, ReferralFilter,
    TranscriptItem,
};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralQuery {
    /// Only referrals in this status (closed ones included when asked for).
    pub status: Option<String>,
    /// Only this team's referrals.
    pub team: Option<String>,
    /// Only urgent (`true`) or only not urgent (`false`) referrals.
    pub urgent: Option<bool>,
    /// A reference (e.g. `CRHT-7K3M9Q`) or part of the name the person gave.
    pub q: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// At most this many (default 200, up to 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusIn {
    /// `acknowledged`, `accepted`, `signposted` or `closed`.
    pub status: String,
}

/// A referral with the on-call alerts sent for it.
#[derive(Debug)]
pub struct ReferralWithAlerts {
    pub referral: Referral,
    pub alerts: Vec<Message>,
}

impl Services {
    /// One referral for a clinician or admin, the read audited (as `action`) before it is made.
    pub(super) async fn read_referral(
        &self,
        actor: &Actor,
        action: AuditAction,
        id: &ReferralId,
    ) -> Result<Referral> {
        require_referral_reader(actor)?;
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                action,
                format!("referral:{id}"),
            ))
            .await?;
        self.store
            .referral(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no referral {id}")))
    }

    /// The triage queue: every referral not closed, urgent first, then oldest.
    pub async fn referrals(&self, actor: &Actor, query: ReferralQuery) -> Result<Paged<Referral>> {
        require_referral_reader(actor)?;
        let status = query
            .status
            .as_deref()
            .map(|s| {
                ReferralStatus::parse(s)
                    .ok_or_else(|| Error::BadRequest(format!("unknown status `{s}`")))
            })
            .transpose()?;
        let limit = Page::REFERRALS.limit(query.limit);
        let filter = ReferralFilter {
            status,
            team: query_text("team", query.team.as_deref())?,
            urgent: query.urgent,
            q: query_text("q", query.q.as_deref())?,
            from: query.from,
            to: query.to,
            after: Cursor::decode(query.cursor.as_deref())?,
            limit: limit + 1,
        };
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::ReferralList,
                format!(
                    "referrals?status={}",
                    status.map_or("open", ReferralStatus::as_str)
                ),
            ))
            .await?;
        let rows = self.store.referrals(&filter).await?;
        Ok(Paged::of(rows, limit, |r| {
            QueueKey::new(r.urgent, r.created_at, &r.id)
        }))
    }

    pub async fn referral(&self, actor: &Actor, id: &ReferralId) -> Result<ReferralWithAlerts> {
        let referral = self
            .read_referral(actor, AuditAction::ReferralRead, id)
            .await?;
        let alerts = self.store.messages_for_referral(id).await?;
        Ok(ReferralWithAlerts { referral, alerts })
    }

    /// Every text of the referral's conversation, oldest first.
    pub async fn transcript(&self, actor: &Actor, id: &ReferralId) -> Result<Vec<TranscriptItem>> {
        require_referral_reader(actor)?;
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::TranscriptRead,
                format!("referral:{id}"),
            ))
            .await?;
        if self.store.referral(id).await?.is_none() {
            return Err(Error::NotFound(format!("no referral {id}")));
        }
        Ok(self.store.transcript(id).await?)
    }

    /// Moves a referral on in triage (acknowledging an urgent one stops its escalation).
    pub async fn set_referral_status(
        &self,
        actor: &Actor,
        id: &ReferralId,
        input: StatusIn,
    ) -> Result<Referral> {
        require_referral_reader(actor)?;
        limits::at_most("status", &input.status, limits::CODE)?;
        let (status, action) = ReferralStatus::parse(&input.status)
            .filter(|s| s.settable_by_staff())
            .and_then(|s| AuditAction::referral_status(s).map(|a| (s, a)))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "status must be one of acknowledged, accepted, signposted, closed (got `{}`)",
                    input.status
                ))
            })?;
        let audit = audit_entry(actor, self.now(), action, format!("referral:{id}"));
        self.store
            .set_referral_status(id, status, &audit)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no referral {id}")))
    }

    /// The conversation behind a number (E.164 or national form).
    pub async fn conversation(&self, actor: &Actor, phone: &str) -> Result<ConversationSummary> {
        require_referral_reader(actor)?;
        // Looked up as the inbound path stored it: a number libphonenumber does not list yet
        // is still someone's conversation (safety rule 7).
        let phone = Some(PhoneNumber::from_sender(Some(phone), ""))
            .filter(PhoneNumber::is_e164)
            .ok_or_else(|| Error::BadRequest("not a valid phone number".into()))?;
        let summary = self
            .store
            .conversation(&phone)
            .await?
            .ok_or_else(|| Error::NotFound("no conversation with this number".into()))?;
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::ConversationRead,
                format!("referral:{}", summary.referral_id),
            ))
            .await?;
        Ok(summary)
    }
}
