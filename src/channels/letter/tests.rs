//! Tests of the letter PDF, read back with a PDF parser: every part is there, searchable and
//! tagged, large print is large, and any Unicode renders.

#![allow(clippy::unwrap_used)]

use super::typeset::PLACEHOLDER;
use super::*;
use pdf_extract::Document as ParsedPdf;
use pdf_extract::Object;
use pdf_extract::content::Content;
use proptest::prelude::*;

fn sample_letter(large_print: bool) -> Letter {
    Letter {
        recipient: "Sam Taylor".to_owned(),
        address_lines: vec!["12 Park Row".to_owned(), "Leeds".to_owned()],
        postcode: Some("LS1 4DY".to_owned()),
        date: "24 November 2026".to_owned(),
        team_name: "Leeds Crisis Resolution and Home Treatment Team".to_owned(),
        team_phone: "0800 129 9999".to_owned(),
        body: "Dear Sam,\n\nThis is a reminder of your assessment at home on Tuesday \
               1 December at 10:30.\n\nPlease have ready a list of your current \
               medications, with doses and how often you take them.\n\
               - recent appointments or hospital visits\n\
               - notes of any concerns\n\nYours sincerely,\nThe crisis team"
            .to_owned(),
        large_print,
        interpreter: None,
    }
}

