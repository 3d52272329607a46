//! The console's work lists over plain HTTP, on both engines: the call list (who to ring, the
//! script, each outcome and what it does), the print list (the letter's PDF, posted), and the
//! inbox (closed with a note; a scheduler never sees a person's words about risk).

use crht_gateway::domain::role::Role;
use serde_json::{Value, json};

use crate::console_client::Browser;
use crate::helpers::{Engine, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    the_call_list_shows_who_to_ring_and_the_script_and_keeps_an_unanswered_call,
    a_wrong_number_sends_the_message_by_the_next_channel,
    a_letter_is_opened_as_a_pdf_and_marked_posted,
    an_inbox_item_is_closed_with_a_note,
    schedulers_never_see_risk_words_in_the_console_inbox,
    work_forms_without_their_csrf_token_are_refused,
);

const PATIENT_MOBILE: &str = "+447911123456";

/// A patient whose updates go by phone call first, then text; their id.
async fn patient(app: &TestApp, update: &[&str]) -> String {
    let patient = app
        .create_patient(json!({
            "name": "Sam Taylor",
            "preferred_name": "Sam",
            "mobile": "07911 123456",
            "landline": "0113 496 0000",
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "ls1 4dy"},
            "contact_preferences": {"update": update},
        }))
        .await;
    patient["id"].as_str().unwrap().to_owned()
}

