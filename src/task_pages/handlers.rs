//! `/admin/tasks`: who started what, how far it got, how it ended. A task
//! is shown to the person who started it, and to those who may read the
//! audit trail; only its starter downloads what it produced (an export
//! holds personal data).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use serde_json::json;

use crate::access::{Actor, Permission, can};
use crate::audit::{Action, Event};
use crate::change::ChangeError;
use crate::db::Db;
use crate::db::schema::users;
use crate::error::AppError;
use crate::state::AppState;
use crate::task_pages::views::{ListPage, ProgressPart, SkippedLine, TaskPage, TaskView};
use crate::tasks::store::{self, Task};
use crate::tasks::{Kind, State as TaskState};
use crate::web::action::Call;
use crate::web::current::SignedIn;
use crate::web::guard::redirect;
use crate::web::layout::{FLASH, PageCtx};
use crate::web::meta::IdPath;
use crate::web::render::{html, with_toast};

/// Rows on the list.
const LIST_SIZE: i64 = 100;
/// Records left alone shown on a bulk task's page.
const SKIPPED_SHOWN: i64 = 200;
/// Output chunks read per database checkout while downloading.
const DOWNLOAD_BATCH: i64 = 16;

fn sees_everyone(actor: &Actor) -> bool {
    can(actor, Permission::AuditRead, None)
}

fn may_see(actor: &Actor, t: &Task) -> bool {
    t.created_by == Some(actor.user_id) || sees_everyone(actor)
}

fn may_cancel(actor: &Actor, t: &Task) -> bool {
    let kind_ok = t.kind().is_some_and(Kind::cancellable);
    let who_ok =
        t.created_by == Some(actor.user_id) || can(actor, Permission::SettingsManage, None);
    kind_ok && who_ok && !t.state().is_over() && !t.cancel_requested
}

/// The task if this actor may see it; any other is "not found", so ids
/// reveal nothing.
async fn visible(db: &mut Db, actor: &Actor, id: i64) -> Result<Task, AppError> {
    match store::get(db, id).await? {
        Some(t) if may_see(actor, &t) => Ok(t),
        _ => Err(AppError::NotFound),
    }
}

async fn starter_label(db: &mut Db, t: &Task) -> Result<String, AppError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let Some(uid) = t.created_by else {
        return Ok("system".into());
    };
    let email: Option<String> = crate::db_run!(db, |c| users::table
        .find(uid)
        .select(users::email)
        .first(c)
        .await
        .optional())?;
    Ok(email.unwrap_or_default())
}

/// GET /admin/tasks
pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let everyone = sees_everyone(&actor);
    let rows = store::recent(&mut db, (!everyone).then_some(actor.user_id), LIST_SIZE).await?;
    let mut tasks = Vec::with_capacity(rows.len());
    for t in &rows {
        let by = starter_label(&mut db, t).await?;
        tasks.push(TaskView::of(t, ctx.lang, by));
    }
    html(&ListPage {
        ctx,
        tasks,
        everyone,
    })
}

async fn progress_part(
    db: &mut Db,
    ctx: PageCtx,
    actor: &Actor,
    t: &Task,
) -> Result<ProgressPart, AppError> {
    let by = starter_label(db, t).await?;
    let view = TaskView::of(t, ctx.lang, by);
    let state = t.state();
    let file = t.kind().and_then(Kind::file).is_some();
    let download = (file && state == TaskState::Succeeded && t.created_by == Some(actor.user_id))
        .then(|| format!("/admin/tasks/{}/download", t.id));
    let (mut skipped, mut skipped_more) = (Vec::new(), false);
    if !file && t.errors > 0 {
        let lines = store::outputs(db, t.id, 0, SKIPPED_SHOWN + 1).await?;
        skipped_more = lines.len() as i64 > SKIPPED_SHOWN;
        for (_, body) in lines.into_iter().take(SKIPPED_SHOWN as usize) {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            skipped.push(SkippedLine {
                id: v["id"].as_i64().unwrap_or(0),
                email: v["email"].as_str().unwrap_or("").to_owned(),
                reason: ctx
                    .tr(v["reason"].as_str().unwrap_or("task.skipped.gone"))
                    .to_owned(),
            });
        }
    }
    Ok(ProgressPart {
        can_cancel: may_cancel(actor, t),
        ctx,
        t: view,
        download,
        skipped,
        skipped_more,
    })
}