#[test]
fn an_interpreter_needed_is_printed_under_the_date() {
    let letter = Letter {
        interpreter: Some("Polish".to_owned()),
        ..sample_letter(false)
    };
    let text = words(&extract(&render_pdf(&letter).unwrap()));
    assert!(text.contains("Interpreter: Polish"), "{text}");
    let without = words(&extract(&render_pdf(&sample_letter(false)).unwrap()));
    assert!(!without.contains("Interpreter"), "{without}");
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn extract(pdf: &[u8]) -> String {
    words(&pdf_extract::extract_text_from_mem(pdf).unwrap())
}

/// Every text-showing operator's font size as it lands on the page (the `Tf` size scaled
/// by the text matrix and the current transformation matrix) and its baseline's height.
fn rendered_text(pdf: &[u8]) -> Vec<(f32, f32)> {
    fn number(object: &Object) -> f32 {
        match object {
            Object::Integer(i) => *i as f32,
            Object::Real(r) => *r,
            other => panic!("expected a number, got {other:?}"),
        }
    }
    fn multiply(m: [f32; 6], n: [f32; 6]) -> [f32; 6] {
        [
            m[0] * n[0] + m[1] * n[2],
            m[0] * n[1] + m[1] * n[3],
            m[2] * n[0] + m[3] * n[2],
            m[2] * n[1] + m[3] * n[3],
            m[4] * n[0] + m[5] * n[2] + n[4],
            m[4] * n[1] + m[5] * n[3] + n[5],
        ]
    }
    const IDENTITY: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

    let document = ParsedPdf::load_mem(pdf).unwrap();
    let mut sizes = Vec::new();
    for (_, page_id) in document.get_pages() {
        let content = Content::decode(&document.get_page_content(page_id).unwrap()).unwrap();
        let mut ctm = IDENTITY;
        let mut stack = Vec::new();
        let mut text_matrix = IDENTITY;
        let mut font_size = 0.0;
        for op in content.operations {
            let operands: Vec<f32> = match op.operator.as_str() {
                "cm" | "Tm" => op.operands.iter().map(number).collect(),
                _ => Vec::new(),
            };
            match op.operator.as_str() {
                "q" => stack.push(ctm),
                "Q" => ctm = stack.pop().unwrap(),
                "cm" => ctm = multiply(operands.try_into().unwrap(), ctm),
                "BT" => text_matrix = IDENTITY,
                "Tm" => text_matrix = operands.try_into().unwrap(),
                "Tf" => font_size = number(&op.operands[1]),
                "Tj" | "TJ" | "'" | "\"" => {
                    let m = multiply(text_matrix, ctm);
                    let scale = (m[0] * m[3] - m[1] * m[2]).abs().sqrt();
                    sizes.push((font_size * scale, m[5]));
                }
                _ => {}
            }
        }
    }
    sizes
}

fn rendered_font_sizes(pdf: &[u8]) -> Vec<f32> {
    rendered_text(pdf)
        .into_iter()
        .map(|(size, _)| size)
        .collect()
}

fn minimum(sizes: &[f32]) -> f32 {
    sizes.iter().copied().fold(f32::INFINITY, f32::min)
}

/// The smallest distance between two baselines of body-size text on the first page.
fn body_line_pitch(pdf: &[u8]) -> f32 {
    let text = rendered_text(pdf);
    let body = minimum(&text.iter().map(|(size, _)| *size).collect::<Vec<_>>());
    let mut baselines: Vec<f32> = text
        .iter()
        .filter(|(size, _)| (size - body).abs() < 0.01)
        .map(|(_, y)| *y)
        .collect();
    baselines.sort_by(f32::total_cmp);
    baselines
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .filter(|gap| *gap > 0.5)
        .fold(f32::INFINITY, f32::min)
}

fn parse_every_page(pdf: &[u8]) -> usize {
    assert!(pdf.starts_with(b"%PDF"));
    let document = ParsedPdf::load_mem(pdf).unwrap();
    let pages = document.get_pages();
    for page_id in pages.values() {
        let content = document.get_page_content(*page_id).unwrap();
        Content::decode(&content).unwrap();
    }
    pages.len()
}

#[test]
fn a_letter_is_a_pdf_whose_every_part_can_be_read_back() {
    let letter = sample_letter(false);
    let pdf = render_pdf(&letter).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let text = extract(&pdf);

    for expected in [
        "Sam Taylor",
        "12 Park Row",
        "Leeds",
        "LS1 4DY",
        "24 November 2026",
        "Leeds Crisis Resolution and Home Treatment Team",
        "0800 129 9999",
        "999",
        "In an emergency call 999.",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    for word in [
        "Dear",
        "assessment",
        "Tuesday",
        "medications",
        "often",
        "hospital",
        "concerns",
        "sincerely",
        "team",
    ] {
        assert!(text.contains(word), "{word:?} missing from {text:?}");
    }
    assert_eq!(parse_every_page(&pdf), 1);
}

#[test]
fn text_is_searchable_and_tagged_for_screen_readers() {
    let pdf = render_pdf(&sample_letter(true)).unwrap();
    let document = ParsedPdf::load_mem(&pdf).unwrap();
    let catalog = document.catalog().unwrap();
    assert!(catalog.has(b"StructTreeRoot"), "the PDF is not tagged");
    assert!(catalog.has(b"Lang"), "the PDF has no language");
    let has_to_unicode = document
        .objects
        .values()
        .any(|object| object.as_dict().is_ok_and(|dict| dict.has(b"ToUnicode")));
    assert!(has_to_unicode, "no font has a ToUnicode map");
}

#[test]
fn large_print_is_at_least_16pt_and_standard_at_least_12pt() {
    let standard = rendered_font_sizes(&render_pdf(&sample_letter(false)).unwrap());
    let large = rendered_font_sizes(&render_pdf(&sample_letter(true)).unwrap());
    assert!(!standard.is_empty() && !large.is_empty());
    assert!(minimum(&standard) >= 12.0, "standard print: {standard:?}");
    assert!(minimum(&large) >= 16.0, "large print: {large:?}");
    let largest = |sizes: &[f32]| sizes.iter().copied().fold(0.0, f32::max);
    assert!(
        largest(&large) > largest(&standard),
        "headings grow with large print"
    );
}

#[test]
fn large_print_has_wider_line_spacing() {
    let standard = body_line_pitch(&render_pdf(&sample_letter(false)).unwrap());
    let large = body_line_pitch(&render_pdf(&sample_letter(true)).unwrap());
    assert!(standard.is_finite() && large.is_finite());
    assert!(
        standard >= 1.3 * 12.0,
        "standard print lines are {standard} pt apart"
    );
    assert!(
        large >= 1.5 * 16.0,
        "large print lines are {large} pt apart"
    );
    assert!(large / 18.0 > standard / 12.0, "{large} vs {standard}");
}

#[test]
fn a_long_body_flows_onto_further_pages_that_all_parse() {
    let paragraph = "Talking about your current mental health and any urgent concerns, \
                     reviewing your history and developing a plan to keep you safe and well. ";
    let body = (0..120)
        .map(|i| format!("Paragraph {i}. {}", paragraph.repeat(2)))
        .collect::<Vec<_>>()
        .join("\n\n");
    assert!(body.split_whitespace().count() >= 3_000);
    let letter = Letter {
        body: format!("{body}\n\nThe last word is Zanzibar."),
        ..sample_letter(false)
    };
    let pdf = render_pdf(&letter).unwrap();
    let standard_pages = parse_every_page(&pdf);
    assert!(standard_pages > 1, "{standard_pages} page(s)");

    let pages = pdf_extract::extract_text_from_mem_by_pages(&pdf).unwrap();
    assert_eq!(pages.len(), standard_pages);
    for (index, page) in pages.iter().enumerate() {
        let page = words(page);
        assert!(page.contains("In an emergency call 999."), "page {index}");
        let number = format!("Page {} of {}", index + 1, standard_pages);
        assert!(page.contains(&number), "page {index}: {page}");
    }
    assert!(words(pages.last().unwrap()).contains("The last word is Zanzibar."));

    let large = render_pdf(&Letter {
        large_print: true,
        ..letter
    })
    .unwrap();
    assert!(parse_every_page(&large) > standard_pages);
}

#[test]
fn names_with_diacritics_and_other_scripts_render() {
    let letter = Letter {
        recipient: "Zoë Ó Súilleabháin".to_owned(),
        address_lines: vec![
            "Łukasz Wójcik".to_owned(),
            "Flat 2, Ævar’s Court".to_owned(),
        ],
        body: "Dear Zoë,\n\nYour interpreter, Łukasz Wójcik, will join us.\n\n\
               عائشہ will also be there. Αθηνά, Дмитрий, 李雷 and 🙂 too."
            .to_owned(),
        ..sample_letter(false)
    };
    let pdf = render_pdf(&letter).unwrap();
    let text = extract(&pdf);
    for expected in [
        "Zoë Ó Súilleabháin",
        "Łukasz Wójcik",
        "Ævar’s Court",
        "Dear Zoë,",
        "Αθηνά",
        "Дмитрий",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    // No Chinese glyphs or emoji in the font: each shows as a placeholder, not nothing.
    assert!(text.contains(PLACEHOLDER), "{text:?}");

    let urdu = Letter {
        recipient: "عائشہ".to_owned(),
        large_print: true,
        ..sample_letter(false)
    };
    assert_eq!(parse_every_page(&render_pdf(&urdu).unwrap()), 1);
}

#[test]
fn direction_overrides_in_names_and_addresses_are_not_printed() {
    let typesetter = Typesetter::new().unwrap();
    assert_eq!(
        typesetter.sanitize("Sam \u{202E}Smith\u{202C}, \u{2067}1 High St\u{2069}"),
        "Sam Smith, 1 High St"
    );
    let letter = Letter {
        recipient: "Sam \u{202E}Smith".into(),
        ..sample_letter(false)
    };
    let text = words(&extract(&render_pdf(&letter).unwrap()));
    assert!(text.contains("Sam Smith"), "{text}");
}

#[test]
fn blank_lines_separate_paragraphs_and_single_breaks_are_kept() {
    let parts =
        body_parts("Dear Sam,\n\n\nPlease bring:\n- a list\n  - notes  \n\nYours,\nThe team");
    let texts: Vec<_> = parts
        .iter()
        .map(|part| (part.text.as_str(), part.starts_paragraph))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("Dear Sam,", true),
            ("Please bring:", true),
            ("- a list", false),
            ("- notes", false),
            ("Yours,", true),
            ("The team", false),
        ]
    );
}

#[test]
fn input_far_too_long_for_a_letter_is_refused() {
    let letter = Letter {
        body: "word ".repeat(MAX_INPUT_BYTES),
        ..sample_letter(false)
    };
    assert!(matches!(
        render_pdf(&letter),
        Err(LetterError::InputTooLong { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_unicode_body_renders_a_parseable_pdf(
        body in proptest::collection::vec(any::<char>(), 0..2_000)
            .prop_map(String::from_iter),
        recipient in proptest::collection::vec(any::<char>(), 0..60)
            .prop_map(String::from_iter),
        team_name in proptest::collection::vec(any::<char>(), 0..60)
            .prop_map(String::from_iter),
        large_print in any::<bool>(),
    ) {
        let letter = Letter { body, recipient, team_name, large_print, ..sample_letter(false) };
        let pdf = render_pdf(&letter).unwrap();
        prop_assert!(parse_every_page(&pdf) >= 1);
    }
}
