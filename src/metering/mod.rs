//! Plans, quotas and usage below the HTTP layer: what a plan allows, what
//! a user may use this month, the atomic consume, the staff notifications
//! it raises. Read and written by the plans and usage areas and by the
//! machine API alike.

pub mod catalog;
pub mod close;
pub mod group_commit;
pub mod history;
pub mod kind;
pub mod meter;
pub mod notify;
pub mod period;
pub mod plan;
pub mod quota;
