//! Progress bars on a terminal: `memdb backup` and `memdb restore` draw a
//! bar per phase with its total, `memdb sql -f` a bar over the file's
//! bytes; none of it reaches a pipe. The terminal is a pseudo-terminal
//! made by util-linux's `script`; the test says so and passes when the
//! machine lacks it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs memdb with `args` on a pseudo-terminal and returns everything the
/// terminal showed, or `None` when `script` is missing.
fn on_terminal(args: &[&str]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping: util-linux `script` (a pseudo-terminal) is not installed");
        return None;
    }
    let mut command = shell_quote(env!("CARGO_BIN_EXE_memdb"));
    for arg in args {
        command.push(' ');
        command.push_str(&shell_quote(arg));
    }
    let output = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "memdb {args:?} failed on the terminal:\n{shown}");
    Some(shown)
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn memdb(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_memdb")).args(args).stdin(Stdio::null()).output().unwrap();
    assert!(output.status.success(), "memdb {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn backup_and_restore_draw_a_bar_per_phase_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    memdb(&[
        "sql",
        "--data-dir",
        path(&data),
        "-c",
        "CREATE TABLE t (id int PRIMARY KEY, v text); \
         INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 30000) g",
    ]);

    let backup = dir.path().join("backup");
    let Some(shown) = on_terminal(&["backup", "--data-dir", path(&data), "--output", path(&backup)]) else {
        return;
    };
    // Opening the directory (its log, or a checkpoint) and then the backup.
    assert!(shown.contains("replaying the log") || shown.contains("loading the checkpoint"), "{shown}");
    assert!(shown.contains("writing the snapshot"), "{shown}");
    assert!(shown.contains("30,000/30,000 rows"), "the bar ends at its total:\n{shown}");

    let restored = dir.path().join("restored");
    let shown = on_terminal(&["restore", "--backup", path(&backup), "--data-dir", path(&restored)]).unwrap();
    for phase in ["loading the checkpoint", "building indexes", "writing the snapshot"] {
        assert!(shown.contains(phase), "no {phase} bar:\n{shown}");
    }
    assert!(shown.contains("30,000/30,000 rows"), "{shown}");

    // Through pipes: the same work, no bars.
    let again = memdb(&["backup", "--data-dir", path(&restored), "--output", path(&dir.path().join("again"))]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!stderr.contains("writing the snapshot"), "a bar reached a pipe: {stderr}");
    let counted = memdb(&["sql", "--data-dir", path(&restored), "-t", "-A", "-c", "SELECT count(*) FROM t"]);
    assert_eq!(String::from_utf8_lossy(&counted.stdout).trim(), "30000");
}

#[test]
fn a_long_script_shows_a_bar_over_its_bytes_and_its_output_intact() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("load.sql");
    let mut text = String::from("CREATE TABLE t (id int PRIMARY KEY, v text);\n");
    // Long enough to pass the half second before the bar appears.
    for id in 0..40_000 {
        text.push_str(&format!("INSERT INTO t VALUES ({id}, 'value {id}');\n"));
    }
    text.push_str("SELECT 'total', count(*) FROM t;\n");
    std::fs::write(&script, &text).unwrap();

    let Some(shown) = on_terminal(&["sql", "--memory", "-t", "-A", "-f", path(&script)]) else {
        return;
    };
    assert!(shown.contains(&format!("{} [", path(&script))), "no bar named after the file:\n{}", tail(&shown));
    assert!(shown.contains("KiB/"), "the bar counts bytes:\n{}", tail(&shown));
    assert!(shown.contains("total|40000"), "the result is printed whole:\n{}", tail(&shown));
}

/// The end of a long terminal transcript, for failure messages.
fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
    &text[start..]
}
