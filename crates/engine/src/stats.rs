//! Table statistics for query planners, as `ANALYZE` collects them.
//!
//! [`Transaction::analyze`](crate::Transaction::analyze) reads a table
//! once, keeps a uniform random sample of up to [`SAMPLE_ROWS`] rows
//! (reservoir sampling) and summarizes every column the way PostgreSQL's
//! `ANALYZE` does (`pg_stats`): the fraction of NULLs, the average width,
//! the number of distinct values (estimated from the sample with the
//! Haas–Stokes estimator when the sample is not the whole table), the most
//! common values with their frequencies, and histogram bounds that split
//! the remaining values into equally populated buckets.
//!
//! The statistics live in memory beside the table's storage, replaced as
//! a whole by each `ANALYZE`; they are not logged (a restarted database
//! plans with its defaults until the next `ANALYZE`).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::types::{DataType, Value};

/// How many most-common values and histogram buckets a column keeps
/// (PostgreSQL's `default_statistics_target`).
pub const STATISTICS_TARGET: usize = 100;

/// The most rows `ANALYZE` samples (PostgreSQL's 300 × target).
pub const SAMPLE_ROWS: usize = 300 * STATISTICS_TARGET;

/// What `ANALYZE` learned about one table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableStatistics {
    /// Live rows when it ran.
    pub rows: f64,
    /// Per physical column position: its statistics, `None` for columns
    /// not analyzed (dropped, or left out of `ANALYZE t (columns)`).
    pub(crate) columns: Vec<Option<ColumnStatistics>>,
}

/// What `ANALYZE` learned about one column (PostgreSQL's `pg_stats` row).
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStatistics {
    /// Fraction of rows whose value is NULL.
    pub null_frac: f64,
    /// Average width in bytes of the non-NULL values.
    pub avg_width: u32,
    /// Distinct non-NULL values in PostgreSQL's convention: positive, a
    /// count; negative, minus a fraction of the rows (a column whose
    /// distinct count grows with the table; `-1` is unique).
    pub n_distinct: f64,
    /// The most common values, most frequent first, with the fraction of
    /// all rows each makes up.
    pub most_common: Vec<(Value, f64)>,
    /// Bounds of equally populated buckets of the values not in
    /// `most_common`, ascending (empty when there are too few values, or
    /// the type has no useful order).
    pub histogram: Vec<Value>,
    /// Correlation between the values' order and the rows' storage order
    /// (−1 to 1), when there is a histogram.
    pub correlation: Option<f64>,
}

impl ColumnStatistics {
    /// The number of distinct non-NULL values in a table of `rows` rows.
    pub fn distinct(&self, rows: f64) -> f64 {
        let n = if self.n_distinct < 0.0 { -self.n_distinct * rows } else { self.n_distinct };
        n.max(1.0)
    }

    /// Fraction of rows that hold one of the most common values.
    pub fn common_frac(&self) -> f64 {
        self.most_common.iter().map(|(_, f)| f).sum()
    }
}

/// A table's statistics as one transaction's handle sees its columns
/// (logical positions, as rows have them).
#[derive(Clone, Debug)]
pub struct Statistics {
    pub(crate) table: Arc<TableStatistics>,
    pub(crate) live: Arc<[usize]>,
}

impl Statistics {
    /// Live rows when `ANALYZE` ran.
    pub fn rows(&self) -> f64 {
        self.table.rows
    }

    /// The statistics of the column at logical position `column`, if it
    /// was analyzed.
    pub fn column(&self, column: usize) -> Option<&ColumnStatistics> {
        let physical = *self.live.get(column)?;
        self.table.columns.get(physical)?.as_ref()
    }
}

/// A uniform random sample of a stream of rows (Vitter's algorithm R),
/// with each kept row's position in the stream.
pub(crate) struct Reservoir {
    rows: Vec<(u64, Vec<Value>)>,
    seen: u64,
    random: u64,
}

