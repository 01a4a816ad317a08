//! Cluster-wide locks for work that must run on one instance at a time when
//! several share a PostgreSQL database: migrations, the first-admin link,
//! scheduled purges. PostgreSQL advisory locks, held by one pooled
//! connection for the duration; SQLite needs none (its file is not shared
//! between hosts, and its writers already queue).

use diesel::sql_types::{BigInt, Bool};
use diesel_async::RunQueryDsl;

use super::{Conn, Db, DbError, Pool};

/// The locks, each a fixed key in PostgreSQL's advisory lock space.
#[derive(Clone, Copy, Debug)]
pub enum Lock {
    Migrations,
    SetupLink,
    Housekeeping,
    JobsFollower,
    JobsAlerts,
}

impl Lock {
    fn key(self) -> i64 {
        // "sowat" in the high bytes keeps clear of other applications' keys.
        0x736f_7761_7400_0000
            + match self {
                Lock::Migrations => 1,
                Lock::SetupLink => 2,
                Lock::Housekeeping => 3,
                Lock::JobsFollower => 4,
                Lock::JobsAlerts => 5,
            }
    }
}

/// A held lock; released by [`Held::release`] (or when its connection
/// closes, should the process die).
pub struct Held {
    /// The PostgreSQL connection holding the lock (none on SQLite).
    db: Option<Db>,
    lock: Lock,
}

impl Held {
    pub async fn release(mut self) {
        if let Some(db) = self.db.as_mut()
            && let Conn::Pg(c) = db.conn_mut()
        {
            let unlocked = diesel::select(
                diesel::dsl::sql::<Bool>("pg_advisory_unlock(")
                    .bind::<BigInt, _>(self.lock.key())
                    .sql(")"),
            )
            .get_result::<bool>(&mut **c)
            .await;
            if let Err(e) = unlocked {
                tracing::warn!(error = %e, lock = ?self.lock, "could not release a lock; its connection will");
            }
        }
    }
}

/// Waits for `lock`.
pub async fn acquire(pool: &Pool, lock: Lock) -> Result<Held, DbError> {
    if pool.is_sqlite() {
        return Ok(Held { db: None, lock });
    }
    let mut db = pool.get().await?;
    if let Conn::Pg(c) = db.conn_mut() {
        diesel::select(
            diesel::dsl::sql::<diesel::sql_types::Text>("pg_advisory_lock(")
                .bind::<BigInt, _>(lock.key())
                .sql(")::text"),
        )
        .get_result::<String>(&mut **c)
        .await?;
    }
    Ok(Held { db: Some(db), lock })
}

/// Takes `lock` if free; `None` when another instance holds it.
pub async fn try_acquire(pool: &Pool, lock: Lock) -> Result<Option<Held>, DbError> {
    if pool.is_sqlite() {
        return Ok(Some(Held { db: None, lock }));
    }
    let mut db = pool.get().await?;
    if let Conn::Pg(c) = db.conn_mut() {
        let taken = diesel::select(
            diesel::dsl::sql::<Bool>("pg_try_advisory_lock(")
                .bind::<BigInt, _>(lock.key())
                .sql(")"),
        )
        .get_result::<bool>(&mut **c)
        .await?;
        if !taken {
            return Ok(None);
        }
    }
    Ok(Some(Held { db: Some(db), lock }))
}
