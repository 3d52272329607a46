//! Delivery receipts from the SMS provider, and what a failed text sets off.

use std::time::Duration;

use crate::jobs::delivery::after_receipt;
use crate::outbound::Outbound;
use crate::store::{Receipt, ReceiptOutcome, StoreError};

/// Records a receipt. A patient's text that failed is sent again or falls back to their next
/// channel (the delivery policy decides), in the receipt's own transaction.
pub async fn record(
    outbound: &Outbound,
    receipt: &Receipt<'_>,
    backoff_base: Duration,
) -> Result<ReceiptOutcome, StoreError> {
    let after = after_receipt(outbound, receipt, backoff_base);
    outbound.store.record_receipt(receipt, &after).await
}
