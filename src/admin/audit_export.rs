//! Exports of the audit trail as filtered on screen, as CSV (formula-safe,
//! as every export: `web::csv`) or JSON Lines (one event per line, its
//! details as JSON), written by the task runner a thousand events a step
//! with progress, newest first, none written after the export started.

use std::sync::Arc;

use axum::Form;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::PrimitiveDateTime;

use crate::admin::audit_filter::Filters;
use crate::audit::query::{self, EventRow};
use crate::error::AppError;
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;
use crate::tasks::{Kind, NewTask};
use crate::web::action::{Call, start_task};
use crate::web::csv::{cell, header, line};
use crate::web::guard::redirect;

/// Events read per step.
const CHUNK: i64 = 1_000;

pub const COLUMNS: [&str; 14] = [
    "id",
    "at",
    "actor_type",
    "actor_id",
    "actor",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "ip",
    "user_agent",
    "client_id",
    "request_id",
    "details",
];

#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    format: String,
    #[serde(flatten)]
    filters: Filters,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    filters: Filters,
    /// The newest event when the export started: later ones stay out.
    up_to: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct Checkpoint {
    /// The last event written (the next step reads older ones).
    before: Option<i64>,
}

/// POST /admin/audit/export: starts the export and shows its task.
pub async fn start(call: Call, Form(form): Form<ExportForm>) -> Result<Response, AppError> {
    let kind = match form.format.as_str() {
        "jsonl" => Kind::AuditExportJsonl,
        _ => Kind::AuditExportCsv,
    };
    let mut filters = form.filters;
    // The whole filtered trail, not the page on screen.
    filters.before.clear();
    let mut db = call.state.pool.get().await?;
    let up_to = query::max_id(&mut db).await?;
    drop(db);
    let shown: serde_json::Map<String, serde_json::Value> = filters
        .pairs()
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| ((*k).to_owned(), json!(v.trim())))
        .collect();
    let payload = json!(Payload { filters, up_to });
    let now = call.state.clock.now_primitive();
    let details = json!({ "filter": shown, "up_to": up_to });
    let id = start_task(&call, NewTask::new(kind, payload, now), details, None).await?;
    Ok(redirect(&format!("/admin/tasks/{id}"), false))
}

pub fn handler() -> Handler {
    Arc::new(|run| Box::pin(export(run)))
}

async fn export(mut run: Run) -> Result<Done, TaskError> {
    let Payload { filters, up_to } = run.payload()?;
    let jsonl = run.task.kind() == Some(Kind::AuditExportJsonl);
    let mut db = run.pool.get().await?;
    let resolved = filters.resolve(&mut db).await?;
    drop(db);
    let mut cp: Checkpoint = run.checkpoint();
    let mut first = cp.before.is_none();
    if let Some(mut filter) = resolved.filter {
        loop {
            filter.before = Some(cp.before.unwrap_or(up_to + 1));
            let mut db = run.pool.get().await?;
            let rows = query::events(&mut db, &filter, CHUNK).await?;
            drop(db);
            let Some(last) = rows.last().map(|r| r.id) else {
                break;
            };
            let mut chunk = if first && !jsonl {
                header(&COLUMNS)
            } else {
                String::new()
            };
            for r in &rows {
                chunk.push_str(&if jsonl { json_line(r) } else { csv_line(r) });
            }
            let done = rows.len() as i64;
            run.step(move |_| {
                Box::pin(async move {
                    let advance = Advance {
                        checkpoint: Some(json!(Checkpoint { before: Some(last) }).to_string()),
                        done,
                        step: Some("task.step.exporting"),
                        outputs: vec![chunk],
                        ..Advance::default()
                    };
                    Ok(((), advance))
                })
            })
            .await?;
            cp.before = Some(last);
            first = false;
        }
    }
    if first && !jsonl {
        // Nothing matched: the file still has its header line.
        run.step(|_| {
            Box::pin(async move {
                let advance = Advance {
                    outputs: vec![header(&COLUMNS)],
                    total: Some(0),
                    ..Advance::default()
                };
                Ok(((), advance))
            })
        })
        .await?;
    }
    let ext = if jsonl { "jsonl" } else { "csv" };
    Ok(Done {
        result: Some(json!({ "file": format!("audit-{}.{ext}", run.task.created_at.date()) })),
    })
}

fn iso(t: PrimitiveDateTime) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}.{:06}Z",
        t.date(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn csv_line(r: &EventRow) -> String {
    let opt = |v: &Option<String>| v.as_deref().map(cell).unwrap_or_default();
    line(&[
        r.id.to_string(),
        iso(r.at),
        r.actor_type.as_str().to_owned(),
        r.actor_id.map(|i| i.to_string()).unwrap_or_default(),
        cell(&r.actor_label),
        cell(&r.action),
        opt(&r.target_type),
        opt(&r.target_id),
        r.outcome.as_str().to_owned(),
        opt(&r.ip),
        opt(&r.user_agent),
        opt(&r.client_id),
        opt(&r.request_id),
        cell(&r.details),
    ])
}

fn json_line(r: &EventRow) -> String {
    // The details as the JSON they are (a string if ever they are not).
    let details: serde_json::Value =
        serde_json::from_str(&r.details).unwrap_or_else(|_| json!(r.details));
    let mut s = json!({
        "id": r.id,
        "at": iso(r.at),
        "actor_type": r.actor_type.as_str(),
        "actor_id": r.actor_id,
        "actor": r.actor_label,
        "action": r.action,
        "target_type": r.target_type,
        "target_id": r.target_id,
        "outcome": r.outcome.as_str(),
        "ip": r.ip,
        "user_agent": r.user_agent,
        "client_id": r.client_id,
        "request_id": r.request_id,
        "details": details,
    })
    .to_string();
    s.push('\n');
    s
}
