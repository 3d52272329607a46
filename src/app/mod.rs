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
pub mod entered;
mod error;
pub mod feedback;
pub mod limits;
pub mod messages;
pub mod oidc;
pub mod patients;
pub mod provider;
pub mod referrals;
pub mod safety_plans;
pub mod staff;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use error::{Error, InvalidItem, describe_items};

use crate::clock::Clock;
use crate::intake::Intake;
use crate::outbound::Outbound;
use crate::store::{Actor, AuditAction, AuditEntry, Store};

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
    /// Most messages one token or console user may queue in a UTC day
    /// (`CRHT_MESSAGES_PER_TOKEN_PER_DAY`), counted by the store as it queues them.
    messages_per_day: u32,
    accounts: staff::Accounts,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        outbound: Arc<Outbound>,
        intake: Arc<Intake>,
        clock: Arc<dyn Clock>,
        send_backoff_base: Duration,
        messages_per_day: u32,
    ) -> Self {
        Self {
            accounts: staff::Accounts::new(store.clone(), clock.clone()),
            store,
            outbound,
            intake,
            clock,
            send_backoff_base,
            messages_per_day,
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
    pub const MESSAGES: Page = Page {
        default: 200,
        max: 1000,
    };
    pub const APPOINTMENTS: Page = Page {
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

/// Where the next page of a list starts: the sort key of the last item shown, encoded so that
/// staff pass it back as it is (`?cursor=`). A cursor walks a list in its own order, so items
/// added or changed meanwhile are neither repeated nor skipped because of a shifted offset.
pub struct Cursor;

impl Cursor {
    pub fn encode<K: serde::Serialize>(key: &K) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(key).expect("a sort key serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// The key a cursor from this list holds; an empty or absent cursor is the first page.
    pub fn decode<K: serde::de::DeserializeOwned>(cursor: Option<&str>) -> Result<Option<K>> {
        use base64::Engine as _;
        let Some(text) = cursor.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            // No sort key holds U+0000 (PostgreSQL refuses it in text): not one of ours.
            .filter(|json| !json.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")))
            .and_then(|json| serde_json::from_slice(&json).ok())
            .map(Some)
            .ok_or_else(|| {
                Error::BadRequest(
                    "`cursor` is not a cursor from this list: pass back `next_cursor` as it came"
                        .into(),
                )
            })
    }
}

/// Which page of a list with no other filters (a patient's messages, their appointments).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// At most this many (default 200, up to 1000).
    pub limit: Option<u32>,
}

/// A free-text query parameter (a search, a team, an actor): trimmed, none when empty, and
/// refused when it holds what no record can (U+0000) or is longer than any record's field.
fn query_text(name: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.contains('\0') || value.chars().count() > 200 {
        return Err(Error::BadRequest(format!(
            "`{name}` must be at most 200 characters, without U+0000"
        )));
    }
    Ok(Some(value.to_owned()))
}

/// One page of a list and where the next one starts (none on the last page).
#[derive(Debug)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// A page from `rows` fetched with one more than `limit`: the extra row only says that
    /// another page follows, and the last row shown gives its cursor.
    pub fn of<K: serde::Serialize>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = more
            .then(|| rows.last().map(|last| Cursor::encode(&key(last))))
            .flatten();
        Paged {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// The audit log line for something `actor` did.
fn audit_entry(
    actor: &Actor,
    at: DateTime<Utc>,
    action: AuditAction,
    target: String,
) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.name.clone(),
        role: actor.role.into(),
        action,
        target,
        referral_id: None,
        note: None,
        token_id: actor.token_id.clone(),
        user_id: actor.user_id.clone(),
        records: None,
    }
}

/// The audit log line for a list `actor` read: it names the ids of the records shown, in the
/// order shown (one page at most, so a few thousand ids at worst).
fn list_entry<'a>(
    actor: &Actor,
    at: DateTime<Utc>,
    action: AuditAction,
    target: String,
    ids: impl IntoIterator<Item = &'a str>,
) -> AuditEntry {
    audit_entry(actor, at, action, target).with_records(ids)
}

/// The longest note staff may write with a change (a status, a close, a task's outcome).
pub const NOTE_MAX_CHARS: usize = 2000;

/// Staff's note, trimmed (`None` when blank); too long is refused.
fn note(note: Option<String>) -> Result<Option<String>> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if let Some(note) = &note {
        words_only("note", note)?;
    }
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > NOTE_MAX_CHARS)
    {
        return Err(Error::Invalid(format!(
            "note: at most {NOTE_MAX_CHARS} characters"
        )));
    }
    Ok(note)
}

/// Staff's words hold no control characters but line breaks and tabs (a NUL, say, which
/// PostgreSQL cannot store and no one means to type).
fn words_only(field: &str, text: &str) -> Result<()> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::Invalid(format!(
            "{field}: control characters are not allowed"
        )));
    }
    Ok(())
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
    #![allow(clippy::unwrap_used)]
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

    #[test]
    fn a_cursor_gives_back_its_key_and_refuses_anything_else() {
        let key = (true, "01J".to_owned());
        let text = Cursor::encode(&key);
        assert_eq!(
            Cursor::decode::<(bool, String)>(Some(&text)).unwrap(),
            Some(key)
        );
        assert_eq!(Cursor::decode::<(bool, String)>(None).unwrap(), None);
        assert_eq!(Cursor::decode::<(bool, String)>(Some("")).unwrap(), None);
        let nul = Cursor::encode(&(true, "a\0b".to_owned()));
        for bad in ["%%%", "bm90IGpzb24", &Cursor::encode(&42), &nul] {
            assert!(matches!(
                Cursor::decode::<(bool, String)>(Some(bad)),
                Err(Error::BadRequest(_))
            ));
        }
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_follow() {
        let page = Paged::of(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.items, [1, 2]);
        assert_eq!(
            Cursor::decode::<i32>(page.next_cursor.as_deref()).unwrap(),
            Some(2)
        );
        let last = Paged::of(vec![1, 2], 2, |n| *n);
        assert_eq!((last.items.len(), last.next_cursor), (2, None));
    }

    #[test]
    fn query_text_is_trimmed_and_bounded() {
        assert_eq!(
            query_text("q", Some("  ada ")).unwrap().as_deref(),
            Some("ada")
        );
        assert_eq!(query_text("q", Some("   ")).unwrap(), None);
        assert!(query_text("q", Some("a\0b")).is_err());
        assert!(query_text("q", Some(&"x".repeat(201))).is_err());
    }
}
