//! Server metrics in the Prometheus text format (`GET /metrics`).
//!
//! The front ends count into one [`ServerMetrics`] per server (open
//! connections per protocol, HTTP requests and their latency, SQL
//! statement latency); the engine's own counters (commits, aborts, WAL
//! bytes and fsyncs, checkpoints, expired and evicted keys) and gauges
//! (memory, rows per table, keys) are read when the page is rendered.
//! Each server keeps its own registry rather than a process-global
//! recorder, so several servers in one process (the tests) never mix
//! their figures. Every series is prefixed `memdb_`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use memdb_engine::Database;

/// Latency bucket upper bounds, in seconds.
const BUCKETS: [f64; 14] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{}le=\"{bound}\"}} {cumulative}", sep(labels));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{}le=\"+Inf\"}} {count}", sep(labels));
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

fn sep(labels: &str) -> &'static str {
    if labels.is_empty() { "" } else { "," }
}

/// A front end, for per-protocol series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// The PostgreSQL wire protocol.
    Pg,
    /// RESP (Redis).
    Resp,
    /// HTTP REST.
    Http,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Pg => "pgwire",
            Protocol::Resp => "resp",
            Protocol::Http => "http",
        }
    }
}

/// How much of a slow statement's text the log shows (characters).
const SLOW_STATEMENT_TEXT: usize = 2000;

/// What the front ends of one server count.
#[derive(Debug, Default)]
pub struct ServerMetrics {
    /// Open connections: pgwire, RESP, HTTP.
    connections: [AtomicI64; 3],
    /// Connections accepted: pgwire, RESP, HTTP.
    accepted: [AtomicU64; 3],
    /// HTTP responses by status class (1xx … 5xx).
    http_responses: [AtomicU64; 5],
    /// HTTP request latency.
    pub http_latency: Histogram,
    /// SQL statement latency (pgwire and HTTP SQL).
    pub statement_latency: Histogram,
    /// Statements at least this slow are logged (µs; 0: none).
    slow_statement_micros: AtomicU64,
}

