//! What the users templates are given: one struct per template (pages,
//! page sections, fragments), the row and choice types they show, and the
//! labels of stored values.

use askama::Template;

use crate::web::format::date_time;

use crate::user_record::model::User;
use crate::users::store::list::ListParams;
use crate::web::event_view::EventView;
use crate::web::form::FormState;
use crate::web::layout::PageCtx;
use crate::web::section::Section;
use crate::web::table::DataTable;

use crate::access::{Actor, Permission, can};
use crate::db::types::{UserStatus, UserType};
use crate::i18n::Lang;
use crate::user_record::model::Listed;

pub fn status_label(lang: Lang, s: UserStatus) -> &'static str {
    lang.t(s.label_key())
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
    /// The day, on one short line; the time is in `*_full` (on hover).
    pub created: String,
    pub created_full: String,
    pub last_login: String,
    pub last_login_full: String,
    /// The plan's code; `plan_default`: from the default plan (no live subscription).
    pub plan: String,
    pub plan_default: bool,
    /// This month's `articles · images · social posts`, and the alert level reached.
    pub usage: String,
    pub usage_level: i32,
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
            created: u.created_at.date().to_string(),
            created_full: date_time(u.created_at),
            last_login: u
                .last_login_at
                .map(|t| t.date().to_string())
                .unwrap_or_else(|| lang.t("users.never").to_owned()),
            last_login_full: u.last_login_at.map(date_time).unwrap_or_default(),
            plan: String::new(),
            plan_default: false,
            usage: String::new(),
            usage_level: 0,
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
    pub reset_password: bool,
    /// May read workspaces (the user's memberships section).
    pub workspaces: bool,
    /// May read usage (the usage section, loaded from the usage area).
    pub usage: bool,
    /// May read billing (the billing section, loaded from the billing area).
    pub billing: bool,
    /// May read jobs (the jobs section, loaded from the jobs area).
    pub jobs: bool,
    /// May manage sessions (the sessions section, from the sessions area).
    pub sessions: bool,
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
            reset_password: can(actor, Permission::UsersPasswordReset, None),
            workspaces: can(actor, Permission::WorkspacesRead, None),
            usage: can(actor, Permission::UsageRead, None),
            billing: can(actor, Permission::BillingRead, None),
            jobs: can(actor, Permission::JobsRead, None),
            sessions: can(actor, Permission::SessionsManage, None),
        }
    }
}

pub use crate::web::form::Choice;

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

/// The user's workspaces, linked, with their role in each.
#[derive(Template)]
#[template(path = "users/_workspaces.html")]
pub struct WorkspacesSection<'a> {
    pub ctx: &'a PageCtx,
    pub held: Vec<crate::user_record::memberships::Held>,
}

/// Where the usage area's section is loaded (htmx), with a link without it.
#[derive(Template)]
#[template(path = "users/_usage.html")]
pub struct UsagePlaceholder<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
}

/// Where the billing area's section is loaded (htmx), with a link without it.
#[derive(Template)]
#[template(path = "users/_billing.html")]
pub struct BillingPlaceholder<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
}

/// Where the sessions area's section is loaded (htmx), with a link without it.
#[derive(Template)]
#[template(path = "users/_sessions.html")]
pub struct SessionsPlaceholder<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
}

/// Where the jobs area's section is loaded (htmx), with a link without it.
#[derive(Template)]
#[template(path = "users/_jobs.html")]
pub struct JobsPlaceholder<'a> {
    pub ctx: &'a PageCtx,
    pub user_id: i64,
}

#[derive(Template)]
#[template(path = "users/page.html")]
pub struct UserPage {
    pub ctx: PageCtx,
    pub title: String,
    pub header: Section,
    pub deleted: bool,
    pub erased: bool,
    pub sections: Vec<Section>,
}

/// The page's header: who, their status and roles, the key facts, and
/// the links to the sections. Swapped out of band after every change, so
/// it never contradicts the section that changed.
#[derive(Template)]
#[template(path = "users/_header.html")]
pub struct HeaderSection<'a> {
    pub ctx: &'a PageCtx,
    pub u: &'a User,
    pub title: String,
    pub status_text: &'static str,
    pub type_text: &'static str,
    pub roles: Vec<String>,
    pub created: String,
    pub last_login: String,
    /// (element id, label) of each section shown.
    pub anchors: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "users/_profile.html")]
pub struct ProfileSection<'a> {
    pub ctx: &'a PageCtx,
    pub u: &'a User,
    pub can: Abilities,
    pub form: FormState,
    pub types: Vec<Choice>,
    pub status_text: &'static str,
    pub type_text: &'static str,
    pub created: String,
    pub last_login: String,
    pub status_changed: String,
}

#[derive(Template)]
#[template(path = "users/_status.html")]
pub struct StatusSection<'a> {
    pub ctx: &'a PageCtx,
    pub u: &'a User,
    pub can: Abilities,
    pub form: FormState,
    pub statuses: Vec<Choice>,
    pub status_text: &'static str,
}

