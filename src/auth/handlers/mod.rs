//! The sign-in screens' handlers, one file per screen.

pub mod enroll;
pub mod login;
pub mod reset;
pub mod setup;
