//! The referral conversation: short questions, one at a time, as a pure state machine.
//!
//! `Conversation::begin` takes the first text of a new conversation and `step` every text
//! after it; each returns what to reply and what else must happen (`Effect`s such as marking
//! the referral urgent). Nothing here knows about HTTP, SQL or the clock: the caller passes
//! today's date and carries out the effects. Risk screening happens before this, in
//! `crate::intake`.
//!
//! Longer than most files on purpose (about 770 lines of code): every step of the conversation
//! and what its answer does are one idea, read in the order a person meets them; split by
//! step, the order a texter goes through would be lost across files.

pub mod answers;
pub mod parse;
pub mod wording;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use answers::{Age, Answers, Optional, Place, ReferrerRole, Relationship, YesNoUnsure};
use parse::{Command, Keyword};
use wording::{DisplayAnswers, Vars, Wording};

use crate::domain::channel::{AccessNeed, Channel};
use crate::domain::phone::PhoneNumber;
use crate::domain::postcode::Postcode;
use crate::domain::referral::ReferralRoute;

/// A question of the conversation. The ids (`Step::id`) are part of the external contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Relationship,
    ReferrerRole,
    ReferrerName,
    ReferrerOrg,
    ReferrerPhone,
    Ward,
    ExpectedDischarge,
    Consent,
    SubjectPhone,
    Name,
    Age,
    Postcode,
    Safety,
    Situation,
    ContactMethod,
    Language,
    AccessNeeds,
    AnythingElse,
    Confirm,
}

impl Step {
    /// In the order they are asked.
    pub const ALL: [Step; 19] = [
        Step::Relationship,
        Step::ReferrerRole,
        Step::ReferrerName,
        Step::ReferrerOrg,
        Step::ReferrerPhone,
        Step::Ward,
        Step::ExpectedDischarge,
        Step::Consent,
        Step::SubjectPhone,
        Step::Name,
        Step::Age,
        Step::Postcode,
        Step::Safety,
        Step::Situation,
        Step::ContactMethod,
        Step::Language,
        Step::AccessNeeds,
        Step::AnythingElse,
        Step::Confirm,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Step::Relationship => "relationship",
            Step::ReferrerRole => "referrer_role",
            Step::ReferrerName => "referrer_name",
            Step::ReferrerOrg => "referrer_org",
            Step::ReferrerPhone => "referrer_phone",
            Step::Ward => "ward",
            Step::ExpectedDischarge => "expected_discharge",
            Step::Consent => "consent",
            Step::SubjectPhone => "subject_phone",
            Step::Name => "name",
            Step::Age => "age",
            Step::Postcode => "postcode",
            Step::Safety => "safety",
            Step::Situation => "situation",
            Step::ContactMethod => "contact_method",
            Step::Language => "language",
            Step::AccessNeeds => "access_needs",
            Step::AnythingElse => "anything_else",
            Step::Confirm => "confirm",
        }
    }

    pub fn from_id(id: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Questions a person may `SKIP`.
    pub fn is_optional(self) -> bool {
        matches!(
            self,
            Step::ReferrerName
                | Step::ReferrerOrg
                | Step::ReferrerPhone
                | Step::SubjectPhone
                | Step::Language
                | Step::AccessNeeds
                | Step::AnythingElse
        )
    }

    /// Whether the step is asked, given the answers so far (some are for someone else only).
    fn applies(self, answers: &Answers) -> bool {
        match self {
            Step::ReferrerRole | Step::ReferrerName | Step::Consent | Step::SubjectPhone => {
                answers.relationship == Some(Relationship::SomeoneElse)
            }
            // A professional is asked where they work and how to call them back.
            Step::ReferrerOrg | Step::ReferrerPhone => answers.by_professional(),
            Step::Ward | Step::ExpectedDischarge => answers.discharge_support(),
            _ => true,
        }
    }

    fn next(self, answers: &Answers) -> Step {
        Step::ALL
            .into_iter()
            .skip_while(|s| *s != self)
            .skip(1)
            .find(|s| s.applies(answers))
            .unwrap_or(Step::Confirm)
    }

    fn ask_key(self) -> &'static str {
        match self {
            Step::Relationship => "ask_relationship",
            Step::ReferrerRole => "ask_referrer_role",
            Step::ReferrerName => "ask_referrer_name",
            Step::ReferrerOrg => "ask_referrer_org",
            Step::ReferrerPhone => "ask_referrer_phone",
            Step::Ward => "ask_ward",
            Step::ExpectedDischarge => "ask_expected_discharge",
            Step::Consent => "ask_consent",
            Step::SubjectPhone => "ask_subject_phone",
            Step::Name => "ask_name",
            Step::Age => "ask_age",
            Step::Postcode => "ask_postcode",
            Step::Safety => "ask_safety",
            Step::Situation => "ask_situation",
            Step::ContactMethod => "ask_contact_method",
            Step::Language => "ask_language",
            Step::AccessNeeds => "ask_access_needs",
            Step::AnythingElse => "ask_anything_else",
            Step::Confirm => "ask_confirm",
        }
    }
}

