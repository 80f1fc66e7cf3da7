//! One key's storage: the newest state in place, older states as undo.
//!
//! An [`Entry`] holds the key's newest committed state — or, while a batch
//! is being applied under the commit lock, the batch's state — stamped with
//! the commit timestamp that wrote it. A snapshot older than the stamp
//! rebuilds the state it sees by applying the entry's undo records, newest
//! first, to a copy ([`Entry::state_at`]). Writers change the entry in place
//! and push one undo record per change, so a push onto a list of a million
//! elements copies nothing; the records are dropped as soon as no snapshot
//! can need them (`super::gc`).
//!
//! The layout is kept small because a key costs what its entry costs: the
//! key and a string value share one allocation (`body`), a list and the undo
//! records hang off one optional box, and metadata is three millisecond
//! timestamps. With 16-byte keys and 32-byte values an entry takes 64 + 56
//! bytes of heap plus its slot in the shard's table.

pub(crate) use super::list::List;
use crate::mvcc::Timestamp;

/// What kind of value a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KvKind {
    /// A byte string (integers are stored as their decimal text).
    String,
    /// A list of byte strings.
    List,
}

impl KvKind {
    /// The name Redis's TYPE command gives the kind.
    pub fn name(self) -> &'static str {
        match self {
            KvKind::String => "string",
            KvKind::List => "list",
        }
    }
}

const KIND_ABSENT: u8 = 0;
const KIND_STRING: u8 = 1;
const KIND_LIST: u8 = 2;

/// Per-key metadata, in milliseconds since the Unix epoch (0: unset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// When the key was created.
    pub created_at: u64,
    /// When its value last changed.
    pub updated_at: u64,
    /// When it expires (0: never).
    pub expires_at: u64,
}

impl Meta {
    /// Whether the key is expired at `now` (ms).
    pub fn expired(&self, now: u64) -> bool {
        self.expires_at != 0 && self.expires_at <= now
    }
}

/// A value taken out of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Str(Box<[u8]>),
    List(List),
}

/// A key's whole state: its value (`None`: absent) and metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct State {
    pub value: Option<Value>,
    pub meta: Meta,
}

/// A borrowed view of a present value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ValueRef<'a> {
    Str(&'a [u8]),
    List(&'a List),
}

impl ValueRef<'_> {
    pub fn kind(&self) -> KvKind {
        match self {
            ValueRef::Str(_) => KvKind::String,
            ValueRef::List(_) => KvKind::List,
        }
    }
}

impl State {
    pub fn view(&self) -> Option<ValueRef<'_>> {
        match &self.value {
            None => None,
            Some(Value::Str(s)) => Some(ValueRef::Str(s)),
            Some(Value::List(l)) => Some(ValueRef::List(l)),
        }
    }
}

/// How to turn a state back into the one before a change.
#[derive(Debug)]
pub(crate) enum UndoAction {
    /// Put back this whole value (`None`: the key did not exist).
    Restore(Option<Value>),
    /// Only the metadata changed.
    Meta,
    /// Remove this many elements from the front / back (undoes a push).
    PopFront(usize),
    PopBack(usize),
    /// Put these elements back at the front / back, in list order (undoes
    /// a pop).
    PushFront(Vec<Box<[u8]>>),
    PushBack(Vec<Box<[u8]>>),
    /// Put back the element that was at this index.
    SetAt(usize, Box<[u8]>),
    /// Re-insert removed elements at these (ascending) positions.
    InsertAt(Vec<(usize, Box<[u8]>)>),
    /// Remove the element inserted at this index.
    RemoveAt(usize),
}

/// One undo record: the action, and the stamp and metadata of the state it
/// restores.
#[derive(Debug)]
pub(crate) struct Undo {
    pub stamp: Timestamp,
    pub meta: Meta,
    pub action: UndoAction,
    pub next: Option<Box<Undo>>,
}

