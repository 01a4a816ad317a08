//! The signed-in user's own things: active sessions (see and end them).

pub mod sessions;

/// The signed-in user's own pages.
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    vec![
        get("/account/sessions", SignedIn, sessions::page),
        post("/account/sessions/{handle}/end", SignedIn, sessions::end),
    ]
}
