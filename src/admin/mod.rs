//! The admin home and the audit trail screen.

pub mod audit_log;
pub mod dashboard;

/// The admin area's home and the audit trail (staff only).
#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    vec![
        get("/admin", Staff(AdminAccess), dashboard::page),
        get("/admin/audit", Staff(AuditRead), audit_log::page),
    ]
}
