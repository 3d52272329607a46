//! Letters: the channel for patients who asked for post, or whom texts can't reach.
//!
//! [`render_pdf`] turns one [`Letter`] into an A4 PDF that staff print from the print list.
//! Layout follows RNIB clear-print guidance, because some patients ask for large print under the
//! Accessible Information Standard: one clear sans-serif, text aligned to its start edge and never
//! justified, black on white, generous line spacing, 12 pt body text (18 pt in large print).
//! The PDF embeds a subset of the font with a ToUnicode map and is tagged (headings, paragraphs,
//! language), so its text can be searched, copied and read aloud by a screen reader.
//!
//! The first page follows GOV.UK Notify's specification for precompiled letters (the areas its
//! template-preview service checks), so the same PDF can be posted by Notify or printed by
//! staff for a window envelope: the recipient's address alone in the envelope window, the
//! team's name, number and the date in the column on the right, and the body below the
//! window. [`Rendered::notify_refusal`] says why a letter could not go through Notify.

mod post;
mod typeset;

pub use post::{LetterProvider, Postage, SentLetter};

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

/// One millimetre in PDF points (1/72 inch).
const MM: f32 = 72.0 / 25.4;

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

/// GOV.UK Notify's printable-letter rules for precompiled letters, in millimetres from the top
/// left of the page, as its template-preview service checks them (`app/precompiled.py`):
/// nothing outside 15 mm from each side and 5 mm from the top and bottom; on the first page,
/// between 30 mm and 95 mm from the top, nothing but the address in its window (the stricter
/// of the two windows Notify has used) and whatever sits right of 125 mm; the NOTIFY tag's
/// corner (top left, inside the left margin) left clear; at most 10 pages.
pub mod notify_spec {
    /// Content stays this far inside the left and right edges.
    pub const SIDE_MARGIN: f32 = 15.0;
    /// Content stays this far inside the top and bottom edges.
    pub const TOP_BOTTOM_MARGIN: f32 = 5.0;
    /// The address window's left, right, top and bottom edges.
    pub const ADDRESS_LEFT: f32 = 24.6;
    pub const ADDRESS_RIGHT: f32 = 120.0;
    pub const ADDRESS_TOP: f32 = 40.0;
    pub const ADDRESS_BOTTOM: f32 = 66.2;
    /// The band of the first page that holds only the address, and the column to its right
    /// (from `SERVICE_COLUMN_LEFT`) where the sender's details may go.
    pub const ADDRESS_BAND_TOP: f32 = 30.0;
    pub const BODY_TOP: f32 = 95.0;
    pub const SERVICE_COLUMN_LEFT: f32 = 125.0;
    /// Notify prints its tag here on the first page and looks for it on later ones: keep the
    /// area (with Notify's own allowance around the tag) clear.
    pub const TAG_RIGHT: f32 = 21.0;
    pub const TAG_BOTTOM: f32 = 10.0;
    /// Address lines: the recipient and at least two more, and a UK postcode (or a country)
    /// last.
    pub const ADDRESS_LINES: std::ops::RangeInclusive<usize> = 3..=7;
    pub const MAX_PAGES: usize = 10;
}

/// The address window with a millimetre's allowance inside each edge.
const ADDRESS_INSET: f32 = MM;
const ADDRESS_COLUMN: Range<f32> =
    notify_spec::ADDRESS_LEFT * MM + ADDRESS_INSET..notify_spec::ADDRESS_RIGHT * MM - ADDRESS_INSET;
const ADDRESS_TOP: f32 = notify_spec::ADDRESS_TOP * MM + ADDRESS_INSET;
const ADDRESS_BOTTOM: f32 = notify_spec::ADDRESS_BOTTOM * MM - ADDRESS_INSET;
/// The address's line height, as a multiple of its size: tight, to fit seven lines.
const ADDRESS_LEADING: f32 = 1.2;
/// The address is set as large as the window allows, up to the body text's size, and never
/// smaller than Notify's own 8 pt.
const ADDRESS_SMALLEST: f32 = 8.0;

/// The team's name, number and the date, in the column right of the address window.
const SENDER_COLUMN: Range<f32> =
    (notify_spec::SERVICE_COLUMN_LEFT + 2.0) * MM..PAGE_WIDTH - MARGIN_RIGHT;
const SENDER_TOP: f32 = 10.0 * MM;
const SENDER_BOTTOM: f32 = (notify_spec::BODY_TOP - 2.0) * MM;
/// Where the body starts on the first page: below the envelope window's band.
const FIRST_BODY_TOP: f32 = (notify_spec::BODY_TOP + 1.0) * MM;

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

/// A rendered letter: the PDF, and what GOV.UK Notify would make of it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub pages: usize,
    /// Printed address lines (recipient, address, postcode), blank ones left out.
    pub address_lines: usize,
    /// Every address line fits the envelope window, unwrapped.
    pub address_fits: bool,
    /// The last address line is a postcode.
    pub ends_with_postcode: bool,
}

