//! Probes for orchestrators: `/healthz` (the process answers) and `/readyz`
//! (the database answers too). Plain text, no session.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;
use crate::web::current::CurrentUser;
use crate::web::guard::redirect;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let ready = match state.pool.get().await {
        Ok(mut db) => db.ping().await.is_ok(),
        Err(_) => false,
    };
    if ready {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
    }
}

/// `/`: the admin home for staff, the account page for everyone else.
pub async fn home(CurrentUser(actor): CurrentUser) -> Response {
    match actor {
        None => redirect("/login", false),
        Some(a) if a.has_platform_role() => redirect("/admin", false),
        Some(a) if !a.memberships.is_empty() => redirect("/workspaces", false),
        Some(_) => redirect("/account/sessions", false),
    }
}
