//! A drill's findings: figures to read, and the checks that failed.

use crate::traffic::{ReminderFindings, TextFindings, percentile};

#[derive(Debug)]
pub struct Report {
    title: String,
    lines: Vec<String>,
    pub failures: Vec<String>,
}

impl Report {
    pub fn new(title: String) -> Self {
        Self {
            title,
            lines: Vec::new(),
            failures: Vec::new(),
        }
    }

    pub fn line(&mut self, line: String) {
        self.lines.push(line);
    }

    pub fn fail(&mut self, why: &str) {
        self.failures.push(why.to_owned());
    }

    pub fn check(&mut self, ok: bool, why: &str) {
        if !ok {
            self.fail(why);
        }
    }

    pub fn texts(&mut self, f: &TextFindings) {
        self.line(format!(
            "texts: {} conversations, {} texts acknowledged with a 2xx; lost {}, stored twice {}, out of order {}, conversations not where a clean run ends {}",
            f.phones, f.acked, f.lost, f.duplicated, f.out_of_order, f.inconsistent
        ));
        self.line(format!(
            "webhook attempts not acknowledged (then retried): {} answered 503, {} unanswered, other statuses {:?}; provider-style repeats {} and simultaneous deliveries to two replicas {}, replies that differed {}",
            f.unavailable, f.no_answer, f.other_status, f.replays, f.races, f.replay_mismatches
        ));
        for problem in f.problems.iter().take(10) {
            self.line(format!("  ! {problem}"));
        }
        self.check(f.lost == 0, "an acknowledged text was lost");
        self.check(f.duplicated == 0, "a text was stored twice");
        self.check(f.out_of_order == 0, "texts were stored out of order");
        self.check(
            f.inconsistent == 0,
            "a conversation is not where its texts lead",
        );
        self.check(
            f.unfinished == 0,
            "a texter never got its text acknowledged",
        );
        self.check(
            f.replay_mismatches == 0,
            "a repeated delivery got a different reply",
        );
    }

    pub fn reminders(&mut self, f: &ReminderFindings) {
        self.line(format!(
            "reminders: {} due, {} sent, lost {}, duplicates {}; lateness p50 {:.1} s, p99 {:.1} s, max {:.1} s",
            f.due,
            f.sent,
            f.missing,
            f.duplicates,
            percentile(&f.lateness, 0.5),
            percentile(&f.lateness, 0.99),
            percentile(&f.lateness, 1.0)
        ));
        for problem in f.problems.iter().take(5) {
            self.line(format!("  ! {problem}"));
        }
        self.check(f.missing == 0, "a due reminder was never sent");
    }

    pub fn alerts(&mut self, urgent: usize, sent: usize, duplicates: usize, unalerted: usize) {
        self.line(format!(
            "on-call alerts: {urgent} urgent referrals, {sent} alerts sent, duplicates {duplicates}, referrals with no alert {unalerted}"
        ));
        self.check(
            unalerted == 0,
            "an urgent referral's on-call alert was never sent",
        );
    }

    pub fn leaks(&mut self, leaks: &[String]) {
        self.line(format!(
            "log check: {} phone numbers or message bodies found in the gateway's log",
            leaks.len()
        ));
        for leak in leaks.iter().take(5) {
            self.line(format!("  ! {leak}"));
        }
        self.check(
            leaks.is_empty(),
            "a phone number or message body was logged",
        );
    }

    pub fn print(&self) {
        println!("== {}", self.title);
        for line in &self.lines {
            println!("   {line}");
        }
        if self.failures.is_empty() {
            println!("   PASS");
        } else {
            for failure in &self.failures {
                println!("   FAIL: {failure}");
            }
        }
    }
}
