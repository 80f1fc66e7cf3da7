//! Index structures: ordered (`scc::TreeIndex`, a concurrent B+tree with
//! lock-free reads) and hash (`scc::HashMap`).
//!
//! Entry layout (keys are [`Key`]s, see `crate::key`):
//!
//! ```text
//!   primary key:        key(cols)          → row id   (one entry per key;
//!                                                     a single integer column
//!                                                     is kept as an i64)
//!   other ordered:      key(cols) ‖ row id → ()       (one entry per row and key)
//!   hash:               key(cols)          → [row id]
//! ```
//!
//! The primary key's tree insert is the arbiter of its uniqueness; other
//! unique indexes are checked by the transaction layer against the rows
//! the entries point to.

use std::borrow::Borrow;
use std::ops::Bound;

use scc::{Guard, TreeIndex};

use crate::key::Key;
use crate::schema::{IndexKind, IndexSchema};
use crate::storage::RowId;
use crate::types::{DataType, Value};

/// How many entries a scan fetches per batch, at most.
pub(crate) const SCAN_BATCH: usize = 256;

/// A scan's first batch: small, so a query that stops after a few rows
/// (`ORDER BY … LIMIT 1` read from an index) checks only a few entries;
/// batches then grow to [`SCAN_BATCH`].
pub(crate) const FIRST_SCAN_BATCH: usize = 16;

enum Structure {
    /// The primary key.
    Exact(TreeIndex<Key, RowId>),
    /// A primary key on one integer column: 16-byte entries and integer
    /// comparisons instead of encoded keys.
    ExactInt(TreeIndex<i64, RowId>),
    /// Other ordered indexes; the row id is the key's last eight bytes.
    Ordered(TreeIndex<Key, ()>),
    /// Other ordered indexes on one integer column, entries packed into a
    /// `u128` (see [`pack`]): same order as the encoded keys, 16 bytes.
    OrderedInt(TreeIndex<u128, ()>),
    Hash(scc::HashMap<Key, Vec<RowId>>),
}

/// The row id at the end of an ordered index's entry key.
fn suffix_row_id(key: &Key) -> RowId {
    let bytes = key.as_bytes();
    let mut id = [0u8; 8];
    if let Some(tail) = bytes.len().checked_sub(8).and_then(|at| bytes.get(at..)) {
        id.copy_from_slice(tail);
    }
    RowId::from_be_bytes(id)
}

/// What a run of [`IndexStorage::lookup_into`] calls remembers: the first
/// entry of an integer index, read at most every [`LookupHint::REUSES`]
/// lookups. Only ever a shortcut: a stale first entry (its key deleted
/// since) can cost a lookup the slow start `open_outer_end` avoids, never
/// change what it finds.
#[derive(Clone, Debug, Default)]
pub(crate) struct LookupHint {
    first: Option<u128>,
    uses: u32,
}

impl LookupHint {
    /// Lookups between two reads of the first entry.
    const REUSES: u32 = 1024;
}

/// An entry waiting to be added to a deferrable index (`txn::pending`):
/// packed for integer indexes, an encoded key otherwise. Entries of one
/// index are all of one kind and sort in index order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PendingEntry {
    /// [`Structure::Ordered`] entry key.
    Bytes(Key),
    /// [`Structure::OrderedInt`] packed entry.
    Packed(u128),
}

/// One index of a table.
pub(crate) struct IndexStorage {
    pub schema: IndexSchema,
    structure: Structure,
}

impl IndexStorage {
    /// A new, empty index; `types` are the table's physical column types.
    pub fn new(schema: IndexSchema, types: &[DataType]) -> IndexStorage {
        let integer = match schema.columns.as_slice() {
            [c] => matches!(types.get(*c), Some(DataType::Int2 | DataType::Int4 | DataType::Int8)),
            _ => false,
        };
        let structure = match schema.kind {
            IndexKind::BTree if schema.primary && integer => Structure::ExactInt(TreeIndex::new()),
            IndexKind::BTree if schema.primary => Structure::Exact(TreeIndex::new()),
            IndexKind::BTree if integer => Structure::OrderedInt(TreeIndex::new()),
            IndexKind::BTree => Structure::Ordered(TreeIndex::new()),
            IndexKind::Hash => Structure::Hash(scc::HashMap::new()),
        };
        IndexStorage { schema, structure }
    }

    /// Whether two rows (physical order) have different keys in this index.
    pub fn key_differs(&self, a: &[Value], b: &[Value]) -> bool {
        self.schema.columns.iter().any(|&c| a.get(c) != b.get(c))
    }

    /// The index's key values of a row given in physical column order.
    pub fn key_values(&self, row: &[Value]) -> Vec<Value> {
        self.schema.columns.iter().map(|&c| row.get(c).cloned().unwrap_or(Value::Null)).collect()
    }

    /// Whether entries may wait until commit (see `txn::pending`): ordered,
    /// not unique, not the primary key.
    pub fn is_deferrable(&self) -> bool {
        matches!(self.structure, Structure::Ordered(_) | Structure::OrderedInt(_)) && !self.schema.unique
    }

