//! The billing tasks: applying a stored Stripe event, and putting a closed
//! month's overage on the customers' Stripe invoices.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::billing::apply;
use crate::billing::events;
use crate::billing::overage;
use crate::billing::stripe_api::StripeApi;
use crate::change::{By, ChangeError};
use crate::metering::period::Period;
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;

#[derive(Deserialize)]
struct ApplyPayload {
    event: i64,
}

pub fn apply_handler() -> Handler {
    Arc::new(|run| Box::pin(apply_run(run)))
}

/// One step: the event's changes, their audit events and its new status
/// commit together. A refusal marks the event failed with its reason (no
/// retry: the same event would be refused again until staff fix what it
/// names and re-process it); a database error is retried.
async fn apply_run(mut run: Run) -> Result<Done, TaskError> {
    let payload: ApplyPayload = run.payload()?;
    let now = run.now();
    let id = payload.event;
    let (status, result) = run
        .step(move |tx| {
            Box::pin(async move {
                let Some(event) = events::find(tx, id).await? else {
                    return Ok((("missing".to_owned(), String::new()), Advance::default()));
                };
                if event.status != "pending" {
                    return Ok(((event.status, String::new()), Advance::default()));
                }
                let by = By::system(now, "stripe");
                let (status, result) = match apply::apply(tx, &by, &event).await {
                    Ok(o) => (o.status, o.result.to_owned()),
                    Err(ChangeError::Invalid(key)) => ("failed", key.to_owned()),
                    Err(ChangeError::NotFound) => ("failed", "billing.result.no_user".to_owned()),
                    Err(ChangeError::Db(e)) => return Err(TaskError::Retry(e.to_string())),
                };
                events::finish(tx, id, status, &result, now).await?;
                Ok(((status.to_owned(), result), Advance::default()))
            })
        })
        .await?;
    Ok(Done {
        result: Some(json!({ "event": id, "status": status, "result": result })),
    })
}

#[derive(Deserialize)]
struct InvoicePayload {
    period: String,
}

pub fn invoice_handler(stripe: Option<Arc<StripeApi>>) -> Handler {
    Arc::new(move |run| {
        let stripe = stripe.clone();
        Box::pin(invoice_run(run, stripe))
    })
}

/// Items not created yet are created; a row Stripe refused makes the
/// attempt fail and retry later (the rows done stay done).
async fn invoice_run(run: Run, stripe: Option<Arc<StripeApi>>) -> Result<Done, TaskError> {
    let payload: InvoicePayload = run.payload()?;
    let period = Period::parse(&payload.period)
        .ok_or_else(|| TaskError::Fail(format!("bad period {}", payload.period)))?;
    let Some(api) = stripe else {
        return Ok(Done {
            result: Some(json!({ "period": period.key(), "stripe": "not configured" })),
        });
    };
    let out = overage::invoice_period(&run.pool, &api, &run.clock, period).await?;
    if !out.failed.is_empty() {
        return Err(TaskError::Retry(format!(
            "{} created, {} refused: {}",
            out.created,
            out.failed.len(),
            out.failed.join("; ")
        )));
    }
    Ok(Done {
        result: Some(json!({ "period": period.key(), "invoiced": out })),
    })
}
