//! Server configuration: defaults, a TOML file (`--config FILE`), then
//! command-line flags, each overriding the one before.
//!
//! ```toml
//! pg_listen = "127.0.0.1:5432"
//! data_dir = "./memdb-data"
//! durability = "memory-only"
//! max_connections = 2000
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::ServerError;

/// The default PostgreSQL listen address (PostgreSQL's own port, loopback).
pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:5432";

/// How commits are made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Nothing is written to disk; data lives as long as the process.
    #[default]
    MemoryOnly,
    /// Acknowledged before the log reaches disk, flushed shortly after.
    Async,
    /// Acknowledged once the log is on disk.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pg_listen: DEFAULT_PG_LISTEN.to_owned(),
            data_dir: PathBuf::from("./memdb-data"),
            durability: Durability::MemoryOnly,
            max_connections: 2000,
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
    }
}