    /// The entry of a row (physical order) in a deferrable index, in the
    /// form the index stores it.
    pub fn pending_entry(&self, row: &[Value], row_id: RowId) -> PendingEntry {
        match &self.structure {
            Structure::OrderedInt(_) => {
                let value = self.schema.columns.first().and_then(|&c| row.get(c));
                PendingEntry::Packed(pack(value.and_then(Value::as_i64), row_id))
            }
            _ => PendingEntry::Bytes(Key::encode_with_row_id(&self.key_values(row), row_id)),
        }
    }

    /// Adds an entry made by [`IndexStorage::pending_entry`].
    pub fn insert_pending(&self, entry: &PendingEntry) {
        match (&self.structure, entry) {
            (Structure::OrderedInt(tree), PendingEntry::Packed(packed)) => {
                let _ = tree.insert_sync(*packed, ());
            }
            (Structure::Ordered(tree), PendingEntry::Bytes(key)) => {
                let _ = tree.insert_sync(key.clone(), ());
            }
            _ => {}
        }
    }

    /// Whether `entry` (as a range batch returned it for `row_id`) is the
    /// entry of the row version `row` (physical order): the entry may come
    /// from another version of the row with another key.
    pub fn entry_matches(&self, entry: &Key, row: &[Value], row_id: RowId) -> bool {
        match &self.structure {
            Structure::ExactInt(_) | Structure::OrderedInt(_) => {
                // Integer entries: tag 0x01 and the value, or 0x02 for NULL.
                let value = self.schema.columns.first().and_then(|&c| row.get(c));
                match (entry.as_bytes(), value) {
                    ([0x01, rest @ ..], Some(v)) if rest.len() >= 8 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&rest[..8]);
                        v.as_i64() == Some((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
                    }
                    ([0x02, ..], Some(Value::Null)) => true,
                    _ => false,
                }
            }
            Structure::Exact(_) => Key::encode(&self.key_values(row)) == *entry,
            Structure::Ordered(_) | Structure::Hash(_) => {
                Key::encode_with_row_id(&self.key_values(row), row_id) == *entry
            }
        }
    }

    /// Adds the entry for `row_id` under `values`. For the primary key,
    /// returns the row id already holding the key if there is one.
    pub fn insert(&self, values: &[Value], row_id: RowId) -> Result<(), RowId> {
        match &self.structure {
            // Primary-key values are never NULL and are coerced to the
            // column's integer type before they get here.
            Structure::ExactInt(tree) => match int_key(values) {
                Some(key) => claim_key(tree, key, row_id),
                None => Ok(()),
            },
            Structure::Exact(tree) => claim_key(tree, Key::encode(values), row_id),
            Structure::Ordered(tree) => {
                let _ = tree.insert_sync(Key::encode_with_row_id(values, row_id), ());
                Ok(())
            }
            Structure::OrderedInt(tree) => {
                let _ = tree.insert_sync(pack(values.first().and_then(Value::as_i64), row_id), ());
                Ok(())
            }
            Structure::Hash(map) => {
                let mut entry = map.entry_sync(Key::encode(values)).or_default();
                if !entry.get().contains(&row_id) {
                    entry.get_mut().push(row_id);
                }
                Ok(())
            }
        }
    }

    /// Removes the entry for `row_id` under `values` (if present).
    pub fn remove(&self, values: &[Value], row_id: RowId) {
        match &self.structure {
            Structure::ExactInt(tree) => {
                if let Some(key) = int_key(values) {
                    tree.remove_if_sync(&key, |&existing| existing == row_id);
                }
            }
            Structure::Exact(tree) => {
                tree.remove_if_sync(&Key::encode(values), |&existing| existing == row_id);
            }
            Structure::Ordered(tree) => {
                tree.remove_sync(&Key::encode_with_row_id(values, row_id));
            }
            Structure::OrderedInt(tree) => {
                tree.remove_sync(&pack(values.first().and_then(Value::as_i64), row_id));
            }
            Structure::Hash(map) => {
                let _ = map.remove_if_sync(&Key::encode(values), |ids| {
                    ids.retain(|&id| id != row_id);
                    ids.is_empty()
                });
            }
        }
    }

    /// The row id a primary-key entry holds for `values` (primary key only).
    pub fn lookup_exact(&self, values: &[Value]) -> Option<RowId> {
        match &self.structure {
            Structure::Exact(tree) => tree.peek_with(&Key::encode(values), |_, &id| id),
            Structure::ExactInt(tree) => tree.peek_with(&int_key(values)?, |_, &id| id),
            _ => None,
        }
    }

    /// [`IndexStorage::lookup`] appending to a reused vector, and
    /// without encoding the key for a whole key of an integer index: the
    /// inner side of an index nested-loop join looks up once per outer row.
    /// `hint` carries what one lookup learnt to the next.
    pub fn lookup_into(&self, values: &[Value], out: &mut Vec<RowId>, hint: &mut LookupHint) {
        let whole = values.len() == self.schema.columns.len();
        match (&self.structure, values) {
            (Structure::ExactInt(tree), _) if whole => {
                out.extend(int_key(values).and_then(|k| tree.peek_with(&k, |_, &id| id)));
            }
            (Structure::OrderedInt(tree), [v]) if v.is_null() || v.as_i64().is_some() => {
                let value = v.as_i64();
                let (lo, hi) = (pack(value, 0), pack(value, 0xFFFF_FFFF));
                let guard = Guard::new();
                let range = packed_range(tree, &lo, &hi, hint, &guard);
                out.extend(
                    tree.range::<u128, (Bound<&u128>, Bound<&u128>)>(range, &guard)
                        .map(|(packed, _)| (packed & 0xFFFF_FFFF) as RowId),
                );
            }
            _ => out.extend(self.lookup(values)),
        }
    }

