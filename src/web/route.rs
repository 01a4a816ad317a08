//! A route as data: method, path, the access it requires, handler. Areas
//! declare theirs with [`get`] and [`post`] (one line each, after `use
//! crate::web::route::*;`, which also brings the permissions and access
//! kinds into scope); `crate::routes` assembles them.

use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

pub use crate::access::Access::{
    self, Api, ApiWorkspace, Enrolling, InWorkspace, Perm, Public, SignedIn, Staff, Webhook,
};
pub use crate::access::Permission::*;
use crate::state::AppState;

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// Asks a fresh second-factor code first when the form says so (see
    /// [`crate::web::step_up`]).
    pub step_up: Option<crate::web::step_up::Needs>,
    pub(crate) handler: MethodRouter<AppState>,
}

impl Route {
    /// A dangerous action: asks a fresh second-factor code when `needs`
    /// holds for its form and the last check is too old.
    pub fn step_up(mut self, needs: crate::web::step_up::Needs) -> Self {
        self.step_up = Some(needs);
        self
    }
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
        step_up: None,
        handler: on(filter, handler),
    }
}

/// A `GET` route.
pub fn get<H, T>(path: &'static str, access: Access, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    route(Method::GET, path, access, handler)
}

/// A `POST` route.
pub fn post<H, T>(path: &'static str, access: Access, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    route(Method::POST, path, access, handler)
}

/// A `PUT` route.
pub fn put<H, T>(path: &'static str, access: Access, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    route(Method::PUT, path, access, handler)
}

/// A `PATCH` route.
pub fn patch<H, T>(path: &'static str, access: Access, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    route(Method::PATCH, path, access, handler)
}

/// A `DELETE` route.
pub fn del<H, T>(path: &'static str, access: Access, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    route(Method::DELETE, path, access, handler)
}
