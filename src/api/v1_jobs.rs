//! `/api/v1/jobs`: sowat.io's BullMQ queues for the main app and its
//! tools (`jobs:read`, `jobs:write`): the queues' counts, a state's jobs,
//! one job, retry and delete (audited with the key, committed only when
//! Redis did it), a retry of every failed job matching a filter (a task),
//! and the failure index's search.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::Actor;
use crate::api::numbers::query_number;
use crate::audit::{Action, ActorRef, Event, RequestMeta};
use crate::change::By;
use crate::job_pages::bulk::{BulkAction, Payload};
use crate::job_pages::failure_filter::Typed;
use crate::jobs::index::search;
use crate::jobs::{self, JobsError, control, read, stats};
use crate::state::AppState;
use crate::tasks::{Kind, NewTask};
use crate::web::api_error::{ApiError, json_body};
use crate::web::current::SignedIn;
use crate::web::format::rfc3339;

const MAX_LIMIT: u64 = 500;

fn by(state: &AppState, actor: &Actor, meta: RequestMeta) -> By {
    By {
        actor: ActorRef::of(actor),
        meta,
        now: state.clock.now_primitive(),
    }
}

fn jobs_error(e: JobsError) -> ApiError {
    match e {
        JobsError::NotConfigured => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "jobs_not_configured",
            "no Redis is configured for the jobs on this backoffice",
        ),
        JobsError::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "redis_unavailable",
            "Redis does not answer; try again shortly",
        ),
        JobsError::UnknownQueue => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_queue",
            "no supervised queue has this name",
        ),
        JobsError::NotFound => ApiError::not_found(),
        JobsError::WrongState => ApiError::new(
            StatusCode::CONFLICT,
            "wrong_state",
            "the job is not in a state for this (retry needs a failed job; an active job cannot be deleted)",
        ),
        JobsError::Redis(m) => {
            tracing::warn!(error = %m, "a BullMQ call from the API failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "redis_error",
                "Redis refused the request",
            )
        }
    }
}

fn ms_text(ms: Option<i64>) -> Value {
    ms.and_then(read::at_ms)
        .map_or(Value::Null, |t| json!(rfc3339(t)))
}

/// User ids run from 1 to 2^53 − 1 (what a JSON number holds exactly).
fn user_id(id: i64) -> Result<i64, ApiError> {
    if (1..=9_007_199_254_740_991).contains(&id) {
        Ok(id)
    } else {
        Err(ApiError::invalid("user_id is a user id (1 or more)"))
    }
}

/// `from` and `to` must be days; reversed, they simply match nothing.
fn days_or_refuse(typed: &Typed) -> Result<(), ApiError> {
    for k in ["from", "to"] {
        let v = typed.get(k);
        if !v.is_empty() && crate::web::format::parse_day(v).is_none() {
            return Err(ApiError::invalid(format!("{k} is a day, YYYY-MM-DD")));
        }
    }
    Ok(())
}

/// GET /api/v1/jobs/queues
pub async fn queues(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let overview = read::overview(&state.jobs).await.map_err(jobs_error)?;
    let mut db = state.pool.get().await?;
    let hour = stats::last_hour(&mut db, state.clock.now()).await?;
    drop(db);
    let out: Vec<Value> = overview
        .into_iter()
        .map(|q| {
            let w = hour
                .iter()
                .find(|(n, _)| *n == q.name)
                .map(|(_, w)| w.clone())
                .unwrap_or_default();
            let counts: serde_json::Map<String, Value> = q
                .counts
                .iter()
                .map(|(s, n)| ((*s).to_owned(), json!(n)))
                .collect();
            json!({
                "name": q.name,
                "paused": q.paused,
                "workers": q.workers,
                "counts": counts,
                "oldest_waiting_at": ms_text(q.oldest_waiting_ms),
                "last_hour": {
                    "completed": w.completed,
                    "failed": w.failed,
                    "failure_rate": w.failure_rate(),
                },
            })
        })
        .collect();
    Ok(Json(json!({ "queues": out })))
}

