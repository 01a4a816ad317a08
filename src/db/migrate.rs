//! Embedded migrations, one folder per engine with the same names (a test
//! checks the two lists match). Applied at start and by `sowat-admin migrate`.

use diesel_async::AsyncMigrationHarness;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Conn, DbError, Pool};

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations and returns how many ran. Needs the
/// multi-thread runtime (the harness blocks in place).
pub async fn run(pool: &Pool) -> Result<usize, DbError> {
    // Instances starting together migrate one after the other; the later
    // ones find nothing to do.
    let lock = super::locks::acquire(pool, super::locks::Lock::Migrations).await?;
    let applied = run_locked(pool).await;
    lock.release().await;
    applied
}

async fn run_locked(pool: &Pool) -> Result<usize, DbError> {
    let conn = pool.get().await?.into_conn();
    let applied = match conn {
        Some(Conn::Pg(conn)) => {
            let mut harness = AsyncMigrationHarness::new(conn);
            tokio::task::block_in_place(|| {
                harness.run_pending_migrations(POSTGRES).map(|v| v.len())
            })
        }
        Some(Conn::Sqlite(conn)) => {
            let mut harness = AsyncMigrationHarness::new(conn);
            tokio::task::block_in_place(|| harness.run_pending_migrations(SQLITE).map(|v| v.len()))
        }
        None => return Err(DbError::Unavailable("no connection".into())),
    };
    applied.map_err(|e| DbError::Unavailable(format!("migration failed: {e}")))
}
