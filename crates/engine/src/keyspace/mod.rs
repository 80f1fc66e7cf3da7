//! The key-value keyspace: string and list values with per-key TTL, in the
//! same transactions and commit log as the tables.
//!
//! # Layout
//!
//! Keys hash (foldhash, seeded per process) into 256 shards, each a mutex
//! around an open-addressing table of boxed `Entry`s plus a
//! min-heap of `(expiry time, hash)` for the keys that have a TTL. A shard
//! lock is held only for one key's read or change.
//!
//! # Transactions
//!
//! Every change runs under the database's commit lock, as a *batch* with
//! one commit timestamp `ts` (`Batch`): a single command, a MULTI/EXEC
//! block, an expiry sweep, or a replayed record. Each change is applied to
//! the entry in place, stamped `ts`, with an undo record; then the batch's
//! ops go to the commit log as one record, then `ts` is published. A reader
//! reads the newest timestamp and sees an entry stamped later (a batch in
//! flight) through its undo records, so it never sees half a batch; a
//! failed log write rolls the batch back through the same records.
//!
//! Undo records are dropped right after the publish when no snapshot is
//! registered (the common case), and otherwise by the garbage collector once
//! the oldest snapshot passes the batch (`collect`). Lock order is commit
//! lock, then one shard lock at a time.
//!
//! # Expiry
//!
//! Readers treat a key whose expiry time has passed as absent. Writers that
//! meet one log its deletion first, and the sweeper (`Database` runs it
//! every `cleanup_interval`) pops due keys from the shards' heaps and
//! deletes them through the log, so memory comes back without scanning the
//! keyspace and replay stays deterministic.

pub mod command;
pub(crate) mod entry;
mod glob;
mod list;
pub mod ops;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::atomic::AtomicU64;

use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};

use crate::error::Result;
use crate::mvcc::Timestamp;

pub use command::{Eviction, KvCommand, KvInfo, KvReply, SetCondition, SetExpiry};
pub(crate) use entry::Entry;
pub use entry::{KvKind, Meta};
pub use glob::glob_match;
pub use ops::KvOp;

/// Number of shards (a power of two).
pub(crate) const SHARDS: usize = 256;
/// Tables and heaps at most this big are never shrunk (not worth a rehash).
const MIN_SHRINK_CAPACITY: usize = 256;

/// One shard: its keys and the expiry heap.
#[derive(Default)]
pub(crate) struct Shard {
    table: HashTable<Box<Entry>>,
    /// `(expiry time, hash)` of keys given a TTL; stale pairs (TTL changed,
    /// key gone) are skipped when popped and dropped when the heap grows
    /// past twice the keys with a TTL.
    expiry: BinaryHeap<Reverse<(u64, u64)>>,
    /// Commit timestamp of the last removal of a key (for WATCH).
    removed_at: Timestamp,
    /// Present keys, and present keys with a TTL.
    live: usize,
    volatile: usize,
}

