//! Server configuration: defaults, a TOML file (`--config FILE` or
//! `MEMDB_CONFIG`), environment variables (`MEMDB_<KEY>` for every key
//! below, plus the seed service's `MEMDB_PORT`, `MEMDB_HEALTH_PORT`,
//! `MEMDB_DEFAULT_TTL`, `MEMDB_DEFAULT_CLEANUP_INTERVAL` and
//! `MEMDB_VERBOSE`), then command-line flags, each overriding the one
//! before. [`Config::validate`] checks every value at start, naming the key
//! of a bad one; `memdb config` prints the result.
//!
//! ```toml
//! pg_listen = "127.0.0.1:5432"
//! data_dir = "./memdb-data"
//! durability = "sync"            # memory-only | async | sync
//! flush_interval = "10ms"        # async mode: the most a crash can lose
//! checkpoint_interval = "5min"
//! checkpoint_wal_size = "256MB"  # a checkpoint also starts after this much log
//! checkpoint_compression = "none" # none | lz4
//! checkpoint_rate = "32MB"       # per second, background checkpoints ("0": unpaced)
//! wal_segment_size = "16MB"
//! wal_archive_dir = "/backups/wal"  # optional: copies of closed log segments
//! max_memory = "8GB"             # optional: writes past it fail with 53200
//! max_connections = 2000
//! resp_listen = "127.0.0.1:6379"  # "off": no Redis protocol listener
//! http_listen = "127.0.0.1:8080"  # "off": no HTTP REST listener
//! health_listen = "off"          # e.g. "0.0.0.0:8081": /health and /ready only
//! auto_create_tables = true      # a record posted to an unknown table makes a collection
//! http_max_body = "16MB"
//! http_request_timeout = "30s"
//! log_level = "info"             # error | warn | info | debug | trace
//! log_format = "text"            # text | json
//! slow_statement_threshold = "off" # e.g. "500ms": statements slower than this are logged
//! shutdown_grace_period = "10s"  # SIGTERM: running requests get this long to finish
//! http_rate_limit = "off"        # e.g. "100": requests per second per client address (429 past it)
//! http_rate_burst = 0            # requests at once after a quiet spell (0: the rate)
//! pg_rate_limit = "off"          # e.g. "1000": statements per second per client address (53400 past it)
//! pg_rate_burst = 0
//! resp_rate_limit = "off"        # e.g. "10000": commands per second per client address (-ERR past it)
//! resp_rate_burst = 0
//! tls_cert = "/etc/memdb/server.crt" # optional: PEM certificate chain; TLS on every front end
//! tls_key = "/etc/memdb/server.key"  # its private key (PEM)
//! tls_required = true            # with a certificate: refuse plaintext connections
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ServerError;

/// The default PostgreSQL listen address (PostgreSQL's own port, loopback).
pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:5432";

/// How commits are made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Nothing is written to disk; data lives as long as the process.
    MemoryOnly,
    /// Acknowledged before the log reaches disk, flushed shortly after.
    Async,
    /// Acknowledged once the log is on disk (the server's default).
    #[default]
    Sync,
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::MemoryOnly => "memory-only",
            Durability::Async => "async",
            Durability::Sync => "sync",
        })
    }
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "memory-only" | "memory" => Ok(Durability::MemoryOnly),
            "async" => Ok(Durability::Async),
            "sync" => Ok(Durability::Sync),
            other => Err(format!("unknown durability \"{other}\" (memory-only, async or sync)")),
        }
    }
}

