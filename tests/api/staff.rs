//! The staff API: tokens, roles, audit, triage actions, problem+json errors.

use serde_json::json;

use crate::helpers::{Engine, spawn_app, urlencode};
use crate::on_both_engines;

on_both_engines!(
    requests_without_a_valid_token_get_401_problem_json,
    schedulers_get_403_on_referral_content_and_the_audit_log,
    every_read_of_referral_content_is_audited,
    staff_move_referrals_on_and_closed_ones_leave_the_queue,
    bad_requests_get_clear_problem_json,
    conversations_are_404_for_a_number_never_seen,
);

const PHONE: &str = "+447911123456";

async fn requests_without_a_valid_token_get_401_problem_json(engine: Engine) {
    let app = spawn_app(engine).await;
    for token in ["", "crht_not-a-real-token"] {
        let response = app
            .http
            .get(app.url("/api/v1/referrals"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], 401);
        assert!(body["title"].is_string() && body["detail"].is_string());
    }
    let none = app
        .http
        .get(app.url("/api/v1/referrals"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    app.stop().await;
}

async fn schedulers_get_403_on_referral_content_and_the_audit_log(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let referral_id = app.referral_id_of(PHONE).await;
    for path in [
        "/referrals".to_owned(),
        format!("/referrals/{referral_id}"),
        format!("/referrals/{referral_id}/transcript"),
        format!("/conversations/{}", urlencode(PHONE)),
        "/audit".to_owned(),
    ] {
        let (status, body) = app.get(&app.scheduler, &path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["status"], 403);
    }
    let (status, _) = app
        .post_json(
            &app.scheduler,
            &format!("/referrals/{referral_id}/status"),
            json!({"status": "acknowledged"}),
        )
        .await;
    assert_eq!(status, 403);
    // Clinicians read referrals but not the audit log.
    assert_eq!(
        app.get(&app.clinician, &format!("/referrals/{referral_id}"))
            .await
            .0,
        200
    );
    assert_eq!(app.get(&app.clinician, "/audit").await.0, 403);
    assert_eq!(app.get(&app.admin, "/audit").await.0, 200);
    app.stop().await;
}

async fn every_read_of_referral_content_is_audited(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let referral_id = app.referral_id_of(PHONE).await;
    app.get(&app.clinician, &format!("/referrals/{referral_id}"))
        .await;
    app.get(
        &app.clinician,
        &format!("/referrals/{referral_id}/transcript"),
    )
    .await;
    app.get(&app.clinician, "/referrals").await;
    app.get(&app.scheduler, &format!("/referrals/{referral_id}"))
        .await;
    let (status, audit) = app.get(&app.admin, "/audit").await;
    assert_eq!(status, 200);
    let items = audit["items"].as_array().unwrap();
    let target = format!("referral:{referral_id}");
    let by_clinician: Vec<_> = items
        .iter()
        .filter(|e| e["actor"] == "clinician-cal")
        .collect();
    assert!(
        by_clinician
            .iter()
            .any(|e| e["action"] == "referral.read" && e["target"] == target.as_str())
    );
    assert!(
        by_clinician
            .iter()
            .any(|e| e["action"] == "transcript.read" && e["target"] == target.as_str())
    );
    assert!(by_clinician.iter().any(|e| e["action"] == "referral.list"));
    assert!(
        by_clinician
            .iter()
            .all(|e| e["role"] == "clinician" && e["at"].is_string())
    );
    assert!(
        !items.iter().any(|e| e["actor"] == "scheduler-sam"),
        "a refused request read nothing"
    );
    // The audit log never carries a phone number.
    assert!(!audit.to_string().contains("7911123456"));
    app.stop().await;
}

async fn staff_move_referrals_on_and_closed_ones_leave_the_queue(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "I want to die").await;
    let referral_id = app.referral_id_of(PHONE).await;
    let path = format!("/referrals/{referral_id}/status");
    let (status, body) = app
        .post_json(&app.clinician, &path, json!({"status": "acknowledged"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "acknowledged");
    // The person texting on does not undo staff's status.
    app.text(PHONE, "1").await;
    assert_eq!(app.referral(&referral_id).await["status"], "acknowledged");

    let (status, body) = app
        .post_json(&app.clinician, &path, json!({"status": "closed"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    assert!(
        queue["items"].as_array().unwrap().is_empty(),
        "closed referrals leave the queue"
    );
    let (_, closed) = app.get(&app.clinician, "/referrals?status=closed").await;
    assert_eq!(closed["items"].as_array().unwrap().len(), 1);
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "referral.status.closed")
    );
    app.stop().await;
}

async fn bad_requests_get_clear_problem_json(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text(PHONE, "hello").await;
    let referral_id = app.referral_id_of(PHONE).await;
    let path = format!("/referrals/{referral_id}/status");
    let (status, body) = app
        .post_json(&app.clinician, &path, json!({"status": "in_progress"}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post_json(&app.clinician, &path, json!({"state": "closed"}))
        .await;
    assert_eq!(status, 422, "a field missing: {body}");
    let malformed = app
        .http
        .post(app.url(&format!("/api/v1{path}")))
        .bearer_auth(&app.clinician)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400, "malformed JSON");
    let (status, _) = app
        .post_json(
            &app.clinician,
            "/referrals/nope/status",
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = app.get(&app.clinician, "/referrals?status=lost").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app.get(&app.clinician, "/referrals/does-not-exist").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404);
    let response = app
        .http
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let not_json = app
        .http
        .post(app.url(&format!("/api/v1{path}")))
        .bearer_auth(&app.clinician)
        .body("status=closed")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    app.stop().await;
}

async fn conversations_are_404_for_a_number_never_seen(engine: Engine) {
    let app = spawn_app(engine).await;
    let (status, body) = app
        .get(
            &app.clinician,
            &format!("/conversations/{}", urlencode("+447911123999")),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.get(&app.clinician, "/conversations/12345").await;
    assert_eq!(status, 400);
    // National form is accepted too.
    let (status, _) = app.get(&app.clinician, "/conversations/07911123999").await;
    assert_eq!(status, 404);
    app.stop().await;
}
