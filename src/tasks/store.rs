//! The task rows: enqueue, claim under a lease, progress, finish, cancel,
//! and the outputs (export files, records left alone).

use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Duration, PrimitiveDateTime};

use super::{NewTask, State};
use crate::db::schema::{task_outputs, tasks};
use crate::db::{Conn, Db, Tx};
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

/// A task as stored.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: PrimitiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<PrimitiveDateTime>,
    pub checkpoint: Option<String>,
    pub done: i64,
    pub total: Option<i64>,
    pub errors: i64,
    pub step: String,
    pub last_error: Option<String>,
    pub result: Option<String>,
    pub cancel_requested: bool,
    pub created_by: Option<i64>,
    pub dedupe_key: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub started_at: Option<PrimitiveDateTime>,
    pub finished_at: Option<PrimitiveDateTime>,
}

impl Task {
    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Failed)
    }

    pub fn kind(&self) -> Option<super::Kind> {
        super::Kind::parse(&self.kind)
    }
}

/// What one step moved forward, committed with the step's own changes.
#[derive(Default)]
pub struct Advance {
    /// Where to resume (JSON), replacing the previous checkpoint.
    pub checkpoint: Option<String>,
    /// Records handled by the step (changed or left alone).
    pub done: i64,
    /// Records left alone or failed, counted in `done` too.
    pub errors: i64,
    /// The total, once known.
    pub total: Option<i64>,
    /// What the task is doing now (an i18n key).
    pub step: Option<&'static str>,
    /// Output appended in order: file chunks, or lines naming the records
    /// left alone and why.
    pub outputs: Vec<String>,
}

/// Adds `new` in the caller's transaction; returns its id.
pub async fn enqueue(tx: &mut Tx<'_>, new: NewTask, now: PrimitiveDateTime) -> QResult<i64> {
    let payload = new.payload.to_string();
    db_run!(tx, |c| diesel::insert_into(tasks::table)
        .values((
            tasks::kind.eq(new.kind.key()),
            tasks::payload.eq(&payload),
            tasks::max_attempts.eq(new.kind.max_attempts()),
            tasks::run_at.eq(new.run_at),
            tasks::total.eq(new.total),
            tasks::created_by.eq(new.created_by),
            tasks::dedupe_key.eq(&new.dedupe_key),
            tasks::created_at.eq(now),
        ))
        .returning(tasks::id)
        .get_result(c)
        .await)
}

