//! Plans: what a subscription gives (a price, limits per kind, overage
//! prices), managed by staff with `billing.write`, read with `billing.read`.

pub mod changes;
pub mod handlers;
pub mod input;
pub mod views;

#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use handlers::*;
    vec![
        get("/admin/plans", Staff(BillingRead), list),
        get("/admin/plans/new", Staff(BillingWrite), new),
        post("/admin/plans", Staff(BillingWrite), create),
        get("/admin/plans/{id}", Staff(BillingRead), page),
        post("/admin/plans/{id}", Staff(BillingWrite), update),
        post("/admin/plans/{id}/archive", Staff(BillingWrite), archive),
        post("/admin/plans/{id}/restore", Staff(BillingWrite), restore),
        post("/admin/plans/{id}/default", Staff(BillingWrite), make_default),
        post("/admin/plans/{id}/delete", Staff(BillingWrite), delete),
    ]
}
