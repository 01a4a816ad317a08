//! Queries for sign-in, second factor, one-time links and the actor.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::access::{ADMIN_ROLE, Actor, Membership, Permission, RoleRef};
use crate::db::Db;
use crate::db::schema::{
    login_events, one_time_tokens, recovery_codes, role_permissions, roles, user_roles, users,
    workspace_members,
};
use crate::db::types::{RoleScope, TokenPurpose, WorkspaceRole};
use crate::db_run;
use crate::users::model::User;
use crate::web::meta::RequestMeta;

type QResult<T> = Result<T, diesel::result::Error>;

pub async fn user_by_email(db: &mut Db, email_lower: &str) -> QResult<Option<User>> {
    db_run!(db, c => users::table
        .filter(users::email_lower.eq(email_lower))
        .select(User::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn user_by_id(db: &mut Db, id: i64) -> QResult<Option<User>> {
    db_run!(db, c => users::table.find(id).select(User::as_select()).first(c).await.optional())
}

/// The user with roles and memberships; `None` if absent, deleted or not active.
pub async fn load_actor(db: &mut Db, user_id: i64) -> QResult<Option<Actor>> {
    let Some(user) = user_by_id(db, user_id).await? else {
        return Ok(None);
    };
    if !user.can_sign_in() {
        return Ok(None);
    }
    let platform: Vec<(i64, String, String, String, Option<String>)> = db_run!(db, c => user_roles::table
        .inner_join(roles::table)
        .left_join(role_permissions::table.on(role_permissions::role_id.eq(roles::id)))
        .filter(user_roles::user_id.eq(user_id))
        .filter(roles::scope.eq(RoleScope::Platform.as_str()))
        .select((roles::id, roles::key, roles::name_en, roles::name_fr, role_permissions::permission.nullable()))
        .load(c)
        .await)?;
    let mut platform_roles: Vec<RoleRef> = Vec::new();
    let mut platform_permissions = HashSet::new();
    for (id, key, name_en, name_fr, permission) in platform {
        if !platform_roles.iter().any(|r| r.id == id) {
            platform_roles.push(RoleRef {
                id,
                key,
                name_en,
                name_fr,
            });
        }
        if let Some(p) = permission.as_deref().and_then(Permission::parse) {
            platform_permissions.insert(p);
        }
    }
    let member_rows: Vec<(i64, WorkspaceRole)> = db_run!(db, c => workspace_members::table
        .filter(workspace_members::user_id.eq(user_id))
        .select((workspace_members::workspace_id, workspace_members::role))
        .load(c)
        .await)?;
    let mut memberships = HashMap::new();
    if !member_rows.is_empty() {
        let by_role = workspace_role_permissions(db).await?;
        for (ws, role) in member_rows {
            let permissions = by_role.get(&role).cloned().unwrap_or_default();
            memberships.insert(ws, Membership { role, permissions });
        }
    }
    platform_roles.sort_by_key(|r| r.id);
    Ok(Some(Actor {
        user_id: user.id,
        email: user.email,
        name: user.name,
        platform_roles,
        platform_permissions,
        memberships,
        totp_enabled: user.totp_enabled,
    }))
}

/// Permissions of the built-in workspace roles (keys `manager`, `member`).
async fn workspace_role_permissions(
    db: &mut Db,
) -> QResult<HashMap<WorkspaceRole, HashSet<Permission>>> {
    let rows: Vec<(String, String)> = db_run!(db, c => roles::table
        .inner_join(role_permissions::table)
        .filter(roles::scope.eq(RoleScope::Workspace.as_str()))
        .select((roles::key, role_permissions::permission))
        .load(c)
        .await)?;
    let mut out: HashMap<WorkspaceRole, HashSet<Permission>> = HashMap::new();
    for (key, permission) in rows {
        let role = match key.as_str() {
            "manager" => WorkspaceRole::Manager,
            "member" => WorkspaceRole::Member,
            _ => continue,
        };
        if let Some(p) = Permission::parse(&permission) {
            out.entry(role).or_default().insert(p);
        }
    }
    Ok(out)
}

pub async fn role_id(db: &mut Db, key: &str) -> QResult<i64> {
    db_run!(db, c => roles::table.filter(roles::key.eq(key)).select(roles::id).first(c).await)
}

pub async fn admin_exists(db: &mut Db) -> QResult<bool> {
    let count: i64 = db_run!(db, c => user_roles::table
        .inner_join(roles::table)
        .inner_join(users::table)
        .filter(roles::key.eq(ADMIN_ROLE))
        .filter(users::deleted_at.is_null())
        .count()
        .get_result(c)
        .await)?;
    Ok(count > 0)
}

pub async fn grant_role(
    db: &mut Db,
    user_id: i64,
    role_key: &str,
    by: Option<i64>,
    at: PrimitiveDateTime,
) -> QResult<()> {
    let role = role_id(db, role_key).await?;
    db_run!(db, c => diesel::insert_into(user_roles::table)
        .values((user_roles::user_id.eq(user_id), user_roles::role_id.eq(role), user_roles::granted_at.eq(at), user_roles::granted_by.eq(by)))
        .on_conflict_do_nothing()
        .execute(c)
        .await)?;
    Ok(())
}

/// One row in `login_events`.
pub struct LoginEvent<'a> {
    pub user_id: Option<i64>,
    pub event: &'a str,
    pub success: bool,
    pub reason: Option<&'a str>,
}

pub async fn record_login_event(
    db: &mut Db,
    at: PrimitiveDateTime,
    meta: &RequestMeta,
    ev: LoginEvent<'_>,
) -> QResult<()> {
    let ip = meta.ip_string();
    db_run!(db, c => diesel::insert_into(login_events::table)
        .values((
            login_events::user_id.eq(ev.user_id),
            login_events::at.eq(at),
            login_events::ip.eq(ip.as_deref()),
            login_events::user_agent.eq(meta.user_agent.as_deref()),
            login_events::client_id.eq(&meta.client_id),
            login_events::event.eq(ev.event),
            login_events::success.eq(ev.success),
            login_events::reason.eq(ev.reason),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Failed password or second-factor checks for a user since `since`.
pub async fn failures_since(db: &mut Db, user_id: i64, since: PrimitiveDateTime) -> QResult<i64> {
    db_run!(db, c => login_events::table
        .filter(login_events::user_id.eq(user_id))
        .filter(login_events::success.eq(false))
        .filter(login_events::reason.eq_any(["bad_password", "bad_totp"]))
        .filter(login_events::at.ge(since))
        .count()
        .get_result(c)
        .await)
}

/// When the most recent failure counted towards a lockout happened.
pub async fn last_failure(db: &mut Db, user_id: i64) -> QResult<Option<PrimitiveDateTime>> {
    db_run!(db, c => login_events::table
        .filter(login_events::user_id.eq(user_id))
        .filter(login_events::success.eq(false))
        .filter(login_events::reason.eq_any(["bad_password", "bad_totp"]))
        .select(diesel::dsl::max(login_events::at))
        .first(c)
        .await)
}

pub async fn set_totp_step(db: &mut Db, user_id: i64, step: i64) -> QResult<()> {
    db_run!(db, c => diesel::update(users::table.find(user_id)).set(users::totp_last_step.eq(step)).execute(c).await)?;
    Ok(())
}

pub async fn mark_signed_in(db: &mut Db, user_id: i64, at: PrimitiveDateTime) -> QResult<()> {
    db_run!(db, c => diesel::update(users::table.find(user_id))
        .set((users::last_login_at.eq(at), users::last_login_sort.eq(at)))
        .execute(c)
        .await)?;
    Ok(())
}

pub async fn enable_totp(
    db: &mut Db,
    user_id: i64,
    sealed_secret: &str,
    step: i64,
    at: PrimitiveDateTime,
) -> QResult<()> {
    db_run!(db, c => diesel::update(users::table.find(user_id))
        .set((users::totp_secret.eq(sealed_secret), users::totp_enabled.eq(true), users::totp_last_step.eq(step), users::updated_at.eq(at)))
        .execute(c)
        .await)?;
    Ok(())
}

pub async fn replace_recovery_codes(db: &mut Db, user_id: i64, hashes: &[String]) -> QResult<()> {
    db_run!(db, c => diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(c).await)?;
    // One row at a time: SQLite's dialect has no multi-row insert in diesel.
    for hash in hashes {
        db_run!(db, c => diesel::insert_into(recovery_codes::table)
            .values((recovery_codes::user_id.eq(user_id), recovery_codes::code_hash.eq(hash)))
            .execute(c)
            .await)?;
    }
    Ok(())
}

/// Marks an unused code as used; returns how many remain, or `None` if no match.
pub async fn use_recovery_code(
    db: &mut Db,
    user_id: i64,
    code_hash: &str,
    at: PrimitiveDateTime,
) -> QResult<Option<i64>> {
    let used = db_run!(db, c => diesel::update(recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(code_hash))
            .filter(recovery_codes::used_at.is_null()))
        .set(recovery_codes::used_at.eq(at))
        .execute(c)
        .await)?;
    if used == 0 {
        return Ok(None);
    }
    remaining_recovery_codes(db, user_id).await.map(Some)
}

pub async fn remaining_recovery_codes(db: &mut Db, user_id: i64) -> QResult<i64> {
    db_run!(db, c => recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(c)
        .await)
}

pub async fn insert_token(
    db: &mut Db,
    hash: &str,
    purpose: TokenPurpose,
    user_id: Option<i64>,
    at: PrimitiveDateTime,
    expires: PrimitiveDateTime,
) -> QResult<()> {
    db_run!(db, c => diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::token_hash.eq(hash),
            one_time_tokens::purpose.eq(purpose),
            one_time_tokens::user_id.eq(user_id),
            one_time_tokens::created_at.eq(at),
            one_time_tokens::expires_at.eq(expires),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// A usable token: unused and not expired at `now`.
#[derive(Clone, Debug, Queryable)]
pub struct TokenRow {
    pub id: i64,
    pub purpose: TokenPurpose,
    pub user_id: Option<i64>,
}

pub async fn find_token(
    db: &mut Db,
    hash: &str,
    now: PrimitiveDateTime,
) -> QResult<Option<TokenRow>> {
    db_run!(db, c => one_time_tokens::table
        .filter(one_time_tokens::token_hash.eq(hash))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(now))
        .select((one_time_tokens::id, one_time_tokens::purpose, one_time_tokens::user_id))
        .first(c)
        .await
        .optional())
}

/// Consumes a token; false if it was used in the meantime.
pub async fn consume_token(db: &mut Db, id: i64, now: PrimitiveDateTime) -> QResult<bool> {
    let n = db_run!(db, c => diesel::update(one_time_tokens::table.find(id).filter(one_time_tokens::used_at.is_null()))
        .set(one_time_tokens::used_at.eq(now))
        .execute(c)
        .await)?;
    Ok(n == 1)
}

/// Retires unused first-admin links (a new start prints a new one).
pub async fn expire_first_admin_tokens(db: &mut Db, now: PrimitiveDateTime) -> QResult<()> {
    db_run!(db, c => diesel::update(one_time_tokens::table
            .filter(one_time_tokens::purpose.eq(TokenPurpose::FirstAdmin))
            .filter(one_time_tokens::used_at.is_null()))
        .set(one_time_tokens::expires_at.eq(now))
        .execute(c)
        .await)?;
    Ok(())
}
