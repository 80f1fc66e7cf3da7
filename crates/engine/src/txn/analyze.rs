//! `ANALYZE`: a transaction samples a table and publishes its statistics
//! (see `crate::stats`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{ScanRange, Table, Transaction};
use crate::error::{Error, Result};
use crate::stats::{Reservoir, Statistics, TableStatistics, column_statistics};
use crate::txn::read::RowBatch;

impl Table {
    /// What the newest `ANALYZE` of this table learned, if it ran since the
    /// database opened.
    pub fn statistics(&self) -> Option<Statistics> {
        let table = self.entry.storage.statistics.load_full()?;
        Some(Statistics { table, live: self.live.clone() })
    }
}

impl Transaction {
    /// How many times `ANALYZE` has replaced statistics (see
    /// [`crate::Database::statistics_epoch`]).
    pub fn statistics_epoch(&self) -> u64 {
        self.shared.statistics_epoch.load(Ordering::Acquire)
    }

    /// Reads `table` as this transaction sees it, samples its rows and
    /// replaces its statistics for `columns` (logical positions; `None`:
    /// all), keeping earlier statistics of the other columns. Returns the
    /// number of live rows found.
    pub fn analyze(&mut self, table: &Table, columns: Option<&[usize]>) -> Result<u64> {
        let width = table.live.len();
        if let Some(bad) = columns.and_then(|c| c.iter().find(|c| **c >= width)) {
            return Err(Error::InvalidParameter(format!("column {bad} of \"{}\" does not exist", table.name())));
        }
        let mut cursor = self.open_scan(table, ScanRange::Full, false)?;
        let mut sample = Reservoir::new(u64::from(table.id()) ^ self.read_ts());
        let mut batch = RowBatch::new();
        while self.fetch_batch(&mut cursor, &mut batch)? {
            for (_, row) in batch.iter() {
                if let Some(slot) = sample.wants_next() {
                    sample.offer(slot, row.to_vec());
                }
            }
        }
        let total = sample.seen();
        let rows = sample.into_rows();
        let storage = &table.entry.storage;
        let previous = storage.statistics.load_full();
        let schema = table.schema();
        let mut by_physical: Vec<Option<_>> = match &previous {
            Some(p) => p.columns.clone(),
            None => Vec::new(),
        };
        by_physical.resize(schema.columns.len(), None);
        for (logical, &physical) in table.live.iter().enumerate() {
            if columns.is_some_and(|c| !c.contains(&logical)) {
                continue;
            }
            let Some(column) = schema.columns.get(physical) else { continue };
            by_physical[physical] = Some(column_statistics(&rows, logical, &column.data_type, total as f64));
        }
        storage.statistics.store(Some(Arc::new(TableStatistics { rows: total as f64, columns: by_physical })));
        self.shared.statistics_epoch.fetch_add(1, Ordering::AcqRel);
        Ok(total)
    }
}
