//! The triage queue: referrals, their transcripts and status, and the conversation behind a
//! number. Only clinicians and admins read referral content, and every read is written to the
//! audit log first.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    Cursor, Error, Page, Paged, Result, Services, audit_entry, limits, list_entry, note,
    query_text, require_referral_reader, words_only,
};
use crate::domain::id::ReferralId;
use crate::domain::patient::MessagePurpose;
use crate::domain::phone::PhoneNumber;
use crate::domain::referral::{ReferralRoute, ReferralSource, ReferralStatus};
use crate::store::{
    Actor, AuditAction, AuditEntry, ConversationSummary, Message, QueueKey, Referral,
    ReferralFilter, TextBack, TextBackOutcome, TranscriptItem,
};

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
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
    /// Only this pathway: `crisis` or `discharge_support`.
    pub route: Option<String>,
    /// Only referrals that came through this door: `sms`, `phone` or `api`.
    pub source: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// At most this many (default 200, up to 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusIn {
    /// `acknowledged`, `accepted`, `signposted` or `closed`.
    pub status: String,
    /// Why, in staff's words; shown with the change in the referral's events (at most 2000
    /// characters).
    pub note: Option<String>,
}

/// Staff's words back to the person who texted the referral number.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TextBackIn {
    /// At most 612 characters (four text segments).
    pub text: String,
}

/// The longest text back: four GSM-7 segments.
pub const TEXT_BACK_MAX_CHARS: usize = 612;

/// A referral with the on-call alerts sent for it.
#[derive(Debug)]
pub struct ReferralWithAlerts {
    pub referral: Referral,
    pub alerts: Vec<Message>,
}

/// The store's filter for a triage queue query, `limit` items a page.
fn referral_filter(query: &ReferralQuery, limit: u32) -> Result<ReferralFilter> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            ReferralStatus::parse(s)
                .ok_or_else(|| Error::BadRequest(format!("unknown status `{s}`")))
        })
        .transpose()?;
    Ok(ReferralFilter {
        status,
        team: query_text("team", query.team.as_deref())?,
        urgent: query.urgent,
        q: query_text("q", query.q.as_deref())?,
        from: query.from,
        to: query.to,
        route: query
            .route
            .as_deref()
            .map(|r| {
                ReferralRoute::parse(r)
                    .ok_or_else(|| Error::BadRequest(format!("unknown route `{r}`")))
            })
            .transpose()?,
        source: query
            .source
            .as_deref()
            .map(|s| {
                ReferralSource::parse(s)
                    .ok_or_else(|| Error::BadRequest(format!("unknown source `{s}`")))
            })
            .transpose()?,
        after: Cursor::decode(query.cursor.as_deref())?,
        limit: limit + 1,
    })
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
        let limit = Page::REFERRALS.limit(query.limit);
        let filter = referral_filter(&query, limit)?;
        let status = filter.status;
        let rows = self.store.referrals(&filter).await?;
        let page = Paged::of(rows, limit, |r| {
            QueueKey::new(r.urgent, r.created_at, &r.id)
        });
        self.store
            .audit(&list_entry(
                actor,
                self.now(),
                AuditAction::ReferralList,
                format!(
                    "referrals?status={}",
                    status.map_or("open", ReferralStatus::as_str)
                ),
                page.items.iter().map(|r| r.id.as_ref()),
            ))
            .await?;
        Ok(page)
    }

    /// A stamp of the triage queue `query` finds, without its content (so not audited): a
    /// page showing the queue asks for it often, and reads the queue again only when the
    /// stamp has changed.
    pub async fn referral_queue_stamp(
        &self,
        actor: &Actor,
        query: &ReferralQuery,
    ) -> Result<String> {
        require_referral_reader(actor)?;
        let stamp = self
            .store
            .referral_queue_stamp(&referral_filter(query, 0)?)
            .await?;
        Ok(format!(
            "{}-{}",
            stamp.count,
            stamp.latest.map_or(0, |t| t.0.timestamp_micros())
        ))
    }

    pub async fn referral(&self, actor: &Actor, id: &ReferralId) -> Result<ReferralWithAlerts> {
        let referral = self
            .read_referral(actor, AuditAction::ReferralRead, id)
            .await?;
        let alerts = self
            .store
            .messages_for_referral(id)
            .await?
            .into_iter()
            .filter(|m| m.purpose == MessagePurpose::OnCallAlert)
            .collect();
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
        let audit = audit_entry(actor, self.now(), action, format!("referral:{id}"))
            .for_referral(id)
            .with_note(note(input.note)?);
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
        let summary = self.store.conversation(&phone).await?;
        // A look-up that finds nothing is audited too (someone trying numbers shows), as
        // `conversation:none`: the number itself is kept out of the log.
        let target = summary.as_ref().map_or_else(
            || "conversation:none".to_owned(),
            |s| format!("referral:{}", s.referral_id),
        );
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::ConversationRead,
                target,
            ))
            .await?;
        summary.ok_or_else(|| Error::NotFound("no conversation with this number".into()))
    }
}

