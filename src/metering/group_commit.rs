//! Group commit for the usage meter on PostgreSQL.
//!
//! A consume call is one statement, and alone it is one transaction whose
//! commit waits for the write-ahead log to reach the disk (0.6 to 3 ms on
//! the 2-core machine). The server only groups the commits that are in
//! flight together, so with a handful of connections the meter spent its
//! time waiting for the disk with the CPU half idle. Here the calls that
//! arrive while a commit is in flight wait in a queue, and the next free
//! writer takes all of them and runs them in one transaction: one flush
//! for the whole batch. Nothing is given up for it: every call is answered
//! after the commit that holds it, and a batch is all or nothing.
//!
//! Each statement of a batch is the same conditional upsert a lone call
//! runs, so the limit is checked exactly as before (the counter row is
//! locked from the statement to the commit). Batches are ordered by user,
//! so two writers always lock counters in the same order and never wait
//! for each other in a cycle. A batch that fails as a whole (a key used at
//! once in two batches, a lost connection) is rolled back and its calls run
//! again one by one, each with its own outcome.

use std::sync::Arc;

use diesel::OptionalExtension;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::PrimitiveDateTime;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::meter::{Caller, Consume, MeterError, Recorded, Statement};
use super::plan::Limit;
use super::quota;
use crate::db::{Conn, Db, DbError, Pool};

/// Most calls in one transaction. Measured with `bench/usage.sh` (64
/// connections, 4 writers): 8 to 16 gave the best tail; 32 and 128 let a
/// writer take a long batch while the others sat idle (p99 25 to 35 ms
/// against 18).
const MAX_BATCH: usize = 12;

/// Calls waiting for a writer. Beyond this a caller waits to enqueue,
/// which slows the busiest main app instead of growing memory.
const QUEUE: usize = 4096;

/// A consume call waiting for its batch, and where its outcome goes.
struct Job {
    call: Consume,
    caller: Caller,
    now: PrimitiveDateTime,
    reply: oneshot::Sender<Outcome>,
}

/// The limit the call was held to and what its statement gave back; or
/// why it could not run (an unknown user, no connection).
pub(super) type Outcome =
    Result<(Limit, Result<Option<Recorded>, diesel::result::Error>), MeterError>;

/// The meter's writers on PostgreSQL.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts `writers` writers, each running its batches on a connection of
    /// `pool` (the meter's own, where the consume statements are prepared).
    /// They stop when the last handle is dropped.
    pub fn start(pool: Pool, writers: usize) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(write(pool.clone(), rx.clone()));
        }
        Self { queue }
    }

    /// Runs `call` in the next batch, and answers its outcome once that
    /// batch is committed.
    pub(super) async fn record(
        &self,
        call: Consume,
        caller: Caller,
        now: PrimitiveDateTime,
    ) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let gone = || MeterError::Db(diesel::result::Error::BrokenTransactionManager);
        self.queue
            .send(Job {
                call,
                caller,
                now,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        // A writer dropped the job only if its task ended (the server is
        // stopping): answered as a failure, never as a count.
        answer.await.map_err(|_| gone())?
    }
}

/// A writer: takes every call waiting (up to [`MAX_BATCH`]) and commits
/// them together.
async fn write(pool: Pool, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        commit(&pool, batch).await;
    }
}

/// Reads the limits of the batch's users (one query), then commits the
/// batch's statements in one transaction, or each alone when the batch
/// fails.
async fn commit(pool: &Pool, batch: Vec<Job>) {
    let mut db = match pool.get().await {
        Ok(db) => db,
        Err(e) => {
            let why = e.to_string();
            return fail_all(batch, || {
                MeterError::Unavailable(DbError::Unavailable(why.clone()))
            });
        }
    };
    let mut users: Vec<i64> = batch.iter().map(|j| j.call.user_id).collect();
    users.sort_unstable();
    users.dedup();
    // One moment for the batch's lookup: its calls arrived within a commit.
    let Some(now) = batch.iter().map(|j| j.now).max() else {
        return;
    };
    let quotas = match quota::of_users(&mut db, &users, now).await {
        Ok(q) => q,
        Err(e) => {
            let why = e.to_string();
            return fail_all(batch, || {
                MeterError::Db(diesel::result::Error::QueryBuilderError(why.clone().into()))
            });
        }
    };
    let mut ready = Vec::with_capacity(batch.len());
    for job in batch {
        let statement = match quotas.get(&job.call.user_id) {
            None => Err(MeterError::UnknownUser),
            Some(q) => Statement::of(&job.call, &job.caller, q, job.now).map_err(MeterError::Db),
        };
        match statement {
            Ok(st) => ready.push((job, st)),
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }
    ready.sort_by_key(|(job, _)| job.call.user_id);
    let (waiting, statements): (Vec<(Job, Limit)>, Vec<String>) = ready
        .into_iter()
        .map(|(job, st)| ((job, st.limit), st.sql))
        .unzip();
    // Shared with the transaction's future, and kept for the one-by-one rerun.
    let statements: Arc<[String]> = statements.into();
    if statements.len() > 1 {
        let sent = statements.clone();
        let together = db
            .transaction(|tx| Box::pin(async move { pipelined(tx, &sent).await }))
            .await;
        match together {
            Ok(outcomes) => {
                for ((job, limit), outcome) in waiting.into_iter().zip(outcomes) {
                    // The caller may have gone (its request cancelled): the
                    // call is counted all the same, and its retry replays it.
                    let _ = job.reply.send(Ok((limit, Ok(outcome))));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, calls = waiting.len(), "usage batch rolled back; its calls run one by one")
            }
        }
    }
    for ((job, limit), sql) in waiting.into_iter().zip(statements.iter()) {
        let outcome = run(&mut db, sql).await;
        let _ = job.reply.send(Ok((limit, outcome)));
    }
}

/// Answers every call of `batch` with `error` (the batch could not start).
fn fail_all(batch: Vec<Job>, error: impl Fn() -> MeterError) {
    for job in batch {
        let _ = job.reply.send(Err(error()));
    }
}

/// Runs `statements` in order, all sent at once: PostgreSQL still runs
/// them one after the other (in the batch's lock order), but without a
/// round trip between them, which on two cores cost more than the
/// statements (a batch of 60 took 30 ms one by one).
async fn pipelined(
    db: &mut Db,
    statements: &[String],
) -> Result<Vec<Option<Recorded>>, diesel::result::Error> {
    let (conn, busy) = db.query_slot();
    let Conn::Pg(pg) = conn else {
        return Err(diesel::result::Error::BrokenTransactionManager);
    };
    let pg: &AsyncPgConnection = pg;
    // Stays set if this future is dropped mid-batch: see `Db`.
    *busy = true;
    // Each future sends its statement when first polled, and `join_all`
    // polls them in order; all are awaited, so none is left unread when
    // one fails (the transaction then fails as a whole).
    let outcomes = futures_util::future::join_all(statements.iter().map(|sql| async move {
        let mut c = pg;
        diesel::sql_query(sql)
            .get_result::<Recorded>(&mut c)
            .await
            .optional()
    }))
    .await;
    *busy = false;
    outcomes.into_iter().collect()
}

async fn run(db: &mut Db, sql: &str) -> Result<Option<Recorded>, diesel::result::Error> {
    crate::db_run!(db, |c| diesel::sql_query(sql)
        .get_result(c)
        .await
        .optional())
}
