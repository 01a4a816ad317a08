//! Workspaces (sowat.io's clubs) and their members: the typed settings,
//! and every change with its audit event, carrying the workspace id.
//! The rules on who may do what are in `access` (BASE is changed by
//! administrators only); the rules on what may be done are here (BASE is
//! never renamed, archived or deleted; a workspace keeps an active
//! manager).

pub mod changes;
pub mod handlers;
pub mod managed;
pub mod settings;
pub mod store;
pub mod views;

/// The administrators' workspace screens (Testers and support read them),
/// and the screens of the workspaces' own managers and members.
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use handlers::*;
    vec![
        get("/admin/workspaces", Staff(WorkspacesRead), list),
        get("/admin/workspaces/new", Staff(WorkspacesManage), new),
        post("/admin/workspaces", Staff(WorkspacesManage), create),
        get("/admin/workspaces/{id}", Staff(WorkspacesRead), page),
        post("/admin/workspaces/{id}/rename", Staff(WorkspacesManage), rename),
        post("/admin/workspaces/{id}/settings", Staff(WorkspacesManage), settings),
        post("/admin/workspaces/{id}/archive", Staff(WorkspacesManage), archive),
        post("/admin/workspaces/{id}/restore", Staff(WorkspacesManage), restore),
        post("/admin/workspaces/{id}/delete", Staff(WorkspacesManage), delete),
        post("/admin/workspaces/{id}/members", Staff(WorkspacesManage), add_member),
        post("/admin/workspaces/{id}/members/{user_id}/role", Staff(WorkspacesManage), set_role),
        post("/admin/workspaces/{id}/members/{user_id}/remove", Staff(WorkspacesManage), remove_member),
        post("/admin/workspaces/{id}/duplicate", Staff(WorkspacesManage), duplicate),
        get("/workspaces", SignedIn, managed::mine),
        get("/workspaces/{slug}/members", InWorkspace(WorkspaceRead), managed::members),
        post("/workspaces/{slug}/members", InWorkspace(WorkspaceMembersManage), managed::add_member),
        post("/workspaces/{slug}/invite", InWorkspace(WorkspaceMembersManage), managed::invite),
        post("/workspaces/{slug}/members/{user_id}/role", InWorkspace(WorkspaceMembersManage), managed::set_role),
        post("/workspaces/{slug}/members/{user_id}/remove", InWorkspace(WorkspaceMembersManage), managed::remove_member),
        get("/workspaces/{slug}/settings", InWorkspace(WorkspaceSettingsManage), managed::settings),
        post("/workspaces/{slug}/settings", InWorkspace(WorkspaceSettingsManage), managed::save_settings),
    ]
}