pub struct RoleLine {
    pub key: String,
    pub label: String,
    pub held: bool,
    /// The question asked before the change, when it needs one (granting
    /// Administrator, changing one's own roles).
    pub confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "users/_roles.html")]
pub struct RolesSection<'a> {
    pub ctx: &'a PageCtx,
    pub u: &'a User,
    pub can: Abilities,
    pub form: FormState,
    pub roles: Vec<RoleLine>,
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "users/_security.html")]
pub struct SecuritySection<'a> {
    pub ctx: &'a PageCtx,
    pub u: &'a User,
    pub can: Abilities,
    pub notice: Option<String>,
    /// The page is the viewer's own: a reset signs them out.
    pub is_self: bool,
}

pub struct LoginLine {
    pub at: String,
    pub ip: String,
    /// "Chrome 131 · Linux"; the full string is shown on hover.
    pub device: String,
    pub user_agent: String,
    pub client_id: String,
    pub event: String,
    pub success: bool,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "users/_logins.html")]
pub struct LoginsSection<'a> {
    pub ctx: &'a PageCtx,
    pub lines: Vec<LoginLine>,
}

pub struct NoteLine {
    pub author: String,
    pub at: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "users/_notes.html")]
pub struct NotesSection<'a> {
    pub ctx: &'a PageCtx,
    pub u: &'a User,
    pub can: Abilities,
    pub form: FormState,
    pub notes: Vec<NoteLine>,
}

/// A user's history: what was done to them (`changes`) or what they did
/// (`activity`), newest first, a page at a time.
#[derive(Template)]
#[template(path = "users/_audit.html", blocks = ["rows"])]
pub struct AuditSection<'a> {
    pub ctx: &'a PageCtx,
    pub side: &'static str,
    pub events: Vec<EventView>,
    /// The next (older) page of events, if any.
    pub more_href: Option<String>,
    /// A later page: no "no events" line when it is empty.
    pub continued: bool,
}

#[derive(Template)]
#[template(path = "users/_danger.html")]
pub struct DangerSection<'a> {
    pub ctx: &'a PageCtx,
    pub u: &'a User,
    pub can: Abilities,
    pub form: FormState,
    /// The page is the viewer's own: deleting it signs them out.
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "users/list.html", blocks = ["results"])]
pub struct ListPage {
    pub ctx: PageCtx,
    pub params: ListParams,
    pub rows: Vec<UserRow>,
    pub table: DataTable,
    pub statuses: Vec<Choice>,
    pub types: Vec<Choice>,
    pub roles: Vec<Choice>,
    pub plans: Vec<Choice>,
    pub usage_levels: Vec<Choice>,
    pub sizes: Vec<Choice>,
    pub can: Abilities,
    pub filter_fields: Vec<(&'static str, String)>,
    /// What is wrong with the date filters (an i18n key).
    pub date_problem: Option<&'static str>,
    /// How the rows of a text search are ranked (an i18n key), if any are shown.
    pub ranking: Option<&'static str>,
    /// Some filter narrows the list (the empty state offers a reset).
    pub filtered: bool,
    /// The sort as the URL gives it (kept by the filter form).
    pub sort_param: String,
    /// The page size used when the URL names none (remembered or default).
    pub default_size: i64,
}

#[derive(Template)]
#[template(path = "users/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub error: Option<String>,
    pub field: Option<&'static str>,
    pub email: String,
    pub name: String,
    pub company: String,
    pub types: Vec<Choice>,
    pub roles: Vec<Choice>,
    pub can_roles: bool,
}

#[derive(Template)]
#[template(path = "users/created.html")]
pub struct CreatedPage {
    pub ctx: PageCtx,
    pub id: i64,
    pub email: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "users/bulk_confirm.html", blocks = ["body"])]
pub struct ConfirmPage {
    pub ctx: PageCtx,
    pub action_url: &'static str,
    pub question: String,
    /// What the viewer should know first ("you are in the selection").
    pub warnings: Vec<String>,
    /// The button names the action ("Suspend 12 users").
    pub button: String,
    pub needs_reason: bool,
    pub fields: Vec<(String, String)>,
    pub back: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "users/search_results.html")]
pub struct Results {
    pub ctx: PageCtx,
    pub rows: Vec<UserRow>,
    pub more_href: String,
}

/// The list's match count, fetched after the rows (escaped by askama).
#[derive(Template)]
#[template(
    source = r#"<span id="user-count" data-count="{{ n }}">{{ text }}</span><span id="all-matching-label" hx-swap-oob="true">{{ all }}</span>"#,
    ext = "html"
)]
pub struct CountBadge {
    pub n: i64,
    pub text: String,
    /// "Select all 1,234 matching", swapped into the selection bar.
    pub all: String,
}

/// A confirmation opened as a modal dialog over the page (htmx).
#[derive(Template)]
#[template(
    source = r#"<dialog class="modal" data-open aria-labelledby="bulk-title">{{ body|safe }}</dialog>"#,
    ext = "html"
)]
pub struct Dialog {
    /// Already rendered (and escaped) by its own template.
    pub body: String,
}
