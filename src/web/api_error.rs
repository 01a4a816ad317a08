//! The API's one error shape, for every 4xx and 5xx:
//! `{"error": {"code": "...", "message": "...", "details": [...]}}`, in
//! English (machines read the code; people read the message in logs).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::AppError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
        )
    }
    pub fn forbidden(permission: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this key's scopes do not allow this ({permission})"),
        )
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
    pub fn details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// A JSON body read into `T`, or the API's 400 naming what is wrong.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not the expected JSON: {e}"),
        )
    })
}

/// A change's refusal: 422 whose code is the refusal's own key (for
/// example `workspaces.last_manager`) and whose message says it in English.
impl From<crate::change::ChangeError> for ApiError {
    fn from(e: crate::change::ChangeError) -> Self {
        use crate::change::ChangeError;
        match e {
            ChangeError::Invalid(key) => {
                ApiError::invalid(crate::i18n::Lang::En.t(key)).with_code(key)
            }
            ChangeError::NotFound => ApiError::not_found(),
            ChangeError::Db(e) => e.into(),
        }
    }
}

/// The application's errors in the API's shape; causes stay in the log.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = e.status();
        let code = match e {
            AppError::NotFound => "not_found",
            AppError::Forbidden => "forbidden",
            AppError::BadRequest(_) => "bad_request",
            AppError::TooManyRequests => "rate_limited",
            AppError::Conflict => "conflict",
            AppError::TooLarge => "too_large",
            AppError::Unavailable(ref cause) => {
                tracing::warn!(cause = %cause, "API: service unavailable");
                "unavailable"
            }
            AppError::Internal(ref cause) => {
                tracing::error!(cause = %cause, "API: internal error");
                "internal"
            }
        };
        let message = match &e {
            AppError::BadRequest(m) => m.clone(),
            _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
        };
        ApiError::new(status, code, message)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::from(e).into()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        AppError::from(e).into()
    }
}
