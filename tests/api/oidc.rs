//! Signing in with the organisation's identity provider (OpenID Connect), against a fake
//! provider that is a real HTTP server: the whole flow, and every way it is refused.

use std::collections::BTreeMap;

use crht_gateway::config_check::load_teams;
use crht_gateway::domain::role::Role;
use crht_gateway::staff::{Accounts, NewUser, Password, operator};
use serde_json::Value;

use crate::helpers::{
    Engine, FakeOidc, IdTokenPlan, OIDC_CLIENT_ID, TestApp, spawn_app, spawn_app_with_env,
};
use crate::on_both_engines;

on_both_engines!(
    a_known_user_signs_in_through_their_organisation_and_reaches_the_referrals,
    a_wrong_or_missing_state_is_refused,
    an_id_token_for_another_audience_or_with_a_wrong_nonce_is_refused,
    an_unknown_or_unverified_email_is_refused_and_nobody_is_made,
    deactivated_and_locked_accounts_are_refused,
    the_provider_saying_no_gets_a_kind_message,
    the_organisation_button_shows_only_when_configured,
    local_sign_in_works_beside_it_and_when_the_provider_is_down,
);

const PASSWORD: &str = "correct horse battery staple";
const ANN: &str = "ann@example.org";

async fn with_provider(engine: Engine) -> (TestApp, FakeOidc) {
    let oidc = FakeOidc::start().await;
    let app = spawn_app_with_env(engine, |_| {}, false, oidc.env()).await;
    make_user(&app, ANN).await;
    (app, oidc)
}

async fn make_user(app: &TestApp, email: &str) {
    let teams = load_teams(&app.app.state.config).unwrap();
    Accounts::new(app.app.store().clone(), app.app.state.clock.clone())
        .create_user(
            &operator(),
            NewUser {
                email: email.into(),
                name: "Ann Example".into(),
                role: Role::Clinician,
                teams: vec![],
            },
            Some(Password::new(PASSWORD).unwrap()),
            &teams,
        )
        .await
        .unwrap();
}

/// A browser that follows no redirect by itself and keeps every cookie it is given.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    fn csrf_token(&self) -> String {
        let marker = r#"name="csrf_token" value=""#;
        let start = self.body.find(marker).expect("a csrf_token field") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

impl Browser {
    fn new() -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.header("Cookie", jar.join("; "))
        };
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, url: &str) -> Page {
        let request = self.http.get(url);
        self.send(request).await
    }

    async fn sign_in_with_password(&mut self, app: &TestApp, email: &str, password: &str) -> Page {
        let token = self.get(&app.url("/login")).await.csrf_token();
        let request = self.http.post(app.url("/login")).form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
        ]);
        self.send(request).await
    }

    /// Starts the flow at the gateway and lets the provider answer: the callback URL the
    /// provider sends the browser back to (not yet followed).
    async fn via_the_provider(&mut self, app: &TestApp) -> url::Url {
        let start = self.get(&app.url("/login/oidc")).await;
        assert_eq!(start.status, 303, "{}", start.body);
        let authorize = start.location.expect("to the provider");
        let provider = self.get(&authorize).await;
        assert_eq!(provider.status, 303, "{}", provider.body);
        url::Url::parse(&provider.location.expect("back to the gateway")).unwrap()
    }

    /// The whole flow: the gateway's answer to the callback.
    async fn sign_in_with_organisation(&mut self, app: &TestApp) -> Page {
        let back = self.via_the_provider(app).await;
        self.get(back.as_str()).await
    }
}

fn query(url: &url::Url) -> BTreeMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn with_state(url: &url::Url, state: &str) -> String {
    let mut url = url.clone();
    let code = query(&url)["code"].clone();
    url.query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", state);
    url.to_string()
}

