//! The console's patients pages over plain HTTP, as a browser without JavaScript uses them:
//! finding a patient, making and editing a passport, booking, moving and cancelling an
//! appointment, sending a message, acknowledging an urgent flag; each change checked through
//! the JSON API and the audit log, each form refused without its CSRF token.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use chrono_tz::Europe::London;
use crht_gateway::domain::role::Role;
use serde_json::{Value, json};

use crate::console_client::{Browser, Page};
use crate::helpers::{Engine, SELF_REFERRAL, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    search_finds_a_patient_by_name,
    a_bad_nhs_number_is_shown_with_the_fields_kept_then_a_good_one_opens_the_passport,
    a_mobile_on_another_record_needs_the_shared_box,
    the_passport_shows_ranked_contact_preferences_and_an_sms_opt_out,
    editing_the_passport_changes_its_preferences,
    an_appointment_is_booked_with_its_reminders_moved_and_cancelled,
    a_message_is_sent_and_listed_with_its_status,
    an_urgent_patient_is_acknowledged_by_a_clinician,
    a_clinician_discharges_a_patient_from_the_console,
    reading_a_patient_is_audited_as_the_signed_in_user,
    a_form_without_its_csrf_token_is_refused_and_changes_nothing,
    a_scheduler_does_the_appointment_work_but_never_sees_referral_words,
);

const MOBILE: &str = "+447911123471";
const OTHER_MOBILE: &str = "+447911123472";
const RISK: &str = "I want to kill myself";
const CLINICIAN: &str = "ann@example.org";
const SCHEDULER: &str = "sid@example.org";

fn passport(name: &str, mobile: Option<&str>) -> Value {
    json!({
        "name": name,
        "mobile": mobile,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
    })
}

fn id_of(patient: &Value) -> String {
    patient["id"].as_str().unwrap().to_owned()
}

async fn api_patient(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&app.scheduler, &format!("/patients/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn api_appointments(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&app.scheduler, &format!("/patients/{id}/appointments"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// The page a redirect leads to, checked to be a 303 there.
async fn follow(browser: &mut Browser<'_>, page: &Page, to: &str) -> Page {
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location.clone().unwrap();
    assert!(location.starts_with(to), "{location} is not {to}");
    browser.get(&location).await
}

/// The passport form's fields, filled in as staff would for a Leeds patient.
fn passport_fields<'a>(
    name: &'a str,
    nhs_number: &'a str,
    mobile: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("preferred_name", "Sam"),
        ("pronouns", "they/them"),
        ("nhs_number", nhs_number),
        ("dob_day", "14"),
        ("dob_month", "3"),
        ("dob_year", "1987"),
        ("mobile", mobile),
        ("landline", ""),
        ("address", "12 Park Row\r\nLeeds"),
        ("postcode", "ls1 4dy"),
        ("language", ""),
        ("team", ""),
        ("access_needs", "large_print"),
        ("access_needs", "easy_read"),
        ("support_person", "Jo (sister) 07911 123400"),
        ("service_animal", ""),
        ("quiet_hours", ""),
        ("notes", ""),
        ("pref_urgent_1", "phone_call"),
        ("pref_urgent_2", "sms"),
        ("pref_urgent_3", ""),
        ("pref_reminder_1", "sms"),
        ("pref_update_1", "sms"),
        ("pref_non_urgent_1", "letter"),
    ]
}

/// A day `days` from now on the UK calendar, as the form's three boxes.
fn day_boxes(days: i64) -> (String, String, String) {
    let day = (Utc::now() + TimeDelta::days(days))
        .with_timezone(&London)
        .date_naive();
    (
        day.day().to_string(),
        day.month().to_string(),
        day.year().to_string(),
    )
}

/// What the page says for a moment: the UK wall clock.
fn shown(at: DateTime<Utc>) -> String {
    at.with_timezone(&London)
        .format("%-d %B %Y at %H:%M")
        .to_string()
}

