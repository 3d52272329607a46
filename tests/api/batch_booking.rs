//! Booking a clinic's list at once (`POST /appointments/batch`), and moving a backlog of
//! reminders into the job queue exactly once.

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_batch_books_every_item_with_its_reminders_and_an_audit_entry_each,
    one_bad_item_refuses_the_batch_naming_it_and_nothing_is_stored,
    an_unknown_patient_is_named_by_its_item_and_nothing_is_stored,
    every_role_that_books_may_book_a_batch_and_no_one_else,
    more_than_a_thousand_items_are_refused_with_a_clear_problem,
    due_reminders_are_queued_exactly_once_when_two_sweeps_race,
);

fn passport(i: usize) -> Value {
    json!({"name": format!("Batch Patient {i}"), "mobile": format!("07911 1{:05}", 20_000 + i)})
}

async fn patients(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let patient = app.create_patient(passport(i)).await;
        ids.push(patient["id"].as_str().unwrap().to_owned());
    }
    ids
}

fn in_days(days: i64) -> String {
    (Utc::now() + TimeDelta::days(days)).to_rfc3339()
}

fn home_visit(patient_id: &str, days: i64) -> Value {
    json!({"patient_id": patient_id, "starts_at": in_days(days), "place": "home", "kind": "home_visit"})
}

async fn book_batch(app: &TestApp, token: &str, items: Vec<Value>) -> (u16, Value) {
    app.post_json(token, "/appointments/batch", json!({"appointments": items}))
        .await
}

async fn appointments_stored(app: &TestApp) -> (i64, i64) {
    (
        app.sql_count("SELECT COUNT(*) FROM appointments").await,
        app.sql_count("SELECT COUNT(*) FROM reminders").await,
    )
}

async fn a_batch_books_every_item_with_its_reminders_and_an_audit_entry_each(engine: Engine) {
    let app = spawn_app(engine).await;
    let ids = patients(&app, 2).await;
    let items = vec![
        home_visit(&ids[0], 3),
        json!({"patient_id": ids[1], "starts_at": in_days(5), "place": "site",
               "site_name": "  Becklin Centre ", "kind": "review", "staff_name": "Dr Okafor"}),
        // Three hours away: its 24-hour reminder has passed, as for a single booking.
        json!({"patient_id": ids[0], "starts_at": (Utc::now() + TimeDelta::minutes(180)).to_rfc3339(),
               "place": "home", "kind": "assessment"}),
    ];
    let (status, booked) = book_batch(&app, &app.scheduler, items).await;
    assert_eq!(status, 201, "{booked}");
    let booked = booked.as_array().expect("a list of appointments");
    assert_eq!(booked.len(), 3);
    assert_eq!(booked[0]["patient_id"], ids[0].as_str());
    assert_eq!(booked[0]["kind"], "home_visit");
    assert_eq!(booked[1]["patient_id"], ids[1].as_str());
    assert_eq!(
        booked[1]["site_name"], "Becklin Centre",
        "trimmed as a single booking is"
    );
    assert_eq!(booked[1]["staff_name"], "Dr Okafor");
    assert_eq!(booked[2]["kind"], "assessment");
    for appointment in booked {
        assert_eq!(appointment["status"], "booked");
        let reminders = appointment["reminders"].as_array().unwrap();
        assert_eq!(reminders.len(), 2, "{appointment}");
        assert_eq!(reminders[0]["offset_seconds"], 86400);
        assert_eq!(reminders[1]["offset_seconds"], 7200);
        // The same JSON as the appointment read back on its own.
        let (status, stored) = app
            .get(
                &app.scheduler,
                &format!("/appointments/{}", appointment["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(&stored, appointment);
    }
    assert_eq!(booked[0]["reminders"][0]["status"], "pending");
    assert_eq!(booked[2]["reminders"][0]["status"], "skipped");
    assert_eq!(booked[2]["reminders"][0]["reason"], "already_passed");
    assert_eq!(booked[2]["reminders"][1]["status"], "pending");
    // Every reminder is further ahead than the queue's horizon (ten minutes): each waits in
    // its table for the sweep, as a single booking's does.
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM reminders WHERE job_id IS NOT NULL")
            .await,
        0
    );
    let booked_ids: Vec<String> = booked
        .iter()
        .map(|a| format!("appointment:{}", a["id"].as_str().unwrap()))
        .collect();
    let audit = app.audit_entries().await;
    for target in &booked_ids {
        let entries: Vec<&Value> = audit
            .iter()
            .filter(|e| e["action"] == "appointment.book" && e["target"] == target.as_str())
            .collect();
        assert_eq!(entries.len(), 1, "one entry for {target}: {audit:?}");
        assert_eq!(entries[0]["role"], "scheduler");
    }
    app.stop().await;
}

async fn one_bad_item_refuses_the_batch_naming_it_and_nothing_is_stored(engine: Engine) {
    let app = spawn_app(engine).await;
    let ids = patients(&app, 1).await;
    let id = ids[0].as_str();
    let items = vec![
        home_visit(id, 2),
        json!({"patient_id": id, "starts_at": in_days(-1), "place": "home", "kind": "review"}),
        home_visit(id, 3),
        json!({"patient_id": id, "starts_at": in_days(4), "place": "site", "kind": "review"}),
        json!({"patient_id": id, "starts_at": in_days(4), "place": "home", "kind": "picnic"}),
    ];
    let (status, problem) = book_batch(&app, &app.clinician, items).await;
    assert_eq!(status, 422, "{problem}");
    let named: Vec<(u64, &str)> = problem["errors"]
        .as_array()
        .expect("each bad item named")
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        vec![(1, "starts_at"), (3, "site_name"), (4, "kind")],
        "{problem}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("item 1 (starts_at)"), "{detail}");
    assert!(detail.contains("nothing was stored"), "{detail}");
    assert_eq!(appointments_stored(&app).await, (0, 0));
    assert!(
        !app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "appointment.book"),
        "nothing booked, nothing audited"
    );
    app.stop().await;
}

async fn an_unknown_patient_is_named_by_its_item_and_nothing_is_stored(engine: Engine) {
    let app = spawn_app(engine).await;
    let ids = patients(&app, 1).await;
    let items = vec![
        home_visit(&ids[0], 2),
        home_visit(&ids[0], 3),
        home_visit("01JNOSUCHPATIENT0000000000", 3),
    ];
    let (status, problem) = book_batch(&app, &app.scheduler, items).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["index"], 2, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "patient_id");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1);
    assert_eq!(appointments_stored(&app).await, (0, 0));
    app.stop().await;
}