    /// [`IndexStorage::lookup_into`] for each of `keys`: appends the row
    /// ids of key 0's entries, then key 1's, and so on, with the key's
    /// position in `owners`. Strictly ascending integer keys of a
    /// non-unique integer index (an index join's outer side in key order)
    /// are found in one walk along the tree instead of a descent each.
    pub fn lookup_many(
        &self,
        keys: &[Vec<Value>],
        found: &mut Vec<RowId>,
        owners: &mut Vec<usize>,
        hint: &mut LookupHint,
    ) {
        if let Structure::OrderedInt(tree) = &self.structure
            && let Some(heads) = ascending_heads(keys)
        {
            return merge_walk(tree, &heads, found, owners, hint);
        }
        for (owner, key) in keys.iter().enumerate() {
            self.lookup_into(key, found, hint);
            owners.resize(found.len(), owner);
        }
    }

    /// Row ids of every entry whose key equals `values` exactly.
    pub fn lookup(&self, values: &[Value]) -> Vec<RowId> {
        let key = Key::encode(values);
        let whole = values.len() == self.schema.columns.len();
        match &self.structure {
            Structure::Exact(tree) if whole => tree.peek_with(&key, |_, &id| id).into_iter().collect(),
            Structure::ExactInt(tree) if whole => {
                int_key(values).and_then(|k| tree.peek_with(&k, |_, &id| id)).into_iter().collect()
            }
            Structure::Exact(_) | Structure::ExactInt(_) | Structure::Ordered(_) | Structure::OrderedInt(_) => {
                let mut out = Vec::new();
                let upper = key.prefix_successor();
                let mut from = Bound::Included(key);
                loop {
                    let batch = self.range_batch(
                        &from,
                        &upper.clone().map_or(Bound::Unbounded, Bound::Excluded),
                        false,
                        SCAN_BATCH,
                    );
                    let full = batch.len() == SCAN_BATCH;
                    let Some((last, _)) = batch.last().cloned() else { break };
                    out.extend(batch.into_iter().map(|(_, id)| id));
                    if !full {
                        break;
                    }
                    from = Bound::Excluded(last);
                }
                out
            }
            Structure::Hash(map) => map.read_sync(&key, |_, ids| ids.clone()).unwrap_or_default(),
        }
    }

    /// Whether the index supports ordered range scans.
    pub fn is_ordered(&self) -> bool {
        !matches!(self.structure, Structure::Hash(_))
    }

    /// Up to `max` entries within the bounds, in ascending order or (with
    /// `reverse`) descending order.
    pub fn range_batch(&self, lower: &Bound<Key>, upper: &Bound<Key>, reverse: bool, max: usize) -> Vec<(Key, RowId)> {
        fn as_bytes(b: &Bound<Key>) -> Bound<&[u8]> {
            match b {
                Bound::Included(k) => Bound::Included(k.as_bytes()),
                Bound::Excluded(k) => Bound::Excluded(k.as_bytes()),
                Bound::Unbounded => Bound::Unbounded,
            }
        }
        let range: (Bound<&[u8]>, Bound<&[u8]>) = (as_bytes(lower), as_bytes(upper));
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) = range
            && l > u
        {
            return Vec::new();
        }
        match &self.structure {
            Structure::Exact(tree) => batch_of(tree, range, reverse, max, |_, &id| id),
            Structure::ExactInt(tree) => int_batch(tree, range, reverse, max),
            Structure::Ordered(tree) => batch_of(tree, range, reverse, max, |k, _| suffix_row_id(k)),
            Structure::OrderedInt(tree) => packed_batch(tree, range, reverse, max),
            Structure::Hash(_) => Vec::new(),
        }
    }
}

/// Adds a primary-key entry unless another row holds the key; returns that
/// row then (re-adding the same entry is fine).
fn claim_key<K: Ord + Clone + 'static>(tree: &TreeIndex<K, RowId>, key: K, row_id: RowId) -> Result<(), RowId> {
    match tree.insert_sync(key, row_id) {
        Ok(()) => Ok(()),
        Err((key, _)) => match tree.peek_with(&key, |_, &existing| existing) {
            Some(existing) if existing != row_id => Err(existing),
            _ => Ok(()),
        },
    }
}

/// The key of a single integer column.
fn int_key(values: &[Value]) -> Option<i64> {
    match values {
        [v] => v.as_i64(),
        _ => None,
    }
}

