//! Reads of the billing screens.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{plans, subscriptions, users};

/// The user's subscription with its plan, as the billing section shows it.
#[derive(Clone, Debug, Queryable)]
pub struct Current {
    pub plan_id: i64,
    pub plan_name: String,
    pub plan_code: String,
    pub status: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub item: Option<String>,
    pub price: Option<String>,
    pub period_start: Option<PrimitiveDateTime>,
    pub period_end: Option<PrimitiveDateTime>,
    pub cancel_at_period_end: bool,
}

impl Current {
    /// A Stripe subscription still running (the actions apply to it).
    pub fn live_stripe(&self) -> bool {
        self.subscription.is_some()
            && !crate::metering::quota::ENDED.contains(&self.status.as_str())
    }
}

pub async fn current(db: &mut Db, user_id: i64) -> QueryResult<Option<Current>> {
    crate::db_run!(db, |c| subscriptions::table
        .inner_join(plans::table)
        .filter(subscriptions::user_id.eq(user_id))
        .select((
            plans::id,
            plans::name,
            plans::code,
            subscriptions::status,
            subscriptions::stripe_customer_id,
            subscriptions::stripe_subscription_id,
            subscriptions::stripe_item_id,
            subscriptions::stripe_price_id,
            subscriptions::current_period_start,
            subscriptions::current_period_end,
            subscriptions::cancel_at_period_end,
        ))
        .first(c)
        .await
        .optional())
}

/// A plan sold through Stripe: (id, code, name, price id).
pub type Sellable = (i64, String, String, String);

/// The offered plans that have a Stripe price, by name.
pub async fn sellable(db: &mut Db) -> QueryResult<Vec<Sellable>> {
    let rows: Vec<(i64, String, String, Option<String>)> = crate::db_run!(db, |c| plans::table
        .filter(plans::active.eq(true))
        .filter(plans::archived_at.is_null())
        .filter(plans::stripe_price_id.is_not_null())
        .order(plans::name)
        .select((plans::id, plans::code, plans::name, plans::stripe_price_id))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, code, name, price)| Some((id, code, name, price?)))
        .filter(|p| !p.3.trim().is_empty())
        .collect())
}

/// A live (not deleted) user's email.
pub async fn email_of(db: &mut Db, user_id: i64) -> QueryResult<Option<String>> {
    crate::db_run!(db, |c| users::table
        .find(user_id)
        .filter(users::deleted_at.is_null())
        .select(users::email)
        .first(c)
        .await
        .optional())
}
