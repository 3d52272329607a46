//! The screen's unit tests: the bundled rules, what must and must not flag, negation,
//! every language, and refusals of broken rules files.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::rules::RulesFile;
use super::*;

fn bundled() -> &'static RiskScreen {
    static SCREEN: OnceLock<RiskScreen> = OnceLock::new();
    SCREEN.get_or_init(RiskScreen::bundled)
}

fn flags(text: &str) -> Vec<String> {
    bundled().screen(text)
}

const ALL_SIGNALS: [&str; 13] = [
    "command_hallucinations",
    "emoji_means_of_harm",
    "farewell",
    "harm_to_others",
    "not_safe",
    "overdose_taken",
    "poison_or_chemical_swallowed",
    "preparatory_acts",
    "self_harm",
    "suicidal_intent",
    "suicide_plan_or_means",
    "third_party_at_risk",
    "threat_with_weapon",
];

#[test]
fn bundled_rules_load() {
    let loaded = RiskScreen::from_toml(BUNDLED_RULES);
    assert!(loaded.is_ok(), "bundled rules fail to load: {loaded:?}");
    assert_eq!(bundled().signal_names(), ALL_SIGNALS);
}

#[test]
fn every_signal_has_a_phrase_or_pattern() {
    let file: RulesFile = toml::from_str(BUNDLED_RULES).expect("bundled file parses");
    for (name, signal) in &file.signals {
        assert!(
            !signal.phrases.is_empty() || !signal.patterns.is_empty(),
            "signal {name} has no phrase and no pattern"
        );
        assert!(
            !signal.description.trim().is_empty(),
            "{name} has no description"
        );
    }
}

/// Each phrase in the file, texted on its own, raises its own signal: catches a phrase
/// that a spelling rewrite or a not-risk expression has made unmatchable.
#[test]
fn every_bundled_phrase_flags_its_own_signal() {
    let file: RulesFile = toml::from_str(BUNDLED_RULES).expect("bundled file parses");
    for (name, signal) in &file.signals {
        for phrase in &signal.phrases {
            assert!(
                flags(phrase).contains(name),
                "phrase {phrase:?} does not flag {name}: {:?}",
                flags(phrase)
            );
        }
        for rule in &signal.together {
            for means in &rule.any_of {
                for context in &rule.and_any_of {
                    let text = format!("{means}. {context}");
                    assert!(flags(&text).contains(name), "{text:?} does not flag {name}");
                }
            }
        }
    }
}

#[test]
fn debug_is_short_and_clone_screens_the_same() {
    let shown = format!("{:?}", bundled());
    assert!(shown.starts_with("RiskScreen {"), "{shown}");
    assert!(shown.len() < 200, "{shown}");
    let copy = bundled().clone();
    assert_eq!(copy.screen("I want to die"), ["suicidal_intent"]);
}

