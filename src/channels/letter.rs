//! Letters: the channel for patients who asked for post, or whom texts can't reach.
//!
//! [`render_pdf`] turns one [`Letter`] into an A4 PDF that staff print from the print list.
//! Layout follows RNIB clear-print guidance, because some patients ask for large print under the
//! Accessible Information Standard: one clear sans-serif, text aligned to its start edge and never
//! justified, black on white, generous line spacing, 12 pt body text (18 pt in large print).
//! The PDF embeds a subset of the font with a ToUnicode map and is tagged (headings, paragraphs,
//! language), so its text can be searched, copied and read aloud by a screen reader.

use std::collections::BTreeMap;
use std::num::NonZeroU16;
use std::ops::Range;

use krilla::Document;
use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineJoin, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, SpanTag, Tag, TagGroup, TagKind, TagTree,
};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use rustybuzz::{Direction, UnicodeBuffer};
use unicode_bidi::{Level, ParagraphBidiInfo};

/// DejaVu Sans (Debian `fonts-dejavu-core` 2.37, unmodified; licence in `LICENSE-DejaVu.txt`
/// beside it): a clear sans-serif whose coverage reaches well past Latin (Greek, Cyrillic and
/// most Arabic letters), so few names fall back to the placeholder.
static FONT_DATA: &[u8] = include_bytes!("../../message-templates/fonts/DejaVuSans.ttf");

/// Printed where the font has no glyph, so staff can see something is missing and check the
/// record, rather than a name silently losing letters.
const PLACEHOLDER: char = '\u{FFFD}';

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

    let typesetter = Typesetter::new()?;
    let typography = Typography::new(letter.large_print);
    let blocks = letter_blocks(letter, &typesetter, &typography);
    let footer = Block::new(
        Role::Paragraph,
        EMERGENCY_LINE.to_owned(),
        Style::bold(typography.body),
        0.0,
    );
    let footer_lines = typesetter.wrap(&footer, TEXT_WIDTH);
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
enum Weight {
    Regular,
    /// Drawn as fill plus a thin outline stroke, which keeps one font file in the repository.
    Bold,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Style {
    size: f32,
    weight: Weight,
}

impl Style {
    fn regular(size: f32) -> Self {
        Style {
            size,
            weight: Weight::Regular,
        }
    }

    fn bold(size: f32) -> Self {
        Style {
            size,
            weight: Weight::Bold,
        }
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
        for range in typesetter.wrap(block, TEXT_WIDTH) {
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

/// A stretch of a line in one direction, shaped and ready to draw.
struct ShapedRun<'t> {
    text: &'t str,
    glyphs: Vec<KrillaGlyph>,
}

impl ShapedRun<'_> {
    /// Width in ems.
    fn advance(&self) -> f32 {
        self.glyphs.iter().map(|glyph| glyph.x_advance).sum()
    }
}

/// Shapes, measures, wraps and draws text in the one bundled font.
struct Typesetter {
    face: rustybuzz::Face<'static>,
    font: Font,
    units_per_em: f32,
}

impl Typesetter {
    fn new() -> Result<Self, LetterError> {
        let face = rustybuzz::Face::from_slice(FONT_DATA, 0).ok_or(LetterError::Font)?;
        let font = Font::new(FONT_DATA.into(), 0).ok_or(LetterError::Font)?;
        let units_per_em = face.units_per_em() as f32;
        if units_per_em <= 0.0 {
            return Err(LetterError::Font);
        }
        Ok(Typesetter {
            face,
            font,
            units_per_em,
        })
    }

    fn has_glyph(&self, c: char) -> bool {
        self.face.glyph_index(c).is_some_and(|id| id.0 != 0)
    }

