//! Every door and every route into the triage queue: referrals staff enter after a phone call
//! (`POST /api/v1/referrals`), professionals' details, and discharge support from a ward.

use crht_gateway::domain::role::Role;
use serde_json::{Value, json};

use crate::console_client::Browser;

use crate::helpers::{Engine, spawn_app};

const PHONE: &str = "+447911123480";
use crate::on_both_engines;

on_both_engines!(
    a_phoned_referral_enters_the_triage_queue_with_its_source_and_route,
    a_phoned_referral_with_risk_in_its_words_is_urgent_and_alerts_on_call,
    schedulers_may_not_enter_referrals,
    a_phoned_referral_with_bad_fields_is_refused_naming_them,
    discharge_support_by_the_api_needs_ward_date_and_consent_and_filters_by_route,
    a_professionals_texted_referral_asks_their_organisation_and_callback_number,
    ward_staff_text_discharge_for_a_discharge_support_referral,
    the_console_shows_each_referrals_route_and_door,
);

fn phoned() -> Value {
    json!({
        "name": "Sam Jones",
        "phone": "07911 123457",
        "age": 34,
        "postcode": "LS1 4DY",
        "safety": "yes",
        "situation": "Low for a few weeks, not sleeping, wants someone to talk to.",
        "contact_method": "phone_call",
    })
}

async fn a_phoned_referral_enters_the_triage_queue_with_its_source_and_route(engine: Engine) {
    let app = spawn_app(engine).await;
    let (status, referral) = app.post_json(&app.clinician, "/referrals", phoned()).await;
    assert_eq!(status, 201, "{referral}");
    assert_eq!(referral["source"], "phone", "phone is the default source");
    assert_eq!(referral["route"], "crisis");
    assert_eq!(referral["status"], "submitted");
    assert_eq!(referral["urgent"], false);
    assert_eq!(referral["incomplete"], false);
    assert_eq!(referral["team"], "leeds");
    assert_eq!(referral["phone"], "+447911123457");
    assert_eq!(referral["answers"]["name"], "Sam Jones");
    assert_eq!(referral["answers"]["relationship"], "self");
    assert_eq!(referral["answers"]["contact_method"], "phone_call");
    let reference = referral["reference"].as_str().unwrap();
    assert!(
        reference.starts_with("CRHT-") && reference.len() == 11,
        "{reference}"
    );

    // Another system's referral says so; a town routes as the conversation routes it.
    let mut by_api = phoned();
    by_api["source"] = json!("api");
    by_api["postcode"] = Value::Null;
    by_api["town"] = json!("Leeds");
    let (status, other) = app.post_json(&app.admin, "/referrals", by_api).await;
    assert_eq!(status, 201, "{other}");
    assert_eq!(other["source"], "api");
    assert_eq!(other["team"], "leeds");

    let (status, queue) = app.get(&app.clinician, "/referrals").await;
    assert_eq!(status, 200);
    let ids: Vec<&Value> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert!(
        ids.contains(&&referral["id"]) && ids.contains(&&other["id"]),
        "{queue}"
    );
    let (_, phoned_only) = app.get(&app.clinician, "/referrals?source=phone").await;
    assert_eq!(phoned_only["items"].as_array().unwrap().len(), 1);
    assert_eq!(phoned_only["items"][0]["id"], referral["id"]);

    // Audited: who entered it, as one of the referral's events.
    let (_, events) = app
        .get(
            &app.clinician,
            &format!("/referrals/{}/events", referral["id"].as_str().unwrap()),
        )
        .await;
    let created = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "referral.created")
        .unwrap_or_else(|| panic!("no referral.created event: {events}"));
    assert_eq!(created["actor"], "clinician-cal");
    assert_eq!(created["role"], "clinician");

    // In the OpenAPI document.
    let openapi = app.openapi().await;
    assert!(openapi["paths"]["/api/v1/referrals"]["post"].is_object());
    let schema = &openapi["components"]["schemas"]["Referral"]["properties"];
    assert!(
        schema["source"].is_object() && schema["route"].is_object(),
        "{schema}"
    );
    app.stop().await;
}

