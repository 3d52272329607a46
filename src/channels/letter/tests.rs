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
    outside_the_address_band(rendered_text(pdf))
        .into_iter()
        .map(|(size, _)| size)
        .collect()
}

/// The address is set to fit the envelope window (down to Notify's own 8 pt for seven lines),
/// not to the patient's print size: what is read is measured without the window's band.
fn outside_the_address_band(text: Vec<(f32, f32)>) -> Vec<(f32, f32)> {
    let band = (PAGE_HEIGHT - notify_spec::ADDRESS_BOTTOM * MM)
        ..(PAGE_HEIGHT - notify_spec::ADDRESS_TOP * MM);
    text.into_iter()
        .filter(|(_, baseline)| !band.contains(baseline))
        .collect()
}

fn minimum(sizes: &[f32]) -> f32 {
    sizes.iter().copied().fold(f32::INFINITY, f32::min)
}

/// The smallest distance between two baselines of body-size text on the first page.
fn body_line_pitch(pdf: &[u8]) -> f32 {
    let text = outside_the_address_band(rendered_text(pdf));
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

/// One glyph as it lands on the page, in millimetres from the page's top left: its pen
/// position on the baseline, its advance, and its size in points.
#[derive(Debug, Clone)]
struct Glyph {
    page: u32,
    x: f32,
    baseline: f32,
    advance: f32,
    size: f32,
    text: String,
}

impl Glyph {
    /// A box sure to hold the glyph's ink: a full em above the baseline, a quarter below.
    fn top(&self) -> f32 {
        self.baseline - self.size / MM
    }
    fn bottom(&self) -> f32 {
        self.baseline + 0.25 * self.size / MM
    }
    fn right(&self) -> f32 {
        self.x + self.advance
    }
    fn within(&self, left: f32, right: f32, top: f32, bottom: f32) -> bool {
        self.x >= left && self.right() <= right && self.top() >= top && self.bottom() <= bottom
    }
    fn touches(&self, left: f32, right: f32, top: f32, bottom: f32) -> bool {
        self.x < right && self.right() > left && self.top() < bottom && self.bottom() > top
    }
}

/// Collects every glyph the PDF shows, with its position (pdf-extract's text interpreter).
#[derive(Default)]
struct Glyphs {
    page: u32,
    height: f32,
    /// The last glyph's position as given, and how far along its run the pen has got:
    /// pdf-extract reads no widths from these fonts, so it gives every glyph of a run the
    /// run's start, and the pen is moved on by an estimate of each glyph's advance.
    run: (f64, f64, f32),
    glyphs: Vec<Glyph>,
    media_boxes: Vec<(f32, f32)>,
}

impl pdf_extract::OutputDev for Glyphs {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &pdf_extract::MediaBox,
        _: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        self.page = page_num;
        self.height = (media_box.ury - media_box.lly) as f32;
        self.media_boxes.push((
            (media_box.urx - media_box.llx) as f32 / MM,
            self.height / MM,
        ));
        Ok(())
    }
    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        _: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        let scale = (trm.m11 * trm.m22 - trm.m12 * trm.m21).abs().sqrt();
        let size = (font_size * scale) as f32;
        let advance = if width > 0.0 {
            (width * font_size * scale) as f32 / MM
        } else {
            // Wider than the average glyph of a sans-serif font, to err on the safe side.
            0.6 * size / MM
        };
        let along = if (self.run.0, self.run.1) == (trm.m31, trm.m32) {
            self.run.2
        } else {
            0.0
        };
        self.run = (trm.m31, trm.m32, along + advance);
        self.glyphs.push(Glyph {
            page: self.page,
            x: trm.m31 as f32 / MM + along,
            baseline: (self.height - trm.m32 as f32) / MM,
            advance,
            size,
            text: text.to_owned(),
        });
        Ok(())
    }
    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
}

fn glyphs(pdf: &[u8]) -> Glyphs {
    let document = ParsedPdf::load_mem(pdf).unwrap();
    let mut glyphs = Glyphs::default();
    pdf_extract::output_doc(&document, &mut glyphs).unwrap();
    glyphs
}

