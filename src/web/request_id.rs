//! Every request gets an id: a well-formed incoming `x-request-id` (from the
//! main app or a proxy) is kept so traces join up; anything else is replaced.
//! The id is echoed on the response and shown on error pages.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";

fn acceptable(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn assign(mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        Some(id) if acceptable(id) => id.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(HEADER, value.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(HEADER, value);
    response
}
