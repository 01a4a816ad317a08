//! The scheduled purge: users soft-deleted more than 30 days ago are erased
//! (anonymised; their audit trail stays under the pseudonym), a chunk per
//! step. Erased users no longer match, so a resumed run simply continues.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Duration, PrimitiveDateTime};

use crate::audit::Event;
use crate::change::{By, ChangeError};
use crate::clock::Clock;
use crate::db::schema::users;
use crate::db::{Pool, Tx};
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;
use crate::user_record::model::User;
use crate::users::changes;

pub const RESTORABLE_FOR: Duration = Duration::days(30);
/// Users erased per transaction.
const CHUNK: i64 = 100;

/// Erases up to one chunk of due users in `tx`; returns how many.
async fn purge_chunk(tx: &mut Tx<'_>, now: PrimitiveDateTime) -> Result<usize, ChangeError> {
    let cutoff = now - RESTORABLE_FOR;
    let due: Vec<User> = crate::db_run!(tx, |c| users::table
        .filter(users::deleted_at.lt(cutoff))
        .filter(users::erased_at.is_null())
        .order(users::id)
        .select(User::as_select())
        .limit(CHUNK)
        .load(c)
        .await)?;
    let by = By::system(now, "scheduler");
    for user in &due {
        changes::erase_data(tx, user, now).await?;
        let ev = Event::new(crate::audit::Action::UserPurged)
            .target("user", user.id)
            .details(serde_json::json!({ "pseudonym": changes::pseudonym(user.id) }));
        by.record(tx, ev).await?;
    }
    Ok(due.len())
}

/// Erases every due user now (the task does the same step by step).
pub async fn purge_deleted(pool: &Pool, clock: &Clock) -> Result<usize, ChangeError> {
    let mut db = pool.get().await.map_err(|e| {
        ChangeError::Db(diesel::result::Error::QueryBuilderError(
            e.to_string().into(),
        ))
    })?;
    let mut purged = 0;
    loop {
        let now = clock.now_primitive();
        let n = db
            .transaction(|tx| Box::pin(async move { purge_chunk(tx, now).await }))
            .await?;
        purged += n;
        if n < CHUNK as usize {
            return Ok(purged);
        }
    }
}

/// The task handler.
pub fn handler() -> Handler {
    Arc::new(|run| Box::pin(purge_task(run)))
}

async fn purge_task(mut run: Run) -> Result<Done, TaskError> {
    loop {
        let now = run.now();
        let n = run
            .step(move |tx| {
                Box::pin(async move {
                    let n = purge_chunk(tx, now).await?;
                    let advance = Advance {
                        done: n as i64,
                        step: Some("task.step.purging"),
                        ..Advance::default()
                    };
                    Ok((n, advance))
                })
            })
            .await?;
        if n < CHUNK as usize {
            return Ok(Done::default());
        }
    }
}