fn entries(audit: &[Value], action: &str) -> Vec<Value> {
    audit
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

/// The sign-in page again, with a message, and nobody signed in.
async fn assert_refused(app: &TestApp, browser: &mut Browser, page: &Page, words: &str) {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("There is a problem"), "{}", page.body);
    assert!(page.body.contains(words), "{words}: {}", page.body);
    let referrals = browser.get(&app.url("/console/referrals")).await;
    assert_eq!(referrals.status, 303, "not signed in");
    assert_eq!(referrals.location.as_deref(), Some("/login"));
}

async fn a_known_user_signs_in_through_their_organisation_and_reaches_the_referrals(
    engine: Engine,
) {
    let (app, oidc) = with_provider(engine).await;
    let mut browser = Browser::new();
    let login = browser.get(&app.url("/login")).await;
    let before = browser.cookies.get("crht_session").cloned();
    assert!(before.is_some());
    assert!(login.body.contains("Sign in with your organisation"));
    assert!(login.body.contains(r#"href="/login/oidc""#));

    let start = browser.get(&app.url("/login/oidc")).await;
    assert_eq!(start.status, 303);
    let authorize = url::Url::parse(start.location.as_deref().unwrap()).unwrap();
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", oidc.issuer))
    );
    let asked = query(&authorize);
    assert_eq!(asked["client_id"], OIDC_CLIENT_ID);
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["redirect_uri"], app.url("/login/oidc/callback"));
    assert_eq!(asked["scope"], "openid email profile");
    assert_eq!(asked["code_challenge_method"], "S256");
    for kept in ["state", "nonce", "code_challenge"] {
        assert!(asked[kept].len() >= 20, "{kept}: {asked:?}");
    }
    // None of the flow's secrets reach the browser but the state, nonce and challenge it
    // must carry; the flow cookie is an opaque id for the callback's path alone.
    assert!(browser.cookies.contains_key("crht_oidc"));

    let back = browser.get(authorize.as_str()).await;
    let callback = url::Url::parse(back.location.as_deref().unwrap()).unwrap();
    assert_eq!(query(&callback)["state"], asked["state"]);
    let signed_in = browser.get(callback.as_str()).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location.as_deref(), Some("/console/referrals"));
    assert_eq!(oidc.tokens_issued(), 1, "the code was exchanged once");
    assert_ne!(
        browser.cookies.get("crht_session"),
        before.as_ref(),
        "a new session id"
    );
    assert!(
        !browser.cookies.contains_key("crht_oidc"),
        "the flow cookie is cleared"
    );
    let referrals = browser.get(&app.url("/console/referrals")).await;
    assert_eq!(referrals.status, 200, "{}", referrals.body);
    assert!(referrals.body.contains("Ann Example"), "{}", referrals.body);

    // The callback cannot be used twice.
    let replay = Browser::new().get(callback.as_str()).await;
    assert_eq!(replay.status, 200);
    assert!(
        replay.body.contains("There is a problem"),
        "{}",
        replay.body
    );
    assert_eq!(oidc.tokens_issued(), 1);

    let audit = app.audit_entries().await;
    let sign_ins = entries(&audit, "user.sign_in");
    assert_eq!(sign_ins.len(), 1, "{audit:?}");
    assert_eq!(sign_ins[0]["actor"], ANN);
    assert_eq!(sign_ins[0]["note"], "openid connect");
    // Nothing secret in the audit log.
    let shown = serde_json::to_string(&audit).unwrap();
    assert!(!shown.contains(&query(&callback)["code"]), "{shown}");
    app.stop().await;
}

async fn a_wrong_or_missing_state_is_refused(engine: Engine) {
    let (app, oidc) = with_provider(engine).await;
    let mut browser = Browser::new();
    let back = browser.via_the_provider(&app).await;
    let wrong = browser.get(&with_state(&back, "not-the-state")).await;
    assert_refused(&app, &mut browser, &wrong, "did not work").await;
    assert_eq!(
        oidc.tokens_issued(),
        0,
        "no code is exchanged on a wrong state"
    );

    // A callback in a browser that never started a flow (login CSRF) is refused too.
    let mut other = Browser::new();
    let back = browser.via_the_provider(&app).await;
    let elsewhere = other.get(back.as_str()).await;
    assert_refused(&app, &mut other, &elsewhere, "not started here").await;
    assert_eq!(oidc.tokens_issued(), 0);
    let failures = entries(&app.audit_entries().await, "user.sign_in_oidc_failed");
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures
            .iter()
            .any(|f| f["note"].as_str().unwrap().contains("state"))
    );
    app.stop().await;
}

