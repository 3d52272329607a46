//! Letters: the channel for patients who asked for post, or whom texts can't reach.
//!
//! [`render_pdf`] turns one [`Letter`] into an A4 PDF that staff print from the print list.
//! Layout follows RNIB clear-print guidance, because some patients ask for large print under the
//! Accessible Information Standard: one clear sans-serif, text aligned to its start edge and never
//! justified, black on white, generous line spacing, 12 pt body text (18 pt in large print).
//! The PDF embeds a subset of the font with a ToUnicode map and is tagged (headings, paragraphs,
//! language), so its text can be searched, copied and read aloud by a screen reader.

mod typeset;

use std::num::NonZeroU16;
use std::ops::Range;

use krilla::Document;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, SpanTag, Tag, TagGroup, TagKind, TagTree,
};

use typeset::{Style, Typesetter};

/// Every page carries this, in line with the service's first safety rule.
const EMERGENCY_LINE: &str = "In an emergency call 999.";

/// A4 in PDF points (1/72 inch).
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN_LEFT: f32 = 70.87; // 25 mm
const MARGIN_RIGHT: f32 = 56.69; // 20 mm
const MARGIN_TOP: f32 = 56.69; // 20 mm
const MARGIN_BOTTOM: f32 = 42.52; // 15 mm
const TEXT_WIDTH: f32 = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
/// The text column's left and right edges.
const COLUMN: Range<f32> = MARGIN_LEFT..PAGE_WIDTH - MARGIN_RIGHT;

/// Far beyond any real letter (3,000 words is about 8 pages in standard print); a body this long
/// means a template went wrong, and refusing it beats sending a ream to the printer.
const MAX_INPUT_BYTES: usize = 200_000;
const MAX_PAGES: usize = 100;

