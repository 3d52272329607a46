//! Staff accounts: creating them, signing in to the console (sessions, lock-out, idle
//! expiry, sign-out, CSRF), and API tokens that can be listed, revoked and expire.

use chrono::TimeDelta;
use crht_gateway::config_check::load_teams;
use crht_gateway::domain::role::Role;
use crht_gateway::staff::{NewToken, NewUser, Password, operator};
use serde_json::Value;

use crate::console_client::{Browser, PASSWORD, accounts, make_user};
use crate::helpers::{Engine, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    accounts_are_made_with_a_password_or_a_one_time_link,
    signing_in_starts_a_new_strict_http_only_session_and_failures_say_nothing_more,
    five_failures_in_a_row_lock_an_account_for_15_minutes,
    an_idle_session_ends,
    signing_out_ends_the_session,
    a_form_posted_without_its_csrf_token_is_refused,
    admins_list_and_revoke_tokens_and_revoked_ones_get_401,
    expired_tokens_get_401_and_a_token_can_belong_to_a_person,
    behind_https_the_session_cookie_is_secure,
    console_pages_forbid_inline_script_and_are_never_cached,
);

fn actions(audit: &[Value]) -> Vec<String> {
    audit
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn accounts_are_made_with_a_password_or_a_one_time_link(engine: Engine) {
    let app = spawn_app(engine).await;
    let teams = load_teams(&app.app.state.config).unwrap();
    let team = teams.default_team().id.clone();
    let accounts = accounts(&app);
    let new_user = |email: &str| NewUser {
        email: email.into(),
        name: "Cal Clinician".into(),
        role: Role::Clinician,
        teams: vec![team.clone()],
    };
    assert!(Password::new("too-short").is_err());
    let created = accounts
        .create_user(&operator(), new_user("cal@example.org"), None, &teams)
        .await
        .unwrap();
    assert_eq!(created.user.email, "cal@example.org");
    assert_eq!(created.user.teams, vec![team.clone()]);
    let link = created.set_password_token.expect("a one-time link");

    let again = accounts
        .create_user(&operator(), new_user("CAL@Example.org"), None, &teams)
        .await;
    assert!(
        again.unwrap_err().to_string().contains("already exists"),
        "emails are unique whatever their case"
    );
    let mut bad_team = new_user("dee@example.org");
    bad_team.teams = vec!["atlantis".into()];
    assert!(
        accounts
            .create_user(&operator(), bad_team, None, &teams)
            .await
            .is_err()
    );

    // No password yet: nobody can sign in as them.
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("cal@example.org", "").await.status, 200);

    // The link shows a form; a short password is refused with the reason.
    let form = browser.get(&format!("/set-password?token={link}")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("cal@example.org"), "{}", form.body);
    let csrf = form.csrf_token();
    let short = browser
        .post(
            "/set-password",
            &[
                ("csrf_token", &csrf),
                ("token", &link),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(
        short.body.contains("at least 12 characters"),
        "{}",
        short.body
    );
    let set = browser
        .post(
            "/set-password",
            &[
                ("csrf_token", &csrf),
                ("token", &link),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(set.status, 303);
    assert_eq!(set.location.as_deref(), Some("/login"));

    // Once only.
    assert_eq!(
        browser
            .get(&format!("/set-password?token={link}"))
            .await
            .status,
        404
    );
    let signed_in = Browser::new(&app)
        .sign_in("Cal@example.org", PASSWORD)
        .await;
    assert_eq!(signed_in.status, 303);
    let audit = actions(&app.audit_entries().await);
    assert!(audit.contains(&"user.create".to_owned()), "{audit:?}");
    assert!(audit.contains(&"user.password_set".to_owned()), "{audit:?}");
    app.stop().await;
}

async fn signing_in_starts_a_new_strict_http_only_session_and_failures_say_nothing_more(
    engine: Engine,
) {
    let app = spawn_app(engine).await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    let mut browser = Browser::new(&app);

    let form = browser.get("/login").await;
    assert_eq!(form.status, 200);
    for field in [r#"name="email""#, r#"name="password""#, r#"for="email""#] {
        assert!(form.body.contains(field), "{field}");
    }
    let before = browser
        .cookie
        .clone()
        .expect("a session for the form's token");

    let wrong = browser.sign_in("ann@example.org", "not the password").await;
    let unknown = browser.sign_in("nobody@example.org", PASSWORD).await;
    for failed in [&wrong, &unknown] {
        assert_eq!(failed.status, 200);
        assert!(failed.body.contains("email or password not right"));
    }
    assert_eq!(
        wrong.body.replace("ann@example.org", ""),
        unknown.body.replace("nobody@example.org", ""),
        "the same page whichever was wrong"
    );

    let signed_in = browser.sign_in("ann@example.org", PASSWORD).await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.location.as_deref(), Some("/console/referrals"));
    let cookie = signed_in.set_cookie.clone().unwrap();
    let lower = cookie.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{cookie}");
    assert!(lower.contains("samesite=strict"), "{cookie}");
    assert!(!lower.contains("secure"), "plain http in tests: {cookie}");
    assert_ne!(browser.cookie.as_ref(), Some(&before), "a new session id");

    let page = browser.get("/console/referrals").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ann Example"), "{}", page.body);

    // The id from before signing in is worth nothing now.
    let mut planted = Browser::new(&app);
    planted.cookie = Some(before);
    assert_eq!(planted.get("/console/referrals").await.status, 303);

    // Without a session, the console sends you to sign in.
    let anonymous = Browser::new(&app).get("/console/referrals").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/login"));

    let audit = app.audit_entries().await;
    let names = actions(&audit);
    assert!(names.contains(&"user.sign_in".to_owned()), "{names:?}");
    assert_eq!(
        names.iter().filter(|a| *a == "user.sign_in_failed").count(),
        2
    );
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains("not the password"),
        "never a password in the audit log"
    );
    app.stop().await;
}

async fn five_failures_in_a_row_lock_an_account_for_15_minutes(engine: Engine) {
    let app = spawn_app_with(engine, |_| {}, true).await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    let mut browser = Browser::new(&app);

    // A success in between starts the count again.
    for _ in 0..4 {
        assert_eq!(
            browser.sign_in("ann@example.org", "wrong").await.status,
            200
        );
    }
    assert_eq!(
        browser.sign_in("ann@example.org", PASSWORD).await.status,
        303
    );
    let mut browser = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(
            browser.sign_in("ann@example.org", "wrong").await.status,
            200
        );
    }
    let locked = browser.sign_in("ann@example.org", PASSWORD).await;
    assert_eq!(locked.status, 200, "locked, even with the right password");
    assert!(locked.body.contains("email or password not right"));
    let names = actions(&app.audit_entries().await);
    assert_eq!(names.iter().filter(|a| *a == "user.locked").count(), 1);

    app.advance(TimeDelta::minutes(14));
    assert_eq!(
        browser.sign_in("ann@example.org", PASSWORD).await.status,
        200
    );
    app.advance(TimeDelta::minutes(2));
    assert_eq!(
        browser.sign_in("ann@example.org", PASSWORD).await.status,
        303
    );
    app.stop().await;
}

async fn an_idle_session_ends(engine: Engine) {
    let app = spawn_app_with(engine, |_| {}, true).await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("ann@example.org", PASSWORD).await.status,
        303
    );

    // In use, it stays; 30 minutes without use (the default), it ends.
    for _ in 0..3 {
        app.advance(TimeDelta::minutes(25));
        assert_eq!(browser.get("/console/referrals").await.status, 200);
    }
    app.advance(TimeDelta::minutes(31));
    let ended = browser.get("/console/referrals").await;
    assert_eq!(ended.status, 303);
    assert_eq!(ended.location.as_deref(), Some("/login"));
    app.stop().await;
}

