//! Staff roles and what each may do.

text_enum! {
    pub enum Role {
        /// Everything, including the audit log.
        Admin = "admin",
        /// Reads referrals and transcripts; manages patients, appointments and messages.
        Clinician = "clinician",
        /// Patients, appointments, messages and tasks; never referral content.
        Scheduler = "scheduler",
    }
}

impl Role {
    pub fn may_read_referrals(self) -> bool {
        matches!(self, Role::Admin | Role::Clinician)
    }

    pub fn may_read_audit(self) -> bool {
        self == Role::Admin
    }
}
