//! Every read of personal data is audited with who made it (the token's id and its user's),
//! a list read names the records it showed, and the lists of patients, a patient's messages
//! and their appointments page with cursors.

use chrono::TimeDelta;
use crht_gateway::config_check::load_teams;
use crht_gateway::domain::role::Role;
use crht_gateway::staff::{Accounts, NewToken, NewUser, Password, operator};
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, spawn_app, urlencode};
use crate::on_both_engines;

on_both_engines!(
    every_read_of_personal_data_is_audited_with_its_token_and_user,
    a_look_up_of_a_number_never_seen_is_audited_without_the_number,
    a_list_read_names_exactly_the_ids_on_its_page,
    two_tokens_with_one_name_are_told_apart_by_their_ids,
    patients_messages_and_appointments_walk_two_at_a_time_each_once_in_order,
);

fn accounts(app: &TestApp) -> Accounts {
    Accounts::new(app.app.store().clone(), app.app.state.clock.clone())
}

/// An account, and a token of its own in `role`: (user id, token id, secret).
async fn person_with_token(app: &TestApp, email: &str, role: Role) -> (String, String, String) {
    let teams = load_teams(&app.app.state.config).unwrap();
    let created = accounts(app)
        .create_user(
            &operator(),
            NewUser {
                email: email.into(),
                name: "Ann Example".into(),
                role,
                teams: vec![],
            },
            Some(Password::new("correct horse battery staple").unwrap()),
            &teams,
        )
        .await
        .unwrap();
    let token = accounts(app)
        .create_token(NewToken {
            name: "laptop".into(),
            role,
            owner_email: Some(email.into()),
            expires_in: Some(TimeDelta::hours(8)),
        })
        .await
        .unwrap();
    (created.user.id, token.id, token.secret)
}

/// The audit entries made with this token, newest first.
async fn entries_of_token(app: &TestApp, token_id: &str) -> Vec<Value> {
    let (status, list) = app
        .get(
            &app.admin,
            &format!("/audit?token_id={}", urlencode(token_id)),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().unwrap().clone()
}

/// The one entry with this action and target; fails when there is none or more than one.
fn entry<'a>(entries: &'a [Value], action: &str, target: &str) -> &'a Value {
    let found: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == action && e["target"] == target)
        .collect();
    assert_eq!(found.len(), 1, "{action} {target}: {entries:#?}");
    found[0]
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A record's ids as the audit entry of a list read holds them.
fn records(entry: &Value) -> Vec<String> {
    match entry["records"].as_str() {
        Some("") | None => Vec::new(),
        Some(text) => text.split(',').map(str::to_owned).collect(),
    }
}

/// The token id of one of the test app's own tokens, by its name.
async fn token_id_named(app: &TestApp, name: &str) -> String {
    let (status, list) = app.get(&app.admin, "/tokens").await;
    assert_eq!(status, 200, "{list}");
    let items = list
        .as_array()
        .or_else(|| list["items"].as_array())
        .unwrap();
    items
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no token {name}: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn passport(name: &str, mobile: &str) -> Value {
    json!({
        "name": name,
        "mobile": mobile,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "ls1 4dy"},
    })
}