/// The conversation's state as staff see it (`GET /conversations/{phone}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Completed,
    Abandoned,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Completed => "completed",
            Status::Abandoned => "abandoned",
            Status::Stopped => "stopped",
        }
    }
}

/// How a completed conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Sent to the team with `YES` at the summary.
    Submitted,
    /// Under 18: given the children and young people's route; recorded for staff.
    Signposted,
    /// Two answers in another language could not be read: the team will call back with an
    /// interpreter, and the referral goes to them as it stands.
    InterpreterNeeded,
}

/// Why an answer made the referral urgent (safety rule 3); the names join the risk signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrgentReason {
    NotSafeNow,
    UnsureIfSafeNow,
}

impl UrgentReason {
    pub fn signal(self) -> &'static str {
        match self {
            UrgentReason::NotSafeNow => "not_safe_now",
            UrgentReason::UnsureIfSafeNow => "unsure_if_safe_now",
        }
    }
}

/// What must happen beyond the reply; the caller carries these out in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Submitted,
    Signposted,
    Urgent(UrgentReason),
    OptedOut,
    OptedIn,
    /// `RESTART` after completion: this state belongs to a new referral.
    NewReferral,
    /// Handed over to staff to call back with an interpreter: submit the referral as it
    /// stands, incomplete.
    InterpreterNeeded,
}

/// What a conversation needs from the outside world for one turn.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Today in the team's time zone (ages from dates of birth).
    pub today: NaiveDate,
    pub reference: &'a str,
    pub wording: &'a Wording,
    /// Risk screening found signals in this text. The caller has put the 999 reply first, so
    /// a text that is not an answer is asked again gently, never with "Sorry".
    pub at_risk: bool,
    /// The language this text was recognised as ("pl", "ur-Latn" …); `None` for English or
    /// not known.
    pub foreign_language: Option<&'a str>,
    /// When the team aims to be in touch ("within 4 hours"), for the closing text;
    /// `None`: "as soon as they can".
    pub response_target: Option<&'a str>,
}

/// One turn's output: the parts of the reply (sent as one text) and the effects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turn {
    pub replies: Vec<String>,
    pub effects: Vec<Effect>,
}

/// An answer replaced by a later one (after `BACK`, `RESTART` or a change of path), kept so
/// nothing a person said is ever dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Superseded {
    pub step: Step,
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub step: Step,
    pub status: Status,
    #[serde(default)]
    pub answers: Answers,
    #[serde(default)]
    pub superseded: Vec<Superseded>,
    /// Steps answered, most recent last: where `BACK` goes.
    #[serde(default)]
    pub history: Vec<Step>,
    #[serde(default)]
    pub opted_out: bool,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Answers in a row that could not be read: the second, from a person writing in another
    /// language, hands over to an interpreter rather than asking again.
    #[serde(default)]
    pub unreadable_in_a_row: u32,
    /// The person has texted in another language (recognised, or in another script).
    #[serde(default)]
    pub wrote_in_another_language: bool,
}

impl Default for Conversation {
    fn default() -> Self {
        Self::new()
    }
}

impl Conversation {
    pub fn new() -> Self {
        Self {
            step: Step::Relationship,
            status: Status::Active,
            answers: Answers::default(),
            superseded: Vec::new(),
            history: Vec::new(),
            opted_out: false,
            outcome: None,
            unreadable_in_a_row: 0,
            wrote_in_another_language: false,
        }
    }

