//! GDPR access export: everything held on one user as one JSON document
//! (secrets excluded: password hash, TOTP secret, token hashes).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::{sessions, workspace_members, workspaces};
use crate::db::types::WorkspaceRole;
use crate::db_run;
use crate::users::store;

fn ts(t: PrimitiveDateTime) -> String {
    t.assume_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn ots(t: Option<PrimitiveDateTime>) -> Value {
    t.map(ts).map(Value::String).unwrap_or(Value::Null)
}

pub async fn document(
    db: &mut Db,
    user_id: i64,
    generated_at: PrimitiveDateTime,
) -> Result<Option<Value>, diesel::result::Error> {
    let Some(u) = store::get(db, user_id).await? else {
        return Ok(None);
    };
    let roles = store::role_keys_of(db, user_id).await?;
    let memberships: Vec<(String, String, WorkspaceRole)> = db_run!(db, c => workspace_members::table
        .inner_join(workspaces::table)
        .filter(workspace_members::user_id.eq(user_id))
        .select((workspaces::slug, workspaces::name, workspace_members::role))
        .load(c)
        .await)?;
    let logins = store::login_history(db, user_id, 10_000).await?;
    let notes = store::notes(db, user_id).await?;
    let audit = store::audit_history(db, user_id, 10_000).await?;
    let live: Vec<(
        PrimitiveDateTime,
        PrimitiveDateTime,
        Option<String>,
        Option<String>,
    )> = db_run!(db, c => sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select((sessions::created_at, sessions::last_seen_at, sessions::ip, sessions::user_agent))
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
        "sign_ins": logins.into_iter().map(|l| json!({
            "at": ts(l.at), "ip": l.ip, "user_agent": l.user_agent, "client_id": l.client_id,
            "event": l.event, "success": l.success, "reason": l.reason,
        })).collect::<Vec<_>>(),
        "internal_notes": notes.into_iter().map(|n| json!({ "at": ts(n.created_at), "author": n.author_label, "body": n.body })).collect::<Vec<_>>(),
        "audit_events": audit.into_iter().map(|a| json!({
            "at": ts(a.at), "actor": a.actor_label, "action": a.action, "outcome": a.outcome,
            "details": serde_json::from_str::<Value>(&a.details).unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
    })))
}
