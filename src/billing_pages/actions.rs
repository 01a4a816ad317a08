//! The billing actions of the user page (`billing.write`). Each calls
//! Stripe first, outside any transaction, then records what Stripe
//! answered (the subscription as it now is) with its audit event in one
//! transaction. A Stripe refusal or outage is said in words on the
//! section, nothing is recorded, and the page never errors.

use std::sync::Arc;

use axum::Form;
use axum::response::Response;
use serde_json::json;

use crate::audit::{Action, Event};
use crate::billing::stripe_api::{CheckoutFor, HostedSession, StripeApi, StripeFailure};
use crate::billing::subscription::{self, StripeSubscription};
use crate::billing_pages::section::{After, CreatedLink, Notice, PreviewView, answer};
use crate::billing_pages::store::{self, Current};
use crate::error::AppError;
use crate::web::action::{Call, run};
use crate::web::form::field;
use crate::web::meta::IdPath;

type Fields = Form<Vec<(String, String)>>;

/// Why an action stops early: a sentence for the section, or an error page.
enum Stop {
    Say(Notice),
    Error(AppError),
}

impl<E: Into<AppError>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Error(e.into())
    }
}

type Step<T> = Result<T, Stop>;

/// The section with what the action left, or with why it stopped.
async fn reply(call: &Call, user_id: i64, outcome: Step<After>) -> Result<Response, AppError> {
    match outcome {
        Ok(after) => answer(call, user_id, after).await,
        Err(Stop::Say(notice)) => answer(call, user_id, said(notice)).await,
        Err(Stop::Error(e)) => Err(e),
    }
}

fn said(notice: Notice) -> After {
    After {
        notice: Some(notice),
        ..After::default()
    }
}

fn refuse<T>(call: &Call, key: &str) -> Step<T> {
    Err(Stop::Say(Notice::error(&call.ctx, key)))
}

/// A Stripe failure, in words.
fn stripe<T>(call: &Call, e: &StripeFailure) -> Step<T> {
    Err(Stop::Say(Notice::stripe(&call.ctx, e)))
}

/// Stripe's client, or the section saying it is not configured.
fn api_of(call: &Call) -> Step<Arc<StripeApi>> {
    match call.state.stripe.clone() {
        Some(api) => Ok(api),
        None => refuse(call, "billing.not_configured"),
    }
}

/// The user's row (404 for no such user).
async fn current(call: &Call, user_id: i64) -> Step<Option<Current>> {
    let mut db = call.state.pool.get().await?;
    if store::email_of(&mut db, user_id).await?.is_none() {
        return Err(Stop::Error(AppError::NotFound));
    }
    Ok(store::current(&mut db, user_id).await?)
}

/// The user's live Stripe subscription and its id.
async fn live(call: &Call, user_id: i64) -> Step<(Current, String)> {
    match current(call, user_id).await? {
        Some(c) if c.live_stripe() => {
            let id = c.subscription.clone().unwrap_or_default();
            Ok((c, id))
        }
        _ => refuse(call, "billing.no_live_subscription"),
    }
}

/// The plan chosen in the form, among those sold through Stripe.
async fn chosen(call: &Call, fields: &[(String, String)]) -> Step<store::Sellable> {
    let id: Option<i64> = field(fields, "plan").trim().parse().ok();
    let mut db = call.state.pool.get().await?;
    match store::sellable(&mut db)
        .await?
        .into_iter()
        .find(|p| Some(p.0) == id)
    {
        Some(p) => Ok(p),
        None => refuse(call, "billing.plan_not_sellable"),
    }
}

/// Audits `event` about `user_id` alone (a link was made; nothing changed here).
async fn audit(call: &Call, user_id: i64, event: Event) -> Step<()> {
    let recorded = run(call, move |tx, by| {
        Box::pin(async move { by.record(tx, event.target("user", user_id)).await })
    })
    .await?;
    match recorded {
        Ok(()) => Ok(()),
        Err(_) => refuse(call, "billing.not_recorded"),
    }
}

/// Records the subscription Stripe answered with `event`, then says `ok_key`.
async fn record(
    call: &Call,
    user_id: i64,
    answered: Result<serde_json::Value, StripeFailure>,
    event: Event,
    ok_key: &'static str,
) -> Step<After> {
    let answered = match answered {
        Ok(a) => a,
        Err(e) => return stripe(call, &e),
    };
    let Some(sub) = StripeSubscription::read(&answered) else {
        return refuse(call, "billing.stripe_unreadable");
    };
    let at = call.state.clock.now().unix_timestamp();
    let outcome = run(call, move |tx, by| {
        Box::pin(async move {
            subscription::write(tx, &by, &sub, None, at, "backoffice").await?;
            by.record(tx, event.target("user", user_id)).await
        })
    })
    .await?;
    match outcome {
        Ok(()) => Ok(said(Notice::ok(&call.ctx, ok_key))),
        Err(state) => Err(Stop::Say(Notice {
            level: "error",
            text: state.error.unwrap_or_default(),
        })),
    }
}

/// A link made for the customer, shown with `label`.
fn link(label: String, session: HostedSession) -> After {
    After {
        link: Some(CreatedLink {
            label,
            url: session.url,
        }),
        ..After::default()
    }
}