    /// The first text of a new conversation. Its reply always carries 999 (safety rule 1).
    pub fn begin(first_text: &str, ctx: &Context<'_>) -> (Self, Turn) {
        let mut conversation = Self::new();
        let mut turn = Turn::default();
        conversation.note_language(first_text, ctx);
        match parse::command(first_text) {
            Some(Command::Stop) => conversation.opt_out(ctx, &mut turn),
            Some(Command::Help) => {
                conversation.say(&mut turn, ctx, "help");
                conversation.ask(&mut turn, ctx);
            }
            Some(Command::Keyword(keyword)) => {
                conversation.answer_keyword(keyword, ctx, &mut turn);
                conversation.ask(&mut turn, ctx);
            }
            Some(Command::Plan) => {
                // Not a patient's own number: the same words whether or not a plan exists.
                conversation.say(&mut turn, ctx, "plan_not_here");
                conversation.ask(&mut turn, ctx);
            }
            _ => {
                conversation.say(&mut turn, ctx, "welcome");
                conversation.ask(&mut turn, ctx);
            }
        }
        (conversation, turn)
    }

    /// Every text after the first.
    pub fn step(&mut self, text: &str, ctx: &Context<'_>) -> Turn {
        let mut turn = Turn::default();
        let command = parse::command(text);
        if self.status != Status::Completed {
            self.note_language(text, ctx);
        }
        if self.opted_out {
            match command {
                Some(Command::Start) => self.opt_in(ctx, &mut turn),
                Some(Command::Help) => self.say(&mut turn, ctx, "help"),
                // Asked for by name: answered, like HELP.
                Some(Command::Keyword(keyword)) => self.answer_keyword(keyword, ctx, &mut turn),
                // Opted out of texts: the text is kept for staff, and we stay quiet.
                _ => {}
            }
            return turn;
        }
        let resuming = self.status == Status::Abandoned;
        if matches!(self.status, Status::Abandoned | Status::Stopped) {
            // Resumes where it stopped.
            self.status = Status::Active;
        }
        if self.status == Status::Completed {
            self.after_completion(command, ctx, &mut turn);
            return turn;
        }
        if resuming && !matches!(command, Some(Command::Stop | Command::Restart)) {
            self.say(&mut turn, ctx, "welcome_back");
            if command.is_none() && parse::is_greeting(text) {
                self.ask(&mut turn, ctx);
                return turn;
            }
        }
        match command {
            Some(Command::Stop) => self.opt_out(ctx, &mut turn),
            Some(Command::Start) => self.ask(&mut turn, ctx),
            Some(Command::Help) => {
                self.say(&mut turn, ctx, "help");
                self.ask(&mut turn, ctx);
            }
            Some(Command::Keyword(keyword)) => {
                self.answer_keyword(keyword, ctx, &mut turn);
                self.ask(&mut turn, ctx);
            }
            Some(Command::Plan) => {
                self.say(&mut turn, ctx, "plan_not_here");
                self.ask(&mut turn, ctx);
            }
            Some(Command::Restart) => self.restart(ctx, &mut turn),
            Some(Command::Back) => self.back(ctx, &mut turn),
            Some(Command::Skip) if self.step.is_optional() => {
                let step = self.step;
                self.record(step, |a| skip(a, step));
                self.advance(ctx, &mut turn);
            }
            Some(Command::Skip) => {
                self.say(&mut turn, ctx, "cannot_skip");
                self.ask(&mut turn, ctx);
            }
            None => self.answer(text, ctx, resuming, &mut turn),
        }
        turn
    }

    fn after_completion(&mut self, command: Option<Command>, ctx: &Context<'_>, turn: &mut Turn) {
        match command {
            Some(Command::Restart) => {
                let wrote_in_another_language = self.wrote_in_another_language;
                *self = Self::new();
                self.wrote_in_another_language = wrote_in_another_language;
                turn.effects.push(Effect::NewReferral);
                self.say(turn, ctx, "welcome");
                self.ask(turn, ctx);
            }
            Some(Command::Stop) => self.opt_out(ctx, turn),
            Some(Command::Help) => self.say(turn, ctx, "help"),
            Some(Command::Keyword(keyword)) => self.answer_keyword(keyword, ctx, turn),
            Some(Command::Plan) => self.say(turn, ctx, "plan_not_here"),
            Some(Command::Back) if self.outcome == Some(Outcome::Signposted) => {
                // "If the age was wrong, text BACK": reopen at the age question.
                self.status = Status::Active;
                self.outcome = None;
                self.step = self.history.pop().unwrap_or(Step::Age);
                self.ask(turn, ctx);
            }
            _ if self.outcome == Some(Outcome::Signposted) => {
                self.say(turn, ctx, "already_signposted")
            }
            _ if self.outcome == Some(Outcome::InterpreterNeeded) => {
                self.say(turn, ctx, "already_handed_over")
            }
            _ => self.say(turn, ctx, "already_sent"),
        }
    }

