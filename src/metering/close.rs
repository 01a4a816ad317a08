//! Closing a month: per user and kind, the usage beyond the limit in force
//! at the month's end, stored as the overage report (billed at the plan's
//! overage price where it has one). Written chunk by chunk, each row keyed
//! by (period, user, kind) so a rerun or a second runner adds nothing;
//! the month is marked closed, with its totals, once every row is in.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Tx;
use crate::db::schema::{
    overage_reports, period_closes, plans, quota_overrides, subscriptions, usage_counters,
};
use crate::metering::kind::UsageKind;
use crate::metering::period::Period;
use crate::metering::plan::{Plan, PlanRow};
use crate::metering::quota::{self, QuotaOverride};

/// Users per chunk (one transaction each).
pub const CHUNK: i64 = 500;

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq, Queryable)]
pub struct OverageRow {
    pub period: String,
    pub user_id: i64,
    pub kind: UsageKind,
    pub plan_id: i64,
    pub used: i64,
    pub quota: i64,
    pub overage: i64,
    pub unit_cents: Option<i64>,
    pub amount_cents: i64,
    pub currency: String,
    pub stripe_invoice_item_id: Option<String>,
    pub created_at: PrimitiveDateTime,
}

/// Whether `period` is closed already.
pub async fn is_closed(tx: &mut Tx<'_>, period: Period) -> QueryResult<bool> {
    let found: Option<String> = crate::db_run!(tx, |c| period_closes::table
        .find(period.key())
        .select(period_closes::period)
        .first(c)
        .await
        .optional())?;
    Ok(found.is_some())
}

/// The plan each of `user_ids` had at the close (their live subscription's,
/// or the default plan), from two queries.
async fn plans_of(
    tx: &mut Tx<'_>,
    user_ids: &[i64],
    catalogue: &HashMap<i64, Plan>,
) -> QueryResult<HashMap<i64, i64>> {
    let subscribed: Vec<(i64, i64)> = crate::db_run!(tx, |c| subscriptions::table
        .filter(subscriptions::user_id.eq_any(user_ids))
        .filter(subscriptions::status.ne_all(quota::ENDED))
        .select((subscriptions::user_id, subscriptions::plan_id))
        .load(c)
        .await)?;
    let default = catalogue.values().find(|p| p.is_default).map(|p| p.id);
    let mut out: HashMap<i64, i64> = subscribed.into_iter().collect();
    if let Some(d) = default {
        for id in user_ids {
            out.entry(*id).or_insert(d);
        }
    }
    Ok(out)
}

/// The overrides of `user_ids` in force at `end`.
async fn overrides_at(
    tx: &mut Tx<'_>,
    user_ids: &[i64],
    end: PrimitiveDateTime,
) -> QueryResult<HashMap<i64, Vec<QuotaOverride>>> {
    let rows: Vec<QuotaOverride> = crate::db_run!(tx, |c| quota_overrides::table
        .filter(quota_overrides::user_id.eq_any(user_ids))
        .filter(quota_overrides::created_at.lt(end))
        .filter(
            quota_overrides::revoked_at
                .is_null()
                .or(quota_overrides::revoked_at.ge(end))
        )
        .filter(
            quota_overrides::expires_at
                .is_null()
                .or(quota_overrides::expires_at.ge(end))
        )
        .order(quota_overrides::id)
        .load(c)
        .await)?;
    let mut out: HashMap<i64, Vec<QuotaOverride>> = HashMap::new();
    for o in rows {
        out.entry(o.user_id).or_default().push(o);
    }
    Ok(out)
}

pub async fn catalogue(tx: &mut Tx<'_>) -> QueryResult<HashMap<i64, Plan>> {
    let rows: Vec<PlanRow> = crate::db_run!(tx, |c| plans::table.load(c).await)?;
    Ok(rows.into_iter().map(|r| (r.0, Plan::from_row(r))).collect())
}

