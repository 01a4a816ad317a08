//! Users: the list, the global search, the user page and every change made
//! to a user.

pub mod actions;
pub mod bulk;
pub mod changes;
pub mod create;
pub mod csv;
pub mod erase_audit;
pub mod export;
pub mod list;
pub mod list_page;
pub mod page;
pub mod purge;
pub mod search;
pub mod search_sql;
pub mod store;
pub mod views;
