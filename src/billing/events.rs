//! Stripe's webhook events as stored: each verified event once by its id
//! (a redelivery finds the id taken), then applied by a task, its status
//! and result kept for the events page.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;
use time::PrimitiveDateTime;

use crate::billing::subscription::id_of;
use crate::db::schema::stripe_events;
use crate::db::{Db, Tx};
use crate::db_run;

/// Where an event is: stored and waiting, applied, not of a type we use,
/// or failed (the result says why).
pub const STATUSES: [&str; 4] = ["pending", "processed", "ignored", "failed"];

/// An event read from a verified body.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub customer_id: Option<String>,
    pub object_id: Option<String>,
    pub stripe_created: i64,
    pub livemode: bool,
    pub payload: String,
}

/// Why a verified body is not an event.
pub const NOT_AN_EVENT: &str =
    "the body is not a Stripe event (id evt_…, type, created and data.object expected)";

impl NewEvent {
    pub fn parse(body: &[u8]) -> Result<NewEvent, &'static str> {
        let v: Value = serde_json::from_slice(body).map_err(|_| NOT_AN_EVENT)?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let event_id = text("id")
            .filter(|id| id.starts_with("evt_") && id.len() <= 255)
            .ok_or(NOT_AN_EVENT)?;
        let event_type = text("type")
            .filter(|t| !t.is_empty() && t.len() <= 100)
            .ok_or(NOT_AN_EVENT)?;
        let stripe_created = v
            .get("created")
            .and_then(Value::as_i64)
            .ok_or(NOT_AN_EVENT)?;
        let object = v.pointer("/data/object").ok_or(NOT_AN_EVENT)?;
        let object_id = id_of(object.get("id"));
        let customer_id = if object.get("object").and_then(Value::as_str) == Some("customer") {
            object_id.clone()
        } else {
            id_of(object.get("customer"))
        };
        Ok(NewEvent {
            event_id,
            event_type,
            customer_id,
            object_id,
            stripe_created,
            livemode: v.get("livemode").and_then(Value::as_bool).unwrap_or(false),
            // Stored as received (verified bytes, valid JSON).
            payload: String::from_utf8_lossy(body).into_owned(),
        })
    }
}

/// Stores `e`; its row id, or `None` when that event id is already stored.
pub async fn store(
    tx: &mut Tx<'_>,
    e: &NewEvent,
    now: PrimitiveDateTime,
) -> QueryResult<Option<i64>> {
    db_run!(tx, |c| diesel::insert_into(stripe_events::table)
        .values((
            stripe_events::event_id.eq(&e.event_id),
            stripe_events::event_type.eq(&e.event_type),
            stripe_events::customer_id.eq(&e.customer_id),
            stripe_events::object_id.eq(&e.object_id),
            stripe_events::stripe_created.eq(e.stripe_created),
            stripe_events::livemode.eq(e.livemode),
            stripe_events::payload.eq(&e.payload),
            stripe_events::status.eq("pending"),
            stripe_events::received_at.eq(now),
        ))
        .on_conflict(stripe_events::event_id)
        .do_nothing()
        .returning(stripe_events::id)
        .get_result(c)
        .await
        .optional())
}

#[derive(Clone, Debug, Queryable)]
pub struct StoredEvent {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub customer_id: Option<String>,
    pub object_id: Option<String>,
    pub stripe_created: i64,
    pub livemode: bool,
    pub payload: String,
    pub status: String,
    pub result: Option<String>,
    pub attempts: i32,
    pub received_at: PrimitiveDateTime,
    pub processed_at: Option<PrimitiveDateTime>,
}

pub async fn find(db: &mut Db, id: i64) -> QueryResult<Option<StoredEvent>> {
    db_run!(db, |c| stripe_events::table
        .find(id)
        .first(c)
        .await
        .optional())
}

/// Marks the event `status` with `result` (an i18n key or an error's words).
pub async fn finish(
    tx: &mut Tx<'_>,
    id: i64,
    status: &'static str,
    result: &str,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    db_run!(tx, |c| diesel::update(stripe_events::table.find(id))
        .set((
            stripe_events::status.eq(status),
            stripe_events::result.eq(result),
            stripe_events::attempts.eq(stripe_events::attempts + 1),
            stripe_events::processed_at.eq(now),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Puts the event back to be applied again.
pub async fn reset(tx: &mut Tx<'_>, id: i64) -> QueryResult<bool> {
    let n = db_run!(tx, |c| diesel::update(stripe_events::table.find(id))
        .set(stripe_events::status.eq("pending"))
        .execute(c)
        .await)?;
    Ok(n > 0)
}

/// The events page's filter; each one is an index's leading column.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub event_type: Option<String>,
    pub status: Option<String>,
    pub customer: Option<String>,
}

/// A page of events, newest first, older than `before` (a row id) when set.
pub async fn list(
    db: &mut Db,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    db_run!(db, |c| {
        let mut q = stripe_events::table.into_boxed();
        if let Some(t) = &f.event_type {
            q = q.filter(stripe_events::event_type.eq(t));
        }
        if let Some(s) = &f.status {
            q = q.filter(stripe_events::status.eq(s));
        }
        if let Some(cus) = &f.customer {
            q = q.filter(stripe_events::customer_id.eq(cus));
        }
        if let Some(b) = before {
            q = q.filter(stripe_events::id.lt(b));
        }
        q.order(stripe_events::id.desc()).limit(limit).load(c).await
    })
}

/// The types stored, for the filter's choices.
pub async fn types(db: &mut Db) -> QueryResult<Vec<String>> {
    db_run!(db, |c| stripe_events::table
        .select(stripe_events::event_type)
        .distinct()
        .order(stripe_events::event_type)
        .limit(200)
        .load(c)
        .await)
}

/// How long applied and ignored events are kept (failed and pending ones
/// stay until someone deals with them). Stripe itself keeps events 30 days.
pub const KEPT_DAYS: i64 = 180;

/// Deletes applied and ignored events received before `before`; how many.
pub async fn purge_old(db: &mut Db, before: PrimitiveDateTime) -> QueryResult<usize> {
    db_run!(db, |c| diesel::delete(
        stripe_events::table
            .filter(stripe_events::status.eq_any(["processed", "ignored"]))
            .filter(stripe_events::received_at.lt(before))
    )
    .execute(c)
    .await)
}
