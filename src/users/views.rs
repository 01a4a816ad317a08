//! Shared view helpers for the users screens.

use time::PrimitiveDateTime;

use crate::access::{Actor, Permission, can};
use crate::db::types::{UserStatus, UserType};
use crate::i18n::Lang;
use crate::user_record::model::Listed;

pub fn date_time(t: PrimitiveDateTime) -> String {
    format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute())
}

pub fn opt_date_time(t: Option<PrimitiveDateTime>) -> String {
    t.map(date_time).unwrap_or_default()
}

pub fn status_label(lang: Lang, s: UserStatus) -> &'static str {
    lang.t(match s {
        UserStatus::Active => "status.ACTIVE",
        UserStatus::Pending => "status.PENDING",
        UserStatus::Suspended => "status.SUSPENDED",
        UserStatus::Inactive => "status.INACTIVE",
    })
}

pub fn type_label(lang: Lang, t: UserType) -> &'static str {
    lang.t(match t {
        UserType::Internal => "type.INTERNAL",
        UserType::External => "type.EXTERNAL",
    })
}

/// A row of the user list.
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub company: String,
    pub status: &'static str,
    pub status_key: &'static str,
    pub user_type: &'static str,
    pub roles: String,
    pub created: String,
    pub last_login: String,
}

impl UserRow {
    pub fn new(lang: Lang, u: &Listed, roles: String) -> Self {
        UserRow {
            id: u.id,
            name: u.name.clone(),
            email: u.email.clone(),
            company: u.company.clone(),
            status: status_label(lang, u.status),
            status_key: u.status.as_str(),
            user_type: type_label(lang, u.user_type),
            roles,
            created: date_time(u.created_at),
            last_login: opt_date_time(u.last_login_at),
        }
    }
}

/// What the viewer may do on the users screens.
#[derive(Clone, Copy, Debug)]
pub struct Abilities {
    pub write: bool,
    pub roles: bool,
    pub notes: bool,
    pub delete: bool,
    pub audit: bool,
    pub export: bool,
}

impl Abilities {
    pub fn of(actor: &Actor) -> Self {
        Abilities {
            write: can(actor, Permission::UsersWrite, None),
            roles: can(actor, Permission::RolesManage, None),
            notes: can(actor, Permission::NotesWrite, None),
            delete: can(actor, Permission::UsersDelete, None),
            audit: can(actor, Permission::AuditRead, None),
            export: can(actor, Permission::ExportsRun, None),
        }
    }
}

/// An option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub fn status_choices(lang: Lang, current: &str, with_deleted: bool) -> Vec<Choice> {
    let mut out: Vec<Choice> = UserStatus::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str().into(),
            label: status_label(lang, *s).into(),
            selected: current == s.as_str(),
        })
        .collect();
    if with_deleted {
        out.push(Choice {
            value: "DELETED".into(),
            label: lang.t("status.DELETED").into(),
            selected: current == "DELETED",
        });
    }
    out
}

pub fn type_choices(lang: Lang, current: &str) -> Vec<Choice> {
    UserType::ALL
        .iter()
        .map(|t| Choice {
            value: t.as_str().into(),
            label: type_label(lang, *t).into(),
            selected: current == t.as_str(),
        })
        .collect()
}