async fn an_id_token_for_another_audience_or_with_a_wrong_nonce_is_refused(engine: Engine) {
    let (app, oidc) = with_provider(engine).await;
    for plan in [
        IdTokenPlan {
            audience: Some("another-app".into()),
            ..IdTokenPlan::default()
        },
        IdTokenPlan {
            nonce: Some("not-the-nonce".into()),
            ..IdTokenPlan::default()
        },
    ] {
        oidc.plan(plan);
        let mut browser = Browser::new();
        let page = browser.sign_in_with_organisation(&app).await;
        assert_refused(&app, &mut browser, &page, "did not work").await;
    }
    assert_eq!(oidc.tokens_issued(), 2);
    let audit = app.audit_entries().await;
    assert!(entries(&audit, "user.sign_in").is_empty(), "{audit:?}");
    let failures = entries(&audit, "user.sign_in_oidc_failed");
    assert_eq!(failures.len(), 2, "{failures:?}");
    for failure in failures {
        assert!(
            failure["note"]
                .as_str()
                .unwrap()
                .contains("ID token was not accepted"),
            "{failure}"
        );
    }
    // The right token still works.
    oidc.plan(IdTokenPlan::default());
    let page = Browser::new().sign_in_with_organisation(&app).await;
    assert_eq!(page.status, 303, "{}", page.body);
    app.stop().await;
}

async fn an_unknown_or_unverified_email_is_refused_and_nobody_is_made(engine: Engine) {
    let (app, oidc) = with_provider(engine).await;
    oidc.plan(IdTokenPlan {
        email: Some("Nobody@Example.org".into()),
        ..IdTokenPlan::default()
    });
    let mut browser = Browser::new();
    let page = browser.sign_in_with_organisation(&app).await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        "no account for nobody@example.org here: ask an admin",
    )
    .await;
    let users = app
        .sql_count("SELECT COUNT(*) FROM users WHERE email = 'nobody@example.org'")
        .await;
    assert_eq!(users, 0, "no account is made");

    // An email the provider says it has not verified is not trusted, even a known one.
    oidc.plan(IdTokenPlan {
        email_verified: Some(false),
        ..IdTokenPlan::default()
    });
    let mut browser = Browser::new();
    let page = browser.sign_in_with_organisation(&app).await;
    assert_refused(&app, &mut browser, &page, "has not verified your email").await;
    // No email at all.
    oidc.plan(IdTokenPlan {
        email: None,
        email_verified: None,
        ..IdTokenPlan::default()
    });
    let mut browser = Browser::new();
    let page = browser.sign_in_with_organisation(&app).await;
    assert_refused(&app, &mut browser, &page, "did not tell us your email").await;

    let audit = app.audit_entries().await;
    let failures = entries(&audit, "user.sign_in_oidc_failed");
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert_eq!(
        failures
            .iter()
            .filter(|f| f["actor"] == "nobody@example.org")
            .count(),
        1
    );
    assert!(entries(&audit, "user.sign_in").is_empty());
    app.stop().await;
}

