//! Writes: ending one of one's own sessions.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::audit::Event;
use crate::change::{By, ChangeResult};
use crate::db::Tx;
use crate::db::schema::sessions;

/// Deletes the session `handle` of `user_id` (its cookie is dead at once),
/// audited; returns whether there was one.
pub async fn end_session(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    handle: &str,
) -> ChangeResult<bool> {
    let n = crate::db_run!(tx, |c| diesel::delete(
        sessions::table
            .filter(sessions::id_hash.eq(handle))
            .filter(sessions::user_id.eq(user_id))
    )
    .execute(c)
    .await)?;
    if n > 0 {
        let ev = Event::session_ended()
            .target("session", &handle[..12.min(handle.len())])
            .details(serde_json::json!({ "user_id": user_id }));
        by.record(tx, ev).await?;
    }
    Ok(n > 0)
}
