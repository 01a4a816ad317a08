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
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::access::{Actor, KeyPrincipal};
use crate::api::keys::{self, ApiKey};
use crate::db::Db;
use crate::db::schema::{api_key_months, api_key_usage, api_keys};
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
    let mut db = state.pool.get().await?;
    let Some(key) = keys::authenticate(&mut db, secret, now).await? else {
        // The secret itself is never logged.
        tracing::warn!(path = %crate::redact::path(parts.uri.path()), "API: unknown, revoked or expired key");
        return Err(ApiError::unauthorized());
    };
    let ip = RequestMeta::from_parts(parts, state.config.trusted_proxies).ip_string();
    count(&mut db, &key, now, ip).await?;
    let principal = KeyPrincipal {
        id: key.id,
        name: key.name.clone(),
        client_id: key.client_id.clone(),
    };
    Ok(Actor::for_key(principal, &key.scope_list()))
}

fn minute_of(now: PrimitiveDateTime) -> PrimitiveDateTime {
    now.replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now)
}

pub fn month_of(now: PrimitiveDateTime) -> String {
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

/// Counts this request against the key's minute and month; refuses it
/// (and counts the refusal) past either limit.
async fn count(
    db: &mut Db,
    key: &ApiKey,
    now: PrimitiveDateTime,
    ip: Option<String>,
) -> Result<(), ApiError> {
    let minute = minute_of(now);
    let month = month_of(now);
    let (in_minute, in_month) = match bump(db, key, minute, &month).await? {
        Some(counted) => counted,
        None => bump_portable(db, key, minute, &month).await?,
    };
    if in_minute == 1 {
        // Once a minute is precise enough for "last used", and spares a
        // write per call.
        crate::db_run!(db, |c| diesel::update(api_keys::table.find(key.id))
            .set((
                api_keys::last_used_at.eq(Some(now)),
                api_keys::last_used_ip.eq(&ip),
            ))
            .execute(c)
            .await)?;
    }
    if in_minute > i64::from(key.rate_per_minute) {
        throttled(db, key.id, minute).await?;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "over this key's limit of {} requests a minute",
                key.rate_per_minute
            ),
        );
        e.retry_after = Some(60 - u64::from(now.second()));
        return Err(e);
    }
    if in_month > key.monthly_quota {
        // Not served: give the month its request back.
        crate::db_run!(db, |c| diesel::update(
            api_key_months::table.find((key.id, &month))
        )
        .set(api_key_months::requests.eq(api_key_months::requests - 1))
        .execute(c)
        .await)?;
        throttled(db, key.id, minute).await?;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            format!(
                "this key's monthly quota of {} requests is used up",
                key.monthly_quota
            ),
        );
        e.retry_after = Some(seconds_until_next_month(now));
        return Err(e);
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    in_minute: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    in_month: Option<i64>,
}

/// PostgreSQL: both counters in one statement, committed without waiting
/// for the WAL flush (`synchronous_commit` off for this transaction only).
/// A counter is not worth a disk flush per request: a database crash may
/// forget the last fraction of a second of counts, never a change. The
/// month is only counted when the minute lets the request through.
/// `None` on SQLite, whose writes do not wait for a flush in WAL mode.
async fn bump(
    db: &mut Db,
    key: &ApiKey,
    minute: PrimitiveDateTime,
    month: &str,
) -> Result<Option<(i64, i64)>, diesel::result::Error> {
    use diesel::sql_types::{BigInt, Integer, Text, Timestamp};
    let (conn, busy) = db.query_slot();
    let crate::db::Conn::Pg(c) = conn else {
        return Ok(None);
    };
    // Stays set if this future is dropped mid-query: see `Db`.
    *busy = true;
    let counted: Result<Counted, _> = diesel::sql_query(
        "WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true)), \
         m AS (INSERT INTO api_key_usage (key_id, minute, requests, throttled) \
               SELECT $1, $2, 1, 0 FROM cfg \
               ON CONFLICT (key_id, minute) DO UPDATE SET requests = api_key_usage.requests + 1 \
               RETURNING requests), \
         mo AS (INSERT INTO api_key_months (key_id, month, requests) \
                SELECT $1, $3, 1 FROM m WHERE m.requests <= $4 \
                ON CONFLICT (key_id, month) DO UPDATE SET requests = api_key_months.requests + 1 \
                RETURNING requests) \
         SELECT m.requests AS in_minute, (SELECT requests FROM mo) AS in_month FROM m",
    )
    .bind::<BigInt, _>(key.id)
    .bind::<Timestamp, _>(minute)
    .bind::<Text, _>(month)
    .bind::<Integer, _>(key.rate_per_minute)
    .get_result(&mut **c)
    .await;
    *busy = false;
    let counted = counted?;
    Ok(Some((counted.in_minute, counted.in_month.unwrap_or(0))))
}

/// Both engines: the minute, then the month when the minute allows.
async fn bump_portable(
    db: &mut Db,
    key: &ApiKey,
    minute: PrimitiveDateTime,
    month: &str,
) -> Result<(i64, i64), diesel::result::Error> {
    let in_minute: i64 = crate::db_run!(db, |c| diesel::insert_into(api_key_usage::table)
        .values((
            api_key_usage::key_id.eq(key.id),
            api_key_usage::minute.eq(minute),
            api_key_usage::requests.eq(1i64),
            api_key_usage::throttled.eq(0i64),
        ))
        .on_conflict((api_key_usage::key_id, api_key_usage::minute))
        .do_update()
        .set(api_key_usage::requests.eq(api_key_usage::requests + 1))
        .returning(api_key_usage::requests)
        .get_result(c)
        .await)?;
    if in_minute > i64::from(key.rate_per_minute) {
        return Ok((in_minute, 0));
    }
    let in_month: i64 = crate::db_run!(db, |c| diesel::insert_into(api_key_months::table)
        .values((
            api_key_months::key_id.eq(key.id),
            api_key_months::month.eq(month),
            api_key_months::requests.eq(1i64),
        ))
        .on_conflict((api_key_months::key_id, api_key_months::month))
        .do_update()
        .set(api_key_months::requests.eq(api_key_months::requests + 1))
        .returning(api_key_months::requests)
        .get_result(c)
        .await)?;
    Ok((in_minute, in_month))
}

async fn throttled(
    db: &mut Db,
    key_id: i64,
    minute: PrimitiveDateTime,
) -> Result<(), diesel::result::Error> {
    crate::db_run!(db, |c| diesel::update(
        api_key_usage::table.find((key_id, minute))
    )
    .set(api_key_usage::throttled.eq(api_key_usage::throttled + 1))
    .execute(c)
    .await)?;
    Ok(())
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
    fn windows_and_months() {
        assert_eq!(
            minute_of(datetime!(2026-12-03 14:05:59.9)),
            datetime!(2026-12-03 14:05)
        );
        assert_eq!(month_of(datetime!(2026-02-03 14:05)), "2026-02");
        assert_eq!(seconds_until_next_month(datetime!(2026-12-31 23:59)), 60);
    }
}
