//! The users screens' handlers, one file per screen: extract, check, call
//! the store or a change, render.

pub mod actions;
pub mod bulk;
pub mod create;
pub mod list;
pub mod page;
pub mod search;
