//! The console's referral page over plain HTTP, on both engines: what a clinician sees of an
//! urgent referral (its tags, answers, transcript), the audit entries opening it writes, a
//! text back, moves in triage with notes, a patient made from it, forms without their CSRF
//! token, and a scheduler kept out of all of it.

use std::time::Duration;

use crht_gateway::domain::role::Role;
use serde_json::Value;

use crate::console_client::{Browser, Page};
use crate::helpers::{Engine, SELF_REFERRAL, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_clinician_sees_an_urgent_referral_and_opening_it_is_audited,
    answers_replaced_after_restart_show_apart_under_details,
    a_text_back_from_the_page_reaches_them_and_names_the_sender,
    acknowledging_with_a_note_then_closing_moves_the_referral_on,
    making_a_patient_goes_to_the_patient_and_the_page_links_it,
    a_mobile_on_another_record_needs_the_shared_box_ticked,
    a_form_without_its_csrf_token_is_refused_and_changes_nothing,
    a_scheduler_is_refused_the_page_and_its_forms_and_sees_no_referral_words,
);

const PHONE: &str = "+447911123490";
const CLINICIAN: &str = "ann@example.org";

/// A self-referral sent to the team with YES; its id.
async fn submitted_referral(app: &mut TestApp, phone: &str) -> String {
    let reply = app.start_referral(phone, SELF_REFERRAL).await;
    assert!(reply.text().contains("CRHT-"), "{}", reply.text());
    let id = app.referral_id_of(phone).await;
    assert_eq!(app.referral(&id).await["status"], "submitted");
    id
}

fn page_of(id: &str) -> String {
    format!("/console/referrals/{id}")
}

/// Follows a form's redirect back to the referral page and returns that page.
async fn after_redirect(browser: &mut Browser<'_>, posted: &Page, to: &str) -> Page {
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(posted.location.as_deref(), Some(to));
    let page = browser.get(to).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

/// The audit entries `actor` wrote with `action` on `target`.
fn entries<'a>(audit: &'a [Value], actor: &str, action: &str, target: &str) -> Vec<&'a Value> {
    audit
        .iter()
        .filter(|e| e["actor"] == actor && e["action"] == action && e["target"] == target)
        .collect()
}

