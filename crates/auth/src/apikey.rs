//! HTTP API keys: `memdb_<id>_<secret>`. The id is public (it names the
//! key in listings and revocations); the secret is shown once when the key
//! is made and stored only as an argon2 hash.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

const PREFIX: &str = "memdb_";
const ID_LEN: usize = 12;
const SECRET_LEN: usize = 32;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A freshly made key.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The key's public id.
    pub id: String,
    /// The whole key, to give to the client once.
    pub key: String,
    /// The argon2 hash of the secret, to store.
    pub hash: String,
}

/// Makes a new random key.
pub fn generate() -> Result<NewKey, String> {
    let id = random_text(ID_LEN);
    let secret = random_text(SECRET_LEN);
    let hash = hash_secret(&secret)?;
    Ok(NewKey { key: format!("{PREFIX}{id}_{secret}"), id, hash })
}

/// Splits a key as sent by a client into id and secret; `None` if it is
/// malformed.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(id, ID_LEN) && ok(secret, SECRET_LEN)).then_some((id, secret))
}

/// The argon2id hash (PHC string) of a secret.
pub fn hash_secret(secret: &str) -> Result<String, String> {
    Argon2::default().hash_password(secret.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `secret` matches a stored hash.
pub fn verify_secret(hash: &str, secret: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

fn random_text(len: usize) -> String {
    (0..len).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_verify() {
        let k = generate().unwrap();
        let (id, secret) = parse(&k.key).unwrap();
        assert_eq!(id, k.id);
        assert!(verify_secret(&k.hash, secret));
        assert!(!verify_secret(&k.hash, &secret.replace(|_| true, "a")));
        assert!(!verify_secret("not a hash", secret));
        for bad in ["", "memdb_", "memdb_abc_def", "other_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
