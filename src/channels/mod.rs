//! The ways messages leave the gateway.

pub mod letter;
pub mod sms;
