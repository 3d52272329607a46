//! The console in a real browser (headless Chromium through WebDriver, `browser.rs`), on the
//! real gateway with a real database: a clinician's shift from sign-in to sign-out, the live
//! triage queue, and the refusals. Every page visited is checked with axe-core and
//! photographed into `target/console-screenshots/`.

use std::time::Duration;

use crht_gateway::domain::role::Role;
use fantoccini::Locator;

use crate::browser::Chrome;
use crate::console_client::{PASSWORD, make_user};
use crate::helpers::{Engine, SELF_REFERRAL, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_clinician_works_a_shift_from_the_console,
    every_page_passes_axe_and_fits_at_200_percent,
    by_keyboard_alone_a_scheduler_signs_in_and_is_warned_before_idle_sign_out,
    an_urgent_referral_arrives_at_the_top_of_the_queue_without_a_reload,
    forms_without_their_token_and_pages_beyond_a_role_are_refused,
);

/// Waits until `check` is true of the page (the live queue polls every few seconds).
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The flash banner after an action.
async fn said(chrome: &Chrome) -> String {
    chrome.text_of(".nhsuk-notification-banner--success").await
}

async fn a_clinician_works_a_shift_from_the_console(engine: Engine) {
    const PHONE: &str = "+447911123482";
    let mut app = spawn_app(engine).await;
    make_user(&app, "cal@example.org", Role::Clinician).await;
    let chrome = Chrome::start(&app.base).await;
    chrome.sign_in("cal@example.org", PASSWORD).await;
    assert_eq!(chrome.h1().await, "Triage queue");

    // Someone starts a referral, then says they are in danger, while the queue is open.
    app.start_referral(
        PHONE,
        &[
            ("relationship", "1"),
            ("name", "Sam Taylor"),
            ("age", "34"),
            ("postcode", "LS1 4DY"),
        ],
    )
    .await;
    app.text(PHONE, "I want to kill myself tonight").await;
    let reference = app.referral_of(PHONE).await["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the urgent referral in the queue", || async {
        chrome
            .text_of("#queue tbody tr:first-child")
            .await
            .contains(&reference)
    })
    .await;

    // Open it: the answers, the risk, the transcript.
    chrome.click_text(&reference).await;
    assert!(
        chrome.h1().await.contains(&reference),
        "{}",
        chrome.h1().await
    );
    let main = chrome.text_of("main").await;
    for seen in [
        "Sam Taylor",
        "suicidal",
        "I want to kill myself tonight",
        "Acknowledge",
    ] {
        assert!(main.contains(seen), "{seen} in {main}");
    }
    chrome.check("referral").await;
    chrome.fits_at_200_percent().await;

    // Text them back from the referral number.
    chrome
        .fill(
            "#text",
            "This is the crisis team. We will ring you in 10 minutes.",
        )
        .await;
    chrome.press("#send-text").await;
    assert!(said(&chrome).await.contains("Your text is on its way"));
    let sent = app.twilio.wait_for(3).await;
    assert!(
        sent.iter()
            .any(|t| t.to == PHONE && t.body.contains("ring you in 10 minutes")),
        "{sent:?}"
    );
    assert!(
        chrome
            .text_of("main")
            .await
            .contains("ring you in 10 minutes")
    );

    // Acknowledge, saying why.
    chrome
        .fill(
            "#note-acknowledged",
            "Rang back; safe with their partner tonight",
        )
        .await;
    chrome.press("#acknowledge").await;
    assert!(
        said(&chrome).await.contains("acknowledged"),
        "{}",
        said(&chrome).await
    );
    assert_eq!(app.referral_of(PHONE).await["status"], "acknowledged");
    assert!(
        chrome
            .text_of("main")
            .await
            .contains("safe with their partner tonight")
    );

    // Make them a patient and book an assessment for tomorrow afternoon.
    chrome.press("#make-patient").await;
    assert!(chrome.path().await.starts_with("/console/patients/"));
    assert!(
        chrome.h1().await.contains("Sam Taylor"),
        "{}",
        chrome.h1().await
    );
    chrome.check("patient").await;
    chrome.press("#book-appointment").await;
    chrome.check("book-appointment").await;
    let tomorrow = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        + chrono::Days::new(1);
    chrome
        .fill("#day", &tomorrow.format("%-d").to_string())
        .await;
    chrome
        .fill("#month", &tomorrow.format("%-m").to_string())
        .await;
    chrome
        .fill("#year", &tomorrow.format("%Y").to_string())
        .await;
    chrome.fill("#time", "14:30").await;
    chrome.find("#kind").await.click().await.unwrap();
    chrome.find("#place").await.click().await.unwrap();
    chrome.press("#book").await;
    assert!(
        said(&chrome).await.to_lowercase().contains("booked"),
        "{}",
        said(&chrome).await
    );
    let main = chrome.text_of("main").await;
    assert!(main.contains("14:30"), "{main}");
    chrome.check("patient-with-appointment").await;

    // An urgent message to them goes by their first channel for urgent things, a phone call:
    // it lands on the call list, with the script to read.
    chrome.press("#send-message").await;
    chrome.find("#purpose").await.click().await.unwrap();
    chrome
        .fill(
            "#text",
            "Please ring the crisis team today on 0800 129 9999.",
        )
        .await;
    chrome.press("#send").await;
    let queued = said(&chrome).await;
    assert!(queued.to_lowercase().contains("phone call"), "{queued}");
    chrome.click_text("Call list").await;
    assert_eq!(chrome.path().await, "/console/calls");
    let calls = chrome.text_of("main").await;
    assert!(calls.contains("Sam Taylor"), "{calls}");
    assert!(calls.contains("0800 129 9999"), "{calls}");
    chrome.check("call-list").await;
    chrome
        .find("input[name=outcome][value=done]")
        .await
        .click()
        .await
        .unwrap();
    chrome.click_text("Record outcome").await;
    assert!(
        said(&chrome).await.contains("done"),
        "{}",
        said(&chrome).await
    );
    assert!(!chrome.text_of("main").await.contains("Sam Taylor"));

    chrome.click_text("Sign out").await;
    chrome.find("h1").await;
    assert_eq!(chrome.path().await, "/login");
    chrome.close().await;
    app.stop().await;
}