/// What goes on one letter. `body` is paragraphs separated by blank lines (already rendered from a template).
#[derive(Debug, Clone)]
pub struct Letter {
    pub recipient: String,          // e.g. "Sam Taylor"
    pub address_lines: Vec<String>, // e.g. ["12 Park Row", "Leeds"]
    pub postcode: Option<String>,   // "LS1 4DY"
    pub date: String,               // already formatted, e.g. "24 November 2026"
    pub team_name: String,          // e.g. "Leeds Crisis Resolution and Home Treatment Team"
    pub team_phone: String,         // "0800 129 9999"
    pub body: String,
    pub large_print: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("the bundled letter font could not be loaded")]
    Font,
    #[error(
        "the letter is {bytes} bytes long, more than the {max} a printed letter may hold; check the template"
    )]
    InputTooLong { bytes: usize, max: usize },
    #[error("the letter would run to more than {max} pages; check the template")]
    TooManyPages { max: usize },
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// An A4 PDF: letterhead (team name, phone), recipient name and address block, date, body paragraphs, and a footer line "In an emergency call 999." Wraps long lines and flows onto further pages; large print uses ≥16pt body text (and proportionally larger headings) with wider line spacing. Never panics on any Unicode input (names like "Zoë Ó Súilleabháin", "Łukasz Wójcik", Urdu "عائشہ"); characters the font lacks are replaced by a visible placeholder rather than dropped silently.
pub fn render_pdf(letter: &Letter) -> Result<Vec<u8>, LetterError> {
    let bytes = letter.recipient.len()
        + letter.address_lines.iter().map(String::len).sum::<usize>()
        + letter.postcode.as_ref().map_or(0, String::len)
        + letter.date.len()
        + letter.team_name.len()
        + letter.team_phone.len()
        + letter.body.len();
    if bytes > MAX_INPUT_BYTES {
        return Err(LetterError::InputTooLong {
            bytes,
            max: MAX_INPUT_BYTES,
        });
    }

    let typesetter = Typesetter::new().ok_or(LetterError::Font)?;
    let typography = Typography::new(letter.large_print);
    let blocks = letter_blocks(letter, &typesetter, &typography);
    let footer = Block::new(
        Role::Paragraph,
        EMERGENCY_LINE.to_owned(),
        Style::bold(typography.body),
        0.0,
    );
    let footer_lines = typesetter.wrap(&footer.text, footer.style.size, TEXT_WIDTH);
    let line_height = typography.line_height(typography.body);
    // Room for the emergency line(s) and a page number, kept clear on every page.
    let footer_height = line_height * (footer_lines.len() + 1) as f32;
    let body_bottom = PAGE_HEIGHT - MARGIN_BOTTOM - footer_height - line_height * 0.5;

    let pages = lay_out(&typesetter, &typography, &blocks, body_bottom)?;

    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("Letter from {}", one_line(&letter.team_name)))
            .language("en-GB".to_owned()),
    );
    let mut groups: Vec<TagGroup> = blocks
        .iter()
        .map(|block| TagGroup::new(block.tag()))
        .collect();
    let mut footer_group = TagGroup::new(footer.tag());
    let page_count = pages.len();

    for (index, page_lines) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
            .ok_or_else(|| LetterError::Pdf("invalid page size".to_owned()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();

        for line in page_lines {
            let block = &blocks[line.block];
            let id = surface.start_tagged(ContentTag::Span(SpanTag::empty()));
            typesetter.draw_line(
                &mut surface,
                &block.text[line.range.clone()],
                block.rtl,
                block.style,
                line.baseline,
                COLUMN,
            );
            surface.end_tagged();
            groups[line.block].push(id);
        }

        // The emergency line is read once by a screen reader (from page 1) and is a footer
        // artifact on later pages, so it is not repeated aloud on every page.
        let mut baseline = PAGE_HEIGHT - MARGIN_BOTTOM - footer_height + typography.body;
        for range in &footer_lines {
            let tag = if index == 0 {
                ContentTag::Span(SpanTag::empty())
            } else {
                ContentTag::Artifact(Artifact::with_kind(ArtifactType::Footer))
            };
            let id = surface.start_tagged(tag);
            typesetter.draw_line(
                &mut surface,
                &footer.text[range.clone()],
                footer.rtl,
                footer.style,
                baseline,
                COLUMN,
            );
            surface.end_tagged();
            if index == 0 {
                footer_group.push(id);
            }
            baseline += line_height;
        }

        if page_count > 1 {
            let number = format!("Page {} of {}", index + 1, page_count);
            surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(
                ArtifactType::PageNumber,
            )));
            typesetter.draw_line(
                &mut surface,
                &number,
                false,
                Style::regular(typography.body),
                baseline,
                COLUMN,
            );
            surface.end_tagged();
        }

        surface.finish();
        page.finish();
    }

    let mut tree = TagTree::new().with_lang(Some("en-GB".to_owned()));
    for group in groups {
        tree.push(group);
    }
    tree.push(footer_group);
    document.set_tag_tree(tree);
    document
        .finish()
        .map_err(|error| LetterError::Pdf(error.to_string()))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sizes in points. Headings are a third larger than body text in both modes, so large print
/// scales the whole page rather than only the paragraphs.
struct Typography {
    body: f32,
    heading: f32,
    /// Line height as a multiple of the font size.
    line_spacing: f32,
}

impl Typography {
    fn new(large_print: bool) -> Self {
        if large_print {
            Typography {
                body: 18.0,
                heading: 24.0,
                line_spacing: 1.5,
            }
        } else {
            Typography {
                body: 12.0,
                heading: 16.0,
                line_spacing: 1.4,
            }
        }
    }

    fn line_height(&self, size: f32) -> f32 {
        size * self.line_spacing
    }

    /// Space between parts of the letter (letterhead, address, date, body).
    fn section_gap(&self) -> f32 {
        self.line_height(self.body)
    }

    fn paragraph_gap(&self) -> f32 {
        self.line_height(self.body) * 0.6
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Heading,
    Paragraph,
}

/// One paragraph-level piece of the letter: wrapped as a unit and tagged as one element.
#[derive(Debug)]
struct Block {
    role: Role,
    /// Already sanitised: every character has a glyph or is an invisible format character.
    text: String,
    style: Style,
    space_before: f32,
    /// The paragraph's base direction (its first strong character): right-to-left paragraphs
    /// start at the right margin.
    rtl: bool,
}

impl Block {
    fn new(role: Role, text: String, style: Style, space_before: f32) -> Self {
        let rtl = unicode_bidi::get_base_direction(text.as_str()) == unicode_bidi::Direction::Rtl;
        Block {
            role,
            text,
            style,
            space_before,
            rtl,
        }
    }

