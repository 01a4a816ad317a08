//! The staff's notifications: the bell in the header (unread count, loaded
//! by htmx) and the list. What each staff member sees follows their
//! permissions (`metering::notify`); reading is per person.

pub mod handlers;

#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use handlers::*;
    vec![
        get("/admin/notifications", Staff(AdminAccess), list),
        get("/admin/notifications/count", Staff(AdminAccess), count),
        post("/admin/notifications/read", Staff(AdminAccess), mark_read),
    ]
}
