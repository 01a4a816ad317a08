//! The limits of API keys (requests a minute, requests a month), held
//! across instances without a database write per request.
//!
//! Counting each request in the database serialises every call of a busy
//! key on one counter row. Instead, each instance reserves a lease (a
//! slice of the minute's allowance, charged to the month at once) in one
//! short transaction, serves from it in memory, and gives back what it did
//! not use once the minute is over. A lease is only granted from what is
//! left, so the counters in the database never pass the limits, whatever
//! the number of instances. The price: requests one instance holds are not
//! available to another before the minute ends, so with N instances a
//! key may be refused up to (N - 1) leases early (a lease is 2 % of the
//! rate); and a crashed instance's unused lease stays counted.
//!
//! Refusals are counted apart (`throttled`), written with the next lease
//! or by [`Ledger::settle`], which the server runs every few seconds and
//! on stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::schema::{api_key_months, api_key_usage, api_keys};
use crate::db::{DbError, Pool, Tx};
use crate::db_run;

/// What a key may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub rate_per_minute: i32,
    pub monthly_quota: i64,
}

/// The answer for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Served,
    RateLimited,
    QuotaExceeded,
}

/// This instance's leases, per key.
#[derive(Default)]
pub struct Ledger {
    keys: Mutex<HashMap<i64, Arc<KeyLedger>>>,
}

#[derive(Default)]
struct KeyLedger {
    window: Mutex<Window>,
    /// One lease request at a time per key and instance: callers arriving
    /// while it is out wait and use it rather than each reserving one.
    refill: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Window {
    minute: Option<PrimitiveDateTime>,
    /// Requests of the lease not served yet.
    left: i64,
    /// The database said no for this minute: answered here until it ends.
    refused: Option<Verdict>,
    /// Refusals not yet written.
    throttled: i64,
    /// Ended minutes whose unused lease and refusals are still to write.
    owed: Vec<Owed>,
}

#[derive(Clone, Copy, Debug)]
struct Owed {
    minute: PrimitiveDateTime,
    unused: i64,
    throttled: i64,
}

impl Window {
    /// Moves to `minute`, owing what the previous one left.
    fn roll(&mut self, minute: PrimitiveDateTime) {
        if self.minute.is_some_and(|m| m >= minute) {
            return;
        }
        if let Some(old) = self.minute
            && (self.left > 0 || self.throttled > 0)
        {
            self.owed.push(Owed {
                minute: old,
                unused: self.left,
                throttled: self.throttled,
            });
        }
        *self = Window {
            minute: Some(minute),
            owed: std::mem::take(&mut self.owed),
            ..Window::default()
        };
    }

    /// Serves from the lease or repeats the refusal; `None` when the
    /// database must be asked.
    fn answer(&mut self, minute: PrimitiveDateTime) -> Option<Verdict> {
        self.roll(minute);
        if self.left > 0 {
            self.left -= 1;
            return Some(Verdict::Served);
        }
        let refused = self.refused?;
        self.throttled += 1;
        Some(refused)
    }

    /// Everything to write now, the current minute's refusals included.
    fn take_owed(&mut self) -> Vec<Owed> {
        let mut owed = std::mem::take(&mut self.owed);
        if let Some(minute) = self.minute
            && self.throttled > 0
        {
            owed.push(Owed {
                minute,
                unused: 0,
                throttled: std::mem::take(&mut self.throttled),
            });
        }
        owed
    }

