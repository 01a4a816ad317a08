//! Facts about the request that audit rows and login events record, read
//! from the HTTP request into [`RequestMeta`] (defined with the audit trail,
//! which knows no HTTP).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::state::AppState;

/// The client id of the browser UI (seed 004: every event names its app of origin).
pub const ADMIN_UI_CLIENT: &str = "admin-ui";

pub use crate::audit::RequestMeta;

impl RequestMeta {
    /// `trusted_proxies`: how many proxies in front of the service append
    /// to `X-Forwarded-For`. The client is the entry that many places from
    /// the right (what the farthest trusted proxy saw); entries further left
    /// are whatever the client claimed and are ignored.
    pub fn from_parts(parts: &Parts, trusted_proxies: u8) -> Self {
        let forwarded = (trusted_proxies > 0)
            .then(|| parts.headers.get_all("x-forwarded-for"))
            .and_then(|values| {
                let hops: Vec<&str> = values
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .map(str::trim)
                    .collect();
                hops.len()
                    .checked_sub(usize::from(trusted_proxies))
                    .and_then(|i| hops.get(i).copied())
            })
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect::<String>())
        };
        RequestMeta {
            ip: forwarded.or(peer),
            user_agent: header("user-agent"),
            request_id: header("x-request-id"),
            // An API key speaks for its application (seed 004).
            client_id: parts
                .extensions
                .get::<crate::web::current::CurrentUser>()
                .and_then(|c| c.0.as_ref())
                .and_then(|a| a.key.as_ref())
                .map_or_else(|| ADMIN_UI_CLIENT.to_owned(), |k| k.client_id.clone()),
        }
    }
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta::from_parts(parts, state.config.trusted_proxies))
    }
}

/// A numeric id in the path; anything else is a 404 (not axum's text rejection).
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = crate::error::AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| crate::error::AppError::NotFound)?;
        raw.parse()
            .map(IdPath)
            .map_err(|_| crate::error::AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::RequestMeta;
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use std::net::SocketAddr;

    fn client_ip(forwarded: &[&str], hops: u8) -> Option<String> {
        let mut req = Request::builder().uri("/");
        for value in forwarded {
            req = req.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo("10.0.0.9:4000".parse::<SocketAddr>().unwrap()));
        RequestMeta::from_parts(&parts, hops).ip_string()
    }

    #[test]
    fn the_client_is_as_many_entries_from_the_right_as_trusted_proxies() {
        // The client claims 6.6.6.6; nginx appends what it saw.
        assert_eq!(
            client_ip(&["6.6.6.6, 203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
        // A balancer then nginx: two trusted hops.
        assert_eq!(
            client_ip(&["6.6.6.6, 203.0.113.7, 10.0.0.2"], 2).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            client_ip(&["6.6.6.6", "203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
        // Not trusted, or fewer entries than proxies: the peer.
        assert_eq!(client_ip(&["6.6.6.6"], 0).as_deref(), Some("10.0.0.9"));
        assert_eq!(client_ip(&["203.0.113.7"], 2).as_deref(), Some("10.0.0.9"));
        assert_eq!(client_ip(&["not-an-ip"], 1).as_deref(), Some("10.0.0.9"));
    }
}
