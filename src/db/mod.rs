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
//! let user = db_run!(db, c => users::table.find(id).first::<User>(c).await.optional())?;
//! ```
//!
//! Writes go through [`Db::transaction`]; the change and its audit row are
//! written with the same `Db` inside the closure, so they commit together.
//! SQLite transactions start with `BEGIN IMMEDIATE` so two writers queue on
//! the busy timeout instead of failing on a lock upgrade.
//!
//! Per-engine SQL (indexes, upserts, `SKIP LOCKED`) goes through
//! [`Db::is_sqlite`] or a backend-specific arm; everything else is portable.

pub mod migrate;
pub mod schema;
pub mod types;

use std::time::Duration;

use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool as Deadpool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;

use crate::config::Backend;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Runs one query body against whichever engine `$db` holds.
#[macro_export]
macro_rules! db_run {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Pg(obj) => {
                let $c: &mut ::diesel_async::AsyncPgConnection = &mut *obj;
                $body
            }
            $crate::db::Db::Sqlite(obj) => {
                let $c: &mut $crate::db::SqliteConn = &mut *obj;
                $body
            }
        }
    };
}

#[derive(Clone)]
pub enum Pool {
    Pg(Deadpool<AsyncPgConnection>),
    Sqlite(Deadpool<SqliteConn>),
}

/// A pooled connection on either engine.
// Lives briefly on a handler's stack; boxing would cost an allocation per checkout.
#[allow(clippy::large_enum_variant)]
pub enum Db {
    Pg(Object<AsyncPgConnection>),
    Sqlite(Object<SqliteConn>),
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
        match backend {
            Backend::Postgres(url) => {
                // No test query on each checkout (a page checks out three
                // connections: that probe cost a tenth of the throughput). A
                // connection whose socket the server closed is still dropped
                // at checkout: it reports itself closed.
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
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
                Pool::Pg(p) => p.get().await.map(Db::Pg).map_err(|e| e.to_string()),
                Pool::Sqlite(p) => p.get().await.map(Db::Sqlite).map_err(|e| e.to_string()),
            };
            match got {
                Ok(db) => return Ok(db),
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
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Db::Sqlite(_))
    }

    pub async fn execute_batch(&mut self, sql: &str) -> Result<(), diesel::result::Error> {
        db_run!(self, c => c.batch_execute(sql).await)
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled
    /// back otherwise. Closures return a boxed future (`Box::pin(async move {..})`)
    /// because the borrow of `self` must outlive it.
    pub async fn transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut Db) -> BoxFuture<'c, Result<T, E>>,
        E: From<diesel::result::Error>,
    {
        let begin = if self.is_sqlite() {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN"
        };
        self.execute_batch(begin).await?;
        match f(self).await {
            Ok(value) => match self.execute_batch("COMMIT").await {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = self.execute_batch("ROLLBACK").await;
                    Err(e.into())
                }
            },
            Err(e) => {
                if let Err(rollback) = self.execute_batch("ROLLBACK").await {
                    tracing::error!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        }
    }

    /// `SELECT 1`, for the readiness probe.
    pub async fn ping(&mut self) -> Result<(), diesel::result::Error> {
        self.execute_batch("SELECT 1").await
    }
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
    conn.batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS _sowat_probe (x INTEGER); DROP TABLE _sowat_probe;")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