async fn search_finds_a_patient_by_name(engine: Engine) {
    let app = spawn_app(engine).await;
    let sam = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let mut alex = passport("Alex Moss", None);
    alex["nhs_number"] = json!("9434765919");
    let alex = id_of(&app.create_patient(alex).await);
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;

    let page = browser.get("/console/patients").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Patients</h1>"));
    assert!(page.body.contains("Add a patient"));
    assert!(page.body.contains("Sam Taylor") && page.body.contains("Alex Moss"));

    let page = browser.get("/console/patients?q=tayl&urgent=").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!(
            r#"<a href="/console/patients/{sam}">Sam Taylor</a>"#
        )),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Alex Moss"));
    assert!(page.body.contains(r#"value="tayl""#), "the search is kept");

    let page = browser.get("/console/patients?q=943+476+5919").await;
    assert!(page.body.contains(&format!(
        r#"<a href="/console/patients/{alex}">Alex Moss</a>"#
    )));
    assert!(page.body.contains("943 476 5919") && !page.body.contains("Sam Taylor"));

    let page = browser.get("/console/patients?q=nobody+at+all").await;
    assert!(page.body.contains("No patients match."));

    let page = browser.get("/console/patients?urgent=true").await;
    assert!(page.body.contains("No patients match."), "nobody is urgent");

    let listed: Vec<Value> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["action"] == "patient.list" && e["actor"] == CLINICIAN)
        .collect();
    assert!(listed.len() >= 3, "{listed:?}");
    app.stop().await;
}

async fn a_bad_nhs_number_is_shown_with_the_fields_kept_then_a_good_one_opens_the_passport(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = browser.get("/console/patients/new").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Add a patient</h1>"));
    assert!(page.body.contains(r#"id="nhs_number""#));

    let fields = passport_fields("Sam Taylor", "943 476 5918", MOBILE);
    let page = browser
        .post_from("/console/patients/new", "/console/patients/new", &fields)
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("<title>Error: Add a patient"));
    assert!(page.body.contains("There is a problem"));
    assert!(
        page.body
            .contains(r##"<a href="#nhs_number">NHS number: "##),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"id="nhs_number-error""#));
    for kept in [
        r#"value="Sam Taylor""#,
        r#"value="943 476 5918""#,
        r#"value="they&#x2f;them""#,
        r#"value="1987""#,
        "12 Park Row\nLeeds</textarea>",
        r#"value="large_print" checked"#,
        r#"value="easy_read" checked"#,
    ] {
        assert!(page.body.contains(kept), "{kept} kept: {}", page.body);
    }
    let (_, listed) = app.get(&app.admin, "/patients").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "nothing made");

    let fields = passport_fields("Sam Taylor", "943 476 5919", MOBILE);
    let page = browser
        .post_from("/console/patients/new", "/console/patients/new", &fields)
        .await;
    let passport = follow(&mut browser, &page, "/console/patients/").await;
    assert_eq!(passport.status, 200);
    assert!(passport.body.contains("Patient added"), "the flash");
    assert!(
        passport.body.contains("Sam Taylor</h1>"),
        "{}",
        passport.body
    );
    assert!(passport.body.contains("943 476 5919"));
    assert!(passport.body.contains("14 March 1987"));
    assert!(passport.body.contains("Large print") && passport.body.contains("Easy read"));

    let id = page
        .location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let made = api_patient(&app, &id).await;
    assert_eq!(made["nhs_number"], "9434765919");
    assert_eq!(made["mobile"], MOBILE);
    assert_eq!(made["address"]["postcode"], "LS1 4DY");
    assert_eq!(made["address"]["lines"], json!(["12 Park Row", "Leeds"]));
    assert_eq!(made["date_of_birth"], "1987-03-14");
    assert_eq!(
        made["contact_preferences"]["urgent"],
        json!(["phone_call", "sms"])
    );
    let created: Vec<Value> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["action"] == "patient.create")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["actor"], CLINICIAN);
    assert_eq!(created[0]["target"], format!("patient:{id}"));
    app.stop().await;
}

