//! The machine API (`/api/v1`, bearer API keys) and the screens that manage
//! its keys. The API routes are declared in the one route table with
//! [`Api`] access; the router mounts them apart, behind the bearer check
//! instead of the session, CSRF and page layers.

pub mod bearer;
pub mod docs;
pub mod idempotency;
pub mod keys;
pub mod numbers;
pub mod pages;
pub mod v1_billing;
pub mod v1_jobs;
pub mod v1_sync;
pub mod v1_usage;
pub mod v1_users;
pub mod v1_workspaces;

use crate::web::route::*;
use crate::web::step_up::always;

#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    vec![
        get("/admin/api-keys", Staff(ApiKeysManage), pages::list),
        get("/admin/api-keys/new", Staff(ApiKeysManage), pages::new),
        post("/admin/api-keys", Staff(ApiKeysManage), pages::create).step_up(always),
        get("/admin/api-keys/{id}", Staff(ApiKeysManage), pages::page),
        post("/admin/api-keys/{id}/rotate", Staff(ApiKeysManage), pages::rotate).step_up(always),
        post("/admin/api-keys/{id}/revoke", Staff(ApiKeysManage), pages::revoke),
        get("/api/docs", Staff(AdminAccess), docs::page),
        get("/api/v1/openapi.json", Public, docs::openapi),
        get("/api/v1/users", Api(UsersRead), v1_users::by_email),
        get("/api/v1/users/{id}", Api(UsersRead), v1_users::one),
        post("/api/v1/users/sync", Api(UsersSync), v1_sync::sync),
        post("/api/v1/usage/consume", Api(UsageWrite), v1_usage::consume),
        post("/api/v1/usage/check", Api(UsageRead), v1_usage::check),
        get("/api/v1/usage/{user_id}", Api(UsageRead), v1_usage::of_user),
        post("/api/v1/billing/checkout", Api(BillingWrite), v1_billing::checkout),
        post("/api/v1/billing/portal", Api(BillingWrite), v1_billing::portal),
        get("/api/v1/jobs/queues", Api(JobsRead), v1_jobs::queues),
        get("/api/v1/jobs/failures", Api(JobsRead), v1_jobs::failures),
        get("/api/v1/jobs/{queue}/{item}", Api(JobsRead), v1_jobs::item),
        del("/api/v1/jobs/{queue}/{item}", Api(JobsWrite), v1_jobs::delete),
        post("/api/v1/jobs/{queue}/{item}/retry", Api(JobsWrite), v1_jobs::retry),
        post("/api/v1/jobs/{queue}/retry", Api(JobsWrite), v1_jobs::retry_matching),
        get("/api/v1/workspaces", Api(WorkspacesRead), v1_workspaces::list),
        post("/api/v1/workspaces", Api(WorkspacesManage), v1_workspaces::create),
        get("/api/v1/workspaces/{id}", ApiWorkspace(WorkspaceRead), v1_workspaces::one),
        patch("/api/v1/workspaces/{id}", ApiWorkspace(WorkspaceSettingsManage), v1_workspaces::update),
        del("/api/v1/workspaces/{id}", ApiWorkspace(WorkspacesManage), v1_workspaces::delete),
        get("/api/v1/workspaces/{id}/members", ApiWorkspace(WorkspaceRead), v1_workspaces::members),
        put("/api/v1/workspaces/{id}/members/{user_id}", ApiWorkspace(WorkspaceMembersManage), v1_workspaces::put_member),
        del("/api/v1/workspaces/{id}/members/{user_id}", ApiWorkspace(WorkspaceMembersManage), v1_workspaces::remove_member),
    ]
}
