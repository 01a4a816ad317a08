//! The plan catalogue: one plan, all of them (a handful: no pager), and
//! how many live subscriptions each has. Read by the plans screens and the
//! usage section alike.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::{plans, subscriptions, usage_counters};
use crate::metering::plan::{Plan, PlanRow};
use crate::metering::quota::ENDED;

pub async fn find(db: &mut Db, id: i64) -> QueryResult<Option<Plan>> {
    let row: Option<PlanRow> =
        crate::db_run!(db, |c| plans::table.find(id).first(c).await.optional())?;
    Ok(row.map(Plan::from_row))
}

/// Plans by code; archived ones only when asked.
pub async fn all(db: &mut Db, archived: bool) -> QueryResult<Vec<Plan>> {
    let rows: Vec<PlanRow> = crate::db_run!(db, |c| {
        let mut q = plans::table.order(plans::code).into_boxed();
        q = if archived {
            q.filter(plans::archived_at.is_not_null())
        } else {
            q.filter(plans::archived_at.is_null())
        };
        q.load(c).await
    })?;
    Ok(rows.into_iter().map(Plan::from_row).collect())
}

/// Live subscriptions per plan.
pub async fn subscribers(db: &mut Db) -> QueryResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = crate::db_run!(db, |c| subscriptions::table
        .filter(subscriptions::status.ne_all(ENDED))
        .group_by(subscriptions::plan_id)
        .select((subscriptions::plan_id, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}

/// The plan code of each of `user_ids` that has a live subscription.
pub async fn plan_codes_of(db: &mut Db, user_ids: &[i64]) -> QueryResult<HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = crate::db_run!(db, |c| subscriptions::table
        .inner_join(plans::table)
        .filter(subscriptions::user_id.eq_any(user_ids))
        .filter(subscriptions::status.ne_all(ENDED))
        .select((subscriptions::user_id, plans::code))
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}

/// The default plan's code.
pub async fn default_code(db: &mut Db) -> QueryResult<Option<String>> {
    crate::db_run!(db, |c| plans::table
        .filter(plans::is_default)
        .select(plans::code)
        .first(c)
        .await
        .optional())
}

/// `period`'s counters of each of `user_ids` that has some, with the
/// alert level reached.
pub async fn counters_of(
    db: &mut Db,
    user_ids: &[i64],
    period: &str,
) -> QueryResult<HashMap<i64, ([i64; 3], i32)>> {
    let rows: Vec<(i64, i64, i64, i64, i32)> = crate::db_run!(db, |c| usage_counters::table
        .filter(usage_counters::user_id.eq_any(user_ids))
        .filter(usage_counters::period.eq(period))
        .select((
            usage_counters::user_id,
            usage_counters::articles,
            usage_counters::images,
            usage_counters::social_posts,
            usage_counters::level,
        ))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(u, a, i, s, l)| (u, ([a, i, s], l)))
        .collect())
}
