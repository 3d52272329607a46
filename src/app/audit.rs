//! The audit log: who read or changed what, and when (admins only).

use serde::Deserialize;
use utoipa::IntoParams;

use super::{Error, Page, Result, Services};
use crate::domain::role::Role;
use crate::store::{Actor, AuditEntry};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// At most this many, newest first (default 500, up to 5000).
    pub limit: Option<u32>,
}

impl Services {
    pub async fn audit_log(&self, actor: &Actor, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        require_admin(actor)?;
        Ok(self.store.audit_log(Page::AUDIT.limit(query.limit)).await?)
    }
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden("only admins may do this".into()))
    }
}