impl Rendered {
    /// Why GOV.UK Notify would refuse this letter under its printable-letter rules (`None`:
    /// it may go): the reason staff see on the print list instead.
    pub fn notify_refusal(&self) -> Option<&'static str> {
        let lines = self.address_lines;
        if lines < *notify_spec::ADDRESS_LINES.start() {
            Some("address_too_short")
        } else if lines > *notify_spec::ADDRESS_LINES.end() {
            Some("address_too_long")
        } else if !self.ends_with_postcode {
            Some("no_postcode")
        } else if !self.address_fits {
            Some("address_too_wide")
        } else if self.pages > notify_spec::MAX_PAGES {
            Some("too_many_pages")
        } else {
            None
        }
    }
}

/// An A4 PDF: letterhead (team name, phone), recipient name and address block, date, body paragraphs, and a footer line "In an emergency call 999." Wraps long lines and flows onto further pages; large print uses ≥16pt body text (and proportionally larger headings) with wider line spacing. Never panics on any Unicode input (names like "Zoë Ó Súilleabháin", "Łukasz Wójcik", Urdu "عائشہ"); characters the font lacks are replaced by a visible placeholder rather than dropped silently.
pub fn render_pdf(letter: &Letter) -> Result<Vec<u8>, LetterError> {
    render(letter).map(|rendered| rendered.pdf)
}

/// [`render_pdf`], with what the layout says about the letter's fitness for GOV.UK Notify.
pub fn render(letter: &Letter) -> Result<Rendered, LetterError> {
    render_with(letter, (0.0, 0.0))
}

/// `address_shift`: millimetres right and down to move the address by; never anything but
/// zero outside the tests that prove the layout checks would catch a misplaced address.
fn render_with(letter: &Letter, address_shift: (f32, f32)) -> Result<Rendered, LetterError> {
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
    let (blocks, address) = letter_blocks(letter, &typesetter, &typography);
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

    let pages = lay_out(&typesetter, &blocks, body_bottom, address_shift)?;

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
                line.column.clone(),
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
    let pdf = document
        .finish()
        .map_err(|error| LetterError::Pdf(error.to_string()))?;
    Ok(Rendered {
        pdf,
        pages: page_count,
        address_lines: address.lines,
        address_fits: address.fits,
        ends_with_postcode: letter
            .postcode
            .as_deref()
            .is_some_and(|postcode| !postcode.trim().is_empty()),
    })
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

/// Where on the page a block goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    /// The column right of the envelope window on the first page (the team's name, number and
    /// the date), or the top of the body when it would overflow the column.
    Sender,
    /// The envelope window.
    Address,
    /// The text column, flowing onto further pages.
    Body,
}

