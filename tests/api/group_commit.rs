//! Texts from people that arrive together share a commit on SQLite (group commit): each is
//! answered only once the commit holding it is durable, a text whose work fails is undone
//! alone, and each number's texts keep their order. PostgreSQL commits each text in its own
//! transaction; the same promises hold there and are tested the same way.

use std::time::Duration;

use crht_gateway::domain::phone::PhoneNumber;
use crht_gateway::store::{Decision, InboundText, PatientDecision, ReplyRoute, Snapshot};

use crate::helpers::{Engine, TestApp, spawn_app};

fn number(i: usize) -> String {
    format!("+4479111{i:05}")
}

/// Holds SQLite's write lock for a moment while `texts` start, so that they queue together
/// behind it and are stored as one group once it is let go. PostgreSQL has no such lock.
async fn arriving_together<T>(app: &TestApp, texts: impl std::future::Future<Output = T>) -> T {
    let held = match app.engine() {
        Engine::Sqlite => Some(app.hold_sqlite_write_lock().await),
        Engine::Postgres(_) => None,
    };
    let release = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if let Some(mut held) = held {
            sqlx::raw_sql("ROLLBACK")
                .execute(&mut held)
                .await
                .expect("let the lock go");
        }
    };
    let (out, ()) = tokio::join!(texts, release);
    out
}

async fn texts_arriving_together_are_each_stored_once_and_answered(engine: Engine) {
    let app = spawn_app(engine).await;
    let texts = (0..24).map(|i| {
        let app = &app;
        async move {
            app.text_with_sid(&number(i), "hello", &format!("SMgroup{i:026}"))
                .await
        }
    });
    let replies = arriving_together(&app, futures::future::join_all(texts)).await;
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.status, 200, "text {i}");
        assert!(reply.texts.concat().contains("999"), "text {i}: {reply:?}");
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM texts WHERE direction = 'inbound'")
            .await,
        24
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM conversations").await,
        24
    );
    // The same texts again (a provider's retries): the same answers, nothing stored twice.
    let retries = (0..24).map(|i| {
        let app = &app;
        async move {
            app.text_with_sid(&number(i), "hello", &format!("SMgroup{i:026}"))
                .await
        }
    });
    let again = arriving_together(&app, futures::future::join_all(retries)).await;
    for (first, retry) in replies.iter().zip(&again) {
        assert_eq!(retry.texts, first.texts);
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM texts WHERE direction = 'inbound'")
            .await,
        24
    );
    app.stop().await;
}

async fn a_numbers_texts_arriving_in_one_group_keep_their_order(engine: Engine) {
    let mut app = spawn_app(engine).await;
    let phone = number(1);
    app.text(&phone, "hello").await;
    // One person's answers, each sent after the one before was taken in, while 16 others
    // text at the same moment.
    let others = (10..26).map(|i| {
        let app = &app;
        async move {
            app.text_with_sid(&number(i), "hello", &format!("SMother{i:026}"))
                .await
        }
    });
    let theirs = async {
        let mut replies = Vec::new();
        for (i, body) in ["1", "Sam"].iter().enumerate() {
            replies.push(
                app.text_with_sid(&phone, body, &format!("SMorder{i:026}"))
                    .await,
            );
        }
        replies
    };
    let (theirs, others) = arriving_together(&app, async {
        tokio::join!(theirs, futures::future::join_all(others))
    })
    .await;
    assert!(others.iter().all(|r| r.status == 200));
    assert!(theirs.iter().all(|r| r.status == 200));
    let referral = app.referral_of(&phone).await;
    assert_eq!(referral["answers"]["relationship"], "self", "{referral}");
    assert_eq!(
        referral["answers"]["name"], "Sam",
        "the second answer was taken after the first: {referral}"
    );
    app.stop().await;
}

async fn a_text_whose_work_fails_is_undone_alone_and_its_neighbours_commit(engine: Engine) {
    let app = spawn_app(engine).await;
    let store = app.app.store().clone();
    // A decision naming a patient who does not exist: storing it breaks a foreign key.
    let broken = InboundText {
        provider_id: "SMbroken0000000000000000000000001".into(),
        from: PhoneNumber::parse(&number(99)).expect("a number"),
        body: "a text whose work fails".into(),
        received_at: chrono::Utc::now(),
        replies: ReplyRoute::InResponse,
    };
    let decide = |_: &Snapshot| {
        Decision::Patient(Box::new(PatientDecision {
            patient_id: "no-such-patient".into(),
            patient_ids: vec!["no-such-patient".into()],
            replies: vec!["a reply".into()],
            risk_signals: Vec::new(),
            alerts: Vec::new(),
            appointment: None,
            inbox: Vec::new(),
            opt_out: None,
            replies_past_opt_out: false,
            events: Vec::new(),
            feedback: None,
        }))
    };
    let texts = (0..12).map(|i| {
        let app = &app;
        async move {
            app.text_with_sid(&number(i), "hello", &format!("SMfine{i:027}"))
                .await
        }
    });
    let (fine, broken) = arriving_together(&app, async {
        tokio::join!(
            futures::future::join_all(texts),
            store.record_inbound(&broken, &decide)
        )
    })
    .await;
    assert!(broken.is_err(), "the broken text is refused");
    for (i, reply) in fine.iter().enumerate() {
        assert_eq!(reply.status, 200, "text {i} stands beside the broken one");
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM texts WHERE direction = 'inbound'")
            .await,
        12,
        "every other text is stored, the broken one not at all"
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM texts WHERE provider_id LIKE 'SMbroken%'")
            .await,
        0
    );
    // The writer is free afterwards: a text on its own is stored and answered.
    let after = app
        .text_with_sid(&number(50), "hello", "SMafter000000000000000000000000001")
        .await;
    assert_eq!(after.status, 200);
    app.stop().await;
}

crate::on_both_engines!(
    texts_arriving_together_are_each_stored_once_and_answered,
    a_numbers_texts_arriving_in_one_group_keep_their_order,
    a_text_whose_work_fails_is_undone_alone_and_its_neighbours_commit,
);
