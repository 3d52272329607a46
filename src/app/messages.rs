//! Messages to patients (reminders, notices, brief updates, urgent), the staff call and print
//! lists, and the team's inbox.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{
    Cursor, Error, Page, PageQuery, Paged, Result, Services, audit_entry, limits, list_entry, note,
};
use crate::domain::channel::Channel;
use crate::domain::id::{PatientId, StaffTaskId};
use crate::domain::patient::Purpose;
use crate::domain::task::TaskOutcome;
use crate::jobs::delivery::fall_back;
use crate::outbound::MessageRequest;
use crate::store::{
    Actor, AuditAction, InboxClose, InboxFilter, InboxItem, InboxStatus, Message, MessageEvent,
    MobileState, QueueKey, Task, TaskFilter, TaskKind, TaskReport, TaskStatus, TimeKey,
};

#[derive(Debug, Deserialize, ToSchema)]
pub struct MessageIn {
    /// `urgent`, `reminder`, `update` or `non_urgent`: picks the patient's channel list.
    pub purpose: String,
    /// Staff's own words, for any purpose (an urgent message keeps its urgent wording around
    /// them).
    pub text: Option<String>,
    /// A template from message-templates/ (e.g. `cancellation`, `urgent`, `general_letter`).
    pub template: Option<String>,
    /// The template's variables.
    #[schema(value_type = Option<Object>)]
    pub vars: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// `phone_call` or `letter`.
    pub kind: Option<String>,
    /// `open` or `done`.
    pub status: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// At most this many (default 500, up to 5000).
    pub limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// `open` or `done`.
    pub status: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// At most this many (default 500, up to 5000).
    pub limit: Option<u32>,
}

/// Staff's report on a task; an empty body means `done`, as before outcomes existed.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TaskCompleteIn {
    /// `done` (the default), `no_answer`, `left_message`, `wrong_number` or `returned`. An
    /// unanswered call stays on the list until its third try, then the message goes by the
    /// patient's next channel; a wrong number sends it there at once.
    pub outcome: Option<String>,
    /// What happened, in staff's words (at most 2000 characters).
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct InboxCloseIn {
    /// What was done about it (at most 2000 characters).
    pub note: Option<String>,
}

/// A message with every status it passed through, oldest first.
pub type MessageWithHistory = (Message, Vec<MessageEvent>);

/// Which template a message uses, and its variables: a template staff name (their own words,
/// if any, as `text`); else staff's own words in the purpose's template for them (`urgent`
/// keeps its urgent wording around them, `non_urgent` is a `general_letter`, a reminder or an
/// update is an `update`); else `urgent` for an urgent message with neither.
fn template_for(
    purpose: Purpose,
    template: Option<String>,
    text: Option<String>,
    vars: &mut Map<String, Value>,
) -> Result<String> {
    match (template, text) {
        (Some(template), text) => {
            if let Some(text) = text {
                vars.insert("text".into(), Value::String(text));
            }
            Ok(template)
        }
        (None, Some(text)) => {
            vars.insert("text".into(), Value::String(text));
            Ok(match purpose {
                Purpose::Urgent => "urgent",
                Purpose::NonUrgent => "general_letter",
                Purpose::Reminder | Purpose::Update => "update",
            }
            .to_owned())
        }
        (None, None) if purpose == Purpose::Urgent => Ok("urgent".to_owned()),
        (None, None) => Err(Error::Invalid(
            "give text (staff's own words), or a template with its vars".into(),
        )),
    }
}

