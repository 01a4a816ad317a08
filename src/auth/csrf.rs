//! Cross-site request forgery defence for browser sessions, in two walls:
//! 1. the browser's own word: a cross-site `Sec-Fetch-Site` or a foreign
//!    `Origin` is refused;
//! 2. a per-session token, sent by forms as `_csrf` and by htmx as the
//!    `X-CSRF-Token` header (set once on `<body>`).
//!
//! Machine callers are exempt by explicit rule, not by accident: see
//! [`EXEMPT_PREFIXES`]. A refusal is a 403, logged and audited.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::audit::{self, ActorRef, Event};
use crate::auth::crypto::{constant_time_eq, random_token};
use crate::auth::current::CurrentUser;
use crate::auth::session_store::keys;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::meta::RequestMeta;

pub const HEADER: &str = "x-csrf-token";
pub const FIELD: &str = "_csrf";

/// API-key calls (`/api/`) and signed webhooks (`/webhooks/`) carry no
/// browser session: their own authentication replaces this check.
pub const EXEMPT_PREFIXES: &[&str] = &["/api/", "/webhooks/"];

/// Forms larger than this are not read for a token (uploads use the header).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// The session's token, created on first use.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session.get::<String>(keys::CSRF).await? {
        return Ok(t);
    }
    let t = random_token();
    session.insert(keys::CSRF, &t).await?;
    Ok(t)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why the browser's headers show a cross-site request, if they do.
fn cross_site_reason(headers: &HeaderMap, own_origin: &str) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Some("cross_site_fetch");
    }
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok())
        && origin != own_origin
    {
        return Some("foreign_origin");
    }
    None
}

fn form_token(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
}

pub async fn protect(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if is_safe(req.method()) || EXEMPT_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(&parts, state.config.trust_forwarded_for);
    let actor = parts
        .extensions
        .get::<CurrentUser>()
        .and_then(|c| c.0.clone());
    let reject = async |reason: &'static str| -> Response {
        tracing::warn!(reason, path = %crate::web::redact::path(parts.uri.path()), ip = ?meta.ip, "CSRF check refused a request");
        let who = actor
            .as_ref()
            .map(ActorRef::of)
            .unwrap_or_else(ActorRef::anonymous);
        let event = Event::csrf_rejected(reason)
            .details(serde_json::json!({ "reason": reason, "path": crate::web::redact::path(parts.uri.path()) }));
        if let Ok(mut db) = state.pool.get().await
            && let Err(e) =
                audit::record_alone(&mut db, state.clock.now_primitive(), &who, &meta, event).await
        {
            tracing::error!(error = %e, "could not audit a CSRF refusal");
        }
        AppError::Forbidden.into_response()
    };
    if let Some(reason) = cross_site_reason(&parts.headers, &state.config.public_origin()) {
        return reject(reason).await;
    }
    let expected = match session.get::<String>(keys::CSRF).await {
        Ok(Some(t)) => t,
        Ok(None) => return reject("no_session_token").await,
        Err(e) => return AppError::from(e).into_response(),
    };
    let header_token = parts
        .headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (given, body) = match header_token {
        Some(t) => (Some(t), body),
        None if is_form => match to_bytes(body, MAX_FORM_BYTES).await {
            Ok(bytes) => (form_token(&bytes), Body::from(bytes)),
            Err(_) => return AppError::BadRequest("form too large".into()).into_response(),
        },
        None => (None, body),
    };
    match given {
        Some(t) if constant_time_eq(&t, &expected) => {
            next.run(Request::from_parts(parts, body)).await
        }
        Some(_) => reject("wrong_token").await,
        None => reject("missing_token").await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_site_detection() {
        let own = "https://admin.sowat.io";
        let mut h = HeaderMap::new();
        assert_eq!(cross_site_reason(&h, own), None);
        h.insert("origin", "https://admin.sowat.io".parse().unwrap());
        assert_eq!(cross_site_reason(&h, own), None);
        h.insert(
            "origin",
            "https://admin.sowat.io.evil.example".parse().unwrap(),
        );
        assert_eq!(cross_site_reason(&h, own), Some("foreign_origin"));
        h.insert("origin", "null".parse().unwrap());
        assert_eq!(cross_site_reason(&h, own), Some("foreign_origin"));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert_eq!(cross_site_reason(&h, own), Some("cross_site_fetch"));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert_eq!(cross_site_reason(&h, own), None);
    }

    #[test]
    fn token_from_form() {
        assert_eq!(form_token(b"a=1&_csrf=abc%2B&b=2").as_deref(), Some("abc+"));
        assert_eq!(form_token(b"a=1"), None);
    }
}
