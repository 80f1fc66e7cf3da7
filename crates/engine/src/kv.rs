//! The embedded key-value API: [`Kv`], a handle on a database's keyspace.
//!
//! Each call is one engine transaction. A read sees the newest published
//! commit (multi-key reads one registered snapshot); a write runs as a
//! batch under the commit lock (see `keyspace` module docs) and is
//! acknowledged as the database's durability mode says, exactly like a SQL
//! commit. [`Kv::exec_batch`] runs many commands as one transaction with
//! optimistic WATCH checks: Redis's MULTI/EXEC.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::commitlog::{CommitRecord, LogOp};
use crate::database::Shared;
use crate::error::{Error, Result};
use crate::keyspace::command::{self, Access};
use crate::keyspace::entry::{Meta, ValueRef};
use crate::keyspace::{Batch, Eviction, Keyspace, KvCommand, KvOp, KvReply, SHARDS, SetCondition, SetExpiry};
use crate::mvcc::Timestamp;

/// Called with each key that got elements pushed, after the push commits
/// (servers wake blocked pops with it).
pub type PushListener = Box<dyn Fn(&[u8]) + Send + Sync>;

/// Most keys one expiry sweep or eviction round deletes in one commit.
const SWEEP_BATCH: usize = 1000;

/// Key-value settings of a database.
#[derive(Clone, Debug)]
pub struct KvConfig {
    /// TTL given to keys written without one (`None`: keys live until
    /// deleted).
    pub default_ttl: Option<Duration>,
    /// How often the sweeper deletes expired keys (`None`: only lazily and
    /// on [`Kv::sweep_expired`]).
    pub cleanup_interval: Option<Duration>,
    /// What to do when `max_memory` is reached.
    pub eviction: Eviction,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            default_ttl: None,
            cleanup_interval: Some(Duration::from_millis(100)),
            eviction: Eviction::NoEviction,
        }
    }
}

/// State of the keyspace beyond its shards.
pub(crate) struct KvState {
    pub keyspace: Keyspace,
    pub listener: OnceLock<PushListener>,
}

impl Default for KvState {
    fn default() -> Self {
        KvState { keyspace: Keyspace::default(), listener: OnceLock::new() }
    }
}

/// A handle on the keyspace. Cheap to clone.
#[derive(Clone)]
pub struct Kv {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv").finish_non_exhaustive()
    }
}

/// What a key-value transaction (MULTI/EXEC) watches: key → the newest
/// commit when WATCH ran.
pub type Watches = Vec<(Vec<u8>, Timestamp)>;

impl Kv {
    fn ks(&self) -> &Keyspace {
        &self.shared.kv.keyspace
    }

    /// The database clock's time in ms since the Unix epoch (what expiry
    /// times are measured against).
    pub fn now_ms(&self) -> u64 {
        let micros = self.shared.config.clock.now_micros() + crate::PG_EPOCH_OFFSET_MICROS;
        u64::try_from(micros / 1000).unwrap_or(0)
    }

    /// The coarse LRU clock (seconds, wrapping at 2^16) at `now_ms`.
    fn lru_at(now_ms: u64) -> u16 {
        (now_ms / 1000) as u16
    }

    fn lru_now(&self) -> u16 {
        Self::lru_at(self.now_ms())
    }

    /// Runs one command as its own transaction.
    pub fn exec(&self, cmd: KvCommand) -> Result<KvReply> {
        if !cmd.is_write() {
            return self.read(cmd);
        }
        let mut replies = self.commit(vec![cmd], &[])?.unwrap_or_default();
        replies.pop().unwrap_or_else(|| Err(Error::Internal("a batch of one command gave no reply".into())))
    }

    /// Runs commands as one transaction (MULTI/EXEC): all or, if a watched
    /// key changed after its WATCH, none (`Ok(None)`). A command that fails
    /// (wrong type, bad integer) gets its error and changes nothing; the
    /// others still run, as in Redis.
    pub fn exec_batch(
        &self,
        cmds: Vec<KvCommand>,
        watches: &[(Vec<u8>, Timestamp)],
    ) -> Result<Option<Vec<Result<KvReply>>>> {
        self.commit(cmds, watches)
    }

    /// The stamp to WATCH a key with: the newest commit now.
    pub fn watch_point(&self) -> Timestamp {
        self.shared.newest.load(Ordering::Acquire)
    }

