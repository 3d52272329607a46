//! A referral's life in the triage queue.

text_enum! {
    pub enum ReferralStatus {
        /// The conversation is still going on.
        InProgress = "in_progress",
        /// Sent with `YES` at the summary.
        Submitted = "submitted",
        /// The person went quiet; the partial referral is in the queue marked incomplete.
        Abandoned = "abandoned",
        /// The person texted STOP; what they said is kept for staff.
        Stopped = "stopped",
        Acknowledged = "acknowledged",
        Accepted = "accepted",
        /// Pointed to another service (e.g. under 18s).
        Signposted = "signposted",
        Closed = "closed",
    }
}

impl ReferralStatus {
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

text_enum! {
    /// The door a referral came through.
    pub enum ReferralSource {
        /// The texted conversation.
        Sms = "sms",
        /// Taken by phone (the 0800 line, or passed on by 111) and entered by staff.
        Phone = "phone",
        /// Entered by another system through the staff API.
        Api = "api",
    }
}

text_enum! {
    /// Which pathway a referral is for.
    pub enum ReferralRoute {
        /// Help in a mental health crisis (the usual referral).
        Crisis = "crisis",
        /// Support for someone leaving an inpatient ward, referred by ward staff.
        DischargeSupport = "discharge_support",
    }
}
