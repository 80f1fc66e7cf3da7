//! The TPC-C schema (clause 1.3) and its initial population (clause 4.3),
//! written as multi-row `INSERT`s so one loader serves memdb embedded,
//! memdb over pgwire and PostgreSQL alike.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::client::SqlConnection;
use super::random::{self, Constants};

/// Items in the catalogue.
pub const ITEMS: i64 = 100_000;
/// Districts per warehouse.
pub const DISTRICTS: i64 = 10;
/// Customers per district.
pub const CUSTOMERS: i64 = 3_000;
/// Orders per district at load.
pub const ORDERS: i64 = 3_000;
/// The first undelivered order at load (orders 2101..=3000 are new).
pub const FIRST_NEW_ORDER: i64 = 2_101;

/// Rows a warehouse loads, on average (order lines average 10 per order).
pub const ROWS_PER_WAREHOUSE: u64 = 1
    + DISTRICTS as u64 * (1 + 2 * CUSTOMERS as u64 + ORDERS as u64 * 11 + (ORDERS - FIRST_NEW_ORDER + 1) as u64)
    + ITEMS as u64;

/// Tables, drop order.
const TABLES: [&str; 9] =
    ["order_line", "new_order", "orders", "history", "customer", "district", "stock", "item", "warehouse"];

/// The tables with their primary keys.
const CREATE: &str = "
CREATE TABLE warehouse (w_id integer PRIMARY KEY, w_name varchar(10), w_street_1 varchar(20), w_street_2 varchar(20),
  w_city varchar(20), w_state char(2), w_zip char(9), w_tax numeric(4,4), w_ytd numeric(12,2));
CREATE TABLE district (d_id integer, d_w_id integer, d_name varchar(10), d_street_1 varchar(20), d_street_2 varchar(20),
  d_city varchar(20), d_state char(2), d_zip char(9), d_tax numeric(4,4), d_ytd numeric(12,2), d_next_o_id integer,
  PRIMARY KEY (d_w_id, d_id));
CREATE TABLE customer (c_id integer, c_d_id integer, c_w_id integer, c_first varchar(16), c_middle char(2),
  c_last varchar(16), c_street_1 varchar(20), c_street_2 varchar(20), c_city varchar(20), c_state char(2), c_zip char(9),
  c_phone char(16), c_since timestamp, c_credit char(2), c_credit_lim numeric(12,2), c_discount numeric(4,4),
  c_balance numeric(12,2), c_ytd_payment numeric(12,2), c_payment_cnt integer, c_delivery_cnt integer,
  c_data varchar(500), PRIMARY KEY (c_w_id, c_d_id, c_id));
CREATE TABLE history (h_c_id integer, h_c_d_id integer, h_c_w_id integer, h_d_id integer, h_w_id integer,
  h_date timestamp, h_amount numeric(6,2), h_data varchar(24));
CREATE TABLE new_order (no_o_id integer, no_d_id integer, no_w_id integer, PRIMARY KEY (no_w_id, no_d_id, no_o_id));
CREATE TABLE orders (o_id integer, o_d_id integer, o_w_id integer, o_c_id integer, o_entry_d timestamp,
  o_carrier_id integer, o_ol_cnt integer, o_all_local integer, PRIMARY KEY (o_w_id, o_d_id, o_id));
CREATE TABLE order_line (ol_o_id integer, ol_d_id integer, ol_w_id integer, ol_number integer, ol_i_id integer,
  ol_supply_w_id integer, ol_delivery_d timestamp, ol_quantity integer, ol_amount numeric(6,2), ol_dist_info char(24),
  PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number));
CREATE TABLE item (i_id integer PRIMARY KEY, i_im_id integer, i_name varchar(24), i_price numeric(5,2),
  i_data varchar(50));
CREATE TABLE stock (s_i_id integer, s_w_id integer, s_quantity integer, s_dist_01 char(24), s_dist_02 char(24),
  s_dist_03 char(24), s_dist_04 char(24), s_dist_05 char(24), s_dist_06 char(24), s_dist_07 char(24),
  s_dist_08 char(24), s_dist_09 char(24), s_dist_10 char(24), s_ytd integer, s_order_cnt integer,
  s_remote_cnt integer, s_data varchar(50), PRIMARY KEY (s_w_id, s_i_id));
