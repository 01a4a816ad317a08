//! One-time recovery codes: 10 per enrollment, 80 bits each, stored as SHA-256
//! (their entropy makes a slow hash unnecessary), shown once.

use rand::Rng;

use crate::security::crypto::sha256_hex;

pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// New codes as shown to the user (`xxxx-xxxx-xxxx-xxxx`) with their hashes.
pub fn generate() -> Vec<(String, String)> {
    let mut rng = rand::rng();
    (0..COUNT)
        .map(|_| {
            let raw: String = (0..16)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            let shown = raw
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            (shown, sha256_hex(&raw))
        })
        .collect()
}

/// Lower-case, without separators, as hashed.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A recovery code rather than a 6-digit TOTP code.
pub fn looks_like_code(input: &str) -> bool {
    normalize(input).len() == 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_normalise() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let (shown, hash) = &codes[0];
        assert!(looks_like_code(shown));
        assert_eq!(sha256_hex(&normalize(&shown.to_uppercase())), *hash);
        assert!(!looks_like_code("123456"));
    }
}