/// Everything `memdb serve` needs to know.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the PostgreSQL wire protocol listener.
    pub pg_listen: String,
    /// Where durable data lives.
    pub data_dir: PathBuf,
    /// The durability mode.
    pub durability: Durability,
    /// Client connections allowed at once (more get SQLSTATE 53300).
    pub max_connections: usize,
    /// `async` mode: how often the log is written and synced.
    pub flush_interval: String,
    /// Time between background checkpoints.
    pub checkpoint_interval: String,
    /// Log volume that starts a checkpoint early.
    pub checkpoint_wal_size: String,
    /// `none` or `lz4`.
    pub checkpoint_compression: String,
    /// Bytes per second a background checkpoint writes at most (0: unpaced).
    pub checkpoint_rate: String,
    /// Size at which a log segment is closed.
    pub wal_segment_size: String,
    /// Where closed log segments are copied (point-in-time recovery).
    pub wal_archive_dir: Option<PathBuf>,
    /// Recover up to corruption in the middle of the log instead of
    /// refusing to start.
    pub recover_until_corruption: bool,
    /// Memory the data may use; writes beyond fail (SQLSTATE 53200) or
    /// evict keys (see `eviction`).
    pub max_memory: Option<String>,
    /// Address of the Redis protocol listener (`off`: none).
    pub resp_listen: String,
    /// Password Redis clients must give with AUTH (none: no AUTH).
    pub resp_password: Option<String>,
    /// Worker threads serving Redis clients, apart from the other front
    /// ends' (none: half the cores, at least one). Redis itself runs one;
    /// a cache's clients usually share its machine, and more busy threads
    /// than free cores cost more in switching than they give.
    pub resp_threads: Option<usize>,
    /// TTL given to keys written without one (none by default).
    pub default_ttl: Option<String>,
    /// How often expired keys are swept.
    pub cleanup_interval: String,
    /// At `max_memory`: `noeviction` (writes fail), `allkeys-lru` or
    /// `volatile-ttl`.
    pub eviction: String,
    /// Address of the HTTP REST listener (`off`: none).
    pub http_listen: String,
    /// A second address serving only `/health` and `/ready` (`off`: none),
    /// for probes that must not reach the API.
    pub health_listen: String,
    /// Whether a record posted to an unknown table creates it as a
    /// schemaless collection.
    pub auto_create_tables: bool,
    /// The largest HTTP request body.
    pub http_max_body: String,
    /// How long an HTTP request may take before it gets 503.
    pub http_request_timeout: String,
    /// The least severe log level written (`MEMDB_LOG`, a full filter such
    /// as `memdb=debug,info`, overrides it).
    pub log_level: String,
    /// `text` (human-readable) or `json` (one object per line).
    pub log_format: String,
    /// Statements (SQL over pgwire or HTTP) slower than this are logged
    /// with their text at `warn` (`off`: none).
    pub slow_statement_threshold: String,
    /// On SIGTERM/SIGINT, how long running requests may take to finish
    /// before they are cancelled.
    pub shutdown_grace_period: String,
    /// HTTP requests per second each client address may make (`off`: no
    /// limit); past it, 429 with `Retry-After`.
    pub http_rate_limit: String,
    /// HTTP requests a client may make at once after a quiet spell (0: as
    /// many as `http_rate_limit`).
    pub http_rate_burst: u32,
    /// pgwire statements (Query or Execute) per second each client address
    /// may run (`off`: no limit); past it, SQLSTATE 53400.
    pub pg_rate_limit: String,
    /// pgwire statements a client may run at once after a quiet spell (0:
    /// as many as `pg_rate_limit`).
    pub pg_rate_burst: u32,
    /// RESP commands per second each client address may send (`off`: no
    /// limit); past it, `-ERR`.
    pub resp_rate_limit: String,
    /// RESP commands a client may send at once after a quiet spell (0: as
    /// many as `resp_rate_limit`).
    pub resp_rate_burst: u32,
    /// A PEM certificate chain: with `tls_key`, turns TLS on for pgwire
    /// (SSLRequest), RESP and HTTP.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// With TLS on, whether plaintext connections are refused (otherwise
    /// each port serves both).
    pub tls_required: bool,
    /// The superuser's name (`MEMDB_USER`).
    pub superuser: String,
    /// The superuser's password (`MEMDB_PASSWORD`). Setting it turns
    /// authentication on for every front end; without it connections are
    /// trusted, which is allowed only while every listener is on loopback.
    pub superuser_password: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pg_listen: DEFAULT_PG_LISTEN.to_owned(),
            data_dir: PathBuf::from("./memdb-data"),
            durability: Durability::Sync,
            max_connections: 2000,
            flush_interval: "10ms".into(),
            checkpoint_interval: "5min".into(),
            checkpoint_wal_size: "256MB".into(),
            checkpoint_compression: "none".into(),
            checkpoint_rate: "32MB".into(),
            wal_segment_size: "16MB".into(),
            wal_archive_dir: None,
            recover_until_corruption: false,
            max_memory: None,
            resp_listen: crate::resp::DEFAULT_RESP_LISTEN.to_owned(),
            resp_password: None,
            resp_threads: None,
            default_ttl: None,
            cleanup_interval: "100ms".into(),
            eviction: "noeviction".into(),
            http_listen: crate::http::DEFAULT_HTTP_LISTEN.to_owned(),
            health_listen: "off".into(),
            auto_create_tables: true,
            http_max_body: "16MB".into(),
            http_request_timeout: "30s".into(),
            log_level: "info".into(),
            log_format: "text".into(),
            slow_statement_threshold: "off".into(),
            shutdown_grace_period: "10s".into(),
            http_rate_limit: "off".into(),
            http_rate_burst: 0,
            pg_rate_limit: "off".into(),
            pg_rate_burst: 0,
            resp_rate_limit: "off".into(),
            resp_rate_burst: 0,
            tls_cert: None,
            tls_key: None,
            tls_required: true,
            superuser: "memdb".into(),
            superuser_password: None,
        }
    }
}

