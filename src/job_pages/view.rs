//! What the jobs screens share: times from BullMQ's milliseconds, a
//! problem with Redis in words, the paths' parts checked.

use serde::Deserialize;
use time::OffsetDateTime;

use crate::jobs::JobsError;
use crate::web::format::{date_time_seconds, duration};
use crate::web::layout::PageCtx;

pub use crate::jobs::read::at_ms;

pub fn when_ms(ms: Option<i64>) -> String {
    ms.and_then(at_ms)
        .map(date_time_seconds)
        .unwrap_or_default()
}

/// "3 min 05 s" since `ms`, at `now`.
pub fn age_ms(ms: Option<i64>, now: OffsetDateTime) -> String {
    match ms {
        Some(ms) => duration(((now.unix_timestamp_nanos() / 1_000_000) as i64 - ms) / 1000),
        None => String::new(),
    }
}

/// Why a jobs screen has nothing to show, in the reader's language.
pub fn problem(ctx: &PageCtx, e: &JobsError) -> String {
    ctx.tr(e.key()).to_owned()
}

/// `/admin/jobs/{queue}/job/{job}`: both parts as BullMQ allows them
/// (bounded; the queue must be configured, checked by the link).
#[derive(Deserialize)]
pub struct JobPath {
    pub queue: String,
    pub job: String,
}

impl JobPath {
    pub fn ok(&self) -> bool {
        !self.queue.is_empty()
            && self.queue.len() <= 100
            && !self.job.is_empty()
            && self.job.len() <= 200
            && !self.job.contains(':')
    }
}

#[derive(Deserialize)]
pub struct QueuePath {
    pub queue: String,
}

/// A job page's address.
pub fn job_href(queue: &str, id: &str) -> String {
    format!("/admin/jobs/{}/job/{}", urlencoding(queue), urlencoding(id))
}

pub fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Pretty JSON for a page.
pub fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
