//! A user's quota overrides and complimentary plan, each change with its
//! audit event (target: the user) in the caller's transaction.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::Tx;
use crate::db::schema::{plans, quota_overrides, subscriptions, users};
use crate::db_run;
use crate::metering::kind::UsageKind;
use crate::metering::quota::{ENDED, OverrideMode};

/// An override as the form gives it.
pub struct NewOverride {
    pub kind: UsageKind,
    pub mode: OverrideMode,
    pub amount: i64,
    pub reason: String,
    pub expires_at: Option<PrimitiveDateTime>,
}

/// Largest override amount (a typo guard: ten million units a month).
pub const MAX_AMOUNT: i64 = 10_000_000;

async fn live_user(tx: &mut Tx<'_>, user_id: i64) -> ChangeResult<String> {
    db_run!(tx, |c| users::table
        .find(user_id)
        .filter(users::deleted_at.is_null())
        .select(users::email)
        .first::<String>(c)
        .await
        .optional())?
    .ok_or(ChangeError::NotFound)
}

pub async fn add_override(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    o: &NewOverride,
) -> ChangeResult<i64> {
    live_user(tx, user_id).await?;
    let reason: String = o.reason.chars().filter(|c| !c.is_control()).collect();
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ChangeError::Invalid("usage.reason_required"));
    }
    if !(0..=MAX_AMOUNT).contains(&o.amount) {
        return Err(ChangeError::Invalid("usage.amount_invalid"));
    }
    if o.expires_at.is_some_and(|e| e <= by.now) {
        return Err(ChangeError::Invalid("usage.expiry_past"));
    }
    let id: i64 = db_run!(tx, |c| diesel::insert_into(quota_overrides::table)
        .values((
            quota_overrides::user_id.eq(user_id),
            quota_overrides::kind.eq(o.kind),
            quota_overrides::mode.eq(o.mode),
            quota_overrides::amount.eq(o.amount),
            quota_overrides::reason.eq(reason),
            quota_overrides::expires_at.eq(o.expires_at),
            quota_overrides::created_by.eq(by.actor.id),
            quota_overrides::created_by_label.eq(&by.actor.label),
            quota_overrides::created_at.eq(by.now),
        ))
        .returning(quota_overrides::id)
        .get_result(c)
        .await)?;
    crate::metering::quota::relevel(tx, user_id, by.now).await?;
    by.record(
        tx,
        Event::new(Action::QuotaOverrideAdded)
            .target("user", user_id)
            .details(json!({
                "override": id,
                "kind": o.kind.as_str(),
                "mode": o.mode.as_str(),
                "amount": o.amount,
                "reason": reason,
                "expires_at": o.expires_at.map(|e| e.to_string()),
            })),
    )
    .await?;
    Ok(id)
}

/// Ends an override now (an expired or revoked one stays as it is).
pub async fn revoke_override(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    override_id: i64,
) -> ChangeResult<()> {
    let found: Option<(
        UsageKind,
        i64,
        Option<PrimitiveDateTime>,
        Option<PrimitiveDateTime>,
    )> = db_run!(tx, |c| quota_overrides::table
        .find(override_id)
        .filter(quota_overrides::user_id.eq(user_id))
        .select((
            quota_overrides::kind,
            quota_overrides::amount,
            quota_overrides::expires_at,
            quota_overrides::revoked_at
        ))
        .first(c)
        .await
        .optional())?;
    let (kind, amount, expires, revoked) = found.ok_or(ChangeError::NotFound)?;
    if revoked.is_some() || expires.is_some_and(|e| e <= by.now) {
        return Err(ChangeError::Invalid("usage.override_over"));
    }
    db_run!(tx, |c| diesel::update(
        quota_overrides::table.find(override_id)
    )
    .set(quota_overrides::revoked_at.eq(Some(by.now)))
    .execute(c)
    .await)?;
    crate::metering::quota::relevel(tx, user_id, by.now).await?;
    by.record(
        tx,
        Event::new(Action::QuotaOverrideRevoked)
            .target("user", user_id)
            .details(json!({ "override": override_id, "kind": kind.as_str(), "amount": amount })),
    )
    .await
}

