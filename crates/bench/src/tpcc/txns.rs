//! The five TPC-C transactions (clauses 2.4–2.8) as a terminal runs them:
//! inputs drawn with the spec's keying, SQL through prepared statements,
//! READ COMMITTED with row locks (`FOR UPDATE`, `UPDATE … RETURNING`) where
//! a read feeds a write. A transaction that hits a serialization failure or
//! deadlock is rolled back and retried with the same inputs. New-Order and
//! Payment group their independent statements; with `--pipeline` each group
//! travels in one round trip, the BEGIN with a block's first statements and
//! the COMMIT with its last (see [`SqlConnection::pipeline`]).

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use super::client::{Cell, Param, SqlConnection, StatementId, is_retryable};
use super::load::{CUSTOMERS, DISTRICTS, ITEMS};
use super::random::{self, Constants};

/// The transaction types, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// New-Order (45%).
    NewOrder,
    /// Payment (43%).
    Payment,
    /// Order-Status (4%).
    OrderStatus,
    /// Delivery (4%).
    Delivery,
    /// Stock-Level (4%).
    StockLevel,
}

/// All kinds, in report order.
pub const KINDS: [Kind; 5] = [Kind::NewOrder, Kind::Payment, Kind::OrderStatus, Kind::Delivery, Kind::StockLevel];

impl Kind {
    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::NewOrder => "new_order",
            Kind::Payment => "payment",
            Kind::OrderStatus => "order_status",
            Kind::Delivery => "delivery",
            Kind::StockLevel => "stock_level",
        }
    }

    /// The standard mix: 45% New-Order, 43% Payment, 4% each of the rest.
    pub fn draw(rng: &mut SmallRng) -> Kind {
        match rng.random_range(0..100) {
            0..45 => Kind::NewOrder,
            45..88 => Kind::Payment,
            88..92 => Kind::OrderStatus,
            92..96 => Kind::Delivery,
            _ => Kind::StockLevel,
        }
    }
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Committed.
    Committed,
    /// Rolled back on purpose (the 1% of New-Orders with an unused item).
    RolledBack,
}

/// The prepared statements of a terminal.
struct Statements {
    customer_discount: StatementId,
    warehouse_tax: StatementId,
    district_next_order: StatementId,
    insert_order: StatementId,
    insert_new_order: StatementId,
    item: StatementId,
    /// `s_dist_XX` differs by district: one statement per district.
    stock: Vec<StatementId>,
    update_stock: StatementId,
    insert_order_line: StatementId,
    warehouse_payment: StatementId,
    district_payment: StatementId,
    customers_by_name: StatementId,
    customer_for_payment: StatementId,
    customer_pay_bad_credit: StatementId,
    customer_pay: StatementId,
    insert_history: StatementId,
    customer_status: StatementId,
    last_order: StatementId,
    order_lines: StatementId,
    oldest_new_order: StatementId,
    delete_new_order: StatementId,
    order_carrier: StatementId,
    deliver_lines: StatementId,
    customer_delivered: StatementId,
    district_next: StatementId,
    low_stock: StatementId,
}

