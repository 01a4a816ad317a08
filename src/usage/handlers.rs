//! The usage section of the user page (loaded into it by htmx; a page of
//! its own without JavaScript): this month per kind with a bar, the last
//! twelve months as a chart, the overrides, the plan and where it comes
//! from; and the actions on them (overrides: `quotas.manage`; a
//! complimentary plan: `billing.write`).

use axum::Form;
use axum::extract::Path;
use axum::response::Response;

use crate::access::{Actor, Permission, can};
use crate::change::{By, ChangeResult};
use crate::db::{BoxFuture, Db, Tx};
use crate::error::AppError;
use crate::metering::catalog;
use crate::metering::history;
use crate::metering::kind::UsageKind;
use crate::metering::period::Period;
use crate::metering::quota::{self, OverrideMode};
use crate::usage::changes::{self, NewOverride};
use crate::usage::store;
use crate::usage::views::*;
use crate::web::action::{Call, run};
use crate::web::form::{Choice, FormState, field};
use crate::web::format::{date_time, group, parse_day};
use crate::web::guard::redirect;
use crate::web::layout::PageCtx;
use crate::web::meta::IdPath;
use crate::web::render::html;

const CHART_HEIGHT: i64 = 64;
const BAR: i64 = 6;
const GROUP: i64 = 26;

/// The 12-month chart's bars, oldest month on the left.
fn chart(ctx: &PageCtx, months: &[history::Month]) -> (Vec<ChartBar>, Vec<(i64, String)>) {
    let top = months.iter().flat_map(|m| m.used).max().unwrap_or(0).max(1);
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, m) in months.iter().rev().enumerate() {
        let x0 = i as i64 * GROUP;
        labels.push((x0 + GROUP / 2 - 3, format!("{:02}", m.period.month as u8)));
        for kind in UsageKind::ALL {
            let value = m.used[kind.index()];
            let height = value * CHART_HEIGHT / top;
            bars.push(ChartBar {
                x: x0 + kind.index() as i64 * (BAR + 1),
                y: CHART_HEIGHT - height,
                height,
                kind: kind.as_str(),
                title: format!(
                    "{} · {}: {}",
                    m.period.key(),
                    ctx.tr(&format!("usage.kind_{}", kind.as_str())),
                    group(value)
                ),
            });
        }
    }
    (bars, labels)
}