/// Texts that must flag, with the signals each must include (others may also flag).
const MUST_FLAG: &[(&str, &[&str])] = &[
    // suicidal intent or ideation, with misspellings, shorthand and leetspeak
    ("I want to kill myself", &["suicidal_intent"]),
    ("i want to die", &["suicidal_intent"]),
    ("I wanna die", &["suicidal_intent"]),
    ("i wana die", &["suicidal_intent"]),
    ("want 2 die", &["suicidal_intent"]),
    ("I want too die", &["suicidal_intent"]),
    ("I WANT TO DIE", &["suicidal_intent"]),
    ("I want to die!!!!!", &["suicidal_intent"]),
    ("i...want...to...die", &["suicidal_intent"]),
    ("want-to-die", &["suicidal_intent"]),
    ("I w4nt t0 d1e", &["suicidal_intent"]),
    ("I want to d1e", &["suicidal_intent"]),
    ("I'm suicidal", &["suicidal_intent"]),
    ("feeling suicidle tonight", &["suicidal_intent"]),
    ("i feel sucidal", &["suicidal_intent"]),
    ("thinking about suicde", &["suicidal_intent"]),
    ("having thoughts of sucide", &["suicidal_intent"]),
    ("su1c1de", &["suicidal_intent"]),
    ("$uicidal af", &["suicidal_intent"]),
    ("5uicide", &["suicidal_intent"]),
    ("kms", &["suicidal_intent"]),
    ("KMS", &["suicidal_intent"]),
    ("honestly kms 😭😭", &["suicidal_intent"]),
    ("kys", &["suicidal_intent"]),
    ("I'm going to unalive myself", &["suicidal_intent"]),
    ("i want to end it all", &["suicidal_intent"]),
    ("I'm going to end it", &["suicidal_intent"]),
    ("I just want to end it tonight", &["suicidal_intent"]),
    ("I cant go on", &["suicidal_intent"]),
    ("I can't go on like this", &["suicidal_intent"]),
    ("I cannot go on", &["suicidal_intent"]),
    ("I can\u{2019}t go on", &["suicidal_intent"]),
    ("I don't want to be here anymore", &["suicidal_intent"]),
    ("dont want to be here", &["suicidal_intent"]),
    ("I do not want to be here", &["suicidal_intent"]),
    ("I don\u{2019}t wanna be here", &["suicidal_intent"]),
    ("I don't want to wake up tomorrow", &["suicidal_intent"]),
    ("I hope I don't wake up", &["suicidal_intent"]),
    ("there's no reason to live", &["suicidal_intent"]),
    (
        "everyone would be better off without me",
        &["suicidal_intent"],
    ),
    ("they'd be better off without me", &["suicidal_intent"]),
    ("I'd be better off dead", &["suicidal_intent"]),
    ("no point living", &["suicidal_intent"]),
    ("theres no point in living anymore", &["suicidal_intent"]),
    ("what's the point in living", &["suicidal_intent"]),
    ("I wish I was dead", &["suicidal_intent"]),
    ("i want to kill my self", &["suicidal_intent"]),
    ("i want to killmyself", &["suicidal_intent"]),
    ("I want to kiiiiill myself", &["suicidal_intent"]),
    ("gonna kill meself", &["suicidal_intent"]),
    ("I want to kill myslef", &["suicidal_intent"]),
    ("I'm going to top myself", &["suicidal_intent"]),
    ("I'm gonna do myself in", &["suicidal_intent"]),
    ("I've been thinking about ending it", &["suicidal_intent"]),
    ("Im so tired of living", &["suicidal_intent"]),
    ("I can't do this anymore", &["suicidal_intent"]),
    ("I can't take it any more", &["suicidal_intent"]),
    ("I'm ready to die", &["suicidal_intent"]),
    ("I don't think I want to live anymore", &["suicidal_intent"]),
    ("I don't know if I can go on", &["suicidal_intent"]),
    ("I'm not sure I want to be alive", &["suicidal_intent"]),
    ("I don't see the point anymore", &["suicidal_intent"]),
    ("life isn't worth living", &["suicidal_intent"]),
    ("no one would miss me if I died", &["suicidal_intent"]),
    ("kill\u{200B}myself", &["suicidal_intent"]),
    ("kill. myself", &["suicidal_intent"]),
    ("i w@nt 2 k!ll my$elf", &["suicidal_intent"]),
    ("I wanna d!e", &["suicidal_intent"]),
    ("I want to die!please help", &["suicidal_intent"]),
    ("#iwanttodie", &["suicidal_intent"]),
    ("I want to k i l l myself", &["suicidal_intent"]),
    ("i wnt 2 die", &["suicidal_intent"]),
    ("i dnt wnt 2 live", &["suicidal_intent"]),
    ("Do. Not. Want. To. Live.", &["suicidal_intent"]),
    (
        "I want to go to sleep and not wake up",
        &["suicidal_intent"],
    ),
    (
        "ive had enough of everything i just want it to stop",
        &["suicidal_intent"],
    ),
    (
        "I don't want to die, I just want the pain to stop",
        &["suicidal_intent"],
    ),
    ("Everyone hates me. I'm a burden", &["suicidal_intent"]),
    ("Nobody would care if I was gone", &["suicidal_intent"]),
    ("tired of being alive", &["suicidal_intent"]),
    ("sewer slide", &["suicidal_intent"]),
    ("ctb tonight", &["suicidal_intent"]),
    (
        "Paramedic: patient expressing suicidal ideation",
        &["suicidal_intent"],
    ),
    // multi-sentence, other languages and emoji around English
    (
        "Hi. I need help with my mum. Actually I want to die.",
        &["suicidal_intent"],
    ),
    (
        "مجھے مدد چاہیے۔ I want to kill myself",
        &["suicidal_intent"],
    ),
    ("میں بہت پریشان ہوں I want to die ہوں", &["suicidal_intent"]),
    ("Mujhe bahut dukh hai. I want to die", &["suicidal_intent"]),
    (
        "Nie wiem co robić, chcę umrzeć. I want to die",
        &["suicidal_intent"],
    ),
    (
        "Proszę pomóż. Wziąłem 30 tabletek. I've taken 30 tablets",
        &["overdose_taken"],
    ),
    ("😭😭 i want to die 💔", &["suicidal_intent"]),
    ("I want to die 🙏🏽", &["suicidal_intent"]),
    ("ＩＭ ＯＫ. want to die", &["suicidal_intent"]),
    // self-harm
    ("I've been cutting again", &["self_harm"]),
    ("I cut myself last night", &["self_harm"]),
    ("I want to hurt myself", &["self_harm"]),
    ("i keep hurting my self", &["self_harm"]),
    ("i hurt meself again", &["self_harm"]),
    ("relapsed on sh", &["self_harm"]),
    ("I self harmed", &["self_harm"]),
    ("self-harm urges are bad", &["self_harm"]),
    ("I keep burning myself with a lighter", &["self_harm"]),
    ("I've been starving myself", &["self_harm"]),
    // suicide plan or means
    ("I've got a rope", &["suicide_plan_or_means"]),
    ("I'm on the bridge", &["suicide_plan_or_means"]),
    (
        "standing on the edge of the bridge",
        &["suicide_plan_or_means"],
    ),
    (
        "I'm going to jump in front of a train",
        &["suicide_plan_or_means"],
    ),
    ("gonna step in front of a bus", &["suicide_plan_or_means"]),
    (
        "I'm going to take all my tablets",
        &["suicide_plan_or_means"],
    ),
    (
        "I've been stockpiling my tablets",
        &["suicide_plan_or_means"],
    ),
    ("im saving up my pills", &["suicide_plan_or_means"]),
    (
        "I can't cope, I've got paracetamol here",
        &["suicide_plan_or_means"],
    ),
    ("💊💊💊 had enough", &["suicide_plan_or_means"]),
    (
        "how many paracetamol would it take",
        &["suicide_plan_or_means"],
    ),
    ("I want to hang myself", &["suicide_plan_or_means"]),
    ("I tied a noose", &["suicide_plan_or_means"]),
    (
        "sitting in the car with the exhaust running",
        &["suicide_plan_or_means"],
    ),
    ("I'm going to overdose", &["suicide_plan_or_means"]),
    ("I have a gun", &["suicide_plan_or_means"]),
    (
        "I've got a bottle of vodka and all my pills",
        &["suicide_plan_or_means"],
    ),
    (
        "I'm going to drive my car into a tree",
        &["suicide_plan_or_means"],
    ),
    (
        "What happens if you take 50 paracetamol",
        &["suicide_plan_or_means"],
    ),
    ("nooooose", &["suicide_plan_or_means"]),
    (
        "Police here, male on a bridge threatening to jump",
        &["suicide_plan_or_means"],
    ),
    (
        "I want to die and I have tablets",
        &["suicidal_intent", "suicide_plan_or_means"],
    ),
    ("carbon monoxide", &["suicide_plan_or_means"]),
    ("I've got the knife in my hand", &["suicide_plan_or_means"]),
    // an overdose already taken
    ("I've taken 30 tablets", &["overdose_taken"]),
    ("I've taken 30 tablets!!! 😭😭", &["overdose_taken"]),
    ("ive taken 30 paracetamol", &["overdose_taken"]),
    ("ive taken 30 paracetemol", &["overdose_taken"]),
    ("I took all my pills", &["overdose_taken"]),
    ("just took a whole box of paracetamol", &["overdose_taken"]),
    ("I swallowed a load of tablets", &["overdose_taken"]),
    ("took 16 co-codamol", &["overdose_taken"]),
    ("I've OD'd", &["overdose_taken"]),
    ("I\u{2019}ve OD\u{2019}d on my meds", &["overdose_taken"]),
    ("I've taken an overdose", &["overdose_taken"]),
    ("I took too many tablets", &["overdose_taken"]),
    ("i took 3 sleeping tablets", &["overdose_taken"]),
    ("I've had 20 sertraline", &["overdose_taken"]),
    ("I took my pills with vodka", &["overdose_taken"]),
    (
        "I've drunk a bottle of wine and taken my tablets",
        &["overdose_taken"],
    ),
    (
        "My patient has taken an overdose of 30 paracetamol",
        &["overdose_taken"],
    ),
    ("taken the lot", &["overdose_taken"]),
    ("I've taken thirty tablets", &["overdose_taken"]),
    // harm to others
    ("I'm going to kill him", &["harm_to_others"]),
    ("I want to stab someone", &["harm_to_others"]),
    ("I'm going to hurt my mum", &["harm_to_others"]),
    ("I'll kill you", &["harm_to_others"]),
    ("ill kill u", &["harm_to_others"]),
    ("I want to hurt the baby", &["harm_to_others"]),
    (
        "I keep having thoughts of killing my neighbour",
        &["harm_to_others"],
    ),
    ("I could kill her", &["harm_to_others"]),
    ("He's threatening to kill me", &["harm_to_others"]),
    ("I feel like hurting people", &["harm_to_others"]),
    ("I am going to strangle my boyfriend", &["harm_to_others"]),
    // someone else at immediate risk
    ("My son says he's going to end it", &["third_party_at_risk"]),
    ("she's taken pills", &["third_party_at_risk"]),
    ("She\u{2019}s taken pills", &["third_party_at_risk"]),
    (
        "my daughter has taken an overdose",
        &["third_party_at_risk", "overdose_taken"],
    ),
    (
        "My husband is talking about killing himself",
        &["third_party_at_risk"],
    ),
    ("my friend wants to die", &["third_party_at_risk"]),
    (
        "my mum is suicidal",
        &["third_party_at_risk", "suicidal_intent"],
    ),
    ("he's threatening to jump", &["third_party_at_risk"]),
    (
        "My brother is missing and he left a note",
        &["third_party_at_risk"],
    ),
    (
        "she said she'll be dead by morning",
        &["third_party_at_risk"],
    ),
    ("my dad has gone missing", &["third_party_at_risk"]),
    ("I can't wake him up", &["third_party_at_risk"]),
    (
        "my mate said hes gonna top himself",
        &["third_party_at_risk"],
    ),
    (
        "My husband has locked himself in the bathroom with pills",
        &["third_party_at_risk"],
    ),
    (
        "My partner has a knife and says he will kill me",
        &["harm_to_others"],
    ),
    ("I'm scared I'll hurt my baby", &["harm_to_others"]),
    (
        "my partner just swallowed a load of tablets",
        &["overdose_taken"],
    ),
    (
        "Hi. I'm worried about my mum. She's taken pills and won't wake up.",
        &["third_party_at_risk"],
    ),
    // farewell
    ("this is goodbye", &["farewell"]),
    ("I won't be here tomorrow", &["farewell"]),
    ("i wont be here tmrw", &["farewell"]),
    ("say bye to my kids for me", &["farewell"]),
    ("please look after my dog", &["farewell"]),
    ("by the time you read this I'll be gone", &["farewell"]),
    ("I've written a note", &["farewell"]),
    ("Goodbye everyone. Sorry for everything", &["farewell"]),
    ("i gave away my things", &["farewell"]),
    ("i've written letters to my family", &["farewell"]),
    // not safe
    ("I'm not safe", &["not_safe"]),
    ("I am not safe", &["not_safe"]),
    ("I don't feel safe right now", &["not_safe"]),
    ("I can't keep myself safe", &["not_safe"]),
    ("it is not safe for me here", &["not_safe"]),
    ("I need help I've done something stupid", &["not_safe"]),
    // command hallucinations
    (
        "the voices are telling me to hurt people",
        &["command_hallucinations", "harm_to_others"],
    ),
    ("voices telling me to jump", &["command_hallucinations"]),
];

