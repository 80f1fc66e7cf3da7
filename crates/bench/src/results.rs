//! The result of one YCSB or TPC-C run, and its outputs: a table on the
//! terminal, JSON Lines and CSV files that accumulate runs (for the chart
//! and for scripts).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::latency::Latencies;

/// Statistics of one operation type (or of a whole transaction type).
#[derive(Serialize, Clone, Debug)]
pub struct OpStats {
    /// Operation name (`read`, `update`, `new_order`, …).
    pub op: String,
    /// Completed operations.
    pub count: u64,
    /// Operations that failed or found nothing (missing records,
    /// errors, rolled-back transactions).
    pub failed: u64,
    /// Completed operations per second of the run.
    pub per_second: f64,
    /// Mean latency, µs.
    pub mean_us: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 95th percentile latency, µs.
    pub p95_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// 99.9th percentile latency, µs.
    pub p999_us: f64,
}

impl OpStats {
    /// Statistics from a merged histogram over a run of `seconds`.
    pub fn new(op: &str, latencies: &Latencies, failed: u64, seconds: f64) -> OpStats {
        let count = latencies.count();
        OpStats {
            op: op.into(),
            count,
            failed,
            per_second: count as f64 / seconds.max(1e-9),
            mean_us: latencies.mean_us(),
            p50_us: latencies.percentile_us(50.0),
            p95_us: latencies.percentile_us(95.0),
            p99_us: latencies.percentile_us(99.0),
            p999_us: latencies.percentile_us(99.9),
        }
    }
}

/// One run of one benchmark against one system.
#[derive(Serialize, Clone, Debug)]
pub struct RunResult {
    /// `ycsb` or `tpcc`.
    pub benchmark: String,
    /// YCSB workload letter (`a`…`f`) or `tpcc`.
    pub workload: String,
    /// The product measured (`memdb (pgwire)`, `postgresql 15.4`, …).
    pub system: String,
    /// The `--target` given.
    pub target: String,
    /// Client threads (connections).
    pub threads: usize,
    /// Records (YCSB) or warehouses (TPC-C).
    pub scale: u64,
    /// Length of the measured phase, seconds.
    pub seconds: f64,
    /// The headline figure: operations/s (YCSB) or tpmC (TPC-C).
    pub throughput: f64,
    /// Unit of `throughput`.
    pub unit: String,
    /// Per-operation statistics.
    pub ops: Vec<OpStats>,
    /// When the run ended (RFC 3339, UTC).
    pub finished_at: String,
}

impl RunResult {
    /// The aligned table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} {} on {} — {} threads, scale {}, {:.1} s: {:.0} {}\n",
            self.benchmark,
            self.workload,
            self.system,
            self.threads,
            self.scale,
            self.seconds,
            self.throughput,
            self.unit
        );
        let _ = writeln!(
            out,
            "  {:<14} {:>10} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "operation", "count", "failed", "per second", "mean µs", "p50 µs", "p95 µs", "p99 µs", "p99.9 µs"
        );
        for op in &self.ops {
            let _ = writeln!(
                out,
                "  {:<14} {:>10} {:>8} {:>11.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                op.op, op.count, op.failed, op.per_second, op.mean_us, op.p50_us, op.p95_us, op.p99_us, op.p999_us
            );
        }
        out
    }

    /// Appends the run as one JSON object line to `path`.
    pub fn append_json(&self, path: &Path) -> Result<()> {
        let line = serde_json::to_string(self)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(file, "{line}")?;
        Ok(())
    }

    /// Appends one CSV row per operation type, plus a `total` row carrying
    /// the headline figure, to `path`; writes the header when the file is
    /// new or empty.
    pub fn append_csv(&self, path: &Path) -> Result<()> {
        let fresh = std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut out = String::new();
        if fresh {
            out.push_str(CSV_HEADER);
            out.push('\n');
        }
        let clean = |s: &str| s.replace([',', '\n', '"'], " ");
        let prefix = format!(
            "{},{},{},{},{},{},{:.3}",
            clean(&self.benchmark),
            clean(&self.workload),
            clean(&self.system),
            clean(&self.target),
            self.threads,
            self.scale,
            self.seconds
        );
        let _ = writeln!(out, "{prefix},total,{:.1},{},,,,,,,", self.throughput, clean(&self.unit));
        for op in &self.ops {
            let _ = writeln!(
                out,
                "{prefix},{},{:.1},ops/s,{},{},{:.1},{:.1},{:.1},{:.1},{:.1}",
                clean(&op.op),
                op.per_second,
                op.count,
                op.failed,
                op.mean_us,
                op.p50_us,
                op.p95_us,
                op.p99_us,
                op.p999_us
            );
        }
        file.write_all(out.as_bytes())?;
        Ok(())
    }
}

/// Columns of the CSV results.
pub const CSV_HEADER: &str = "benchmark,workload,system,target,threads,scale,seconds,op,throughput,unit,count,failed,mean_us,p50_us,p95_us,p99_us,p999_us";

/// Now, as RFC 3339 UTC text.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunResult {
        let mut l = Latencies::new();
        l.record(std::time::Duration::from_micros(10));
        RunResult {
            benchmark: "ycsb".into(),
            workload: "a".into(),
            system: "memdb (embedded)".into(),
            target: "embedded".into(),
            threads: 2,
            scale: 1000,
            seconds: 1.0,
            throughput: 1.0,
            unit: "ops/s".into(),
            ops: vec![OpStats::new("read", &l, 0, 1.0)],
            finished_at: now(),
        }
    }

    #[test]
    fn csv_gets_one_header_and_a_row_per_operation_plus_total() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        sample().append_csv(&path).unwrap();
        sample().append_csv(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], CSV_HEADER);
        let columns = CSV_HEADER.split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == columns));
        assert!(lines[1].contains(",total,1.0,ops/s,"));
    }

    #[test]
    fn json_lines_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        sample().append_json(&path).unwrap();
        sample().append_json(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["ops"][0]["op"], "read");
        }
    }
}