/// POST /admin/users/{id}/billing/checkout: a Checkout link for the user
/// to subscribe to the chosen plan (sent to them by staff).
pub async fn checkout(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let outcome = async {
        let api = api_of(&call)?;
        let (plan_id, code, name, price) = chosen(&call, &fields).await?;
        let current = current(&call, id).await?;
        if current.as_ref().is_some_and(Current::live_stripe) {
            return refuse(&call, "billing.already_subscribed");
        }
        let mut db = call.state.pool.get().await?;
        let email = store::email_of(&mut db, id)
            .await?
            .ok_or(AppError::NotFound)?;
        drop(db);
        let back = call.state.config.stripe.return_url.clone();
        let session = api
            .checkout(&CheckoutFor {
                user_id: id,
                email: &email,
                customer: current.as_ref().and_then(|c| c.customer.as_deref()),
                plan_code: &code,
                price_id: &price,
                success_url: &back,
                cancel_url: &back,
            })
            .await;
        let session = match session {
            Ok(s) => s,
            Err(e) => return stripe(&call, &e),
        };
        let details = json!({ "plan": code, "plan_id": plan_id, "session": session.id });
        audit(
            &call,
            id,
            Event::new(Action::CheckoutCreated).details(details),
        )
        .await?;
        let label = call
            .ctx
            .lang
            .tf("billing.checkout_created", &[("plan", &name)]);
        Ok(link(label, session))
    }
    .await;
    reply(&call, id, outcome).await
}

/// POST /admin/users/{id}/billing/portal: a Customer Portal link.
pub async fn portal(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let outcome = async {
        let api = api_of(&call)?;
        let Some(customer) = current(&call, id).await?.and_then(|c| c.customer) else {
            return refuse(&call, "billing.no_customer");
        };
        let session = match api
            .portal(&customer, &call.state.config.stripe.return_url)
            .await
        {
            Ok(s) => s,
            Err(e) => return stripe(&call, &e),
        };
        let details = json!({ "customer": customer, "session": session.id });
        audit(
            &call,
            id,
            Event::new(Action::PortalCreated).details(details),
        )
        .await?;
        Ok(link(
            call.ctx.tr("billing.portal_created").to_owned(),
            session,
        ))
    }
    .await;
    reply(&call, id, outcome).await
}

/// POST /admin/users/{id}/billing/preview: what a change to the chosen
/// plan would invoice now (nothing changes until it is confirmed).
pub async fn preview(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let outcome = async {
        let api = api_of(&call)?;
        let (current, subscription) = live(&call, id).await?;
        let (plan_id, code, name, price) = chosen(&call, &fields).await?;
        let (Some(item), Some(customer)) = (current.item.as_deref(), current.customer.as_deref())
        else {
            return refuse(&call, "billing.not_synced_yet");
        };
        let date = call.state.clock.now().unix_timestamp();
        match api
            .preview_change(customer, &subscription, item, &price, date)
            .await
        {
            Ok(p) => Ok(After {
                preview: Some(PreviewView::of(
                    &p,
                    plan_id,
                    format!("{name} ({code})"),
                    date,
                )),
                ..After::default()
            }),
            Err(e) => stripe(&call, &e),
        }
    }
    .await;
    reply(&call, id, outcome).await
}

/// POST /admin/users/{id}/billing/change: moves the subscription to the
/// plan previewed, prorated from the previewed moment (so the charge is
/// the one shown).
pub async fn change(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let outcome = async {
        let api = api_of(&call)?;
        let (current, subscription) = live(&call, id).await?;
        let (plan_id, code, _, price) = chosen(&call, &fields).await?;
        let now = call.state.clock.now().unix_timestamp();
        // A preview older than an hour is not what the person saw any more.
        let Some(date) = field(&fields, "proration_date")
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| (now - 3600..=now).contains(d))
        else {
            return refuse(&call, "billing.preview_again");
        };
        let Some(item) = current.item.as_deref() else {
            return refuse(&call, "billing.not_synced_yet");
        };
        // One change per (subscription, price, previewed moment): a double
        // submit is the same request to Stripe.
        let key = format!("sowat-change-{subscription}-{price}-{date}");
        let answered = api
            .change_price(&subscription, item, &price, date, &key)
            .await;
        let event = Event::new(Action::SubscriptionPlanChanged).details(json!({
            "subscription": subscription,
            "before": {"plan": current.plan_code},
            "after": {"plan": code, "plan_id": plan_id},
            "proration_date": date,
        }));
        record(&call, id, answered, event, "billing.plan_changed").await
    }
    .await;
    reply(&call, id, outcome).await
}

/// POST /admin/users/{id}/billing/cancel: `when=period_end` (the customer
/// keeps the plan until the period ends) or `when=now`.
pub async fn cancel(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let outcome = async {
        let api = api_of(&call)?;
        let (current, subscription) = live(&call, id).await?;
        let (answered, action, ok) = match field(&fields, "when").as_str() {
            "period_end" => (
                api.cancel_at_period_end(&subscription, true).await,
                Action::SubscriptionCancelScheduled,
                "billing.cancel_scheduled",
            ),
            "now" => (
                api.cancel_now(&subscription).await,
                Action::SubscriptionCanceledNow,
                "billing.canceled_now",
            ),
            _ => return refuse(&call, "billing.cancel_when"),
        };
        let event = Event::new(action).details(json!({
            "subscription": subscription,
            "before": {"status": current.status, "cancel_at_period_end": current.cancel_at_period_end},
        }));
        record(&call, id, answered, event, ok).await
    }
    .await;
    reply(&call, id, outcome).await
}

/// POST /admin/users/{id}/billing/resume: undoes a cancellation at period end.
pub async fn resume(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let outcome = async {
        let api = api_of(&call)?;
        let (current, subscription) = live(&call, id).await?;
        if !current.cancel_at_period_end {
            return refuse(&call, "billing.not_cancelling");
        }
        let answered = api.cancel_at_period_end(&subscription, false).await;
        let event = Event::new(Action::SubscriptionResumed)
            .details(json!({ "subscription": subscription }));
        record(&call, id, answered, event, "billing.resumed").await
    }
    .await;
    reply(&call, id, outcome).await
}
