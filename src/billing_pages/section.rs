//! The billing section of the user page (htmx-loaded; a page of its own
//! without JavaScript): the subscription as last written from Stripe, the
//! actions on it (`billing.write`), and the invoices, read from Stripe when
//! the section opens (their own request, so a slow Stripe never holds the
//! rest of the page).

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::access::{Permission, can};
use crate::billing::stripe_api::{Preview, StripeFailure};
use crate::billing::subscription::at_unix;
use crate::billing_pages::store::{self, Current};
use crate::error::AppError;
use crate::web::action::Call;
use crate::web::form::Choice;
use crate::web::format::{date_time, money};
use crate::web::layout::PageCtx;
use crate::web::meta::IdPath;
use crate::web::render::html;

/// Something to tell after an action: `ok` or `error`, and the sentence.
pub struct Notice {
    pub level: &'static str,
    pub text: String,
}

impl Notice {
    pub fn ok(ctx: &PageCtx, key: &str) -> Notice {
        Notice {
            level: "ok",
            text: ctx.tr(key).to_owned(),
        }
    }
    pub fn error(ctx: &PageCtx, key: &str) -> Notice {
        Notice {
            level: "error",
            text: ctx.tr(key).to_owned(),
        }
    }
    /// A Stripe failure in words (never the raw error: it is logged).
    pub fn stripe(ctx: &PageCtx, e: &StripeFailure) -> Notice {
        tracing::warn!(error = %e, "a Stripe call failed");
        let (key, detail) = e.words();
        Notice {
            level: "error",
            text: ctx.lang.tf(key, &[("message", &detail)]),
        }
    }
}

/// A link created for the customer (Checkout or portal).
pub struct CreatedLink {
    pub label: String,
    pub url: String,
}

/// A previewed plan change, waiting for confirmation.
pub struct PreviewView {
    pub plan_id: i64,
    pub plan_label: String,
    pub proration: String,
    pub total: String,
    pub proration_date: i64,
}

impl PreviewView {
    pub fn of(p: &Preview, plan_id: i64, plan_label: String, proration_date: i64) -> Self {
        PreviewView {
            plan_id,
            plan_label,
            proration: money(p.proration, &p.currency),
            total: money(p.total, &p.currency),
            proration_date,
        }
    }
}

pub struct SubView {
    pub plan_id: i64,
    pub plan: String,
    pub status: String,
    pub status_key: String,
    pub period: String,
    pub cancel_at_period_end: bool,
    pub customer: Option<(String, String)>,
    pub subscription: Option<(String, String)>,
    pub live_stripe: bool,
}

#[derive(Template)]
#[template(path = "billing/section.html")]
pub struct Section<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
    pub configured: bool,
    pub sub: Option<SubView>,
    pub can_write: bool,
    pub change_choices: Vec<Choice>,
    pub checkout_choices: Vec<Choice>,
    pub notice: Option<Notice>,
    pub link: Option<CreatedLink>,
    pub preview: Option<PreviewView>,
    pub has_customer: bool,
    pub live_stripe: bool,
}

#[derive(Template)]
#[template(path = "billing/page.html")]
pub struct SectionPage {
    pub ctx: PageCtx,
    pub user_id: i64,
    pub title: String,
    pub section: String,
}

/// Stripe's dashboard page of an object (test mode has its own pages).
pub fn dashboard(test_mode: bool, kind: &str, id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let test = if test_mode { "test/" } else { "" };
    format!("https://dashboard.stripe.com/{test}{kind}/{id}")
}

/// What an action leaves on the section.
#[derive(Default)]
pub struct After {
    pub notice: Option<Notice>,
    pub link: Option<CreatedLink>,
    pub preview: Option<PreviewView>,
}

fn view(ctx: &PageCtx, c: &Current, test_mode: bool) -> SubView {
    let period = match (c.period_start, c.period_end) {
        (Some(s), Some(e)) => format!("{} → {}", date_time(s), date_time(e)),
        (None, Some(e)) => date_time(e),
        _ => "—".into(),
    };
    SubView {
        plan_id: c.plan_id,
        plan: format!("{} ({})", c.plan_name, c.plan_code),
        status: ctx
            .lang
            .get(&format!("usage.status_{}", c.status))
            .unwrap_or(&c.status)
            .to_owned(),
        status_key: c.status.clone(),
        period,
        cancel_at_period_end: c.cancel_at_period_end,
        customer: c
            .customer
            .clone()
            .map(|id| (dashboard(test_mode, "customers", &id), id)),
        subscription: c
            .subscription
            .clone()
            .map(|id| (dashboard(test_mode, "subscriptions", &id), id)),
        live_stripe: c.live_stripe(),
    }
}

