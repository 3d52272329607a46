//! Finding things: the triage queue's filters, cursor pages on the work lists, the audit log's
//! filters and its CSV export.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{Engine, TestApp, spawn_app, urlencode};
use crate::on_both_engines;

on_both_engines!(
    the_triage_queue_filters_by_team_urgency_words_and_time,
    a_cursor_walks_the_queue_once_even_as_referrals_arrive,
    a_cursor_that_is_not_one_gets_400,
    the_call_list_and_the_inbox_page_with_cursors,
    the_audit_log_filters_by_actor_target_and_time_and_pages,
    admins_export_the_audit_log_as_csv_a_spreadsheet_cannot_run,
);

/// Five referrals, each from its own number, then set as the test needs: (team, urgent,
/// created, name). Returns their ids in the order given.
async fn referrals(app: &mut TestApp, rows: &[(&str, bool, &str, &str)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, (team, urgent, created, name)) in rows.iter().enumerate() {
        let phone = format!("+4479111230{i:02}");
        app.text(&phone, "hello").await;
        let id = app.referral_id_of(&phone).await;
        app.execute_sql(&[format!(
            "UPDATE referrals SET team = '{team}', urgent = {urgent}, \
             created_at = '{created}', answers = '{{\"name\": \"{name}\"}}' WHERE id = '{id}'"
        )])
        .await;
        ids.push(id);
    }
    ids
}

fn pick(made: &[String], which: &[usize]) -> Vec<String> {
    which.iter().map(|&i| made[i].clone()).collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Every page of a list from `path` (which has a query string), `limit` at a time.
async fn walk(app: &TestApp, token: &str, path: &str, limit: u32) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}&limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let (status, page) = app.get(token, &url).await;
        assert_eq!(status, 200, "{url}: {page}");
        assert!(
            page.get("next_cursor").is_some(),
            "every list says next_cursor"
        );
        pages += 1;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (seen, pages),
        }
        assert!(pages < 50, "the walk must end");
    }
}

async fn the_triage_queue_filters_by_team_urgency_words_and_time(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let made = referrals(
        &mut app,
        &[
            (
                "north",
                false,
                "2026-01-01T09:00:00.000000Z",
                "Ada Lovelace",
            ),
            ("south", true, "2026-01-02T09:00:00.000000Z", "Sam Okafor"),
            ("north", true, "2026-01-03T09:00:00.000000Z", "Kit 100%"),
            ("south", false, "2026-01-04T09:00:00.000000Z", "Ada Byron"),
        ],
    )
    .await;
    let queue = |query: &'static str| {
        let app = &app;
        async move {
            let (status, list) = app
                .get(&app.clinician, &format!("/referrals?{query}"))
                .await;
            assert_eq!(status, 200, "{query}: {list}");
            ids(&list)
        }
    };
    // Urgent first, then oldest.
    assert_eq!(queue("").await, pick(&made, &[1, 2, 0, 3]));
    assert_eq!(queue("team=north").await, pick(&made, &[2, 0]));
    assert_eq!(queue("urgent=true").await, pick(&made, &[1, 2]));
    assert_eq!(queue("urgent=false&team=south").await, pick(&made, &[3]));
    // Part of a name, in any case; a % in the words is only a character.
    assert_eq!(queue("q=ada").await, pick(&made, &[0, 3]));
    assert_eq!(queue("q=LOVELACE").await, pick(&made, &[0]));
    assert_eq!(queue("q=100%25").await, pick(&made, &[2]));
    // Unescaped, `1%0` would match "100%".
    assert_eq!(queue("q=1%250").await, Vec::<String>::new());
    // A reference, in any case.
    let (_, one) = app
        .get(&app.clinician, &format!("/referrals/{}", made[3]))
        .await;
    let reference = one["reference"].as_str().unwrap().to_lowercase();
    let (_, found) = app
        .get(&app.clinician, &format!("/referrals?q={reference}"))
        .await;
    assert_eq!(ids(&found), [made[3].clone()]);
    // Created from (inclusive) and to (exclusive).
    assert_eq!(
        queue("from=2026-01-02T09:00:00Z&to=2026-01-04T09:00:00Z").await,
        pick(&made, &[1, 2])
    );
    // What no record holds is refused, not searched for.
    let (status, _) = app.get(&app.clinician, "/referrals?q=a%00b").await;
    assert_eq!(status, 400);
    // A time that is not one is the client's to fix.
    let (status, problem) = app.get(&app.clinician, "/referrals?from=yesterday").await;
    assert_eq!(status, 400, "{problem}");
    app.stop().await;
}

