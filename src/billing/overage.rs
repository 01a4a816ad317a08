//! A closed month's overage put on each customer's next Stripe invoice:
//! one invoice item per (user, kind) row of the report. Idempotent twice
//! over: the row keeps the item's id (a rerun skips it), and the call
//! carries a key naming the row, so a crash between Stripe's answer and
//! the write makes Stripe answer the same item rather than create another.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::audit::{Action, Event};
use crate::billing::stripe_api::StripeApi;
use crate::change::{By, ChangeResult};
use crate::clock::Clock;
use crate::db::schema::{overage_reports, subscriptions};
use crate::db::{Pool, Tx};
use crate::db_run;
use crate::metering::period::Period;
use crate::tasks::runner::TaskError;
use crate::tasks::{Kind, NewTask};

/// One row to invoice.
struct Due {
    user_id: i64,
    kind: String,
    overage: i64,
    amount_cents: i64,
    currency: String,
    customer: String,
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Invoiced {
    pub created: i64,
    /// Rows with no Stripe customer (complimentary plans, say): nothing to bill there.
    pub without_customer: i64,
    pub failed: Vec<String>,
}

/// The task invoicing `period`'s overage, enqueued once, when it closes.
pub fn invoice_task(period: Period, now: time::PrimitiveDateTime) -> NewTask {
    let mut task = NewTask::new(Kind::OverageInvoice, json!({ "period": period.key() }), now);
    task.dedupe_key = Some(format!("{}@{}", Kind::OverageInvoice.key(), period.key()));
    task
}

/// The idempotency key of a row's invoice item.
pub fn item_key(period: Period, user_id: i64, kind: &str) -> String {
    format!("sowat-overage-{}-{user_id}-{kind}", period.key())
}

/// Creates the invoice items of `period` not created yet.
pub async fn invoice_period(
    pool: &Pool,
    api: &StripeApi,
    clock: &Clock,
    period: Period,
) -> Result<Invoiced, TaskError> {
    let mut db = pool.get().await?;
    let key = period.key();
    let rows: Vec<(i64, String, i64, i64, String, Option<String>)> = db_run!(db, |c| {
        overage_reports::table
            .left_join(subscriptions::table.on(subscriptions::user_id.eq(overage_reports::user_id)))
            .filter(overage_reports::period.eq(&key))
            .filter(overage_reports::amount_cents.gt(0))
            .filter(overage_reports::stripe_invoice_item_id.is_null())
            .order((overage_reports::user_id, overage_reports::kind))
            .select((
                overage_reports::user_id,
                overage_reports::kind,
                overage_reports::overage,
                overage_reports::amount_cents,
                overage_reports::currency,
                subscriptions::stripe_customer_id.nullable(),
            ))
            .load(c)
            .await
    })?;
    drop(db);
    let mut out = Invoiced::default();
    for (user_id, kind, overage, amount_cents, currency, customer) in rows {
        let Some(customer) = customer else {
            out.without_customer += 1;
            continue;
        };
        let due = Due {
            user_id,
            kind,
            overage,
            amount_cents,
            currency,
            customer,
        };
        // Outside any transaction: a network call never holds a database lock.
        let description = format!(
            "Overage {}: {} {} beyond the plan",
            key,
            due.overage,
            due.kind.replace('_', " ")
        );
        let idempotency = item_key(period, due.user_id, &due.kind);
        match api
            .invoice_item(
                &due.customer,
                due.amount_cents,
                &due.currency,
                &description,
                &idempotency,
            )
            .await
        {
            Ok(item) => {
                let mut db = pool.get().await?;
                let now = clock.now_primitive();
                let key = key.clone();
                let written = db
                    .transaction(move |tx| {
                        Box::pin(async move { record(tx, &key, &due, &item, now).await })
                    })
                    .await
                    .map_err(TaskError::from)?;
                if written {
                    out.created += 1;
                }
            }
            Err(e) => {
                tracing::warn!(user_id, kind = %due.kind, error = %e, "overage invoice item not created");
                out.failed
                    .push(format!("{}/{}: {e}", due.user_id, due.kind));
            }
        }
    }
    Ok(out)
}

/// Stores the item's id on its row (unless a concurrent run did) with its
/// audit event; true when this run wrote it.
async fn record(
    tx: &mut Tx<'_>,
    period: &str,
    due: &Due,
    item: &str,
    now: time::PrimitiveDateTime,
) -> ChangeResult<bool> {
    let n = db_run!(tx, |c| diesel::update(
        overage_reports::table
            .filter(overage_reports::period.eq(period))
            .filter(overage_reports::user_id.eq(due.user_id))
            .filter(overage_reports::kind.eq(&due.kind))
            .filter(overage_reports::stripe_invoice_item_id.is_null())
    )
    .set(overage_reports::stripe_invoice_item_id.eq(item))
    .execute(c)
    .await)?;
    if n == 0 {
        return Ok(false);
    }
    By::system(now, "scheduler")
        .record(
            tx,
            Event::new(Action::OverageInvoiced)
                .target("user", due.user_id)
                .details(json!({
                    "period": period,
                    "kind": due.kind,
                    "overage": due.overage,
                    "amount_cents": due.amount_cents,
                    "currency": due.currency,
                    "invoice_item": item,
                })),
        )
        .await?;
    Ok(true)
}
