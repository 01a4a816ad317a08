//! What the sign-in templates are given.

use askama::Template;

use crate::web::layout::PageCtx;

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub ctx: PageCtx,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub email: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "auth/totp.html")]
pub struct TotpPage {
    pub ctx: PageCtx,
    pub error: Option<String>,
    pub next: String,
}

#[derive(Template)]
#[template(path = "auth/enroll.html")]
pub struct EnrollPage {
    pub ctx: PageCtx,
    pub mandatory: bool,
    pub qr_base64: String,
    pub secret_base32: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/enrolled.html")]
pub struct EnrolledPage {
    pub ctx: PageCtx,
    pub remaining_text: String,
}

#[derive(Template)]
#[template(path = "auth/recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub ctx: PageCtx,
    pub codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
pub struct SetupPage {
    pub ctx: PageCtx,
    pub title: &'static str,
    pub intro: String,
    pub token: String,
    pub ask_email: bool,
    pub email: String,
    pub name: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/link_invalid.html")]
pub struct InvalidLinkPage {
    pub ctx: PageCtx,
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
pub struct ResetPage {
    pub ctx: PageCtx,
    pub token: String,
    pub email: String,
    pub error: Option<String>,
}
