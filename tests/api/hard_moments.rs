//! The words at the hard moments, through the real webhook on both engines: a risk text is
//! never met with "Sorry, I didn't understand", tears and pleas get kind words and the question
//! again, a person coming back is welcomed back, RESTART never erases, and a person who writes
//! in another language is handed to an interpreter rather than looped.

use chrono::TimeDelta;

use crate::helpers::{Engine, SELF_REFERRAL, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    a_reply_to_a_risk_text_gives_999_says_the_team_knows_and_asks_again_without_sorry,
    an_emoji_only_or_one_word_distress_text_gets_a_kind_reply_and_the_question_again,
    resuming_after_abandonment_says_welcome_back_and_repeats_the_question,
    restart_keeps_every_answer_on_the_referral_and_an_urgent_referral_stays_urgent,
    a_first_text_in_another_language_gets_999_and_the_interpreter_offer_in_that_language,
    two_answers_in_another_language_hand_over_to_an_interpreter_and_queue_the_referral,
    risk_texts_in_every_language_are_flagged_urgent_with_999,
);

const SORRY: [&str; 3] = ["Sorry", "didn't understand", "doesn't look right"];

fn assert_no_sorry(text: &str) {
    for words in SORRY {
        assert!(!text.contains(words), "{words:?} in {text:?}");
    }
}

async fn a_reply_to_a_risk_text_gives_999_says_the_team_knows_and_asks_again_without_sorry(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let phone = "+447911123470";
    app.start_referral(phone, &[("relationship", "1"), ("name", "Sam")])
        .await;
    // At the age question, a risk text that is no age.
    let reply = app
        .text(phone, "i cant do this anymore i want to die")
        .await;
    let text = reply.text();
    assert!(text.contains("999"), "{text}");
    assert!(
        text.contains("on-call team"),
        "says the team has been told: {text}"
    );
    assert!(
        text.contains("18 or over"),
        "asks the question again: {text}"
    );
    assert_no_sorry(&text);
    assert_eq!(app.conversation(phone).await["step"], "age");
    // At the postcode question too (no "That postcode doesn't look right").
    app.text(phone, "34").await;
    let reply = app.text(phone, "I have the pills in my hand").await;
    assert_no_sorry(&reply.text());
    assert!(reply.text().contains("999"));
    assert_eq!(app.referral_of(phone).await["urgent"], true);
    app.stop().await;
}

async fn an_emoji_only_or_one_word_distress_text_gets_a_kind_reply_and_the_question_again(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let phone = "+447911123471";
    app.text(phone, "hi").await;
    app.answer_steps(phone, &[("relationship", "1")]).await;
    for distress in ["😭😭😭", "please", "help", "pls"] {
        let reply = app.text(phone, distress).await;
        assert_eq!(reply.status, 200);
        let text = reply.text();
        assert_no_sorry(&text);
        assert!(
            text.contains("not alone") || text.contains("here to help"),
            "{distress:?}: {text}"
        );
        assert!(text.contains("name"), "the question again: {text}");
        assert_eq!(app.conversation(phone).await["step"], "name");
    }
    app.stop().await;
}

async fn resuming_after_abandonment_says_welcome_back_and_repeats_the_question(engine: Engine) {
    let mut app = spawn_app_with(engine, |_| {}, true).await;
    let phone = "+447911123472";
    app.start_referral(phone, &[("relationship", "1"), ("name", "Sam")])
        .await;
    app.advance(TimeDelta::minutes(31));
    app.app.sweep().await.unwrap();
    assert_eq!(app.conversation(phone).await["status"], "abandoned");
    let back = app.text(phone, "hi sorry").await;
    let text = back.text();
    assert!(text.contains("Welcome back"), "{text}");
    assert!(
        text.contains("18 or over"),
        "the question it stopped at: {text}"
    );
    assert_no_sorry(&text);
    let conversation = app.conversation(phone).await;
    assert_eq!(conversation["status"], "active");
    assert_eq!(conversation["step"], "age");
    app.stop().await;
}