/// Ordinary texts that must not flag.
const MUST_NOT_FLAG: &[&str] = &[
    "",
    "hello",
    "Hi",
    "yes",
    "2",
    "I need help with my mum",
    "can you call me tomorrow",
    "Can I change my appointment to Tuesday?",
    "My son is 19 and lives with me",
    "I'm a paramedic referring a patient",
    "Is the crisis team open at weekends?",
    "Please call my partner, he knows about my care",
    "thanks, bye",
    "ok goodbye",
    "Bye for now",
    "I'm feeling low but safe",
    "I'm safe",
    "Yes I am safe right now",
    "no, I'm fine thanks",
    // "die" must not match inside other words or idioms
    "my diet is going badly",
    "I died laughing",
    "I'm dying to see my grandson",
    "the battery died",
    "I'm dead tired",
    "My dog died last week and I'm sad",
    // everyday "kill", "hurt", "shoot"
    "My back is killing me",
    "this heat is killing me",
    "Killing time before my appointment",
    "I could murder a cup of tea",
    "I hurt her feelings and feel bad",
    "I think I hurt my mum's feelings",
    "I'll shoot you a text later",
    "Hit me up when you can",
    "I ran 10 kms today",
    "kmsx",
    "I cut my finger cooking",
    "I need to cut my hair",
    "my nose is blocked",
    "I hurt my nose",
    // medicines in ordinary use: no amount, no distress, nothing taken in excess
    "I take my tablets every morning",
    "I took my tablets this morning",
    "She's taken her tablets today",
    "He took 2 paracetamol for his headache",
    "I stopped taking my tablets because of side effects",
    "My mum has dementia and forgets her medication",
    "Can you tell me how many tablets I should take?",
    "I need a repeat prescription for sertraline",
    "I took all my tablets as prescribed today",
    "I had to take 2 extra paracetamol for my back pain",
    // places and vehicles in ordinary use
    "The train was late so I missed my appointment",
    "I'm on the bus",
    "I walked over the bridge to the clinic",
    "I'm going to the bridge club on Friday",
    // negated risk phrases
    "I'm not going to hurt myself",
    "I don't want to die",
    "I do not want to die",
    "I would never kill myself",
    "I'm not suicidal",
    "I'm not suicidal, I just need to talk to someone",
    "I have no thoughts of suicide",
    "I don't have any suicidal thoughts",
    "I haven't self harmed in months",
    "I'm not thinking about suicide",
    "I'm not going to end it",
    "I'm not going to kill myself, I promise",
    "I'd never take an overdose",
    "I would never hurt anyone",
    "I don't want to hurt anyone",
    "I'm not going to hurt myself or anyone else",
    "I'm not in danger",
    "I'm not unsafe",
    "I don't feel unsafe",
    "No. I'm not going to hurt myself.",
    "I've not taken an overdose",
    "I have no intention of killing myself",
    "I'm not gonna kms",
    "Denies suicidal ideation",
    "I'm a GP. Patient has no current suicidal intent",
    "my son isn't going to kill himself",
    "I'm on the edge of my seat",
    // other languages only, and emoji only
    "Nie, dziękuję",
    "مجھے مدد چاہیے",
    "😊👍",
    "🙂🙃😉",
];

