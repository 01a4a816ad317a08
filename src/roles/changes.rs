//! Creating, editing and deleting custom platform roles, each with its audit
//! event (the permission diff) in the caller's transaction, and a bump of
//! `roles_version` so every instance drops its copy of the role tables.
//!
//! No escalation: whoever edits may only put in a role permissions they
//! hold themselves, and may only touch a role whose every permission they
//! hold (so nobody trims or deletes a role more powerful than their own).
//! `roles.manage` is no exception: only someone holding it (every editor
//! does, the routes require it) can hand it on.

use std::collections::{BTreeSet, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::catalog;
use super::store::{self, Role};
use crate::access::Permission;
use crate::access::role_cache::roles_changed;
use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::Tx;
use crate::db::schema::{role_permissions, roles, user_roles};
use crate::db::types::RoleScope;
use crate::db_run;

pub const NAME_MAX: usize = 60;

/// A role as the form gives it, validated by [`read`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleInput {
    pub name_en: String,
    pub name_fr: String,
    /// Always holds [`catalog::ALWAYS`].
    pub permissions: BTreeSet<Permission>,
}

/// A form field and the message key of its problem.
pub type Problem = (&'static str, &'static str);

/// The role the form describes, or each field's problem. An unknown or
/// unassignable permission is refused rather than dropped: the form only
/// offers assignable ones, so anything else is a forged request.
pub fn read(fields: &[(String, String)]) -> Result<RoleInput, Vec<Problem>> {
    let get = |k: &str| crate::web::form::field(fields, k);
    let name_en = get("name_en").trim().to_owned();
    let mut name_fr = get("name_fr").trim().to_owned();
    let mut problems = Vec::new();
    if name_en.is_empty() {
        problems.push(("name_en", "roles.name_required"));
    } else if name_en.chars().count() > NAME_MAX || name_en.chars().any(char::is_control) {
        problems.push(("name_en", "roles.name_invalid"));
    }
    if name_fr.chars().count() > NAME_MAX || name_fr.chars().any(char::is_control) {
        problems.push(("name_fr", "roles.name_invalid"));
    }
    if name_fr.is_empty() {
        name_fr = name_en.clone();
    }
    let mut permissions = BTreeSet::from([catalog::ALWAYS]);
    for key in crate::web::form::all(fields, "permissions") {
        match Permission::parse(key).filter(|p| catalog::assignable(*p)) {
            Some(p) => {
                permissions.insert(p);
            }
            None => {
                problems.push(("permissions", "roles.permission_unknown"));
                break;
            }
        }
    }
    if permissions.len() == 1 && problems.iter().all(|p| p.0 != "permissions") {
        problems.push(("permissions", "roles.permissions_required"));
    }
    if problems.is_empty() {
        Ok(RoleInput {
            name_en,
            name_fr,
            permissions,
        })
    } else {
        Err(problems)
    }
}

/// Refuses a set holding a permission the editor lacks.
fn grantable(held: &HashSet<Permission>, wanted: &BTreeSet<Permission>) -> ChangeResult<()> {
    if wanted.iter().all(|p| held.contains(p)) {
        Ok(())
    } else {
        Err(ChangeError::Invalid("roles.escalation"))
    }
}

async fn load(tx: &mut Tx<'_>, id: i64) -> ChangeResult<Role> {
    store::find(tx, id).await?.ok_or(ChangeError::NotFound)
}

/// A custom role the editor may touch: not built in, nothing beyond what
/// the editor holds.
async fn editable(tx: &mut Tx<'_>, held: &HashSet<Permission>, id: i64) -> ChangeResult<Role> {
    let role = load(tx, id).await?;
    if role.built_in {
        return Err(ChangeError::Invalid("roles.built_in"));
    }
    grantable(held, &role.permissions)?;
    Ok(role)
}

