//! What the SMS provider tells us: a text from a person, and delivery receipts for ours.

use std::sync::atomic::{AtomicBool, Ordering};

use super::Services;
use crate::domain::phone::PhoneNumber;
use crate::jobs::delivery::after_receipt;
use crate::store::{
    InboundOutcome, InboundText, Receipt, ReceiptOutcome, ReplyRoute, Snapshot, StoreError,
};

/// A text from a person as stored, and what it did.
#[derive(Debug)]
pub struct Received {
    pub text: InboundText,
    pub outcome: InboundOutcome,
    /// Stored for the first time, and it showed risk or was an unsafe answer.
    pub flagged: bool,
}

impl Services {
    /// Stores a text from a person and what it does, and returns it with the outcome. The
    /// intake decides inside the store's transaction, from the number's conversation or
    /// patient as the transaction reads them; a provider's retry of a stored text gets the
    /// same replies again. Safety rule 7: the provider's signature is its word that a person
    /// sent this, so neither its sender nor its bytes are a reason to refuse it: the sender is
    /// kept as given when it is not a phone number, and the words as received, except what
    /// the engine cannot hold (`Store::storable`). `replies` says how the replies leave: in
    /// the provider's answer, or as texts of their own committed with this one.
    pub async fn receive_text(
        &self,
        provider_id: &str,
        from: Option<&str>,
        body: &str,
        replies: ReplyRoute,
    ) -> Result<Received, StoreError> {
        let provider_id = self.store.storable(provider_id);
        let from = PhoneNumber::from_sender(from, &provider_id);
        if !from.is_e164() {
            tracing::info!("sender is not a phone number; kept as given");
        }
        let text = InboundText {
            provider_id: provider_id.into_owned(),
            from,
            body: self.store.storable(body).into_owned(),
            received_at: self.clock.now(),
            replies,
        };
        let today = self.clock.today_in_uk();
        // Screened before the store's transaction: only what depends on the number's record
        // is decided while the write lock is held.
        let screened = self.intake.screen(&text.body);
        // The store may decide more than once (a transaction tried again); the last decision
        // is the one it wrote.
        let flagged = AtomicBool::new(false);
        let decide = |snapshot: &Snapshot| {
            let decision = self.intake.decide_screened(
                snapshot,
                &text.body,
                &screened,
                today,
                text.received_at,
            );
            flagged.store(decision.flagged(), Ordering::Relaxed);
            decision
        };
        let outcome = self.store.record_inbound(&text, &decide).await?;
        let flagged = matches!(outcome, InboundOutcome::Fresh { .. }) && flagged.into_inner();
        Ok(Received {
            text,
            outcome,
            flagged,
        })
    }

    /// Records a delivery receipt. A patient's text that failed is sent again or falls back
    /// to their next channel (the delivery policy decides), in the receipt's own transaction.
    pub async fn record_receipt(
        &self,
        receipt: &Receipt<'_>,
    ) -> Result<ReceiptOutcome, StoreError> {
        let after = after_receipt(&self.outbound, receipt, self.send_backoff_base);
        self.store.record_receipt(receipt, &after).await
    }
}
