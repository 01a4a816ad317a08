//! Users: the list, the global search, the user page and every change made
//! to a user. `handlers/` (one file per screen), `store/` (reads),
//! `changes/` (writes with their audit events), `views.rs` (template
//! structs), `tasks/` (long work on the task runner).

pub mod changes;
pub mod handlers;
pub mod store;
pub mod tasks;
pub mod views;

/// Users: list, search, page, changes (staff only).
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use crate::web::step_up::{always, bulk_users, names_roles};
    use handlers::*;
    vec![
        get("/admin/search", Staff(UsersRead), search::search),
        get("/admin/users", Staff(UsersRead), list::page),
        get("/admin/users/count", Staff(UsersRead), list::count),
        get("/admin/users/new", Staff(UsersWrite), create::form),
        post("/admin/users", Staff(UsersWrite), create::submit).step_up(names_roles),
        post("/admin/users/bulk/status", Staff(UsersWrite), bulk::status).step_up(bulk_users),
        post("/admin/users/bulk/export", Staff(ExportsRun), bulk::export).step_up(bulk_users),
        get("/admin/users/{id}", Staff(UsersRead), page::page),
        get("/admin/users/{id}/history", Staff(AuditRead), page::older),
        post("/admin/users/{id}/profile", Staff(UsersWrite), actions::profile),
        post("/admin/users/{id}/status", Staff(UsersWrite), actions::status),
        post("/admin/users/{id}/roles", Staff(RolesManage), actions::roles).step_up(always),
        post("/admin/users/{id}/notes", Staff(NotesWrite), actions::note),
        post("/admin/users/{id}/reset-totp", Staff(UsersWrite), actions::reset_totp),
        post("/admin/users/{id}/password-reset", Staff(UsersPasswordReset), actions::password_reset),
        post("/admin/users/{id}/delete", Staff(UsersDelete), actions::delete),
        post("/admin/users/{id}/restore", Staff(UsersDelete), actions::restore),
        post("/admin/users/{id}/erase", Staff(UsersDelete), actions::erase).step_up(always),
        post("/admin/users/{id}/export", Staff(ExportsRun), actions::export),
    ]
}
