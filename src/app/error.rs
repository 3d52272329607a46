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