async fn every_role_that_books_may_book_a_batch_and_no_one_else(engine: Engine) {
    let app = spawn_app(engine).await;
    let ids = patients(&app, 1).await;
    for token in [&app.scheduler, &app.clinician, &app.admin] {
        let (status, body) = book_batch(&app, token, vec![home_visit(&ids[0], 2)]).await;
        assert_eq!(status, 201, "{body}");
    }
    let response = app
        .http
        .post(app.url("/api/v1/appointments/batch"))
        .json(&json!({"appointments": [home_visit(&ids[0], 2)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "no token, no booking");
    let (status, _) = book_batch(&app, "not-a-token", vec![home_visit(&ids[0], 2)]).await;
    assert_eq!(status, 401);
    assert_eq!(appointments_stored(&app).await.0, 3);
    app.stop().await;
}

async fn more_than_a_thousand_items_are_refused_with_a_clear_problem(engine: Engine) {
    let app = spawn_app(engine).await;
    let ids = patients(&app, 1).await;
    let items: Vec<Value> = (0..1001).map(|_| home_visit(&ids[0], 2)).collect();
    let (status, problem) = book_batch(&app, &app.scheduler, items).await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("at most 1000") && detail.contains("1001"),
        "{detail}"
    );
    let (status, problem) = book_batch(&app, &app.scheduler, Vec::new()).await;
    assert_eq!(status, 422, "an empty batch: {problem}");
    assert_eq!(appointments_stored(&app).await, (0, 0));
    let openapi = app.openapi().await;
    assert!(
        openapi["paths"]["/api/v1/appointments/batch"]["post"].is_object(),
        "documented"
    );
    app.stop().await;
}

/// A thousand appointments (two thousand reminders, more than one sweep's batch) moved into
/// the queue by two sweeps at once: on PostgreSQL they run on two connections and race for
/// the same rows. Each reminder ends with exactly one job, and the job its row names exists.
async fn due_reminders_are_queued_exactly_once_when_two_sweeps_race(engine: Engine) {
    let app = spawn_app(engine).await;
    let ids = patients(&app, 10).await;
    let items: Vec<Value> = (0..1000)
        .map(|i| home_visit(&ids[i % ids.len()], 20 + (i as i64 % 7)))
        .collect();
    let (status, booked) = book_batch(&app, &app.scheduler, items).await;
    assert_eq!(status, 201, "{booked}");
    assert_eq!(booked.as_array().unwrap().len(), 1000);
    let store = app.app.store().clone();
    let until = Utc::now() + TimeDelta::days(60);
    let (a, b) = tokio::join!(
        store.queue_due_reminders(until),
        store.queue_due_reminders(until)
    );
    let (a, b) = (a.expect("first sweep"), b.expect("second sweep"));
    assert_eq!(a + b, 2000, "each reminder queued by one sweep ({a} + {b})");
    assert_eq!(store.queue_due_reminders(until).await.unwrap(), 0);
    let jobs = app.jobs_table();
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM {jobs} WHERE job_type = 'reminders'"
        ))
        .await,
        2000,
        "one job per reminder"
    );
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM reminders r JOIN {jobs} j ON j.id = r.job_id \
             WHERE r.status = 'pending'"
        ))
        .await,
        2000,
        "every reminder names the job that exists"
    );
    app.stop().await;
}
