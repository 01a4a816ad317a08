//! `/admin`: a few figures and the latest events the user may see.
//! `/admin/audit`: the audit trail, newest first, filtered by outcome and
//! action, paginated by keyset (`before` = last id seen), never by OFFSET.

use axum::extract::{Query, State};
use axum::response::Response;
use axum_htmx::HxRequest;
use serde::Deserialize;

use crate::access::{Permission, can};
use crate::admin::store;
use crate::admin::views::{AuditPage, DashboardPage, EventView};
use crate::db::types::Outcome;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::current::SignedIn;
use crate::web::layout::PageCtx;
use crate::web::render::html;

const PAGE_SIZE: i64 = 50;

pub async fn dashboard(
    State(state): State<AppState>,
    ctx: PageCtx,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let now = state.clock.now_primitive();
    let users = store::approximate_users(&mut db).await?;
    let sessions = store::live_sessions(&mut db, now - state.config.session_idle).await?;
    let denied_24h = store::denied_since(&mut db, now - time::Duration::days(1)).await?;
    let show_audit = can(&actor, Permission::AuditRead, None);
    let events = if show_audit {
        store::latest(&mut db, 10)
            .await?
            .into_iter()
            .map(EventView::of)
            .collect()
    } else {
        Vec::new()
    };
    html(&DashboardPage {
        ctx,
        users,
        sessions,
        denied_24h,
        events,
        show_audit,
    })
}

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    before: String,
}

pub async fn audit(
    State(state): State<AppState>,
    ctx: PageCtx,
    HxRequest(htmx): HxRequest,
    Query(f): Query<Filters>,
) -> Result<Response, AppError> {
    let outcome = Outcome::parse(f.outcome.trim());
    let action: String = f.action.trim().chars().take(100).collect();
    let mut db = state.pool.get().await?;
    let before = f.before.parse::<i64>().ok();
    let rows = store::events(&mut db, outcome, &action, before, PAGE_SIZE + 1).await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let events: Vec<EventView> = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(EventView::of)
        .collect();
    let next_before = if more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    let query_base = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("outcome", outcome.map(|o| o.as_str()).unwrap_or(""))
        .append_pair("action", &action)
        .finish();
    let page = AuditPage {
        ctx,
        events,
        outcome: outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
        action,
        next_before,
        query_base,
    };
    if htmx {
        return html(&page.as_rows());
    }
    html(&page)
}