/// Adds scheduled work unless its slot was already enqueued; true if added.
pub async fn enqueue_once(db: &mut Db, new: NewTask, now: PrimitiveDateTime) -> QResult<bool> {
    let payload = new.payload.to_string();
    let added = db_run!(db, |c| diesel::insert_into(tasks::table)
        .values((
            tasks::kind.eq(new.kind.key()),
            tasks::payload.eq(&payload),
            tasks::max_attempts.eq(new.kind.max_attempts()),
            tasks::run_at.eq(new.run_at),
            tasks::dedupe_key.eq(&new.dedupe_key),
            tasks::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .await)?;
    Ok(added > 0)
}

/// Due at `now`: queued and its time has come, or running on an expired
/// lease (its worker died).
#[diesel::dsl::auto_type]
fn due_at(now: PrimitiveDateTime) -> _ {
    let queued: &'static str = "queued";
    let running: &'static str = "running";
    tasks::state
        .eq(queued)
        .and(tasks::run_at.le(now))
        .or(tasks::state
            .eq(running)
            .and(tasks::lease_until.lt(now).assume_not_null()))
}

/// Claims the next due task for `owner` until `now + lease`: a queued task
/// whose time has come, or a running one whose lease expired (its worker
/// died). PostgreSQL skips rows another worker is claiming; SQLite's
/// immediate transaction lets one claimer in at a time.
pub async fn claim(
    db: &mut Db,
    owner: &str,
    now: PrimitiveDateTime,
    lease: Duration,
) -> QResult<Option<Task>> {
    // A plain read first: idle workers poll every second, and on SQLite an
    // immediate transaction takes the one write lock even to find nothing.
    let any: Option<i64> = db_run!(db, |c| tasks::table
        .filter(due_at(now))
        .select(tasks::id)
        .first(c)
        .await
        .optional())?;
    if any.is_none() {
        return Ok(None);
    }
    let owner = owner.to_owned();
    db.transaction(|tx| {
        Box::pin(async move {
            let due = due_at(now);
            // Written out per engine: `as_select` is typed by its backend.
            macro_rules! next_due {
                () => {
                    tasks::table
                        .filter(due)
                        .order((tasks::run_at, tasks::id))
                        .select(Task::as_select())
                        .limit(1)
                };
            }
            let found: Option<Task> = match tx.conn_mut() {
                Conn::Pg(c) => next_due!()
                    .for_update()
                    .skip_locked()
                    .first(&mut **c)
                    .await
                    .optional()?,
                Conn::Sqlite(c) => next_due!().first(&mut **c).await.optional()?,
            };
            let Some(task) = found else {
                return Ok(None);
            };
            if task.attempts >= task.max_attempts {
                // Its workers kept dying: stop trying.
                db_run!(tx, |c| diesel::update(tasks::table.find(task.id))
                    .set((
                        tasks::state.eq(State::Failed.as_str()),
                        tasks::lease_owner.eq(None::<String>),
                        tasks::lease_until.eq(None::<PrimitiveDateTime>),
                        tasks::last_error.eq(Some("task.error.lease_expired")),
                        tasks::finished_at.eq(Some(now)),
                    ))
                    .execute(c)
                    .await)?;
                return Ok(None);
            }
            let claimed = db_run!(tx, |c| diesel::update(tasks::table.find(task.id))
                .set((
                    tasks::state.eq(State::Running.as_str()),
                    tasks::lease_owner.eq(Some(&owner)),
                    tasks::lease_until.eq(Some(now + lease)),
                    tasks::attempts.eq(tasks::attempts + 1),
                    tasks::started_at.eq(case_when(tasks::started_at.is_null(), Some(now),)
                        .otherwise(tasks::started_at)),
                ))
                .returning(Task::as_returning())
                .get_result(c)
                .await)?;
            Ok(Some(claimed))
        })
    })
    .await
}

/// The task, if this worker still holds it.
#[diesel::dsl::auto_type]
fn held_by<'a>(id: i64, owner: &'a str) -> _ {
    let running: &'static str = "running";
    tasks::table
        .find(id)
        .filter(tasks::lease_owner.eq(owner))
        .filter(tasks::state.eq(running))
}

/// Extends the lease; `None` when this worker no longer holds the task,
/// otherwise whether someone asked to cancel it.
pub async fn heartbeat(
    db: &mut Db,
    id: i64,
    owner: &str,
    until: PrimitiveDateTime,
) -> QResult<Option<bool>> {
    db_run!(db, |c| diesel::update(held_by(id, owner))
        .set(tasks::lease_until.eq(Some(until)))
        .returning(tasks::cancel_requested)
        .get_result(c)
        .await
        .optional())
}

/// Records a step's progress in its transaction; false (and nothing
/// written) when the lease is lost or the task was cancelled, so the caller
/// rolls the step back.
pub async fn advance(
    tx: &mut Tx<'_>,
    id: i64,
    owner: &str,
    step: &Advance,
    lease_until: PrimitiveDateTime,
) -> QResult<bool> {
    let updated = db_run!(tx, |c| diesel::update(
        held_by(id, owner).filter(tasks::cancel_requested.eq(false))
    )
    .set((
        tasks::done.eq(tasks::done + step.done),
        tasks::errors.eq(tasks::errors + step.errors),
        tasks::lease_until.eq(Some(lease_until)),
    ))
    .execute(c)
    .await)?;
    if updated == 0 {
        return Ok(false);
    }
    if let Some(checkpoint) = &step.checkpoint {
        db_run!(tx, |c| diesel::update(tasks::table.find(id))
            .set(tasks::checkpoint.eq(Some(checkpoint)))
            .execute(c)
            .await)?;
    }
    if let Some(total) = step.total {
        db_run!(tx, |c| diesel::update(tasks::table.find(id))
            .set(tasks::total.eq(Some(total)))
            .execute(c)
            .await)?;
    }
    if let Some(key) = step.step {
        db_run!(tx, |c| diesel::update(tasks::table.find(id))
            .set(tasks::step.eq(key))
            .execute(c)
            .await)?;
    }
    if !step.outputs.is_empty() {
        let last: Option<i32> = db_run!(tx, |c| task_outputs::table
            .filter(task_outputs::task_id.eq(id))
            .select(diesel::dsl::max(task_outputs::seq))
            .first(c)
            .await)?;
        // One row at a time: SQLite has no multi-row insert in diesel.
        for (body, seq) in step.outputs.iter().zip(last.unwrap_or(0) + 1..) {
            db_run!(tx, |c| diesel::insert_into(task_outputs::table)
                .values((
                    task_outputs::task_id.eq(id),
                    task_outputs::seq.eq(seq),
                    task_outputs::body.eq(body),
                ))
                .execute(c)
                .await)?;
        }
    }
    Ok(true)
}

/// Ends the task held by `owner` in `state`.
pub async fn finish(
    db: &mut Db,
    id: i64,
    owner: &str,
    state: State,
    result: Option<String>,
    error: Option<String>,
    now: PrimitiveDateTime,
) -> QResult<bool> {
    let n = db_run!(db, |c| diesel::update(held_by(id, owner))
        .set((
            tasks::state.eq(state.as_str()),
            tasks::lease_owner.eq(None::<String>),
            tasks::lease_until.eq(None::<PrimitiveDateTime>),
            tasks::result.eq(&result),
            tasks::last_error.eq(&error),
            tasks::finished_at.eq(Some(now)),
        ))
        .execute(c)
        .await)?;
    Ok(n > 0)
}

/// Puts the task back in the queue for `run_at` after a failed attempt.
pub async fn retry_at(
    db: &mut Db,
    id: i64,
    owner: &str,
    run_at: PrimitiveDateTime,
    error: &str,
) -> QResult<bool> {
    let n = db_run!(db, |c| diesel::update(held_by(id, owner))
        .set((
            tasks::state.eq(State::Queued.as_str()),
            tasks::lease_owner.eq(None::<String>),
            tasks::lease_until.eq(None::<PrimitiveDateTime>),
            tasks::run_at.eq(run_at),
            tasks::last_error.eq(Some(error)),
        ))
        .execute(c)
        .await)?;
    Ok(n > 0)
}

/// Hands the task back at once (this instance is stopping): another
/// instance resumes it from its checkpoint without waiting for the lease,
/// and the attempt does not count.
pub async fn release(db: &mut Db, id: i64, owner: &str) -> QResult<bool> {
    let n = db_run!(db, |c| diesel::update(held_by(id, owner))
        .set((
            tasks::state.eq(State::Queued.as_str()),
            tasks::lease_owner.eq(None::<String>),
            tasks::lease_until.eq(None::<PrimitiveDateTime>),
            tasks::attempts.eq(tasks::attempts - 1),
        ))
        .execute(c)
        .await)?;
    Ok(n > 0)
}

/// Asks the task to stop: a queued one is cancelled at once, a running one
/// at its next step or heartbeat. Returns the state it is left in, or
/// `None` if it was already over.
pub async fn request_cancel(
    tx: &mut Tx<'_>,
    id: i64,
    now: PrimitiveDateTime,
) -> QResult<Option<State>> {
    let queued = db_run!(tx, |c| diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::state.eq(State::Queued.as_str()))
    )
    .set((
        tasks::state.eq(State::Cancelled.as_str()),
        tasks::cancel_requested.eq(true),
        tasks::finished_at.eq(Some(now)),
    ))
    .execute(c)
    .await)?;
    if queued > 0 {
        return Ok(Some(State::Cancelled));
    }
    let running = db_run!(tx, |c| diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::state.eq(State::Running.as_str()))
    )
    .set(tasks::cancel_requested.eq(true))
    .execute(c)
    .await)?;
    Ok((running > 0).then_some(State::Running))
}

