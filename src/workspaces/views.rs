//! Template structs of the workspace screens.

use askama::Template;

use crate::web::event_view::EventView;
use crate::web::form::Choice;
use crate::web::layout::PageCtx;

pub struct WorkspaceRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub is_base: bool,
    pub archived: bool,
    /// Counts as shown (grouped: 12,345).
    pub members: String,
    pub managers: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "workspaces/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub rows: Vec<WorkspaceRow>,
    pub q: String,
    pub shown: Vec<Choice>,
    pub sorts: Vec<Choice>,
    pub can_manage: bool,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
}

#[derive(Template)]
#[template(path = "workspaces/new.html")]
pub struct NewPage {
    pub ctx: PageCtx,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub error: Option<String>,
}

pub struct MemberView {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub active: bool,
    pub status: &'static str,
    pub is_manager: bool,
    pub since: String,
}

#[derive(Template)]
#[template(path = "workspaces/page.html")]
pub struct WorkspacePage {
    pub ctx: PageCtx,
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub is_base: bool,
    pub archived: bool,
    pub created: String,
    pub description: String,
    pub locales: Vec<Choice>,
    pub require_two_factor: bool,
    pub members: Vec<MemberView>,
    /// Every member, of which `members` is one page.
    pub members_total: String,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    /// The workspace may be changed by this actor (BASE: administrators).
    pub can_manage: bool,
    pub can_manage_members: bool,
    /// Where the member and settings forms post.
    pub actions_base: String,
    pub link_users: bool,
    pub show_emails: bool,
    pub history: Vec<EventView>,
    pub error: Option<String>,
}

/// One of the signed-in user's workspaces, on `/workspaces`.
pub struct MineRow {
    pub slug: String,
    pub name: String,
    pub is_base: bool,
    pub archived: bool,
    pub is_manager: bool,
    /// Members and settings may be managed (not BASE, unless administrator).
    pub manages: bool,
}

#[derive(Template)]
#[template(path = "workspaces/mine.html")]
pub struct MinePage {
    pub ctx: PageCtx,
    pub rows: Vec<MineRow>,
}

/// A workspace's members as its managers and members see them.
#[derive(Template)]
#[template(path = "workspaces/managed_members.html")]
pub struct MembersPage {
    pub ctx: PageCtx,
    pub slug: String,
    pub name: String,
    pub is_base: bool,
    pub archived: bool,
    pub members: Vec<MemberView>,
    /// Every member, of which `members` is one page.
    pub members_total: String,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub can_manage_members: bool,
    pub can_manage_settings: bool,
    pub actions_base: String,
    pub link_users: bool,
    pub show_emails: bool,
    pub error: Option<String>,
}

/// A workspace's settings as its managers edit them.
#[derive(Template)]
#[template(path = "workspaces/managed_settings.html")]
pub struct SettingsPage {
    pub ctx: PageCtx,
    pub slug: String,
    pub name: String,
    pub archived: bool,
    pub description: String,
    pub locales: Vec<Choice>,
    pub require_two_factor: bool,
    pub actions_base: String,
    pub error: Option<String>,
}