async fn deactivated_and_locked_accounts_are_refused(engine: Engine) {
    let (app, oidc) = with_provider(engine).await;
    // Locked: five wrong passwords in a row.
    for _ in 0..5 {
        let page = Browser::new()
            .sign_in_with_password(&app, ANN, "wrong password here")
            .await;
        assert_eq!(page.status, 200);
    }
    let mut browser = Browser::new();
    let page = browser.sign_in_with_organisation(&app).await;
    assert_refused(&app, &mut browser, &page, "locked or no longer active").await;

    make_user(&app, "dee@example.org").await;
    app.execute_sql(&["UPDATE users SET active = FALSE WHERE email = 'dee@example.org'"])
        .await;
    oidc.plan(IdTokenPlan {
        email: Some("dee@example.org".into()),
        ..IdTokenPlan::default()
    });
    let mut browser = Browser::new();
    let page = browser.sign_in_with_organisation(&app).await;
    assert_refused(&app, &mut browser, &page, "locked or no longer active").await;

    let audit = app.audit_entries().await;
    let locked = entries(&audit, "user.sign_in_refused_locked");
    assert_eq!(locked.len(), 1, "{audit:?}");
    assert_eq!(locked[0]["note"], "openid connect");
    let inactive = entries(&audit, "user.sign_in_refused_inactive");
    assert_eq!(inactive.len(), 1, "{audit:?}");
    assert_eq!(inactive[0]["actor"], "dee@example.org");
    assert!(entries(&audit, "user.sign_in").is_empty());
    app.stop().await;
}

async fn the_provider_saying_no_gets_a_kind_message(engine: Engine) {
    let (app, oidc) = with_provider(engine).await;
    let mut browser = Browser::new();
    let back = browser.via_the_provider(&app).await;
    let state = query(&back)["state"].clone();
    let mut denied = back.clone();
    denied
        .query_pairs_mut()
        .clear()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "The user said <no>")
        .append_pair("state", &state);
    let page = browser.get(denied.as_str()).await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        "You did not finish signing in with your organisation",
    )
    .await;
    assert!(
        !page.body.contains("<no>"),
        "the provider's words are not shown"
    );
    assert_eq!(oidc.tokens_issued(), 0);
    let failures = entries(&app.audit_entries().await, "user.sign_in_oidc_failed");
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0]["note"]
            .as_str()
            .unwrap()
            .contains("access_denied")
    );
    app.stop().await;
}

async fn the_organisation_button_shows_only_when_configured(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut browser = Browser::new();
    let login = browser.get(&app.url("/login")).await;
    assert_eq!(login.status, 200);
    assert!(!login.body.contains("Sign in with your organisation"));
    assert!(!login.body.contains("/login/oidc"));
    // Not configured: the flow's pages lead back to the sign-in page.
    let start = browser.get(&app.url("/login/oidc")).await;
    assert_eq!(start.status, 303);
    assert_eq!(start.location.as_deref(), Some("/login"));
    app.stop().await;
}

async fn local_sign_in_works_beside_it_and_when_the_provider_is_down(engine: Engine) {
    let (app, _oidc) = with_provider(engine.clone()).await;
    let mut browser = Browser::new();
    let page = browser.sign_in_with_password(&app, ANN, PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        browser.get(&app.url("/console/referrals")).await.status,
        200
    );
    app.stop().await;

    // A provider that does not answer: the gateway starts, says so kindly, and passwords work.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let env = vec![
        ("CRHT_OIDC_ISSUER".to_owned(), issuer),
        ("CRHT_OIDC_CLIENT_ID".to_owned(), OIDC_CLIENT_ID.to_owned()),
        ("CRHT_OIDC_CLIENT_SECRET".to_owned(), "secret".to_owned()),
    ];
    let app = spawn_app_with_env(engine, |_| {}, false, env).await;
    make_user(&app, ANN).await;
    let mut browser = Browser::new();
    let login = browser.get(&app.url("/login")).await;
    assert!(login.body.contains("Sign in with your organisation"));
    let start = browser.get(&app.url("/login/oidc")).await;
    assert_eq!(start.status, 200, "{}", start.body);
    assert!(
        start.body.contains("not answering just now"),
        "{}",
        start.body
    );
    let page = browser.sign_in_with_password(&app, ANN, PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    app.stop().await;
}
