//! Every change to a workspace or its members, each with its audit event
//! (carrying the workspace id) in the caller's transaction.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::schema::{users, workspace_members, workspaces};
use crate::db::types::WorkspaceRole;
use crate::db::{Db, Tx};
use crate::db_run;
use crate::user_record::memberships::{lock_workspaces, other_active_managers};
use crate::workspaces::settings::WorkspaceSettings;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = workspaces)]
pub struct Workspace {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub is_base: bool,
    pub settings: String,
    pub created_at: PrimitiveDateTime,
    pub deleted_at: Option<PrimitiveDateTime>,
    pub archived_at: Option<PrimitiveDateTime>,
}

/// A workspace's address: lower-case letters, digits and dashes.
pub fn valid_slug(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

fn checked_name(name: &str) -> ChangeResult<String> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ChangeError::Invalid("workspaces.name_invalid"));
    }
    Ok(name.to_owned())
}

/// A workspace that is not deleted.
pub async fn find(db: &mut Db, id: i64) -> QueryResult<Option<Workspace>> {
    db_run!(db, |c| workspaces::table
        .find(id)
        .filter(workspaces::deleted_at.is_null())
        .select(Workspace::as_select())
        .first(c)
        .await
        .optional())
}

/// Whether saving `new` would drop the workspace's second-factor rule: a
/// setting that weakens security, so it asks for a fresh code first.
pub async fn weakens(db: &mut Db, id: i64, new: &WorkspaceSettings) -> QueryResult<bool> {
    let current: Option<bool> = db_run!(db, |c| workspaces::table
        .find(id)
        .select(workspaces::two_factor_required)
        .first(c)
        .await
        .optional())?;
    Ok(current == Some(true) && !new.require_two_factor)
}

async fn load(db: &mut Db, id: i64) -> ChangeResult<Workspace> {
    find(db, id).await?.ok_or(ChangeError::NotFound)
}

/// BASE keeps its name and stays live.
fn not_base(w: &Workspace) -> ChangeResult<()> {
    if w.is_base {
        return Err(ChangeError::Invalid("workspaces.base_protected"));
    }
    Ok(())
}

/// Archived workspaces are read-only until restored.
fn live(w: &Workspace) -> ChangeResult<()> {
    if w.archived_at.is_some() {
        return Err(ChangeError::Invalid("workspaces.archived"));
    }
    Ok(())
}

pub async fn create(
    db: &mut Tx<'_>,
    by: &By,
    slug: &str,
    name: &str,
    settings: &WorkspaceSettings,
) -> ChangeResult<i64> {
    if !valid_slug(slug) {
        return Err(ChangeError::Invalid("workspaces.slug_invalid"));
    }
    let name = checked_name(name)?;
    settings.validate().map_err(ChangeError::Invalid)?;
    let taken: i64 = db_run!(db, |c| workspaces::table
        .filter(workspaces::slug.eq(slug))
        .count()
        .get_result(c)
        .await)?;
    if taken > 0 {
        return Err(ChangeError::Invalid("workspaces.slug_taken"));
    }
    let id: i64 = db_run!(db, |c| diesel::insert_into(workspaces::table)
        .values((
            workspaces::slug.eq(slug),
            workspaces::name.eq(&name),
            workspaces::is_base.eq(false),
            workspaces::settings.eq(settings.to_json()),
            workspaces::two_factor_required.eq(settings.require_two_factor),
            workspaces::created_at.eq(by.now),
        ))
        .returning(workspaces::id)
        .get_result(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::WorkspaceCreated)
            .target("workspace", id)
            .workspace(id)
            .details(json!({ "slug": slug, "name": name, "settings": settings })),
    )
    .await?;
    Ok(id)
}

/// Renames workspace `id`; false when the name was already that.
pub async fn rename(db: &mut Tx<'_>, by: &By, id: i64, name: &str) -> ChangeResult<bool> {
    let w = load(db, id).await?;
    not_base(&w)?;
    let name = checked_name(name)?;
    if name == w.name {
        return Ok(false);
    }
    db_run!(db, |c| diesel::update(workspaces::table.find(id))
        .set(workspaces::name.eq(&name))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::WorkspaceRenamed)
            .target("workspace", id)
            .workspace(id)
            .details(json!({ "before": { "name": w.name }, "after": { "name": name } })),
    )
    .await?;
    Ok(true)
}

