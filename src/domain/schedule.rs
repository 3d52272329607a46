//! When an appointment reminder goes out: before the appointment, never in the patient's quiet
//! hours, on the UK clock (Europe/London, so BST-aware).
//!
//! Pure: instants in, a plan out. The job queue carries the plan out; this module never sleeps,
//! reads the clock or touches storage, so every rule is tested with fixed instants.
//!
//! Quiet hours are wall-clock hours, and twice a year the UK wall clock skips or repeats an hour
//! (forward at 01:00 UTC on the last Sunday of March, back at 01:00 UTC on the last Sunday of
//! October). A quiet-hours boundary that falls in that hour is resolved so quiet hours are never
//! cut short or split:
//! - in the hour skipped in spring (01:00–01:59 local), a boundary counts from the moment the
//!   clocks go forward (01:00 UTC = 02:00 BST), when the wall clock first reads past it;
//! - in the hour repeated in autumn (01:00–01:59 local, first BST then GMT), a start counts at its
//!   first occurrence and an end at its second, so no short window opens in the middle of the
//!   night in which a text could go out.
//!
//! Away from those hours, quiet hours are exactly the wall-clock reading.

use std::fmt;

use chrono::{
    DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Europe::London;
use serde::de::{self, Unexpected};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Hours in which no reminder is sent, in UK local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietHours {
    Off,
    /// From `start` (inclusive) to `end` (exclusive), crossing midnight when `end` is not after
    /// `start`. `parse` refuses `start == end`; built by hand it means quiet all day.
    Between {
        start: NaiveTime,
        end: NaiveTime,
    },
}

/// A stretch of quiet hours as instants: `[from, to)`.
type Period = (DateTime<Utc>, DateTime<Utc>);

/// How far either side of an instant the quiet periods are worked out. One night's quiet hours
/// never reach further than the next day; the margin lets periods that touch (a window with a
/// gap of under an hour, closed by the spring change) merge before a move is chosen.
const DAYS_AROUND: u64 = 4;

/// How long a reminder moved earlier is sent before quiet hours start: a whole minute reads well
/// in a transcript (20:59 for 21:00) and stays clear of the boundary itself.
const JUST_BEFORE: TimeDelta = TimeDelta::minutes(1);

impl QuietHours {
    /// "21:00-08:00" (spaces tolerated) or "off" (any case); None for anything else or
    /// start == end.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Some(QuietHours::Off);
        }
        let (start, end) = raw.split_once('-')?;
        let start = NaiveTime::parse_from_str(start.trim(), "%H:%M").ok()?;
        let end = NaiveTime::parse_from_str(end.trim(), "%H:%M").ok()?;
        (start != end).then_some(QuietHours::Between { start, end })
    }

    /// Whether the instant falls inside quiet hours, judged on the UK wall clock (start inclusive,
    /// end exclusive). Boundaries in the hour the clocks skip or repeat are resolved as the module
    /// documentation says.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let day = uk_date(at);
        // A night's quiet hours start on the day they belong to and end by the next day.
        self.periods(days_before(day, 2), days_after(day, 1))
            .into_iter()
            .any(|(from, to)| from <= at && at < to)
    }

    /// The end of the quiet hours `at` falls in (the first allowed instant after it); `None`
    /// when `at` is not in quiet hours or they do not end within the days looked at.
    pub fn end_of(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.joined_periods(at)
            .into_iter()
            .find(|&(from, to)| from <= at && at < to)
            .map(|(_, to)| to)
            .filter(|to| !self.contains(*to))
    }

    /// The quiet periods anchored on each UK date from `first` to `last`, in date order; empty
    /// ones (both boundaries in the hour skipped in spring) are left out.
    fn periods(&self, first: NaiveDate, last: NaiveDate) -> Vec<Period> {
        let QuietHours::Between { start, end } = *self else {
            return Vec::new();
        };
        first
            .iter_days()
            .take_while(|day| *day <= last)
            .filter_map(|day| {
                let end_day = if start < end { day } else { day.succ_opt()? };
                let from = uk_instant(day, start, Boundary::Start)?;
                let to = uk_instant(end_day, end, Boundary::End)?;
                (from < to).then_some((from, to))
            })
            .collect()
    }

    /// Quiet periods around `at`, sorted, with overlapping or touching ones joined, so each gap
    /// between two of them is a real stretch of allowed time.
    fn joined_periods(&self, at: DateTime<Utc>) -> Vec<Period> {
        let day = uk_date(at);
        let mut periods = self.periods(days_before(day, DAYS_AROUND), days_after(day, DAYS_AROUND));
        periods.sort();
        let mut joined: Vec<Period> = Vec::with_capacity(periods.len());
        for (from, to) in periods {
            match joined.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => joined.push((from, to)),
            }
        }
        joined
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuietHours::Off => f.write_str("off"),
            QuietHours::Between { start, end } => {
                write!(f, "{}-{}", start.format("%H:%M"), end.format("%H:%M"))
            }
        }
    }
}

/// Stored and sent over the API in the same form staff type it: "21:00-08:00" or "off".
impl Serialize for QuietHours {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuietHours {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        QuietHours::parse(&raw).ok_or_else(|| {
            de::Error::invalid_value(
                Unexpected::Str(&raw),
                &"quiet hours like \"21:00-08:00\" or \"off\"",
            )
        })
    }
}

/// Why a reminder is not sent; staff see it next to the reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Its time had passed when the appointment was booked or moved.
    AlreadyPassed,
    /// It would arrive once the appointment has started, when it can no longer help.
    AtOrAfterStart,
    /// Everything from now until the appointment starts is quiet hours.
    NoAllowedTime,
}

impl SkipReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            SkipReason::AlreadyPassed => "already_passed",
            SkipReason::AtOrAfterStart => "at_or_after_start",
            SkipReason::NoAllowedTime => "no_allowed_time",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    SendAt(DateTime<Utc>),
    Skip(SkipReason),
}

