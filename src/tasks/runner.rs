//! The workers: each claims a due task, runs its handler while a heartbeat
//! keeps the lease, then records the outcome (done, retried with backoff,
//! failed, cancelled). On shutdown a worker hands its task back.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use time::{Duration, PrimitiveDateTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::store::{self, Advance, Task};
use super::{Kind, State, Waker};
use crate::change::ChangeError;
use crate::clock::Clock;
use crate::db::{BoxFuture, DbError, Pool, Tx};

/// A lease lasts this long without a heartbeat.
pub const LEASE: Duration = Duration::seconds(30);
/// Heartbeats come this often (real time), well inside the lease.
const HEARTBEAT: StdDuration = StdDuration::from_secs(10);
/// An idle worker looks for due work this often, or when woken.
const POLL: StdDuration = StdDuration::from_secs(1);
/// The pause after each step on SQLite (see [`Run::step`]).
const SQLITE_WRITER_GAP: StdDuration = StdDuration::from_millis(100);
/// Backoff after a failed attempt: doubling from this, capped at an hour.
const FIRST_RETRY: i64 = 10;

/// Why a run stopped short.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Worth another attempt later (the database or a peer was unavailable).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (bad payload, the record is gone).
    #[error("{0}")]
    Fail(String),
    /// The lease was lost or the task cancelled: stop without recording.
    #[error("stopped")]
    Stopped,
}

impl From<diesel::result::Error> for TaskError {
    fn from(e: diesel::result::Error) -> Self {
        TaskError::Retry(e.to_string())
    }
}

impl From<DbError> for TaskError {
    fn from(e: DbError) -> Self {
        TaskError::Retry(e.to_string())
    }
}

impl From<ChangeError> for TaskError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Db(e) => TaskError::Retry(e.to_string()),
            other => TaskError::Fail(other.to_string()),
        }
    }
}

/// What a finished run leaves for the person who started it (JSON).
#[derive(Default)]
pub struct Done {
    pub result: Option<serde_json::Value>,
}

/// A handler: the area's code for one kind.
pub type Handler = Arc<dyn Fn(Run) -> BoxFuture<'static, Result<Done, TaskError>> + Send + Sync>;

/// One run of a task, as its handler sees it.
pub struct Run {
    pub task: Task,
    pub pool: Pool,
    pub clock: Clock,
    owner: Arc<str>,
}

impl Run {
    /// The payload it was enqueued with.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_str(&self.task.payload)
            .map_err(|e| TaskError::Fail(format!("bad payload: {e}")))
    }

    /// Where the last committed step left off (the default at the start).
    pub fn checkpoint<T: DeserializeOwned + Default>(&self) -> T {
        self.task
            .checkpoint
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default()
    }

    pub fn now(&self) -> PrimitiveDateTime {
        self.clock.now_primitive()
    }

    /// Runs one step: `work` and the progress it returns commit in one
    /// transaction, only while this worker holds the lease and nobody
    /// cancelled (otherwise the step rolls back and the run stops).
    pub async fn step<T, F>(&mut self, work: F) -> Result<T, TaskError>
    where
        T: Send + 'static,
        F: for<'c, 'd> FnOnce(&'c mut Tx<'d>) -> BoxFuture<'c, Result<(T, Advance), TaskError>>
            + Send
            + 'static,
    {
        let mut db = self.pool.get().await?;
        let id = self.task.id;
        let owner = self.owner.clone();
        let until = self.clock.now_primitive() + LEASE;
        let (value, checkpoint) = db
            .transaction(|tx| {
                Box::pin(async move {
                    let (value, advance) = work(tx).await?;
                    if !store::advance(tx, id, &owner, &advance, until).await? {
                        return Err(TaskError::Stopped);
                    }
                    Ok((value, advance.checkpoint))
                })
            })
            .await?;
        drop(db);
        if checkpoint.is_some() {
            self.task.checkpoint = checkpoint;
        }
        if self.pool.is_sqlite() {
            // SQLite has one write lock, and a writer waiting for it polls
            // at intervals up to 100 ms: a task taking the lock again at
            // once would starve every request that writes (a sign-in, a
            // session touch). Leaving it free this long lets them all in.
            tokio::time::sleep(SQLITE_WRITER_GAP).await;
        }
        Ok(value)
    }
}

/// The workers of one instance.
pub struct Runner {
    pub pool: Pool,
    pub clock: Clock,
    pub handlers: HashMap<Kind, Handler>,
    /// This instance's name in leases (`<instance>-<random>`).
    pub instance: String,
    pub waker: Waker,
}

/// Starts `count` workers; they stop when `stop` turns true.
pub fn spawn(
    runner: Arc<Runner>,
    count: usize,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    (0..count)
        .map(|i| {
            let runner = runner.clone();
            let stop = stop.clone();
            tokio::spawn(async move { work(runner, i, stop).await })
        })
        .collect()
}

