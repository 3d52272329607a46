//! A referral's life in the triage queue.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// The conversation is still going on.
    InProgress,
    /// Sent with `YES` at the summary.
    Submitted,
    /// The person went quiet; the partial referral is in the queue marked incomplete.
    Abandoned,
    /// The person texted STOP; what they said is kept for staff.
    Stopped,
    Acknowledged,
    Accepted,
    /// Pointed to another service (e.g. under 18s).
    Signposted,
    Closed,
}

impl ReferralStatus {
    pub const ALL: [ReferralStatus; 8] = [
        ReferralStatus::InProgress,
        ReferralStatus::Submitted,
        ReferralStatus::Abandoned,
        ReferralStatus::Stopped,
        ReferralStatus::Acknowledged,
        ReferralStatus::Accepted,
        ReferralStatus::Signposted,
        ReferralStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::InProgress => "in_progress",
            ReferralStatus::Submitted => "submitted",
            ReferralStatus::Abandoned => "abandoned",
            ReferralStatus::Stopped => "stopped",
            ReferralStatus::Acknowledged => "acknowledged",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Signposted => "signposted",
            ReferralStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Statuses the conversation itself sets; once staff have moved a referral on, later
    /// texts no longer change its status.
    pub fn follows_conversation(self) -> bool {
        matches!(
            self,
            ReferralStatus::InProgress
                | ReferralStatus::Submitted
                | ReferralStatus::Abandoned
                | ReferralStatus::Stopped
                | ReferralStatus::Signposted
        )
    }

    /// Statuses staff may set through the API.
    pub fn settable_by_staff(self) -> bool {
        matches!(
            self,
            ReferralStatus::Acknowledged
                | ReferralStatus::Accepted
                | ReferralStatus::Signposted
                | ReferralStatus::Closed
        )
    }
}

impl std::fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
