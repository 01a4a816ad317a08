//! The periodic check of the audit trail's hash chain (a scheduled task):
//! each run walks what was added since the last sound link, and the whole
//! chain once a day; the verdict is kept in `shared_state` for the audit
//! page, which shows it without walking anything itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::chain::{self, Verdict};
use crate::db::{Db, shared_state};
use crate::tasks::runner::{Done, Handler, Run, TaskError};

const STATE: &str = "audit.chain";

/// A whole walk at least this often; runs in between check the new links.
const WHOLE_EVERY: time::Duration = time::Duration::hours(24);

/// The last check, as the audit page shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainStatus {
    pub checked_at: i64,
    pub whole_at: i64,
    /// Events the last whole walk checked.
    pub events: i64,
    pub verdict: Verdict,
}

impl ChainStatus {
    pub fn checked(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp(self.checked_at).ok()
    }
}

pub async fn status(db: &mut Db) -> Result<Option<ChainStatus>, diesel::result::Error> {
    Ok(shared_state::get(db, STATE)
        .await?
        .and_then(|s| serde_json::from_str(&s).ok()))
}

pub fn handler() -> Handler {
    Arc::new(|run| Box::pin(check(run)))
}

async fn check(run: Run) -> Result<Done, TaskError> {
    let now = run.clock.now();
    let mut db = run.pool.get().await?;
    let last = status(&mut db).await?;
    // From the last sound link, unless a whole walk is due or the last
    // check found a break (walked again whole until it is explained).
    let from = last.as_ref().filter(|s| {
        s.verdict.ok() && now.unix_timestamp() - s.whole_at < WHOLE_EVERY.whole_seconds()
    });
    let verdict = chain::verify_from(
        &mut db,
        from.map(|s| (s.verdict.head_seq, s.verdict.head_hash.clone())),
    )
    .await?;
    let status = ChainStatus {
        checked_at: now.unix_timestamp(),
        whole_at: match from {
            Some(s) => s.whole_at,
            None => now.unix_timestamp(),
        },
        events: from.map_or(verdict.events, |s| s.events + verdict.events),
        verdict: match (from, verdict.events) {
            // Nothing new: the last sound link stays the head.
            (Some(s), 0) if verdict.ok() => s.verdict.clone(),
            _ => verdict,
        },
    };
    match &status.verdict.broken {
        None => tracing::info!(
            events = status.events,
            head = status.verdict.head_seq,
            "audit chain verified"
        ),
        Some(b) => tracing::error!(id = b.id, reason = %b.reason, "audit chain BROKEN"),
    }
    let text = serde_json::to_string(&status).map_err(|e| TaskError::Fail(e.to_string()))?;
    shared_state::set(&mut db, STATE, &text).await?;
    Ok(Done {
        result: Some(serde_json::json!({
            "ok": status.verdict.ok(),
            "events": status.events,
            "head": status.verdict.head_seq,
        })),
    })
}
