//! Proof of presence before a sensitive change to one's own account
//! (new recovery codes, a new second factor): the current TOTP code, spent
//! once like at sign-in so a code seen over a shoulder cannot be replayed.

use crate::db::Db;
use crate::security::crypto::SecretBox;
use crate::security::{store, totp};
use crate::user_record::model::User;

/// Whether `code` is `user`'s current TOTP code; a matching code is spent.
pub async fn confirm_totp(
    db: &mut Db,
    secrets: &SecretBox,
    unix: u64,
    user: &User,
    code: &str,
) -> Result<bool, String> {
    let Some(sealed) = user.totp_secret.as_deref().filter(|_| user.totp_enabled) else {
        return Ok(false);
    };
    let secret = secrets.decrypt(sealed)?;
    let t = totp::build(&secret, &user.email)?;
    let Some(step) = totp::check(&t, code, unix, user.totp_last_step) else {
        return Ok(false);
    };
    store::use_totp_step(db, user.id, step)
        .await
        .map_err(|e| e.to_string())
}
