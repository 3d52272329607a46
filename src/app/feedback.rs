//! Feedback after care: a clinician discharges a patient (planning the feedback request in
//! the same transaction), and staff read the summary — counts per rating per month for
//! everyone, the patients' own words only for clinicians and admins (an audited read).
//! Sending the request is `jobs::feedback`'s; recording a reply is the intake's.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Error, Result, Services, audit_entry, note};
use crate::domain::id::PatientId;
use crate::store::{Actor, AuditAction, Discharged, FeedbackRow, PatientRecord};

/// `POST /patients/{id}/discharge`: an optional note for the record (audited with it).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DischargeIn {
    /// Staff's note, kept in the audit log with the discharge.
    pub note: Option<String>,
}

/// `GET /feedback`: months to summarise, `YYYY-MM`, both included (UK months, by when the
/// request was sent).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedbackQuery {
    /// The first month, e.g. `2026-11`.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$", example = "2026-11")]
    pub from: Option<String>,
    /// The last month, e.g. `2026-12`.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$", example = "2026-12")]
    pub to: Option<String>,
}

/// One month of feedback requests, by when they were sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeedbackMonth {
    /// `YYYY-MM`, UK time.
    pub month: String,
    /// How many replies gave each rating, `"1"` to `"5"` (every rating listed).
    pub ratings: BTreeMap<String, i64>,
    /// Requests answered with a rating.
    pub responses: i64,
    /// Requests sent.
    pub requests: i64,
}

/// A patient's own words with their rating: no name, no number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeedbackWords {
    pub rating: i64,
    /// The month the request was sent, `YYYY-MM`.
    pub month: String,
    /// The day the reply came, UK time.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub words: String,
}

/// `GET /feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeedbackSummary {
    /// Months with at least one request sent, oldest first.
    pub months: Vec<FeedbackMonth>,
    /// The patients' words, oldest reply first: clinicians and admins only (absent for
    /// other roles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<FeedbackWords>>,
}

/// The first instant of a `YYYY-MM` month in the UK.
fn month_start(field: &str, raw: &str) -> Result<DateTime<Utc>> {
    let bad = || Error::BadRequest(format!("{field}: expected a month like 2026-11"));
    let (year, month) = raw.trim().split_once('-').ok_or_else(bad)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(bad());
    }
    // Within four digits either side, so the month after is too (SQLite compares times as
    // fixed-width text).
    let year: i32 = year
        .parse()
        .ok()
        .filter(|y| (1900..=9998).contains(y))
        .ok_or_else(bad)?;
    let month: u32 = month.parse().map_err(|_| bad())?;
    first_instant(year, month).ok_or_else(bad)
}