    /// Registers the function told about pushes (once; later calls fail).
    pub fn set_push_listener(&self, listener: PushListener) -> Result<()> {
        self.shared.kv.listener.set(listener).map_err(|_| Error::InvalidParameter("push listener already set".into()))
    }

    /// Runs read-only commands (a pipelined group) at one reading of the
    /// clock, each as [`Kv::exec`] would; a write among them runs as its
    /// own transaction.
    pub fn exec_reads(&self, cmds: Vec<KvCommand>) -> Vec<Result<KvReply>> {
        let now = self.now_ms();
        cmds.into_iter().map(|cmd| if cmd.is_write() { self.exec(cmd) } else { self.read_at(cmd, now) }).collect()
    }

    fn read(&self, cmd: KvCommand) -> Result<KvReply> {
        self.read_at(cmd, self.now_ms())
    }

    /// A read-only command with expiry judged at `now` (ms).
    fn read_at(&self, cmd: KvCommand, now: u64) -> Result<KvReply> {
        let multi = matches!(
            cmd,
            KvCommand::MGet { .. }
                | KvCommand::Exists { .. }
                | KvCommand::Keys { .. }
                | KvCommand::Scan { .. }
                | KvCommand::List { .. }
                | KvCommand::DbSize
        );
        if multi {
            // One registered snapshot for all the keys.
            let txn =
                crate::txn::Transaction::begin(self.shared.clone(), crate::txn::TxnOptions::default())?.uncounted();
            let mut access = ReadAccess { kv: self, read_ts: Some(txn.read_ts()), now, lru: Self::lru_at(now) };
            let reply = command::run(&mut access, cmd);
            drop(txn);
            return reply;
        }
        let mut access = ReadAccess { kv: self, read_ts: None, now, lru: Self::lru_at(now) };
        command::run(&mut access, cmd)
    }

    fn commit(&self, cmds: Vec<KvCommand>, watches: &[(Vec<u8>, Timestamp)]) -> Result<Option<Vec<Result<KvReply>>>> {
        if cmds.iter().any(KvCommand::adds_data) {
            self.make_room()?;
        }
        let shared = &self.shared;
        let lock = shared.commit_lock.lock();
        if watches.iter().any(|(key, at)| self.ks().watch_stamp(key) > *at) {
            shared.aborts.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        let ts = shared.newest.load(Ordering::Acquire) + 1;
        let now = self.now_ms();
        let mut access = WriteAccess {
            kv: self,
            batch: Batch::at(self.ks(), ts, now),
            now,
            lru: Self::lru_at(now),
            default_ttl: shared.kv_config.default_ttl.map_or(0, |d| d.as_millis() as u64),
        };
        let mut replies = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            let mark = access.batch.mark();
            let reply = command::run(&mut access, cmd);
            if reply.is_err() {
                access.batch.roll_back_to(mark);
            }
            replies.push(reply);
        }
        let batch = access.batch;
        if batch.ops.is_empty() {
            drop(lock);
            return Ok(Some(replies));
        }
        self.publish(batch, lock)?;
        Ok(Some(replies))
    }