/// GET /admin/tasks/{id}: the page, or (htmx) just its live part, which
/// polls itself while the task runs and says how it ended.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    SignedIn(actor): SignedIn,
    HxRequest(htmx): HxRequest,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let t = visible(&mut db, &actor, id).await?;
    let lang = ctx.lang;
    let part = progress_part(&mut db, ctx.clone(), &actor, &t).await?;
    if htmx {
        let over = part.t.over;
        let state_label = part.t.state_label;
        let response = html(&part)?;
        return Ok(if over {
            let level = if t.state() == TaskState::Succeeded {
                "success"
            } else {
                "error"
            };
            with_toast(
                response,
                level,
                &lang.tf("task.ended", &[("state", state_label)]),
            )
        } else {
            response
        });
    }
    html(&TaskPage {
        ctx,
        progress: part,
    })
}

/// POST /admin/tasks/{id}/cancel: a queued task stops at once, a running
/// one after its current step (what is done stays done). Audited.
pub async fn cancel(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let t = visible(&mut db, &call.actor, id).await?;
    if !may_cancel(&call.actor, &t) {
        call.session
            .insert(FLASH, call.ctx.tr("task.cannot_cancel"))
            .await?;
        return Ok(redirect(&format!("/admin/tasks/{id}"), call.htmx));
    }
    let by = call.by();
    let left = db
        .transaction(|tx| {
            Box::pin(async move {
                let left = store::request_cancel(tx, id, by.now).await?;
                if let Some(state) = left {
                    let ev = Event::new(Action::TaskCancelled)
                        .target("task", id)
                        .details(json!({ "state": state.as_str() }));
                    by.record(tx, ev).await?;
                }
                Ok::<_, ChangeError>(left)
            })
        })
        .await?;
    let key = match left {
        Some(TaskState::Running) => "task.cancelling",
        Some(_) => "task.cancelled",
        None => "task.cannot_cancel",
    };
    call.session.insert(FLASH, call.ctx.tr(key)).await?;
    Ok(redirect(&format!("/admin/tasks/{id}"), call.htmx))
}

/// GET /admin/tasks/{id}/download: the file, read from the task's outputs a
/// few chunks per checkout, so a slow client holds no connection.
pub async fn download(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let t = visible(&mut db, &actor, id).await?;
    let file = t.kind().and_then(Kind::file);
    let (Some((content_type, ext)), true, TaskState::Succeeded) =
        (file, t.created_by == Some(actor.user_id), t.state())
    else {
        return Err(AppError::NotFound);
    };
    // Outputs are dropped a day after the end: an expired file is gone.
    if store::outputs(&mut db, id, 0, 1).await?.is_empty() {
        return Err(AppError::NotFound);
    }
    drop(db);
    // The area names its file in the task's result (`{"file": …}`); the
    // name only ever holds letters, digits, dots and dashes.
    let result: serde_json::Value = t
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let name = result["file"]
        .as_str()
        .filter(|n| {
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("task-{id}.{ext}"));
    let pool = state.pool.clone();
    let chunks = futures_util::stream::try_unfold(0i32, move |after| {
        let pool = pool.clone();
        async move {
            let mut db = pool.get().await.map_err(std::io::Error::other)?;
            let rows = store::outputs(&mut db, id, after, DOWNLOAD_BATCH)
                .await
                .map_err(std::io::Error::other)?;
            let Some(last) = rows.last().map(|(seq, _)| *seq) else {
                return Ok::<_, std::io::Error>(None);
            };
            let body: String = rows.into_iter().map(|(_, b)| b).collect();
            Ok(Some((Bytes::from(body), last)))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}
