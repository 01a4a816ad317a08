//! The actions on a job and a queue. Each is recorded in the audit trail
//! in a transaction that commits only when Redis did it: a refused or
//! failed action leaves no event, a done one always has its event.

use axum::Form;
use axum::extract::Path;
use axum::response::Response;
use serde_json::json;

use super::view::{JobPath, QueuePath, job_href, urlencoding};
use crate::audit::{Action, Event};
use crate::error::AppError;
use crate::jobs::{self, JobsLink, control};
use crate::web::action::Call;
use crate::web::form::field;
use crate::web::guard::redirect;
use crate::web::layout::FLASH;

type Fields = Form<Vec<(String, String)>>;

#[derive(Clone, Copy)]
enum JobAct {
    Retry,
    Delete,
    Promote,
}

impl JobAct {
    fn action(self) -> Action {
        match self {
            JobAct::Retry => Action::JobRetried,
            JobAct::Delete => Action::JobDeleted,
            JobAct::Promote => Action::JobPromoted,
        }
    }

    fn done_key(self) -> &'static str {
        match self {
            JobAct::Retry => "jobs.retried",
            JobAct::Delete => "jobs.deleted",
            JobAct::Promote => "jobs.promoted",
        }
    }

    async fn apply(self, link: &JobsLink, queue: &str, id: &str) -> Result<(), jobs::JobsError> {
        match self {
            JobAct::Retry => control::retry(link, queue, id).await,
            JobAct::Delete => control::remove(link, queue, id).await,
            JobAct::Promote => control::promote(link, queue, id).await,
        }
    }
}

/// The action done (audited) or refused, in the reader's words.
async fn audited<F>(call: &Call, event: Event, work: F) -> Result<Result<(), String>, AppError>
where
    F: std::future::Future<Output = Result<(), jobs::JobsError>> + Send + 'static,
{
    let outcome = control::audited(&call.state.pool, call.by(), event, work).await?;
    Ok(outcome.map_err(|e| call.ctx.tr(e.key()).to_owned()))
}

async fn job_action(
    call: Call,
    p: JobPath,
    fields: Vec<(String, String)>,
    act: JobAct,
) -> Result<Response, AppError> {
    if !p.ok() {
        return Err(AppError::NotFound);
    }
    let link = call.state.jobs.clone();
    if !link.queue_names().contains(&p.queue) {
        return Err(AppError::NotFound);
    }
    let event = Event::new(act.action())
        .target("bullmq_job", format!("{}:{}", p.queue, p.job))
        .details(json!({"queue": p.queue, "job": p.job}));
    let (queue, id) = (p.queue.clone(), p.job.clone());
    let work = async move { act.apply(&link, &queue, &id).await };
    let outcome = audited(&call, event, work).await?;
    let message = match &outcome {
        Ok(()) => call.ctx.tr(act.done_key()).to_owned(),
        Err(said) => said.clone(),
    };
    call.session.insert(FLASH, message).await?;
    // A deleted job has no page left: back to the list it was shown in.
    let back = field(&fields, "back");
    let to = match act {
        JobAct::Delete if outcome.is_ok() => {
            if jobs::is_state(&back) {
                format!("/admin/jobs/{}/{back}", urlencoding(&p.queue))
            } else {
                "/admin/jobs".to_owned()
            }
        }
        _ => job_href(&p.queue, &p.job),
    };
    Ok(redirect(&to, call.htmx))
}

pub async fn retry(
    call: Call,
    Path(p): Path<JobPath>,
    Form(f): Fields,
) -> Result<Response, AppError> {
    job_action(call, p, f, JobAct::Retry).await
}

pub async fn delete(
    call: Call,
    Path(p): Path<JobPath>,
    Form(f): Fields,
) -> Result<Response, AppError> {
    job_action(call, p, f, JobAct::Delete).await
}

pub async fn promote(
    call: Call,
    Path(p): Path<JobPath>,
    Form(f): Fields,
) -> Result<Response, AppError> {
    job_action(call, p, f, JobAct::Promote).await
}

async fn queue_action(call: Call, queue: String, paused: bool) -> Result<Response, AppError> {
    let link = call.state.jobs.clone();
    if !link.queue_names().contains(&queue) {
        return Err(AppError::NotFound);
    }
    let (action, done) = if paused {
        (Action::QueuePaused, "jobs.queue_paused")
    } else {
        (Action::QueueResumed, "jobs.queue_resumed")
    };
    let event = Event::new(action)
        .target("bullmq_queue", &queue)
        .details(json!({"queue": queue}));
    let q = queue.clone();
    let work = async move { control::set_paused(&link, &q, paused).await };
    let message = match audited(&call, event, work).await? {
        Ok(()) => call.ctx.tr(done).to_owned(),
        Err(said) => said,
    };
    call.session.insert(FLASH, message).await?;
    Ok(redirect("/admin/jobs", call.htmx))
}

pub async fn pause(call: Call, Path(p): Path<QueuePath>) -> Result<Response, AppError> {
    queue_action(call, p.queue, true).await
}

pub async fn resume(call: Call, Path(p): Path<QueuePath>) -> Result<Response, AppError> {
    queue_action(call, p.queue, false).await
}
