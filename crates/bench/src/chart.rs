//! `memdb-bench chart`: throughput by workload and system, drawn from the
//! CSV results the `ycsb` and `tpcc` commands append, as an SVG of grouped
//! bars — one panel per benchmark (YCSB in operations/s, TPC-C in tpmC),
//! one group per workload, one bar per system. When a (benchmark,
//! workload, system) was run more than once, the last run counts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use plotters::prelude::*;

use crate::results::CSV_HEADER;

/// Options of `memdb-bench chart`.
#[derive(Args)]
pub struct Options {
    /// CSV results written by `ycsb --csv` / `tpcc --csv`.
    #[arg(long)]
    pub csv: PathBuf,
    /// The SVG to write.
    #[arg(long, default_value = "bench/results.svg")]
    pub output: PathBuf,
}

/// The headline figure of one run.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    benchmark: String,
    workload: String,
    system: String,
    throughput: f64,
    unit: String,
}

/// Reads the `total` rows of the results, the last one winning for each
/// (benchmark, workload, system).
fn read_points(text: &str) -> Result<Vec<Point>> {
    let header: Vec<&str> = CSV_HEADER.split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).context("column missing from CSV_HEADER");
    let (b, w, s, op, t, u) = (
        column("benchmark")?,
        column("workload")?,
        column("system")?,
        column("op")?,
        column("throughput")?,
        column("unit")?,
    );
    let mut latest: BTreeMap<(String, String, String), Point> = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.is_empty() || line == CSV_HEADER {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            bail!("line {}: {} columns, expected {}", number + 1, cells.len(), header.len());
        }
        if cells[op] != "total" {
            continue;
        }
        let throughput: f64 =
            cells[t].parse().with_context(|| format!("line {}: bad throughput {:?}", number + 1, cells[t]))?;
        let point = Point {
            benchmark: cells[b].into(),
            workload: cells[w].into(),
            system: cells[s].into(),
            throughput,
            unit: cells[u].into(),
        };
        latest.insert((point.benchmark.clone(), point.workload.clone(), point.system.clone()), point);
    }
    Ok(latest.into_values().collect())
}

/// Draws the chart.
pub fn run(options: &Options) -> Result<()> {
    let text = std::fs::read_to_string(&options.csv).with_context(|| format!("reading {}", options.csv.display()))?;
    let points = read_points(&text)?;
    if points.is_empty() {
        bail!("{} holds no results", options.csv.display());
    }
    draw(&points, &options.output)?;
    eprintln!("wrote {}", options.output.display());
    Ok(())
}

fn draw(points: &[Point], output: &std::path::Path) -> Result<()> {
    let mut benchmarks: Vec<String> = unique(points.iter().map(|p| p.benchmark.clone()));
    benchmarks.sort_by_key(|b| b != "ycsb");
    let systems: Vec<String> = unique(points.iter().map(|p| p.system.clone()));
    let width = 560 * benchmarks.len() as u32;
    let root = SVGBackend::new(output, (width.max(640), 420)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let panels = root.split_evenly((1, benchmarks.len()));
    for (panel, benchmark) in panels.iter().zip(&benchmarks) {
        let mine: Vec<&Point> = points.iter().filter(|p| &p.benchmark == benchmark).collect();
        let workloads: Vec<String> = unique(mine.iter().map(|p| p.workload.clone()));
        let unit = mine.first().map_or(String::new(), |p| p.unit.clone());
        let top = mine.iter().map(|p| p.throughput).fold(0.0, f64::max) * 1.15;
        let groups = workloads.len() as f64;
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{benchmark}: throughput by workload and system"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..groups, 0.0..top.max(1.0))
            .map_err(plot_error)?;
        let names = workloads.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(workloads.len() * 2 + 1)
            .x_label_formatter(&|x| {
                // Label each group at its centre.
                let centre = x - x.floor();
                if (centre - 0.5).abs() < 0.01 {
                    names.get(x.floor() as usize).map_or(String::new(), |w| w.to_uppercase())
                } else {
                    String::new()
                }
            })
            .y_desc(unit)
            .y_label_formatter(&|y| format_count(*y))
            .draw()
            .map_err(plot_error)?;
        let slot = 0.8 / systems.len() as f64;
        for (s, system) in systems.iter().enumerate() {
            let colour = Palette99::pick(s).to_rgba();
            let bars: Vec<Rectangle<(f64, f64)>> = mine
                .iter()
                .filter(|p| &p.system == system)
                .filter_map(|p| {
                    let g = workloads.iter().position(|w| *w == p.workload)? as f64;
                    let left = g + 0.1 + slot * s as f64;
                    Some(Rectangle::new([(left, 0.0), (left + slot * 0.92, p.throughput)], colour.filled()))
                })
                .collect();
            if bars.is_empty() {
                continue;
            }
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(system.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn format_count(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.0}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_total_row_wins_and_other_rows_are_ignored() {
        let text = format!(
            "{CSV_HEADER}\n\
             ycsb,a,memdb,embedded,1,100,1.0,total,100.0,ops/s,,,,,,,\n\
             ycsb,a,memdb,embedded,1,100,1.0,read,50.0,ops/s,50,0,1,1,1,1,1\n\
             ycsb,a,memdb,embedded,1,100,1.0,total,200.0,ops/s,,,,,,,\n\
             tpcc,tpcc,memdb,embedded,1,1,1.0,total,900.0,tpmC,,,,,,,\n"
        );
        let points = read_points(&text).unwrap();
        assert_eq!(points.len(), 2);
        assert!(points.iter().any(|p| p.benchmark == "ycsb" && p.throughput == 200.0));
        assert!(read_points("ycsb,a\n").is_err());
    }

    #[test]
    fn draws_an_svg_with_every_system_in_the_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
        let point = |b: &str, w: &str, s: &str, t: f64| Point {
            benchmark: b.into(),
            workload: w.into(),
            system: s.into(),
            throughput: t,
            unit: "ops/s".into(),
        };
        draw(
            &[
                point("ycsb", "a", "memdb (pgwire)", 50_000.0),
                point("ycsb", "a", "postgresql 15", 20_000.0),
                point("ycsb", "c", "memdb (pgwire)", 80_000.0),
                point("tpcc", "tpcc", "memdb (pgwire)", 30_000.0),
            ],
            &path,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap().replace('\n', "");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("memdb (pgwire)") && svg.contains("postgresql 15"));
        assert!(svg.contains(">A<") && svg.contains(">C<"));
    }
}