";

/// Secondary indexes, built after the load: customers by last name (Payment,
/// Order-Status) and orders by customer (Order-Status).
const INDEXES: &str = "
CREATE INDEX customer_last_name ON customer (c_w_id, c_d_id, c_last, c_first);
CREATE INDEX orders_customer ON orders (o_w_id, o_d_id, o_c_id, o_id);
";

/// Drops old TPC-C tables and creates empty ones.
pub fn create_schema(conn: &mut dyn SqlConnection) -> Result<()> {
    for table in TABLES {
        conn.batch(&format!("DROP TABLE IF EXISTS {table}"))?;
    }
    conn.batch(CREATE).context("creating the TPC-C tables")
}

/// Builds the secondary indexes and refreshes planner statistics.
pub fn create_indexes(conn: &mut dyn SqlConnection) -> Result<()> {
    conn.batch(INDEXES).context("creating the TPC-C indexes")?;
    conn.batch("ANALYZE").context("analyzing the TPC-C tables")
}

/// Rows per multi-row INSERT.
const BATCH_ROWS: usize = 500;

/// Accumulates rows of one table and sends them as multi-row INSERTs.
struct Inserter<'c> {
    conn: &'c mut dyn SqlConnection,
    table: &'static str,
    sql: String,
    rows: usize,
    bar: &'c ProgressBar,
}

impl<'c> Inserter<'c> {
    fn new(conn: &'c mut dyn SqlConnection, table: &'static str, bar: &'c ProgressBar) -> Inserter<'c> {
        Inserter { conn, table, sql: String::new(), rows: 0, bar }
    }

    /// Adds one row, given as its SQL literals separated by commas.
    fn row(&mut self, values: std::fmt::Arguments<'_>) -> Result<()> {
        if self.rows == 0 {
            let _ = write!(self.sql, "INSERT INTO {} VALUES ", self.table);
        } else {
            self.sql.push(',');
        }
        let _ = write!(self.sql, "({values})");
        self.rows += 1;
        if self.rows == BATCH_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows > 0 {
            self.conn.batch(&self.sql).with_context(|| format!("loading {}", self.table))?;
            self.bar.inc(self.rows as u64);
            self.sql.clear();
            self.rows = 0;
        }
        Ok(())
    }
}

/// Loads the item catalogue.
pub fn load_items(conn: &mut dyn SqlConnection, seed: u64, bar: &ProgressBar) -> Result<()> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut items = Inserter::new(conn, "item", bar);
    for i_id in 1..=ITEMS {
        let (im, name, price, data) = (
            rng.random_range(1..=10_000),
            random::astring(&mut rng, 14, 24),
            random::cents(&mut rng, 100, 10_000),
            random::data_with_original(&mut rng),
        );
        items.row(format_args!("{i_id},{im},'{name}',{price},'{data}'"))?;
    }
    items.flush()
}