/// Printed lines: glyphs of one page sharing a baseline, as text.
fn lines_of<'g>(glyphs: impl Iterator<Item = &'g Glyph>) -> Vec<(f32, String)> {
    let mut lines: Vec<(f32, Vec<&Glyph>)> = Vec::new();
    for glyph in glyphs {
        match lines
            .iter_mut()
            .find(|(baseline, _)| (baseline - glyph.baseline).abs() < 0.2)
        {
            Some((_, line)) => line.push(glyph),
            None => lines.push((glyph.baseline, vec![glyph])),
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    lines
        .into_iter()
        .map(|(baseline, line)| {
            // In the order drawn: left to right for these left-aligned lines.
            let text: String = line.iter().map(|g| g.text.as_str()).collect();
            (baseline, words(&text))
        })
        .collect()
}

/// Every way the PDF breaks GOV.UK Notify's printable-letter rules (`notify_spec`), read
/// back from the PDF itself: page size, margins, the NOTIFY tag's corner, the first page's
/// address band and window, the address's lines, and the page count.
fn notify_violations(pdf: &[u8]) -> Vec<String> {
    use notify_spec::*;
    let read = glyphs(pdf);
    let mut problems = Vec::new();
    if read.media_boxes.len() > MAX_PAGES {
        problems.push(format!("{} pages", read.media_boxes.len()));
    }
    for (index, (width, height)) in read.media_boxes.iter().enumerate() {
        if (width - 210.0).abs() > 0.5 || (height - 297.0).abs() > 0.5 {
            problems.push(format!("page {} is {width} x {height} mm", index + 1));
        }
    }
    let document = ParsedPdf::load_mem(pdf).unwrap();
    for page_id in document.get_pages().values() {
        let page = document.get_dictionary(*page_id).unwrap();
        if let Ok(rotate) = page.get(b"Rotate")
            && rotate.as_i64().unwrap_or(0) % 360 != 0
        {
            problems.push("a page is rotated".into());
        }
    }
    // Spaces leave no ink.
    for glyph in read.glyphs.iter().filter(|g| !g.text.trim().is_empty()) {
        if !glyph.within(
            SIDE_MARGIN,
            210.0 - SIDE_MARGIN,
            TOP_BOTTOM_MARGIN,
            297.0 - TOP_BOTTOM_MARGIN,
        ) {
            problems.push(format!("{glyph:?} is in the margin"));
        }
        if glyph.touches(0.0, TAG_RIGHT, 0.0, TAG_BOTTOM) {
            problems.push(format!("{glyph:?} is where Notify's tag goes"));
        }
        let in_window = glyph.within(ADDRESS_LEFT, ADDRESS_RIGHT, ADDRESS_TOP, ADDRESS_BOTTOM);
        if glyph.page == 1
            && glyph.touches(0.0, SERVICE_COLUMN_LEFT, ADDRESS_BAND_TOP, BODY_TOP)
            && !in_window
        {
            problems.push(format!(
                "{glyph:?} is in the address band, outside the window"
            ));
        }
    }
    let address = lines_of(read.glyphs.iter().filter(|g| {
        g.page == 1 && g.touches(ADDRESS_LEFT, ADDRESS_RIGHT, ADDRESS_TOP, ADDRESS_BOTTOM)
    }));
    if !ADDRESS_LINES.contains(&address.len()) {
        problems.push(format!("{} address lines: {address:?}", address.len()));
    }
    let postcode = regex::Regex::new(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$").unwrap();
    if !address
        .last()
        .is_some_and(|(_, last)| postcode.is_match(last))
    {
        problems.push(format!(
            "the address does not end with a postcode: {address:?}"
        ));
    }
    problems
}

fn long_letter(large_print: bool) -> Letter {
    let paragraph = "Talking about your current mental health and any urgent concerns, \
                     reviewing your history and developing a plan to keep you safe and well. ";
    let body = (0..12)
        .map(|i| format!("Paragraph {i}. {}", paragraph.repeat(3)))
        .collect::<Vec<_>>()
        .join("\n\n");
    Letter {
        body: format!("Dear Sam,\n\n{body}\n\nYours sincerely,\nThe crisis team"),
        interpreter: Some("Polish".to_owned()),
        ..sample_letter(large_print)
    }
}

#[test]
fn letters_meet_notifys_printable_letter_rules_in_standard_and_large_print() {
    for large_print in [false, true] {
        let letter = long_letter(large_print);
        let rendered = render(&letter).unwrap();
        assert_eq!(rendered.notify_refusal(), None, "large print {large_print}");
        assert!(rendered.pages > 1 && rendered.pages <= notify_spec::MAX_PAGES);
        let problems = notify_violations(&rendered.pdf);
        assert!(
            problems.is_empty(),
            "large print {large_print}: {problems:#?}"
        );

        let read = glyphs(&rendered.pdf);
        let address = lines_of(read.glyphs.iter().filter(|g| {
            g.page == 1
                && g.within(
                    notify_spec::ADDRESS_LEFT,
                    notify_spec::ADDRESS_RIGHT,
                    notify_spec::ADDRESS_TOP,
                    notify_spec::ADDRESS_BOTTOM,
                )
        }));
        let address: Vec<&str> = address.iter().map(|(_, line)| line.as_str()).collect();
        assert_eq!(address, ["Sam Taylor", "12 Park Row", "Leeds", "LS1 4DY"]);
        // The body starts below the window's band, and the sender's details sit beside it.
        let first_page = lines_of(read.glyphs.iter().filter(|g| g.page == 1));
        let (dear, _) = first_page
            .iter()
            .find(|(_, line)| line == "Dear Sam,")
            .unwrap();
        assert!(
            *dear > notify_spec::BODY_TOP,
            "the body starts at {dear} mm"
        );
        let phone = read
            .glyphs
            .iter()
            .find(|g| g.page == 1 && g.text == "0")
            .unwrap();
        assert!(
            phone.x >= notify_spec::SERVICE_COLUMN_LEFT || phone.top() >= notify_spec::BODY_TOP
        );
        let last_page = lines_of(
            read.glyphs
                .iter()
                .filter(|g| g.page as usize == rendered.pages),
        );
        assert!(
            last_page.iter().any(|(_, line)| line == "The crisis team"),
            "{last_page:?}"
        );
    }
}

#[test]
fn the_layout_check_catches_an_address_moved_10_mm() {
    let letter = long_letter(false);
    assert!(notify_violations(&render_with(&letter, (0.0, 0.0)).unwrap().pdf).is_empty());
    for shift in [(0.0, 10.0), (0.0, -10.0), (-10.0, 0.0)] {
        let problems = notify_violations(&render_with(&letter, shift).unwrap().pdf);
        assert!(!problems.is_empty(), "an address moved {shift:?} mm passed");
    }
}

#[test]
fn a_letter_notify_cannot_take_says_why() {
    let refusal = |letter: &Letter| render(letter).unwrap().notify_refusal();
    assert_eq!(refusal(&sample_letter(false)), None);
    let short = Letter {
        address_lines: Vec::new(),
        ..sample_letter(false)
    };
    assert_eq!(refusal(&short), Some("address_too_short"));
    let long = Letter {
        address_lines: (1..=6).map(|i| format!("Line {i}")).collect(),
        ..sample_letter(false)
    };
    assert_eq!(refusal(&long), Some("address_too_long"));
    let no_postcode = Letter {
        postcode: None,
        ..sample_letter(false)
    };
    assert_eq!(refusal(&no_postcode), Some("no_postcode"));
    let wide = Letter {
        address_lines: vec![
            "Flat 12, The Old Mill Buildings, Upper Wortley Road and Industrial Estate".to_owned(),
            "Leeds".to_owned(),
        ],
        ..sample_letter(false)
    };
    assert_eq!(refusal(&wide), Some("address_too_wide"));
    // Seven lines still fit the window, at a smaller size.
    let seven = Letter {
        address_lines: (1..=5).map(|i| format!("Line {i}")).collect(),
        large_print: true,
        ..sample_letter(false)
    };
    let rendered = render(&seven).unwrap();
    assert_eq!(rendered.notify_refusal(), None);
    let problems = notify_violations(&rendered.pdf);
    assert!(problems.is_empty(), "{problems:#?}");
    let paragraph = "Talking about your current mental health and any urgent concerns. ";
    let pages = Letter {
        body: (0..200)
            .map(|i| format!("Paragraph {i}. {}", paragraph.repeat(3)))
            .collect::<Vec<_>>()
            .join("\n\n"),
        ..sample_letter(true)
    };
    assert_eq!(refusal(&pages), Some("too_many_pages"));
}
