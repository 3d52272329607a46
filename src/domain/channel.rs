//! The ways the team can reach a person, and the needs that shape how.

use serde::{Deserialize, Serialize};

/// How a message reaches a patient (also what a referrer asks the team to use).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    PhoneCall,
    Letter,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::PhoneCall => "phone_call",
            Channel::Letter => "letter",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Channel::Sms, Channel::PhoneCall, Channel::Letter]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// Communication and access needs from the Accessible Information Standard list on the
/// service page; the numbering matches the referral conversation's question.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessNeed {
    Bsl,
    LargePrint,
    Braille,
    Audio,
    EasyRead,
    TextMessage,
    FaceToFaceSupport,
}

impl AccessNeed {
    /// In the order the conversation numbers them (1–7).
    pub const ALL: [AccessNeed; 7] = [
        AccessNeed::Bsl,
        AccessNeed::LargePrint,
        AccessNeed::Braille,
        AccessNeed::Audio,
        AccessNeed::EasyRead,
        AccessNeed::TextMessage,
        AccessNeed::FaceToFaceSupport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessNeed::Bsl => "bsl",
            AccessNeed::LargePrint => "large_print",
            AccessNeed::Braille => "braille",
            AccessNeed::Audio => "audio",
            AccessNeed::EasyRead => "easy_read",
            AccessNeed::TextMessage => "text_message",
            AccessNeed::FaceToFaceSupport => "face_to_face_support",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == text)
    }
}