async fn a_clinician_sees_an_urgent_referral_and_opening_it_is_audited(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(
        PHONE,
        &[
            ("relationship", "1"),
            ("name", "Sam"),
            ("age", "34"),
            ("postcode", "LS1 4DY"),
        ],
    )
    .await;
    app.text(PHONE, "I want to kill myself tonight").await;
    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["urgent"], true);
    let id = referral["id"].as_str().unwrap().to_owned();
    let reference = referral["reference"].as_str().unwrap().to_owned();
    // The Leeds team's two on-call numbers are alerted.
    app.twilio.wait_for(2).await;

    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = browser.get(&page_of(&id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert!(
        body.contains(&format!("<title>Referral {reference}")),
        "{body}"
    );
    assert!(
        body.contains(&format!("</span>{reference}</h1>")),
        "the reference heads the page"
    );
    // Urgent, with its risk signal as a red tag, and what to do now.
    assert!(body.contains(r#"<strong class="nhsuk-tag nhsuk-tag--red">Urgent</strong>"#));
    assert!(body.contains(r#"<strong class="nhsuk-tag nhsuk-tag--red">suicidal intent</strong>"#));
    assert!(body.contains("nhsuk-warning-callout"));
    assert!(body.contains("Urgent: call them back now"));
    assert!(body.contains("If they are in danger now, call 999."));
    assert!(
        body.contains(&format!(r#"<a href="tel:{PHONE}">{PHONE}</a>"#)),
        "the number, to call"
    );
    // The answers in words, under readable labels.
    for words in [
        "Who is texting",
        "They are texting about themself",
        "Aged 18 or over",
        "Yes, 34 years old",
        "Postcode or town",
        "LS1 4DY",
        "Leeds",
    ] {
        assert!(body.contains(words), "{words}: {body}");
    }
    assert!(
        !body.contains("referrer_role") && !body.contains("over_18"),
        "no step ids"
    );
    // The on-call alerts, and the transcript as a thread: their words and the gateway's.
    assert!(body.contains("+447911200011") && body.contains("+447911200012"));
    assert!(body.contains("I want to kill myself tonight"));
    assert!(body.contains("They texted") && body.contains("The gateway replied"));
    // The actions, and the way back.
    for button in [
        ">Send text</button>",
        ">Acknowledge</button>",
        ">Accept</button>",
        ">Signpost</button>",
        ">Close</button>",
        ">Make a patient</button>",
    ] {
        assert!(body.contains(button), "{button}");
    }
    assert!(body.contains(r#"<a class="nhsuk-back-link" href="/console/referrals">"#));
    assert!(
        body.contains(r#"<h2 class="nhsuk-warning-callout__label">"#)
            && body.matches("<h1").count() == 1,
        "one h1"
    );

    // Opening the page wrote the reads the JSON API's reads write, once each, as the user.
    let audit = app.audit_entries().await;
    let target = format!("referral:{id}");
    for action in ["referral.read", "transcript.read", "referral.events.read"] {
        let found = entries(&audit, CLINICIAN, action, &target);
        assert_eq!(found.len(), 1, "{action}: {audit:?}");
        assert!(found[0]["user_id"].is_string(), "{:?}", found[0]);
    }

    // A referral that does not exist.
    let missing = browser.get("/console/referrals/no-such-referral").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found"));
    app.stop().await;
}

async fn answers_replaced_after_restart_show_apart_under_details(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.start_referral(PHONE, &[("relationship", "1"), ("name", "Sam")])
        .await;
    app.text(PHONE, "RESTART").await;
    app.answer_steps(PHONE, &[("relationship", "1"), ("name", "Sam Jones")])
        .await;
    let id = app.referral_id_of(PHONE).await;
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let page = browser.get(&page_of(&id)).await;
    assert_eq!(page.status, 200);
    let (current, earlier) = page
        .body
        .split_once("Earlier answers they replaced")
        .expect("a details component for replaced answers");
    assert!(current.contains(r#"<dd class="nhsuk-summary-list__value crht-words">Sam Jones</dd>"#));
    assert!(
        !current.contains(r#"crht-words">Sam</dd>"#),
        "the old name is not current"
    );
    let earlier = earlier.split("</details>").next().unwrap();
    assert!(earlier.contains(r#"<dt class="nhsuk-summary-list__key">Name</dt>"#));
    assert!(earlier.contains(r#"crht-words">Sam</dd>"#), "{earlier}");
    app.stop().await;
}

async fn a_text_back_from_the_page_reaches_them_and_names_the_sender(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    // Another number texts STOP: it may not be texted.
    let other = "+447911123491";
    app.text(other, "hello").await;
    let stopped = app.referral_id_of(other).await;
    app.text(other, "STOP").await;
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let words = "Hello Sam, this is Ann from the crisis team. I will call you at 3pm today.";

    let posted = browser
        .post_from(
            &page_of(&id),
            &format!("/console/referrals/{id}/text-back"),
            &[("text", words)],
        )
        .await;
    let page = after_redirect(&mut browser, &posted, &page_of(&id)).await;
    assert!(page.body.contains("Your text is on its way"), "the flash");
    assert!(page.body.contains(words));
    assert!(
        page.body.contains(&format!("{CLINICIAN} texted back")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"nhsuk-tag--blue">queued</strong>"#)
            || page.body.contains(r#">sending</strong>"#)
            || page.body.contains(r#">sent</strong>"#),
        "the text's delivery status, as a tag"
    );

    let sent = app.twilio.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, PHONE);
    assert_eq!(sent[0].body, words);
    let audit = app.audit_entries().await;
    assert_eq!(
        entries(
            &audit,
            CLINICIAN,
            "referral.text_back",
            &format!("referral:{id}")
        )
        .len(),
        1
    );

    // No words, or too many: the page again, with the error, and nothing sent.
    let to = format!("/console/referrals/{id}/text-back");
    let empty = browser
        .post_from(&page_of(&id), &to, &[("text", "   ")])
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains("<title>Error: Referral"));
    assert!(empty.body.contains("There is a problem"));
    assert!(
        empty
            .body
            .contains(r##"<a href="#text">Enter your text</a>"##),
        "{}",
        empty.body
    );
    assert!(empty.body.contains(r#"id="text-error""#));
    let long = "x".repeat(613);
    let too_long = browser
        .post_from(&page_of(&id), &to, &[("text", &long)])
        .await;
    assert_eq!(too_long.status, 422);
    assert!(
        too_long
            .body
            .contains("Your text must be at most 612 characters")
    );
    assert!(
        too_long.body.contains(&format!(">{long}</textarea>")),
        "what they typed is kept"
    );

    // A number that texted STOP is not texted: 409, said on the page.
    let refused = browser
        .post_from(
            &page_of(&stopped),
            &format!("/console/referrals/{stopped}/text-back"),
            &[("text", "Are you safe?")],
        )
        .await;
    assert_eq!(refused.status, 409);
    assert!(
        refused
            .body
            .contains("This number has opted out of texts (STOP)"),
        "{}",
        refused.body
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.twilio.sent().len(), 1, "nothing more was sent");
    app.stop().await;
}

async fn acknowledging_with_a_note_then_closing_moves_the_referral_on(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    let reference = app.referral(&id).await["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let to = format!("/console/referrals/{id}/status");
    let note = "Called back: safe with family tonight, assessment tomorrow";

    let posted = browser
        .post_from(
            &page_of(&id),
            &to,
            &[("status", "acknowledged"), ("note", note)],
        )
        .await;
    let page = after_redirect(&mut browser, &posted, &page_of(&id)).await;
    assert!(
        page.body
            .contains(&format!("Referral {reference} acknowledged")),
        "the flash"
    );
    assert_eq!(app.referral(&id).await["status"], "acknowledged");
    assert!(
        page.body
            .contains(r#"nhsuk-tag--purple">acknowledged</strong>"#)
    );
    // The event, with who did it and the note.
    assert!(
        page.body
            .contains("<td class=\"nhsuk-table__cell\">Acknowledged</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("{CLINICIAN} (clinician)")));
    assert!(page.body.contains(note));
    // Acknowledged: it can be accepted, signposted or closed, not acknowledged again.
    assert!(!page.body.contains(">Acknowledge</button>"));
    assert!(page.body.contains(">Accept</button>") && page.body.contains(">Close</button>"));
    let audit = app.audit_entries().await;
    assert_eq!(
        entries(
            &audit,
            CLINICIAN,
            "referral.status.acknowledged",
            &format!("referral:{id}")
        )
        .len(),
        1
    );

    // What the service refuses shows on the page: a status staff may not set, a long note.
    let refused = browser
        .post_from(
            &page_of(&id),
            &to,
            &[("status", "in_progress"), ("note", "")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r##"<a href="#status-actions">"##),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("Status must be one of acknowledged, accepted, signposted, closed")
    );
    let long = "n".repeat(2001);
    let refused = browser
        .post_from(
            &page_of(&id),
            &to,
            &[("status", "accepted"), ("note", &long)],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains(r##"<a href="#note-accepted">The note must be at most"##),
        "{}",
        refused.body
    );
    assert_eq!(
        app.referral(&id).await["status"],
        "acknowledged",
        "unchanged"
    );

    let posted = browser
        .post_from(&page_of(&id), &to, &[("status", "closed"), ("note", "")])
        .await;
    let page = after_redirect(&mut browser, &posted, &page_of(&id)).await;
    assert!(page.body.contains(&format!("Referral {reference} closed")));
    assert_eq!(app.referral(&id).await["status"], "closed");
    assert!(page.body.contains("This referral is closed."));
    for button in [
        ">Acknowledge</button>",
        ">Accept</button>",
        ">Close</button>",
    ] {
        assert!(
            !page.body.contains(button),
            "{button}: nothing more to move"
        );
    }
    assert!(
        page.body
            .contains("<td class=\"nhsuk-table__cell\">Closed</td>")
    );
    app.stop().await;
}

async fn making_a_patient_goes_to_the_patient_and_the_page_links_it(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let to = format!("/console/referrals/{id}/patient");

    let posted = browser.post_from(&page_of(&id), &to, &[]).await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    let location = posted.location.clone().unwrap();
    let patient_id = location
        .strip_prefix("/console/patients/")
        .unwrap_or_else(|| panic!("{location}"))
        .to_owned();
    let (status, patient) = app
        .get(&app.clinician, &format!("/patients/{patient_id}"))
        .await;
    assert_eq!(status, 200, "{patient}");
    assert_eq!(patient["mobile"], PHONE);
    let audit = app.audit_entries().await;
    let made = entries(
        &audit,
        CLINICIAN,
        "patient.create",
        &format!("patient:{patient_id}"),
    );
    assert_eq!(made.len(), 1, "{audit:?}");

    // The referral page now links to the patient instead of offering to make another.
    let page = browser.get(&page_of(&id)).await;
    assert!(
        page.body.contains("Patient record made from the referral"),
        "the flash waited"
    );
    assert!(page.body.contains(&format!(
        r#"<a href="/console/patients/{patient_id}">View the patient record</a>"#
    )));
    assert!(!page.body.contains(">Make a patient</button>"));
    assert!(page.body.contains("Patient record made</td>"), "the event");

    // A second patient from the same referral is refused, and said so.
    let again = browser.post_from(&page_of(&id), &to, &[]).await;
    assert_eq!(again.status, 409);
    assert!(
        again.body.contains("This referral already has a patient"),
        "{}",
        again.body
    );
    app.stop().await;
}

async fn a_mobile_on_another_record_needs_the_shared_box_ticked(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    app.create_patient(serde_json::json!({
        "name": "Alex Taylor",
        "mobile": PHONE,
        "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "ls1 4dy"},
    }))
    .await;
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let to = format!("/console/referrals/{id}/patient");

    let refused = browser.post_from(&page_of(&id), &to, &[]).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("<title>Error: Referral"));
    assert!(
        refused.body.contains(r##"<a href="#make-patient">This mobile number is already on another patient&#x27;s record"##),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("tick the box to say so"));
    assert!(
        !refused.body.contains("shared_mobile&quot;"),
        "no API field names"
    );

    let made = browser
        .post_from(&page_of(&id), &to, &[("shared_mobile", "true")])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert!(made.location.unwrap().starts_with("/console/patients/"));
    app.stop().await;
}

async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    let mut browser = Browser::signed_in(&app, CLINICIAN, Role::Clinician).await;
    let posts: [(String, Vec<(&str, &str)>); 3] = [
        (
            format!("/console/referrals/{id}/text-back"),
            vec![("text", "Hello")],
        ),
        (
            format!("/console/referrals/{id}/status"),
            vec![("status", "closed"), ("note", "")],
        ),
        (format!("/console/referrals/{id}/patient"), vec![]),
    ];
    for (to, fields) in &posts {
        let page = browser.post(to, fields).await;
        assert_eq!(page.status, 403, "{to}");
        let mut forged = vec![("csrf_token", "not-the-token")];
        forged.extend_from_slice(fields);
        assert_eq!(browser.post(to, &forged).await.status, 403, "{to}");
    }
    assert_eq!(app.referral(&id).await["status"], "submitted");
    let audit = app.audit_entries().await;
    assert!(
        !audit.iter().any(|e| e["action"] == "referral.text_back"
            || e["action"] == "patient.create"
            || e["action"] == "referral.status.closed"),
        "{audit:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.twilio.sent().is_empty());
    app.stop().await;
}

async fn a_scheduler_is_refused_the_page_and_its_forms_and_sees_no_referral_words(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let id = submitted_referral(&mut app, PHONE).await;
    let reference = app.referral(&id).await["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::signed_in(&app, "sam@example.org", Role::Scheduler).await;
    let referral_words = [
        reference.as_str(),
        "not sleeping",
        "anxious",
        "guide dog",
        "7911123490",
        "Sam",
        "LS1",
    ];
    let no_referral_words = |page: &Page| {
        for words in referral_words {
            assert!(!page.body.contains(words), "{words}: {}", page.body);
        }
    };

    let page = browser.get(&page_of(&id)).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("You cannot do this with your role"));
    no_referral_words(&page);
    for (to, fields) in [
        (
            format!("/console/referrals/{id}/text-back"),
            vec![("text", "Hello")],
        ),
        (
            format!("/console/referrals/{id}/status"),
            vec![("status", "closed"), ("note", "")],
        ),
        (format!("/console/referrals/{id}/patient"), vec![]),
    ] {
        // With the session's own token: the service refuses the role.
        let page = browser.post_from(&page_of(&id), &to, &fields).await;
        assert_eq!(page.status, 403, "{to}");
        no_referral_words(&page);
    }
    assert_eq!(app.referral(&id).await["status"], "submitted");
    let audit = app.audit_entries().await;
    assert!(
        !audit
            .iter()
            .any(|e| e["actor"] == "sam@example.org"
                && e["target"] == format!("referral:{id}").as_str()),
        "a refused read is not a read: {audit:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.twilio.sent().is_empty());
    app.stop().await;
}