/// Applies one undo action to a state (the metadata is set by the caller).
pub(crate) fn undo_value(value: &mut Option<Value>, action: UndoAction) {
    match action {
        UndoAction::Restore(old) => *value = old,
        UndoAction::Meta => {}
        other => {
            if value.is_none() {
                *value = Some(Value::List(List::new()));
            }
            let Some(Value::List(list)) = value else { return };
            match other {
                UndoAction::PopFront(n) => (0..n).for_each(|_| drop(list.pop_front())),
                UndoAction::PopBack(n) => (0..n).for_each(|_| drop(list.pop_back())),
                UndoAction::PushFront(items) => items.iter().rev().for_each(|item| list.push_front(item)),
                UndoAction::PushBack(items) => items.iter().for_each(|item| list.push_back(item)),
                UndoAction::SetAt(i, old) => drop(list.set(i, &old)),
                UndoAction::InsertAt(items) => {
                    for (i, item) in items {
                        list.insert(i.min(list.len()), &item);
                    }
                }
                UndoAction::RemoveAt(i) => drop(list.remove(i)),
                UndoAction::Restore(_) | UndoAction::Meta => {}
            }
        }
    }
}

/// Clones an undo action (old snapshots replay undo on a copy).
fn clone_action(action: &UndoAction) -> UndoAction {
    match action {
        UndoAction::Restore(v) => UndoAction::Restore(v.clone()),
        UndoAction::Meta => UndoAction::Meta,
        UndoAction::PopFront(n) => UndoAction::PopFront(*n),
        UndoAction::PopBack(n) => UndoAction::PopBack(*n),
        UndoAction::PushFront(v) => UndoAction::PushFront(v.clone()),
        UndoAction::PushBack(v) => UndoAction::PushBack(v.clone()),
        UndoAction::SetAt(i, v) => UndoAction::SetAt(*i, v.clone()),
        UndoAction::InsertAt(v) => UndoAction::InsertAt(v.clone()),
        UndoAction::RemoveAt(i) => UndoAction::RemoveAt(*i),
    }
}

/// Undo records and a list value, kept out of line so that string keys
/// without history pay one pointer for them.
#[derive(Debug, Default)]
struct Extra {
    list: Option<List>,
    undo: Option<Box<Undo>>,
}

/// Bits of `stamp_access` that hold the commit timestamp (2^48 commits is
/// nine years at a million commits a second).
const STAMP_BITS: u32 = 48;
const STAMP_MASK: u64 = (1 << STAMP_BITS) - 1;
/// `shape` holds the expiry time (low 46 bits: ms since the Unix epoch,
/// enough until the year 4200), the kind (2 bits) and the key length (high
/// 16 bits; `LONG_KEY` means the body starts with the length in LEB128).
const EXPIRY_BITS: u32 = 46;
const EXPIRY_MASK: u64 = (1 << EXPIRY_BITS) - 1;
const KIND_SHIFT: u32 = 46;
const KEY_LEN_SHIFT: u32 = 48;
const LONG_KEY: u64 = 0xFFFF;

/// One key in a shard's table: 48 bytes, and one allocation holding just
/// the key and the string value, so that with 16-byte keys and 32-byte
/// values both allocations fall in the allocator's 48-byte class.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Commit timestamp of the newest state (low 48 bits) and the coarse
    /// time of the last access in seconds, wrapping (high 16 bits, for LRU
    /// eviction).
    stamp_access: u64,
    /// Expiry time, kind and key length (see `EXPIRY_BITS`).
    shape: u64,
    /// Creation and last change, seconds since the Unix epoch.
    created: u32,
    updated: u32,
    /// Key · string value (a key of 65,535 bytes or more is preceded by its
    /// length in LEB128).
    body: Box<[u8]>,
    extra: Option<Box<Extra>>,
}

/// What a snapshot sees of an entry.
pub(crate) enum Seen<'a> {
    /// The newest state.
    Head(&'a Entry),
    /// An older state, rebuilt.
    Old(State),
}