impl Shard {
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.table.find(hash, |e| e.key() == key).map(|b| &**b)
    }

    pub fn find_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.table.find_mut(hash, |e| e.key() == key).map(|b| &mut **b)
    }

    /// Applies a single-key op, keeping the counts and the heap right.
    fn apply(&mut self, hasher: &Hasher, hash: u64, op: &KvOp, key: &[u8], ts: Timestamp) -> Result<()> {
        let entry = match self.table.find_mut(hash, |e| e.key() == key) {
            Some(e) => e,
            None => self.table.insert_unique(hash, Box::new(Entry::new(key)), |e| hasher.hash_one(e.key())).into_mut(),
        };
        let (was_live, old_expiry) = (!entry.is_absent(), entry.expires_at());
        let applied = ops::apply_to_entry(entry, op, ts);
        let (live, expiry) = (!entry.is_absent(), entry.expires_at());
        let dead = !live && !entry.has_undo();
        if dead {
            self.remove(hash, key);
            self.shrink_if_sparse(hasher);
        }
        applied?;
        self.account(hash, was_live, old_expiry, live, expiry, ts);
        Ok(())
    }

    /// Updates counts and the heap after a key went from one state to another.
    fn account(&mut self, hash: u64, was_live: bool, old_expiry: u64, live: bool, expiry: u64, ts: Timestamp) {
        let volatile = |live: bool, exp: u64| live && exp != 0;
        self.live = self.live + usize::from(live) - usize::from(was_live);
        self.volatile =
            self.volatile + usize::from(volatile(live, expiry)) - usize::from(volatile(was_live, old_expiry));
        if live && expiry != 0 && expiry != old_expiry {
            self.expiry.push(Reverse((expiry, hash)));
        }
        if was_live && !live {
            self.removed_at = ts;
        }
    }

    /// Removes an entry from the table.
    fn remove(&mut self, hash: u64, key: &[u8]) {
        if let Ok(found) = self.table.find_entry(hash, |e| e.key() == key) {
            found.remove();
        }
    }

    /// Gives memory back once most keys are gone (after a mass expiry or
    /// delete): a table under a quarter full is rehashed to half full, and
    /// an expiry heap with far more room than pairs is cut down. Growth
    /// happens at 7/8 full, so a shard cannot flip between the two.
    fn shrink_if_sparse(&mut self, hasher: &Hasher) {
        let (len, capacity) = (self.table.len(), self.table.capacity());
        if capacity > MIN_SHRINK_CAPACITY && len < capacity / 4 {
            self.table.shrink_to(len * 2, |e| hasher.hash_one(e.key()));
        }
        let heap = self.expiry.len();
        if self.expiry.capacity() > MIN_SHRINK_CAPACITY && heap < self.expiry.capacity() / 4 {
            self.expiry.shrink_to(heap * 2);
        }
    }

    /// Rolls the newest change of a key back (a failed batch).
    fn roll_back(&mut self, hash: u64, key: &[u8]) {
        let Some(entry) = self.find_mut(hash, key) else { return };
        let (was_live, old_expiry) = (!entry.is_absent(), entry.expires_at());
        entry.roll_back_one();
        let (live, expiry, dead) = (!entry.is_absent(), entry.expires_at(), entry.is_absent() && !entry.has_undo());
        if dead {
            self.remove(hash, key);
        }
        let removed_at = self.removed_at;
        self.account(hash, was_live, old_expiry, live, expiry, 0);
        self.removed_at = removed_at;
    }

    /// Drops a key's undo records no snapshot at or after `watermark`
    /// needs; a tombstone left without any goes.
    fn trim(&mut self, hasher: &Hasher, hash: u64, key: &[u8], watermark: Timestamp) {
        let Some(entry) = self.find_mut(hash, key) else { return };
        entry.trim_undo(watermark);
        if entry.is_absent() && !entry.has_undo() {
            self.remove(hash, key);
            self.shrink_if_sparse(hasher);
        }
    }

    /// Every entry (multi-key reads).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter().map(|b| &**b)
    }
}

/// The keyspace's hasher.
pub(crate) type Hasher = foldhash::fast::RandomState;

/// Counters the keyspace keeps for INFO and metrics.
#[derive(Default)]
pub(crate) struct Counters {
    pub expired: AtomicU64,
    pub evicted: AtomicU64,
}

/// A key whose undo records outlived their batch: the batch's timestamp,
/// the key's hash, the key.
type Garbage = (Timestamp, u64, Box<[u8]>);

/// The key-value keyspace of one database.
pub(crate) struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    hasher: Hasher,
    /// Keys whose undo records outlived their batch, for the collector.
    garbage: Mutex<Vec<Garbage>>,
    pub counters: Counters,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: Hasher::default(),
            garbage: Mutex::new(Vec::new()),
            counters: Counters::default(),
        }
    }
}

/// Where a key lives: its hash and shard.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub hash: u64,
    pub shard: usize,
}

impl Keyspace {
    pub fn slot(&self, key: &[u8]) -> Slot {
        let hash = self.hasher.hash_one(key);
        // Bits the table itself does not use for buckets (low) or tags (top 7).
        Slot { hash, shard: (hash >> 40) as usize & (SHARDS - 1) }
    }

