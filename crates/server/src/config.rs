//! Server configuration: defaults, a TOML file (`--config FILE`), then
//! command-line flags, each overriding the one before.
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
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::ServerError;

/// The default PostgreSQL listen address (PostgreSQL's own port, loopback).
pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:5432";

/// How commits are made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
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
#[derive(Clone, Debug, Deserialize)]
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
            default_ttl: None,
            cleanup_interval: "100ms".into(),
            eviction: "noeviction".into(),
            http_listen: crate::http::DEFAULT_HTTP_LISTEN.to_owned(),
            health_listen: "off".into(),
            auto_create_tables: true,
            http_max_body: "16MB".into(),
            http_request_timeout: "30s".into(),
        }
    }
}

impl Config {
    /// Reads a TOML configuration file; missing keys keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
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