/// When to send a reminder planned for `due` before an appointment starting at `start`, as seen
/// at `now`.
///
/// A due time in quiet hours moves to the nearer, in real elapsed time, of one minute before those
/// quiet hours start (or `now`, if that minute has gone but quiet hours have not yet started) and
/// the moment they end, counting only times before the appointment; a tie goes earlier, so the
/// patient has longer to act on it.
pub fn plan_reminder(
    due: DateTime<Utc>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    quiet: QuietHours,
) -> Plan {
    if due >= start {
        return Plan::Skip(SkipReason::AtOrAfterStart);
    }
    if due < now {
        return Plan::Skip(SkipReason::AlreadyPassed);
    }
    if !quiet.contains(due) {
        return Plan::SendAt(due);
    }

    let periods = quiet.joined_periods(due);
    let Some(index) = periods
        .iter()
        .position(|&(from, to)| from <= due && due < to)
    else {
        return Plan::Skip(SkipReason::NoAllowedTime);
    };
    let (quiet_from, quiet_to) = periods[index];
    // The first and last periods may run on beyond the days looked at (quiet all day), so only
    // a gap to a neighbouring period is known to be allowed time.
    let earlier = index.checked_sub(1).and_then(|previous| {
        let allowed_from = periods[previous].1.max(now);
        let at = quiet_from
            .checked_sub_signed(JUST_BEFORE)?
            .max(allowed_from);
        (at < quiet_from).then_some(at)
    });
    let later = (index + 1 < periods.len() && quiet_to < start).then_some(quiet_to);
    // The rules a moved reminder must keep, checked on the result rather than trusted.
    let allowed = |at: &DateTime<Utc>| *at >= now && *at < start && !quiet.contains(*at);

    match (earlier.filter(allowed), later.filter(allowed)) {
        (Some(earlier), Some(later)) if later - due < due - earlier => Plan::SendAt(later),
        (Some(earlier), _) => Plan::SendAt(earlier),
        (None, Some(later)) => Plan::SendAt(later),
        (None, None) => Plan::Skip(SkipReason::NoAllowedTime),
    }
}

/// A feedback request waits this long after a text from the patient that screened as risk
/// (a request for a rating is the wrong message at such a time).
pub const FEEDBACK_AFTER_RISK: TimeDelta = TimeDelta::hours(72);

/// Why a feedback request is not sent when it comes due; staff see it on the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackWait {
    /// In the patient's quiet hours: moved to their end.
    QuietHours,
    /// Within 72 hours of a risk text from them: moved to 72 hours after it.
    RecentRiskText,
}

impl FeedbackWait {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackWait::QuietHours => "quiet_hours",
            FeedbackWait::RecentRiskText => "recent_risk_text",
        }
    }
}

