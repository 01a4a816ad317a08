//! The admin home and the audit trail screen. `handlers.rs`, `store.rs`
//! (reads), `views.rs`.

pub mod audit_export;
pub mod audit_filter;
pub mod audit_purge;
pub mod chain_check;
pub mod denied;
pub mod digest;
pub mod digest_download;
pub mod event_page;
pub mod handlers;
pub mod saved_views;
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
        post("/admin/audit/digest", Staff(AuditExport), digest_download::download),
        post("/admin/audit/views", Staff(AuditRead), saved_views::save_view),
        post("/admin/audit/views/{id}/delete", Staff(AuditRead), saved_views::delete_view),
    ]
}