async fn restart_keeps_every_answer_on_the_referral_and_an_urgent_referral_stays_urgent(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let phone = "+447911123473";
    app.start_referral(
        phone,
        &[
            ("relationship", "1"),
            ("name", "Sam"),
            ("age", "34"),
            ("postcode", "LS1 4DY"),
            ("safety", "2"),
        ],
    )
    .await;
    let before = app.referral_of(phone).await;
    assert_eq!(before["urgent"], true, "not safe now");
    let restart = app.text(phone, "RESTART").await;
    assert!(restart.text().contains("999"));
    let after = app.referral_of(phone).await;
    assert_eq!(after["id"], before["id"], "the same referral");
    assert_eq!(after["urgent"], true, "an urgent referral stays urgent");
    assert_eq!(after["risk_signals"], before["risk_signals"]);
    let superseded = after["answers"]["superseded"]
        .as_array()
        .expect("superseded");
    for (step, value) in [("name", "Sam"), ("postcode", "LS1 4DY")] {
        assert!(
            superseded
                .iter()
                .any(|s| s["step"] == step && s["value"] == value),
            "{step} kept: {superseded:?}"
        );
    }
    assert!(superseded.iter().any(|s| s["step"] == "safety"));
    // A new answer after RESTART sits beside the old ones.
    app.answer_steps(phone, &[("relationship", "1"), ("name", "Sam Jones")])
        .await;
    let now = app.referral_of(phone).await;
    assert_eq!(now["answers"]["name"], "Sam Jones");
    assert_eq!(now["urgent"], true);
    assert!(
        now["answers"]["superseded"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["value"] == "Sam")
    );
    app.stop().await;
}

/// (first text, code, words that must be in the reply in that language)
const FIRST_TEXTS: &[(&str, &str)] = &[
    ("Dzień dobry, potrzebuję pomocy dla mojego brata", "pl"),
    ("Bună ziua, am nevoie de ajutor pentru fratele meu", "ro"),
    (
        "Olá, preciso de ajuda para o meu irmão, ele não está bem",
        "pt",
    ),
    ("مرحبا، أحتاج إلى مساعدة من أجل أخي", "ar"),
    ("السلام علیکم، مجھے اپنے بھائی کے لیے مدد چاہیے", "ur"),
    ("salam mujhe apne bhai ke liye madad chahiye", "ur-Latn"),
    ("ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਮੈਨੂੰ ਆਪਣੇ ਭਰਾ ਲਈ ਮਦਦ ਚਾਹੀਦੀ ਹੈ", "pa"),
    ("নমস্কার, আমার ভাইয়ের জন্য সাহায্য দরকার", "bn"),
];

async fn a_first_text_in_another_language_gets_999_and_the_interpreter_offer_in_that_language(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    for (i, (first, code)) in FIRST_TEXTS.iter().enumerate() {
        let phone = format!("+4479111235{i:02}");
        let reply = app.text(&phone, first).await;
        assert_eq!(reply.status, 200);
        let text = reply.text();
        let language =
            crht_gateway::language::Language::from_code(code).expect("one of our languages");
        assert!(
            text.contains(language.first_reply()),
            "{code}: the offer in that language: {text}"
        );
        assert!(text.contains("call 999"), "and in English: {text}");
        // The referral records the language and the need for an interpreter at once.
        let referral = app.referral_of(&phone).await;
        assert_eq!(referral["language"], *code, "{referral}");
        assert_eq!(referral["interpreter"], true, "{referral}");
        assert!(
            referral["answers"]["language"].as_str().is_some_and(|l| {
                let name = language.english_name();
                l.contains(name.split(' ').next().unwrap_or(name))
            }),
            "{referral}"
        );
    }
    // English stays English.
    let reply = app.text("+447911123599", "hello I need some help").await;
    for (_, code) in FIRST_TEXTS {
        let language = crht_gateway::language::Language::from_code(code).unwrap();
        assert!(!reply.text().contains(language.first_reply()));
    }
    let referral = app.referral_of("+447911123599").await;
    assert_eq!(referral["interpreter"], false);
    app.stop().await;
}

