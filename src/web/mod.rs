//! The web shell: layout, static files, i18n, headers, error pages.

pub mod assets;
pub mod errors;
pub mod form;
pub mod headers;
pub mod lang;
pub mod layout;
pub mod meta;
pub mod render;
pub mod request_id;
pub mod sanitize;