/// Replaces the settings of workspace `id` (BASE's too: who may is the
/// access check's business); false when nothing changed.
pub async fn set_settings(
    db: &mut Tx<'_>,
    by: &By,
    id: i64,
    settings: &WorkspaceSettings,
) -> ChangeResult<bool> {
    let w = load(db, id).await?;
    live(&w)?;
    settings.validate().map_err(ChangeError::Invalid)?;
    // Unreadable stored settings (written by hand) are replaced whole.
    let before = WorkspaceSettings::parse(&w.settings).ok();
    if before.as_ref() == Some(settings) {
        return Ok(false);
    }
    db_run!(db, |c| diesel::update(workspaces::table.find(id))
        .set((
            workspaces::settings.eq(settings.to_json()),
            workspaces::two_factor_required.eq(settings.require_two_factor),
        ))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::WorkspaceSettingsChanged)
            .target("workspace", id)
            .workspace(id)
            .details(json!({ "before": before, "after": settings })),
    )
    .await?;
    Ok(true)
}

pub async fn archive(db: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let w = load(db, id).await?;
    not_base(&w)?;
    live(&w)?;
    db_run!(db, |c| diesel::update(workspaces::table.find(id))
        .set(workspaces::archived_at.eq(Some(by.now)))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::WorkspaceArchived)
            .target("workspace", id)
            .workspace(id),
    )
    .await
}

pub async fn restore(db: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let w = load(db, id).await?;
    if w.archived_at.is_none() {
        return Err(ChangeError::Invalid("workspaces.not_archived"));
    }
    db_run!(db, |c| diesel::update(workspaces::table.find(id))
        .set(workspaces::archived_at.eq(None::<PrimitiveDateTime>))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::WorkspaceRestored)
            .target("workspace", id)
            .workspace(id),
    )
    .await
}

/// Deletes workspace `id` (never BASE). Its memberships go with it; the
/// audit trail keeps its history under its id.
pub async fn delete(db: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let w = load(db, id).await?;
    not_base(&w)?;
    let members: i64 = db_run!(db, |c| diesel::delete(
        workspace_members::table.filter(workspace_members::workspace_id.eq(id))
    )
    .execute(c)
    .await)? as i64;
    db_run!(db, |c| diesel::update(workspaces::table.find(id))
        .set(workspaces::deleted_at.eq(Some(by.now)))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::WorkspaceDeleted)
            .target("workspace", id)
            .workspace(id)
            .details(json!({ "slug": w.slug, "name": w.name, "members_removed": members })),
    )
    .await
}

async fn role_of(db: &mut Db, ws: i64, user_id: i64) -> QueryResult<Option<WorkspaceRole>> {
    db_run!(db, |c| workspace_members::table
        .find((ws, user_id))
        .select(workspace_members::role)
        .first::<String>(c)
        .await
        .optional())
    .map(|r| r.and_then(|r| WorkspaceRole::parse(&r)))
}

/// Refuses a change that would leave workspace `ws` with no manager able
/// to act, when `user_id` is one of its managers.
async fn keeps_a_manager(db: &mut Db, ws: i64, user_id: i64) -> ChangeResult<()> {
    lock_workspaces(db, &[ws]).await?;
    if role_of(db, ws, user_id).await? == Some(WorkspaceRole::Manager)
        && other_active_managers(db, ws, user_id).await? == 0
    {
        return Err(ChangeError::Invalid("workspaces.last_manager"));
    }
    Ok(())
}

