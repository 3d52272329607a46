//! The audit log: who read or changed what, and when (admins only).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{Cursor, Error, Page, Paged, Result, Services, query_text};
use crate::domain::role::Role;
use crate::store::{Actor, AuditFilter, AuditRecord};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only what this actor did (a user's or token's name, exactly).
    pub actor: Option<String>,
    /// Only what was done with this API token (its id: names need not be unique).
    pub token_id: Option<String>,
    /// Only what this user did (their id), with any of their tokens or signed in.
    pub user_id: Option<String>,
    /// Only what was done to this target (e.g. `patient:01J…`), or to any of a kind (`patient`).
    pub target: Option<String>,
    /// At or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// At most this many, newest first (default 500, up to 5000).
    pub limit: Option<u32>,
}

/// The most entries one export holds; a longer span is exported in parts (`from`, `to`).
pub const EXPORT_MAX: u32 = 100_000;

impl Services {
    /// A page of the audit log, newest first.
    pub async fn audit_log(&self, actor: &Actor, query: AuditQuery) -> Result<Paged<AuditRecord>> {
        require_admin(actor)?;
        let limit = Page::AUDIT.limit(query.limit);
        let mut filter = filter_of(&query)?;
        filter.before_seq = Cursor::decode(query.cursor.as_deref())?;
        filter.limit = limit + 1;
        let rows = self.store.audit_log(&filter).await?;
        Ok(Paged::of(rows, limit, |r| r.seq))
    }

    /// Every entry the filters match (up to [`EXPORT_MAX`]), newest first, for a CSV export.
    /// The export is itself audited, with the filters it used.
    pub async fn audit_export(&self, actor: &Actor, query: AuditQuery) -> Result<Vec<AuditRecord>> {
        require_admin(actor)?;
        let mut filter = filter_of(&query)?;
        filter.limit = EXPORT_MAX;
        let rows = self.store.audit_log(&filter).await?;
        self.store
            .audit(&super::audit_entry(
                actor,
                self.now(),
                crate::store::AuditAction::AuditExport,
                format!("audit?rows={}", rows.len()),
            ))
            .await?;
        Ok(rows)
    }
}

fn filter_of(query: &AuditQuery) -> Result<AuditFilter> {
    Ok(AuditFilter {
        actor: query_text("actor", query.actor.as_deref())?,
        token_id: query_text("token_id", query.token_id.as_deref())?,
        user_id: query_text("user_id", query.user_id.as_deref())?,
        target: query_text("target", query.target.as_deref())?,
        from: query.from,
        to: query.to,
        before_seq: None,
        limit: 0,
    })
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden("only admins may do this".into()))
    }
}
