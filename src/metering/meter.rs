//! Counting usage: one consume call checks the limit and adds the amount
//! in one statement (an upsert whose update is conditional on the limit),
//! so concurrent calls can never count past it on either engine; the call
//! is recorded in the usage ledger by its idempotency key atomically with
//! the count (on PostgreSQL in that same statement, one round trip; on
//! SQLite in one transaction), and a key seen before replays its first
//! answer, rebuilt from the ledger row.
//!
//! The ledger (`usage_events`) is the audit of consumption: who asked (key,
//! application), for whom, what was counted, what was answered. It is kept
//! apart from the audit trail on purpose: the main app calls this thousands
//! of times a second, and the trail is for people's and keys' changes.

use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use crate::access::Permission;
use crate::db::schema::{usage_counters, usage_events};
use crate::db::{Db, Pool, Tx};
use crate::metering::group_commit::GroupCommit;
use crate::metering::kind::UsageKind;
use crate::metering::notify;
use crate::metering::period::Period;
use crate::metering::plan::Limit;
use crate::metering::quota::{self, UserQuota};

/// Alert levels, percent of a limit: staff are told once per user, kind
/// and period when one is reached.
pub const LEVELS: [i64; 2] = [80, 100];

/// A consume call.
#[derive(Clone, Debug)]
pub struct Consume {
    pub user_id: i64,
    pub kind: UsageKind,
    pub amount: i64,
    pub idempotency_key: String,
}

/// Who calls: the key and its application, recorded in the ledger.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub key_id: Option<i64>,
    pub client_id: String,
}

/// Where a user stands for one kind after (or without) a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    pub used: i64,
    pub limit: Limit,
    pub period: Period,
    /// Units of this call beyond the limit, billed (plans with an overage price).
    pub overage: i64,
}

impl Figures {
    pub fn remaining(&self) -> Option<i64> {
        self.limit.0.map(|l| (l - self.used).max(0))
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut out = json!({
            "used": self.used,
            "limit": self.limit.0,
            "remaining": self.remaining(),
            "period": self.period.key(),
            "resets_at": format!("{}-01T00:00:00Z", self.period.next().key()),
        });
        if self.overage > 0 {
            out["overage"] = self.overage.into();
        }
        out
    }
}

/// What a consume call answers: the HTTP status and body, the first time
/// or replayed.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("no such user")]
    UnknownUser,
    /// The idempotency key was used for another user, kind or amount.
    #[error("idempotency key reused")]
    KeyReused,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Unavailable(#[from] crate::db::DbError),
}

/// What the ledger recorded for a fresh call.
#[derive(Debug, QueryableByName)]
pub(super) struct Recorded {
    #[diesel(sql_type = Bool)]
    counted: bool,
    /// The counter after the call (counted) or as it stood (refused).
    #[diesel(sql_type = BigInt)]
    used: i64,
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// The counter column of `kind` (from the closed set, never from input).
fn column(kind: UsageKind) -> &'static str {
    kind.plural()
}

/// This month's counters of a user (zeros before the first call).
pub async fn used(
    db: &mut Db,
    user_id: i64,
    period: &str,
) -> Result<[i64; 3], diesel::result::Error> {
    let row: Option<(i64, i64, i64)> = crate::db_run!(db, |c| usage_counters::table
        .find((user_id, period))
        .select((
            usage_counters::articles,
            usage_counters::images,
            usage_counters::social_posts
        ))
        .first(c)
        .await
        .optional())?;
    Ok(row.map_or([0; 3], |(a, i, s)| [a, i, s]))
}

/// The cap a call may not count past: the limit, unless the plan bills
/// the kind's overage or the kind is unlimited.
fn cap_of(quota: &UserQuota, kind: UsageKind) -> Option<i64> {
    match quota.overage_cents(kind) {
        Some(_) => None,
        None => quota.limit(kind).0,
    }
}

/// Units of `amount` that fall beyond `limit`, ending at `after`.
fn beyond(limit: Limit, after: i64, amount: i64) -> i64 {
    match limit.0 {
        None => 0,
        Some(l) => (after - l).max(0) - (after - amount - l).max(0),
    }
}