/// The smallest integer whose encoded key (`0x01` + 8 bytes, see
/// `crate::key`) is at or above `bound`, as an i128 so that "above every
/// integer" is `i64::MAX + 1`.
fn int_at_or_above(bound: &[u8]) -> i128 {
    match bound.first() {
        None => return i128::from(i64::MIN),
        Some(&tag) if tag < 0x01 => return i128::from(i64::MIN),
        Some(&tag) if tag > 0x01 => return i128::from(i64::MAX) + 1,
        Some(_) => {}
    }
    let tail = &bound[1..];
    let mut bytes = [0u8; 8];
    let n = tail.len().min(8);
    bytes[..n].copy_from_slice(&tail[..n]);
    let value = i128::from((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64);
    // A longer bound is above the key it starts with.
    if tail.len() > 8 { value + 1 } else { value }
}

/// Whether `bound` is exactly the encoded key of `value`.
fn is_int_key(bound: &[u8], value: i128) -> bool {
    i64::try_from(value).is_ok_and(|v| Key::encode(&[Value::Int8(v)]).as_bytes() == bound)
}

/// [`IndexStorage::range_batch`] for an integer primary key: byte bounds
/// become integer bounds, entries go back out as encoded keys.
fn int_batch(
    tree: &TreeIndex<i64, RowId>,
    (lower, upper): (Bound<&[u8]>, Bound<&[u8]>),
    reverse: bool,
    max: usize,
) -> Vec<(Key, RowId)> {
    let lo = match lower {
        Bound::Unbounded => i128::from(i64::MIN),
        Bound::Included(b) => int_at_or_above(b),
        Bound::Excluded(b) => {
            let v = int_at_or_above(b);
            if is_int_key(b, v) { v + 1 } else { v }
        }
    };
    let hi = match upper {
        Bound::Unbounded => i128::from(i64::MAX),
        Bound::Included(b) => {
            let v = int_at_or_above(b);
            if is_int_key(b, v) { v } else { v - 1 }
        }
        Bound::Excluded(b) => int_at_or_above(b) - 1,
    };
    let (Ok(lo), Ok(hi)) = (i64::try_from(lo), i64::try_from(hi)) else { return Vec::new() };
    if lo > hi {
        return Vec::new();
    }
    let guard = Guard::new();
    let range = open_outer_end(tree, (Bound::Included(&lo), Bound::Included(&hi)), reverse, &guard);
    let take = |(k, id): (&i64, &RowId)| (Key::encode(&[Value::Int8(*k)]), *id);
    take_batch(|| tree.range::<i64, (Bound<&i64>, Bound<&i64>)>(range, &guard).map(take), reverse, max)
}

// Packed entries of a non-unique index on one integer column:
//
//   bit 96        NULL (sorts after every value, as 0x02 after 0x01)
//   bits 32..96   the value with its sign bit flipped (0 for NULL)
//   bits 0..32    the row id (row ids stay below 2^32, see `slab`)

const NULL_BIT: u128 = 1 << 96;
/// Packs a value (None: NULL) and a row id.
fn pack(value: Option<i64>, row_id: RowId) -> u128 {
    let head = match value {
        Some(v) => u128::from((v as u64) ^ (1 << 63)) << 32,
        None => NULL_BIT,
    };
    head | u128::from(row_id & 0xFFFF_FFFF)
}

/// The bounds to range over `lo..=hi` of an integer index with: as given
/// when `lo` lies above the tree's first entry as `hint` last read it,
/// else through `open_outer_end` (re-reading the first entry).
fn packed_range<'r>(
    tree: &TreeIndex<u128, ()>,
    lo: &'r u128,
    hi: &'r u128,
    hint: &mut LookupHint,
    guard: &Guard,
) -> (Bound<&'r u128>, Bound<&'r u128>) {
    // Reading the first entry is a descent of its own; above a recently
    // read first entry, the bound cannot be below the tree's.
    if hint.uses > 0 && hint.first.is_some_and(|first| *lo > first) {
        hint.uses -= 1;
        return (Bound::Included(lo), Bound::Included(hi));
    }
    hint.first = tree.iter(guard).next().map(|(first, _)| *first);
    hint.uses = LookupHint::REUSES;
    open_outer_end(tree, (Bound::Included(lo), Bound::Included(hi)), false, guard)
}

/// The packed value parts (see [`pack`], shifted down past the row id) of
/// one-integer keys, if every key is one and they strictly ascend.
fn ascending_heads(keys: &[Vec<Value>]) -> Option<Vec<u128>> {
    let heads = keys
        .iter()
        .map(|k| match k.as_slice() {
            [v] => v.as_i64().map(|i| pack(Some(i), 0) >> 32),
            _ => None,
        })
        .collect::<Option<Vec<u128>>>()?;
    heads.windows(2).all(|w| w[0] < w[1]).then_some(heads)
}

/// Entries skipped between two keys before a walk gives up on walking and
/// starts over at the next key with a descent.
const MAX_WALK_GAP: usize = 8;

