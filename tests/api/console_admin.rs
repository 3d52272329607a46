//! The console's admin pages over plain HTTP, on both engines: users made with a one-time
//! set-password link that works, API tokens shown once and revoked (then refused by the API),
//! the teams' numbers, the audit log filtered and downloaded, and nobody but an admin in.

use crht_gateway::domain::role::Role;
use serde_json::Value;

use crate::console_client::{Browser, PASSWORD};
use crate::helpers::{Engine, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    an_admin_creates_a_user_whose_set_password_link_works_once,
    an_admin_creates_a_token_sees_it_once_and_revokes_it,
    a_leaver_is_deactivated_and_their_session_ends,
    the_teams_page_shows_the_on_call_and_escalation_numbers,
    the_audit_log_filters_by_actor_and_target_and_downloads_as_csv,
    only_admins_reach_the_admin_pages,
    admin_forms_without_their_csrf_token_are_refused,
);

const ADMIN: &str = "ada@example.org";

/// A page's text with the entities minijinja writes turned back into characters.
fn decoded(body: &str) -> String {
    body.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the page's `id="secret"` field: the one-time token or link.
fn secret(body: &str) -> String {
    let marker = r#"id="secret" type="text" value=""#;
    let start = body.find(marker).expect("a secret shown") + marker.len();
    let end = body[start..].find('"').unwrap();
    decoded(&body[start..start + end])
}

async fn audit_actions(app: &TestApp, actor: &str) -> Vec<String> {
    app.audit_entries()
        .await
        .iter()
        .filter(|e| e["actor"] == actor)
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn an_admin_creates_a_user_whose_set_password_link_works_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut admin = Browser::signed_in(&app, ADMIN, Role::Admin).await;
    let hub = admin.get("/console/admin").await;
    assert_eq!(hub.status, 200, "{}", hub.body);
    for link in ["users", "tokens", "teams", "audit"] {
        assert!(decoded(&hub.body).contains(&format!(r#"href="/console/admin/{link}""#)));
    }

    let form = admin.get("/console/admin/users/new").await;
    assert_eq!(form.status, 200);
    for id in ["email", "name", "role", "team"] {
        assert!(form.body.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    let page = admin
        .post_from("/console/admin/users/new", "/console/admin/users/new", &[])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("<title>Error: Create a user"));
    for error in [
        "Enter their email address",
        "Enter their name",
        "Select a role",
    ] {
        assert!(page.body.contains(error), "{error}");
    }
    let team = app.app.state.intake.teams.default_team().id.clone();
    let fields = [
        ("email", "Cal@Example.org"),
        ("name", "Cal Clinician"),
        ("role", "clinician"),
        ("team", team.as_str()),
    ];
    let page = admin
        .post_from(
            "/console/admin/users/new",
            "/console/admin/users/new",
            &fields,
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("/console/admin/users/created")
    );
    let shown = admin.get("/console/admin/users/created").await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("User created"));
    assert!(shown.body.contains("cal@example.org"));
    let link = secret(&shown.body);
    assert!(link.contains("/set-password?token="), "{link}");
    // Shown once: the page does not keep it.
    let again = admin.get("/console/admin/users/created").await;
    assert_eq!(again.status, 303);
    assert!(!again.body.contains(&link));

    let users = admin.get("/console/admin/users").await;
    assert_eq!(users.status, 200);
    assert!(users.body.contains("Cal Clinician"));
    assert!(users.body.contains("cal@example.org"));
    assert!(users.body.contains("No password yet"));
    assert!(users.body.contains(ADMIN));
    assert!(
        audit_actions(&app, ADMIN)
            .await
            .contains(&"user.list".to_owned())
    );
    assert!(
        audit_actions(&app, ADMIN)
            .await
            .contains(&"user.create".to_owned())
    );

    // The same email again: the error by the email field.
    let page = admin
        .post_from(
            "/console/admin/users/new",
            "/console/admin/users/new",
            &fields,
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("already exists"));
    assert!(page.body.contains(r##"href="#email""##));

    // The link sets the password, and then they sign in.
    let path = &link[link.find("/set-password").unwrap()..];
    let token = path.split("token=").nth(1).unwrap().to_owned();
    let mut cal = Browser::new(&app);
    let page = cal.get(path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf_token();
    let password = "a long enough password for cal";
    let page = cal
        .post(
            "/set-password",
            &[
                ("csrf_token", csrf.as_str()),
                ("token", token.as_str()),
                ("password", password),
                ("confirm", password),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/login"));
    let page = cal.sign_in("cal@example.org", password).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/console/referrals"));
    assert_eq!(cal.get(path).await.status, 404, "the link works once");
    let users = admin.get("/console/admin/users").await;
    assert!(!users.body.contains("No password yet"));
    app.stop().await;
}

async fn an_admin_creates_a_token_sees_it_once_and_revokes_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut admin = Browser::signed_in(&app, ADMIN, Role::Admin).await;
    let page = admin.get("/console/admin/tokens").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("scheduler-sam"), "the test's own tokens");
    for id in ["token-name", "token-role", "token-owner", "token-expires"] {
        assert!(page.body.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    let page = admin
        .post_from(
            "/console/admin/tokens",
            "/console/admin/tokens",
            &[("name", "rota sync"), ("expires_in", "soon")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("Select the token&#x27;s role")
            || page.body.contains("Select the token's role")
    );
    assert!(page.body.contains("like 30d or 12h"));
    let page = admin
        .post_from(
            "/console/admin/tokens",
            "/console/admin/tokens",
            &[
                ("name", "rota sync"),
                ("role", "scheduler"),
                ("owner", "nobody@example.org"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("no account for nobody@example.org"));

    let page = admin
        .post_from(
            "/console/admin/tokens",
            "/console/admin/tokens",
            &[
                ("name", "rota sync"),
                ("role", "scheduler"),
                ("owner", ""),
                ("expires_in", "30d"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("/console/admin/tokens/created")
    );
    let shown = admin.get("/console/admin/tokens/created").await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Token created"));
    let token = secret(&shown.body);
    assert!(token.len() > 20);
    let again = admin.get("/console/admin/tokens/created").await;
    assert_eq!(again.status, 303, "shown once");
    assert!(!again.body.contains(&token));

    let (status, _) = app.get(&token, "/tasks").await;
    assert_eq!(status, 200, "the new token works");
    let (_, tokens) = app.get(&app.admin, "/tokens").await;
    let listed: &Value = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "rota sync")
        .unwrap();
    assert!(listed["expires_at"].is_string());
    let id = listed["id"].as_str().unwrap().to_owned();
    let page = admin.get("/console/admin/tokens").await;
    assert!(page.body.contains("rota sync"));
    assert!(!page.body.contains(&token), "never listed");

    // Revoke: a confirm step first, then the revocation.
    let revoke = format!("/console/admin/tokens/{id}/revoke");
    let confirm = admin.post_from("/console/admin/tokens", &revoke, &[]).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Revoke the token rota sync?"));
    assert!(confirm.body.contains("Yes, revoke this token"));
    assert_eq!(app.get(&token, "/tasks").await.0, 200, "not yet revoked");
    let page = admin
        .post_from("/console/admin/tokens", &revoke, &[("confirm", "yes")])
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/console/admin/tokens"));
    let page = admin.get("/console/admin/tokens").await;
    assert!(page.body.contains("Token revoked"));
    assert_eq!(app.get(&token, "/tasks").await.0, 401);
    let actions = audit_actions(&app, ADMIN).await;
    for action in ["token.create", "token.revoke", "token.list"] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action}: {actions:?}"
        );
    }
    let missing = admin
        .post_from(
            "/console/admin/tokens",
            "/console/admin/tokens/nope/revoke",
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(missing.status, 404);
    app.stop().await;
}

async fn the_teams_page_shows_the_on_call_and_escalation_numbers(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut admin = Browser::signed_in(&app, ADMIN, Role::Admin).await;
    let mut page = admin.get("/console/admin/teams").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body = decoded(&page.body);
    assert!(page.body.contains("<h1>Teams</h1>"));
    assert!(page.body.contains("CRHT_TEAMS_FILE"));
    match &app.app.state.config.teams_file {
        Some(file) => assert!(page.body.contains(&file.display().to_string())),
        None => assert!(page.body.contains("bundled example teams")),
    }
    for team in app.app.state.intake.teams.all() {
        assert!(page.body.contains(&team.name), "{}", team.name);
        for number in team.on_call.iter().chain(&team.escalation) {
            assert!(
                page.body
                    .contains(&format!(r#"href="tel:{}""#, number.e164())),
                "{}",
                team.name
            );
        }
    }
    app.stop().await;
}

async fn the_audit_log_filters_by_actor_and_target_and_downloads_as_csv(engine: Engine) {
    let app = spawn_app(engine).await;
    assert_eq!(app.get(&app.scheduler, "/tasks").await.0, 200);
    assert_eq!(app.get(&app.clinician, "/inbox").await.0, 200);
    let mut admin = Browser::signed_in(&app, ADMIN, Role::Admin).await;

    let page = admin.get("/console/admin/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Audit log</h1>"));
    for id in ["actor", "target", "from", "to"] {
        assert!(page.body.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    assert!(page.body.contains("task.list") && page.body.contains("inbox.read"));
    assert!(page.body.contains("user.sign_in"));

    let page = admin.get("/console/admin/audit?actor=scheduler-sam").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("task.list"));
    assert!(!page.body.contains("inbox.read") && !page.body.contains("user.sign_in"));
    assert!(
        page.body.contains(r#"value="scheduler-sam""#),
        "the filter kept"
    );

    let page = admin.get("/console/admin/audit?target=inbox").await;
    assert!(page.body.contains("inbox.read") && !page.body.contains("task.list"));

    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let page = admin
        .get(&format!(
            "/console/admin/audit?actor=scheduler-sam&from={today}&to={today}"
        ))
        .await;
    assert!(page.body.contains("task.list"));
    let page = admin
        .get("/console/admin/audit?actor=scheduler-sam&to=2001-01-01")
        .await;
    assert!(page.body.contains("No entries match"));
    let page = admin.get("/console/admin/audit?from=yesterday").await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("<title>Error: Audit log"));
    assert!(page.body.contains(r##"href="#from""##));

    let page = admin.get("/console/admin/audit?actor=scheduler-sam").await;
    assert!(
        page.body
            .contains(r#"href="/console/admin/audit/export.csv?actor=scheduler-sam"#)
    );
    let csv = admin
        .get("/console/admin/audit/export.csv?actor=scheduler-sam")
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body.starts_with("seq,at,actor,role,action,target"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("scheduler-sam") && csv.body.contains("task.list"));
    assert!(!csv.body.contains(ADMIN));
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "audit.export" && e["actor"] == ADMIN),
        "the download is audited"
    );
    app.stop().await;
}

const ADMIN_PAGES: [&str; 9] = [
    "/console/admin",
    "/console/admin/users",
    "/console/admin/users/new",
    "/console/admin/users/created",
    "/console/admin/tokens",
    "/console/admin/tokens/created",
    "/console/admin/teams",
    "/console/admin/audit",
    "/console/admin/audit/export.csv",
];

async fn only_admins_reach_the_admin_pages(engine: Engine) {
    let app = spawn_app(engine).await;
    for (email, role) in [
        ("cal@example.org", Role::Clinician),
        ("sam@example.org", Role::Scheduler),
    ] {
        let mut browser = Browser::signed_in(&app, email, role).await;
        let home = browser.get("/console/calls").await;
        assert!(
            !home.body.contains(r#"href="/console/admin""#),
            "no menu item"
        );
        for path in ADMIN_PAGES {
            let page = browser.get(path).await;
            assert_eq!(page.status, 403, "{role} {path}");
            assert!(page.body.contains("You cannot do this with your role"));
        }
        let page = browser.get("/console/admin/audit?from=nonsense").await;
        assert_eq!(page.status, 403);
        for (path, fields) in [
            (
                "/console/admin/users/new",
                vec![("email", "x@example.org"), ("name", "X"), ("role", "admin")],
            ),
            (
                "/console/admin/tokens",
                vec![("name", "mine"), ("role", "admin")],
            ),
            ("/console/admin/tokens/any/revoke", vec![("confirm", "yes")]),
        ] {
            let page = browser.post_from("/console/calls", path, &fields).await;
            assert_eq!(page.status, 403, "{role} {path}");
        }
    }
    let (_, tokens) = app.get(&app.admin, "/tokens").await;
    assert!(
        tokens["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "mine")
    );
    let (_, body) = app.get(&app.admin, "/audit?actor=cal@example.org").await;
    assert!(
        !body.to_string().contains("user.create"),
        "no account made: {body}"
    );
    app.stop().await;
}

async fn admin_forms_without_their_csrf_token_are_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut admin = Browser::signed_in(&app, ADMIN, Role::Admin).await;
    for (path, fields) in [
        (
            "/console/admin/users/new",
            vec![("email", "x@example.org"), ("name", "X"), ("role", "admin")],
        ),
        (
            "/console/admin/tokens",
            vec![("name", "sneaky"), ("role", "admin")],
        ),
        ("/console/admin/tokens/any/revoke", vec![("confirm", "yes")]),
    ] {
        let page = admin.post(path, &fields).await;
        assert_eq!(page.status, 403, "{path}");
    }
    let (_, tokens) = app.get(&app.admin, "/tokens").await;
    assert!(
        tokens["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "sneaky")
    );
    let users = admin.get("/console/admin/users").await;
    assert!(!users.body.contains("x@example.org"));
    app.stop().await;
}

async fn a_leaver_is_deactivated_and_their_session_ends(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut admin = Browser::signed_in(&app, ADMIN, Role::Admin).await;
    let mut leaver = Browser::signed_in(&app, "cal@example.org", Role::Clinician).await;
    assert_eq!(leaver.get("/console/referrals").await.status, 200);
    let users = app.app.store().users().await.unwrap();
    let id_of = |email: &str| {
        users
            .iter()
            .find(|u| u.email == email)
            .map(|u| u.id.clone())
            .unwrap()
    };
    let (leaver_id, admin_id) = (id_of("cal@example.org"), id_of(ADMIN));
    let to = format!("/console/admin/users/{leaver_id}/deactivate");

    // The users page offers it for others, never for yourself.
    let page = admin.get("/console/admin/users").await;
    assert!(page.body.contains(&to));
    assert!(
        !page
            .body
            .contains(&format!("/console/admin/users/{admin_id}/deactivate"))
    );

    // First the question, then the deed.
    let asked = admin.post_from("/console/admin/users", &to, &[]).await;
    assert_eq!(asked.status, 200);
    assert!(
        asked.body.contains("Deactivate Ann Example?"),
        "{}",
        asked.body
    );
    assert_eq!(
        app.app
            .store()
            .users()
            .await
            .unwrap()
            .iter()
            .filter(|u| u.active)
            .count(),
        2
    );
    let done = admin
        .post_from("/console/admin/users", &to, &[("confirm", "yes")])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some("/console/admin/users"));
    assert!(
        admin
            .get("/console/admin/users")
            .await
            .body
            .contains("Account deactivated")
    );

    // Their open session ends at its next request, and they cannot sign in again.
    let next = leaver.get("/console/referrals").await;
    assert_eq!(next.location.as_deref(), Some("/login"));
    let again = leaver.sign_in("cal@example.org", PASSWORD).await;
    assert_eq!(again.status, 200, "not signed in");
    let audit = app.audit_entries().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "user.deactivate" && e["target"] == format!("user:{leaver_id}")),
        "{audit:?}"
    );

    // Deactivating your own account is refused, and so is a second time.
    let own = format!("/console/admin/users/{admin_id}/deactivate");
    let refused = admin
        .post_from("/console/admin/users", &own, &[("confirm", "yes")])
        .await;
    assert_eq!(refused.status, 409);
    let twice = admin
        .post_from("/console/admin/users", &to, &[("confirm", "yes")])
        .await;
    assert_eq!(twice.status, 404);
}
