//! What every handler can reach.

use std::sync::Arc;

use crate::auth::crypto::SecretBox;
use crate::auth::rate_limit::IpLimiter;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Pool;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub secrets: Arc<SecretBox>,
    pub login_limiter: Arc<IpLimiter>,
}