impl Statements {
    fn prepare(conn: &mut dyn SqlConnection) -> Result<Statements> {
        let mut stock = Vec::new();
        for d in 1..=DISTRICTS {
            stock.push(conn.prepare(&format!(
                "SELECT s_quantity, s_data, s_dist_{d:02} FROM stock WHERE s_i_id = $1 AND s_w_id = $2 FOR UPDATE"
            ))?);
        }
        Ok(Statements {
            customer_discount: conn
                .prepare("SELECT c_discount, c_last, c_credit FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3")?,
            warehouse_tax: conn.prepare("SELECT w_tax FROM warehouse WHERE w_id = $1")?,
            district_next_order: conn.prepare(
                "UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = $1 AND d_id = $2 RETURNING d_tax, d_next_o_id",
            )?,
            insert_order: conn.prepare(
                "INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local) \
                 VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP, NULL, $5, $6)",
            )?,
            insert_new_order: conn.prepare("INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES ($1, $2, $3)")?,
            item: conn.prepare("SELECT i_price, i_name, i_data FROM item WHERE i_id = $1")?,
            stock,
            update_stock: conn.prepare(
                "UPDATE stock SET s_quantity = $1, s_ytd = s_ytd + $2, s_order_cnt = s_order_cnt + 1, \
                 s_remote_cnt = s_remote_cnt + $3 WHERE s_i_id = $4 AND s_w_id = $5",
            )?,
            insert_order_line: conn.prepare(
                "INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id, ol_delivery_d, \
                 ol_quantity, ol_amount, ol_dist_info) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)",
            )?,
            warehouse_payment: conn.prepare(
                "UPDATE warehouse SET w_ytd = w_ytd + $1 WHERE w_id = $2 \
                 RETURNING w_name, w_street_1, w_street_2, w_city, w_state, w_zip",
            )?,
            district_payment: conn.prepare(
                "UPDATE district SET d_ytd = d_ytd + $1 WHERE d_w_id = $2 AND d_id = $3 \
                 RETURNING d_name, d_street_1, d_street_2, d_city, d_state, d_zip",
            )?,
            customers_by_name: conn.prepare(
                "SELECT c_id FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_last = $3 ORDER BY c_first",
            )?,
            customer_for_payment: conn.prepare(
                "SELECT c_first, c_middle, c_last, c_street_1, c_street_2, c_city, c_state, c_zip, c_phone, c_credit, \
                 c_credit_lim, c_discount, c_balance, c_data FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3 \
                 FOR UPDATE",
            )?,
            customer_pay_bad_credit: conn.prepare(
                "UPDATE customer SET c_balance = c_balance - $1, c_ytd_payment = c_ytd_payment + $1, \
                 c_payment_cnt = c_payment_cnt + 1, c_data = $2 WHERE c_w_id = $3 AND c_d_id = $4 AND c_id = $5",
            )?,
            customer_pay: conn.prepare(
                "UPDATE customer SET c_balance = c_balance - $1, c_ytd_payment = c_ytd_payment + $1, \
                 c_payment_cnt = c_payment_cnt + 1 WHERE c_w_id = $2 AND c_d_id = $3 AND c_id = $4",
            )?,
            insert_history: conn.prepare(
                "INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data) \
                 VALUES ($1, $2, $3, $4, $5, CURRENT_TIMESTAMP, $6, $7)",
            )?,
            customer_status: conn.prepare(
                "SELECT c_balance, c_first, c_middle, c_last FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
            )?,
            last_order: conn.prepare(
                "SELECT o_id, o_carrier_id, o_entry_d FROM orders WHERE o_w_id = $1 AND o_d_id = $2 AND o_c_id = $3 \
                 ORDER BY o_id DESC LIMIT 1",
            )?,
            order_lines: conn.prepare(
                "SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM order_line \
                 WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3",
            )?,
            oldest_new_order: conn.prepare(
                "SELECT no_o_id FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 ORDER BY no_o_id LIMIT 1",
            )?,
            delete_new_order: conn
                .prepare("DELETE FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 AND no_o_id = $3")?,
            order_carrier: conn.prepare(
                "UPDATE orders SET o_carrier_id = $1 WHERE o_w_id = $2 AND o_d_id = $3 AND o_id = $4 RETURNING o_c_id",
            )?,
            deliver_lines: conn.prepare(
                "UPDATE order_line SET ol_delivery_d = CURRENT_TIMESTAMP WHERE ol_w_id = $1 AND ol_d_id = $2 \
                 AND ol_o_id = $3 RETURNING ol_amount",
            )?,
            customer_delivered: conn.prepare(
                "UPDATE customer SET c_balance = c_balance + $1, c_delivery_cnt = c_delivery_cnt + 1 \
                 WHERE c_w_id = $2 AND c_d_id = $3 AND c_id = $4",
            )?,
            district_next: conn.prepare("SELECT d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2")?,
            low_stock: conn.prepare(
                "SELECT count(DISTINCT s_i_id) FROM order_line, stock WHERE ol_w_id = $1 AND ol_d_id = $2 \
                 AND ol_o_id < $3 AND ol_o_id >= $4 AND s_w_id = $1 AND s_i_id = ol_i_id AND s_quantity < $5",
            )?,
        })
    }
}