/// [`IndexStorage::lookup_many`]'s walk: the entries of strictly ascending
/// value parts `heads`, read in one pass along the tree while the keys are
/// close together, with a fresh descent past any wide gap between them.
fn merge_walk(
    tree: &TreeIndex<u128, ()>,
    heads: &[u128],
    found: &mut Vec<RowId>,
    owners: &mut Vec<usize>,
    hint: &mut LookupHint,
) {
    let Some(&last) = heads.last() else { return };
    let guard = Guard::new();
    let hi = (last << 32) | 0xFFFF_FFFF;
    let mut at = 0;
    'descend: while at < heads.len() {
        let lo = heads[at] << 32;
        let range = packed_range(tree, &lo, &hi, hint, &guard);
        let mut gap = 0;
        for (&packed, _) in tree.range::<u128, (Bound<&u128>, Bound<&u128>)>(range, &guard) {
            let head = packed >> 32;
            while heads[at] < head {
                at += 1;
                gap = 0;
                if at == heads.len() {
                    return;
                }
            }
            if heads[at] == head {
                found.push((packed & 0xFFFF_FFFF) as RowId);
                owners.push(at);
            } else {
                gap += 1;
                if gap > MAX_WALK_GAP {
                    continue 'descend;
                }
            }
        }
        return;
    }
}

/// The encoded key (`crate::key`) of a packed entry.
fn packed_key(packed: u128) -> Key {
    let row_id = (packed & 0xFFFF_FFFF) as u64;
    let mut bytes = [0u8; 17];
    if packed & NULL_BIT != 0 {
        bytes[0] = 0x02;
        bytes[1..9].copy_from_slice(&row_id.to_be_bytes());
        Key::from_bytes(&bytes[..9])
    } else {
        bytes[0] = 0x01;
        bytes[1..9].copy_from_slice(&((packed >> 32) as u64).to_be_bytes());
        bytes[9..17].copy_from_slice(&row_id.to_be_bytes());
        Key::from_bytes(&bytes)
    }
}

/// The smallest packed entry whose key is at or above the byte string
/// `bound`; `u128::MAX` when every entry is below it.
fn packed_at_or_above(bound: &[u8]) -> u128 {
    // Reads eight bytes at `at`, zero-padded; and whether bytes follow them.
    let field = |at: usize| -> u64 {
        let mut b = [0u8; 8];
        if let Some(tail) = bound.get(at..) {
            let n = tail.len().min(8);
            b[..n].copy_from_slice(&tail[..n]);
        }
        u64::from_be_bytes(b)
    };
    let (value_head, row_at) = match bound.first() {
        None => return 0,
        Some(&tag) if tag < 0x01 => return 0,
        Some(0x01) => (u128::from(field(1)) << 32, 9),
        Some(0x02) => (NULL_BIT, 1),
        Some(_) => return u128::MAX,
    };
    let row = field(row_at);
    let longer = bound.len() > row_at + 8;
    if row > 0xFFFF_FFFF {
        // No row id that large: the next value's first entry.
        return if value_head & NULL_BIT != 0 { u128::MAX } else { (value_head | 0xFFFF_FFFF) + 1 };
    }
    let packed = value_head | u128::from(row);
    if longer { packed + 1 } else { packed }
}

/// [`IndexStorage::range_batch`] for [`Structure::OrderedInt`].
fn packed_batch(
    tree: &TreeIndex<u128, ()>,
    (lower, upper): (Bound<&[u8]>, Bound<&[u8]>),
    reverse: bool,
    max: usize,
) -> Vec<(Key, RowId)> {
    let exact = |b: &[u8], p: u128| p != u128::MAX && packed_key(p).as_bytes() == b;
    let lo = match lower {
        Bound::Unbounded => 0,
        Bound::Included(b) => packed_at_or_above(b),
        Bound::Excluded(b) => {
            let p = packed_at_or_above(b);
            if exact(b, p) { p.saturating_add(1) } else { p }
        }
    };
    let hi = match upper {
        Bound::Unbounded => u128::MAX - 1,
        Bound::Included(b) => {
            let p = packed_at_or_above(b);
            if exact(b, p) { p } else { p.wrapping_sub(1) }
        }
        Bound::Excluded(b) => packed_at_or_above(b).wrapping_sub(1),
    };
    if lo == u128::MAX || hi == u128::MAX || lo > hi {
        return Vec::new();
    }
    let guard = Guard::new();
    let range = open_outer_end(tree, (Bound::Included(&lo), Bound::Included(&hi)), reverse, &guard);
    let take = |(k, _): (&u128, &())| (packed_key(*k), (*k & 0xFFFF_FFFF) as RowId);
    take_batch(|| tree.range::<u128, (Bound<&u128>, Bound<&u128>)>(range, &guard).map(take), reverse, max)
}

/// Up to `max` entries of a tree within `range`, with their row ids.
fn batch_of<V: Clone + 'static>(
    tree: &TreeIndex<Key, V>,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    reverse: bool,
    max: usize,
    row_id: impl Fn(&Key, &V) -> RowId,
) -> Vec<(Key, RowId)> {
    let guard = Guard::new();
    let range = open_outer_end(tree, range, reverse, &guard);
    let take = |(k, v): (&Key, &V)| (k.clone(), row_id(k, v));
    take_batch(|| tree.range::<[u8], _>(range, &guard).map(take), reverse, max)
}