    /// Normalises line breaks and tabs and swaps every character the font cannot draw for the
    /// placeholder. Invisible format characters (joiners, direction marks, variation selectors)
    /// are kept: the bidi algorithm and the shaper use them and draw nothing.
    fn sanitize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let mapped = match c {
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        continue;
                    }
                    '\n'
                }
                '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => '\n',
                '\t' => ' ',
                // Hangul fillers are default-ignorable by Unicode, yet the shaper draws them
                // as the missing glyph: blank, so a space.
                '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => ' ',
                // A direction override in a name would print the rest of the line reversed.
                c if crate::domain::text::is_direction_control(c) => continue,
                // Format characters the shaper draws as the missing glyph instead of hiding
                // (found by the exhaustive test below); they show nothing in any case.
                '\u{180F}' | '\u{1BCA0}'..='\u{1BCA3}' => continue,
                c if is_default_ignorable(c) => c,
                c if self.has_glyph(c) => c,
                c if c.is_whitespace() => ' ',
                _ => PLACEHOLDER,
            };
            out.push(mapped);
        }
        out
    }

    /// Shapes one run of text; advances and offsets are in ems, as krilla expects.
    fn shape(&self, text: &str, direction: Option<Direction>) -> Vec<KrillaGlyph> {
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        if let Some(direction) = direction {
            buffer.set_direction(direction);
        }
        let output = rustybuzz::shape(&self.face, &[], buffer);
        let infos = output.glyph_infos();
        let mut cluster_starts: Vec<usize> =
            infos.iter().map(|info| info.cluster as usize).collect();
        cluster_starts.sort_unstable();
        cluster_starts.dedup();
        let em = self.units_per_em;
        infos
            .iter()
            .zip(output.glyph_positions())
            .map(|(info, position)| {
                let start = (info.cluster as usize).min(text.len());
                let next = cluster_starts.partition_point(|&s| s <= start);
                let end = cluster_starts.get(next).copied().unwrap_or(text.len());
                KrillaGlyph::new(
                    GlyphId::new(info.glyph_id),
                    position.x_advance as f32 / em,
                    position.x_offset as f32 / em,
                    position.y_offset as f32 / em,
                    position.y_advance as f32 / em,
                    start..end,
                    None,
                )
            })
            .collect()
    }

    /// Width in points of a run shaped on its own, for wrapping.
    fn width(&self, text: &str, size: f32) -> f32 {
        self.shape(text, None)
            .iter()
            .map(|glyph| glyph.x_advance)
            .sum::<f32>()
            * size
    }

    /// Splits one printed line into bidi runs in visual order and shapes each, so Arabic or
    /// Hebrew inside an English sentence reads right to left with joined letters. The levels
    /// are resolved per line, with the paragraph's base direction, which keeps the work linear
    /// in the length of the letter.
    fn shape_line<'t>(&self, line: &'t str, rtl_paragraph: bool) -> Vec<ShapedRun<'t>> {
        if line.is_empty() {
            return Vec::new();
        }
        let base = if rtl_paragraph {
            Level::rtl()
        } else {
            Level::ltr()
        };
        let bidi = ParagraphBidiInfo::new(line, Some(base));
        let (levels, runs) = bidi.visual_runs(0..line.len());
        runs.into_iter()
            .filter(|run| !run.is_empty())
            .map(|run| {
                let rtl = levels.get(run.start).is_some_and(|level| level.is_rtl());
                let direction = if rtl {
                    Direction::RightToLeft
                } else {
                    Direction::LeftToRight
                };
                let text = &line[run];
                ShapedRun {
                    text,
                    glyphs: self.shape(text, Some(direction)),
                }
            })
            .collect()
    }

    /// Greedy wrapping at spaces (and after a hyphen inside a word), measuring each word once.
    /// Each line's range keeps its trailing space, so text extracted from the PDF still has
    /// spaces between words. A word wider than the line is split between grapheme clusters.
    fn wrap(&self, block: &Block, max_width: f32) -> Vec<Range<usize>> {
        let text = block.text.as_str();
        let size = block.style.size;
        let mut lines = Vec::new();
        // The current line: its start, its end (with trailing spaces), its width without them,
        // and the width of those trailing spaces.
        let mut current: Option<(usize, usize, f32, f32)> = None;
        for piece in break_pieces(text) {
            let word = self.width(&text[piece.start..piece.content_end], size);
            let spaces = self.width(&text[piece.content_end..piece.end], size);
            if let Some((start, end, width, gap)) = current.take() {
                if width + gap + word <= max_width {
                    current = Some((start, piece.end, width + gap + word, spaces));
                    continue;
                }
                lines.push(start..end);
            }
            if word <= max_width {
                current = Some((piece.start, piece.end, word, spaces));
                continue;
            }
            let mut chunks = self.split_word(text, piece.start..piece.content_end, size, max_width);
            let last = chunks.pop().unwrap_or(piece.start..piece.content_end);
            let last_width = self.width(&text[last.clone()], size);
            lines.extend(chunks);
            current = Some((last.start, piece.end, last_width, spaces));
        }
        if let Some((start, end, _, _)) = current {
            lines.push(start..end);
        }
        lines
    }

    /// Splits an over-long word into line-sized chunks at cluster boundaries, so a letter and
    /// its accents are never separated.
    fn split_word(
        &self,
        text: &str,
        word: Range<usize>,
        size: f32,
        max_width: f32,
    ) -> Vec<Range<usize>> {
        let mut clusters: BTreeMap<usize, f32> = BTreeMap::new();
        for glyph in self.shape(&text[word.clone()], None) {
            *clusters
                .entry(word.start + glyph.text_range.start)
                .or_default() += glyph.x_advance * size;
        }

        let mut chunks = Vec::new();
        let mut chunk_start = word.start;
        let mut width = 0.0;
        for (start, cluster_width) in clusters {
            if width + cluster_width > max_width && start > chunk_start {
                chunks.push(chunk_start..start);
                chunk_start = start;
                width = 0.0;
            }
            width += cluster_width;
        }
        chunks.push(chunk_start..word.end);
        chunks
    }

    /// Draws one line at its start edge: the left for left-to-right paragraphs, the right for
    /// right-to-left ones (never justified).
    fn draw_line(
        &self,
        surface: &mut Surface<'_>,
        line: &str,
        rtl_paragraph: bool,
        style: Style,
        baseline: f32,
    ) {
        let runs = self.shape_line(line, rtl_paragraph);
        let width = runs.iter().map(ShapedRun::advance).sum::<f32>() * style.size;
        let mut x = if rtl_paragraph {
            (PAGE_WIDTH - MARGIN_RIGHT - width).max(MARGIN_LEFT)
        } else {
            MARGIN_LEFT
        };

        surface.set_fill(Some(Fill::default()));
        surface.set_stroke(match style.weight {
            Weight::Regular => None,
            Weight::Bold => Some(Stroke {
                width: style.size * 0.035,
                line_join: LineJoin::Round,
                ..Stroke::default()
            }),
        });
        for run in &runs {
            surface.draw_glyphs(
                Point::from_xy(x, baseline),
                &run.glyphs,
                self.font.clone(),
                run.text,
                style.size,
                false,
            );
            x += run.advance() * style.size;
        }
        surface.set_stroke(None);
    }
}