    /// A keyword's answer, in easy read when the person asked for easy read among their
    /// access needs.
    fn answer_keyword(&self, keyword: Keyword, ctx: &Context<'_>, turn: &mut Turn) {
        let easy_read = matches!(
            &self.answers.access_needs,
            Some(Optional::Given(needs)) if needs.contains(&AccessNeed::EasyRead)
        );
        self.say(turn, ctx, keyword.wording_key(easy_read));
    }

    fn opt_out(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        self.opted_out = true;
        if self.status == Status::Active {
            self.status = Status::Stopped;
        }
        turn.effects.push(Effect::OptedOut);
        self.say(turn, ctx, "stopped");
    }

    fn opt_in(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        self.opted_out = false;
        turn.effects.push(Effect::OptedIn);
        self.say(turn, ctx, "started");
        if matches!(self.status, Status::Stopped | Status::Abandoned) {
            self.status = Status::Active;
        }
        if self.status == Status::Active {
            self.ask(turn, ctx);
        }
    }

    fn restart(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        for step in Step::ALL {
            if let Some(value) = self.answers.take(step) {
                self.superseded.push(Superseded { step, value });
            }
        }
        self.history.clear();
        self.unreadable_in_a_row = 0;
        self.step = Step::Relationship;
        self.say(turn, ctx, "welcome");
        self.ask(turn, ctx);
    }

    fn back(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        match self.history.pop() {
            Some(previous) => self.step = previous,
            None => self.say(turn, ctx, "first_question"),
        }
        self.ask(turn, ctx);
    }

