//! Persistence on two engines from one code base.
//!
//! diesel's `MultiConnection` does not work through diesel-async's
//! `SyncConnectionWrapper`, so the backend is an enum chosen from the URL at
//! start: [`Pool`] hands out a [`Db`], and a query is written **once** inside
//! [`db_run!`], which expands it into both match arms. Each arm is type-checked
//! against its own backend, so a query that one engine cannot run fails to
//! compile rather than at run time.
//!
//! ```text
//! let user = db_run!(db, |c| users::table.find(id).first::<User>(c).await.optional())?;
//! ```
//!
//! Writes go through [`Db::transaction`], which hands the closure a [`Tx`];
//! the audit trail only writes through a `Tx`, so a change and its audit row
//! commit together or not at all.
//!
//! Per-engine SQL (indexes, upserts, `SKIP LOCKED`) goes through
//! [`Db::is_sqlite`] or a backend-specific arm; everything else is portable.

pub mod locks;
pub mod migrate;
pub mod schema;
pub mod shared_state;
pub mod types;

use std::time::Duration;

use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool as Deadpool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
    TransactionManager,
};
use futures_util::FutureExt;

use crate::config::Backend;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Runs one query body against whichever engine `$db` holds (a [`Db`] or a
/// [`Tx`]).
#[macro_export]
macro_rules! db_run {
    ($db:expr, |$c:ident| $body:expr) => {{
        let (conn, busy) = ($db).query_slot();
        // Stays set if the caller's future is dropped mid-query: see `Db`.
        *busy = true;
        let result = match conn {
            $crate::db::Conn::Pg(obj) => {
                let $c: &mut ::diesel_async::AsyncPgConnection = &mut *obj;
                $body
            }
            $crate::db::Conn::Sqlite(obj) => {
                let $c: &mut $crate::db::SqliteConn = &mut *obj;
                $body
            }
        };
        *busy = false;
        result
    }};
}

#[derive(Clone)]
pub enum Pool {
    Pg(Deadpool<AsyncPgConnection>),
    Sqlite(Deadpool<SqliteConn>),
}

/// A pooled connection on either engine.
// Lives briefly on a handler's stack; boxing would cost an allocation per checkout.
#[allow(clippy::large_enum_variant)]
pub enum Conn {
    Pg(Object<AsyncPgConnection>),
    Sqlite(Object<SqliteConn>),
}

/// A connection checked out for one request. Dropped while a transaction is
/// open (the client went away and hyper dropped the handler's future), it
/// closes the connection instead of returning it to the pool: the server
/// rolls the transaction back, and no later request can commit half of it or
/// wait on its locks.
pub struct Db {
    // `None` only inside `drop`, which takes the connection out of the pool.
    conn: Option<Conn>,
    in_tx: bool,
    /// A query was started and has not returned. A SQLite query runs on a
    /// blocking thread that keeps going when the request is dropped; the
    /// pool's next check of that connection would find it still shared (and
    /// diesel-async panics on that), so such a connection is not reused.
    busy: bool,
}

/// The open transaction: only [`Db::transaction`] makes one, and writes that
/// must commit with their audit row ([`crate::audit::record`]) ask for it.
pub struct Tx<'a>(&'a mut Db);

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.0
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Db {
        self.0
    }
}

