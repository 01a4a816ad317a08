//! A batch of stream events turned into what the index keeps (pure:
//! [`build`]) and written with the cursor in one transaction ([`write`]).
//! The cursor moves only from the id the batch was read after: a second
//! follower (another instance, a restart racing) finds it moved and its
//! batch is dropped, so each event counts once.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use super::fingerprint::{MAX_CHARS, clip, fingerprint};
use super::follow::{JobFacts, StreamEvent, message_of_stack};
use crate::db::Tx;
use crate::db::schema::{job_errors, job_failures, job_minutes, job_runs, job_stream_cursors};
use crate::db_run;
use crate::jobs::stats::Histogram;

type QResult<T> = Result<T, diesel::result::Error>;

/// One failed attempt as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub job_id: String,
    pub name: String,
    pub user_id: Option<i64>,
    pub message: String,
    pub stacktrace: Option<String>,
    pub attempt: i32,
    pub at_ms: i64,
    pub job_created_ms: Option<i64>,
    pub payload: String,
    pub dedupe: String,
}

/// A finished job of a sowat.io user (for the user page).
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedRun {
    pub job_id: String,
    pub name: String,
    pub user_id: i64,
    pub state: &'static str,
    pub at_ms: i64,
    pub dedupe: String,
}

#[derive(Clone, Debug, Default)]
pub struct MinuteDelta {
    pub completed: i64,
    pub failed: i64,
    pub wait: Histogram,
    pub run: Histogram,
}

#[derive(Clone, Debug)]
pub struct Batch {
    pub queue: String,
    /// The cursor the batch was read after (`None`: no cursor stored yet).
    pub from: Option<String>,
    pub to: String,
    pub failures: Vec<Failure>,
    pub runs: Vec<FinishedRun>,
    /// Completions per unix minute (failures are counted when written).
    pub minutes: BTreeMap<i64, MinuteDelta>,
}

fn ms_to_time(ms: i64) -> Option<PrimitiveDateTime> {
    crate::jobs::read::at_ms(ms)
}

/// The failed attempts a job's hash shows, oldest first.
fn failures_of(queue: &str, job_id: &str, f: &JobFacts, e: &StreamEvent) -> Vec<Failure> {
    let created = f.created_ms.unwrap_or(0);
    let base = |attempt: i32, message: String, stack: Option<String>| Failure {
        job_id: job_id.to_owned(),
        name: f.name.clone(),
        user_id: f.user_id(),
        message: clip(&message, 2_000),
        stacktrace: stack,
        attempt,
        at_ms: e.at_ms,
        job_created_ms: f.created_ms,
        payload: f.payload_excerpt(),
        dedupe: format!("{queue}:{job_id}:{created}:{attempt}"),
    };
    let n = f.stacktraces.len();
    if n == 0 {
        // No stack kept (stackTraceLimit 0): the final failure still counts.
        if e.event == "failed" {
            let reason = e
                .failed_reason
                .clone()
                .unwrap_or_else(|| f.failed_reason.clone());
            return vec![base(f.attempts_made.max(1) as i32, reason, None)];
        }
        return Vec::new();
    }
    f.stacktraces
        .iter()
        .enumerate()
        .map(|(i, stack)| {
            let last = i + 1 == n;
            let message = if last && !f.failed_reason.is_empty() {
                f.failed_reason.clone()
            } else {
                message_of_stack(stack)
            };
            base(i as i32 + 1, message, Some(stack.clone()))
        })
        .collect()
}

/// The failed attempts of a job in the failed set, read from its hash
/// alone (a rescan after events were trimmed).
pub fn failures_from_hash(queue: &str, job_id: &str, f: &JobFacts) -> Vec<Failure> {
    let at_ms = f
        .finished_ms
        .or(f.processed_ms)
        .or(f.created_ms)
        .unwrap_or(0);
    let event = StreamEvent {
        id: format!("{at_ms}-0"),
        at_ms,
        event: "failed".to_owned(),
        job_id: Some(job_id.to_owned()),
        prev: None,
        failed_reason: Some(f.failed_reason.clone()),
    };
    failures_of(queue, job_id, f, &event)
}