/// Reports the users after `after` (one chunk); returns the last user id
/// seen, or `None` when the period has no more counters.
pub async fn close_chunk(
    tx: &mut Tx<'_>,
    period: Period,
    after: i64,
    now: PrimitiveDateTime,
) -> QueryResult<Option<i64>> {
    let key = period.key();
    let counters: Vec<(i64, i64, i64, i64)> = crate::db_run!(tx, |c| usage_counters::table
        .filter(usage_counters::period.eq(&key))
        .filter(usage_counters::user_id.gt(after))
        .order(usage_counters::user_id)
        .limit(CHUNK)
        .select((
            usage_counters::user_id,
            usage_counters::articles,
            usage_counters::images,
            usage_counters::social_posts
        ))
        .load(c)
        .await)?;
    let Some(last) = counters.last().map(|r| r.0) else {
        return Ok(None);
    };
    let ids: Vec<i64> = counters.iter().map(|r| r.0).collect();
    let catalogue = catalogue(tx).await?;
    let plan_of = plans_of(tx, &ids, &catalogue).await?;
    let end = period.resets_at();
    let overrides = overrides_at(tx, &ids, end).await?;
    let none = Vec::new();
    for (user_id, a, i, s) in counters {
        let Some(plan) = plan_of.get(&user_id).and_then(|id| catalogue.get(id)) else {
            continue;
        };
        let theirs = overrides.get(&user_id).unwrap_or(&none);
        for (kind, used) in [
            (UsageKind::Article, a),
            (UsageKind::Image, i),
            (UsageKind::SocialPost, s),
        ] {
            let Some(limit) = quota::apply(plan.limits.of(kind), kind, theirs).0 else {
                continue;
            };
            if used <= limit {
                continue;
            }
            let overage = used - limit;
            let unit = plan.overage.of(kind);
            crate::db_run!(tx, |c| diesel::insert_into(overage_reports::table)
                .values((
                    overage_reports::period.eq(&key),
                    overage_reports::user_id.eq(user_id),
                    overage_reports::kind.eq(kind),
                    overage_reports::plan_id.eq(plan.id),
                    overage_reports::used.eq(used),
                    overage_reports::quota.eq(limit),
                    overage_reports::overage.eq(overage),
                    overage_reports::unit_cents.eq(unit),
                    overage_reports::amount_cents.eq(unit.unwrap_or(0) * overage),
                    overage_reports::currency.eq(&plan.currency),
                    overage_reports::created_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(c)
                .await)?;
        }
    }
    Ok(Some(last))
}

/// Marks `period` closed with its totals; false if it already was.
pub async fn finish(
    tx: &mut Tx<'_>,
    period: Period,
    now: PrimitiveDateTime,
) -> QueryResult<(bool, i64, i64)> {
    let key = period.key();
    let rows: Vec<(i64, i64)> = crate::db_run!(tx, |c| overage_reports::table
        .filter(overage_reports::period.eq(&key))
        .order(overage_reports::user_id)
        .select((overage_reports::user_id, overage_reports::amount_cents))
        .load(c)
        .await)?;
    let mut users: Vec<i64> = rows.iter().map(|r| r.0).collect();
    users.dedup();
    let amount: i64 = rows.iter().map(|r| r.1).sum();
    let written = crate::db_run!(tx, |c| diesel::insert_into(period_closes::table)
        .values((
            period_closes::period.eq(&key),
            period_closes::closed_at.eq(now),
            period_closes::users.eq(users.len() as i64),
            period_closes::amount_cents.eq(amount),
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .await)?;
    Ok((written > 0, users.len() as i64, amount))
}

/// The report of `period`, by user then kind.
pub async fn report(db: &mut crate::db::Db, period: Period) -> QueryResult<Vec<OverageRow>> {
    crate::db_run!(db, |c| overage_reports::table
        .filter(overage_reports::period.eq(period.key()))
        .order((overage_reports::user_id, overage_reports::kind))
        .load(c)
        .await)
}

/// When `period` was closed, if it was.
pub async fn closed_at(
    db: &mut crate::db::Db,
    period: Period,
) -> QueryResult<Option<PrimitiveDateTime>> {
    crate::db_run!(db, |c| period_closes::table
        .find(period.key())
        .select(period_closes::closed_at)
        .first(c)
        .await
        .optional())
}
