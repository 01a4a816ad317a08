//! What the account templates are given.

use askama::Template;

use crate::web::form::FormState;
use crate::web::layout::PageCtx;
use crate::web::section::Section;

pub struct SessionView {
    pub handle: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
    pub mfa: bool,
}

#[derive(Template)]
#[template(path = "account/sessions.html", blocks = ["rows"])]
pub struct SessionsPage {
    pub ctx: PageCtx,
    pub sessions: Vec<SessionView>,
}

/// `/account`: one card per concern.
#[derive(Template)]
#[template(path = "account/overview.html")]
pub struct AccountPage {
    pub ctx: PageCtx,
    pub name: String,
    pub email: String,
    pub roles: String,
    pub password: Section,
    pub totp_enabled: bool,
    pub codes_left_text: String,
    /// Refusal shown in the second-factor card (a wrong code).
    pub factor_error: Option<String>,
    pub others: i64,
    pub others_text: String,
    pub is_fr: bool,
}

#[derive(Template)]
#[template(path = "account/_password.html")]
pub struct PasswordSection<'a> {
    pub ctx: &'a PageCtx,
    pub form: FormState,
    pub notice: Option<String>,
}

/// New recovery codes, shown once: copy, download, print.
#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
pub struct CodesPage {
    pub ctx: PageCtx,
    pub codes: Vec<String>,
    /// The codes as a text file (for the download link).
    pub file: String,
}