/// The answer to a call from what the ledger holds of it.
fn answer_of(
    counted: bool,
    used: i64,
    limit: Limit,
    period: Period,
    amount: i64,
    kind: UsageKind,
    replayed: bool,
) -> Answer {
    let figures = Figures {
        used,
        limit,
        period,
        overage: if counted {
            beyond(limit, used, amount)
        } else {
            0
        },
    };
    let mut body = figures.to_json();
    if !counted {
        // The API's error shape, with the figures beside it.
        body["error"] = json!({
            "code": "quota_exceeded",
            "message": format!("the {} quota of this period is reached", kind.plural()),
            // Tells it from the key's own monthly quota (same code).
            "details": [{"quota": "user", "kind": kind.as_str()}],
        });
    }
    Answer {
        status: if counted { 200 } else { 429 },
        body,
        replayed,
    }
}

/// Everything a call needs in its one statement or transaction.
struct Call<'a> {
    c: &'a Consume,
    k: &'a Caller,
    period: String,
    limit: Limit,
    cap: Option<i64>,
    now: PrimitiveDateTime,
}

impl<'a> Call<'a> {
    fn new(c: &'a Consume, k: &'a Caller, quota: &UserQuota, now: PrimitiveDateTime) -> Self {
        Call {
            c,
            k,
            period: Period::of_primitive(now).key(),
            limit: quota.limit(c.kind),
            cap: cap_of(quota, c.kind),
            now,
        }
    }
}

/// A PostgreSQL call ready to run: its `EXECUTE` and the limit it holds
/// the call to (the answer reports it).
pub(super) struct Statement {
    pub sql: String,
    pub limit: Limit,
}

impl Statement {
    pub(super) fn of(
        c: &Consume,
        k: &Caller,
        quota: &UserQuota,
        now: PrimitiveDateTime,
    ) -> Result<Self, diesel::result::Error> {
        let x = Call::new(c, k, quota, now);
        Ok(Statement {
            sql: execute_sql(&x)?,
            limit: x.limit,
        })
    }
}

/// The consume statement of `col`, for PostgreSQL: the whole call in one
/// statement, so in one round trip and atomic without a transaction. The
/// counter is added to only while the key is not in the ledger and the sum
/// stays within the cap; the ledger row records the outcome. Two calls with
/// one key at once both pass the "not in the ledger" test, but the second's
/// ledger insert meets the first's unique key, so its whole statement (its
/// count too) is undone with a unique violation, and the caller replays
/// the first answer.
fn consume_sql(col: &str) -> String {
    format!(
        "WITH c AS (\
           INSERT INTO usage_counters (user_id, period, {col}) \
           SELECT $1, $2, $3 WHERE $3 <= $4 \
             AND NOT EXISTS (SELECT 1 FROM usage_events WHERE idempotency_key = $5) \
           ON CONFLICT (user_id, period) DO UPDATE SET {col} = usage_counters.{col} + excluded.{col} \
           WHERE usage_counters.{col} + excluded.{col} <= $4 \
           RETURNING {col} AS v), \
         n AS (SELECT EXISTS (SELECT 1 FROM c) AS counted, \
           COALESCE((SELECT v FROM c), \
             (SELECT {col} FROM usage_counters WHERE user_id = $1 AND period = $2), 0) AS used) \
         INSERT INTO usage_events (idempotency_key, user_id, kind, amount, period, counted, overage, \
           status, used, quota_limit, key_id, client_id, at) \
         SELECT $5, $1, $6, $3, $2, n.counted, \
           CASE WHEN n.counted AND $7::bigint IS NOT NULL \
             THEN GREATEST(n.used - $7, 0) - GREATEST(n.used - $3 - $7, 0) ELSE 0 END, \
           CASE WHEN n.counted THEN 200 ELSE 429 END, n.used, $7, $8, $9, $10 \
         FROM n WHERE NOT EXISTS (SELECT 1 FROM usage_events WHERE idempotency_key = $5) \
         RETURNING counted, used"
    )
}

