//! What a user may use this month: their plan's limits (the subscribed
//! plan, or the default plan without a live subscription), changed by
//! their active overrides. Read for every consume call (on PostgreSQL for a
//! whole batch of calls at once: see `group_commit`): indexed
//! queries, no cache, so an override or its expiry counts at once.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{plans, quota_overrides, subscriptions, users};
use crate::metering::kind::UsageKind;
use crate::metering::plan::{Limit, Plan, PlanRow};

crate::text_enum!(
    /// An override adds to the plan's limit or replaces it.
    OverrideMode { Extra => "extra", Replace => "replace" }
);

/// Subscription states that no longer give their plan's limits.
pub const ENDED: [&str; 2] = ["canceled", "incomplete"];

/// An override as stored.
#[derive(Clone, Debug, Queryable)]
pub struct QuotaOverride {
    pub id: i64,
    pub user_id: i64,
    pub kind: UsageKind,
    pub mode: OverrideMode,
    pub amount: i64,
    pub reason: String,
    pub expires_at: Option<PrimitiveDateTime>,
    pub created_by: Option<i64>,
    pub created_by_label: String,
    pub created_at: PrimitiveDateTime,
    pub revoked_at: Option<PrimitiveDateTime>,
}

impl QuotaOverride {
    pub fn active(&self, now: PrimitiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A user's limits now.
#[derive(Clone, Debug)]
pub struct UserQuota {
    pub plan: Plan,
    /// A live subscription gives the plan (otherwise the default plan does).
    pub subscribed: bool,
    /// Per kind, in [`UsageKind::index`] order: the plan's limit with the
    /// overrides applied.
    pub limits: [Limit; 3],
}

impl UserQuota {
    pub fn limit(&self, kind: UsageKind) -> Limit {
        self.limits[kind.index()]
    }

    /// Units beyond the limit are billed at this price (cents) rather than refused.
    pub fn overage_cents(&self, kind: UsageKind) -> Option<i64> {
        self.plan.overage.of(kind)
    }
}

/// The plan's limit for `kind` changed by `overrides` (the active ones):
/// the newest replacement if any, plus every extra.
pub fn apply(plan_limit: Limit, kind: UsageKind, overrides: &[QuotaOverride]) -> Limit {
    let of_kind = || overrides.iter().filter(move |o| o.kind == kind);
    let base = of_kind()
        .filter(|o| o.mode == OverrideMode::Replace)
        .max_by_key(|o| o.id)
        .map_or(plan_limit, |o| Limit(Some(o.amount)));
    let extra: i64 = of_kind()
        .filter(|o| o.mode == OverrideMode::Extra)
        .map(|o| o.amount)
        .sum();
    base.plus(extra)
}

/// A row of [`quota_rows`]: user id, live subscription, plan, override.
type QuotaRow = (i64, Option<i64>, Option<PlanRow>, Option<QuotaOverride>);

/// One row per active override (or one without) of each live user the
/// filter keeps: the user id, the live subscription, the plan it gives (or
/// the default plan), the override. A macro so that each caller keeps its
/// own filter's type: a single `=` is cached as a prepared statement by
/// diesel on both engines, where SQLite's `IN (..)` of a list is prepared
/// again on every call (that halved SQLite's consume rate).
macro_rules! quota_rows {
    ($db:expr, $filter:expr, $now:expr) => {{
        let now = $now;
        let rows: Vec<QuotaRow> = crate::db_run!($db, |c| users::table
            .left_join(
                subscriptions::table.on(subscriptions::user_id
                    .eq(users::id)
                    .and(subscriptions::status.ne_all(ENDED))),
            )
            .left_join(
                plans::table.on(plans::id
                    .nullable()
                    .eq(subscriptions::plan_id.nullable())
                    .or(plans::is_default.and(subscriptions::id.nullable().is_null()))),
            )
            .left_join(
                quota_overrides::table.on(quota_overrides::user_id
                    .eq(users::id)
                    .and(quota_overrides::revoked_at.is_null())
                    .and(
                        quota_overrides::expires_at
                            .is_null()
                            .or(quota_overrides::expires_at.gt(now)),
                    )),
            )
            .filter($filter)
            .filter(users::deleted_at.is_null())
            .select((
                users::id,
                subscriptions::id.nullable(),
                plans::all_columns.nullable(),
                quota_overrides::all_columns.nullable(),
            ))
            .load(c)
            .await)?;
        rows
    }};
}

/// `user_id`'s limits at `now`; `None` for an unknown user. One query:
/// the user, their live subscription's plan (or the default plan), and
/// their active overrides (a row each, usually none).
pub async fn of_user(
    db: &mut Db,
    user_id: i64,
    now: PrimitiveDateTime,
) -> Result<Option<UserQuota>, diesel::result::Error> {
    let rows = quota_rows!(db, users::id.eq(user_id), now);
    Ok(fold(rows).remove(&user_id))
}

/// The limits at `now` of each of `user_ids` that is a live user, in one
/// query (the usage meter reads a whole batch of calls' users at once).
pub async fn of_users(
    db: &mut Db,
    user_ids: &[i64],
    now: PrimitiveDateTime,
) -> Result<HashMap<i64, UserQuota>, diesel::result::Error> {
    let rows = quota_rows!(db, users::id.eq_any(user_ids), now);
    Ok(fold(rows))
}

/// The quotas of [`quota_rows`]'s rows, by user.
fn fold(rows: Vec<QuotaRow>) -> HashMap<i64, UserQuota> {
    // Per user: the live subscription, the plan, the active overrides.
    type Found = (Option<i64>, Option<PlanRow>, Vec<QuotaOverride>);
    let mut found: HashMap<i64, Found> = HashMap::new();
    for (user_id, sub, plan, over) in rows {
        let entry = found
            .entry(user_id)
            .or_insert_with(|| (sub, plan, Vec::new()));
        entry.2.extend(over);
    }
    found
        .into_iter()
        .map(|(user_id, (sub, plan, mut overrides))| {
            // No default plan configured: nothing is allowed.
            let plan = plan.map_or_else(Plan::nothing, Plan::from_row);
            overrides.sort_by_key(|o| o.id);
            let limits = [UsageKind::Article, UsageKind::Image, UsageKind::SocialPost]
                .map(|k| apply(plan.limits.of(k), k, &overrides));
            let quota = UserQuota {
                plan,
                subscribed: sub.is_some(),
                limits,
            };
            (user_id, quota)
        })
        .collect()
}

/// The alert level (0, 80 or 100) of `used` against `limits`: the highest
/// any kind has reached.
pub fn level_of(used: [i64; 3], limits: &[Limit; 3]) -> i32 {
    let mut level = 0;
    for (u, l) in used.iter().zip(limits) {
        let reached = match l.0 {
            None => 0,
            Some(0) if *u > 0 => 100,
            Some(0) => 0,
            Some(l) if *u >= l => 100,
            Some(l) if u * 100 >= l * 80 => 80,
            Some(_) => 0,
        };
        level = level.max(reached);
    }
    level
}

/// Sets this month's alert level from the limits now in force. The meter
/// only raises it as usage grows; a change of limits (an override, a plan)
/// may put the user below a level, and the users list filters on it.
pub async fn relevel(
    db: &mut Db,
    user_id: i64,
    now: PrimitiveDateTime,
) -> Result<(), diesel::result::Error> {
    use crate::db::schema::usage_counters;
    let Some(q) = of_user(db, user_id, now).await? else {
        return Ok(());
    };
    let period = crate::metering::period::Period::of_primitive(now).key();
    let used: Option<(i64, i64, i64)> = crate::db_run!(db, |c| usage_counters::table
        .find((user_id, &period))
        .select((
            usage_counters::articles,
            usage_counters::images,
            usage_counters::social_posts,
        ))
        .first(c)
        .await
        .optional())?;
    let Some((a, i, s)) = used else {
        return Ok(());
    };
    let level = level_of([a, i, s], &q.limits);
    crate::db_run!(db, |c| diesel::update(
        usage_counters::table.find((user_id, &period))
    )
    .set(usage_counters::level.eq(level))
    .execute(c)
    .await)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(id: i64, kind: UsageKind, mode: OverrideMode, amount: i64) -> QuotaOverride {
        let t = time::macros::datetime!(2026-12-01 00:00);
        QuotaOverride {
            id,
            user_id: 1,
            kind,
            mode,
            amount,
            reason: String::new(),
            expires_at: None,
            created_by: None,
            created_by_label: String::new(),
            created_at: t,
            revoked_at: None,
        }
    }

    #[test]
    fn the_newest_replacement_then_every_extra() {
        use OverrideMode::*;
        use UsageKind::*;
        let plan = Limit(Some(10));
        assert_eq!(apply(plan, Article, &[]), plan);
        let list = [
            o(1, Article, Extra, 5),
            o(2, Article, Replace, 100),
            o(3, Article, Replace, 50),
            o(4, Image, Extra, 7),
            o(5, Article, Extra, 1),
        ];
        assert_eq!(apply(plan, Article, &list), Limit(Some(56)));
        assert_eq!(apply(plan, Image, &list), Limit(Some(17)));
        assert_eq!(apply(Limit::UNLIMITED, Image, &list), Limit::UNLIMITED);
        // A replacement bounds an unlimited plan.
        assert_eq!(apply(Limit::UNLIMITED, Article, &list), Limit(Some(56)));
    }

    #[test]
    fn the_level_is_the_highest_any_kind_reached() {
        let l = |v: Option<i64>| Limit(v);
        let limits = [l(Some(10)), l(None), l(Some(0))];
        assert_eq!(level_of([7, 1_000, 0], &limits), 0);
        assert_eq!(level_of([8, 0, 0], &limits), 80);
        assert_eq!(level_of([10, 0, 0], &limits), 100);
        assert_eq!(
            level_of([0, 0, 1], &limits),
            100,
            "anything against a zero limit is over"
        );
    }
}
