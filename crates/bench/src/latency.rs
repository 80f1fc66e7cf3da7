//! Latency histograms (HdrHistogram, 3 significant digits), one per
//! operation type and thread, merged when the run ends.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies of one operation type, in nanoseconds.
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies::new()
    }
}

impl Latencies {
    /// An empty, auto-resizing histogram.
    pub fn new() -> Latencies {
        // 3 significant digits is a valid precision: the constructor cannot fail.
        let histogram = Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"));
        Latencies { histogram }
    }

    /// Records one operation's latency.
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        // An auto-resizing histogram accepts every value.
        let _ = self.histogram.record(nanos);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Latencies) {
        let _ = self.histogram.add(&other.histogram);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at `percentile` (0–100), in microseconds.
    pub fn percentile_us(&self, percentile: f64) -> f64 {
        self.histogram.value_at_percentile(percentile) as f64 / 1000.0
    }

    /// The mean latency in microseconds.
    pub fn mean_us(&self) -> f64 {
        self.histogram.mean() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_merged_histograms() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        for us in 1..=500u64 {
            a.record(Duration::from_micros(us));
        }
        for us in 501..=1000u64 {
            b.record(Duration::from_micros(us));
        }
        a.merge(&b);
        assert_eq!(a.count(), 1000);
        assert!((a.percentile_us(50.0) - 500.0).abs() < 1.0);
        assert!((a.percentile_us(99.0) - 990.0).abs() < 1.0);
        assert!((a.mean_us() - 500.5).abs() < 1.0);
    }
}
