//! The API's contract: the OpenAPI 3.1 document (`src/api/openapi.json`,
//! served at `/api/v1/openapi.json`) and its reading for administrators at
//! `/api/docs`, both from the binary. A test checks the document names
//! exactly the API routes of the route table, method for method.

use askama::Template;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::AppError;
use crate::web::action::Call;
use crate::web::layout::PageCtx;
use crate::web::render::html;

pub const OPENAPI: &str = include_str!("openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub struct Operation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub statuses: Vec<String>,
}

#[derive(Template)]
#[template(path = "api_keys/docs.html")]
pub struct DocsPage {
    pub ctx: PageCtx,
    pub operations: Vec<Operation>,
}

/// Every operation of the document: (method, path, its object).
pub fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            if let Some(methods) = item.as_object() {
                for (method, op) in methods {
                    out.push((method.to_uppercase(), path.clone(), op.clone()));
                }
            }
        }
    }
    out
}

pub async fn page(call: Call) -> Result<Response, AppError> {
    let doc: Value = serde_json::from_str(OPENAPI).map_err(AppError::internal)?;
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let operations = operations(&doc)
        .into_iter()
        .map(|(method, path, op)| Operation {
            summary: text(&op, "summary"),
            description: text(&op, "description"),
            statuses: op
                .get("responses")
                .and_then(Value::as_object)
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default(),
            method,
            path,
        })
        .collect();
    html(&DocsPage {
        ctx: call.ctx,
        operations,
    })
}