/// When a feedback request due now may go: `None` to send it now, else the first instant
/// outside quiet hours and at least `FEEDBACK_AFTER_RISK` after the patient's latest risk
/// text, with the first reason it waits. Quiet all day (no end within days) moves it a day on,
/// to be looked at again then.
pub fn feedback_time(
    now: DateTime<Utc>,
    quiet: QuietHours,
    last_risk_text: Option<DateTime<Utc>>,
) -> Option<(DateTime<Utc>, FeedbackWait)> {
    let mut at = now;
    let mut reason = None;
    // Each step only moves forward; two rounds settle a risk pause ending in quiet hours.
    for _ in 0..4 {
        let mut moved = false;
        if let Some(risk) = last_risk_text
            && at < risk + FEEDBACK_AFTER_RISK
        {
            at = risk + FEEDBACK_AFTER_RISK;
            reason.get_or_insert(FeedbackWait::RecentRiskText);
            moved = true;
        }
        if quiet.contains(at) {
            at = quiet.end_of(at).unwrap_or(at + TimeDelta::days(1));
            reason.get_or_insert(FeedbackWait::QuietHours);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    reason.map(|reason| (at, reason))
}

/// For the reminder text: "Tuesday 24 November at 10:00" in UK local time (24-hour clock, no
/// leading zero on the day).
pub fn describe_when(at: DateTime<Utc>) -> String {
    at.with_timezone(&London)
        .format("%A %-d %B at %H:%M")
        .to_string()
}

/// "24 November 2026" (UK local date), for letters.
pub fn describe_date(at: DateTime<Utc>) -> String {
    at.with_timezone(&London).format("%-d %B %Y").to_string()
}

/// Which side of quiet hours a boundary is, deciding how a repeated wall-clock time resolves.
#[derive(Clone, Copy)]
enum Boundary {
    Start,
    End,
}

fn uk_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

fn days_before(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(days)).unwrap_or(day)
}

fn days_after(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_add_days(Days::new(days)).unwrap_or(day)
}

/// The instant a quiet-hours boundary falls on a UK date (see the module documentation for the
/// hours the clocks skip or repeat).
fn uk_instant(day: NaiveDate, time: NaiveTime, boundary: Boundary) -> Option<DateTime<Utc>> {
    let wall = day.and_time(time);
    let at = match London.from_local_datetime(&wall) {
        LocalResult::Single(at) => at,
        LocalResult::Ambiguous(a, b) => match boundary {
            Boundary::Start => a.min(b),
            Boundary::End => a.max(b),
        },
        LocalResult::None => return after_clocks_go_forward(wall),
    };
    Some(at.with_timezone(&Utc))
}

/// The moment the clocks went forward over a skipped wall-clock time: the first whole minute
/// after it that exists. The UK changes on the hour, so this is the change itself.
fn after_clocks_go_forward(skipped: NaiveDateTime) -> Option<DateTime<Utc>> {
    let minute = skipped.with_second(0)?.with_nanosecond(0)?;
    // No time zone skips more than a day; the UK skips an hour.
    (1..=24 * 60).find_map(|n| {
        let wall = minute.checked_add_signed(TimeDelta::minutes(n))?;
        London
            .from_local_datetime(&wall)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("a valid UTC time")
    }

    #[test]
    fn a_feedback_request_waits_for_quiet_hours_to_end_and_72_hours_after_a_risk_text() {
        let quiet = QuietHours::parse("21:00-08:00").expect("valid");
        let afternoon = uk(2026, 11, 25, 15, 0);
        assert_eq!(feedback_time(afternoon, quiet, None), None);
        assert_eq!(feedback_time(afternoon, QuietHours::Off, None), None);
        let night = uk(2026, 11, 25, 23, 30);
        assert_eq!(
            feedback_time(night, quiet, None),
            Some((uk(2026, 11, 26, 8, 0), FeedbackWait::QuietHours))
        );
        // A risk text a day ago: 72 hours after it, then past the night it lands in.
        let risk = uk(2026, 11, 24, 22, 0);
        assert_eq!(
            feedback_time(afternoon, quiet, Some(risk)),
            Some((uk(2026, 11, 28, 8, 0), FeedbackWait::RecentRiskText))
        );
        let old_risk = afternoon - TimeDelta::hours(73);
        assert_eq!(feedback_time(afternoon, quiet, Some(old_risk)), None);
        // Exactly 72 hours on, it may go.
        let risk = afternoon - FEEDBACK_AFTER_RISK;
        assert_eq!(feedback_time(afternoon, quiet, Some(risk)), None);
    }

    /// A UK wall-clock time that exists exactly once.
    fn uk(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        London
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("an unambiguous UK time")
            .with_timezone(&Utc)
    }

    fn quiet(raw: &str) -> QuietHours {
        QuietHours::parse(raw).expect("valid quiet hours")
    }

    fn night() -> QuietHours {
        quiet("21:00-08:00")
    }

    fn hours(n: i64) -> TimeDelta {
        TimeDelta::hours(n)
    }

    fn send(at: DateTime<Utc>) -> Plan {
        Plan::SendAt(at)
    }

    fn skip(reason: SkipReason) -> Plan {
        Plan::Skip(reason)
    }

    // ---- parsing and display ----

    #[test]
    fn parses_windows_and_off() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let cases = [
            (
                "21:00-08:00",
                QuietHours::Between {
                    start: t(21, 0),
                    end: t(8, 0),
                },
            ),
            (
                " 21:00 - 08:00 ",
                QuietHours::Between {
                    start: t(21, 0),
                    end: t(8, 0),
                },
            ),
            (
                "13:00-14:00",
                QuietHours::Between {
                    start: t(13, 0),
                    end: t(14, 0),
                },
            ),
            (
                "22:30-07:15",
                QuietHours::Between {
                    start: t(22, 30),
                    end: t(7, 15),
                },
            ),
            ("off", QuietHours::Off),
            ("OFF", QuietHours::Off),
            (" Off ", QuietHours::Off),
        ];
        for (raw, expected) in cases {
            assert_eq!(QuietHours::parse(raw), Some(expected), "{raw:?}");
        }
    }

    #[test]
    fn refuses_anything_else() {
        for raw in [
            "",
            "21:00",
            "21:00-21:00",
            "25:00-08:00",
            "21:00-08:60",
            "21:00-08:00-09:00",
            "21-08",
            "always",
            "of",
            "21:00 to 08:00",
        ] {
            assert_eq!(QuietHours::parse(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn displays_as_typed_and_round_trips() {
        for raw in ["21:00-08:00", "13:00-14:00", "00:00-06:30", "off"] {
            assert_eq!(quiet(raw).to_string(), raw);
        }
        assert_eq!(quiet(" 9:05 - 7:00 ").to_string(), "09:05-07:00");
    }

    #[test]
    fn serde_uses_the_string_form() {
        assert_eq!(
            serde_json::to_string(&night()).expect("serialises"),
            "\"21:00-08:00\""
        );
        assert_eq!(
            serde_json::to_string(&QuietHours::Off).expect("serialises"),
            "\"off\""
        );
        let back: QuietHours = serde_json::from_str("\" 13:00 - 14:00 \"").expect("parses");
        assert_eq!(back, quiet("13:00-14:00"));
        let off: QuietHours = serde_json::from_str("\"OFF\"").expect("parses");
        assert_eq!(off, QuietHours::Off);
        assert!(serde_json::from_str::<QuietHours>("\"21:00-21:00\"").is_err());
        assert!(serde_json::from_str::<QuietHours>("\"nights\"").is_err());
        assert!(serde_json::from_str::<QuietHours>("21").is_err());
    }

    #[test]
    fn skip_reasons_have_stable_names() {
        assert_eq!(SkipReason::AlreadyPassed.as_str(), "already_passed");
        assert_eq!(SkipReason::AtOrAfterStart.as_str(), "at_or_after_start");
        assert_eq!(SkipReason::NoAllowedTime.as_str(), "no_allowed_time");
    }

    // ---- contains ----

    /// Each instant against one set of quiet hours; a failure shows the UK wall-clock reading.
    fn check_contains(q: QuietHours, cases: &[(DateTime<Utc>, bool)]) {
        for &(at, expected) in cases {
            let uk = at.with_timezone(&London);
            assert_eq!(q.contains(at), expected, "{at} (UK {uk}) in {q}");
        }
    }

    #[test]
    fn contains_both_sides_of_each_boundary_in_gmt_and_bst() {
        check_contains(
            night(),
            &[
                // Winter: GMT = UTC.
                (utc(2026, 1, 15, 20, 59, 59), false),
                (utc(2026, 1, 15, 21, 0, 0), true),
                (utc(2026, 1, 16, 0, 0, 0), true),
                (utc(2026, 1, 16, 7, 59, 59), true),
                (utc(2026, 1, 16, 8, 0, 0), false),
                // Summer: BST = UTC+1, so the boundaries are an hour earlier in UTC.
                (utc(2026, 7, 15, 19, 59, 59), false),
                (utc(2026, 7, 15, 20, 0, 0), true),
                (utc(2026, 7, 16, 6, 59, 59), true),
                (utc(2026, 7, 16, 7, 0, 0), false),
                (utc(2026, 7, 16, 7, 30, 0), false),
                // Spring 2026: 21:00 GMT on the 28th; clocks go forward at 01:00 UTC on the
                // 29th, 08:00 BST that morning.
                (utc(2026, 3, 28, 20, 59, 59), false),
                (utc(2026, 3, 28, 21, 0, 0), true),
                (utc(2026, 3, 29, 0, 59, 59), true),
                (utc(2026, 3, 29, 1, 0, 0), true),
                (utc(2026, 3, 29, 6, 59, 59), true),
                (utc(2026, 3, 29, 7, 0, 0), false),
                // Autumn 2026: 21:00 BST on the 24th; both 01:30s on the 25th; 08:00 GMT.
                (utc(2026, 10, 24, 19, 59, 59), false),
                (utc(2026, 10, 24, 20, 0, 0), true),
                (utc(2026, 10, 25, 0, 30, 0), true),
                (utc(2026, 10, 25, 1, 30, 0), true),
                (utc(2026, 10, 25, 7, 59, 59), true),
                (utc(2026, 10, 25, 8, 0, 0), false),
                // Spring 2027: 21:00 GMT on the 27th, 08:00 BST on the 28th.
                (utc(2027, 3, 27, 20, 59, 59), false),
                (utc(2027, 3, 27, 21, 0, 0), true),
                (utc(2027, 3, 28, 6, 59, 59), true),
                (utc(2027, 3, 28, 7, 0, 0), false),
                // Autumn 2027: 21:00 BST on the 30th, 08:00 GMT on the 31st.
                (utc(2027, 10, 30, 19, 59, 59), false),
                (utc(2027, 10, 30, 20, 0, 0), true),
                (utc(2027, 10, 31, 7, 59, 59), true),
                (utc(2027, 10, 31, 8, 0, 0), false),
            ],
        );
    }

    #[test]
    fn contains_a_daytime_window_and_never_when_off() {
        check_contains(
            quiet("13:00-14:00"),
            &[
                (utc(2026, 1, 15, 12, 59, 59), false),
                (utc(2026, 1, 15, 13, 0, 0), true),
                (utc(2026, 1, 15, 13, 59, 59), true),
                (utc(2026, 1, 15, 14, 0, 0), false),
                (utc(2026, 1, 15, 23, 0, 0), false),
                // BST: 13:00-14:00 is 12:00-13:00 UTC.
                (utc(2026, 7, 15, 11, 59, 59), false),
                (utc(2026, 7, 15, 12, 0, 0), true),
                (utc(2026, 7, 15, 12, 59, 59), true),
                (utc(2026, 7, 15, 13, 0, 0), false),
            ],
        );
        check_contains(
            QuietHours::Off,
            &[
                (utc(2026, 1, 15, 23, 0, 0), false),
                (utc(2026, 7, 15, 3, 0, 0), false),
            ],
        );
    }

    #[test]
    fn a_boundary_in_the_skipped_hour_counts_from_when_clocks_go_forward() {
        // On 29 March 2026 the wall clock goes 00:59:59 GMT -> 02:00:00 BST at 01:00 UTC.
        check_contains(
            quiet("01:30-06:00"),
            &[
                (utc(2026, 3, 29, 0, 59, 59), false),
                (utc(2026, 3, 29, 1, 0, 0), true),
                (utc(2026, 3, 29, 4, 59, 59), true),
                (utc(2026, 3, 29, 5, 0, 0), false),
            ],
        );
        check_contains(
            quiet("22:00-01:30"),
            &[
                (utc(2026, 3, 28, 22, 0, 0), true),
                (utc(2026, 3, 29, 0, 59, 59), true),
                (utc(2026, 3, 29, 1, 0, 0), false),
            ],
        );
        // Both boundaries skipped: no quiet hours that night, as on the wall clock.
        check_contains(
            quiet("01:15-01:45"),
            &[
                (utc(2026, 3, 28, 1, 30, 0), true),
                (utc(2026, 3, 29, 0, 59, 59), false),
                (utc(2026, 3, 29, 1, 0, 0), false),
            ],
        );
    }

    #[test]
    fn a_boundary_in_the_repeated_hour_keeps_the_night_whole() {
        // On 25 October 2026 the wall clock goes 01:59:59 BST -> 01:00:00 GMT at 01:00 UTC.
        // A start counts at its first 01:30 (BST); 01:10 GMT, though before 01:30 on the wall
        // clock, stays quiet.
        check_contains(
            quiet("01:30-06:00"),
            &[
                (utc(2026, 10, 25, 0, 29, 59), false),
                (utc(2026, 10, 25, 0, 30, 0), true),
                (utc(2026, 10, 25, 1, 10, 0), true),
                (utc(2026, 10, 25, 5, 59, 59), true),
                (utc(2026, 10, 25, 6, 0, 0), false),
            ],
        );
        // An end counts at its second 01:30 (GMT); 01:45 BST, though past 01:30 on the wall
        // clock, stays quiet.
        check_contains(
            quiet("22:00-01:30"),
            &[
                (utc(2026, 10, 24, 20, 59, 59), false),
                (utc(2026, 10, 24, 21, 0, 0), true),
                (utc(2026, 10, 25, 0, 45, 0), true),
                (utc(2026, 10, 25, 1, 29, 59), true),
                (utc(2026, 10, 25, 1, 30, 0), false),
            ],
        );
    }

    // ---- plan_reminder ----

    struct Case {
        name: &'static str,
        due: DateTime<Utc>,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        quiet: QuietHours,
        expected: Plan,
    }

    fn check_plans(cases: Vec<Case>) {
        for c in cases {
            assert_eq!(
                plan_reminder(c.due, c.start, c.now, c.quiet),
                c.expected,
                "{}: due {} start {} now {} quiet {}",
                c.name,
                c.due,
                c.start,
                c.now,
                c.quiet
            );
        }
    }

    #[test]
    fn plans_in_winter() {
        let booked = utc(2026, 1, 10, 9, 0, 0);
        let n = night();
        check_plans(vec![
            Case {
                name: "allowed due time unchanged",
                due: utc(2026, 1, 13, 14, 0, 0),
                start: utc(2026, 1, 13, 16, 0, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 1, 13, 14, 0, 0)),
            },
            Case {
                name: "due now is sent now",
                due: booked,
                start: booked + hours(2),
                now: booked,
                quiet: n,
                expected: send(booked),
            },
            Case {
                name: "22:30 moves earlier when 08:00 is after the start",
                due: utc(2026, 1, 13, 22, 30, 0),
                start: utc(2026, 1, 14, 0, 30, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 1, 13, 20, 59, 0)),
            },
            Case {
                name: "22:30 moves earlier when 08:00 is the start itself",
                due: utc(2026, 1, 13, 22, 30, 0),
                start: utc(2026, 1, 14, 8, 0, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 1, 13, 20, 59, 0)),
            },
            Case {
                name: "22:30 moves earlier when that is nearer, even with 08:00 before the start",
                due: utc(2026, 1, 13, 22, 30, 0),
                start: utc(2026, 1, 14, 9, 0, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 1, 13, 20, 59, 0)),
            },
            Case {
                name: "22:30 moves later to 08:00 when 20:59 has passed",
                due: utc(2026, 1, 13, 22, 30, 0),
                start: utc(2026, 1, 14, 9, 0, 0),
                now: utc(2026, 1, 13, 21, 30, 0),
                quiet: n,
                expected: send(utc(2026, 1, 14, 8, 0, 0)),
            },
            Case {
                name: "06:00 moves later to 08:00, the nearer",
                due: utc(2026, 1, 14, 6, 0, 0),
                start: utc(2026, 1, 14, 9, 0, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 1, 14, 8, 0, 0)),
            },
            Case {
                name: "03:00 moves later: 5 h to 08:00 against 6 h 1 min to 20:59",
                due: utc(2026, 1, 14, 3, 0, 0),
                start: utc(2026, 1, 14, 10, 0, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 1, 14, 8, 0, 0)),
            },
            Case {
                name: "halfway between 20:59 and 08:00 goes earlier",
                due: utc(2026, 1, 14, 2, 29, 30),
                start: utc(2026, 1, 14, 10, 0, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 1, 13, 20, 59, 0)),
            },
            Case {
                name: "20:59 has passed but quiet hours have not started: send now",
                due: utc(2026, 1, 13, 21, 30, 0),
                start: utc(2026, 1, 13, 23, 0, 0),
                now: utc(2026, 1, 13, 20, 59, 30),
                quiet: n,
                expected: send(utc(2026, 1, 13, 20, 59, 30)),
            },
            Case {
                name: "off: the middle of the night is allowed",
                due: utc(2026, 1, 14, 3, 0, 0),
                start: utc(2026, 1, 14, 5, 0, 0),
                now: booked,
                quiet: QuietHours::Off,
                expected: send(utc(2026, 1, 14, 3, 0, 0)),
            },
            Case {
                name: "already passed",
                due: utc(2026, 1, 13, 14, 0, 0),
                start: utc(2026, 1, 13, 16, 0, 0),
                now: utc(2026, 1, 13, 14, 0, 1),
                quiet: n,
                expected: skip(SkipReason::AlreadyPassed),
            },
            Case {
                name: "already passed, even in quiet hours with time left to move to",
                due: utc(2026, 1, 13, 22, 0, 0),
                start: utc(2026, 1, 14, 10, 0, 0),
                now: utc(2026, 1, 13, 22, 30, 0),
                quiet: n,
                expected: skip(SkipReason::AlreadyPassed),
            },
            Case {
                name: "at the start",
                due: utc(2026, 1, 13, 16, 0, 0),
                start: utc(2026, 1, 13, 16, 0, 0),
                now: booked,
                quiet: n,
                expected: skip(SkipReason::AtOrAfterStart),
            },
            Case {
                name: "after the start",
                due: utc(2026, 1, 13, 17, 0, 0),
                start: utc(2026, 1, 13, 16, 0, 0),
                now: booked,
                quiet: n,
                expected: skip(SkipReason::AtOrAfterStart),
            },
            Case {
                name: "no allowed time: booked in quiet hours for early next morning",
                due: utc(2026, 1, 13, 23, 0, 0),
                start: utc(2026, 1, 14, 7, 0, 0),
                now: utc(2026, 1, 13, 21, 30, 0),
                quiet: n,
                expected: skip(SkipReason::NoAllowedTime),
            },
            Case {
                name: "no allowed time: the end of quiet hours is the start",
                due: utc(2026, 1, 14, 6, 0, 0),
                start: utc(2026, 1, 14, 8, 0, 0),
                now: utc(2026, 1, 14, 5, 0, 0),
                quiet: n,
                expected: skip(SkipReason::NoAllowedTime),
            },
        ]);
    }

    #[test]
    fn plans_around_a_daytime_window() {
        let booked = utc(2026, 1, 10, 9, 0, 0);
        let lunch = quiet("13:00-14:00");
        check_plans(vec![
            Case {
                name: "13:20 moves earlier to 12:59",
                due: utc(2026, 1, 13, 13, 20, 0),
                start: utc(2026, 1, 13, 15, 20, 0),
                now: booked,
                quiet: lunch,
                expected: send(utc(2026, 1, 13, 12, 59, 0)),
            },
            Case {
                name: "13:40 moves later to 14:00",
                due: utc(2026, 1, 13, 13, 40, 0),
                start: utc(2026, 1, 13, 15, 40, 0),
                now: booked,
                quiet: lunch,
                expected: send(utc(2026, 1, 13, 14, 0, 0)),
            },
            Case {
                name: "13:30 moves later: 30 min to 14:00 against 31 min to 12:59",
                due: utc(2026, 1, 13, 13, 30, 0),
                start: utc(2026, 1, 13, 15, 30, 0),
                now: booked,
                quiet: lunch,
                expected: send(utc(2026, 1, 13, 14, 0, 0)),
            },
            Case {
                name: "13:29:30, a tie, goes earlier",
                due: utc(2026, 1, 13, 13, 29, 30),
                start: utc(2026, 1, 13, 15, 0, 0),
                now: booked,
                quiet: lunch,
                expected: send(utc(2026, 1, 13, 12, 59, 0)),
            },
            Case {
                name: "13:40 moves earlier when 14:00 is the start",
                due: utc(2026, 1, 13, 13, 40, 0),
                start: utc(2026, 1, 13, 14, 0, 0),
                now: booked,
                quiet: lunch,
                expected: send(utc(2026, 1, 13, 12, 59, 0)),
            },
            Case {
                name: "night-time is allowed with a daytime window",
                due: utc(2026, 1, 13, 23, 0, 0),
                start: utc(2026, 1, 14, 1, 0, 0),
                now: booked,
                quiet: lunch,
                expected: send(utc(2026, 1, 13, 23, 0, 0)),
            },
            Case {
                name: "no allowed time inside the window",
                due: utc(2026, 1, 13, 13, 20, 0),
                start: utc(2026, 1, 13, 13, 50, 0),
                now: utc(2026, 1, 13, 13, 5, 0),
                quiet: lunch,
                expected: skip(SkipReason::NoAllowedTime),
            },
        ]);
    }

    #[test]
    fn plans_around_the_spring_changes() {
        let n = night();
        let booked = utc(2026, 3, 1, 9, 0, 0);
        check_plans(vec![
            Case {
                // A naive UTC reading of 21:00-08:00 would send at 08:00 UTC = 09:00 BST.
                name: "2 h before 09:30 BST the day after: 07:30 BST moves to 08:00 BST",
                due: uk(2026, 3, 30, 9, 30) - hours(2),
                start: uk(2026, 3, 30, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 3, 30, 7, 0, 0)),
            },
            Case {
                name: "2 h before 09:30 BST on the day itself",
                due: uk(2026, 3, 29, 9, 30) - hours(2),
                start: uk(2026, 3, 29, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 3, 29, 7, 0, 0)),
            },
            Case {
                name: "24 h before 09:30 BST on the day is 08:30 GMT, allowed",
                due: uk(2026, 3, 29, 9, 30) - hours(24),
                start: uk(2026, 3, 29, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 3, 28, 8, 30, 0)),
            },
            Case {
                name: "the evening before, still GMT: 21:30 moves to 20:59 GMT",
                due: uk(2026, 3, 28, 21, 30),
                start: uk(2026, 3, 28, 23, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 3, 28, 20, 59, 0)),
            },
            Case {
                // 02:30 BST is 4 h 31 min of real time after 20:59 GMT and 5 h 30 min before
                // 08:00 BST; on the wall clock it would look the other way round.
                name: "in the short night nearer means real time",
                due: uk(2026, 3, 29, 2, 30),
                start: uk(2026, 3, 29, 9, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 3, 28, 20, 59, 0)),
            },
            Case {
                name: "2027: 2 h before 09:30 BST the day after",
                due: uk(2027, 3, 29, 9, 30) - hours(2),
                start: uk(2027, 3, 29, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2027, 3, 29, 7, 0, 0)),
            },
            Case {
                name: "2027: 2 h before 09:30 BST on the day itself",
                due: uk(2027, 3, 28, 9, 30) - hours(2),
                start: uk(2027, 3, 28, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2027, 3, 28, 7, 0, 0)),
            },
            Case {
                name: "2027: 2 h before 10:30 BST is allowed and unchanged",
                due: uk(2027, 3, 28, 10, 30) - hours(2),
                start: uk(2027, 3, 28, 10, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2027, 3, 28, 7, 30, 0)),
            },
            Case {
                name: "a window starting in the skipped hour moves to 00:59 GMT",
                due: uk(2026, 3, 29, 2, 30),
                start: uk(2026, 3, 29, 5, 0),
                now: booked,
                quiet: quiet("01:30-06:00"),
                expected: send(utc(2026, 3, 29, 0, 59, 0)),
            },
            Case {
                name: "a window ending in the skipped hour ends at 02:00 BST",
                due: utc(2026, 3, 29, 0, 30, 0),
                start: uk(2026, 3, 29, 3, 0),
                now: booked,
                quiet: quiet("22:00-01:30"),
                expected: send(utc(2026, 3, 29, 1, 0, 0)),
            },
        ]);
    }

    #[test]
    fn plans_around_the_autumn_changes() {
        let n = night();
        let booked = utc(2026, 10, 1, 9, 0, 0);
        check_plans(vec![
            Case {
                // A naive UTC reading would send at 08:00 UTC = 09:00 BST.
                name: "2 h before 09:30 BST the day before: 07:30 BST moves to 08:00 BST",
                due: uk(2026, 10, 24, 9, 30) - hours(2),
                start: uk(2026, 10, 24, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 10, 24, 7, 0, 0)),
            },
            Case {
                name: "2 h before 09:30 GMT on the day itself",
                due: uk(2026, 10, 25, 9, 30) - hours(2),
                start: uk(2026, 10, 25, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 10, 25, 8, 0, 0)),
            },
            Case {
                name: "2 h before 09:30 GMT the day after",
                due: uk(2026, 10, 26, 9, 30) - hours(2),
                start: uk(2026, 10, 26, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 10, 26, 8, 0, 0)),
            },
            Case {
                name: "the evening before, still BST: 22:30 moves to 20:59 BST",
                due: uk(2026, 10, 24, 22, 30),
                start: uk(2026, 10, 25, 0, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 10, 24, 19, 59, 0)),
            },
            Case {
                // 02:00 GMT is 6 h 1 min of real time after 20:59 BST and 6 h before 08:00 GMT;
                // on the wall clock 20:59 would look nearer.
                name: "in the long night nearer means real time",
                due: uk(2026, 10, 25, 2, 0),
                start: uk(2026, 10, 25, 9, 0),
                now: booked,
                quiet: n,
                expected: send(utc(2026, 10, 25, 8, 0, 0)),
            },
            Case {
                name: "2027: 2 h before 09:30 BST the day before",
                due: uk(2027, 10, 30, 9, 30) - hours(2),
                start: uk(2027, 10, 30, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2027, 10, 30, 7, 0, 0)),
            },
            Case {
                name: "2027: 2 h before 09:30 GMT on the day itself",
                due: uk(2027, 10, 31, 9, 30) - hours(2),
                start: uk(2027, 10, 31, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2027, 10, 31, 8, 0, 0)),
            },
            Case {
                name: "2027: 24 h before 09:30 GMT on the day is 10:30 BST, allowed",
                due: uk(2027, 10, 31, 9, 30) - hours(24),
                start: uk(2027, 10, 31, 9, 30),
                now: booked,
                quiet: n,
                expected: send(utc(2027, 10, 30, 9, 30, 0)),
            },
            Case {
                name: "a window ending in the repeated hour ends at the second 01:30",
                due: utc(2026, 10, 25, 0, 45, 0),
                start: utc(2026, 10, 25, 3, 0, 0),
                now: booked,
                quiet: quiet("22:00-01:30"),
                expected: send(utc(2026, 10, 25, 1, 30, 0)),
            },
            Case {
                name: "a window starting in the repeated hour starts at the first 01:30",
                due: utc(2026, 10, 25, 1, 10, 0),
                start: utc(2026, 10, 25, 3, 0, 0),
                now: booked,
                quiet: quiet("01:30-06:00"),
                expected: send(utc(2026, 10, 25, 0, 29, 0)),
            },
        ]);
    }

    #[test]
    fn a_window_closed_by_the_spring_change_has_no_allowed_time_that_night() {
        // 01:30-01:00 leaves 01:00-01:30 allowed, a time that does not exist on 29 March 2026.
        let q = quiet("01:30-01:00");
        let due = utc(2026, 3, 29, 0, 30, 0);
        let start = utc(2026, 3, 29, 3, 0, 0);
        assert_eq!(
            plan_reminder(due, start, utc(2026, 3, 28, 2, 0, 0), q),
            skip(SkipReason::NoAllowedTime)
        );
        // With the day before still ahead, its half hour is used.
        assert_eq!(
            plan_reminder(due, start, utc(2026, 3, 28, 0, 0, 0), q),
            send(utc(2026, 3, 28, 1, 29, 0))
        );
    }

    #[test]
    fn an_allowed_gap_under_a_minute_is_used_from_its_start() {
        // Built by hand: quiet except 08:00:00-08:00:30 GMT, so one minute before quiet hours
        // start would itself be quiet.
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s).expect("valid time");
        let q = QuietHours::Between {
            start: t(8, 0, 30),
            end: t(8, 0, 0),
        };
        assert_eq!(
            plan_reminder(
                utc(2026, 1, 13, 12, 0, 0),
                utc(2026, 1, 15, 12, 0, 0),
                utc(2026, 1, 10, 9, 0, 0),
                q
            ),
            send(utc(2026, 1, 13, 8, 0, 0))
        );
    }

    #[test]
    fn quiet_all_day_built_by_hand_never_sends() {
        let t = NaiveTime::from_hms_opt(9, 0, 0).expect("valid time");
        let q = QuietHours::Between { start: t, end: t };
        assert!(q.contains(utc(2026, 5, 5, 12, 0, 0)));
        assert_eq!(
            plan_reminder(
                utc(2026, 5, 5, 12, 0, 0),
                utc(2026, 5, 9, 12, 0, 0),
                utc(2026, 5, 1, 12, 0, 0),
                q
            ),
            skip(SkipReason::NoAllowedTime)
        );
    }

    // ---- describing times ----

    #[test]
    fn describes_times_on_the_uk_clock() {
        let cases = [
            (utc(2026, 11, 24, 10, 0, 0), "Tuesday 24 November at 10:00"),
            (utc(2026, 7, 14, 9, 0, 0), "Tuesday 14 July at 10:00"),
            (utc(2026, 6, 1, 8, 5, 0), "Monday 1 June at 09:05"),
            (utc(2026, 7, 14, 23, 30, 0), "Wednesday 15 July at 00:30"),
            (utc(2026, 1, 5, 18, 45, 0), "Monday 5 January at 18:45"),
            (utc(2026, 3, 29, 0, 59, 0), "Sunday 29 March at 00:59"),
            (utc(2026, 3, 29, 1, 0, 0), "Sunday 29 March at 02:00"),
            (utc(2026, 10, 25, 0, 30, 0), "Sunday 25 October at 01:30"),
            (utc(2026, 10, 25, 1, 30, 0), "Sunday 25 October at 01:30"),
        ];
        for (at, expected) in cases {
            assert_eq!(describe_when(at), expected, "{at}");
        }
    }

    #[test]
    fn describes_dates_on_the_uk_calendar() {
        let cases = [
            (utc(2026, 11, 24, 10, 0, 0), "24 November 2026"),
            (utc(2026, 6, 1, 8, 5, 0), "1 June 2026"),
            // 23:30 UTC on 31 August is 00:30 BST on 1 September.
            (utc(2026, 8, 31, 23, 30, 0), "1 September 2026"),
            (utc(2026, 12, 31, 23, 30, 0), "31 December 2026"),
        ];
        for (at, expected) in cases {
            assert_eq!(describe_date(at), expected, "{at}");
        }
    }

    // ---- properties ----

    /// Instants in 2026-2030, and many within a day and a half of a clock change.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let first = utc(2026, 1, 1, 0, 0, 0).timestamp();
        let last = utc(2031, 1, 1, 0, 0, 0).timestamp();
        let changes: Vec<i64> = (2026..=2030)
            .flat_map(|year| {
                [3, 10].map(|month| {
                    // The last Sunday of the month, 01:00 UTC.
                    let mut day = NaiveDate::from_ymd_opt(year, month, 31).expect("valid date");
                    while day.format("%u").to_string() != "7" {
                        day = day.pred_opt().expect("valid date");
                    }
                    day.and_hms_opt(1, 0, 0)
                        .expect("valid time")
                        .and_utc()
                        .timestamp()
                })
            })
            .collect();
        let near_change = (proptest::sample::select(changes), -36 * 3600..36 * 3600i64)
            .prop_map(|(change, offset)| change + offset);
        prop_oneof![first..last, near_change]
            .prop_map(|secs| DateTime::from_timestamp(secs, 0).expect("in range"))
    }

    fn time_of_day() -> impl Strategy<Value = NaiveTime> {
        prop_oneof![
            (0..24 * 60u32).prop_map(|m| m * 60),
            // The hour the clocks skip or repeat.
            (60..2 * 60u32).prop_map(|m| m * 60),
            0..24 * 3600u32,
        ]
        .prop_map(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, 0).expect("valid time"))
    }

    fn quiet_hours() -> impl Strategy<Value = QuietHours> {
        prop_oneof![
            1 => Just(QuietHours::Off),
            1 => Just(night()),
            6 => (time_of_day(), time_of_day())
                .prop_map(|(start, end)| QuietHours::Between { start, end }),
            // Nearly all day, leaving an allowed gap of a few seconds to two minutes.
            1 => (time_of_day(), 1..120i64).prop_map(|(end, gap)| QuietHours::Between {
                start: end + TimeDelta::seconds(gap),
                end,
            }),
        ]
    }

    /// (due, start, now): either anywhere in the years, or close together so that quiet
    /// hours, the start and now interact.
    fn reminder() -> impl Strategy<Value = (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> {
        let close = (instant(), -3 * 86400..3 * 86400i64, 0..3 * 86400i64).prop_map(
            |(due, now_before, start_after)| {
                (
                    due,
                    due + TimeDelta::seconds(start_after),
                    due - TimeDelta::seconds(now_before),
                )
            },
        );
        prop_oneof![(instant(), instant(), instant()), close]
    }

    /// The whole-minute steps strictly after `from` up to and including `to`.
    fn minutes_after(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<Utc>> {
        (1..)
            .map(move |n| from + TimeDelta::minutes(n))
            .take_while(move |at| *at <= to)
    }

    fn wall_clock_contains(q: QuietHours, at: DateTime<Utc>) -> bool {
        let QuietHours::Between { start, end } = q else {
            return false;
        };
        let t = at.with_timezone(&London).time();
        if start < end {
            start <= t && t < end
        } else {
            t >= start || t < end
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_planned_send_keeps_every_rule((due, start, now) in reminder(), q in quiet_hours()) {
            match plan_reminder(due, start, now, q) {
                Plan::SendAt(at) => {
                    prop_assert!(at >= now, "{at} before now {now}");
                    prop_assert!(at < start, "{at} not before the start {start}");
                    prop_assert!(!q.contains(at), "{at} in quiet hours {q}");
                    let due_allowed = due >= now && due < start && !q.contains(due);
                    prop_assert!(due_allowed || at != due);
                }
                Plan::Skip(SkipReason::AtOrAfterStart) => prop_assert!(due >= start),
                Plan::Skip(SkipReason::AlreadyPassed) => prop_assert!(due < now && due < start),
                Plan::Skip(SkipReason::NoAllowedTime) => {
                    prop_assert!(due >= now && due < start && q.contains(due));
                }
            }
        }

        #[test]
        fn an_allowed_due_time_is_kept((due, start, now) in reminder(), q in quiet_hours()) {
            if due >= now && due < start && !q.contains(due) {
                prop_assert_eq!(plan_reminder(due, start, now, q), Plan::SendAt(due));
            }
        }

        #[test]
        fn no_allowed_time_means_every_minute_until_the_start_is_quiet(
            (due, start, now) in reminder(),
            q in quiet_hours(),
        ) {
            if plan_reminder(due, start, now, q) == Plan::Skip(SkipReason::NoAllowedTime)
                && start - now <= TimeDelta::days(3)
            {
                prop_assert!(q.contains(now));
                let last = start - TimeDelta::nanoseconds(1);
                for at in minutes_after(now, last) {
                    prop_assert!(q.contains(at), "{at} is allowed, before {start}");
                }
            }
        }

        #[test]
        fn a_moved_reminder_goes_to_the_edge_of_the_same_quiet_hours(
            (due, start, now) in reminder(),
            q in quiet_hours(),
        ) {
            // Nothing allowed is skipped over between the due time and the send.
            if let Plan::SendAt(at) = plan_reminder(due, start, now, q)
                && at != due
                && (at - due).abs() <= TimeDelta::days(3)
            {
                prop_assert!(q.contains(due));
                if at < due {
                    for step in minutes_after(at, due) {
                        prop_assert!(q.contains(step), "{step} allowed between {at} and {due}");
                    }
                } else {
                    for step in minutes_after(due, at - TimeDelta::nanoseconds(1)) {
                        prop_assert!(q.contains(step), "{step} allowed between {due} and {at}");
                    }
                }
            }
        }

        #[test]
        fn contains_is_the_wall_clock_outside_the_repeated_hour(
            at in instant(),
            q in quiet_hours(),
        ) {
            let wall = at.with_timezone(&London).naive_local();
            if matches!(London.from_local_datetime(&wall), LocalResult::Single(_)) {
                prop_assert_eq!(q.contains(at), wall_clock_contains(q, at));
            }
        }
    }
}
