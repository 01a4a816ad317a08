//! Bulk work on every user matching a list filter, as tasks: a status
//! change (suspend, reactivate) and the CSV export. Users are taken in id
//! order up to the highest id that existed when the task was started, a
//! chunk per step; the checkpoint is the last id handled, committed with
//! the chunk's changes and audit events, so a resumed task never changes or
//! audits a user twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{Action, Event};
use crate::change::{By, ChangeError};
use crate::db::types::UserStatus;
use crate::db::{Db, Pool};
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;
use crate::users::changes;
use crate::users::store::{self, list};
use crate::users::tasks::csv_export;
use crate::web::csv;

/// Users per step. On SQLite a step holds the one write lock, and every
/// request that writes (a session touch) waits for it: small steps keep that
/// wait short. PostgreSQL locks rows, so steps can be larger.
fn chunk(db: &Db) -> i64 {
    if db.is_sqlite() { 100 } else { 500 }
}

/// What both bulk tasks carry.
#[derive(Deserialize)]
pub struct Selection {
    /// The list filter, as its query-string pairs.
    pub filter: BTreeMap<String, String>,
    /// The highest user id when the task started: later users are not in it.
    pub up_to: i64,
    /// The person who started it (see [`By::to_json`]).
    pub by: Value,
}

impl Selection {
    pub fn payload(filter: Vec<(&'static str, String)>, up_to: i64, by: &By) -> Value {
        let filter: BTreeMap<&str, String> = filter.into_iter().collect();
        json!({ "filter": filter, "up_to": up_to, "by": by.to_json() })
    }

    fn filter(&self) -> list::Filter {
        list::ListParams::filter_from(|k| self.filter.get(k).cloned().unwrap_or_default()).filter()
    }

    fn author(&self, run: &Run) -> Result<By, TaskError> {
        By::from_json(&self.by, run.now()).ok_or_else(|| TaskError::Fail("bad author".into()))
    }
}

#[derive(Default, serde::Serialize, Deserialize)]
struct Checkpoint {
    after: i64,
}

/// The next chunk of matching ids after `after`, none above `up_to`.
async fn next_ids(
    db: &mut Db,
    sel: &Selection,
    filter: &list::Filter,
    after: i64,
) -> Result<Vec<i64>, TaskError> {
    let size = chunk(db);
    let mut ids = list::matching_ids(db, filter, after, size).await?;
    ids.retain(|id| *id <= sel.up_to);
    Ok(ids)
}

/// Counts the matching users (once, at the first step).
async fn count(pool: &Pool, sel: &Selection, filter: &list::Filter) -> Result<i64, TaskError> {
    let mut db = pool.get().await?;
    let (mut n, mut after) = (0i64, 0i64);
    loop {
        let mut ids = list::matching_ids(&mut db, filter, after, 10_000).await?;
        ids.retain(|id| *id <= sel.up_to);
        let Some(last) = ids.last().copied() else {
            break;
        };
        n += ids.len() as i64;
        after = last;
    }
    Ok(n)
}

#[derive(Deserialize)]
struct StatusPayload {
    #[serde(flatten)]
    selection: Selection,
    target: String,
    reason: String,
}

pub fn status_payload(sel: Value, target: UserStatus, reason: &str) -> Value {
    let mut v = sel;
    v["target"] = json!(target.as_str());
    v["reason"] = json!(reason);
    v
}

/// The task handler for a bulk status change.
pub fn status_handler() -> Handler {
    Arc::new(|run| Box::pin(status_task(run)))
}

async fn status_task(mut run: Run) -> Result<Done, TaskError> {
    let p: StatusPayload = run.payload()?;
    let target =
        UserStatus::parse(&p.target).ok_or_else(|| TaskError::Fail("bad status".into()))?;
    let filter = p.selection.filter();
    let total = match run.task.total {
        Some(t) => t,
        None => count(&run.pool, &p.selection, &filter).await?,
    };
    let mut cp: Checkpoint = run.checkpoint();
    loop {
        let mut db = run.pool.get().await?;
        let ids = next_ids(&mut db, &p.selection, &filter, cp.after).await?;
        drop(db);
        let Some(last) = ids.last().copied() else {
            break;
        };
        let by = p.selection.author(&run)?;
        let reason = p.reason.clone();
        run.step(move |tx| {
            Box::pin(async move {
                let mut left = Vec::new();
                for &id in &ids {
                    let why = match changes::set_status(tx, &by, id, target, &reason).await {
                        Ok(true) => continue,
                        Ok(false) => "task.skipped.unchanged",
                        Err(ChangeError::Invalid(key)) => key,
                        Err(ChangeError::NotFound) => "task.skipped.gone",
                        Err(ChangeError::Db(e)) => return Err(e.into()),
                    };
                    left.push((id, why));
                }
                let emails =
                    store::many(tx, &left.iter().map(|(id, _)| *id).collect::<Vec<_>>()).await?;
                let outputs = left
                    .iter()
                    .map(|(id, why)| {
                        let email = emails
                            .iter()
                            .find(|u| u.id == *id)
                            .map(|u| u.email.as_str())
                            .unwrap_or("");
                        json!({ "id": id, "email": email, "reason": why }).to_string()
                    })
                    .collect();
                let advance = Advance {
                    checkpoint: Some(json!(Checkpoint { after: last }).to_string()),
                    done: ids.len() as i64,
                    errors: left.len() as i64,
                    total: Some(total),
                    step: Some("task.step.changing"),
                    outputs,
                };
                Ok(((), advance))
            })
        })
        .await?;
        cp.after = last;
    }
    Ok(Done { result: None })
}

/// The task handler for the CSV export of every matching user: each chunk
/// of lines is an output of the task, downloaded in order.
pub fn csv_handler() -> Handler {
    Arc::new(|run| Box::pin(csv_task(run)))
}

async fn csv_task(mut run: Run) -> Result<Done, TaskError> {
    let sel: Selection = run.payload()?;
    let filter = sel.filter();
    let total = match run.task.total {
        Some(t) => t,
        None => count(&run.pool, &sel, &filter).await?,
    };
    let mut cp: Checkpoint = run.checkpoint();
    let mut first = cp.after == 0;
    loop {
        let mut db = run.pool.get().await?;
        let ids = next_ids(&mut db, &sel, &filter, cp.after).await?;
        drop(db);
        let Some(last) = ids.last().copied() else {
            break;
        };
        let by = sel.author(&run)?;
        let header = first.then(|| csv::header(&csv_export::COLUMNS));
        run.step(move |tx| {
            Box::pin(async move {
                let users = store::many(tx, &ids).await?;
                let roles = list::roles_of(tx, &ids).await?;
                for u in &users {
                    let ev = Event::new(Action::UsersExportedCsv)
                        .target("user", u.id)
                        .details(json!({ "task": true }));
                    by.record(tx, ev).await?;
                }
                let mut chunk = header.unwrap_or_default();
                chunk.push_str(&csv_export::rows(&users, &roles));
                let advance = Advance {
                    checkpoint: Some(json!(Checkpoint { after: last }).to_string()),
                    done: ids.len() as i64,
                    total: Some(total),
                    step: Some("task.step.exporting"),
                    outputs: vec![chunk],
                    ..Advance::default()
                };
                Ok(((), advance))
            })
        })
        .await?;
        cp.after = last;
        first = false;
    }
    if first {
        // Nothing matched: the file still has its header line.
        run.step(|_| {
            Box::pin(async move {
                Ok((
                    (),
                    Advance {
                        outputs: vec![csv::header(&csv_export::COLUMNS)],
                        total: Some(0),
                        ..Advance::default()
                    },
                ))
            })
        })
        .await?;
    }
    let status = sel.filter.get("status").map(String::as_str).unwrap_or("");
    let file = csv_export::file_name(status, run.task.created_at.date());
    Ok(Done {
        result: Some(json!({ "file": file })),
    })
}
