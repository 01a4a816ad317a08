//! What the admin templates are given.

use askama::Template;

use crate::admin::handlers::Filters;
use crate::web::event_view::EventView;
use crate::web::layout::PageCtx;
use crate::web::table::Chip;

pub use crate::web::form::Choice;

/// The actions of one area, under the choice of the whole area.
pub struct ActionGroup {
    pub area: String,
    pub label: String,
    pub all_value: String,
    pub all_selected: bool,
    pub actions: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin/audit.html", blocks = ["results"])]
pub struct AuditPage {
    pub ctx: PageCtx,
    pub filters: Filters,
    pub events: Vec<EventView>,
    pub actions: Vec<ActionGroup>,
    pub outcomes: Vec<Choice>,
    pub target_types: Vec<Choice>,
    pub chips: Vec<Chip>,
    pub date_problem: Option<&'static str>,
    /// Back to the newest events, when on an older page.
    pub first_page: Option<String>,
    pub next_href: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    pub ctx: PageCtx,
    pub users: i64,
    pub sessions: i64,
    pub denied_24h: i64,
    pub events: Vec<EventView>,
    pub show_audit: bool,
}