/// Milliseconds → whole seconds, saturating at the u32 range.
fn secs(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

impl Entry {
    /// A new, absent key.
    pub fn new(key: &[u8]) -> Entry {
        let mut e = Entry { stamp_access: 0, shape: 0, created: 0, updated: 0, body: Box::default(), extra: None };
        e.set_body(KIND_ABSENT, key, &[]);
        e
    }

    /// Commit timestamp of the newest state.
    pub fn stamp(&self) -> Timestamp {
        self.stamp_access & STAMP_MASK
    }

    pub fn set_stamp(&mut self, ts: Timestamp) {
        self.stamp_access = (self.stamp_access & !STAMP_MASK) | (ts & STAMP_MASK);
    }

    /// The access clock (seconds, wrapping at 2^16) when last read or written.
    pub fn access(&self) -> u16 {
        (self.stamp_access >> STAMP_BITS) as u16
    }

    pub fn set_access(&mut self, clock: u16) {
        self.stamp_access = (self.stamp_access & STAMP_MASK) | (u64::from(clock) << STAMP_BITS);
    }

    fn kind(&self) -> u8 {
        ((self.shape >> KIND_SHIFT) & 3) as u8
    }

    /// The newest state's metadata (creation and update times in whole
    /// seconds, expiry in ms).
    pub fn meta(&self) -> Meta {
        Meta {
            created_at: u64::from(self.created) * 1000,
            updated_at: u64::from(self.updated) * 1000,
            expires_at: self.expires_at(),
        }
    }

    pub fn set_meta(&mut self, meta: Meta) {
        self.created = secs(meta.created_at);
        self.updated = secs(meta.updated_at);
        self.set_expires(meta.expires_at);
    }

    /// Expiry time in ms since the Unix epoch (0: none).
    pub fn expires_at(&self) -> u64 {
        self.shape & EXPIRY_MASK
    }

    pub fn set_expires(&mut self, at: u64) {
        self.shape = (self.shape & !EXPIRY_MASK) | at.min(EXPIRY_MASK);
    }

    pub fn set_updated(&mut self, at: u64) {
        self.updated = secs(at);
    }

    /// Whether the newest state is expired at `now` (ms).
    pub fn expired(&self, now: u64) -> bool {
        self.meta().expired(now)
    }

    /// Where the key starts and ends in the body.
    fn key_span(&self) -> (usize, usize) {
        let len = self.shape >> KEY_LEN_SHIFT;
        if len != LONG_KEY {
            (0, len as usize)
        } else {
            let (len, at) = read_len(&self.body);
            (at, at + len)
        }
    }

    pub fn key(&self) -> &[u8] {
        let (start, end) = self.key_span();
        self.body.get(start..end).unwrap_or(&[])
    }

    fn string_bytes(&self) -> &[u8] {
        let (_, end) = self.key_span();
        self.body.get(end..).unwrap_or(&[])
    }

    /// Rebuilds the body with this kind and string value, keeping the key.
    fn rebody(&mut self, kind: u8, value: &[u8]) {
        // The key (with its length prefix when long) is the body's start.
        let (_, end) = self.key_span();
        let key_len = (self.shape >> KEY_LEN_SHIFT) & 0xFFFF;
        self.shape = (self.shape & EXPIRY_MASK) | (u64::from(kind) << KIND_SHIFT) | (key_len << KEY_LEN_SHIFT);
        // A value of the old one's length (INCR mostly) is written in place.
        if let Some(old) = self.body.get_mut(end..)
            && old.len() == value.len()
        {
            old.copy_from_slice(value);
            return;
        }
        let mut body = Vec::with_capacity(end + value.len());
        body.extend_from_slice(&self.body[..end.min(self.body.len())]);
        body.extend_from_slice(value);
        self.body = body.into_boxed_slice();
    }

    /// Rebuilds the body with this kind, key and string value.
    fn set_body(&mut self, kind: u8, key: &[u8], value: &[u8]) {
        let short = key.len() < LONG_KEY as usize;
        let mut body = Vec::with_capacity(key.len() + value.len() + if short { 0 } else { 10 });
        if !short {
            write_len(&mut body, key.len());
        }
        body.extend_from_slice(key);
        body.extend_from_slice(value);
        let key_len = if short { key.len() as u64 } else { LONG_KEY };
        self.shape = (self.shape & EXPIRY_MASK) | (u64::from(kind) << KIND_SHIFT) | (key_len << KEY_LEN_SHIFT);
        self.body = body.into_boxed_slice();
    }

    /// Makes the newest state absent, keeping the key.
    fn clear_value(&mut self) {
        if self.kind() != KIND_ABSENT {
            self.rebody(KIND_ABSENT, &[]);
        }
    }

    /// Whether the key is absent in its newest state (a tombstone kept for
    /// older snapshots).
    pub fn is_absent(&self) -> bool {
        self.kind() == KIND_ABSENT
    }

    /// The newest value.
    pub fn view(&self) -> Option<ValueRef<'_>> {
        match self.kind() {
            KIND_STRING => Some(ValueRef::Str(self.string_bytes())),
            KIND_LIST => self.extra.as_ref().and_then(|e| e.list.as_ref()).map(ValueRef::List),
            _ => None,
        }
    }

    /// The newest list, for in-place changes.
    pub fn list_mut(&mut self) -> Option<&mut List> {
        if self.kind() != KIND_LIST {
            return None;
        }
        self.extra.as_mut().and_then(|e| e.list.as_mut())
    }

    /// Moves the newest state out (the entry is left absent).
    pub fn take_state(&mut self) -> State {
        let value = self.take_value();
        let meta = self.meta();
        self.clear_value();
        self.set_meta(Meta::default());
        State { value, meta }
    }

    /// Makes `value` the newest state (a string, with `meta`) and returns
    /// the state it replaces — [`Entry::take_state`] then
    /// [`Entry::put_state`] without the intermediate empty body or a copy
    /// of the new value.
    pub fn replace_with_string(&mut self, value: &[u8], meta: Meta) -> State {
        let old = State { value: self.take_value(), meta: self.meta() };
        self.set_meta(meta);
        self.rebody(KIND_STRING, value);
        self.drop_list();
        old
    }

    /// The newest value, copied (a string) or moved out (a list's
    /// elements); the body itself is left for the caller to replace.
    fn take_value(&mut self) -> Option<Value> {
        match self.kind() {
            KIND_STRING => Some(Value::Str(self.string_bytes().into())),
            KIND_LIST => Some(Value::List(self.extra.as_mut().and_then(|e| e.list.take()).unwrap_or_default())),
            _ => None,
        }
    }

    /// Installs a state as the newest.
    pub fn put_state(&mut self, state: State) {
        self.set_meta(state.meta);
        match state.value {
            None => {
                self.clear_value();
                self.drop_list();
            }
            Some(Value::Str(s)) => {
                self.rebody(KIND_STRING, &s);
                self.drop_list();
            }
            Some(Value::List(list)) => {
                if self.kind() != KIND_LIST {
                    self.rebody(KIND_LIST, &[]);
                }
                self.extra.get_or_insert_with(Box::default).list = Some(list);
            }
        }
    }

    fn drop_list(&mut self) {
        if let Some(extra) = &mut self.extra {
            extra.list = None;
            if extra.undo.is_none() {
                self.extra = None;
            }
        }
    }

    /// Records how to get back to the state before a change.
    pub fn push_undo(&mut self, stamp: Timestamp, meta: Meta, action: UndoAction) {
        let extra = self.extra.get_or_insert_with(Box::default);
        let next = extra.undo.take();
        extra.undo = Some(Box::new(Undo { stamp, meta, action, next }));
    }

    /// Removes the newest undo record (rolling a change back).
    pub fn pop_undo(&mut self) -> Option<Undo> {
        let extra = self.extra.as_mut()?;
        let mut undo = extra.undo.take()?;
        extra.undo = undo.next.take();
        if extra.undo.is_none() && extra.list.is_none() {
            self.extra = None;
        }
        Some(*undo)
    }

    /// Rolls the newest change back in place.
    pub fn roll_back_one(&mut self) -> bool {
        let Some(undo) = self.pop_undo() else { return false };
        let mut state = self.take_state();
        undo_value(&mut state.value, undo.action);
        state.meta = undo.meta;
        self.put_state(state);
        self.set_stamp(undo.stamp);
        true
    }

    pub fn has_undo(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| e.undo.is_some())
    }

    /// Drops undo records no snapshot at or after `watermark` needs: every
    /// record past the first that restores a state stamped at or before it.
    pub fn trim_undo(&mut self, watermark: Timestamp) {
        let stamp = self.stamp();
        let Some(extra) = self.extra.as_mut() else { return };
        if stamp <= watermark {
            extra.undo = None;
        } else {
            let mut cur = extra.undo.as_mut();
            while let Some(undo) = cur {
                if undo.stamp <= watermark {
                    undo.next = None;
                    break;
                }
                cur = undo.next.as_mut();
            }
        }
        if extra.undo.is_none() && extra.list.is_none() {
            self.extra = None;
        }
    }

    /// The state a snapshot at `read_ts` sees. When the undo it needs was
    /// already dropped (only possible for a reader that did not register a
    /// snapshot), the newest state is the one to read.
    pub fn state_at(&self, read_ts: Timestamp) -> Seen<'_> {
        if self.stamp() <= read_ts {
            return Seen::Head(self);
        }
        let mut undo = self.extra.as_ref().and_then(|e| e.undo.as_deref());
        let mut state: Option<State> = None;
        while let Some(record) = undo {
            let s = state.get_or_insert_with(|| self.clone_state());
            undo_value(&mut s.value, clone_action(&record.action));
            s.meta = record.meta;
            if record.stamp <= read_ts {
                return Seen::Old(state.unwrap_or_default());
            }
            undo = record.next.as_deref();
        }
        Seen::Head(self)
    }

    pub fn clone_state(&self) -> State {
        let value = match self.view() {
            None => None,
            Some(ValueRef::Str(s)) => Some(Value::Str(s.into())),
            Some(ValueRef::List(l)) => Some(Value::List(l.clone())),
        };
        State { value, meta: self.meta() }
    }

    /// Approximate heap bytes of the newest state (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        let list = match self.view() {
            Some(ValueRef::List(l)) => l.heap_bytes(),
            _ => 0,
        };
        std::mem::size_of::<Entry>() + self.body.len() + list
    }
}