    pub fn shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        self.shards[index % SHARDS].lock()
    }

    /// Number of present keys (tombstones excluded).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().live).sum()
    }

    /// Number of present keys with a TTL.
    pub fn volatile(&self) -> usize {
        self.shards.iter().map(|s| s.lock().volatile).sum()
    }

    /// Drops undo records no snapshot at or after `watermark` needs.
    pub fn collect(&self, watermark: Timestamp) -> usize {
        let due: Vec<Garbage> = {
            let mut garbage = self.garbage.lock();
            if garbage.is_empty() {
                return 0;
            }
            let (due, keep): (Vec<_>, Vec<_>) = garbage.drain(..).partition(|(ts, _, _)| *ts <= watermark);
            *garbage = keep;
            due
        };
        for (_, hash, key) in &due {
            let slot = Slot { hash: *hash, shard: (*hash >> 40) as usize & (SHARDS - 1) };
            self.shard(slot.shard).trim(&self.hasher, *hash, key, watermark);
        }
        due.len()
    }

    /// Keys whose TTL passed by `now`, at most `limit`, popped from the
    /// heaps (the caller deletes them through the log).
    pub fn due(&self, now: u64, read_ts: Timestamp, limit: usize) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            while keys.len() < limit {
                let Some(&Reverse((at, hash))) = shard.expiry.peek() else { break };
                if at > now {
                    break;
                }
                shard.expiry.pop();
                if let Some(entry) = self.expiring(&shard, at, hash)
                    && entry.stamp() <= read_ts
                {
                    keys.push(entry.key().to_vec());
                }
            }
            if shard.expiry.len() > 2 * shard.volatile + 1024 {
                self.rebuild_heap(&mut shard);
            }
            if keys.len() >= limit {
                break;
            }
        }
        keys
    }

    /// The present key with this hash whose expiry time is `at`, if any
    /// (the table's hash iteration also yields other hashes).
    fn expiring<'s>(&self, shard: &'s Shard, at: u64, hash: u64) -> Option<&'s Entry> {
        shard
            .table
            .iter_hash(hash)
            .map(|b| &**b)
            .find(|e| !e.is_absent() && e.expires_at() == at && self.hasher.hash_one(e.key()) == hash)
    }

    /// Drops stale and duplicate pairs from a shard's expiry heap. Every key
    /// with a TTL has a pair (one is pushed whenever its expiry changes), so
    /// keeping the pairs that still match a key loses none.
    fn rebuild_heap(&self, shard: &mut Shard) {
        let mut pairs = std::mem::take(&mut shard.expiry).into_vec();
        pairs.sort_unstable();
        pairs.dedup();
        pairs.retain(|Reverse((at, hash))| self.expiring(shard, *at, *hash).is_some());
        shard.expiry = BinaryHeap::from(pairs);
    }

    /// Up to `limit` keys with the nearest expiry times, without removing
    /// them from the heaps (volatile-ttl eviction); stale heap tops are
    /// dropped on the way.
    pub fn soonest_expiring(&self, limit: usize) -> Vec<(u64, Vec<u8>)> {
        let mut found = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            while let Some(&Reverse((at, hash))) = shard.expiry.peek() {
                if let Some(entry) = self.expiring(&shard, at, hash) {
                    found.push((at, entry.key().to_vec()));
                    break;
                }
                shard.expiry.pop();
            }
        }
        found.sort();
        found.truncate(limit);
        found
    }

    /// `count` keys sampled from a shard, with their last access (LRU
    /// eviction, RANDOMKEY).
    pub fn sample(
        &self,
        shard: usize,
        start: usize,
        count: usize,
        keep: impl Fn(&Entry) -> bool,
    ) -> Vec<(u16, Vec<u8>)> {
        let shard = self.shard(shard);
        let n = shard.table.len();
        if n == 0 {
            return Vec::new();
        }
        // Each entry once: from `start` to the end, then from the beginning.
        shard
            .table
            .iter()
            .skip(start % n)
            .chain(shard.table.iter().take(start % n))
            .filter(|e| !e.is_absent() && keep(e))
            .take(count)
            .map(|e| (e.access(), e.key().to_vec()))
            .collect()
    }

    /// Every key present as of `read_ts` (for FLUSH, checkpoints).
    pub fn all_keys(&self, read_ts: Timestamp) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            keys.extend(shard.entries().filter(|e| e.state_at(read_ts).view().is_some()).map(|e| e.key().to_vec()));
        }
        keys
    }

    /// Installs a key's state stamped `ts`, without undo (checkpoint load).
    pub fn restore(&self, key: &[u8], state: entry::State, ts: Timestamp) {
        let slot = self.slot(key);
        let mut shard = self.shard(slot.shard);
        let hasher = &self.hasher;
        let entry = match shard.table.find_mut(slot.hash, |e| e.key() == key) {
            Some(e) => e,
            None => {
                shard.table.insert_unique(slot.hash, Box::new(Entry::new(key)), |e| hasher.hash_one(e.key())).into_mut()
            }
        };
        let (was_live, old_expiry) = (!entry.is_absent(), entry.expires_at());
        let expiry = state.meta.expires_at;
        entry.put_state(state);
        entry.set_stamp(ts);
        shard.account(slot.hash, was_live, old_expiry, true, expiry, ts);
    }

    fn queue_garbage(&self, ts: Timestamp, keys: impl Iterator<Item = (u64, Box<[u8]>)>) {
        let mut garbage = self.garbage.lock();
        garbage.extend(keys.map(|(hash, key)| (ts, hash, key)));
    }

    /// Commit timestamp of the last change that could matter to a WATCH
    /// of `key`: its entry's stamp, or, when absent, the shard's last
    /// removal (conservative).
    pub fn watch_stamp(&self, key: &[u8]) -> Timestamp {
        let slot = self.slot(key);
        let shard = self.shard(slot.shard);
        match shard.find(slot.hash, key) {
            Some(entry) => entry.stamp().max(if entry.is_absent() { shard.removed_at } else { 0 }),
            None => shard.removed_at,
        }
    }
}