/// Renders the section for `user_id`, with `form` in the override form
/// and `plan_form` in the plan form.
pub async fn section_html(
    db: &mut Db,
    ctx: &PageCtx,
    actor: &Actor,
    user_id: i64,
    now: time::PrimitiveDateTime,
    form: FormState,
    plan_form: FormState,
) -> Result<String, AppError> {
    let lang = ctx.lang;
    let q = quota::of_user(db, user_id, now)
        .await?
        .ok_or(AppError::NotFound)?;
    let period = Period::of_primitive(now);
    let months = history::months(db, user_id, period, 12).await?;
    let this = months.first().map_or([0; 3], |m| m.used);
    let kinds = UsageKind::ALL
        .iter()
        .map(|k| {
            let used = this[k.index()];
            let limit = q.limit(*k);
            let (max, percent) = match limit.0 {
                Some(l) if l > 0 => (l, (used * 100 / l).min(999)),
                Some(_) => (0, if used > 0 { 100 } else { 0 }),
                None => (0, 0),
            };
            let at_limit = limit.0.is_some_and(|l| used >= l);
            KindLine {
                kind: k.as_str(),
                label: lang.t(&format!("usage.kind_{}", k.as_str())),
                used: group(used),
                limit: limit
                    .0
                    .map_or_else(|| lang.t("plans.unlimited").to_owned(), group),
                remaining: limit
                    .0
                    .map_or_else(|| "—".to_owned(), |l| group((l - used).max(0))),
                value: used.min(max),
                max,
                percent,
                level: if at_limit {
                    "over"
                } else if percent >= 80 {
                    "warn"
                } else {
                    "ok"
                },
                overage_billed: q.overage_cents(*k).is_some(),
            }
        })
        .collect();
    let (chart, chart_labels) = chart(ctx, &months);
    let overrides = store::overrides(db, user_id)
        .await?
        .into_iter()
        .map(|o| {
            let state = if o.revoked_at.is_some() {
                "revoked"
            } else if o.active(now) {
                "active"
            } else {
                "expired"
            };
            OverrideLine {
                id: o.id,
                kind: lang.t(&format!("usage.kind_{}", o.kind.as_str())),
                mode: lang.t(&format!("usage.mode_{}", o.mode.as_str())),
                amount: group(o.amount),
                reason: o.reason,
                expires: o
                    .expires_at
                    .map_or_else(|| lang.t("usage.no_expiry").to_owned(), date_time),
                by: o.created_by_label,
                at: date_time(o.created_at),
                state: lang.t(&format!("usage.override_{state}")),
                active: state == "active",
            }
        })
        .collect();
    let can_billing_read = can(actor, Permission::BillingRead, None);
    let plan = if can_billing_read {
        let sub = store::subscription(db, user_id).await?;
        let live = sub
            .as_ref()
            .filter(|s| !quota::ENDED.contains(&s.status.as_str()));
        Some(PlanLine {
            plan_id: q.plan.id,
            name: q.plan.name.clone(),
            code: q.plan.code.clone(),
            source: match live {
                None => lang.t("usage.source_default").to_owned(),
                Some(s) => lang
                    .get(&format!("usage.status_{}", s.status))
                    .unwrap_or(&s.status)
                    .to_owned(),
            },
            complimentary: live.is_some_and(|s| s.status == "complimentary"),
            stripe_customer: sub.as_ref().and_then(|s| s.stripe_customer_id.clone()),
            stripe_subscription: live.and_then(|s| s.stripe_subscription_id.clone()),
            period_end: live
                .and_then(|s| s.current_period_end)
                .map(date_time)
                .unwrap_or_default(),
            cancel_at_period_end: live.is_some_and(|s| s.cancel_at_period_end),
        })
    } else {
        None
    };
    let can_billing_write = can(actor, Permission::BillingWrite, None);
    let plan_choices = if can_billing_write {
        catalog::all(db, false)
            .await?
            .into_iter()
            .filter(|p| p.active || p.id == q.plan.id)
            .map(|p| Choice {
                selected: p.id == q.plan.id,
                value: p.id.to_string(),
                label: format!("{} ({})", p.name, p.code),
            })
            .collect()
    } else {
        Vec::new()
    };
    let chosen_kind = form.value("kind").unwrap_or("article").to_owned();
    let section = UsageSection {
        ctx,
        user_id,
        period: period.key(),
        resets: date_time(period.resets_at()),
        kinds,
        chart,
        chart_labels,
        overrides,
        plan,
        plan_choices,
        kind_choices: UsageKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: lang.t(&format!("usage.kind_{}", k.as_str())).to_owned(),
                selected: chosen_kind == k.as_str(),
            })
            .collect(),
        can_billing_read,
        can_billing_write,
        can_quotas: can(actor, Permission::QuotasManage, None),
        form,
        plan_form,
    };
    askama::Template::render(&section).map_err(AppError::internal)
}

/// The section (htmx) or its page, with the forms' states.
async fn answer(
    call: &Call,
    user_id: i64,
    form: FormState,
    plan_form: FormState,
) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let title = store::user_title(&mut db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = call.state.clock.now_primitive();
    let section = section_html(
        &mut db,
        &call.ctx,
        &call.actor,
        user_id,
        now,
        form,
        plan_form,
    )
    .await?;
    if call.htmx {
        return Ok(axum::response::IntoResponse::into_response(
            axum::response::Html(section),
        ));
    }
    html(&UsagePage {
        ctx: call.ctx.clone(),
        user_id,
        title,
        section,
    })
}

/// GET /admin/users/{id}/usage
pub async fn section(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    answer(&call, id, FormState::default(), FormState::default()).await
}