async fn a_phoned_referral_with_risk_in_its_words_is_urgent_and_alerts_on_call(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut input = phoned();
    input["situation"] = json!("Rang the 0800 line. Said: I want to kill myself tonight.");
    let (status, referral) = app.post_json(&app.clinician, "/referrals", input).await;
    assert_eq!(status, 201, "{referral}");
    assert_eq!(referral["urgent"], true);
    assert!(referral["urgent_at"].is_string());
    assert!(
        referral["risk_signals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "suicidal_intent"),
        "{}",
        referral["risk_signals"]
    );
    // The Leeds team's two on-call numbers, reference and team only.
    let sent = app.twilio.wait_for(2).await;
    let mut to: Vec<_> = sent.iter().map(|s| s.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["+447911200011", "+447911200012"]);
    for alert in &sent {
        assert!(alert.body.contains(referral["reference"].as_str().unwrap()));
        assert!(!alert.body.contains("kill") && !alert.body.contains("7911123457"));
    }
    // Urgent first in the queue, like a texted referral.
    let (_, calm) = app.post_json(&app.clinician, "/referrals", phoned()).await;
    assert_eq!(calm["urgent"], false);
    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    assert_eq!(queue["items"][0]["id"], referral["id"]);

    // Risk in any free-text answer counts, not only the situation.
    let mut elsewhere = phoned();
    elsewhere["anything_else"] = json!("He said he wants to kill himself tonight.");
    let (_, elsewhere) = app.post_json(&app.clinician, "/referrals", elsewhere).await;
    assert_eq!(elsewhere["urgent"], true, "{elsewhere}");

    // "Not safe right now" is urgent too (safety rule 3).
    let mut unsafe_now = phoned();
    unsafe_now["safety"] = json!("no");
    let (_, unsafe_now) = app
        .post_json(&app.clinician, "/referrals", unsafe_now)
        .await;
    assert_eq!(unsafe_now["urgent"], true);
    assert_eq!(unsafe_now["risk_signals"], json!(["not_safe_now"]));
    app.stop().await;
}

async fn schedulers_may_not_enter_referrals(engine: Engine) {
    let app = spawn_app(engine).await;
    let (status, problem) = app.post_json(&app.scheduler, "/referrals", phoned()).await;
    assert_eq!(status, 403, "{problem}");
    let (_, queue) = app.get(&app.admin, "/referrals").await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0);
    app.stop().await;
}

