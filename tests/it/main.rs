//! The one integration-test binary. Each test starts the real application on
//! 127.0.0.1 against a fresh database: a temp SQLite file, or a fresh
//! PostgreSQL database when `TEST_DATABASE_URL` is set.

mod access_matrix;
mod account;
mod api;
mod audit_chain;
mod audit_retention;
mod audit_search;
mod auth;
mod billing;
mod browser;
mod bull;
mod cancellation;
mod data_table;
mod foundation;
mod governance;
mod harness;
mod history;
mod hostile;
mod jobs;
mod layers;
mod links_exports;
mod paging;
mod plans;
mod races;
mod roles;
mod search;
mod security;
mod sessions;
mod step_up;
mod stripe_peer;
mod tasks;
mod usage;
mod users;
mod workspaces;
