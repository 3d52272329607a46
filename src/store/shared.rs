//! Statements used inside more than one transaction, written once and given to each engine's
//! store as inherent functions on its connection type (`shared_impl!`).
//!
//! Longer than most files on purpose (about 690 lines of code): one `macro_rules!` body
//! (instantiated once per engine) cannot be split across files; splitting it into several
//! macros by area is the next step if it grows.

/// One text of a transcript, either way.
#[derive(Debug, Clone, Copy)]
pub(super) struct NewText<'a> {
    pub id: &'a str,
    pub referral_id: Option<&'a str>,
    pub conversation_id: Option<&'a str>,
    pub patient_id: Option<&'a str>,
    pub phone: &'a str,
    pub direction: &'a str,
    pub body: &'a str,
    pub provider_id: Option<&'a str>,
    pub reply_to: Option<&'a str>,
    /// The message that carries an outbound text, when it leaves as one of its own.
    pub message_id: Option<&'a str>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Replies that leave as texts of their own (`ReplyRoute::AsMessages`): to whom, and whether
/// past an opt-out.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReplySends<'a> {
    pub to: &'a crate::domain::phone::PhoneNumber,
    pub past_opt_out: bool,
}

impl<'a> NewText<'a> {
    /// A text as it came in, not yet linked to a referral, conversation or patient.
    pub fn inbound(
        id: &'a str,
        phone: &'a str,
        text: &'a super::InboundText,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        NewText {
            id,
            referral_id: None,
            conversation_id: None,
            patient_id: None,
            phone,
            direction: "inbound",
            body: &text.body,
            provider_id: Some(&text.provider_id),
            reply_to: None,
            message_id: None,
            at,
        }
    }
}

/// Binds a referral's fields (`ReferralFields`) as `$1` to `$10`, the order the referral
/// statements number them in; the caller binds the rest after.
macro_rules! bind_referral_fields {
    ($query:expr, $fields:expr) => {
        $query
            .bind($fields.status.as_str())
            .bind($fields.urgent)
            .bind($crate::store::rows::to_json_text(&$fields.risk_signals)?)
            .bind($fields.urgent_at.map($crate::store::Ts))
            .bind(&$fields.team)
            .bind($crate::store::rows::to_json_text(&$fields.answers)?)
            .bind($fields.incomplete)
            .bind($fields.submitted_at.map($crate::store::Ts))
            .bind(&$fields.language)
            .bind($fields.interpreter)
            .bind($fields.route.as_str())
    };
}
pub(super) use bind_referral_fields;

