//! GDPR access export: everything held on one user as one JSON document
//! (secrets excluded: password hash, TOTP secret, token hashes). The
//! document is streamed: sign-ins, notes and audit events are read in
//! keyset batches, so a user with a million events gets all of them in
//! constant memory.

use axum::body::Bytes;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::Stream;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{
    audit_events, comments, login_events, sessions, workspace_members, workspaces,
};
use crate::db::types::{Outcome, WorkspaceRole};
use crate::db_run;
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

/// Where the stream is.
enum Step {
    Open {
        list: usize,
        before: i64,
        first: bool,
    },
    Done,
}

/// The whole document as a byte stream: `head` (without its closing brace),
/// then each list batch by batch, then the closing brace. A database error
/// midway ends the stream with an error (the download is cut, not silently
/// short).
pub fn stream(
    db: Db,
    user_id: i64,
    head: Value,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let mut opening = head.to_string();
    // `head` is an object: drop its `}` so the lists can follow.
    opening.pop();
    let start = futures_util::stream::iter([Ok(Bytes::from(opening))]);
    let rest = futures_util::stream::unfold(
        (
            db,
            Step::Open {
                list: 0,
                before: i64::MAX,
                first: true,
            },
        ),
        move |(mut db, step)| async move {
            let Step::Open {
                list,
                before,
                first,
            } = step
            else {
                return None;
            };
            let Some(kind) = List::ALL.get(list).copied() else {
                return Some((Ok(Bytes::from_static(b"}")), (db, Step::Done)));
            };
            let mut chunk = String::new();
            if first {
                chunk.push_str(&format!(",\"{}\":[", kind.key()));
            }
            let rows = match kind.batch(&mut db, user_id, before).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, user_id, "GDPR export cut short");
                    return Some((
                        Err(std::io::Error::other("export interrupted")),
                        (db, Step::Done),
                    ));
                }
            };
            for (i, (_, value)) in rows.iter().enumerate() {
                if i > 0 || !first {
                    chunk.push(',');
                }
                chunk.push_str(&value.to_string());
            }
            let next = match rows.last() {
                Some((id, _)) if rows.len() as i64 == BATCH => Step::Open {
                    list,
                    before: *id,
                    first: false,
                },
                _ => {
                    chunk.push(']');
                    Step::Open {
                        list: list + 1,
                        before: i64::MAX,
                        first: true,
                    }
                }
            };
            Some((Ok(Bytes::from(chunk)), (db, next)))
        },
    );
    futures_util::StreamExt::chain(start, rest)
}
