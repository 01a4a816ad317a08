//! Every route, its method and the access it requires, in one list read top
//! to bottom. The router and the access-matrix test are both built from
//! [`table`], so a route cannot exist without a declared access.

use axum::Router;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::access::Permission::*;
use crate::auth::guard::{self, Access};
use crate::state::AppState;
use crate::{account, admin, auth, health, users, web};

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Route {
        method,
        path,
        access,
        handler: on(filter, handler),
    }
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;

pub fn table() -> Vec<Route> {
    use Access::{Enrolling, Perm, Public, SignedIn};
    vec![
        // Probes and assets
        route(GET, "/healthz", Public, health::healthz),
        route(GET, "/readyz", Public, health::readyz),
        route(GET, "/static/{*name}", Public, web::assets::serve),
        route(GET, "/", Public, health::home),
        route(POST, "/lang", Public, web::lang::switch),
        // Sign-in and setup
        route(GET, "/login", Public, auth::login::login_page),
        route(POST, "/login", Public, auth::login::login_submit),
        route(GET, "/login/totp", Public, auth::login::totp_page),
        route(POST, "/login/totp", Public, auth::login::totp_submit),
        route(GET, "/setup/{token}", Public, auth::setup::page),
        route(POST, "/setup/{token}", Public, auth::setup::submit),
        route(GET, "/reset/{token}", Public, auth::reset::page),
        route(POST, "/reset/{token}", Public, auth::reset::submit),
        route(POST, "/logout", Enrolling, auth::login::logout),
        route(GET, "/account/totp", Enrolling, auth::enroll::page),
        route(POST, "/account/totp", Enrolling, auth::enroll::submit),
        // The user's own sessions
        route(GET, "/account/sessions", SignedIn, account::sessions::page),
        route(
            POST,
            "/account/sessions/{handle}/end",
            SignedIn,
            account::sessions::end,
        ),
        // Admin area: a platform role is required on top of the permission
        route(GET, "/admin", Perm(AdminAccess), admin::dashboard::page),
        route(GET, "/admin/audit", Perm(AuditRead), admin::audit_log::page),
        // Users
        route(GET, "/admin/search", Perm(UsersRead), users::search::search),
        route(GET, "/admin/users", Perm(UsersRead), users::list_page::page),
        route(
            GET,
            "/admin/users/count",
            Perm(UsersRead),
            users::list_page::count,
        ),
        route(
            GET,
            "/admin/users/new",
            Perm(UsersWrite),
            users::create::form,
        ),
        route(
            POST,
            "/admin/users",
            Perm(UsersWrite),
            users::create::submit,
        ),
        route(
            POST,
            "/admin/users/bulk/status",
            Perm(UsersWrite),
            users::bulk::status,
        ),
        route(
            POST,
            "/admin/users/bulk/export",
            Perm(ExportsRun),
            users::bulk::export,
        ),
        route(GET, "/admin/users/{id}", Perm(UsersRead), users::page::page),
        route(
            POST,
            "/admin/users/{id}/profile",
            Perm(UsersWrite),
            users::actions::profile,
        ),
        route(
            POST,
            "/admin/users/{id}/status",
            Perm(UsersWrite),
            users::actions::status,
        ),
        route(
            POST,
            "/admin/users/{id}/roles",
            Perm(RolesManage),
            users::actions::roles,
        ),
        route(
            POST,
            "/admin/users/{id}/notes",
            Perm(NotesWrite),
            users::actions::note,
        ),
        route(
            POST,
            "/admin/users/{id}/reset-totp",
            Perm(UsersWrite),
            users::actions::reset_totp,
        ),
        route(
            POST,
            "/admin/users/{id}/password-reset",
            Perm(UsersWrite),
            users::actions::password_reset,
        ),
        route(
            POST,
            "/admin/users/{id}/delete",
            Perm(UsersDelete),
            users::actions::delete,
        ),
        route(
            POST,
            "/admin/users/{id}/restore",
            Perm(UsersDelete),
            users::actions::restore,
        ),
        route(
            POST,
            "/admin/users/{id}/erase",
            Perm(UsersDelete),
            users::actions::erase,
        ),
        route(
            GET,
            "/admin/users/{id}/export",
            Perm(ExportsRun),
            users::actions::export,
        ),
    ]
}

/// The router: each route wrapped in the guard with its declared access.
pub fn router(state: &AppState) -> Router<AppState> {
    table().into_iter().fold(Router::new(), |router, r| {
        let guarded = r
            .handler
            .route_layer(from_fn_with_state((state.clone(), r.access), guard::check));
        router.route(r.path, guarded)
    })
}
