//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of skew either way).
//! The library keeps no memory of used steps: the last accepted step is
//! stored per user and a code from it or an earlier step is refused.

use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const ISSUER: &str = "sowat-admin";

pub fn generate_secret() -> Vec<u8> {
    Secret::generate().as_bytes().to_vec()
}

pub fn build(secret: &[u8], account: &str) -> Result<Totp, String> {
    // ':' is not allowed in an otpauth label; an email never needs it.
    let account = account.replace(':', "");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| e.to_string())
}

pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// PNG QR code of the otpauth URL, base64, rendered here (no external service).
pub fn qr_png_base64(totp: &Totp) -> Result<String, String> {
    totp.to_qr_base64().map_err(|e| e.to_string())
}

/// The step a code matches at `unix`, if it is valid and newer than `last_step`.
pub fn check(totp: &Totp, code: &str, unix: u64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let step = i64::try_from(totp.check(&code, unix)?).ok()?;
    match last_step {
        Some(last) if step <= last => None,
        _ => Some(step),
    }
}

/// The current code, for tests and the browser test helper.
pub fn code_at(totp: &Totp, unix: u64) -> String {
    totp.generate(unix).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_is_refused() {
        let totp = build(&generate_secret(), "a@b.io").unwrap();
        let now = 1_800_000_000;
        let code = code_at(&totp, now);
        let step = check(&totp, &code, now, None).unwrap();
        assert_eq!(check(&totp, &code, now, Some(step)), None);
        let next = code_at(&totp, now + 30);
        assert!(check(&totp, &next, now + 30, Some(step)).is_some());
        assert_eq!(check(&totp, "12345", now, None), None);
    }
}
