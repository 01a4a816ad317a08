//! Reads: the user's live sessions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::sessions;

/// A session as listed: id hash, address, browser, created, last seen, second factor at.
pub type SessionRow = (
    String,
    Option<String>,
    Option<String>,
    PrimitiveDateTime,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

/// The user's sessions seen since `idle_cutoff`, most recent first.
pub async fn live(
    db: &mut Db,
    user_id: i64,
    idle_cutoff: PrimitiveDateTime,
) -> Result<Vec<SessionRow>, diesel::result::Error> {
    crate::db_run!(db, |c| sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::last_seen_at.ge(idle_cutoff))
        .order(sessions::last_seen_at.desc())
        .select((
            sessions::id_hash,
            sessions::ip,
            sessions::user_agent,
            sessions::created_at,
            sessions::last_seen_at,
            sessions::mfa_at
        ))
        .limit(200)
        .load(c)
        .await)
}