async fn a_mobile_on_another_record_needs_the_shared_box(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_patient(passport("Sam Taylor", Some(MOBILE)))
        .await;
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let fields = passport_fields("Jo Taylor", "", MOBILE);
    let page = browser
        .post_from("/console/patients/new", "/console/patients/new", &fields)
        .await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("already on another patient"));
    assert!(
        page.body.contains(r#"id="shared_mobile""#),
        "the box to say so"
    );
    assert!(page.body.contains(r#"value="Jo Taylor""#));

    let mut shared = fields.clone();
    shared.push(("shared_mobile", "yes"));
    let page = browser
        .post_from("/console/patients/new", "/console/patients/new", &shared)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let (_, listed) = app.get(&app.admin, "/patients").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    app.stop().await;
}

async fn the_passport_shows_ranked_contact_preferences_and_an_sms_opt_out(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let mut input = passport("Sam Taylor", Some(MOBILE));
    input["contact_preferences"] =
        json!({"urgent": ["phone_call", "sms"], "reminder": ["sms", "letter"]});
    input["quiet_hours"] = json!("22:00-07:00");
    let id = id_of(&app.create_patient(input).await);
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = browser.get(&format!("/console/patients/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("e-Health Passport"));
    let ranked = |purpose: &str| -> String {
        let start = page
            .body
            .find(&format!(
                r#"<dt class="nhsuk-summary-list__key">{purpose}</dt>"#
            ))
            .unwrap_or_else(|| panic!("{purpose} row"));
        let end = start + page.body[start..].find("</ol>").unwrap();
        page.body[start..end].to_owned()
    };
    assert!(
        ranked("Urgent").contains("<li>1. Phone call</li><li>2. Text message</li>"),
        "{}",
        ranked("Urgent")
    );
    assert!(ranked("Reminders").contains("<li>1. Text message</li><li>2. Letter</li>"));
    assert!(
        ranked("Brief updates").contains("<li>1. Text message</li>"),
        "the default"
    );
    assert!(ranked("Non-urgent").contains("<li>1. Letter</li>"));
    assert!(page.body.contains("22:00-07:00 (their own)"));
    assert!(!page.body.contains("Opted out of texts"));

    // STOP from the patient's mobile: the passport says texts are not sent.
    drop(browser);
    app.text(MOBILE, "STOP").await;
    let mut browser = Browser::signed_in(&app, "cal@example.org", Role::Clinician).await;
    assert_eq!(api_patient(&app, &id).await["sms_opted_out"], true);
    let page = browser.get(&format!("/console/patients/{id}")).await;
    assert!(
        page.body
            .contains(r#"id="sms-opted-out">Opted out of texts</strong>"#),
        "{}",
        page.body
    );
    app.stop().await;
}

async fn editing_the_passport_changes_its_preferences(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let mut browser = Browser::signed_in(&app, SCHEDULER, Role::Scheduler).await;
    let edit = format!("/console/patients/{id}/edit");
    let page = browser.get(&edit).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Edit passport: Sam Taylor"));
    assert!(
        page.body.contains(&format!(r#"value="{MOBILE}""#)),
        "as it is"
    );
    assert!(page.body.contains("12 Park Row\nLeeds</textarea>"));

    let mut fields = passport_fields("Sam Taylor", "", MOBILE);
    fields.retain(|(k, _)| !k.starts_with("pref_") && *k != "quiet_hours" && *k != "landline");
    fields.extend([
        ("pref_reminder_1", "letter"),
        ("pref_reminder_2", "sms"),
        ("pref_update_1", "phone_call"),
        ("quiet_hours", "22:00-07:00"),
        ("landline", "0113 496 0000"),
        ("postcode", "not a postcode"),
    ]);
    let page = browser.post_from(&edit, &edit, &fields).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains(r##"<a href="#postcode">Postcode: "##),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"value="22:00-07:00""#), "kept");
    assert_eq!(
        api_patient(&app, &id).await["quiet_hours"],
        Value::Null,
        "unchanged"
    );

    fields.retain(|(k, _)| *k != "postcode");
    fields.push(("postcode", "LS1 4DY"));
    let page = browser.post_from(&edit, &edit, &fields).await;
    let passport = follow(&mut browser, &page, &format!("/console/patients/{id}")).await;
    assert!(passport.body.contains("Passport saved"));
    assert!(
        passport
            .body
            .contains("<li>1. Letter</li><li>2. Text message</li>")
    );

    let changed = api_patient(&app, &id).await;
    assert_eq!(
        changed["contact_preferences"]["reminder"],
        json!(["letter", "sms"])
    );
    assert_eq!(
        changed["contact_preferences"]["update"],
        json!(["phone_call"])
    );
    assert_eq!(
        changed["contact_preferences"]["urgent"],
        json!(["phone_call"]),
        "default"
    );
    assert_eq!(changed["quiet_hours"], "22:00-07:00");
    assert_eq!(changed["landline"], "+441134960000");
    assert_eq!(changed["access_needs"], json!(["large_print", "easy_read"]));
    assert_eq!(changed["mobile"], MOBILE);
    let updated: Vec<Value> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["action"] == "patient.update")
        .collect();
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["actor"], SCHEDULER);
    app.stop().await;
}

/// Books an appointment `days` ahead at `time` through the console; returns its start.
async fn book(browser: &mut Browser<'_>, id: &str, days: i64, time: &str) -> Page {
    let (day, month, year) = day_boxes(days);
    let new = format!("/console/patients/{id}/appointments/new");
    browser
        .post_from(
            &new,
            &new,
            &[
                ("day", &day),
                ("month", &month),
                ("year", &year),
                ("time", time),
                ("kind", "assessment"),
                ("place", "site"),
                ("site_name", "Becklin Centre"),
                ("staff_name", "Dr Lee"),
            ],
        )
        .await
}

async fn an_appointment_is_booked_with_its_reminders_moved_and_cancelled(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = browser
        .get(&format!("/console/patients/{id}/appointments/new"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Book an appointment</h1>"));
    assert!(page.body.contains("Book appointment</button>"));

    let past = book(&mut browser, &id, -1, "14:00").await;
    assert_eq!(past.status, 422, "{}", past.body);
    assert!(past.body.contains("Date and time must be in the future"));
    assert!(past.body.contains(r#"value="Becklin Centre""#), "kept");
    assert!(api_appointments(&app, &id).await.is_empty());

    let page = book(&mut browser, &id, 3, "14:00").await;
    let passport = follow(&mut browser, &page, &format!("/console/patients/{id}")).await;
    let booked = api_appointments(&app, &id).await;
    assert_eq!(booked.len(), 1);
    let starts_at: DateTime<Utc> = booked[0]["starts_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        starts_at.with_timezone(&London).format("%H:%M").to_string(),
        "14:00",
        "UK time"
    );
    assert!(
        passport
            .body
            .contains(&format!("Appointment booked for {}", shown(starts_at)))
    );
    assert!(passport.body.contains("Assessment: <time datetime="));
    assert!(passport.body.contains("At Becklin Centre") && passport.body.contains("Dr Lee"));
    for reminder in booked[0]["reminders"].as_array().unwrap() {
        let due: DateTime<Utc> = reminder["due_at"].as_str().unwrap().parse().unwrap();
        assert!(
            passport.body.contains(&shown(due)),
            "reminder due {due} listed"
        );
    }
    assert_eq!(booked[0]["reminders"].as_array().unwrap().len(), 2);
    assert!(passport.body.contains(">pending</strong>"));

    let appointment = booked[0]["id"].as_str().unwrap().to_owned();
    let move_path = format!("/console/appointments/{appointment}/move");
    let page = browser.get(&move_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Move appointment</h1>"));
    assert!(page.body.contains(r#"value="14:00""#), "the time as it is");
    let (day, month, year) = day_boxes(4);
    let page = browser
        .post_from(
            &move_path,
            &move_path,
            &[
                ("day", &day),
                ("month", &month),
                ("year", &year),
                ("time", "15:30"),
            ],
        )
        .await;
    let passport = follow(&mut browser, &page, &format!("/console/patients/{id}")).await;
    let moved = api_appointments(&app, &id).await;
    let moved_to: DateTime<Utc> = moved[0]["starts_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        moved_to - starts_at,
        TimeDelta::days(1) + TimeDelta::minutes(90)
    );
    assert!(
        passport
            .body
            .contains(&format!("Appointment moved to {}", shown(moved_to)))
    );

    let cancel_path = format!("/console/appointments/{appointment}/cancel");
    let page = browser.get(&cancel_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Cancel this appointment?"));
    assert!(page.body.contains("Cancel appointment</button>"));
    let page = browser.post_from(&cancel_path, &cancel_path, &[]).await;
    let passport = follow(&mut browser, &page, &format!("/console/patients/{id}")).await;
    assert!(passport.body.contains("cancelled"));
    let cancelled = api_appointments(&app, &id).await;
    assert_eq!(cancelled[0]["status"], "cancelled");
    assert!(passport.body.contains(">cancelled</strong>"));
    assert!(!passport.body.contains(&move_path), "no way to move it now");
    let page = browser.get(&move_path).await;
    assert!(
        page.body
            .contains("This appointment is cancelled and cannot be moved")
    );

    let actions: Vec<String> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["actor"] == CLINICIAN)
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in [
        "appointment.book",
        "appointment.reschedule",
        "appointment.cancel",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    app.stop().await;
}

async fn a_message_is_sent_and_listed_with_its_status(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let mut browser = Browser::signed_in(&app, SCHEDULER, Role::Scheduler).await;
    let new = format!("/console/patients/{id}/messages/new");
    let page = browser.get(&new).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Send message</button>"));
    assert!(
        page.body.contains("By Text message"),
        "the channels for each purpose"
    );

    let page = browser
        .post_from(&new, &new, &[("purpose", "update"), ("text", "  ")])
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("Enter the message"));

    let page = browser
        .post_from(
            &new,
            &new,
            &[
                ("purpose", "update"),
                ("text", "Your nurse will ring you today"),
            ],
        )
        .await;
    let passport = follow(&mut browser, &page, &format!("/console/patients/{id}")).await;
    assert!(passport.body.contains("Message queued by Text message"));
    app.wait_until_sent(&id, 1).await;
    let messages = app.messages(&id).await;
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0]["body"]
            .as_str()
            .unwrap()
            .contains("Your nurse will ring you today")
    );

    let page = browser.get(&format!("/console/patients/{id}")).await;
    let row_start = page.body.find("Messages to this patient").unwrap();
    let table = &page.body[row_start..];
    assert!(table.contains("<td class=\"nhsuk-table__cell\">Brief updates</td>"));
    assert!(table.contains("<td class=\"nhsuk-table__cell\">Text message</td>"));
    assert!(table.contains(">sent</strong>"), "{table}");
    assert!(table.contains("Your nurse will ring you today"));
    let queued: Vec<Value> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["action"] == "message.queue")
        .collect();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["actor"], SCHEDULER);
    app.stop().await;
}

async fn a_clinician_discharges_a_patient_from_the_console(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let path = format!("/console/patients/{id}");
    let discharge = format!("{path}/discharge");

    let mut scheduler = Browser::signed_in(&app, SCHEDULER, Role::Scheduler).await;
    let page = scheduler.get(&path).await;
    assert!(!page.body.contains("id=\"discharge\""), "not theirs to do");
    let page = scheduler.post_from(&path, &discharge, &[]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(api_patient(&app, &id).await["discharged_at"].is_null());

    let mut clinician = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = clinician.get(&path).await;
    assert!(
        page.body
            .contains("Discharge Sam Taylor from the team's care"),
        "{}",
        page.body
    );
    assert!(page.body.contains("2 days later"), "the setting, in words");
    let page = clinician
        .post_from(&path, &discharge, &[("note", "Back with their GP")])
        .await;
    let passport = follow(&mut clinician, &page, &path).await;
    assert!(
        passport.body.contains("id=\"discharged\""),
        "{}",
        passport.body
    );
    assert!(passport.body.contains("Discharged from the team's care on"));
    assert!(
        !passport.body.contains("id=\"discharge\""),
        "the form is gone"
    );
    assert!(api_patient(&app, &id).await["discharged_at"].is_string());
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM feedback_requests WHERE patient_id = '{id}'"
        ))
        .await,
        1,
        "their feedback request is planned"
    );
    let entries: Vec<Value> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["action"] == "patient.discharge")
        .collect();
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["actor"], CLINICIAN);
    assert_eq!(entries[0]["note"], "Back with their GP");

    // Twice is refused, as the API refuses it.
    let page = clinician.post_from(&path, &discharge, &[]).await;
    assert_eq!(page.status, 409, "{}", page.body);
    app.stop().await;
}

async fn an_urgent_patient_is_acknowledged_by_a_clinician(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let reply = app.text(MOBILE, RISK).await;
    assert!(reply.text().contains("999"));
    assert_eq!(api_patient(&app, &id).await["urgent"], true);
    let path = format!("/console/patients/{id}");
    let acknowledge = format!("{path}/acknowledge");

    let mut scheduler = Browser::signed_in(&app, SCHEDULER, Role::Scheduler).await;
    let page = scheduler.get(&path).await;
    assert!(
        page.body
            .contains("Urgent flag: risk in a text from this patient")
    );
    assert!(
        !page.body.contains("Acknowledge urgent flag"),
        "not theirs to do"
    );
    assert!(
        page.body
            .contains("A clinician must acknowledge this flag.")
    );
    let page = scheduler.post_from(&path, &acknowledge, &[]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert_eq!(api_patient(&app, &id).await["urgent"], true);

    let mut clinician = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = clinician.get("/console/patients?urgent=true").await;
    assert!(page.body.contains(">Urgent</strong>") && page.body.contains("Sam Taylor"));
    let page = clinician.get(&path).await;
    assert!(
        page.body.contains("Acknowledge urgent flag</button>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("nhsuk-tag--red"), "the risk signals");
    let page = clinician.post_from(&path, &acknowledge, &[]).await;
    let passport = follow(&mut clinician, &page, &path).await;
    assert!(passport.body.contains("Urgent flag acknowledged"));
    assert!(!passport.body.contains("Acknowledge urgent flag</button>"));
    let acknowledged = api_patient(&app, &id).await;
    assert_eq!(acknowledged["urgent"], false);
    assert_eq!(acknowledged["acknowledged_by"], CLINICIAN);
    let entries: Vec<Value> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["action"] == "patient.acknowledged")
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor"], CLINICIAN);
    assert_eq!(entries[0]["target"], format!("patient:{id}"));
    app.stop().await;
}

async fn reading_a_patient_is_audited_as_the_signed_in_user(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = browser.get(&format!("/console/patients/{id}")).await;
    assert_eq!(page.status, 200);
    let entries: Vec<Value> = app
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e["actor"] == CLINICIAN)
        .collect();
    for action in ["patient.read", "appointment.list", "message.list"] {
        let entry = entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action}: {entries:?}"));
        assert_eq!(entry["role"], "clinician");
        assert!(entry["target"].as_str().unwrap().contains(&id), "{entry}");
    }

    let page = browser.get("/console/patients/no-such-patient").await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(page.body.contains("Page not found"));
    app.stop().await;
}

async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let id = id_of(
        &app.create_patient(passport("Sam Taylor", Some(MOBILE)))
            .await,
    );
    let appointment = app
        .book_appointment(
            &id,
            json!({"starts_at": (Utc::now() + TimeDelta::days(3)).to_rfc3339(), "place": "home", "kind": "review"}),
        )
        .await;
    let appointment = appointment["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;

    let fields = passport_fields("Jo Moss", "", OTHER_MOBILE);
    let page = browser.post("/console/patients/new", &fields).await;
    assert_eq!(page.status, 403, "{}", page.body);
    let page = browser
        .post(&format!("/console/patients/{id}/edit"), &fields)
        .await;
    assert_eq!(page.status, 403);
    let page = browser
        .post(&format!("/console/appointments/{appointment}/cancel"), &[])
        .await;
    assert_eq!(page.status, 403);
    let page = browser
        .post(
            &format!("/console/patients/{id}/messages/new"),
            &[("purpose", "update"), ("text", "hello")],
        )
        .await;
    assert_eq!(page.status, 403);
    let page = browser
        .post(
            &format!("/console/patients/{id}/messages/new"),
            &[
                ("csrf_token", "not-the-token"),
                ("purpose", "update"),
                ("text", "hello"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);

    let (_, listed) = app.get(&app.admin, "/patients").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "none made");
    assert_eq!(
        api_patient(&app, &id).await["name"],
        "Sam Taylor",
        "unchanged"
    );
    assert_eq!(api_appointments(&app, &id).await[0]["status"], "booked");
    assert!(app.messages(&id).await.is_empty());
    app.stop().await;
}

async fn a_scheduler_does_the_appointment_work_but_never_sees_referral_words(engine: Engine) {
    const PHONE: &str = "+447911123479";
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, SELF_REFERRAL).await;
    let referral_id = app.referral_id_of(PHONE).await;
    let (status, made) = app
        .post_json(
            &app.clinician,
            &format!("/referrals/{referral_id}/patient"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = id_of(&made);
    let path = format!("/console/patients/{id}");

    let mut browser = Browser::signed_in(&app, SCHEDULER, Role::Scheduler).await;
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Book an appointment"));
    assert!(
        page.body.contains("Guide dog"),
        "the passport is theirs to read"
    );
    for said in ["not sleeping", "very anxious", "I have a guide dog"] {
        assert!(!page.body.contains(said), "{said} is the referral's");
    }
    assert!(
        !page.body.contains("/console/referrals"),
        "no way to the referral"
    );

    let page = book(&mut browser, &id, 3, "11:00").await;
    follow(&mut browser, &page, &path).await;
    let appointment = api_appointments(&app, &id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let move_path = format!("/console/appointments/{appointment}/move");
    let (day, month, year) = day_boxes(5);
    let page = browser
        .post_from(
            &move_path,
            &move_path,
            &[
                ("day", &day),
                ("month", &month),
                ("year", &year),
                ("time", "11:00"),
            ],
        )
        .await;
    let moved = follow(&mut browser, &page, &path).await;
    for said in ["not sleeping", "very anxious", "/console/referrals"] {
        assert!(!moved.body.contains(said), "{said}");
    }
    let cancel_path = format!("/console/appointments/{appointment}/cancel");
    let page = browser.post_from(&cancel_path, &cancel_path, &[]).await;
    follow(&mut browser, &page, &path).await;
    assert_eq!(api_appointments(&app, &id).await[0]["status"], "cancelled");

    // The clinician, who reads referrals, is given the way to it.
    let mut clinician = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = clinician.get(&path).await;
    assert!(
        page.body
            .contains(&format!("/console/referrals/{referral_id}"))
    );
    app.stop().await;
}