    fn answer(&mut self, text: &str, ctx: &Context<'_>, resuming: bool, turn: &mut Turn) {
        let step = self.step;
        let distress = parse::is_distress(text);
        // Tears, a plea or words of risk are not a name, a town or a language.
        let not_a_name = distress || ctx.at_risk;
        let not_understood = NotRecorded::Unreadable("not_understood");
        let outcome: Result<(), NotRecorded> = match step {
            // Ward staff text DISCHARGE (at the first question or the second) to refer
            // someone leaving the ward for discharge support.
            Step::Relationship if parse::discharge_support(text) => {
                self.record(step, |a| a.relationship = Some(Relationship::SomeoneElse));
                self.choose_discharge_support();
                // Their role is known: straight on to the next question after it.
                self.unreadable_in_a_row = 0;
                self.history.push(step);
                self.step = Step::ReferrerRole.next(&self.answers);
                self.ask(turn, ctx);
                return;
            }
            Step::ReferrerRole
                if parse::discharge_support(text) || parse::normalise(text) == "6" =>
            {
                self.choose_discharge_support();
                Ok(())
            }
            Step::Relationship => parse::relationship(text)
                .map(|v| self.record(step, |a| a.relationship = Some(v)))
                .ok_or(not_understood),
            Step::ReferrerRole => parse::referrer_role(text)
                .map(|v| {
                    self.record(step, |a| {
                        a.referrer_role = Some(v);
                        a.route = None;
                    })
                })
                .ok_or(not_understood),
            Step::ReferrerName | Step::ReferrerOrg | Step::Ward | Step::Name if not_a_name => {
                Err(not_understood)
            }
            Step::ReferrerOrg => parse::free_text(text, 100)
                .map(|v| self.record(step, |a| a.referrer_org = Some(Optional::Given(v))))
                .ok_or(not_understood),
            Step::ReferrerPhone => match PhoneNumber::parse(text) {
                Ok(phone) => {
                    self.record(step, |a| a.referrer_phone = Some(Optional::Given(phone)));
                    Ok(())
                }
                Err(_) if parse::says_nothing_more(text) => {
                    self.record(step, |a| a.referrer_phone = Some(Optional::Skipped));
                    Ok(())
                }
                Err(_) => Err(NotRecorded::Unreadable("bad_phone")),
            },
            Step::Ward => parse::free_text(text, 100)
                .map(|v| self.record(step, |a| a.ward = Some(v)))
                .ok_or(not_understood),
            Step::ExpectedDischarge => parse::discharge_date(text, ctx.today)
                .map(|v| self.record(step, |a| a.expected_discharge = Some(v)))
                .ok_or(NotRecorded::Unreadable("bad_date")),
            Step::ReferrerName => parse::free_text(text, 100)
                .map(|v| self.record(step, |a| a.referrer_name = Some(Optional::Given(v))))
                .ok_or(not_understood),
            Step::Consent => parse::yes_no_unsure(text)
                .map(|v| self.record(step, |a| a.consent = Some(v)))
                .ok_or(not_understood),
            Step::SubjectPhone => match PhoneNumber::parse(text) {
                Ok(phone) => {
                    self.record(step, |a| a.subject_phone = Some(Optional::Given(phone)));
                    Ok(())
                }
                Err(_)
                    if parse::says_nothing_more(text)
                        || parse::yes_no_unsure(text) == Some(YesNoUnsure::NotSure) =>
                {
                    self.record(step, |a| a.subject_phone = Some(Optional::Skipped));
                    Ok(())
                }
                Err(_) => Err(NotRecorded::Unreadable("bad_phone")),
            },
            Step::Name => parse::free_text(text, 100)
                .map(|v| self.record(step, |a| a.name = Some(v)))
                .ok_or(not_understood),
            Step::Age => match parse::age(text, ctx.today) {
                Some(age) => {
                    self.record(step, |a| a.age = Some(age));
                    if !age.over_18 {
                        self.signpost(ctx, turn);
                        return;
                    }
                    Ok(())
                }
                None => Err(NotRecorded::Unreadable("bad_age")),
            },
            Step::Postcode => match parse::postcode_in(text) {
                Some(postcode) => {
                    self.record(step, |a| a.postcode = Some(Place::Postcode(postcode)));
                    Ok(())
                }
                None if Postcode::looks_like_attempt(text) => {
                    Err(NotRecorded::Unreadable("bad_postcode"))
                }
                None if not_a_name => Err(not_understood),
                None => match parse::free_text(text, 60) {
                    Some(town) if town.chars().any(char::is_alphabetic) => {
                        self.record(step, |a| a.postcode = Some(Place::Town(town)));
                        Ok(())
                    }
                    _ => Err(NotRecorded::Unreadable("bad_postcode")),
                },
            },
            Step::Safety => match parse::yes_no_unsure(text) {
                Some(answer) => {
                    self.record(step, |a| a.safety = Some(answer));
                    let reason = match answer {
                        YesNoUnsure::Yes => None,
                        YesNoUnsure::No => Some(UrgentReason::NotSafeNow),
                        YesNoUnsure::NotSure => Some(UrgentReason::UnsureIfSafeNow),
                    };
                    if let Some(reason) = reason {
                        turn.effects.push(Effect::Urgent(reason));
                        let key = if self.answers.about_self() {
                            "not_safe"
                        } else {
                            "not_safe_other"
                        };
                        self.say(turn, ctx, key);
                    }
                    Ok(())
                }
                None => Err(not_understood),
            },
            Step::Situation => parse::free_text(text, 1600)
                .map(|v| self.record(step, |a| a.situation = Some(v)))
                .ok_or(not_understood),
            Step::ContactMethod => parse::contact_method(text)
                .map(|v| self.record(step, |a| a.contact_method = Some(v)))
                .ok_or(not_understood),
            Step::Language => {
                if parse::no_language_needed(text) {
                    self.record(step, |a| a.language = Some(Optional::Skipped));
                    Ok(())
                } else if parse::yes_no(text) == Some(true) {
                    if self
                        .answers
                        .language
                        .as_ref()
                        .and_then(Optional::given)
                        .is_some()
                    {
                        // Yes, the language already recognised in their texts.
                        Ok(())
                    } else {
                        Err(NotRecorded::WhichLanguage)
                    }
                } else if not_a_name {
                    Err(not_understood)
                } else {
                    parse::language(text)
                        .map(|v| self.record(step, |a| a.language = Some(Optional::Given(v))))
                        .ok_or(not_understood)
                }
            }
            Step::AccessNeeds => parse::access_needs(text)
                .map(|v| self.record(step, |a| a.access_needs = Some(Optional::Given(v))))
                .ok_or(not_understood),
            Step::AnythingElse => {
                if parse::says_nothing_more(text) {
                    self.record(step, |a| a.anything_else = Some(Optional::Skipped));
                    Ok(())
                } else {
                    parse::free_text(text, 1600)
                        .map(|v| self.record(step, |a| a.anything_else = Some(Optional::Given(v))))
                        .ok_or(not_understood)
                }
            }
            Step::Confirm => {
                self.confirm(text, ctx, distress, turn);
                return;
            }
        };
        match outcome {
            Ok(()) => {
                self.unreadable_in_a_row = 0;
                if distress {
                    self.say(turn, ctx, "kind_words");
                }
                self.advance(ctx, turn);
            }
            Err(NotRecorded::WhichLanguage) => {
                self.unreadable_in_a_row = 0;
                self.say(turn, ctx, "which_language");
            }
            Err(NotRecorded::Unreadable(key)) => {
                self.not_read(key, distress, resuming, ctx, turn);
            }
        }
    }

