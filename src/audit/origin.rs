//! Where a change or an attempt came from, as audit rows and login events
//! record it. Plain data: the web layer fills it from the request
//! (`web::meta`), the command line and the scheduler fill it themselves.

use std::net::IpAddr;

#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The application of origin (seed 004): `admin-ui`, `cli`, `scheduler`,
    /// later an API key's client id.
    pub client_id: String,
}

impl RequestMeta {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}
