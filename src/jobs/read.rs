//! What the screens read of the queues: counts per state, workers, pause,
//! the oldest waiting job; a page of jobs in one state; one job whole.
//! Every read of a page runs inside one [`JobsLink::call`] bound.

use bullmq::Queue;
use serde_json::Value;

use super::link::{JobsError, JobsLink};

pub struct QueueOverview {
    pub name: String,
    /// In [`super::STATES`] order.
    pub counts: Vec<(&'static str, u64)>,
    pub workers: usize,
    pub paused: bool,
    /// When the job waiting longest was created (ms since the epoch).
    pub oldest_waiting_ms: Option<i64>,
}

impl QueueOverview {
    pub fn count(&self, state: &str) -> u64 {
        self.counts
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    }
}

async fn overview_of(q: &Queue) -> Result<QueueOverview, JobsError> {
    let keys = q.keys();
    let oldest = async {
        let mut conn = q.connection().connection();
        // BullMQ pushes new jobs on the left: the oldest is the last.
        let id: Option<String> = redis::cmd("LINDEX")
            .arg(keys.wait())
            .arg(-1)
            .query_async(&mut conn)
            .await?;
        let Some(id) = id else {
            return Ok::<_, redis::RedisError>(None);
        };
        let ts: Option<i64> = redis::cmd("HGET")
            .arg(keys.job_key(&id))
            .arg("timestamp")
            .query_async(&mut conn)
            .await?;
        Ok(ts)
    };
    let (counts, workers, paused, oldest) = tokio::join!(
        q.get_job_counts(),
        q.get_workers_count(),
        q.is_paused(),
        oldest
    );
    let c = counts?;
    let paused = paused?;
    Ok(QueueOverview {
        name: q.name().to_owned(),
        counts: vec![
            // BullMQ 5+ keeps a paused queue's jobs in `wait`; older
            // versions move them to `paused`: show both as they are.
            ("waiting", c.waiting),
            ("prioritized", c.prioritized),
            ("delayed", c.delayed),
            ("active", c.active),
            ("completed", c.completed),
            ("failed", c.failed),
            ("paused", c.paused),
        ],
        workers: workers?,
        paused,
        oldest_waiting_ms: oldest?,
    })
}

/// Every configured queue's overview, read at once within one bound.
pub async fn overview(link: &JobsLink) -> Result<Vec<QueueOverview>, JobsError> {
    let ready = link.ready()?;
    JobsLink::call(async {
        let reads = ready.queues.iter().map(overview_of);
        futures_util::future::join_all(reads)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, JobsError>>()
    })
    .await
}

/// A job as a list shows it.
pub struct JobLine {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub attempts_made: u32,
    pub failed_reason: String,
    pub user_id: Option<i64>,
}

/// The payload's `userId` (a number or a numeric string), the link to a user page.
pub fn user_id_of(data: &Value) -> Option<i64> {
    match data.get("userId")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

/// One page of a state's jobs and how many the state holds: ids by rank
/// from BullMQ's list or sorted set, then the fields a list shows for each
/// (one pipeline), rather than every job whole. Finished jobs newest
/// first, waiting and scheduled ones in the order they will run.
pub async fn page(
    link: &JobsLink,
    queue: &str,
    state: &str,
    offset: u64,
    size: u64,
) -> Result<(Vec<JobLine>, u64), JobsError> {
    let q = link.queue(queue)?;
    let keys = q.keys();
    let (key, sorted, newest_first) = match state {
        "waiting" => (keys.wait(), false, false),
        "paused" => (keys.paused(), false, false),
        "active" => (keys.active(), false, false),
        "delayed" => (keys.delayed(), true, false),
        "prioritized" => (keys.prioritized(), true, false),
        "completed" => (keys.completed(), true, true),
        "failed" => (keys.failed(), true, true),
        _ => return Err(JobsError::NotFound),
    };
    let prefix = keys.key_prefix();
    let (start, end) = (offset as i64, (offset + size) as i64 - 1);
    JobsLink::call(async {
        let mut conn = q.connection().connection();
        let mut pipe = redis::pipe();
        if sorted {
            pipe.cmd(if newest_first { "ZREVRANGE" } else { "ZRANGE" })
                .arg(&key)
                .arg(start)
                .arg(end);
            pipe.cmd("ZCARD").arg(&key);
        } else {
            // Lists are pushed on the left: the next to run is the last.
            pipe.cmd("LRANGE").arg(&key).arg(-end - 1).arg(-start - 1);
            pipe.cmd("LLEN").arg(&key);
        }
        let (mut ids, total): (Vec<String>, u64) = pipe.query_async(&mut conn).await?;
        if !sorted {
            ids.reverse();
        }
        if ids.is_empty() {
            return Ok::<_, JobsError>((Vec::new(), total));
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET").arg(format!("{prefix}{id}")).arg(&[
                "name",
                "timestamp",
                "finishedOn",
                "atm",
                "failedReason",
                "data",
            ]);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await?;
        let lines = ids
            .into_iter()
            .zip(rows)
            .map(|(id, r)| {
                let get = |i: usize| r.get(i).cloned().flatten();
                let num = |i: usize| get(i).and_then(|v| v.parse::<i64>().ok());
                JobLine {
                    id,
                    name: get(0).unwrap_or_default(),
                    created_ms: num(1).unwrap_or(0),
                    finished_ms: num(2),
                    attempts_made: num(3).unwrap_or(0).max(0) as u32,
                    failed_reason: get(4).unwrap_or_default(),
                    user_id: get(5)
                        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                        .as_ref()
                        .and_then(user_id_of),
                }
            })
            .collect();
        Ok((lines, total))
    })
    .await
}

/// One job whole, as its page shows it.
pub struct JobDetail {
    pub queue: String,
    pub id: String,
    pub name: String,
    pub state: String,
    pub data: Value,
    pub opts: Value,
    pub created_ms: i64,
    pub processed_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub attempts_made: u32,
    pub attempts_allowed: u64,
    pub backoff: Option<Value>,
    pub return_value: Option<Value>,
    pub failed_reason: String,
    /// Oldest first, one per failed attempt BullMQ kept.
    pub stacktraces: Vec<String>,
    pub logs: Vec<String>,
    pub log_count: usize,
    pub user_id: Option<i64>,
}

/// BullMQ stores JSON inside strings (`stacktrace`, `returnvalue`).
fn json_in_string(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => {
            Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())))
        }
        Value::Null => None,
        other => Some(other.clone()),
    }
}

