//! The signed-in user's own things: active sessions (see and end them).

pub mod sessions;
