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
    pub members: i64,
    pub managers: i64,
    pub created: String,
}

#[derive(Template)]
#[template(path = "workspaces/list.html")]
pub struct ListPage {
    pub ctx: PageCtx,
    pub rows: Vec<WorkspaceRow>,
    pub q: String,
    pub shown: Vec<Choice>,
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
    pub members_capped: bool,
    /// The workspace may be changed by this actor (BASE: administrators).
    pub can_manage: bool,
    pub history: Vec<EventView>,
    pub error: Option<String>,
}
