//! A referral staff entered (taken on the 0800 line, passed on by 111, or sent by another
//! system): the same routing, risk screening and on-call alerts as a texted referral, decided
//! from its answers at once rather than one text at a time.

use chrono::{DateTime, Utc};

use super::Intake;
use crate::conversation::UrgentReason;
use crate::conversation::answers::{Answers, Optional, Place, YesNoUnsure};
use crate::domain::referral::{ReferralRoute, ReferralStatus};
use crate::language::language_code;
use crate::store::{NewMessage, ReferralFields};

/// What the intake makes of an entered referral: its fields and the on-call alerts to send.
#[derive(Debug, Clone)]
pub struct EnteredDecision {
    pub fields: ReferralFields,
    pub alerts: Vec<NewMessage>,
}

impl Intake {
    /// The team a place routes to, as for a texted referral.
    pub(super) fn team_for(&self, place: &Place) -> String {
        match place {
            Place::Postcode(p) => self.teams.route_postcode(p),
            Place::Town(t) => self.teams.route_town(t),
        }
        .id
        .clone()
    }

    /// Decides an entered referral: routed by its postcode or town, its free text screened
    /// for risk first (safety rule 2), an unsafe answer to "safe now?" urgent (rule 3), and
    /// on-call alerted when it is urgent. It goes into the queue as submitted.
    pub fn entered_referral(
        &self,
        answers: &Answers,
        route: ReferralRoute,
        reference: &str,
        now: DateTime<Utc>,
    ) -> EnteredDecision {
        // Every free-text answer, as each text of a conversation is screened.
        let given = |o: &Option<Optional<String>>| -> Option<String> {
            o.as_ref().and_then(Optional::given).cloned()
        };
        let town = match &answers.postcode {
            Some(Place::Town(t)) => Some(t.clone()),
            _ => None,
        };
        let free_texts = [
            answers.situation.clone(),
            given(&answers.anything_else),
            answers.ward.clone(),
            answers.name.clone(),
            given(&answers.referrer_name),
            given(&answers.referrer_org),
            town,
        ];
        let mut signals: Vec<String> = Vec::new();
        for text in free_texts.into_iter().flatten() {
            for signal in self.risk.screen(&text) {
                if !signals.contains(&signal) {
                    signals.push(signal);
                }
            }
        }
        let unsafe_now = match answers.safety {
            Some(YesNoUnsure::No) => Some(UrgentReason::NotSafeNow),
            Some(YesNoUnsure::NotSure) => Some(UrgentReason::UnsureIfSafeNow),
            _ => None,
        };
        if let Some(reason) = unsafe_now {
            signals.push(reason.signal().to_owned());
        }
        signals.sort();
        let team = answers.postcode.as_ref().map_or_else(
            || self.teams.default_team().id.clone(),
            |p| self.team_for(p),
        );
        let language = match &answers.language {
            Some(Optional::Given(name)) => language_code(name)
                .filter(|code| *code != "en")
                .map(str::to_owned),
            _ => None,
        };
        let urgent = !signals.is_empty();
        let alerts = if urgent {
            self.on_call_alerts(&team, reference)
        } else {
            Vec::new()
        };
        EnteredDecision {
            fields: ReferralFields {
                status: ReferralStatus::Submitted,
                urgent,
                risk_signals: signals,
                urgent_at: urgent.then_some(now),
                team,
                answers: answers.to_json(),
                incomplete: false,
                submitted_at: Some(now),
                interpreter: language.is_some(),
                language,
                route,
            },
            alerts,
        }
    }
}
