//! A screen made of independent sections (the user page; later the
//! workspace and plan pages): each section is its own template rendered to
//! HTML, so an area adds a section without touching the others, and an
//! action re-renders just its section for htmx.

use askama::Template;

use crate::error::AppError;

/// A rendered section, with the element id htmx swaps.
pub struct Section {
    pub id: &'static str,
    pub html: String,
}

impl Section {
    pub fn render<T: Template>(id: &'static str, template: &T) -> Result<Section, AppError> {
        Ok(Section {
            id,
            html: template.render().map_err(AppError::internal)?,
        })
    }
}
