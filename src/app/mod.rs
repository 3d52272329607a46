//! The application layer: what staff may do with referrals, patients, appointments, messages,
//! tasks and the audit log, and the rules each action follows (who may do it, what is valid,
//! what is audited, which notice goes out). It knows nothing of HTTP: the staff JSON API in
//! `crate::http` (and a future web console) parse a request into these inputs, call one
//! function on [`Services`] and present its answer. Storage goes through `crate::store`,
//! messages to patients through `crate::outbound`. Delivery receipts from the provider
//! (`receipts`) are recorded here too, with what a failed text sets off decided by the
//! delivery policy in `crate::jobs::delivery`.

pub mod appointments;
pub mod audit;
mod error;
pub mod messages;
pub mod patients;
pub mod provider;
pub mod referrals;
pub mod staff;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use error::Error;

use crate::clock::Clock;
use crate::intake::Intake;
use crate::outbound::Outbound;
use crate::store::{Actor, AuditEntry, Store};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the services need; built once in `App::build`.
#[derive(Clone)]
pub struct Services {
    store: Arc<dyn Store>,
    outbound: Arc<Outbound>,
    intake: Arc<Intake>,
    clock: Arc<dyn Clock>,
    /// The send backoff's first wait, which also spaces resends after a receipt.
    send_backoff_base: Duration,
    accounts: staff::Accounts,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        outbound: Arc<Outbound>,
        intake: Arc<Intake>,
        clock: Arc<dyn Clock>,
        send_backoff_base: Duration,
    ) -> Self {
        Self {
            accounts: staff::Accounts::new(store.clone(), clock.clone()),
            store,
            outbound,
            intake,
            clock,
            send_backoff_base,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Staff accounts, sign-in and API tokens.
    pub fn accounts(&self) -> &staff::Accounts {
        &self.accounts
    }
}

/// How many items one answer of a list holds: what staff ask for, within the list's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// When staff do not say.
    pub default: u32,
    /// The most one answer holds.
    pub max: u32,
}

impl Page {
    pub const REFERRALS: Page = Page {
        default: 200,
        max: 1000,
    };
    pub const PATIENTS: Page = Page {
        default: 200,
        max: 1000,
    };
    pub const TASKS: Page = Page {
        default: 500,
        max: 5000,
    };
    pub const INBOX: Page = Page {
        default: 500,
        max: 5000,
    };
    pub const AUDIT: Page = Page {
        default: 500,
        max: 5000,
    };

    /// The limit for an answer when staff asked for `asked` items (at least one).
    pub fn limit(self, asked: Option<u32>) -> u32 {
        asked.unwrap_or(self.default).clamp(1, self.max)
    }
}

/// The audit log line for something `actor` did.
fn audit_entry(actor: &Actor, at: DateTime<Utc>, action: &str, target: String) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.name.clone(),
        role: actor.role.as_str().to_owned(),
        action: action.to_owned(),
        target,
    }
}

/// Referral content (answers, transcripts, the texter's number) is for clinicians and admins.
fn require_referral_reader(actor: &Actor) -> Result<()> {
    if actor.role.may_read_referrals() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "the {} role may not read referral content",
            actor.role
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_to_its_bounds() {
        assert_eq!(Page::PATIENTS.limit(None), 200);
        assert_eq!(Page::PATIENTS.limit(Some(0)), 1);
        assert_eq!(Page::PATIENTS.limit(Some(5000)), 1000);
        assert_eq!(Page::TASKS.limit(None), 500);
        assert_eq!(Page::TASKS.limit(Some(7)), 7);
        assert_eq!(Page::AUDIT.limit(Some(u32::MAX)), 5000);
    }
}
