//! `/api/v1/usage`: the main app asks before generating (`check`), counts
//! what it generated (`consume`, `usage:write`), and reads a user's usage
//! (`usage:read`). A consume is atomic and idempotent: see
//! `metering::meter`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::api::numbers::{self, whole};
use crate::metering::kind::UsageKind;
use crate::metering::meter::{self, Caller, Consume, MeterError};
use crate::metering::period::Period;
use crate::metering::quota;
use crate::state::AppState;
use crate::web::api_error::{ApiError, json_body};
use crate::web::current::SignedIn;

/// Largest amount one call may count.
const MAX_AMOUNT: i64 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumeBody {
    user_id: serde_json::Number,
    kind: String,
    #[serde(default, deserialize_with = "numbers::present")]
    amount: Option<serde_json::Value>,
    idempotency_key: Option<String>,
}

/// The amount, 1 when absent.
fn amount_of(v: Option<&serde_json::Value>) -> Result<i64, ApiError> {
    numbers::optional(v, "amount", 1)
}

/// The body's kind and amount, or the API's 422 naming the field.
fn validate(kind: &str, amount: i64) -> Result<UsageKind, ApiError> {
    let kind = UsageKind::parse(kind).ok_or_else(|| {
        ApiError::invalid("kind is article, image or social_post")
            .details(vec![json!({"field": "kind"})])
    })?;
    if !(1..=MAX_AMOUNT).contains(&amount) {
        return Err(
            ApiError::invalid(format!("amount is an integer from 1 to {MAX_AMOUNT}"))
                .details(vec![json!({"field": "amount"})]),
        );
    }
    Ok(kind)
}

fn unknown_user() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "user_unknown", "no such user")
}

impl From<MeterError> for ApiError {
    fn from(e: MeterError) -> Self {
        match e {
            MeterError::UnknownUser => unknown_user(),
            // The request is valid; it conflicts with what the key recorded.
            MeterError::KeyReused => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this idempotency_key was used for another user, kind or amount",
            ),
            MeterError::Db(e) => e.into(),
            MeterError::Unavailable(e) => e.into(),
        }
    }
}

/// POST /api/v1/usage/consume
pub async fn consume(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: ConsumeBody = json_body(&body)?;
    let (user_id, amount) = (whole(&b.user_id, "user_id")?, amount_of(b.amount.as_ref())?);
    let kind = validate(&b.kind, amount)?;
    let key = match b.idempotency_key {
        Some(k) if (1..=255).contains(&k.len()) && k.bytes().all(|c| c.is_ascii_graphic()) => k,
        _ => {
            return Err(ApiError::invalid(
                "idempotency_key is required: 1 to 255 visible ASCII characters",
            )
            .details(vec![json!({"field": "idempotency_key"})]));
        }
    };
    let caller = Caller {
        key_id: actor.key.as_ref().map(|k| k.id),
        client_id: actor
            .key
            .as_ref()
            .map(|k| k.client_id.clone())
            .unwrap_or_default(),
    };
    let call = Consume {
        user_id,
        kind,
        amount,
        idempotency_key: key,
    };
    let answer = meter::consume(&state.meter, &call, &caller, state.clock.now_primitive()).await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, Json(answer.body)).into_response();
    if answer.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    user_id: serde_json::Number,
    kind: String,
    #[serde(default, deserialize_with = "numbers::present")]
    amount: Option<serde_json::Value>,
}

/// POST /api/v1/usage/check: what a consume would answer, counting nothing.
pub async fn check(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let b: CheckBody = json_body(&body)?;
    let (user_id, amount) = (whole(&b.user_id, "user_id")?, amount_of(b.amount.as_ref())?);
    let kind = validate(&b.kind, amount)?;
    let mut db = state.meter.pool.get().await?;
    let now = state.clock.now_primitive();
    let (allowed, figures) = meter::check(&mut db, user_id, kind, amount, now).await?;
    let mut out = figures.to_json();
    out["allowed"] = allowed.into();
    Ok(Json(out))
}

/// GET /api/v1/usage/{user_id}: the plan, this period per kind, and the
/// twelve periods before it.
pub async fn of_user(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user_id = numbers::path_id(&user_id, "user")?;
    let now = state.clock.now_primitive();
    let mut db = state.pool.get().await?;
    let q = quota::of_user(&mut db, user_id, now)
        .await?
        .ok_or_else(unknown_user)?;
    let period = Period::of_primitive(now);
    let months = crate::metering::history::months(&mut db, user_id, period, 13).await?;
    let mut current = serde_json::Map::new();
    for kind in UsageKind::ALL {
        let f = meter::Figures {
            used: months.first().map_or(0, |m| m.used[kind.index()]),
            limit: q.limit(*kind),
            period,
            overage: 0,
        };
        let mut v = f.to_json();
        if let Some(obj) = v.as_object_mut() {
            obj.remove("period");
            obj.remove("resets_at");
            obj.insert("overage_cents".into(), json!(q.overage_cents(*kind)));
        }
        current.insert(kind.as_str().into(), v);
    }
    let history: Vec<serde_json::Value> = months
        .iter()
        .skip(1)
        .map(|m| {
            json!({
                "period": m.period.key(),
                "article": m.used[0],
                "image": m.used[1],
                "social_post": m.used[2],
            })
        })
        .collect();
    Ok(Json(json!({
        "user_id": user_id,
        "plan": { "code": q.plan.code, "name": q.plan.name },
        "subscribed": q.subscribed,
        "period": period.key(),
        "resets_at": format!("{}-01T00:00:00Z", period.next().key()),
        "usage": current,
        "history": history,
    })))
}
