//! Reads: the audit trail by keyset, and the dashboard's figures.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{audit_events, sessions, users};
use crate::db::types::{ActorType, Outcome};

type QResult<T> = Result<T, diesel::result::Error>;

/// An audit event as listed.
pub type EventRow = (
    i64,
    PrimitiveDateTime,
    ActorType,
    String,
    String,
    Option<String>,
    Option<String>,
    Outcome,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

macro_rules! event_columns {
    () => {
        (
            audit_events::id,
            audit_events::at,
            audit_events::actor_type,
            audit_events::actor_label,
            audit_events::action,
            audit_events::target_type,
            audit_events::target_id,
            audit_events::outcome,
            audit_events::ip,
            audit_events::client_id,
            audit_events::request_id,
            audit_events::details,
        )
    };
}

/// The `n` latest events.
pub async fn latest(db: &mut Db, n: i64) -> QResult<Vec<EventRow>> {
    crate::db_run!(db, |c| audit_events::table
        .order(audit_events::id.desc())
        .select(event_columns!())
        .limit(n)
        .load(c)
        .await)
}

/// Events newest first, older than `before` (an id), with this outcome and
/// action if given: at most `limit`.
pub async fn events(
    db: &mut Db,
    outcome: Option<Outcome>,
    action: &str,
    before: Option<i64>,
    limit: i64,
) -> QResult<Vec<EventRow>> {
    crate::db_run!(db, |c| {
        let mut q = audit_events::table
            .order(audit_events::id.desc())
            .select(event_columns!())
            .limit(limit)
            .into_boxed();
        if let Some(o) = outcome {
            q = q.filter(audit_events::outcome.eq(o));
        }
        if !action.is_empty() {
            q = q.filter(audit_events::action.eq(action.to_owned()));
        }
        if let Some(b) = before {
            q = q.filter(audit_events::id.lt(b));
        }
        q.load(c).await
    })
}

/// The number of users without counting a million rows: PostgreSQL's own
/// estimate, SQLite's highest id (close enough for a dashboard figure).
pub async fn approximate_users(db: &mut Db) -> QResult<i64> {
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Estimate {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = if db.is_sqlite() {
        "SELECT COALESCE(MAX(id), 0) AS n FROM users"
    } else {
        "SELECT GREATEST(reltuples, 0)::bigint AS n FROM pg_class WHERE relname = 'users'"
    };
    let estimate: Option<Estimate> = crate::db_run!(db, |c| diesel::sql_query(sql)
        .get_result(c)
        .await
        .optional())?;
    let n = estimate.map(|e| e.n).unwrap_or(0);
    // A fresh table has no statistics yet: small enough to count.
    if n < 10_000 {
        return crate::db_run!(db, |c| users::table
            .filter(users::deleted_at.is_null())
            .count()
            .get_result(c)
            .await);
    }
    Ok(n)
}

/// Signed-in sessions seen since `since`.
pub async fn live_sessions(db: &mut Db, since: PrimitiveDateTime) -> QResult<i64> {
    crate::db_run!(db, |c| sessions::table
        .filter(sessions::user_id.is_not_null())
        .filter(sessions::last_seen_at.ge(since))
        .count()
        .get_result(c)
        .await)
}

/// Denied accesses since `since`.
pub async fn denied_since(db: &mut Db, since: PrimitiveDateTime) -> QResult<i64> {
    crate::db_run!(db, |c| audit_events::table
        .filter(audit_events::at.ge(since))
        .filter(audit_events::outcome.eq("denied"))
        .count()
        .get_result(c)
        .await)
}