impl Reservoir {
    /// An empty sample; `seed` makes the choice repeatable.
    pub(crate) fn new(seed: u64) -> Reservoir {
        Reservoir { rows: Vec::new(), seen: 0, random: seed | 1 }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: fast, and uniform enough for sampling.
        self.random ^= self.random >> 12;
        self.random ^= self.random << 25;
        self.random ^= self.random >> 27;
        self.random.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Whether the next row of the stream will be kept; call [`Reservoir::offer`]
    /// with it only then (so rows not kept are never cloned).
    pub(crate) fn wants_next(&mut self) -> Option<usize> {
        let position = self.seen;
        self.seen += 1;
        if self.rows.len() < SAMPLE_ROWS {
            return Some(self.rows.len());
        }
        let pick = self.next_random() % (position + 1);
        usize::try_from(pick).ok().filter(|p| *p < SAMPLE_ROWS)
    }

    /// Keeps `row` in slot `slot` (from [`Reservoir::wants_next`]).
    pub(crate) fn offer(&mut self, slot: usize, row: Vec<Value>) {
        let position = self.seen - 1;
        if slot == self.rows.len() {
            self.rows.push((position, row));
        } else if let Some(kept) = self.rows.get_mut(slot) {
            *kept = (position, row);
        }
    }

    /// Rows offered in all.
    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample, in stream order.
    pub(crate) fn into_rows(mut self) -> Vec<(u64, Vec<Value>)> {
        self.rows.sort_unstable_by_key(|(p, _)| *p);
        self.rows
    }
}

/// Summarizes column `column` of `sample` (rows with their stream
/// positions), drawn from a table of `total` rows.
pub(crate) fn column_statistics(
    sample: &[(u64, Vec<Value>)],
    column: usize,
    data_type: &DataType,
    total: f64,
) -> ColumnStatistics {
    let sampled = sample.len();
    let mut values: Vec<(&Value, u64)> =
        sample.iter().filter_map(|(p, row)| row.get(column).filter(|v| !v.is_null()).map(|v| (v, *p))).collect();
    let nulls = sampled - values.len();
    let null_frac = if sampled == 0 { 0.0 } else { nulls as f64 / sampled as f64 };
    let avg_width =
        if values.is_empty() { 0 } else { (values.iter().map(|(v, _)| width(v)).sum::<usize>() / values.len()) as u32 };
    values.sort_by(|a, b| a.0.total_cmp(b.0));
    // Runs of equal values: (first index, count).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, (v, _)) in values.iter().enumerate() {
        match runs.last_mut() {
            Some((start, count)) if values[*start].0.total_cmp(v) == Ordering::Equal => *count += 1,
            _ => runs.push((i, 1)),
        }
    }
    let d = runs.len() as f64;
    let repeated = runs.iter().filter(|(_, c)| *c > 1).count() as f64;
    let n_distinct = if values.is_empty() {
        0.0
    } else if repeated == 0.0 {
        // No value seen twice: assume the column is unique.
        -(1.0 - null_frac)
    } else if repeated == d {
        // Every value seen more than once: assume these are all.
        d
    } else {
        // Haas and Stokes' Duj1 estimator, n·d / (n − f1 + f1·n/N), as
        // PostgreSQL uses it.
        let n = values.len() as f64;
        let singles = d - repeated;
        let non_null_total = (total * (1.0 - null_frac)).max(n);
        let estimate = (n * d) / ((n - singles) + singles * n / non_null_total);
        estimate.clamp(d, non_null_total).round()
    };
    // A distinct count above a tenth of the rows is taken to grow with the
    // table: stored as minus a fraction of the rows.
    let n_distinct = if n_distinct > 0.1 * total && total > 0.0 { -(n_distinct / total).min(1.0) } else { n_distinct };

    let most_common = most_common(&values, &runs, sampled, n_distinct, total);
    let histogram = if orderable(data_type) { histogram(&values, &runs, &most_common) } else { Vec::new() };
    let correlation = (values.len() > 1 && orderable(data_type)).then(|| correlation(&values));
    ColumnStatistics {
        null_frac,
        avg_width,
        n_distinct,
        most_common: most_common.into_iter().map(|(v, c)| (v.clone(), c as f64 / sampled as f64)).collect(),
        histogram,
        correlation,
    }
}

