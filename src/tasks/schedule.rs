//! Scheduled work: every period, the kinds in [`Kind::SCHEDULED`] are
//! enqueued once for the current slot. The slot key makes a second
//! enqueue (another instance, a restart) a no-op; the caller also runs
//! this on one instance at a time.

use std::time::Duration;

use serde_json::json;
use time::PrimitiveDateTime;

use super::{Kind, NewTask, store};
use crate::db::Db;

/// Enqueues this slot's scheduled tasks; returns how many were new.
pub async fn enqueue_due(
    db: &mut Db,
    now: PrimitiveDateTime,
    period: Duration,
) -> Result<usize, diesel::result::Error> {
    let slot = now.assume_utc().unix_timestamp() / period.as_secs().max(1) as i64;
    let mut added = 0;
    for &kind in Kind::SCHEDULED {
        let mut task = NewTask::new(kind, json!({}), now);
        task.dedupe_key = Some(match kind {
            // Once per month, for the month that ended (an unclosed month
            // is found again at every slot until its task has run).
            Kind::UsagePeriodClose => {
                let d = now.date();
                let (y, m) = if d.month() == time::Month::January {
                    (d.year() - 1, 12)
                } else {
                    (d.year(), d.month() as u8 - 1)
                };
                task.payload = json!({ "period": format!("{y:04}-{m:02}") });
                format!("{}@{y:04}-{m:02}", kind.key())
            }
            _ => format!("{}@{slot}", kind.key()),
        });
        if store::enqueue_once(db, task, now).await? {
            added += 1;
        }
    }
    Ok(added)
}

/// Enqueues today's audit retention purge (keeping `keep_days` days), once
/// per day; returns whether it was new. Only when a retention is set: the
/// default keeps every event, and schedules nothing.
pub async fn enqueue_audit_purge(
    db: &mut Db,
    now: PrimitiveDateTime,
    keep_days: u32,
) -> Result<bool, diesel::result::Error> {
    let mut task = NewTask::new(Kind::AuditPurge, json!({ "keep_days": keep_days }), now);
    task.dedupe_key = Some(format!("{}@{}", Kind::AuditPurge.key(), now.date()));
    store::enqueue_once(db, task, now).await
}
