//! Stripe's webhook signature: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…][,v0=…]`,
//! each `v1` an HMAC-SHA256 of `"<t>.<raw body>"` keyed with the endpoint's
//! secret. Several `v1` appear while a secret is being rolled; any one
//! matching is enough. Compared in constant time; a timestamp more than
//! five minutes from now (either way) is refused, so a captured request
//! cannot be replayed later.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Stripe's own libraries' default.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is more than five minutes away from now")]
    Stale,
    #[error("no v1 signature matches the endpoint secret")]
    Mismatch,
}

/// HMAC-SHA256 of `"<t>.<body>"` (`None` never happens: HMAC takes keys
/// of any length, but the API says it may fail).
fn digest(secret: &str, timestamp: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().to_vec())
}

/// Checks `header` against `body` at `now` (unix seconds); the event's
/// signed timestamp when valid.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let t_text = timestamp.ok_or(SignatureError::Malformed)?;
    let t: i64 = t_text.parse().map_err(|_| SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = digest(secret, t_text, body).ok_or(SignatureError::Mismatch)?;
    let matched = signatures.iter().any(|s| {
        hex::decode(s).is_ok_and(|given| bool::from(given.as_slice().ct_eq(expected.as_slice())))
    });
    if matched {
        Ok(t)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `body` at `timestamp` (for tests and
/// for replaying a stored event to a staging endpoint).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let t = timestamp.to_string();
    let signature = hex::encode(digest(secret, &t, body).unwrap_or_default());
    format!("t={t},v1={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, SECRET, 1_000_000);
        assert_eq!(
            verify(Some(&header), body, SECRET, 1_000_100),
            Ok(1_000_000)
        );
        assert_eq!(
            verify(Some(&header), body, "whsec_other", 1_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), br#"{"id":"evt_2"}"#, SECRET, 1_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), body, SECRET, 1_000_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&header), body, SECRET, 999_699),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(None, body, SECRET, 1_000_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1000000"), body, SECRET, 1_000_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("v1=00,t=abc"), body, SECRET, 1_000_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn any_one_of_several_v1_signatures_is_enough() {
        let body = b"{}";
        let good = sign(body, SECRET, 50);
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let header = format!("t=50,v1={},v1={v1},v0=abc", "ab".repeat(32));
        assert_eq!(verify(Some(&header), body, SECRET, 60), Ok(50));
        let header = format!("t=50,v1={},v1=zz", "ab".repeat(32));
        assert_eq!(
            verify(Some(&header), body, SECRET, 60),
            Err(SignatureError::Mismatch)
        );
    }
}