/// GET /api/v1/jobs/{queue}/{item}: `item` is a state (a page of its jobs)
/// or a job id (that job). A job whose id is a state's name is reached
/// through the failure index or the screens.
pub async fn item(
    State(state): State<AppState>,
    Path((queue, item)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    if jobs::is_state(&item) {
        let offset = query_number(&pairs, "offset", 0, 0, 10_000_000)?;
        let limit = query_number(&pairs, "limit", 50, 1, MAX_LIMIT)?;
        let (rows, total) = read::page(&state.jobs, &queue, &item, offset, limit)
            .await
            .map_err(jobs_error)?;
        let jobs: Vec<Value> = rows
            .into_iter()
            .map(|j| {
                json!({
                    "id": j.id,
                    "name": j.name,
                    "created_at": ms_text(Some(j.created_ms)),
                    "finished_at": ms_text(j.finished_ms),
                    "attempts_made": j.attempts_made,
                    "failed_reason": (!j.failed_reason.is_empty()).then_some(j.failed_reason),
                    "user_id": j.user_id,
                })
            })
            .collect();
        return Ok(Json(
            json!({ "queue": queue, "state": item, "total": total, "offset": offset, "jobs": jobs }),
        ));
    }
    if item.len() > 200 || item.contains(':') {
        return Err(ApiError::not_found());
    }
    let d = read::job(&state.jobs, &queue, &item)
        .await
        .map_err(jobs_error)?;
    Ok(Json(json!({
        "queue": d.queue,
        "id": d.id,
        "name": d.name,
        "state": d.state,
        "data": d.data,
        "opts": d.opts,
        "created_at": ms_text(Some(d.created_ms)),
        "processed_at": ms_text(d.processed_ms),
        "finished_at": ms_text(d.finished_ms),
        "attempts_made": d.attempts_made,
        "attempts_allowed": d.attempts_allowed,
        "backoff": d.backoff,
        "return_value": d.return_value,
        "failed_reason": (!d.failed_reason.is_empty()).then_some(d.failed_reason),
        "stacktraces": d.stacktraces,
        "logs": d.logs,
        "log_count": d.log_count,
        "user_id": d.user_id,
    })))
}

async fn act(
    state: &AppState,
    actor: &Actor,
    meta: RequestMeta,
    queue: String,
    id: String,
    action: Action,
    delete: bool,
) -> Result<Response, ApiError> {
    if !state.jobs.queue_names().contains(&queue) {
        return Err(jobs_error(JobsError::UnknownQueue));
    }
    if id.is_empty() || id.len() > 200 || id.contains(':') {
        return Err(ApiError::not_found());
    }
    let event = Event::new(action)
        .target("bullmq_job", format!("{queue}:{id}"))
        .details(json!({"queue": queue, "job": id}));
    let link = state.jobs.clone();
    let (q, i) = (queue.clone(), id.clone());
    let work = async move {
        if delete {
            control::remove(&link, &q, &i).await
        } else {
            control::retry(&link, &q, &i).await
        }
    };
    control::audited(&state.pool, by(state, actor, meta), event, work)
        .await?
        .map_err(jobs_error)?;
    let done = if delete { "deleted" } else { "retried" };
    Ok((
        StatusCode::OK,
        Json(json!({ "queue": queue, "id": id, "result": done })),
    )
        .into_response())
}

/// POST /api/v1/jobs/{queue}/{id}/retry
pub async fn retry(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    meta: RequestMeta,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    act(&state, &actor, meta, queue, id, Action::JobRetried, false).await
}

/// DELETE /api/v1/jobs/{queue}/{id}
pub async fn delete(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    meta: RequestMeta,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    act(&state, &actor, meta, queue, id, Action::JobDeleted, true).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryFilter {
    name: Option<String>,
    /// Words of the error message.
    q: Option<String>,
    user_id: Option<serde_json::Number>,
    payload: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// POST /api/v1/jobs/{queue}/retry: every failed job of the queue with a
/// failure matching the filter, retried by a task; 202 with its id.
pub async fn retry_matching(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    meta: RequestMeta,
    Path(queue): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if !state.jobs.queue_names().contains(&queue) {
        return Err(jobs_error(JobsError::UnknownQueue));
    }
    let f: RetryFilter = if body.is_empty() {
        RetryFilter::default()
    } else {
        json_body(&body)?
    };
    let user = match &f.user_id {
        Some(n) => Some(user_id(crate::api::numbers::whole(n, "user_id")?)?.to_string()),
        None => None,
    };
    for (k, v) in [("from", &f.from), ("to", &f.to)] {
        if let Some(v) = v
            && crate::web::format::parse_day(v).is_none()
        {
            return Err(ApiError::invalid(format!("{k} is a day, YYYY-MM-DD")));
        }
    }
    let mut pairs: Vec<(&str, String)> = vec![("queue", queue.clone())];
    for (k, v) in [
        ("name", &f.name),
        ("q", &f.q),
        ("payload", &f.payload),
        ("from", &f.from),
        ("to", &f.to),
    ] {
        if let Some(v) = v {
            if v.chars().count() > 500 {
                return Err(ApiError::invalid(format!("{k} has at most 500 characters")));
            }
            pairs.push((k, v.clone()));
        }
    }
    if let Some(u) = user {
        pairs.push(("user", u));
    }
    let typed = Typed::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    days_or_refuse(&typed)?;
    let filter = typed
        .filter(state.jobs.queue_names())
        .ok_or_else(|| ApiError::invalid("the filter matches nothing"))?;
    let mut db = state.pool.get().await?;
    let up_to = search::failures(&mut db, &filter, None, 1)
        .await?
        .first()
        .map(|r| r.id);
    let by = by(&state, &actor, meta);
    let Some(up_to) = up_to else {
        return Ok((
            StatusCode::OK,
            Json(json!({ "task_id": null, "matched": 0 })),
        )
            .into_response());
    };
    let payload = Payload {
        action: BulkAction::Retry,
        jobs: Vec::new(),
        filter: Some(typed.json()),
        up_to: Some(up_to),
        by: by.to_json(),
    };
    let body = serde_json::to_value(&payload)
        .map_err(|e| ApiError::from(crate::error::AppError::Internal(e.to_string())))?;
    let task = NewTask::new(Kind::JobsBulk, body, by.now);
    let details =
        json!({ "kind": Kind::JobsBulk.key(), "action": "retry", "filter": typed.json() });
    let id = db
        .transaction(|tx| {
            Box::pin(async move {
                let id = crate::tasks::store::enqueue(tx, task, by.now).await?;
                by.record(
                    tx,
                    Event::new(Action::TaskStarted)
                        .target("task", id)
                        .details(details),
                )
                .await?;
                Ok::<_, crate::change::ChangeError>(id)
            })
        })
        .await?;
    state.tasks.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "task_id": id, "matched": null })),
    )
        .into_response())
}

