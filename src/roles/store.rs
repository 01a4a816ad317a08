//! Reads of the platform roles: each with what it grants and how many
//! users hold it.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::access::Permission;
use crate::db::Db;
use crate::db::schema::{role_permissions, roles, user_roles};
use crate::db::types::RoleScope;
use crate::db_run;

type QResult<T> = Result<T, diesel::result::Error>;

#[derive(Clone, Debug)]
pub struct Role {
    pub id: i64,
    pub key: String,
    pub name_en: String,
    pub name_fr: String,
    pub built_in: bool,
    pub updated_at: Option<PrimitiveDateTime>,
    pub permissions: BTreeSet<Permission>,
    /// Users holding it (deleted accounts included: they keep their roles
    /// while they can be restored).
    pub members: i64,
}

impl Role {
    pub fn name(&self, lang: crate::i18n::Lang) -> &str {
        match lang {
            crate::i18n::Lang::Fr => &self.name_fr,
            crate::i18n::Lang::En => &self.name_en,
        }
    }
}

type RoleRow = (i64, String, String, String, bool, Option<PrimitiveDateTime>);

async fn rows(db: &mut Db, id: Option<i64>) -> QResult<Vec<RoleRow>> {
    db_run!(db, |c| {
        let mut q = roles::table
            .filter(roles::scope.eq(RoleScope::Platform.as_str()))
            .order(roles::id)
            .select((
                roles::id,
                roles::key,
                roles::name_en,
                roles::name_fr,
                roles::built_in,
                roles::updated_at,
            ))
            .into_boxed();
        if let Some(id) = id {
            q = q.filter(roles::id.eq(id));
        }
        q.load(c).await
    })
}

/// Every platform role in id order (built-in first), with grants and counts.
pub async fn all(db: &mut Db) -> QResult<Vec<Role>> {
    let rows = rows(db, None).await?;
    complete(db, rows).await
}

/// One platform role.
pub async fn find(db: &mut Db, id: i64) -> QResult<Option<Role>> {
    let rows = rows(db, Some(id)).await?;
    Ok(complete(db, rows).await?.into_iter().next())
}

async fn complete(db: &mut Db, rows: Vec<RoleRow>) -> QResult<Vec<Role>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let grants: Vec<(i64, String)> = db_run!(db, |c| role_permissions::table
        .filter(role_permissions::role_id.eq_any(&ids))
        .select((role_permissions::role_id, role_permissions::permission))
        .load(c)
        .await)?;
    let counts: Vec<(i64, i64)> = db_run!(db, |c| user_roles::table
        .filter(user_roles::role_id.eq_any(&ids))
        .group_by(user_roles::role_id)
        .select((user_roles::role_id, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    let counts: HashMap<i64, i64> = counts.into_iter().collect();
    let mut by_role: HashMap<i64, BTreeSet<Permission>> = HashMap::new();
    for (role, key) in grants {
        if let Some(p) = Permission::parse(&key) {
            by_role.entry(role).or_default().insert(p);
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, key, name_en, name_fr, built_in, updated_at)| Role {
            permissions: by_role.remove(&id).unwrap_or_default(),
            members: counts.get(&id).copied().unwrap_or(0),
            id,
            key,
            name_en,
            name_fr,
            built_in,
            updated_at,
        })
        .collect())
}
