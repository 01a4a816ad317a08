//! Counting usage: one consume call checks the limit and adds the amount
//! in one statement (an upsert whose update is conditional on the limit),
//! so concurrent calls can never count past it on either engine; the call
//! is recorded in the usage ledger by its idempotency key in the same
//! transaction, and a key seen before replays its first answer.
//!
//! The ledger (`usage_events`) is the audit of consumption: who asked (key,
//! application), for whom, what was counted, what was answered. It is kept
//! apart from the audit trail on purpose: the main app calls this thousands
//! of times a second, and the trail is for people's and keys' changes.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use crate::access::Permission;
use crate::db::schema::{usage_counters, usage_events};
use crate::db::{Db, Tx};
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
}

/// Why a consume transaction ends without committing.
enum Step {
    /// The idempotency key was recorded by an earlier call.
    Seen,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Step {
    fn from(e: diesel::result::Error) -> Self {
        Step::Db(e)
    }
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

/// Adds `amount` to this month's counter when the result stays within
/// `cap` (no cap: always); the new value, or `None` when refused.
async fn add_within(
    tx: &mut Tx<'_>,
    user_id: i64,
    period: &str,
    kind: UsageKind,
    amount: i64,
    cap: Option<i64>,
) -> Result<Option<i64>, diesel::result::Error> {
    let col = column(kind);
    let (a, b, c, d) = if tx.is_sqlite() {
        ("?", "?", "?", "?")
    } else {
        ("$1", "$2", "$3", "$4")
    };
    // A first call of the month inserts (the amount was checked against the
    // cap before); later ones update only while the sum stays within it.
    let sql = format!(
        "INSERT INTO usage_counters (user_id, period, {col}) VALUES ({a}, {b}, {c}) \
         ON CONFLICT (user_id, period) DO UPDATE SET {col} = usage_counters.{col} + excluded.{col} \
         WHERE usage_counters.{col} + excluded.{col} <= {d} RETURNING {col} AS value"
    );
    let cap = cap.unwrap_or(i64::MAX);
    let row: Option<Value> = crate::db_run!(tx, |conn| diesel::sql_query(&sql)
        .bind::<BigInt, _>(user_id)
        .bind::<Text, _>(period)
        .bind::<BigInt, _>(amount)
        .bind::<BigInt, _>(cap)
        .get_result(conn)
        .await
        .optional())?;
    Ok(row.map(|r| r.value))
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

/// Counts `call` if within the user's limit, once per idempotency key.
pub async fn consume(
    db: &mut Db,
    call: &Consume,
    caller: &Caller,
    now: PrimitiveDateTime,
) -> Result<Answer, MeterError> {
    let quota = quota::of_user(db, call.user_id, now)
        .await?
        .ok_or(MeterError::UnknownUser)?;
    let period = Period::of_primitive(now);
    let key = period.key();
    let limit = quota.limit(call.kind);
    let cap = cap_of(&quota, call.kind);
    let (c, k) = (call.clone(), caller.clone());
    let fresh = db
        .transaction(|tx| {
            Box::pin(async move {
                let after = match cap {
                    Some(cap) if c.amount > cap => None,
                    _ => add_within(tx, c.user_id, &key, c.kind, c.amount, cap).await?,
                };
                let (status, figures) = match after {
                    Some(used) => (
                        200,
                        Figures {
                            used,
                            limit,
                            period,
                            overage: beyond(limit, used, c.amount),
                        },
                    ),
                    None => {
                        let used = used(tx, c.user_id, &key).await?[c.kind.index()];
                        let figures = Figures {
                            used,
                            limit,
                            period,
                            overage: 0,
                        };
                        (429, figures)
                    }
                };
                let mut body = figures.to_json();
                if status == 429 {
                    // The API's error shape, with the figures beside it.
                    body["error"] = json!({
                        "code": "quota_exceeded",
                        "message": format!("the {} quota of this period is reached", c.kind.plural()),
                        // Tells it from the key's own monthly quota (same code).
                        "details": [{"quota": "user", "kind": c.kind.as_str()}],
                    });
                }
                let recorded: Option<i64> = crate::db_run!(tx, |conn| diesel::insert_into(
                    usage_events::table
                )
                .values((
                    usage_events::idempotency_key.eq(&c.idempotency_key),
                    usage_events::user_id.eq(c.user_id),
                    usage_events::kind.eq(c.kind),
                    usage_events::amount.eq(c.amount),
                    usage_events::period.eq(&key),
                    usage_events::counted.eq(after.is_some()),
                    usage_events::overage.eq(figures.overage),
                    usage_events::status.eq(i32::from(status)),
                    usage_events::answer.eq(body.to_string()),
                    usage_events::key_id.eq(k.key_id),
                    usage_events::client_id.eq(&k.client_id),
                    usage_events::at.eq(now),
                ))
                .on_conflict(usage_events::idempotency_key)
                .do_nothing()
                .returning(usage_events::id)
                .get_result(conn)
                .await
                .optional())?;
                if recorded.is_none() {
                    // Seen before: roll this count back, replay the first answer.
                    return Err(Step::Seen);
                }
                if after.is_some() {
                    alert(tx, c.user_id, c.kind, &figures, c.amount, now).await?;
                }
                Ok::<_, Step>(Answer {
                    status,
                    body,
                    replayed: false,
                })
            })
        })
        .await;
    match fresh {
        Ok(answer) => Ok(answer),
        Err(Step::Seen) => replay(db, call).await,
        Err(Step::Db(e)) => Err(e.into()),
    }
}

/// The first answer given to `call`'s idempotency key, if it was the same call.
async fn replay(db: &mut Db, call: &Consume) -> Result<Answer, MeterError> {
    let first: (i64, UsageKind, i64, i32, String) = crate::db_run!(db, |c| usage_events::table
        .filter(usage_events::idempotency_key.eq(&call.idempotency_key))
        .select((
            usage_events::user_id,
            usage_events::kind,
            usage_events::amount,
            usage_events::status,
            usage_events::answer,
        ))
        .first(c)
        .await)?;
    if (first.0, first.1, first.2) != (call.user_id, call.kind, call.amount) {
        return Err(MeterError::KeyReused);
    }
    Ok(Answer {
        status: u16::try_from(first.3).unwrap_or(200),
        body: serde_json::from_str(&first.4).unwrap_or_default(),
        replayed: true,
    })
}

/// Notifies staff when this call reached 80 % or 100 % of the limit, once
/// per user, kind and period, and marks the counter's level (the users
/// list filters on it).
async fn alert(
    tx: &mut Tx<'_>,
    user_id: i64,
    kind: UsageKind,
    f: &Figures,
    amount: i64,
    now: PrimitiveDateTime,
) -> Result<(), diesel::result::Error> {
    let Some(limit) = f.limit.0.filter(|l| *l > 0) else {
        return Ok(());
    };
    let before = f.used - amount;
    let reached: Vec<i64> = LEVELS
        .into_iter()
        .filter(|pct| before * 100 < limit * pct && f.used * 100 >= limit * pct)
        .collect();
    let Some(&top) = reached.last() else {
        return Ok(());
    };
    let period = f.period.key();
    for pct in &reached {
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
    fn overage_counts_only_this_calls_units_past_the_limit() {
        let l = Limit(Some(10));
        assert_eq!(beyond(l, 8, 3), 0);
        assert_eq!(beyond(l, 12, 3), 2);
        assert_eq!(beyond(l, 15, 3), 3);
        assert_eq!(beyond(Limit::UNLIMITED, 15, 3), 0);
    }
}
