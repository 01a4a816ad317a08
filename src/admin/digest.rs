//! Signed digests of the audit chain: the head (last link's place and
//! hash) with an HMAC under the instance's secret key. An auditor keeps
//! the day's digest; later, `verify-audit --digest FILE` proves the
//! chain still holds that exact link, so nothing up to it has changed
//! since (every link's hash covers all the links before it).

use serde::{Deserialize, Serialize};

use crate::audit::chain;
use crate::db::Db;
use crate::db::schema::audit_events;
use crate::db_run;
use crate::security::crypto::SecretBox;

pub const FORMAT: &str = "sowat-audit-digest-v1";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Digest {
    pub format: String,
    pub head_seq: i64,
    pub head_hash: String,
    /// When it was signed (RFC 3339, UTC).
    pub signed_at: String,
    /// Which secret key signed it (its public id).
    pub key_id: String,
    pub mac: String,
}

fn message(seq: i64, hash: &str, signed_at: &str) -> Vec<u8> {
    format!("{FORMAT}|{seq}|{hash}|{signed_at}").into_bytes()
}

/// Signs the head a sound walk ended on.
pub fn sign(secrets: &SecretBox, verdict: &chain::Verdict, signed_at: String) -> Digest {
    Digest {
        format: FORMAT.to_owned(),
        head_seq: verdict.head_seq,
        head_hash: verdict.head_hash.clone(),
        mac: secrets.mac(&message(verdict.head_seq, &verdict.head_hash, &signed_at)),
        key_id: secrets.key_id().to_owned(),
        signed_at,
    }
}

/// Why a digest does not hold.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a {FORMAT} digest")]
    Format,
    #[error("the signature does not match (another key, or the digest was altered)")]
    Signature,
    #[error("link #{0} is no longer stored")]
    Gone(i64),
    #[error(
        "link #{0} was removed by the retention purge (the stored chain starts at link #{1}); the purge events record the hashes it started from"
    )]
    Purged(i64, i64),
    #[error("link #{0} has changed since the digest was signed")]
    Changed(i64),
}

/// Checks the signature and that the chain still holds the signed link.
pub async fn check(
    db: &mut Db,
    secrets: &SecretBox,
    d: &Digest,
) -> Result<Result<(), Refusal>, diesel::result::Error> {
    if d.format != FORMAT {
        return Ok(Err(Refusal::Format));
    }
    let expected = secrets.mac(&message(d.head_seq, &d.head_hash, &d.signed_at));
    // Constant time: the MAC is a secret-derived value.
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        d.mac.as_bytes(),
    )) {
        return Ok(Err(Refusal::Signature));
    }
    let seq = d.head_seq;
    let stored: Option<Option<String>> = db_run!(db, |c| {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        audit_events::table
            .filter(audit_events::seq.eq(seq))
            .select(audit_events::hash)
            .first(c)
            .await
            .optional()
    })?;
    let (base, base_hash) = chain::base(db).await?;
    Ok(match stored {
        // The last removed link: the chain records its hash as its base.
        None if seq == base - 1 && base_hash == d.head_hash => Ok(()),
        None if seq < base => Err(Refusal::Purged(seq, base)),
        None => Err(Refusal::Gone(seq)),
        Some(h) if h.as_deref() == Some(d.head_hash.as_str()) => Ok(()),
        Some(_) => Err(Refusal::Changed(seq)),
    })
}
