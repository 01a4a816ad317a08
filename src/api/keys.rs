//! API keys: creation (the secret shown once, only its hash kept),
//! rotation with a grace period, revocation. Each change writes its audit
//! event in the same transaction. The lookup the bearer check makes on
//! every call is [`crate::security::api_key`].

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use time::PrimitiveDateTime;

use crate::access::Scope;
use crate::audit::{Action, Event};
use crate::change::{By, ChangeError, ChangeResult};
use crate::db::schema::api_keys;
use crate::db::{Db, Tx};
pub use crate::security::api_key::{ApiKey, KeyState, SECRET_PREFIX, parse_scopes};
use crate::security::crypto::{random_token, sha256_hex};

/// Characters of the secret kept to tell keys apart in lists.
const SHOWN_CHARS: usize = SECRET_PREFIX.len() + 8;
/// Bounds of the limits a key may be given.
pub const MAX_RATE_PER_MINUTE: i32 = 1_000_000;
pub const MAX_MONTHLY_QUOTA: i64 = 1_000_000_000;

/// A key as the creation form gives it, checked.
#[derive(Clone, Debug)]
pub struct NewKey {
    pub name: String,
    pub client_id: String,
    pub owner_id: i64,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<PrimitiveDateTime>,
    pub rate_per_minute: i32,
    pub monthly_quota: i64,
}

/// A client id names an application: lower-case letters, digits and
/// dashes, as `sowat-app` or `article-worker`.
pub fn valid_client_id(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

/// A new secret and the two things stored of it.
fn new_secret() -> (String, String, String) {
    let secret = format!("{SECRET_PREFIX}{}", random_token());
    let shown = secret.chars().take(SHOWN_CHARS).collect();
    let hash = sha256_hex(&secret);
    (secret, shown, hash)
}

/// Creates a key; returns its id and the secret, which is never stored.
pub async fn create(db: &mut Tx<'_>, by: &By, key: &NewKey) -> ChangeResult<(i64, String)> {
    if key.name.trim().is_empty() {
        return Err(ChangeError::Invalid("api_keys.name_required"));
    }
    if !valid_client_id(&key.client_id) {
        return Err(ChangeError::Invalid("api_keys.client_id_invalid"));
    }
    if key.scopes.is_empty() {
        return Err(ChangeError::Invalid("api_keys.scopes_required"));
    }
    if !(1..=MAX_RATE_PER_MINUTE).contains(&key.rate_per_minute)
        || !(1..=MAX_MONTHLY_QUOTA).contains(&key.monthly_quota)
    {
        return Err(ChangeError::Invalid("api_keys.limits_invalid"));
    }
    if key.expires_at.is_some_and(|e| e <= by.now) {
        return Err(ChangeError::Invalid("api_keys.expiry_past"));
    }
    let (secret, shown, hash) = new_secret();
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.key()).collect();
    let id: i64 = crate::db_run!(db, |c| diesel::insert_into(api_keys::table)
        .values((
            api_keys::name.eq(key.name.trim()),
            api_keys::prefix.eq(&shown),
            api_keys::secret_hash.eq(&hash),
            api_keys::scopes.eq(scopes.join(" ")),
            api_keys::client_id.eq(&key.client_id),
            api_keys::owner_id.eq(key.owner_id),
            api_keys::expires_at.eq(key.expires_at),
            api_keys::rate_per_minute.eq(key.rate_per_minute),
            api_keys::monthly_quota.eq(key.monthly_quota),
            api_keys::created_at.eq(by.now),
            api_keys::created_by.eq(by.actor.id),
        ))
        .returning(api_keys::id)
        .get_result(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::ApiKeyCreated)
            .target("api_key", id)
            .details(json!({
                "name": key.name.trim(),
                "prefix": shown,
                "client_id": key.client_id,
                "owner_id": key.owner_id,
                "scopes": scopes,
                "rate_per_minute": key.rate_per_minute,
                "monthly_quota": key.monthly_quota,
            })),
    )
    .await?;
    Ok((id, secret))
}

/// A new secret for key `id`; the old one keeps working for `grace`
/// (zero: it stops now). Returns the key's name and its new secret.
pub async fn rotate(
    db: &mut Tx<'_>,
    by: &By,
    id: i64,
    grace: time::Duration,
) -> ChangeResult<(String, String)> {
    let key = find(db, id).await?.ok_or(ChangeError::NotFound)?;
    if key.state(by.now) != KeyState::Active {
        return Err(ChangeError::Invalid("api_keys.not_active"));
    }
    let (secret, shown, hash) = new_secret();
    let until = by.now + grace;
    crate::db_run!(db, |c| diesel::update(api_keys::table.find(id))
        .set((
            api_keys::previous_hash.eq(api_keys::secret_hash.nullable()),
            api_keys::previous_until.eq(Some(until)),
            api_keys::secret_hash.eq(&hash),
            api_keys::prefix.eq(&shown),
        ))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::ApiKeyRotated)
            .target("api_key", id)
            .details(json!({
                "name": key.name,
                "from": { "prefix": key.prefix },
                "to": { "prefix": shown },
                "old_secret_until": crate::web::format::date_time(until),
            })),
    )
    .await?;
    Ok((key.name, secret))
}

