//! The role tables as the access layer reads them: what each role grants
//! and the list of platform roles, both kept by [`RoleCache`].
//!
//! [`RoleCache`]: super::role_cache::RoleCache

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Permission, RoleRef};
use crate::db::Db;
use crate::db::schema::{role_permissions, roles};
use crate::db::types::{RoleScope, WorkspaceRole};
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

/// What every role grants, loaded in one query and kept by [`RoleCache`]
/// (roles change only with a migration or, later, a role edit).
///
/// [`RoleCache`]: super::role_cache::RoleCache
#[derive(Clone, Debug, Default)]
pub struct RolePermissions {
    pub by_role: HashMap<i64, HashSet<Permission>>,
    pub workspace: HashMap<WorkspaceRole, HashSet<Permission>>,
}

pub async fn role_permissions(db: &mut Db) -> QResult<RolePermissions> {
    let rows: Vec<(i64, String, String, String)> = db_run!(db, |c| roles::table
        .inner_join(role_permissions::table)
        .select((
            roles::id,
            roles::key,
            roles::scope,
            role_permissions::permission
        ))
        .load(c)
        .await)?;
    let mut out = RolePermissions::default();
    for (id, key, scope, permission) in rows {
        let Some(p) = Permission::parse(&permission) else {
            tracing::warn!(permission, "unknown permission in role_permissions");
            continue;
        };
        out.by_role.entry(id).or_default().insert(p);
        if scope == RoleScope::Workspace.as_str() {
            let role = match key.as_str() {
                "manager" => WorkspaceRole::Manager,
                "member" => WorkspaceRole::Member,
                _ => continue,
            };
            out.workspace.entry(role).or_default().insert(p);
        }
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