impl Tx<'_> {
    pub fn conn_mut(&mut self) -> &mut Conn {
        self.0.conn_mut()
    }

    pub fn query_slot(&mut self) -> (&mut Conn, &mut bool) {
        self.0.query_slot()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Applied to every SQLite connection when it is made: the pool may open new
/// ones at any time, so per-connection settings cannot be set once at start.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;";

impl Pool {
    pub fn new(backend: &Backend, size: usize) -> Result<Self, String> {
        Self::build(backend, size, true, Vec::new())
    }

    /// A pool for the hot paths of the machine API (the usage meter): its
    /// statements are the same few primary-key lookups and upserts on every
    /// call, so PostgreSQL's cached generic plan is right for them, and
    /// planning each execution for its values (as [`Pool::new`]'s
    /// connections do, for the lists) cost more than running them: 2.3 ms
    /// of planning for 0.65 ms of work per consume. SQLite shares the pool.
    /// Each of its PostgreSQL connections runs `prepare` once (the hot
    /// statements, `PREPARE`d: see `metering::meter::pg_prepared`).
    pub fn for_hot_paths(
        &self,
        backend: &Backend,
        size: usize,
        prepare: Vec<String>,
    ) -> Result<Self, String> {
        match self {
            Pool::Sqlite(_) => Ok(self.clone()),
            Pool::Pg(_) => Self::build(backend, size, false, prepare),
        }
    }

    fn build(
        backend: &Backend,
        size: usize,
        custom_plans: bool,
        prepare: Vec<String>,
    ) -> Result<Self, String> {
        match backend {
            Backend::Postgres(url) => {
                // No test query on each checkout (a page checks out three
                // connections: that probe cost a tenth of the throughput). A
                // connection whose socket the server closed is still dropped
                // at checkout: it reports itself closed.
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
                // Statements are prepared once per connection; after five
                // runs PostgreSQL may switch to a generic plan, blind to the
                // values. For a filtered count that plan was a full scan
                // (756 ms) where the values' plan used an index (57 ms):
                // plan every execution for its actual values instead.
                let prepare = std::sync::Arc::new(prepare);
                config.custom_setup = Box::new(move |url| {
                    let prepare = prepare.clone();
                    async move {
                        let mut conn = AsyncPgConnection::establish(url).await?;
                        if custom_plans {
                            conn.batch_execute("SET plan_cache_mode = force_custom_plan")
                                .await
                                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        }
                        if !prepare.is_empty() {
                            // The prepared statements are run with literal
                            // arguments: a backslash must stay a backslash.
                            conn.batch_execute("SET standard_conforming_strings = on")
                                .await
                                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        }
                        for statement in prepare.iter() {
                            conn.batch_execute(statement)
                                .await
                                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        }
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
                    url.clone(),
                    config,
                );
                Deadpool::builder(manager)
                    .max_size(size)
                    .wait_timeout(Some(Duration::from_secs(5)))
                    .create_timeout(Some(Duration::from_secs(5)))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map(Pool::Pg)
                    .map_err(|e| e.to_string())
            }
            Backend::Sqlite(path) => {
                let mut config = ManagerConfig::<SqliteConn>::default();
                // A file has no server to lose: probing it on checkout only
                // costs a trip to a blocking thread.
                config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
                config.custom_setup = Box::new(|url| {
                    async move {
                        let mut conn = SqliteConn::establish(url).await?;
                        conn.batch_execute(SQLITE_PRAGMAS)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let url = path.to_string_lossy().into_owned();
                let manager =
                    AsyncDieselConnectionManager::<SqliteConn>::new_with_config(url, config);
                Deadpool::builder(manager)
                    .max_size(size)
                    .wait_timeout(Some(Duration::from_secs(5)))
                    .create_timeout(Some(Duration::from_secs(5)))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map(Pool::Sqlite)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// A connection, retried briefly: a database restart or a dropped
    /// connection should cost a request some latency, not fail it.
    pub async fn get(&self) -> Result<Db, DbError> {
        let mut last = String::new();
        for attempt in 0..3u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            let got = match self {
                Pool::Pg(p) => p.get().await.map(Conn::Pg).map_err(|e| e.to_string()),
                Pool::Sqlite(p) => p.get().await.map(Conn::Sqlite).map_err(|e| e.to_string()),
            };
            match got {
                Ok(conn) => {
                    return Ok(Db {
                        conn: Some(conn),
                        in_tx: false,
                        busy: false,
                    });
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "database connection failed");
                    last = e;
                }
            }
        }
        Err(DbError::Unavailable(last))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Pool::Sqlite(_))
    }
}

impl Db {
    // `conn` is only `None` inside `drop`, which owns the value: no caller
    // can observe it.
    #[allow(clippy::unreachable)]
    pub fn conn_mut(&mut self) -> &mut Conn {
        match self.conn.as_mut() {
            Some(conn) => conn,
            // Only `drop` takes the connection out.
            None => unreachable!("connection used after drop"),
        }
    }

    /// The connection and the in-flight flag, for [`db_run!`].
    #[allow(clippy::unreachable)]
    pub fn query_slot(&mut self) -> (&mut Conn, &mut bool) {
        match self.conn.as_mut() {
            Some(conn) => (conn, &mut self.busy),
            // Only `drop` takes the connection out.
            None => unreachable!("connection used after drop"),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.conn, Some(Conn::Sqlite(_)))
    }

    pub async fn execute_batch(&mut self, sql: &str) -> Result<(), diesel::result::Error> {
        db_run!(self, |c| c.batch_execute(sql).await)
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled
    /// back otherwise. Closures return a boxed future (`Box::pin(async move {..})`)
    /// because the borrow of the handle must outlive it. Inside a transaction
    /// this joins it.
    ///
    /// The transaction goes through diesel-async's transaction manager, so
    /// the pool knows a connection is inside one; SQLite starts with
    /// `BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of
    /// failing on a lock upgrade.
    pub async fn transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: for<'c, 'd> FnOnce(&'c mut Tx<'d>) -> BoxFuture<'c, Result<T, E>>,
        E: From<diesel::result::Error>,
    {
        if self.in_tx {
            return f(&mut Tx(self)).await;
        }
        // Marked before `BEGIN` is sent: a future dropped while it is in
        // flight must not hand the connection back either.
        self.in_tx = true;
        self.begin().await?;
        let result = f(&mut Tx(self)).await;
        let ended = match &result {
            Ok(_) => self.commit().await,
            Err(_) => self.rollback().await,
        };
        match ended {
            // Only a cleanly ended transaction gives the connection back.
            Ok(()) => self.in_tx = false,
            Err(e) => {
                tracing::error!(error = %e, "ending a transaction failed; connection discarded");
                if result.is_ok() {
                    return Err(e.into());
                }
            }
        }
        result
    }

    async fn begin(&mut self) -> Result<(), diesel::result::Error> {
        match self.conn_mut() {
            Conn::Pg(c) => AnsiTransactionManager::begin_transaction(&mut **c).await,
            Conn::Sqlite(c) => {
                c.spawn_blocking(|inner| {
                    diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                        inner,
                        "BEGIN IMMEDIATE",
                    )
                })
                .await
            }
        }
    }

    async fn commit(&mut self) -> Result<(), diesel::result::Error> {
        match self.conn_mut() {
            Conn::Pg(c) => AnsiTransactionManager::commit_transaction(&mut **c).await,
            Conn::Sqlite(c) => SqliteTm::commit_transaction(&mut **c).await,
        }
    }

    async fn rollback(&mut self) -> Result<(), diesel::result::Error> {
        match self.conn_mut() {
            Conn::Pg(c) => AnsiTransactionManager::rollback_transaction(&mut **c).await,
            Conn::Sqlite(c) => SqliteTm::rollback_transaction(&mut **c).await,
        }
    }

    /// `SELECT 1`, for the readiness probe.
    pub async fn ping(&mut self) -> Result<(), diesel::result::Error> {
        self.execute_batch("SELECT 1").await
    }

    /// The pooled connection itself, for the migration harness.
    pub(crate) fn into_conn(mut self) -> Option<Conn> {
        self.conn.take()
    }
}

type SqliteTm = <SqliteConn as AsyncConnection>::TransactionManager;

impl Drop for Db {
    fn drop(&mut self) {
        if self.busy && self.is_sqlite() && !self.in_tx {
            tracing::info!("request ended during a SQLite query: connection not reused");
        } else if self.in_tx {
            tracing::warn!("request ended inside a transaction: connection closed, not reused");
        } else {
            return;
        }
        // Taken out of the pool and dropped: the socket or file handle closes
        // and the engine rolls back (SQLite waits for a query still running
        // on its blocking thread, which holds the other handle).
        match self.conn.take() {
            Some(Conn::Pg(obj)) => drop(Object::take(obj)),
            Some(Conn::Sqlite(obj)) => drop(Object::take(obj)),
            None => {}
        }
    }
}

/// Whether `e` is a unique-constraint violation (a race past a pre-check).
/// `%`, `_` and the escape character itself are literal in user input.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Makes sure a SQLite file can be created where it is configured.
pub fn prepare_sqlite_path(path: &std::path::Path) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Opening synchronously surfaces "read-only directory" and similar at start.
    let mut conn = <SqliteConnection as diesel::Connection>::establish(&path.to_string_lossy())
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // Another process may be writing: wait for the lock as every connection does.
    conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS _sowat_probe (x INTEGER); DROP TABLE _sowat_probe;")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
