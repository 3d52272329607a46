//! Safety plans: a clinician writes a patient's plan through the staff API, and reads it back
//! (an audited read, like any patient's record). Sending it to the patient by text is the
//! intake's (`Intake::decide`, when the patient texts PLAN from their own number); staff can
//! also send it by the patient's own channels (`send_safety_plan`), as a letter in large print
//! or easy read when the passport asks.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Error, Result, Services, audit_entry, limits};
use crate::domain::channel::Channel;
use crate::domain::id::PatientId;
use crate::domain::patient::Purpose;
use crate::outbound::MessageRequest;
use crate::store::{
    Actor, AuditAction, Message, PatientFilter, SafetyPlan, SafetyPlanSections, Skipped,
};

/// A safety plan as staff see it: its sections, and who last changed it and when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SafetyPlanOut {
    pub patient_id: PatientId,
    #[serde(flatten)]
    pub sections: SafetyPlanSections,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: String,
}

impl From<SafetyPlan> for SafetyPlanOut {
    fn from(plan: SafetyPlan) -> Self {
        Self {
            patient_id: plan.patient_id,
            sections: plan.sections,
            updated_at: plan.updated_at,
            updated_by: plan.updated_by,
        }
    }
}

/// The sections of a plan as staff write it. The fields a read adds (`patient_id`,
/// `updated_at`, `updated_by`) are accepted and ignored, so a plan read back can be written back
/// as it is; a `patient_id` naming another patient is refused. Any other unknown field is
/// refused too: a misspelt section would otherwise drop the patient's words unseen.
pub fn written_sections(mut body: serde_json::Value, id: &PatientId) -> Result<SafetyPlanSections> {
    let Some(fields) = body.as_object_mut() else {
        return Err(Error::Invalid(
            "a safety plan is a JSON object of its sections".into(),
        ));
    };
    if let Some(named) = fields.remove("patient_id")
        && named.as_str() != Some(&**id)
    {
        return Err(Error::Invalid(format!(
            "patient_id: this plan is patient {id}'s"
        )));
    }
    fields.remove("updated_at");
    fields.remove("updated_by");
    serde_json::from_value(body).map_err(|e| Error::Invalid(format!("safety plan: {e}")))
}

fn may_handle_plans(actor: &Actor) -> Result<()> {
    if actor.role.may_read_referrals() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only clinicians and admins may read or write a safety plan".into(),
        ))
    }
}

/// Each line is trimmed; blank lines are dropped; each section and line is within its limit.
fn tidy(mut sections: SafetyPlanSections) -> Result<SafetyPlanSections> {
    for (name, lines) in [
        ("warning_signs", &mut sections.warning_signs),
        ("things_i_can_do", &mut sections.things_i_can_do),
        ("people_and_places", &mut sections.people_and_places),
        ("people_i_can_ask", &mut sections.people_i_can_ask),
        (
            "professionals_and_services",
            &mut sections.professionals_and_services,
        ),
        (
            "making_surroundings_safer",
            &mut sections.making_surroundings_safer,
        ),
        ("reasons_for_living", &mut sections.reasons_for_living),
    ] {
        let kept: Vec<String> = lines
            .iter()
            .map(|line| crate::domain::text::without_direction_controls(line.trim()).into_owned())
            .filter(|line| !line.is_empty())
            .collect();
        if kept.len() > limits::SAFETY_PLAN_LINES {
            return Err(Error::Invalid(format!(
                "{name}: at most {} lines (this has {})",
                limits::SAFETY_PLAN_LINES,
                kept.len()
            )));
        }
        for line in &kept {
            limits::at_most(&format!("{name} (a line)"), line, limits::SAFETY_PLAN_LINE)?;
        }
        *lines = kept;
    }
    Ok(sections)
}

impl Services {
    /// Writes a patient's safety plan, replacing any earlier one, with its audit entry in the
    /// same transaction. Clinicians and admins only.
    pub async fn save_safety_plan(
        &self,
        actor: &Actor,
        id: &PatientId,
        sections: SafetyPlanSections,
    ) -> Result<SafetyPlanOut> {
        may_handle_plans(actor)?;
        let sections = tidy(sections)?;
        let now = self.now();
        let plan = SafetyPlan {
            patient_id: id.clone(),
            sections,
            updated_at: now,
            updated_by: actor.name.clone(),
        };
        let audit = audit_entry(
            actor,
            now,
            AuditAction::SafetyPlanWrite,
            format!("patient:{id}"),
        );
        if !self.store.save_safety_plan(&plan, &audit).await? {
            return Err(Error::NotFound(format!("no patient {id}")));
        }
        Ok(plan.into())
    }

    /// A patient's safety plan for staff; the read is audited before it is made. Not found
    /// when there is no such patient, or no plan yet.
    pub async fn safety_plan(&self, actor: &Actor, id: &PatientId) -> Result<SafetyPlanOut> {
        may_handle_plans(actor)?;
        self.patient_record(id).await?;
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::SafetyPlanRead,
                format!("patient:{id}"),
            ))
            .await?;
        self.store
            .safety_plan(id)
            .await?
            .map(SafetyPlanOut::from)
            .ok_or_else(|| Error::NotFound(format!("patient {id} has no safety plan yet")))
    }

    /// Queues the patient's current safety plan as a message by their channels for
    /// non-urgent messages (a letter unless their passport says otherwise; easy read or large
    /// print as it asks), audited as a send of the plan. Never by text to a mobile another
    /// record shares (H-31). Clinicians and admins; not found when there is no such patient
    /// or no plan.
    pub async fn send_safety_plan(&self, actor: &Actor, id: &PatientId) -> Result<Message> {
        may_handle_plans(actor)?;
        let patient = self.patient_record(id).await?.patient;
        let plan = self
            .store
            .safety_plan(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("patient {id} has no safety plan yet")))?;
        let mut skipped = Vec::new();
        if let Some(mobile) = &patient.mobile {
            let sharing = self
                .store
                .patients(&PatientFilter {
                    mobile: Some(mobile.clone()),
                    search: None,
                    urgent: None,
                    after: None,
                    limit: 2,
                })
                .await?;
            if sharing.iter().any(|other| other.id != patient.id) {
                skipped.push(Skipped {
                    channel: Channel::Sms,
                    reason: "a safety plan is never texted to a mobile another record shares"
                        .into(),
                });
            }
        }
        let mut vars = serde_json::Map::new();
        vars.insert(
            "plan".into(),
            serde_json::to_value(&plan.sections).map_err(|e| Error::Internal(e.into()))?,
        );
        let request = MessageRequest {
            purpose: Purpose::NonUrgent,
            template: "safety_plan".into(),
            vars,
            appointment_id: None,
            reminder_key: None,
            fast: false,
        };
        let prepared =
            self.outbound
                .prepare(&patient, &request, crate::new_id().into(), skipped)?;
        let message_id = prepared.id.clone();
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::SafetyPlanSend,
            format!("patient:{id}"),
        );
        self.store
            .queue_message(&prepared, &audit, self.messages_per_day)
            .await?;
        self.store
            .messages_for_patient(id, None, u32::MAX)
            .await?
            .into_iter()
            .map(|(m, _)| m)
            .find(|m| m.id == message_id)
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!("queued message {message_id} not found"))
            })
    }
}
