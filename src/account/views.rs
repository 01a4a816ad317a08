//! What the account templates are given.

use askama::Template;

use crate::web::layout::PageCtx;

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
