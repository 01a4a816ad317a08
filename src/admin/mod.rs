//! The admin home and the audit trail screen. `handlers.rs`, `store.rs`
//! (reads), `views.rs`.

pub mod audit_export;
pub mod audit_filter;
pub mod audit_purge;
pub mod chain_check;
pub mod denied;
pub mod digest;
pub mod event_page;
pub mod handlers;
pub mod store;
pub mod views;

/// The admin area's home and the audit trail (staff only).
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    vec![
        get("/admin", Staff(AdminAccess), handlers::dashboard),
        get("/admin/audit", Staff(AuditRead), handlers::audit),
        get("/admin/audit/denied", Staff(AuditRead), denied::denied),
        get("/admin/audit/{id}", Staff(AuditRead), event_page::event),
        post("/admin/audit/export", Staff(AuditExport), audit_export::start),
    ]
}