    /// Ends a batch that applied changes: hands its ops to the commit log
    /// (rolling everything back if the log refuses), publishes its
    /// timestamp, counts the commit (or the abort), releases the commit
    /// lock, drops or queues its undo records, wakes blocked pops, and waits
    /// for durability as the mode says.
    fn publish(&self, mut batch: Batch<'_>, lock: parking_lot::MutexGuard<'_, ()>) -> Result<()> {
        let shared = &self.shared;
        let position = if shared.config.commit_log.wants_records() {
            let ops = std::mem::take(&mut batch.ops).into_iter().map(LogOp::Kv).collect();
            match shared.config.commit_log.append(CommitRecord { ts: batch.ts, ops }) {
                Ok(p) => Some(p),
                Err(e) => {
                    batch.roll_back();
                    shared.aborts.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            }
        } else {
            None
        };
        shared.newest.store(batch.ts, Ordering::Release);
        shared.commits.fetch_add(1, Ordering::Relaxed);
        drop(lock);
        let pushed = std::mem::take(&mut batch.pushed);
        batch.finish(shared.active.any());
        if let Some(listener) = shared.kv.listener.get() {
            pushed.iter().for_each(|k| listener(k));
        }
        if let Some(position) = position {
            shared.config.commit_log.wait_durable(position)?;
        }
        Ok(())
    }

    /// Deletes keys whose TTL passed (through the log, in batches); returns
    /// how many. The sweeper thread calls it every `cleanup_interval`.
    pub fn sweep_expired(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.delete_batch(|ks, now, newest| ks.due(now, newest, SWEEP_BATCH))?;
            total += n;
            self.ks().counters.expired.fetch_add(n as u64, Ordering::Relaxed);
            if n < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }

    /// Deletes the keys `pick` names, in one commit, under the commit lock.
    fn delete_batch(&self, pick: impl FnOnce(&Keyspace, u64, Timestamp) -> Vec<Vec<u8>>) -> Result<usize> {
        let shared = &self.shared;
        let lock = shared.commit_lock.lock();
        let newest = shared.newest.load(Ordering::Acquire);
        let keys = pick(self.ks(), self.now_ms(), newest);
        if keys.is_empty() {
            return Ok(0);
        }
        let mut batch = Batch::new(self.ks(), newest + 1);
        for key in keys {
            if let Err(e) = batch.apply(KvOp::Delete { key }) {
                batch.roll_back();
                return Err(e);
            }
        }
        let n = batch.ops.len();
        self.publish(batch, lock)?;
        Ok(n)
    }

    /// Before a write that adds data over `max_memory`: fails
    /// (`noeviction`) or evicts keys by the configured policy until the
    /// estimate is under the limit.
    fn make_room(&self) -> Result<()> {
        let shared = &self.shared;
        if !shared.memory_exceeded.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(max) = shared.config.max_memory else { return Ok(()) };
        let policy = shared.kv_config.eviction;
        if policy == Eviction::NoEviction {
            return shared.check_memory();
        }
        for _ in 0..64 {
            let used = shared.memory_used.load(Ordering::Relaxed);
            if used <= max {
                shared.memory_exceeded.store(false, Ordering::Relaxed);
                return Ok(());
            }
            let victims = self.victims(policy);
            if victims.is_empty() {
                break;
            }
            let freed: u64 = victims.iter().map(|(_, bytes)| *bytes as u64).sum();
            let n = self.delete_batch(|_, _, _| victims.into_iter().map(|(k, _)| k).collect())?;
            self.ks().counters.evicted.fetch_add(n as u64, Ordering::Relaxed);
            // The resident set shrinks lazily; count what was freed until
            // the collector measures again.
            shared.memory_used.store(used.saturating_sub(freed), Ordering::Relaxed);
        }
        shared.check_memory()
    }

    /// Keys to evict next, with their approximate size.
    fn victims(&self, policy: Eviction) -> Vec<(Vec<u8>, usize)> {
        let ks = self.ks();
        let keys: Vec<Vec<u8>> = match policy {
            Eviction::NoEviction => Vec::new(),
            Eviction::VolatileTtl => ks.soonest_expiring(16).into_iter().map(|(_, k)| k).collect(),
            Eviction::AllKeysLru => {
                // Redis's approximation: sample a few keys, evict the
                // least recently used of them.
                let seed = self.now_ms() as usize ^ self.lru_now() as usize;
                let now = self.lru_now();
                // Up to eight non-empty shards: with few keys most shards
                // are empty, and sampling only empty ones would evict
                // nothing while keys remain. The stride 97 is odd, so the
                // walk reaches every shard.
                let mut sampled: Vec<(u16, Vec<u8>)> = Vec::new();
                let mut shards_sampled = 0;
                for i in 0..SHARDS {
                    if shards_sampled == 8 {
                        break;
                    }
                    let shard = seed.wrapping_mul(31).wrapping_add(i * 97) % SHARDS;
                    let keys = ks.sample(shard, seed.wrapping_add(i * 7919), 4, |_| true);
                    if !keys.is_empty() {
                        shards_sampled += 1;
                        sampled.extend(keys);
                    }
                }
                // Longest idle first; the clock wraps, so idle time is a
                // wrapping difference (as Redis's 24-bit LRU clock).
                sampled.sort_by_key(|(access, _)| std::cmp::Reverse(now.wrapping_sub(*access)));
                sampled.into_iter().take(8).map(|(_, k)| k).collect()
            }
        };
        keys.into_iter()
            .map(|k| {
                let slot = ks.slot(&k);
                let bytes = ks.shard(slot.shard).find(slot.hash, &k).map_or(0, |e| e.heap_bytes());
                (k, bytes + 32)
            })
            .collect()
    }

    /// Whether memory use is past `max_memory` (writes that add data fail
    /// or evict).
    pub fn over_memory_limit(&self) -> bool {
        self.shared.memory_exceeded.load(Ordering::Relaxed)
    }

    /// Keys present now.
    pub fn len(&self) -> usize {
        self.ks().len()
    }

    /// Whether the keyspace is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys present now that have a TTL.
    pub fn volatile_len(&self) -> usize {
        self.ks().volatile()
    }

    /// Keys deleted because their TTL passed, and keys evicted, since start.
    pub fn expired_and_evicted(&self) -> (u64, u64) {
        let c = &self.ks().counters;
        (c.expired.load(Ordering::Relaxed), c.evicted.load(Ordering::Relaxed))
    }

    /// The string at `key` (`None`: absent or expired).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.exec(KvCommand::Get { key: key.to_vec() })? {
            KvReply::Bytes(v) => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    /// Sets a string, with an optional TTL.
    pub fn set(&self, key: &[u8], value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let expiry = match ttl {
            Some(ttl) => SetExpiry::At(self.now_ms().saturating_add(ttl.as_millis() as u64)),
            None => SetExpiry::Clear,
        };
        let cmd = KvCommand::Set {
            key: key.to_vec(),
            value: value.to_vec(),
            condition: SetCondition::Always,
            expiry,
            get: false,
        };
        self.exec(cmd).map(drop)
    }

    /// Removes a key; whether it existed.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        Ok(self.exec(KvCommand::Delete { keys: vec![key.to_vec()] })? == KvReply::Int(1))
    }

