//! Static files embedded in the binary (read from disk in debug builds).
//! URLs carry a content hash (`/static/app.css?v=1a2b…`): a matching hash is
//! cached for a year as immutable; any other request revalidates by ETag.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Embed)]
#[folder = "static/"]
struct Static;

static HASHES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    Static::iter()
        .filter_map(|name| {
            let file = Static::get(&name)?;
            let digest = Sha256::digest(&file.data);
            Some((name.into_owned(), hex::encode(&digest[..6])))
        })
        .collect()
});

/// The cache-busting URL of an asset, for templates.
pub fn url(name: &str) -> String {
    match HASHES.get(name) {
        Some(hash) => format!("/static/{name}?v={hash}"),
        None => format!("/static/{name}"),
    }
}

#[derive(Deserialize)]
pub struct Version {
    v: Option<String>,
}

pub async fn serve(
    Path(name): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let (Some(file), Some(hash)) = (Static::get(&name), HASHES.get(&name)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{hash}\"");
    let cache = if version.v.as_deref() == Some(hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Body::from(file.data.into_owned()).into_response();
        if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
            r.headers_mut().insert(header::CONTENT_TYPE, mime);
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}
