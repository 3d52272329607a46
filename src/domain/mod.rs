//! Pure types of the team's world, parsed at the edge so inner code never re-validates.

pub mod channel;
pub mod patient;
pub mod phone;
pub mod postcode;
pub mod reference;
pub mod referral;
pub mod role;
pub mod schedule;
pub mod teams;
pub mod text;
