//! Who is making the request: loaded once per request from the session, put
//! in the request extensions, read by the guard, handlers and the layout.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;
use tower_sessions::session::Error as SessionError;
use tower_sessions::session_store::Error as StoreError;

use crate::access::Actor;
use crate::error::AppError;
use crate::security::session_store::keys;
use crate::state::AppState;

/// The signed-in user of this request, if any.
#[derive(Clone, Debug, Default)]
pub struct CurrentUser(pub Option<Actor>);

/// How often a busy session's `last_seen_at` is written (idle-timeout granularity).
const TOUCH_EVERY_SECS: i64 = 60;
const SEEN: &str = "seen";

/// Paths that never need to know the user (no session read, no query).
pub(crate) fn anonymous_path(path: &str) -> bool {
    path.starts_with("/static/") || path == "/healthz" || path == "/readyz"
}

pub async fn load(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    if anonymous_path(req.uri().path()) {
        req.extensions_mut().insert(CurrentUser(None));
        return next.run(req).await;
    }
    // A session store that cannot be read is an outage, not a sign-out.
    // A session store that cannot be reached is an outage, not a sign-out;
    // a record that cannot be read is dropped and the visitor starts afresh.
    let uid: Option<i64> = match session.get(keys::USER_ID).await {
        Ok(uid) => uid,
        Err(SessionError::Store(StoreError::Backend(e))) => {
            tracing::error!(error = %e, "session store unavailable");
            return AppError::Unavailable(e).into_response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "unreadable session dropped");
            let _ = session.flush().await;
            None
        }
    };
    let mut current = CurrentUser(None);
    if let Some(uid) = uid {
        let actor = match state.pool.get().await {
            Ok(mut db) => state.actor(&mut db, uid).await.map_err(AppError::from),
            Err(e) => Err(AppError::from(e)),
        };
        match actor {
            Ok(Some(actor)) => {
                let now = state.clock.now().unix_timestamp();
                let seen: Option<i64> = session.get(SEEN).await.ok().flatten();
                if seen.is_none_or(|s| now - s >= TOUCH_EVERY_SECS) {
                    // Marks the session modified so the store writes last_seen_at.
                    let _ = session.insert(SEEN, now).await;
                }
                current = CurrentUser(Some(actor));
            }
            // Suspended, deleted or gone since sign-in: the session ends now.
            Ok(None) => {
                let _ = session.flush().await;
            }
            Err(e) => return e.into_response(),
        }
    }
    req.extensions_mut().insert(current);
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .unwrap_or_default())
    }
}

/// The signed-in user, for handlers behind a guard that requires one.
pub struct SignedIn(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<CurrentUser>() {
            Some(CurrentUser(Some(actor))) => Ok(SignedIn(actor.clone())),
            _ => Err(AppError::Forbidden),
        }
    }
}