async fn open_tasks(app: &TestApp, kind: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&app.admin, &format!("/tasks?kind={kind}&status=open"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn audit_has(app: &TestApp, action: &str, actor: &str) -> bool {
    app.audit_entries()
        .await
        .iter()
        .any(|e| e["action"] == action && e["actor"] == actor)
}

async fn the_call_list_shows_who_to_ring_and_the_script_and_keeps_an_unanswered_call(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let patient_id = patient(&app, &["phone_call", "sms"]).await;
    let (status, message) = app
        .send_update(&patient_id, "Your new care coordinator is Jo.")
        .await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(message["channel"], "phone_call");
    let task = open_tasks(&app, "phone_call").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut browser = Browser::signed_in(&app, "sam@example.org", Role::Scheduler).await;
    let page = browser.get("/console/calls").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Call list</h1>"));
    assert!(
        page.body
            .contains("Call Sam on +447911123456 or +441134960000."),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"<a href="tel:+447911123456">"#));
    assert!(page.body.contains("nhsuk-inset-text"));
    assert!(page.body.contains("care coordinator is Jo"), "the script");
    assert!(
        page.body
            .contains(&format!(r#"href="/console/patients/{patient_id}""#))
    );
    for outcome in ["done", "no_answer", "left_message", "wrong_number"] {
        assert!(
            page.body
                .contains(&format!(r#"id="outcome-{task}-{outcome}""#)),
            "{outcome}"
        );
    }
    assert!(page.body.contains("Record outcome"));
    assert!(audit_has(&app, "task.list", "sam@example.org").await);

    // No outcome chosen: the list again, with the error by the task's radios.
    let complete = format!("/console/tasks/{task}/complete");
    let page = browser
        .post_from("/console/calls", &complete, &[("list", "calls")])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("<title>Error: Call list"));
    assert!(page.body.contains(&format!(r##"href="#outcome-{task}""##)));
    assert!(page.body.contains("Select what happened"));

    let page = browser
        .post_from(
            "/console/calls",
            &complete,
            &[
                ("list", "calls"),
                ("outcome", "no_answer"),
                ("note", "rang at 10"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/console/calls"));
    let page = browser.get("/console/calls").await;
    assert!(
        page.body
            .contains("No answer (1 of 3 tries): the call stays on the list"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(r#"id="task-{task}""#)));
    assert!(page.body.contains("1 without an answer: rang at 10"));
    let open = open_tasks(&app, "phone_call").await;
    assert_eq!(open[0]["attempts"], 1);
    assert_eq!(open[0]["note"], "rang at 10");
    assert!(audit_has(&app, "task.no_answer", "sam@example.org").await);

    let page = browser
        .post_from(
            "/console/calls",
            &complete,
            &[("list", "calls"), ("outcome", "done")],
        )
        .await;
    assert_eq!(page.status, 303);
    let page = browser.get("/console/calls").await;
    assert!(page.body.contains("Call recorded as done"));
    assert!(page.body.contains("There are no calls to make"));
    assert!(!page.body.contains(&format!(r#"id="task-{task}""#)));
    assert!(open_tasks(&app, "phone_call").await.is_empty());
    assert!(audit_has(&app, "task.complete", "sam@example.org").await);
    app.stop().await;
}

async fn a_wrong_number_sends_the_message_by_the_next_channel(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient_id = patient(&app, &["phone_call", "sms"]).await;
    app.send_update(&patient_id, "Your appointment letter is on its way.")
        .await;
    let task = open_tasks(&app, "phone_call").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::signed_in(&app, "cal@example.org", Role::Clinician).await;
    let page = browser
        .post_from(
            "/console/calls",
            &format!("/console/tasks/{task}/complete"),
            &[
                ("list", "calls"),
                ("outcome", "wrong_number"),
                ("note", "a shop answered"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = browser.get("/console/calls").await;
    assert!(
        page.body
            .contains("Wrong number: the message goes to the patient by their next channel"),
        "{}",
        page.body
    );
    assert_eq!(app.twilio.wait_for(1).await[0].to, PATIENT_MOBILE);
    let messages = app.messages(&patient_id).await;
    assert_eq!(
        messages[0]["skipped"],
        json!([{"channel": "phone_call", "reason": "wrong_number"}])
    );
    // An outcome that does not fit a call is refused by the service, shown by the form.
    let other = app
        .create_patient(json!({
            "name": "Jo Other",
            "landline": "0113 496 0001",
            "contact_preferences": {"update": ["phone_call"]},
        }))
        .await;
    app.send_update(other["id"].as_str().unwrap(), "Hello again.")
        .await;
    let task = open_tasks(&app, "phone_call").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = browser
        .post_from(
            "/console/calls",
            &format!("/console/tasks/{task}/complete"),
            &[("list", "calls"), ("outcome", "returned")],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("does not apply to a phone_call task"));
    app.stop().await;
}

async fn a_letter_is_opened_as_a_pdf_and_marked_posted(engine: Engine) {
    let app = spawn_app(engine).await;
    let patient_id = patient(&app, &["sms"]).await;
    let (status, message) = app
        .send_message(
            &patient_id,
            json!({"purpose": "non_urgent", "text": "We have arranged a review of your care plan."}),
        )
        .await;
    assert_eq!(status, 202, "{message}");
    assert_eq!(message["channel"], "letter");
    let task = open_tasks(&app, "letter").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut browser = Browser::signed_in(&app, "sam@example.org", Role::Scheduler).await;
    let page = browser.get("/console/letters").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Print list</h1>"));
    assert!(page.body.contains("post to Sam Taylor, 12 Park Row, Leeds"));
    let pdf = format!("/console/letters/{task}.pdf");
    assert!(page.body.contains(&format!(r#"href="{pdf}""#)));
    assert!(page.body.contains("Open letter (PDF)"));
    assert!(page.body.contains("Mark printed and posted"));

    let letter = browser.get(&pdf).await;
    assert_eq!(letter.status, 200);
    assert!(letter.body.starts_with("%PDF"), "a PDF");
    assert!(audit_has(&app, "letter.read", "sam@example.org").await);
    assert_eq!(browser.get("/console/letters/nope.pdf").await.status, 404);
    assert_eq!(
        browser
            .get(&format!("/console/letters/{task}"))
            .await
            .status,
        404
    );

    let page = browser
        .post_from(
            "/console/letters",
            &format!("/console/tasks/{task}/complete"),
            &[("list", "letters"), ("outcome", "done")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/console/letters"));
    let page = browser.get("/console/letters").await;
    assert!(page.body.contains("Letter marked printed and posted"));
    assert!(page.body.contains("There are no letters to print"));
    assert!(open_tasks(&app, "letter").await.is_empty());
    assert!(audit_has(&app, "task.complete", "sam@example.org").await);
    app.stop().await;
}

async fn inbox_items(app: &TestApp, status: &str) -> Vec<Value> {
    let (code, body) = app
        .get(&app.clinician, &format!("/inbox?status={status}"))
        .await;
    assert_eq!(code, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn an_inbox_item_is_closed_with_a_note(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let patient_id = patient(&app, &["sms"]).await;
    app.text(PATIENT_MOBILE, "running 10 minutes late").await;
    let item = inbox_items(&app, "open").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut browser = Browser::signed_in(&app, "sam@example.org", Role::Scheduler).await;
    let page = browser.get("/console/inbox").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Inbox</h1>"));
    assert!(page.body.contains("Text from a patient"));
    assert!(page.body.contains("running 10 minutes late"));
    assert!(
        page.body
            .contains(&format!(r#"href="/console/patients/{patient_id}""#))
    );
    assert!(page.body.contains(&format!(r#"id="note-{item}""#)));
    assert!(page.body.contains("Close with note"));
    assert!(audit_has(&app, "inbox.read", "sam@example.org").await);

    let close = format!("/console/inbox/{item}/close");
    let page = browser
        .post_from("/console/inbox", &close, &[("note", "  ")])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("<title>Error: Inbox"));
    assert!(page.body.contains("Enter a note saying what was done"));
    assert!(page.body.contains(&format!(r##"href="#note-{item}""##)));

    let page = browser
        .post_from("/console/inbox", &close, &[("note", "Told the nurse")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/console/inbox"));
    let page = browser.get("/console/inbox").await;
    assert!(page.body.contains("Inbox item closed"));
    assert!(page.body.contains("The inbox is empty"));
    let done = inbox_items(&app, "done").await;
    assert_eq!(done[0]["note"], "Told the nurse");
    assert_eq!(done[0]["closed_by"], "sam@example.org");
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "inbox.close" && e["note"] == "Told the nurse")
    );
    // Closed already: the service's conflict, as a page.
    let page = browser
        .post_from("/console/inbox", &close, &[("note", "again")])
        .await;
    assert_eq!(page.status, 409);
    app.stop().await;
}

async fn schedulers_never_see_risk_words_in_the_console_inbox(engine: Engine) {
    let mut app = spawn_app(engine).await;
    patient(&app, &["sms"]).await;
    app.text(PATIENT_MOBILE, "I want to end my life").await;
    app.text(PATIENT_MOBILE, "see you thursday").await;
    let risk = inbox_items(&app, "open")
        .await
        .into_iter()
        .find(|i| i["kind"] == "risk")
        .unwrap();

    let mut clinician = Browser::signed_in(&app, "cal@example.org", Role::Clinician).await;
    let page = clinician.get("/console/inbox").await;
    assert!(page.body.contains("end my life"));
    assert!(
        page.body
            .contains(r#"<strong class="nhsuk-tag nhsuk-tag--red">Urgent</strong>"#)
    );

    let mut scheduler = Browser::signed_in(&app, "sam@example.org", Role::Scheduler).await;
    let page = scheduler.get("/console/inbox").await;
    assert!(page.body.contains("see you thursday"));
    assert!(!page.body.contains("end my life"), "{}", page.body);
    assert!(!page.body.contains("Risk"));
    let page = scheduler
        .post_from(
            "/console/inbox",
            &format!("/console/inbox/{}/close", risk["id"].as_str().unwrap()),
            &[("note", "ok")],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("You cannot do this with your role"));
    app.stop().await;
}

async fn work_forms_without_their_csrf_token_are_refused(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let patient_id = patient(&app, &["phone_call"]).await;
    app.send_update(&patient_id, "Hello.").await;
    app.text(PATIENT_MOBILE, "thanks").await;
    let task = open_tasks(&app, "phone_call").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = inbox_items(&app, "open").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::signed_in(&app, "cal@example.org", Role::Clinician).await;
    let page = browser
        .post(
            &format!("/console/tasks/{task}/complete"),
            &[("list", "calls"), ("outcome", "done")],
        )
        .await;
    assert_eq!(page.status, 403);
    let page = browser
        .post(&format!("/console/inbox/{item}/close"), &[("note", "x")])
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(
        open_tasks(&app, "phone_call").await.len(),
        1,
        "nothing done"
    );
    assert_eq!(inbox_items(&app, "open").await.len(), 1);
    // Not signed in: to the sign-in page.
    let page = Browser::new(&app).get("/console/calls").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/login"));
    app.stop().await;
}
