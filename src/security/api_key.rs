//! An API key as the bearer check sees it, and the lookup it makes on
//! every call, kept in memory for a second: a busy key is not read from
//! the database on each request. A revocation or rotation made on this
//! instance is seen at once (the change calls [`KeyCache::forget`]); on
//! another instance within [`FRESH_FOR`]. Unknown secrets are not kept,
//! so guessing fills nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::access::Scope;
use crate::db::schema::api_keys;
use crate::db::{Db, DbError, Pool};
use crate::security::crypto::sha256_hex;

/// What every secret starts with: recognisable in a leaked file or a
/// secret scanner's rules.
pub const SECRET_PREFIX: &str = "sowat_live_";
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub client_id: String,
    pub owner_id: i64,
    pub expires_at: Option<PrimitiveDateTime>,
    pub rate_per_minute: i32,
    pub monthly_quota: i64,
    pub created_at: PrimitiveDateTime,
    pub revoked_at: Option<PrimitiveDateTime>,
    pub previous_until: Option<PrimitiveDateTime>,
    pub last_used_at: Option<PrimitiveDateTime>,
    pub last_used_ip: Option<String>,
}

/// Where a key stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Expired,
    Revoked,
}

impl KeyState {
    pub const ALL: [KeyState; 3] = [KeyState::Active, KeyState::Expired, KeyState::Revoked];
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
    pub fn key(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Expired => "expired",
            KeyState::Revoked => "revoked",
        }
    }
}

impl ApiKey {
    pub fn scope_list(&self) -> Vec<Scope> {
        parse_scopes(&self.scopes)
    }

    pub fn state(&self, now: PrimitiveDateTime) -> KeyState {
        if self.revoked_at.is_some() {
            KeyState::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

/// The scopes stored in a key, in the closed list's order; unknown words
/// (a scope retired since) grant nothing.
pub fn parse_scopes(text: &str) -> Vec<Scope> {
    let mut out: Vec<Scope> = text.split_whitespace().filter_map(Scope::parse).collect();
    out.sort();
    out.dedup();
    out
}

/// How long a key read from the database is trusted without reading it
/// again.
pub const FRESH_FOR: time::Duration = time::Duration::seconds(1);
/// Keys kept at most; past it the cache starts over (a handful of keys
/// call the API: this only bounds memory).
const MAX_KEPT: usize = 10_000;

#[derive(Default)]
pub struct KeyCache {
    by_hash: Mutex<HashMap<String, Kept>>,
}

struct Kept {
    key: Arc<ApiKey>,
    /// The hash is the key's current secret (not its previous one).
    current: bool,
    read_at: PrimitiveDateTime,
}

impl KeyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        // Entries are whole values: a poisoned map is still consistent.
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key a secret opens at `now`: its current secret, or its previous
    /// one within the grace period; never a revoked or expired key. Takes a
    /// connection only when the key is not in memory.
    pub async fn authenticate(
        &self,
        pool: &Pool,
        secret: &str,
        now: PrimitiveDateTime,
    ) -> Result<Option<Arc<ApiKey>>, DbError> {
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let hash = sha256_hex(secret);
        let kept = self.lock().get(&hash).and_then(|k| {
            let fresh = k.read_at <= now && now - k.read_at < FRESH_FOR;
            fresh.then(|| (k.key.clone(), k.current))
        });
        let (key, current) = match kept {
            Some(found) => found,
            None => {
                let mut db = pool.get().await?;
                let Some((key, current_hash)) = lookup(&mut db, &hash).await? else {
                    return Ok(None);
                };
                let key = Arc::new(key);
                let current = current_hash == hash;
                let mut map = self.lock();
                if map.len() >= MAX_KEPT {
                    map.clear();
                }
                map.insert(
                    hash,
                    Kept {
                        key: key.clone(),
                        current,
                        read_at: now,
                    },
                );
                (key, current)
            }
        };
        Ok(opens(&key, current, now).then_some(key))
    }

    /// Forgets key `id` (after a change to it on this instance).
    pub fn forget(&self, id: i64) {
        self.lock().retain(|_, k| k.key.id != id);
    }
}

/// Whether a key found by its current or its previous secret opens at
/// `now`.
fn opens(key: &ApiKey, current: bool, now: PrimitiveDateTime) -> bool {
    let old_valid = key.previous_until.is_some_and(|u| now < u);
    key.state(now) == KeyState::Active && (current || old_valid)
}

/// The key whose current or previous secret has this hash, with its
/// current hash.
async fn lookup(db: &mut Db, hash: &str) -> QueryResult<Option<(ApiKey, String)>> {
    crate::db_run!(db, |c| api_keys::table
        .filter(
            api_keys::secret_hash
                .eq(hash)
                .or(api_keys::previous_hash.eq(hash)),
        )
        .select((ApiKey::as_select(), api_keys::secret_hash))
        .first(c)
        .await
        .optional())
}
