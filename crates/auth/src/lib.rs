//! memdb's credentials, shared by every front end.
//!
//! - [`scram`]: SCRAM-SHA-256 verifiers in PostgreSQL's text form, made
//!   from a password when one is set and checked against a password
//!   presented in the clear (RESP `AUTH`, HTTP Basic).
//! - [`md5`]: PostgreSQL's legacy `md5` verifiers.
//! - [`apikey`]: HTTP API keys: generated, shown once, stored as argon2
//!   hashes.
//! - [`throttle`]: the back-off that slows repeated failed logins down.
//!
//! The stored text of a password is a *verifier*: it lets the server check
//! a password but not recover it (and a SCRAM verifier does not let anyone
//! log in by replaying it).

pub mod apikey;
pub mod md5;
pub mod scram;
pub mod throttle;

/// Makes the verifier stored for a new password: SCRAM-SHA-256, or `md5`
/// when `method` is `"md5"` (PostgreSQL's `password_encryption`). A text
/// that already is a verifier is stored as given, as PostgreSQL does.
pub fn make_verifier(user: &str, password: &str, method: &str) -> String {
    if scram::Verifier::parse(password).is_some() || md5::is_verifier(password) {
        return password.to_owned();
    }
    if method.eq_ignore_ascii_case("md5") { md5::verifier(user, password) } else { scram::verifier(password) }
}

/// Checks a password presented in the clear against a stored verifier of
/// either kind. Unknown verifier formats never match.
pub fn check_password(stored: &str, user: &str, password: &str) -> bool {
    match scram::Verifier::parse(stored) {
        Some(v) => v.check(password),
        None => md5::check(stored, user, password),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_of_both_kinds_check_the_password() {
        let s = make_verifier("alice", "secret", "scram-sha-256");
        assert!(s.starts_with("SCRAM-SHA-256$4096:"));
        assert!(check_password(&s, "alice", "secret"));
        assert!(!check_password(&s, "alice", "Secret"));
        let m = make_verifier("alice", "secret", "md5");
        assert!(m.starts_with("md5") && m.len() == 35);
        assert!(check_password(&m, "alice", "secret"));
        assert!(!check_password(&m, "bob", "secret"));
        assert_eq!(make_verifier("alice", &s, "md5"), s, "a verifier is stored as given");
        assert!(!check_password("garbage", "alice", "garbage"));
    }
}
