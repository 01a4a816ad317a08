//! Cross-site request forgery defence for browser sessions, in two walls:
//! 1. the browser's own word: a cross-site `Sec-Fetch-Site` or a foreign
//!    `Origin` is refused;
//! 2. a token, sent by forms as `_csrf` and by htmx as the `X-CSRF-Token`
//!    header (set once on `<body>`): the session's own once a session
//!    exists; before that (the sign-in page), an HMAC of a random nonce kept
//!    in a cookie, so an anonymous visit stores nothing on the server.
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
use crate::error::AppError;
use crate::security::crypto::{constant_time_eq, random_token};
use crate::security::session_store::keys;
use crate::state::AppState;
use crate::web::current::CurrentUser;
use crate::web::meta::RequestMeta;

pub const HEADER: &str = "x-csrf-token";
pub const FIELD: &str = "_csrf";

/// API-key calls (`/api/`) and signed webhooks (`/webhooks/`) carry no
/// browser session: their own authentication replaces this check.
pub const EXEMPT_PREFIXES: &[&str] = &["/api/", "/webhooks/"];

/// Forms larger than this are not read for a token (uploads use the header).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// The sign-in form's token for a visitor without a session: put in the
/// request by [`protect`], read by the page layout.
#[derive(Clone, Debug)]
pub struct AnonToken(pub String);

/// The token to put in forms: the session's when there is a session (made
/// on first use), else the visitor's cookie-bound token.
pub async fn token(session: &Session, anon: Option<&AnonToken>) -> Result<String, AppError> {
    if let Some(t) = session.get::<String>(keys::CSRF).await? {
        return Ok(t);
    }
    if let Some(AnonToken(t)) = anon
        && session.id().is_none()
    {
        return Ok(t.clone());
    }
    let t = random_token();
    session.insert(keys::CSRF, &t).await?;
    Ok(t)
}

fn anon_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-sowat_csrf"
    } else {
        "sowat_csrf"
    }
}

/// The nonce cookie's value, if the request carries a well-formed one.
fn anon_nonce(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn anon_token(state: &AppState, nonce: &str) -> String {
    state.secrets.mac(format!("csrf:{nonce}").as_bytes())
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
    // Machine callers, and static files and probes (no form ever comes
    // from them: no token, no cookie).
    if EXEMPT_PREFIXES.iter().any(|p| path.starts_with(p))
        || (is_safe(req.method()) && crate::web::current::anonymous_path(path))
    {
        return next.run(req).await;
    }
    let https = state.config.is_https();
    let cookie_name = anon_cookie_name(https);
    let nonce = anon_nonce(req.headers(), cookie_name);
    if is_safe(req.method()) {
        if session.id().is_some() {
            return next.run(req).await;
        }
        // No session: the form token is bound to a nonce cookie instead of
        // a stored session, so a visit costs no row.
        let (nonce, fresh) = match nonce {
            Some(n) => (n, false),
            None => (random_token(), true),
        };
        let mut req = req;
        req.extensions_mut()
            .insert(AnonToken(anon_token(&state, &nonce)));
        let mut response = next.run(req).await;
        if fresh {
            let secure = if https { "; Secure" } else { "" };
            let cookie =
                format!("{cookie_name}={nonce}; Path=/; HttpOnly; SameSite=Strict{secure}");
            if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
                response
                    .headers_mut()
                    .append(axum::http::header::SET_COOKIE, v);
            }
        }
        return response;
    }
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(&parts, state.config.trusted_proxies);
    let actor = parts
        .extensions
        .get::<CurrentUser>()
        .and_then(|c| c.0.clone());
    let reject = async |reason: &'static str| -> Response {
        tracing::warn!(reason, path = %crate::redact::path(parts.uri.path()), ip = ?meta.ip, "CSRF check refused a request");
        let who = actor
            .as_ref()
            .map(ActorRef::of)
            .unwrap_or_else(ActorRef::anonymous);
        let event = Event::csrf_rejected(reason).details(
            serde_json::json!({ "reason": reason, "path": crate::redact::path(parts.uri.path()) }),
        );
        if actor.is_none() {
            state
                .anon_denials
                .record(&state.pool, &state.clock, &meta, parts.uri.path(), event)
                .await;
            return AppError::Forbidden.into_response();
        }
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
    let session_token = match session.get::<String>(keys::CSRF).await {
        Ok(t) => t,
        Err(e) => return AppError::from(e).into_response(),
    };
    let expected: Vec<String> = session_token
        .into_iter()
        .chain(nonce.map(|n| anon_token(&state, &n)))
        .collect();
    if expected.is_empty() {
        return reject("no_session_token").await;
    }
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
        Some(t) if expected.iter().any(|e| constant_time_eq(&t, e)) => {
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