    /// Pushes values at the back (`front`: at the front); the new length.
    pub fn push(&self, key: &[u8], front: bool, values: Vec<Vec<u8>>) -> Result<i64> {
        match self.exec(KvCommand::Push { key: key.to_vec(), front, values, only_if_exists: false })? {
            KvReply::Int(n) => Ok(n),
            other => Err(Error::Internal(format!("push replied {other:?}"))),
        }
    }

    /// Pops one value from the back (`front`: from the front).
    pub fn pop(&self, key: &[u8], front: bool) -> Result<Option<Vec<u8>>> {
        match self.exec(KvCommand::Pop { key: key.to_vec(), front, count: None })? {
            KvReply::Bytes(v) => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    /// Elements `start..=stop` of a list (negative: from the end).
    pub fn range(&self, key: &[u8], start: i64, stop: i64) -> Result<Vec<Vec<u8>>> {
        match self.exec(KvCommand::Range { key: key.to_vec(), start, stop })? {
            KvReply::Array(items) => Ok(items
                .into_iter()
                .filter_map(|r| match r {
                    KvReply::Bytes(b) => Some(b),
                    _ => None,
                })
                .collect()),
            other => Err(Error::Internal(format!("range replied {other:?}"))),
        }
    }
}

impl crate::txn::Transaction {
    /// Runs a read-only key-value command at this transaction's snapshot,
    /// so tables and keys are read as of one commit. Writes to keys go
    /// through [`Kv::exec`] / [`Kv::exec_batch`] (their own transactions).
    pub fn kv_read(&self, cmd: KvCommand) -> Result<KvReply> {
        if cmd.is_write() {
            return Err(Error::FeatureNotSupported(
                "key-value writes inside a table transaction (use Kv::exec_batch for an atomic group)".into(),
            ));
        }
        let kv = Kv { shared: self.shared_handle() };
        let now = kv.now_ms();
        let mut access = ReadAccess { kv: &kv, read_ts: Some(self.read_ts()), now, lru: Kv::lru_at(now) };
        command::run(&mut access, cmd)
    }
}

/// Reads outside the commit lock: the newest published state, or a
/// registered snapshot's.
struct ReadAccess<'a> {
    kv: &'a Kv,
    read_ts: Option<Timestamp>,
    now: u64,
    lru: u16,
}

impl Access for ReadAccess<'_> {
    fn now(&self) -> u64 {
        self.now
    }

    fn default_ttl(&self) -> u64 {
        0
    }

