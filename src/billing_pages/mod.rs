//! Stripe on the screens: the billing section of the user page and its
//! actions, the webhook endpoint, the stored events' pages, and the tasks
//! applying events and invoicing overage.

pub mod actions;
pub mod events_page;
pub mod section;
pub mod store;
pub mod tasks;
pub mod webhook;

#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    vec![
        post("/webhooks/stripe", Webhook, webhook::receive),
        get("/admin/users/{id}/billing", Staff(BillingRead), section::section),
        get("/admin/users/{id}/billing/invoices", Staff(BillingRead), section::invoices),
        post("/admin/users/{id}/billing/checkout", Staff(BillingWrite), actions::checkout),
        post("/admin/users/{id}/billing/portal", Staff(BillingWrite), actions::portal),
        post("/admin/users/{id}/billing/preview", Staff(BillingWrite), actions::preview),
        post("/admin/users/{id}/billing/change", Staff(BillingWrite), actions::change),
        post("/admin/users/{id}/billing/cancel", Staff(BillingWrite), actions::cancel),
        post("/admin/users/{id}/billing/resume", Staff(BillingWrite), actions::resume),
        get("/admin/billing/events", Staff(BillingRead), events_page::list),
        get("/admin/billing/events/{id}", Staff(BillingRead), events_page::show),
        post("/admin/billing/events/{id}/reprocess", Staff(BillingWrite), events_page::reprocess),
    ]
}
