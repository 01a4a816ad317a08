//! Reading a queue's event stream: a batch of events after the cursor,
//! and for those that need it the job's hash (times for a completion, the
//! stack traces for a failure), all in two round trips. What BullMQ puts
//! in the stream (checked against Node's bullmq 6): `completed` with the
//! return value; `failed` on the final failure only; a retried attempt
//! shows as `delayed` (with backoff) or `waiting` with `prev` = `active`.

use std::collections::HashMap;

use redis::aio::ConnectionLike;

use super::fingerprint::clip;
use crate::jobs::JobsError;
use crate::jobs::read::user_id_of;

/// The payload excerpt kept with a failure, in characters.
pub const PAYLOAD_CHARS: usize = 2_000;
/// Stack traces are kept up to this many characters each.
pub const STACK_CHARS: usize = 8_000;

/// One entry of the stream.
#[derive(Clone, Debug)]
pub struct StreamEvent {
    pub id: String,
    pub at_ms: i64,
    pub event: String,
    pub job_id: Option<String>,
    pub prev: Option<String>,
    pub failed_reason: Option<String>,
}

impl StreamEvent {
    /// Events after which a failed attempt may be in the job's hash.
    pub fn may_be_failure(&self) -> bool {
        match self.event.as_str() {
            "failed" | "delayed" => true,
            "waiting" => self.prev.as_deref() == Some("active"),
            _ => false,
        }
    }
}

/// The fields of a job's hash the index reads.
#[derive(Clone, Debug, Default)]
pub struct JobFacts {
    pub name: String,
    pub data: String,
    pub created_ms: Option<i64>,
    pub processed_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub attempts_made: i64,
    pub failed_reason: String,
    pub stacktraces: Vec<String>,
}

impl JobFacts {
    pub fn user_id(&self) -> Option<i64> {
        serde_json::from_str(&self.data)
            .ok()
            .as_ref()
            .and_then(user_id_of)
    }

    pub fn payload_excerpt(&self) -> String {
        clip(&self.data, PAYLOAD_CHARS)
    }
}

/// A stream id's milliseconds ("1796389128612-0").
fn ms_of(id: &str) -> i64 {
    id.split('-')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Up to `count` events after `cursor` (exclusive; "0" for the start).
pub async fn read_after<C: ConnectionLike>(
    conn: &mut C,
    events_key: &str,
    cursor: &str,
    count: usize,
) -> Result<Vec<StreamEvent>, JobsError> {
    let start = if cursor == "0" {
        "-".to_owned()
    } else {
        format!("({cursor}")
    };
    let raw: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(events_key)
        .arg(start)
        .arg("+")
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await?;
    Ok(raw
        .into_iter()
        .map(|(id, fields)| {
            let mut map: HashMap<String, String> = HashMap::new();
            let mut it = fields.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                map.insert(k, v);
            }
            StreamEvent {
                at_ms: ms_of(&id),
                id,
                event: map.remove("event").unwrap_or_default(),
                job_id: map.remove("jobId"),
                prev: map.remove("prev"),
                failed_reason: map.remove("failedReason"),
            }
        })
        .collect())
}

/// The stream's first id, to see whether events after the cursor were
/// trimmed away before they were read.
pub async fn first_id<C: ConnectionLike>(
    conn: &mut C,
    events_key: &str,
) -> Result<Option<String>, JobsError> {
    let raw: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(events_key)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(raw.into_iter().next().map(|(id, _)| id))
}

/// Whether stream id `a` is before `b`.
pub fn before(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        let mut p = s.split('-');
        (
            p.next().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0),
            p.next().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0),
        )
    };
    parse(a) < parse(b)
}

const FIELDS: &[&str] = &[
    "name",
    "data",
    "timestamp",
    "processedOn",
    "finishedOn",
    "atm",
    "failedReason",
    "stacktrace",
];

/// The hashes of `ids` (one pipeline); a job already removed is absent.
pub async fn facts<C: ConnectionLike>(
    conn: &mut C,
    key_prefix: &str,
    ids: &[String],
) -> Result<HashMap<String, JobFacts>, JobsError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.cmd("HMGET")
            .arg(format!("{key_prefix}{id}"))
            .arg(FIELDS);
    }
    let rows: Vec<Vec<Option<String>>> = pipe.query_async(conn).await?;
    let mut out = HashMap::with_capacity(ids.len());
    for (id, row) in ids.iter().zip(rows) {
        let get = |i: usize| row.get(i).cloned().flatten();
        let Some(name) = get(0) else { continue };
        let num = |i: usize| get(i).and_then(|v| v.parse::<i64>().ok());
        let stacktraces = get(7)
            .and_then(|s| serde_json::from_str::<Vec<String>>(&s).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|s| clip(&s, STACK_CHARS))
            .collect();
        out.insert(
            id.clone(),
            JobFacts {
                name,
                data: get(1).unwrap_or_default(),
                created_ms: num(2),
                processed_ms: num(3),
                finished_ms: num(4),
                attempts_made: num(5).unwrap_or(0),
                failed_reason: get(6).unwrap_or_default(),
                stacktraces,
            },
        );
    }
    Ok(out)
}

/// "Error: OpenAI timeout" → "OpenAI timeout": a stack's first line
/// without the error class, as Node's `err.message` reads.
pub fn message_of_stack(stack: &str) -> String {
    let first = stack.lines().next().unwrap_or("").trim();
    match first.split_once(": ") {
        Some((class, rest))
            if class.ends_with("Error") && !class.contains(' ') && !rest.is_empty() =>
        {
            rest.to_owned()
        }
        _ => first.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_and_messages() {
        assert!(before("1796389128612-0", "1796389128612-1"));
        assert!(before("999-5", "1000-0"));
        assert!(!before("1000-0", "1000-0"));
        assert_eq!(ms_of("1796389128612-3"), 1_796_389_128_612);
        assert_eq!(
            message_of_stack("Error: OpenAI timeout\n    at x"),
            "OpenAI timeout"
        );
        assert_eq!(
            message_of_stack("TypeError: x is undefined"),
            "x is undefined"
        );
        assert_eq!(
            message_of_stack("Something odd: here"),
            "Something odd: here"
        );
    }
}
