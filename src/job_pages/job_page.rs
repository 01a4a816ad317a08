//! GET /admin/jobs/{queue}/job/{job}: one job whole: its data and options,
//! state and times, attempts and backoff, return value or failure with
//! each attempt's stack trace, its log lines, the sowat.io user it is for;
//! and the actions its state allows.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;

use super::view::{JobPath, pretty, problem, urlencoding, when_ms};
use crate::access::{Permission, can};
use crate::error::AppError;
use crate::jobs::{JobsError, read};
use crate::web::action::Call;
use crate::web::layout::PageCtx;
use crate::web::render::html;

/// BullMQ's default `stackTraceLimit`: with fewer traces, none was dropped.
const KEPT_TRACES: usize = 10;

pub struct Shown {
    pub id: String,
    pub name: String,
    pub state: String,
    pub state_label: String,
    pub data: String,
    pub opts: String,
    pub created: String,
    pub processed: String,
    pub finished: String,
    pub attempts_made: u32,
    pub attempts_allowed: u64,
    pub backoff: String,
    pub return_value: Option<String>,
    pub failed_reason: String,
    /// (attempt number, stack trace)
    pub stacktraces: Vec<(usize, String)>,
    pub logs: Vec<String>,
    pub log_count: usize,
    pub user_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "jobs/job.html")]
pub struct JobPage {
    pub ctx: PageCtx,
    pub queue: String,
    pub queue_href: String,
    pub job_href_id: String,
    pub job: Option<Shown>,
    pub problem: Option<String>,
    pub can_write: bool,
}

pub async fn show(call: Call, Path(p): Path<JobPath>) -> Result<Response, AppError> {
    if !p.ok() {
        return Err(AppError::NotFound);
    }
    let link = call.state.jobs.clone();
    let (job, problem_text) = match read::job(&link, &p.queue, &p.job).await {
        Ok(d) => (Some(d), None),
        Err(JobsError::UnknownQueue | JobsError::NotFound) => return Err(AppError::NotFound),
        Err(e) => (None, Some(problem(&call.ctx, &e))),
    };
    let ctx = call.ctx;
    let job = job.map(|d| {
        let n = d.stacktraces.len();
        Shown {
            state_label: ctx
                .lang
                .get(&format!("jobs.state_{}", d.state))
                .unwrap_or(&d.state)
                .to_owned(),
            data: pretty(&d.data),
            opts: pretty(&d.opts),
            created: when_ms(Some(d.created_ms)),
            processed: when_ms(d.processed_ms),
            finished: when_ms(d.finished_ms),
            backoff: d.backoff.as_ref().map(pretty).unwrap_or_default(),
            return_value: d.return_value.as_ref().map(pretty),
            // Attempt numbers of the traces kept (BullMQ keeps the last ones).
            stacktraces: d
                .stacktraces
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    let first = if n < KEPT_TRACES {
                        1
                    } else {
                        (d.attempts_made as usize).max(n) - n + 1
                    };
                    (first + i, s)
                })
                .collect(),
            id: d.id,
            name: d.name,
            state: d.state,
            attempts_made: d.attempts_made,
            attempts_allowed: d.attempts_allowed,
            failed_reason: d.failed_reason,
            logs: d.logs,
            log_count: d.log_count,
            user_id: d.user_id,
        }
    });
    html(&JobPage {
        queue_href: urlencoding(&p.queue),
        job_href_id: urlencoding(&p.job),
        queue: p.queue,
        job,
        problem: problem_text,
        can_write: can(&call.actor, Permission::JobsWrite, None),
        ctx,
    })
}
