//! GET /admin/users/{id}/jobs: the user page's jobs section: that user's
//! recent finished jobs and failed attempts, from the index (BullMQ keeps
//! no index by user), each linked to its job page.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use super::view::job_href;
use crate::error::AppError;
use crate::jobs::index::{runs, search};
use crate::web::action::Call;
use crate::web::format::date_time_seconds;
use crate::web::layout::PageCtx;
use crate::web::meta::IdPath;
use crate::web::render::html;

const SHOWN: i64 = 10;

pub struct RunLine {
    pub queue: String,
    pub job_id: String,
    pub href: String,
    pub name: String,
    pub state: String,
    pub state_label: String,
    pub at: String,
}

pub struct FailureLine {
    pub id: i64,
    pub queue: String,
    pub job_id: String,
    pub href: String,
    pub message: String,
    pub attempt: i32,
    pub at: String,
}

#[derive(Template)]
#[template(path = "jobs/user_section.html")]
pub struct UserSection<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
    pub runs: Vec<RunLine>,
    pub failures: Vec<FailureLine>,
}

#[derive(Template)]
#[template(path = "billing/page.html")]
pub struct SectionPage {
    pub ctx: PageCtx,
    pub user_id: i64,
    pub title: String,
    pub section: String,
}

pub async fn section(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let title = crate::user_record::emails::user_title(&mut db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let recent = runs::recent(&mut db, id, SHOWN).await?;
    let filter = search::Filter {
        user_id: Some(id),
        ..search::Filter::default()
    };
    let failed = search::failures(&mut db, &filter, None, SHOWN).await?;
    drop(db);
    let ctx = &call.ctx;
    let body = UserSection {
        ctx,
        user_id: id,
        runs: recent
            .into_iter()
            .map(|r| RunLine {
                href: job_href(&r.queue, &r.job_id),
                state_label: ctx.tr(&format!("jobs.state_{}", r.state)).to_owned(),
                at: date_time_seconds(r.finished_at),
                queue: r.queue,
                job_id: r.job_id,
                name: r.job_name,
                state: r.state,
            })
            .collect(),
        failures: failed
            .into_iter()
            .map(|f| FailureLine {
                href: job_href(&f.queue, &f.job_id),
                at: date_time_seconds(f.failed_at),
                id: f.id,
                queue: f.queue,
                job_id: f.job_id,
                message: f.message,
                attempt: f.attempt,
            })
            .collect(),
    }
    .render()
    .map_err(AppError::internal)?;
    if call.htmx {
        return Ok(Html(body).into_response());
    }
    html(&SectionPage {
        ctx: call.ctx.clone(),
        user_id: id,
        title,
        section: body,
    })
}
