//! sowat.io's BullMQ queues, supervised in place: the link to their Redis
//! (connected in the background, every call bounded in time), what the
//! screens read of a queue and a job, the actions staff take on them, and
//! the failure index kept in our own database from each queue's event
//! stream (what BullMQ trims, we keep).

pub mod alerts;
pub mod control;
pub mod index;
pub mod link;
pub mod read;
pub mod stats;

pub use link::{JobsError, JobsLink};

/// The states a list can show, in BullMQ's words (`wait` is "waiting").
pub const STATES: &[&str] = &[
    "waiting",
    "prioritized",
    "delayed",
    "active",
    "completed",
    "failed",
    "paused",
];

pub fn is_state(s: &str) -> bool {
    STATES.contains(&s)
}
