//! Pure types of the team's world, parsed at the edge so inner code never re-validates.

pub mod channel;
pub mod phone;
pub mod postcode;
pub mod reference;
pub mod referral;
pub mod role;
pub mod teams;
