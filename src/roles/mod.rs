//! `/admin/roles`: the platform roles, built-in (read-only) and custom
//! (created, edited and deleted here by whoever holds `roles.manage`,
//! never beyond their own permissions). A role edit bumps the shared
//! `roles_version`, and every request reads its user's role grants fresh,
//! so a change holds on every instance from the next request.

pub mod catalog;
pub mod changes;
pub mod handlers;
pub mod store;
pub mod views;

#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use crate::web::step_up::always;
    use handlers::*;
    vec![
        get("/admin/roles", Staff(RolesManage), list),
        get("/admin/roles/new", Staff(RolesManage), new),
        post("/admin/roles", Staff(RolesManage), create).step_up(always),
        get("/admin/roles/{id}", Staff(RolesManage), page),
        post("/admin/roles/{id}", Staff(RolesManage), update).step_up(always),
        post("/admin/roles/{id}/delete", Staff(RolesManage), delete).step_up(always),
    ]
}
