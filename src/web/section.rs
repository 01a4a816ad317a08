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
    /// The section marked to replace its namesake anywhere on the page,
    /// sent alongside the swapped one (htmx out-of-band swap).
    pub fn out_of_band(&self) -> String {
        match self.html.find('<') {
            Some(start) => {
                let after_name = self.html[start + 1..]
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .map_or(self.html.len(), |i| start + 1 + i);
                format!(
                    "{} hx-swap-oob=\"true\"{}",
                    &self.html[..after_name],
                    &self.html[after_name..]
                )
            }
            None => String::new(),
        }
    }

    pub fn render<T: Template>(id: &'static str, template: &T) -> Result<Section, AppError> {
        Ok(Section {
            id,
            html: template.render().map_err(AppError::internal)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_band_marks_the_root_element() {
        let s = Section {
            id: "x",
            html: "\n<section class=\"card\" id=\"x\"><p>a</p></section>".into(),
        };
        assert_eq!(
            s.out_of_band(),
            "\n<section hx-swap-oob=\"true\" class=\"card\" id=\"x\"><p>a</p></section>"
        );
    }
}
