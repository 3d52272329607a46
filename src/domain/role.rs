//! Staff roles and what each may do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including the audit log.
    Admin,
    /// Reads referrals and transcripts; manages patients, appointments and messages.
    Clinician,
    /// Patients, appointments, messages and tasks; never referral content.
    Scheduler,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clinician => "clinician",
            Role::Scheduler => "scheduler",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "clinician" => Some(Role::Clinician),
            "scheduler" => Some(Role::Scheduler),
            _ => None,
        }
    }

    pub fn may_read_referrals(self) -> bool {
        matches!(self, Role::Admin | Role::Clinician)
    }

    pub fn may_read_audit(self) -> bool {
        self == Role::Admin
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