/// The range to ask the tree for: the same entries, with the bound the
/// scan starts from dropped when it lies beyond the tree's first key
/// (forwards) or last key (backwards).
///
/// scc 3.8's `range` starts by looking for the greatest key at or below
/// the lower bound (backwards: the least at or above the upper bound) and,
/// when there is none, visits every leaf of the tree before giving up. A
/// scan starting below the first key — the first district's oldest new
/// order in TPC-C, `ORDER BY id LIMIT 10` on an integer key, whose lower
/// bound is `i64::MIN` — cost time in proportion to the index size (18 ms
/// on 50k entries whose head had been deleted). Unbounded, the tree starts
/// at its end directly; reading the end key to decide costs well under a
/// microsecond.
fn open_outer_end<'r, K, V, Q>(
    tree: &TreeIndex<K, V>,
    (lower, upper): (Bound<&'r Q>, Bound<&'r Q>),
    reverse: bool,
    guard: &Guard,
) -> (Bound<&'r Q>, Bound<&'r Q>)
where
    K: Clone + Ord + Borrow<Q> + 'static,
    V: Clone + 'static,
    Q: Ord + ?Sized,
{
    if reverse {
        if let Bound::Included(b) | Bound::Excluded(b) = upper
            && tree.iter(guard).next_back().is_some_and(|(last, _)| b > last.borrow())
        {
            return (lower, Bound::Unbounded);
        }
    } else if let Bound::Included(b) | Bound::Excluded(b) = lower
        && tree.iter(guard).next().is_some_and(|(first, _)| b < first.borrow())
    {
        return (Bound::Unbounded, upper);
    }
    (lower, upper)
}

