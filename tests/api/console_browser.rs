//! The console in a real browser (headless Chromium through WebDriver, `browser.rs`), on the
//! real gateway with a real database: a clinician's shift from sign-in to sign-out, the live
//! triage queue, and the refusals. Every page visited is checked with axe-core and
//! photographed into `target/console-screenshots/`.

use std::time::Duration;

use crht_gateway::domain::role::Role;
use fantoccini::Locator;

use crate::browser::Chrome;
use crate::console_client::{PASSWORD, make_user};
use crate::helpers::{Engine, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_clinician_works_a_shift_from_the_console,
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
    chrome
        .text_of(".nhsuk-notification-banner--success")
        .await
}

async fn a_clinician_works_a_shift_from_the_console(engine: Engine) {
    const PHONE: &str = "+447700900404";
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
    assert!(chrome.h1().await.contains(&reference), "{}", chrome.h1().await);
    let main = chrome.text_of("main").await;
    for seen in ["Sam Taylor", "suicidal", "I want to kill myself tonight", "Acknowledge"] {
        assert!(main.contains(seen), "{seen} in {main}");
    }
    chrome.check("referral").await;
    chrome.fits_at_200_percent().await;

    // Text them back from the referral number.
    chrome
        .fill("#text", "This is the crisis team. We will ring you in 10 minutes.")
        .await;
    chrome.find("#send-text").await.click().await.unwrap();
    assert!(said(&chrome).await.contains("Your text is on its way"));
    let sent = app.twilio.wait_for(3).await;
    assert!(
        sent.iter()
            .any(|t| t.to == PHONE && t.body.contains("ring you in 10 minutes")),
        "{sent:?}"
    );
    assert!(chrome.text_of("main").await.contains("ring you in 10 minutes"));

    // Acknowledge, saying why.
    chrome
        .fill("#note-acknowledged", "Rang back; safe with their partner tonight")
        .await;
    chrome.find("#acknowledge").await.click().await.unwrap();
    assert!(said(&chrome).await.contains("acknowledged"), "{}", said(&chrome).await);
    assert_eq!(app.referral_of(PHONE).await["status"], "acknowledged");
    assert!(
        chrome
            .text_of("main")
            .await
            .contains("safe with their partner tonight")
    );

    // Make them a patient and book an assessment for tomorrow afternoon.
    chrome.find("#make-patient").await.click().await.unwrap();
    assert!(chrome.path().await.starts_with("/console/patients/"));
    assert!(chrome.h1().await.contains("Sam Taylor"), "{}", chrome.h1().await);
    chrome.check("patient").await;
    chrome.find("#book-appointment").await.click().await.unwrap();
    chrome.check("book-appointment").await;
    let tomorrow = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        + chrono::Days::new(1);
    chrome.fill("#day", &tomorrow.format("%-d").to_string()).await;
    chrome.fill("#month", &tomorrow.format("%-m").to_string()).await;
    chrome.fill("#year", &tomorrow.format("%Y").to_string()).await;
    chrome.fill("#time", "14:30").await;
    chrome.find("#kind").await.click().await.unwrap();
    chrome.find("#place").await.click().await.unwrap();
    chrome.find("#book").await.click().await.unwrap();
    assert!(said(&chrome).await.to_lowercase().contains("booked"), "{}", said(&chrome).await);
    let main = chrome.text_of("main").await;
    assert!(main.contains("14:30"), "{main}");
    chrome.check("patient-with-appointment").await;

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
