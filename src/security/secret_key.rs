//! The secret key across instances: loaded from the environment or a file,
//! checked at start against the key id the database was set up with (so an
//! instance with another key refuses to start instead of failing to read
//! every TOTP secret), and rotated by `sowat-admin rotate-secret-key`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, bad};
use crate::db::schema::{one_time_tokens, users};
use crate::db::{Pool, shared_state};
use crate::db_run;
use crate::security::crypto::SecretBox;

const KEY_ID: &str = "secret_key_id";

/// The sealing key of this instance (and the previous one during a rotation).
pub fn load(config: &Config) -> Result<SecretBox, ConfigError> {
    let configured = config.secret_key.as_ref().map(|k| k.0.as_str());
    let previous = std::env::var("SOWAT_PREVIOUS_SECRET_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    SecretBox::load(configured, &config.data_dir)
        .and_then(|b| b.with_previous(previous.as_deref().map(str::trim)))
        .map_err(|m| bad("SOWAT_SECRET_KEY", m))
}

/// Refuses a key the database's values were not sealed with.
pub async fn check(pool: &Pool, secrets: &SecretBox) -> Result<(), ConfigError> {
    let unavailable = |e: String| bad("SOWAT_DATABASE_URL", e);
    let mut db = pool.get().await.map_err(|e| unavailable(e.to_string()))?;
    let recorded = shared_state::get_or_init(&mut db, KEY_ID, secrets.key_id())
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if recorded == secrets.key_id() || secrets.previous_key_id() == Some(recorded.as_str()) {
        return Ok(());
    }
    Err(bad(
        "SOWAT_SECRET_KEY",
        format!(
            "this database is sealed with key {recorded}, this instance has key {}: give every instance the same key (SOWAT_SECRET_KEY or SOWAT_SECRET_KEY_FILE)",
            secrets.key_id()
        ),
    ))
}

/// Re-seals every stored secret under the current key (values under the
/// previous one are opened with it), then records the current key's id, in
/// one transaction. Returns how many values were re-sealed.
pub async fn rotate(pool: &Pool, secrets: &SecretBox, clock: &Clock) -> Result<usize, String> {
    let mut db = pool.get().await.map_err(|e| e.to_string())?;
    let totp: Vec<(i64, String)> = db_run!(&mut db, |c| users::table
        .filter(users::totp_secret.is_not_null())
        .select((users::id, users::totp_secret.assume_not_null()))
        .load(c)
        .await)
    .map_err(|e| e.to_string())?;
    let links: Vec<(i64, String)> = db_run!(&mut db, |c| one_time_tokens::table
        .filter(one_time_tokens::sealed_token.is_not_null())
        .select((
            one_time_tokens::id,
            one_time_tokens::sealed_token.assume_not_null()
        ))
        .load(c)
        .await)
    .map_err(|e| e.to_string())?;
    let reseal = |rows: Vec<(i64, String)>| -> Result<Vec<(i64, String)>, String> {
        rows.into_iter()
            .filter(|(_, sealed)| !secrets.is_current(sealed))
            .map(|(id, sealed)| {
                let plain = secrets
                    .decrypt(&sealed)
                    .map_err(|e| format!("value {id}: {e}"))?;
                Ok((id, secrets.encrypt(&plain)?))
            })
            .collect()
    };
    let (totp, links) = (reseal(totp)?, reseal(links)?);
    let count = totp.len() + links.len();
    let key_id = secrets.key_id().to_owned();
    let now = clock.now_primitive();
    db.transaction(|tx| {
        Box::pin(async move {
            for (id, sealed) in &totp {
                db_run!(tx, |c| diesel::update(users::table.find(id)).set(users::totp_secret.eq(sealed)).execute(c).await)?;
            }
            for (id, sealed) in &links {
                db_run!(tx, |c| diesel::update(one_time_tokens::table.find(id)).set(one_time_tokens::sealed_token.eq(sealed)).execute(c).await)?;
            }
            shared_state::set(tx, KEY_ID, &key_id).await?;
            let ev = crate::audit::Event::new(crate::audit::Action::SecretKeyRotated)
                .details(serde_json::json!({ "key_id": key_id, "values_resealed": totp.len() + links.len() }));
            let meta = crate::audit::RequestMeta { client_id: "cli".into(), ..Default::default() };
            crate::audit::record(tx, now, &crate::audit::ActorRef::system(), &meta, ev).await
        })
    })
    .await
    .map_err(|e: diesel::result::Error| e.to_string())?;
    Ok(count)
}