    /// A text that does not answer the question. Never a loop of "Sorry": tears and pleas
    /// get a kind word, a risk text a gentle repeat, a person coming back a welcome, and a
    /// second unreadable answer in another language goes to the team to call back with an
    /// interpreter. `key` says what was wrong, for everyone else.
    fn not_read(
        &mut self,
        key: &'static str,
        distress: bool,
        resuming: bool,
        ctx: &Context<'_>,
        turn: &mut Turn,
    ) {
        if distress && !ctx.at_risk {
            self.say(turn, ctx, "kind_words");
            self.ask(turn, ctx);
            return;
        }
        self.unreadable_in_a_row = self.unreadable_in_a_row.saturating_add(1);
        if self.unreadable_in_a_row >= 2 && self.wrote_in_another_language {
            self.hand_over_to_interpreter(ctx, turn);
            return;
        }
        if ctx.at_risk {
            self.say(turn, ctx, "ask_again_gently");
        } else if resuming {
            // "Welcome back" and the question again: no telling off for a first text back.
        } else if self.unreadable_in_a_row >= 2 {
            // Not the same words again: say how to get unstuck.
            let key = if key == "not_understood" {
                "not_understood_again"
            } else {
                key
            };
            self.say(turn, ctx, key);
            self.say(turn, ctx, "stuck_hint");
        } else {
            self.say(turn, ctx, key);
        }
        self.ask(turn, ctx);
    }

    /// Stops asking what the person cannot read: the referral goes to the team as it stands.
    fn hand_over_to_interpreter(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        if self.answers.language.is_none() {
            self.record(Step::Language, |a| {
                a.language = Some(Optional::Given("Not known (interpreter needed)".to_owned()))
            });
        }
        self.history.push(self.step);
        self.status = Status::Completed;
        self.outcome = Some(Outcome::InterpreterNeeded);
        turn.effects.push(Effect::InterpreterNeeded);
        self.say(turn, ctx, "interpreter_handover");
    }

    /// Remembers that the person texts in another language, and puts the language on the
    /// referral at once so staff can book an interpreter before the questions are done.
    fn note_language(&mut self, text: &str, ctx: &Context<'_>) {
        let script = parse::other_script(text);
        let label = match (ctx.foreign_language, script) {
            (Some(code), _) => detected_language(code),
            (None, Some(script)) => format!("Not known (written in {script} script)"),
            (None, None) => return,
        };
        self.wrote_in_another_language = true;
        if self.answers.language.is_none() {
            self.record(Step::Language, |a| {
                a.language = Some(Optional::Given(label))
            });
        }
    }

    /// The answers as staff see them on the referral: the current answer to each step, and
    /// under `superseded` every earlier answer replaced by `BACK`, `RESTART` or a change of
    /// path, oldest first.
    pub fn referral_answers(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut answers = self.answers.to_json();
        if !self.superseded.is_empty() {
            let superseded = self
                .superseded
                .iter()
                .map(|s| serde_json::json!({"step": s.step.id(), "value": s.value}))
                .collect();
            answers.insert(
                "superseded".to_owned(),
                serde_json::Value::Array(superseded),
            );
        }
        answers
    }

