//! A webhook answers inside the provider's timeout: a text that cannot be stored within
//! `CRHT_WEBHOOK_DEADLINE` is answered 503 with `Retry-After` (Twilio then tries the fallback
//! URL), and is still never lost nor stored twice: the storing carries on, and the provider's
//! retry is recognised by its id and answered.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::helpers::{Engine, FakeNotify, TestApp, spawn_app_with_env};
use crate::on_both_engines;

on_both_engines!(a_text_held_up_past_the_deadline_is_a_503_and_its_retry_is_stored_once);

const MOBILE: &str = "+447911123456";
const SID: &str = "SM0000000000000000000000000000dead";

fn two_seconds(config: &mut crht_gateway::config::Config) {
    config.webhook_deadline = Duration::from_secs(2);
}

/// Holds what every text from `MOBILE` must wait for: SQLite's write lock (another
/// connection in `BEGIN IMMEDIATE`) or, on PostgreSQL, the number's advisory lock.
enum Held {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

async fn hold_the_lock(app: &TestApp) -> Held {
    match app.engine() {
        Engine::Sqlite => Held::Sqlite(app.hold_sqlite_write_lock().await),
        Engine::Postgres(_) => {
            let mut db = sqlx::PgConnection::connect(app.database_url())
                .await
                .unwrap();
            sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
                .bind(MOBILE)
                .execute(&mut db)
                .await
                .unwrap();
            Held::Postgres(db)
        }
    }
}

async fn release(held: Held) {
    match held {
        Held::Sqlite(mut db) => {
            sqlx::raw_sql("ROLLBACK").execute(&mut db).await.unwrap();
        }
        Held::Postgres(mut db) => {
            sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut db)
                .await
                .unwrap();
        }
    }
}

async fn a_text_held_up_past_the_deadline_is_a_503_and_its_retry_is_stored_once(engine: Engine) {
    let notify = FakeNotify::start().await;
    let mut env = notify.env();
    // Twilio sends; Notify here only receives.
    env.retain(|(k, _)| k != "CRHT_SMS_PROVIDER");
    let app = spawn_app_with_env(engine, two_seconds, false, env).await;
    let held = hold_the_lock(&app).await;

    let started = Instant::now();
    let twilio = app
        .post_signed(
            "/webhooks/twilio/sms",
            &[("MessageSid", SID), ("From", MOBILE), ("Body", "hello")],
        )
        .await;
    let waited = started.elapsed();
    assert_eq!(twilio.status().as_u16(), 503);
    assert!(
        twilio.headers().contains_key("retry-after"),
        "{:?}",
        twilio.headers()
    );
    // Answered by the deadline, not by SQLite's 10 s busy timeout nor Twilio's 15 s.
    assert!(waited < Duration::from_secs(8), "{waited:?}");
    let notify_status = notify
        .receive(&app.base, "notify-held-1", "447911123456", "hello again")
        .await;
    assert_eq!(notify_status, 503);

    release(held).await;
    // The provider tries again (Twilio, or its fallback URL on another replica): the text
    // was stored by the first try after all, or is stored now; either way once, answered.
    let retry = app.text_with_sid(MOBILE, "hello", SID).await;
    assert_eq!(retry.status, 200, "{}", retry.raw);
    assert!(!retry.texts.is_empty(), "answered: {}", retry.raw);
    let again = app.text_with_sid(MOBILE, "hello", SID).await;
    assert_eq!(again.texts, retry.texts, "a repeat gets the same answer");
    assert_eq!(
        notify
            .receive(&app.base, "notify-held-1", "447911123456", "hello again")
            .await,
        204
    );
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM texts WHERE direction = 'inbound' AND provider_id = '{SID}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM texts WHERE direction = 'inbound' \
             AND provider_id = 'notify-held-1'"
        )
        .await,
        1
    );
    app.stop().await;
}
