//! What the admin templates are given.

use askama::Template;

use crate::admin::audit_filter::Filters;
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
    pub actor_types: Vec<Choice>,
    /// The address filter is neither an address nor a network.
    pub ip_problem: bool,
    pub target_types: Vec<Choice>,
    pub chips: Vec<Chip>,
    pub date_problem: Option<&'static str>,
    /// Back to the newest events, when on an older page.
    pub first_page: Option<String>,
    pub next_href: Option<String>,
    /// The search stopped short of the oldest events (and says where).
    pub stopped: Option<String>,
    /// The last tamper check: sound or not, and what it found.
    pub chain: ChainLine,
    /// How long events are kept.
    pub retention: String,
    /// The viewer's saved views of this screen.
    pub views: Vec<crate::admin::saved_views::View>,
    /// The viewer may export the filtered trail.
    pub can_export: bool,
}

/// One line on the audit page from the periodic chain check.
pub struct ChainLine {
    /// `ok`, `error` or `warn` (never checked): the notice's class.
    pub class: &'static str,
    pub text: String,
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

#[derive(Template)]
#[template(path = "admin/event.html")]
pub struct EventPage {
    pub ctx: PageCtx,
    pub event: EventView,
    pub workspace_id: Option<i64>,
    pub workspace_href: Option<String>,
    /// The event's link in the chain (none: written before it, not yet
    /// linked).
    pub seq: Option<i64>,
    pub hash: String,
    pub prev_hash: String,
    /// The user agent read ("Firefox 133 on Linux").
    pub browser: String,
    /// The audit trail filtered on this event's actor, target, address, app.
    pub by_actor: Option<String>,
    pub by_target: Option<String>,
    pub by_ip: Option<String>,
    pub by_client: Option<String>,
}
