//! How a task on the staff call or print list ends, and what each ending leads to.

use super::channel::Channel;

text_enum! {
    /// What staff report when they complete a task.
    pub enum TaskOutcome {
        /// The call was made, or the letter posted.
        Done = "done",
        /// Nobody answered the call.
        NoAnswer = "no_answer",
        /// A voicemail or a message with someone else.
        LeftMessage = "left_message",
        /// The number reached someone else.
        WrongNumber = "wrong_number",
        /// The letter came back.
        Returned = "returned",
    }
}

/// Unanswered calls before a phone-call task gives way to the patient's next channel.
pub const CALL_TRIES: i64 = 3;

/// What completing a task with an outcome does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStep {
    /// Back on the list for another try (an unanswered call before the last try).
    StayOpen,
    /// Done: the message reached the patient, or there is nothing more to try here.
    Close,
    /// Done, and the message goes by the patient's next channel, for this reason.
    CloseAndFallBack { reason: &'static str },
}

impl TaskOutcome {
    /// Whether this outcome can be reported for a task on the `kind` list.
    pub fn fits(self, kind: Channel) -> bool {
        match self {
            TaskOutcome::NoAnswer | TaskOutcome::LeftMessage => kind == Channel::PhoneCall,
            TaskOutcome::Returned => kind == Channel::Letter,
            TaskOutcome::Done | TaskOutcome::WrongNumber => true,
        }
    }

    /// Why the message moves to the patient's next channel, when this outcome can send it
    /// there (as the message's history records the channel skipped).
    pub fn fallback_reason(self) -> Option<&'static str> {
        match self {
            TaskOutcome::NoAnswer => Some("phone_no_answer"),
            TaskOutcome::WrongNumber => Some("wrong_number"),
            TaskOutcome::Done | TaskOutcome::LeftMessage | TaskOutcome::Returned => None,
        }
    }

    /// The step for a task that has had `unanswered` calls before this one.
    pub fn step(self, unanswered: i64) -> TaskStep {
        match (self, self.fallback_reason()) {
            (TaskOutcome::NoAnswer, _) if unanswered + 1 < CALL_TRIES => TaskStep::StayOpen,
            (_, Some(reason)) => TaskStep::CloseAndFallBack { reason },
            (_, None) => TaskStep::Close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_goes_unanswered_three_times_before_the_next_channel() {
        assert_eq!(TaskOutcome::NoAnswer.step(0), TaskStep::StayOpen);
        assert_eq!(TaskOutcome::NoAnswer.step(1), TaskStep::StayOpen);
        assert_eq!(
            TaskOutcome::NoAnswer.step(2),
            TaskStep::CloseAndFallBack {
                reason: "phone_no_answer"
            }
        );
    }

    #[test]
    fn a_wrong_number_falls_back_at_once_and_the_rest_close() {
        assert!(matches!(
            TaskOutcome::WrongNumber.step(0),
            TaskStep::CloseAndFallBack { .. }
        ));
        for outcome in [
            TaskOutcome::Done,
            TaskOutcome::LeftMessage,
            TaskOutcome::Returned,
        ] {
            assert_eq!(outcome.step(0), TaskStep::Close);
        }
    }

    #[test]
    fn outcomes_fit_their_lists() {
        assert!(TaskOutcome::NoAnswer.fits(Channel::PhoneCall));
        assert!(!TaskOutcome::NoAnswer.fits(Channel::Letter));
        assert!(TaskOutcome::Returned.fits(Channel::Letter));
        assert!(!TaskOutcome::Returned.fits(Channel::PhoneCall));
        assert!(TaskOutcome::Done.fits(Channel::Letter));
    }
}