fn first_instant(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let day = NaiveDate::from_ymd_opt(year, month, 1)?;
    London
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

/// The first instant of the month after the one `start` begins.
fn next_month(start: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = start.with_timezone(&London);
    let (year, month) = if local.month() == 12 {
        (local.year() + 1, 1)
    } else {
        (local.year(), local.month() + 1)
    };
    first_instant(year, month)
}

fn month_of(at: DateTime<Utc>) -> String {
    at.with_timezone(&London).format("%Y-%m").to_string()
}

/// Counts per month and the words, from the sent requests.
pub fn summarise(rows: &[FeedbackRow], with_words: bool) -> FeedbackSummary {
    let mut months: BTreeMap<String, FeedbackMonth> = BTreeMap::new();
    let mut words = Vec::new();
    for row in rows {
        let month = month_of(row.sent_at);
        let entry = months
            .entry(month.clone())
            .or_insert_with(|| FeedbackMonth {
                month: month.clone(),
                ratings: (1..=5).map(|r| (r.to_string(), 0)).collect(),
                responses: 0,
                requests: 0,
            });
        entry.requests += 1;
        if let Some(rating) = row.rating.filter(|r| (1..=5).contains(r)) {
            entry.responses += 1;
            *entry.ratings.entry(rating.to_string()).or_default() += 1;
            if let (Some(text), Some(answered)) = (&row.words, row.answered_at) {
                words.push(FeedbackWords {
                    rating,
                    month,
                    date: answered.with_timezone(&London).date_naive(),
                    words: text.clone(),
                });
            }
        }
    }
    words.sort_by_key(|w| w.date);
    FeedbackSummary {
        months: months.into_values().collect(),
        words: with_words.then_some(words),
    }
}

impl Services {
    /// A clinician discharges the patient: the record shows when, and the feedback request is
    /// planned for `CRHT_FEEDBACK_AFTER` later, with the audit entry, in one transaction.
    /// Appointments still booked stay as they are (staff cancel any that are not wanted).
    /// Clinicians and admins; 409 when already discharged.
    pub async fn discharge_patient(
        &self,
        actor: &Actor,
        id: &PatientId,
        input: DischargeIn,
    ) -> Result<PatientRecord> {
        if !actor.role.may_read_referrals() {
            return Err(Error::Forbidden(
                "only clinicians and admins may discharge a patient".into(),
            ));
        }
        let note = note(input.note)?;
        let now = self.now();
        let after = TimeDelta::from_std(self.outbound.feedback_after)
            .map_err(|e| Error::Internal(e.into()))?;
        let audit = audit_entry(
            actor,
            now,
            AuditAction::PatientDischarge,
            format!("patient:{id}"),
        )
        .with_note(note);
        match self
            .store
            .discharge_patient(id, now + after, &audit)
            .await?
        {
            Discharged::Done(record) => Ok(*record),
            Discharged::NoSuchPatient => Err(Error::NotFound(format!("no patient {id}"))),
            Discharged::Already(at) => Err(Error::Conflict(format!(
                "patient {id} was already discharged at {}",
                at.to_rfc3339()
            ))),
        }
    }

    /// The feedback summary. Every role sees the counts; clinicians and admins also see the
    /// words, and that read is audited before it is returned.
    pub async fn feedback(&self, actor: &Actor, query: FeedbackQuery) -> Result<FeedbackSummary> {
        let from = query
            .from
            .as_deref()
            .map(|m| month_start("from", m))
            .transpose()?;
        let to = query
            .to
            .as_deref()
            .map(|m| month_start("to", m))
            .transpose()?
            .map(|start| {
                next_month(start)
                    .ok_or_else(|| Error::BadRequest("to: expected a month like 2026-11".into()))
            })
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(Error::BadRequest("from: must not be after to".into()));
        }
        let rows = self.store.feedback_rows(from, to).await?;
        let with_words = actor.role.may_read_referrals();
        if with_words {
            self.store
                .audit(&audit_entry(
                    actor,
                    self.now(),
                    AuditAction::FeedbackRead,
                    "feedback".into(),
                ))
                .await?;
        }
        Ok(summarise(&rows, with_words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn feedback_is_counted_per_uk_month_of_the_request() {
        let rows = vec![
            FeedbackRow {
                sent_at: at(2026, 10, 31, 23), // 31 October 23:00 UTC is still October in GMT
                rating: Some(5),
                words: Some("Kind and quick".into()),
                answered_at: Some(at(2026, 11, 1, 9)),
            },
            FeedbackRow {
                sent_at: at(2026, 11, 3, 12),
                rating: None,
                words: None,
                answered_at: None,
            },
            FeedbackRow {
                sent_at: at(2026, 11, 4, 12),
                rating: Some(2),
                words: None,
                answered_at: Some(at(2026, 11, 4, 13)),
            },
        ];
        let summary = summarise(&rows, true);
        assert_eq!(summary.months.len(), 2);
        assert_eq!(summary.months[0].month, "2026-10");
        assert_eq!(summary.months[0].ratings["5"], 1);
        assert_eq!(summary.months[0].ratings["1"], 0);
        assert_eq!(summary.months[1].requests, 2);
        assert_eq!(summary.months[1].responses, 1);
        assert_eq!(summary.months[1].ratings["2"], 1);
        let words = summary.words.expect("clinicians see words");
        assert_eq!(words.len(), 1);
        assert_eq!(words[0].words, "Kind and quick");
        assert_eq!(words[0].month, "2026-10");
        assert!(summarise(&rows, false).words.is_none());
    }

    #[test]
    fn months_are_read_strictly() {
        assert_eq!(
            month_start("from", "2026-07").expect("valid"),
            at(2026, 6, 30, 23)
        );
        for bad in [
            "2026-13", "2026-7", "26-07", "2026/07", "", "2026-00", "x", "9999-12", "0000-01",
            "+202-01",
        ] {
            assert!(month_start("from", bad).is_err(), "{bad}");
        }
        assert_eq!(
            next_month(month_start("to", "2026-12").expect("valid")),
            Some(at(2027, 1, 1, 0))
        );
    }
}
