//! Whether a match stands: a `[not_risk]` expression around it, a negation cue before or after
//! it, and uncertainty anywhere in the text (see "When a match is ignored" in the module
//! docs).

use super::reader::{Reading, Word};
use super::{Hit, Owner, RiskScreen};

/// Everything needed to judge whether a hit in one reading stands.
pub(super) struct MatchContext<'a> {
    screen: &'a RiskScreen,
    words: &'a [Word],
    uncertain: bool,
    /// For each word position, where the negation cues ending just before it start.
    cues_ending_at: Vec<Vec<usize>>,
    /// Word positions where a negation that follows what it negates starts.
    after_cue_at: Vec<bool>,
    /// Words that undo a following cue: `undone_by` words and every cue's words.
    negative: Vec<bool>,
    /// Not-risk expressions, each within one sentence.
    not_risk: Vec<(usize, usize)>,
}

impl<'a> MatchContext<'a> {
    pub(super) fn new(
        screen: &'a RiskScreen,
        reading: &'a Reading,
        hits: &[Hit],
        uncertain: bool,
    ) -> Self {
        let words = reading.words.as_slice();
        let mut cues_ending_at = vec![Vec::new(); words.len() + 1];
        let mut after_cue_at = vec![false; words.len() + 1];
        let mut negative: Vec<bool> = words
            .iter()
            .map(|w| screen.undone_by.contains(&w.key))
            .collect();
        let mut not_risk = Vec::new();
        for hit in hits {
            match hit.owner {
                Owner::NegationCue => {
                    cues_ending_at[hit.end].push(hit.start);
                    negative[hit.start..hit.end].fill(true);
                }
                Owner::ConcordNegationCue => cues_ending_at[hit.end].push(hit.start),
                Owner::AfterNegationCue => after_cue_at[hit.start] = true,
                Owner::NotRisk if words[hit.start].sentence == words[hit.end - 1].sentence => {
                    not_risk.push((hit.start, hit.end));
                }
                _ => {}
            }
        }
        Self {
            screen,
            words,
            uncertain,
            cues_ending_at,
            after_cue_at,
            negative,
            not_risk,
        }
    }

    pub(super) fn stands(&self, hit: &Hit) -> bool {
        let excepted = self
            .not_risk
            .iter()
            .any(|&(start, end)| start <= hit.start && hit.end <= end);
        !excepted && (self.uncertain || !(self.negated(hit.start) || self.negated_after(hit.end)))
    }

    /// Whether a negation that follows the match ending before word `end` negates it: in the
    /// same clause, within the window, with only after-bridge words between.
    fn negated_after(&self, end: usize) -> bool {
        let Some(last) = end.checked_sub(1) else {
            return false;
        };
        let clause = self.words[last].clause;
        for at in end..(end + self.screen.after_window).min(self.words.len()) {
            if self.words[at].clause != clause {
                return false;
            }
            if self.after_cue_at[at] {
                return true;
            }
            if !self.screen.after_bridge_words.contains(&self.words[at].key) {
                return false;
            }
        }
        false
    }

    /// Whether a cue negates the match starting at word `start` (see the module docs).
    fn negated(&self, start: usize) -> bool {
        let clause = self.words[start].clause;
        let mut end = start;
        for _ in 0..self.screen.negation_window {
            if end == 0 {
                return false;
            }
            let cue = self.cues_ending_at[end]
                .iter()
                .copied()
                .filter(|&cue| {
                    self.words[cue].clause == clause && self.words[end - 1].clause == clause
                })
                .min();
            if let Some(cue) = cue {
                return !self.undone(cue, clause);
            }
            let before = &self.words[end - 1];
            if before.clause != clause || !self.screen.bridge_words.contains(&before.key) {
                return false;
            }
            end -= 1;
        }
        false
    }

    /// Whether the cue starting at word `cue` is undone by a negative word just before it.
    fn undone(&self, cue: usize, clause: usize) -> bool {
        let from = cue.saturating_sub(self.screen.negation_window);
        (from..cue)
            .rev()
            .take_while(|&w| self.words[w].clause == clause)
            .any(|w| self.negative[w])
    }
}
