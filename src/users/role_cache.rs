//! Roles change only with a migration (custom roles will invalidate this);
//! every request needs what they grant and the users list shows them, so
//! both are kept for a minute instead of being read each time.

use std::sync::RwLock;

use time::{Duration, OffsetDateTime};

use std::sync::Arc;

use crate::auth::store::{RolePermissions, role_permissions};
use crate::db::Db;
use crate::users::store::{self, RoleRow};

const KEEP_FOR: Duration = Duration::seconds(60);

#[derive(Default)]
pub struct RoleCache {
    roles: RwLock<Option<(OffsetDateTime, Vec<RoleRow>)>>,
    grants: RwLock<Option<(OffsetDateTime, Arc<RolePermissions>)>>,
}

impl RoleCache {
    /// What each role grants.
    pub async fn grants(
        &self,
        db: &mut Db,
        now: OffsetDateTime,
    ) -> Result<Arc<RolePermissions>, diesel::result::Error> {
        if let Ok(guard) = self.grants.read()
            && let Some((at, grants)) = guard.as_ref()
            && now - *at < KEEP_FOR
        {
            return Ok(grants.clone());
        }
        let grants = Arc::new(role_permissions(db).await?);
        if let Ok(mut guard) = self.grants.write() {
            *guard = Some((now, grants.clone()));
        }
        Ok(grants)
    }

    pub async fn platform_roles(
        &self,
        db: &mut Db,
        now: OffsetDateTime,
    ) -> Result<Vec<RoleRow>, diesel::result::Error> {
        if let Ok(guard) = self.roles.read()
            && let Some((at, roles)) = guard.as_ref()
            && now - *at < KEEP_FOR
        {
            return Ok(roles.clone());
        }
        let roles = store::platform_roles(db).await?;
        if let Ok(mut guard) = self.roles.write() {
            *guard = Some((now, roles.clone()));
        }
        Ok(roles)
    }

    /// After a change to roles.
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.roles.write() {
            *guard = None;
        }
        if let Ok(mut guard) = self.grants.write() {
            *guard = None;
        }
    }
}
