//! Forms with repeated fields (checkbox lists) arrive as pairs, since
//! `serde_urlencoded` cannot collect repeats into a `Vec`.

/// The first value of `key`, or "".
pub fn field(fields: &[(String, String)], key: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Every value of `key`, in order.
pub fn all<'a>(fields: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    fields
        .iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Values and errors of a form shown again after a refusal.
#[derive(Clone, Debug, Default)]
pub struct FormState {
    pub error: Option<String>,
    /// The message key of `error`, for a page that places it itself.
    pub error_key: Option<&'static str>,
    /// The field the error is about, marked `aria-invalid` and focused.
    pub field: Option<&'static str>,
    pub values: Vec<(&'static str, String)>,
}

impl FormState {
    /// A refusal with its translated message (`key`), about `field`.
    pub fn refused(
        ctx: &crate::web::layout::PageCtx,
        field: Option<&'static str>,
        key: &'static str,
    ) -> FormState {
        FormState {
            error: Some(ctx.tr(key).to_owned()),
            error_key: Some(key),
            field,
            values: Vec::new(),
        }
    }

    /// The same refusal, keeping what the person typed.
    pub fn with_values(mut self, values: Vec<(&'static str, String)>) -> FormState {
        self.values = values;
        self
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}