/// After a change: the section again (htmx), or back to the page.
async fn done(
    call: &Call,
    user_id: i64,
    outcome: Result<(), FormState>,
    plan_side: bool,
) -> Result<Response, AppError> {
    match outcome {
        Ok(()) if call.htmx => {
            answer(call, user_id, FormState::default(), FormState::default()).await
        }
        Ok(()) => Ok(redirect(&format!("/admin/users/{user_id}/usage"), false)),
        Err(state) => {
            let (form, plan_form) = if plan_side {
                (FormState::default(), state)
            } else {
                (state, FormState::default())
            };
            let mut response = answer(call, user_id, form, plan_form).await?;
            *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}

async fn change<F>(call: &Call, user_id: i64, plan_side: bool, f: F) -> Result<Response, AppError>
where
    F: for<'c, 'd> FnOnce(&'c mut Tx<'d>, By) -> BoxFuture<'c, ChangeResult<()>>,
{
    let outcome = run(call, f).await?;
    done(call, user_id, outcome, plan_side).await
}

/// POST /admin/users/{id}/overrides
pub async fn add_override(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let get = |k: &str| field(&fields, k);
    let values = vec![
        ("kind", get("kind")),
        ("mode", get("mode")),
        ("amount", get("amount")),
        ("reason", get("reason")),
        ("expires", get("expires")),
    ];
    let refuse = |f: &'static str, key: &'static str| {
        FormState::refused(&call.ctx, Some(f), key).with_values(values.clone())
    };
    let kind = UsageKind::parse(&get("kind"));
    let mode = OverrideMode::parse(&get("mode"));
    let amount = get("amount").trim().parse::<i64>().ok();
    let expires = get("expires");
    let expires_at = parse_day(&expires).map(|d| d.midnight());
    let problem = if kind.is_none() {
        Some(refuse("kind", "usage.kind_invalid"))
    } else if mode.is_none() {
        Some(refuse("mode", "usage.mode_invalid"))
    } else if amount.is_none_or(|a| !(0..=changes::MAX_AMOUNT).contains(&a)) {
        Some(refuse("amount", "usage.amount_invalid"))
    } else if !expires.trim().is_empty() && expires_at.is_none() {
        Some(refuse("expires", "usage.expiry_invalid"))
    } else {
        None
    };
    let (Some(kind), Some(mode), Some(amount), None) = (kind, mode, amount, problem.clone()) else {
        return done(&call, id, Err(problem.unwrap_or_default()), false).await;
    };
    let input = NewOverride {
        kind,
        mode,
        amount,
        reason: get("reason"),
        expires_at,
    };
    let outcome = run(&call, move |tx, by| {
        Box::pin(async move { changes::add_override(tx, &by, id, &input).await.map(drop) })
    })
    .await?;
    let outcome = outcome.map_err(|s| {
        let field = match s.error.as_deref() {
            Some(e) if e == call.ctx.tr("usage.expiry_past") => "expires",
            Some(e) if e == call.ctx.tr("usage.amount_invalid") => "amount",
            _ => "reason",
        };
        FormState {
            field: Some(field),
            ..s
        }
        .with_values(values.clone())
    });
    done(&call, id, outcome, false).await
}

/// POST /admin/users/{id}/overrides/{override_id}/revoke
pub async fn revoke_override(
    call: Call,
    Path((id, override_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (Ok(id), Ok(override_id)) = (id.parse::<i64>(), override_id.parse::<i64>()) else {
        return Err(AppError::NotFound);
    };
    change(&call, id, false, move |tx, by| {
        Box::pin(async move { changes::revoke_override(tx, &by, id, override_id).await })
    })
    .await
}

/// POST /admin/users/{id}/plan: `plan` = a plan id (complimentary), or
/// `end` to end the complimentary plan.
pub async fn set_plan(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    if !field(&fields, "end").is_empty() {
        return change(&call, id, true, move |tx, by| {
            Box::pin(async move { changes::end_complimentary(tx, &by, id).await })
        })
        .await;
    }
    let Ok(plan_id) = field(&fields, "plan").parse::<i64>() else {
        let state = FormState::refused(&call.ctx, Some("plan"), "usage.plan_unavailable");
        return done(&call, id, Err(state), true).await;
    };
    change(&call, id, true, move |tx, by| {
        Box::pin(async move { changes::set_complimentary(tx, &by, id, plan_id).await })
    })
    .await
}
