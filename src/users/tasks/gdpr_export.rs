//! GDPR access export: everything held on one user as one JSON document
//! (secrets excluded: password hash, TOTP secret, token hashes), built by a
//! task: sign-ins, notes and audit events are read in keyset batches and
//! written as the task's outputs, so a user with a million events gets all
//! of them in constant memory, and the download does not hold a database
//! connection for as long as the client takes to read it.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{
    audit_events, comments, login_events, sessions, workspace_members, workspaces,
};
use crate::db::types::{Outcome, WorkspaceRole};
use crate::db_run;
use crate::tasks::runner::{Done, Handler, Run, TaskError};
use crate::tasks::store::Advance;
use crate::users::store;

/// Rows read per query while streaming.
const BATCH: i64 = 1_000;

use crate::web::format::rfc3339 as ts;

fn ots(t: Option<PrimitiveDateTime>) -> Value {
    t.map(ts).map(Value::String).unwrap_or(Value::Null)
}

/// The small, bounded part of the document (profile, roles, workspaces,
/// live sessions); `None` when the user does not exist.
pub async fn head(
    db: &mut Db,
    user_id: i64,
    generated_at: PrimitiveDateTime,
) -> Result<Option<Value>, diesel::result::Error> {
    let Some(u) = store::get(db, user_id).await? else {
        return Ok(None);
    };
    let roles = store::role_keys_of(db, user_id).await?;
    let memberships: Vec<(String, String, WorkspaceRole)> =
        db_run!(db, |c| workspace_members::table
            .inner_join(workspaces::table)
            .filter(workspace_members::user_id.eq(user_id))
            .select((workspaces::slug, workspaces::name, workspace_members::role))
            .load(c)
            .await)?;
    let live: Vec<(
        PrimitiveDateTime,
        PrimitiveDateTime,
        Option<String>,
        Option<String>,
    )> = db_run!(db, |c| sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select((
            sessions::created_at,
            sessions::last_seen_at,
            sessions::ip,
            sessions::user_agent
        ))
        .load(c)
        .await)?;
    Ok(Some(json!({
        "generated_at": ts(generated_at),
        "user": {
            "id": u.id, "email": u.email, "name": u.name, "company": u.company,
            "type": u.user_type, "status": u.status, "status_reason": u.status_reason,
            "status_changed_at": ots(u.status_changed_at), "locale": u.locale,
            "totp_enabled": u.totp_enabled, "last_login_at": ots(u.last_login_at),
            "created_at": ts(u.created_at), "updated_at": ts(u.updated_at),
            "deleted_at": ots(u.deleted_at), "erased_at": ots(u.erased_at),
        },
        "platform_roles": roles,
        "workspaces": memberships.into_iter().map(|(slug, name, role)| json!({ "slug": slug, "name": name, "role": role })).collect::<Vec<_>>(),
        "sessions": live.into_iter().map(|(c, s, ip, ua)| json!({ "created_at": ts(c), "last_seen_at": ts(s), "ip": ip, "user_agent": ua })).collect::<Vec<_>>(),
    })))
}

type SignInRow = (
    i64,
    PrimitiveDateTime,
    Option<String>,
    Option<String>,
    String,
    String,
    bool,
    Option<String>,
);

/// The long lists, in the order they are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    SignIns,
    Notes,
    Audit,
}

impl List {
    const ALL: [List; 3] = [List::SignIns, List::Notes, List::Audit];