/// What `events` (read after `from`) add to the index; `facts` holds the
/// hashes of the jobs that needed one (absent: the job is gone).
pub fn build(
    queue: &str,
    from: Option<String>,
    events: &[StreamEvent],
    facts: &HashMap<String, JobFacts>,
) -> Option<Batch> {
    let to = events.last()?.id.clone();
    let mut batch = Batch {
        queue: queue.to_owned(),
        from,
        to,
        failures: Vec::new(),
        runs: Vec::new(),
        minutes: BTreeMap::new(),
    };
    for e in events {
        let Some(job_id) = e.job_id.as_deref() else {
            continue;
        };
        let fact = facts.get(job_id);
        if let Some(f) = fact
            && let Some(user_id) = f.user_id()
            && matches!(e.event.as_str(), "completed" | "failed")
        {
            let state = if e.event == "completed" {
                "completed"
            } else {
                "failed"
            };
            batch.runs.push(FinishedRun {
                job_id: job_id.to_owned(),
                name: f.name.clone(),
                user_id,
                state,
                at_ms: e.at_ms,
                dedupe: format!("{queue}:{job_id}:{}:{}", f.created_ms.unwrap_or(0), e.id),
            });
        }
        if e.event == "completed" {
            let m = batch.minutes.entry(e.at_ms.div_euclid(60_000)).or_default();
            m.completed += 1;
            if let Some(f) = fact {
                if let (Some(c), Some(p)) = (f.created_ms, f.processed_ms) {
                    m.wait.add((p - c).max(0));
                }
                if let (Some(p), Some(done)) = (f.processed_ms, f.finished_ms) {
                    m.run.add((done - p).max(0));
                }
            }
        } else if e.may_be_failure() {
            match fact {
                Some(f) => batch.failures.extend(failures_of(queue, job_id, f, e)),
                None if e.event == "failed" => batch.failures.push(Failure {
                    job_id: job_id.to_owned(),
                    name: String::new(),
                    user_id: None,
                    message: e.failed_reason.clone().unwrap_or_default(),
                    stacktrace: None,
                    attempt: 0,
                    at_ms: e.at_ms,
                    job_created_ms: None,
                    payload: String::new(),
                    dedupe: format!("{queue}:{job_id}:event:{}", e.id),
                }),
                None => {}
            }
        }
    }
    Some(batch)
}

/// The stored cursor of `queue`.
pub async fn cursor(db: &mut crate::db::Db, queue: &str) -> QResult<Option<String>> {
    let queue = queue.to_owned();
    db_run!(db, |c| job_stream_cursors::table
        .find(&queue)
        .select(job_stream_cursors::last_id)
        .first::<String>(c)
        .await
        .optional())
}

