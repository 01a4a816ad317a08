//! Authentication and the access guard.

pub mod crypto;
pub mod csrf;
pub mod current;
pub mod enroll;
pub mod guard;
pub mod login;
pub mod password;
pub mod rate_limit;
pub mod recovery;
pub mod reset;
pub mod secret_key;
pub mod session_store;
pub mod setup;
pub mod store;
pub mod totp;

/// Sign-in, second factor, setup and reset links, sign-out.
#[rustfmt::skip]
pub fn routes() -> Vec<crate::routes::Route> {
    use crate::routes::*;
    vec![
        get("/login", Public, login::login_page),
        post("/login", Public, login::login_submit),
        get("/login/totp", Public, login::totp_page),
        post("/login/totp", Public, login::totp_submit),
        get("/setup/{token}", Public, setup::page),
        post("/setup/{token}", Public, setup::submit),
        get("/reset/{token}", Public, reset::page),
        post("/reset/{token}", Public, reset::submit),
        post("/logout", Enrolling, login::logout),
        get("/account/totp", Enrolling, enroll::page),
        post("/account/totp", Enrolling, enroll::submit),
    ]
}