/// Up to `max` items of a range, ascending or descending.
///
/// scc 3.8's reverse range gives up when it starts on a leaf whose entries
/// were all removed; the forward direction does not. So an empty reverse
/// batch is checked forwards, keeping the last batch of what it finds.
fn take_batch<T, R: DoubleEndedIterator<Item = T>>(range: impl Fn() -> R, reverse: bool, max: usize) -> Vec<T> {
    if !reverse {
        return range().take(max).collect();
    }
    let batch: Vec<T> = range().rev().take(max).collect();
    if !batch.is_empty() {
        return batch;
    }
    let mut window = std::collections::VecDeque::with_capacity(max);
    for item in range() {
        if window.len() == max {
            window.pop_front();
        }
        window.push_back(item);
    }
    window.into_iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(primary: bool, kind: IndexKind) -> IndexSchema {
        IndexSchema { id: 1, name: "i".into(), columns: vec![0], unique: primary, primary, kind, constraint: None }
    }

    /// Range batches of `a` and `b` agree for bounds built from every pair
    /// of probes (every `step`-th upper one), each included, excluded or
    /// unbounded, in both directions.
    fn assert_scans_agree(a: &IndexStorage, b: &IndexStorage, probes: &[Key], step: usize) {
        let bound = |i: usize, k: &Key| match i % 3 {
            0 => Bound::Included(k.clone()),
            1 => Bound::Excluded(k.clone()),
            _ => Bound::Unbounded,
        };
        for (i, lo) in probes.iter().enumerate() {
            for (j, hi) in probes.iter().enumerate().step_by(step) {
                for reverse in [false, true] {
                    let (l, u) = (bound(i, lo), bound(j + 1, hi));
                    assert_eq!(
                        a.range_batch(&l, &u, reverse, SCAN_BATCH),
                        b.range_batch(&l, &u, reverse, SCAN_BATCH),
                        "{l:?}..{u:?} reverse={reverse}"
                    );
                }
            }
        }
    }

    /// Scans from beyond either end of a tree whose head and tail were
    /// deleted (the case scc answers by visiting every leaf, see
    /// [`open_outer_end`]) return what a sorted model holds.
    #[test]
    fn scans_from_beyond_the_ends_after_deletes_match_a_model() {
        for (kind_primary, types) in [(true, DataType::Int8), (true, DataType::Text), (false, DataType::Int8)] {
            let index = IndexStorage::new(schema(kind_primary, IndexKind::BTree), std::slice::from_ref(&types));
            let value = |n: i64| match types {
                DataType::Text => Value::Text(format!("{n:08}")),
                _ => Value::Int8(n),
            };
            for n in 0..5_000 {
                index.insert(&[value(n)], n as u64).unwrap();
            }
            for n in (0..2_000).chain(4_000..5_000) {
                index.remove(&[value(n)], n as u64);
            }
            let key = |n: i64| Key::encode(&[value(n)]);
            let forward = index.range_batch(&Bound::Included(key(-1)), &Bound::Unbounded, false, 3);
            assert_eq!(forward.iter().map(|(_, id)| *id).collect::<Vec<_>>(), [2_000, 2_001, 2_002], "{types:?}");
            let below = index.range_batch(&Bound::Excluded(key(5)), &Bound::Excluded(key(2_002)), false, 10);
            assert_eq!(below.iter().map(|(_, id)| *id).collect::<Vec<_>>(), [2_000, 2_001], "{types:?}");
            let backward = index.range_batch(&Bound::Unbounded, &Bound::Included(key(4_500)), true, 2);
            assert_eq!(backward.iter().map(|(_, id)| *id).collect::<Vec<_>>(), [3_999, 3_998], "{types:?}");
            let none = index.range_batch(&Bound::Included(key(4_100)), &Bound::Unbounded, false, 2);
            assert!(none.is_empty(), "{types:?}");
        }
    }

    #[test]
    fn integer_primary_keys_scan_like_encoded_ones() {
        let bytes = IndexStorage::new(schema(true, IndexKind::BTree), &[DataType::Text]);
        let ints = IndexStorage::new(schema(true, IndexKind::BTree), &[DataType::Int8]);
        assert!(matches!(ints.structure, Structure::ExactInt(_)));
        let keys = [i64::MIN, -300, -2, -1, 0, 1, 2, 255, 256, 70_000, i64::MAX];
        for (id, k) in keys.iter().enumerate() {
            bytes.insert(&[Value::Int8(*k)], id as u64).unwrap();
            ints.insert(&[Value::Int8(*k)], id as u64).unwrap();
        }
        let mut probes: Vec<Key> = keys.iter().map(|&k| Key::encode(&[Value::Int8(k)])).collect();
        probes.extend(keys.iter().filter_map(|&k| Key::encode(&[Value::Int8(k)]).prefix_successor()));
        probes.extend([Key::encode(&[Value::Null]), Key::from_bytes(&[]), Key::from_bytes(&[1, 0x80])]);
        assert_scans_agree(&ints, &bytes, &probes, 1);
        assert_eq!(ints.lookup_exact(&[Value::Int8(256)]), Some(8));
        ints.remove(&[Value::Int8(256)], 8);
        assert_eq!(ints.lookup(&[Value::Int8(256)]), Vec::<u64>::new());
    }

    #[test]
    fn packed_integer_indexes_scan_like_encoded_ones() {
        let bytes = IndexStorage::new(schema(false, IndexKind::BTree), &[DataType::Text]);
        let ints = IndexStorage::new(schema(false, IndexKind::BTree), &[DataType::Int4]);
        assert!(matches!(ints.structure, Structure::OrderedInt(_)));
        let values = [
            Value::Null,
            Value::Int8(i64::MIN),
            Value::Int8(-5),
            Value::Int8(0),
            Value::Int8(7),
            Value::Int8(i64::MAX),
        ];
        for (i, v) in values.iter().enumerate() {
            for row_id in [0u64, 3, 0xFFFF_FFFF] {
                let row_id = row_id + i as u64 % 2;
                let row_id = row_id.min(0xFFFF_FFFF);
                bytes.insert(std::slice::from_ref(v), row_id).unwrap();
                ints.insert(std::slice::from_ref(v), row_id).unwrap();
            }
        }
        let mut probes: Vec<Key> = Vec::new();
        for v in &values {
            let k = Key::encode(std::slice::from_ref(v));
            probes.extend(k.prefix_successor());
            probes.push(k);
            for row_id in [0u64, 3, 4, 0xFFFF_FFFF, 0x1_0000_0000] {
                let e = Key::encode_with_row_id(std::slice::from_ref(v), row_id);
                probes.extend(e.prefix_successor());
                probes.push(e);
            }
        }
        probes.extend([Key::from_bytes(&[]), Key::from_bytes(&[0x03]), Key::from_bytes(&[1, 0x80])]);
        assert_scans_agree(&ints, &bytes, &probes, 3);
        let mut sevens = ints.lookup(&[Value::Int8(7)]);
        sevens.sort_unstable();
        let mut expected = bytes.lookup(&[Value::Int8(7)]);
        expected.sort_unstable();
        assert_eq!(sevens, expected);
        ints.remove(&[Value::Int8(7)], 3);
        assert_eq!(ints.lookup(&[Value::Int8(7)]).len(), expected.len() - 1);
    }

    #[test]
    fn primary_key_entries_are_unique() {
        let idx = IndexStorage::new(schema(true, IndexKind::BTree), &[DataType::Text]);
        assert_eq!(idx.insert(&[Value::Int8(1)], 10), Ok(()));
        assert_eq!(idx.insert(&[Value::Int8(1)], 11), Err(10));
        assert_eq!(idx.insert(&[Value::Int8(1)], 10), Ok(()), "re-adding the same entry is fine");
        assert_eq!(idx.lookup(&[Value::Int8(1)]), vec![10]);
        idx.remove(&[Value::Int8(1)], 11);
        assert_eq!(idx.lookup(&[Value::Int8(1)]), vec![10], "only the matching row's entry goes");
        idx.remove(&[Value::Int8(1)], 10);
        assert!(idx.lookup(&[Value::Int8(1)]).is_empty());
    }

    #[test]
    fn secondary_entries_hold_many_rows_per_key_and_scan_both_ways() {
        for kind in [IndexKind::BTree, IndexKind::Hash] {
            let idx = IndexStorage::new(schema(false, kind), &[DataType::Int4]);
            for id in 0..600u64 {
                idx.insert(&[Value::Int4((id % 3) as i32)], id).unwrap();
            }
            let mut ones = idx.lookup(&[Value::Int4(1)]);
            ones.sort_unstable();
            assert_eq!(ones.len(), 200);
            idx.remove(&[Value::Int4(1)], 1);
            assert_eq!(idx.lookup(&[Value::Int4(1)]).len(), 199);
        }
        let idx = IndexStorage::new(schema(false, IndexKind::BTree), &[DataType::Int8]);
        for id in 0..10u64 {
            idx.insert(&[Value::Int8(id as i64)], id).unwrap();
        }
        let lo = Bound::Included(Key::encode(&[Value::Int8(3)]));
        let hi = Bound::Excluded(Key::encode(&[Value::Int8(6)]));
        let fwd: Vec<_> = idx.range_batch(&lo, &hi, false, SCAN_BATCH).into_iter().map(|(_, id)| id).collect();
        let rev: Vec<_> = idx.range_batch(&lo, &hi, true, SCAN_BATCH).into_iter().map(|(_, id)| id).collect();
        assert_eq!(fwd, vec![3, 4, 5]);
        assert_eq!(rev, vec![5, 4, 3]);
    }

    /// `lookup_into`'s integer fast paths find what the general lookup
    /// does: duplicates, NULL, missing keys, extreme values and other
    /// integer widths, on the primary key and on a non-unique index.
    #[test]
    fn lookup_into_finds_what_lookup_finds() {
        let unique = IndexStorage::new(schema(true, IndexKind::BTree), &[DataType::Int4]);
        let many = IndexStorage::new(schema(false, IndexKind::BTree), &[DataType::Int4]);
        assert!(matches!(unique.structure, Structure::ExactInt(_)));
        assert!(matches!(many.structure, Structure::OrderedInt(_)));
        let values = [i64::MIN, -7, 0, 3, 3, 3, 9, i64::MAX];
        for (id, v) in values.iter().enumerate() {
            let _ = unique.insert(&[Value::Int8(*v)], id as RowId);
            many.insert(&[Value::Int8(*v)], id as RowId).unwrap();
        }
        many.insert(&[Value::Null], 40).unwrap();
        many.insert(&[Value::Null], 41).unwrap();
        let mut out = vec![99];
        let mut hint = LookupHint::default();
        let probes = [
            Value::Int8(3),
            Value::Int4(3),
            Value::Int2(-7),
            Value::Int8(i64::MIN),
            Value::Int8(i64::MAX),
            Value::Int8(4),
            Value::Null,
        ];
        for index in [&unique, &many] {
            for p in &probes {
                let key = std::slice::from_ref(p);
                out.clear();
                index.lookup_into(key, &mut out, &mut hint);
                let mut expected = index.lookup(key);
                expected.sort_unstable();
                out.sort_unstable();
                assert_eq!(out, expected, "{p:?}");
            }
        }
        out.clear();
        many.lookup_into(&[Value::Int8(3)], &mut out, &mut hint);
        assert_eq!(out, [3, 4, 5]);
        out.clear();
        many.lookup_into(&[Value::Null], &mut out, &mut hint);
        assert_eq!(out, [40, 41]);
    }

    /// `lookup_many` finds, key by key and in key order, what `lookup`
    /// finds: ascending keys close together (one walk), far apart (fresh
    /// descents past wide gaps), below and above every entry, and keys out
    /// of order or repeated (looked up one by one).
    #[test]
    fn lookup_many_finds_what_lookup_finds_key_by_key() {
        let index = IndexStorage::new(schema(false, IndexKind::BTree), &[DataType::Int8]);
        // Values 0..3000 in steps of 3, each on two rows; and -50 on one.
        let mut id = 0;
        for v in (0..3000).step_by(3) {
            for _ in 0..2 {
                index.insert(&[Value::Int8(v)], id).unwrap();
                id += 1;
            }
        }
        index.insert(&[Value::Int8(-50)], id).unwrap();
        // Entries of the head deleted, as a queue's would be.
        for (n, v) in (0..30).step_by(3).enumerate() {
            index.remove(&[Value::Int8(v)], 2 * n as u64);
        }
        let key_sets: Vec<Vec<i64>> = vec![
            (0..40).collect(),
            (-100..-40).collect(),
            vec![-50, 0, 3, 4, 2997, 2999, 5000],
            (0..3000).step_by(300).collect(),
            vec![30, 33, 36, 900, 903, 2400, 2403],
            vec![9, 3, 6],
            vec![6, 6, 6],
            vec![],
        ];
        let mut hint = LookupHint::default();
        for keys in key_sets {
            let keys: Vec<Vec<Value>> = keys.into_iter().map(|k| vec![Value::Int8(k)]).collect();
            let (mut found, mut owners) = (Vec::new(), Vec::new());
            index.lookup_many(&keys, &mut found, &mut owners, &mut hint);
            let mut expected = Vec::new();
            for (owner, key) in keys.iter().enumerate() {
                let mut ids = index.lookup(key);
                ids.sort_unstable();
                expected.extend(ids.into_iter().map(|id| (owner, id)));
            }
            let mut got: Vec<(usize, RowId)> = owners.into_iter().zip(found).collect();
            assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "{keys:?}: owners in key order");
            got.sort_unstable();
            assert_eq!(got, expected, "{keys:?}");
        }
    }
}
