//! SCRAM-SHA-256 verifiers (RFC 5802/7677) in PostgreSQL's text form:
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64).
//!
//! The pgwire handshake itself runs in the `pgwire` crate against the
//! parsed [`Verifier`]; this module makes verifiers and checks passwords
//! given in the clear by other protocols.

use std::borrow::Cow;
use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, hmac, pbkdf2};
use subtle::ConstantTimeEq;

/// Iterations for new verifiers (PostgreSQL's default).
pub const ITERATIONS: u32 = 4096;

const PREFIX: &str = "SCRAM-SHA-256$";

/// A parsed SCRAM-SHA-256 verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// `SHA-256(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `password` with a given salt.
    pub fn new(password: &str, salt: Vec<u8>, iterations: u32) -> Verifier {
        let salted = salted_password(password, &salt, iterations);
        let (stored_key, server_key) = keys(&salted);
        Verifier { iterations, salt, stored_key, server_key }
    }

    /// Parses PostgreSQL's text form; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix(PREFIX)?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let iterations: u32 = iterations.parse().ok().filter(|&i| i > 0)?;
        let salt = STANDARD.decode(salt).ok()?;
        let stored_key = STANDARD.decode(stored).ok().filter(|k| k.len() == 32)?;
        let server_key = STANDARD.decode(server).ok().filter(|k| k.len() == 32)?;
        Some(Verifier { iterations, salt, stored_key, server_key })
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!(
            "{PREFIX}{}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.stored_key),
            STANDARD.encode(&self.server_key)
        )
    }

    /// Whether `password` is the one this verifier was made from (in
    /// constant time in the key comparison).
    pub fn check(&self, password: &str) -> bool {
        let salted = salted_password(password, &self.salt, self.iterations);
        let (stored_key, _) = keys(&salted);
        bool::from(stored_key.ct_eq(&self.stored_key))
    }

    /// A verifier no password matches, the same for every call with the
    /// same `user` and `secret`: what an unknown user is challenged with,
    /// so that the exchange looks like a wrong password (PostgreSQL's mock
    /// authentication).
    pub fn mock(user: &str, secret: &[u8]) -> Verifier {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let tag = hmac::sign(&key, user.as_bytes());
        let bytes = tag.as_ref();
        let salt = bytes[..16].to_vec();
        // Keys no client proof can hash to.
        let stored_key = hmac::sign(&key, &[bytes, b"stored"].concat()).as_ref().to_vec();
        let server_key = hmac::sign(&key, &[bytes, b"server"].concat()).as_ref().to_vec();
        Verifier { iterations: ITERATIONS, salt, stored_key, server_key }
    }
}

/// A new verifier for `password`, with a random salt, as text.
pub fn verifier(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    Verifier::new(password, salt.to_vec(), ITERATIONS).to_text()
}

/// `Hi(SASLprep(password), salt, iterations)` (a password SASLprep refuses
/// is used as given, as PostgreSQL does).
fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let normalized = stringprep::saslprep(password).unwrap_or(Cow::Borrowed(password));
    let mut out = [0u8; 32];
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, normalized.as_bytes(), &mut out);
    out
}

/// StoredKey and ServerKey from a salted password.
fn keys(salted: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref()).as_ref().to_vec();
    let server_key = hmac::sign(&key, b"Server Key").as_ref().to_vec();
    (stored_key, server_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_checks() {
        let v = Verifier::new("pencil", b"salt1234".to_vec(), 4096);
        let text = v.to_text();
        let parsed = Verifier::parse(&text).unwrap();
        assert_eq!(parsed, v);
        assert!(parsed.check("pencil"));
        assert!(!parsed.check("pencil "));
        for bad in ["", "SCRAM-SHA-256$", "SCRAM-SHA-256$0:c2FsdA==$AAAA:AAAA", "md5abc"] {
            assert!(Verifier::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn matches_postgresql() {
        // PostgreSQL 15: CREATE ROLE x PASSWORD 'pencil'; SELECT rolpassword …
        let pg = "SCRAM-SHA-256$4096:kFoGiJ0k9JYAreizmmUvcw==$wbtRH9x16GdBi9IjvZr8FQojPklKOYObvxRLWH6za2s=:+CYnePT8z5ZQwBu/BoHx2ZLDGLvjBST/CL+ui5dsI5A=";
        let v = Verifier::parse(pg).unwrap();
        assert!(v.check("pencil"));
        assert!(!v.check("Pencil"));
        assert_eq!(Verifier::new("pencil", v.salt.clone(), 4096).to_text(), pg);
    }

    #[test]
    fn mock_verifiers_are_stable_and_match_nothing() {
        let a = Verifier::mock("nobody", b"k");
        assert_eq!(a, Verifier::mock("nobody", b"k"));
        assert_ne!(a.salt, Verifier::mock("somebody", b"k").salt);
        assert!(!a.check(""));
    }
}
