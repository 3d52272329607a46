//! Deciding what one inbound text does: risk screening first, then — for a patient's number —
//! a brief answer, the appointment action and the team inbox, or — for anyone else — the
//! referral conversation, the referral's fields and any on-call alert. Pure: the store calls
//! `decide` inside its transaction and persists the result.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::json;

use crate::conversation::answers::Optional;
use crate::conversation::parse::{self, Command};
use crate::conversation::wording::{Vars, Wording};
use crate::conversation::{Context, Conversation, Effect, Outcome, Status};
use crate::domain::channel::Channel;
use crate::domain::patient::MessagePurpose;
use crate::domain::referral::{ReferralRoute, ReferralStatus};
use crate::domain::schedule::describe_when;
use crate::domain::teams::Teams;
use crate::language::{self, Language, language_code};
use crate::outbound::TEAM_PHONE;
use crate::risk::RiskScreen;
use crate::store::{
    AppointmentAction, AuditAction, ConversationChange, CurrentConversation, Decision,
    FeedbackAnswer, InboxKind, NewInboxItem, NewMessage, PatientContact, PatientDecision,
    ReferralDecision, ReferralFields, Snapshot,
};
use crate::templates::Templates;

mod entered;
pub use entered::EnteredDecision;

/// What `Intake::screen` found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    /// The risk signals' names; empty when none.
    pub signals: Vec<String>,
    /// The language, when confidently one of ours and not English.
    pub language: Option<Language>,
}

#[derive(Debug)]
pub struct Intake {
    pub risk: RiskScreen,
    pub teams: Teams,
    pub wording: Wording,
    pub templates: Arc<Templates>,
    /// Most replies one number gets in an hour; past it texts are still stored and screened,
    /// and a risk text is still answered, but nothing else is.
    pub reply_cap_per_hour: u32,
    /// How long a done conversation's thread stays open to the number's next texts
    /// (`CRHT_THREAD_DAYS`); after it, a text starts a new referral.
    pub thread_days: u32,
    /// When the team aims to be in touch, for the referral's closing text
    /// (`CRHT_RESPONSE_TARGET`); `None`: "as soon as they can".
    pub response_target: Option<String>,
}

impl Intake {
    /// What the text says whoever sent it: its risk signals and its language. The costliest
    /// part of deciding, and it needs nothing from the store, so the inbound path works it
    /// out before taking the database's write lock, where every microsecond is spent by one
    /// writer at a time.
    pub fn screen(&self, text: &str) -> Screened {
        Screened {
            signals: self.risk.screen(text),
            language: language::detect(text),
        }
    }

