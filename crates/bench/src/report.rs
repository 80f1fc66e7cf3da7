//! Result rows and their output as a table or CSV.

use std::fmt::Write as _;

/// One measured figure: memdb's value next to the baseline's.
pub struct Figure {
    /// Figure name (e.g. `bulk_insert`).
    pub name: String,
    /// Unit of `memdb` and `baseline_value` (e.g. `rows/s`).
    pub unit: &'static str,
    /// memdb's value.
    pub memdb: f64,
    /// What it is compared with (e.g. `sqlite`).
    pub baseline: &'static str,
    /// The baseline's value.
    pub baseline_value: f64,
    /// Whether a smaller value is better (memory); the ratio is then
    /// memdb / baseline, else also memdb / baseline but read as a speed-up.
    pub target: &'static str,
}

impl Figure {
    /// memdb / baseline.
    pub fn ratio(&self) -> f64 {
        if self.baseline_value == 0.0 { f64::NAN } else { self.memdb / self.baseline_value }
    }
}

/// Renders figures as CSV: `figure,unit,memdb,baseline,baseline_value,ratio`.
pub fn csv(figures: &[Figure]) -> String {
    let mut out = String::from("figure,unit,memdb,baseline,baseline_value,ratio\n");
    for f in figures {
        let _ = writeln!(
            out,
            "{},{},{:.1},{},{:.1},{:.3}",
            f.name,
            f.unit,
            f.memdb,
            f.baseline,
            f.baseline_value,
            f.ratio()
        );
    }
    out
}

/// Renders figures as an aligned table for the terminal.
pub fn table(figures: &[Figure]) -> String {
    let mut out = format!(
        "{:<22} {:>14} {:>14}  {:<16} {:>8}  {:<8}\n",
        "figure", "memdb", "baseline", "unit / baseline", "ratio", "target"
    );
    for f in figures {
        let _ = writeln!(
            out,
            "{:<22} {:>14.1} {:>14.1}  {:<16} {:>8.2}  {:<8}",
            f.name,
            f.memdb,
            f.baseline_value,
            format!("{} / {}", f.unit, f.baseline),
            f.ratio(),
            f.target
        );
    }
    out
}