async fn work(runner: Arc<Runner>, index: usize, mut stop: watch::Receiver<bool>) {
    let owner: Arc<str> = format!("{}#{index}", runner.instance).into();
    loop {
        if *stop.borrow() {
            break;
        }
        let claimed = match runner.pool.get().await {
            Ok(mut db) => store::claim(&mut db, &owner, runner.clock.now_primitive(), LEASE)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match claimed {
            Ok(Some(task)) => run_one(&runner, &owner, task, &mut stop).await,
            Ok(None) => idle(&runner, &mut stop).await,
            Err(e) => {
                tracing::warn!(error = %e, "claiming a task failed");
                idle(&runner, &mut stop).await;
            }
        }
    }
}

async fn idle(runner: &Runner, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = runner.waker.woken() => {}
        _ = tokio::time::sleep(POLL) => {}
        _ = stop.changed() => {}
    }
}

/// How a run ended, seen from the worker.
enum Ending {
    Ran(Result<Done, TaskError>),
    Lost,
    Cancelled,
    Shutdown,
}

async fn run_one(runner: &Runner, owner: &Arc<str>, task: Task, stop: &mut watch::Receiver<bool>) {
    let (id, attempts, max) = (task.id, task.attempts, task.max_attempts);
    let kind = task.kind.clone();
    let Some(handler) = task.kind().and_then(|k| runner.handlers.get(&k)).cloned() else {
        tracing::error!(task = id, kind, "no handler for this task kind");
        finish(
            runner,
            id,
            owner,
            State::Failed,
            None,
            Some("task.error.unknown_kind".into()),
        )
        .await;
        return;
    };
    tracing::info!(task = id, kind, attempt = attempts, "task started");
    let run = Run {
        task,
        pool: runner.pool.clone(),
        clock: runner.clock.clone(),
        owner: owner.clone(),
    };
    let work = AssertUnwindSafe(handler(run)).catch_unwind();
    let ending = tokio::select! {
        r = work => Ending::Ran(r.unwrap_or_else(|_| Err(TaskError::Fail("the task panicked".into())))),
        e = heartbeat(runner, id, owner) => e,
        r = stop.wait_for(|s| *s) => { drop(r); Ending::Shutdown }
    };
    let now = runner.clock.now_primitive();
    match ending {
        Ending::Ran(Ok(done)) => {
            let result = done.result.map(|r| r.to_string());
            finish(runner, id, owner, State::Succeeded, result, None).await;
            tracing::info!(task = id, kind, "task done");
        }
        Ending::Ran(Err(TaskError::Fail(why))) => {
            tracing::warn!(task = id, kind, error = %why, "task failed");
            finish(runner, id, owner, State::Failed, None, Some(why)).await;
        }
        Ending::Ran(Err(TaskError::Retry(why))) if attempts >= max => {
            tracing::warn!(task = id, kind, error = %why, attempts, "task failed, no attempt left");
            finish(runner, id, owner, State::Failed, None, Some(why)).await;
        }
        Ending::Ran(Err(TaskError::Retry(why))) => {
            let wait = (FIRST_RETRY << (attempts.clamp(1, 10) - 1)).min(3600);
            tracing::warn!(task = id, kind, error = %why, retry_in_s = wait, "task attempt failed");
            if let Ok(mut db) = runner.pool.get().await {
                let _ =
                    store::retry_at(&mut db, id, owner, now + Duration::seconds(wait), &why).await;
            }
        }
        Ending::Ran(Err(TaskError::Stopped)) | Ending::Cancelled => {
            // Stopped by a cancel (we still hold it) or by losing the lease
            // (the finish below then changes nothing).
            let cancelled = match runner.pool.get().await {
                Ok(mut db) => store::get(&mut db, id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|t| t.cancel_requested),
                Err(_) => false,
            };
            if cancelled {
                finish(runner, id, owner, State::Cancelled, None, None).await;
                tracing::info!(task = id, kind, "task cancelled");
            } else {
                tracing::warn!(task = id, kind, "task lease lost; another worker has it");
            }
        }
        Ending::Lost => tracing::warn!(task = id, kind, "task lease lost; another worker has it"),
        Ending::Shutdown => {
            if let Ok(mut db) = runner.pool.get().await {
                let _ = store::release(&mut db, id, owner).await;
            }
            tracing::info!(task = id, kind, "task handed back at shutdown");
        }
    }
}

async fn finish(
    runner: &Runner,
    id: i64,
    owner: &str,
    state: State,
    result: Option<String>,
    error: Option<String>,
) {
    let now = runner.clock.now_primitive();
    let ended = match runner.pool.get().await {
        Ok(mut db) => store::finish(&mut db, id, owner, state, result, error, now)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    // If this fails the lease expires and the task runs again: handlers
    // are written to be run twice.
    if let Err(e) = ended {
        tracing::warn!(task = id, error = %e, "recording the task's end failed");
    }
}

/// Keeps the lease while the handler runs; ends when the lease is lost or
/// someone cancels.
async fn heartbeat(runner: &Runner, id: i64, owner: &str) -> Ending {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let until = runner.clock.now_primitive() + LEASE;
        let beat = match runner.pool.get().await {
            Ok(mut db) => store::heartbeat(&mut db, id, owner, until)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match beat {
            Ok(None) => return Ending::Lost,
            Ok(Some(true)) => return Ending::Cancelled,
            Ok(Some(false)) => {}
            // A missed beat is not a lost lease: try again next time.
            Err(e) => tracing::warn!(task = id, error = %e, "task heartbeat failed"),
        }
    }
}