/// One terminal: a connection bound to a home warehouse.
pub struct Terminal {
    conn: Box<dyn SqlConnection>,
    statements: Statements,
    rng: SmallRng,
    home: i64,
    warehouses: i64,
    constants: Constants,
}

/// What one transaction cost.
pub struct Executed {
    /// How it ended.
    pub outcome: Outcome,
    /// Serialization failures and deadlocks retried before it ended.
    pub retries: u32,
}

fn int(value: i64) -> Param {
    Param::Int(value)
}

fn first(rows: &[Vec<Cell>], what: &str) -> Result<Vec<Cell>> {
    rows.first().cloned().with_context(|| format!("{what}: no row"))
}

impl Terminal {
    /// Prepares a terminal on `conn` for home warehouse `home`.
    pub fn new(
        mut conn: Box<dyn SqlConnection>,
        home: i64,
        warehouses: i64,
        constants: Constants,
        seed: u64,
    ) -> Result<Terminal> {
        let statements = Statements::prepare(&mut *conn)?;
        Ok(Terminal { conn, statements, rng: SmallRng::seed_from_u64(seed), home, warehouses, constants })
    }

    /// Draws a transaction type from the mix.
    pub fn draw(&mut self) -> Kind {
        Kind::draw(&mut self.rng)
    }

    /// Runs one transaction of `kind`, retrying it on serialization
    /// failures and deadlocks with the same inputs.
    pub fn run(&mut self, kind: Kind) -> Result<Executed> {
        let seed: u64 = self.rng.random();
        let mut retries = 0;
        loop {
            let mut inputs = SmallRng::seed_from_u64(seed);
            let attempt = self.conn.begin().and_then(|()| match kind {
                Kind::NewOrder => self.new_order(&mut inputs),
                Kind::Payment => self.payment(&mut inputs),
                Kind::OrderStatus => self.order_status(&mut inputs),
                Kind::Delivery => self.delivery(&mut inputs),
                Kind::StockLevel => self.stock_level(&mut inputs),
            });
            let ended = match attempt {
                Ok(Outcome::Committed) => self.conn.commit().map(|()| Outcome::Committed),
                Ok(Outcome::RolledBack) => self.conn.rollback().map(|()| Outcome::RolledBack),
                Err(e) => {
                    let _ = self.conn.rollback();
                    Err(e)
                }
            };
            match ended {
                Ok(outcome) => return Ok(Executed { outcome, retries }),
                Err(e) if is_retryable(&e) && retries < 100 => retries += 1,
                Err(e) => return Err(e.context(kind.name())),
            }
        }
    }

    /// A warehouse other than home (when there is one).
    fn remote_warehouse(&self, rng: &mut SmallRng) -> i64 {
        if self.warehouses == 1 {
            return self.home;
        }
        let other = rng.random_range(1..self.warehouses);
        if other >= self.home { other + 1 } else { other }
    }

