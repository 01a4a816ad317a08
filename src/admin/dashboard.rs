//! `/admin`: a few figures and the latest events the user may see.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::access::{Permission, can};
use crate::admin::audit_log::{EventView, latest};
use crate::auth::current::SignedIn;
use crate::db::schema::{audit_events, sessions, users};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::layout::PageCtx;
use crate::web::render::html;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    ctx: PageCtx,
    users: i64,
    sessions: i64,
    denied_24h: i64,
    events: Vec<EventView>,
    show_audit: bool,
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    SignedIn(actor): SignedIn,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let now = state.clock.now_primitive();
    let idle_cutoff = now - state.config.session_idle;
    let day_ago = now - time::Duration::days(1);
    let users: i64 = crate::db_run!(&mut db, c => users::table.filter(users::deleted_at.is_null()).count().get_result(c).await)?;
    let sessions: i64 = crate::db_run!(&mut db, c => sessions::table
        .filter(sessions::user_id.is_not_null())
        .filter(sessions::last_seen_at.ge(idle_cutoff))
        .count()
        .get_result(c)
        .await)?;
    let denied_24h: i64 = crate::db_run!(&mut db, c => audit_events::table
        .filter(audit_events::at.ge(day_ago))
        .filter(audit_events::outcome.eq("denied"))
        .count()
        .get_result(c)
        .await)?;
    let show_audit = can(&actor, Permission::AuditRead, None);
    let events = if show_audit {
        latest(&mut db, 10).await?
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
