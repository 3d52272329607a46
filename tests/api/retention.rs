//! Retention forgets the words everywhere (README "Retention", hazard H-16): once a referral
//! has been closed, and a patient discharged, for `CRHT_RETENTION_DAYS`, no word the person
//! wrote, nor staff wrote about them, is left in any column of any table — found by asking
//! the database for its own list of tables and columns, so a table added later is searched
//! too. An open referral and a patient under care of the same age keep every word.

use chrono::TimeDelta;
use crht_gateway::clock::Clock;
use serde_json::json;
use sqlx::{Connection, Row};

use crate::helpers::{Engine, TestApp, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(a_closed_referral_and_a_patient_out_of_care_keep_none_of_their_words);

const PHONE: &str = "+447911123481";
const OPEN_PHONE: &str = "+447911123483";
const CARED_FOR_MOBILE: &str = "+447911123484";

/// What the closed referral's texter, its patient and the staff around them wrote: none may
/// outlive the retention period.
const FORGOTTEN: &[&str] = &[
    "quillonby",    // the texter's name
    "zarquonish",   // their situation
    "moonbeamery",  // anything else
    "velvetinely",  // a text after the referral, in its thread
    "copperleafed", // a clinician's text back
    "brambletonia", // the note closing the referral
    "gingerwhisk",  // the patient's notes
    "saffronhilly", // their safety plan
    "periwinkled",  // an update sent to them (by letter)
    "lanternfishy", // a text from the patient
    "dandelionish", // staff's note closing its inbox item
    "marigoldery",  // the note discharging the patient
];

/// What the open referral and the patient under care said: all kept.
const KEPT: &[&str] = &["tamarindle", "oxbowish", "juniperous", "halcyonic"];

fn ninety_days(config: &mut crht_gateway::config::Config) {
    config.retention_days = 90;
}

async fn a_closed_referral_and_a_patient_out_of_care_keep_none_of_their_words(engine: Engine) {
    let mut app = spawn_app_with(engine, ninety_days, true).await;

    // A referral by text, with a thread text, a text back, closed with a note.
    let referral = referral_saying(&mut app, PHONE, "Quillonby", "zarquonish", "moonbeamery").await;
    app.text(PHONE, "still velvetinely awake").await;
    let path = format!("/referrals/{referral}/messages");
    let (status, body) = app
        .post_json(
            &app.clinician,
            &path,
            json!({"text": "copperleafed: we will call"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // The patient made from it, with notes, a safety plan, an update by letter, and a text.
    let (status, patient) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{referral}/patient"),
            json!({}),
        )
        .await;
    assert!(status == 201 || status == 200, "{status}: {patient}");
    let patient = patient["id"].as_str().unwrap().to_owned();
    under_care_words(&app, &patient, "gingerwhisk", "saffronhilly", "periwinkled").await;
    app.text(PHONE, "lanternfishy here").await;
    // Staff deal with the texts in the inbox (with a note of their own), and post the
    // letter: an open item or task keeps a referral or patient in care.
    let (_, inbox) = app.get(&app.clinician, "/inbox?status=open").await;
    for item in inbox["items"].as_array().unwrap() {
        let (status, body) = app
            .post_json(
                &app.clinician,
                &format!("/inbox/{}/close", item["id"].as_str().unwrap()),
                json!({"note": "rang back, dandelionish"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    post_their_letters(&app, &patient).await;
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{referral}/status"),
            json!({"status": "closed", "note": "brambletonia: seen at home"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Discharged: the feedback request goes two days later, and the record is quiet after.
    let (status, body) = app
        .post_json(
            &app.clinician,
            &format!("/patients/{patient}/discharge"),
            json!({"note": "marigoldery: back with their GP"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.advance(TimeDelta::days(3));
    app.app.sweep().await.unwrap();
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM feedback_requests WHERE patient_id = '{patient}' AND status = 'sent'"
        ))
        .await,
        1,
        "the feedback request has gone"
    );
    post_their_letters(&app, &patient).await;

    // The same age: a referral still open, and a patient with an appointment to come.
    referral_saying(&mut app, OPEN_PHONE, "Tamarindle", "oxbowish", "fine").await;
    let cared_for = app
        .create_patient(json!({"name": "Alex Jones", "mobile": CARED_FOR_MOBILE,
            "address": {"lines": ["1 Park Row", "Leeds"], "postcode": "LS1 4DY"},
            "contact_preferences": {"update": ["letter"]}}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    under_care_words(&app, &cared_for, "juniperous", "halcyonic", "halcyonic").await;
    app.book_appointment(
        &cared_for,
        json!({"starts_at": (app.clock.as_ref().unwrap().now() + TimeDelta::days(120)).to_rfc3339(),
            "place": "home", "kind": "home_visit"}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    for word in FORGOTTEN.iter().chain(KEPT) {
        assert!(
            !places_holding(&app, word).await.is_empty(),
            "{word} is stored before the sweep (else this test proves nothing)"
        );
    }

    app.advance(TimeDelta::days(89));
    app.app.sweep().await.unwrap();
    for word in FORGOTTEN {
        assert!(
            !places_holding(&app, word).await.is_empty(),
            "{word} is kept within the retention period"
        );
    }

    app.advance(TimeDelta::days(2));
    app.app.sweep().await.unwrap();
    for word in FORGOTTEN {
        let places = places_holding(&app, word).await;
        assert!(places.is_empty(), "{word} outlived retention in {places:?}");
    }
    for word in KEPT {
        assert!(
            !places_holding(&app, word).await.is_empty(),
            "{word}: an open referral or a patient under care keeps its words"
        );
    }
    // Letters' PDFs (compressed, so not searchable as text) are gone with the words.
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM tasks WHERE patient_id = '{patient}' AND pdf IS NOT NULL"
        ))
        .await,
        0
    );
    // What is kept: the reference, status, flags, the kept choices, the record's shape.
    let kept = app.referral(&referral).await;
    assert_eq!(kept["status"], "closed");
    assert!(kept["reference"].as_str().unwrap().starts_with("CRHT-"));
    assert_eq!(kept["answers"]["relationship"], "self", "{kept}");
    let transcript = app.transcript(&referral).await;
    assert!(
        transcript["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["body"].is_null() && t["at"].is_string()),
        "{transcript}"
    );
    let (status, _) = app
        .get(&app.clinician, &format!("/patients/{patient}"))
        .await;
    assert_eq!(status, 200, "the patient's record still reads");
    let (status, body) = app
        .get(
            &app.admin,
            &format!("/conversations/{}", crate::helpers::urlencode(PHONE)),
        )
        .await;
    assert_eq!(status, 200, "the conversation still reads: {body}");
    app.stop().await;
}

/// Staff post the patient's letters on the print list: an open task keeps them in care.
async fn post_their_letters(app: &TestApp, patient: &str) {
    let (_, tasks) = app.get(&app.scheduler, "/tasks?status=open").await;
    for task in tasks["items"].as_array().unwrap() {
        if task["patient_id"] == patient {
            let (status, body) = app
                .post_json(
                    &app.scheduler,
                    &format!("/tasks/{}/complete", task["id"].as_str().unwrap()),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }
}

/// A self-referral from `phone` giving these words as name, situation and anything else;
/// its id.
async fn referral_saying(
    app: &mut TestApp,
    phone: &str,
    name: &str,
    situation: &str,
    anything_else: &str,
) -> String {
    let situation = format!("{situation} and not sleeping");
    let anything_else = format!("{anything_else} too");
    let steps = [
        ("relationship", "1"),
        ("name", name),
        ("age", "34"),
        ("postcode", "ls14dy"),
        ("safety", "1"),
        ("situation", situation.as_str()),
        ("contact_method", "2"),
        ("language", "no"),
        ("access_needs", "no"),
        ("anything_else", anything_else.as_str()),
        ("confirm", "yes"),
    ];
    let reply = app.start_referral(phone, &steps).await;
    assert!(reply.text().contains("CRHT-"), "{}", reply.text());
    app.referral_id_of(phone).await
}

/// Notes, a safety plan and an update by letter for the patient, in these words.
async fn under_care_words(app: &TestApp, patient: &str, notes: &str, plan: &str, update: &str) {
    let (status, body) = app
        .patch_json(
            &app.clinician,
            &format!("/patients/{patient}"),
            json!({"notes": format!("{notes} prefers mornings"),
                "contact_preferences": {"update": ["letter"]},
                "address": {"lines": ["1 Park Row", "Leeds"], "postcode": "LS1 4DY"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let response = app
        .http
        .put(app.url(&format!("/api/v1/patients/{patient}/safety-plan")))
        .bearer_auth(&app.clinician)
        .json(&json!({"reasons_for_living": [format!("My dog {plan}")]}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, body) = app
        .post_json(
            &app.scheduler,
            &format!("/patients/{patient}/messages"),
            json!({"purpose": "update", "text": format!("{update} is your new worker")}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}

/// Every `table.column` of the test's database holding `word` (any case), from the
/// database's own list of tables and columns.
async fn places_holding(app: &TestApp, word: &str) -> Vec<String> {
    let pattern = format!("%{word}%");
    let mut places = Vec::new();
    match app.engine() {
        Engine::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(app.database_url())
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&mut db)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(&mut db)
                        .await
                        .unwrap();
                for column in columns {
                    let sql = format!(
                        "SELECT COUNT(*) FROM \"{table}\" WHERE CAST(\"{column}\" AS TEXT) LIKE $1"
                    );
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(&pattern)
                        .fetch_one(&mut db)
                        .await
                        .unwrap();
                    if n > 0 {
                        places.push(format!("{table}.{column}"));
                    }
                }
            }
        }
        Engine::Postgres(_) => {
            let mut db = sqlx::PgConnection::connect(app.database_url())
                .await
                .unwrap();
            let columns = sqlx::query(
                "SELECT table_schema, table_name, column_name, data_type \
                 FROM information_schema.columns c \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
                 AND EXISTS (SELECT 1 FROM information_schema.tables t \
                     WHERE t.table_schema = c.table_schema AND t.table_name = c.table_name \
                     AND t.table_type = 'BASE TABLE')",
            )
            .fetch_all(&mut db)
            .await
            .unwrap();
            for row in columns {
                let (schema, table, column, kind): (String, String, String, String) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                let value = if kind == "bytea" {
                    format!("encode(\"{column}\", 'escape')")
                } else {
                    format!("\"{column}\"::text")
                };
                let sql =
                    format!("SELECT COUNT(*) FROM \"{schema}\".\"{table}\" WHERE {value} ILIKE $1");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(&pattern)
                    .fetch_one(&mut db)
                    .await
                    .unwrap();
                if n > 0 {
                    places.push(format!("{schema}.{table}.{column}"));
                }
            }
        }
    }
    places
}
