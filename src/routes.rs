//! Every route, its method and the access it requires. Each area declares
//! its own as data (`routes()` in its `mod.rs`, one line per route with the
//! `get` and `post` helpers of [`crate::web::route`]); [`table`] concatenates them into the one
//! list the router and the access-matrix test are both built from, so a
//! route cannot exist without a declared access. The admin-area rule is
//! part of the declaration (`Access::Staff`), not a match on the path.

use axum::Router;
use axum::middleware::from_fn_with_state;

use crate::state::AppState;
use crate::web::route::*;
use crate::web::{guard, step_up};
use crate::{
    account, admin, api, auth, billing_pages, health, job_pages, notifications, plans, roles,
    session_pages, task_pages, usage, users, web, workspaces,
};

/// Every route of the service.
pub fn table() -> Vec<Route> {
    [
        core(),
        auth::routes(),
        account::routes(),
        admin::routes(),
        users::routes(),
        workspaces::routes(),
        plans::routes(),
        roles::routes(),
        usage::routes(),
        billing_pages::routes(),
        job_pages::routes(),
        session_pages::routes(),
        notifications::routes(),
        task_pages::routes(),
        api::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Probes, assets, the home page and the language switch.
#[rustfmt::skip]
fn core() -> Vec<Route> {
    vec![
        get("/healthz", Public, health::healthz),
        get("/readyz", Public, health::readyz),
        get("/static/{*name}", Public, web::assets::serve),
        get("/", Public, health::home),
        post("/lang", Public, web::lang::switch),
    ]
}

/// The routers, each route wrapped in the guard with its declared access:
/// the pages (sessions, CSRF), the machine API (bearer keys) and the
/// signed webhooks (none of those), so no kind's layers reach another.
pub struct Routers {
    pub pages: Router<AppState>,
    pub machine: Router<AppState>,
    pub webhooks: Router<AppState>,
}

pub fn routers(state: &AppState) -> Routers {
    let (webhooks, rest): (Vec<Route>, Vec<Route>) = table()
        .into_iter()
        .partition(|r| r.access == crate::access::Access::Webhook);
    let (api, pages): (Vec<Route>, Vec<Route>) = rest.into_iter().partition(|r| r.access.is_api());
    let build = |routes: Vec<Route>| {
        routes.into_iter().fold(Router::new(), |router, r| {
            // Layers run outside in: the access check, then step-up.
            let handler = match r.step_up {
                Some(needs) => r
                    .handler
                    .route_layer(from_fn_with_state((state.clone(), needs), step_up::check)),
                None => r.handler,
            };
            let guarded =
                handler.route_layer(from_fn_with_state((state.clone(), r.access), guard::check));
            router.route(r.path, guarded)
        })
    };
    Routers {
        pages: build(pages),
        machine: build(api),
        webhooks: build(webhooks),
    }
}
