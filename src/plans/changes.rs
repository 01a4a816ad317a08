//! Every change to a plan, each with its audit event in the caller's
//! transaction. A plan someone subscribed to (or that a closed month's
//! report names) is never deleted, only archived: its history stays.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::Tx;
use crate::db::schema::{overage_reports, plans, subscriptions};
use crate::db_run;
use crate::metering::catalog as store;
use crate::metering::plan::Plan;
use crate::plans::input::PlanInput;

async fn load(tx: &mut Tx<'_>, id: i64) -> ChangeResult<Plan> {
    store::find(tx, id).await?.ok_or(ChangeError::NotFound)
}

fn input_of(p: &Plan) -> PlanInput {
    PlanInput {
        code: p.code.clone(),
        name: p.name.clone(),
        price_cents: p.price_cents,
        currency: p.currency.clone(),
        interval: p.interval,
        limits: p.limits,
        overage: p.overage,
        stripe_price_id: p.stripe_price_id.clone(),
        active: p.active,
    }
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

pub async fn create(tx: &mut Tx<'_>, by: &By, p: &PlanInput) -> ChangeResult<i64> {
    let taken: i64 = db_run!(tx, |c| plans::table
        .filter(plans::code.eq(&p.code))
        .count()
        .get_result(c)
        .await)?;
    if taken > 0 {
        return Err(ChangeError::Invalid("plans.code_taken"));
    }
    let id: i64 = db_run!(tx, |c| diesel::insert_into(plans::table)
        .values((
            plans::code.eq(&p.code),
            plans::name.eq(&p.name),
            plans::price_cents.eq(p.price_cents),
            plans::currency.eq(&p.currency),
            plans::billing_interval.eq(p.interval),
            plans::limits.eq(json_text(&p.limits)),
            plans::overage.eq(json_text(&p.overage)),
            plans::stripe_price_id.eq(&p.stripe_price_id),
            plans::active.eq(p.active),
            plans::created_at.eq(by.now),
            plans::updated_at.eq(by.now),
        ))
        .returning(plans::id)
        .get_result(c)
        .await)?;
    by.record(
        tx,
        Event::new(Action::PlanCreated)
            .target("plan", id)
            .details(json!({ "after": p.to_json() })),
    )
    .await?;
    Ok(id)
}

/// Saves the form's values; the event holds the fields that changed,
/// before and after. Nothing changed: nothing written.
pub async fn update(tx: &mut Tx<'_>, by: &By, id: i64, p: &PlanInput) -> ChangeResult<bool> {
    let old = load(tx, id).await?;
    if old.archived_at.is_some() {
        return Err(ChangeError::Invalid("plans.is_archived"));
    }
    let (before, after) = (input_of(&old).to_json(), p.to_json());
    let mut changed_before = serde_json::Map::new();
    let mut changed_after = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, v) in a {
            if b.get(k) != Some(v) {
                changed_before.insert(k.clone(), b.get(k).cloned().unwrap_or_default());
                changed_after.insert(k.clone(), v.clone());
            }
        }
    }
    if changed_after.is_empty() {
        return Ok(false);
    }
    db_run!(tx, |c| diesel::update(plans::table.find(id))
        .set((
            plans::name.eq(&p.name),
            plans::price_cents.eq(p.price_cents),
            plans::currency.eq(&p.currency),
            plans::billing_interval.eq(p.interval),
            plans::limits.eq(json_text(&p.limits)),
            plans::overage.eq(json_text(&p.overage)),
            plans::stripe_price_id.eq(&p.stripe_price_id),
            plans::active.eq(p.active),
            plans::updated_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
    by.record(
        tx,
        Event::new(Action::PlanUpdated)
            .target("plan", id)
            .details(json!({ "code": old.code, "before": changed_before, "after": changed_after })),
    )
    .await?;
    Ok(true)
}

/// Subscribers (any status) and closed-month reports that name the plan.
async fn uses(tx: &mut Tx<'_>, id: i64) -> ChangeResult<i64> {
    let subs: i64 = db_run!(tx, |c| subscriptions::table
        .filter(subscriptions::plan_id.eq(id))
        .count()
        .get_result(c)
        .await)?;
    let reports: i64 = db_run!(tx, |c| overage_reports::table
        .filter(overage_reports::plan_id.eq(id))
        .count()
        .get_result(c)
        .await)?;
    Ok(subs + reports)
}

/// Retired: hidden from the list, offered to nobody, kept with its history.
pub async fn archive(tx: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let p = load(tx, id).await?;
    if p.archived_at.is_some() {
        return Ok(());
    }
    if p.is_default {
        return Err(ChangeError::Invalid("plans.default_protected"));
    }
    db_run!(tx, |c| diesel::update(plans::table.find(id))
        .set((
            plans::archived_at.eq(Some(by.now)),
            plans::active.eq(false),
            plans::updated_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
    by.record(
        tx,
        Event::new(Action::PlanArchived)
            .target("plan", id)
            .details(json!({ "code": p.code })),
    )
    .await
}

pub async fn restore(tx: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let p = load(tx, id).await?;
    if p.archived_at.is_none() {
        return Ok(());
    }
    db_run!(tx, |c| diesel::update(plans::table.find(id))
        .set((
            plans::archived_at.eq(None::<time::PrimitiveDateTime>),
            plans::updated_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
    by.record(
        tx,
        Event::new(Action::PlanRestored)
            .target("plan", id)
            .details(json!({ "code": p.code })),
    )
    .await
}

/// Deletes a plan nobody ever used; one in use is refused (archive it).
pub async fn delete(tx: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let p = load(tx, id).await?;
    if p.is_default {
        return Err(ChangeError::Invalid("plans.default_protected"));
    }
    if uses(tx, id).await? > 0 {
        return Err(ChangeError::Invalid("plans.in_use"));
    }
    db_run!(tx, |c| diesel::delete(plans::table.find(id))
        .execute(c)
        .await)?;
    by.record(
        tx,
        Event::new(Action::PlanDeleted)
            .target("plan", id)
            .details(json!({ "before": input_of(&p).to_json() })),
    )
    .await
}

/// Makes `id` the plan of users without a subscription.
pub async fn make_default(tx: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let p = load(tx, id).await?;
    if p.archived_at.is_some() {
        return Err(ChangeError::Invalid("plans.is_archived"));
    }
    if p.is_default {
        return Ok(());
    }
    let previous: Option<String> = db_run!(tx, |c| plans::table
        .filter(plans::is_default)
        .select(plans::code)
        .first(c)
        .await
        .optional())?;
    // Off first: the unique index allows one default at a time.
    db_run!(tx, |c| diesel::update(
        plans::table.filter(plans::is_default)
    )
    .set(plans::is_default.eq(false))
    .execute(c)
    .await)?;
    db_run!(tx, |c| diesel::update(plans::table.find(id))
        .set((plans::is_default.eq(true), plans::updated_at.eq(by.now)))
        .execute(c)
        .await)?;
    by.record(
        tx,
        Event::new(Action::PlanMadeDefault)
            .target("plan", id)
            .details(json!({ "code": p.code, "before": previous })),
    )
    .await
}
