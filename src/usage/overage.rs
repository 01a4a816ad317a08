//! `/admin/usage/overage?period=YYYY-MM`: a closed month's usage beyond
//! the limits, with totals per currency, as a page and as CSV; closing a
//! month now (it is closed by the scheduler after it ends anyway).

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::Query;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use serde_json::json;

use crate::access::{Permission, can};
use crate::audit::{Action, Event};
use crate::change::ChangeError;
use crate::db::Db;
use crate::db::schema::plans;
use crate::error::AppError;
use crate::metering::close::{self, OverageRow};
use crate::metering::period::Period;
use crate::metering::plan::format_cents;
use crate::tasks::store::enqueue_once;
use crate::usage::tasks::close_task;
use crate::web::action::Call;
use crate::web::csv;
use crate::web::format::{date_time, group};
use crate::web::guard::redirect;
use crate::web::layout::{FLASH, PageCtx};
use crate::web::render::html;

/// Rows shown on the page; the CSV has them all.
const SHOWN: usize = 500;

pub struct Line {
    pub user_id: i64,
    pub email: String,
    pub plan: String,
    pub kind: &'static str,
    pub used: String,
    pub quota: String,
    pub overage: String,
    pub unit: String,
    pub amount: String,
    pub invoice_item: String,
}

#[derive(Template)]
#[template(path = "usage/overage.html")]
pub struct OveragePage {
    pub ctx: PageCtx,
    pub period: String,
    pub previous: String,
    pub next: Option<String>,
    pub closed: Option<String>,
    pub over: bool,
    pub can_close: bool,
    pub lines: Vec<Line>,
    pub total_rows: usize,
    pub users: String,
    pub totals: Vec<(String, String)>,
    pub error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PeriodQuery {
    period: String,
}

/// The month asked for; the last one ended when none (or a bad one) is.
fn period_of(call: &Call, q: &PeriodQuery) -> (Period, Option<String>) {
    let last_ended = Period::of_primitive(call.state.clock.now_primitive()).previous();
    match q.period.trim() {
        "" => (last_ended, None),
        p => match Period::parse(p) {
            Some(p) => (p, None),
            None => (
                last_ended,
                Some(call.ctx.tr("usage.period_invalid").to_owned()),
            ),
        },
    }
}

/// Each row with its user's address and plan code.
async fn described(
    db: &mut Db,
    rows: &[OverageRow],
) -> Result<(HashMap<i64, String>, HashMap<i64, String>), AppError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    let emails = crate::user_record::emails::emails_of(db, &ids).await?;
    let codes: HashMap<i64, String> = crate::db_run!(db, |c| plans::table
        .select((plans::id, plans::code))
        .load::<(i64, String)>(c)
        .await)?
    .into_iter()
    .collect();
    Ok((emails, codes))
}

fn money(cents: i64, currency: &str) -> String {
    format!("{} {}", format_cents(cents), currency.to_uppercase())
}

pub async fn page(call: Call, Query(q): Query<PeriodQuery>) -> Result<Response, AppError> {
    let (period, error) = period_of(&call, &q);
    let mut db = call.state.pool.get().await?;
    let rows = close::report(&mut db, period).await?;
    let closed = close::closed_at(&mut db, period).await?.map(date_time);
    let (emails, codes) = described(&mut db, &rows).await?;
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        *totals.entry(r.currency.to_uppercase()).or_default() += r.amount_cents;
    }
    let mut users: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    users.dedup();
    let lang = call.ctx.lang;
    let lines = rows
        .iter()
        .take(SHOWN)
        .map(|r| Line {
            user_id: r.user_id,
            email: emails.get(&r.user_id).cloned().unwrap_or_default(),
            plan: codes.get(&r.plan_id).cloned().unwrap_or_default(),
            kind: lang.t(&format!("usage.kind_{}", r.kind.as_str())),
            used: group(r.used),
            quota: group(r.quota),
            overage: group(r.overage),
            unit: r.unit_cents.map_or_else(
                || lang.t("plans.blocked_short").to_owned(),
                |c| money(c, &r.currency),
            ),
            amount: money(r.amount_cents, &r.currency),
            invoice_item: r.stripe_invoice_item_id.clone().unwrap_or_default(),
        })
        .collect();
    let now = Period::of_primitive(call.state.clock.now_primitive());
    html(&OveragePage {
        period: period.key(),
        previous: period.previous().key(),
        next: (period.next() < now).then(|| period.next().key()),
        over: period < now,
        can_close: can(&call.actor, Permission::BillingWrite, None),
        total_rows: rows.len(),
        users: group(users.len() as i64),
        totals: totals
            .into_iter()
            .map(|(cur, cents)| (cur.clone(), money(cents, &cur)))
            .collect(),
        closed,
        lines,
        error,
        ctx: call.ctx,
    })
}

pub const COLUMNS: [&str; 11] = [
    "period",
    "user_id",
    "email",
    "plan",
    "kind",
    "used",
    "quota",
    "overage",
    "unit_cents",
    "amount_cents",
    "currency",
];

pub async fn csv_file(call: Call, Query(q): Query<PeriodQuery>) -> Result<Response, AppError> {
    let (period, error) = period_of(&call, &q);
    if error.is_some() {
        return Err(AppError::BadRequest("period".into()));
    }
    let mut db = call.state.pool.get().await?;
    let rows = close::report(&mut db, period).await?;
    let (emails, codes) = described(&mut db, &rows).await?;
    let mut out = csv::header(&COLUMNS);
    for r in &rows {
        out.push_str(&csv::line(&[
            csv::cell(&r.period),
            r.user_id.to_string(),
            csv::cell(emails.get(&r.user_id).map_or("", String::as_str)),
            csv::cell(codes.get(&r.plan_id).map_or("", String::as_str)),
            r.kind.as_str().to_owned(),
            r.used.to_string(),
            r.quota.to_string(),
            r.overage.to_string(),
            r.unit_cents.map(|c| c.to_string()).unwrap_or_default(),
            r.amount_cents.to_string(),
            r.currency.clone(),
        ]));
    }
    let mut response = out.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"overage-{}.csv\"", period.key());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// POST /admin/usage/overage/close: the close task for an ended month,
/// once (a second request finds it queued or done).
pub async fn close_now(
    call: Call,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let p = crate::web::form::field(&form, "period");
    let now = call.state.clock.now_primitive();
    let Some(period) = Period::parse(p.trim()).filter(|p| *p < Period::of_primitive(now)) else {
        return Err(AppError::BadRequest("period".into()));
    };
    let by = call.by();
    let mut db = call.state.pool.get().await?;
    let added = db
        .transaction(|tx| {
            Box::pin(async move {
                if close::is_closed(tx, period).await? {
                    return Ok::<_, ChangeError>(false);
                }
                let added = enqueue_once(tx, close_task(period, by.now), by.now).await?;
                if added {
                    by.record(
                        tx,
                        Event::new(Action::PeriodCloseRequested)
                            .target("period", period.key())
                            .details(json!({})),
                    )
                    .await?;
                }
                Ok(added)
            })
        })
        .await?;
    call.state.tasks.wake();
    let note = if added {
        "usage.close_started"
    } else {
        "usage.close_already"
    };
    let _ = call
        .session
        .insert(FLASH, call.ctx.tr(note).to_owned())
        .await;
    Ok(redirect(
        &format!("/admin/usage/overage?period={}", period.key()),
        call.htmx,
    ))
}
