//! Reads: the audit trail by keyset, and the dashboard's figures.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{audit_events, sessions, users};

type QResult<T> = Result<T, diesel::result::Error>;

/// The id of the user with this address, if any (the audit trail's actor
/// filter accepts an address).
pub async fn user_id_by_email(db: &mut Db, email: &str) -> QResult<Option<i64>> {
    crate::db_run!(db, |c| users::table
        .filter(users::email_lower.eq(email.trim().to_lowercase()))
        .select(users::id)
        .first(c)
        .await
        .optional())
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