/// Moves the cursor from `from` to `to`; false when it was elsewhere.
async fn advance(tx: &mut Tx<'_>, batch: &Batch, now: PrimitiveDateTime) -> QResult<bool> {
    let (queue, to) = (batch.queue.clone(), batch.to.clone());
    let moved = match batch.from.clone() {
        Some(from) => db_run!(tx, |c| diesel::update(
            job_stream_cursors::table
                .filter(job_stream_cursors::queue.eq(&queue))
                .filter(job_stream_cursors::last_id.eq(&from))
        )
        .set((
            job_stream_cursors::last_id.eq(&to),
            job_stream_cursors::updated_at.eq(now)
        ))
        .execute(c)
        .await)?,
        None => db_run!(tx, |c| diesel::insert_into(job_stream_cursors::table)
            .values((
                job_stream_cursors::queue.eq(&queue),
                job_stream_cursors::last_id.eq(&to),
                job_stream_cursors::updated_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await)?,
    };
    Ok(moved == 1)
}

/// The id of `queue`'s error with this fingerprint, created if new.
async fn error_id(
    tx: &mut Tx<'_>,
    queue: &str,
    print: &str,
    message: &str,
    at: PrimitiveDateTime,
) -> QResult<i64> {
    let (queue, print) = (queue.to_owned(), print.to_owned());
    let found = db_run!(tx, |c| job_errors::table
        .filter(job_errors::queue.eq(&queue))
        .filter(job_errors::fingerprint.eq(&print))
        .select(job_errors::id)
        .first::<i64>(c)
        .await
        .optional())?;
    if let Some(id) = found {
        return Ok(id);
    }
    let message = clip(message, MAX_CHARS);
    db_run!(tx, |c| diesel::insert_into(job_errors::table)
        .values((
            job_errors::queue.eq(&queue),
            job_errors::fingerprint.eq(&print),
            job_errors::message.eq(&message),
            job_errors::failures.eq(0i64),
            job_errors::first_at.eq(at),
            job_errors::last_at.eq(at),
        ))
        .returning(job_errors::id)
        .get_result::<i64>(c)
        .await)
}

/// What a written batch added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub failures: usize,
    pub completed: i64,
}

/// Writes `batch` with its cursor; `None` when another follower moved the
/// cursor first (the caller rolls back and reads again).
pub async fn write(
    tx: &mut Tx<'_>,
    batch: Batch,
    now: PrimitiveDateTime,
) -> QResult<Option<Written>> {
    if !advance(tx, &batch, now).await? {
        return Ok(None);
    }
    let mut minutes = batch.minutes;
    let mut written = Written {
        failures: insert_failures(tx, &batch.queue, batch.failures, &mut minutes).await?,
        completed: 0,
    };
    for r in batch.runs {
        let Some(at) = ms_to_time(r.at_ms) else {
            continue;
        };
        let queue = batch.queue.clone();
        db_run!(tx, |c| diesel::insert_into(job_runs::table)
            .values((
                job_runs::queue.eq(&queue),
                job_runs::job_id.eq(&r.job_id),
                job_runs::job_name.eq(&r.name),
                job_runs::user_id.eq(r.user_id),
                job_runs::state.eq(r.state),
                job_runs::finished_at.eq(at),
                job_runs::dedupe.eq(&r.dedupe),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await)?;
    }
    for (minute, d) in minutes {
        written.completed += d.completed;
        add_minute(tx, &batch.queue, minute, d).await?;
    }
    Ok(Some(written))
}

/// Inserts `failures` (a second record of an attempt is a no-op), counts
/// the new ones in their errors and in `minutes`; how many were new.
async fn insert_failures(
    tx: &mut Tx<'_>,
    queue: &str,
    failures: Vec<Failure>,
    minutes: &mut BTreeMap<i64, MinuteDelta>,
) -> QResult<usize> {
    let mut errors: HashMap<String, i64> = HashMap::new();
    let mut error_counts: HashMap<i64, (i64, PrimitiveDateTime)> = HashMap::new();
    let mut inserted_n = 0usize;
    for f in failures {
        let Some(at) = ms_to_time(f.at_ms) else {
            continue;
        };
        let print = fingerprint(&f.message);
        let eid = match errors.get(&print) {
            Some(id) => *id,
            None => {
                let id = error_id(tx, queue, &print, &f.message, at).await?;
                errors.insert(print, id);
                id
            }
        };
        let queue = queue.to_owned();
        let created = f.job_created_ms.and_then(ms_to_time);
        let inserted = db_run!(tx, |c| diesel::insert_into(job_failures::table)
            .values((
                job_failures::queue.eq(&queue),
                job_failures::job_id.eq(&f.job_id),
                job_failures::job_name.eq(&f.name),
                job_failures::user_id.eq(f.user_id),
                job_failures::error_id.eq(eid),
                job_failures::message.eq(&f.message),
                job_failures::stacktrace.eq(&f.stacktrace),
                job_failures::attempt.eq(f.attempt),
                job_failures::failed_at.eq(at),
                job_failures::job_created_at.eq(created),
                job_failures::payload.eq(&f.payload),
                job_failures::dedupe.eq(&f.dedupe),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await)?;
        if inserted == 1 {
            inserted_n += 1;
            let e = error_counts.entry(eid).or_insert((0, at));
            e.0 += 1;
            e.1 = e.1.max(at);
            minutes
                .entry(f.at_ms.div_euclid(60_000))
                .or_default()
                .failed += 1;
        }
    }
    for (eid, (n, last)) in error_counts {
        db_run!(tx, |c| diesel::update(job_errors::table.find(eid))
            .set(job_errors::failures.eq(job_errors::failures + n))
            .execute(c)
            .await)?;
        db_run!(tx, |c| diesel::update(
            job_errors::table
                .find(eid)
                .filter(job_errors::last_at.lt(last))
        )
        .set(job_errors::last_at.eq(last))
        .execute(c)
        .await)?;
    }
    Ok(inserted_n)
}

/// Failures found by a rescan of the failed set (events trimmed before
/// they were read, or the first start): kept and counted like the others
/// (an attempt already recorded is neither), the cursor untouched.
pub async fn write_rescanned(
    tx: &mut Tx<'_>,
    queue: &str,
    failures: Vec<Failure>,
) -> QResult<usize> {
    let mut minutes = BTreeMap::new();
    let new = insert_failures(tx, queue, failures, &mut minutes).await?;
    for (minute, d) in minutes {
        add_minute(tx, queue, minute, d).await?;
    }
    Ok(new)
}

/// Adds a minute's counts to its row (one follower per queue writes, the
/// cursor guarantees it, so read-then-write is safe).
async fn add_minute(tx: &mut Tx<'_>, queue: &str, minute: i64, d: MinuteDelta) -> QResult<()> {
    let queue = queue.to_owned();
    let row = db_run!(tx, |c| job_minutes::table
        .find((&queue, minute))
        .select((job_minutes::wait_hist, job_minutes::run_hist))
        .first::<(String, String)>(c)
        .await
        .optional())?;
    match row {
        Some((wait, run)) => {
            let mut w = Histogram::parse(&wait);
            w.merge(&d.wait);
            let mut r = Histogram::parse(&run);
            r.merge(&d.run);
            let (w, r) = (w.text(), r.text());
            db_run!(tx, |c| diesel::update(
                job_minutes::table.find((&queue, minute))
            )
            .set((
                job_minutes::completed.eq(job_minutes::completed + d.completed),
                job_minutes::failed.eq(job_minutes::failed + d.failed),
                job_minutes::wait_hist.eq(&w),
                job_minutes::run_hist.eq(&r),
            ))
            .execute(c)
            .await)?;
        }
        None => {
            let (w, r) = (d.wait.text(), d.run.text());
            db_run!(tx, |c| diesel::insert_into(job_minutes::table)
                .values((
                    job_minutes::queue.eq(&queue),
                    job_minutes::minute.eq(minute),
                    job_minutes::completed.eq(d.completed),
                    job_minutes::failed.eq(d.failed),
                    job_minutes::wait_hist.eq(&w),
                    job_minutes::run_hist.eq(&r),
                ))
                .execute(c)
                .await)?;
        }
    }
    Ok(())
}