/// Counts a connection as open until dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: std::sync::Arc<ServerMetrics>,
    protocol: Protocol,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.connections[self.protocol as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

impl ServerMetrics {
    /// Counts a new connection; it stays open until the guard drops.
    pub fn connection(self: &std::sync::Arc<Self>, protocol: Protocol) -> ConnectionGuard {
        self.connections[protocol as usize].fetch_add(1, Ordering::Relaxed);
        self.accepted[protocol as usize].fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { metrics: self.clone(), protocol }
    }

    /// Sets the slow-statement threshold (`None`: log none).
    pub fn set_slow_statement_threshold(&self, threshold: Option<Duration>) {
        let micros = threshold.map_or(0, |t| u64::try_from(t.as_micros()).unwrap_or(u64::MAX).max(1));
        self.slow_statement_micros.store(micros, Ordering::Relaxed);
    }

    /// Counts a statement's latency; one slower than the slow-statement
    /// threshold is logged (target `memdb::slow_statement`) with its text.
    pub fn statement_done(&self, sql: &str, elapsed: Duration) {
        self.statement_latency.observe(elapsed);
        let threshold = self.slow_statement_micros.load(Ordering::Relaxed);
        if threshold > 0 && elapsed.as_micros() >= u128::from(threshold) {
            let end = sql.char_indices().nth(SLOW_STATEMENT_TEXT).map_or(sql.len(), |(i, _)| i);
            let cut = if end < sql.len() { "…" } else { "" };
            tracing::warn!(
                target: "memdb::slow_statement",
                duration_ms = elapsed.as_secs_f64() * 1e3,
                statement = %format_args!("{}{cut}", &sql[..end]),
                "slow statement"
            );
        }
    }

    /// Counts an HTTP response.
    pub fn http_response(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.http_responses[class].fetch_add(1, Ordering::Relaxed);
        self.http_latency.observe(elapsed);
    }

    /// The metrics page: the server's counters and the database's.
    pub fn render(&self, db: &Database) -> String {
        let mut out = String::with_capacity(8192);
        let engine = db.metrics();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(&mut out, "memdb_commits_total", "Transactions committed.", engine.commits);
        counter(&mut out, "memdb_aborts_total", "Transactions rolled back or failed.", engine.aborts);
        counter(
            &mut out,
            "memdb_transactions_total",
            "Transactions ended (commits and aborts).",
            engine.commits + engine.aborts,
        );
        counter(&mut out, "memdb_wal_bytes_total", "Bytes written to the write-ahead log.", engine.wal_bytes);
        counter(&mut out, "memdb_wal_fsyncs_total", "fsyncs of write-ahead log files.", engine.wal_fsyncs);
        counter(&mut out, "memdb_checkpoints_total", "Checkpoints completed.", engine.checkpoints);
        counter(&mut out, "memdb_keys_expired_total", "Keys removed because their TTL passed.", engine.keys_expired);
        counter(&mut out, "memdb_keys_evicted_total", "Keys evicted at max_memory.", engine.keys_evicted);
        let _ = writeln!(
            out,
            "# HELP memdb_checkpoint_duration_seconds Time spent writing checkpoints.\n\
             # TYPE memdb_checkpoint_duration_seconds summary\n\
             memdb_checkpoint_duration_seconds_sum {}\nmemdb_checkpoint_duration_seconds_count {}",
            engine.checkpoint_micros_total as f64 / 1e6,
            engine.checkpoints
        );
        let _ = writeln!(
            out,
            "# HELP memdb_last_checkpoint_duration_seconds Duration of the last checkpoint.\n\
             # TYPE memdb_last_checkpoint_duration_seconds gauge\nmemdb_last_checkpoint_duration_seconds {}",
            engine.last_checkpoint_micros as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP memdb_memory_used_bytes Resident memory of the process.\n\
             # TYPE memdb_memory_used_bytes gauge\nmemdb_memory_used_bytes {}",
            memdb_engine::resident_memory()
        );
        let stats = db.stats();
        let _ = writeln!(
            out,
            "# HELP memdb_active_transactions Transactions open now.\n\
             # TYPE memdb_active_transactions gauge\nmemdb_active_transactions {}",
            stats.active_transactions
        );
        let _ = writeln!(out, "# HELP memdb_table_rows Live rows per table.\n# TYPE memdb_table_rows gauge");
        let mut tables = db.table_row_counts();
        tables.sort();
        for (table, rows) in tables {
            let _ = writeln!(out, "memdb_table_rows{{table=\"{}\"}} {rows}", escape_label(&table));
        }
        let kv = db.kv();
        let _ = writeln!(
            out,
            "# HELP memdb_keyspace_keys Keys in the key-value keyspace.\n# TYPE memdb_keyspace_keys gauge\n\
             memdb_keyspace_keys {}\n\
             # HELP memdb_keyspace_volatile_keys Keys with a TTL.\n# TYPE memdb_keyspace_volatile_keys gauge\n\
             memdb_keyspace_volatile_keys {}",
            kv.len(),
            kv.volatile_len()
        );
        let _ = writeln!(
            out,
            "# HELP memdb_connections Open client connections per front end.\n# TYPE memdb_connections gauge"
        );
        for p in [Protocol::Pg, Protocol::Resp, Protocol::Http] {
            let _ = writeln!(
                out,
                "memdb_connections{{protocol=\"{}\"}} {}",
                p.name(),
                self.connections[p as usize].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP memdb_connections_accepted_total Client connections accepted per front end.\n\
             # TYPE memdb_connections_accepted_total counter"
        );
        for p in [Protocol::Pg, Protocol::Resp, Protocol::Http] {
            let _ = writeln!(
                out,
                "memdb_connections_accepted_total{{protocol=\"{}\"}} {}",
                p.name(),
                self.accepted[p as usize].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP memdb_http_responses_total HTTP responses by status class.\n# TYPE memdb_http_responses_total counter"
        );
        for (i, n) in self.http_responses.iter().enumerate() {
            let _ = writeln!(out, "memdb_http_responses_total{{class=\"{}xx\"}} {}", i + 1, n.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP memdb_http_request_duration_seconds HTTP request latency.\n\
             # TYPE memdb_http_request_duration_seconds histogram"
        );
        self.http_latency.render(&mut out, "memdb_http_request_duration_seconds", "");
        let _ = writeln!(
            out,
            "# HELP memdb_statement_duration_seconds SQL statement latency (pgwire and HTTP).\n\
             # TYPE memdb_statement_duration_seconds histogram"
        );
        self.statement_latency.render(&mut out, "memdb_statement_duration_seconds", "");
        out
    }
}

/// A Prometheus label value with `\`, `"` and newlines escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(30));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let mut out = String::new();
        h.render(&mut out, "x", "");
        assert!(out.contains("x_bucket{le=\"0.00005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"5\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