#[test]
fn texts_that_must_flag() {
    let mut failures = Vec::new();
    for (text, expected) in MUST_FLAG {
        let got = flags(text);
        if let Some(missing) = expected.iter().find(|s| !got.iter().any(|g| g == *s)) {
            failures.push(format!("{text:?}: missing {missing}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} missed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn texts_that_must_not_flag() {
    let failures: Vec<String> = MUST_NOT_FLAG
        .iter()
        .map(|text| (text, flags(text)))
        .filter(|(_, got)| !got.is_empty())
        .map(|(text, got)| format!("{text:?}: {got:?}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} false alarms:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// False alarms we accept on purpose: each is close to a real risk text, and a missed
/// signal costs more than a call. Kept here so the choice is visible and reviewed.
#[test]
fn texts_knowingly_flagged() {
    let cases: &[(&str, &str)] = &[
        // self-harm phrase used for an accident
        ("I cut myself shaving", "self_harm"),
        // a jumping plan phrase used for an everyday jump
        ("I'm going to jump in the shower", "suicide_plan_or_means"),
        // a patient rearranging an appointment uses a farewell phrase
        ("I won't be here tomorrow, can we rearrange?", "farewell"),
        // the "not" is too far from "hurt myself" to count (window of 3 words)
        ("I'm not going to do anything to hurt myself", "self_harm"),
        // hyperbole that is also how a threat of violence is reported
        (
            "my mum's gonna kill me when she sees my room",
            "harm_to_others",
        ),
        // the word "suicide" in a film title
        ("Watching Suicide Squad", "suicidal_intent"),
        // three tablets count as an overdose taken
        ("I had 3 paracetamol for my headache", "overdose_taken"),
        // a means word with distress, whatever the topic
        (
            "I can't cope with the train strike",
            "suicide_plan_or_means",
        ),
        // "today" is a time limit, a hedge that turns off negation
        ("I won't hurt myself today", "self_harm"),
        // a phrase with its own "don't" about an appointment time
        (
            "I don't want to be here at 9am, can we do later?",
            "suicidal_intent",
        ),
        // "no" just before "not" reads as a double negative ("no way I'm not ...")
        ("no im not going to hurt myself", "self_harm"),
        // "of" and "off" read alike, so this reads like "off the bridge"
        ("a picture of the bridge", "suicide_plan_or_means"),
    ];
    for (text, signal) in cases {
        assert!(
            flags(text).iter().any(|s| s == signal),
            "{text:?} no longer flags {signal}"
        );
    }
}

#[test]
fn negation_switches_off_only_a_nearby_cue_in_the_same_clause() {
    let cases: &[(&str, &[&str])] = &[
        ("I'm not going to hurt myself", &[]),
        ("I don't want to die", &[]),
        ("I won't kill myself", &[]),
        ("I'm not really going to hurt myself", &[]),
        ("I no longer want to kill myself", &[]),
        // the cue belongs to another clause
        ("not ok and I want to kill myself", &["suicidal_intent"]),
        ("not ok, want to die", &["suicidal_intent"]),
        ("I'm not ok but I want to die", &["suicidal_intent"]),
        ("No. I want to die", &["suicidal_intent"]),
        ("I'm not 😭 want to die", &["suicidal_intent"]),
        // words between the cue and the phrase that are not bridge words
        ("I'm not ok I want to die", &["suicidal_intent"]),
        ("No I want to die", &["suicidal_intent"]),
        (
            "I never thought I would want to kill myself",
            &["suicidal_intent"],
        ),
        ("I didn't mean to hurt myself", &["self_harm"]),
        // the cue is too far before the phrase
        (
            "I have never felt so much like I want to die",
            &["suicidal_intent"],
        ),
        // a cue after the phrase negates nothing
        ("I want to die, not live", &["suicidal_intent"]),
        // phrases with their own negation are never negated by it
        ("I dont want to be here", &["suicidal_intent"]),
        ("I can't go on", &["suicidal_intent"]),
        ("I don't want to wake up", &["suicidal_intent"]),
        ("there is no reason to live", &["suicidal_intent"]),
        ("I'm not safe", &["not_safe"]),
        // double negatives and "why not"
        ("I can't not hurt myself", &["self_harm"]),
        ("I cannot not hurt myself", &["self_harm"]),
        ("I'm not able to not hurt myself", &["self_harm"]),
        ("why not just kill myself", &["suicidal_intent"]),
        ("why not kill myself", &["suicidal_intent"]),
        (
            "the only reason I don't kill myself is my kids",
            &["suicidal_intent"],
        ),
        (
            "if I don't kill myself tonight it will be tomorrow",
            &["suicidal_intent"],
        ),
        ("I'm trying not to hurt myself", &["self_harm"]),
    ];
    for (text, expected) in cases {
        assert_eq!(flags(text), *expected, "{text:?}");
    }
}

#[test]
fn uncertainty_anywhere_turns_negation_off() {
    let cases: &[(&str, &[&str])] = &[
        ("I'm not sure I won't hurt myself", &["self_harm"]),
        ("I don't know if I won't hurt myself", &["self_harm"]),
        ("I won't hurt myself, maybe", &["self_harm"]),
        ("I might not kill myself", &["suicidal_intent"]),
        ("I'm scared I'll hurt myself", &["self_harm"]),
        (
            "I'm afraid I might not be able to stop myself. I won't kill myself",
            &["suicidal_intent"],
        ),
        ("I can't promise I won't hurt myself", &["self_harm"]),
        ("I'm worried I'll hurt myself", &["self_harm"]),
        ("I won't kill myself tonight", &["suicidal_intent"]),
        ("I'm not going to kill myself yet", &["suicidal_intent"]),
        ("I'm not going to kill myself for now", &["suicidal_intent"]),
        ("I don't think I'll hurt myself", &["self_harm"]),
        ("idk, I'm not suicidal", &["suicidal_intent"]),
        (
            "I'm not suicidal but part of me wants to die",
            &["suicidal_intent"],
        ),
        (
            "I'm not going to kill myself but I want to",
            &["suicidal_intent"],
        ),
        // uncertainty on its own is not a risk signal
        ("I'm not sure what time my appointment is", &[]),
        ("maybe call me after lunch", &[]),
    ];
    for (text, expected) in cases {
        assert_eq!(flags(text), *expected, "{text:?}");
    }
}

#[test]
fn results_are_sorted_and_unique() {
    let got = flags(
        "I want to kill myself. I want to kill myself. I've taken 30 tablets. This is goodbye",
    );
    // tablets alongside another signal also count as means
    assert_eq!(
        got,
        [
            "farewell",
            "overdose_taken",
            "suicidal_intent",
            "suicide_plan_or_means"
        ]
    );
}

#[test]
fn leetspeak_reads_letters_but_keeps_numbers() {
    assert_eq!(flags("su1c1de"), ["suicidal_intent"]);
    assert_eq!(flags("k1ll mys3lf"), ["suicidal_intent"]);
    // "30" must stay a number for the overdose pattern
    assert_eq!(flags("taken 30 tablets"), ["overdose_taken"]);
    // "2" alone is a number, too small to be an overdose
    assert!(flags("took 2 tablets").is_empty());
}

// ---- new signals and other languages ----------------------------------------------------

/// Each text flags `signal` (others may flag too).
fn assert_flags(signal: &str, texts: &[&str]) {
    let failures: Vec<String> = texts
        .iter()
        .map(|text| (text, flags(text)))
        .filter(|(_, got)| !got.iter().any(|s| s == signal))
        .map(|(text, got)| format!("{text:?}: {got:?}"))
        .collect();
    assert!(
        failures.is_empty(),
        "missing {signal}:\n{}",
        failures.join("\n")
    );
}

/// No text flags anything.
fn assert_quiet(texts: &[&str]) {
    let failures: Vec<String> = texts
        .iter()
        .map(|text| (text, flags(text)))
        .filter(|(_, got)| !got.is_empty())
        .map(|(text, got)| format!("{text:?}: {got:?}"))
        .collect();
    assert!(
        failures.is_empty(),
        "false alarms:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_threat_to_others_with_a_weapon_is_a_risk_signal() {
    assert_flags(
        "threat_with_weapon",
        &[
            "my son has a knife and is threatening to use it",
            "my husband is waving a knife around",
            "he pulled a knife on me",
            "Police: male with knife threatening family at address",
            "she's holding a kitchen knife and won't put it down",
            "dad has a hammer and is threatening mum",
            "I'm going to stab him",
        ],
    );
    assert_quiet(&[
        "my son is a chef and uses knives all day",
        "the knife crime in our area scares me",
        "I cut the vegetables with a sharp knife",
    ]);
}

#[test]
fn preparatory_acts_are_risk_signals() {
    assert_flags(
        "preparatory_acts",
        &[
            "i've written my goodbye letters",
            "ive written letters to my kids for after im gone",
            "sorted my will out today",
            "i've put my affairs in order",
            "ive been saying my goodbyes to everyone",
            "been giving all my stuff away",
            "I've planned my funeral",
            "Daughter reports pt has been giving possessions away and has updated will",
        ],
    );
    assert_quiet(&[
        "i wrote a letter to my MP about the cuts",
        "i wrote a goodbye card for a colleague who is leaving",
        "we said goodbye to my nan at the funeral yesterday",
        "my will is strong, I'll get through this",
    ]);
}

#[test]
fn swallowing_a_household_chemical_is_a_risk_signal() {
    assert_flags(
        "poison_or_chemical_swallowed",
        &[
            "I drank bleach",
            "ive swallowed some weedkiller",
            "my mum has drunk antifreeze",
            "took rat poison about an hour ago",
            "I'm going to drink the bleach under the sink",
            "111 call: caller states she has swallowed bleach",
            "i just had a mouthful of drain cleaner",
        ],
    );
    assert_quiet(&[
        "I cleaned the bathroom with bleach today",
        "I need to buy antifreeze for the car",
        "I haven't drunk any bleach",
    ]);
}

#[test]
fn emoji_only_risk_messages_are_flagged() {
    for text in [
        "💊💊💊",
        "🔪",
        "🪢",
        "⚰️",
        "🪦",
        "🩸🩸",
        "🔫",
        "💊🍷",
        "💊😭",
        "🔪🩸",
    ] {
        assert!(
            flags(text).iter().any(|s| s == "emoji_means_of_harm"),
            "{text:?}: {:?}",
            flags(text)
        );
    }
    // distress, laughter, prayer or a jab alone are not a means of harm
    assert_quiet(&["😭", "😭😭😭", "💔", "💀", "🙏", "💉", "👍🙂"]);
    // with words, a means emoji still counts alongside distress
    assert_eq!(flags("💊💊💊 had enough"), ["suicide_plan_or_means"]);
}

#[test]
fn polish_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &[
            "Chcę umrzeć",
            "chce umrzec",
            "Chcę się zabić",
            "nie chce juz zyc",
        ],
    );
    assert_flags(
        "overdose_taken",
        &["Wziąłem 30 tabletek", "wzielam wszystkie tabletki"],
    );
    assert_flags("self_harm", &["Tnę się znowu", "Zrobiłem sobie krzywdę"]);
    assert_flags(
        "threat_with_weapon",
        &["Mój syn ma nóż i grozi, że go użyje"],
    );
    assert_flags("suicidal_intent", &["nie wiem czy się nie zabiję"]);
    assert_quiet(&[
        "Nie chcę się zabić",
        "nie chce umrzec, chce pomocy",
        "Nigdy bym sobie nie zrobił krzywdy",
        "Nie mam myśli samobójczych",
        "Pacjent zaprzecza myślom samobójczym",
        "Kroję warzywa nożem",
    ]);
}

#[test]
fn romanian_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &["Vreau să mor", "vreau sa mor", "ma gandesc la sinucidere"],
    );
    assert_flags("overdose_taken", &["Am luat 30 de pastile"]);
    assert_flags(
        "self_harm",
        &[
            "M-am tăiat din nou",
            "M-am tăiat din nou".replace('ă', "a").as_str(),
        ],
    );
    assert_flags("poison_or_chemical_swallowed", &["Am băut clor"]);
    assert_quiet(&[
        "Nu vreau să mor",
        "nu vreau sa ma sinucid, vreau ajutor",
        "Nu am gânduri de sinucidere",
        "Nu m-aș răni niciodată",
        "mor de râs",
    ]);
}

#[test]
fn portuguese_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &["Quero morrer", "Vou me matar", "penso em suicidio"],
    );
    assert_flags("overdose_taken", &["Tomei 30 comprimidos"]);
    assert_flags(
        "poison_or_chemical_swallowed",
        &["Bebi lixívia", "bebi agua sanitaria"],
    );
    assert_flags(
        "threat_with_weapon",
        &["Meu filho tem uma faca e está ameaçando usar"],
    );
    assert_quiet(&[
        "Não quero morrer, quero ajuda",
        "nao vou me matar",
        "Nunca me machucaria",
        "Não tenho pensamentos suicidas",
        "morri de rir",
    ]);
}

#[test]
fn arabic_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &["أريد أن أموت", "اريد ان اموت", "بدي موت", "سأقتل نفسي"],
    );
    // tashkeel and tatweel make no difference
    assert_flags("suicidal_intent", &["أُرِيدُ أَنْ أَمُوتَ", "أريـــد أن أموت"]);
    assert_flags("overdose_taken", &["أخذت ٣٠ حبة"]);
    assert_flags("threat_with_weapon", &["زوجي يهددني بالسكين"]);
    assert_quiet(&[
        "لا أريد أن أموت، أريد المساعدة",
        "لن أقتل نفسي",
        "ليس لدي أفكار انتحارية",
        "قطعت الخضار بالسكين",
    ]);
}

