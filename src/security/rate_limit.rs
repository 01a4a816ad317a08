//! Sign-in attempts per client address: more than the limit within a minute
//! is answered 429. Counted in the database (one upsert per attempt on a
//! fixed one-minute window), so every instance behind a load balancer
//! counts the same attempts; N instances do not allow N times the limit.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::rate_counters;
use crate::db_run;

pub struct RateLimiter {
    limit: u32,
    window_secs: i64,
}

impl RateLimiter {
    pub fn new(limit: u32, window_secs: i64) -> Self {
        RateLimiter { limit, window_secs }
    }

    /// Counts one hit on `bucket` at `now` (unix seconds); false when over
    /// the limit.
    pub async fn allow(&self, db: &mut Db, bucket: &str, now: i64) -> QueryResult<bool> {
        let window = now - now.rem_euclid(self.window_secs);
        let hits: i32 = db_run!(db, |c| diesel::insert_into(rate_counters::table)
            .values((
                rate_counters::bucket.eq(bucket),
                rate_counters::window_start.eq(window),
                rate_counters::hits.eq(1),
            ))
            .on_conflict((rate_counters::bucket, rate_counters::window_start))
            .do_update()
            .set(rate_counters::hits.eq(rate_counters::hits + 1))
            .returning(rate_counters::hits)
            .get_result(c)
            .await)?;
        Ok(u32::try_from(hits).unwrap_or(u32::MAX) <= self.limit)
    }

    /// Drops windows that can no longer count (housekeeping).
    pub async fn purge_old(
        &self,
        pool: &crate::db::Pool,
        now: i64,
    ) -> Result<usize, crate::db::DbError> {
        let mut db = pool.get().await?;
        Ok(self.purge(&mut db, now).await?)
    }

    async fn purge(&self, db: &mut Db, now: i64) -> QueryResult<usize> {
        let before = now - 2 * self.window_secs;
        db_run!(db, |c| diesel::delete(
            rate_counters::table.filter(rate_counters::window_start.lt(before))
        )
        .execute(c)
        .await)
    }
}