async fn every_read_of_personal_data_is_audited_with_its_token_and_user(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let (user_id, token_id, secret) =
        person_with_token(&app, "ann@example.org", Role::Clinician).await;

    let patient = app
        .create_patient(passport("Sam Taylor", "07911 123456"))
        .await;
    let patient_id = patient["id"].as_str().unwrap().to_owned();
    let (status, update) = app.send_update(&patient_id, "We will call at ten.").await;
    assert_eq!(status, 202, "{update}");
    let (status, letter) = app
        .send_message(
            &patient_id,
            json!({"purpose": "non_urgent", "text": "Your review is booked with your GP."}),
        )
        .await;
    assert_eq!(status, 202, "{letter}");
    let starts_at = (chrono::Utc::now() + TimeDelta::days(3)).to_rfc3339();
    let appointment = app
        .book_appointment(
            &patient_id,
            json!({"starts_at": starts_at, "place": "home", "kind": "home_visit"}),
        )
        .await;
    let appointment_id = appointment["id"].as_str().unwrap().to_owned();
    app.execute_sql(&[
        "INSERT INTO inbox_items (id, kind, urgent, summary, status, created_at) \
         VALUES ('item-1', 'patient_text', false, 'A text', 'open', \
         '2026-03-01T09:00:00.000000Z')",
    ])
    .await;
    app.text("+447911123999", "hello").await;
    let referral_id = app.referral_id_of("+447911123999").await;

    // Every read, with the person's own token.
    let get = |path: String| {
        let app = &app;
        let secret = &secret;
        async move {
            let (status, body) = app.get(secret, &path).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    get(format!("/patients/{patient_id}")).await;
    let patients = get("/patients".into()).await;
    let messages = get(format!("/patients/{patient_id}/messages")).await;
    let appointments = get(format!("/patients/{patient_id}/appointments")).await;
    get(format!("/appointments/{appointment_id}")).await;
    let tasks = get("/tasks?kind=letter".into()).await;
    let task_id = tasks["items"][0]["id"]
        .as_str()
        .expect("a letter task")
        .to_owned();
    let response = app
        .http
        .get(app.url(&format!("/api/v1/tasks/{task_id}/letter.pdf")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let inbox = get("/inbox".into()).await;
    get(format!("/conversations/{}", urlencode("+447911123999"))).await;
    let referrals = get("/referrals".into()).await;
    get(format!("/referrals/{referral_id}")).await;
    get(format!("/referrals/{referral_id}/transcript")).await;

    let entries = entries_of_token(&app, &token_id).await;
    let patient_target = format!("patient:{patient_id}");
    let expected = [
        ("patient.read", patient_target.clone()),
        ("patient.list", "patients".to_owned()),
        ("message.list", patient_target.clone()),
        ("appointment.list", patient_target.clone()),
        ("appointment.read", format!("appointment:{appointment_id}")),
        ("task.list", "tasks".to_owned()),
        ("letter.read", format!("task:{task_id}")),
        ("inbox.read", "inbox".to_owned()),
        ("conversation.read", format!("referral:{referral_id}")),
        ("referral.list", "referrals?status=open".to_owned()),
        ("referral.read", format!("referral:{referral_id}")),
        ("transcript.read", format!("referral:{referral_id}")),
    ];
    for (action, target) in &expected {
        let e = entry(&entries, action, target);
        assert_eq!(e["token_id"], token_id.as_str(), "{e}");
        assert_eq!(e["user_id"], user_id.as_str(), "{e}");
        // A person's token acts as them: the entry names the person, the token id says which.
        assert_eq!(e["actor"], "Ann Example", "{e}");
        assert_eq!(e["role"], "clinician", "{e}");
    }
    assert_eq!(entries.len(), expected.len(), "{entries:#?}");

    // The lists name what they showed.
    let shown = |action: &str, target: &str| records(entry(&entries, action, target));
    assert_eq!(shown("patient.list", "patients"), ids(&patients));
    assert_eq!(shown("message.list", &patient_target), ids(&messages));
    assert_eq!(ids(&messages).len(), 2);
    assert_eq!(
        shown("appointment.list", &patient_target),
        ids(&appointments)
    );
    assert_eq!(shown("task.list", "tasks"), ids(&tasks));
    assert_eq!(shown("inbox.read", "inbox"), ids(&inbox));
    assert_eq!(
        shown("referral.list", "referrals?status=open"),
        ids(&referrals)
    );
    assert!(entry(&entries, "patient.read", &patient_target)["records"].is_null());

    // The same entries by user, and in the CSV export.
    let (status, by_user) = app
        .get(
            &app.admin,
            &format!("/audit?user_id={}", urlencode(&user_id)),
        )
        .await;
    assert_eq!(status, 200, "{by_user}");
    assert_eq!(by_user["items"].as_array().unwrap().len(), expected.len());
    let csv = app
        .http
        .get(app.url(&format!(
            "/api/v1/audit/export.csv?token_id={}",
            urlencode(&token_id)
        )))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains(&format!(
            ",Ann Example,clinician,patient.read,{patient_target},{token_id},{user_id},"
        )),
        "{csv}"
    );
    // A token of a service has no user.
    let clinician_token = token_id_named(&app, "clinician-cal").await;
    app.get(&app.clinician, &format!("/patients/{patient_id}"))
        .await;
    let service = entries_of_token(&app, &clinician_token).await;
    let read = entry(&service, "patient.read", &patient_target);
    assert!(read["user_id"].is_null(), "{read}");
    app.stop().await;
}

async fn a_look_up_of_a_number_never_seen_is_audited_without_the_number(engine: Engine) {
    let app = spawn_app(engine).await;
    let clinician = token_id_named(&app, "clinician-cal").await;
    let (status, body) = app
        .get(
            &app.clinician,
            &format!("/conversations/{}", urlencode("+447700900123")),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let entries = entries_of_token(&app, &clinician).await;
    let e = entry(&entries, "conversation.read", "conversation:none");
    assert_eq!(e["actor"], "clinician-cal");
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("7700900123"), "{text}");
    app.stop().await;
}

async fn a_list_read_names_exactly_the_ids_on_its_page(engine: Engine) {
    let app = spawn_app(engine).await;
    let scheduler = token_id_named(&app, "scheduler-sam").await;
    for (i, name) in ["Ada One", "Bo Two", "Cy Three"].iter().enumerate() {
        app.create_patient(passport(name, &format!("07911 12340{i}")))
            .await;
    }
    let (_, first) = app.get(&app.scheduler, "/patients?limit=2").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let (_, second) = app
        .get(
            &app.scheduler,
            &format!("/patients?limit=2&cursor={}", urlencode(&cursor)),
        )
        .await;
    assert_eq!(ids(&first).len(), 2);
    assert_eq!(ids(&second).len(), 1);
    let entries = entries_of_token(&app, &scheduler).await;
    let lists: Vec<Vec<String>> = entries
        .iter()
        .filter(|e| e["action"] == "patient.list")
        .map(records)
        .collect();
    // Newest first: the second page, then the first.
    assert_eq!(lists, [ids(&second), ids(&first)]);
    app.stop().await;
}

async fn two_tokens_with_one_name_are_told_apart_by_their_ids(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient = app
        .create_patient(passport("Sam Taylor", "07911 123456"))
        .await;
    let patient_id = patient["id"].as_str().unwrap();
    let mut made = Vec::new();
    for _ in 0..2 {
        made.push(
            accounts(&app)
                .create_token(NewToken {
                    name: "rota".into(),
                    role: Role::Scheduler,
                    owner_email: None,
                    expires_in: None,
                })
                .await
                .unwrap(),
        );
    }
    assert_ne!(made[0].id, made[1].id);
    let (status, _) = app
        .get(&made[0].secret, &format!("/patients/{patient_id}"))
        .await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        app.get(&made[1].secret, &format!("/patients/{patient_id}"))
            .await;
    }
    let first = entries_of_token(&app, &made[0].id).await;
    let second = entries_of_token(&app, &made[1].id).await;
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(second.len(), 2, "{second:#?}");
    assert!(first.iter().all(|e| e["token_id"] == made[0].id.as_str()));
    assert!(second.iter().all(|e| e["token_id"] == made[1].id.as_str()));
    assert!(
        first
            .iter()
            .chain(&second)
            .all(|e| e["actor"] == "rota" && e["user_id"].is_null())
    );
    // By name, both tokens' entries are found together.
    let (_, by_name) = app.get(&app.admin, "/audit?actor=rota").await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 3);
    app.stop().await;
}

/// Every page of a list at `path` (which has a query string), `limit` at a time.
async fn walk(app: &TestApp, path: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut url = format!("{path}&limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let (status, page) = app.get(&app.clinician, &url).await;
        assert_eq!(status, 200, "{url}: {page}");
        assert!(ids(&page).len() <= limit as usize);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("the walk of {path} did not end");
}

async fn patients_messages_and_appointments_walk_two_at_a_time_each_once_in_order(engine: Engine) {
    let app = spawn_app(engine).await;
    // Five patients: two with an urgent episode (one begun before its start was recorded,
    // which counts from the record's last change), three without.
    let mut made = Vec::new();
    for i in 0..5 {
        let patient = app
            .create_patient(passport(&format!("Pat {i}"), &format!("07911 12341{i}")))
            .await;
        made.push(patient["id"].as_str().unwrap().to_owned());
    }
    let mut statements = Vec::new();
    for (i, id) in made.iter().enumerate() {
        statements.push(format!(
            "UPDATE patients SET created_at = '2026-0{}-01T09:00:00.000000Z', \
             updated_at = '2026-0{}-01T09:00:00.000000Z' WHERE id = '{id}'",
            i + 1,
            i + 1
        ));
    }
    // Patient 4 urgent since May (its last change), patient 1 urgent since June.
    statements.push(format!(
        "UPDATE patients SET urgent = true, urgent_at = NULL WHERE id = '{}'",
        made[4]
    ));
    statements.push(format!(
        "UPDATE patients SET urgent = true, urgent_at = '2026-06-01T09:00:00.000000Z' \
         WHERE id = '{}'",
        made[1]
    ));
    app.execute_sql(&statements).await;
    let expected: Vec<String> = [4, 1, 0, 2, 3].iter().map(|&i| made[i].clone()).collect();
    let (_, whole) = app.get(&app.clinician, "/patients").await;
    assert_eq!(ids(&whole), expected);
    assert!(whole["next_cursor"].is_null());
    assert_eq!(walk(&app, "/patients?", 2).await, expected);
    assert_eq!(walk(&app, "/patients?urgent=false", 2).await, expected[2..]);

    // A patient's messages, newest first; two made at the same moment keep their id order.
    let patient = &made[0];
    for i in 0..5 {
        let (status, body) = app.send_update(patient, &format!("Update {i}")).await;
        assert_eq!(status, 202, "{body}");
    }
    let (_, whole) = app
        .get(&app.clinician, &format!("/patients/{patient}/messages"))
        .await;
    let all = ids(&whole);
    assert_eq!(all.len(), 5);
    app.execute_sql(&[format!(
        "UPDATE messages SET created_at = (SELECT created_at FROM messages WHERE id = '{}') \
         WHERE id = '{}'",
        all[1], all[2]
    )])
    .await;
    let (_, whole) = app
        .get(&app.clinician, &format!("/patients/{patient}/messages"))
        .await;
    let newest_first = ids(&whole);
    assert_eq!(
        walk(&app, &format!("/patients/{patient}/messages?"), 2).await,
        newest_first
    );
    let mut distinct = newest_first.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5);

    // Their appointments, earliest first.
    let mut booked = Vec::new();
    for days in [9, 3, 6] {
        let starts_at = (chrono::Utc::now() + TimeDelta::days(days)).to_rfc3339();
        let appointment = app
            .book_appointment(
                patient,
                json!({"starts_at": starts_at, "place": "home", "kind": "home_visit"}),
            )
            .await;
        booked.push(appointment["id"].as_str().unwrap().to_owned());
    }
    let earliest_first = vec![booked[1].clone(), booked[2].clone(), booked[0].clone()];
    assert_eq!(
        walk(&app, &format!("/patients/{patient}/appointments?"), 2).await,
        earliest_first
    );

    // A cursor that is not one is refused, as problem+json.
    for path in [
        "/patients?cursor=nope".to_owned(),
        format!("/patients/{patient}/messages?cursor=nope"),
        format!("/patients/{patient}/appointments?cursor=nope"),
    ] {
        let response = app
            .http
            .get(app.url(&format!("/api/v1{path}")))
            .bearer_auth(&app.clinician)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    app.stop().await;
}
