//! Sessions ended by staff, each audited with whose they were.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::audit::Event;
use crate::change::{By, ChangeResult};
use crate::db::Tx;
use crate::db::schema::sessions;
use crate::db_run;

/// Ends session `handle`, whoever's it is; its user, when there was one.
pub async fn end_one(tx: &mut Tx<'_>, by: &By, handle: &str) -> ChangeResult<Option<i64>> {
    let h = handle.to_owned();
    let owner: Option<Option<i64>> = db_run!(tx, |c| sessions::table
        .find(&h)
        .select(sessions::user_id)
        .first(c)
        .await
        .optional())?;
    let Some(owner) = owner else { return Ok(None) };
    db_run!(tx, |c| diesel::delete(sessions::table.find(&h))
        .execute(c)
        .await)?;
    let ev = Event::session_ended()
        .target("session", &handle[..12.min(handle.len())])
        .details(json!({ "user_id": owner, "by_staff": true }));
    by.record(tx, ev).await?;
    Ok(Some(owner.unwrap_or(0)))
}

/// Ends every session of `user_id` (but `keep`, one's own); how many.
pub async fn end_all_of(tx: &mut Tx<'_>, by: &By, user_id: i64, keep: &str) -> ChangeResult<usize> {
    let keep = keep.to_owned();
    let n = db_run!(tx, |c| diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id_hash.ne(&keep))
    )
    .execute(c)
    .await)?;
    let ev = Event::session_ended()
        .target("user", user_id)
        .details(json!({ "sessions": n, "by_staff": true }));
    by.record(tx, ev).await?;
    Ok(n)
}

/// Ends every session of every user but `keep` (the one in use); how many.
pub async fn end_all_but(tx: &mut Tx<'_>, by: &By, keep: &str) -> ChangeResult<usize> {
    let keep = keep.to_owned();
    let n = db_run!(tx, |c| diesel::delete(
        sessions::table.filter(sessions::id_hash.ne(&keep))
    )
    .execute(c)
    .await)?;
    let ev = Event::session_ended()
        .details(json!({ "sessions": n, "everyone_but": "the author's own", "by_staff": true }));
    by.record(tx, ev).await?;
    Ok(n)
}
