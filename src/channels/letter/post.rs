//! Letters posted by a provider (GOV.UK Notify) rather than printed by staff.

use async_trait::async_trait;

use crate::channels::sms::SendError;

/// Which class of post a letter goes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Postage {
    /// Royal Mail aims to deliver the next working day.
    First,
    /// Royal Mail aims to deliver within three working days.
    Second,
}

impl Postage {
    /// The word Notify takes as `postage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Postage::First => "first",
            Postage::Second => "second",
        }
    }
}

/// A letter the provider took: its id for the letter, which its receipts name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentLetter {
    pub provider_id: String,
}

/// Posts a rendered letter.
#[async_trait]
pub trait LetterProvider: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// Posts `pdf` (a letter laid out to the provider's printable-letter rules) by `postage`;
    /// `reference` is our message's id, so the provider's records and ours can be matched.
    async fn send_letter(
        &self,
        pdf: &[u8],
        reference: &str,
        postage: Postage,
    ) -> Result<SentLetter, SendError>;
}