impl Services {
    /// Queues a message by the patient's own channels for its purpose.
    pub async fn queue_message(
        &self,
        actor: &Actor,
        patient_id: &PatientId,
        input: MessageIn,
    ) -> Result<MessageWithHistory> {
        limits::at_most("purpose", &input.purpose, limits::CODE)?;
        limits::optional("text", input.text.as_deref(), limits::MESSAGE_TEXT)?;
        limits::optional("template", input.template.as_deref(), limits::CODE)?;
        if let Some(vars) = &input.vars {
            limits::vars(vars)?;
        }
        let purpose = Purpose::parse(&input.purpose).ok_or_else(|| {
            Error::Invalid("purpose must be urgent, reminder, update or non_urgent".into())
        })?;
        let text = input
            .text
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        let mut vars = input.vars.unwrap_or_default();
        let template = template_for(purpose, input.template, text, &mut vars)?;
        let templates = &self.outbound.templates;
        if !templates.has(&template) {
            return Err(Error::Invalid(format!(
                "no template `{template}`; known: {}",
                templates.names().join(", ")
            )));
        }
        let patient = self.patient_record(patient_id).await?.patient;
        let request = MessageRequest {
            purpose,
            template,
            vars,
            appointment_id: None,
            reminder_key: None,
            fast: false,
        };
        let prepared =
            self.outbound
                .prepare(&patient, &request, crate::new_id().into(), Vec::new())?;
        let id = prepared.id.clone();
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::MessageQueue,
            format!("message:{id}"),
        );
        self.store
            .queue_message(&prepared, &audit, self.messages_per_day)
            .await?;
        self.store
            .messages_for_patient(patient_id, None, u32::MAX)
            .await?
            .into_iter()
            .find(|(m, _)| m.id == id)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("queued message {id} not found")))
    }

    /// A page of the messages to the patient (reminders, notices, updates, urgent), newest
    /// first; the read is audited with the ids shown before the page is returned.
    pub async fn messages_for_patient(
        &self,
        actor: &Actor,
        patient_id: &PatientId,
        query: PageQuery,
    ) -> Result<Paged<MessageWithHistory>> {
        let limit = Page::MESSAGES.limit(query.limit);
        let before: Option<TimeKey> = Cursor::decode(query.cursor.as_deref())?;
        self.patient_record(patient_id).await?;
        let rows = self
            .store
            .messages_for_patient(patient_id, before.as_ref(), limit + 1)
            .await?;
        let page = Paged::of(rows, limit, |(m, _)| TimeKey::new(m.created_at, &m.id));
        self.store
            .audit(&list_entry(
                actor,
                self.now(),
                AuditAction::MessageList,
                format!("patient:{patient_id}"),
                page.items.iter().map(|(m, _)| m.id.as_ref()),
            ))
            .await?;
        Ok(page)
    }

    /// The call list and the print list; the read is audited with the ids shown.
    pub async fn tasks(&self, actor: &Actor, query: TaskQuery) -> Result<Paged<Task>> {
        let kind = query
            .kind
            .map(|k| TaskKind::parse(&k))
            .map(|k| k.ok_or_else(|| Error::BadRequest("kind must be phone_call or letter".into())))
            .transpose()?;
        let status = query
            .status
            .map(|s| TaskStatus::parse(&s))
            .map(|s| s.ok_or_else(|| Error::BadRequest("status must be open or done".into())))
            .transpose()?;
        let limit = Page::TASKS.limit(query.limit);
        let rows = self
            .store
            .tasks(&TaskFilter {
                kind,
                status,
                after: Cursor::decode(query.cursor.as_deref())?,
                limit: limit + 1,
            })
            .await?;
        let page = Paged::of(rows, limit, |t| QueueKey::new(false, t.created_at, &t.id));
        self.store
            .audit(&list_entry(
                actor,
                self.now(),
                AuditAction::TaskList,
                "tasks".into(),
                page.items.iter().map(|t| t.id.as_ref()),
            ))
            .await?;
        Ok(page)
    }

    /// Staff report on a task: the call made (or not answered, or a wrong number), the
    /// letter posted (or returned).
    pub async fn complete_task(
        &self,
        actor: &Actor,
        id: &StaffTaskId,
        input: TaskCompleteIn,
    ) -> Result<Task> {
        let outcome = match input.outcome.as_deref() {
            None | Some("") => TaskOutcome::Done,
            Some(o) => TaskOutcome::parse(o).ok_or_else(|| {
                Error::Invalid(
                    "outcome must be done, no_answer, left_message, wrong_number or returned"
                        .into(),
                )
            })?,
        };
        let report = TaskReport {
            outcome,
            note: note(input.note)?,
            by: actor.name.clone(),
        };
        let task = self
            .store
            .task(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no task {id}")))?;
        if !outcome.fits(Channel::from(task.kind)) {
            return Err(Error::Invalid(format!(
                "outcome {outcome} does not apply to a {} task",
                task.kind
            )));
        }
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::task_outcome(outcome),
            format!("task:{id}"),
        )
        .with_note(report.note.clone());
        let reason = outcome.fallback_reason().unwrap_or("task_failed");
        let after = fall_back(&self.outbound, reason, MobileState::default());
        let decide = move |task: &Task| outcome.step(task.attempts);
        self.store
            .complete_task(id, &report, &audit, &decide, &after)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no task {id}")))
    }

    /// The letter to print, as a PDF; every read is audited.
    pub async fn task_letter(&self, actor: &Actor, id: &StaffTaskId) -> Result<Vec<u8>> {
        let pdf = self
            .store
            .task_letter(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no letter for task {id}")))?;
        self.store
            .audit(&audit_entry(
                actor,
                self.now(),
                AuditAction::LetterRead,
                format!("task:{id}"),
            ))
            .await?;
        Ok(pdf)
    }

    /// What patients texted, and what the team should know: urgent first, then oldest. Every
    /// read is audited.
    ///
    /// Items carrying a person's words about risk, or a referral's thread, are for clinicians
    /// and admins: a scheduler's list leaves them out altogether (their summary names the risk
    /// too), while appointment replies and other patient texts stay on it.
    pub async fn inbox(&self, actor: &Actor, query: InboxQuery) -> Result<Paged<InboxItem>> {
        let status = query
            .status
            .as_deref()
            .map(|s| {
                InboxStatus::parse(s)
                    .ok_or_else(|| Error::BadRequest("status must be open or done".into()))
            })
            .transpose()?;
        let limit = Page::INBOX.limit(query.limit);
        let rows = self
            .store
            .inbox(&InboxFilter {
                status,
                clinical: actor.role.may_read_referrals(),
                after: Cursor::decode(query.cursor.as_deref())?,
                limit: limit + 1,
            })
            .await?;
        let page = Paged::of(rows, limit, |i| {
            QueueKey::new(i.urgent, i.created_at, &i.id)
        });
        self.store
            .audit(&list_entry(
                actor,
                self.now(),
                AuditAction::InboxRead,
                "inbox".into(),
                page.items.iter().map(|i| i.id.as_ref()),
            ))
            .await?;
        Ok(page)
    }
}

