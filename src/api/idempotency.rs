//! `Idempotency-Key` on POSTs that create or count: the first answer is
//! stored with a hash of the body, in the same transaction as the change;
//! the same key and body replay it, another body is refused (422).

use axum::http::HeaderMap;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::PrimitiveDateTime;

use crate::db::Db;
use crate::db::schema::api_idempotency;
use crate::security::crypto::sha256_hex;
use crate::web::api_error::ApiError;

pub enum Replay {
    /// Not seen: do the work.
    Fresh,
    /// Seen with this body: the stored status and JSON.
    Answer(i32, String),
    /// Seen with another body.
    Conflict,
}

/// The header's value, if sent: 1 to 255 visible ASCII characters.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(s) if (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(s.to_owned()))
        }
        _ => Err(ApiError::invalid(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

fn hash(body: &[u8]) -> String {
    sha256_hex(&String::from_utf8_lossy(body))
}

pub async fn find(
    db: &mut Db,
    key_id: i64,
    idem: &str,
    body: &[u8],
) -> Result<Replay, diesel::result::Error> {
    let found: Option<(String, i32, String)> = crate::db_run!(db, |c| api_idempotency::table
        .find((key_id, idem))
        .select((
            api_idempotency::request_hash,
            api_idempotency::status,
            api_idempotency::body
        ))
        .first(c)
        .await
        .optional())?;
    Ok(match found {
        None => Replay::Fresh,
        Some((h, status, stored)) if h == hash(body) => Replay::Answer(status, stored),
        Some(_) => Replay::Conflict,
    })
}

pub async fn store(
    db: &mut Db,
    key_id: i64,
    idem: &str,
    body: &[u8],
    status: i32,
    answer: &serde_json::Value,
    now: PrimitiveDateTime,
) -> Result<(), diesel::result::Error> {
    crate::db_run!(db, |c| diesel::insert_into(api_idempotency::table)
        .values((
            api_idempotency::key_id.eq(key_id),
            api_idempotency::idem_key.eq(idem),
            api_idempotency::request_hash.eq(hash(body)),
            api_idempotency::status.eq(status),
            api_idempotency::body.eq(answer.to_string()),
            api_idempotency::created_at.eq(now),
        ))
        .execute(c)
        .await)?;
    Ok(())
}