pub async fn add_member(
    db: &mut Tx<'_>,
    by: &By,
    ws: i64,
    user_id: i64,
    role: WorkspaceRole,
) -> ChangeResult<()> {
    let w = load(db, ws).await?;
    live(&w)?;
    let user: Option<(String, Option<PrimitiveDateTime>)> = db_run!(db, |c| users::table
        .find(user_id)
        .select((users::email, users::deleted_at))
        .first(c)
        .await
        .optional())?;
    let Some((email, None)) = user else {
        return Err(ChangeError::Invalid("workspaces.user_unavailable"));
    };
    if role_of(db, ws, user_id).await?.is_some() {
        return Err(ChangeError::Invalid("workspaces.already_member"));
    }
    db_run!(db, |c| diesel::insert_into(workspace_members::table)
        .values((
            workspace_members::workspace_id.eq(ws),
            workspace_members::user_id.eq(user_id),
            workspace_members::role.eq(role.as_str()),
            workspace_members::created_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::MemberAdded)
            .target("user", user_id)
            .workspace(ws)
            .details(json!({ "workspace": w.slug, "email": email, "role": role })),
    )
    .await
}

/// Changes a member's role; false when it was already that.
pub async fn set_member_role(
    db: &mut Tx<'_>,
    by: &By,
    ws: i64,
    user_id: i64,
    role: WorkspaceRole,
) -> ChangeResult<bool> {
    let w = load(db, ws).await?;
    live(&w)?;
    let Some(before) = role_of(db, ws, user_id).await? else {
        return Err(ChangeError::Invalid("workspaces.not_member"));
    };
    if before == role {
        return Ok(false);
    }
    if role != WorkspaceRole::Manager {
        keeps_a_manager(db, ws, user_id).await?;
    }
    db_run!(db, |c| diesel::update(
        workspace_members::table.find((ws, user_id))
    )
    .set(workspace_members::role.eq(role.as_str()))
    .execute(c)
    .await)?;
    by.record(
        db,
        Event::new(Action::MemberRoleChanged)
            .target("user", user_id)
            .workspace(ws)
            .details(json!({ "workspace": w.slug, "before": { "role": before }, "after": { "role": role } })),
    )
    .await?;
    Ok(true)
}

pub async fn remove_member(db: &mut Tx<'_>, by: &By, ws: i64, user_id: i64) -> ChangeResult<()> {
    let w = load(db, ws).await?;
    live(&w)?;
    let Some(role) = role_of(db, ws, user_id).await? else {
        return Err(ChangeError::Invalid("workspaces.not_member"));
    };
    keeps_a_manager(db, ws, user_id).await?;
    db_run!(db, |c| diesel::delete(
        workspace_members::table.find((ws, user_id))
    )
    .execute(c)
    .await)?;
    by.record(
        db,
        Event::new(Action::MemberRemoved)
            .target("user", user_id)
            .workspace(ws)
            .details(json!({ "workspace": w.slug, "role": role })),
    )
    .await
}

/// Creates workspace `slug` named `name` from workspace `source`: its
/// settings, and its members with their roles when `with_members`. The new
/// workspace's history starts with one event naming its source; the
/// source's history gets nothing (it did not change).
pub async fn duplicate(
    db: &mut Tx<'_>,
    by: &By,
    source: i64,
    slug: &str,
    name: &str,
    with_members: bool,
) -> ChangeResult<i64> {
    let w = load(db, source).await?;
    // Stored settings that no longer parse are not copied: defaults instead.
    let settings = WorkspaceSettings::parse(&w.settings).unwrap_or_default();
    let id = create(db, by, slug, name, &settings).await?;
    let mut copied = 0usize;
    if with_members {
        let members: Vec<(i64, String)> = db_run!(db, |c| workspace_members::table
            .inner_join(users::table)
            .filter(workspace_members::workspace_id.eq(source))
            .filter(users::deleted_at.is_null())
            .select((workspace_members::user_id, workspace_members::role))
            .load(c)
            .await)?;
        // One by one: a batch insert of many rows does not go through the
        // SQLite connection of diesel-async.
        for (user_id, role) in members {
            db_run!(db, |c| diesel::insert_into(workspace_members::table)
                .values((
                    workspace_members::workspace_id.eq(id),
                    workspace_members::user_id.eq(user_id),
                    workspace_members::role.eq(&role),
                    workspace_members::created_at.eq(by.now),
                ))
                .execute(c)
                .await)?;
            copied += 1;
        }
    }
    by.record(
        db,
        Event::new(Action::WorkspaceDuplicated)
            .target("workspace", id)
            .workspace(id)
            .details(json!({ "source": { "id": w.id, "slug": w.slug }, "members_copied": copied })),
    )
    .await?;
    Ok(id)
}