impl Services {
    /// Closes an inbox item with a note; closing one already closed is a conflict. Items only
    /// clinicians see are closed only by them.
    pub async fn close_inbox_item(
        &self,
        actor: &Actor,
        id: &str,
        input: InboxCloseIn,
    ) -> Result<InboxItem> {
        let note = note(input.note)?;
        let item = self
            .store
            .inbox_item(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no inbox item {id}")))?;
        if item.is_clinical() && !actor.role.may_read_referrals() {
            return Err(Error::Forbidden(format!(
                "the {} role may not close an item about risk or a referral",
                actor.role
            )));
        }
        let audit = audit_entry(
            actor,
            self.now(),
            AuditAction::InboxClose,
            format!("inbox:{id}"),
        );
        match self
            .store
            .close_inbox_item(id, note.as_deref(), &audit)
            .await?
        {
            InboxClose::Closed(item) => Ok(*item),
            InboxClose::AlreadyClosed => Err(Error::Conflict(format!(
                "inbox item {id} is already closed"
            ))),
            InboxClose::NotFound => Err(Error::NotFound(format!("no inbox item {id}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_words_go_in_every_purpose() {
        for (purpose, template) in [
            (Purpose::Urgent, "urgent"),
            (Purpose::Reminder, "update"),
            (Purpose::Update, "update"),
            (Purpose::NonUrgent, "general_letter"),
        ] {
            let mut vars = Map::new();
            let chosen = template_for(purpose, None, Some("Bring your tablets".into()), &mut vars);
            assert_eq!(chosen.ok().as_deref(), Some(template), "{purpose}");
            assert_eq!(vars["text"], "Bring your tablets");
        }
        let mut vars = Map::new();
        assert!(template_for(Purpose::Reminder, None, None, &mut vars).is_err());
        assert_eq!(
            template_for(Purpose::Urgent, None, None, &mut vars)
                .ok()
                .as_deref(),
            Some("urgent")
        );
    }
}
