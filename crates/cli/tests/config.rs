//! `memdb config` and `memdb serve` configuration: file < environment <
//! flags, validation naming the key, JSON logs and the slow-statement log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

fn memdb(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memdb"));
    command.args(args);
    // The test's own environment must not leak settings in.
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("MEMDB_")) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("memdb runs")
}

fn printed(output: &Output) -> toml::Table {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    toml::from_str(&String::from_utf8_lossy(&output.stdout)).expect("memdb config prints TOML")
}

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("memdb.toml");
    std::fs::write(&file, "pg_listen = \"127.0.0.1:1111\"\nhttp_listen = \"127.0.0.1:2222\"\nmax_connections = 5\n")
        .unwrap();
    let file = file.to_str().unwrap();
    let env = [("MEMDB_HTTP_LISTEN", "127.0.0.1:3333"), ("MEMDB_MAX_CONNECTIONS", "6"), ("MEMDB_DEFAULT_TTL", "90")];
    let c = printed(&memdb(&["config", "--config", file, "--max-connections", "7"], &env));
    assert_eq!(c["pg_listen"].as_str(), Some("127.0.0.1:1111"), "from the file");
    assert_eq!(c["http_listen"].as_str(), Some("127.0.0.1:3333"), "the environment beats the file");
    assert_eq!(c["max_connections"].as_integer(), Some(7), "the flag beats both");
    assert_eq!(c["default_ttl"].as_str(), Some("90s"), "the seed's variable, in seconds");
    assert_eq!(c["durability"].as_str(), Some("sync"), "the default");
    // The file can come from the environment too.
    let c = printed(&memdb(&["config"], &[("MEMDB_CONFIG", file), ("MEMDB_PORT", "4444")]));
    assert_eq!((c["pg_listen"].as_str(), c["http_listen"].as_str()), (Some("127.0.0.1:1111"), Some("127.0.0.1:4444")));
}

#[test]
fn bad_settings_stop_the_start_naming_the_key() {
    for (args, env, names) in [
        (vec!["config", "--flush-interval", "soon"], vec![], "flush_interval"),
        (vec!["serve", "--log-format", "xml"], vec![], "log_format"),
        (vec!["serve"], vec![("MEMDB_MAX_MEMORY", "lots")], "max_memory"),
        (vec!["serve"], vec![("MEMDB_AUTO_CREATE_TABLES", "maybe")], "MEMDB_AUTO_CREATE_TABLES"),
    ] {
        let output = memdb(&args, &env);
        assert!(!output.status.success(), "{args:?} {env:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(names), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_slow_statements() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::free_port();
    let server = common::start(
        &data,
        &["--durability", "memory-only", "--log-format", "json", "--slow-statement-threshold", "50ms"],
        "",
        port,
    );
    let client = common::connect(port).await;
    client.simple_query("SELECT 1").await.unwrap();
    client.simple_query("SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b").await.unwrap();
    drop(server);
    let log = common::log_of(&data);
    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let slow: Vec<&serde_json::Value> = lines.iter().filter(|l| l["target"] == "memdb::slow_statement").collect();
    assert_eq!(slow.len(), 1, "{log}");
    assert_eq!(
        slow[0]["fields"]["statement"],
        "SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b"
    );
    assert!(slow[0]["fields"]["duration_ms"].as_f64().unwrap() >= 50.0);
}

#[test]
fn the_example_file_is_the_defaults() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../memdb.example.toml");
    let from_example = printed(&memdb(&["config", "--config", example], &[]));
    let defaults = printed(&memdb(&["config"], &[]));
    assert_eq!(from_example, defaults);
}
