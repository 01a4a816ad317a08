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

use axum::extract::{FromRequestParts, RawPathParams};

use crate::access::workspace::{self, InWorkspace};
use crate::access::{Access, Actor, Decision, WorkspaceRef, decide};
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
    let (mut parts, body) = req.into_parts();
    let actor = parts
        .extensions
        .get::<CurrentUser>()
        .and_then(|c| c.0.clone());
    let path = parts.uri.path().to_owned();
    let htmx = parts.headers.contains_key("hx-request");
    let api = access.is_api();
    let workspace = match (access, &actor) {
        (Access::InWorkspace(_) | Access::ApiWorkspace(_), Some(_)) => {
            match workspace_of(&state, &mut parts, access).await {
                Ok(w) => w,
                Err(refusal) => return refusal,
            }
        }
        _ => None,
    };
    let reference = workspace.as_ref().map(InWorkspace::reference);
    match decide(access, actor.as_ref(), reference) {
        Decision::Allow => {
            if let Some(w) = workspace {
                parts.extensions.insert(w);
            }
            next.run(Request::from_parts(parts, body)).await
        }
        // The machine API answers in its JSON shape, never with a redirect.
        Decision::SignIn | Decision::Enroll if api => ApiError::unauthorized().into_response(),
        Decision::Deny if matches!(access, Access::ApiWorkspace(_)) => {
            deny_audit(&state, &parts, actor.as_ref(), access, reference).await;
            ApiError::new(
                StatusCode::FORBIDDEN,
                "workspace_forbidden",
                format!(
                    "this key, or the user it acts for, may not do this in this workspace ({})",
                    access.describe()
                ),
            )
            .into_response()
        }
        Decision::Deny if api => {
            deny_audit(&state, &parts, actor.as_ref(), access, None).await;
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
                deny_audit(&state, &parts, None, access, None).await;
            } else {
                tracing::info!(path = %path, permission = access.describe(), "not signed in: sent to sign-in");
            }
            redirect(&login, htmx)
        }
        Decision::Deny => {
            deny_audit(&state, &parts, actor.as_ref(), access, reference).await;
            AppError::Forbidden.into_response()
        }
    }
}

/// The workspace a workspace-scoped request names: the path's `{slug}` on
/// the managers' screens (unknown: 404), `X-Workspace-Id` on the API (as
/// the platform's own API does: missing → 400, not the path's `{id}` →
/// 400, unknown → no workspace, which the check refuses with 403, so a key
/// learns nothing of workspaces it may not see).
async fn workspace_of(
    state: &AppState,
    parts: &mut Parts,
    access: Access,
) -> Result<Option<InWorkspace>, Response> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    };
    let mut db = state
        .pool
        .get()
        .await
        .map_err(|e| AppError::from(e).into_response())?;
    if !matches!(access, Access::ApiWorkspace(_)) {
        let slug = param("slug").unwrap_or_default();
        return match workspace::by_slug(&mut db, &slug).await {
            Ok(Some(w)) => Ok(Some(w)),
            Ok(None) => Err(AppError::NotFound.into_response()),
            Err(e) => Err(AppError::from(e).into_response()),
        };
    }
    let header = parts
        .headers
        .get(WORKSPACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let Some(id) = header else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "workspace_required",
            "this route acts in a workspace: send its id in the X-Workspace-Id header",
        )
        .into_response());
    };
    if param("id").and_then(|p| p.parse::<i64>().ok()) != Some(id) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "workspace_mismatch",
            "X-Workspace-Id must be the workspace of the path",
        )
        .into_response());
    }
    workspace::by_id(&mut db, id)
        .await
        .map_err(|e| ApiError::from(AppError::from(e)).into_response())
}

/// The header naming the workspace an API request acts in.
pub const WORKSPACE_HEADER: &str = "x-workspace-id";

/// Denials are logged and written to the audit trail (outside any transaction:
/// nothing else happened).
async fn deny_audit(
    state: &AppState,
    parts: &Parts,
    actor: Option<&Actor>,
    access: Access,
    workspace: Option<WorkspaceRef>,
) {
    let meta = RequestMeta::from_parts(parts, state.config.trusted_proxies);
    let who = actor.map(ActorRef::of).unwrap_or_else(ActorRef::anonymous);
    tracing::warn!(actor = %who.label, method = %parts.method, path = %crate::redact::path(parts.uri.path()), permission = access.describe(), "access denied");
    let event = Event::access_denied(
        parts.method.as_str(),
        &crate::redact::path(parts.uri.path()),
        access.describe(),
    );
    let event = match workspace {
        Some(w) => event.workspace(w.id),
        None => event,
    };
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
