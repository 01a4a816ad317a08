//! Authentication and the access guard.

pub mod crypto;
pub mod csrf;
pub mod current;
pub mod enroll;
pub mod guard;
pub mod login;
pub mod password;
pub mod rate_limit;
pub mod recovery;
pub mod reset;
pub mod secret_key;
pub mod session_store;
pub mod setup;
pub mod store;
pub mod totp;
