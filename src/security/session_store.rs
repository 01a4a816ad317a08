//! tower-sessions store on our own `sessions` table.
//!
//! Rows are keyed by the SHA-256 of the session id, so the table never holds
//! a usable cookie value and the hash can name a session in the UI. The user
//! id, IP, user agent and second-factor time are copied out of the record into
//! columns so sessions can be listed and ended in SQL. Idle and absolute
//! limits are enforced here against the app's clock (tests move it).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;
use time::{Duration, PrimitiveDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::clock::{Clock, to_utc};
use crate::db::schema::sessions;
use crate::db::{Db, Pool};

/// Keys in the session record.
pub mod keys {
    pub const USER_ID: &str = "uid";
    pub const SIGNED_IN_AT: &str = "signed_in_at";
    pub const MFA_AT: &str = "mfa_at";
    pub const CSRF: &str = "csrf";
    pub const IP: &str = "ip";
    pub const USER_AGENT: &str = "ua";
    pub const PENDING_USER: &str = "pending_uid";
    pub const PENDING_AT: &str = "pending_at";
    pub const ENROLL_SECRET: &str = "enroll_secret";
    /// When the current second factor was confirmed to replace it.
    pub const TOTP_RENEW_AT: &str = "totp_renew_at";
}

#[derive(Clone)]
pub struct DbSessionStore {
    pool: Pool,
    clock: Clock,
    idle: Duration,
    max: Duration,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessionStore")
    }
}

pub fn id_hash(id: &Id) -> String {
    crate::security::crypto::sha256_hex(&id.to_string())
}

fn unix_to_primitive(unix: i64) -> Option<PrimitiveDateTime> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).ok()?;
    Some(PrimitiveDateTime::new(t.date(), t.time()))
}

fn store_err(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = sessions)]
#[diesel(treat_none_as_null = true)]
struct SessionRow<'a> {
    id_hash: String,
    user_id: Option<i64>,
    data: String,
    expires_at: PrimitiveDateTime,
    created_at: PrimitiveDateTime,
    last_seen_at: PrimitiveDateTime,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    mfa_at: Option<PrimitiveDateTime>,
}

impl DbSessionStore {
    pub fn new(pool: Pool, clock: Clock, idle: Duration, max: Duration) -> Self {
        DbSessionStore {
            pool,
            clock,
            idle,
            max,
        }
    }

    async fn db(&self) -> session_store::Result<Db> {
        self.pool.get().await.map_err(store_err)
    }

    fn row<'a>(&self, record: &'a Record) -> session_store::Result<SessionRow<'a>> {
        let now = self.clock.now_primitive();
        let int = |k: &str| record.data.get(k).and_then(Value::as_i64);
        let text = |k: &str| record.data.get(k).and_then(Value::as_str);
        let created_at = int(keys::SIGNED_IN_AT)
            .and_then(unix_to_primitive)
            .unwrap_or(now);
        Ok(SessionRow {
            id_hash: id_hash(&record.id),
            user_id: int(keys::USER_ID),
            data: serde_json::to_string(&record.data)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?,
            expires_at: created_at + self.max,
            created_at,
            last_seen_at: now,
            ip: text(keys::IP),
            user_agent: text(keys::USER_AGENT),
            mfa_at: int(keys::MFA_AT).and_then(unix_to_primitive),
        })
    }

    /// Deletes sessions past their idle or absolute limit; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, String> {
        let now = self.clock.now_primitive();
        let mut db = self.db().await.map_err(|e| e.to_string())?;
        let idle_cutoff = now - self.idle;
        crate::db_run!(&mut db, |c| diesel::delete(
            sessions::table.filter(
                sessions::expires_at
                    .lt(now)
                    .or(sessions::last_seen_at.lt(idle_cutoff))
            )
        )
        .execute(c)
        .await)
        .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut db = self.db().await?;
        // A collision of 128 random bits is not expected; retry rather than overwrite.
        for _ in 0..3 {
            let row = self.row(record)?;
            let inserted = crate::db_run!(&mut db, |c| diesel::insert_into(sessions::table)
                .values(&row)
                .on_conflict_do_nothing()
                .execute(c)
                .await)
            .map_err(store_err)?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "could not allocate a session id".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let row = self.row(record)?;
        let mut db = self.db().await?;
        let hash = row.id_hash.clone();
        let updated = crate::db_run!(&mut db, |c| diesel::update(sessions::table.find(&hash))
            .set((
                sessions::user_id.eq(row.user_id),
                sessions::data.eq(&row.data),
                sessions::last_seen_at.eq(row.last_seen_at),
                sessions::ip.eq(row.ip),
                sessions::user_agent.eq(row.user_agent),
                sessions::mfa_at.eq(row.mfa_at),
            ))
            .execute(c)
            .await)
        .map_err(store_err)?;
        // Saving a session that was ended elsewhere must not bring it back.
        if updated == 0 {
            tracing::debug!("save of a session that no longer exists ignored");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let hash = id_hash(id);
        let mut db = self.db().await?;
        let found: Option<(String, PrimitiveDateTime, PrimitiveDateTime)> =
            crate::db_run!(&mut db, |c| sessions::table
                .find(&hash)
                .select((sessions::data, sessions::expires_at, sessions::last_seen_at))
                .first(c)
                .await
                .optional())
            .map_err(store_err)?;
        let Some((data, expires_at, last_seen_at)) = found else {
            return Ok(None);
        };
        let now = self.clock.now_primitive();
        if expires_at < now || last_seen_at + self.idle < now {
            crate::db_run!(&mut db, |c| diesel::delete(sessions::table.find(&hash))
                .execute(c)
                .await)
            .map_err(store_err)?;
            return Ok(None);
        }
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date: to_utc(expires_at),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let hash = id_hash(id);
        let mut db = self.db().await?;
        crate::db_run!(&mut db, |c| diesel::delete(sessions::table.find(&hash))
            .execute(c)
            .await)
        .map_err(store_err)?;
        Ok(())
    }
}
