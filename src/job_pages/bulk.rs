//! POST /admin/jobs/bulk: retry or delete the selected jobs, or every job
//! with a failure matching the filter, through the task runner (progress
//! on the task's page). One audit event when it ends, with the filter,
//! the count and the ids.

use std::sync::Arc;

use axum::Form;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::failure_filter::Typed;
use crate::audit::{Action, Event};
use crate::change::By;
use crate::error::AppError;
use crate::jobs::index::search;
use crate::jobs::{JobsError, JobsLink, control};
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;
use crate::tasks::{Kind, NewTask};
use crate::web::action::{Call, start_task};
use crate::web::guard::redirect;
use crate::web::layout::FLASH;

/// Jobs picked one by one at most (a page's worth, many times over).
pub const MAX_SELECTED: usize = 1_000;
/// Jobs a bulk action by filter reaches at most.
pub const MAX_BY_FILTER: usize = 100_000;
/// Jobs per step (each a Redis call of its own).
const CHUNK: usize = 100;
/// Ids listed in the audit event (the count is always whole).
const IDS_AUDITED: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    Retry,
    Delete,
}

impl BulkAction {
    pub fn parse(s: &str) -> Option<BulkAction> {
        match s {
            "retry" => Some(BulkAction::Retry),
            "delete" => Some(BulkAction::Delete),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub struct Payload {
    pub action: BulkAction,
    /// The jobs picked, as (queue, id).
    #[serde(default)]
    pub jobs: Vec<(String, String)>,
    /// Or the failure filter, with the newest failure id when it started.
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default)]
    pub up_to: Option<i64>,
    pub by: Value,
}

/// Starts the task; its id.
pub async fn start(call: &Call, payload: Payload, details: Value) -> Result<i64, AppError> {
    let now = call.state.clock.now_primitive();
    let body = serde_json::to_value(&payload).map_err(|e| AppError::Internal(e.to_string()))?;
    start_task(call, NewTask::new(Kind::JobsBulk, body, now), details, None).await
}

pub async fn submit(
    call: Call,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let Some(action) = BulkAction::parse(get("action")) else {
        return Err(AppError::BadRequest(call.ctx.tr("jobs.bad_bulk").into()));
    };
    let queues = call.state.jobs.queue_names().to_vec();
    let typed = Typed::from_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let by = call.by().to_json();
    let (payload, details) = if get("scope") == "all" {
        let Some(filter) = typed.filter(&queues) else {
            return Err(AppError::BadRequest(call.ctx.tr("jobs.bad_bulk").into()));
        };
        if filter.is_empty() {
            // "Every failure ever" is not a filter anyone means.
            return nothing(call, "jobs.bulk_needs_filter").await;
        }
        let mut db = call.state.pool.get().await?;
        let up_to = search::failures(&mut db, &filter, None, 1)
            .await?
            .first()
            .map(|r| r.id);
        drop(db);
        let Some(up_to) = up_to else {
            return nothing(call, "jobs.bulk_nothing").await;
        };
        (
            Payload {
                action,
                jobs: Vec::new(),
                filter: Some(typed.json()),
                up_to: Some(up_to),
                by,
            },
            json!({ "action": action, "filter": typed.json() }),
        )
    } else {
        let mut jobs: Vec<(String, String)> = Vec::new();
        for (k, v) in &fields {
            if k != "sel" {
                continue;
            }
            let Some((q, id)) = v.split_once(':') else {
                continue;
            };
            if queues.iter().any(|x| x == q) && !id.is_empty() && id.len() <= 200 {
                let pair = (q.to_owned(), id.to_owned());
                if !jobs.contains(&pair) {
                    jobs.push(pair);
                }
            }
        }
        if jobs.is_empty() {
            return nothing(call, "jobs.bulk_nothing").await;
        }
        if jobs.len() > MAX_SELECTED {
            return Err(AppError::BadRequest(
                call.ctx.tr("jobs.bulk_too_many").into(),
            ));
        }
        let details = json!({ "action": action, "selected": jobs.len() });
        (
            Payload {
                action,
                jobs,
                filter: None,
                up_to: None,
                by,
            },
            details,
        )
    };
    let id = start(&call, payload, details).await?;
    Ok(redirect(&format!("/admin/tasks/{id}"), false))
}

async fn nothing(call: Call, key: &'static str) -> Result<Response, AppError> {
    call.session.insert(FLASH, call.ctx.tr(key)).await?;
    Ok(redirect("/admin/jobs/failures", false))
}

#[derive(Default, Serialize, Deserialize)]
struct Checkpoint {
    next: usize,
    acted: i64,
    skipped: i64,
    ids: Vec<String>,
}

/// The task handler.
pub fn handler(link: Arc<JobsLink>) -> Handler {
    Arc::new(move |run| Box::pin(bulk_task(link.clone(), run)))
}

async fn targets(run: &Run, p: &Payload) -> Result<Vec<(String, String)>, TaskError> {
    let Some(filter) = &p.filter else {
        return Ok(p.jobs.clone());
    };
    let pairs: Vec<(String, String)> =
        serde_json::from_value::<std::collections::BTreeMap<String, String>>(filter.clone())
            .map_err(|e| TaskError::Fail(format!("bad filter: {e}")))?
            .into_iter()
            .collect();
    let typed = Typed::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // Queues named when it started; one since removed from the settings
    // matches nothing.
    let known: Vec<String> = typed.0.get("queue").cloned().into_iter().collect();
    let Some(f) = typed.filter(&known) else {
        return Ok(Vec::new());
    };
    let mut db = run.pool.get().await?;
    // Only failures that existed when it started: the list stays the same
    // when the task resumes, whatever failed since.
    let before = p.up_to.map(|id| id + 1);
    Ok(search::jobs_matching(&mut db, &f, before, MAX_BY_FILTER).await?)
}

async fn bulk_task(link: Arc<JobsLink>, mut run: Run) -> Result<Done, TaskError> {
    let p: Payload = run.payload()?;
    let by = By::from_json(&p.by, run.now()).ok_or_else(|| TaskError::Fail("bad author".into()))?;
    let jobs = targets(&run, &p).await?;
    let total = jobs.len() as i64;
    let mut cp: Checkpoint = run.checkpoint();
    while cp.next < jobs.len() {
        let end = (cp.next + CHUNK).min(jobs.len());
        let (mut acted, mut skipped, mut ids) = (0i64, 0i64, Vec::new());
        let mut left = Vec::new();
        for (queue, id) in &jobs[cp.next..end] {
            let done = match p.action {
                BulkAction::Retry => control::retry(&link, queue, id).await,
                BulkAction::Delete => control::remove(&link, queue, id).await,
            };
            match done {
                Ok(()) => {
                    acted += 1;
                    ids.push(format!("{queue}:{id}"));
                }
                Err(JobsError::Unavailable | JobsError::NotConfigured) => {
                    return Err(TaskError::Retry("Redis does not answer".into()));
                }
                Err(e) => {
                    skipped += 1;
                    left.push(format!("{queue}:{id}\t{}", e.key()));
                }
            }
        }
        cp.next = end;
        cp.acted += acted;
        cp.skipped += skipped;
        let room = IDS_AUDITED.saturating_sub(cp.ids.len());
        cp.ids.extend(ids.into_iter().take(room));
        let checkpoint = serde_json::to_string(&cp).map_err(|e| TaskError::Fail(e.to_string()))?;
        let finished = cp.next >= jobs.len();
        let event = finished.then(|| {
            Event::new(match p.action {
                BulkAction::Retry => Action::JobsBulkRetried,
                BulkAction::Delete => Action::JobsBulkDeleted,
            })
            .target("task", run.task.id)
            .details(json!({
                "filter": p.filter,
                "count": cp.acted,
                "skipped": cp.skipped,
                "ids": cp.ids,
            }))
        });
        let by = by.clone();
        run.step(move |tx| {
            Box::pin(async move {
                if let Some(event) = event {
                    by.record(tx, event).await?;
                }
                Ok((
                    (),
                    Advance {
                        checkpoint: Some(checkpoint),
                        done: acted + skipped,
                        errors: skipped,
                        total: Some(total),
                        step: Some("jobs.bulk_step"),
                        outputs: left,
                    },
                ))
            })
        })
        .await?;
    }
    if jobs.is_empty() {
        let event = Event::new(match p.action {
            BulkAction::Retry => Action::JobsBulkRetried,
            BulkAction::Delete => Action::JobsBulkDeleted,
        })
        .target("task", run.task.id)
        .details(json!({"filter": p.filter, "count": 0, "skipped": 0, "ids": []}));
        run.step(move |tx| {
            Box::pin(async move {
                by.record(tx, event).await?;
                Ok((
                    (),
                    Advance {
                        total: Some(0),
                        ..Advance::default()
                    },
                ))
            })
        })
        .await?;
    }
    Ok(Done {
        result: Some(json!({ "acted": cp.acted, "skipped": cp.skipped })),
    })
}