/// The user's subscription: plan code, status, Stripe subscription id.
async fn current(
    tx: &mut Tx<'_>,
    user_id: i64,
) -> ChangeResult<Option<(String, String, Option<String>)>> {
    Ok(db_run!(tx, |c| subscriptions::table
        .inner_join(plans::table)
        .filter(subscriptions::user_id.eq(user_id))
        .select((
            plans::code,
            subscriptions::status,
            subscriptions::stripe_subscription_id
        ))
        .first(c)
        .await
        .optional())?)
}

/// Gives the user `plan_id` free of charge, with no Stripe subscription.
/// A live Stripe subscription is cancelled in Stripe first: two sources
/// of truth for one user's plan would disagree.
pub async fn set_complimentary(
    tx: &mut Tx<'_>,
    by: &By,
    user_id: i64,
    plan_id: i64,
) -> ChangeResult<()> {
    live_user(tx, user_id).await?;
    let plan: Option<(String, Option<PrimitiveDateTime>)> = db_run!(tx, |c| plans::table
        .find(plan_id)
        .select((plans::code, plans::archived_at))
        .first(c)
        .await
        .optional())?;
    let Some((code, None)) = plan else {
        return Err(ChangeError::Invalid("usage.plan_unavailable"));
    };
    let before = current(tx, user_id).await?;
    if let Some((_, status, Some(_))) = &before
        && !ENDED.contains(&status.as_str())
    {
        return Err(ChangeError::Invalid("usage.stripe_subscription_live"));
    }
    if let Some((old_code, status, _)) = &before
        && *old_code == code
        && status == "complimentary"
    {
        return Ok(());
    }
    db_run!(tx, |c| diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::user_id.eq(user_id),
            subscriptions::plan_id.eq(plan_id),
            subscriptions::status.eq("complimentary"),
            subscriptions::created_at.eq(by.now),
            subscriptions::updated_at.eq(by.now),
        ))
        .on_conflict(subscriptions::user_id)
        .do_update()
        .set((
            subscriptions::plan_id.eq(plan_id),
            subscriptions::status.eq("complimentary"),
            subscriptions::stripe_subscription_id.eq(None::<String>),
            subscriptions::current_period_start.eq(None::<PrimitiveDateTime>),
            subscriptions::current_period_end.eq(None::<PrimitiveDateTime>),
            subscriptions::cancel_at_period_end.eq(false),
            subscriptions::updated_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
    crate::metering::quota::relevel(tx, user_id, by.now).await?;
    by.record(
        tx,
        Event::new(Action::ComplimentaryPlanGiven)
            .target("user", user_id)
            .details(json!({
                "before": before.map(|(code, status, _)| json!({"plan": code, "status": status})),
                "after": {"plan": code, "status": "complimentary"},
            })),
    )
    .await
}

/// Ends a complimentary plan: the user is back on the default plan.
pub async fn end_complimentary(tx: &mut Tx<'_>, by: &By, user_id: i64) -> ChangeResult<()> {
    live_user(tx, user_id).await?;
    let Some((code, status, _)) = current(tx, user_id).await? else {
        return Err(ChangeError::Invalid("usage.no_complimentary"));
    };
    if status != "complimentary" {
        return Err(ChangeError::Invalid("usage.no_complimentary"));
    }
    db_run!(tx, |c| diesel::update(
        subscriptions::table.filter(subscriptions::user_id.eq(user_id))
    )
    .set((
        subscriptions::status.eq("canceled"),
        subscriptions::updated_at.eq(by.now),
    ))
    .execute(c)
    .await)?;
    crate::metering::quota::relevel(tx, user_id, by.now).await?;
    by.record(
        tx,
        Event::new(Action::ComplimentaryPlanEnded)
            .target("user", user_id)
            .details(json!({ "before": {"plan": code, "status": status} })),
    )
    .await
}