async fn a_cursor_walks_the_queue_once_even_as_referrals_arrive(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let rows: Vec<(&str, bool, String, &str)> = (0..7)
        .map(|i| {
            (
                "north",
                i % 3 == 0,
                format!("2026-02-0{}T09:00:00.000000Z", i + 1),
                "Lee",
            )
        })
        .collect();
    let rows: Vec<(&str, bool, &str, &str)> = rows
        .iter()
        .map(|(t, u, c, n)| (*t, *u, c.as_str(), *n))
        .collect();
    referrals(&mut app, &rows).await;
    let (_, whole) = app.get(&app.clinician, "/referrals?limit=100").await;
    assert!(whole["next_cursor"].is_null(), "one page holds them all");
    let whole = ids(&whole);
    assert_eq!(whole.len(), 7);

    let (walked, pages) = walk(&app, &app.clinician, "/referrals?team=north", 3).await;
    assert_eq!(walked, whole, "pages of 3 give the queue in its order");
    assert_eq!(pages, 3);

    // An urgent referral arriving between pages would shift an offset; a cursor is not moved.
    let (_, first) = app.get(&app.clinician, "/referrals?limit=3").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    app.text("+447911123099", "hello").await;
    let newcomer = app.referral_id_of("+447911123099").await;
    app.execute_sql(&[format!(
        "UPDATE referrals SET urgent = TRUE, created_at = '2026-01-01T00:00:00.000000Z' \
         WHERE id = '{newcomer}'"
    )])
    .await;
    let (_, rest) = app
        .get(
            &app.clinician,
            &format!("/referrals?limit=100&cursor={}", urlencode(&cursor)),
        )
        .await;
    let mut seen: Vec<String> = ids(&first);
    seen.extend(ids(&rest));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no referral shown twice");
    for id in &whole {
        assert!(seen.contains(id), "no referral skipped");
    }
    app.stop().await;
}

async fn a_cursor_that_is_not_one_gets_400(engine: Engine) {
    let app = spawn_app(engine).await;
    for path in [
        "/referrals?cursor=not-a-cursor",
        "/tasks?cursor=%7B%7D",
        "/inbox?cursor=eyJ4Ijox",
        "/audit?cursor=abc",
    ] {
        let token = if path.starts_with("/audit") {
            &app.admin
        } else {
            &app.clinician
        };
        let (status, problem) = app.get(token, path).await;
        assert_eq!(status, 400, "{path}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("cursor"),
            "{problem}"
        );
    }
    app.stop().await;
}

async fn the_call_list_and_the_inbox_page_with_cursors(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut statements = Vec::new();
    for i in 0..5 {
        statements.push(format!(
            "INSERT INTO tasks (id, kind, status, text, created_at) \
             VALUES ('task-{i}', 'phone_call', 'open', 'Call', '2026-03-0{}T09:00:00.000000Z')",
            i + 1
        ));
        statements.push(format!(
            "INSERT INTO inbox_items (id, kind, urgent, summary, status, created_at) \
             VALUES ('item-{i}', 'patient_text', {}, 'A text', 'open', '2026-03-0{}T09:00:00.000000Z')",
            i == 3,
            i + 1
        ));
    }
    app.execute_sql(&statements).await;

    let (tasks, pages) = walk(&app, &app.scheduler, "/tasks?kind=phone_call", 2).await;
    assert_eq!(tasks, ["task-0", "task-1", "task-2", "task-3", "task-4"]);
    assert_eq!(pages, 3);
    let (items, _) = walk(&app, &app.clinician, "/inbox?status=open", 2).await;
    assert_eq!(items, ["item-3", "item-0", "item-1", "item-2", "item-4"]);
    app.stop().await;
}

