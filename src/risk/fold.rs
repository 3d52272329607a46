//! Characters folded to one form, so a word typed with or without accents, or on an Arabic,
//! Urdu or Persian keyboard, reads the same (step 1 of the module docs).

/// Marks that people often leave out when they type, so the reader drops them: Arabic
/// harakat (tashkeel), tatweel and the lone hamza; the Bengali nukta and chandrabindu; the
/// Gurmukhi nukta, addak, tippi and bindi.
pub(super) fn folds_away(c: char) -> bool {
    matches!(c,
        '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}'
        | '\u{0640}' | '\u{0621}'
        | '\u{0981}' | '\u{09BC}'
        | '\u{0A02}' | '\u{0A3C}' | '\u{0A70}' | '\u{0A71}')
}

/// A lower-case character as the reader sees it, pushed onto `out`. People type the same word
/// with and without accents, and with Arabic, Urdu or Persian keyboards, so each letter is read
/// in one form and the file's phrases go through the same step:
/// - Latin letters lose their accents: Polish ł ą ę ś ż ź ć ń ó, Romanian ă â î ș ț (and the
///   cedilla forms ş ţ), Portuguese ã õ ç á é ê ô …, so "chcę umrzeć" = "chce umrzec".
/// - Arabic script: alef forms (أ إ آ ٱ) → ا; alef maqsura, Farsi and Urdu yeh (ى ی ے ئ) → ي;
///   teh marbuta and the Urdu hehs (ة ہ ھ ۂ) → ه; keheh (ک) → ك; noon ghunna (ں) → ن; waw with
///   hamza (ؤ) → و.
/// - Bengali: ড় ঢ় য় → ড ঢ য (the nukta is dropped); khanda ta (ৎ) → ত্.
/// - Gurmukhi: letters with a nukta (ਸ਼ ਖ਼ ਗ਼ ਜ਼ ਫ਼ ਲ਼) → the letter without it.
/// - Arabic-Indic, Persian, Bengali and Gurmukhi digits → 0-9, so "٣٠ حبة" holds 30.
pub(super) fn fold_into(c: char, out: &mut Vec<char>) {
    if c.is_ascii() {
        out.push(c);
        return;
    }
    if folds_away(c) {
        return;
    }
    let digit = |zero: char| char::from_digit(u32::from(c) - u32::from(zero), 10).unwrap_or(c);
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}' | '\u{0672}' | '\u{0673}' => '\u{0627}',
        '\u{0649}' | '\u{06CC}' | '\u{06D0}' | '\u{06CD}' | '\u{06D2}' | '\u{06D3}'
        | '\u{0626}' => '\u{064A}',
        '\u{0629}' | '\u{06C3}' | '\u{06C1}' | '\u{06C2}' | '\u{06BE}' | '\u{06D5}' => '\u{0647}',
        '\u{06A9}' | '\u{06AA}' => '\u{0643}',
        '\u{06BA}' => '\u{0646}',
        '\u{0624}' => '\u{0648}',
        '\u{0660}'..='\u{0669}' => digit('\u{0660}'),
        '\u{06F0}'..='\u{06F9}' => digit('\u{06F0}'),
        '\u{09E6}'..='\u{09EF}' => digit('\u{09E6}'),
        '\u{0A66}'..='\u{0A6F}' => digit('\u{0A66}'),
        '\u{09DC}' => '\u{09A1}',
        '\u{09DD}' => '\u{09A2}',
        '\u{09DF}' => '\u{09AF}',
        '\u{09CE}' => {
            out.extend(['\u{09A4}', '\u{09CD}']);
            return;
        }
        '\u{0A33}' => '\u{0A32}',
        '\u{0A36}' => '\u{0A38}',
        '\u{0A59}' => '\u{0A16}',
        '\u{0A5A}' => '\u{0A17}',
        '\u{0A5B}' => '\u{0A1C}',
        '\u{0A5E}' => '\u{0A2B}',
        _ => c,
    };
    out.push(folded);
}

/// A text with every character folded as the reader folds it (for patterns, whose words
/// must be compared in the same form).
pub(crate) fn fold_text(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        fold_into(c, &mut out);
    }
    out.into_iter().collect()
}
