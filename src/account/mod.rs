//! The signed-in user's own things: active sessions (see and end them).
//! `handlers.rs`, `store.rs` (reads), `changes.rs` (writes), `views.rs`.

pub mod changes;
pub mod handlers;
pub mod store;
pub mod views;

/// The signed-in user's own pages.
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    vec![
        get("/account/sessions", SignedIn, handlers::page),
        post("/account/sessions/{handle}/end", SignedIn, handlers::end),
        post("/account/preferences", SignedIn, handlers::preferences),
    ]
}
