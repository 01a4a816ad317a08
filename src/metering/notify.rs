//! Staff notifications: written by the product (a quota reached, a payment
//! failed), seen by the staff holding a permission. Each has a dedupe key,
//! so "once per user, kind and period" is a constraint, not a check. Each
//! staff member has read up to an id; the bell counts what is newer.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::access::{Actor, Permission, can};
use crate::db::schema::{notification_seen, notifications};
use crate::db::{Db, Tx};

pub struct NewNotification {
    /// Who sees it: staff holding this permission.
    pub permission: Permission,
    pub kind: &'static str,
    pub subject_user_id: Option<i64>,
    pub details: serde_json::Value,
    pub dedupe_key: String,
}

#[derive(Clone, Debug, Queryable)]
pub struct Notification {
    pub id: i64,
    pub permission: String,
    pub kind: String,
    pub subject_user_id: Option<i64>,
    pub details: String,
    pub dedupe_key: String,
    pub created_at: PrimitiveDateTime,
}

/// Writes `n` unless one with its dedupe key exists; true when written.
pub async fn raise(
    tx: &mut Tx<'_>,
    n: NewNotification,
    now: PrimitiveDateTime,
) -> Result<bool, diesel::result::Error> {
    let written = crate::db_run!(tx, |c| diesel::insert_into(notifications::table)
        .values((
            notifications::permission.eq(n.permission.key()),
            notifications::kind.eq(n.kind),
            notifications::subject_user_id.eq(n.subject_user_id),
            notifications::details.eq(n.details.to_string()),
            notifications::dedupe_key.eq(&n.dedupe_key),
            notifications::created_at.eq(now),
        ))
        .on_conflict(notifications::dedupe_key)
        .do_nothing()
        .execute(c)
        .await)?;
    Ok(written > 0)
}

/// The permissions among those notifications name that `actor` holds.
fn audiences(actor: &Actor) -> Vec<&'static str> {
    [
        Permission::UsageRead,
        Permission::BillingRead,
        Permission::JobsRead,
    ]
    .into_iter()
    .filter(|p| can(actor, *p, None))
    .map(Permission::key)
    .collect()
}

/// Counted up to this many; the bell shows "99+" beyond.
pub const COUNT_CAP: i64 = 100;

async fn seen_up_to(db: &mut Db, user_id: i64) -> Result<i64, diesel::result::Error> {
    Ok(crate::db_run!(db, |c| notification_seen::table
        .find(user_id)
        .select(notification_seen::seen_up_to)
        .first::<i64>(c)
        .await
        .optional())?
    .unwrap_or(0))
}

/// How many notifications `actor` has not read, up to [`COUNT_CAP`].
pub async fn unread(db: &mut Db, actor: &Actor) -> Result<i64, diesel::result::Error> {
    let kinds = audiences(actor);
    if kinds.is_empty() {
        return Ok(0);
    }
    let seen = seen_up_to(db, actor.user_id).await?;
    // Reads at most COUNT_CAP index entries, however many there are.
    let ids: Vec<i64> = crate::db_run!(db, |c| notifications::table
        .filter(notifications::permission.eq_any(&kinds))
        .filter(notifications::id.gt(seen))
        .select(notifications::id)
        .limit(COUNT_CAP)
        .load(c)
        .await)?;
    Ok(ids.len() as i64)
}

/// The newest notifications `actor` may see, older than `before` if given,
/// and the id read up to.
pub async fn list(
    db: &mut Db,
    actor: &Actor,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<Notification>, i64), diesel::result::Error> {
    let kinds = audiences(actor);
    let seen = seen_up_to(db, actor.user_id).await?;
    if kinds.is_empty() {
        return Ok((Vec::new(), seen));
    }
    let rows = crate::db_run!(db, |c| {
        let mut q = notifications::table
            .filter(notifications::permission.eq_any(&kinds))
            .order(notifications::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(b) = before {
            q = q.filter(notifications::id.lt(b));
        }
        q.load(c).await
    })?;
    Ok((rows, seen))
}

/// Marks everything up to `up_to` read for `user_id`.
pub async fn mark_read(db: &mut Db, user_id: i64, up_to: i64) -> Result<(), diesel::result::Error> {
    crate::db_run!(db, |c| diesel::insert_into(notification_seen::table)
        .values((
            notification_seen::user_id.eq(user_id),
            notification_seen::seen_up_to.eq(up_to),
        ))
        .on_conflict(notification_seen::user_id)
        .do_update()
        .set(notification_seen::seen_up_to.eq(up_to))
        .execute(c)
        .await)?;
    Ok(())
}
