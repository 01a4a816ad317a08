//! The role tables as the access layer reads them: what each role grants
//! and the list of platform roles, both kept by [`RoleCache`].
//!
//! [`RoleCache`]: super::role_cache::RoleCache

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Permission, RoleRef};
use crate::db::schema::{role_permissions, roles};
use crate::db::types::{RoleScope, WorkspaceRole};
use crate::db::{Db, Tx};
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

/// What the workspace roles grant, loaded in one query and kept by
/// [`RoleCache`] (they change only with a migration). Platform roles, which
/// people edit, are read with the actor on every request instead.
///
/// [`RoleCache`]: super::role_cache::RoleCache
#[derive(Clone, Debug, Default)]
pub struct RolePermissions {
    pub workspace: HashMap<WorkspaceRole, HashSet<Permission>>,
}

pub async fn role_permissions(db: &mut Db) -> QResult<RolePermissions> {
    let rows: Vec<(String, String)> = db_run!(db, |c| roles::table
        .inner_join(role_permissions::table)
        .filter(roles::scope.eq(RoleScope::Workspace.as_str()))
        .select((roles::key, role_permissions::permission))
        .load(c)
        .await)?;
    let mut out = RolePermissions::default();
    for (key, permission) in rows {
        let Some(p) = Permission::parse(&permission) else {
            tracing::warn!(permission, "unknown permission in role_permissions");
            continue;
        };
        let role = match key.as_str() {
            "manager" => WorkspaceRole::Manager,
            "member" => WorkspaceRole::Member,
            _ => continue,
        };
        out.workspace.entry(role).or_default().insert(p);
    }
    Ok(out)
}

/// Every platform role, in id order (read through [`RoleCache`]).
///
/// [`RoleCache`]: super::role_cache::RoleCache
pub async fn platform_roles(db: &mut Db) -> QResult<Vec<RoleRef>> {
    let rows: Vec<(i64, String, String, String)> = db_run!(db, |c| roles::table
        .filter(roles::scope.eq(RoleScope::Platform.as_str()))
        .order(roles::id)
        .select((roles::id, roles::key, roles::name_en, roles::name_fr))
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(RoleRef::from).collect())
}

/// What the platform role `key` grants, read inside a change's transaction
/// (`None`: no such platform role).
pub async fn grants_of_key(
    db: &mut Tx<'_>,
    key: &str,
) -> QResult<Option<(i64, BTreeSet<Permission>)>> {
    let id: Option<i64> = db_run!(db, |c| roles::table
        .filter(roles::key.eq(key))
        .filter(roles::scope.eq(RoleScope::Platform.as_str()))
        .select(roles::id)
        .first(c)
        .await
        .optional())?;
    let Some(id) = id else { return Ok(None) };
    let keys: Vec<String> = db_run!(db, |c| role_permissions::table
        .filter(role_permissions::role_id.eq(id))
        .select(role_permissions::permission)
        .load(c)
        .await)?;
    Ok(Some((
        id,
        keys.iter().filter_map(|k| Permission::parse(k)).collect(),
    )))
}
