//! Language names and codes as staff type them on a passport ("Polish", "polski", "pl"),
//! mapped to the codes of the `message-templates/` folders.

/// Template directory codes and the names staff may type for them: English names, the
/// language's own names, and ISO 639 codes. The common languages of England and Wales
/// (2021 census), plus BSL so a BSL user is flagged for an interpreter.
const LANGUAGES: &[(&str, &[&str])] = &[
    ("en", &["english", "eng"]),
    ("cy", &["welsh", "cymraeg", "cym", "wel"]),
    ("pl", &["polish", "polski", "pol"]),
    (
        "ro",
        &["romanian", "română", "romana", "moldovan", "ron", "rum"],
    ),
    ("pa", &["punjabi", "panjabi", "ਪੰਜਾਬੀ", "پنجابی", "pan"]),
    ("ur", &["urdu", "اردو", "urd"]),
    ("pt", &["portuguese", "português", "portugues", "por"]),
    ("es", &["spanish", "español", "espanol", "castilian", "spa"]),
    ("ar", &["arabic", "العربية", "ara"]),
    ("bn", &["bengali", "bangla", "বাংলা", "ben"]),
    ("syl", &["sylheti"]),
    ("gu", &["gujarati", "ગુજરાતી", "guj"]),
    ("it", &["italian", "italiano", "ita"]),
    ("fr", &["french", "français", "francais", "fra", "fre"]),
    (
        "zh",
        &["chinese", "mandarin", "中文", "普通话", "zho", "chi", "cmn"],
    ),
    ("yue", &["cantonese", "廣東話", "粵語"]),
    ("lt", &["lithuanian", "lietuvių", "lietuviu", "lit"]),
    ("de", &["german", "deutsch", "deu", "ger"]),
    ("ta", &["tamil", "தமிழ்", "tam"]),
    ("tr", &["turkish", "türkçe", "turkce", "tur"]),
    ("bg", &["bulgarian", "български", "bul"]),
    ("fa", &["persian", "farsi", "فارسی", "fas", "per"]),
    ("prs", &["dari", "دری"]),
    ("ru", &["russian", "русский", "rus"]),
    ("uk", &["ukrainian", "українська", "ukr"]),
    ("hu", &["hungarian", "magyar", "hun"]),
    ("so", &["somali", "soomaali", "som"]),
    ("ku", &["kurdish", "kurdî", "kurdi", "kur"]),
    ("ckb", &["sorani", "کوردی"]),
    ("ps", &["pashto", "pushto", "پښتو", "pus"]),
    ("ti", &["tigrinya", "ትግርኛ", "tir"]),
    ("am", &["amharic", "አማርኛ", "amh"]),
    ("el", &["greek", "ελληνικά", "ell", "gre"]),
    ("lv", &["latvian", "latviešu", "latviesu", "lav"]),
    ("sk", &["slovak", "slovenčina", "slovencina", "slk", "slo"]),
    ("cs", &["czech", "čeština", "cestina", "ces", "cze"]),
    ("sq", &["albanian", "shqip", "sqi", "alb"]),
    ("hi", &["hindi", "हिन्दी", "हिंदी", "hin"]),
    ("ne", &["nepali", "नेपाली", "nep"]),
    ("ml", &["malayalam", "മലയാളം", "mal"]),
    ("si", &["sinhala", "sinhalese", "සිංහල", "sin"]),
    ("vi", &["vietnamese", "tiếng việt", "tieng viet", "vie"]),
    ("tl", &["tagalog", "filipino", "tgl", "fil"]),
    ("nl", &["dutch", "nederlands", "nld", "dut"]),
    ("yo", &["yoruba", "yorùbá", "yor"]),
    ("ig", &["igbo", "ibo"]),
    ("sw", &["swahili", "kiswahili", "swa"]),
    ("sn", &["shona", "chishona", "sna"]),
    ("ga", &["irish", "gaeilge", "gle"]),
    ("gd", &["scottish gaelic", "gaelic", "gàidhlig", "gla"]),
    ("bfi", &["bsl", "british sign language"]),
];

/// Language name or code → template directory code: "English"/"en" → "en",
/// "Polish"/"polski"/"pl" → "pl", "Urdu" → "ur", … (the common UK languages); None for
/// unknown. Forgiving of case, spacing, a region ("pt-BR") and a note in brackets
/// ("Chinese (Mandarin)").
pub(crate) fn language_code(language: &str) -> Option<&'static str> {
    let wanted = language.trim().to_lowercase();
    let lookup = |s: &str| {
        let s = s.trim();
        LANGUAGES
            .iter()
            .find(|(code, names)| *code == s || names.contains(&s))
            .map(|(code, _)| *code)
    };
    lookup(&wanted)
        .or_else(|| wanted.split(['(', ',', '/']).next().and_then(lookup))
        .or_else(|| wanted.split(['-', '_']).next().and_then(lookup))
}

/// The language's name in English, as staff and interpreting services write it ("pl",
/// "polski", "Polish", "ur-Latn" → "Polish", "Urdu"); `None` for a language not in the list
/// and for a name with a note ("Chinese (Mandarin)"), which says more as staff wrote it.
pub(crate) fn english_name(language: &str) -> Option<String> {
    if language.contains(['(', ',', '/']) {
        return None;
    }
    let code = language_code(language)?;
    if code == "bfi" {
        return Some("British Sign Language".to_owned());
    }
    let (_, names) = LANGUAGES.iter().find(|(c, _)| *c == code)?;
    let first = names.first()?;
    Some(
        first
            .split(' ')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |c| {
                    c.to_uppercase().chain(chars).collect::<String>()
                })
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_named_in_english() {
        for (typed, name) in [
            ("pl", Some("Polish")),
            ("polski", Some("Polish")),
            ("ur-Latn", Some("Urdu")),
            ("BSL", Some("British Sign Language")),
            ("gaelic", Some("Scottish Gaelic")),
            ("Chinese (Mandarin)", None),
            ("Klingon", None),
        ] {
            assert_eq!(english_name(typed).as_deref(), name, "{typed}");
        }
    }

    #[test]
    fn language_names_and_codes_map_to_template_folders() {
        for (typed, code) in [
            ("English", Some("en")),
            ("en", Some("en")),
            ("EN-gb", Some("en")),
            ("Polish", Some("pl")),
            ("polski", Some("pl")),
            ("pl", Some("pl")),
            ("Urdu", Some("ur")),
            ("Punjabi", Some("pa")),
            ("Panjabi", Some("pa")),
            ("Română", Some("ro")),
            ("Chinese (Mandarin)", Some("zh")),
            ("Cantonese", Some("yue")),
            ("Farsi", Some("fa")),
            ("pt-BR", Some("pt")),
            ("  Welsh ", Some("cy")),
            ("BSL", Some("bfi")),
            ("Klingon", None),
            ("", None),
        ] {
            assert_eq!(language_code(typed), code, "{typed}");
        }
    }
}
