//! `POST /webhooks/stripe`: Stripe's events arrive here. The signature is
//! checked over the raw body first; a bad or stale one is answered 400 and
//! only logged (nothing is stored: anyone can post here). A verified event
//! is stored by its id and a task to apply it enqueued, in one short
//! transaction with no network call; a redelivery finds its id stored and
//! is acknowledged without anything else. Stripe retries anything but a
//! 2xx, so a database failure answers 503 and the event comes again.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::billing::events::{self, NewEvent};
use crate::billing::signature;
use crate::state::AppState;
use crate::tasks::{Kind, NewTask, store};
use crate::web::api_error::ApiError;

/// Largest body read (Stripe's events are a few kilobytes; the largest
/// invoices stay well below this).
pub const MAX_BODY: usize = 256 * 1024;

/// The task applying the stored event `id`.
pub fn apply_task(id: i64, now: time::PrimitiveDateTime) -> NewTask {
    NewTask::new(Kind::StripeEventApply, json!({ "event": id }), now)
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = state.config.stripe.webhook_secret.as_deref() else {
        tracing::warn!("a Stripe webhook arrived but SOWAT_STRIPE_WEBHOOK_SECRET is not set");
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "webhook_not_configured",
            "this endpoint has no signing secret configured",
        )
        .into_response();
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = state.clock.now();
    if let Err(e) = signature::verify(header, &body, secret, now.unix_timestamp()) {
        tracing::warn!(reason = %e, bytes = body.len(), "Stripe webhook refused: bad signature");
        return ApiError::new(StatusCode::BAD_REQUEST, "bad_signature", e.to_string())
            .into_response();
    }
    let event = match NewEvent::parse(&body) {
        Ok(e) => e,
        Err(why) => {
            tracing::warn!(why, "Stripe webhook refused: not an event");
            return ApiError::new(StatusCode::BAD_REQUEST, "not_an_event", why).into_response();
        }
    };
    let at = state.clock.now_primitive();
    let stored = async {
        let mut db = state.pool.get().await?;
        db.transaction(|tx| {
            let event = event.clone();
            Box::pin(async move {
                let Some(id) = events::store(tx, &event, at).await? else {
                    return Ok::<_, diesel::result::Error>(None);
                };
                store::enqueue(tx, apply_task(id, at), at).await?;
                Ok(Some(id))
            })
        })
        .await
        .map_err(crate::error::AppError::from)
    }
    .await;
    match stored {
        Ok(Some(id)) => {
            state.tasks.wake();
            tracing::info!(event = %event.event_id, kind = %event.event_type, row = id, "Stripe event stored");
            (StatusCode::OK, axum::Json(json!({ "received": true }))).into_response()
        }
        Ok(None) => {
            tracing::info!(event = %event.event_id, "Stripe event already stored: acknowledged");
            (
                StatusCode::OK,
                axum::Json(json!({ "received": true, "duplicate": true })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, event = %event.event_id, "Stripe event not stored: Stripe will retry");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the event could not be stored now; Stripe retries it",
            )
            .into_response()
        }
    }
}
