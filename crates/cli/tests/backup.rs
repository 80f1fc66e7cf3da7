//! `memdb backup` against a running server, and `memdb restore` of it: the
//! backup alone, and with the archived log up to a point in time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{connect, free_port, start};

fn memdb(args: &[&str], paths: &[(&str, &Path)]) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memdb"));
    command.args(args);
    for (flag, path) in paths {
        command.arg(flag).arg(path);
    }
    let output = command.output().expect("memdb runs");
    assert!(output.status.success(), "memdb {args:?} {paths:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
}

/// A restore: its name, flags, path flags, and the rows it should give.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a Path)>, i64);

async fn count(port: u16) -> i64 {
    connect(port).await.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0)
}

#[test]
fn backup_of_a_running_server_restores_alone_and_to_a_point_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let archive = dir.path().join("archive");
    let backup = dir.path().join("backup");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let port = free_port();
    let config = format!("wal_segment_size = \"64kB\"\nwal_archive_dir = \"{}\"\n", archive.display());
    let server = start(&data, &[], &config, port);

    let middle = runtime.block_on(async {
        let client = connect(port).await;
        client.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await.unwrap();
        let insert = client.prepare("INSERT INTO t VALUES ($1, repeat('x', 200))").await.unwrap();
        for id in 0..100i32 {
            client.execute(&insert, &[&id]).await.unwrap();
        }
        memdb(&["backup", "--pg-listen", &format!("127.0.0.1:{port}")], &[("--output", &backup)]);
        for id in 100..150i32 {
            client.execute(&insert, &[&id]).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let middle = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for id in 150..200i32 {
            client.execute(&insert, &[&id]).await.unwrap();
        }
        // A second backup into the same directory is refused.
        let again = client.batch_execute(&format!("BACKUP TO '{}'", backup.display())).await.unwrap_err();
        assert!(again.as_db_error().unwrap().message().contains("not empty"), "{again}");
        middle
    });
    drop(server);
    assert!(backup.join("backup.json").exists());

    let wal = data.join("wal");
    let cases: [Case; 3] = [
        ("alone", vec![], vec![], 100),
        ("to a time", vec!["--until-time", &middle], vec![("--wal-archive", &archive), ("--wal-archive", &wal)], 150),
        ("to the end", vec![], vec![("--wal-archive", &archive), ("--wal-archive", &wal)], 200),
    ];
    for (name, flags, sources, expected) in cases {
        let restored = dir.path().join(format!("restored-{}", name.replace(' ', "-")));
        let mut args = vec!["restore"];
        args.extend(flags);
        let mut paths: Vec<(&str, &Path)> = vec![("--backup", &backup), ("--data-dir", &restored)];
        paths.extend(sources);
        memdb(&args, &paths);
        let port = free_port();
        let server = start(&restored, &[], "", port);
        assert_eq!(runtime.block_on(count(port)), expected, "restore {name}");
        drop(server);
    }
}
