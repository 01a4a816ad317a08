//! The admin home and the audit trail screen.

pub mod audit_log;
pub mod dashboard;
