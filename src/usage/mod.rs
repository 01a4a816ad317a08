//! A user's usage, quota overrides and plan, shown as a section of the
//! user page: what the support and billing staff look at when a customer
//! says "I cannot generate any more".

pub mod changes;
pub mod handlers;
pub mod overage;
pub mod store;
pub mod tasks;
pub mod views;

#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use handlers::*;
    vec![
        get("/admin/users/{id}/usage", Staff(UsageRead), section),
        post("/admin/users/{id}/overrides", Staff(QuotasManage), add_override),
        post("/admin/users/{id}/overrides/{override_id}/revoke", Staff(QuotasManage), revoke_override),
        post("/admin/users/{id}/plan", Staff(BillingWrite), set_plan),
        get("/admin/usage/overage", Staff(BillingRead), overage::page),
        get("/admin/usage/overage.csv", Staff(BillingRead), overage::csv_file),
        post("/admin/usage/overage/close", Staff(BillingWrite), overage::close_now),
    ]
}
