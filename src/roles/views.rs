//! Template structs of the role screens.

use std::collections::{BTreeSet, HashSet};

use askama::Template;

use super::catalog::{self, AREAS};
use super::store::Role;
use crate::access::Permission;
use crate::i18n::Lang;
use crate::web::event_view::EventView;
use crate::web::layout::PageCtx;

/// One permission's checkbox.
pub struct PermBox {
    pub key: &'static str,
    pub name: &'static str,
    pub help: &'static str,
    pub checked: bool,
    /// The editor does not hold it, so cannot grant it.
    pub locked: bool,
}

/// One area of the form, its permissions in order.
pub struct AreaBoxes {
    pub label: &'static str,
    pub boxes: Vec<PermBox>,
}

/// The areas with the role's permissions ticked; `held` decides what the
/// editor may tick (`None`: shown read-only, nothing to tick).
pub fn areas(
    lang: Lang,
    checked: &BTreeSet<Permission>,
    held: Option<&HashSet<Permission>>,
) -> Vec<AreaBoxes> {
    AREAS
        .iter()
        .map(|a| AreaBoxes {
            label: lang.t(&format!("roles.area_{}", a.key)),
            boxes: a
                .permissions
                .iter()
                .map(|p| PermBox {
                    key: p.key(),
                    name: lang.t(&format!("perm.{}", p.key())),
                    help: lang.t(&format!("perm_help.{}", p.key())),
                    checked: checked.contains(p),
                    locked: held.is_none_or(|h| !h.contains(p)),
                })
                .collect(),
        })
        .collect()
}

/// The role form, new or edited, with what was typed and each field's problem.
pub struct RoleForm {
    pub action: String,
    pub editing: bool,
    pub name_en: String,
    pub name_fr: String,
    pub areas: Vec<AreaBoxes>,
    pub problems: Vec<(&'static str, String)>,
}

impl RoleForm {
    pub fn err(&self, key: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, m)| m.as_str())
    }
}

/// The permissions of `form` as typed (what the page shows back after a refusal).
pub fn typed_permissions(fields: &[(String, String)]) -> BTreeSet<Permission> {
    crate::web::form::all(fields, "permissions")
        .filter_map(Permission::parse)
        .chain([catalog::ALWAYS])
        .collect()
}

/// A role in the list.
pub struct RoleRow {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub built_in: bool,
    pub members: i64,
    pub permissions: String,
    pub count: usize,
}

impl RoleRow {
    pub fn of(lang: Lang, r: &Role) -> Self {
        let names: Vec<&str> = r
            .permissions
            .iter()
            .filter(|p| **p != catalog::ALWAYS)
            .map(|p| lang.get(&format!("perm.{}", p.key())).unwrap_or(p.key()))
            .collect();
        RoleRow {
            id: r.id,
            key: r.key.clone(),
            name: r.name(lang).to_owned(),
            built_in: r.built_in,
            members: r.members,
            count: names.len(),
            permissions: names.join(" · "),
        }
    }
}

#[derive(Template)]
#[template(path = "roles/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub rows: Vec<RoleRow>,
}

#[derive(Template)]
#[template(path = "roles/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub form: RoleForm,
}

#[derive(Template)]
#[template(path = "roles/page.html")]
pub struct RolePage {
    pub ctx: PageCtx,
    pub row: RoleRow,
    pub updated: String,
    /// The edit form; `None` when the role is shown read-only.
    pub form: Option<RoleForm>,
    /// The permissions, read-only (built-in roles, or beyond the viewer).
    pub areas: Vec<AreaBoxes>,
    /// Why the role cannot be edited, if it cannot.
    pub locked_reason: Option<&'static str>,
    pub saved: bool,
    pub error: Option<String>,
    pub history: Vec<EventView>,
}
