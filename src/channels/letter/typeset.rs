//! Typesetting in the one bundled font: shaping text into glyph runs (right-to-left and joined
//! scripts included), wrapping it to a width and drawing it on a PDF surface. It knows nothing of
//! letters; the page, its parts and their order are the letter's.

use std::collections::BTreeMap;
use std::ops::Range;

use krilla::geom::Point;
use krilla::paint::{Fill, LineJoin, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use rustybuzz::{Direction, UnicodeBuffer};
use unicode_bidi::{Level, ParagraphBidiInfo};

/// DejaVu Sans (Debian `fonts-dejavu-core` 2.37, unmodified; licence in `LICENSE-DejaVu.txt`
/// beside it): a clear sans-serif whose coverage reaches well past Latin (Greek, Cyrillic and
/// most Arabic letters), so few names fall back to the placeholder.
static FONT_DATA: &[u8] = include_bytes!("../../../message-templates/fonts/DejaVuSans.ttf");

/// Printed where the font has no glyph, so staff can see something is missing and check the
/// record, rather than a name silently losing letters.
pub(super) const PLACEHOLDER: char = '\u{FFFD}';

#[derive(Debug, Clone, Copy, PartialEq)]
enum Weight {
    Regular,
    /// Drawn as fill plus a thin outline stroke, which keeps one font file in the repository.
    Bold,
}

/// The size (in points) and weight of a run of text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Style {
    pub(super) size: f32,
    weight: Weight,
}

impl Style {
    pub(super) fn regular(size: f32) -> Self {
        Style {
            size,
            weight: Weight::Regular,
        }
    }

    pub(super) fn bold(size: f32) -> Self {
        Style {
            size,
            weight: Weight::Bold,
        }
    }
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
pub(super) struct Typesetter {
    face: rustybuzz::Face<'static>,
    font: Font,
    units_per_em: f32,
}

impl Typesetter {
    /// The bundled font, ready to use; `None` when it cannot be read.
    pub(super) fn new() -> Option<Self> {
        let face = rustybuzz::Face::from_slice(FONT_DATA, 0)?;
        let font = Font::new(FONT_DATA.into(), 0)?;
        let units_per_em = face.units_per_em() as f32;
        if units_per_em <= 0.0 {
            return None;
        }
        Some(Typesetter {
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
    pub(super) fn sanitize(&self, text: &str) -> String {
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
    pub(super) fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<Range<usize>> {
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

    /// Draws one line at its start edge of the text column `column` (its left and right edges):
    /// the left for left-to-right paragraphs, the right for right-to-left ones (never
    /// justified).
    pub(super) fn draw_line(
        &self,
        surface: &mut Surface<'_>,
        line: &str,
        rtl_paragraph: bool,
        style: Style,
        baseline: f32,
        column: Range<f32>,
    ) {
        let runs = self.shape_line(line, rtl_paragraph);
        let width = runs.iter().map(ShapedRun::advance).sum::<f32>() * style.size;
        let mut x = if rtl_paragraph {
            (column.end - width).max(column.start)
        } else {
            column.start
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
    use crate::channels::letter::TEXT_WIDTH;
    use proptest::prelude::*;

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
    fn wrapped_lines_fit_the_page_and_keep_every_character() {
        let typesetter = Typesetter::new().unwrap();
        let text = format!(
            "{} {} well-being and self-care, عائشہ and Zoë, call 0800 129 9999",
            "word ".repeat(60),
            "x".repeat(400)
        );
        let text = typesetter.sanitize(&text);
        let lines = typesetter.wrap(&text, 18.0, TEXT_WIDTH);
        assert!(lines.len() > 5);
        let mut joined = String::new();
        for line in &lines {
            let line = &text[line.clone()];
            joined.push_str(line);
            let drawn: f32 = typesetter
                .shape_line(line.trim_end(), false)
                .iter()
                .map(ShapedRun::advance)
                .sum::<f32>()
                * 18.0;
            assert!(drawn <= TEXT_WIDTH + 0.5, "{line:?} is {drawn} wide");
        }
        assert_eq!(joined, text);
        assert!(
            lines
                .iter()
                .any(|line| text[line.clone()].contains("0800 129 9999")),
            "the phone number was split across lines"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

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