    fn key(self) -> &'static str {
        match self {
            List::SignIns => "sign_ins",
            List::Notes => "internal_notes",
            List::Audit => "audit_events",
        }
    }

    /// One batch, newest first, strictly older than `before` (an id).
    async fn batch(
        self,
        db: &mut Db,
        user_id: i64,
        before: i64,
    ) -> Result<Vec<(i64, Value)>, diesel::result::Error> {
        Ok(match self {
            List::SignIns => {
                let rows: Vec<SignInRow> = db_run!(db, |c| login_events::table
                    .filter(login_events::user_id.eq(user_id))
                    .filter(login_events::id.lt(before))
                    .order(login_events::id.desc())
                    .select((
                        login_events::id,
                        login_events::at,
                        login_events::ip,
                        login_events::user_agent,
                        login_events::client_id,
                        login_events::event,
                        login_events::success,
                        login_events::reason
                    ))
                    .limit(BATCH)
                    .load(c)
                    .await)?;
                rows.into_iter()
                    .map(|(id, at, ip, ua, client, event, success, reason)| {
                        (id, json!({ "at": ts(at), "ip": ip, "user_agent": ua, "client_id": client, "event": event, "success": success, "reason": reason }))
                    })
                    .collect()
            }
            List::Notes => {
                let rows: Vec<(i64, PrimitiveDateTime, String, String)> =
                    db_run!(db, |c| comments::table
                        .filter(comments::subject_type.eq("user"))
                        .filter(comments::subject_id.eq(user_id))
                        .filter(comments::id.lt(before))
                        .order(comments::id.desc())
                        .select((
                            comments::id,
                            comments::created_at,
                            comments::author_label,
                            comments::body
                        ))
                        .limit(BATCH)
                        .load(c)
                        .await)?;
                rows.into_iter()
                    .map(|(id, at, author, body)| {
                        (id, json!({ "at": ts(at), "author": author, "body": body }))
                    })
                    .collect()
            }
            List::Audit => {
                let target = user_id.to_string();
                let rows: Vec<(i64, PrimitiveDateTime, String, String, Outcome, String)> =
                    db_run!(db, |c| audit_events::table
                        .filter(
                            audit_events::target_type
                                .eq("user")
                                .and(audit_events::target_id.eq(&target))
                                .or(audit_events::actor_id.eq(user_id))
                        )
                        .filter(audit_events::id.lt(before))
                        .order(audit_events::id.desc())
                        .select((
                            audit_events::id,
                            audit_events::at,
                            audit_events::actor_label,
                            audit_events::action,
                            audit_events::outcome,
                            audit_events::details
                        ))
                        .limit(BATCH)
                        .load(c)
                        .await)?;
                rows.into_iter()
                    .map(|(id, at, actor, action, outcome, details)| {
                        (id, json!({
                            "at": ts(at), "actor": actor, "action": action, "outcome": outcome,
                            "details": serde_json::from_str::<Value>(&details).unwrap_or(Value::Null),
                        }))
                    })
                    .collect()
            }
        })
    }
}

#[derive(Deserialize)]
struct Payload {
    user_id: i64,
}

/// Where the document is: which list, and the last id written in it.
#[derive(Default, Serialize, Deserialize)]
struct Checkpoint {
    started: bool,
    list: usize,
    before: Option<i64>,
}

/// The task handler: `head` (without its closing brace), then each list
/// batch by batch, then the closing brace, each piece an output of the
/// task committed with the checkpoint saying what comes next.
pub fn handler() -> Handler {
    Arc::new(|run| Box::pin(export_task(run)))
}

async fn export_task(mut run: Run) -> Result<Done, TaskError> {
    let Payload { user_id } = run.payload()?;
    let generated_at = run.task.created_at;
    let mut cp: Checkpoint = run.checkpoint();
    if !cp.started {
        run.step(move |tx| {
            Box::pin(async move {
                let Some(head) = head(tx, user_id, generated_at).await? else {
                    return Err(TaskError::Fail("task.error.user_gone".into()));
                };
                let mut opening = head.to_string();
                // `head` is an object: drop its `}` so the lists can follow.
                opening.pop();
                let next = Checkpoint {
                    started: true,
                    list: 0,
                    before: None,
                };
                Ok(((), advance(next, opening, 0)))
            })
        })
        .await?;
        cp = run.checkpoint();
    }
    while let Some(kind) = List::ALL.get(cp.list).copied() {
        let first = cp.before.is_none();
        let before = cp.before.unwrap_or(i64::MAX);
        let list = cp.list;
        run.step(move |tx| {
            Box::pin(async move {
                let rows = kind.batch(tx, user_id, before).await?;
                let mut chunk = String::new();
                if first {
                    chunk.push_str(&format!(",\"{}\":[", kind.key()));
                }
                for (i, (_, value)) in rows.iter().enumerate() {
                    if i > 0 || !first {
                        chunk.push(',');
                    }
                    chunk.push_str(&value.to_string());
                }
                let next = match rows.last() {
                    Some((id, _)) if rows.len() as i64 == BATCH => Checkpoint {
                        started: true,
                        list,
                        before: Some(*id),
                    },
                    _ => {
                        chunk.push(']');
                        Checkpoint {
                            started: true,
                            list: list + 1,
                            before: None,
                        }
                    }
                };
                let n = rows.len() as i64;
                Ok(((), advance(next, chunk, n)))
            })
        })
        .await?;
        cp = run.checkpoint();
    }
    if cp.list == List::ALL.len() {
        run.step(|_| {
            Box::pin(async move {
                let end = Checkpoint {
                    started: true,
                    list: List::ALL.len() + 1,
                    before: None,
                };
                Ok(((), advance(end, "}".into(), 0)))
            })
        })
        .await?;
    }
    let file = format!("user-{user_id}-{}.json", run.task.created_at.date());
    Ok(Done {
        result: Some(serde_json::json!({ "file": file })),
    })
}

fn advance(next: Checkpoint, output: String, rows: i64) -> Advance {
    Advance {
        checkpoint: serde_json::to_string(&next).ok(),
        done: rows,
        step: Some("task.step.exporting"),
        outputs: vec![output],
        ..Advance::default()
    }
}