/// A word (up to a space, or just after a hyphen) and the spaces after it. Spaces between two
/// digits do not end a word, which keeps "0800 129 9999" on one line, easier to read and dial.
struct Piece {
    start: usize,
    content_end: usize,
    end: usize,
}

fn break_pieces(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let previous = text[..index].chars().next_back();
        let next = chars.peek().map(|&(_, next)| next);
        if is_break_space(c) {
            let mut end = index + c.len_utf8();
            while let Some(&(i, s)) = chars.peek() {
                if !is_break_space(s) {
                    break;
                }
                end = i + s.len_utf8();
                chars.next();
            }
            let after_digit = previous.is_some_and(|p| p.is_ascii_digit());
            let before_digit = chars.peek().is_some_and(|&(_, s)| s.is_ascii_digit());
            if after_digit && before_digit {
                continue;
            }
            pieces.push(Piece {
                start,
                content_end: index,
                end,
            });
            start = end;
        } else if c == '-'
            && index > start
            && next.is_some_and(char::is_alphanumeric)
            && previous.is_some_and(char::is_alphanumeric)
        {
            let end = index + 1;
            pieces.push(Piece {
                start,
                content_end: end,
                end,
            });
            start = end;
        }
    }
    if start < text.len() {
        pieces.push(Piece {
            start,
            content_end: text.len(),
            end: text.len(),
        });
    }
    pieces
}

