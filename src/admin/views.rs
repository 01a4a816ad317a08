//! What the admin templates are given.

use askama::Template;

use crate::admin::store::EventRow;
use crate::db::types::Outcome;
use crate::web::layout::PageCtx;

pub struct EventView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    pub ip: String,
    pub client_id: String,
    pub request_id: String,
    pub details: String,
}

impl EventView {
    pub fn of(r: EventRow) -> EventView {
        let (id, at, _kind, actor, action, tt, tid, outcome, ip, client, rid, details) = r;
        EventView {
            id,
            at: format!(
                "{} {:02}:{:02}:{:02}",
                at.date(),
                at.hour(),
                at.minute(),
                at.second()
            ),
            actor,
            action,
            target: match (tt, tid) {
                (Some(t), Some(i)) => format!("{t} {i}"),
                (Some(t), None) => t,
                _ => String::new(),
            },
            outcome,
            ip: ip.unwrap_or_default(),
            client_id: client.unwrap_or_default(),
            request_id: rid.unwrap_or_default(),
            details,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html", blocks = ["rows"])]
pub struct AuditPage {
    pub ctx: PageCtx,
    pub events: Vec<EventView>,
    pub outcome: String,
    pub action: String,
    pub next_before: Option<i64>,
    pub query_base: String,
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