macro_rules! shared_impl {
    ($store:ty, $conn:ty) => {
        impl $store {
            pub(super) async fn insert_text(
                conn: &mut $conn,
                text: $crate::store::shared::NewText<'_>,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO texts (id, referral_id, conversation_id, patient_id, phone, direction, \
                     body, provider_id, reply_to, message_id, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(text.id)
                .bind(text.referral_id)
                .bind(text.conversation_id)
                .bind(text.patient_id)
                .bind(text.phone)
                .bind(text.direction)
                .bind(text.body)
                .bind(text.provider_id)
                .bind(text.reply_to)
                .bind(text.message_id)
                .bind($crate::store::Ts(text.at))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Stores a text that came in and the replies to it, each reply linked to it and to
            /// the same referral, conversation or patient. With `sends`, each reply also leaves
            /// as a message of its own (purpose `reply`) with its send job, and its transcript
            /// row names that message.
            pub(super) async fn insert_exchange(
                conn: &mut $conn,
                inbound: $crate::store::shared::NewText<'_>,
                replies: &[String],
                sends: Option<$crate::store::shared::ReplySends<'_>>,
            ) -> $crate::store::Result<()> {
                Self::insert_text(&mut *conn, inbound).await?;
                for reply in replies {
                    let message_id = match sends {
                        Some(sends) => {
                            let message = $crate::store::NewMessage {
                                purpose: $crate::domain::patient::MessagePurpose::Reply,
                                to: sends.to.clone(),
                                body: reply.clone(),
                            };
                            Some(
                                Self::insert_sms(
                                    &mut *conn,
                                    &message,
                                    inbound.referral_id,
                                    inbound.patient_id,
                                    sends.past_opt_out,
                                    inbound.at,
                                )
                                .await?,
                            )
                        }
                        None => None,
                    };
                    Self::insert_text(
                        &mut *conn,
                        $crate::store::shared::NewText {
                            id: &$crate::store::rows::new_id::<String>(),
                            direction: "outbound",
                            body: reply,
                            provider_id: None,
                            reply_to: Some(inbound.id),
                            message_id: message_id.as_deref(),
                            ..inbound
                        },
                    )
                    .await?;
                }
                Ok(())
            }

            /// The notice to the patient about a staff change (when there is one, counted to
            /// the actor's day) and the change's audit entry, both at the audit's time.
            pub(super) async fn insert_notice_and_audit(
                conn: &mut $conn,
                notice: Option<&$crate::store::PreparedMessage>,
                audit: &$crate::store::AuditEntry,
                per_day: u32,
            ) -> $crate::store::Result<()> {
                if let Some(notice) = notice {
                    Self::spend_allowance(&mut *conn, audit, 1, per_day).await?;
                    Self::insert_message(&mut *conn, notice, audit.at).await?;
                }
                Self::insert_audit(&mut *conn, audit).await
            }

            /// Counts `n` messages the actor of `audit` (their API token, else their console
            /// account) queues on the audit's UTC day, in the transaction that queues them,
            /// and refuses (`StoreError::AllowanceSpent`) past `per_day`: the transaction is
            /// then dropped, message and count alike. One upsert of one row, so concurrent
            /// requests on PostgreSQL queue behind its row lock and each sees the others'
            /// counts. A change with no token or account (the gateway's own) is not counted.
            pub(super) async fn spend_allowance(
                conn: &mut $conn,
                audit: &$crate::store::AuditEntry,
                n: u32,
                per_day: u32,
            ) -> $crate::store::Result<()> {
                let holder = match (&audit.token_id, &audit.user_id) {
                    (Some(token), _) => format!("token:{token}"),
                    (None, Some(user)) => format!("user:{user}"),
                    (None, None) => return Ok(()),
                };
                if n == 0 {
                    return Ok(());
                }
                let day = audit.at.date_naive();
                let queued: i64 = sqlx::query_scalar(
                    "INSERT INTO message_allowance (holder, day, queued) VALUES ($1, $2, $3) \
                     ON CONFLICT (holder, day) DO UPDATE \
                     SET queued = message_allowance.queued + excluded.queued RETURNING queued",
                )
                .bind(&holder)
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(i64::from(n))
                .fetch_one(&mut *conn)
                .await?;
                if queued > i64::from(per_day) {
                    let midnight = day
                        .succ_opt()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|d| d.and_utc())
                        .unwrap_or(audit.at);
                    let retry_after_secs =
                        u64::try_from((midnight - audit.at).num_seconds()).unwrap_or(0).max(1);
                    return Err($crate::store::StoreError::AllowanceSpent { retry_after_secs });
                }
                Ok(())
            }

            pub(super) async fn insert_audit(
                conn: &mut $conn,
                entry: &$crate::store::AuditEntry,
            ) -> $crate::store::Result<()> {
                Self::insert_audits(conn, std::slice::from_ref(entry)).await
            }

            /// Many audit entries in a few statements (a batch of bookings).
            pub(super) async fn insert_audits(
                conn: &mut $conn,
                entries: &[$crate::store::AuditEntry],
            ) -> $crate::store::Result<()> {
                use $crate::store::values;
                const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
                for chunk in entries.chunks(values::rows_per_statement(ROW)) {
                    let sql = format!(
                        "INSERT INTO audit_log (at, actor, role, action, target, referral_id, note, \
                         token_id, user_id, records) VALUES {}",
                        values::rows(chunk.len(), ROW)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .persistent(values::persistent(chunk.len()));
                    for entry in chunk {
                        query = query
                            .bind($crate::store::Ts(entry.at))
                            .bind(&entry.actor)
                            .bind(&entry.role)
                            .bind(&entry.action)
                            .bind(&entry.target)
                            .bind(&entry.referral_id)
                            .bind(&entry.note)
                            .bind(&entry.token_id)
                            .bind(&entry.user_id)
                            .bind(&entry.records);
                    }
                    query.execute(&mut *conn).await?;
                }
                Ok(())
            }

            pub(super) async fn message_event(
                conn: &mut $conn,
                message_id: &str,
                at: chrono::DateTime<chrono::Utc>,
                status: &str,
                channel: Option<&str>,
                detail: Option<&str>,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO message_events (message_id, at, status, channel, detail) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(message_id)
                .bind($crate::store::Ts(at))
                .bind(status)
                .bind(channel)
                .bind(detail)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// A message as it stands inside the transaction.
            pub(super) async fn message_in(
                conn: &mut $conn,
                id: &str,
            ) -> $crate::store::Result<$crate::store::Message> {
                let row: $crate::store::rows::MessageRow =
                    sqlx::query_as("SELECT * FROM messages WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *conn)
                        .await?;
                row.try_into()
            }

            /// A send that ended (`sent`, `failed`, or `queued` again); `false` when the
            /// message was not being sent.
            pub(super) async fn end_send(
                conn: &mut $conn,
                id: &str,
                status: $crate::store::MessageStatus,
                provider_id: Option<&str>,
                error_code: Option<&str>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                let done = sqlx::query(
                    "UPDATE messages SET status = $1, provider_id = COALESCE($2, provider_id), \
                     error_code = $3, updated_at = $4 WHERE id = $5 AND status = 'sending'",
                )
                .bind(status)
                .bind(provider_id)
                .bind(error_code)
                .bind($crate::store::Ts(at))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                let channel: Option<(String,)> = sqlx::query_as("SELECT channel FROM messages WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
                let channel = channel.map_or_else(|| "sms".to_owned(), |(c,)| c);
                let detail = error_code.map(|c| format!("provider error {c}"));
                Self::message_event(&mut *conn, id, at, status.as_str(), Some(&channel), detail.as_deref()).await?;
                Ok(done.rows_affected() == 1)
            }

            /// Asks the delivery policy what the failed message `id` leads to, from the
            /// message and its patient as they stand in this transaction, and writes it here.
            pub(super) async fn after_failure(
                conn: &mut $conn,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
                after: &$crate::store::AfterFailure<'_>,
            ) -> $crate::store::Result<$crate::store::NextStep> {
                use $crate::store::{MobileState, NextStep, Ts};
                let message = Self::message_in(&mut *conn, id).await?;
                let patient = match &message.patient_id {
                    Some(patient_id) => {
                        let row: Option<$crate::store::rows::PatientRow> = sqlx::query_as(concat!(
                            $crate::store::rows::patient_select!(),
                            " WHERE p.id = $1"
                        ))
                        .bind(patient_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                        row.map(|r| r.into_record().map(|r| r.patient)).transpose()?
                    }
                    None => None,
                };
                let next = after(&message, patient.as_ref());
                match &next {
                    NextStep::Stop => {}
                    NextStep::Resend { run_at } => {
                        let done = sqlx::query(
                            "UPDATE messages SET status = 'queued', provider_id = NULL, updated_at = $1 \
                             WHERE id = $2 AND channel = 'sms' AND status IN ('undelivered', 'failed')",
                        )
                        .bind(Ts(at))
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                        if done.rows_affected() == 1 {
                            let mut job = $crate::store::queue::delivery_job(id)?;
                            job.run_at = Some(*run_at);
                            job.idempotency_key = Some(format!("message-{id}-{}", job.id));
                            Self::enqueue(&mut *conn, &job).await?;
                            Self::message_event(
                                &mut *conn,
                                id,
                                at,
                                "queued",
                                Some("sms"),
                                Some("sent again after a temporary failure"),
                            )
                            .await?;
                        }
                    }
                    NextStep::FallBack { mobile, failed, next } => {
                        if *mobile != MobileState::default()
                            && let Some(patient_id) = &message.patient_id
                        {
                            sqlx::query(
                                "UPDATE patients SET sms_opted_out = COALESCE($1, sms_opted_out), \
                                 mobile_failed = COALESCE($2, mobile_failed), updated_at = $3 WHERE id = $4",
                            )
                            .bind(mobile.opted_out)
                            .bind(&mobile.failed)
                            .bind(Ts(at))
                            .bind(patient_id)
                            .execute(&mut *conn)
                            .await?;
                        }
                        // Only from the channel that failed: a message already moved on by an
                        // earlier receipt stays where it is.
                        if message.channel == Some(failed.channel) {
                            Self::message_event(
                                &mut *conn,
                                id,
                                at,
                                "skipped",
                                Some(failed.channel.as_str()),
                                Some(&failed.reason),
                            )
                            .await?;
                            Self::route_message(&mut *conn, next, at).await?;
                        }
                    }
                    NextStep::PrintLetter { reason } => {
                        Self::print_letter_instead(&mut *conn, id, reason, at).await?;
                    }
                }
                Ok(next)
            }

            /// A letter GOV.UK Notify could not take or print: a print task with its PDF and
            /// the reason, and the message `task_created`, as if it had gone there first.
            pub(super) async fn print_letter_instead(
                conn: &mut $conn,
                id: &str,
                reason: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                use $crate::store::Ts;
                let letter: Option<(Vec<u8>, String)> = sqlx::query_as(
                    "SELECT pdf, task_text FROM posted_letters WHERE message_id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                let Some((pdf, task_text)) = letter else {
                    return Err($crate::store::StoreError::Corrupt(format!(
                        "message {id} went to GOV.UK Notify without its letter"
                    )));
                };
                let moved = sqlx::query(
                    "UPDATE messages SET status = 'task_created', updated_at = $1 \
                     WHERE id = $2 AND channel = 'letter' AND status <> 'task_created'",
                )
                .bind(Ts(at))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                if moved.rows_affected() == 0 {
                    return Ok(());
                }
                let message = Self::message_in(&mut *conn, id).await?;
                let text = format!("Not posted by GOV.UK Notify ({reason}): print it instead.\n{task_text}");
                sqlx::query(
                    "INSERT INTO tasks (id, kind, patient_id, message_id, status, text, pdf, created_at) \
                     VALUES ($1, 'letter', $2, $3, 'open', $4, $5, $6)",
                )
                .bind($crate::store::rows::new_id::<$crate::domain::id::StaffTaskId>())
                .bind(&message.patient_id)
                .bind(id)
                .bind(&text)
                .bind(pdf)
                .bind(Ts(at))
                .execute(&mut *conn)
                .await?;
                let detail = format!("on the print list: {reason}");
                Self::message_event(&mut *conn, id, at, "task_created", Some("letter"), Some(&detail)).await
            }

            /// Something for the team's inbox, about a text that came in (`message_id`).
            pub(super) async fn insert_inbox_item(
                conn: &mut $conn,
                item: &$crate::store::NewInboxItem,
                patient_id: Option<&str>,
                referral_id: Option<&str>,
                message_id: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO inbox_items (id, kind, patient_id, referral_id, appointment_id, message_id, \
                     urgent, summary, body, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10)",
                )
                .bind($crate::store::rows::new_id::<$crate::domain::id::InboxItemId>())
                .bind(&item.kind)
                .bind(patient_id)
                .bind(referral_id)
                .bind(&item.appointment_id)
                .bind(message_id)
                .bind(item.urgent)
                .bind(&item.summary)
                .bind(&item.body)
                .bind($crate::store::Ts(at))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// A text from the gateway's number (an alert to on-call staff, or staff's text
            /// back to a referral's texter): the message and its send job, together. Returns
            /// the message's id.
            pub(super) async fn insert_alert(
                conn: &mut $conn,
                alert: &$crate::store::NewMessage,
                referral_id: Option<&str>,
                patient_id: Option<&str>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<$crate::domain::id::MessageId> {
                Self::insert_sms(&mut *conn, alert, referral_id, patient_id, false, at).await
            }

            /// As `insert_alert`, saying whether the text goes past an opt-out recorded after
            /// it was queued (`Message::past_opt_out`).
            pub(super) async fn insert_sms(
                conn: &mut $conn,
                alert: &$crate::store::NewMessage,
                referral_id: Option<&str>,
                patient_id: Option<&str>,
                past_opt_out: bool,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<$crate::domain::id::MessageId> {
                let message_id: $crate::domain::id::MessageId = $crate::store::rows::new_id();
                sqlx::query(
                    "INSERT INTO messages (id, purpose, referral_id, patient_id, channel, to_phone, body, \
                     status, attempts, past_opt_out, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'sms', $5, $6, 'queued', 0, $7, $8, $8)",
                )
                .bind(&message_id)
                .bind(alert.purpose.as_str())
                .bind(referral_id)
                .bind(patient_id)
                .bind(alert.to.e164())
                .bind(&alert.body)
                .bind(past_opt_out)
                .bind($crate::store::Ts(at))
                .execute(&mut *conn)
                .await?;
                Self::message_event(&mut *conn, &message_id, at, "queued", Some("sms"), None).await?;
                Self::enqueue(&mut *conn, &$crate::store::queue::delivery_job(&message_id)?).await?;
                Ok(message_id)
            }

            /// A prepared message: its row, then whatever carries it.
            pub(super) async fn insert_message(
                conn: &mut $conn,
                message: &$crate::store::PreparedMessage,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                use $crate::store::rows::to_json_text;
                sqlx::query(
                    "INSERT INTO messages (id, purpose, referral_id, patient_id, appointment_id, reminder_id, \
                     channel, status, attempts, template, vars, language, interpreter_may_be_needed, \
                     skipped, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'none', 'queued', 0, $7, $8, $9, $10, '[]', $11, $11)",
                )
                .bind(&message.id)
                .bind(message.purpose.as_str())
                .bind(&message.referral_id)
                .bind(&message.patient_id)
                .bind(&message.appointment_id)
                .bind(&message.reminder_key)
                .bind(&message.template)
                .bind(message.vars.as_ref().map(to_json_text).transpose()?)
                .bind(&message.language)
                .bind(message.interpreter_may_be_needed)
                .bind($crate::store::Ts(at))
                .execute(&mut *conn)
                .await?;
                Self::route_message(&mut *conn, message, at).await
            }

            /// Points the message at its route (a text, a call, a letter, or nowhere) and
            /// creates what carries it.
            pub(super) async fn route_message(
                conn: &mut $conn,
                message: &$crate::store::PreparedMessage,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                use $crate::store::rows::{new_id, to_json_text};
                use $crate::store::{Route, Ts};
                let (channel, to, body, status) = match &message.route {
                    Route::Sms { to, body } => ("sms", Some(to.e164()), Some(body.as_str()), "queued"),
                    Route::PhoneCall { body, .. } => ("phone_call", None, Some(body.as_str()), "task_created"),
                    Route::Letter { body, .. } => ("letter", None, Some(body.as_str()), "task_created"),
                    Route::NotifyLetter { body, .. } => ("letter", None, Some(body.as_str()), "queued"),
                    Route::Nowhere { .. } => ("none", None, None, "failed"),
                };
                sqlx::query(
                    "UPDATE messages SET channel = $1, to_phone = $2, body = $3, status = $4, \
                     provider_id = NULL, error_code = NULL, skipped = $5, updated_at = $6 WHERE id = $7",
                )
                .bind(channel)
                .bind(to)
                .bind(body)
                .bind(status)
                .bind(to_json_text(&message.skipped)?)
                .bind(Ts(at))
                .bind(&message.id)
                .execute(&mut *conn)
                .await?;
                for skipped in &message.skipped {
                    let already: Option<(i64,)> = sqlx::query_as(
                        "SELECT COUNT(*) FROM message_events WHERE message_id = $1 AND status = 'skipped' \
                         AND channel = $2",
                    )
                    .bind(&message.id)
                    .bind(skipped.channel.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                    if already.is_none_or(|(n,)| n == 0) {
                        Self::message_event(
                            &mut *conn,
                            &message.id,
                            at,
                            "skipped",
                            Some(skipped.channel.as_str()),
                            Some(&skipped.reason),
                        )
                        .await?;
                    }
                }
                let detail = match &message.route {
                    Route::Nowhere { summary } => Some(summary.as_str()),
                    _ => None,
                };
                Self::message_event(&mut *conn, &message.id, at, status, Some(channel), detail).await?;
                match &message.route {
                    Route::Sms { .. } => {
                        Self::enqueue(&mut *conn, &$crate::store::queue::delivery_job(&message.id)?).await?;
                    }
                    Route::NotifyLetter { task_text, pdf, .. } => {
                        sqlx::query(
                            "INSERT INTO posted_letters (message_id, pdf, task_text, created_at) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO UPDATE \
                             SET pdf = excluded.pdf, task_text = excluded.task_text",
                        )
                        .bind(&message.id)
                        .bind(pdf)
                        .bind(task_text)
                        .bind(Ts(at))
                        .execute(&mut *conn)
                        .await?;
                        Self::enqueue(&mut *conn, &$crate::store::queue::letter_job(&message.id)?).await?;
                    }
                    Route::PhoneCall { task_text, .. } | Route::Letter { task_text, .. } => {
                        let pdf = match &message.route {
                            Route::Letter { pdf, .. } => Some(pdf.clone()),
                            _ => None,
                        };
                        sqlx::query(
                            "INSERT INTO tasks (id, kind, patient_id, message_id, status, text, pdf, created_at) \
                             VALUES ($1, $2, $3, $4, 'open', $5, $6, $7)",
                        )
                        .bind(new_id::<$crate::domain::id::StaffTaskId>())
                        .bind(channel)
                        .bind(&message.patient_id)
                        .bind(&message.id)
                        .bind(task_text)
                        .bind(pdf)
                        .bind(Ts(at))
                        .execute(&mut *conn)
                        .await?;
                    }
                    Route::Nowhere { summary } => {
                        sqlx::query(
                            "INSERT INTO inbox_items (id, kind, patient_id, appointment_id, message_id, urgent, \
                             summary, body, status, created_at) \
                             VALUES ($1, 'undeliverable', $2, $3, $4, $5, $6, NULL, 'open', $7)",
                        )
                        .bind(new_id::<$crate::domain::id::InboxItemId>())
                        .bind(&message.patient_id)
                        .bind(&message.appointment_id)
                        .bind(&message.id)
                        .bind(message.purpose == crate::domain::patient::MessagePurpose::Urgent)
                        .bind(summary)
                        .bind(Ts(at))
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                Ok(())
            }

            /// An appointment and its reminders' plans.
            pub(super) async fn insert_appointment(
                conn: &mut $conn,
                appointment: &$crate::store::Appointment,
                plans: &[$crate::store::ReminderPlan],
            ) -> $crate::store::Result<()> {
                use $crate::store::Ts;
                sqlx::query(
                    "INSERT INTO appointments (id, patient_id, starts_at, place, site_name, kind, \
                     staff_name, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                )
                .bind(&appointment.id)
                .bind(&appointment.patient_id)
                .bind(Ts(appointment.starts_at))
                .bind(appointment.place)
                .bind(&appointment.site_name)
                .bind(&appointment.kind)
                .bind(&appointment.staff_name)
                .bind(appointment.status)
                .bind(Ts(appointment.created_at))
                .execute(&mut *conn)
                .await?;
                Self::plan_reminders(&mut *conn, &appointment.id, plans, appointment.created_at).await
            }

            /// Writes a patient's passport (insert or update). Their SMS opt-out follows the
            /// mobile: a number that texted STOP (`sms_opt_outs`) is opted out here too, an
            /// unchanged number keeps what it had, and a new one starts afresh (its failure
            /// code cleared). An update leaves the urgent episode alone: only a text from the
            /// patient opens it and only a clinician's acknowledgement closes it.
            pub(super) async fn write_patient(
                conn: &mut $conn,
                p: &$crate::store::Patient,
                insert: bool,
            ) -> $crate::store::Result<bool> {
                use $crate::store::rows::to_json_text;
                use $crate::store::Ts;
                // $1-$22 are the passport; an insert adds the fields staff never write. An
                // urgent patient (made from an urgent referral) opens their episode now.
                let sql = if insert {
                    "INSERT INTO patients (name, preferred_name, pronouns, mobile, landline, address_lines, \
                     postcode, language, interpreter, access_needs, support_person, service_animal, \
                     quiet_hours, team, contact_preferences, notes, referral_id, updated_at, id, \
                     created_at, nhs_number, date_of_birth, sms_opted_out, mobile_failed, urgent, \
                     risk_signals, urgent_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                     $17, $18, $19, $20, $21, $22, \
                     $23 OR EXISTS (SELECT 1 FROM sms_opt_outs WHERE phone = $4 AND opted_out), \
                     $24, $25, $26, CASE WHEN $25 THEN $18 END)"
                } else {
                    // Every expression sees the row as it was: `mobile` is the old number.
                    "UPDATE patients SET name = $1, preferred_name = $2, pronouns = $3, mobile = $4, \
                     landline = $5, address_lines = $6, postcode = $7, language = $8, interpreter = $9, \
                     access_needs = $10, support_person = $11, service_animal = $12, quiet_hours = $13, \
                     team = $14, contact_preferences = $15, notes = $16, referral_id = $17, \
                     updated_at = $18, nhs_number = $21, date_of_birth = $22, \
                     sms_opted_out = (sms_opted_out AND COALESCE(mobile, '') = COALESCE($4, '')) \
                     OR EXISTS (SELECT 1 FROM sms_opt_outs WHERE phone = $4 AND opted_out), \
                     mobile_failed = CASE WHEN COALESCE(mobile, '') = COALESCE($4, '') \
                     THEN mobile_failed END \
                     WHERE id = $19 AND created_at = $20"
                };
                let query = sqlx::query(sql)
                    .bind(&p.name)
                    .bind(&p.preferred_name)
                    .bind(&p.pronouns)
                    .bind(p.mobile.as_ref().map(|m| m.e164().to_owned()))
                    .bind(p.landline.as_ref().map(|m| m.e164().to_owned()))
                    .bind(to_json_text(&p.address.lines)?)
                    .bind(p.address.postcode.as_ref().map(|c| c.as_str().to_owned()))
                    .bind(&p.language)
                    .bind(p.interpreter)
                    .bind(to_json_text(&p.access_needs)?)
                    .bind(&p.support_person)
                    .bind(&p.service_animal)
                    .bind(p.quiet_hours.map(|q| q.to_string()))
                    .bind(&p.team)
                    .bind(to_json_text(&p.contact_preferences)?)
                    .bind(&p.notes)
                    .bind(&p.referral_id)
                    .bind(Ts(p.updated_at))
                    .bind(&p.id)
                    .bind(Ts(p.created_at))
                    .bind(p.nhs_number.as_ref().map(|n| n.as_str().to_owned()))
                    .bind(p.date_of_birth);
                let query = if insert {
                    query
                        .bind(p.sms_opted_out)
                        .bind(&p.mobile_failed)
                        .bind(p.urgent)
                        .bind(to_json_text(&p.risk_signals)?)
                } else {
                    query
                };
                let done = query
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::store::rows::conflict_on_unique)?;
                Ok(done.rows_affected() == 1)
            }

            /// Plans (or plans again) an appointment's reminders: one row per offset, its
            /// version moved on, its old job withdrawn and a new one scheduled.
            pub(super) async fn plan_reminders(
                conn: &mut $conn,
                appointment_id: &str,
                plans: &[$crate::store::ReminderPlan],
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                use $crate::domain::schedule::Plan;
                use $crate::store::rows::new_id;
                use $crate::store::queue::reminder_job;
                use $crate::store::Ts;
                let existing: Vec<($crate::domain::id::ReminderId, i64, i64, Option<String>)> = sqlx::query_as(
                    "SELECT id, offset_seconds, version, job_id FROM reminders WHERE appointment_id = $1",
                )
                .bind(appointment_id)
                .fetch_all(&mut *conn)
                .await?;
                for (_, offset, _, job_id) in &existing {
                    if let Some(job_id) = job_id {
                        Self::kill_job(&mut *conn, job_id).await?;
                    }
                    if !plans.iter().any(|p| p.offset_seconds == *offset) {
                        sqlx::query(
                            "UPDATE reminders SET status = 'cancelled', reason = 'offset_removed', \
                             send_at = NULL, job_id = NULL, version = version + 1, updated_at = $1 \
                             WHERE appointment_id = $2 AND offset_seconds = $3 AND status = 'pending'",
                        )
                        .bind(Ts(at))
                        .bind(appointment_id)
                        .bind(offset)
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                for plan in plans {
                    let (status, send_at, reason) = match plan.plan {
                        Plan::SendAt(t) => ("pending", Some(t), None),
                        Plan::Skip(why) => ("skipped", None, Some(why.as_str())),
                    };
                    let previous = existing.iter().find(|(_, o, _, _)| *o == plan.offset_seconds);
                    let (id, version) = match previous {
                        Some((id, _, version, _)) => (id.clone(), version + 1),
                        None => (new_id::<$crate::domain::id::ReminderId>(), 1),
                    };
                    // Only reminders due soon go into the job queue; the rest wait in this table
                    // until `queue_due_reminders` moves them (a queue holding months of future
                    // jobs would make every poll slow).
                    let job_id = send_at
                        .filter(|t| *t <= at + $crate::store::queue_horizon())
                        .map(|_| new_id::<String>());
                    sqlx::query(
                        "INSERT INTO reminders (id, appointment_id, offset_seconds, due_at, send_at, status, \
                         reason, version, job_id, message_id, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10) \
                         ON CONFLICT (appointment_id, offset_seconds) DO UPDATE SET due_at = excluded.due_at, \
                         send_at = excluded.send_at, status = excluded.status, reason = excluded.reason, \
                         version = excluded.version, job_id = excluded.job_id, message_id = NULL, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(&id)
                    .bind(appointment_id)
                    .bind(plan.offset_seconds)
                    .bind(Ts(plan.due_at))
                    .bind(send_at.map(Ts))
                    .bind(status)
                    .bind(reason)
                    .bind(version)
                    .bind(&job_id)
                    .bind(Ts(at))
                    .execute(&mut *conn)
                    .await?;
                    if let (Some(job_id), Some(send_at)) = (job_id, send_at) {
                        Self::enqueue(&mut *conn, &reminder_job(&job_id, &id, version, send_at)?).await?;
                    }
                }
                Ok(())
            }

            /// Cancels an appointment and withdraws its pending reminders; `false` if there
            /// was no such appointment or it was cancelled already.
            pub(super) async fn cancel_appointment_in(
                conn: &mut $conn,
                id: &str,
                reason: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<bool> {
                use $crate::store::Ts;
                let done = sqlx::query(
                    "UPDATE appointments SET status = 'cancelled', updated_at = $1 \
                     WHERE id = $2 AND status <> 'cancelled'",
                )
                .bind(Ts(at))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                let jobs: Vec<(Option<String>,)> = sqlx::query_as(
                    "UPDATE reminders SET status = 'cancelled', reason = $1, send_at = NULL, \
                     version = version + 1, updated_at = $2 \
                     WHERE appointment_id = $3 AND status = 'pending' RETURNING job_id",
                )
                .bind(reason)
                .bind(Ts(at))
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
                for (job_id,) in jobs {
                    if let Some(job_id) = job_id {
                        Self::kill_job(&mut *conn, &job_id).await?;
                    }
                }
                Ok(true)
            }

            /// Inserts a new referral (from a text, or entered by staff). A clash of random
            /// references is a `Conflict`: the caller draws a new one (a provider's retry, or
            /// staff's request tried again).
            #[allow(clippy::too_many_arguments)]
            pub(super) async fn insert_referral(
                conn: &mut $conn,
                fields: &$crate::store::ReferralFields,
                referral_id: &$crate::domain::id::ReferralId,
                reference: &str,
                phone: Option<&str>,
                source: $crate::domain::referral::ReferralSource,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                let done = $crate::store::shared::bind_referral_fields!(
                    sqlx::query(
                        "INSERT INTO referrals (status, urgent, risk_signals, urgent_at, team, \
                         answers, incomplete, submitted_at, language, interpreter, route, id, \
                         reference, phone, source, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
                         ON CONFLICT (reference) DO NOTHING",
                    ),
                    fields
                )
                .bind(referral_id)
                .bind(reference)
                .bind(phone)
                .bind(source.as_str())
                .bind($crate::store::Ts(at))
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() != 1 {
                    return Err($crate::store::StoreError::Conflict(
                        "referral reference already taken".into(),
                    ));
                }
                Ok(())
            }

            /// Writes what one text did to its referral conversation; returns the
            /// conversation's and referral's ids.
            pub(super) async fn apply_referral_decision(
                conn: &mut $conn,
                phone: &str,
                snapshot: &$crate::store::Snapshot,
                decision: &$crate::store::ReferralDecision,
                new_reference: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<($crate::domain::id::ConversationId, $crate::domain::id::ReferralId)> {
                use $crate::store::rows::{new_id, to_json_text};
                use $crate::store::{ConversationChange, StoreError, Ts};
                let fields = &decision.referral;
                let now = Ts(at);
                match &decision.conversation {
                    ConversationChange::Continue(state) => {
                        let current = snapshot.current.as_ref().ok_or_else(|| {
                            StoreError::Corrupt("continued a conversation that does not exist".into())
                        })?;
                        sqlx::query(
                            "UPDATE conversations SET state = $1, step = $2, status = $3, \
                             last_text_at = $4 WHERE id = $5",
                        )
                        .bind(to_json_text(state)?)
                        .bind(state.step.id())
                        .bind(state.status.as_str())
                        .bind(now)
                        .bind(&current.id)
                        .execute(&mut *conn)
                        .await?;
                        $crate::store::shared::bind_referral_fields!(
                            sqlx::query(
                                "UPDATE referrals SET status = $1, urgent = $2, risk_signals = $3, \
                                 urgent_at = $4, team = $5, answers = $6, incomplete = $7, \
                                 submitted_at = $8, language = $9, interpreter = $10, \
                                 route = $11, updated_at = $12 WHERE id = $13",
                            ),
                            fields
                        )
                        .bind(now)
                        .bind(&current.referral.id)
                        .execute(&mut *conn)
                        .await?;
                        Ok((current.id.clone(), current.referral.id.clone()))
                    }
                    ConversationChange::Begin(state) => {
                        if let Some(previous) = &snapshot.current {
                            sqlx::query("UPDATE conversations SET is_current = FALSE WHERE id = $1")
                                .bind(&previous.id)
                                .execute(&mut *conn)
                                .await?;
                        }
                        let referral_id: $crate::domain::id::ReferralId = new_id();
                        Self::insert_referral(
                            &mut *conn,
                            fields,
                            &referral_id,
                            new_reference,
                            Some(phone),
                            $crate::domain::referral::ReferralSource::Sms,
                            at,
                        )
                        .await?;
                        let conversation_id: $crate::domain::id::ConversationId = new_id();
                        sqlx::query(
                            "INSERT INTO conversations (id, phone, referral_id, state, step, status, \
                             is_current, last_text_at, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7)",
                        )
                        .bind(&conversation_id)
                        .bind(phone)
                        .bind(&referral_id)
                        .bind(to_json_text(state)?)
                        .bind(state.step.id())
                        .bind(state.status.as_str())
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                        Ok((conversation_id, referral_id))
                    }
                }
            }
        }
    };
}

pub(super) use shared_impl;
