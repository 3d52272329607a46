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
    /// The language of the interpreter the patient needs, in English ("Polish"): printed
    /// under the date as `Interpreter: Polish`, so whoever opens the letter with them knows.
    pub interpreter: Option<String>,
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
        + letter.interpreter.as_ref().map_or(0, String::len)
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
    if let Some(language) = &letter.interpreter {
        let line = format!("Interpreter: {}", language.trim());
        push_lines(
            &mut blocks,
            &line,
            Role::Paragraph,
            Style::bold(typography.body),
            0.0,
        );
    }

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
mod tests;
