//! The daily retention purge of the audit trail (a scheduled task, enqueued
//! only when `SOWAT_AUDIT_RETENTION_DAYS` is set): slices of the oldest
//! events, each its own transaction and its own audit event
//! (`audit::retention`), until nothing older than the retention is left.

use std::sync::Arc;

use serde::Deserialize;

use crate::audit::retention;
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;

/// Events removed per transaction: short enough not to hold SQLite's write
/// lock (or the chain's head on PostgreSQL) for long.
const SLICE: i64 = 5_000;

#[derive(Deserialize)]
struct Payload {
    keep_days: u32,
}

pub fn handler() -> Handler {
    Arc::new(|run| Box::pin(purge(run)))
}

async fn purge(mut run: Run) -> Result<Done, TaskError> {
    let Payload { keep_days } = run.payload()?;
    let mut removed = 0i64;
    loop {
        let now = run.now();
        let cutoff = now - time::Duration::days(i64::from(keep_days));
        let slice = run
            .step(move |tx| {
                Box::pin(async move {
                    let slice = retention::purge_slice(tx, now, cutoff, SLICE).await?;
                    let advance = Advance {
                        done: slice.as_ref().map_or(0, |s| s.events),
                        step: Some("task.step.purging"),
                        ..Advance::default()
                    };
                    Ok((slice, advance))
                })
            })
            .await?;
        match slice {
            Some(s) => {
                removed += s.events;
                tracing::info!(events = s.events, to_link = s.to_seq, "audit events purged");
            }
            None => {
                return Ok(Done {
                    result: Some(serde_json::json!({ "removed": removed, "keep_days": keep_days })),
                });
            }
        }
    }
}
