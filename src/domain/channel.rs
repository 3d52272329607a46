//! The ways the team can reach a person, and the needs that shape how.

text_enum! {
    /// How a message reaches a patient (also what a referrer asks the team to use).
    pub enum Channel {
        Sms = "sms",
        PhoneCall = "phone_call",
        Letter = "letter",
    }
}

text_enum! {
    /// Communication and access needs from the Accessible Information Standard list on the
    /// service page; declared in the order the referral conversation numbers them (1–7).
    pub enum AccessNeed {
        Bsl = "bsl",
        LargePrint = "large_print",
        Braille = "braille",
        Audio = "audio",
        EasyRead = "easy_read",
        TextMessage = "text_message",
        FaceToFaceSupport = "face_to_face_support",
    }
}