#[test]
fn urdu_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &["میں مرنا چاہتا ہوں", "میں خودکشی کرنا چاہتا ہوں"],
    );
    // typed with Arabic yeh, kaf and heh it reads the same
    assert_flags("suicidal_intent", &["ميں خودكشي كرنا چاهتا هوں"]);
    assert_flags("overdose_taken", &["میں نے ۳۰ گولیاں کھا لی ہیں"]);
    assert_flags("poison_or_chemical_swallowed", &["میں نے بلیچ پی لیا"]);
    // "not" after what it negates
    assert_quiet(&[
        "میں خودکشی نہیں کروں گا",
        "میرے خودکشی کے کوئی خیالات نہیں ہیں",
        "میں مرنا نہیں چاہتا، مدد چاہتا ہوں",
        "مجھے مدد چاہیے",
    ]);
    // unsure: flag
    assert_flags("self_harm", &["پتہ نہیں میں خود کو نقصان پہنچاؤں یا نہیں"]);
}

#[test]
fn roman_urdu_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &[
            "main marna chahta hoon",
            "mjhe marna h",
            "mai khudkshi krna chahta hu",
        ],
    );
    assert_flags("overdose_taken", &["maine 30 goliyan kha li hain"]);
    assert_flags(
        "threat_with_weapon",
        &["mere bete ke paas chaaku hai aur dhamki de raha hai"],
    );
    assert_quiet(&[
        "main khudkushi nahi karunga",
        "main marna nahi chahta, madad chahta hoon",
        "mere khudkushi ke koi khayalat nahi hain",
        "mujhe madad chahiye",
    ]);
}

