//! One round of the follower: for each queue, batches of events after the
//! stored cursor until the stream's end. Run every half second on every
//! instance; on PostgreSQL an advisory lock lets one instance at a time do
//! the reading (the cursor's compare-and-set keeps counts exact anyway,
//! and is all SQLite needs).

use std::time::Duration;

use super::follow::{self, StreamEvent};
use super::record::{self, Written};
use crate::clock::Clock;
use crate::db::Pool;
use crate::db::locks::{self, Lock};
use crate::jobs::{JobsError, JobsLink};

/// Events read per batch (one transaction each).
pub const BATCH: usize = 500;
/// A Redis round trip of the follower may take this long (it is not a page).
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error("database: {0}")]
    Db(String),
}

impl From<diesel::result::Error> for FollowError {
    fn from(e: diesel::result::Error) -> Self {
        FollowError::Db(e.to_string())
    }
}

impl From<crate::db::DbError> for FollowError {
    fn from(e: crate::db::DbError) -> Self {
        FollowError::Db(e.to_string())
    }
}

async fn bounded<T>(
    work: impl std::future::Future<Output = Result<T, JobsError>>,
) -> Result<T, JobsError> {
    tokio::time::timeout(REDIS_TIMEOUT, work)
        .await
        .unwrap_or(Err(JobsError::Unavailable))
}

/// Follows every queue to the end of its stream; what was added.
pub async fn round(pool: &Pool, clock: &Clock, link: &JobsLink) -> Result<Written, FollowError> {
    let ready = link.ready()?;
    let Some(lock) = locks::try_acquire(pool, Lock::JobsFollower).await? else {
        return Ok(Written::default());
    };
    let mut total = Written::default();
    let mut outcome = Ok(());
    for q in &ready.queues {
        match queue(pool, clock, &ready.conn, q).await {
            Ok(w) => {
                total.failures += w.failures;
                total.completed += w.completed;
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    lock.release().await;
    outcome.map(|()| total)
}

/// Failed jobs looked at by a rescan, newest first.
pub const RESCAN: isize = 10_000;

/// Records the failures of the failed set's newest [`RESCAN`] jobs (an
/// attempt already recorded is left as it is); how many were new.
async fn rescan(
    pool: &Pool,
    redis: &mut bullmq::redis_connection::AnyConnection,
    q: &bullmq::Queue,
) -> Result<usize, FollowError> {
    let name = q.name().to_owned();
    let key_prefix = q.keys().key_prefix();
    let ids: Vec<String> = bounded(async {
        redis::cmd("ZREVRANGE")
            .arg(q.keys().failed())
            .arg(0)
            .arg(RESCAN - 1)
            .query_async::<Vec<String>>(&mut *redis)
            .await
            .map_err(JobsError::from)
    })
    .await?;
    let mut new = 0;
    for chunk in ids.chunks(BATCH) {
        let facts = bounded(follow::facts(redis, &key_prefix, chunk)).await?;
        let failures: Vec<record::Failure> = chunk
            .iter()
            .filter_map(|id| {
                facts
                    .get(id)
                    .map(|f| record::failures_from_hash(&name, id, f))
            })
            .flatten()
            .collect();
        let mut db = pool.get().await?;
        let queue = name.clone();
        new += db
            .transaction(|tx| {
                Box::pin(async move { record::write_rescanned(tx, &queue, failures).await })
            })
            .await?;
    }
    Ok(new)
}

async fn queue(
    pool: &Pool,
    clock: &Clock,
    conn: &bullmq::redis_connection::RedisConnection,
    q: &bullmq::Queue,
) -> Result<Written, FollowError> {
    let name = q.name().to_owned();
    let events_key = q.keys().events();
    let key_prefix = q.keys().key_prefix();
    let mut redis = conn.connection();
    let mut total = Written::default();
    let mut checked_gap = false;
    loop {
        let mut db = pool.get().await?;
        let from = record::cursor(&mut db, &name).await?;
        let after = from.clone().unwrap_or_else(|| "0".to_owned());
        if !checked_gap {
            checked_gap = true;
            if let Some(first) = bounded(follow::first_id(&mut redis, &events_key)).await?
                && from.as_deref().is_none_or(|f| follow::before(f, &first))
            {
                // Events we had not read were trimmed (the stream keeps
                // ~10,000), or this is the first start: the failed set
                // still holds the failures, read from their hashes. The
                // trimmed events' per-minute counts are lost.
                if from.is_some() {
                    tracing::warn!(queue = %name, cursor = %after, first = %first, "events were trimmed before the index read them; rescanning the failed set");
                }
                total.failures += rescan(pool, &mut redis, q).await?;
            }
        }
        let events: Vec<StreamEvent> =
            bounded(follow::read_after(&mut redis, &events_key, &after, BATCH)).await?;
        if events.is_empty() {
            return Ok(total);
        }
        let mut need: Vec<String> = events
            .iter()
            .filter(|e| e.event == "completed" || e.may_be_failure())
            .filter_map(|e| e.job_id.clone())
            .collect();
        need.sort();
        need.dedup();
        let facts = bounded(follow::facts(&mut redis, &key_prefix, &need)).await?;
        let full = events.len() == BATCH;
        let Some(batch) = record::build(&name, from, &events, &facts) else {
            return Ok(total);
        };
        let now = clock.now_primitive();
        let written = db
            .transaction(|tx| Box::pin(async move { record::write(tx, batch, now).await }))
            .await?;
        match written {
            Some(w) => {
                total.failures += w.failures;
                total.completed += w.completed;
            }
            // Another follower moved on: read again from where it is.
            None => continue,
        }
        if !full {
            return Ok(total);
        }
    }
}