/// Statements prepared on each connection of the meter's pool: diesel
/// never caches a raw SQL statement, and PostgreSQL took longer to plan
/// this one (about 1 ms) than to run it; prepared once per connection,
/// it is planned once.
pub fn pg_prepared() -> Vec<String> {
    UsageKind::ALL
        .iter()
        .map(|k| {
            format!(
                "PREPARE usage_consume_{col} (bigint, text, bigint, bigint, text, text, bigint, \
                 bigint, text, timestamp) AS {sql}",
                col = column(*k),
                sql = consume_sql(column(*k))
            )
        })
        .collect()
}

/// `s` as an SQL string literal, for `EXECUTE`'s arguments (PostgreSQL
/// takes no bound parameters in a utility statement). Only visible ASCII
/// is accepted (an idempotency key and a client id are checked to be so
/// before they get here), quotes are doubled, and the meter's connections
/// run with `standard_conforming_strings` on, so a backslash is only a
/// backslash.
fn literal(s: &str) -> Option<String> {
    s.bytes()
        .all(|b| b.is_ascii_graphic() || b == b' ')
        .then(|| format!("'{}'", s.replace('\'', "''")))
}

/// PostgreSQL: the `EXECUTE` of the call's prepared statement (see
/// [`consume_sql`]).
fn execute_sql(x: &Call<'_>) -> Result<String, diesel::result::Error> {
    let text = |s: &str| {
        literal(s)
            .ok_or_else(|| diesel::result::Error::QueryBuilderError("not visible ASCII".into()))
    };
    let opt = |v: Option<i64>| v.map_or_else(|| "NULL".to_owned(), |n| n.to_string());
    Ok(format!(
        "EXECUTE usage_consume_{col}({user}, {period}, {amount}, {cap}, {key}, {kind}, {limit}, \
         {key_id}, {client}, {at})",
        col = column(x.c.kind),
        user = x.c.user_id,
        period = text(&x.period)?,
        amount = x.c.amount,
        cap = x.cap.unwrap_or(i64::MAX),
        key = text(&x.c.idempotency_key)?,
        kind = text(x.c.kind.as_str())?,
        limit = opt(x.limit.0),
        key_id = opt(x.k.key_id),
        client = text(&x.k.client_id)?,
        at = text(&x.now.to_string())?,
    ))
}

/// SQLite (one writer at a time, and no writes inside `WITH`): the same
/// steps in one `BEGIN IMMEDIATE` transaction.
async fn record_sqlite(
    db: &mut Db,
    x: &Call<'_>,
) -> Result<Option<Recorded>, diesel::result::Error> {
    let (c, k) = (x.c.clone(), x.k.clone());
    let (period, limit, cap, now) = (x.period.clone(), x.limit, x.cap, x.now);
    db.transaction(|tx| {
        Box::pin(async move {
            let seen: i64 = crate::db_run!(tx, |conn| usage_events::table
                .filter(usage_events::idempotency_key.eq(&c.idempotency_key))
                .count()
                .get_result(conn)
                .await)?;
            if seen > 0 {
                return Ok(None);
            }
            let after = match cap {
                Some(cap) if c.amount > cap => None,
                _ => {
                    let col = column(c.kind);
                    let sql = format!(
                        "INSERT INTO usage_counters (user_id, period, {col}) VALUES (?, ?, ?) \
                         ON CONFLICT (user_id, period) DO UPDATE SET {col} = usage_counters.{col} + excluded.{col} \
                         WHERE usage_counters.{col} + excluded.{col} <= ? RETURNING {col} AS value"
                    );
                    let row: Option<Value> = crate::db_run!(tx, |conn| diesel::sql_query(&sql)
                        .bind::<BigInt, _>(c.user_id)
                        .bind::<Text, _>(&period)
                        .bind::<BigInt, _>(c.amount)
                        .bind::<BigInt, _>(cap.unwrap_or(i64::MAX))
                        .get_result(conn)
                        .await
                        .optional())?;
                    row.map(|r| r.value)
                }
            };
            let used = match after {
                Some(v) => v,
                None => used(tx, c.user_id, &period).await?[c.kind.index()],
            };
            let counted = after.is_some();
            crate::db_run!(tx, |conn| diesel::insert_into(usage_events::table)
                .values((
                    usage_events::idempotency_key.eq(&c.idempotency_key),
                    usage_events::user_id.eq(c.user_id),
                    usage_events::kind.eq(c.kind),
                    usage_events::amount.eq(c.amount),
                    usage_events::period.eq(&period),
                    usage_events::counted.eq(counted),
                    usage_events::overage.eq(if counted { beyond(limit, used, c.amount) } else { 0 }),
                    usage_events::status.eq(if counted { 200 } else { 429 }),
                    usage_events::used.eq(used),
                    usage_events::quota_limit.eq(limit.0),
                    usage_events::key_id.eq(k.key_id),
                    usage_events::client_id.eq(&k.client_id),
                    usage_events::at.eq(now),
                ))
                .execute(conn)
                .await)?;
            Ok(Some(Recorded { counted, used }))
        })
    })
    .await
}

