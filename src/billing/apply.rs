//! What a stored Stripe event changes, inside the applying task's
//! transaction (no network call: the event carries the object). Types the
//! backoffice does not use are acknowledged and marked ignored.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::access::Permission;
use crate::audit::{Action, Event};
use crate::billing::events::StoredEvent;
use crate::billing::subscription::{self, StripeSubscription, Synced, id_of};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::Tx;
use crate::db::schema::{plans, subscriptions};
use crate::db_run;
use crate::metering::notify::{self, NewNotification};

/// The outcome stored on the event: its status and an i18n key saying why.
pub struct Outcome {
    pub status: &'static str,
    pub result: &'static str,
}

const fn done(status: &'static str, result: &'static str) -> Outcome {
    Outcome { status, result }
}

fn synced(s: Synced) -> Outcome {
    match s {
        Synced::Applied => done("processed", "billing.result.applied"),
        Synced::Stale => done("processed", "billing.result.stale"),
    }
}

/// Applies `e` as `by` (the system, client `stripe`). A refusal
/// (`ChangeError::Invalid`) is the event's failure, kept for staff to read
/// and re-process once fixed (a plan given its Stripe price, say).
pub async fn apply(tx: &mut Tx<'_>, by: &By, e: &StoredEvent) -> ChangeResult<Outcome> {
    let payload: Value = serde_json::from_str(&e.payload)
        .map_err(|_| ChangeError::Invalid("billing.result.bad_payload"))?;
    let object = payload
        .pointer("/data/object")
        .ok_or(ChangeError::Invalid("billing.result.bad_payload"))?;
    let at = e.stripe_created;
    let source = e.event_id.as_str();
    match e.event_type.as_str() {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let sub = StripeSubscription::read(object)
                .ok_or(ChangeError::Invalid("billing.result.bad_payload"))?;
            Ok(synced(
                subscription::write(tx, by, &sub, None, at, source).await?,
            ))
        }
        "checkout.session.completed" => checkout_completed(tx, by, object, at, source).await,
        "invoice.paid" => {
            let Some(user_id) = invoice_user(tx, object).await? else {
                return Err(ChangeError::Invalid("billing.result.no_user"));
            };
            let status: Option<String> = db_run!(tx, |c| subscriptions::table
                .filter(subscriptions::user_id.eq(user_id))
                .select(subscriptions::status)
                .first(c)
                .await
                .optional())?;
            // Paid: an overdue subscription is in good standing again.
            if matches!(status.as_deref(), Some("past_due" | "unpaid")) {
                Ok(synced(
                    subscription::set_status(tx, by, user_id, "active", at, source).await?,
                ))
            } else {
                Ok(done("processed", "billing.result.nothing_to_change"))
            }
        }
        "invoice.payment_failed" => payment_failed(tx, by, object, at, source).await,
        "customer.deleted" => customer_deleted(tx, by, object, source).await,
        _ => Ok(done("ignored", "billing.result.ignored_type")),
    }
}

/// The subscription an invoice belongs to (moved under `parent` in recent
/// API versions).
fn invoice_subscription(invoice: &Value) -> Option<String> {
    id_of(invoice.get("subscription"))
        .or_else(|| id_of(invoice.pointer("/parent/subscription_details/subscription")))
}

async fn invoice_user(tx: &mut Tx<'_>, invoice: &Value) -> ChangeResult<Option<i64>> {
    let sub = invoice_subscription(invoice);
    let customer = id_of(invoice.get("customer"));
    subscription::user_for(tx, sub.as_deref(), None, customer.as_deref()).await
}

