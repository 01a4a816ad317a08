//! `/api/v1/billing`: the main app sends its users to Stripe. A Checkout
//! Session to subscribe a user to a plan, a Customer Portal session to
//! manage what they pay (`billing:write`). Stripe is called outside any
//! transaction; what was created is audited with the key that asked.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::api::numbers::whole;
use crate::audit::{Action, ActorRef, Event, RequestMeta};
use crate::billing::stripe_api::{CheckoutFor, HostedSession, StripeApi, StripeFailure};
use crate::billing_pages::store::{self, Current};
use crate::change::By;
use crate::state::AppState;
use crate::web::api_error::{ApiError, json_body};
use crate::web::current::SignedIn;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutBody {
    user_id: serde_json::Number,
    plan_code: String,
    success_url: String,
    cancel_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortalBody {
    user_id: serde_json::Number,
    return_url: String,
}

/// A page Stripe may send the customer back to: https (http only on this
/// machine, for development).
fn back_url(field: &'static str, value: &str) -> Result<String, ApiError> {
    let ok = url::Url::parse(value).ok().filter(|u| {
        value.len() <= 2048
            && match u.scheme() {
                "https" => u.host().is_some(),
                "http" => matches!(u.host_str(), Some("localhost" | "127.0.0.1")),
                _ => false,
            }
    });
    match ok {
        Some(_) => Ok(value.to_owned()),
        None => Err(ApiError::invalid(format!("{field} must be an https URL"))
            .details(vec![json!({ "field": field })])),
    }
}

fn api_of(state: &AppState) -> Result<std::sync::Arc<StripeApi>, ApiError> {
    state.stripe.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stripe_not_configured",
            "Stripe is not configured on this backoffice",
        )
    })
}

/// Stripe's refusal as the API's error: 502, with Stripe's message.
fn stripe_error(e: StripeFailure) -> ApiError {
    tracing::warn!(error = %e, "a Stripe call from the API failed");
    let message = match &e {
        StripeFailure::Refused { message, .. } => format!("Stripe refused: {message}"),
        StripeFailure::Unreachable(_) => "Stripe could not be reached; try again".to_owned(),
        StripeFailure::Unreadable(_) => "Stripe's answer could not be read".to_owned(),
    };
    ApiError::new(StatusCode::BAD_GATEWAY, "stripe_error", message)
}

/// Audits `event` as done by the key now (a session was made; nothing
/// changed in the database).
async fn audit(
    state: &AppState,
    actor: &crate::access::Actor,
    meta: RequestMeta,
    event: Event,
) -> Result<(), ApiError> {
    let by = By {
        actor: ActorRef::of(actor),
        meta,
        now: state.clock.now_primitive(),
    };
    let mut db = state.pool.get().await?;
    db.transaction(|tx| Box::pin(async move { by.record(tx, event).await }))
        .await
        .map_err(ApiError::from)
}

fn answer(session: HostedSession) -> Response {
    (StatusCode::OK, Json(session)).into_response()
}

/// POST /api/v1/billing/checkout
pub async fn checkout(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    meta: RequestMeta,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: CheckoutBody = json_body(&body)?;
    let user_id = whole(&b.user_id, "user_id")?;
    let success = back_url("success_url", &b.success_url)?;
    let cancel = back_url("cancel_url", &b.cancel_url)?;
    let api = api_of(&state)?;
    let mut db = state.pool.get().await?;
    let email = store::email_of(&mut db, user_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let plan = store::sellable(&mut db)
        .await?
        .into_iter()
        .find(|p| p.1 == b.plan_code)
        .ok_or_else(|| {
            // A valid request naming a plan that is not on sale: not found.
            ApiError::new(
                StatusCode::NOT_FOUND,
                "plan_not_found",
                "no offered plan with a Stripe price has this plan_code",
            )
            .details(vec![json!({ "field": "plan_code" })])
        })?;
    let current = store::current(&mut db, user_id).await?;
    drop(db);
    if current.as_ref().is_some_and(Current::live_stripe) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_subscribed",
            "this user already has a running subscription: send them to the portal to change it",
        ));
    }
    let session = api
        .checkout(&CheckoutFor {
            user_id,
            email: &email,
            customer: current.as_ref().and_then(|c| c.customer.as_deref()),
            plan_code: &plan.1,
            price_id: &plan.3,
            success_url: &success,
            cancel_url: &cancel,
        })
        .await
        .map_err(stripe_error)?;
    audit(
        &state,
        &actor,
        meta,
        Event::new(Action::CheckoutCreated)
            .target("user", user_id)
            .details(json!({ "plan": plan.1, "plan_id": plan.0, "session": session.id })),
    )
    .await?;
    Ok(answer(session))
}

/// POST /api/v1/billing/portal
pub async fn portal(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    meta: RequestMeta,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: PortalBody = json_body(&body)?;
    let user_id = whole(&b.user_id, "user_id")?;
    let back = back_url("return_url", &b.return_url)?;
    let api = api_of(&state)?;
    let mut db = state.pool.get().await?;
    if store::email_of(&mut db, user_id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    let customer = store::current(&mut db, user_id)
        .await?
        .and_then(|c| c.customer)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_customer",
                "this user has no Stripe customer yet: send them to checkout first",
            )
        })?;
    drop(db);
    let session = api.portal(&customer, &back).await.map_err(stripe_error)?;
    audit(
        &state,
        &actor,
        meta,
        Event::new(Action::PortalCreated)
            .target("user", user_id)
            .details(json!({ "customer": customer, "session": session.id })),
    )
    .await?;
    Ok(answer(session))
}