    /// `decide_screened` with the text screened here.
    pub fn decide(
        &self,
        snapshot: &Snapshot,
        text: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Decision {
        self.decide_screened(snapshot, text, &self.screen(text), today, now)
    }

    /// What one text does, given what the number is to us (`snapshot`) and what `screen`
    /// found in the same text.
    pub fn decide_screened(
        &self,
        snapshot: &Snapshot,
        text: &str,
        screened: &Screened,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Decision {
        // Safety rule 2: screened before anything else, whatever the number is to us.
        let signals = screened.signals.clone();
        let at_risk = !signals.is_empty();
        // A text from a patient's number is not a new referral.
        let mut decision = match pick_patient(&snapshot.patients) {
            Some(patient) => Decision::Patient(Box::new(
                self.patient_text(snapshot, patient, text, signals),
            )),
            None => Decision::Referral(Box::new(self.referral_text(
                snapshot,
                text,
                signals,
                screened.language,
                today,
                now,
            ))),
        };
        if snapshot.replies_last_hour >= self.reply_cap_per_hour && !at_risk {
            // A flood from one number: keep everything, say nothing more this hour.
            match &mut decision {
                Decision::Referral(d) => d.replies.clear(),
                Decision::Patient(d) => {
                    d.replies.clear();
                    // A plan not sent is not audited as sent.
                    d.events.retain(|e| *e != AuditAction::SafetyPlanSend);
                }
            }
        }
        let past_opt_out = replies_past_opt_out(text, &decision);
        match &mut decision {
            Decision::Referral(d) => d.replies_past_opt_out = past_opt_out,
            Decision::Patient(d) => d.replies_past_opt_out = past_opt_out,
        }
        decision
    }

    fn referral_text(
        &self,
        snapshot: &Snapshot,
        text: &str,
        signals: Vec<String>,
        // Safety rule 9: the language the text is written in, when it is confidently one of
        // those the team's area texts in (None for English or too little to tell).
        detected: Option<Language>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> ReferralDecision {
        let foreign_language = detected.map(Language::code);
        // A conversation that is done (sent, or taken on by staff) keeps its thread open for
        // a while: a text that is not a command joins it; after that a text starts afresh.
        let current = match &snapshot.current {
            Some(current) if conversation_done(current) => {
                let last = snapshot
                    .thread_last_at
                    .unwrap_or(current.referral.updated_at);
                let open = now - last <= TimeDelta::days(i64::from(self.thread_days));
                if open
                    && parse::command(text).is_none()
                    && current.state.outcome != Some(Outcome::Signposted)
                {
                    return self.thread_text(snapshot, current, text, signals, now);
                }
                Some(current).filter(|_| open)
            }
            other => other.as_ref(),
        };
        let (change, turn, mut fields, reference) = match current {
            Some(current) => {
                let mut state = current.state.clone();
                let ctx = Context {
                    today,
                    reference: &current.referral.reference,
                    wording: &self.wording,
                    at_risk: !signals.is_empty(),
                    foreign_language,
                    response_target: self.response_target.as_deref(),
                };
                let turn = state.step(text, &ctx);
                if turn.effects.contains(&Effect::NewReferral) {
                    let fields = self.fresh_referral();
                    (
                        ConversationChange::Begin(state),
                        turn,
                        fields,
                        snapshot.new_reference.clone(),
                    )
                } else {
                    (
                        ConversationChange::Continue(state),
                        turn,
                        current.referral.fields(),
                        current.referral.reference.clone(),
                    )
                }
            }
            None => {
                let ctx = Context {
                    today,
                    reference: &snapshot.new_reference,
                    wording: &self.wording,
                    at_risk: !signals.is_empty(),
                    foreign_language,
                    response_target: self.response_target.as_deref(),
                };
                let (state, turn) = Conversation::begin(text, &ctx);
                (
                    ConversationChange::Begin(state),
                    turn,
                    self.fresh_referral(),
                    snapshot.new_reference.clone(),
                )
            }
        };
        let state = match &change {
            ConversationChange::Continue(s) | ConversationChange::Begin(s) => s,
        };
        // On-call was alerted for the team the referral had then; a later postcode may move it.
        let alerted_team = fields.urgent.then(|| fields.team.clone());

        // RESTART and BACK never erase: replaced answers stay, under `superseded`.
        fields.answers = state.referral_answers();
        if let Some(place) = &state.answers.postcode {
            fields.team = self.team_for(place);
        }
        fields.route = state.answers.referral_route();
        if fields.status.follows_conversation() {
            fields.status = conversation_status(state);
        }
        if turn.effects.contains(&Effect::Submitted) {
            fields.incomplete = false;
            fields.submitted_at = Some(now);
        }
        if let Some(code) = foreign_language {
            fields.language.get_or_insert_with(|| code.to_owned());
            fields.interpreter = true;
        }
        if fields.language.is_none()
            && let Some(Optional::Given(name)) = &state.answers.language
            && let Some(code) = language_code(name).filter(|code| *code != "en")
        {
            // "Which language?" answered: the same record, from the person's own words.
            fields.language = Some(code.to_owned());
            fields.interpreter = true;
        }
        if turn.effects.contains(&Effect::InterpreterNeeded) {
            // Into the queue as it stands, still marked incomplete: the team calls back with
            // an interpreter.
            fields.submitted_at.get_or_insert(now);
        }

        let mut new_signals: Vec<String> = signals.clone();
        for effect in &turn.effects {
            if let Effect::Urgent(reason) = effect {
                new_signals.push(reason.signal().to_owned());
            }
        }
        let flagged = !new_signals.is_empty();
        let mut alerts = Vec::new();
        if flagged {
            let was_urgent = fields.urgent;
            fields.urgent = true;
            fields.urgent_at.get_or_insert(now);
            for signal in new_signals {
                if !fields.risk_signals.contains(&signal) {
                    fields.risk_signals.push(signal);
                }
            }
            fields.risk_signals.sort();
            if !was_urgent {
                alerts = self.on_call_alerts(&fields.team, &reference);
            }
        }
        if alerted_team.is_some_and(|team| team != fields.team) {
            // Alerts follow the referral: the team it moved to hears of it too.
            alerts = self.on_call_alerts(&fields.team, &reference);
        }

        let mut parts = Vec::new();
        if !signals.is_empty() {
            // At once, in this same reply — also to a person who has opted out of texts.
            parts.push(self.wording.render("risk", &Vars::default()));
        }
        parts.extend(turn.replies);
        let in_their_language = fields.language.as_deref().and_then(Language::from_code);
        let first_text = matches!(change, ConversationChange::Begin(_));
        if let (true, Some(language)) = (first_text, detected) {
            // The first reply the person can read: 999 and the interpreter offer in their
            // language as well as in English.
            parts.push(self.wording.render("interpreter_offer", &Vars::default()));
            parts.push(language.first_reply().to_owned());
        } else if state.outcome == Some(Outcome::InterpreterNeeded)
            && !parts.is_empty()
            && let Some(language) = in_their_language
        {
            parts.push(language.interpreter_handover().to_owned());
        }
        let replies = if parts.is_empty() {
            Vec::new()
        } else {
            vec![parts.join("\n\n")]
        };

        let opt_out = turn.effects.iter().rev().find_map(|e| match e {
            Effect::OptedOut => Some(true),
            Effect::OptedIn => Some(false),
            _ => None,
        });

        let events = if first_text {
            vec![AuditAction::ReferralCreated]
        } else {
            Vec::new()
        };
        ReferralDecision {
            replies,
            conversation: change,
            referral: fields,
            alerts,
            opt_out,
            flagged,
            inbox: Vec::new(),
            reopen: false,
            events,
            replies_past_opt_out: false,
        }
    }

    /// A text that joins a done conversation's thread: stored on its referral, put in the
    /// team's inbox, and answered briefly. Risk is handled as anywhere else (999 at once, the
    /// referral urgent, on-call alerted), and a referral staff had acknowledged or closed is
    /// opened again so that nobody misses it (hazard H-15).
    fn thread_text(
        &self,
        snapshot: &Snapshot,
        current: &CurrentConversation,
        text: &str,
        signals: Vec<String>,
        now: DateTime<Utc>,
    ) -> ReferralDecision {
        let referral = &current.referral;
        let mut fields = referral.fields();
        let mut alerts = Vec::new();
        let mut reopen = false;
        let mut events = vec![AuditAction::ReferralThreadText];
        let at_risk = !signals.is_empty();
        if at_risk {
            let taken_on = referral.acknowledged_at.is_some()
                || matches!(
                    fields.status,
                    ReferralStatus::Acknowledged
                        | ReferralStatus::Accepted
                        | ReferralStatus::Closed
                );
            let was_urgent = fields.urgent;
            fields.urgent = true;
            for signal in &signals {
                if !fields.risk_signals.contains(signal) {
                    fields.risk_signals.push(signal.clone());
                }
            }
            fields.risk_signals.sort();
            if !was_urgent || taken_on {
                fields.urgent_at = Some(now);
                alerts = self.on_call_alerts(&fields.team, &referral.reference);
            }
            if taken_on {
                reopen = true;
                fields.status = ReferralStatus::Submitted;
                events.push(AuditAction::ReferralReopened);
            }
        }
        let summary = if at_risk {
            format!(
                "A new text on referral {} shows risk of harm ({}). {}",
                referral.reference,
                signals.join(", "),
                if alerts.is_empty() {
                    "The urgent flag is already open; on-call was alerted when it opened."
                } else {
                    "On-call has been alerted."
                }
            )
        } else {
            format!(
                "A new text on referral {}, after it reached the team.",
                referral.reference
            )
        };
        let mut parts = Vec::new();
        if at_risk {
            parts.push(self.wording.render("risk", &Vars::default()));
        }
        if !snapshot.opted_out && !current.state.opted_out {
            // Handed to an interpreter: the person is told so again, not in words they may
            // not read.
            let wording = if current.state.outcome == Some(Outcome::InterpreterNeeded) {
                "already_handed_over"
            } else {
                "thread_received"
            };
            parts.push(self.wording.render(wording, &Vars::default()));
        }
        ReferralDecision {
            replies: if parts.is_empty() {
                Vec::new()
            } else {
                vec![parts.join("\n\n")]
            },
            conversation: ConversationChange::Continue(current.state.clone()),
            referral: fields,
            alerts,
            opt_out: None,
            inbox: vec![NewInboxItem {
                kind: InboxKind::ReferralThread,
                urgent: at_risk,
                summary,
                body: Some(text.to_owned()),
                appointment_id: None,
            }],
            reopen,
            events,
            flagged: at_risk,
            replies_past_opt_out: false,
        }
    }

    /// A patient's text: answered briefly (risk first), acted on (`YES` confirms and `C`
    /// cancels their next appointment), and put in the team's inbox.
    fn patient_text(
        &self,
        snapshot: &Snapshot,
        patient: &PatientContact,
        text: &str,
        signals: Vec<String>,
    ) -> PatientDecision {
        let mut parts = Vec::new();
        let mut inbox = Vec::new();
        let mut alerts = Vec::new();
        let mut appointment = None;
        let mut opt_out = None;
        // One number, two records: whoever sent it, the reply names no one and staff see it
        // on every record.
        let shared = snapshot.patients.len() > 1;
        let sender = if shared {
            format!(
                "a mobile shared by {} patient records",
                snapshot.patients.len()
            )
        } else {
            patient.preferred_name.clone()
        };
        // Acting on "their next appointment" needs to know whose it is.
        let next = patient.next_appointment.as_ref().filter(|_| !shared);
        let when = next.map(|a| describe_when(a.starts_at)).unwrap_or_default();
        let vars = json!({
            "preferred_name": patient.preferred_name,
            "team_phone": TEAM_PHONE,
            "when": when,
        });
        let reply = |name: &str| {
            if shared {
                self.wording.render("patient_fallback", &Vars::default())
            } else {
                self.patient_reply(patient, name, &vars)
            }
        };
        if !signals.is_empty() {
            parts.push(self.wording.render("risk", &Vars::default()));
            // Safety rule 8: one alert per open episode; while it is open (not yet
            // acknowledged) further risk texts add their signals and the escalation steps
            // carry on.
            let opens_episode = snapshot.patients.iter().any(|p| !p.urgent);
            if opens_episode {
                alerts = self.team_alerts(
                    patient.team.as_deref().unwrap_or_default(),
                    "",
                    "on_call_alert_patient",
                    false,
                );
            }
            inbox.push(NewInboxItem {
                kind: InboxKind::Risk,
                urgent: true,
                summary: format!(
                    "A text from {sender} shows risk of harm ({}). {}",
                    signals.join(", "),
                    if opens_episode {
                        "On-call has been alerted."
                    } else {
                        "The urgent flag is already open; on-call was alerted when it opened."
                    }
                ),
                body: Some(text.to_owned()),
                appointment_id: None,
            });
        }
        let mut replies_allowed = !snapshot.opted_out;
        // A flood from one number gets no more replies this hour (`decide`), a plan included.
        let flooded = snapshot.replies_last_hour >= self.reply_cap_per_hour;
        let mut plan_texts = Vec::new();
        // Risk first: a text that screened as risk answers no feedback request.
        let open_feedback = patient
            .feedback
            .as_ref()
            .filter(|_| !shared && signals.is_empty());
        let mut feedback = None;
        match parse::command(text) {
            Some(Command::Plan) if signals.is_empty() => {
                // Only to a number that is this patient's alone (H-31): a shared mobile, or
                // no plan yet, gets the same neutral words as any other number.
                match patient
                    .safety_plan
                    .as_ref()
                    .filter(|p| !shared && !p.is_empty())
                {
                    Some(plan) if replies_allowed && !flooded => match self
                        .plan_texts(patient, plan)
                    {
                        Some(texts) => plan_texts = texts,
                        None => parts.push(self.wording.render("plan_not_here", &Vars::default())),
                    },
                    _ => parts.push(self.wording.render("plan_not_here", &Vars::default())),
                }
                // Someone reaching for their plan may be struggling: the team hears of it.
                let summary = if shared {
                    format!(
                        "A text from {sender} asked for a safety plan: none was sent, as the number is shared. Please check who asked."
                    )
                } else {
                    let outcome = match plan_texts.len() {
                        1 => "it was sent in 1 text".to_owned(),
                        n if n > 1 => format!("it was sent in {n} texts"),
                        _ if !replies_allowed => {
                            "none was sent, as they have opted out of texts".to_owned()
                        }
                        _ if flooded => {
                            "none was sent, as this number has had all its replies for the hour"
                                .to_owned()
                        }
                        _ if patient.safety_plan.as_ref().is_some_and(|p| !p.is_empty()) => {
                            "it could not be put into texts; please send it by their channels"
                                .to_owned()
                        }
                        _ => "they have no plan yet".to_owned(),
                    };
                    format!("{sender} asked for their safety plan by text: {outcome}.")
                };
                inbox.push(NewInboxItem {
                    kind: InboxKind::SafetyPlanAsked,
                    urgent: false,
                    summary,
                    body: None,
                    appointment_id: None,
                });
            }
            Some(Command::Stop) => {
                opt_out = Some(true);
                if !snapshot.opted_out {
                    parts.push(self.wording.render("patient_stopped", &Vars::default()));
                }
                replies_allowed = true;
            }
            Some(Command::Start) => {
                opt_out = Some(false);
                replies_allowed = true;
                parts.push(self.wording.render("patient_started", &Vars::default()));
            }
            Some(Command::Keyword(keyword)) => {
                // The same words as to anyone (they name no one), in easy read when the
                // passport asks.
                let key = keyword.wording_key(patient.easy_read);
                parts.push(self.wording.render(key, &Vars::default()));
            }
            _ if open_feedback.is_some() && feedback_rating(text).is_some() => {
                // A reply to the feedback request (`open_feedback` is only for a risk-free
                // text from a number that is this patient's alone).
                if let (Some(open), Some((rating, words))) = (open_feedback, feedback_rating(text))
                {
                    feedback = Some(FeedbackAnswer::Rated {
                        request_id: open.id.clone(),
                        rating,
                        words,
                    });
                }
                parts.push(reply("feedback_thanks"));
            }
            _ => {
                let word = parse::normalise(text);
                let says_yes = parse::yes_no(text) == Some(true) || word == "confirm";
                match next {
                    Some(next) if signals.is_empty() && says_yes => {
                        appointment = Some(AppointmentAction::Confirm(next.id.clone()));
                        parts.push(reply("confirmed_reply"));
                        inbox.push(NewInboxItem {
                            kind: InboxKind::AppointmentConfirmed,
                            urgent: false,
                            summary: format!(
                                "{} confirmed their appointment on {when} by text.",
                                patient.preferred_name
                            ),
                            body: None,
                            appointment_id: Some(next.id.clone()),
                        });
                    }
                    Some(next) if signals.is_empty() && word == "c" => {
                        appointment = Some(AppointmentAction::Cancel(next.id.clone()));
                        parts.push(reply("cancelled_reply"));
                        inbox.push(NewInboxItem {
                            kind: InboxKind::AppointmentCancelled,
                            urgent: false,
                            summary: format!(
                                "{} cancelled their appointment on {when} by text; its reminders are withdrawn. Please rearrange.",
                                patient.preferred_name
                            ),
                            body: None,
                            appointment_id: Some(next.id.clone()),
                        });
                    }
                    _ => {
                        match open_feedback.filter(|open| !open.reasked) {
                            // Not a number from 1 to 5: asked kindly once more; the words
                            // still reach the team.
                            Some(open) => {
                                feedback = Some(FeedbackAnswer::Reasked {
                                    request_id: open.id.clone(),
                                });
                                parts.push(reply("feedback_reask"));
                            }
                            None => parts.push(reply("received_reply")),
                        }
                        if signals.is_empty() {
                            inbox.push(NewInboxItem {
                                kind: InboxKind::PatientText,
                                urgent: false,
                                summary: if shared {
                                    format!(
                                        "A text from {sender}: please check which of them sent it."
                                    )
                                } else {
                                    format!("A text from {sender}.")
                                },
                                body: Some(text.to_owned()),
                                appointment_id: None,
                            });
                        }
                    }
                }
            }
        }
        if !replies_allowed {
            // Opted out of texts: only the 999 answer to a risk text still goes.
            parts.truncate(usize::from(!signals.is_empty()));
        }
        let events = if plan_texts.is_empty() {
            Vec::new()
        } else {
            vec![AuditAction::SafetyPlanSend]
        };
        PatientDecision {
            patient_id: patient.id.clone(),
            patient_ids: snapshot.patients.iter().map(|p| p.id.clone()).collect(),
            replies: if !plan_texts.is_empty() {
                plan_texts
            } else if parts.is_empty() {
                Vec::new()
            } else {
                vec![parts.join("\n\n")]
            },
            events,
            risk_signals: signals,
            alerts,
            appointment,
            inbox,
            opt_out,
            replies_past_opt_out: false,
            feedback,
        }
    }

    /// The patient's safety plan in their words (easy read when their passport asks), as
    /// numbered texts when it is long. `None` if the template fails (the caller sends the
    /// neutral answer instead, and nothing is audited as sent).
    fn plan_texts(
        &self,
        patient: &PatientContact,
        plan: &crate::store::SafetyPlanSections,
    ) -> Option<Vec<String>> {
        let vars = json!({
            "preferred_name": patient.preferred_name,
            "team_phone": TEAM_PHONE,
            "plan": plan,
        });
        match self.templates.render(
            "safety_plan",
            Channel::Sms,
            patient.language.as_deref(),
            patient.easy_read,
            &vars,
        ) {
            Ok(rendered) => Some(numbered_texts(&rendered.text)),
            Err(error) => {
                tracing::error!(template = "safety_plan", %error, "safety plan template failed");
                None
            }
        }
    }

    fn patient_reply(
        &self,
        patient: &PatientContact,
        name: &str,
        vars: &serde_json::Value,
    ) -> String {
        match self.templates.render(
            name,
            Channel::Sms,
            patient.language.as_deref(),
            patient.easy_read,
            vars,
        ) {
            Ok(rendered) => rendered.text,
            Err(error) => {
                tracing::error!(template = name, %error, "reply template failed; sending the fallback");
                self.wording.render("patient_fallback", &Vars::default())
            }
        }
    }

    fn team_or_default(&self, id: Option<&str>) -> &crate::domain::teams::Team {
        id.and_then(|id| self.teams.get(id))
            .unwrap_or_else(|| self.teams.default_team())
    }

    fn fresh_referral(&self) -> ReferralFields {
        ReferralFields {
            status: ReferralStatus::InProgress,
            urgent: false,
            risk_signals: Vec::new(),
            urgent_at: None,
            team: self.teams.default_team().id.clone(),
            answers: serde_json::Map::new(),
            incomplete: true,
            submitted_at: None,
            language: None,
            interpreter: false,
            route: ReferralRoute::Crisis,
        }
    }

    /// One text per on-call number; reference and team only — never the person's number or
    /// words.
    fn on_call_alerts(&self, team_id: &str, reference: &str) -> Vec<NewMessage> {
        self.team_alerts(team_id, reference, "on_call_alert", false)
    }

    /// Alerts about an urgent referral or patient (`reference` empty for a patient): to
    /// on-call (`to_escalation` false) or to the team's escalation numbers (on-call again when
    /// the team lists none). Team and reference only — never the person's number or words.
    pub fn team_alerts(
        &self,
        team_id: &str,
        reference: &str,
        wording: &str,
        to_escalation: bool,
    ) -> Vec<NewMessage> {
        let team = self.team_or_default(Some(team_id));
        let vars = Vars {
            reference: reference.to_owned(),
            team: team.name.clone(),
            ..Vars::default()
        };
        let body = self.wording.render(wording, &vars);
        let numbers = if to_escalation && !team.escalation.is_empty() {
            &team.escalation
        } else {
            &team.on_call
        };
        numbers
            .iter()
            .map(|to| NewMessage {
                purpose: MessagePurpose::OnCallAlert,
                to: to.clone(),
                body: body.clone(),
            })
            .collect()
    }
}

/// Whether the replies to `text` go to its number even if it has opted out of texts by the
/// time they are sent (they may leave after the text, as messages of their own). The intake
/// has already chosen, from the opt-out as it stood, which replies an opted-out number gets;
/// a STOP that arrives after them holds back every reply except these: the confirmation of
/// STOP itself (SPEC: "confirmed once"), the 999 answer to a risk text or an unsafe answer
/// (safety rules 2 and 3: at any point, also after STOP), and the answer to HELP or a keyword
/// such as COPING (commands that work at any step, asked for by name, with 999 in them).
fn replies_past_opt_out(text: &str, decision: &Decision) -> bool {
    let opts_out = match decision {
        Decision::Referral(d) => d.opt_out == Some(true),
        Decision::Patient(d) => d.opt_out == Some(true),
    };
    decision.flagged()
        || opts_out
        || matches!(
            parse::command(text),
            Some(Command::Help | Command::Keyword(_))
        )
}

/// The conversation is over for the person: sent (or signposted, or handed to an
/// interpreter), or stopped short and since taken on by staff.
fn conversation_done(current: &CurrentConversation) -> bool {
    current.state.status == Status::Completed
        || (current.state.status != Status::Active
            && !current.referral.status.follows_conversation())
}

/// The referral status a conversation implies (while staff have not moved it on).
fn conversation_status(state: &Conversation) -> ReferralStatus {
    match (state.status, state.outcome) {
        (Status::Completed, Some(Outcome::Signposted)) => ReferralStatus::Signposted,
        (Status::Completed, _) => ReferralStatus::Submitted,
        (Status::Stopped, _) => ReferralStatus::Stopped,
        (Status::Abandoned, _) => ReferralStatus::Abandoned,
        (Status::Active, _) => ReferralStatus::InProgress,
    }
}

/// The patient a text is from: the one with the soonest appointment, else the most recently
/// updated (the store lists them that way).
/// Splits a long text into numbered texts (`1/3 …`), each within two SMS segments with its
/// number, breaking between lines where it can, then between words, then (for a word longer
/// than a text) anywhere. A text that fits in two segments is sent as it is, unnumbered.
pub fn numbered_texts(text: &str) -> Vec<String> {
    use crate::channels::sms::sms_size;
    const MOST_SEGMENTS: usize = 2;
    // Measured with the widest number a plan could carry, so numbering never pushes a text over.
    let fits = |piece: &str| sms_size(&format!("99/99 {piece}")).segments <= MOST_SEGMENTS;
    if sms_size(text).segments <= MOST_SEGMENTS {
        return vec![text.to_owned()];
    }
    // Pieces that each fit: whole lines, or a long line's words, or a long word's characters.
    let mut pieces: Vec<(String, bool)> = Vec::new(); // (piece, starts a new line)
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if fits(line) {
            pieces.push((line.to_owned(), true));
            continue;
        }
        let mut current = String::new();
        let mut first = true;
        for word in line.split_whitespace() {
            let candidate = if current.is_empty() {
                word.to_owned()
            } else {
                format!("{current} {word}")
            };
            if fits(&candidate) {
                current = candidate;
                continue;
            }
            if !current.is_empty() {
                pieces.push((std::mem::take(&mut current), first));
                first = false;
            }
            if fits(word) {
                current = word.to_owned();
            } else {
                let mut chunk = String::new();
                for c in word.chars() {
                    let mut next = chunk.clone();
                    next.push(c);
                    if fits(&next) {
                        chunk = next;
                    } else {
                        pieces.push((std::mem::replace(&mut chunk, c.to_string()), first));
                        first = false;
                    }
                }
                current = chunk;
            }
        }
        if !current.is_empty() {
            pieces.push((current, first));
        }
    }
    let mut parts: Vec<String> = Vec::new();
    for (piece, new_line) in pieces {
        if let Some(last) = parts.last_mut() {
            let joined = format!("{last}{}{piece}", if new_line { "\n" } else { " " });
            if fits(&joined) {
                *last = joined;
                continue;
            }
        }
        parts.push(piece);
    }
    let total = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| format!("{}/{total} {part}", i + 1))
        .collect()
}

/// A reply to a feedback request: its first thing is a digit from 1 to 5 (not part of a
/// longer number such as 10 or a time such as 4:30), the rest is the person's words, if any.
/// "5/5" and "4 out of 5" are read as 5 and 4.
pub fn feedback_rating(text: &str) -> Option<(i64, Option<String>)> {
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
    let mut chars = text.chars();
    let digit = chars.next()?;
    let rating = i64::from(digit.to_digit(10).filter(|d| (1..=5).contains(d))?);
    let rest = chars.as_str();
    if rest.starts_with(|c: char| c.is_ascii_digit())
        || (rest.starts_with([':', '.', ','])
            && rest[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        return None;
    }
    let lower = rest.to_lowercase();
    let rest = ["/5", "/ 5", " / 5", " out of 5", " out of five"]
        .iter()
        .find(|prefix| lower.starts_with(*prefix))
        .map_or(rest, |prefix| &rest[prefix.len()..]);
    let words = rest
        .trim_start_matches(|c: char| c.is_whitespace() || ".,;:!-)/*".contains(c))
        .trim_end();
    Some((rating, (!words.is_empty()).then(|| words.to_owned())))
}

fn pick_patient(patients: &[PatientContact]) -> Option<&PatientContact> {
    patients
        .iter()
        .filter(|p| p.next_appointment.is_some())
        .min_by_key(|p| p.next_appointment.as_ref().map(|a| a.starts_at))
        .or_else(|| patients.first())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::Referral;

    fn intake() -> Intake {
        Intake {
            risk: RiskScreen::bundled(),
            teams: Teams::bundled(),
            wording: Wording::english(),
            templates: Arc::new(Templates::bundled()),
            reply_cap_per_hour: 30,
            thread_days: 14,
            response_target: None,
        }
    }

    #[test]
    fn a_long_text_is_split_into_numbered_texts_that_each_fit_two_segments() {
        use crate::channels::sms::sms_size;
        assert_eq!(numbered_texts("Short and sweet."), vec!["Short and sweet."]);
        let line = "A line of a safety plan, in a patient's own words. ".repeat(3);
        let long = format!(
            "{line}\n{}\n{line}\n{}",
            "word ".repeat(200),
            "x".repeat(700)
        );
        let texts = numbered_texts(&long);
        let total = texts.len();
        assert!(total > 4, "{texts:#?}");
        for (i, text) in texts.iter().enumerate() {
            assert!(text.starts_with(&format!("{}/{total} ", i + 1)), "{text}");
            assert!(sms_size(text).segments <= 2, "{text}");
        }
        // Nothing lost: the words come back in order once the numbers are taken off.
        let joined: String = texts
            .iter()
            .map(|t| t.split_once(' ').map(|(_, rest)| rest).unwrap_or_default())
            .collect::<Vec<_>>()
            .concat();
        let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(squeeze(&joined), squeeze(&long));
        // Words that need UCS-2 get the smaller limit.
        let emoji = "🌼 a reason to live 🌼\n".repeat(20);
        for text in numbered_texts(&emoji) {
            assert!(sms_size(&text).segments <= 2, "{text}");
        }
    }

    fn patient_with_plan(id: &str) -> PatientContact {
        PatientContact {
            id: id.into(),
            preferred_name: "Sam".into(),
            language: None,
            easy_read: false,
            team: None,
            urgent: false,
            risk_signals: Vec::new(),
            next_appointment: None,
            safety_plan: Some(crate::store::SafetyPlanSections {
                reasons_for_living: vec!["My dog Bluebell".into()],
                ..Default::default()
            }),
            feedback: None,
        }
    }

    #[test]
    fn a_feedback_reply_is_a_digit_from_1_to_5_first_and_the_rest_is_words() {
        assert_eq!(feedback_rating("4"), Some((4, None)));
        assert_eq!(feedback_rating(" 5 "), Some((5, None)));
        assert_eq!(
            feedback_rating("5. Thank you all"),
            Some((5, Some("Thank you all".into())))
        );
        assert_eq!(
            feedback_rating("3 - kind but slow to call back"),
            Some((3, Some("kind but slow to call back".into())))
        );
        assert_eq!(
            feedback_rating("5/5 brilliant"),
            Some((5, Some("brilliant".into())))
        );
        assert_eq!(feedback_rating("4 out of 5"), Some((4, None)));
        assert_eq!(feedback_rating("1"), Some((1, None)));
        for not_a_rating in [
            "0", "6", "10", "12", "4:30", "4.5", "great", "", "five", "YES",
        ] {
            assert_eq!(feedback_rating(not_a_rating), None, "{not_a_rating:?}");
        }
    }

    #[test]
    fn a_reply_to_an_open_feedback_request_is_recorded_and_risk_and_keywords_come_first() {
        let intake = intake();
        let mut patient = patient_with_plan("p1");
        patient.feedback = Some(crate::store::OpenFeedback {
            id: "f1".into(),
            reasked: false,
        });
        let decide = |patients: Vec<PatientContact>, text: &str| match intake.decide(
            &patients_snapshot(patients, 0),
            text,
            at(3).date_naive(),
            at(3),
        ) {
            Decision::Patient(d) => d,
            Decision::Referral(_) => panic!("a patient's number"),
        };
        let rated = decide(vec![patient.clone()], "4 lovely staff");
        assert_eq!(
            rated.feedback,
            Some(FeedbackAnswer::Rated {
                request_id: "f1".into(),
                rating: 4,
                words: Some("lovely staff".into())
            })
        );
        assert!(
            rated.replies.concat().contains("Thank you"),
            "{:?}",
            rated.replies
        );
        assert!(rated.inbox.is_empty());

        // Risk first: the 999 answer, the urgent flag, and no rating recorded.
        let risk = decide(vec![patient.clone()], "1 I want to kill myself");
        assert_eq!(risk.feedback, None);
        assert!(!risk.risk_signals.is_empty());
        assert!(risk.replies.concat().contains("999"));

        // Keywords keep their meaning.
        let stop = decide(vec![patient.clone()], "STOP");
        assert_eq!(stop.feedback, None);
        assert_eq!(stop.opt_out, Some(true));
        let plan = decide(vec![patient.clone()], "PLAN");
        assert_eq!(plan.feedback, None);
        assert!(plan.replies.concat().contains("Bluebell"));

        // Anything else: asked again once (the words still reach the team), then as usual.
        let other = decide(vec![patient.clone()], "it was ok I suppose");
        assert_eq!(
            other.feedback,
            Some(FeedbackAnswer::Reasked {
                request_id: "f1".into()
            })
        );
        assert!(
            other.replies.concat().contains("1 to 5"),
            "{:?}",
            other.replies
        );
        assert_eq!(other.inbox.len(), 1);
        let mut reasked = patient.clone();
        reasked.feedback.as_mut().expect("open").reasked = true;
        let again = decide(vec![reasked], "still ok");
        assert_eq!(again.feedback, None);
        assert!(!again.replies.concat().contains("1 to 5"));

        // A shared mobile answers nobody's request.
        let shared = decide(vec![patient.clone(), patient_with_plan("p2")], "5");
        assert_eq!(shared.feedback, None);
    }

    fn patients_snapshot(patients: Vec<PatientContact>, replies_last_hour: u32) -> Snapshot {
        Snapshot {
            patients,
            current: None,
            opted_out: false,
            replies_last_hour,
            new_reference: "CRHT-7K3M9Q".into(),
            thread_last_at: None,
        }
    }

    #[test]
    fn plan_is_sent_and_audited_only_to_a_patients_own_number_within_the_reply_cap() {
        let intake = intake();
        let decide = |snapshot: &Snapshot| match intake.decide(
            snapshot,
            "Plan",
            at(3).date_naive(),
            at(3),
        ) {
            Decision::Patient(d) => d,
            Decision::Referral(_) => panic!("a patient's number"),
        };
        let own = decide(&patients_snapshot(vec![patient_with_plan("p1")], 0));
        assert!(
            own.replies.concat().contains("Bluebell"),
            "{:?}",
            own.replies
        );
        assert_eq!(own.events, vec![AuditAction::SafetyPlanSend]);
        let asked = |d: &PatientDecision| -> Vec<String> {
            d.inbox
                .iter()
                .filter(|i| i.kind == InboxKind::SafetyPlanAsked && !i.urgent)
                .map(|i| i.summary.clone())
                .collect()
        };
        assert_eq!(
            asked(&own),
            vec!["Sam asked for their safety plan by text: it was sent in 1 text."]
        );
        assert!(
            own.inbox.iter().all(|i| i.body.is_none()),
            "the plan's words stay out of the inbox"
        );
        let mut no_plan = patient_with_plan("p1");
        no_plan.safety_plan = None;
        let none = decide(&patients_snapshot(vec![no_plan], 0));
        assert_eq!(
            asked(&none),
            vec!["Sam asked for their safety plan by text: they have no plan yet."]
        );

        let shared = decide(&patients_snapshot(
            vec![patient_with_plan("p1"), patient_with_plan("p2")],
            0,
        ));
        assert!(!shared.replies.concat().contains("Bluebell"));
        assert_eq!(
            shared.replies,
            vec![intake.wording.render("plan_not_here", &Vars::default())]
        );
        assert!(shared.events.is_empty());
        assert!(
            asked(&shared)[0].starts_with("A text from a mobile shared by 2 patient records"),
            "{:?}",
            shared.inbox
        );

        let flooded = decide(&patients_snapshot(vec![patient_with_plan("p1")], 30));
        assert!(flooded.replies.is_empty());
        assert!(
            flooded.events.is_empty(),
            "nothing sent, nothing audited as sent"
        );
        assert!(
            asked(&flooded)[0].contains("none was sent"),
            "{:?}",
            flooded.inbox
        );
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// A number whose referral was sent on the 1st (and, with `status`, moved on by staff).
    fn sent_referral(status: ReferralStatus, acknowledged: bool) -> Snapshot {
        let mut state = Conversation::new();
        state.status = Status::Completed;
        state.outcome = Some(Outcome::Submitted);
        let team = Teams::bundled().default_team().id.clone();
        Snapshot {
            patients: Vec::new(),
            current: Some(CurrentConversation {
                id: "conversation".into(),
                state,
                referral: Referral {
                    id: "referral".into(),
                    reference: "CRHT-7K3M9Q".into(),
                    status,
                    urgent: false,
                    risk_signals: Vec::new(),
                    urgent_at: None,
                    team,
                    answers: serde_json::Map::new(),
                    incomplete: false,
                    submitted_at: Some(at(1)),
                    escalation_level: 0,
                    acknowledged_at: acknowledged.then(|| at(2)),
                    phone: None,
                    language: None,
                    interpreter: false,
                    source: crate::domain::referral::ReferralSource::Sms,
                    route: ReferralRoute::Crisis,
                    created_at: at(1),
                    updated_at: at(2),
                },
            }),
            opted_out: false,
            replies_last_hour: 0,
            new_reference: "CRHT-NEW234".into(),
            thread_last_at: Some(at(1)),
        }
    }

    fn referral_decision(decision: Decision) -> ReferralDecision {
        match decision {
            Decision::Referral(d) => *d,
            Decision::Patient(_) => panic!("a referral's number"),
        }
    }

    fn decide(snapshot: &Snapshot, text: &str, now: DateTime<Utc>) -> ReferralDecision {
        referral_decision(intake().decide(snapshot, text, now.date_naive(), now))
    }

    #[test]
    fn a_text_within_the_window_joins_the_thread_with_an_inbox_item() {
        let snapshot = sent_referral(ReferralStatus::Submitted, false);
        let d = decide(&snapshot, "I forgot to mention my tablets", at(14));
        assert!(matches!(d.conversation, ConversationChange::Continue(_)));
        assert_eq!(d.referral.status, ReferralStatus::Submitted);
        assert!(d.replies[0].contains("999"), "{:?}", d.replies);
        assert_eq!(d.inbox.len(), 1);
        assert_eq!(d.inbox[0].kind, InboxKind::ReferralThread);
        assert_eq!(
            d.inbox[0].body.as_deref(),
            Some("I forgot to mention my tablets")
        );
        assert!(!d.inbox[0].urgent && d.alerts.is_empty() && !d.reopen);
        assert_eq!(d.events, [AuditAction::ReferralThreadText]);
    }

    #[test]
    fn after_the_window_a_text_begins_a_new_referral_with_999() {
        let snapshot = sent_referral(ReferralStatus::Accepted, true);
        let d = decide(&snapshot, "hello", at(16));
        assert!(matches!(d.conversation, ConversationChange::Begin(_)));
        assert!(d.inbox.is_empty());
        assert!(d.replies[0].contains("999"));
        assert_eq!(d.events, [AuditAction::ReferralCreated]);
    }

    #[test]
    fn a_risk_text_on_an_acknowledged_referral_reopens_it_and_alerts_on_call() {
        let snapshot = sent_referral(ReferralStatus::Acknowledged, true);
        let d = decide(&snapshot, "I want to kill myself", at(5));
        assert!(d.replies[0].contains("999"));
        assert!(d.referral.urgent && d.reopen);
        assert_eq!(d.referral.status, ReferralStatus::Submitted);
        assert_eq!(d.referral.urgent_at, Some(at(5)));
        assert!(!d.alerts.is_empty());
        assert!(d.alerts.iter().all(|a| !a.body.contains("kill")));
        assert!(d.inbox[0].urgent);
        assert_eq!(
            d.events,
            [
                AuditAction::ReferralThreadText,
                AuditAction::ReferralReopened
            ]
        );
    }

    #[test]
    fn a_risk_text_is_answered_with_999_even_after_stop() {
        let mut snapshot = sent_referral(ReferralStatus::Submitted, false);
        snapshot.opted_out = true;
        let quiet = decide(&snapshot, "ok thanks", at(3));
        assert!(quiet.replies.is_empty(), "opted out: no reply");
        assert_eq!(quiet.inbox.len(), 1, "still in the inbox");
        let risk = decide(&snapshot, "I want to die", at(3));
        assert_eq!(risk.replies.len(), 1);
        assert!(risk.replies[0].contains("999"));
        assert!(!risk.alerts.is_empty(), "the first urgent flag alerts");
    }

    #[test]
    fn commands_keep_their_meaning_in_a_thread() {
        let snapshot = sent_referral(ReferralStatus::Submitted, false);
        let help = decide(&snapshot, "HELP", at(3));
        assert!(help.inbox.is_empty());
        assert!(help.replies[0].contains("999"));
        let restart = decide(&snapshot, "RESTART", at(3));
        assert!(matches!(restart.conversation, ConversationChange::Begin(_)));
        let stop = decide(&snapshot, "STOP", at(3));
        assert_eq!(stop.opt_out, Some(true));
    }

    #[test]
    fn a_conversation_still_going_is_never_a_thread() {
        let mut snapshot = sent_referral(ReferralStatus::Acknowledged, true);
        if let Some(current) = &mut snapshot.current {
            current.state = Conversation::new();
            current.state.step = crate::conversation::Step::Name;
        }
        let d = decide(&snapshot, "Sam", at(3));
        assert!(d.inbox.is_empty(), "an answer, not a thread text");
        assert!(matches!(d.conversation, ConversationChange::Continue(_)));
    }

    #[test]
    fn only_stop_s_confirmation_999_answers_and_help_go_past_a_later_opt_out() {
        let snapshot = sent_referral(ReferralStatus::Submitted, false);
        let stop = decide(&snapshot, "STOP", at(3));
        assert!(!stop.replies.is_empty(), "STOP is confirmed");
        assert!(stop.replies_past_opt_out, "the confirmation goes");
        let risk = decide(&snapshot, "I want to end my life", at(3));
        assert!(risk.replies[0].contains("999"));
        assert!(risk.replies_past_opt_out, "a 999 answer always goes");
        let help = decide(&snapshot, "help", at(3));
        assert!(help.replies_past_opt_out);
        let thread = decide(&snapshot, "I forgot to mention my tablets", at(3));
        assert!(!thread.replies.is_empty());
        assert!(!thread.replies_past_opt_out, "held back by a later STOP");
        let fresh = decide(
            &Snapshot {
                current: None,
                ..snapshot
            },
            "hello",
            at(3),
        );
        assert!(fresh.replies[0].contains("999"), "the first reply");
        assert!(!fresh.replies_past_opt_out);
    }
}