    /// Clause 2.4: New-Order.
    fn new_order(&mut self, rng: &mut SmallRng) -> Result<Outcome> {
        let s = &self.statements;
        let (w, d) = (self.home, rng.random_range(1..=DISTRICTS));
        let c = random::nurand(rng, 1023, 1, CUSTOMERS, self.constants.c_id);
        let count = rng.random_range(5..=15usize);
        let unused_item = rng.random_ratio(1, 100);
        let mut lines: Vec<(i64, i64, i64)> = (0..count)
            .map(|i| {
                let item = if unused_item && i == count - 1 {
                    ITEMS + 1
                } else {
                    random::nurand(rng, 8191, 1, ITEMS, self.constants.ol_i_id)
                };
                let supply = if rng.random_ratio(1, 100) { self.remote_warehouse(rng) } else { w };
                (item, supply, rng.random_range(1..=10))
            })
            .collect();
        // Lock stock rows in one global order so terminals cannot deadlock;
        // the unused item, if any, stays last.
        let tail = if unused_item { 1 } else { 0 };
        lines[..count - tail].sort_by_key(|&(item, supply, _)| (supply, item));
        let all_local = lines.iter().all(|&(_, supply, _)| supply == w);

        // Four groups of independent statements (one round trip each when
        // the connection pipelines): the header reads and the order number;
        // the order rows and the item lookups; the stock rows, locked in
        // order; the stock updates and the order lines.
        let header = self.conn.pipeline(&[
            (s.customer_discount, vec![int(w), int(d), int(c)]),
            (s.warehouse_tax, vec![int(w)]),
            (s.district_next_order, vec![int(w), int(d)]),
        ])?;
        let discount = first(&header[0], "customer")?[0].dec()?;
        let w_tax = first(&header[1], "warehouse")?[0].dec()?;
        let district = first(&header[2], "district")?;
        let (d_tax, o_id) = (district[0].dec()?, district[1].int()? - 1);
        let mut runs = vec![
            (s.insert_order, vec![int(o_id), int(d), int(w), int(c), int(count as i64), int(i64::from(all_local))]),
            (s.insert_new_order, vec![int(o_id), int(d), int(w)]),
        ];
        runs.extend(lines.iter().map(|&(item, _, _)| (s.item, vec![int(item)])));
        let items = self.conn.pipeline(&runs)?;
        let mut prices = Vec::with_capacity(count);
        for found in &items[2..] {
            // No row: the unused item, the spec's business rollback.
            let Some(found) = found.first() else { return Ok(Outcome::RolledBack) };
            prices.push(found[0].dec()?);
        }
        let stock_statement = s.stock[(d - 1) as usize];
        let stock_reads: Vec<_> =
            lines.iter().map(|&(item, supply, _)| (stock_statement, vec![int(item), int(supply)])).collect();
        let stocks = self.conn.pipeline(&stock_reads)?;
        let mut writes = Vec::with_capacity(2 * count);
        let mut total = Decimal::ZERO;
        // An order may list an item twice: its second line sees the stock
        // the first one left, as when each line is read after the previous
        // line's update.
        let mut left_by_line: HashMap<(i64, i64), i64> = HashMap::new();
        for (number, ((&(item, supply, quantity), price), stock)) in lines.iter().zip(&prices).zip(&stocks).enumerate()
        {
            let stock = first(stock, "stock")?;
            let on_hand = match left_by_line.get(&(item, supply)) {
                Some(&left) => left,
                None => stock[0].int()?,
            };
            let left = if on_hand >= quantity + 10 { on_hand - quantity } else { on_hand - quantity + 91 };
            left_by_line.insert((item, supply), left);
            writes.push((
                s.update_stock,
                vec![int(left), int(quantity), int(i64::from(supply != w)), int(item), int(supply)],
            ));
            let amount = *price * Decimal::from(quantity);
            total += amount;
            writes.push((
                s.insert_order_line,
                vec![
                    int(o_id),
                    int(d),
                    int(w),
                    int(number as i64 + 1),
                    int(item),
                    int(supply),
                    int(quantity),
                    Param::Dec(amount),
                    Param::Text(stock[2].text()?.to_owned()),
                ],
            ));
        }
        self.conn.pipeline_then_commit(&writes)?;
        // The total the terminal would display.
        let _ = total * (Decimal::ONE - discount) * (Decimal::ONE + w_tax + d_tax);
        Ok(Outcome::Committed)
    }

    /// Picks a customer by last name (the middle one by first name, clause
    /// 2.5.2.2) or by id.
    fn customer(&mut self, rng: &mut SmallRng, w: i64, d: i64) -> Result<i64> {
        if rng.random_ratio(60, 100) {
            let last = random::random_last_name(rng, &self.constants);
            let ids =
                self.conn.query(self.statements.customers_by_name, &[int(w), int(d), Param::Text(last.clone())])?;
            if ids.is_empty() {
                bail!("no customer named {last} in warehouse {w} district {d}");
            }
            ids[(ids.len() - 1) / 2][0].int()
        } else {
            Ok(random::nurand(rng, 1023, 1, CUSTOMERS, self.constants.c_id))
        }
    }

