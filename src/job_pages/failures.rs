//! GET /admin/jobs/failures: every failed attempt the index kept, across
//! queues, searched by user, job name, error text, payload field and date;
//! the errors grouped with their counts and a "retry all" each; and one
//! failure's page with its stack trace.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;

use super::failure_filter::Typed;
use super::view::{job_href, pretty};
use crate::access::{Permission, can};
use crate::error::AppError;
use crate::jobs::index::search::{self, ErrorGroup, FailureRow};
use crate::web::action::Call;
use crate::web::format::{date_time_seconds, group};
use crate::web::layout::PageCtx;
use crate::web::meta::IdPath;
use crate::web::render::html;

const PAGE: i64 = 50;
const GROUPS: i64 = 20;

pub struct Line {
    pub id: i64,
    pub queue: String,
    pub job_id: String,
    pub job_href: String,
    pub name: String,
    pub user_id: Option<i64>,
    pub attempt: i32,
    pub message: String,
    pub at: String,
    pub selection: String,
}

pub struct GroupLine {
    pub id: i64,
    pub queue: String,
    pub message: String,
    pub failures: String,
    pub first: String,
    pub last: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "jobs/failures.html")]
pub struct FailuresPage {
    pub ctx: PageCtx,
    pub typed: Typed,
    pub queues: Vec<(String, bool)>,
    pub lines: Vec<Line>,
    pub groups: Vec<GroupLine>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub problem: Option<&'static str>,
    pub can_write: bool,
    pub filtered: bool,
}

fn line(r: FailureRow) -> Line {
    Line {
        job_href: job_href(&r.queue, &r.job_id),
        selection: format!("{}:{}", r.queue, r.job_id),
        at: date_time_seconds(r.failed_at),
        id: r.id,
        queue: r.queue,
        job_id: r.job_id,
        name: r.job_name,
        user_id: r.user_id,
        attempt: r.attempt,
        message: r.message,
    }
}

fn group_line(typed: &Typed, g: ErrorGroup) -> GroupLine {
    let mut t = typed.clone();
    t.0.insert("error".to_owned(), g.id.to_string());
    t.0.remove("q");
    GroupLine {
        href: format!("/admin/jobs/failures?{}", t.query(&[])),
        id: g.id,
        queue: g.queue,
        message: g.message,
        failures: group(g.failures),
        first: date_time_seconds(g.first_at),
        last: date_time_seconds(g.last_at),
    }
}

pub async fn list(
    call: Call,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let typed = Typed::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let before = pairs
        .iter()
        .find(|(k, _)| k == "before")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    let queues = call.state.jobs.queue_names().to_vec();
    let filter = typed.filter(&queues);
    let mut db = call.state.pool.get().await?;
    let (mut rows, groups) = match &filter {
        Some(f) => {
            let rows = search::failures(&mut db, f, before, PAGE + 1).await?;
            let groups = match f.error_id {
                Some(id) => search::group(&mut db, id).await?.into_iter().collect(),
                None => {
                    search::groups(&mut db, f.queue.as_deref(), f.text.as_deref(), GROUPS).await?
                }
            };
            (rows, groups)
        }
        None => (Vec::new(), Vec::new()),
    };
    drop(db);
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next_href = more
        .then(|| {
            rows.last().map(|r| {
                format!(
                    "/admin/jobs/failures?{}",
                    typed.query(&[("before", r.id.to_string())])
                )
            })
        })
        .flatten();
    let first_href = before.map(|_| format!("/admin/jobs/failures?{}", typed.query(&[])));
    html(&FailuresPage {
        queues: queues
            .iter()
            .map(|q| (q.clone(), typed.get("queue") == q))
            .collect(),
        lines: rows.into_iter().map(line).collect(),
        groups: groups.into_iter().map(|g| group_line(&typed, g)).collect(),
        next_href,
        first_href,
        problem: typed.problem(),
        can_write: can(&call.actor, Permission::JobsWrite, None),
        filtered: !typed.0.is_empty(),
        typed,
        ctx: call.ctx,
    })
}

#[derive(Template)]
#[template(path = "jobs/failure.html")]
pub struct FailurePage {
    pub ctx: PageCtx,
    pub line: Line,
    pub stacktrace: String,
    pub payload: String,
    pub error_href: String,
}

pub async fn show(call: Call, IdPath(id): IdPath) -> Result<Response, AppError> {
    let mut db = call.state.pool.get().await?;
    let (row, stack) = search::failure(&mut db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(db);
    let payload = serde_json::from_str::<serde_json::Value>(&row.payload)
        .map(|v| pretty(&v))
        .unwrap_or_else(|_| row.payload.clone());
    html(&FailurePage {
        error_href: format!("/admin/jobs/failures?error={}", row.error_id),
        line: line(row),
        stacktrace: stack.unwrap_or_default(),
        payload,
        ctx: call.ctx,
    })
}