/// One paragraph-level piece of the letter: wrapped as a unit and tagged as one element.
#[derive(Debug)]
struct Block {
    role: Role,
    place: Place,
    /// Already sanitised: every character has a glyph or is an invisible format character.
    text: String,
    style: Style,
    /// Height of each of its lines, in points.
    leading: f32,
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
            place: Place::Body,
            text,
            style,
            leading: style.size,
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

/// How the address was set: how many lines it has, and whether they all fit the window.
struct AddressFit {
    lines: usize,
    fits: bool,
}

/// The letter's parts in reading order, and how its address fits the envelope window.
fn letter_blocks(
    letter: &Letter,
    typesetter: &Typesetter,
    typography: &Typography,
) -> (Vec<Block>, AddressFit) {
    let mut blocks = Vec::new();
    let push_lines =
        |blocks: &mut Vec<Block>, text: &str, place, role, style: Style, space_before| {
            let leading = typography.line_height(style.size);
            for (index, line) in field_lines(&typesetter.sanitize(text))
                .into_iter()
                .enumerate()
            {
                let space_before = if index == 0 { space_before } else { 0.0 };
                let mut block = Block::new(role, line, style, space_before);
                block.place = place;
                block.leading = leading;
                // Letterhead and address stay a left-aligned block, as UK addresses are written,
                // even for a name in a right-to-left script.
                block.rtl = false;
                blocks.push(block);
            }
        };

    let heading = Style::bold(typography.heading);
    let body = Style::regular(typography.body);
    push_lines(
        &mut blocks,
        &letter.team_name,
        Place::Sender,
        Role::Heading,
        heading,
        0.0,
    );
    let phone = format!("Phone: {}", letter.team_phone.trim());
    push_lines(
        &mut blocks,
        &phone,
        Place::Sender,
        Role::Paragraph,
        body,
        0.0,
    );
    push_lines(
        &mut blocks,
        &letter.date,
        Place::Sender,
        Role::Paragraph,
        body,
        typography.section_gap(),
    );
    if let Some(language) = &letter.interpreter {
        let line = format!("Interpreter: {}", language.trim());
        push_lines(
            &mut blocks,
            &line,
            Place::Sender,
            Role::Paragraph,
            Style::bold(typography.body),
            0.0,
        );
    }

    let address: Vec<String> = std::iter::once(&letter.recipient)
        .chain(&letter.address_lines)
        .chain(&letter.postcode)
        .flat_map(|line| field_lines(&typesetter.sanitize(line)))
        .collect();
    let (size, fits) = address_size(typesetter, &address, typography.body);
    for line in &address {
        let mut block = Block::new(Role::Paragraph, line.clone(), Style::regular(size), 0.0);
        block.place = Place::Address;
        block.leading = size * ADDRESS_LEADING;
        block.rtl = false;
        blocks.push(block);
    }

    let mut gap = typography.section_gap();
    for part in body_parts(&typesetter.sanitize(&letter.body)) {
        let space_before = if part.starts_paragraph { gap } else { 0.0 };
        let mut block = Block::new(Role::Paragraph, part.text, body, space_before);
        block.leading = typography.line_height(typography.body);
        blocks.push(block);
        gap = typography.paragraph_gap();
    }
    let address = AddressFit {
        lines: address.len(),
        fits,
    };
    (blocks, address)
}

/// The largest size, from the body text's down to 8 pt in half points, at which every
/// address line fits the window's width unwrapped and all of them its height; when none
/// does, 8 pt and `false` (the lines then wrap, and may run below the window).
fn address_size(typesetter: &Typesetter, lines: &[String], largest: f32) -> (f32, bool) {
    let width = ADDRESS_COLUMN.end - ADDRESS_COLUMN.start;
    let height = ADDRESS_BOTTOM - ADDRESS_TOP;
    let mut size = largest;
    while size >= ADDRESS_SMALLEST {
        // The last line's descenders reach a little below its line box.
        let tall = lines.len() as f32 * size * ADDRESS_LEADING + size * 0.1;
        let narrow = lines
            .iter()
            .all(|line| typesetter.wrap(line, size, width).len() <= 1);
        if tall <= height && narrow {
            return (size, true);
        }
        size -= 0.5;
    }
    (ADDRESS_SMALLEST, false)
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
    /// The left and right edges of the column it is drawn in.
    column: Range<f32>,
}

impl PlacedLine {
    fn new(block: usize, range: Range<usize>, top: f32, style: Style, leading: f32) -> Self {
        PlacedLine {
            block,
            range,
            // Half the extra leading above the glyphs, so text sits mid-line.
            baseline: top + (leading - style.size) / 2.0 + style.size * 0.93,
            column: COLUMN,
        }
    }
}

/// Wraps every block and places its lines: the address in the envelope window, the sender's
/// details in the column beside it while they fit (below the window's band when they do not),
/// and the body from below the band, flowing down the pages.
fn lay_out(
    typesetter: &Typesetter,
    blocks: &[Block],
    body_bottom: f32,
    address_shift: (f32, f32),
) -> Result<Vec<Vec<PlacedLine>>, LetterError> {
    let address_column =
        ADDRESS_COLUMN.start + address_shift.0 * MM..ADDRESS_COLUMN.end + address_shift.0 * MM;
    let mut pages: Vec<Vec<PlacedLine>> = vec![Vec::new()];
    let mut sender_y = SENDER_TOP;
    let mut sender_open = true;
    let mut address_y = ADDRESS_TOP + address_shift.1 * MM;
    let mut page_top = FIRST_BODY_TOP;
    let mut y = page_top;
    for (index, block) in blocks.iter().enumerate() {
        if block.place == Place::Sender && sender_open {
            let width = SENDER_COLUMN.end - SENDER_COLUMN.start;
            let lines = typesetter.wrap(&block.text, block.style.size, width);
            let mut top = sender_y;
            if top > SENDER_TOP {
                top += block.space_before;
            }
            if top + block.leading * lines.len() as f32 <= SENDER_BOTTOM {
                for range in lines {
                    let mut placed = PlacedLine::new(index, range, top, block.style, block.leading);
                    placed.column = SENDER_COLUMN;
                    pages[0].push(placed);
                    top += block.leading;
                }
                sender_y = top;
                continue;
            }
            // It does not fit beside the window: it and the rest go at the top of the body.
            sender_open = false;
        }
        if block.place == Place::Address {
            let width = ADDRESS_COLUMN.end - ADDRESS_COLUMN.start;
            for range in typesetter.wrap(&block.text, block.style.size, width) {
                let mut placed =
                    PlacedLine::new(index, range, address_y, block.style, block.leading);
                placed.column = address_column.clone();
                pages[0].push(placed);
                address_y += block.leading;
            }
            // An address too long for the window pushes the body down rather than under it.
            if pages.len() == 1 {
                y = y.max(address_y + block.leading);
            }
            continue;
        }
        if y > page_top {
            y += block.space_before;
        }
        for range in typesetter.wrap(&block.text, block.style.size, TEXT_WIDTH) {
            if y + block.leading > body_bottom && y > page_top {
                if pages.len() == MAX_PAGES {
                    return Err(LetterError::TooManyPages { max: MAX_PAGES });
                }
                pages.push(Vec::new());
                page_top = MARGIN_TOP;
                y = page_top;
            }
            let placed = PlacedLine::new(index, range, y, block.style, block.leading);
            if let Some(page) = pages.last_mut() {
                page.push(placed);
            }
            y += block.leading;
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests;
