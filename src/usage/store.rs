//! Reads of the usage section: the user, their subscription, their overrides.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{quota_overrides, subscriptions};
use crate::metering::quota::QuotaOverride;

pub use crate::user_record::emails::user_title;

#[derive(Clone, Debug, Queryable)]
pub struct Subscription {
    pub plan_id: i64,
    pub status: String,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub current_period_end: Option<PrimitiveDateTime>,
    pub cancel_at_period_end: bool,
}

pub async fn subscription(db: &mut Db, user_id: i64) -> QueryResult<Option<Subscription>> {
    crate::db_run!(db, |c| subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .select((
            subscriptions::plan_id,
            subscriptions::status,
            subscriptions::stripe_customer_id,
            subscriptions::stripe_subscription_id,
            subscriptions::current_period_end,
            subscriptions::cancel_at_period_end,
        ))
        .first(c)
        .await
        .optional())
}

/// Every override of the user, newest first (the last 100).
pub async fn overrides(db: &mut Db, user_id: i64) -> QueryResult<Vec<QuotaOverride>> {
    crate::db_run!(db, |c| quota_overrides::table
        .filter(quota_overrides::user_id.eq(user_id))
        .order(quota_overrides::id.desc())
        .limit(100)
        .load(c)
        .await)
}
