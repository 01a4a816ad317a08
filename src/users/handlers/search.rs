//! The global search box in the header: users by email, name, company or id,
//! as you type. Other areas add their kinds of result here later.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum_htmx::HxRequest;
use serde::Deserialize;

use crate::error::AppError;
use crate::state::AppState;
use crate::users::store;
use crate::users::views::{Results, UserRow};
use crate::web::guard::redirect;
use crate::web::layout::PageCtx;
use crate::web::render::html;

const SHOWN: i64 = 8;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(
    State(state): State<AppState>,
    ctx: PageCtx,
    HxRequest(htmx): HxRequest,
    Query(sq): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let q: String = sq.q.trim().chars().take(200).collect();
    let more_href = format!(
        "/admin/users?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .finish()
    );
    if q.is_empty() {
        return Ok(if htmx {
            Html(String::new()).into_response()
        } else {
            redirect("/admin/users", false)
        });
    }
    let mut db = state.pool.get().await?;
    let users = store::quick_search(&mut db, &q, SHOWN).await?;
    // Without JavaScript, Enter jumps: to the user when exactly one matches.
    if !htmx {
        return Ok(match users.as_slice() {
            [only] => redirect(&format!("/admin/users/{}", only.id), false),
            _ => redirect(&more_href, false),
        });
    }
    let rows = users
        .iter()
        .map(|u| UserRow::new(ctx.lang, u, String::new()))
        .collect();
    let page = Results {
        ctx,
        rows,
        more_href,
    };
    html(&page)
}