/// The section's HTML for `user_id` with what the last action left.
pub async fn section_html(call: &Call, user_id: i64, after: After) -> Result<String, AppError> {
    let mut db = call.state.pool.get().await?;
    if store::email_of(&mut db, user_id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let current = store::current(&mut db, user_id).await?;
    let can_write = can(&call.actor, Permission::BillingWrite, None);
    let sellable = if can_write {
        store::sellable(&mut db).await?
    } else {
        Vec::new()
    };
    drop(db);
    let current_price = current.as_ref().and_then(|c| c.price.clone());
    let choice = |(id, code, name, _): &store::Sellable| Choice {
        value: id.to_string(),
        label: format!("{name} ({code})"),
        selected: false,
    };
    let change_choices = sellable
        .iter()
        .filter(|p| Some(&p.3) != current_price.as_ref())
        .map(choice)
        .collect();
    let checkout_choices = sellable.iter().map(choice).collect();
    let test_mode = call.state.config.stripe.test_mode();
    let section = Section {
        ctx: &call.ctx,
        user_id,
        configured: call.state.stripe.is_some(),
        has_customer: current.as_ref().is_some_and(|c| c.customer.is_some()),
        live_stripe: current.as_ref().is_some_and(Current::live_stripe),
        sub: current.as_ref().map(|c| view(&call.ctx, c, test_mode)),
        can_write,
        change_choices,
        checkout_choices,
        notice: after.notice,
        link: after.link,
        preview: after.preview,
    };
    section.render().map_err(AppError::internal)
}

/// The section (htmx) or its page.
pub async fn answer(call: &Call, user_id: i64, after: After) -> Result<Response, AppError> {
    let failed = after.notice.as_ref().is_some_and(|n| n.level == "error");
    let section = section_html(call, user_id, after).await?;
    let mut response = if call.htmx {
        Html(section).into_response()
    } else {
        let mut db = call.state.pool.get().await?;
        let title = crate::user_record::emails::user_title(&mut db, user_id)
            .await?
            .ok_or(AppError::NotFound)?;
        html(&SectionPage {
            ctx: call.ctx.clone(),
            user_id,
            title,
            section,
        })?
    };
    if failed {
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// GET /admin/users/{id}/billing
pub async fn section(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    answer(&call, id, After::default()).await
}

pub struct InvoiceLine {
    pub number: String,
    pub status: String,
    pub status_key: String,
    pub total: String,
    pub paid: String,
    pub date: String,
    pub href: Option<String>,
}

#[derive(Template)]
#[template(path = "billing/invoices.html")]
pub struct Invoices<'a> {
    pub ctx: &'a PageCtx,
    pub lines: Vec<InvoiceLine>,
    pub error: Option<String>,
}

/// GET /admin/users/{id}/billing/invoices: the customer's last invoices,
/// from Stripe (a failure is said in the fragment, not as an error page).
pub async fn invoices(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let current = store::current(&mut db, id).await?;
    drop(db);
    let customer = current.and_then(|c| c.customer);
    let (lines, error) = match (&call.state.stripe, customer) {
        (None, _) => (
            Vec::new(),
            Some(call.ctx.tr("billing.not_configured").to_owned()),
        ),
        (Some(_), None) => (Vec::new(), None),
        (Some(api), Some(customer)) => match api.invoices(&customer, 12).await {
            Ok(list) => (
                list.into_iter()
                    .map(|i| InvoiceLine {
                        number: i.number.clone().unwrap_or_else(|| i.id.clone()),
                        status: call
                            .ctx
                            .lang
                            .get(&format!("billing.invoice_{}", i.status))
                            .unwrap_or(&i.status)
                            .to_owned(),
                        status_key: i.status.clone(),
                        total: money(i.total, &i.currency),
                        paid: money(i.amount_paid, &i.currency),
                        date: at_unix(i.created).map(date_time).unwrap_or_default(),
                        href: i.hosted_url.filter(|u| u.starts_with("https://")),
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(Notice::stripe(&call.ctx, &e).text)),
        },
    };
    html(&Invoices {
        ctx: &call.ctx,
        lines,
        error,
    })
}
