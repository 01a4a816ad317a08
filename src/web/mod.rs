//! The web shell: layout, static files, headers, error pages, and what every
//! area's handlers share (the action extractor, form state, sections,
//! formatting, CSV).

pub mod action;
pub mod api_error;
pub mod assets;
pub mod csrf;
pub mod csv;
pub mod current;
pub mod errors;
pub mod event_view;
pub mod form;
pub mod format;
pub mod guard;
pub mod headers;
pub mod lang;
pub mod layout;
pub mod meta;
pub mod render;
pub mod request_id;
pub mod route;
pub mod sanitize;
pub mod section;
pub mod step_up;
pub mod table;
