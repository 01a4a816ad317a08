//! The billing actions of the user page (`billing.write`). Each calls
//! Stripe first, outside any transaction, then records what Stripe
//! answered (the subscription as it now is) with its audit event in one
//! transaction. A Stripe refusal or outage is said in words on the
//! section, nothing is recorded, and the page never errors.

use axum::Form;
use axum::response::Response;
use serde_json::json;

use crate::audit::{Action, Event};
use crate::billing::stripe_api::{CheckoutFor, StripeApi};
use crate::billing::subscription::{self, StripeSubscription};
use crate::billing_pages::section::{After, CreatedLink, Notice, PreviewView, answer};
use crate::billing_pages::store::{self, Current};
use crate::error::AppError;
use crate::web::action::{Call, run};
use crate::web::form::field;
use crate::web::meta::IdPath;

type Fields = Form<Vec<(String, String)>>;

/// The section again with `notice`.
async fn say(call: &Call, user_id: i64, notice: Notice) -> Result<Response, AppError> {
    answer(
        call,
        user_id,
        After {
            notice: Some(notice),
            ..After::default()
        },
    )
    .await
}

/// Stripe's client, or the section saying it is not configured.
fn api_of(call: &Call) -> Result<std::sync::Arc<StripeApi>, Notice> {
    call.state
        .stripe
        .clone()
        .ok_or_else(|| Notice::error(&call.ctx, "billing.not_configured"))
}

/// The user's live Stripe subscription with the ids an action needs.
struct Live {
    current: Current,
    subscription: String,
    item: Option<String>,
    customer: Option<String>,
}