/// The environment variables the seed service read, taken as
/// `MEMDB_`-prefixed aliases: (variable after `MEMDB_`, what it sets).
const SEED_VARIABLES: &[(&str, &str)] = &[
    ("PORT", "the HTTP listener's port"),
    ("HEALTH_PORT", "the health listener's port"),
    ("DEFAULT_TTL", "default_ttl (a bare number is seconds)"),
    ("DEFAULT_CLEANUP_INTERVAL", "cleanup_interval (a bare number is seconds)"),
    ("VERBOSE", "log_level = debug when true"),
];

/// `MEMDB_` variables that are not configuration keys but are read
/// elsewhere (the log filter, the superuser's credentials, the file).
const OTHER_VARIABLES: &[&str] = &["LOG", "CONFIG"];

impl Config {
    /// Reads a TOML configuration file; missing keys keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
    }

    /// Sets one key from its text form (as a file or the environment
    /// spells it). Unknown keys and unreadable values are errors naming
    /// the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ServerError> {
        if self.try_set(key, value)? {
            Ok(())
        } else {
            Err(ServerError::Config(format!("unknown configuration key \"{key}\"")))
        }
    }

    /// The worker threads serving Redis clients: `resp_threads`, or half
    /// the cores (at least one).
    pub fn resp_worker_threads(&self) -> usize {
        self.resp_threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2)).max(1)
    }

    /// [`Config::set`], answering `false` for a key that does not exist.
    fn try_set(&mut self, key: &str, value: &str) -> Result<bool, ServerError> {
        let bad = |what: &str| ServerError::Config(format!("{key}: {what} \"{value}\""));
        let optional = |v: &str| (!v.is_empty() && !v.eq_ignore_ascii_case("none")).then(|| v.to_owned());
        match key {
            "pg_listen" => self.pg_listen = value.to_owned(),
            "data_dir" => self.data_dir = PathBuf::from(value),
            "durability" => {
                self.durability = value.parse().map_err(|e: String| ServerError::Config(format!("{key}: {e}")))?
            }
            "max_connections" => self.max_connections = value.trim().parse().map_err(|_| bad("not a number:"))?,
            "flush_interval" => self.flush_interval = value.to_owned(),
            "checkpoint_interval" => self.checkpoint_interval = value.to_owned(),
            "checkpoint_wal_size" => self.checkpoint_wal_size = value.to_owned(),
            "checkpoint_compression" => self.checkpoint_compression = value.to_owned(),
            "checkpoint_rate" => self.checkpoint_rate = value.to_owned(),
            "wal_segment_size" => self.wal_segment_size = value.to_owned(),
            "wal_archive_dir" => self.wal_archive_dir = optional(value).map(PathBuf::from),
            "recover_until_corruption" => {
                self.recover_until_corruption = parse_bool(value).ok_or_else(|| bad("not a boolean:"))?
            }
            "max_memory" => self.max_memory = optional(value),
            "resp_listen" => self.resp_listen = value.to_owned(),
            "resp_password" => self.resp_password = optional(value),
            "resp_threads" => {
                self.resp_threads = match optional(value) {
                    None => None,
                    Some(v) => {
                        Some(v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| bad("not a positive number:"))?)
                    }
                }
            }
            "default_ttl" => self.default_ttl = optional(value),
            "cleanup_interval" => self.cleanup_interval = value.to_owned(),
            "eviction" => self.eviction = value.to_owned(),
            "http_listen" => self.http_listen = value.to_owned(),
            "health_listen" => self.health_listen = value.to_owned(),
            "auto_create_tables" => self.auto_create_tables = parse_bool(value).ok_or_else(|| bad("not a boolean:"))?,
            "http_max_body" => self.http_max_body = value.to_owned(),
            "http_request_timeout" => self.http_request_timeout = value.to_owned(),
            "log_level" => self.log_level = value.to_owned(),
            "log_format" => self.log_format = value.to_owned(),
            "slow_statement_threshold" => self.slow_statement_threshold = value.to_owned(),
            "shutdown_grace_period" => self.shutdown_grace_period = value.to_owned(),
            "http_rate_limit" => self.http_rate_limit = value.to_owned(),
            "http_rate_burst" => self.http_rate_burst = value.trim().parse().map_err(|_| bad("not a number:"))?,
            "pg_rate_limit" => self.pg_rate_limit = value.to_owned(),
            "pg_rate_burst" => self.pg_rate_burst = value.trim().parse().map_err(|_| bad("not a number:"))?,
            "resp_rate_limit" => self.resp_rate_limit = value.to_owned(),
            "resp_rate_burst" => self.resp_rate_burst = value.trim().parse().map_err(|_| bad("not a number:"))?,
            "tls_cert" => self.tls_cert = optional(value).map(PathBuf::from),
            "tls_key" => self.tls_key = optional(value).map(PathBuf::from),
            "tls_required" => self.tls_required = parse_bool(value).ok_or_else(|| bad("not a boolean:"))?,
            "superuser" => self.superuser = value.to_owned(),
            "superuser_password" => self.superuser_password = optional(value),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Applies `MEMDB_*` environment variables (pass `std::env::vars()`):
    /// `MEMDB_<KEY>` sets a key, the seed service's variables set what they
    /// meant there; a bad value is an error naming the variable. Returns
    /// the `MEMDB_` variables that name no setting (ignored, for a warning:
    /// scripts use the prefix for their own variables too).
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<Vec<String>, ServerError> {
        let mut ignored = Vec::new();
        let mut vars: Vec<(String, String)> =
            vars.into_iter().filter_map(|(k, v)| Some((k.strip_prefix("MEMDB_")?.to_owned(), v))).collect();
        // Specific keys win over the seed's aliases whatever the order.
        vars.sort_by_key(|(k, _)| !SEED_VARIABLES.iter().any(|(alias, _)| alias == k));
        for (name, value) in vars {
            let named = |e: ServerError| ServerError::Config(format!("MEMDB_{name}: {e}"));
            match name.as_str() {
                "PORT" => self.http_listen = with_port(&self.http_listen, &value).map_err(named)?,
                "HEALTH_PORT" => {
                    let host = if self.health_listen == "off" { &self.http_listen } else { &self.health_listen };
                    self.health_listen = with_port(host, &value).map_err(named)?;
                }
                // As the PostgreSQL container images name them.
                "USER" => self.superuser = value,
                "PASSWORD" => self.superuser_password = (!value.is_empty()).then_some(value),
                "DEFAULT_TTL" => self.default_ttl = Some(seconds_if_bare(&value)),
                "DEFAULT_CLEANUP_INTERVAL" => self.cleanup_interval = seconds_if_bare(&value),
                "VERBOSE" => {
                    if parse_bool(&value)
                        .ok_or_else(|| named(ServerError::Config(format!("not a boolean: \"{value}\""))))?
                    {
                        self.log_level = "debug".into();
                    }
                }
                other if OTHER_VARIABLES.contains(&other) => {}
                other => {
                    if !self.try_set(&other.to_ascii_lowercase(), &value).map_err(named)? {
                        ignored.push(format!("MEMDB_{name}"));
                    }
                }
            }
        }
        Ok(ignored)
    }

    /// Checks every value, naming the key of the first bad one, so a
    /// mistake stops the server at start rather than when it is first used.
    /// The TLS files are loaded and checked too.
    pub fn validate(&self) -> Result<(), ServerError> {
        self.validate_settings()?;
        self.tls()?;
        Ok(())
    }

    /// [`Config::validate`] without reading the TLS files (for a caller
    /// that loads them next with [`Config::tls`]).
    pub fn validate_settings(&self) -> Result<(), ServerError> {
        fn named(key: &'static str) -> impl Fn(ServerError) -> ServerError {
            move |e| ServerError::Config(format!("{key}: {}", message(e)))
        }
        for (key, value) in [
            ("flush_interval", &self.flush_interval),
            ("checkpoint_interval", &self.checkpoint_interval),
            ("cleanup_interval", &self.cleanup_interval),
            ("http_request_timeout", &self.http_request_timeout),
            ("shutdown_grace_period", &self.shutdown_grace_period),
        ] {
            parse_duration(value).map_err(named(key))?;
        }
        if let Some(ttl) = &self.default_ttl {
            parse_duration(ttl).map_err(named("default_ttl"))?;
        }
        if self.slow_statement_threshold != "off" {
            parse_duration(&self.slow_statement_threshold).map_err(named("slow_statement_threshold"))?;
        }
        for (key, value) in [
            ("checkpoint_wal_size", &self.checkpoint_wal_size),
            ("checkpoint_rate", &self.checkpoint_rate),
            ("wal_segment_size", &self.wal_segment_size),
            ("http_max_body", &self.http_max_body),
        ] {
            parse_size(value).map_err(named(key))?;
        }
        if let Some(max) = &self.max_memory {
            parse_size(max).map_err(named("max_memory"))?;
        }
        check_address("pg_listen", &self.pg_listen, false)?;
        check_address("resp_listen", &self.resp_listen, true)?;
        check_address("http_listen", &self.http_listen, true)?;
        check_address("health_listen", &self.health_listen, true)?;
        let one_of = |key: &str, value: &str, allowed: &[&str]| {
            if allowed.contains(&value) {
                Ok(())
            } else {
                Err(ServerError::Config(format!("{key}: \"{value}\" is not one of {}", allowed.join(", "))))
            }
        };
        one_of("checkpoint_compression", &self.checkpoint_compression, &["none", "lz4"])?;
        one_of("eviction", &self.eviction, &["noeviction", "allkeys-lru", "volatile-ttl"])?;
        one_of("log_level", &self.log_level, &["error", "warn", "info", "debug", "trace"])?;
        one_of("log_format", &self.log_format, &["text", "json"])?;
        self.http_rate_limit()?;
        self.pg_rate_limit()?;
        self.resp_rate_limit()?;
        if self.max_connections == 0 {
            return Err(ServerError::Config("max_connections: must be at least 1".into()));
        }
        if self.superuser.is_empty() || self.superuser.starts_with("pg_") {
            return Err(ServerError::Config(format!("superuser: \"{}\" is not a usable role name", self.superuser)));
        }
        if self.superuser_password.is_none() {
            for (key, value) in
                [("pg_listen", &self.pg_listen), ("resp_listen", &self.resp_listen), ("http_listen", &self.http_listen)]
            {
                if value != "off" && !is_loopback(value) {
                    return Err(ServerError::Config(format!(
                        "{key}: \"{value}\" is not a loopback address, and without a superuser password every \
                         connection would be trusted: set superuser_password (MEMDB_PASSWORD) to listen there"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The configuration as TOML, as a file would hold it (what `memdb
    /// config` prints); the Redis password is masked.
    pub fn to_toml(&self) -> Result<String, ServerError> {
        let mut shown = self.clone();
        if shown.resp_password.is_some() {
            shown.resp_password = Some("********".into());
        }
        if shown.superuser_password.is_some() {
            shown.superuser_password = Some("********".into());
        }
        toml::to_string(&shown).map_err(|e| ServerError::Config(format!("cannot print the configuration: {e}")))
    }

    /// The HTTP rate limit (`None`: off).
    pub fn http_rate_limit(&self) -> Result<Option<crate::ratelimit::RateLimit>, ServerError> {
        rate_limit("http_rate_limit", &self.http_rate_limit, self.http_rate_burst)
    }

    /// The pgwire statement rate limit (`None`: off).
    pub fn pg_rate_limit(&self) -> Result<Option<crate::ratelimit::RateLimit>, ServerError> {
        rate_limit("pg_rate_limit", &self.pg_rate_limit, self.pg_rate_burst)
    }

    /// The RESP command rate limit (`None`: off).
    pub fn resp_rate_limit(&self) -> Result<Option<crate::ratelimit::RateLimit>, ServerError> {
        rate_limit("resp_rate_limit", &self.resp_rate_limit, self.resp_rate_burst)
    }

    /// The TLS acceptor (`None`: no certificate configured), with the
    /// files read and checked.
    pub fn tls(&self) -> Result<Option<crate::tls::Tls>, ServerError> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => crate::tls::Tls::load(cert, key, self.tls_required).map(Some),
            (Some(_), None) => Err(ServerError::Config("tls_key: missing (tls_cert is set)".into())),
            (None, Some(_)) => Err(ServerError::Config("tls_cert: missing (tls_key is set)".into())),
        }
    }

    /// The slow-statement threshold (`None`: off).
    pub fn slow_statement_threshold(&self) -> Result<Option<Duration>, ServerError> {
        match self.slow_statement_threshold.as_str() {
            "off" => Ok(None),
            text => parse_duration(text).map(Some),
        }
    }
}

/// A rate limit setting: `off` (or 0) or a number per second, with its
/// burst (0: the rate).
fn rate_limit(key: &str, limit: &str, burst: u32) -> Result<Option<crate::ratelimit::RateLimit>, ServerError> {
    if matches!(limit.trim(), "off" | "0" | "") {
        return Ok(None);
    }
    let per_second = limit.trim().parse::<std::num::NonZeroU32>().map_err(|_| {
        ServerError::Config(format!("{key}: \"{limit}\" is not a number of requests per second (or off)"))
    })?;
    let burst = std::num::NonZeroU32::new(burst).unwrap_or(per_second);
    Ok(Some(crate::ratelimit::RateLimit { per_second, burst }))
}

/// The text of a configuration error, without its prefix.
fn message(e: ServerError) -> String {
    match e {
        ServerError::Config(m) => m,
        other => other.to_string(),
    }
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A duration from the seed's variables, where a bare number meant
/// seconds.
fn seconds_if_bare(text: &str) -> String {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) { format!("{text}s") } else { text.to_owned() }
}

/// `address` with its port replaced (loopback when it was `off`).
fn with_port(address: &str, port: &str) -> Result<String, ServerError> {
    let port: u16 = port.trim().parse().map_err(|_| ServerError::Config(format!("not a port number: \"{port}\"")))?;
    let host = match address.rsplit_once(':') {
        Some((host, _)) if address != "off" => host,
        _ => "127.0.0.1",
    };
    Ok(format!("{host}:{port}"))
}

/// A listen address: `host:port` (or `off` where allowed).
/// Whether a `HOST:PORT` listens only on the loopback interface.
pub fn is_loopback(address: &str) -> bool {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_address(key: &str, value: &str, may_be_off: bool) -> Result<(), ServerError> {
    if may_be_off && value == "off" {
        return Ok(());
    }
    let port_ok = value.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if port_ok {
        Ok(())
    } else {
        let off = if may_be_off { " or off" } else { "" };
        Err(ServerError::Config(format!("{key}: \"{value}\" is not HOST:PORT{off}")))
    }
}

/// Parses a duration: a number with `us`, `ms`, `s`, `min`, `h` or `d`
/// (no unit: milliseconds, as PostgreSQL's settings).
pub fn parse_duration(text: &str) -> Result<Duration, ServerError> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| ServerError::Config(format!("bad duration \"{text}\"")))?;
    let micros = match unit.trim() {
        "us" => 1,
        "" | "ms" => 1_000,
        "s" => 1_000_000,
        "min" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        other => {
            return Err(ServerError::Config(format!(
                "bad duration unit \"{other}\" in \"{text}\" (us, ms, s, min, h, d)"
            )));
        }
    };
    Ok(Duration::from_micros(n.saturating_mul(micros)))
}

/// Parses a size: a number with `B`, `kB`, `MB`, `GB` or `TB` (powers of
/// 1024, as PostgreSQL's memory settings); no unit means bytes.
pub fn parse_size(text: &str) -> Result<u64, ServerError> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| ServerError::Config(format!("bad size \"{text}\"")))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1 << 10,
        "mb" | "m" => 1 << 20,
        "gb" | "g" => 1 << 30,
        "tb" | "t" => 1 << 40,
        other => {
            return Err(ServerError::Config(format!("bad size unit \"{other}\" in \"{text}\" (B, kB, MB, GB, TB)")));
        }
    };
    Ok(n.saturating_mul(scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_override_defaults_and_reject_unknown_keys() {
        let c: Config = toml::from_str("pg_listen = \"0.0.0.0:6000\"\ndurability = \"async\"").unwrap();
        assert_eq!(c.pg_listen, "0.0.0.0:6000");
        assert_eq!(c.durability, Durability::Async);
        assert_eq!(c.max_connections, 2000);
        assert!(toml::from_str::<Config>("pg_port = 1").is_err());
        assert_eq!(Config::default().durability, Durability::Sync);
    }

    fn env(vars: &[(&str, &str)]) -> Result<Config, ServerError> {
        let mut c = Config::default();
        let ignored = c.apply_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))?;
        assert_eq!(ignored, vars.iter().filter(|(k, _)| k.contains("LISTN")).map(|(k, _)| *k).collect::<Vec<_>>());
        Ok(c)
    }

    #[test]
    fn environment_variables_set_keys_and_the_seed_aliases() {
        let c = env(&[
            ("MEMDB_PG_LISTEN", "0.0.0.0:7000"),
            ("MEMDB_MAX_CONNECTIONS", "10"),
            ("MEMDB_AUTO_CREATE_TABLES", "false"),
            ("MEMDB_PORT", "9000"),
            ("MEMDB_HEALTH_PORT", "9001"),
            ("MEMDB_DEFAULT_TTL", "60"),
            ("MEMDB_DEFAULT_CLEANUP_INTERVAL", "2"),
            ("MEMDB_VERBOSE", "true"),
            ("MEMDB_LOG", "memdb=trace"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!((c.pg_listen.as_str(), c.max_connections, c.auto_create_tables), ("0.0.0.0:7000", 10, false));
        assert_eq!((c.http_listen.as_str(), c.health_listen.as_str()), ("127.0.0.1:9000", "127.0.0.1:9001"));
        assert_eq!((c.default_ttl.as_deref(), c.cleanup_interval.as_str()), (Some("60s"), "2s"));
        assert_eq!(c.log_level, "debug");
        // A specific key beats the seed's alias, whatever the order.
        let c = env(&[("MEMDB_HTTP_LISTEN", "0.0.0.0:1"), ("MEMDB_PORT", "9000")]).unwrap();
        assert_eq!(c.http_listen, "0.0.0.0:1");
        // Variables that name no setting are left alone (and reported).
        assert_eq!(env(&[("MEMDB_PG_LISTN", "x")]).unwrap().pg_listen, DEFAULT_PG_LISTEN);
        for (bad, names) in [
            (("MEMDB_MAX_CONNECTIONS", "many"), "MEMDB_MAX_CONNECTIONS"),
            (("MEMDB_PORT", "http"), "MEMDB_PORT"),
            (("MEMDB_DURABILITY", "fast"), "MEMDB_DURABILITY"),
        ] {
            let e = env(&[bad]).unwrap_err().to_string();
            assert!(e.contains(names), "{e}");
        }
    }

    #[test]
    fn validation_names_the_bad_key() {
        assert!(Config::default().validate().is_ok());
        for (key, value) in [
            ("flush_interval", "soon"),
            ("http_max_body", "big"),
            ("pg_listen", "nowhere"),
            ("http_listen", "localhost"),
            ("eviction", "random"),
            ("log_format", "xml"),
            ("slow_statement_threshold", "slow"),
            ("max_connections", "0"),
            ("http_rate_limit", "lots"),
        ] {
            let mut c = Config::default();
            c.set(key, value).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
        assert!(Config::default().set("nonsense", "1").is_err());
    }

    #[test]
    fn resp_threads_default_to_half_the_cores_and_take_a_positive_number() {
        let mut c = Config::default();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(c.resp_worker_threads(), (cores / 2).max(1));
        c.set("resp_threads", "3").unwrap();
        assert_eq!((c.resp_threads, c.resp_worker_threads()), (Some(3), 3));
        c.set("resp_threads", "none").unwrap();
        assert_eq!(c.resp_threads, None);
        assert!(c.set("resp_threads", "0").is_err());
        assert!(c.set("resp_threads", "many").is_err());
    }

    #[test]
    fn the_printed_configuration_reads_back_with_the_password_masked() {
        let mut c = Config::default();
        c.set("resp_password", "secret").unwrap();
        c.set("max_memory", "1GB").unwrap();
        let text = c.to_toml().unwrap();
        assert!(!text.contains("secret") && text.contains("********"), "{text}");
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!((back.max_memory.as_deref(), back.durability), (Some("1GB"), Durability::Sync));
    }

    #[test]
    fn durations_and_sizes_parse_with_units() {
        assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
        assert_eq!(parse_duration("5min").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert_eq!(parse_size("64MB").unwrap(), 64 << 20);
        assert_eq!(parse_size("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
    }
}