async fn an_urgent_referral_arrives_at_the_top_of_the_queue_without_a_reload(engine: Engine) {
    let mut app = spawn_app(engine).await;
    make_user(&app, "cal@example.org", Role::Clinician).await;
    // A referral already waiting, not urgent.
    app.text("+447700900101", "hello").await;

    let chrome = Chrome::start(&app.base).await;
    chrome.goto("/console/referrals").await;
    assert_eq!(chrome.path().await, "/login", "the console needs a session");
    chrome.check("sign-in").await;
    chrome.sign_in("cal@example.org", PASSWORD).await;
    assert_eq!(chrome.path().await, "/console/referrals");
    assert_eq!(chrome.h1().await, "Triage queue");
    let rows = chrome
        .client
        .find_all(Locator::Css("#queue tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    chrome.check("triage-queue").await;
    chrome.fits_at_200_percent().await;

    // The page is marked as not reloaded; a person texts in crisis.
    chrome.eval("window.notReloaded = true; return true;").await;
    app.text("+447700900202", "I want to kill myself tonight")
        .await;
    let reference = app.referral_of("+447700900202").await["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the urgent referral on top", || async {
        chrome
            .text_of("#queue tbody tr:first-child")
            .await
            .contains(&reference)
    })
    .await;
    let first = chrome.text_of("#queue tbody tr:first-child").await;
    assert!(first.contains("Urgent"), "{first}");
    assert_eq!(
        chrome.eval("return window.notReloaded === true;").await,
        true,
        "the page was not reloaded"
    );
    assert!(
        chrome.title().await.starts_with("(1) New urgent referral"),
        "{}",
        chrome.title().await
    );
    let news = chrome.text_of("#queue-news").await;
    assert!(news.contains(&reference), "{news}");
    assert_eq!(
        chrome
            .find("#queue-news")
            .await
            .attr("aria-live")
            .await
            .unwrap()
            .as_deref(),
        Some("assertive")
    );
    chrome.check("triage-queue-urgent").await;

    // Keyboard alone: the first Tab reaches the skip link, which leads to the content.
    chrome.goto("/console/referrals").await;
    chrome
        .find("body")
        .await
        .send_keys("\u{e004}")
        .await
        .unwrap();
    let focused = chrome
        .eval("return document.activeElement.textContent.trim();")
        .await;
    assert_eq!(focused, "Skip to main content");

    chrome.click_text("Sign out").await;
    chrome.find("h1").await;
    assert_eq!(chrome.path().await, "/login");
    chrome.goto("/console/referrals").await;
    assert_eq!(chrome.path().await, "/login", "signed out");
    chrome.close().await;
    app.stop().await;
}

async fn forms_without_their_token_and_pages_beyond_a_role_are_refused(engine: Engine) {
    let mut app = spawn_app(engine).await;
    make_user(&app, "sam@example.org", Role::Scheduler).await;
    app.text("+447700900303", "I want to kill myself tonight")
        .await;
    let referral = app.referral_id_of("+447700900303").await;

    let chrome = Chrome::start(&app.base).await;
    // A sign-in form whose token has been taken out.
    chrome.goto("/login").await;
    chrome
        .eval("document.querySelector('input[name=csrf_token]').remove(); return true;")
        .await;
    chrome.fill("#email", "sam@example.org").await;
    chrome.fill("#password", PASSWORD).await;
    chrome.click_text("Sign in").await;
    assert_eq!(chrome.h1().await, "This form could not be sent");
    chrome.check("refused-form").await;

    // A scheduler signs in to the patients, and may not read a referral.
    chrome.sign_in("sam@example.org", PASSWORD).await;
    assert_eq!(chrome.path().await, "/console/patients");
    let menu = chrome.text_of(".nhsuk-header__navigation-list").await;
    assert!(!menu.contains("Referrals"), "{menu}");
    for path in [
        "/console/referrals".to_owned(),
        format!("/console/referrals/{referral}"),
    ] {
        chrome.goto(&path).await;
        assert_eq!(
            chrome.h1().await,
            "You cannot do this with your role",
            "{path}"
        );
        let body = chrome.text_of("main").await;
        assert!(!body.contains("kill"), "{body}");
    }
    chrome.check("refused-role").await;
    chrome.close().await;
    app.stop().await;
}

/// Every page of the console, as an admin sees it with something on each, checked with
/// axe-core and at 200% zoom; form pages also with their errors showing.
async fn every_page_passes_axe_and_fits_at_200_percent(engine: Engine) {
    let mut app = spawn_app(engine).await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    // A referral sent in full, then a text to its thread (an inbox item).
    app.start_referral("+447700900505", SELF_REFERRAL).await;
    app.text("+447700900505", "Can someone call me back please")
        .await;
    let referral = app.referral_id_of("+447700900505").await;
    // A discharge-support referral taken by phone: its route shows as a tag.
    let (status, discharge) = app
        .post_json(
            &app.clinician,
            "/referrals",
            serde_json::json!({"route": "discharge_support", "name": "Ali Khan", "age": 52,
                "postcode": "LS1 4DY", "ward": "Ward 4", "expected_discharge": "2026-12-03",
                "consent": "yes"}),
        )
        .await;
    assert_eq!(status, 201, "{discharge}");
    let discharge = discharge["id"].as_str().unwrap().to_owned();
    // A patient with a phone call and a letter waiting, and an appointment.
    let patient = app
        .create_patient(serde_json::json!({
            "name": "Alex Morgan",
            "mobile": "+447911123481",
            "address": {"lines": ["12 Park Row", "Leeds"], "postcode": "LS1 4DY"},
        }))
        .await;
    let patient = patient["id"].as_str().unwrap().to_owned();
    for purpose in ["urgent", "non_urgent"] {
        let (status, body) = app
            .send_message(
                &patient,
                serde_json::json!({"purpose": purpose, "text": "The team would like to talk."}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let starts = (chrono::Utc::now() + chrono::TimeDelta::days(3)).to_rfc3339();
    let appointment = app
        .book_appointment(
            &patient,
            serde_json::json!({"starts_at": starts, "place": "home", "kind": "review"}),
        )
        .await;
    let appointment = appointment["id"].as_str().unwrap().to_owned();

    let chrome = Chrome::start(&app.base).await;
    chrome.sign_in("ann@example.org", PASSWORD).await;
    let pages = [
        ("triage-queue-admin", "/console/referrals".to_owned()),
        ("referral-sent", format!("/console/referrals/{referral}")),
        (
            "referral-discharge-support",
            format!("/console/referrals/{discharge}"),
        ),
        ("patients", "/console/patients".to_owned()),
        ("patients-search", "/console/patients?q=Alex".to_owned()),
        ("patient-new", "/console/patients/new".to_owned()),
        ("passport", format!("/console/patients/{patient}")),
        ("passport-edit", format!("/console/patients/{patient}/edit")),
        (
            "appointment-move",
            format!("/console/appointments/{appointment}/move"),
        ),
        (
            "appointment-cancel",
            format!("/console/appointments/{appointment}/cancel"),
        ),
        (
            "message-new",
            format!("/console/patients/{patient}/messages/new"),
        ),
        ("calls", "/console/calls".to_owned()),
        ("letters", "/console/letters".to_owned()),
        ("inbox", "/console/inbox".to_owned()),
        ("admin", "/console/admin".to_owned()),
        ("admin-users", "/console/admin/users".to_owned()),
        ("admin-user-new", "/console/admin/users/new".to_owned()),
        ("admin-tokens", "/console/admin/tokens".to_owned()),
        ("admin-teams", "/console/admin/teams".to_owned()),
        ("admin-audit", "/console/admin/audit".to_owned()),
    ];
    for (name, path) in &pages {
        chrome.goto(path).await;
        let h1 = chrome.h1().await;
        assert!(
            !h1.contains("Sorry") && !h1.contains("not found"),
            "{path}: {h1}"
        );
        chrome.check(name).await;
        chrome.fits_at_200_percent().await;
    }
    // Something on each list.
    chrome.goto("/console/letters").await;
    assert!(chrome.text_of("main").await.contains("Alex Morgan"));
    chrome.goto("/console/inbox").await;
    assert!(chrome.text_of("main").await.contains("call me back"));

    // Forms sent empty show their errors, which pass too.
    for (name, path, button) in [
        (
            "patient-new-errors",
            "/console/patients/new",
            "#save-passport",
        ),
        (
            "book-errors",
            &*format!("/console/patients/{patient}/appointments/new"),
            "#book",
        ),
        (
            "admin-user-new-errors",
            "/console/admin/users/new",
            "button[type=submit]",
        ),
    ] {
        chrome.goto(path).await;
        chrome.press(&format!("main form {button}")).await;
        chrome.find(".nhsuk-error-summary").await;
        assert!(chrome.title().await.starts_with("Error: "), "{path}");
        chrome.check(name).await;
    }
    chrome.close().await;
    app.stop().await;
}

async fn by_keyboard_alone_a_scheduler_signs_in_and_is_warned_before_idle_sign_out(engine: Engine) {
    let app = spawn_app(engine).await;
    make_user(&app, "sam@example.org", Role::Scheduler).await;
    let chrome = Chrome::start(&app.base).await;
    // Signing in with the keyboard alone: Tab to each field, Enter to send.
    chrome.goto("/login").await;
    let active_id = || async {
        chrome
            .eval("return document.activeElement.id;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let tab = || async {
        let focused = chrome.client.active_element().await.unwrap();
        focused.send_keys("\u{e004}").await.unwrap();
    };
    for _ in 0..15 {
        if active_id().await == "email" {
            break;
        }
        tab().await;
    }
    assert_eq!(active_id().await, "email", "Tab reaches the email field");
    let focused = chrome.client.active_element().await.unwrap();
    focused.send_keys("sam@example.org").await.unwrap();
    tab().await;
    assert_eq!(active_id().await, "password");
    let focused = chrome.client.active_element().await.unwrap();
    focused
        .send_keys(&format!("{PASSWORD}\u{e007}"))
        .await
        .unwrap();
    wait_until("the patients page", || async {
        chrome.path().await == "/console/patients"
    })
    .await;
    let idle: i64 = chrome
        .find("body")
        .await
        .attr("data-idle-seconds")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        chrome
            .eval("return document.getElementById('idle-warning').hidden;")
            .await,
        true
    );
    // The browser's clock moves on to 90 seconds before the session would end.
    chrome
        .eval(&format!(
            "const real = Date.now; const ahead = {}; Date.now = () => real() + ahead; return true;",
            (idle - 60 - 90) * 1000
        ))
        .await;
    wait_until("the idle warning", || async {
        chrome
            .eval("return document.getElementById('idle-warning').hidden;")
            .await
            == false
    })
    .await;
    let warning = chrome.text_of("#idle-warning").await;
    assert!(warning.contains("signed out in 2 minutes"), "{warning}");
    assert_eq!(
        chrome.eval("return document.activeElement.id;").await,
        "stay-signed-in",
        "the warning takes the focus"
    );
    chrome.check("idle-warning").await;
    chrome.find("#stay-signed-in").await.click().await.unwrap();
    wait_until("the warning to go", || async {
        chrome
            .eval("return document.getElementById('idle-warning').hidden;")
            .await
            == true
    })
    .await;
    // Still signed in.
    chrome.goto("/console/patients").await;
    assert_eq!(chrome.path().await, "/console/patients");
    chrome.close().await;
    app.stop().await;
}
