//! The ways messages leave the gateway.

pub mod sms;