impl Seen<'_> {
    /// The value seen (`None`: absent).
    pub fn view(&self) -> Option<ValueRef<'_>> {
        match self {
            Seen::Head(e) => e.view(),
            Seen::Old(s) => s.view(),
        }
    }

    pub fn meta(&self) -> Meta {
        match self {
            Seen::Head(e) => e.meta(),
            Seen::Old(s) => s.meta,
        }
    }
}

/// Appends a LEB128 length.
fn write_len(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a LEB128 length: (value, bytes used).
fn read_len(bytes: &[u8]) -> (usize, usize) {
    let mut value = 0usize;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= ((b & 0x7f) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<Value> {
        Some(Value::Str(v.as_bytes().into()))
    }

    #[test]
    fn entries_stay_small() {
        // A key costs its entry: 48 bytes is one allocator size class.
        assert_eq!(std::mem::size_of::<Entry>(), 48);
        let mut e = Entry::new(b"k");
        e.set_stamp(123);
        e.set_access(u16::MAX);
        assert_eq!((e.stamp(), e.access()), (123, u16::MAX));
        e.set_stamp(7);
        assert_eq!((e.stamp(), e.access()), (7, u16::MAX));
    }

    #[test]
    fn body_keeps_key_and_value() {
        let mut e = Entry::new(b"some-key");
        assert!(e.is_absent());
        e.put_state(State { value: s("hello"), meta: Meta::default() });
        assert_eq!(e.key(), b"some-key");
        assert!(matches!(e.view(), Some(ValueRef::Str(b"hello"))));
        let long = vec![7u8; 70_000];
        let mut e = Entry::new(&long);
        e.put_state(State { value: s("x"), meta: Meta::default() });
        assert_eq!(e.key(), &long[..]);
    }

    #[test]
    fn old_snapshots_rebuild_their_state() {
        let mut e = Entry::new(b"k");
        // ts 3: created as a list [a]
        e.push_undo(e.stamp(), e.meta(), UndoAction::Restore(None));
        e.put_state(State { value: Some(Value::List([&b"a"[..]].into_iter().collect())), meta: Meta::default() });
        e.set_stamp(3);
        // ts 5: push b at the back
        e.push_undo(e.stamp(), e.meta(), UndoAction::PopBack(1));
        e.list_mut().unwrap().push_back(b"b");
        e.set_stamp(5);
        let len_at = |e: &Entry, ts| match e.state_at(ts).view() {
            Some(ValueRef::List(l)) => Some(l.len()),
            _ => None,
        };
        assert_eq!(len_at(&e, 6), Some(2));
        assert_eq!(len_at(&e, 4), Some(1));
        assert_eq!(len_at(&e, 2), None);
        e.trim_undo(4);
        assert_eq!(len_at(&e, 4), Some(1));
        e.trim_undo(5);
        assert!(!e.has_undo());
        assert!(!e.roll_back_one());
    }

    #[test]
    fn roll_back_restores_in_place() {
        let mut e = Entry::new(b"k");
        e.push_undo(0, Meta::default(), UndoAction::Restore(None));
        e.put_state(State { value: s("v1"), meta: Meta { created_at: 1, updated_at: 1, expires_at: 0 } });
        e.set_stamp(1);
        e.push_undo(1, e.meta(), UndoAction::Restore(s("v1")));
        e.put_state(State { value: s("v2"), meta: Meta { created_at: 1, updated_at: 2, expires_at: 9 } });
        e.set_stamp(2);
        assert!(e.roll_back_one());
        assert!(matches!(e.view(), Some(ValueRef::Str(b"v1"))));
        assert_eq!(e.expires_at(), 0);
        assert!(e.roll_back_one());
        assert!(e.is_absent());
    }

    #[test]
    fn replacing_with_a_string_returns_what_it_replaced() {
        let long = vec![b'k'; 300]; // a key with a length prefix
        for key in [&b"k"[..], &long[..]] {
            let mut e = Entry::new(key);
            // Creation and update times are kept in whole seconds.
            let meta = |t: u64| Meta { created_at: 1000, updated_at: t * 1000, expires_at: 0 };
            let old = e.replace_with_string(b"10", meta(1));
            assert!(old.value.is_none());
            // Same length: written in place; then longer, then shorter.
            for (value, t) in [(&b"11"[..], 2), (b"100", 3), (b"9", 4)] {
                let before: Vec<u8> = match e.view() {
                    Some(ValueRef::Str(v)) => v.to_vec(),
                    _ => panic!("not a string"),
                };
                let old = e.replace_with_string(value, meta(t));
                assert!(matches!(old.value, Some(Value::Str(ref v)) if v[..] == before[..]));
                assert_eq!(old.meta.updated_at, (t - 1) * 1000);
                assert!(matches!(e.view(), Some(ValueRef::Str(v)) if v == value));
                assert_eq!(e.key(), key);
                assert_eq!(e.meta().updated_at, t * 1000);
            }
            // A list is replaced whole, and comes back as the old state.
            e.put_state(State { value: Some(Value::List([&b"a"[..]].into_iter().collect())), meta: meta(5) });
            let old = e.replace_with_string(b"s", meta(6));
            assert!(matches!(old.value, Some(Value::List(ref l)) if l.len() == 1));
            assert!(e.list_mut().is_none());
            assert!(matches!(e.view(), Some(ValueRef::Str(b"s"))));
        }
    }
}
