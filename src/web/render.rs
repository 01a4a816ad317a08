//! Rendering helpers: a template to HTML, htmx-aware page/fragment choice,
//! toasts through `HX-Trigger`.

use askama::Template;
use axum::http::HeaderValue;
use axum::response::{Html, IntoResponse, Response};

use crate::error::AppError;

pub fn html<T: Template>(template: &T) -> Result<Response, AppError> {
    // Askama's own hint is the template's literal text: a list page of a
    // hundred rows is ten times that, and each doubling copies it all.
    let mut out = String::with_capacity(T::SIZE_HINT.max(32 * 1024));
    template
        .render_into(&mut out)
        .map(|()| Html(out).into_response())
        .map_err(AppError::internal)
}

/// A form shown again with its refusal: 422, so scripts and tests see it.
pub fn refused<T: Template>(page: &T) -> Result<Response, AppError> {
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html(page)?).into_response())
}

/// Adds a toast (shown by `static/app.js`) to a response.
pub fn with_toast(mut response: Response, level: &str, message: &str) -> Response {
    let trigger = serde_json::json!({ "toast": { "level": level, "message": message } });
    if let Ok(v) = HeaderValue::from_str(&ascii_json(&trigger)) {
        response.headers_mut().insert("hx-trigger", v);
    }
    response
}

/// JSON for a header value: headers carry visible ASCII only, so every other
/// character is written as a `\u` escape (valid JSON, decoded by htmx).
pub fn ascii_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ascii_json_escapes_accents() {
        let v = serde_json::json!({ "m": "Accès refusé 🚫" });
        let s = super::ascii_json(&v);
        assert!(s.is_ascii());
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v);
    }
}
