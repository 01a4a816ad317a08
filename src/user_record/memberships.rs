//! Workspace memberships as every area sees them: the roles the old
//! platform wrote, normalised, and the rule that a workspace never loses
//! its last manager, checked wherever a user can stop managing (a role
//! change, a removal, a suspension, a deletion, an erasure).

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::{users, workspace_members, workspaces};
use crate::db::types::{UserStatus, WorkspaceRole};
use crate::db_run;

/// A role value that is neither current nor a known legacy one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

/// A workspace role as a sync or an import gives it. The old platform
/// stored a free string: `OWNER` (its manager), `USER`, and `VIEWER` (a
/// script's value, read-only in intent: there is no read-only workspace
/// role, so it becomes a member, who manages nothing). Case and
/// surrounding spaces are ignored. The second value names the legacy
/// value replaced, for the report.
pub fn normalise_role(raw: &str) -> Result<(WorkspaceRole, Option<&'static str>), UnknownRole> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "MANAGER" => Ok((WorkspaceRole::Manager, None)),
        "MEMBER" => Ok((WorkspaceRole::Member, None)),
        "OWNER" => Ok((WorkspaceRole::Manager, Some("OWNER"))),
        "USER" => Ok((WorkspaceRole::Member, Some("USER"))),
        "VIEWER" => Ok((WorkspaceRole::Member, Some("VIEWER"))),
        _ => Err(UnknownRole(raw.trim().to_owned())),
    }
}

/// One of a user's memberships, as their page lists it.
pub struct Held {
    pub workspace_id: i64,
    pub slug: String,
    pub name: String,
    pub is_base: bool,
    pub archived: bool,
    pub role: WorkspaceRole,
}

/// The live workspaces `user_id` belongs to, BASE first, then by name.
pub async fn of_user(db: &mut Db, user_id: i64) -> QueryResult<Vec<Held>> {
    let rows: Vec<(
        i64,
        String,
        String,
        bool,
        Option<time::PrimitiveDateTime>,
        String,
    )> = db_run!(db, |c| workspace_members::table
        .inner_join(workspaces::table)
        .filter(workspace_members::user_id.eq(user_id))
        .filter(workspaces::deleted_at.is_null())
        .order((workspaces::is_base.desc(), workspaces::name.asc()))
        .select((
            workspaces::id,
            workspaces::slug,
            workspaces::name,
            workspaces::is_base,
            workspaces::archived_at,
            workspace_members::role,
        ))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(workspace_id, slug, name, is_base, archived, role)| {
            Some(Held {
                workspace_id,
                slug,
                name,
                is_base,
                archived: archived.is_some(),
                role: WorkspaceRole::parse(&role)?,
            })
        })
        .collect())
}

/// Holds the rows of these workspaces until the transaction ends, so two
/// changes that each leave "another manager" cannot both pass at once on
/// PostgreSQL (a no-op update takes the row lock; SQLite's writers
/// already queue).
pub async fn lock_workspaces(db: &mut Db, ids: &[i64]) -> QueryResult<()> {
    if ids.is_empty() || db.is_sqlite() {
        return Ok(());
    }
    db_run!(db, |c| diesel::update(
        workspaces::table.filter(workspaces::id.eq_any(ids))
    )
    .set(workspaces::slug.eq(workspaces::slug))
    .execute(c)
    .await)?;
    Ok(())
}

/// How many managers of `workspace_id` other than `user_id` can act there
/// (active, not deleted).
pub async fn other_active_managers(
    db: &mut Db,
    workspace_id: i64,
    user_id: i64,
) -> QueryResult<i64> {
    db_run!(db, |c| workspace_members::table
        .inner_join(users::table)
        .filter(workspace_members::workspace_id.eq(workspace_id))
        .filter(workspace_members::user_id.ne(user_id))
        .filter(workspace_members::role.eq(WorkspaceRole::Manager.as_str()))
        .filter(users::status.eq(UserStatus::Active))
        .filter(users::deleted_at.is_null())
        .count()
        .get_result(c)
        .await)
}

/// The live workspaces `user_id` manages with no other manager able to
/// act there (active and not deleted), by name. Call inside the
/// transaction of the change: it locks those workspaces.
pub async fn solely_managed(db: &mut Db, user_id: i64) -> QueryResult<Vec<String>> {
    let managed: Vec<(i64, String)> = db_run!(db, |c| workspace_members::table
        .inner_join(workspaces::table)
        .filter(workspace_members::user_id.eq(user_id))
        .filter(workspace_members::role.eq(WorkspaceRole::Manager.as_str()))
        .filter(workspaces::deleted_at.is_null())
        .select((workspaces::id, workspaces::name))
        .order(workspaces::name)
        .load(c)
        .await)?;
    if managed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = managed.iter().map(|(id, _)| *id).collect();
    lock_workspaces(db, &ids).await?;
    let covered: HashSet<i64> = db_run!(db, |c| workspace_members::table
        .inner_join(users::table)
        .filter(workspace_members::workspace_id.eq_any(&ids))
        .filter(workspace_members::user_id.ne(user_id))
        .filter(workspace_members::role.eq(WorkspaceRole::Manager.as_str()))
        .filter(users::status.eq(UserStatus::Active))
        .filter(users::deleted_at.is_null())
        .select(workspace_members::workspace_id)
        .load::<i64>(c)
        .await)?
    .into_iter()
    .collect();
    Ok(managed
        .into_iter()
        .filter(|(id, _)| !covered.contains(id))
        .map(|(_, name)| name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_roles_are_normalised_and_others_refused() {
        assert_eq!(
            normalise_role("MANAGER"),
            Ok((WorkspaceRole::Manager, None))
        );
        assert_eq!(
            normalise_role(" member "),
            Ok((WorkspaceRole::Member, None))
        );
        assert_eq!(
            normalise_role("owner"),
            Ok((WorkspaceRole::Manager, Some("OWNER")))
        );
        assert_eq!(
            normalise_role("User"),
            Ok((WorkspaceRole::Member, Some("USER")))
        );
        assert_eq!(
            normalise_role("VIEWER"),
            Ok((WorkspaceRole::Member, Some("VIEWER")))
        );
        assert_eq!(normalise_role(" ADMIN "), Err(UnknownRole("ADMIN".into())));
        assert_eq!(normalise_role(""), Err(UnknownRole(String::new())));
    }
}