#[test]
fn punjabi_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &["ਮੈਂ ਮਰਨਾ ਚਾਹੁੰਦਾ ਹਾਂ", "ਮੈਂ ਖੁਦਕੁਸ਼ੀ ਕਰਨਾ ਚਾਹੁੰਦਾ ਹਾਂ"],
    );
    // nukta, tippi and bindi left out read the same
    assert_flags("suicidal_intent", &["ਮੈ ਖੁਦਕੁਸੀ ਕਰਨੀ ਚਾਹੁਦਾ ਹਾ"]);
    assert_flags("overdose_taken", &["ਮੈਂ 30 ਗੋਲੀਆਂ ਖਾ ਲਈਆਂ ਹਨ"]);
    assert_quiet(&[
        "ਮੈਂ ਖੁਦਕੁਸ਼ੀ ਨਹੀਂ ਕਰਾਂਗਾ",
        "ਮੈਨੂੰ ਖੁਦਕੁਸ਼ੀ ਦੇ ਕੋਈ ਵਿਚਾਰ ਨਹੀਂ ਹਨ",
        "ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ",
    ]);
}

#[test]
fn bengali_risk_texts_are_flagged_and_negations_are_not() {
    assert_flags(
        "suicidal_intent",
        &["আমি মরতে চাই", "আমি আত্মহত্যা করব", "আমি আত্নহত্যা করবো"],
    );
    // Bengali digits joined to a counter word still read as a number
    assert_flags("overdose_taken", &["আমি ৩০টা ওষুধ খেয়েছি"]);
    assert_flags("poison_or_chemical_swallowed", &["আমার ছেলে কীটনাশক খেয়েছে"]);
    assert_quiet(&[
        "আমি মরতে চাই না, সাহায্য চাই",
        "আমি আত্মহত্যা করব না",
        "আমার আত্মহত্যার কোনো চিন্তা নেই",
        "মাথাব্যথার জন্য দুটো ওষুধ খেয়েছি",
    ]);
    assert_flags("self_harm", &["জানি না আমি নিজের ক্ষতি করব কি না"]);
}