    fn confirm(&mut self, text: &str, ctx: &Context<'_>, distress: bool, turn: &mut Turn) {
        let n = parse::normalise(text);
        if matches!(n.as_str(), "edit" | "change" | "go back") {
            self.back(ctx, turn);
        } else if parse::yes_no(text) == Some(true)
            || matches!(n.as_str(), "send" | "send it" | "submit")
        {
            self.submit(ctx, turn);
        } else if parse::yes_no_unsure(text).is_some() {
            self.say(turn, ctx, "confirm_no");
        } else if distress {
            self.say(turn, ctx, "kind_words");
            self.ask(turn, ctx);
        } else if let Some(extra) = parse::free_text(text, 1600) {
            // More to tell: keep it with "anything else" rather than lose it.
            let combined = match self
                .answers
                .anything_else
                .as_ref()
                .and_then(Optional::given)
            {
                Some(before) => format!("{before}\n{extra}"),
                None => extra,
            };
            self.record(Step::AnythingElse, |a| {
                a.anything_else = Some(Optional::Given(combined))
            });
            self.say(turn, ctx, "added");
            self.ask(turn, ctx);
        } else {
            self.ask(turn, ctx);
        }
    }

    fn submit(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        // Answers off the final path (e.g. referrer details after switching to "myself")
        // are kept, but not as part of what was sent.
        for step in Step::ALL {
            if !step.applies(&self.answers)
                && let Some(value) = self.answers.take(step)
            {
                self.superseded.push(Superseded { step, value });
            }
        }
        self.history.push(Step::Confirm);
        self.status = Status::Completed;
        self.outcome = Some(Outcome::Submitted);
        turn.effects.push(Effect::Submitted);
        self.say(turn, ctx, "submitted");
    }

    fn signpost(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        self.history.push(self.step);
        self.status = Status::Completed;
        self.outcome = Some(Outcome::Signposted);
        turn.effects.push(Effect::Signposted);
        self.say(turn, ctx, "signposted");
    }

    /// Ward staff referring someone for discharge support: a professional, on the
    /// `discharge_support` route (asked the ward and the expected discharge date).
    fn choose_discharge_support(&mut self) {
        self.record(Step::ReferrerRole, |a| {
            a.referrer_role = Some(ReferrerRole::Professional);
            a.route = Some(ReferralRoute::DischargeSupport);
        });
    }

    /// Sets one answer, keeping the one it replaces.
    fn record(&mut self, step: Step, set: impl FnOnce(&mut Answers)) {
        let before = self.answers.take(step);
        set(&mut self.answers);
        if let Some(before) = before
            && self.answers.get_json(step).as_ref() != Some(&before)
        {
            self.superseded.push(Superseded {
                step,
                value: before,
            });
        }
    }

    fn advance(&mut self, ctx: &Context<'_>, turn: &mut Turn) {
        self.history.push(self.step);
        self.step = self.step.next(&self.answers);
        self.ask(turn, ctx);
    }

    fn ask(&self, turn: &mut Turn, ctx: &Context<'_>) {
        self.say(turn, ctx, self.step.ask_key());
    }

    fn say(&self, turn: &mut Turn, ctx: &Context<'_>, key: &str) {
        turn.replies.push(ctx.wording.render(key, &self.vars(ctx)));
    }

    fn vars(&self, ctx: &Context<'_>) -> Vars {
        Vars {
            about_self: self.answers.about_self(),
            reference: ctx.reference.to_owned(),
            team: String::new(),
            response_target: ctx.response_target.unwrap_or_default().to_owned(),
            carer: !self.answers.about_self()
                && matches!(
                    self.answers.referrer_role,
                    Some(ReferrerRole::Family | ReferrerRole::Friend | ReferrerRole::Carer)
                ),
            a: display(&self.answers),
        }
    }
}