/// The log lines shown on a job page (the newest, when there are more).
pub const LOG_LINES: isize = 200;

pub async fn job(link: &JobsLink, queue: &str, id: &str) -> Result<JobDetail, JobsError> {
    let q = link.queue(queue)?;
    JobsLink::call(async {
        let Some(job) = q.get_job(id).await? else {
            return Err(JobsError::NotFound);
        };
        let (state, logs) = tokio::join!(
            q.get_job_state(id),
            q.get_job_logs(id, -LOG_LINES, -1, true)
        );
        let (logs, log_count) = logs?;
        let raw = serde_json::to_value(&job).map_err(|e| JobsError::Redis(e.to_string()))?;
        let opts = raw.get("opts").cloned().unwrap_or(Value::Null);
        let stacktraces = match json_in_string(raw.get("stacktrace")) {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Ok(JobDetail {
            queue: queue.to_owned(),
            id: job.id().to_owned(),
            name: job.name().to_owned(),
            state: state_word(state?.as_str()).to_owned(),
            data: job.data().clone(),
            attempts_allowed: opts
                .get("attempts")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1),
            backoff: opts.get("backoff").filter(|b| !b.is_null()).cloned(),
            opts,
            created_ms: job.timestamp() as i64,
            processed_ms: job.processed_on().map(|t| t as i64),
            finished_ms: job.finished_on().map(|t| t as i64),
            attempts_made: job.attempts_made(),
            return_value: json_in_string(raw.get("returnvalue")),
            failed_reason: job.failed_reason().to_owned(),
            stacktraces,
            logs,
            log_count,
            user_id: user_id_of(job.data()),
        })
    })
    .await
}

/// BullMQ's epoch milliseconds as UTC time.
pub fn at_ms(ms: i64) -> Option<time::PrimitiveDateTime> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    Some(time::PrimitiveDateTime::new(t.date(), t.time()))
}

/// BullMQ's key suffix back to the state word the screens use.
pub fn state_word(s: &str) -> &str {
    match s {
        "wait" => "waiting",
        other => other,
    }
}