/// Revokes key `id` at once (its old secret too).
pub async fn revoke(db: &mut Tx<'_>, by: &By, id: i64) -> ChangeResult<()> {
    let key = find(db, id).await?.ok_or(ChangeError::NotFound)?;
    if key.revoked_at.is_some() {
        return Err(ChangeError::Invalid("api_keys.already_revoked"));
    }
    crate::db_run!(db, |c| diesel::update(api_keys::table.find(id))
        .set(api_keys::revoked_at.eq(Some(by.now)))
        .execute(c)
        .await)?;
    by.record(
        db,
        Event::new(Action::ApiKeyRevoked)
            .target("api_key", id)
            .details(json!({ "name": key.name, "prefix": key.prefix })),
    )
    .await?;
    Ok(())
}

pub async fn find(db: &mut Db, id: i64) -> Result<Option<ApiKey>, diesel::result::Error> {
    crate::db_run!(db, |c| api_keys::table
        .find(id)
        .select(ApiKey::as_select())
        .first(c)
        .await
        .optional())
}

/// The filters of the key list.
pub struct KeyFilter<'a> {
    pub owner: Option<i64>,
    pub client_id: &'a str,
    pub scope: Option<Scope>,
    pub state: Option<KeyState>,
    /// What "expired" means.
    pub now: PrimitiveDateTime,
}

/// Where a page of the key list starts (keys newest first, by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCursor {
    First,
    /// The keys older than this one.
    Before(i64),
    /// The keys newer than this one (a previous page).
    After(i64),
}

/// Up to `limit` keys matching `f` from `cursor`, newest first. Keyset on
/// the primary key: the cost does not grow with the page's depth.
pub async fn list(
    db: &mut Db,
    f: &KeyFilter<'_>,
    cursor: KeyCursor,
    limit: i64,
) -> Result<Vec<ApiKey>, diesel::result::Error> {
    let mut found: Vec<ApiKey> = crate::db_run!(db, |c| {
        let mut q = api_keys::table.into_boxed();
        if let Some(o) = f.owner {
            q = q.filter(api_keys::owner_id.eq(o));
        }
        if !f.client_id.is_empty() {
            q = q.filter(api_keys::client_id.eq(f.client_id));
        }
        if let Some(s) = f.scope {
            // Scopes are whole words in a space-separated list.
            q = q.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "(' ' || api_keys.scopes || ' ') LIKE ",
                )
                .bind::<diesel::sql_types::Text, _>(format!("% {} %", s.key())),
            );
        }
        match f.state {
            None => {}
            Some(KeyState::Revoked) => q = q.filter(api_keys::revoked_at.is_not_null()),
            Some(KeyState::Expired) => {
                q = q
                    .filter(api_keys::revoked_at.is_null())
                    .filter(api_keys::expires_at.le(f.now))
            }
            Some(KeyState::Active) => {
                q = q.filter(api_keys::revoked_at.is_null()).filter(
                    api_keys::expires_at
                        .is_null()
                        .or(api_keys::expires_at.gt(f.now)),
                )
            }
        }
        q = match cursor {
            KeyCursor::First => q.order(api_keys::id.desc()),
            KeyCursor::Before(id) => q.filter(api_keys::id.lt(id)).order(api_keys::id.desc()),
            KeyCursor::After(id) => q.filter(api_keys::id.gt(id)).order(api_keys::id.asc()),
        };
        q.select(ApiKey::as_select()).limit(limit).load(c).await
    })?;
    if matches!(cursor, KeyCursor::After(_)) {
        found.reverse();
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognisable_and_only_hashed() {
        let (secret, shown, hash) = new_secret();
        assert!(secret.starts_with(SECRET_PREFIX));
        assert!(secret.len() >= SECRET_PREFIX.len() + 43, "256 random bits");
        assert!(secret.starts_with(&shown) && shown.len() < secret.len());
        assert_eq!(hash, sha256_hex(&secret));
        assert_ne!(new_secret().0, secret);
    }

    #[test]
    fn client_ids_name_applications() {
        for ok in ["sowat-app", "article-worker", "mobile-app", "ci2"] {
            assert!(valid_client_id(ok), "{ok}");
        }
        for bad in ["", "a", "Sowat", "-app", "app worker", "app_1", "é"] {
            assert!(!valid_client_id(bad), "{bad}");
        }
    }

    #[test]
    fn scopes_come_from_the_closed_list() {
        assert_eq!(
            parse_scopes("users:sync users:read nonsense users:read"),
            vec![Scope::UsersRead, Scope::UsersSync]
        );
    }
}