pub async fn get(db: &mut Db, id: i64) -> QResult<Option<Task>> {
    db_run!(db, |c| tasks::table
        .find(id)
        .select(Task::as_select())
        .first(c)
        .await
        .optional())
}

/// The latest tasks, newest first: everyone's, or those `created_by` started.
pub async fn recent(db: &mut Db, created_by: Option<i64>, limit: i64) -> QResult<Vec<Task>> {
    match created_by {
        Some(user) => db_run!(db, |c| tasks::table
            .filter(tasks::created_by.eq(user))
            .order(tasks::id.desc())
            .limit(limit)
            .select(Task::as_select())
            .load(c)
            .await),
        None => db_run!(db, |c| tasks::table
            .order(tasks::id.desc())
            .limit(limit)
            .select(Task::as_select())
            .load(c)
            .await),
    }
}

/// Outputs after `after_seq`, in order, at most `limit`.
pub async fn outputs(
    db: &mut Db,
    id: i64,
    after_seq: i32,
    limit: i64,
) -> QResult<Vec<(i32, String)>> {
    db_run!(db, |c| task_outputs::table
        .filter(task_outputs::task_id.eq(id))
        .filter(task_outputs::seq.gt(after_seq))
        .order(task_outputs::seq)
        .limit(limit)
        .select((task_outputs::seq, task_outputs::body))
        .load(c)
        .await)
}

/// How long a finished task's output (an export holding personal data) is
/// kept for download.
pub const OUTPUT_KEPT: Duration = Duration::hours(24);
/// How long finished tasks stay listed.
pub const TASK_KEPT: Duration = Duration::days(30);

/// Drops expired outputs and old finished tasks; returns the rows removed.
pub async fn clean_up(db: &mut Db, now: PrimitiveDateTime) -> QResult<usize> {
    let old_outputs = tasks::table
        .filter(tasks::finished_at.lt(now - OUTPUT_KEPT))
        .select(tasks::id);
    let outputs = db_run!(db, |c| diesel::delete(
        task_outputs::table.filter(task_outputs::task_id.eq_any(old_outputs))
    )
    .execute(c)
    .await)?;
    let old = db_run!(db, |c| diesel::delete(
        tasks::table.filter(tasks::finished_at.lt(now - TASK_KEPT))
    )
    .execute(c)
    .await)?;
    Ok(outputs + old)
}