    fn read<R>(&mut self, key: &[u8], f: impl FnOnce(Option<(ValueRef<'_>, Meta)>) -> R) -> R {
        let ks = self.kv.ks();
        let slot = ks.slot(key);
        let mut shard = ks.shard(slot.shard);
        let read_ts = self.read_ts.unwrap_or_else(|| self.kv.shared.newest.load(Ordering::Acquire));
        let Some(entry) = shard.find_mut(slot.hash, key) else { return f(None) };
        entry.set_access(self.lru);
        let seen = entry.state_at(read_ts);
        let meta = seen.meta();
        match seen.view() {
            Some(v) if !meta.expired(self.now) => f(Some((v, meta))),
            _ => f(None),
        }
    }

    fn write(&mut self, _op: KvOp) -> Result<()> {
        Err(Error::Internal("a read-only key-value command tried to write".into()))
    }

    fn keys(&mut self, filter: &mut dyn FnMut(&[u8], ValueRef<'_>, Meta) -> bool) -> Vec<Vec<u8>> {
        let read_ts = self.read_ts.unwrap_or_else(|| self.kv.shared.newest.load(Ordering::Acquire));
        collect_keys(self.kv.ks(), read_ts, self.now, filter)
    }

    fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        filter: &mut dyn FnMut(&[u8], ValueRef<'_>) -> bool,
    ) -> (u64, Vec<Vec<u8>>) {
        let read_ts = self.read_ts.unwrap_or_else(|| self.kv.shared.newest.load(Ordering::Acquire));
        scan(self.kv.ks(), read_ts, self.now, cursor, count, filter)
    }

    fn random_key(&mut self) -> Option<Vec<u8>> {
        let read_ts = self.read_ts.unwrap_or_else(|| self.kv.shared.newest.load(Ordering::Acquire));
        random_key(self.kv, read_ts, self.now)
    }

    fn len(&mut self) -> usize {
        self.kv.ks().len()
    }
}

/// Reads and writes under the commit lock, inside a batch.
struct WriteAccess<'a> {
    kv: &'a Kv,
    batch: Batch<'a>,
    now: u64,
    lru: u16,
    default_ttl: u64,
}

impl Access for WriteAccess<'_> {
    fn now(&self) -> u64 {
        self.now
    }

    fn default_ttl(&self) -> u64 {
        self.default_ttl
    }

    fn read<R>(&mut self, key: &[u8], f: impl FnOnce(Option<(ValueRef<'_>, Meta)>) -> R) -> R {
        let ks = self.kv.ks();
        let slot = ks.slot(key);
        let mut shard = ks.shard(slot.shard);
        let Some(entry) = shard.find_mut(slot.hash, key) else { return f(None) };
        entry.set_access(self.lru);
        match entry.view() {
            Some(v) if !entry.expired(self.now) => f(Some((v, entry.meta()))),
            _ => f(None),
        }
    }

    fn write(&mut self, op: KvOp) -> Result<()> {
        // A write to an expired key first logs its deletion, so replay,
        // which does not look at clocks, reaches the same state. The batch
        // does it for single-key ops; a rename's target is checked here.
        if let KvOp::Rename { to, .. } = &op {
            let ks = self.kv.ks();
            let slot = ks.slot(to);
            let expired =
                ks.shard(slot.shard).find(slot.hash, to).is_some_and(|e| !e.is_absent() && e.expired(self.now));
            if expired {
                self.batch.apply(KvOp::Delete { key: to.clone() })?;
                ks.counters.expired.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.batch.apply(op)
    }

    fn keys(&mut self, filter: &mut dyn FnMut(&[u8], ValueRef<'_>, Meta) -> bool) -> Vec<Vec<u8>> {
        collect_keys(self.kv.ks(), self.batch.ts, self.now, filter)
    }

    fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        filter: &mut dyn FnMut(&[u8], ValueRef<'_>) -> bool,
    ) -> (u64, Vec<Vec<u8>>) {
        scan(self.kv.ks(), self.batch.ts, self.now, cursor, count, filter)
    }

    fn random_key(&mut self) -> Option<Vec<u8>> {
        random_key(self.kv, self.batch.ts, self.now)
    }

    fn len(&mut self) -> usize {
        self.kv.ks().len()
    }
}

fn collect_keys(
    ks: &Keyspace,
    read_ts: Timestamp,
    now: u64,
    filter: &mut dyn FnMut(&[u8], ValueRef<'_>, Meta) -> bool,
) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for i in 0..SHARDS {
        let shard = ks.shard(i);
        for entry in shard.entries() {
            let seen = entry.state_at(read_ts);
            let meta = seen.meta();
            if let Some(v) = seen.view()
                && !meta.expired(now)
                && filter(entry.key(), v, meta)
            {
                keys.push(entry.key().to_vec());
            }
        }
    }
    keys
}

/// Bits of a scan cursor that hold the position inside a shard.
const SCAN_POSITION_BITS: u32 = 56;

/// One scan step. The cursor is `shard << 56 | position`, where keys of a
/// shard are visited in the order of the low 56 bits of their hash, so a
/// key present for the whole scan is returned once whatever the tables do
/// meanwhile (a 56-bit hash collision could hide one of two keys; odds
/// 2^-56 per pair).
fn scan(
    ks: &Keyspace,
    read_ts: Timestamp,
    now: u64,
    cursor: u64,
    count: usize,
    filter: &mut dyn FnMut(&[u8], ValueRef<'_>) -> bool,
) -> (u64, Vec<Vec<u8>>) {
    let mask = (1u64 << SCAN_POSITION_BITS) - 1;
    let mut shard_index = (cursor >> SCAN_POSITION_BITS) as usize;
    let mut from = cursor & mask;
    let mut keys = Vec::new();
    while shard_index < SHARDS {
        let shard = ks.shard(shard_index);
        // The `count` smallest positions at or after `from`.
        let mut heap: std::collections::BinaryHeap<(u64, usize)> = std::collections::BinaryHeap::new();
        let entries: Vec<&crate::keyspace::Entry> = shard.entries().collect();
        for (i, entry) in entries.iter().enumerate() {
            let pos = ks.slot(entry.key()).hash & mask;
            if pos < from {
                continue;
            }
            heap.push((pos, i));
            if heap.len() > count {
                heap.pop();
            }
        }
        let full = heap.len() >= count;
        let mut picked = heap.into_sorted_vec();
        let last = picked.last().map(|(p, _)| *p);
        for (_, i) in picked.drain(..) {
            let entry = entries[i];
            let seen = entry.state_at(read_ts);
            if let Some(v) = seen.view()
                && !seen.meta().expired(now)
                && filter(entry.key(), v)
            {
                keys.push(entry.key().to_vec());
            }
        }
        match last {
            Some(p) if full && p < mask => {
                return ((shard_index as u64) << SCAN_POSITION_BITS | (p + 1), keys);
            }
            _ => {
                shard_index += 1;
                from = 0;
            }
        }
        if keys.len() >= count {
            break;
        }
    }
    if shard_index >= SHARDS { (0, keys) } else { ((shard_index as u64) << SCAN_POSITION_BITS, keys) }
}

/// A key present at `read_ts` and not expired at `now`, picked at random.
fn random_key(kv: &Kv, read_ts: Timestamp, now: u64) -> Option<Vec<u8>> {
    let ks = kv.ks();
    let seed = (now as usize).wrapping_mul(2654435761) ^ kv.lru_now() as usize;
    let present = |e: &crate::keyspace::Entry| {
        let seen = e.state_at(read_ts);
        seen.view().is_some() && !seen.meta().expired(now)
    };
    for i in 0..SHARDS {
        let shard = (seed + i * 131) % SHARDS;
        if let Some((_, key)) = ks.sample(shard, seed.rotate_left(7), 1, present).into_iter().next() {
            return Some(key);
        }
    }
    None
}

/// Replays the key-value ops of a record at its timestamp (under the
/// commit lock held by replay).
pub(crate) fn replay(keyspace: &Keyspace, ts: Timestamp, ops: &[&KvOp]) -> Result<()> {
    let mut batch = Batch::new(keyspace, ts);
    for op in ops {
        if let Err(e) = batch.apply_unlogged(op) {
            batch.roll_back();
            return Err(e);
        }
    }
    batch.finish(false);
    Ok(())
}

/// Runs the expiry sweeper every `interval` while the database lives.
pub(crate) fn spawn_sweeper(shared: std::sync::Weak<Shared>, interval: Duration) {
    let spawned = std::thread::Builder::new().name("memdb-expiry".into()).spawn(move || {
        loop {
            std::thread::sleep(interval);
            let Some(shared) = shared.upgrade() else { return };
            let kv = Kv { shared };
            if let Err(e) = kv.sweep_expired() {
                tracing::warn!("expiry sweep failed: {e}");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("could not start the expiry sweeper: {e}; expired keys are removed lazily only");
    }
}
