//! What every handler can reach.

use std::sync::Arc;

use crate::access::role_cache::RoleCache;
use crate::audit::anonymous::AnonymousDenials;
use crate::clock::Clock;
use crate::config::Config;
use crate::cpu::CpuPool;
use crate::db::Pool;
use crate::security::crypto::SecretBox;
use crate::security::rate_limit::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    /// The usage meter: its connections (generic plans; see
    /// `Pool::for_hot_paths`) and, on PostgreSQL, its group commit.
    pub meter: crate::metering::meter::Meter,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub secrets: Arc<SecretBox>,
    pub login_limiter: Arc<RateLimiter>,
    pub roles: Arc<RoleCache>,
    pub cpu: Arc<CpuPool>,
    pub anon_denials: Arc<AnonymousDenials>,
    /// This instance's leases of the API keys' limits.
    pub key_ledger: Arc<crate::security::key_ledger::Ledger>,
    /// API keys read in the last second.
    pub key_cache: Arc<crate::security::api_key::KeyCache>,
    /// Wakes this instance's task workers after a commit that enqueued work.
    pub tasks: crate::tasks::Waker,
    /// Stripe's API, when a secret key is configured.
    pub stripe: Option<Arc<crate::billing::stripe_api::StripeApi>>,
    /// sowat.io's BullMQ queues (connected in the background).
    pub jobs: Arc<crate::jobs::JobsLink>,
}

impl AppState {
    /// The user as the access check sees them (role grants from the cache).
    pub async fn actor(
        &self,
        db: &mut crate::db::Db,
        user_id: i64,
    ) -> Result<Option<crate::access::Actor>, diesel::result::Error> {
        let grants = self.roles.grants(db, self.clock.now()).await?;
        crate::security::store::load_actor(db, &grants, user_id).await
    }
}
