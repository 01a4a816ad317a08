//! The Tasks screens: the tasks a person started (everyone's with
//! `audit.read`), one task's live progress and outcome, its cancellation,
//! and the download of what it produced.

pub mod handlers;
pub mod views;

/// Tasks: list, progress, cancel, download (staff only).
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    vec![
        get("/admin/tasks", Staff(AdminAccess), handlers::list),
        get("/admin/tasks/{id}", Staff(AdminAccess), handlers::page),
        post("/admin/tasks/{id}/cancel", Staff(AdminAccess), handlers::cancel),
        get("/admin/tasks/{id}/download", Staff(ExportsRun), handlers::download),
    ]
}
