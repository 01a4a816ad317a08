//! Roles change only with a migration (custom roles will invalidate this);
//! every request needs what they grant and the users list shows them, so
//! both are kept for a minute instead of being read each time.

use std::future::Future;
use std::sync::{Arc, RwLock};

use time::{Duration, OffsetDateTime};

use crate::access::RoleRef;
use crate::auth::store::{RolePermissions, role_permissions};
use crate::db::Db;
use crate::users::store;

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
        self.roles.get(now, store::platform_roles(db)).await
    }

    /// After a change to roles.
    pub fn invalidate(&self) {
        self.roles.forget();
        self.grants.forget();
    }
}
