//! GET /admin/jobs/{queue}/{state}: a page of the queue's jobs in one
//! state. BullMQ keeps them in sorted sets and lists read by rank, so a
//! deep page costs what the first does (100,000 failed jobs included).

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use serde::Deserialize;

use super::view::{job_href, problem, urlencoding, when_ms};
use crate::access::{Permission, can};
use crate::error::AppError;
use crate::jobs::{self, read};
use crate::web::action::Call;
use crate::web::format::group;
use crate::web::layout::PageCtx;
use crate::web::render::html;

pub const PAGE: u64 = 50;
/// The deepest page offered (BullMQ reads by rank; beyond this, filter).
const MAX_OFFSET: u64 = 10_000_000;

#[derive(Deserialize)]
pub struct ListPath {
    pub queue: String,
    pub state: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    page: Option<String>,
}

pub struct Line {
    pub id: String,
    pub href: String,
    pub name: String,
    pub created: String,
    pub finished: String,
    pub attempts: u32,
    pub failed_reason: String,
    pub user_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "jobs/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub queue: String,
    pub queue_href: String,
    pub state: String,
    pub state_label: String,
    pub states: Vec<(&'static str, String, bool)>,
    pub lines: Vec<Line>,
    pub total: String,
    pub page: u64,
    pub pages: u64,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub problem: Option<String>,
    pub can_write: bool,
}

pub async fn list(
    call: Call,
    Path(p): Path<ListPath>,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    if !jobs::is_state(&p.state) || p.queue.len() > 100 {
        return Err(AppError::NotFound);
    }
    // A page number that is not one reads as the first page.
    let page = q
        .page
        .as_deref()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|n| *n >= 1 && (*n - 1) * PAGE <= MAX_OFFSET)
        .unwrap_or(1);
    let offset = (page - 1) * PAGE;
    let link = call.state.jobs.clone();
    let (lines, total, problem_text) =
        match read::page(&link, &p.queue, &p.state, offset, PAGE).await {
            Ok((rows, total)) => (rows, total, None),
            Err(jobs::JobsError::UnknownQueue) => return Err(AppError::NotFound),
            Err(e) => (Vec::new(), 0, Some(problem(&call.ctx, &e))),
        };
    let pages = total.div_ceil(PAGE).max(1);
    let base = format!("/admin/jobs/{}/{}", urlencoding(&p.queue), p.state);
    let ctx = call.ctx;
    html(&ListPage {
        queue_href: urlencoding(&p.queue),
        states: jobs::STATES
            .iter()
            .map(|s| {
                (
                    *s,
                    ctx.tr(&format!("jobs.state_{s}")).to_owned(),
                    *s == p.state,
                )
            })
            .collect(),
        state_label: ctx.tr(&format!("jobs.state_{}", p.state)).to_owned(),
        lines: lines
            .into_iter()
            .map(|l| Line {
                href: job_href(&p.queue, &l.id),
                created: when_ms(Some(l.created_ms)),
                finished: when_ms(l.finished_ms),
                id: l.id,
                name: l.name,
                attempts: l.attempts_made,
                failed_reason: l.failed_reason,
                user_id: l.user_id,
            })
            .collect(),
        total: group(total as i64),
        page,
        pages,
        prev_href: (page > 1).then(|| format!("{base}?page={}", page - 1)),
        next_href: (page < pages).then(|| format!("{base}?page={}", page + 1)),
        problem: problem_text,
        can_write: can(&call.actor, Permission::JobsWrite, None),
        queue: p.queue,
        state: p.state,
        ctx,
    })
}