#[test]
fn accents_are_optional_and_both_romanian_forms_match() {
    for (with, without) in [
        ("Chcę się zabić", "chce sie zabic"),
        ("Mă gândesc să mă omor", "ma gandesc sa ma omor"),
        ("Não quero mais viver", "nao quero mais viver"),
    ] {
        assert!(!flags(with).is_empty(), "{with:?}");
        assert_eq!(flags(with), flags(without), "{with:?} vs {without:?}");
    }
    // Romanian s and t with a comma (ș ț) or a cedilla (ş ţ)
    assert_eq!(
        flags("mă gândesc la sinucidere"),
        flags("mă gândesc la sinucidere".replace('ș', "ş").as_str())
    );
    assert_eq!(flags("Nu sunt în siguranță"), flags("Nu sunt în siguranţă"));
    assert_eq!(flags("Nu sunt în siguranță"), ["not_safe"]);
}

/// Each phrase of every language section, texted on its own, raises its own signal.
#[test]
fn every_language_phrase_flags_its_own_signal() {
    let file: RulesFile = toml::from_str(BUNDLED_RULES).expect("bundled file parses");
    assert!(file.languages.len() >= 8);
    for (code, language) in &file.languages {
        assert!(
            language.review.contains("interpreting service"),
            "languages.{code} must say who reviews it"
        );
        for (name, signal) in &language.signals {
            for phrase in &signal.phrases {
                assert!(
                    flags(phrase).contains(name),
                    "languages.{code}: {phrase:?} does not flag {name}: {:?}",
                    flags(phrase)
                );
            }
        }
    }
    assert!(
        BUNDLED_RULES.contains("MACHINE-DRAFTED, FOR REVIEW BY THE TRUST'S INTERPRETING SERVICE")
    );
}

