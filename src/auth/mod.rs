//! The sign-in screens: password, second factor and its enrollment, the
//! setup and reset links, sign-out. The credentials themselves are
//! [`crate::security`]'s; the guard is [`crate::web::guard`].

pub mod changes;
pub mod handlers;
pub mod views;

/// Sign-in, second factor, setup and reset links, sign-out.
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use handlers::*;
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
        post("/account/totp/renew", SignedIn, enroll::renew),
    ]
}
