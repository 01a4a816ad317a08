//! Finished jobs per queue and minute, kept by the event follower, read
//! for the overview (last hour), the statistics page and the alert rules.
//! Wait and run times are kept as histograms over fixed buckets, merged
//! by addition, so any window's p50/p95 costs one row per minute.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;

use crate::db::Db;
use crate::db::schema::job_minutes;
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

/// Upper bounds (ms) of the histogram buckets; a last bucket holds the rest.
pub const BUCKETS_MS: &[i64] = &[
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000,
    600_000, 1_800_000, 3_600_000,
];

/// Counts per bucket: `BUCKETS_MS.len() + 1` of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram(pub Vec<i64>);

impl Default for Histogram {
    fn default() -> Self {
        Histogram::empty()
    }
}

impl Histogram {
    pub fn empty() -> Histogram {
        Histogram(vec![0; BUCKETS_MS.len() + 1])
    }

    pub fn add(&mut self, ms: i64) {
        let i = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len());
        self.0[i] += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }

    pub fn parse(text: &str) -> Histogram {
        let mut h = Histogram::empty();
        for (slot, n) in h.0.iter_mut().zip(text.split(',')) {
            *slot = n.parse().unwrap_or(0);
        }
        h
    }

    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn total(&self) -> i64 {
        self.0.iter().sum()
    }

    /// The bucket bound under which `p` (0–1) of the values fall; `None`
    /// when empty, `Some(None)` past the last bound.
    pub fn quantile(&self, p: f64) -> Option<Option<i64>> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let want = ((total as f64) * p).ceil().max(1.0) as i64;
        let mut seen = 0;
        for (i, n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= want {
                return Some(BUCKETS_MS.get(i).copied());
            }
        }
        Some(None)
    }
}

/// "≤ 250 ms", "≤ 2.5 s", "> 1 h", "–".
pub fn quantile_text(q: Option<Option<i64>>) -> String {
    match q {
        None => "–".to_owned(),
        Some(None) => "> 1 h".to_owned(),
        Some(Some(ms)) if ms < 1_000 => format!("≤ {ms} ms"),
        Some(Some(ms)) if ms < 60_000 => format!("≤ {} s", ms as f64 / 1000.0),
        Some(Some(ms)) => format!("≤ {} min", ms / 60_000),
    }
}

/// A window's figures for one queue.
#[derive(Clone, Debug, Default)]
pub struct Window {
    pub completed: i64,
    pub failed: i64,
    pub wait: Histogram,
    pub run: Histogram,
}

impl Window {
    pub fn add(&mut self, row: &MinuteRow) {
        self.completed += row.completed;
        self.failed += row.failed;
        self.wait.merge(&Histogram::parse(&row.wait_hist));
        self.run.merge(&Histogram::parse(&row.run_hist));
    }

    /// Failed share of finished attempts, 0–1; `None` with nothing finished.
    pub fn failure_rate(&self) -> Option<f64> {
        let done = self.completed + self.failed;
        (done > 0).then(|| self.failed as f64 / done as f64)
    }
}

/// "12.5 %", or "–" with nothing finished.
pub fn rate_text(completed: i64, failed: i64) -> String {
    let done = completed + failed;
    if done == 0 {
        "–".to_owned()
    } else {
        format!("{:.1} %", failed as f64 * 100.0 / done as f64)
    }
}

#[derive(Queryable, Clone, Debug)]
pub struct MinuteRow {
    pub queue: String,
    pub minute: i64,
    pub completed: i64,
    pub failed: i64,
    pub wait_hist: String,
    pub run_hist: String,
}

pub fn minute_of(now: OffsetDateTime) -> i64 {
    now.unix_timestamp().div_euclid(60)
}

/// Rows of every queue from `from_minute` on (inclusive).
pub async fn rows_since(db: &mut Db, from_minute: i64) -> QResult<Vec<MinuteRow>> {
    db_run!(db, |c| job_minutes::table
        .filter(job_minutes::minute.ge(from_minute))
        .order((job_minutes::queue, job_minutes::minute))
        .load::<MinuteRow>(c)
        .await)
}

/// Each queue's totals over the last `minutes` (the current one included).
pub async fn window(
    db: &mut Db,
    now: OffsetDateTime,
    minutes: i64,
) -> QResult<Vec<(String, Window)>> {
    let rows = rows_since(db, minute_of(now) - minutes + 1).await?;
    let mut by: BTreeMap<String, Window> = BTreeMap::new();
    for r in &rows {
        by.entry(r.queue.clone()).or_default().add(r);
    }
    Ok(by.into_iter().collect())
}

pub async fn last_hour(db: &mut Db, now: OffsetDateTime) -> QResult<Vec<(String, Window)>> {
    window(db, now, 60).await
}

/// One queue's rows from `from_minute`, for the charts.
pub async fn series(db: &mut Db, queue: &str, from_minute: i64) -> QResult<Vec<MinuteRow>> {
    let queue = queue.to_owned();
    db_run!(db, |c| job_minutes::table
        .filter(job_minutes::queue.eq(&queue))
        .filter(job_minutes::minute.ge(from_minute))
        .order(job_minutes::minute)
        .load::<MinuteRow>(c)
        .await)
}

/// Minutes kept: the statistics show a week at most.
pub const KEPT_MINUTES: i64 = 8 * 1_440;

/// Deletes the minutes older than [`KEPT_MINUTES`] before `now`.
pub async fn purge_old(db: &mut Db, now: OffsetDateTime) -> QResult<usize> {
    let before = minute_of(now) - KEPT_MINUTES;
    db_run!(db, |c| diesel::delete(
        job_minutes::table.filter(job_minutes::minute.lt(before))
    )
    .execute(c)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let mut h = Histogram::empty();
        for ms in [5, 8, 40, 900, 1_200, 2_000, 2_400, 2_400, 9_000, 7_200_000] {
            h.add(ms);
        }
        assert_eq!(h.quantile(0.5), Some(Some(2_500)));
        assert_eq!(h.quantile(0.95), Some(None));
        assert_eq!(h.quantile(0.1), Some(Some(10)));
        assert_eq!(Histogram::parse(&h.text()), h);
        assert_eq!(Histogram::empty().quantile(0.5), None);
        assert_eq!(quantile_text(Some(Some(2_500))), "≤ 2.5 s");
        assert_eq!(rate_text(3, 1), "25.0 %");
        assert_eq!(rate_text(0, 0), "–");
    }
}