impl Services {
    /// Texts the person who texted the referral number, from that number, through the job
    /// queue; the text joins the referral's transcript with who sent it. Refused when the
    /// number has opted out of texts (STOP), and then nothing is stored or sent.
    pub async fn text_back(
        &self,
        actor: &Actor,
        referral_id: &ReferralId,
        input: TextBackIn,
    ) -> Result<TranscriptItem> {
        if !actor.role.may_read_referrals() {
            return Err(Error::Forbidden(format!(
                "the {} role may not text a referral's texter",
                actor.role
            )));
        }
        let text = input.text.trim();
        if text.is_empty() {
            return Err(Error::Invalid("text: must not be empty".into()));
        }
        words_only("text", text)?;
        if text.chars().count() > TEXT_BACK_MAX_CHARS {
            return Err(Error::Invalid(format!(
                "text: at most {TEXT_BACK_MAX_CHARS} characters"
            )));
        }
        let referral = self
            .store
            .referral(referral_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no referral {referral_id}")))?;
        // Texts go only to a number the provider can take (a number the referral came from
        // that does not parse is still kept on it, safety rule 7).
        let to = referral
            .phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "referral {referral_id} has no number a text can go to"
                ))
            })?;
        let now = self.now();
        let audit = audit_entry(
            actor,
            now,
            AuditAction::ReferralTextBack,
            format!("referral:{referral_id}"),
        )
        .for_referral(referral_id);
        let text_back = TextBack {
            referral_id: referral_id.clone(),
            to,
            body: text.to_owned(),
            sent_by: actor.name.clone(),
        };
        match self
            .store
            .text_back(&text_back, &audit, self.messages_per_day)
            .await?
        {
            TextBackOutcome::Queued { .. } => Ok(TranscriptItem {
                direction: "outbound".into(),
                body: Some(text_back.body),
                at: now,
                provider_id: None,
                sent_by: Some(text_back.sent_by),
                delivery_status: Some("queued".into()),
            }),
            TextBackOutcome::OptedOut => Err(Error::Conflict(
                "this number has opted out of texts (STOP): nothing was sent".into(),
            )),
            TextBackOutcome::NoReferral => {
                Err(Error::NotFound(format!("no referral {referral_id}")))
            }
        }
    }

    /// Who did what to a referral, and when, oldest first: its creation, status changes with
    /// their notes, texts back, a patient made from it, inbox items about it closed, and
    /// what the gateway did (texts joining its thread, escalations).
    pub async fn referral_events(&self, actor: &Actor, id: &ReferralId) -> Result<Vec<AuditEntry>> {
        self.read_referral(actor, AuditAction::ReferralEventsRead, id)
            .await?;
        Ok(self.store.referral_events(id).await?)
    }
}
