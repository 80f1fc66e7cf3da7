//! Who a connection or request is: the logins every front end shares.
//!
//! Authentication is on when the configuration gives a superuser password
//! ([`crate::config::Config::superuser_password`]); the superuser role is
//! then created (or its password brought up to date) at start. Without
//! one, connections are trusted: a client naming a stored role acts as
//! that role, any other name is unrestricted — which the configuration
//! allows only while every listener is on loopback.
//!
//! Every failure looks the same to the client whether the user is unknown,
//! cannot log in, has expired or gave a wrong password, takes as long
//! (an unknown user's password is still hashed), and counts toward the
//! client address's back-off ([`memdb_auth::throttle`]). Logins and
//! failures go to the audit log.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use memdb_auth::throttle::Throttle;
use memdb_engine::security::{Access, Role};
use memdb_engine::{Database, IsolationLevel, Transaction, TxnOptions};
use parking_lot::Mutex;

use crate::ServerError;

/// The audit log's target (shared with the SQL layer's role statements).
pub const AUDIT: &str = memdb_sql::AUDIT_TARGET;

/// A login refused (one message whatever the reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailed {
    /// The name the client gave.
    pub user: String,
}

/// The logins shared by every front end.
pub struct Authenticator {
    db: Arc<Database>,
    enabled: bool,
    superuser: String,
    /// Key for the mock challenges of unknown users.
    mock_secret: [u8; 32],
    throttle: Throttle,
    /// API keys verified since their hash last changed: id → SHA-256 of the
    /// secret, so each key pays argon2 once, not on every request.
    verified_keys: Mutex<HashMap<String, (String, [u8; 32])>>,
    /// Passwords verified since the role's verifier last changed: user →
    /// (verifier, SHA-256 of the password), so HTTP Basic requests pay
    /// PBKDF2 once per password, not on every request.
    verified_passwords: Mutex<HashMap<String, (String, [u8; 32])>>,
}

/// Entries the verification caches keep at most.
const MAX_CACHED: usize = 10_000;

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("enabled", &self.enabled).field("superuser", &self.superuser).finish()
    }
}

impl Authenticator {
    /// Sets up logins over `db`. With a superuser password, authentication
    /// is on and the superuser role is made to exist with that password.
    pub fn new(db: Arc<Database>, superuser: &str, password: Option<&str>) -> Result<Authenticator, ServerError> {
        if let Some(password) = password {
            ensure_superuser(&db, superuser, password)?;
        }
        Ok(Authenticator {
            db,
            enabled: password.is_some(),
            superuser: superuser.to_owned(),
            mock_secret: rand::random(),
            throttle: Throttle::new(),
            verified_keys: Mutex::new(HashMap::new()),
            verified_passwords: Mutex::new(HashMap::new()),
        })
    }

    /// Whether clients must authenticate.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The superuser's name (RESP's `AUTH password` logs in as it).
    pub fn superuser(&self) -> &str {
        &self.superuser
    }

    /// Reads the newest committed security catalog (`None` when no
    /// transaction slot is free).
    fn read<T>(&self, f: impl FnOnce(&Transaction) -> T) -> Option<T> {
        let txn = self.db.begin_with(TxnOptions::read_only(IsolationLevel::ReadCommitted)).ok()?.uncounted();
        let out = f(&txn);
        let _ = txn.rollback();
        Some(out)
    }

    /// A stored role by name, as of the newest commit.
    pub fn role(&self, name: &str) -> Option<Role> {
        self.read(|txn| txn.security().role(name).cloned()).flatten()
    }

    /// What `role` may do now (nothing when no transaction slot is free,
    /// rather than everything).
    pub fn access(&self, role: &str) -> Arc<Access> {
        let access = self.db.begin_with(TxnOptions::read_only(IsolationLevel::ReadCommitted)).ok().and_then(|txn| {
            let mut txn = txn.uncounted();
            txn.act_as(role);
            let access = txn.access().cloned();
            let _ = txn.rollback();
            access
        });
        access.unwrap_or_else(|| Arc::new(memdb_engine::security::Security::default().access(role)))
    }

    /// The role a trusted connection naming `user` acts for: that role if
    /// it is stored, else none (unrestricted).
    pub fn trusted_role(&self, user: &str) -> Option<String> {
        self.role(user).map(|r| r.name)
    }

    /// The SCRAM verifier (or md5 verifier) a pgwire login for `user` is
    /// checked against: the stored one for a role that may log in now, a
    /// mock one that no password matches otherwise.
    pub fn verifier_for(&self, user: &str) -> String {
        let stored = self.read(|txn| {
            txn.security().role(user).filter(|r| may_log_in(r, txn.now())).and_then(|r| r.password.clone())
        });
        match stored.flatten() {
            Some(v) => v,
            None => memdb_auth::scram::Verifier::mock(user, &self.mock_secret).to_text(),
        }
    }

    /// The mock SCRAM verifier an unknown `user` is challenged with.
    pub fn mock_verifier(&self, user: &str) -> memdb_auth::scram::Verifier {
        memdb_auth::scram::Verifier::mock(user, &self.mock_secret)
    }

