//! The door of `/api/v1`: the bearer key, then its limits, counted in the
//! database so they hold across instances. A request that passes carries
//! the key as its actor ([`CurrentUser`]) into the one access check.
//!
//! The rate limit is a fixed window of one minute; the monthly quota counts
//! the requests served in the calendar month (UTC). Refused requests are
//! counted apart (`throttled`) and do not use up the quota.

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::PrimitiveDateTime;

use crate::access::{Actor, KeyPrincipal};
use crate::security::api_key::ApiKey;
use crate::security::key_ledger::{Limits, Verdict};
use crate::state::AppState;
use crate::web::api_error::ApiError;
use crate::web::current::CurrentUser;
use crate::web::meta::RequestMeta;

pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match admit(&state, &parts).await {
        Ok(actor) => {
            parts.extensions.insert(CurrentUser(Some(actor)));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

/// The secret of an `Authorization: Bearer` header.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

async fn admit(state: &AppState, parts: &Parts) -> Result<Actor, ApiError> {
    let Some(secret) = bearer(parts) else {
        return Err(ApiError::unauthorized());
    };
    let now = state.clock.now_primitive();
    let Some(key) = state
        .key_cache
        .authenticate(&state.pool, secret, now)
        .await?
    else {
        // The secret itself is never logged.
        tracing::warn!(path = %crate::redact::path(parts.uri.path()), "API: unknown, revoked or expired key");
        return Err(ApiError::unauthorized());
    };
    let ip = RequestMeta::from_parts(parts, state.config.trusted_proxies).ip_string();
    count(state, &key, now, ip).await?;
    let principal = KeyPrincipal {
        id: key.id,
        name: key.name.clone(),
        client_id: key.client_id.clone(),
    };
    let scopes = key.scope_list();
    match on_behalf_of(parts)? {
        None => Ok(Actor::for_key(principal, &scopes)),
        Some(user_id) => {
            let mut db = state.pool.get().await?;
            match state.actor(&mut db, user_id).await? {
                Some(user) => Ok(user.through_key(principal, &scopes)),
                None => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "on_behalf_forbidden",
                    "X-On-Behalf-Of names no active user",
                )),
            }
        }
    }
}

/// The user a key acts for (`X-On-Behalf-Of: <user id>`): the main app
/// passes the signed-in user, and the request is held to that user's
/// rights as well as the key's scopes.
fn on_behalf_of(parts: &Parts) -> Result<Option<i64>, ApiError> {
    let Some(value) = parts.headers.get("x-on-behalf-of") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id > 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "on_behalf_invalid",
                "X-On-Behalf-Of must be a user id",
            )
        })
}

/// Counts this request against the key's minute and month (see
/// [`crate::security::key_ledger`]); refuses it past either limit.
async fn count(
    state: &AppState,
    key: &ApiKey,
    now: PrimitiveDateTime,
    ip: Option<String>,
) -> Result<(), ApiError> {
    let limits = Limits {
        rate_per_minute: key.rate_per_minute,
        monthly_quota: key.monthly_quota,
    };
    match state
        .key_ledger
        .take(&state.pool, key.id, limits, now, ip.as_deref())
        .await?
    {
        Verdict::Served => Ok(()),
        Verdict::RateLimited => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "over this key's limit of {} requests a minute",
                    key.rate_per_minute
                ),
            );
            e.retry_after = Some(60 - u64::from(now.second()));
            Err(e)
        }
        Verdict::QuotaExceeded => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                format!(
                    "this key's monthly quota of {} requests is used up",
                    key.monthly_quota
                ),
            );
            e.retry_after = Some(seconds_until_next_month(now));
            Err(e)
        }
    }
}

fn seconds_until_next_month(now: PrimitiveDateTime) -> u64 {
    let (y, m) = match now.month() {
        time::Month::December => (now.year() + 1, time::Month::January),
        m => (now.year(), m.next()),
    };
    time::Date::from_calendar_date(y, m, 1)
        .map(|d| d.midnight() - now)
        .map_or(3600, |d| d.whole_seconds().max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_quota_resets_with_the_month() {
        assert_eq!(seconds_until_next_month(datetime!(2026-12-31 23:59)), 60);
    }
}