/// The values worth listing as most common (with their sample counts),
/// among those seen more than once: all of them when they are every value
/// seen and few enough, otherwise those at least a quarter more frequent
/// than the average value.
fn most_common<'v>(
    values: &[(&'v Value, u64)],
    runs: &[(usize, usize)],
    sampled: usize,
    n_distinct: f64,
    total: f64,
) -> Vec<(&'v Value, usize)> {
    let mut tracked: Vec<(usize, usize)> = runs.iter().copied().filter(|(_, c)| *c > 1).collect();
    // Most frequent first; equally frequent ones in value order.
    tracked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    tracked.truncate(STATISTICS_TARGET);
    let keep = if tracked.len() == runs.len() && n_distinct > 0.0 {
        tracked.len()
    } else {
        let distinct = if n_distinct < 0.0 { -n_distinct * total } else { n_distinct };
        let average = sampled as f64 / distinct.max(1.0);
        let least = (average * 1.25).max(2.0).min(sampled as f64 / STATISTICS_TARGET as f64);
        tracked.iter().take_while(|(_, count)| *count as f64 >= least).count()
    };
    tracked.into_iter().take(keep).map(|(start, count)| (values[start].0, count)).collect()
}

/// Bounds of up to [`STATISTICS_TARGET`] equally populated buckets of the
/// sorted values outside the most common ones.
fn histogram(values: &[(&Value, u64)], runs: &[(usize, usize)], common: &[(&Value, usize)]) -> Vec<Value> {
    let is_common = |v: &Value| common.iter().any(|(c, _)| c.total_cmp(v) == Ordering::Equal);
    let rest: Vec<&Value> = runs
        .iter()
        .filter(|(start, _)| !is_common(values[*start].0))
        .flat_map(|(start, count)| values[*start..*start + *count].iter().map(|(v, _)| *v))
        .collect();
    let distinct_rest = runs.len() - common.len();
    if distinct_rest < 2 {
        return Vec::new();
    }
    // Evenly spaced values from the first to the last.
    let bounds = distinct_rest.min(STATISTICS_TARGET + 1);
    (0..bounds).map(|i| rest[(i * (rest.len() - 1)) / (bounds - 1)].clone()).collect()
}

/// Pearson correlation between the values' sorted rank and their stream
/// (storage) positions.
fn correlation(sorted: &[(&Value, u64)]) -> f64 {
    let n = sorted.len() as f64;
    if n < 2.0 {
        return 1.0;
    }
    // Rank of each value by storage position.
    let mut by_position: Vec<(u64, usize)> = sorted.iter().enumerate().map(|(rank, (_, p))| (*p, rank)).collect();
    by_position.sort_unstable();
    let mean = (n - 1.0) / 2.0;
    let (mut xy, mut xx) = (0.0, 0.0);
    for (position_rank, (_, value_rank)) in by_position.iter().enumerate() {
        let x = position_rank as f64 - mean;
        let y = *value_rank as f64 - mean;
        xy += x * y;
        xx += x * x;
    }
    if xx == 0.0 { 1.0 } else { (xy / xx).clamp(-1.0, 1.0) }
}

/// Whether a type's values have an order histograms can use.
fn orderable(data_type: &DataType) -> bool {
    !matches!(data_type, DataType::Json | DataType::Jsonb)
}

/// A value's size in bytes as PostgreSQL would store it (for `avg_width`).
fn width(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int2(_) => 2,
        Value::Int4(_) | Value::Float4(_) | Value::Date(_) => 4,
        Value::Int8(_) | Value::Float8(_) | Value::Time(_) | Value::Timestamp(_) | Value::TimestampTz(_) => 8,
        Value::Numeric(d) => 5 + d.to_string().len() / 2,
        Value::Text(s) | Value::Json(s) => s.len() + 1,
        Value::Bytea(b) => b.len() + 1,
        Value::Interval(_) | Value::Uuid(_) => 16,
        Value::Jsonb(j) => j.to_string().len() + 4,
        other => other.to_string().len() + 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: impl IntoIterator<Item = Value>) -> Vec<(u64, Vec<Value>)> {
        values.into_iter().enumerate().map(|(i, v)| (i as u64, vec![v])).collect()
    }

    #[test]
    fn a_whole_small_table_lists_every_value() {
        let rows = sample((0..1000).map(|i| if i % 10 == 0 { Value::Null } else { Value::Int4(i % 4) }));
        let s = column_statistics(&rows, 0, &DataType::Int4, 1000.0);
        assert!((s.null_frac - 0.1).abs() < 1e-9);
        assert_eq!(s.n_distinct, 4.0);
        assert_eq!(s.most_common.len(), 4);
        assert!((s.common_frac() - 0.9).abs() < 1e-9);
        assert!(s.histogram.is_empty(), "every value is a common one");
    }

    #[test]
    fn a_unique_column_scales_with_the_table() {
        let rows = sample((0..30_000).map(|i| Value::Int8(i * 7)));
        let s = column_statistics(&rows, 0, &DataType::Int8, 1_000_000.0);
        assert_eq!(s.n_distinct, -1.0);
        assert!(s.most_common.is_empty());
        assert_eq!(s.histogram.len(), STATISTICS_TARGET + 1);
        assert_eq!(s.histogram[0], Value::Int8(0));
        assert_eq!(s.distinct(2_000_000.0), 2_000_000.0);
        assert_eq!(s.correlation, Some(1.0));
    }

    #[test]
    fn a_sampled_column_estimates_its_distinct_values() {
        // 30k sampled rows of a 1M-row table holding 5000 values evenly.
        let rows = sample((0..30_000u64).map(|i| Value::Int8(((i * 2_654_435_761) % 5000) as i64)));
        let s = column_statistics(&rows, 0, &DataType::Int8, 1_000_000.0);
        let d = s.distinct(1_000_000.0);
        assert!((4000.0..=6000.0).contains(&d), "{d}");
    }

    #[test]
    fn the_reservoir_keeps_a_bounded_uniform_sample() {
        let mut r = Reservoir::new(7);
        for i in 0..(SAMPLE_ROWS as i64 * 3) {
            if let Some(slot) = r.wants_next() {
                r.offer(slot, vec![Value::Int8(i)]);
            }
        }
        assert_eq!(r.seen(), SAMPLE_ROWS as u64 * 3);
        let rows = r.into_rows();
        assert_eq!(rows.len(), SAMPLE_ROWS);
        let late = rows.iter().filter(|(p, _)| *p >= 2 * SAMPLE_ROWS as u64).count();
        assert!((8_000..12_000).contains(&late), "{late}");
    }
}
