//! Retention: which records are past the team's need for their words, and what of them is
//! kept. After `CRHT_RETENTION_DAYS` a closed referral, and a patient no longer under care,
//! keep their ids, reference, team, status, times, flags, risk signal names, channels,
//! statuses and the audit log's who-did-what; every word the person wrote, or staff wrote
//! about them, goes (README "Retention", hazard H-16). Open referrals and patients under
//! care are never cleared, however old their texts.

/// SQL over a patient `p`, with `$1` the retention cutoff: true when the patient is no longer
/// under the team's care: discharged (`POST /patients/{id}/discharge`) before the retention
/// period, and nothing has happened since or is pending: no change to the record, no text or
/// message (their feedback request included), no appointment still to come or within the
/// period, no open task or inbox item, no urgent episode open, no safety plan written, and no
/// referral of theirs still open or recent. A patient never discharged is under care, however
/// quiet their record.
macro_rules! patient_past_care {
    () => {
        "p.discharged_at IS NOT NULL AND p.discharged_at < $1 \
         AND p.updated_at < $1 \
         AND NOT p.urgent \
         AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.patient_id = p.id \
             AND a.status <> 'cancelled' AND a.starts_at >= $1) \
         AND NOT EXISTS (SELECT 1 FROM texts t WHERE t.patient_id = p.id AND t.at >= $1) \
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.patient_id = p.id \
             AND (m.created_at >= $1 OR m.status IN ('queued', 'sending'))) \
         AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.patient_id = p.id AND k.status = 'open') \
         AND NOT EXISTS (SELECT 1 FROM inbox_items i WHERE i.patient_id = p.id \
             AND i.status = 'open') \
         AND NOT EXISTS (SELECT 1 FROM safety_plans s WHERE s.patient_id = p.id \
             AND s.updated_at >= $1) \
         AND NOT EXISTS (SELECT 1 FROM referrals pr WHERE pr.id = p.referral_id \
             AND (pr.status <> 'closed' OR pr.updated_at >= $1))"
    };
}

/// SQL over a referral `r`, with `$1` the cutoff: closed before the retention period, with no
/// text since, nothing open in the inbox, and no patient made from it still under care.
macro_rules! referral_past_need {
    () => {
        concat!(
            "r.status = 'closed' AND r.updated_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM texts t WHERE t.referral_id = r.id AND t.at >= $1) \
             AND NOT EXISTS (SELECT 1 FROM inbox_items i WHERE i.referral_id = r.id \
                 AND i.status = 'open') \
             AND NOT EXISTS (SELECT 1 FROM patients p WHERE p.referral_id = r.id AND NOT (",
            $crate::store::retention::patient_past_care!(),
            "))"
        )
    };
}

pub(crate) use {patient_past_care, referral_past_need};

/// What stands where words were, in columns that may not be empty.
pub(crate) const WORDS_REMOVED: &str = "(words removed after the retention period)";

/// The answers a referral keeps past retention: choices from a fixed list, which say how the
/// service was used and nothing of what was said. Names, numbers, places, the situation,
/// anything else, languages, wards and dates all go.
const ANSWERS_KEPT: &[&str] = &[
    "relationship",
    "referrer_role",
    "route",
    "safety",
    "consent",
    "contact_method",
];

/// A referral's answers (JSON text) with only the kept choices left.
pub(crate) fn forget_answers(answers: &str) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(answers).unwrap_or(serde_json::Value::Object(Default::default()));
    keep_choices(&mut value);
    value.to_string()
}

fn keep_choices(answers: &mut serde_json::Value) {
    match answers.as_object_mut() {
        Some(map) => map.retain(|key, _| ANSWERS_KEPT.contains(&key.as_str())),
        None => *answers = serde_json::Value::Object(Default::default()),
    }
}

/// A conversation's state (JSON text) without its words: the answers keep only their
/// choices, and the superseded answers and the steps' history go (each defaults when read).
pub(crate) fn forget_conversation(state: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(state) else {
        return state.to_owned();
    };
    if let Some(map) = value.as_object_mut() {
        if let Some(answers) = map.get_mut("answers") {
            keep_choices(answers);
        }
        map.remove("superseded");
        map.remove("history");
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Conversation;

    #[test]
    fn forgotten_answers_keep_the_choices_and_nothing_said() {
        let answers = r#"{"relationship":"self","name":"Priya Quill","situation":"my flat in Zanzibar Road","anything_else":{"given":"moonstone"},"safety":"yes","postcode":{"postcode":"LS1 4DY"}}"#;
        let kept = forget_answers(answers);
        assert_eq!(kept, r#"{"relationship":"self","safety":"yes"}"#);
        assert_eq!(forget_answers("not json"), "{}");
    }

    #[test]
    fn a_forgotten_conversation_still_reads_as_a_conversation() {
        let mut conversation = Conversation::new();
        conversation.history.push(conversation.step);
        let state = serde_json::to_string(&conversation).expect("serialises");
        let forgotten = forget_conversation(&state);
        let read: Conversation = serde_json::from_str(&forgotten).expect("still a conversation");
        assert!(read.history.is_empty());
        assert_eq!(read.step, conversation.step);
    }
}
