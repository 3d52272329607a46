//! Messages to patients: which channel, what words, and what happens when a channel fails.
//!
//! For each message the first usable channel in the patient's ranked list for its purpose is
//! chosen; channels passed over are recorded with the reason, for staff to see. A text that
//! fails for good (e.g. the person texted STOP to the provider) falls back to the next
//! channel.
//!
//! A change to an appointment less than 48 hours away cannot wait for the post: its notice
//! goes by text or call even to a patient who asked for letters (`fast`), the letter recorded
//! as passed over (`too_slow`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use crate::channels::letter::{self, Letter, LetterError};
use crate::clock::Clock;
use crate::domain::channel::Channel;
use crate::domain::id::{AppointmentId, MessageId};
use crate::domain::patient::{MessagePurpose, Purpose, wants_easy_read, wants_large_print};
use crate::domain::schedule::{self, QuietHours, describe_date, describe_when, plan_reminder};
use crate::domain::teams::Teams;
use crate::language::english_name;
use crate::store::{
    Appointment, AppointmentPlace, Message, Patient, PreparedMessage, ReminderPlan, Route, Skipped,
    Store, StoreError,
};
use crate::templates::{TemplateError, Templates};

/// The team's number on the service page, given in every message.
pub const TEAM_PHONE: &str = "0800 129 9999";

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The template or its variables are wrong (the caller's mistake: 422).
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the letter could not be rendered: {0}")]
    Letter(#[from] LetterError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to send and why.
#[derive(Debug, Clone)]
pub struct MessageRequest {
    pub purpose: Purpose,
    pub template: String,
    /// The template's own variables (the patient's name and the team's number are added).
    pub vars: Map<String, Value>,
    pub appointment_id: Option<AppointmentId>,
    pub reminder_key: Option<String>,
    /// It cannot wait for the post (see [`too_soon_for_a_letter`]): a text or a call only.
    pub fast: bool,
}

/// Why a letter was passed over for a message that cannot wait for the post.
pub const TOO_SLOW: &str = "too_slow";

/// How close an appointment may be before a letter about it would come too late.
pub const LETTER_NOTICE: TimeDelta = TimeDelta::hours(48);

/// Whether a notice about an appointment starting at any of `starts` (its old start and its
/// new one, for a move) must go faster than a letter: one of them is less than 48 hours away.
pub fn too_soon_for_a_letter(now: DateTime<Utc>, starts: &[DateTime<Utc>]) -> bool {
    starts.iter().any(|start| *start - now < LETTER_NOTICE)
}

/// The channels to try, in order: the patient's own list, and for a message that cannot wait,
/// then a text and a call if they are not listed (a letter in the list is passed over as it
/// comes).
pub fn channels_to_try(listed: Vec<Channel>, fast: bool) -> Vec<Channel> {
    let mut order = listed;
    if fast {
        for channel in [Channel::Sms, Channel::PhoneCall] {
            if !order.contains(&channel) {
                order.push(channel);
            }
        }
    }
    order
}

/// The template of the feedback request sent after a patient's discharge.
pub const FEEDBACK_REQUEST: &str = "feedback_request";

/// The channels a message tries, in order: the patient's own list for its purpose. The
/// feedback request (purpose `update`) takes their list for updates without phone calls (a
/// call asking for a rating is staff's time, and its answer could not be recorded), then a
/// letter if it is not listed: a text when they have a usable mobile, else a letter.
pub fn listed_channels(patient: &Patient, request: &MessageRequest) -> Vec<Channel> {
    let mut listed = patient.contact_preferences.channels(request.purpose);
    if request.template == FEEDBACK_REQUEST {
        listed.retain(|channel| *channel != Channel::PhoneCall);
        if !listed.contains(&Channel::Letter) {
            listed.push(Channel::Letter);
        }
    }
    listed
}

/// `Interpreter: Polish` for a patient who needs one: the language named in English, or as
/// staff wrote it when it is not one the gateway knows.
pub fn interpreter_line(patient: &Patient) -> Option<String> {
    if !patient.interpreter {
        return None;
    }
    Some(format!("Interpreter: {}", interpreter_language(patient)))
}

fn interpreter_language(patient: &Patient) -> String {
    match patient.language.as_deref().map(str::trim) {
        Some(language) if !language.is_empty() => {
            english_name(language).unwrap_or_else(|| language.to_owned())
        }
        _ => "language not recorded".to_owned(),
    }
}

#[derive(Debug)]
pub struct Outbound {
    pub store: Arc<dyn Store>,
    pub templates: Arc<Templates>,
    pub teams: Teams,
    pub clock: Arc<dyn Clock>,
    /// The service's quiet hours, for patients without their own.
    pub quiet_hours: QuietHours,
    pub reminder_offsets: Vec<Duration>,
    /// How long after a discharge the feedback request goes (`CRHT_FEEDBACK_AFTER`).
    pub feedback_after: Duration,
    /// The countries (ISO 3166 alpha-2) a non-urgent text may go to (`CRHT_SMS_COUNTRIES`).
    pub sms_countries: Vec<String>,
    /// Letters go through GOV.UK Notify (`CRHT_NOTIFY_LETTERS`) when it would take them,
    /// else onto the print list.
    pub notify_letters: bool,
}

/// Why a non-urgent text to a number outside `CRHT_SMS_COUNTRIES` was not sent.
pub const COUNTRY_NOT_ALLOWED: &str = "country_not_allowed";

/// Why a channel cannot be used for this patient now; `None` when it can.
pub fn unusable(patient: &Patient, channel: Channel) -> Option<String> {
    match channel {
        Channel::Sms => match &patient.mobile {
            None => Some("no_mobile".into()),
            Some(_) if patient.sms_opted_out => Some("sms_opted_out".into()),
            Some(_) if patient.mobile_failed.is_some() => Some(format!(
                "mobile_failed_{}",
                patient.mobile_failed.as_deref().unwrap_or_default()
            )),
            Some(mobile) if !mobile.is_mobile() => Some("not_a_mobile".into()),
            Some(_) => None,
        },
        Channel::PhoneCall => (patient.mobile.is_none() && patient.landline.is_none())
            .then(|| "no_phone_number".into()),
        Channel::Letter => patient.address.is_empty().then(|| "no_address".into()),
    }
}

impl Outbound {
    /// Chooses the channel and renders the words for it. Channels already tried (in
    /// `skipped`) are not tried again.
    pub fn prepare(
        &self,
        patient: &Patient,
        request: &MessageRequest,
        id: MessageId,
        mut skipped: Vec<Skipped>,
    ) -> Result<PreparedMessage, OutboundError> {
        let vars = self.vars_for(patient, &request.vars);
        let mut language = None;
        let mut fell_back = false;
        let mut route = None;
        let listed = listed_channels(patient, request);
        for channel in channels_to_try(listed, request.fast) {
            if skipped.iter().any(|s| s.channel == channel) {
                continue;
            }
            if request.fast && channel == Channel::Letter {
                skipped.push(Skipped {
                    channel,
                    reason: TOO_SLOW.to_owned(),
                });
                continue;
            }
            if let Some(reason) = unusable(patient, channel) {
                skipped.push(Skipped { channel, reason });
                continue;
            }
            if channel == Channel::Sms && !self.may_text_there(patient, request.purpose) {
                skipped.push(Skipped {
                    channel,
                    reason: COUNTRY_NOT_ALLOWED.to_owned(),
                });
                continue;
            }
            let rendered = self.templates.render(
                &request.template,
                channel,
                patient.language.as_deref(),
                wants_easy_read(&patient.access_needs),
                &vars,
            )?;
            language = Some(rendered.language.clone());
            fell_back = rendered.fell_back_to_english;
            route = Some(self.route(patient, channel, rendered.text)?);
            break;
        }
        let route = route.unwrap_or_else(|| Route::Nowhere {
            summary: format!(
                "No way to send this {} message to {}: {}",
                request.purpose.as_str().replace('_', "-"),
                patient.name,
                if skipped.is_empty() {
                    "no channels are listed".to_owned()
                } else {
                    skipped
                        .iter()
                        .map(|s| format!("{} ({})", s.channel.as_str(), s.reason))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        });
        let mut prepared = self.unsendable(patient, request, id, skipped);
        prepared.language = language;
        prepared.interpreter_may_be_needed |= fell_back;
        prepared.route = route;
        Ok(prepared)
    }

    /// The request as a message with no route yet (`Nowhere`, summary empty): `prepare`
    /// fills in the channel it chose.
    fn unsendable(
        &self,
        patient: &Patient,
        request: &MessageRequest,
        id: MessageId,
        skipped: Vec<Skipped>,
    ) -> PreparedMessage {
        PreparedMessage {
            id,
            purpose: request.purpose.into(),
            patient_id: Some(patient.id.clone()),
            referral_id: None,
            appointment_id: request.appointment_id.clone(),
            reminder_key: request.reminder_key.clone(),
            template: Some(request.template.clone()),
            vars: Some(Value::Object(request.vars.clone())),
            language: None,
            interpreter_may_be_needed: patient.interpreter,
            skipped,
            route: Route::Nowhere {
                summary: String::new(),
            },
        }
    }

    /// The message's current channel failed for good (`reason`): the channel to try next,
    /// prepared, and the failed one as it is recorded. `None` if the message is not a
    /// patient's. A next channel that cannot be prepared (its template or letter fails)
    /// leaves the message with nowhere to go, which tells the team: never an error that
    /// would undo the failure's record.
    pub fn next_channel(
        &self,
        message: &Message,
        patient: &Patient,
        reason: &str,
    ) -> Option<(Skipped, PreparedMessage)> {
        let template = message.template.as_ref()?;
        let channel = message.channel?;
        let purpose = message.purpose.for_patient()?;
        let failed = Skipped {
            channel,
            reason: reason.to_owned(),
        };
        let request = MessageRequest {
            purpose,
            template: template.clone(),
            vars: match &message.vars {
                Some(Value::Object(vars)) => vars.clone(),
                _ => Map::new(),
            },
            appointment_id: message.appointment_id.clone(),
            reminder_key: None,
            // A notice that could not wait for the post still cannot.
            fast: message.skipped.iter().any(|s| s.reason == TOO_SLOW),
        };
        let mut skipped = message.skipped.clone();
        skipped.push(failed.clone());
        let next = match self.prepare(patient, &request, message.id.clone(), skipped.clone()) {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(message_id = %message.id, %error, "the next channel could not be prepared");
                let mut nowhere = self.unsendable(patient, &request, message.id.clone(), skipped);
                nowhere.route = Route::Nowhere {
                    summary: format!(
                        "The next channel for this {} message to {} could not be prepared ({error}).",
                        purpose.as_str().replace('_', "-"),
                        patient.name
                    ),
                };
                nowhere
            }
        };
        tracing::info!(
            message_id = %message.id,
            from = channel.as_str(),
            to = next.route.channel().map_or("none", Channel::as_str),
            reason,
            "falling back to the next channel"
        );
        Some((failed, next))
    }

    /// Whether a text for `purpose` may go to the patient's mobile: urgent ones anywhere,
    /// non-urgent ones only to the allowed countries.
    fn may_text_there(&self, patient: &Patient, purpose: Purpose) -> bool {
        if !MessagePurpose::from(purpose).is_non_urgent() {
            return true;
        }
        patient
            .mobile
            .as_ref()
            .is_some_and(|mobile| mobile.is_in_any_of(&self.sms_countries))
    }

    /// The reminders of an appointment starting at `starts_at`, as seen now.
    pub fn plan_reminders(&self, starts_at: DateTime<Utc>, quiet: QuietHours) -> Vec<ReminderPlan> {
        let now = self.clock.now();
        self.reminder_offsets
            .iter()
            .filter_map(|offset| {
                let offset = TimeDelta::from_std(*offset).ok()?;
                let due_at = starts_at - offset;
                Some(ReminderPlan {
                    offset_seconds: offset.num_seconds(),
                    due_at,
                    plan: plan_reminder(due_at, starts_at, now, quiet),
                })
            })
            .collect()
    }

    /// The patient's quiet hours, else the service's.
    pub fn quiet_hours_for(&self, patient: &Patient) -> QuietHours {
        patient.quiet_hours.unwrap_or(self.quiet_hours)
    }

    fn team_name(&self, patient: &Patient) -> String {
        patient
            .team
            .as_deref()
            .and_then(|id| self.teams.get(id))
            .unwrap_or_else(|| self.teams.default_team())
            .name
            .clone()
    }

    /// The template's variables: staff's own, then the built-in ones, which win. A message
    /// must never give a patient another number to call, or another person's name.
    fn vars_for(&self, patient: &Patient, own: &Map<String, Value>) -> Value {
        let mut vars = own.clone();
        vars.insert("preferred_name".into(), json!(patient.preferred_name()));
        vars.insert("team_phone".into(), json!(TEAM_PHONE));
        vars.insert("team_name".into(), json!(self.team_name(patient)));
        Value::Object(vars)
    }

    fn route(
        &self,
        patient: &Patient,
        channel: Channel,
        body: String,
    ) -> Result<Route, OutboundError> {
        Ok(match channel {
            Channel::Sms => Route::Sms {
                // `unusable` checked the mobile is there.
                to: patient
                    .mobile
                    .clone()
                    .ok_or_else(|| StoreError::Corrupt("sms chosen without a mobile".into()))?,
                body,
            },
            Channel::PhoneCall => {
                let numbers: Vec<&str> = [&patient.mobile, &patient.landline]
                    .into_iter()
                    .flatten()
                    .map(|p| p.e164())
                    .collect();
                let interpreter = interpreter_line(patient)
                    .map(|line| format!("{line}\n"))
                    .unwrap_or_default();
                Route::PhoneCall {
                    task_text: format!(
                        "Call {} on {}.\n{interpreter}\n{}",
                        patient.preferred_name(),
                        numbers.join(" or "),
                        body
                    ),
                    body,
                }
            }
            Channel::Letter => {
                let letter = Letter {
                    recipient: patient.name.clone(),
                    address_lines: patient.address.lines.clone(),
                    postcode: patient
                        .address
                        .postcode
                        .as_ref()
                        .map(|p| p.as_str().to_owned()),
                    date: describe_date(self.clock.now()),
                    team_name: self.team_name(patient),
                    team_phone: TEAM_PHONE.to_owned(),
                    body: body.clone(),
                    large_print: wants_large_print(&patient.access_needs),
                    interpreter: patient.interpreter.then(|| interpreter_language(patient)),
                };
                let rendered = letter::render(&letter)?;
                let mut address = letter.address_lines.clone();
                address.extend(letter.postcode.clone());
                let refusal = if self.notify_letters {
                    rendered.notify_refusal()
                } else {
                    None
                };
                let task_text = format!(
                    "Print{} and post to {}, {}.{}",
                    if letter.large_print {
                        " in large print"
                    } else {
                        ""
                    },
                    patient.name,
                    address.join(", "),
                    interpreter_line(patient)
                        .map(|line| format!("\n{line}"))
                        .unwrap_or_default()
                );
                match refusal {
                    None if self.notify_letters => Route::NotifyLetter {
                        body,
                        task_text,
                        pdf: rendered.pdf,
                    },
                    None => Route::Letter {
                        body,
                        task_text,
                        pdf: rendered.pdf,
                    },
                    Some(reason) => Route::Letter {
                        body,
                        task_text: format!(
                            "Not posted by GOV.UK Notify ({reason}): print it instead.\n{task_text}"
                        ),
                        pdf: rendered.pdf,
                    },
                }
            }
        })
    }
}

/// A reminder's or notice's variables for one appointment.
pub fn appointment_vars(
    appointment: &Appointment,
    first_of_assessment: bool,
) -> Map<String, Value> {
    let place = match (appointment.place, &appointment.site_name) {
        (AppointmentPlace::Site, Some(site)) if !site.trim().is_empty() => format!("at {site}"),
        (AppointmentPlace::Site, _) => "at our site".to_owned(),
        (AppointmentPlace::Home, _) => "at your home".to_owned(),
    };
    let mut vars = Map::new();
    vars.insert("when".into(), json!(describe_when(appointment.starts_at)));
    vars.insert("place".into(), json!(place));
    vars.insert(
        "kind".into(),
        json!(appointment.kind.as_str().replace('_', " ")),
    );
    vars.insert("first_of_assessment".into(), json!(first_of_assessment));
    if let Some(staff) = &appointment.staff_name {
        vars.insert("staff_name".into(), json!(staff));
    }
    vars
}

/// Re-exported for callers that only need the service-wide check.
pub use schedule::SkipReason;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::phone::PhoneNumber;
    use crate::store::Address;

    fn patient() -> Patient {
        Patient {
            id: "p1".into(),
            name: "Sam Taylor".into(),
            preferred_name: Some("Sam".into()),
            pronouns: None,
            nhs_number: None,
            date_of_birth: None,
            mobile: PhoneNumber::parse("07911 123456").ok(),
            landline: PhoneNumber::parse("0113 496 0000").ok(),
            address: Address {
                lines: vec!["12 Park Row".into(), "Leeds".into()],
                postcode: crate::domain::postcode::Postcode::parse("LS1 4DY").ok(),
            },
            language: None,
            interpreter: false,
            access_needs: vec![],
            support_person: None,
            service_animal: None,
            quiet_hours: None,
            team: None,
            contact_preferences: Default::default(),
            sms_opted_out: false,
            mobile_failed: None,
            urgent: false,
            risk_signals: vec![],
            notes: None,
            referral_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_change_less_than_48_hours_ahead_cannot_wait_for_a_letter() {
        let now = Utc::now();
        let hours = |h| now + TimeDelta::hours(h);
        assert!(too_soon_for_a_letter(now, &[hours(47)]));
        assert!(!too_soon_for_a_letter(now, &[hours(48)]));
        assert!(!too_soon_for_a_letter(now, &[hours(72)]));
        // Moved from next week to tomorrow, or from tomorrow to next week: both too soon.
        assert!(too_soon_for_a_letter(now, &[hours(170), hours(20)]));
        assert!(too_soon_for_a_letter(now, &[hours(20), hours(170)]));
    }

    #[test]
    fn a_message_that_cannot_wait_adds_text_then_call_after_the_patients_own_list() {
        use Channel::{Letter, PhoneCall, Sms};
        assert_eq!(channels_to_try(vec![Letter], false), vec![Letter]);
        assert_eq!(
            channels_to_try(vec![Letter], true),
            vec![Letter, Sms, PhoneCall]
        );
        assert_eq!(
            channels_to_try(vec![PhoneCall, Letter], true),
            vec![PhoneCall, Letter, Sms]
        );
    }

    #[test]
    fn the_interpreter_line_names_the_language_in_english() {
        let mut p = patient();
        assert_eq!(interpreter_line(&p), None);
        p.interpreter = true;
        p.language = Some("polski".into());
        assert_eq!(interpreter_line(&p).as_deref(), Some("Interpreter: Polish"));
        p.language = Some("Chinese (Mandarin)".into());
        assert_eq!(
            interpreter_line(&p).as_deref(),
            Some("Interpreter: Chinese (Mandarin)")
        );
        p.language = None;
        assert_eq!(
            interpreter_line(&p).as_deref(),
            Some("Interpreter: language not recorded")
        );
    }

    #[test]
    fn each_channel_knows_why_it_cannot_be_used() {
        let mut p = patient();
        assert_eq!(unusable(&p, Channel::Sms), None);
        assert_eq!(unusable(&p, Channel::PhoneCall), None);
        assert_eq!(unusable(&p, Channel::Letter), None);
        p.sms_opted_out = true;
        assert_eq!(unusable(&p, Channel::Sms).as_deref(), Some("sms_opted_out"));
        p.sms_opted_out = false;
        p.mobile_failed = Some("21211".into());
        assert_eq!(
            unusable(&p, Channel::Sms).as_deref(),
            Some("mobile_failed_21211")
        );
        p.mobile = None;
        assert_eq!(unusable(&p, Channel::Sms).as_deref(), Some("no_mobile"));
        assert_eq!(
            unusable(&p, Channel::PhoneCall),
            None,
            "the landline still works"
        );
        p.landline = None;
        assert_eq!(
            unusable(&p, Channel::PhoneCall).as_deref(),
            Some("no_phone_number")
        );
        p.address.lines.clear();
        assert_eq!(unusable(&p, Channel::Letter).as_deref(), Some("no_address"));
        let mut landline_only = patient();
        landline_only.mobile = PhoneNumber::parse("0113 496 0001").ok();
        assert_eq!(
            unusable(&landline_only, Channel::Sms).as_deref(),
            Some("not_a_mobile")
        );
    }
}