/// Loads warehouse `w`: the warehouse, its stock, districts, customers,
/// history, orders, order lines and new orders.
pub fn load_warehouse(
    conn: &mut dyn SqlConnection,
    w: i64,
    constants: &Constants,
    seed: u64,
    bar: &ProgressBar,
) -> Result<()> {
    let mut rng = SmallRng::seed_from_u64(seed ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let rng = &mut rng;
    {
        let mut warehouse = Inserter::new(conn, "warehouse", bar);
        let address = address(rng);
        let tax = rng.random_range(0..=2000);
        warehouse.row(format_args!("{w},'{}',{address},0.{tax:04},300000.00", random::astring(rng, 6, 10)))?;
        warehouse.flush()?;
    }
    {
        let mut stock = Inserter::new(conn, "stock", bar);
        for i_id in 1..=ITEMS {
            let mut dists = String::new();
            for _ in 0..10 {
                let _ = write!(dists, "'{}',", random::astring(rng, 24, 24));
            }
            let (quantity, data) = (rng.random_range(10..=100), random::data_with_original(rng));
            stock.row(format_args!("{i_id},{w},{quantity},{dists}0,0,0,'{data}'"))?;
        }
        stock.flush()?;
    }
    for d in 1..=DISTRICTS {
        {
            let mut district = Inserter::new(conn, "district", bar);
            let address = address(rng);
            let tax = rng.random_range(0..=2000);
            district.row(format_args!(
                "{d},{w},'{}',{address},0.{tax:04},30000.00,{}",
                random::astring(rng, 6, 10),
                ORDERS + 1
            ))?;
            district.flush()?;
        }
        load_customers(conn, w, d, constants, rng, bar)?;
        load_orders(conn, w, d, rng, bar)?;
    }
    Ok(())
}

/// `street_1, street_2, city, state, zip` as SQL literals.
fn address(rng: &mut SmallRng) -> String {
    format!(
        "'{}','{}','{}','{}','{}'",
        random::astring(rng, 10, 20),
        random::astring(rng, 10, 20),
        random::astring(rng, 10, 20),
        random::state(rng),
        random::zip(rng)
    )
}

fn load_customers(
    conn: &mut dyn SqlConnection,
    w: i64,
    d: i64,
    constants: &Constants,
    rng: &mut SmallRng,
    bar: &ProgressBar,
) -> Result<()> {
    let mut customers = Inserter::new(conn, "customer", bar);
    for c in 1..=CUSTOMERS {
        // The first thousand customers take every last name once; the rest
        // draw theirs with NURand.
        let last = if c <= 1000 { random::last_name(c - 1) } else { random::random_last_name(rng, constants) };
        let credit = if rng.random_ratio(1, 10) { "BC" } else { "GC" };
        let discount = rng.random_range(0..=5000);
        customers.row(format_args!(
            "{c},{d},{w},'{}','OE','{last}',{},'{}',CURRENT_TIMESTAMP,'{credit}',50000.00,0.{discount:04},\
             -10.00,10.00,1,0,'{}'",
            random::astring(rng, 8, 16),
            address(rng),
            random::nstring(rng, 16, 16),
            random::astring(rng, 300, 500)
        ))?;
    }
    customers.flush()?;
    drop(customers);
    let mut history = Inserter::new(conn, "history", bar);
    for c in 1..=CUSTOMERS {
        history.row(format_args!("{c},{d},{w},{d},{w},CURRENT_TIMESTAMP,10.00,'{}'", random::astring(rng, 12, 24)))?;
    }
    history.flush()
}

fn load_orders(conn: &mut dyn SqlConnection, w: i64, d: i64, rng: &mut SmallRng, bar: &ProgressBar) -> Result<()> {
    // o_c_id is a random permutation of the customers.
    let mut customers: Vec<i64> = (1..=CUSTOMERS).collect();
    customers.shuffle(rng);
    let mut line_counts = Vec::with_capacity(ORDERS as usize);
    {
        let mut orders = Inserter::new(conn, "orders", bar);
        for o in 1..=ORDERS {
            let lines = rng.random_range(5..=15i64);
            line_counts.push(lines);
            let carrier = if o < FIRST_NEW_ORDER { rng.random_range(1..=10).to_string() } else { "NULL".to_owned() };
            let c = customers[(o - 1) as usize];
            orders.row(format_args!("{o},{d},{w},{c},CURRENT_TIMESTAMP,{carrier},{lines},1"))?;
        }
        orders.flush()?;
    }
    {
        let mut order_lines = Inserter::new(conn, "order_line", bar);
        for (o, lines) in (1..=ORDERS).zip(&line_counts) {
            for number in 1..=*lines {
                let item = rng.random_range(1..=ITEMS);
                let (delivered, amount) = if o < FIRST_NEW_ORDER {
                    ("CURRENT_TIMESTAMP", "0.00".to_owned())
                } else {
                    ("NULL", random::cents(rng, 1, 999_999).to_string())
                };
                order_lines.row(format_args!(
                    "{o},{d},{w},{number},{item},{w},{delivered},5,{amount},'{}'",
                    random::astring(rng, 24, 24)
                ))?;
            }
        }
        order_lines.flush()?;
    }
    let mut new_orders = Inserter::new(conn, "new_order", bar);
    for o in FIRST_NEW_ORDER..=ORDERS {
        new_orders.row(format_args!("{o},{d},{w}"))?;
    }
    new_orders.flush()
}
