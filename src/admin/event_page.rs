//! `/admin/audit/{id}`: one event whole: who (linked), what, when, where
//! from (address, browser, app, request id), the changed fields side by
//! side, and its link in the tamper-evident chain; with links to the
//! events around it (same actor, same target, same address).

use axum::extract::State;
use axum::response::Response;

use crate::admin::views::EventPage;
use crate::audit::query;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::event_view::EventView;
use crate::web::format::user_agent;
use crate::web::layout::PageCtx;
use crate::web::meta::IdPath;
use crate::web::render::html;
use crate::web::table;

pub async fn event(
    State(state): State<AppState>,
    ctx: PageCtx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let mut db = state.pool.get().await?;
    let detail = query::event(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let row = detail.row;
    // Filter links on the raw values (the view translates some of them).
    let by_actor = row
        .actor_id
        .map(|a| table::href("/admin/audit", &table::query(&[("actor", &a.to_string())])));
    let by_target = match (&row.target_type, &row.target_id) {
        (Some(t), Some(i)) => Some(table::href(
            "/admin/audit",
            &table::query(&[("target_type", t), ("target_id", i)]),
        )),
        _ => None,
    };
    let by_ip = row
        .ip
        .as_deref()
        .map(|ip| table::href("/admin/audit", &table::query(&[("ip", ip)])));
    let by_client = row
        .client_id
        .as_deref()
        .map(|c| table::href("/admin/audit", &table::query(&[("client", c)])));
    let browser = row
        .user_agent
        .as_deref()
        .map(user_agent)
        .unwrap_or_default();
    let page = EventPage {
        event: EventView::of(ctx.lang, row),
        workspace_href: detail
            .workspace_id
            .map(|w| format!("/admin/workspaces/{w}")),
        workspace_id: detail.workspace_id,
        seq: detail.seq,
        hash: detail.hash.unwrap_or_default(),
        prev_hash: detail.prev_hash.unwrap_or_default(),
        browser,
        by_actor,
        by_target,
        by_ip,
        by_client,
        ctx,
    };
    html(&page)
}