    fn give_back(&mut self, owed: Vec<Owed>) {
        self.owed.extend(owed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves consistent counts behind
    // (plain integer updates), so a poisoned lock is used as it is.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Requests reserved at once: 2 % of the minute's rate, so a key at a
/// few requests a minute is counted exactly and a busy key asks the
/// database about fifty times a minute per instance.
fn lease_size(rate_per_minute: i32) -> i64 {
    (i64::from(rate_per_minute) / 50).clamp(1, 2000)
}

pub fn minute_of(now: PrimitiveDateTime) -> PrimitiveDateTime {
    now.replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now)
}

pub fn month_of(now: PrimitiveDateTime) -> String {
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

impl Ledger {
    fn entry(&self, key_id: i64) -> Arc<KeyLedger> {
        lock(&self.keys).entry(key_id).or_default().clone()
    }

    /// Counts one request of key `key_id` at `now`; `ip` is written as the
    /// key's last address when a lease is taken.
    pub async fn take(
        &self,
        pool: &Pool,
        key_id: i64,
        limits: Limits,
        now: PrimitiveDateTime,
        ip: Option<&str>,
    ) -> Result<Verdict, DbError> {
        let minute = minute_of(now);
        let key = self.entry(key_id);
        if let Some(v) = lock(&key.window).answer(minute) {
            return Ok(v);
        }
        let _refilling = key.refill.lock().await;
        // Another caller may have brought a lease while this one waited.
        let owed = {
            let mut w = lock(&key.window);
            if let Some(v) = w.answer(minute) {
                return Ok(v);
            }
            w.take_owed()
        };
        let ask = Ask {
            key_id,
            limits,
            minute,
            size: lease_size(limits.rate_per_minute),
            now,
            ip: ip.map(str::to_owned),
        };
        let sent = owed.clone();
        let granted = match pool.get().await {
            Ok(mut db) => db
                .transaction(|tx| Box::pin(async move { reserve(tx, &ask, &sent).await }))
                .await
                .map_err(DbError::from),
            Err(e) => Err(e),
        };
        let mut w = lock(&key.window);
        match granted {
            Ok(Grant::Lease(n)) => {
                w.roll(minute);
                if w.minute == Some(minute) {
                    w.left += n - 1;
                } else if n > 1 {
                    // The minute ended while the lease was on its way.
                    w.owed.push(Owed {
                        minute,
                        unused: n - 1,
                        throttled: 0,
                    });
                }
                Ok(Verdict::Served)
            }
            Ok(Grant::Refused(v)) => {
                w.roll(minute);
                if w.minute == Some(minute) {
                    w.refused = Some(v);
                }
                Ok(v)
            }
            Err(e) => {
                w.give_back(owed);
                Err(e)
            }
        }
    }

    /// Writes what ended minutes left and the refusals counted so far,
    /// and forgets keys with nothing pending.
    pub async fn settle(&self, pool: &Pool, now: PrimitiveDateTime) {
        let minute = minute_of(now);
        let keys: Vec<(i64, Arc<KeyLedger>)> = {
            let mut map = lock(&self.keys);
            // Idle keys go, unless a request holds them right now.
            map.retain(|_, k| {
                let mut w = lock(&k.window);
                w.roll(minute);
                let idle = w.left == 0 && w.throttled == 0 && w.owed.is_empty();
                !(idle && w.refused.is_none() && Arc::strong_count(k) == 1)
            });
            map.iter().map(|(id, k)| (*id, k.clone())).collect()
        };
        for (key_id, key) in keys {
            let owed = lock(&key.window).take_owed();
            if owed.is_empty() {
                continue;
            }
            let sent = owed.clone();
            let written = match pool.get().await {
                Ok(mut db) => db
                    .transaction(|tx| {
                        Box::pin(async move {
                            one_writer_per_key(tx, key_id).await?;
                            write_owed(tx, key_id, &sent).await
                        })
                    })
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = written {
                tracing::warn!(error = %e, key_id, "writing API key counts failed; kept for the next try");
                lock(&key.window).give_back(owed);
            }
        }
    }
}

/// How long per-minute counts are kept: the key page shows 30 days.
pub const MINUTES_KEPT: time::Duration = time::Duration::days(31);

/// Drops per-minute counts older than [`MINUTES_KEPT`] (housekeeping);
/// the months stay, they hold the quota's history.
pub async fn purge_old(pool: &Pool, now: PrimitiveDateTime) -> Result<usize, DbError> {
    let mut db = pool.get().await?;
    let before = minute_of(now) - MINUTES_KEPT;
    Ok(db_run!(&mut db, |c| diesel::delete(
        api_key_usage::table.filter(api_key_usage::minute.lt(before))
    )
    .execute(c)
    .await)?)
}

struct Ask {
    key_id: i64,
    limits: Limits,
    minute: PrimitiveDateTime,
    size: i64,
    now: PrimitiveDateTime,
    ip: Option<String>,
}

enum Grant {
    Lease(i64),
    Refused(Verdict),
}

/// Reads the minute's and the month's counters (locking both rows), grants
/// what both allow up to the lease size, and counts it; or counts the
/// refusal.
async fn reserve(tx: &mut Tx<'_>, ask: &Ask, owed: &[Owed]) -> QueryResult<Grant> {
    if !tx.is_sqlite() {
        // A counter is not worth a WAL flush: a database crash may forget
        // the last fraction of a second of counts, never a change.
        tx.execute_batch("SET LOCAL synchronous_commit = off")
            .await?;
    }
    one_writer_per_key(tx, ask.key_id).await?;
    write_owed(tx, ask.key_id, owed).await?;
    let month = month_of(ask.minute);
    let in_minute: i64 = db_run!(tx, |c| diesel::insert_into(api_key_usage::table)
        .values((
            api_key_usage::key_id.eq(ask.key_id),
            api_key_usage::minute.eq(ask.minute),
            api_key_usage::requests.eq(0i64),
            api_key_usage::throttled.eq(0i64),
        ))
        .on_conflict((api_key_usage::key_id, api_key_usage::minute))
        .do_update()
        .set(api_key_usage::requests.eq(api_key_usage::requests))
        .returning(api_key_usage::requests)
        .get_result(c)
        .await)?;
    let in_month: i64 = db_run!(tx, |c| diesel::insert_into(api_key_months::table)
        .values((
            api_key_months::key_id.eq(ask.key_id),
            api_key_months::month.eq(&month),
            api_key_months::requests.eq(0i64),
        ))
        .on_conflict((api_key_months::key_id, api_key_months::month))
        .do_update()
        .set(api_key_months::requests.eq(api_key_months::requests))
        .returning(api_key_months::requests)
        .get_result(c)
        .await)?;
    let minute_left = i64::from(ask.limits.rate_per_minute) - in_minute;
    let month_left = ask.limits.monthly_quota - in_month;
    let n = ask.size.min(minute_left).min(month_left);
    if n <= 0 {
        db_run!(tx, |c| diesel::update(
            api_key_usage::table.find((ask.key_id, ask.minute))
        )
        .set(api_key_usage::throttled.eq(api_key_usage::throttled + 1))
        .execute(c)
        .await)?;
        return Ok(Grant::Refused(if minute_left <= 0 {
            Verdict::RateLimited
        } else {
            Verdict::QuotaExceeded
        }));
    }
    db_run!(tx, |c| diesel::update(
        api_key_usage::table.find((ask.key_id, ask.minute))
    )
    .set(api_key_usage::requests.eq(api_key_usage::requests + n))
    .execute(c)
    .await)?;
    db_run!(tx, |c| diesel::update(
        api_key_months::table.find((ask.key_id, &month))
    )
    .set(api_key_months::requests.eq(api_key_months::requests + n))
    .execute(c)
    .await)?;
    // Once a lease is precise enough for "last used", and spares a write
    // per call.
    db_run!(tx, |c| diesel::update(api_keys::table.find(ask.key_id))
        .set((
            api_keys::last_used_at.eq(Some(ask.now)),
            api_keys::last_used_ip.eq(ask.ip.as_deref()),
        ))
        .execute(c)
        .await)?;
    Ok(Grant::Lease(n))
}

/// Queues this transaction behind any other touching the key's counters
/// (PostgreSQL; SQLite's writers already queue). Each takes several of
/// the key's rows (old minutes, the current one, the month) in an order
/// set by what it has to write: without one lock first, two instances
/// could each hold a row the other waits for.
async fn one_writer_per_key(tx: &mut Tx<'_>, key_id: i64) -> QueryResult<()> {
    use diesel::sql_types::BigInt;
    if tx.is_sqlite() {
        return Ok(());
    }
    // "sowat" in the high bytes, then a range of its own (see db::locks).
    let lock = 0x736f_7761_7410_0000_i64 + key_id;
    db_run!(tx, |c| diesel::sql_query(
        "SELECT pg_advisory_xact_lock($1)"
    )
    .bind::<BigInt, _>(lock)
    .execute(c)
    .await)?;
    Ok(())
}

/// Gives back unused leases (to the minute and to the month) and adds the
/// refusals.
async fn write_owed(tx: &mut Tx<'_>, key_id: i64, owed: &[Owed]) -> QueryResult<()> {
    for o in owed {
        db_run!(tx, |c| diesel::update(
            api_key_usage::table.find((key_id, o.minute))
        )
        .set((
            api_key_usage::requests.eq(api_key_usage::requests - o.unused),
            api_key_usage::throttled.eq(api_key_usage::throttled + o.throttled),
        ))
        .execute(c)
        .await)?;
        if o.unused > 0 {
            let month = month_of(o.minute);
            db_run!(tx, |c| diesel::update(
                api_key_months::table.find((key_id, &month))
            )
            .set(api_key_months::requests.eq(api_key_months::requests - o.unused))
            .execute(c)
            .await)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_and_months() {
        assert_eq!(
            minute_of(datetime!(2026-12-03 14:05:59.9)),
            datetime!(2026-12-03 14:05)
        );
        assert_eq!(month_of(datetime!(2026-02-03 14:05)), "2026-02");
    }

    #[test]
    fn a_lease_is_served_then_owed_back_when_the_minute_ends() {
        let (m1, m2) = (datetime!(2026-12-03 14:05), datetime!(2026-12-03 14:06));
        let mut w = Window::default();
        assert_eq!(w.answer(m1), None, "no lease yet");
        w.left = 3;
        assert_eq!(w.answer(m1), Some(Verdict::Served));
        w.refused = Some(Verdict::RateLimited);
        assert_eq!(w.answer(m1), Some(Verdict::Served), "the lease first");
        assert_eq!(w.answer(m1), Some(Verdict::Served));
        assert_eq!(w.answer(m1), Some(Verdict::RateLimited));
        assert_eq!(w.answer(m1), Some(Verdict::RateLimited));
        w.left = 4;
        w.refused = None;
        assert_eq!(w.answer(m2), None, "a new minute asks again");
        let owed = w.take_owed();
        assert_eq!(owed.len(), 1);
        assert_eq!(
            (owed[0].minute, owed[0].unused, owed[0].throttled),
            (m1, 4, 2)
        );
        assert!(w.take_owed().is_empty());
    }

    #[test]
    fn lease_sizes() {
        assert_eq!(lease_size(10), 1);
        assert_eq!(lease_size(600), 12);
        assert_eq!(lease_size(100_000), 2000);
    }
}