async fn the_audit_log_filters_by_actor_target_and_time_and_pages(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text("+447911123456", "hello").await;
    let referral = app.referral_id_of("+447911123456").await;
    for _ in 0..3 {
        app.get(&app.clinician, &format!("/referrals/{referral}"))
            .await;
    }
    let by = |query: String| {
        let app = &app;
        async move {
            let (status, list) = app.get(&app.admin, &format!("/audit?{query}")).await;
            assert_eq!(status, 200, "{query}: {list}");
            list["items"].as_array().unwrap().clone()
        }
    };
    let clinician = by("actor=clinician-cal".into()).await;
    assert!(clinician.len() >= 3);
    assert!(clinician.iter().all(|e| e["actor"] == "clinician-cal"));
    let target = by(format!("actor=clinician-cal&target=referral:{referral}")).await;
    assert_eq!(target.len(), 3, "{target:?}");
    assert!(target.iter().all(|e| e["action"] == "referral.read"));
    let kind = by("target=referral".into()).await;
    assert!(kind.len() >= 3);
    assert!(
        kind.iter()
            .all(|e| e["target"].as_str().unwrap().starts_with("referral:"))
    );
    assert!(by("to=2000-01-01T00:00:00Z".into()).await.is_empty());
    assert_eq!(
        by(format!(
            "from=2000-01-01T00:00:00Z&actor=clinician-cal&target=referral:{referral}"
        ))
        .await
        .len(),
        3
    );

    let (all, _) = {
        let (_, list) = app.get(&app.admin, "/audit?limit=1000").await;
        (list["items"].as_array().unwrap().clone(), ())
    };
    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = app
            .get(
                &app.admin,
                &format!("/audit?limit=2&cursor={}", urlencode(&cursor)),
            )
            .await;
        walked.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    // The walk's own reads are audited as it goes, so compare what both have seen.
    assert!(walked.len() >= all.len());
    assert_eq!(&walked[walked.len() - all.len()..], &all[..]);
    app.stop().await;
}

async fn admins_export_the_audit_log_as_csv_a_spreadsheet_cannot_run(engine: Engine) {
    let mut app = spawn_app(engine).await;
    app.text("+447911123456", "hello").await;
    let referral = app.referral_id_of("+447911123456").await;
    app.get(&app.clinician, &format!("/referrals/{referral}"))
        .await;
    app.execute_sql(&[
        "INSERT INTO audit_log (at, actor, role, action, target) VALUES \
         ('2026-04-01T09:00:00.000000Z', '=HYPERLINK(\"http://x\")', 'admin', 'token.revoke', 'token:1')",
    ])
    .await;
    let export = |token: String, query: &'static str| {
        let app = &app;
        async move {
            app.http
                .get(app.url(&format!("/api/v1/audit/export.csv?{query}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(export(app.clinician.clone(), "").await.status(), 403);

    let response = export(app.admin.clone(), "").await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("seq,at,actor,role,action,target,token_id,user_id,records")
    );
    assert!(
        csv.contains(&format!(
            ",clinician-cal,clinician,referral.read,referral:{referral}"
        )),
        "{csv}"
    );
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");

    let only = export(app.admin.clone(), "actor=clinician-cal")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        only.lines().skip(1).all(|l| l.contains(",clinician-cal,")),
        "{only}"
    );
    assert!(only.lines().count() >= 2, "{only}");
    // The export itself is in the log.
    assert!(
        app.audit_entries()
            .await
            .iter()
            .any(|e| e["action"] == "audit.export" && e["actor"] == "admin-ann")
    );
    app.stop().await;
}