/// Why a text was not recorded as the answer to the current question.
enum NotRecorded {
    /// Not readable as an answer; the wording key says what was wrong.
    Unreadable(&'static str),
    /// "Yes" to "do you need another language?", without saying which.
    WhichLanguage,
}

/// The `language` answer for a language recognised in the person's texts, as staff would
/// name it, its first word the language (so the patient record and templates read it too).
fn detected_language(code: &str) -> String {
    let name = match code {
        "pl" => "Polish",
        "ro" => "Romanian",
        "pt" => "Portuguese",
        "ar" => "Arabic",
        "ur" => "Urdu",
        "ur-Latn" => return "Urdu (Roman Urdu, detected)".to_owned(),
        "pa" => "Punjabi",
        "bn" => "Bengali",
        other => other,
    };
    format!("{name} (detected)")
}

fn skip(answers: &mut Answers, step: Step) {
    match step {
        Step::ReferrerName => answers.referrer_name = Some(Optional::Skipped),
        Step::ReferrerOrg => answers.referrer_org = Some(Optional::Skipped),
        Step::ReferrerPhone => answers.referrer_phone = Some(Optional::Skipped),
        Step::SubjectPhone => answers.subject_phone = Some(Optional::Skipped),
        Step::Language => answers.language = Some(Optional::Skipped),
        Step::AccessNeeds => answers.access_needs = Some(Optional::Skipped),
        Step::AnythingElse => answers.anything_else = Some(Optional::Skipped),
        _ => {}
    }
}

fn yes_no_unsure_words(v: YesNoUnsure) -> &'static str {
    match v {
        YesNoUnsure::Yes => "yes",
        YesNoUnsure::No => "no",
        YesNoUnsure::NotSure => "not sure",
    }
}

/// Short display strings for the summary the person checks before sending.
fn display(a: &Answers) -> DisplayAnswers {
    let optional = |o: &Option<Optional<String>>| match o {
        Some(Optional::Given(v)) => v.clone(),
        Some(Optional::Skipped) => "none".to_owned(),
        None => String::new(),
    };
    DisplayAnswers {
        role: a
            .referrer_role
            .map(|r| match r {
                ReferrerRole::Family => "family",
                ReferrerRole::Friend => "friend",
                ReferrerRole::Carer => "carer",
                ReferrerRole::Professional => "professional",
                ReferrerRole::Other => "other",
            })
            .unwrap_or_default()
            .to_owned(),
        referrer_name: match &a.referrer_name {
            Some(Optional::Given(v)) => v.clone(),
            _ => String::new(),
        },
        referrer_org: match &a.referrer_org {
            Some(Optional::Given(v)) => v.clone(),
            _ => String::new(),
        },
        ward: a.ward.clone().unwrap_or_default(),
        expected_discharge: a
            .expected_discharge
            .map(|d| d.format("%-d %B %Y").to_string())
            .unwrap_or_default(),
        consent: a
            .consent
            .map(yes_no_unsure_words)
            .unwrap_or_default()
            .to_owned(),
        subject_phone: match &a.subject_phone {
            Some(Optional::Given(p)) => p.e164().to_owned(),
            Some(Optional::Skipped) => "not given".to_owned(),
            None => String::new(),
        },
        name: a.name.clone().unwrap_or_default(),
        age: a.age.map(display_age).unwrap_or_default(),
        place: match &a.postcode {
            Some(Place::Postcode(p)) => p.as_str().to_owned(),
            Some(Place::Town(t)) => t.clone(),
            None => String::new(),
        },
        safety: a
            .safety
            .map(yes_no_unsure_words)
            .unwrap_or_default()
            .to_owned(),
        situation: a.situation.clone().unwrap_or_default(),
        contact_method: a
            .contact_method
            .map(|c| match c {
                Channel::PhoneCall => "phone call",
                Channel::Sms => "text message",
                Channel::Letter => "letter",
            })
            .unwrap_or_default()
            .to_owned(),
        language: optional(&a.language),
        access_needs: match &a.access_needs {
            Some(Optional::Given(needs)) if !needs.is_empty() => needs
                .iter()
                .map(|n| n.as_str().replace('_', " "))
                .collect::<Vec<_>>()
                .join(", "),
            Some(_) => "none".to_owned(),
            None => String::new(),
        },
        anything_else: optional(&a.anything_else),
    }
}

fn display_age(age: Age) -> String {
    match (age.over_18, age.years) {
        (true, Some(y)) => format!("yes ({y})"),
        (false, Some(y)) => format!("no ({y})"),
        (true, None) => "yes".to_owned(),
        (false, None) => "no".to_owned(),
    }
}

#[cfg(test)]
mod tests;
