//! Every request needs what roles grant and the users list shows them, so
//! both are kept for a minute instead of being read each time. A change to
//! roles bumps `roles_version` in `shared_state` in its transaction
//! ([`roles_changed`]); every instance polls that one row each second
//! ([`RoleCache::follow`]) and forgets its copy when it moves, so a change
//! made on one instance holds on all of them within a second.

use std::future::Future;
use std::sync::{Arc, RwLock};

use time::{Duration, OffsetDateTime};

use super::roles::{RolePermissions, platform_roles, role_permissions};
use crate::access::RoleRef;
use crate::db::{Db, shared_state};

const KEEP_FOR: Duration = Duration::seconds(60);

/// One value read from the database at most once a minute.
struct Kept<T>(RwLock<Option<(OffsetDateTime, T)>>);

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept(RwLock::new(None))
    }
}

impl<T: Clone> Kept<T> {
    /// The kept value if fresh, else what `load` reads (then kept).
    async fn get<F>(&self, now: OffsetDateTime, load: F) -> Result<T, diesel::result::Error>
    where
        F: Future<Output = Result<T, diesel::result::Error>>,
    {
        if let Ok(guard) = self.0.read()
            && let Some((at, value)) = guard.as_ref()
            && now - *at < KEEP_FOR
        {
            return Ok(value.clone());
        }
        let value = load.await?;
        if let Ok(mut guard) = self.0.write() {
            *guard = Some((now, value.clone()));
        }
        Ok(value)
    }

    fn forget(&self) {
        if let Ok(mut guard) = self.0.write() {
            *guard = None;
        }
    }
}

#[derive(Default)]
pub struct RoleCache {
    roles: Kept<Vec<RoleRef>>,
    grants: Kept<Arc<RolePermissions>>,
    /// The `roles_version` the kept values belong to.
    version: std::sync::Mutex<Option<String>>,
}

const VERSION: &str = "roles_version";

/// Records, inside the change's transaction, that roles changed.
pub async fn roles_changed(tx: &mut crate::db::Tx<'_>) -> Result<(), diesel::result::Error> {
    let current = shared_state::get(tx, VERSION)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    shared_state::set(tx, VERSION, &(current + 1).to_string()).await
}

impl RoleCache {
    /// What each role grants.
    pub async fn grants(
        &self,
        db: &mut Db,
        now: OffsetDateTime,
    ) -> Result<Arc<RolePermissions>, diesel::result::Error> {
        self.grants
            .get(now, async { role_permissions(db).await.map(Arc::new) })
            .await
    }

    /// Every platform role, in id order.
    pub async fn platform_roles(
        &self,
        db: &mut Db,
        now: OffsetDateTime,
    ) -> Result<Vec<RoleRef>, diesel::result::Error> {
        self.roles.get(now, platform_roles(db)).await
    }

    /// Forgets the kept values if another instance (or this one) changed
    /// roles since they were read.
    pub async fn follow(&self, db: &mut Db) -> Result<(), diesel::result::Error> {
        let seen = shared_state::get(db, VERSION).await?;
        let moved = match self.version.lock() {
            Ok(mut known) => {
                let moved = known.is_some() && *known != seen;
                *known = seen;
                moved
            }
            Err(_) => true,
        };
        if moved {
            tracing::info!("roles changed: role cache refreshed");
            self.invalidate();
        }
        Ok(())
    }

    /// After a change to roles.
    pub fn invalidate(&self) {
        self.roles.forget();
        self.grants.forget();
    }
}