/// Spaces a line may break at. No-break spaces are not among them, so a template can keep a
/// phone number on one line.
fn is_break_space(c: char) -> bool {
    (c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{2007}' | '\u{202F}')) || c == '\u{200B}'
}

/// Unicode's Default_Ignorable_Code_Point: format characters with no glyph of their own, which
/// the shaper hides instead of drawing a placeholder.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
    fn missing_glyphs_become_a_visible_placeholder() {
        let typesetter = Typesetter::new().unwrap();
        assert!(typesetter.has_glyph(PLACEHOLDER));
        assert_eq!(
            typesetter.sanitize("李 🙂\u{0}"),
            "\u{FFFD} \u{FFFD}\u{FFFD}"
        );
        assert_eq!(typesetter.sanitize("Zoë\r\nŁukasz\tW"), "Zoë\nŁukasz W");
        // Arabic letters DejaVu Sans has are kept; heh goal (U+06C1), which it lacks, is not.
        assert_eq!(typesetter.sanitize("عائشہ"), "عائش\u{FFFD}");
        // Joiners and direction marks draw nothing and are kept for the shaper.
        assert_eq!(
            typesetter.sanitize("a\u{200D}b\u{200F}"),
            "a\u{200D}b\u{200F}"
        );
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
    fn no_format_character_kept_by_the_sanitiser_shapes_to_the_missing_glyph() {
        // Every default-ignorable code point, one by one and between letters: what the
        // sanitiser keeps must be hidden by the shaper, never drawn as the missing glyph.
        let typesetter = Typesetter::new().unwrap();
        let drawn_missing: Vec<String> = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|&c| is_default_ignorable(c))
            .filter(|&c| {
                let clean = typesetter.sanitize(&format!("a{c}b"));
                typesetter
                    .shape(&clean, None)
                    .iter()
                    .any(|glyph| glyph.glyph_id == GlyphId::new(0))
            })
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        assert!(drawn_missing.is_empty(), "{drawn_missing:?}");
    }

    #[test]
    fn hangul_fillers_never_shape_to_the_missing_glyph() {
        // U+FFA0 was the property test's failing input: kept as "ignorable", drawn as .notdef.
        let typesetter = Typesetter::new().unwrap();
        let clean = typesetter.sanitize("a\u{FFA0}b\u{3164}c\u{115F}\u{1160}");
        assert_eq!(clean, "a b c  ");
        let glyphs = typesetter.shape(&clean, None);
        assert!(glyphs.iter().all(|glyph| glyph.glyph_id != GlyphId::new(0)));
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
    fn wrapped_lines_fit_the_page_and_keep_every_character() {
        let typesetter = Typesetter::new().unwrap();
        let text = format!(
            "{} {} well-being and self-care, عائشہ and Zoë, call 0800 129 9999",
            "word ".repeat(60),
            "x".repeat(400)
        );
        let block = Block::new(
            Role::Paragraph,
            typesetter.sanitize(&text),
            Style::regular(18.0),
            0.0,
        );
        let lines = typesetter.wrap(&block, TEXT_WIDTH);
        assert!(lines.len() > 5);
        let mut joined = String::new();
        for line in &lines {
            let line = &block.text[line.clone()];
            joined.push_str(line);
            let drawn: f32 = typesetter
                .shape_line(line.trim_end(), false)
                .iter()
                .map(ShapedRun::advance)
                .sum::<f32>()
                * 18.0;
            assert!(drawn <= TEXT_WIDTH + 0.5, "{line:?} is {drawn} wide");
        }
        assert_eq!(joined, block.text);
        assert!(
            lines
                .iter()
                .any(|line| block.text[line.clone()].contains("0800 129 9999")),
            "the phone number was split across lines"
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

        #[test]
        fn sanitized_text_never_shapes_to_the_missing_glyph(
            text in proptest::collection::vec(any::<char>(), 0..300).prop_map(String::from_iter),
        ) {
            let typesetter = Typesetter::new().unwrap();
            let clean = typesetter.sanitize(&text);
            for line in clean.split('\n') {
                let glyphs = typesetter.shape(line, None);
                prop_assert!(glyphs.iter().all(|glyph| glyph.glyph_id != GlyphId::new(0)));
            }
        }
    }
}