/// The meter's connections, and on PostgreSQL its writers (see
/// [`GroupCommit`]).
#[derive(Clone)]
pub struct Meter {
    pub pool: Pool,
    commits: Option<GroupCommit>,
}

impl Meter {
    /// `writers`: PostgreSQL connections committing batches of calls.
    pub fn new(pool: Pool, writers: usize) -> Self {
        let commits = (!pool.is_sqlite()).then(|| GroupCommit::start(pool.clone(), writers));
        Self { pool, commits }
    }
}

/// Counts `call` if within the user's limit, once per idempotency key.
/// A connection is held only while it is used: a call waiting for its
/// batch's commit holds none.
pub async fn consume(
    meter: &Meter,
    call: &Consume,
    caller: &Caller,
    now: PrimitiveDateTime,
) -> Result<Answer, MeterError> {
    let period = Period::of_primitive(now);
    let (limit, recorded) = match &meter.commits {
        Some(commits) => commits.record(call.clone(), caller.clone(), now).await?,
        None => {
            let mut db = meter.pool.get().await?;
            let quota = quota::of_user(&mut db, call.user_id, now)
                .await?
                .ok_or(MeterError::UnknownUser)?;
            let x = Call::new(call, caller, &quota, now);
            (x.limit, record_sqlite(&mut db, &x).await)
        }
    };
    let recorded = match recorded {
        Ok(r) => r,
        // The same key at the same moment: the other call counted.
        Err(diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(r) = recorded else {
        return replay(&mut meter.pool.get().await?, call, period).await;
    };
    let figures = Figures {
        used: r.used,
        limit,
        period,
        overage: 0,
    };
    let levels = if r.counted {
        reached(&figures, call.amount)
    } else {
        Vec::new()
    };
    if !levels.is_empty() {
        let (user_id, kind) = (call.user_id, call.kind);
        let mut db = meter.pool.get().await?;
        // Its own short transaction, on the rare call that crosses a
        // level: a notification is not part of the count, and it is
        // raised at most once anyway (its dedupe key).
        db.transaction(|tx| {
            Box::pin(async move { alert(tx, user_id, kind, &figures, &levels, now).await })
        })
        .await?;
    }
    Ok(answer_of(
        r.counted,
        r.used,
        limit,
        period,
        call.amount,
        call.kind,
        false,
    ))
}

/// The first answer given to `call`'s idempotency key, if it was the same call.
async fn replay(db: &mut Db, call: &Consume, now: Period) -> Result<Answer, MeterError> {
    type First = (i64, UsageKind, i64, bool, i64, Option<i64>, String);
    let first: First = crate::db_run!(db, |c| usage_events::table
        .filter(usage_events::idempotency_key.eq(&call.idempotency_key))
        .select((
            usage_events::user_id,
            usage_events::kind,
            usage_events::amount,
            usage_events::counted,
            usage_events::used,
            usage_events::quota_limit,
            usage_events::period,
        ))
        .first(c)
        .await)?;
    if (first.0, first.1, first.2) != (call.user_id, call.kind, call.amount) {
        return Err(MeterError::KeyReused);
    }
    let period = Period::parse(&first.6).unwrap_or(now);
    Ok(answer_of(
        first.3,
        first.4,
        Limit(first.5),
        period,
        first.2,
        first.1,
        true,
    ))
}

/// Notifies staff when this call reached 80 % or 100 % of the limit, once
/// per user, kind and period, and marks the counter's level (the users
/// list filters on it).
/// The alert levels a call of `amount` ending at `f.used` reached.
fn reached(f: &Figures, amount: i64) -> Vec<i64> {
    let Some(limit) = f.limit.0.filter(|l| *l > 0) else {
        return Vec::new();
    };
    let before = f.used - amount;
    LEVELS
        .into_iter()
        .filter(|pct| before * 100 < limit * pct && f.used * 100 >= limit * pct)
        .collect()
}

async fn alert(
    tx: &mut Tx<'_>,
    user_id: i64,
    kind: UsageKind,
    f: &Figures,
    reached: &[i64],
    now: PrimitiveDateTime,
) -> Result<(), diesel::result::Error> {
    let Some(limit) = f.limit.0 else {
        return Ok(());
    };
    let Some(&top) = reached.last() else {
        return Ok(());
    };
    let period = f.period.key();
    for pct in reached {
        notify::raise(
            tx,
            notify::NewNotification {
                permission: Permission::UsageRead,
                kind: if *pct >= 100 { "quota_100" } else { "quota_80" },
                subject_user_id: Some(user_id),
                details: json!({
                    "kind": kind.as_str(),
                    "used": f.used,
                    "limit": limit,
                    "period": period,
                }),
                dedupe_key: format!("quota:{user_id}:{}:{period}:{pct}", kind.as_str()),
            },
            now,
        )
        .await?;
    }
    let level = i32::try_from(top).unwrap_or(100);
    crate::db_run!(tx, |c| diesel::update(
        usage_counters::table.find((user_id, &period))
    )
    .filter(usage_counters::level.lt(level))
    .set(usage_counters::level.eq(level))
    .execute(c)
    .await)?;
    Ok(())
}

/// What a call would get, counting nothing.
pub async fn check(
    db: &mut Db,
    user_id: i64,
    kind: UsageKind,
    amount: i64,
    now: PrimitiveDateTime,
) -> Result<(bool, Figures), MeterError> {
    let quota = quota::of_user(db, user_id, now)
        .await?
        .ok_or(MeterError::UnknownUser)?;
    let period = Period::of_primitive(now);
    let used = used(db, user_id, &period.key()).await?[kind.index()];
    let limit = quota.limit(kind);
    let allowed = cap_of(&quota, kind).is_none_or(|cap| used + amount <= cap);
    let overage = if allowed {
        beyond(limit, used + amount, amount)
    } else {
        0
    };
    Ok((
        allowed,
        Figures {
            used,
            limit,
            period,
            overage,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_quotes_and_refuse_the_rest() {
        assert_eq!(literal("gen-1").as_deref(), Some("'gen-1'"));
        assert_eq!(literal("a'b").as_deref(), Some("'a''b'"));
        assert_eq!(
            literal("x');DROP TABLE users;--").as_deref(),
            Some("'x'');DROP TABLE users;--'")
        );
        assert_eq!(literal("a\\b").as_deref(), Some("'a\\b'"));
        assert_eq!(literal("é"), None);
        assert_eq!(literal("a\nb"), None);
        assert_eq!(literal("a\0b"), None);
    }

    #[test]
    fn overage_counts_only_this_calls_units_past_the_limit() {
        let l = Limit(Some(10));
        assert_eq!(beyond(l, 8, 3), 0);
        assert_eq!(beyond(l, 12, 3), 2);
        assert_eq!(beyond(l, 15, 3), 3);
        assert_eq!(beyond(Limit::UNLIMITED, 15, 3), 0);
    }
}
