//! The sessions page, the user page's sessions section, and the ends.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{Html, IntoResponse, Response};

use super::{changes, store};
use crate::access::roles::platform_roles;
use crate::error::AppError;
use crate::security::session_store::id_hash;
use crate::web::action::{Call, run};
use crate::web::format::{date_time, user_agent};
use crate::web::guard::redirect;
use crate::web::layout::{FLASH, PageCtx};
use crate::web::meta::IdPath;
use crate::web::render::html;

pub struct Line {
    pub handle: String,
    pub user_id: Option<i64>,
    pub email: String,
    pub ip: String,
    pub user_agent: String,
    pub created: String,
    pub seen: String,
    pub mfa: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "sessions/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub lines: Vec<Line>,
    pub user: String,
    pub ip: String,
    pub roles: Vec<(String, String, bool)>,
    pub shown_max: bool,
}

#[derive(Template)]
#[template(path = "sessions/user_section.html")]
pub struct UserSection<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
    pub lines: Vec<Line>,
}

fn current(call: &Call) -> String {
    call.session.id().map(|id| id_hash(&id)).unwrap_or_default()
}

async fn lines(call: &Call, f: &store::Filter) -> Result<Vec<Line>, AppError> {
    let now = call.state.clock.now_primitive();
    let idle = now - call.state.config.session_idle;
    let mut db = call.state.pool.get().await?;
    let rows = store::live(&mut db, f, now, idle).await?;
    let mine = current(call);
    Ok(rows
        .into_iter()
        .map(|r| Line {
            current: r.handle == mine,
            user_id: r.user_id,
            email: r.email.unwrap_or_default(),
            ip: r.ip.unwrap_or_default(),
            user_agent: r.user_agent.as_deref().map(user_agent).unwrap_or_default(),
            created: date_time(r.created_at),
            seen: date_time(r.last_seen_at),
            mfa: r.mfa_at.map(date_time).unwrap_or_default(),
            handle: r.handle,
        })
        .collect())
}

pub async fn list(
    call: Call,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 200)
    };
    let f = store::Filter {
        user: get("user"),
        role: get("role"),
        ip: get("ip"),
    };
    let lines = lines(&call, &f).await?;
    let mut db = call.state.pool.get().await?;
    let roles = platform_roles(&mut db).await?;
    drop(db);
    let lang = call.ctx.lang;
    html(&ListPage {
        shown_max: lines.len() as i64 >= store::SHOWN,
        lines,
        user: f.user.clone().unwrap_or_default(),
        ip: f.ip.clone().unwrap_or_default(),
        roles: roles
            .into_iter()
            .map(|r| {
                let selected = f.role.as_deref() == Some(r.key.as_str());
                (r.key.clone(), r.label(lang).to_owned(), selected)
            })
            .collect(),
        ctx: call.ctx,
    })
}

/// POST /admin/sessions/{handle}/end
pub async fn end_one(call: Call, Path(handle): Path<String>) -> Result<Response, AppError> {
    if handle.len() > 200 {
        return Err(AppError::NotFound);
    }
    let mine = handle == current(&call);
    let h = handle.clone();
    let ended = run(&call, move |tx, by| {
        Box::pin(async move { changes::end_one(tx, &by, &h).await })
    })
    .await?
    .map_err(|_| AppError::internal("ending a session refused"))?;
    if ended.is_none() {
        return Err(AppError::NotFound);
    }
    if mine {
        call.session.flush().await?;
        return Ok(redirect("/login", call.htmx));
    }
    call.session
        .insert(FLASH, call.ctx.tr("sessions.ended"))
        .await?;
    Ok(redirect("/admin/sessions", call.htmx))
}

/// "3 sessions ended" for the next page; a refusal (none is made) is an error.
async fn ended_many(
    call: &Call,
    n: Result<usize, crate::web::form::FormState>,
) -> Result<(), AppError> {
    let n = n.map_err(|_| AppError::internal("ending sessions refused"))?;
    let message = call
        .ctx
        .lang
        .tn("account.others_ended", n as i64, &[("n", &n.to_string())]);
    call.session.insert(FLASH, message).await?;
    Ok(())
}

/// POST /admin/users/{id}/sessions/end: every session of that user (one's
/// own session excepted).
pub async fn end_user(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let keep = current(&call);
    let n = run(&call, move |tx, by| {
        Box::pin(async move { changes::end_all_of(tx, &by, id, &keep).await })
    })
    .await?;
    ended_many(&call, n).await?;
    Ok(redirect(&format!("/admin/users/{id}"), call.htmx))
}

/// POST /admin/sessions/others/end: every session but one's own.
pub async fn end_others(call: Call) -> Result<Response, AppError> {
    let keep = current(&call);
    let n = run(&call, move |tx, by| {
        Box::pin(async move { changes::end_all_but(tx, &by, &keep).await })
    })
    .await?;
    ended_many(&call, n).await?;
    Ok(redirect("/admin/sessions", call.htmx))
}

/// GET /admin/users/{id}/sessions: the user page's section.
pub async fn user_section(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let f = store::Filter {
        user: Some(format!("#{id}")),
        ..store::Filter::default()
    };
    let lines = lines(&call, &f).await?;
    let body = UserSection {
        ctx: &call.ctx,
        user_id: id,
        lines,
    }
    .render()
    .map_err(AppError::internal)?;
    Ok(Html(body).into_response())
}
