//! When the database itself is the problem — out of room, out of connections, not taking
//! writes yet, locked — the gateway answers 503 with `Retry-After`, as it does when the
//! database cannot be reached, never a 500: staff try again, the provider retries the text.
//! The errors are real ones raised by the test's own database.

use serde_json::json;

use crate::helpers::{Engine, FakeNotify, TestApp, spawn_app, spawn_app_with_env};
use crate::on_both_engines;

on_both_engines!(
    a_staff_write_the_database_cannot_take_now_is_a_503_with_retry_after,
    a_text_the_database_cannot_store_is_a_503_and_its_retry_is_stored_once,
);

/// PostgreSQL: every insert into `table` raises SQLSTATE `code`, as a full disk (53100), a
/// server out of memory (53200) or connections (53300), or one not ready (55000, 57P03) would.
async fn raise_on_insert(app: &TestApp, table: &str, code: &str) {
    app.execute_sql(&[
        format!(
            "CREATE OR REPLACE FUNCTION refuse_for_now() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'no room' USING ERRCODE = '{code}'; END $$"
        ),
        format!("DROP TRIGGER IF EXISTS refuse_for_now ON {table}"),
        format!(
            "CREATE TRIGGER refuse_for_now BEFORE INSERT ON {table} \
             FOR EACH ROW EXECUTE FUNCTION refuse_for_now()"
        ),
    ])
    .await;
}

fn assert_retry_later(response: &reqwest::Response, what: &str) {
    assert_eq!(response.status().as_u16(), 503, "{what}");
    assert!(
        response.headers().get("retry-after").is_some_and(|v| v
            .to_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()),
        "{what}: Retry-After in seconds: {:?}",
        response.headers()
    );
}

async fn create_patient(app: &TestApp) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/patients"))
        .bearer_auth(&app.scheduler)
        .json(&json!({"name": "Sam Taylor", "mobile": "07911 123456"}))
        .send()
        .await
        .unwrap()
}

async fn a_staff_write_the_database_cannot_take_now_is_a_503_with_retry_after(engine: Engine) {
    let app = spawn_app(engine).await;
    match app.engine() {
        Engine::Postgres(_) => {
            for code in ["53100", "53200", "53300", "55000", "57P03"] {
                raise_on_insert(&app, "patients", code).await;
                let response = create_patient(&app).await;
                assert_retry_later(&response, code);
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
                let problem: serde_json::Value = response.json().await.unwrap();
                assert_eq!(problem["status"], 503, "{code}: {problem}");
            }
            // A rule the request breaks is still the request's: not a 503.
            raise_on_insert(&app, "patients", "23514").await;
            assert_eq!(create_patient(&app).await.status().as_u16(), 500);
        }
        Engine::Sqlite => {
            // Another process holds SQLite's write lock past the gateway's busy timeout:
            // SQLITE_BUSY.
            let mut other = app.hold_sqlite_write_lock().await;
            let response = create_patient(&app).await;
            assert_retry_later(&response, "SQLITE_BUSY");
            sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
        }
    }
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM patients").await, 0);
    // With the database able again, the same request goes through.
    app.execute_sql(&match app.engine() {
        Engine::Postgres(_) => vec!["DROP TRIGGER refuse_for_now ON patients"],
        Engine::Sqlite => vec!["SELECT 1"],
    })
    .await;
    assert_eq!(create_patient(&app).await.status().as_u16(), 201);
    app.stop().await;
}

/// A person's text the store cannot keep is a 503 on both webhooks, whatever the store's
/// failure (a full disk on PostgreSQL; on SQLite a trigger refusing the row, which would
/// otherwise be a 500); once the store is able, the provider's retry is stored once.
async fn a_text_the_database_cannot_store_is_a_503_and_its_retry_is_stored_once(engine: Engine) {
    let notify = FakeNotify::start().await;
    let mut env = notify.env();
    // Twilio stays the sending provider: Notify here only receives.
    env.retain(|(k, _)| k != "CRHT_SMS_PROVIDER" && k != "CRHT_SMS_PROVIDERS");
    let app = spawn_app_with_env(engine, |_| {}, false, env).await;
    match app.engine() {
        Engine::Postgres(_) => raise_on_insert(&app, "texts", "53100").await,
        Engine::Sqlite => {
            app.execute_sql(&["CREATE TRIGGER refuse_for_now BEFORE INSERT ON texts \
                 BEGIN SELECT RAISE(ABORT, 'the store fails here'); END"])
                .await
        }
    }
    let twilio = app
        .post_signed(
            "/webhooks/twilio/sms",
            &[
                ("MessageSid", "SM00000000000000000000000000000001"),
                ("From", "+447911123456"),
                ("Body", "hello"),
            ],
        )
        .await;
    assert_retry_later(&twilio, "Twilio's webhook");
    let notify_status = notify
        .receive(&app.base, "notify-text-1", "447911654321", "hello")
        .await;
    assert_eq!(notify_status, 503, "Notify's webhook");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM texts").await, 0);

    app.execute_sql(&[match app.engine() {
        Engine::Postgres(_) => "DROP TRIGGER refuse_for_now ON texts",
        Engine::Sqlite => "DROP TRIGGER refuse_for_now",
    }])
    .await;
    for _ in 0..2 {
        let reply = app
            .text_with_sid(
                "+447911123456",
                "hello",
                "SM00000000000000000000000000000001",
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.raw);
        assert_eq!(
            notify
                .receive(&app.base, "notify-text-1", "447911654321", "hello")
                .await,
            204
        );
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM texts WHERE direction = 'inbound'")
            .await,
        2,
        "each text once"
    );
    app.stop().await;
}
