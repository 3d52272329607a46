//! What can go wrong in a staff action. The HTTP layer turns each kind into a status in one
//! place (`http::error`); a console would show the same words.

use crate::outbound::OutboundError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query or path parameter that is not well-formed (an unknown status, a number that is
    /// not a phone number).
    #[error("{0}")]
    BadRequest(String),
    /// What staff sent is well-formed but breaks a rule (a start in the past, a bad postcode).
    #[error("{0}")]
    Invalid(String),
    /// Items of a batch that break a rule, each named by its place in the batch and its field;
    /// nothing of the batch was stored.
    #[error("{}", describe_items(.0))]
    InvalidItems(Vec<InvalidItem>),
    #[error("{0}")]
    NotFound(String),
    /// The record's state does not allow it (a cancelled appointment, a mobile on another record).
    #[error("{0}")]
    Conflict(String),
    /// The actor's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template or its variables are wrong (the caller's), or a letter did not render (ours).
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// One item of a batch that breaks a rule: which one (from 0, in the order sent), which field,
/// and what is wrong, in the words the single request would have used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InvalidItem {
    pub index: usize,
    pub field: String,
    pub detail: String,
}

/// The bad items of a batch in one sentence, for a problem's `detail`.
pub fn describe_items(items: &[InvalidItem]) -> String {
    let named: Vec<String> = items
        .iter()
        .map(|item| format!("item {} ({}): {}", item.index, item.field, item.detail))
        .collect();
    format!(
        "{} of the items cannot be booked and nothing was stored: {}",
        items.len(),
        named.join("; ")
    )
}
