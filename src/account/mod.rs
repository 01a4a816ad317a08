//! The signed-in user's own account (Keycloak's account console is the
//! model): who they are and their language, their password, their second
//! factor and recovery codes, their sessions, their screen preferences.
//! `handlers/`, `store.rs` (reads), `changes.rs` (writes), `views.rs`.

pub mod changes;
pub mod handlers;
pub mod store;
pub mod views;

/// The signed-in user's own pages.
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use handlers::*;
    vec![
        get("/account", SignedIn, overview::page),
        post("/account/password", SignedIn, password::submit),
        post("/account/recovery-codes", SignedIn, recovery::regenerate),
        get("/account/recovery-codes", SignedIn, recovery::show),
        get("/account/sessions", SignedIn, sessions::page),
        post("/account/sessions/others/end", SignedIn, sessions::end_others),
        post("/account/sessions/{handle}/end", SignedIn, sessions::end),
        post("/account/preferences", SignedIn, preferences::preferences),
    ]
}
