//! Control characters stop at the edge. PostgreSQL refuses a NUL in text
//! (a 500 once it reaches a query), a NUL or an escape sequence in a stored
//! name corrupts every later page, export and log line, and nothing a person
//! types needs them. So before any extractor runs:
//!
//! - a path whose percent-decoded form holds a control character names
//!   nothing: 404;
//! - the query string loses its control characters;
//! - a urlencoded form body loses its control characters, except tab, line
//!   feed and carriage return, which a text area legitimately sends.
//!
//! Stripping rather than refusing keeps a search or a form usable (an empty
//! result, or the normal inline error of the field left empty).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Largest form body read here (the same limit axum's `Form` applies).
pub const FORM_LIMIT: usize = 2 * 1024 * 1024;

pub async fn strip_controls(req: Request, next: Next) -> Response {
    if has_encoded_control(req.uri().path()) {
        return AppError::NotFound.into_response();
    }
    let (mut parts, body) = req.into_parts();
    if let Some(query) = parts.uri.query()
        && has_encoded_control(query)
        && let Some(clean) = clean_urlencoded(query.as_bytes(), false)
    {
        let path_and_query = if clean.is_empty() {
            parts.uri.path().to_owned()
        } else {
            format!("{}?{clean}", parts.uri.path())
        };
        match Uri::builder().path_and_query(path_and_query).build() {
            Ok(uri) => parts.uri = uri,
            Err(_) => return AppError::BadRequest(String::new()).into_response(),
        }
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(b) => b,
        Err(_) => return AppError::TooLarge.into_response(),
    };
    let bytes = if has_encoded_control_bytes(&bytes) {
        match clean_urlencoded(&bytes, true) {
            Some(clean) => {
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(clean.len()));
                Bytes::from(clean)
            }
            None => bytes,
        }
    } else {
        bytes
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_control(c: char, keep_text_breaks: bool) -> bool {
    c.is_control() && !(keep_text_breaks && matches!(c, '\t' | '\n' | '\r'))
}

/// Re-encodes `input` without control characters; `None` when there was
/// nothing to remove (the original is kept byte for byte).
fn clean_urlencoded(input: &[u8], keep_text_breaks: bool) -> Option<String> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(input)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let dirty = pairs.iter().any(|(k, v)| {
        k.chars()
            .chain(v.chars())
            .any(|c| is_control(c, keep_text_breaks))
    });
    if !dirty {
        return None;
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        let strip = |s: &str| -> String {
            s.chars()
                .filter(|&c| !is_control(c, keep_text_breaks))
                .collect()
        };
        out.append_pair(&strip(k), &strip(v));
    }
    Some(out.finish())
}

/// A `%XX` escape of a C0 control or DEL.
fn has_encoded_control(s: &str) -> bool {
    has_encoded_control_bytes(s.as_bytes())
}

fn has_encoded_control_bytes(b: &[u8]) -> bool {
    let hex = |c: u8| (c as char).to_digit(16);
    b.iter().any(|&c| c < 0x20 || c == 0x7f)
        || b.windows(3).any(|w| {
            w[0] == b'%'
                && matches!((hex(w[1]), hex(w[2])), (Some(h), Some(l)) if { let v = h * 16 + l; v < 0x20 || v == 0x7f })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_escaped_and_raw_controls() {
        assert!(has_encoded_control("/admin/users/%00"));
        assert!(has_encoded_control("q=a%0Ab"));
        assert!(has_encoded_control("q=a%7f"));
        assert!(!has_encoded_control("q=caf%C3%A9&next=%2Fadmin"));
        assert!(has_encoded_control_bytes(b"name=a\x00b"));
    }

    #[test]
    fn strips_controls_but_keeps_line_breaks_in_forms() {
        assert_eq!(
            clean_urlencoded(b"q=ab%00c", false).as_deref(),
            Some("q=abc")
        );
        assert_eq!(
            clean_urlencoded(b"body=line%0D%0Aline%00&x=%09", true).as_deref(),
            Some("body=line%0D%0Aline&x=%09")
        );
        assert_eq!(clean_urlencoded(b"q=plain+text", false), None);
    }
}
