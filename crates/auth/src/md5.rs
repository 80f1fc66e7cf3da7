//! PostgreSQL's legacy `md5` password verifiers: `md5` followed by the hex
//! MD5 of the password and the user name. Kept for clients that only speak
//! MD5 authentication; new passwords are SCRAM unless
//! `password_encryption` is `md5`.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// The verifier for `user`'s `password`.
pub fn verifier(user: &str, password: &str) -> String {
    format!("md5{}", hex(&Md5::digest([password.as_bytes(), user.as_bytes()].concat())))
}

/// Whether `text` has the shape of an md5 verifier.
pub fn is_verifier(text: &str) -> bool {
    text.len() == 35 && text.starts_with("md5") && text[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `password` matches the stored md5 verifier for `user`.
pub fn check(stored: &str, user: &str, password: &str) -> bool {
    is_verifier(stored) && bool::from(verifier(user, password).as_bytes().ct_eq(stored.as_bytes()))
}

/// What a client answers to an MD5 challenge with `salt`, given the stored
/// verifier: `md5` + hex(MD5(hex part of the verifier ‖ salt)).
pub fn challenge_response(stored: &str, salt: &[u8]) -> String {
    let inner = stored.strip_prefix("md5").unwrap_or(stored);
    format!("md5{}", hex(&Md5::digest([inner.as_bytes(), salt].concat())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgresql() {
        // PostgreSQL 15: SET password_encryption = 'md5'; CREATE ROLE y PASSWORD 'pencil'
        assert_eq!(verifier("y", "pencil"), "md5a80a6c0967e923f0e3eba985228a4417");
        assert!(is_verifier(&verifier("a", "b")));
        assert!(check(&verifier("a", "b"), "a", "b"));
        assert!(!check(&verifier("a", "b"), "a", "c"));
        let response = challenge_response(&verifier("a", "b"), &[1, 2, 3, 4]);
        assert!(response.starts_with("md5") && response.len() == 35);
    }
}