/// Names are how people pick a role: no two roles share one, in either
/// language, whatever the case.
async fn name_free(tx: &mut Tx<'_>, except: Option<i64>, input: &RoleInput) -> ChangeResult<()> {
    let names: Vec<(i64, String, String)> = db_run!(tx, |c| roles::table
        .select((roles::id, roles::name_en, roles::name_fr))
        .load(c)
        .await)?;
    let wanted = [input.name_en.to_lowercase(), input.name_fr.to_lowercase()];
    let taken = names.iter().any(|(id, en, fr)| {
        Some(*id) != except
            && (wanted.contains(&en.to_lowercase()) || wanted.contains(&fr.to_lowercase()))
    });
    if taken {
        Err(ChangeError::Invalid("roles.name_taken"))
    } else {
        Ok(())
    }
}

/// The stored key: the English name in lower-case ASCII words joined by
/// `-`, made unique with a number (`auditor`, `auditor-2`).
async fn free_key(tx: &mut Tx<'_>, name: &str) -> ChangeResult<String> {
    let slug = slug(name);
    let taken: Vec<String> = db_run!(tx, |c| roles::table
        .filter(roles::key.like(format!("{slug}%")))
        .select(roles::key)
        .load(c)
        .await)?;
    let mut key = slug.clone();
    let mut n = 2;
    while taken.contains(&key) {
        key = format!("{slug}-{n}");
        n += 1;
    }
    Ok(key)
}

fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let joined = words.join("-");
    let cut: String = joined.chars().take(40).collect();
    if cut.is_empty() {
        "custom-role".to_owned()
    } else {
        format!("custom-{cut}")
    }
}

fn keys(perms: &BTreeSet<Permission>) -> Vec<&'static str> {
    perms.iter().map(|p| p.key()).collect()
}

async fn write_permissions(
    tx: &mut Tx<'_>,
    id: i64,
    perms: &BTreeSet<Permission>,
) -> ChangeResult<()> {
    db_run!(tx, |c| diesel::delete(
        role_permissions::table.filter(role_permissions::role_id.eq(id))
    )
    .execute(c)
    .await)?;
    // One row at a time: a role holds at most a couple dozen, and SQLite's
    // batch insert has no form diesel writes for both engines.
    for p in perms {
        db_run!(tx, |c| diesel::insert_into(role_permissions::table)
            .values((
                role_permissions::role_id.eq(id),
                role_permissions::permission.eq(p.key()),
            ))
            .execute(c)
            .await)?;
    }
    Ok(())
}

pub async fn create(
    tx: &mut Tx<'_>,
    by: &By,
    held: &HashSet<Permission>,
    input: &RoleInput,
) -> ChangeResult<i64> {
    grantable(held, &input.permissions)?;
    name_free(tx, None, input).await?;
    let key = free_key(tx, &input.name_en).await?;
    let id: i64 = db_run!(tx, |c| diesel::insert_into(roles::table)
        .values((
            roles::key.eq(&key),
            roles::name_en.eq(&input.name_en),
            roles::name_fr.eq(&input.name_fr),
            roles::scope.eq(RoleScope::Platform.as_str()),
            roles::built_in.eq(false),
            roles::updated_at.eq(by.now),
        ))
        .returning(roles::id)
        .get_result(c)
        .await)?;
    write_permissions(tx, id, &input.permissions).await?;
    roles_changed(tx).await?;
    by.record(
        tx,
        Event::new(Action::RoleCreated)
            .target("role", id)
            .details(json!({
                "role": key,
                "added": keys(&input.permissions),
                "after": snapshot(&input.name_en, &input.name_fr, &input.permissions),
            })),
    )
    .await?;
    Ok(id)
}

/// The fields the event page shows side by side.
fn snapshot(name_en: &str, name_fr: &str, perms: &BTreeSet<Permission>) -> Value {
    json!({ "name_en": name_en, "name_fr": name_fr, "permissions": keys(perms).join(", ") })
}