#[test]
fn language_sections_are_checked_like_the_rest() {
    let with = |section: &str| format!("{MINIMAL}\n{section}");
    let cases = [
        (
            with("[languages.pl]\nname = \"Polish\"\nreview = \" \"\n"),
            "review",
        ),
        (
            with(
                "[languages.pl]\nname = \"Polish\"\nreview = \"x\"\n[languages.pl.signals.no_such]\nphrases = [\"a\"]\n",
            ),
            "no_such",
        ),
        (
            with("[languages.\"p l\"]\nname = \"Polish\"\nreview = \"x\"\n"),
            "p l",
        ),
        (
            with("[languages.pl]\nname = \"Polish\"\nreview = \"x\"\ncolour = 1\n"),
            "colour",
        ),
        (
            with(
                "[languages.pl]\nname = \"Polish\"\nreview = \"x\"\n[languages.pl.signals.self_harm]\npatterns = ['(tne']\n",
            ),
            "languages.pl.signals.self_harm.patterns",
        ),
    ];
    for (text, expected) in cases {
        let message = load_error(&text);
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
    let screen = RiskScreen::from_toml(&with(
        "[languages.pl]\nname = \"Polish\"\nreview = \"x\"\nnegation_cues = [\"nie\"]\n\
         [languages.pl.signals.self_harm]\nphrases = [\"tnę się\"]\n",
    ))
    .expect("loads");
    assert_eq!(screen.screen("tne sie"), ["self_harm"]);
    assert!(screen.screen("nie tnę się").is_empty());
}

// ---- rules file errors ------------------------------------------------------------------

const MINIMAL: &str = r#"
[clauses]
break_words = ["but"]

[negation]
window = 3
cues = ["not"]
bridge_words = ["going", "to"]
undone_by = ["can't"]

[uncertainty]
cues = ["not sure"]

[signals.self_harm]
description = "Hurting themselves"
phrases = ["hurt myself"]
"#;

fn load_error(text: &str) -> String {
    RiskScreen::from_toml(text)
        .expect_err("these rules should be refused")
        .to_string()
}

#[test]
fn minimal_rules_work() {
    let screen = RiskScreen::from_toml(MINIMAL).expect("minimal rules load");
    assert_eq!(screen.screen("I want to hurt myself"), ["self_harm"]);
    assert!(screen.screen("I'm not going to hurt myself").is_empty());
    assert_eq!(
        screen.screen("not sure. not going to hurt myself"),
        ["self_harm"]
    );
    assert_eq!(screen.signal_names(), ["self_harm"]);
}

#[test]
fn bad_toml_is_refused() {
    let message = load_error("[signals.self_harm\nphrases = [");
    assert!(message.contains("not valid"), "{message}");
    let message = load_error("");
    assert!(message.contains("clauses"), "{message}");
}

#[test]
fn unknown_keys_are_refused() {
    let message = load_error(&format!("{MINIMAL}colour = \"red\"\n"));
    assert!(message.contains("colour"), "{message}");
    let message = load_error(&MINIMAL.replace("phrases = ", "phrase = "));
    assert!(message.contains("phrase"), "{message}");
    let message = load_error(&format!("{MINIMAL}\n[extra]\nthing = 1\n"));
    assert!(message.contains("extra"), "{message}");
}

#[test]
fn invalid_regex_is_refused_naming_signal_and_pattern() {
    let message = load_error(&format!("{MINIMAL}patterns = ['(took|taken 30']\n"));
    assert!(message.contains("signals.self_harm.patterns"), "{message}");
    assert!(message.contains("(took|taken 30"), "{message}");
    // a stray `)` must not escape the whole-word wrapper
    let message = load_error(&format!("{MINIMAL}patterns = ['a)|(b']\n"));
    assert!(message.contains("a)|(b"), "{message}");
}

#[test]
fn pattern_matching_everything_is_refused() {
    let message = load_error(&format!("{MINIMAL}patterns = ['x*']\n"));
    assert!(message.contains("matches an empty text"), "{message}");
    assert!(message.contains("x*"), "{message}");
}

#[test]
fn empty_phrase_is_refused_naming_where() {
    let message = load_error(&MINIMAL.replace(r#"["hurt myself"]"#, r#"["hurt myself", " "]"#));
    assert!(message.contains("signals.self_harm.phrases"), "{message}");
    assert!(message.contains("entry 2"), "{message}");
    let message = load_error(&MINIMAL.replace(r#"cues = ["not sure"]"#, r#"cues = ["'"]"#));
    assert!(message.contains("uncertainty.cues"), "{message}");
}

#[test]
fn phrase_with_punctuation_is_refused() {
    let message = load_error(&MINIMAL.replace("hurt myself", "hurt myself!"));
    assert!(message.contains("hurt myself!"), "{message}");
    assert!(message.contains("`!`"), "{message}");
}

#[test]
fn other_rule_mistakes_are_refused() {
    let cases = [
        (MINIMAL.replace("self_harm", "Self-Harm"), "Self-Harm"),
        (MINIMAL.replace("Hurting themselves", " "), "description"),
        (
            MINIMAL.replace(r#"phrases = ["hurt myself"]"#, ""),
            "no phrases, patterns or together rules",
        ),
        (MINIMAL.replace("window = 3", "window = 0"), "negation.window"),
        (MINIMAL.replace(r#"["going", "to"]"#, r#"["going home"]"#), "going home"),
        (MINIMAL.replace("[signals.self_harm]\ndescription = \"Hurting themselves\"\nphrases = [\"hurt myself\"]\n", ""), "signals"),
        (
            format!(
                "{MINIMAL}[[signals.self_harm.together]]\nany_of = [\"rope\"]\nor_signals = [\"no_such_signal\"]\n"
            ),
            "no_such_signal",
        ),
        (
            format!("{MINIMAL}[[signals.self_harm.together]]\nany_of = [\"rope\"]\n"),
            "together[1]",
        ),
        (
            format!("{MINIMAL}[spellings]\ndont = [\"do not\"]\nnot = [\"do not\"]\n"),
            "do not",
        ),
    ];
    for (text, expected) in cases {
        let message = load_error(&text);
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
}

// ---- properties -------------------------------------------------------------------------

const POSITIVE: &[(&str, &str)] = &[
    ("I want to kill myself", "suicidal_intent"),
    ("I'm not going to lie, I want to die", "suicidal_intent"),
    ("I've taken 30 tablets", "overdose_taken"),
    ("I'm going to hurt my mum", "harm_to_others"),
    ("my son says he's going to end it", "third_party_at_risk"),
    ("this is goodbye", "farewell"),
    ("I can't go on", "suicidal_intent"),
    ("I'm not sure I won't hurt myself", "self_harm"),
    ("I'm on the bridge", "suicide_plan_or_means"),
    ("I'm not safe", "not_safe"),
];

const NEUTRAL_WORDS: &[&str] = &[
    "hello",
    "thanks",
    "the",
    "weather",
    "is",
    "nice",
    "my",
    "appointment",
    "bus",
    "tea",
    "garden",
    "tuesday",
    "please",
    "call",
    "me",
    "back",
    "dog",
    "walk",
    "work",
    "football",
    "shopping",
    "book",
    "film",
    "music",
    "kitchen",
    "not",
    "no",
    "never",
    "don't",
    "ok",
    "fine",
    "feelings",
    "with",
    "kindness",
    "them",
    "a",
    "an",
    "i",
    "you",
    "bye",
    "but",
];

/// Fragments that exercise every branch of the reader: emoji, apostrophes, leetspeak,
/// numbers, clause breaks, combining marks, right-to-left text.
const FRAGMENTS: &[&str] = &[
    "kill",
    "myself",
    "my self",
    "k1ll",
    "$",
    "@",
    "0",
    "30",
    "2",
    "4",
    "tablets",
    "'",
    "’",
    "don't",
    "not",
    ".",
    ",",
    "!",
    "?",
    "\n",
    " ",
    "-",
    "—",
    "…",
    "💊",
    "🔪",
    "😭",
    "\u{FE0F}",
    "\u{200B}",
    "\u{0301}",
    "İ",
    "ß",
    "مجھے",
    "ہوں",
    "۔",
    "zabiję",
    "się",
    "ＩＭ",
    "𝓀",
    "but",
    "and",
    "maybe",
    "no longer",
    "why",
    "can't",
    "kms",
    "end it",
    "sh",
    "\t",
    "\"",
];

proptest! {
    #[test]
    fn any_text_screens_without_panicking(text in proptest::collection::vec(any::<char>(), 0..2000)) {
        let text: String = text.into_iter().collect();
        let got = bundled().screen(&text);
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "not sorted and unique: {:?}", got);
    }

    #[test]
    fn tricky_fragments_screen_without_panicking(parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..300)) {
        let text = parts.concat();
        let got = bundled().screen(&text);
        prop_assert!(got.iter().all(|s| ALL_SIGNALS.contains(&s.as_str())));
    }

    #[test]
    fn neutral_text_after_a_signal_keeps_it(
        (text, signal) in proptest::sample::select(POSITIVE),
        words in proptest::collection::vec(proptest::sample::select(NEUTRAL_WORDS), 0..40),
    ) {
        let longer = format!("{text}. {}", words.join(" "));
        let got = bundled().screen(&longer);
        prop_assert!(got.iter().any(|s| s == signal), "{:?} lost {}: {:?}", longer, signal, got);
    }

    #[test]
    fn neutral_text_before_a_signal_keeps_it(
        (text, signal) in proptest::sample::select(POSITIVE),
        words in proptest::collection::vec(proptest::sample::select(NEUTRAL_WORDS), 0..40),
    ) {
        let longer = format!("{}. {text}", words.join(" "));
        let got = bundled().screen(&longer);
        prop_assert!(got.iter().any(|s| s == signal), "{:?} lost {}: {:?}", longer, signal, got);
    }

    #[test]
    fn capitals_make_no_difference((text, _) in proptest::sample::select(POSITIVE)) {
        prop_assert_eq!(bundled().screen(&text.to_uppercase()), bundled().screen(text));
    }
}
