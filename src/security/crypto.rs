//! Secrets at rest and one-time tokens.
//!
//! TOTP secrets are encrypted with ChaCha20-Poly1305 under a key from
//! `SOWAT_SECRET_KEY`, or from `<data dir>/secret.key` (created with mode 0600
//! on first start). Tokens sent in links are random and stored only as SHA-256.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A sealing key and its short public id (written in front of every value
/// it seals, and kept in the database to catch a mismatching key at start).
struct SealingKey {
    id: String,
    cipher: ChaCha20Poly1305,
}

impl SealingKey {
    fn new(key: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"sowat-admin key id")
            .chain_update(key)
            .finalize();
        SealingKey {
            id: digest[..6].iter().map(|b| format!("{b:02x}")).collect(),
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }
}

/// Prefix of sealed values: `v1.<key id>.<base64 of nonce + ciphertext>`.
/// Values sealed before versioning (bare base64) belong to the current key.
const SEALED_V1: &str = "v1.";

pub struct SecretBox {
    /// Seals new values.
    current: SealingKey,
    /// Still opens values during a rotation (`SOWAT_PREVIOUS_SECRET_KEY`).
    previous: Option<SealingKey>,
    /// For keyed hashes (CSRF tokens of visitors without a session):
    /// derived, so the encryption key itself is used for one thing only.
    mac_key: [u8; 32],
}

impl SecretBox {
    pub fn from_key_bytes(key: &[u8; 32]) -> Self {
        SecretBox {
            current: SealingKey::new(key),
            previous: None,
            mac_key: hmac_sha256(key, b"sowat-admin mac key"),
        }
    }

    /// Also opens values sealed under `previous` (base64), during a rotation.
    pub fn with_previous(mut self, previous: Option<&str>) -> Result<Self, String> {
        if let Some(b64) = previous {
            self.previous = Some(SealingKey::new(&decode_key(b64)?));
        }
        Ok(self)
    }

    /// The public id of the key that seals (safe to log and store).
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// The id of the rotation's previous key, if one is configured.
    pub fn previous_key_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|k| k.id.as_str())
    }

    /// HMAC-SHA256 of `message` under the derived MAC key, URL-safe base64.
    pub fn mac(&self, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.mac_key, message))
    }

    /// The configured key, else the one in the data dir, else a new one saved there.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, String> {
        if let Some(b64) = configured {
            return decode_key(b64).map(|k| Self::from_key_bytes(&k));
        }
        let path = data_dir.join("secret.key");
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            return decode_key(text.trim()).map(|k| Self::from_key_bytes(&k));
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        write_private(&path, &STANDARD.encode(key))?;
        tracing::info!(path = %path.display(), "generated a new secret key");
        Ok(Self::from_key_bytes(&key))
    }

    pub fn encrypt(&self, plain: &[u8]) -> Result<String, String> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| "encryption failed".to_owned())?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!(
            "{SEALED_V1}{}.{}",
            self.current.id,
            STANDARD.encode(out)
        ))
    }

    pub fn decrypt(&self, sealed: &str) -> Result<Vec<u8>, String> {
        let (key, body) = match sealed.strip_prefix(SEALED_V1) {
            Some(rest) => {
                let (id, body) = rest.split_once('.').ok_or("malformed sealed value")?;
                let key = [Some(&self.current), self.previous.as_ref()]
                    .into_iter()
                    .flatten()
                    .find(|k| k.id == id)
                    .ok_or_else(|| format!("sealed with key {id}, which is not configured"))?;
                (key, body)
            }
            None => (&self.current, sealed),
        };
        let bytes = STANDARD.decode(body).map_err(|_| "not base64".to_owned())?;
        if bytes.len() < 12 {
            return Err("too short".into());
        }
        let (nonce, body) = bytes.split_at(12);
        key.cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| "wrong key or corrupted value".to_owned())
    }

    /// Whether `sealed` is already sealed under the current key.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .strip_prefix(SEALED_V1)
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(id, _)| id == self.current.id)
    }
}

fn decode_key(b64: &str) -> Result<[u8; 32], String> {
    STANDARD
        .decode(b64)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| {
            "the secret key must be 32 bytes in base64 (openssl rand -base64 32)".to_owned()
        })
}

fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// HMAC-SHA256 (RFC 2104) over the `sha2` already used here; the `hmac`
/// crate in the lock file is built on another `digest` major version.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// A random URL-safe token (256 bits).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Equal without revealing where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod sealing_tests {
    use super::SecretBox;

    #[test]
    fn values_name_their_key_and_open_during_a_rotation() {
        let old = SecretBox::from_key_bytes(&[1; 32]);
        let sealed = old.encrypt(b"totp").unwrap();
        assert!(sealed.starts_with(&format!("v1.{}.", old.key_id())));
        let new_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 32]);
        let rotating = SecretBox::from_key_bytes(&[2; 32])
            .with_previous(Some(&new_key))
            .unwrap();
        assert_eq!(rotating.decrypt(&sealed).unwrap(), b"totp");
        assert!(!rotating.is_current(&sealed));
        let resealed = rotating.encrypt(b"totp").unwrap();
        assert!(rotating.is_current(&resealed));
        assert!(
            SecretBox::from_key_bytes(&[3; 32])
                .decrypt(&resealed)
                .is_err()
        );
    }
}

#[cfg(test)]
mod hmac_tests {
    #[test]
    fn matches_rfc_4231_case_2() {
        let mac = super::hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