async fn two_answers_in_another_language_hand_over_to_an_interpreter_and_queue_the_referral(
    engine: Engine,
) {
    let mut app = spawn_app(engine).await;
    let phone = "+447911123474";
    app.text(phone, "Dzień dobry, potrzebuję pomocy").await;
    let first = app.text(phone, "nie rozumiem, mówię tylko po polsku").await;
    assert_eq!(first.status, 200);
    let second = app.text(phone, "proszę, niech ktoś do mnie zadzwoni").await;
    let text = second.text();
    assert!(text.contains("interpreter"), "{text}");
    assert!(text.contains("999"), "{text}");
    let polish = crht_gateway::language::Language::from_code("pl").unwrap();
    assert!(
        text.contains(polish.interpreter_handover()),
        "in Polish too: {text}"
    );
    // Never looped: in the queue as it stands, marked incomplete and needing an interpreter.
    let referral = app.referral_of(phone).await;
    assert_eq!(referral["status"], "submitted", "{referral}");
    assert_eq!(referral["incomplete"], true);
    assert_eq!(referral["interpreter"], true);
    assert_eq!(app.conversation(phone).await["status"], "completed");
    let (_, queue) = app.get(&app.clinician, "/referrals").await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == referral["id"])
    );
    // A further text is kept and answered without "didn't understand".
    let later = app.text(phone, "halo?").await;
    assert_no_sorry(&later.text());
    assert!(later.text().contains("interpreter"));
    app.stop().await;
    let _ = SELF_REFERRAL;
}

/// (language, a risk text, an everyday text) — written for this test, not taken from the
/// evaluation set.
const RISK_AND_SAFE: &[(&str, &str, &str)] = &[
    (
        "en weapon",
        "my brother has a knife and says he will stab someone",
        "my brother cut his hand on a knife making dinner",
    ),
    (
        "en preparatory",
        "I've written goodbye letters to my kids",
        "I wrote a letter to my GP",
    ),
    (
        "en poison",
        "she drank bleach an hour ago",
        "I cleaned the bathroom with bleach",
    ),
    ("en emoji", "💊💊💊🔪", "🙂"),
    ("pl", "chcę się zabić", "potrzebuję pomocy z lekami"),
    ("ro", "vreau să mă sinucid", "am nevoie de o programare"),
    ("pt", "quero me matar", "preciso de uma consulta"),
    ("ar", "أريد أن أقتل نفسي", "أحتاج إلى موعد"),
    ("ur", "میں خودکشی کرنا چاہتا ہوں", "مجھے ملاقات کا وقت چاہیے"),
    (
        "ur-Latn",
        "main khudkushi karna chahta hoon",
        "mujhe appointment chahiye",
    ),
    ("pa", "ਮੈਂ ਆਪਣੇ ਆਪ ਨੂੰ ਮਾਰ ਦੇਣਾ ਚਾਹੁੰਦਾ ਹਾਂ", "ਮੈਨੂੰ ਮੁਲਾਕਾਤ ਚਾਹੀਦੀ ਹੈ"),
    (
        "bn",
        "আমি নিজেকে মেরে ফেলতে চাই",
        "আমার একটি অ্যাপয়েন্টমেন্ট দরকার",
    ),
];

async fn risk_texts_in_every_language_are_flagged_urgent_with_999(engine: Engine) {
    let mut app = spawn_app(engine).await;
    for (i, (language, risky, everyday)) in RISK_AND_SAFE.iter().enumerate() {
        let phone = format!("+4479111236{i:02}");
        let reply = app.text(&phone, risky).await;
        assert_eq!(reply.status, 200);
        assert!(reply.text().contains("999"), "{language}: {}", reply.text());
        let referral = app.referral_of(&phone).await;
        assert_eq!(referral["urgent"], true, "{language}: {risky:?} must flag");
        assert!(
            !referral["risk_signals"].as_array().unwrap().is_empty(),
            "{language}"
        );

        let phone = format!("+4479111237{i:02}");
        app.text(&phone, everyday).await;
        let referral = app.referral_of(&phone).await;
        assert_eq!(
            referral["urgent"], false,
            "{language}: {everyday:?} must not flag: {:?}",
            referral["risk_signals"]
        );
    }
    app.stop().await;
}