/// One batch of changes under the commit lock (see the module docs).
pub(crate) struct Batch<'a> {
    keyspace: &'a Keyspace,
    pub ts: Timestamp,
    /// The ops applied, in order, for the commit record.
    pub ops: Vec<KvOp>,
    /// Entries changed, in order (one per undo record pushed).
    touched: Vec<(u64, Box<[u8]>)>,
    /// Keys that got elements pushed (to wake blocked pops).
    pub pushed: Vec<Vec<u8>>,
    /// The batch's time (ms), against which `apply` deletes an expired key
    /// before changing it; 0: no such check (replay, sweeps).
    now: u64,
}

impl<'a> Batch<'a> {
    pub fn new(keyspace: &'a Keyspace, ts: Timestamp) -> Batch<'a> {
        Batch { keyspace, ts, ops: Vec::new(), touched: Vec::new(), pushed: Vec::new(), now: 0 }
    }

    /// A batch whose writes treat keys expired at `now` as absent: such a
    /// key's deletion is applied and logged before the write.
    pub fn at(keyspace: &'a Keyspace, ts: Timestamp, now: u64) -> Batch<'a> {
        Batch { now, ..Batch::new(keyspace, ts) }
    }

    /// Applies an op now (visible to later reads in the batch, and to
    /// readers once the batch is published) and keeps it for the log.
    pub fn apply(&mut self, op: KvOp) -> Result<()> {
        let checks_expiry = self.now != 0 && !matches!(op, KvOp::Delete { .. });
        match op.key() {
            Some(key) => {
                if let Some(delete) = self.apply_single(&op, key, checks_expiry)? {
                    self.ops.push(delete);
                }
            }
            None => self.apply_unlogged(&op)?,
        }
        self.ops.push(op);
        Ok(())
    }

    /// Applies a single-key op under one shard lock. With `checks_expiry`,
    /// a key expired at the batch's time is deleted first; the deletion is
    /// returned for the log.
    fn apply_single(&mut self, op: &KvOp, key: &[u8], checks_expiry: bool) -> Result<Option<KvOp>> {
        let ks = self.keyspace;
        let slot = ks.slot(key);
        let mut shard = ks.shard(slot.shard);
        let mut deleted = None;
        if checks_expiry && shard.find(slot.hash, key).is_some_and(|e| !e.is_absent() && e.expired(self.now)) {
            let delete = KvOp::Delete { key: key.to_vec() };
            shard.apply(&ks.hasher, slot.hash, &delete, key, self.ts)?;
            self.touched.push((slot.hash, key.into()));
            ks.counters.expired.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            deleted = Some(delete);
        }
        shard.apply(&ks.hasher, slot.hash, op, key, self.ts)?;
        drop(shard);
        self.touched.push((slot.hash, key.into()));
        if matches!(op, KvOp::Push { .. }) {
            self.pushed.push(key.to_vec());
        }
        Ok(deleted)
    }

    /// Applies an op without keeping it (replay, where the record exists).
    pub fn apply_unlogged(&mut self, op: &KvOp) -> Result<()> {
        let ks = self.keyspace;
        match op {
            KvOp::Rename { from, to } => {
                let from_slot = ks.slot(from);
                let state = {
                    let mut shard = ks.shard(from_slot.shard);
                    let Some(entry) = shard.find_mut(from_slot.hash, from).filter(|e| !e.is_absent()) else {
                        return Err(crate::Error::CorruptRecord("rename of an absent key".into()));
                    };
                    let state = entry.clone_state();
                    shard.apply(&ks.hasher, from_slot.hash, &KvOp::Delete { key: from.clone() }, from, self.ts)?;
                    state
                };
                self.touched.push((from_slot.hash, from.as_slice().into()));
                let to_slot = ks.slot(to);
                let mut shard = ks.shard(to_slot.shard);
                let entry = match shard.table.find_mut(to_slot.hash, |e| e.key() == &to[..]) {
                    Some(e) => e,
                    None => shard
                        .table
                        .insert_unique(to_slot.hash, Box::new(Entry::new(to)), |e| ks.hasher.hash_one(e.key()))
                        .into_mut(),
                };
                let (was_live, old_expiry, stamp, meta) =
                    (!entry.is_absent(), entry.expires_at(), entry.stamp(), entry.meta());
                let old = entry.take_state();
                let expiry = state.meta.expires_at;
                entry.put_state(state);
                entry.push_undo(stamp, meta, entry::UndoAction::Restore(old.value));
                entry.set_stamp(self.ts);
                shard.account(to_slot.hash, was_live, old_expiry, true, expiry, self.ts);
                self.touched.push((to_slot.hash, to.as_slice().into()));
            }
            KvOp::Flush => {
                for key in ks.all_keys(self.ts) {
                    let slot = ks.slot(&key);
                    let delete = KvOp::Delete { key };
                    if let Some(key) = delete.key() {
                        ks.shard(slot.shard).apply(&ks.hasher, slot.hash, &delete, key, self.ts)?;
                        self.touched.push((slot.hash, key.into()));
                    }
                }
            }
            single => {
                if let Some(key) = single.key() {
                    self.apply_single(single, key, false)?;
                }
            }
        }
        Ok(())
    }

    /// A point to roll back to ([`Batch::roll_back_to`]).
    pub fn mark(&self) -> (usize, usize, usize) {
        (self.touched.len(), self.ops.len(), self.pushed.len())
    }

    /// Undoes what was applied after `mark` (a command that failed midway).
    pub fn roll_back_to(&mut self, mark: (usize, usize, usize)) {
        while self.touched.len() > mark.0 {
            let Some((hash, key)) = self.touched.pop() else { break };
            let shard = (hash >> 40) as usize & (SHARDS - 1);
            self.keyspace.shard(shard).roll_back(hash, &key);
        }
        self.ops.truncate(mark.1);
        self.pushed.truncate(mark.2);
    }

    /// Undoes everything the batch applied, newest first (the log refused
    /// the record).
    pub fn roll_back(mut self) {
        for (hash, key) in self.touched.drain(..).rev() {
            let shard = (hash >> 40) as usize & (SHARDS - 1);
            self.keyspace.shard(shard).roll_back(hash, &key);
        }
    }

    /// After the batch's timestamp was published: drops the undo records at
    /// once when no snapshot is registered (`any_snapshot` read after the
    /// publish), or leaves them to the collector.
    pub fn finish(mut self, any_snapshot: bool) {
        if self.touched.is_empty() {
            return;
        }
        if any_snapshot {
            self.keyspace.queue_garbage(self.ts, self.touched.drain(..));
            return;
        }
        for (hash, key) in self.touched.drain(..) {
            let shard = (hash >> 40) as usize & (SHARDS - 1);
            self.keyspace.shard(shard).trim(&self.keyspace.hasher, hash, &key, self.ts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_capacity(ks: &Keyspace) -> usize {
        ks.shards.iter().map(|s| s.lock().table.capacity()).sum()
    }

    fn heap_capacity(ks: &Keyspace) -> usize {
        ks.shards.iter().map(|s| s.lock().expiry.capacity()).sum()
    }

    #[test]
    fn tables_and_heaps_shrink_after_most_keys_go() {
        let ks = Keyspace::default();
        let n = 200_000u64;
        let mut batch = Batch::new(&ks, 1);
        for i in 0..n {
            let key = format!("key:{i}").into_bytes();
            batch.apply(KvOp::Put { key, value: b"v".to_vec(), expires_at: 1_000 + i, at: 1 }).unwrap();
        }
        batch.finish(false);
        let (full_table, full_heap) = (table_capacity(&ks), heap_capacity(&ks));
        assert!(full_table >= n as usize && full_heap >= n as usize);
        // Everything but 1,000 keys expires and is deleted.
        let due = ks.due(1_000 + n - 1_001, 1, usize::MAX);
        assert_eq!(due.len(), (n - 1_000) as usize);
        let mut batch = Batch::new(&ks, 2);
        for key in due {
            batch.apply(KvOp::Delete { key }).unwrap();
        }
        batch.finish(false);
        assert_eq!(ks.len(), 1_000);
        let (table, heap) = (table_capacity(&ks), heap_capacity(&ks));
        // Small shards are left alone: at most MIN_SHRINK_CAPACITY each.
        let floor = SHARDS * MIN_SHRINK_CAPACITY;
        assert!(table <= floor.max(full_table / 8), "table capacity {full_table} -> {table}");
        assert!(heap <= floor.max(full_heap / 8), "heap capacity {full_heap} -> {heap}");
        // What is left is all still there.
        for i in n - 1_000..n {
            let key = format!("key:{i}").into_bytes();
            let slot = ks.slot(&key);
            assert!(ks.shard(slot.shard).find(slot.hash, &key).is_some_and(|e| !e.is_absent()));
        }
    }
}
