//! Deciding what one inbound text does: risk screening first, then the conversation, then
//! the referral's fields and any on-call alert. Pure: the store calls `decide` inside its
//! transaction and persists the result.

use chrono::{DateTime, NaiveDate, Utc};

use crate::conversation::answers::Place;
use crate::conversation::wording::{Vars, Wording};
use crate::conversation::{Context, Conversation, Effect, Outcome, Status};
use crate::domain::referral::ReferralStatus;
use crate::domain::teams::Teams;
use crate::risk::RiskScreen;
use crate::store::{ConversationChange, Decision, NewMessage, ReferralFields, Snapshot};

/// The purpose recorded on alerts to on-call staff.
pub const ON_CALL_ALERT: &str = "on_call_alert";

#[derive(Debug)]
pub struct Intake {
    pub risk: RiskScreen,
    pub teams: Teams,
    pub wording: Wording,
}

impl Intake {
    pub fn decide(
        &self,
        snapshot: &Snapshot,
        text: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Decision {
        // Safety rule 2: screened before anything else, whatever the conversation's state.
        let signals = self.risk.screen(text);

        let (change, turn, mut fields, reference) = match &snapshot.current {
            Some(current) => {
                let mut state = current.state.clone();
                let ctx = Context {
                    today,
                    reference: &current.referral.reference,
                    wording: &self.wording,
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

        fields.answers = state.answers.to_json();
        if let Some(place) = &state.answers.postcode {
            fields.team = match place {
                Place::Postcode(p) => self.teams.route_postcode(p),
                Place::Town(t) => self.teams.route_town(t),
            }
            .id
            .clone();
        }
        if fields.status.follows_conversation() {
            fields.status = conversation_status(state);
        }
        if turn.effects.contains(&Effect::Submitted) {
            fields.incomplete = false;
            fields.submitted_at = Some(now);
        }

        let mut new_signals: Vec<String> = signals.clone();
        for effect in &turn.effects {
            if let Effect::Urgent(reason) = effect {
                new_signals.push(reason.signal().to_owned());
            }
        }
        let mut alerts = Vec::new();
        if !new_signals.is_empty() {
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

        let mut parts = Vec::new();
        if !signals.is_empty() {
            // At once, in this same reply — also to a person who has opted out of texts.
            parts.push(self.wording.render("risk", &Vars::default()));
        }
        parts.extend(turn.replies);
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

        Decision {
            replies,
            conversation: change,
            referral: fields,
            alerts,
            opt_out,
        }
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
        }
    }

    /// One text per on-call number; reference and team only — never the person's number or
    /// words.
    fn on_call_alerts(&self, team_id: &str, reference: &str) -> Vec<NewMessage> {
        let team = self
            .teams
            .get(team_id)
            .unwrap_or_else(|| self.teams.default_team());
        let vars = Vars {
            reference: reference.to_owned(),
            team: team.name.clone(),
            ..Vars::default()
        };
        let body = self.wording.render("on_call_alert", &vars);
        team.on_call
            .iter()
            .map(|to| NewMessage {
                purpose: ON_CALL_ALERT.to_owned(),
                to: to.clone(),
                body: body.clone(),
            })
            .collect()
    }
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
