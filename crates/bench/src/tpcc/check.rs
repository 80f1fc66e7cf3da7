//! TPC-C's consistency conditions 1–4 (clause 3.3.2), checked after a run:
//!
//! 1. `W_YTD` equals the sum of its districts' `D_YTD`.
//! 2. `D_NEXT_O_ID - 1` equals the district's `max(O_ID)` and, when it has
//!    new orders, `max(NO_O_ID)`.
//! 3. A district's new orders are contiguous: `max(NO_O_ID) - min(NO_O_ID)
//!    + 1` equals their count.
//! 4. The sum of a district's `O_OL_CNT` equals its number of order lines.

use std::collections::BTreeMap;

use anyhow::Result;
use rust_decimal::Decimal;

use super::client::{Cell, SqlConnection};

/// The outcome of one condition: its number and the districts or
/// warehouses that break it (empty when it holds).
pub struct Condition {
    /// Condition number (1–4).
    pub number: u8,
    /// What was checked, in words.
    pub description: &'static str,
    /// Rows checked.
    pub checked: usize,
    /// Violations, described.
    pub violations: Vec<String>,
}

type Key = (i64, i64);

fn by_district(rows: Vec<Vec<Cell>>) -> Result<BTreeMap<Key, Vec<Cell>>> {
    rows.into_iter()
        .map(|mut row| {
            let rest = row.split_off(2);
            Ok(((row[0].int()?, row[1].int()?), rest))
        })
        .collect()
}

/// Runs the four checks.
pub fn check(conn: &mut dyn SqlConnection) -> Result<Vec<Condition>> {
    let mut out = Vec::new();

    let warehouses = conn.query_text("SELECT w_id, w_ytd FROM warehouse ORDER BY w_id")?;
    let district_ytd: BTreeMap<i64, Decimal> = conn
        .query_text("SELECT d_w_id, sum(d_ytd) FROM district GROUP BY d_w_id")?
        .into_iter()
        .map(|r| Ok((r[0].int()?, r[1].dec()?)))
        .collect::<Result<_>>()?;
    let mut violations = Vec::new();
    for row in &warehouses {
        let (w, ytd) = (row[0].int()?, row[1].dec()?);
        let sum = district_ytd.get(&w).copied().unwrap_or_default();
        if ytd != sum {
            violations.push(format!("warehouse {w}: w_ytd {ytd} but its districts sum to {sum}"));
        }
    }
    out.push(Condition { number: 1, description: "W_YTD = sum(D_YTD)", checked: warehouses.len(), violations });

    let districts = by_district(conn.query_text("SELECT d_w_id, d_id, d_next_o_id FROM district")?)?;
    let orders = by_district(
        conn.query_text("SELECT o_w_id, o_d_id, max(o_id), sum(o_ol_cnt) FROM orders GROUP BY o_w_id, o_d_id")?,
    )?;
    let new_orders = by_district(conn.query_text(
        "SELECT no_w_id, no_d_id, max(no_o_id), min(no_o_id), count(*) FROM new_order GROUP BY no_w_id, no_d_id",
    )?)?;
    let lines =
        by_district(conn.query_text("SELECT ol_w_id, ol_d_id, count(*) FROM order_line GROUP BY ol_w_id, ol_d_id")?)?;

    let mut second = Vec::new();
    let mut third = Vec::new();
    let mut fourth = Vec::new();
    for ((w, d), district) in &districts {
        let next = district[0].int()?;
        let order = orders.get(&(*w, *d));
        let max_order = order.map(|o| o[0].int()).transpose()?.unwrap_or(0);
        if next - 1 != max_order {
            second.push(format!("district {w}/{d}: d_next_o_id - 1 = {} but max(o_id) = {max_order}", next - 1));
        }
        if let Some(no) = new_orders.get(&(*w, *d)) {
            let (max, min, count) = (no[0].int()?, no[1].int()?, no[2].int()?);
            if max != next - 1 {
                second.push(format!("district {w}/{d}: d_next_o_id - 1 = {} but max(no_o_id) = {max}", next - 1));
            }
            if max - min + 1 != count {
                third.push(format!("district {w}/{d}: new orders {min}..={max} but {count} rows"));
            }
        }
        let line_total = order.map(|o| o[1].int()).transpose()?.unwrap_or(0);
        let line_rows = lines.get(&(*w, *d)).map(|l| l[0].int()).transpose()?.unwrap_or(0);
        if line_total != line_rows {
            fourth.push(format!("district {w}/{d}: sum(o_ol_cnt) = {line_total} but {line_rows} order lines"));
        }
    }
    let checked = districts.len();
    out.push(Condition {
        number: 2,
        description: "D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)",
        checked,
        violations: second,
    });
    out.push(Condition {
        number: 3,
        description: "max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW_ORDER)",
        checked,
        violations: third,
    });
    out.push(Condition { number: 4, description: "sum(O_OL_CNT) = count(ORDER_LINE)", checked, violations: fourth });
    Ok(out)
}