/// Checkout finished: the user now has a Stripe customer and subscription.
/// The subscription's own events carry its state; this links the ids so
/// that whichever comes first finds the user, and gives the plan chosen
/// until the subscription's state arrives.
async fn checkout_completed(
    tx: &mut Tx<'_>,
    by: &By,
    session: &Value,
    at: i64,
    source: &str,
) -> ChangeResult<Outcome> {
    let user_id = session
        .get("client_reference_id")
        .and_then(Value::as_str)
        .and_then(|u| u.parse::<i64>().ok());
    let customer = id_of(session.get("customer"));
    let sub_id = id_of(session.get("subscription"));
    let Some(user_id) =
        subscription::user_for(tx, sub_id.as_deref(), user_id, customer.as_deref()).await?
    else {
        return Err(ChangeError::Invalid("billing.result.no_user"));
    };
    let plan_code = session
        .pointer("/metadata/plan_code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plan_id: Option<i64> = db_run!(tx, |c| plans::table
        .filter(plans::code.eq(plan_code))
        .select(plans::id)
        .first(c)
        .await
        .optional())?;
    let current: Option<(Option<String>, Option<i64>)> = db_run!(tx, |c| subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .select((
            subscriptions::stripe_subscription_id,
            subscriptions::stripe_state_at
        ))
        .first(c)
        .await
        .optional())?;
    let already = matches!(&current, Some((Some(s), _)) if Some(s) == sub_id.as_ref());
    if already || current.as_ref().and_then(|c| c.1).is_some_and(|a| a > at) {
        // The subscription's events came first: only the customer to link.
        db_run!(tx, |c| diesel::update(
            subscriptions::table.filter(subscriptions::user_id.eq(user_id))
        )
        .set(subscriptions::stripe_customer_id.eq(&customer))
        .execute(c)
        .await)?;
        return Ok(done("processed", "billing.result.linked"));
    }
    let Some(plan_id) = plan_id else {
        return Err(ChangeError::Invalid("billing.result.unknown_price"));
    };
    let paid = session.get("payment_status").and_then(Value::as_str) == Some("paid");
    let sub = StripeSubscription {
        id: sub_id.ok_or(ChangeError::Invalid("billing.result.bad_payload"))?,
        customer,
        status: if paid { "active" } else { "incomplete" },
        price_id: None,
        item_id: None,
        period_start: None,
        period_end: None,
        cancel_at_period_end: false,
        user_id: Some(user_id),
    };
    Ok(synced(
        subscription::write(tx, by, &sub, Some(plan_id), at, source).await?,
    ))
}

/// A payment failed: the subscription is overdue and the billing staff are
/// told (once per invoice and attempt).
async fn payment_failed(
    tx: &mut Tx<'_>,
    by: &By,
    invoice: &Value,
    at: i64,
    source: &str,
) -> ChangeResult<Outcome> {
    let Some(user_id) = invoice_user(tx, invoice).await? else {
        return Err(ChangeError::Invalid("billing.result.no_user"));
    };
    let outcome = subscription::set_status(tx, by, user_id, "past_due", at, source).await?;
    let invoice_id = id_of(invoice.get("id")).unwrap_or_default();
    let attempt = invoice
        .get("attempt_count")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    notify::raise(
        tx,
        NewNotification {
            permission: Permission::BillingRead,
            kind: "payment_failed",
            subject_user_id: Some(user_id),
            details: json!({
                "invoice": invoice_id,
                "amount": invoice.get("amount_due").and_then(Value::as_i64).unwrap_or(0),
                "currency": invoice.get("currency").and_then(Value::as_str).unwrap_or_default(),
                "attempt": attempt,
            }),
            dedupe_key: format!("payment_failed@{invoice_id}@{attempt}"),
        },
        by.now,
    )
    .await?;
    Ok(synced(outcome))
}

/// The customer was deleted in Stripe: their subscription ended with it.
async fn customer_deleted(
    tx: &mut Tx<'_>,
    by: &By,
    customer: &Value,
    source: &str,
) -> ChangeResult<Outcome> {
    let Some(id) = id_of(customer.get("id")) else {
        return Err(ChangeError::Invalid("billing.result.bad_payload"));
    };
    let users: Vec<(i64, String)> = db_run!(tx, |c| subscriptions::table
        .filter(subscriptions::stripe_customer_id.eq(&id))
        .select((subscriptions::user_id, subscriptions::status))
        .load(c)
        .await)?;
    if users.is_empty() {
        return Ok(done("processed", "billing.result.nothing_to_change"));
    }
    for (user_id, status) in users {
        let ended = if status == "complimentary" {
            "complimentary"
        } else {
            "canceled"
        };
        db_run!(tx, |c| diesel::update(
            subscriptions::table.filter(subscriptions::user_id.eq(user_id))
        )
        .set((
            subscriptions::status.eq(ended),
            subscriptions::stripe_customer_id.eq(None::<String>),
            subscriptions::stripe_subscription_id.eq(None::<String>),
            subscriptions::stripe_item_id.eq(None::<String>),
            subscriptions::updated_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
        crate::metering::quota::relevel(tx, user_id, by.now).await?;
        by.record(
            tx,
            Event::new(Action::StripeCustomerDeleted)
                .target("user", user_id)
                .details(json!({ "source": source, "customer": id, "before": {"status": status}, "after": {"status": ended} })),
        )
        .await?;
    }
    Ok(done("processed", "billing.result.applied"))
}