    /// Checks a password given in the clear (RESP AUTH, HTTP Basic).
    pub async fn check_password(&self, peer: IpAddr, user: &str, password: &str) -> Result<String, LoginFailed> {
        tokio::time::sleep(self.throttle.delay(peer)).await;
        let verifier = self.verifier_for(user);
        let digest = sha256(password.as_bytes());
        let cached = self.verified_passwords.lock().get(user).is_some_and(|(v, d)| *v == verifier && *d == digest);
        let ok = cached || {
            let (verifier, user, password) = (verifier.clone(), user.to_owned(), password.to_owned());
            // PBKDF2 takes milliseconds: off the async threads.
            tokio::task::spawn_blocking(move || memdb_auth::check_password(&verifier, &user, &password))
                .await
                .unwrap_or(false)
        };
        if ok && !cached {
            remember(&self.verified_passwords, user, verifier, digest);
        }
        self.finish(peer, user, ok, "password").await
    }

    /// Records the outcome of a login (pgwire's handshakes call it too):
    /// the audit line, the back-off, and on failure the wait before the
    /// client is told.
    pub async fn finish(&self, peer: IpAddr, user: &str, ok: bool, method: &str) -> Result<String, LoginFailed> {
        if ok {
            self.throttle.succeeded(peer);
            tracing::info!(target: AUDIT, %peer, user, method, "login");
            Ok(user.to_owned())
        } else {
            let wait = self.throttle.failed(peer);
            tracing::warn!(target: AUDIT, %peer, user, method, "login failed");
            tokio::time::sleep(wait).await;
            Err(LoginFailed { user: user.to_owned() })
        }
    }

    /// Checks an API key (`memdb_<id>_<secret>`); the role it acts for.
    pub async fn check_api_key(&self, peer: IpAddr, key: &str) -> Result<String, LoginFailed> {
        tokio::time::sleep(self.throttle.delay(peer)).await;
        let refused = || LoginFailed { user: "(api key)".into() };
        let Some((id, secret)) = memdb_auth::apikey::parse(key) else {
            return self.finish(peer, "(malformed api key)", false, "api key").await.map_err(|_| refused());
        };
        let Some(stored) = self.read(|txn| {
            let security = txn.security();
            security.api_key(id).cloned().filter(|k| {
                k.expires_at.is_none_or(|at| at > txn.now())
                    && security.role(&k.role).is_some_and(|r| may_log_in_at_all(r, txn.now()))
            })
        }) else {
            return Err(refused());
        };
        let digest = sha256(secret.as_bytes());
        let ok = match &stored {
            None => false,
            Some(k) => {
                let cached = self.verified_keys.lock().get(id).is_some_and(|(hash, d)| *hash == k.hash && *d == digest);
                cached || {
                    let (hash, secret) = (k.hash.clone(), secret.to_owned());
                    let ok = tokio::task::spawn_blocking(move || memdb_auth::apikey::verify_secret(&hash, &secret))
                        .await
                        .unwrap_or(false);
                    if ok {
                        remember(&self.verified_keys, id, k.hash.clone(), digest);
                    }
                    ok
                }
            }
        };
        let role = stored.map(|k| k.role).unwrap_or_default();
        let label = if ok { role.clone() } else { format!("(api key {id})") };
        self.finish(peer, &label, ok, "api key").await.map(|_| role).map_err(|_| refused())
    }
}

/// Whether a role may log in with a password at `now`.
fn may_log_in(role: &Role, now: i64) -> bool {
    may_log_in_at_all(role, now) && role.password.is_some()
}

/// Whether a role may open sessions at `now` (API keys need no password).
fn may_log_in_at_all(role: &Role, now: i64) -> bool {
    role.login && role.valid_until.is_none_or(|until| until > now)
}

/// Notes a verified credential in a cache (see [`Authenticator`]), starting
/// the cache over when it is full.
fn remember(cache: &Mutex<HashMap<String, (String, [u8; 32])>>, key: &str, stored: String, digest: [u8; 32]) {
    let mut cache = cache.lock();
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(key.to_owned(), (stored, digest));
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// Creates the superuser, or brings its password and attributes up to
/// date with the configuration.
fn ensure_superuser(db: &Database, name: &str, password: &str) -> Result<(), ServerError> {
    let mut txn = db.begin()?;
    let current = txn.security().role(name).cloned();
    let up_to_date = current.as_ref().is_some_and(|r| {
        r.superuser && r.login && r.password.as_deref().is_some_and(|v| memdb_auth::check_password(v, name, password))
    });
    if up_to_date {
        txn.rollback()?;
        return Ok(());
    }
    let verifier = memdb_auth::scram::verifier(password);
    txn.alter_security("CREATE ROLE", |s| match current {
        Some(_) => s.alter_role(name, |r| {
            r.superuser = true;
            r.login = true;
            r.valid_until = None;
            r.password = Some(verifier);
            Ok(())
        }),
        None => {
            let mut role = Role::new(name);
            role.superuser = true;
            role.login = true;
            role.password = Some(verifier);
            s.create_role(role)
        }
    })?;
    txn.commit()?;
    tracing::info!(target: AUDIT, user = name, "superuser password set from the configuration");
    Ok(())
}
