//! The user record shared by every area that reads or writes `users`
//! (sign-in and setup in `auth`, the `users` area, the seed): the row
//! types, the derived columns computed in one place (lower-cased email,
//! sort name, search keys) and their backfill. It depends on the database
//! layer only, so `auth` and `users` can both use it without depending on
//! each other's internals.

pub mod emails;
pub mod memberships;
pub mod model;
pub mod prefs;
pub mod search_keys;