async fn signing_out_ends_the_session(engine: Engine) {
    let app = spawn_app(engine).await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("ann@example.org", PASSWORD).await;
    let page = browser.get("/console/referrals").await;
    assert_eq!(page.status, 200);
    let old_cookie = browser.cookie.clone();

    let out = browser
        .post("/logout", &[("csrf_token", &page.csrf_token())])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/login"));

    // Even a copy of the old cookie no longer works.
    let mut copy = Browser::new(&app);
    copy.cookie = old_cookie;
    assert_eq!(copy.get("/console/referrals").await.status, 303);
    let names = actions(&app.audit_entries().await);
    assert!(names.contains(&"user.sign_out".to_owned()), "{names:?}");
    app.stop().await;
}

async fn a_form_posted_without_its_csrf_token_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    let mut browser = Browser::new(&app);
    let token = browser.get("/login").await.csrf_token();

    let missing = browser
        .post(
            "/login",
            &[("email", "ann@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(missing.status, 403);
    let wrong = browser
        .post(
            "/login",
            &[
                ("csrf_token", "crht_forged"),
                ("email", "ann@example.org"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // A token from another session is as good as none.
    let mut other = Browser::new(&app);
    other.get("/login").await;
    let borrowed = other
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", "ann@example.org"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(borrowed.status, 403);

    // Signed in, a sign-out without the token is refused and the session goes on.
    assert_eq!(
        browser.sign_in("ann@example.org", PASSWORD).await.status,
        303
    );
    assert_eq!(browser.post("/logout", &[]).await.status, 403);
    assert_eq!(browser.get("/console/referrals").await.status, 200);
    app.stop().await;
}

async fn admins_list_and_revoke_tokens_and_revoked_ones_get_401(engine: Engine) {
    let app = spawn_app(engine).await;
    let (status, list) = app.get(&app.admin, "/tokens").await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let text = list.to_string();
    for secret in [&app.admin, &app.clinician, &app.scheduler] {
        assert!(!text.contains(secret.as_str()), "never a secret");
    }
    assert!(!text.contains("hash"));
    let by_name = |name: &str| {
        items
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .clone()
    };
    assert!(
        by_name("admin-ann")["last_used_at"].is_string(),
        "the admin's token was just used"
    );
    assert!(by_name("clinician-cal")["last_used_at"].is_null());
    let clinician = by_name("clinician-cal")["id"].as_str().unwrap().to_owned();

    assert_eq!(app.get(&app.clinician, "/tokens").await.0, 403);
    assert_eq!(
        app.delete(&app.clinician, &format!("/tokens/{clinician}"))
            .await,
        403
    );
    assert_eq!(app.get(&app.clinician, "/patients").await.0, 200);

    assert_eq!(
        app.delete(&app.admin, &format!("/tokens/{clinician}"))
            .await,
        204
    );
    assert_eq!(app.delete(&app.admin, "/tokens/no-such-token").await, 404);
    let refused = app
        .http
        .get(app.url("/api/v1/patients"))
        .bearer_auth(&app.clinician)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let (_, list) = app.get(&app.admin, "/tokens").await;
    let revoked = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == clinician.as_str())
        .unwrap()
        .clone();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");

    let audit = app.audit_entries().await;
    assert!(audit.iter().any(|e| e["action"] == "token.revoke"
        && e["target"] == format!("token:{clinician}")
        && e["actor"] == "admin-ann"));
    assert!(audit.iter().any(|e| e["action"] == "token.list"));

    // The command line's functions do the same.
    let accounts = accounts(&app);
    let scheduler = by_name("scheduler-sam")["id"].as_str().unwrap().to_owned();
    accounts
        .revoke_token(&operator(), &scheduler)
        .await
        .unwrap();
    assert_eq!(app.get(&app.scheduler, "/patients").await.0, 401);
    let listed = accounts.tokens(&operator()).await.unwrap();
    assert_eq!(listed.iter().filter(|t| t.revoked_at.is_some()).count(), 2);
    assert!(accounts.revoke_token(&operator(), "nope").await.is_err());

    let spec = app.openapi().await;
    assert!(spec["paths"]["/api/v1/tokens"]["get"].is_object());
    assert!(spec["paths"]["/api/v1/tokens/{id}"]["delete"].is_object());
    app.stop().await;
}

async fn expired_tokens_get_401_and_a_token_can_belong_to_a_person(engine: Engine) {
    let app = spawn_app_with(engine, |_| {}, true).await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    let accounts = accounts(&app);
    let token = accounts
        .create_token(NewToken {
            name: "ann-laptop".into(),
            role: Role::Clinician,
            owner_email: Some("Ann@Example.org".into()),
            expires_in: Some(TimeDelta::hours(1)),
        })
        .await
        .unwrap();
    assert_eq!(app.get(&token.secret, "/patients").await.0, 200);
    let listed = accounts.tokens(&operator()).await.unwrap();
    let mine = listed.iter().find(|t| t.id == token.id).unwrap();
    assert_eq!(mine.owner_email.as_deref(), Some("ann@example.org"));
    assert!(mine.last_used_at.is_some());
    assert!(mine.expires_at.is_some());

    app.advance(TimeDelta::minutes(61));
    assert_eq!(app.get(&token.secret, "/patients").await.0, 401);
    assert!(
        accounts
            .create_token(NewToken {
                name: "x".into(),
                role: Role::Admin,
                owner_email: Some("nobody@example.org".into()),
                expires_in: None,
            })
            .await
            .is_err(),
        "a person's token needs their account"
    );
    app.stop().await;
}

async fn behind_https_the_session_cookie_is_secure(engine: Engine) {
    let app = spawn_app_with(
        engine,
        |config| config.public_url = "https://crht.example.org".parse().unwrap(),
        false,
    )
    .await;
    let form = Browser::new(&app).get("/login").await;
    assert_eq!(form.status, 200);
    let cookie = form.set_cookie.expect("a session for the form's token");
    assert!(cookie.to_ascii_lowercase().contains("; secure"), "{cookie}");
    app.stop().await;
}

async fn console_pages_forbid_inline_script_and_are_never_cached(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text("+447700900123", "hello").await;
    let referral = app.referral_id_of("+447700900123").await;
    make_user(&app, "ann@example.org", Role::Admin).await;
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("ann@example.org", PASSWORD).await.status,
        303
    );
    for path in [
        "/console/referrals".to_owned(),
        format!("/console/referrals/{referral}"),
        "/console/patients".to_owned(),
        "/console/calls".to_owned(),
        "/console/letters".to_owned(),
        "/console/inbox".to_owned(),
        "/console/admin/audit".to_owned(),
    ] {
        let response = browser
            .http
            .get(app.url(&path))
            .header("Cookie", browser.cookie.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self';"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let html = response.text().await.unwrap();
        // Every script is a file of the gateway's; no handler or style is written inline.
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(tag.contains(" src=\"/assets/"), "{path}: {tag}");
        }
        assert!(!html.contains(" style=\""), "{path}");
        assert!(
            !html.contains(" onclick=") && !html.contains(" onload="),
            "{path}"
        );
    }
    // The frontend's files are the gateway's own, served with their types.
    for (asset, kind) in [
        ("/assets/nhsuk-frontend.min.css", "text/css"),
        ("/assets/console.js", "text/javascript"),
        ("/assets/htmx.min.js", "text/javascript"),
        ("/assets/images/nhsuk-icon-search.svg", "image/svg+xml"),
    ] {
        let response = browser.http.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let got = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(got.starts_with(kind), "{asset}: {got}");
    }
    let missing = browser
        .http
        .get(app.url("/assets/images/..%2FLICENSE"))
        .send()
        .await;
    assert_eq!(missing.unwrap().status(), 404);
}
