//! One error type for handlers.
//!
//! - `AppError::NotFound`, `Forbidden`, `BadRequest`, `Conflict`: the caller's
//!   fault, shown as such.
//! - `AppError::Unavailable`: the database cannot be reached (503).
//! - `AppError::Internal`: anything else; logged with the request id, shown as
//!   a generic page with that id and nothing of the cause.
//!
//! Handlers return `Result<_, AppError>`; the response carries an
//! [`ErrorMarker`] and the error layer in `web::errors` renders it as a page,
//! an htmx toast or JSON, in the user's language, with the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("too many requests")]
    TooManyRequests,
    #[error("request body too large")]
    TooLarge,
    /// The change collides with existing data (a unique constraint).
    #[error("conflict")]
    Conflict,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// Put on error responses so the error layer can render them.
#[derive(Clone, Debug)]
pub struct ErrorMarker {
    /// An i18n key for the message shown to the user.
    pub message_key: &'static str,
    /// Detail safe to show (validation text), never internals.
    pub detail: Option<String>,
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Conflict => StatusCode::CONFLICT,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(m) => AppError::Unavailable(m),
            DbError::Query(q) => AppError::from(q),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => AppError::Conflict,
            // The database went away or stayed busy: an outage, not a bug.
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | Error::BrokenTransactionManager => AppError::Unavailable(e.to_string()),
            Error::DatabaseError(_, ref info)
                if info.message().contains("database is locked")
                    || info.message().contains("database is busy") =>
            {
                AppError::Unavailable(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        AppError::Internal(format!("session: {e}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message_key, detail) = match &self {
            AppError::NotFound => ("error.not_found", None),
            AppError::Forbidden => ("error.forbidden", None),
            AppError::BadRequest(m) => ("error.bad_request", Some(m.clone())),
            AppError::TooManyRequests => ("error.too_many", None),
            AppError::Conflict => ("error.conflict", None),
            AppError::TooLarge => ("error.too_large", None),
            AppError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                ("error.unavailable", None)
            }
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ("error.internal", None)
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorMarker {
            message_key,
            detail,
        });
        response
    }
}
