//! Password hashing (argon2id) and the password policy.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
});

/// Checked at start so the first sign-in does not pay for building it, and so
/// an unknown account costs the same as a known one.
pub static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("not-a-real-password-for-timing").unwrap_or_default());

pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Constant-time verification; a malformed hash is a mismatch.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Checks `password` against `hash` on the CPU pool; `None` (no usable hash,
/// unknown account) spends the same work and fails.
pub async fn verify_off_thread(
    cpu: &crate::cpu::CpuPool,
    password: &str,
    hash: Option<&str>,
) -> Result<bool, crate::error::AppError> {
    let (password, hash) = (password.to_owned(), hash.map(str::to_owned));
    cpu.run(move || match hash {
        Some(h) => verify(&password, &h),
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await
}

/// Hashes a new password on the CPU pool.
pub async fn hash_off_thread(
    cpu: &crate::cpu::CpuPool,
    password: &str,
) -> Result<String, crate::error::AppError> {
    let password = password.to_owned();
    cpu.run(move || hash(&password))
        .await?
        .map_err(crate::error::AppError::internal)
}

/// Spends the same work as a real check, for accounts that do not exist.
pub fn verify_dummy(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}

/// Why a new password and its confirmation are refused (an i18n key), if they are.
pub fn new_password_problem(password: &str, confirm: &str, email: &str) -> Option<&'static str> {
    if password != confirm {
        return Some("setup.mismatch");
    }
    policy_violation(password, email)
}

/// Why a new password is refused (an i18n key), if it is.
pub fn policy_violation(password: &str, email: &str) -> Option<&'static str> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Some("password.too_short");
    }
    if length > MAX_LENGTH {
        return Some("password.too_long");
    }
    let lower = password.to_lowercase();
    // "Sunshine2024!" is a common word with decorations: strip them and look again.
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let stem = stem.trim_start_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    if COMMON.contains(lower.as_str()) || (stem.len() >= 4 && COMMON.contains(stem)) {
        return Some("password.common");
    }
    if lower.chars().collect::<HashSet<_>>().len() < 4 {
        return Some("password.common");
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.len() >= 4 && lower.contains(&local) {
        return Some("password.contains_email");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(
            policy_violation("short", "a@b.c"),
            Some("password.too_short")
        );
        assert_eq!(
            policy_violation("password1234", "a@b.c"),
            Some("password.common")
        );
        assert_eq!(
            policy_violation("Sunshine2024!!", "a@b.c"),
            Some("password.common")
        );
        assert_eq!(
            policy_violation("qwertyuiop123", "a@b.c"),
            Some("password.common")
        );
        assert_eq!(
            policy_violation("aaaaaaaaaaaaaaa", "a@b.c"),
            Some("password.common")
        );
        assert_eq!(
            policy_violation("marie.curie-2024x", "marie.curie@x.io"),
            Some("password.contains_email")
        );
        assert_eq!(policy_violation("violet-tram-harbour-42", "a@b.c"), None);
    }

    #[test]
    fn hash_and_verify() {
        let h = hash("violet-tram-harbour-42").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("violet-tram-harbour-42", &h));
        assert!(!verify("violet-tram-harbour-43", &h));
        assert!(!verify("x", "not a hash"));
    }
}