async fn a_phoned_referral_with_bad_fields_is_refused_naming_them(engine: Engine) {
    let app = spawn_app(engine).await;
    let response = app
        .http
        .post(app.url("/api/v1/referrals"))
        .bearer_auth(&app.clinician)
        .json(&json!({"postcode": "ZZ99 XYZ1", "age": 30, "safety": "yes", "situation": "low"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("name: is required"), "{detail}");
    assert!(detail.contains("postcode:"), "{detail}");

    for (field, value) in [
        ("phone", json!("not a number")),
        ("safety", json!("purple")),
        ("route", json!("walk_in")),
        ("source", json!("sms")),
        ("age", json!(15)),
    ] {
        let mut input = phoned();
        input[field] = value;
        let (status, problem) = app.post_json(&app.clinician, "/referrals", input).await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{problem}"
        );
    }
    // Someone else's referral needs who they are to the person and whether they agree.
    let mut for_someone = phoned();
    for_someone["relationship"] = json!("someone_else");
    let (status, problem) = app
        .post_json(&app.clinician, "/referrals", for_someone)
        .await;
    assert_eq!(status, 422);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("referrer_role:") && detail.contains("consent:"),
        "{detail}"
    );
    let (_, queue) = app.get(&app.admin, "/referrals").await;
    assert_eq!(
        queue["items"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
    app.stop().await;
}

async fn discharge_support_by_the_api_needs_ward_date_and_consent_and_filters_by_route(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    let (status, problem) = app
        .post_json(
            &app.clinician,
            "/referrals",
            json!({"route": "discharge_support", "name": "Ali Khan", "age": 52, "postcode": "LS1 4DY"}),
        )
        .await;
    assert_eq!(status, 422);
    let detail = problem["detail"].as_str().unwrap();
    for field in ["ward:", "expected_discharge:", "consent:"] {
        assert!(detail.contains(field), "{detail}");
    }
    let (status, referral) = app
        .post_json(
            &app.clinician,
            "/referrals",
            json!({
                "route": "discharge_support",
                "name": "Ali Khan",
                "age": 52,
                "postcode": "LS1 4DY",
                "ward": "Ward 4, Becklin Centre",
                "expected_discharge": "2026-12-03",
                "consent": "yes",
                "referrer_name": "Jo Bloggs",
                "referrer_org": "Becklin Centre",
                "referrer_phone": "0113 496 0000",
            }),
        )
        .await;
    assert_eq!(status, 201, "{referral}");
    assert_eq!(referral["route"], "discharge_support");
    assert_eq!(referral["source"], "phone");
    let answers = &referral["answers"];
    assert_eq!(answers["ward"], "Ward 4, Becklin Centre");
    assert_eq!(answers["expected_discharge"], "2026-12-03");
    assert_eq!(answers["consent"], "yes");
    assert_eq!(answers["relationship"], "someone_else");
    assert_eq!(answers["referrer_role"], "professional");
    assert_eq!(answers["referrer_org"], "Becklin Centre");
    assert_eq!(answers["referrer_phone"], "+441134960000");

    let (_, crisis) = app.post_json(&app.clinician, "/referrals", phoned()).await;
    let (status, discharge) = app
        .get(&app.clinician, "/referrals?route=discharge_support")
        .await;
    assert_eq!(status, 200);
    let items = discharge["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{discharge}");
    assert_eq!(items[0]["id"], referral["id"]);
    let (_, crises) = app.get(&app.clinician, "/referrals?route=crisis").await;
    assert_eq!(crises["items"].as_array().unwrap().len(), 1);
    assert_eq!(crises["items"][0]["id"], crisis["id"]);
    let (status, _) = app.get(&app.clinician, "/referrals?route=walk_in").await;
    assert_eq!(status, 400);
    app.stop().await;
}

async fn a_professionals_texted_referral_asks_their_organisation_and_callback_number(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let reply = app
        .start_referral(
            PHONE,
            &[
                ("relationship", "2"),
                ("referrer_role", "4"),
                ("referrer_name", "Dr Jo Patel"),
            ],
        )
        .await;
    assert!(
        reply.text().contains("Where do you work?"),
        "{}",
        reply.text()
    );
    let reply = app
        .answer_steps(PHONE, &[("referrer_org", "Park Lane Surgery")])
        .await;
    assert!(reply.text().contains("call you back"), "{}", reply.text());
    // A number that is not one is asked again; SKIP uses the number texting.
    let reply = app.text(PHONE, "ring the surgery").await;
    assert!(
        reply.text().contains("doesn't look right"),
        "{}",
        reply.text()
    );
    app.answer_steps(PHONE, &[("referrer_phone", "SKIP"), ("consent", "1")])
        .await;
    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["answers"]["referrer_org"], "Park Lane Surgery");
    assert_eq!(referral["answers"]["referrer_phone"], Value::Null);
    assert_eq!(referral["route"], "crisis");
    assert_eq!(referral["source"], "sms");

    // Family are not asked where they work.
    let family = "+447911123481";
    app.start_referral(
        family,
        &[
            ("relationship", "2"),
            ("referrer_role", "1"),
            ("referrer_name", "Jo"),
            ("consent", "1"),
        ],
    )
    .await;
    app.stop().await;
}

async fn ward_staff_text_discharge_for_a_discharge_support_referral(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let reply = app.text(PHONE, "hello").await;
    assert!(reply.text().contains("999"));
    let reply = app
        .answer_steps(
            PHONE,
            &[
                ("relationship", "DISCHARGE"),
                ("referrer_name", "Nurse Kim Lee"),
            ],
        )
        .await;
    assert!(
        reply.text().contains("Where do you work?"),
        "{}",
        reply.text()
    );
    let reply = app
        .answer_steps(
            PHONE,
            &[
                ("referrer_org", "Becklin Centre"),
                ("referrer_phone", "0113 496 0000"),
            ],
        )
        .await;
    assert!(reply.text().contains("Which ward"), "{}", reply.text());
    let reply = app.answer_steps(PHONE, &[("ward", "Ward 4")]).await;
    assert!(reply.text().contains("leave the ward"), "{}", reply.text());
    let reply = app.text(PHONE, "soonish").await;
    assert!(
        reply.text().contains("date doesn't look right"),
        "{}",
        reply.text()
    );
    let reply = app
        .answer_steps(
            PHONE,
            &[
                ("expected_discharge", "tomorrow"),
                ("consent", "yes"),
                ("subject_phone", "07911 123482"),
                ("name", "Ali"),
                ("age", "52"),
                ("postcode", "LS1 4DY"),
                ("safety", "yes"),
                ("situation", "Going home after three weeks, lives alone"),
                ("contact_method", "1"),
                ("language", "no"),
                ("access_needs", "8"),
                ("anything_else", "no"),
            ],
        )
        .await;
    assert!(
        reply.text().contains("Support after leaving Ward 4"),
        "{}",
        reply.text()
    );
    app.answer_steps(PHONE, &[("confirm", "YES")]).await;
    let referral = app.referral_of(PHONE).await;
    assert_eq!(referral["route"], "discharge_support");
    assert_eq!(referral["source"], "sms");
    assert_eq!(referral["status"], "submitted");
    let answers = &referral["answers"];
    assert_eq!(answers["referrer_role"], "professional");
    assert_eq!(answers["ward"], "Ward 4");
    assert!(answers["expected_discharge"].is_string(), "{answers}");
    assert_eq!(answers["referrer_phone"], "+441134960000");

    // The ward's other way in: 6 at the role question. A family member's referral stays
    // on the crisis route.
    let other = "+447911123483";
    app.start_referral(other, &[("relationship", "2"), ("referrer_role", "6")])
        .await;
    app.answer_steps(
        other,
        &[
            ("referrer_name", "SKIP"),
            ("referrer_org", "SKIP"),
            ("referrer_phone", "SKIP"),
            ("ward", "Ward 2"),
        ],
    )
    .await;
    let (_, discharge) = app
        .get(&app.clinician, "/referrals?route=discharge_support")
        .await;
    let items = discharge["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{discharge}");
    app.stop().await;
}

async fn the_console_shows_each_referrals_route_and_door(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, discharge) = app
        .post_json(
            &app.clinician,
            "/referrals",
            json!({
                "route": "discharge_support",
                "name": "Ali Khan",
                "age": 52,
                "postcode": "LS1 4DY",
                "ward": "Ward 4",
                "expected_discharge": "2026-12-03",
                "consent": "yes",
                "referrer_org": "Becklin Centre",
            }),
        )
        .await;
    let (_, crisis) = app.post_json(&app.clinician, "/referrals", phoned()).await;
    let reference = |r: &serde_json::Value| r["reference"].as_str().expect("reference").to_owned();
    let (discharge_ref, crisis_ref) = (reference(&discharge), reference(&crisis));
    let mut browser = Browser::signed_in(&app, "ann@example.org", Role::Clinician).await;
    let queue = browser.get("/console/referrals").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(
        queue
            .body
            .contains(r#"<th scope="col" class="nhsuk-table__header">Route</th>"#)
    );
    assert!(queue.body.contains(&discharge_ref) && queue.body.contains(&crisis_ref));

    // The filter form narrows the queue by route, and keeps the choice selected.
    let only = browser
        .get("/console/referrals?route=discharge_support&source=phone")
        .await;
    assert_eq!(only.status, 200, "{}", only.body);
    assert!(only.body.contains(&discharge_ref), "{}", only.body);
    assert!(!only.body.contains(&crisis_ref), "{}", only.body);
    assert!(
        only.body
            .contains(r#"<option value="discharge_support" selected>"#)
    );
    let crisis_only = browser.get("/console/referrals?route=crisis").await;
    assert!(crisis_only.body.contains(&crisis_ref));
    assert!(!crisis_only.body.contains(&discharge_ref));
    let by_text = browser.get("/console/referrals?source=sms").await;
    assert!(!by_text.body.contains(&crisis_ref) && !by_text.body.contains(&discharge_ref));
    assert!(
        queue.body.contains(
            r#"<strong class="nhsuk-tag nhsuk-tag--aqua-green">Discharge support</strong>, taken by phone"#
        ),
        "{}",
        queue.body
    );
    let page = browser
        .get(&format!(
            "/console/referrals/{}",
            discharge["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("Discharge support</strong>, taken by phone")
    );
    assert!(page.body.contains("Ward they are leaving"), "{}", page.body);
    assert!(page.body.contains("Becklin Centre"));
    app.stop().await;
}
