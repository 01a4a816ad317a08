//! A Stripe subscription as the backoffice reads it, and its state written
//! onto the user's `subscriptions` row. The same writer serves webhook
//! events and the answers of the calls staff make, so both agree.
//!
//! Order: Stripe may deliver an older event after a newer one. Each write
//! carries the time Stripe's state is from (the event's `created`, or the
//! moment an answer was read); a state older than the one applied is left
//! alone, so the row never moves back.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::Tx;
use crate::db::schema::{plans, subscriptions, users};
use crate::db_run;

/// The id of a field holding either an id or the expanded object.
pub fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// A unix time as the database's UTC timestamp.
pub fn at_unix(t: i64) -> Option<PrimitiveDateTime> {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .map(|d| PrimitiveDateTime::new(d.date(), d.time()))
}

/// Stripe's status as ours: `incomplete_expired` never started (canceled);
/// `paused` gives no service (unpaid).
pub fn status_of(stripe: &str) -> Option<&'static str> {
    Some(match stripe {
        "active" => "active",
        "trialing" => "trialing",
        "past_due" => "past_due",
        "unpaid" | "paused" => "unpaid",
        "incomplete" => "incomplete",
        "canceled" | "incomplete_expired" => "canceled",
        _ => return None,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeSubscription {
    pub id: String,
    pub customer: Option<String>,
    pub status: &'static str,
    pub price_id: Option<String>,
    pub item_id: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// Ours, set in the subscription's metadata by the Checkout Session.
    pub user_id: Option<i64>,
}

impl StripeSubscription {
    /// Reads a subscription object; `None` when it is not one.
    pub fn read(v: &Value) -> Option<StripeSubscription> {
        if v.get("object").and_then(Value::as_str) != Some("subscription") {
            return None;
        }
        let item = v.pointer("/items/data/0");
        let int = |v: Option<&Value>, k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_i64);
        // Since API version 2025-03-31 the period is on each item.
        let period = |k: &str| int(Some(v), k).or_else(|| int(item, k));
        Some(StripeSubscription {
            id: v.get("id")?.as_str()?.to_owned(),
            customer: id_of(v.get("customer")),
            status: status_of(v.get("status")?.as_str()?)?,
            price_id: item.and_then(|i| id_of(i.get("price"))),
            item_id: item.and_then(|i| id_of(i.get("id"))),
            period_start: period("current_period_start"),
            period_end: period("current_period_end"),
            cancel_at_period_end: v
                .get("cancel_at_period_end")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            user_id: v
                .pointer("/metadata/user_id")
                .and_then(Value::as_str)
                .and_then(|u| u.parse().ok()),
        })
    }
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Synced {
    Applied,
    /// Older than the state already applied: left alone.
    Stale,
}

/// The user a Stripe object is about: the row holding the subscription,
/// the user id in its metadata, or the row holding the customer.
pub async fn user_for(
    tx: &mut Tx<'_>,
    subscription: Option<&str>,
    metadata_user: Option<i64>,
    customer: Option<&str>,
) -> ChangeResult<Option<i64>> {
    if let Some(sub) = subscription {
        let found: Option<i64> = db_run!(tx, |c| subscriptions::table
            .filter(subscriptions::stripe_subscription_id.eq(sub))
            .select(subscriptions::user_id)
            .first(c)
            .await
            .optional())?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(id) = metadata_user {
        let exists: Option<i64> = db_run!(tx, |c| users::table
            .find(id)
            .select(users::id)
            .first(c)
            .await
            .optional())?;
        if exists.is_some() {
            return Ok(exists);
        }
    }
    if let Some(customer) = customer {
        return Ok(db_run!(tx, |c| subscriptions::table
            .filter(subscriptions::stripe_customer_id.eq(customer))
            .select(subscriptions::user_id)
            .first(c)
            .await
            .optional())?);
    }
    Ok(None)
}

/// The row as the audit trail shows it before and after.
type Row = (i64, String, String, bool, Option<i64>);

async fn row_of(tx: &mut Tx<'_>, user_id: i64) -> ChangeResult<Option<Row>> {
    Ok(db_run!(tx, |c| subscriptions::table
        .inner_join(plans::table)
        .filter(subscriptions::user_id.eq(user_id))
        .select((
            subscriptions::plan_id,
            plans::code,
            subscriptions::status,
            subscriptions::cancel_at_period_end,
            subscriptions::stripe_state_at,
        ))
        .first(c)
        .await
        .optional())?)
}

fn shown(row: &Option<Row>) -> Value {
    row.as_ref().map_or(Value::Null, |(_, code, status, cancel, _)| {
        json!({"plan": code, "status": status, "cancel_at_period_end": cancel})
    })
}

/// Writes `sub` as Stripe's state at `at` (unix seconds) onto its user's
/// row, audited by `by`; `source` names what it came from (an event id, or
/// the action). The plan is the one sold at the subscription's price, else
/// `plan_hint` (a Checkout Session names its plan, not its price), else
/// the row's.
pub async fn write(
    tx: &mut Tx<'_>,
    by: &By,
    sub: &StripeSubscription,
    plan_hint: Option<i64>,
    at: i64,
    source: &str,
) -> ChangeResult<Synced> {
    let user_id = user_for(tx, Some(&sub.id), sub.user_id, sub.customer.as_deref())
        .await?
        .ok_or(ChangeError::Invalid("billing.result.no_user"))?;
    let before = row_of(tx, user_id).await?;
    if before
        .as_ref()
        .and_then(|r| r.4)
        .is_some_and(|applied| applied > at)
    {
        return Ok(Synced::Stale);
    }
    let by_price: Option<i64> = match &sub.price_id {
        Some(price) => db_run!(tx, |c| plans::table
            .filter(plans::stripe_price_id.eq(price))
            .order((plans::archived_at.is_not_null(), plans::id))
            .select(plans::id)
            .first(c)
            .await
            .optional())?,
        None => None,
    };
    let plan_id = by_price
        .or(plan_hint)
        .or(before.as_ref().map(|r| r.0))
        .ok_or(ChangeError::Invalid("billing.result.unknown_price"))?;
    let start = sub.period_start.and_then(at_unix);
    let end = sub.period_end.and_then(at_unix);
    // The guard again in the write itself: of two applies racing for one
    // row, the older state cannot land after the newer one.
    let newer = subscriptions::stripe_state_at
        .is_null()
        .or(subscriptions::stripe_state_at.assume_not_null().le(at));
    let written = db_run!(tx, |c| diesel::query_dsl::methods::FilterDsl::filter(
        diesel::insert_into(subscriptions::table)
            .values((
                subscriptions::user_id.eq(user_id),
                subscriptions::plan_id.eq(plan_id),
                subscriptions::status.eq(sub.status),
                subscriptions::stripe_customer_id.eq(&sub.customer),
                subscriptions::stripe_subscription_id.eq(&sub.id),
                subscriptions::stripe_item_id.eq(&sub.item_id),
                subscriptions::stripe_price_id.eq(&sub.price_id),
                subscriptions::current_period_start.eq(start),
                subscriptions::current_period_end.eq(end),
                subscriptions::cancel_at_period_end.eq(sub.cancel_at_period_end),
                subscriptions::stripe_state_at.eq(at),
                subscriptions::created_at.eq(by.now),
                subscriptions::updated_at.eq(by.now),
            ))
            .on_conflict(subscriptions::user_id)
            .do_update()
            .set((
                subscriptions::plan_id.eq(plan_id),
                subscriptions::status.eq(sub.status),
                subscriptions::stripe_customer_id.eq(&sub.customer),
                subscriptions::stripe_subscription_id.eq(&sub.id),
                subscriptions::stripe_item_id.eq(&sub.item_id),
                subscriptions::stripe_price_id.eq(&sub.price_id),
                subscriptions::current_period_start.eq(start),
                subscriptions::current_period_end.eq(end),
                subscriptions::cancel_at_period_end.eq(sub.cancel_at_period_end),
                subscriptions::stripe_state_at.eq(at),
                subscriptions::updated_at.eq(by.now),
            )),
        newer
    )
    .execute(c)
    .await)?;
    if written == 0 {
        return Ok(Synced::Stale);
    }
    audit_change(
        tx,
        by,
        user_id,
        &before,
        json!({ "source": source, "subscription": sub.id }),
    )
    .await
}

/// The audit event of a write, when it changed what staff see.
async fn audit_change(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    before: &Option<Row>,
    mut details: Value,
) -> ChangeResult<Synced> {
    crate::metering::quota::relevel(tx, user_id, by.now).await?;
    let after = row_of(tx, user_id).await?;
    if shown(before) != shown(&after) {
        details["before"] = shown(before);
        details["after"] = shown(&after);
        by.record(
            tx,
            Event::new(Action::SubscriptionSynced)
                .target("user", user_id)
                .details(details),
        )
        .await?;
    }
    Ok(Synced::Applied)
}

/// Sets the status of the user's Stripe subscription from an invoice event
/// at `at`, unless a newer state was applied.
pub async fn set_status(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    status: &'static str,
    at: i64,
    source: &str,
) -> ChangeResult<Synced> {
    let before = row_of(tx, user_id).await?;
    let Some(row) = &before else {
        return Err(ChangeError::Invalid("billing.result.no_subscription"));
    };
    if row.4.is_some_and(|applied| applied > at) {
        return Ok(Synced::Stale);
    }
    let written = db_run!(tx, |c| diesel::update(
        subscriptions::table
            .filter(subscriptions::user_id.eq(user_id))
            .filter(
                subscriptions::stripe_state_at
                    .is_null()
                    .or(subscriptions::stripe_state_at.assume_not_null().le(at)),
            )
    )
    .set((
        subscriptions::status.eq(status),
        subscriptions::stripe_state_at.eq(at),
        subscriptions::updated_at.eq(by.now),
    ))
    .execute(c)
    .await)?;
    if written == 0 {
        return Ok(Synced::Stale);
    }
    audit_change(tx, by, user_id, &before, json!({ "source": source })).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_period_from_the_item_on_recent_api_versions() {
        let v = json!({
            "id": "sub_1", "object": "subscription", "customer": {"id": "cus_1"},
            "status": "incomplete_expired", "cancel_at_period_end": true,
            "metadata": {"user_id": "42"},
            "items": {"data": [{"id": "si_1", "price": {"id": "price_1"},
                "current_period_start": 10, "current_period_end": 20}]}
        });
        let s = StripeSubscription::read(&v).expect("a subscription");
        assert_eq!(s.customer.as_deref(), Some("cus_1"));
        assert_eq!(s.status, "canceled");
        assert_eq!((s.period_start, s.period_end), (Some(10), Some(20)));
        assert_eq!(s.item_id.as_deref(), Some("si_1"));
        assert_eq!(s.price_id.as_deref(), Some("price_1"));
        assert_eq!(s.user_id, Some(42));
        assert!(s.cancel_at_period_end);
        assert_eq!(
            StripeSubscription::read(&json!({"object": "invoice"})),
            None
        );
        assert_eq!(
            StripeSubscription::read(
                &json!({"id": "sub_1", "object": "subscription", "status": "weird"})
            ),
            None
        );
    }
}