/// GET /api/v1/jobs/failures?queue=&q=&name=&user_id=&payload=&from=&to=&before=&limit=
pub async fn failures(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let limit = query_number(&pairs, "limit", 50, 1, MAX_LIMIT)? as i64;
    let before = match pairs.iter().find(|(k, _)| k == "before") {
        None => None,
        Some((_, v)) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| (1..=9_007_199_254_740_991).contains(n))
                .ok_or_else(|| ApiError::invalid("before is a failure id"))?,
        ),
    };
    let mut mapped: Vec<(&str, &str)> = Vec::new();
    for (k, v) in &pairs {
        let key = match k.as_str() {
            "user_id" => "user",
            "queue" | "q" | "name" | "payload" | "from" | "to" => k.as_str(),
            "before" | "limit" => continue,
            _ => return Err(ApiError::invalid(format!("unknown parameter {k}"))),
        };
        if v.chars().count() > 500 {
            return Err(ApiError::invalid(format!("{k} has at most 500 characters")));
        }
        // Present means given: an empty day or id is not one.
        match key {
            "from" | "to" if crate::web::format::parse_day(v).is_none() => {
                return Err(ApiError::invalid(format!("{k} is a day, YYYY-MM-DD")));
            }
            "user" => {
                user_id(
                    v.parse::<i64>()
                        .map_err(|_| ApiError::invalid("user_id is a user id"))?,
                )?;
            }
            _ => {}
        }
        mapped.push((key, v.as_str()));
    }
    let typed = Typed::from_pairs(mapped);
    days_or_refuse(&typed)?;
    if !typed.get("user").is_empty() {
        user_id(
            typed
                .get("user")
                .parse::<i64>()
                .map_err(|_| ApiError::invalid("user_id is a user id"))?,
        )?;
    }
    let Some(filter) = typed.filter(state.jobs.queue_names()) else {
        return Err(jobs_error(JobsError::UnknownQueue));
    };
    let mut db = state.pool.get().await?;
    let mut rows = search::failures(&mut db, &filter, before, limit + 1).await?;
    drop(db);
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    let out: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "queue": r.queue,
                "job_id": r.job_id,
                "job_name": r.job_name,
                "user_id": r.user_id,
                "error_id": r.error_id,
                "message": r.message,
                "attempt": r.attempt,
                "failed_at": rfc3339(r.failed_at),
            })
        })
        .collect();
    Ok(Json(json!({ "failures": out, "next_before": next })))
}
