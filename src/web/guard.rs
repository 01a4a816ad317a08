//! The access check every route goes through. Routes declare an [`Access`]
//! where the router is assembled (`crate::routes`); [`check`] applies it:
//!
//! - not signed in → sign-in page (`HX-Redirect` for htmx), audited;
//! - signed in with a platform role but no TOTP → enrollment first;
//! - `/admin/*` without a platform role, or without the permission → 403,
//!   logged and audited with outcome `denied`.

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::access::{Access, Actor, Decision, decide};
use crate::audit::{self, ActorRef, Event};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::api_error::ApiError;
use crate::web::current::CurrentUser;
use crate::web::meta::RequestMeta;

pub const ENROLL_PATH: &str = "/account/totp";

/// A redirect that works for plain requests and htmx swaps alike.
pub fn redirect(to: &str, htmx: bool) -> Response {
    let Ok(location) = HeaderValue::from_str(to) else {
        return AppError::internal("bad redirect target").into_response();
    };
    if htmx {
        let mut r = StatusCode::OK.into_response();
        r.headers_mut().insert("hx-redirect", location);
        r
    } else {
        let mut r = StatusCode::SEE_OTHER.into_response();
        r.headers_mut().insert(header::LOCATION, location);
        r
    }
}

/// Only local paths are followed after sign-in (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// A plain path on this site: starts with one `/`, printable ASCII only.
/// Browsers drop tabs and line breaks from URLs (`/\t/evil.example` becomes
/// `//evil.example`, another host) and read `\` as `/`, so any of those, or
/// any other control or non-ASCII character, disqualifies the target.
fn is_local_path(n: &str) -> bool {
    n.starts_with('/')
        && !n.starts_with("//")
        && n.len() < 2048
        && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

pub async fn check(
    State((state, access)): State<(AppState, Access)>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let actor = parts
        .extensions
        .get::<CurrentUser>()
        .and_then(|c| c.0.clone());
    let path = parts.uri.path().to_owned();
    let htmx = parts.headers.contains_key("hx-request");
    let api = matches!(access, Access::Api(_));
    match decide(access, actor.as_ref()) {
        Decision::Allow => next.run(Request::from_parts(parts, body)).await,
        // The machine API answers in its JSON shape, never with a redirect.
        Decision::SignIn | Decision::Enroll if api => ApiError::unauthorized().into_response(),
        Decision::Deny if api => {
            deny_audit(&state, &parts, actor.as_ref(), access).await;
            ApiError::forbidden(access.describe()).into_response()
        }
        Decision::Enroll => redirect(ENROLL_PATH, htmx),
        Decision::SignIn => {
            let target = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let login = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
            );
            // The admin area is what attackers probe: audited. Elsewhere an
            // expired session is routine: logged only.
            if matches!(access, Access::Staff(_)) {
                deny_audit(&state, &parts, None, access).await;
            } else {
                tracing::info!(path = %path, permission = access.describe(), "not signed in: sent to sign-in");
            }
            redirect(&login, htmx)
        }
        Decision::Deny => {
            deny_audit(&state, &parts, actor.as_ref(), access).await;
            AppError::Forbidden.into_response()
        }
    }
}

/// Denials are logged and written to the audit trail (outside any transaction:
/// nothing else happened).
async fn deny_audit(state: &AppState, parts: &Parts, actor: Option<&Actor>, access: Access) {
    let meta = RequestMeta::from_parts(parts, state.config.trusted_proxies);
    let who = actor.map(ActorRef::of).unwrap_or_else(ActorRef::anonymous);
    tracing::warn!(actor = %who.label, method = %parts.method, path = %crate::redact::path(parts.uri.path()), permission = access.describe(), "access denied");
    let event = Event::access_denied(
        parts.method.as_str(),
        &crate::redact::path(parts.uri.path()),
        access.describe(),
    );
    if actor.is_none() {
        // Unbounded in number: summed per address and minute.
        state
            .anon_denials
            .record(&state.pool, &state.clock, &meta, parts.uri.path(), event)
            .await;
        return;
    }
    let result = match state.pool.get().await {
        Ok(mut db) => audit::record_alone(&mut db, state.clock.now_primitive(), &who, &meta, event)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "could not audit a denial");
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_plain_local_paths_are_followed() {
        assert_eq!(
            safe_next(Some("/admin/users?q=a%20b")),
            "/admin/users?q=a%20b"
        );
        for hostile in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a\u{0}b",
            "/caf\u{e9}",
            " /admin",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