/// Saves the role; `false` when nothing changed (no event then).
pub async fn update(
    tx: &mut Tx<'_>,
    by: &By,
    held: &HashSet<Permission>,
    id: i64,
    input: &RoleInput,
) -> ChangeResult<bool> {
    let role = editable(tx, held, id).await?;
    grantable(held, &input.permissions)?;
    let before = RoleInput {
        name_en: role.name_en.clone(),
        name_fr: role.name_fr.clone(),
        permissions: role.permissions.clone(),
    };
    if before == *input {
        return Ok(false);
    }
    name_free(tx, Some(id), input).await?;
    db_run!(tx, |c| diesel::update(roles::table.find(id))
        .set((
            roles::name_en.eq(&input.name_en),
            roles::name_fr.eq(&input.name_fr),
            roles::updated_at.eq(by.now),
        ))
        .execute(c)
        .await)?;
    write_permissions(tx, id, &input.permissions).await?;
    roles_changed(tx).await?;
    let added: BTreeSet<Permission> = input
        .permissions
        .difference(&before.permissions)
        .copied()
        .collect();
    let removed: BTreeSet<Permission> = before
        .permissions
        .difference(&input.permissions)
        .copied()
        .collect();
    by.record(
        tx,
        Event::new(Action::RoleUpdated)
            .target("role", id)
            .details(json!({
                "role": role.key,
                "added": keys(&added),
                "removed": keys(&removed),
                "members": role.members,
                "before": snapshot(&before.name_en, &before.name_fr, &before.permissions),
                "after": snapshot(&input.name_en, &input.name_fr, &input.permissions),
            })),
    )
    .await?;
    Ok(true)
}

/// Deletes a custom role nobody holds.
pub async fn delete(
    tx: &mut Tx<'_>,
    by: &By,
    held: &HashSet<Permission>,
    id: i64,
) -> ChangeResult<()> {
    let role = editable(tx, held, id).await?;
    if role.members > 0 {
        return Err(ChangeError::Invalid("roles.in_use"));
    }
    // Counted again under the delete: a grant racing this one makes the
    // foreign key refuse, never a dangling grant.
    let holders: i64 = db_run!(tx, |c| user_roles::table
        .filter(user_roles::role_id.eq(id))
        .count()
        .get_result(c)
        .await)?;
    if holders > 0 {
        return Err(ChangeError::Invalid("roles.in_use"));
    }
    db_run!(tx, |c| diesel::delete(roles::table.find(id))
        .execute(c)
        .await)?;
    roles_changed(tx).await?;
    by.record(
        tx,
        Event::new(Action::RoleDeleted)
            .target("role", id)
            .details(json!({
                "role": role.key,
                "removed": keys(&role.permissions),
                "before": snapshot(&role.name_en, &role.name_fr, &role.permissions),
            })),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn read_takes_assignable_permissions_and_adds_admin_access() {
        let input = read(&fields(&[
            ("name_en", " Auditor "),
            ("permissions", "audit.read"),
            ("permissions", "users.read"),
        ]))
        .unwrap();
        assert_eq!(input.name_en, "Auditor");
        assert_eq!(input.name_fr, "Auditor");
        assert_eq!(
            keys(&input.permissions),
            vec!["admin.access", "users.read", "audit.read"]
        );
    }

    #[test]
    fn read_refuses_what_the_form_never_offers() {
        let problems = read(&fields(&[("name_en", "X"), ("permissions", "users.sync")]));
        assert_eq!(
            problems.unwrap_err(),
            vec![("permissions", "roles.permission_unknown")]
        );
        let problems = read(&fields(&[("name_en", ""), ("name_fr", "a\u{7}")]));
        assert_eq!(
            problems.unwrap_err(),
            vec![
                ("name_en", "roles.name_required"),
                ("name_fr", "roles.name_invalid"),
                ("permissions", "roles.permissions_required")
            ]
        );
    }

    #[test]
    fn keys_are_ascii_slugs() {
        assert_eq!(
            slug("Équipe facturation (EU)"),
            "custom-quipe-facturation-eu"
        );
        assert_eq!(slug("——"), "custom-role");
    }

    #[test]
    fn nothing_beyond_what_the_editor_holds() {
        let held: HashSet<Permission> = [Permission::AdminAccess, Permission::UsersRead].into();
        let ok: BTreeSet<Permission> = [Permission::AdminAccess, Permission::UsersRead].into();
        assert!(grantable(&held, &ok).is_ok());
        let more: BTreeSet<Permission> = [Permission::AdminAccess, Permission::RolesManage].into();
        assert!(grantable(&held, &more).is_err());
    }
}
