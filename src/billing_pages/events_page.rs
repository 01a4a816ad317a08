//! `/admin/billing/events`: Stripe's webhook events as stored, newest
//! first, filtered by type, status or customer (each an index's leading
//! column, paged by id so a page costs the same at any depth); an event's
//! page with its payload and result; re-processing one (`billing.write`,
//! audited).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{Action, Event};
use crate::billing::events::{self, Filter, STATUSES, StoredEvent};
use crate::billing_pages::webhook::apply_task;
use crate::change::ChangeError;
use crate::error::AppError;
use crate::tasks::store as task_store;
use crate::web::action::{Call, run};
use crate::web::format::date_time_seconds;
use crate::web::guard::redirect;
use crate::web::layout::PageCtx;
use crate::web::meta::IdPath;
use crate::web::render::html;

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: Option<String>,
    customer: Option<String>,
    before: Option<i64>,
}

pub struct Line {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub customer: Option<String>,
    pub status: String,
    pub status_label: String,
    pub result: String,
    pub received: String,
}

#[derive(Template)]
#[template(path = "billing/events.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub lines: Vec<Line>,
    pub types: Vec<(String, bool)>,
    pub statuses: Vec<(&'static str, String, bool)>,
    pub customer: String,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub configured: bool,
}

/// A stored result: an i18n key, or an error's own words.
fn result_text(ctx: &PageCtx, result: Option<&str>) -> String {
    match result {
        None => String::new(),
        Some(r) => ctx.lang.get(r).unwrap_or(r).to_owned(),
    }
}

fn status_label(ctx: &PageCtx, status: &str) -> String {
    ctx.lang
        .get(&format!("billing.event_{status}"))
        .unwrap_or(status)
        .to_owned()
}

fn line(ctx: &PageCtx, e: StoredEvent) -> Line {
    Line {
        id: e.id,
        status_label: status_label(ctx, &e.status),
        result: result_text(ctx, e.result.as_deref()),
        received: date_time_seconds(e.received_at),
        event_id: e.event_id,
        event_type: e.event_type,
        customer: e.customer_id,
        status: e.status,
    }
}

/// GET /admin/billing/events
pub async fn list(call: Call, Query(q): Query<ListQuery>) -> Result<Response, AppError> {
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 255)
            .map(str::to_owned)
    };
    let filter = Filter {
        event_type: clean(&q.event_type),
        // An unknown status matches nothing rather than everything.
        status: clean(&q.status),
        customer: clean(&q.customer),
    };
    let mut db = call.state.pool.get().await?;
    let mut rows = events::list(&mut db, &filter, q.before, PAGE + 1).await?;
    let types = events::types(&mut db).await?;
    drop(db);
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let query = |before: Option<i64>| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &filter.event_type {
            s.append_pair("type", t);
        }
        if let Some(t) = &filter.status {
            s.append_pair("status", t);
        }
        if let Some(t) = &filter.customer {
            s.append_pair("customer", t);
        }
        if let Some(b) = before {
            s.append_pair("before", &b.to_string());
        }
        format!("/admin/billing/events?{}", s.finish())
    };
    let next_href = more
        .then(|| rows.last().map(|e| query(Some(e.id))))
        .flatten();
    let first_href = q.before.map(|_| query(None));
    let lines = rows.into_iter().map(|e| line(&call.ctx, e)).collect();
    html(&ListPage {
        types: types
            .into_iter()
            .map(|t| {
                let selected = filter.event_type.as_deref() == Some(t.as_str());
                (t, selected)
            })
            .collect(),
        statuses: STATUSES
            .iter()
            .map(|s| {
                (
                    *s,
                    status_label(&call.ctx, s),
                    filter.status.as_deref() == Some(*s),
                )
            })
            .collect(),
        customer: filter.customer.clone().unwrap_or_default(),
        lines,
        next_href,
        first_href,
        configured: call.state.config.stripe.webhook_secret.is_some(),
        ctx: call.ctx,
    })
}

#[derive(Template)]
#[template(path = "billing/event.html")]
pub struct EventPage {
    pub ctx: PageCtx,
    pub line: Line,
    pub stripe_created: String,
    pub processed: String,
    pub attempts: i32,
    pub livemode: bool,
    pub payload: String,
    pub object_id: String,
    pub can_reprocess: bool,
    pub notice: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    queued: Option<String>,
}

/// GET /admin/billing/events/{id}
pub async fn show(
    call: Call,
    IdPath(id): IdPath,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let e = events::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    drop(db);
    let payload = serde_json::from_str::<serde_json::Value>(&e.payload)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| e.payload.clone());
    html(&EventPage {
        stripe_created: crate::billing::subscription::at_unix(e.stripe_created)
            .map(date_time_seconds)
            .unwrap_or_default(),
        processed: e.processed_at.map(date_time_seconds).unwrap_or_default(),
        attempts: e.attempts,
        livemode: e.livemode,
        payload,
        object_id: e.object_id.clone().unwrap_or_default(),
        can_reprocess: crate::access::can(
            &call.actor,
            crate::access::Permission::BillingWrite,
            None,
        ) && e.status != "pending",
        notice: q
            .queued
            .map(|_| call.ctx.tr("billing.reprocess_queued").to_owned()),
        line: line(&call.ctx, e),
        ctx: call.ctx,
    })
}

/// POST /admin/billing/events/{id}/reprocess: applies the stored event
/// again (after the cause of a failure was fixed). Applying is idempotent
/// per state: an older state than the one applied is still left alone.
pub async fn reprocess(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let outcome = run(&call, move |tx, by| {
        Box::pin(async move {
            let e = events::find(tx, id).await?.ok_or(ChangeError::NotFound)?;
            if e.status == "pending" {
                return Err(ChangeError::Invalid("billing.already_pending"));
            }
            events::reset(tx, id).await?;
            task_store::enqueue(tx, apply_task(id, by.now), by.now).await?;
            by.record(
                tx,
                Event::new(Action::StripeEventReprocessed)
                    .target("stripe_event", id)
                    .details(json!({
                        "event": e.event_id,
                        "type": e.event_type,
                        "before": {"status": e.status, "result": e.result},
                    })),
            )
            .await
        })
    })
    .await?;
    call.state.tasks.wake();
    match outcome {
        Ok(()) => Ok(redirect(
            &format!("/admin/billing/events/{id}?queued=1"),
            call.htmx,
        )),
        Err(_) => Ok(redirect(&format!("/admin/billing/events/{id}"), call.htmx)),
    }
}
