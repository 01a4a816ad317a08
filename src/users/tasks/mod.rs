//! The users area's long work, run by the task runner outside any request:
//! bulk status changes and CSV exports of every matching user, the GDPR
//! export, the purge of users deleted long ago.

pub mod bulk;
pub mod csv_export;
pub mod gdpr_export;
pub mod purge;
