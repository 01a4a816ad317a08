//! Writes to one's own account: sessions ended, password changed,
//! recovery codes replaced; each with its audit event.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::audit::{Action, Event};
use crate::change::{By, ChangeResult};
use crate::db::Tx;
use crate::db::schema::{sessions, users};

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

/// Deletes every session of `user_id` but `keep`; returns how many.
async fn delete_other_sessions(tx: &mut Tx<'_>, user_id: i64, keep: &str) -> ChangeResult<usize> {
    Ok(crate::db_run!(tx, |c| diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id_hash.ne(keep))
    )
    .execute(c)
    .await)?)
}

/// Ends every session of `user_id` but `keep` (the one in use), audited
/// with the count; returns how many ended.
pub async fn end_other_sessions(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    keep: &str,
) -> ChangeResult<usize> {
    let n = delete_other_sessions(tx, user_id, keep).await?;
    if n > 0 {
        let ev = Event::session_ended()
            .target("user", user_id)
            .details(serde_json::json!({ "sessions": n, "kept": "current" }));
        by.record(tx, ev).await?;
    }
    Ok(n)
}

/// A new password (already checked and hashed); every other session ends,
/// so a thief holding one is out. Audited with the count.
pub async fn change_password(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    hash: &str,
    keep: &str,
) -> ChangeResult<usize> {
    crate::db_run!(tx, |c| diesel::update(users::table.find(user_id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(by.now)))
        .execute(c)
        .await)?;
    let n = delete_other_sessions(tx, user_id, keep).await?;
    let ev = Event::new(Action::PasswordChanged)
        .target("user", user_id)
        .details(serde_json::json!({ "sessions_ended": n }));
    by.record(tx, ev).await?;
    Ok(n)
}

/// New recovery codes (their hashes) replace the old ones, audited.
pub async fn replace_recovery_codes(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    hashes: &[String],
) -> ChangeResult<()> {
    crate::security::store::replace_recovery_codes(tx, user_id, hashes).await?;
    let ev = Event::new(Action::RecoveryCodesRegenerated)
        .target("user", user_id)
        .details(serde_json::json!({ "codes": hashes.len() }));
    by.record(tx, ev).await?;
    Ok(())
}