    fn tag(&self) -> TagKind {
        match self.role {
            Role::Heading => Tag::Hn(NonZeroU16::MIN, Some(self.text.clone())).into(),
            Role::Paragraph => Tag::P.into(),
        }
    }
}

/// The letter's parts in reading order.
fn letter_blocks(letter: &Letter, typesetter: &Typesetter, typography: &Typography) -> Vec<Block> {
    let mut blocks = Vec::new();
    let push_lines = |blocks: &mut Vec<Block>, text: &str, role, style, space_before| {
        for (index, line) in field_lines(&typesetter.sanitize(text))
            .into_iter()
            .enumerate()
        {
            let space_before = if index == 0 { space_before } else { 0.0 };
            let mut block = Block::new(role, line, style, space_before);
            // Letterhead and address stay a left-aligned block, as UK addresses are written,
            // even for a name in a right-to-left script.
            block.rtl = false;
            blocks.push(block);
        }
    };

    let heading = Style::bold(typography.heading);
    let body = Style::regular(typography.body);
    push_lines(&mut blocks, &letter.team_name, Role::Heading, heading, 0.0);
    let phone = format!("Phone: {}", letter.team_phone.trim());
    push_lines(&mut blocks, &phone, Role::Paragraph, body, 0.0);

    let mut gap = typography.section_gap() * 1.5;
    let address = std::iter::once(&letter.recipient)
        .chain(&letter.address_lines)
        .chain(&letter.postcode);
    for line in address {
        let before = blocks.len();
        push_lines(&mut blocks, line, Role::Paragraph, body, gap);
        if blocks.len() > before {
            gap = 0.0;
        }
    }

    push_lines(
        &mut blocks,
        &letter.date,
        Role::Paragraph,
        body,
        typography.section_gap(),
    );

    let mut gap = typography.section_gap();
    for part in body_parts(&typesetter.sanitize(&letter.body)) {
        let space_before = if part.starts_paragraph { gap } else { 0.0 };
        blocks.push(Block::new(Role::Paragraph, part.text, body, space_before));
        gap = typography.paragraph_gap();
    }
    blocks
}

/// A one-line field may still hold line breaks (an address typed into one box); each becomes
/// its own printed line.
fn field_lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

struct BodyPart {
    text: String,
    /// False for the second and later lines of a paragraph.
    starts_paragraph: bool,
}

/// Blank lines separate paragraphs; a single line break is kept, because templates use it for
/// list items, sign-offs and addresses. Each line still wraps to the page.
fn body_parts(body: &str) -> Vec<BodyPart> {
    let mut parts = Vec::new();
    let mut starts_paragraph = true;
    for line in body.split('\n').map(str::trim) {
        if line.is_empty() {
            starts_paragraph = true;
        } else {
            parts.push(BodyPart {
                text: line.to_owned(),
                starts_paragraph,
            });
            starts_paragraph = false;
        }
    }
    parts
}

/// One line of a block, placed on a page.
struct PlacedLine {
    block: usize,
    range: Range<usize>,
    baseline: f32,
}

/// Wraps every block and flows the lines down the pages.
fn lay_out(
    typesetter: &Typesetter,
    typography: &Typography,
    blocks: &[Block],
    body_bottom: f32,
) -> Result<Vec<Vec<PlacedLine>>, LetterError> {
    let mut pages: Vec<Vec<PlacedLine>> = vec![Vec::new()];
    let mut y = MARGIN_TOP;
    for (index, block) in blocks.iter().enumerate() {
        if y > MARGIN_TOP {
            y += block.space_before;
        }
        let line_height = typography.line_height(block.style.size);
        for range in typesetter.wrap(&block.text, block.style.size, TEXT_WIDTH) {
            if y + line_height > body_bottom && y > MARGIN_TOP {
                if pages.len() == MAX_PAGES {
                    return Err(LetterError::TooManyPages { max: MAX_PAGES });
                }
                pages.push(Vec::new());
                y = MARGIN_TOP;
            }
            let placed = PlacedLine {
                block: index,
                range,
                // Half the extra leading above the glyphs, so text sits mid-line.
                baseline: y + (line_height - block.style.size) / 2.0 + block.style.size * 0.93,
            };
            if let Some(page) = pages.last_mut() {
                page.push(placed);
            }
            y += line_height;
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
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
        }
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
}
