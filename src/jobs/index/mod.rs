//! The failure index: each queue's BullMQ event stream read from a stored
//! cursor ([`follow`]), every failed attempt and the per-minute counts
//! written with the cursor in one transaction ([`record`]), and the
//! searches over what was kept ([`search`]).

pub mod catch_up;
pub mod fingerprint;
pub mod follow;
pub mod record;
pub mod runs;
pub mod search;