async fn live(call: &Call, user_id: i64) -> Result<Result<Live, Notice>, AppError> {
    let mut db = call.state.pool.get().await?;
    if store::email_of(&mut db, user_id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let current = store::current(&mut db, user_id).await?;
    Ok(match current {
        Some(c) if c.live_stripe() => Ok(Live {
            subscription: c.subscription.clone().unwrap_or_default(),
            item: c.item.clone(),
            customer: c.customer.clone(),
            current: c,
        }),
        _ => Err(Notice::error(&call.ctx, "billing.no_live_subscription")),
    })
}

/// Records the subscription Stripe answered, with `event`, then shows the
/// section with `ok_key`.
async fn record(
    call: &Call,
    user_id: i64,
    answer_json: serde_json::Value,
    event: Event,
    ok_key: &'static str,
) -> Result<Response, AppError> {
    let Some(sub) = StripeSubscription::read(&answer_json) else {
        return say(
            call,
            user_id,
            Notice::error(&call.ctx, "billing.stripe_unreadable"),
        )
        .await;
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
        Ok(()) => say(call, user_id, Notice::ok(&call.ctx, ok_key)).await,
        Err(state) => {
            let text = state.error.unwrap_or_default();
            say(
                call,
                user_id,
                Notice {
                    level: "error",
                    text,
                },
            )
            .await
        }
    }
}

/// The plan chosen in the form, among those sold through Stripe.
async fn chosen(
    call: &Call,
    fields: &[(String, String)],
) -> Result<Option<store::Sellable>, AppError> {
    let id: Option<i64> = field(fields, "plan").trim().parse().ok();
    let mut db = call.state.pool.get().await?;
    Ok(store::sellable(&mut db)
        .await?
        .into_iter()
        .find(|p| Some(p.0) == id))
}

/// POST /admin/users/{id}/billing/checkout: a Checkout link for the user
/// to subscribe to the chosen plan (sent to them by staff).
pub async fn checkout(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let api = match api_of(&call) {
        Ok(a) => a,
        Err(n) => return say(&call, id, n).await,
    };
    let Some((plan_id, code, name, price)) = chosen(&call, &fields).await? else {
        return say(
            &call,
            id,
            Notice::error(&call.ctx, "billing.plan_not_sellable"),
        )
        .await;
    };
    let mut db = call.state.pool.get().await?;
    let email = store::email_of(&mut db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let current = store::current(&mut db, id).await?;
    drop(db);
    if current.as_ref().is_some_and(Current::live_stripe) {
        return say(
            &call,
            id,
            Notice::error(&call.ctx, "billing.already_subscribed"),
        )
        .await;
    }
    let customer = current.and_then(|c| c.customer);
    let back = call.state.config.stripe.return_url.clone();
    let session = api
        .checkout(&CheckoutFor {
            user_id: id,
            email: &email,
            customer: customer.as_deref(),
            plan_code: &code,
            price_id: &price,
            success_url: &back,
            cancel_url: &back,
        })
        .await;
    let session = match session {
        Ok(s) => s,
        Err(e) => return say(&call, id, Notice::stripe(&call.ctx, &e)).await,
    };
    let session_id = session.id.clone();
    let recorded = run(&call, move |tx, by| {
        Box::pin(async move {
            by.record(
                tx,
                Event::new(Action::CheckoutCreated)
                    .target("user", id)
                    .details(json!({ "plan": code, "plan_id": plan_id, "session": session_id })),
            )
            .await
        })
    })
    .await?;
    if recorded.is_err() {
        return say(&call, id, Notice::error(&call.ctx, "billing.not_recorded")).await;
    }
    answer(
        &call,
        id,
        After {
            link: Some(CreatedLink {
                label: call
                    .ctx
                    .lang
                    .tf("billing.checkout_created", &[("plan", &name)]),
                url: session.url,
            }),
            ..After::default()
        },
    )
    .await
}

/// POST /admin/users/{id}/billing/portal: a Customer Portal link.
pub async fn portal(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let api = match api_of(&call) {
        Ok(a) => a,
        Err(n) => return say(&call, id, n).await,
    };
    let mut db = call.state.pool.get().await?;
    if store::email_of(&mut db, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let customer = store::current(&mut db, id).await?.and_then(|c| c.customer);
    drop(db);
    let Some(customer) = customer else {
        return say(&call, id, Notice::error(&call.ctx, "billing.no_customer")).await;
    };
    let session = match api
        .portal(&customer, &call.state.config.stripe.return_url)
        .await
    {
        Ok(s) => s,
        Err(e) => return say(&call, id, Notice::stripe(&call.ctx, &e)).await,
    };
    let session_id = session.id.clone();
    let recorded = run(&call, move |tx, by| {
        Box::pin(async move {
            by.record(
                tx,
                Event::new(Action::PortalCreated)
                    .target("user", id)
                    .details(json!({ "customer": customer, "session": session_id })),
            )
            .await
        })
    })
    .await?;
    if recorded.is_err() {
        return say(&call, id, Notice::error(&call.ctx, "billing.not_recorded")).await;
    }
    answer(
        &call,
        id,
        After {
            link: Some(CreatedLink {
                label: call.ctx.tr("billing.portal_created").to_owned(),
                url: session.url,
            }),
            ..After::default()
        },
    )
    .await
}

/// POST /admin/users/{id}/billing/preview: what a change to the chosen
/// plan would invoice now (nothing changes until it is confirmed).
pub async fn preview(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let api = match api_of(&call) {
        Ok(a) => a,
        Err(n) => return say(&call, id, n).await,
    };
    let l = match live(&call, id).await? {
        Ok(l) => l,
        Err(n) => return say(&call, id, n).await,
    };
    let Some((plan_id, code, name, price)) = chosen(&call, &fields).await? else {
        return say(
            &call,
            id,
            Notice::error(&call.ctx, "billing.plan_not_sellable"),
        )
        .await;
    };
    let (Some(item), Some(customer)) = (l.item.as_deref(), l.customer.as_deref()) else {
        return say(
            &call,
            id,
            Notice::error(&call.ctx, "billing.not_synced_yet"),
        )
        .await;
    };
    let date = call.state.clock.now().unix_timestamp();
    match api
        .preview_change(customer, &l.subscription, item, &price, date)
        .await
    {
        Ok(p) => {
            answer(
                &call,
                id,
                After {
                    preview: Some(PreviewView::of(
                        &p,
                        plan_id,
                        format!("{name} ({code})"),
                        date,
                    )),
                    ..After::default()
                },
            )
            .await
        }
        Err(e) => say(&call, id, Notice::stripe(&call.ctx, &e)).await,
    }
}

/// POST /admin/users/{id}/billing/change: moves the subscription to the
/// plan previewed, prorated from the previewed moment (so the charge is
/// the one shown).
pub async fn change(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let api = match api_of(&call) {
        Ok(a) => a,
        Err(n) => return say(&call, id, n).await,
    };
    let l = match live(&call, id).await? {
        Ok(l) => l,
        Err(n) => return say(&call, id, n).await,
    };
    let Some((plan_id, code, _, price)) = chosen(&call, &fields).await? else {
        return say(
            &call,
            id,
            Notice::error(&call.ctx, "billing.plan_not_sellable"),
        )
        .await;
    };
    let now = call.state.clock.now().unix_timestamp();
    // A preview older than an hour is not what the person saw any more.
    let date = field(&fields, "proration_date")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (now - 3600..=now).contains(d));
    let Some(date) = date else {
        return say(&call, id, Notice::error(&call.ctx, "billing.preview_again")).await;
    };
    let Some(item) = l.item.as_deref() else {
        return say(
            &call,
            id,
            Notice::error(&call.ctx, "billing.not_synced_yet"),
        )
        .await;
    };
    // One change per (subscription, price, previewed moment): a double
    // submit is the same request to Stripe.
    let key = format!("sowat-change-{}-{price}-{date}", l.subscription);
    let answered = api
        .change_price(&l.subscription, item, &price, date, &key)
        .await;
    match answered {
        Ok(sub) => {
            let event = Event::new(Action::SubscriptionPlanChanged).details(json!({
                "subscription": l.subscription,
                "before": {"plan": l.current.plan_code},
                "after": {"plan": code, "plan_id": plan_id},
                "proration_date": date,
            }));
            record(&call, id, sub, event, "billing.plan_changed").await
        }
        Err(e) => say(&call, id, Notice::stripe(&call.ctx, &e)).await,
    }
}

/// POST /admin/users/{id}/billing/cancel: `when=period_end` (the customer
/// keeps the plan until the period ends) or `when=now`.
pub async fn cancel(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Fields,
) -> Result<Response, AppError> {
    let api = match api_of(&call) {
        Ok(a) => a,
        Err(n) => return say(&call, id, n).await,
    };
    let l = match live(&call, id).await? {
        Ok(l) => l,
        Err(n) => return say(&call, id, n).await,
    };
    let (answered, action, ok) = match field(&fields, "when").as_str() {
        "period_end" => (
            api.cancel_at_period_end(&l.subscription, true).await,
            Action::SubscriptionCancelScheduled,
            "billing.cancel_scheduled",
        ),
        "now" => (
            api.cancel_now(&l.subscription).await,
            Action::SubscriptionCanceledNow,
            "billing.canceled_now",
        ),
        _ => return say(&call, id, Notice::error(&call.ctx, "billing.cancel_when")).await,
    };
    match answered {
        Ok(sub) => {
            let event = Event::new(action).details(json!({
                "subscription": l.subscription,
                "before": {"status": l.current.status, "cancel_at_period_end": l.current.cancel_at_period_end},
            }));
            record(&call, id, sub, event, ok).await
        }
        Err(e) => say(&call, id, Notice::stripe(&call.ctx, &e)).await,
    }
}

/// POST /admin/users/{id}/billing/resume: undoes a cancellation at period end.
pub async fn resume(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let api = match api_of(&call) {
        Ok(a) => a,
        Err(n) => return say(&call, id, n).await,
    };
    let l = match live(&call, id).await? {
        Ok(l) => l,
        Err(n) => return say(&call, id, n).await,
    };
    if !l.current.cancel_at_period_end {
        return say(
            &call,
            id,
            Notice::error(&call.ctx, "billing.not_cancelling"),
        )
        .await;
    }
    match api.cancel_at_period_end(&l.subscription, false).await {
        Ok(sub) => {
            let event = Event::new(Action::SubscriptionResumed)
                .details(json!({ "subscription": l.subscription }));
            record(&call, id, sub, event, "billing.resumed").await
        }
        Err(e) => say(&call, id, Notice::stripe(&call.ctx, &e)).await,
    }
}