    /// Clause 2.5: Payment.
    fn payment(&mut self, rng: &mut SmallRng) -> Result<Outcome> {
        let (w, d) = (self.home, rng.random_range(1..=DISTRICTS));
        let (c_w, c_d) = if rng.random_ratio(85, 100) {
            (w, d)
        } else {
            (self.remote_warehouse(rng), rng.random_range(1..=DISTRICTS))
        };
        let amount = random::cents(rng, 100, 500_000);
        let s = &self.statements;
        let (wp, dp) = (s.warehouse_payment, s.district_payment);
        let totals = self
            .conn
            .pipeline(&[(wp, vec![Param::Dec(amount), int(w)]), (dp, vec![Param::Dec(amount), int(w), int(d)])])?;
        let warehouse = first(&totals[0], "warehouse")?;
        let district = first(&totals[1], "district")?;
        let c = self.customer(rng, c_w, c_d)?;
        let s = &self.statements;
        let customer = first(&self.conn.query(s.customer_for_payment, &[int(c_w), int(c_d), int(c)])?, "customer")?;
        let pay = if customer[9].text()? == "BC" {
            let mut data = format!("{c} {c_d} {c_w} {d} {w} {amount} | {}", customer[13].text()?);
            if let Some((cut, _)) = data.char_indices().nth(500) {
                data.truncate(cut);
            }
            (s.customer_pay_bad_credit, vec![Param::Dec(amount), Param::Text(data), int(c_w), int(c_d), int(c)])
        } else {
            (s.customer_pay, vec![Param::Dec(amount), int(c_w), int(c_d), int(c)])
        };
        let h_data = format!("{}    {}", warehouse[0].text()?, district[0].text()?);
        let history = (
            s.insert_history,
            vec![int(c), int(c_d), int(c_w), int(d), int(w), Param::Dec(amount), Param::Text(h_data)],
        );
        self.conn.pipeline_then_commit(&[pay, history])?;
        Ok(Outcome::Committed)
    }

    /// Clause 2.6: Order-Status (read only).
    fn order_status(&mut self, rng: &mut SmallRng) -> Result<Outcome> {
        let (w, d) = (self.home, rng.random_range(1..=DISTRICTS));
        let c = self.customer(rng, w, d)?;
        let s = &self.statements;
        first(&self.conn.query(s.customer_status, &[int(w), int(d), int(c)])?, "customer")?;
        if let Some(order) = self.conn.query(s.last_order, &[int(w), int(d), int(c)])?.into_iter().next() {
            let lines = self.conn.query(s.order_lines, &[int(w), int(d), order[0].clone().into_param()?])?;
            if lines.is_empty() {
                bail!("order {:?} of customer {c} has no lines", order[0]);
            }
        }
        Ok(Outcome::Committed)
    }

    /// Clause 2.7: Delivery, all ten districts in one transaction.
    fn delivery(&mut self, rng: &mut SmallRng) -> Result<Outcome> {
        let w = self.home;
        let carrier = rng.random_range(1..=10);
        let s = &self.statements;
        for d in 1..=DISTRICTS {
            let Some(oldest) = self.conn.query(s.oldest_new_order, &[int(w), int(d)])?.into_iter().next() else {
                continue; // nothing to deliver in this district
            };
            let o = oldest[0].int()?;
            if self.conn.execute(s.delete_new_order, &[int(w), int(d), int(o)])? == 0 {
                continue; // delivered by a concurrent Delivery
            }
            let order = first(&self.conn.query(s.order_carrier, &[int(carrier), int(w), int(d), int(o)])?, "order")?;
            let c = order[0].int()?;
            let amounts = self.conn.query(s.deliver_lines, &[int(w), int(d), int(o)])?;
            let mut total = Decimal::ZERO;
            for row in &amounts {
                total += row[0].dec()?;
            }
            self.conn.execute(s.customer_delivered, &[Param::Dec(total), int(w), int(d), int(c)])?;
        }
        Ok(Outcome::Committed)
    }

    /// Clause 2.8: Stock-Level (read only).
    fn stock_level(&mut self, rng: &mut SmallRng) -> Result<Outcome> {
        let (w, d) = (self.home, rng.random_range(1..=DISTRICTS));
        let threshold = rng.random_range(10..=20);
        let s = &self.statements;
        let next = first(&self.conn.query(s.district_next, &[int(w), int(d)])?, "district")?[0].int()?;
        let low = self.conn.query(s.low_stock, &[int(w), int(d), int(next), int(next - 20), int(threshold)])?;
        first(&low, "stock level")?;
        Ok(Outcome::Committed)
    }
}

impl Cell {
    /// The cell as a statement parameter (an integer key read back).
    fn into_param(self) -> Result<Param> {
        Ok(Param::Int(self.int()?))
    }
}
