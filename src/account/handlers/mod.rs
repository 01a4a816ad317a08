//! The account screens: the overview (`overview`), password (`password`),
//! recovery codes (`recovery`), sessions (`sessions`), preferences.

pub mod overview;
pub mod password;
pub mod preferences;
pub mod recovery;
pub mod sessions;
