//! The plan screens: the list, a plan's page (facts, edit form, history),
//! creation, and archive, restore, delete and "make default", each shown
//! again with its refusal (422) or followed by a redirect to the page.

use axum::Form;
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use crate::access::{Permission, can};
use crate::change::ChangeResult;
use crate::db::Tx;
use crate::error::AppError;
use crate::metering::catalog as store;
use crate::metering::plan::Plan;
use crate::plans::changes;
use crate::plans::input::{self, Problem};
use crate::plans::views::*;
use crate::web::action::Call;
use crate::web::event_view::{history, of_target};
use crate::web::format::{date_time, group};
use crate::web::guard::redirect;
use crate::web::meta::IdPath;
use crate::web::render::{html, refused};

fn row(call: &Call, p: &Plan, subscribers: i64) -> PlanRow {
    let lang = call.ctx.lang;
    PlanRow {
        id: p.id,
        code: p.code.clone(),
        name: p.name.clone(),
        price: price_text(lang, p.price_cents, &p.currency, p.interval),
        limits: limits_text(lang, p),
        overage: overage_text(lang, p),
        subscribers: group(subscribers),
        active: p.active,
        is_default: p.is_default,
        archived: p.archived_at.is_some(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    archived: bool,
}

pub async fn list(call: Call, Query(q): Query<ListQuery>) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let plans = store::all(&mut db, q.archived).await?;
    let counts = store::subscribers(&mut db).await?;
    let rows = plans
        .iter()
        .map(|p| row(&call, p, counts.get(&p.id).copied().unwrap_or(0)))
        .collect();
    html(&ListPage {
        rows,
        archived: q.archived,
        can_write: can(&call.actor, Permission::BillingWrite, None),
        ctx: call.ctx,
    })
}

pub async fn new(call: Call) -> Result<Response, AppError> {
    let values = vec![
        ("currency".to_owned(), "eur".to_owned()),
        ("interval".to_owned(), "month".to_owned()),
        ("price".to_owned(), "0.00".to_owned()),
        ("active".to_owned(), "on".to_owned()),
    ];
    html(&NewPage {
        form: PlanForm::new(call.ctx.lang, "/admin/plans".into(), false, values),
        ctx: call.ctx,
    })
}

/// The form shown again with its problems, each translated.
fn with_problems(call: &Call, mut form: PlanForm, problems: Vec<Problem>) -> PlanForm {
    form.problems = problems
        .into_iter()
        .map(|(f, key)| (f, call.ctx.tr(key).to_owned()))
        .collect();
    form
}

pub async fn create(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let form = PlanForm::new(call.ctx.lang, "/admin/plans".into(), false, fields.clone());
    let plan = match input::read(&fields, None) {
        Ok(p) => p,
        Err(problems) => {
            let form = with_problems(&call, form, problems);
            return refused(&NewPage {
                form,
                ctx: call.ctx,
            });
        }
    };
    let done = crate::web::action::run(&call, move |tx, by| {
        Box::pin(async move { changes::create(tx, &by, &plan).await })
    })
    .await?;
    match done {
        Ok(id) => Ok(redirect(&format!("/admin/plans/{id}?saved=1"), call.htmx)),
        Err(state) => {
            // The one refusal at this point is a code already taken.
            let problems = vec![("code", state.error.unwrap_or_default())];
            let mut form = form;
            form.problems = problems;
            refused(&NewPage {
                form,
                ctx: call.ctx,
            })
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    saved: Option<String>,
}

async fn plan_page(
    call: &Call,
    id: i64,
    form: Option<PlanForm>,
    error: Option<String>,
    saved: bool,
) -> Result<PlanPage, AppError> {
    let mut db = call.state.pool.get().await?;
    let p = store::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let counts = store::subscribers(&mut db).await?;
    let history = history(&mut db, call.ctx.lang, &of_target("plan", id), 50).await?;
    let may_edit = can(&call.actor, Permission::BillingWrite, None) && p.archived_at.is_none();
    let form = form.or_else(|| {
        may_edit.then(|| {
            PlanForm::new(
                call.ctx.lang,
                format!("/admin/plans/{id}"),
                true,
                input::values_of(&p),
            )
        })
    });
    Ok(PlanPage {
        row: row(call, &p, counts.get(&id).copied().unwrap_or(0)),
        created: date_time(p.created_at),
        updated: date_time(p.updated_at),
        stripe_price_id: p.stripe_price_id.clone().unwrap_or_default(),
        form,
        saved,
        can_write: can(&call.actor, Permission::BillingWrite, None),
        error,
        history,
        ctx: call.ctx.clone(),
    })
}

pub async fn page(
    call: Call,
    IdPath(id): IdPath,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    html(&plan_page(&call, id, None, None, q.saved.is_some()).await?)
}

pub async fn update(
    call: Call,
    IdPath(id): IdPath,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let code = {
        let mut db = call.state.pool.get().await?;
        store::find(&mut db, id)
            .await?
            .ok_or(AppError::NotFound)?
            .code
    };
    let mut values = fields.clone();
    values.push(("code".to_owned(), code.clone()));
    let form = PlanForm::new(call.ctx.lang, format!("/admin/plans/{id}"), true, values);
    let plan = match input::read(&fields, Some(&code)) {
        Ok(p) => p,
        Err(problems) => {
            let form = with_problems(&call, form, problems);
            return refused(&plan_page(&call, id, Some(form), None, false).await?);
        }
    };
    let done = crate::web::action::run(&call, move |tx, by| {
        Box::pin(async move { changes::update(tx, &by, id, &plan).await })
    })
    .await?;
    match done {
        Ok(_) => Ok(redirect(&format!("/admin/plans/{id}?saved=1"), call.htmx)),
        Err(state) => refused(&plan_page(&call, id, Some(form), state.error, false).await?),
    }
}

/// Runs a change on plan `id`, then shows the page (the refusal on it, 422).
async fn act<F>(call: Call, id: i64, change: F) -> Result<Response, AppError>
where
    F: for<'c, 'd> FnOnce(
            &'c mut Tx<'d>,
            crate::change::By,
        ) -> crate::db::BoxFuture<'c, ChangeResult<()>>
        + Send,
{
    match crate::web::action::run(&call, change).await? {
        Ok(()) => Ok(redirect(&format!("/admin/plans/{id}"), call.htmx)),
        Err(state) => refused(&plan_page(&call, id, None, state.error, false).await?),
    }
}

pub async fn archive(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    act(call, id, move |tx, by| {
        Box::pin(async move { changes::archive(tx, &by, id).await })
    })
    .await
}

pub async fn restore(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    act(call, id, move |tx, by| {
        Box::pin(async move { changes::restore(tx, &by, id).await })
    })
    .await
}

pub async fn make_default(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    act(call, id, move |tx, by| {
        Box::pin(async move { changes::make_default(tx, &by, id).await })
    })
    .await
}

pub async fn delete(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    match crate::web::action::run(&call, move |tx, by| {
        Box::pin(async move { changes::delete(tx, &by, id).await })
    })
    .await?
    {
        Ok(()) => Ok(redirect("/admin/plans", call.htmx)),
        Err(state) => refused(&plan_page(&call, id, None, state.error, false).await?),
    }
}
