//! Turns error responses (those carrying an [`ErrorMarker`]) into what the
//! caller can use: JSON under `/api/`, a toast for htmx, a page otherwise.
//! Every form shows the request id and nothing of the cause.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::error::{AppError, ErrorMarker};
use crate::i18n::Lang;
use crate::web::api_error::ApiError;
use crate::web::layout::PageCtx;
use crate::web::render::ascii_json;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: PageCtx,
    status: u16,
    title: &'static str,
    detail: Option<String>,
}

pub async fn render(req: Request, next: Next) -> Response {
    let lang = Lang::negotiate(req.headers());
    let htmx = req.headers().contains_key("hx-request");
    // Machines read JSON: the API and the webhooks.
    let api = req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/webhooks/");
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = crate::redact::path(req.uri().path());
    let response = next.run(req).await;
    let Some(marker) = response
        .extensions()
        .get::<ErrorMarker>()
        .cloned()
        .or_else(|| framework_rejection(&response, &path))
    else {
        return response;
    };
    let status = response.status();
    let title = lang.t(marker.message_key);
    let message = match &marker.detail {
        Some(d) => format!("{title}: {d}"),
        None => title.to_owned(),
    };
    let mut out = if api {
        // The API's one error shape, in English; the request id is in the
        // X-Request-Id header as on every answer.
        let code = marker.message_key.strip_prefix("error.").unwrap_or("error");
        ApiError::new(status, code, Lang::En.t(marker.message_key)).into_response()
    } else if htmx {
        // htmx does not swap error responses; the toast tells the user.
        let trigger = serde_json::json!({ "toast": { "level": "error", "message": format!("{message} ({request_id})") } });
        let mut r = status.into_response();
        if let Ok(v) = HeaderValue::from_str(&ascii_json(&trigger)) {
            r.headers_mut().insert("hx-trigger", v);
        }
        r.headers_mut()
            .insert("hx-reswap", HeaderValue::from_static("none"));
        r
    } else {
        let page = ErrorPage {
            ctx: PageCtx::minimal(lang, request_id),
            status: status.as_u16(),
            title,
            detail: marker.detail,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                (status, title).into_response()
            }
        }
    };
    // Keep headers such as Retry-After set by the handler.
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = response.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// An error answered below the handlers (axum's extractors: a duplicate or
/// unparsable query field, a wrong content type, invalid UTF-8 in a path;
/// a method the route does not have) comes as bare text with no marker: it
/// gets the same page, toast or JSON as the application's own errors.
fn framework_rejection(response: &Response, path: &str) -> Option<ErrorMarker> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("text/html") || content_type.starts_with("application/json") {
        return None;
    }
    tracing::info!(
        status = status.as_u16(),
        path,
        "request refused before the handler"
    );
    let message_key = match status.as_u16() {
        404 => "error.not_found",
        403 => "error.forbidden",
        413 => "error.too_large",
        429 => "error.too_many",
        503 => "error.unavailable",
        s if s >= 500 => "error.internal",
        _ => "error.bad_request",
    };
    Some(ErrorMarker {
        message_key,
        detail: None,
    })
}

/// Unknown paths.
pub async fn not_found() -> AppError {
    AppError::NotFound
}
