//! Key-value commands: what a client asks for, worked out against the
//! keyspace into a reply and the [`KvOp`]s that make the change.
//!
//! Commands follow Redis's semantics (the RESP front end is a thin parser
//! over them; the HTTP API and the embedded [`crate::Kv`] handle use the
//! same ones). Reads go through an `Access`: under the commit lock it
//! reads the batch's newest state, otherwise the newest published one. A
//! key whose TTL passed reads as absent; writing to one logs its deletion
//! first.

use std::collections::BinaryHeap;

use serde_bytes::ByteBuf;

use crate::error::{Error, Result};
use crate::keyspace::entry::{Meta, ValueRef};
use crate::keyspace::{KvKind, KvOp};

/// How SET treats an existing key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SetCondition {
    /// Set either way.
    #[default]
    Always,
    /// Only if the key does not exist (NX).
    IfAbsent,
    /// Only if the key exists (XX).
    IfPresent,
}

/// What happens to a key's expiry when it is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SetExpiry {
    /// No expiry (or the configured `default_ttl` for a new value).
    #[default]
    Clear,
    /// Keep the key's current expiry (KEEPTTL).
    Keep,
    /// Expire at this time, ms since the Unix epoch.
    At(u64),
}

/// Which keys are evicted when `max_memory` is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Eviction {
    /// None: writes that add data fail (Redis's `noeviction`).
    #[default]
    NoEviction,
    /// The least recently used keys, sampled (`allkeys-lru`).
    AllKeysLru,
    /// Keys with a TTL, nearest expiry first (`volatile-ttl`).
    VolatileTtl,
}

impl std::str::FromStr for Eviction {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Eviction, String> {
        match s.to_ascii_lowercase().as_str() {
            "noeviction" => Ok(Eviction::NoEviction),
            "allkeys-lru" => Ok(Eviction::AllKeysLru),
            "volatile-ttl" => Ok(Eviction::VolatileTtl),
            other => Err(format!("unknown eviction policy {other:?} (noeviction, allkeys-lru, volatile-ttl)")),
        }
    }
}

/// Conditions on EXPIRE (Redis 7's NX / XX / GT / LT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpireCondition {
    /// Always.
    #[default]
    Always,
    /// Only when the key has no expiry.
    IfNone,
    /// Only when the key has an expiry.
    IfSome,
    /// Only when the new expiry is later (no expiry counts as infinite).
    IfGreater,
    /// Only when the new expiry is earlier.
    IfLess,
}

/// A key-value command. Field names say what each variant's doc refers to
/// (keys and values are raw bytes).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq)]
pub enum KvCommand {
    /// The string at `key` (nil when absent).
    Get { key: Vec<u8> },
    /// Sets a string. Replies OK, or nil when the condition failed; with
    /// `get`, the old string (nil when absent) instead.
    Set { key: Vec<u8>, value: Vec<u8>, condition: SetCondition, expiry: SetExpiry, get: bool },
    /// Replaces the string of an existing key only (update), keeping or
    /// replacing the TTL; replies 1 when updated, 0 when the key is absent.
    Update { key: Vec<u8>, value: Vec<u8>, expiry: SetExpiry },
    /// The string, then removes the key.
    GetDel { key: Vec<u8> },
    /// The string, changing its expiry when `expiry` is given (`Clear`:
    /// PERSIST).
    GetEx { key: Vec<u8>, expiry: Option<SetExpiry> },
    /// Strings of many keys (nil for absent keys and lists).
    MGet { keys: Vec<Vec<u8>> },
    /// Sets many strings; with `only_if_none`, only when none exists (1/0).
    MSet { pairs: Vec<(Vec<u8>, Vec<u8>)>, only_if_none: bool },
    /// Removes keys; replies how many existed.
    Delete { keys: Vec<Vec<u8>> },
    /// How many of the keys exist (a key named twice counts twice).
    Exists { keys: Vec<Vec<u8>> },
    /// "string", "list" or "none".
    Type { key: Vec<u8> },
    /// Adds to the integer in a string (absent: 0); replies the result.
    IncrBy { key: Vec<u8>, by: i64 },
    /// Appends to a string (absent: empty); replies the new length.
    Append { key: Vec<u8>, value: Vec<u8> },
    /// Length of the string (0 when absent).
    StrLen { key: Vec<u8> },
    /// Sets the expiry time (ms since the Unix epoch); a time already past
    /// removes the key. Replies 1 when set, 0 when absent or the
    /// condition failed.
    Expire { key: Vec<u8>, at: u64, condition: ExpireCondition },
    /// Remaining time to live: -2 absent, -1 no expiry, else ms (or
    /// seconds, rounded, when `millis` is false).
    Ttl { key: Vec<u8>, millis: bool },
    /// Expiry time: -2 absent, -1 none, else ms (or s) since the epoch.
    ExpireTime { key: Vec<u8>, millis: bool },
    /// Removes the expiry; 1 when there was one.
    Persist { key: Vec<u8> },
    /// Pushes values at the front (left) or back; `only_if_exists` does
    /// nothing for an absent key. Replies the new length.
    Push { key: Vec<u8>, front: bool, values: Vec<Vec<u8>>, only_if_exists: bool },
    /// Pops from the front or back: one element (nil when absent) or, with
    /// `count`, an array (nil array when absent).
    Pop { key: Vec<u8>, front: bool, count: Option<u64> },
    /// Pops one element from the first of `keys` that holds a list:
    /// `[key, element]`, or a nil array when none does (BLPOP and BRPOP
    /// when they do not wait, as inside MULTI).
    PopFirst { keys: Vec<Vec<u8>>, front: bool },
    /// Length of the list (0 when absent).
    Len { key: Vec<u8> },
    /// Elements `start..=stop` (negative: from the end).
    Range { key: Vec<u8>, start: i64, stop: i64 },
    /// The element at an index (negative: from the end), nil outside.
    Index { key: Vec<u8>, index: i64 },
    /// Replaces the element at an index.
    ListSet { key: Vec<u8>, index: i64, value: Vec<u8> },
    /// Removes up to |count| elements equal to `value` (count > 0 from the
    /// front, < 0 from the back, 0 all); replies how many.
    Remove { key: Vec<u8>, count: i64, value: Vec<u8> },
    /// Keeps only elements `start..=stop`.
    Trim { key: Vec<u8>, start: i64, stop: i64 },
    /// Inserts before/after the first `pivot`; replies the new length, -1
    /// without the pivot, 0 when the key is absent.
    Insert { key: Vec<u8>, before: bool, pivot: Vec<u8>, value: Vec<u8> },
    /// Positions of `element` (LPOS): `rank` picks the n-th match (negative:
    /// from the back), `count` how many (0: all; `None`: one, as an
    /// integer), `max_len` how many elements to look at (0: all).
    Pos { key: Vec<u8>, element: Vec<u8>, rank: i64, count: Option<u64>, max_len: u64 },
    /// Moves a key's value and TTL to another name; with `only_if_absent`,
    /// only when the new name is free (1/0).
    Rename { from: Vec<u8>, to: Vec<u8>, only_if_absent: bool },
    /// Keys matching a glob pattern.
    Keys { pattern: Vec<u8> },
    /// One step of a cursor scan: keys after `cursor` (0 starts), at most
    /// about `count`, filtered by pattern and kind; replies the next cursor
    /// (0: done) and the keys.
    Scan { cursor: u64, pattern: Option<Vec<u8>>, count: usize, kind: Option<KvKind> },
    /// A random key (nil when the keyspace is empty).
    RandomKey,
    /// Number of keys.
    DbSize,
    /// Removes every key.
    Flush,
    /// Value, kind and metadata of a key (nil when absent).
    Info { key: Vec<u8> },
    /// Keys with a prefix after a cursor key, in key order, with their info
    /// (the HTTP listing): at most `limit`.
    List { prefix: Vec<u8>, after: Option<Vec<u8>>, limit: usize },
}

/// A key's value and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvInfo {
    /// The key.
    pub key: Vec<u8>,
    /// String or list.
    pub kind: KvKind,
    /// The string, or the list's elements.
    pub value: KvValue,
    /// Creation, update and expiry times (ms since the Unix epoch).
    pub meta: Meta,
}

/// A value read out of the keyspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvValue {
    /// A string.
    String(Vec<u8>),
    /// A list.
    List(Vec<Vec<u8>>),
}

/// The reply to a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvReply {
    /// Done.
    Ok,
    /// No value.
    Nil,
    /// No array.
    NilArray,
    /// An integer.
    Int(i64),
    /// A string value.
    Bytes(Vec<u8>),
    /// A status word (TYPE).
    Status(&'static str),
    /// Several replies.
    Array(Vec<KvReply>),
    /// A scan step.
    Scan {
        /// Next cursor (0: done).
        cursor: u64,
        /// Keys found.
        keys: Vec<Vec<u8>>,
    },
    /// Key metadata.
    Info(Box<KvInfo>),
    /// A listing page.
    Listing(Vec<KvInfo>),
}

impl KvCommand {
    /// Whether the command may change the keyspace.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            KvCommand::Get { .. }
                | KvCommand::MGet { .. }
                | KvCommand::Exists { .. }
                | KvCommand::Type { .. }
                | KvCommand::StrLen { .. }
                | KvCommand::Ttl { .. }
                | KvCommand::ExpireTime { .. }
                | KvCommand::Len { .. }
                | KvCommand::Range { .. }
                | KvCommand::Index { .. }
                | KvCommand::Pos { .. }
                | KvCommand::Keys { .. }
                | KvCommand::Scan { .. }
                | KvCommand::RandomKey
                | KvCommand::DbSize
                | KvCommand::Info { .. }
                | KvCommand::List { .. }
        ) && !matches!(self, KvCommand::GetEx { expiry: None, .. })
    }

    /// Whether the command can add data (refused over `max_memory` without
    /// eviction, as Redis's `denyoom` commands are).
    pub fn adds_data(&self) -> bool {
        matches!(
            self,
            KvCommand::Set { .. }
                | KvCommand::Update { .. }
                | KvCommand::MSet { .. }
                | KvCommand::IncrBy { .. }
                | KvCommand::Append { .. }
                | KvCommand::Push { .. }
                | KvCommand::ListSet { .. }
                | KvCommand::Insert { .. }
        )
    }

    /// The keys a command names (for WATCH and blocking pops).
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            KvCommand::MGet { keys }
            | KvCommand::Delete { keys }
            | KvCommand::Exists { keys }
            | KvCommand::PopFirst { keys, .. } => keys.iter().map(|k| &k[..]).collect(),
            KvCommand::MSet { pairs, .. } => pairs.iter().map(|(k, _)| &k[..]).collect(),
            KvCommand::Rename { from, to, .. } => vec![from, to],
            KvCommand::Keys { .. }
            | KvCommand::Scan { .. }
            | KvCommand::RandomKey
            | KvCommand::DbSize
            | KvCommand::Flush
            | KvCommand::List { .. } => Vec::new(),
            KvCommand::Get { key }
            | KvCommand::Set { key, .. }
            | KvCommand::Update { key, .. }
            | KvCommand::GetDel { key }
            | KvCommand::GetEx { key, .. }
            | KvCommand::Type { key }
            | KvCommand::IncrBy { key, .. }
            | KvCommand::Append { key, .. }
            | KvCommand::StrLen { key }
            | KvCommand::Expire { key, .. }
            | KvCommand::Ttl { key, .. }
            | KvCommand::ExpireTime { key, .. }
            | KvCommand::Persist { key }
            | KvCommand::Push { key, .. }
            | KvCommand::Pop { key, .. }
            | KvCommand::Len { key }
            | KvCommand::Range { key, .. }
            | KvCommand::Index { key, .. }
            | KvCommand::ListSet { key, .. }
            | KvCommand::Remove { key, .. }
            | KvCommand::Trim { key, .. }
            | KvCommand::Insert { key, .. }
            | KvCommand::Pos { key, .. }
            | KvCommand::Info { key } => vec![key],
        }
    }
}

/// What a command reads and writes through.
pub(crate) trait Access {
    /// Current time, ms since the Unix epoch.
    fn now(&self) -> u64;
    /// The configured default TTL in ms (0: none).
    fn default_ttl(&self) -> u64;
    /// Runs `f` on the key's value and metadata (`None`: absent or expired).
    fn read<R>(&mut self, key: &[u8], f: impl FnOnce(Option<(ValueRef<'_>, Meta)>) -> R) -> R;
    /// Applies a change (only under the commit lock).
    fn write(&mut self, op: KvOp) -> Result<()>;
    /// Multi-key reads: keys present, filtered, at the access's timestamp.
    fn keys(&mut self, filter: &mut dyn FnMut(&[u8], ValueRef<'_>, Meta) -> bool) -> Vec<Vec<u8>>;
    /// A scan step (see [`KvCommand::Scan`]).
    fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        filter: &mut dyn FnMut(&[u8], ValueRef<'_>) -> bool,
    ) -> (u64, Vec<Vec<u8>>);
    /// A random present key.
    fn random_key(&mut self) -> Option<Vec<u8>>;
    /// Number of present keys.
    fn len(&mut self) -> usize;
}

/// Runs one command.
pub(crate) fn run<A: Access>(a: &mut A, cmd: KvCommand) -> Result<KvReply> {
    let now = a.now();
    match cmd {
        KvCommand::Get { key } => a.read(&key, |v| match v {
            None => Ok(KvReply::Nil),
            Some((ValueRef::Str(s), _)) => Ok(KvReply::Bytes(s.to_vec())),
            Some(_) => Err(Error::WrongType),
        }),
        KvCommand::Set { key, value, condition, expiry, get } => {
            let old = a.read(&key, |v| match v {
                None => Ok((None, None)),
                Some((ValueRef::Str(s), m)) => Ok((Some(get.then(|| s.to_vec())), Some(m))),
                Some(_) if get => Err(Error::WrongType),
                Some((_, m)) => Ok((Some(None), Some(m))),
            })?;
            let (exists, old_value) = (old.0.is_some(), old.0.flatten());
            let reply = if get { old_value.map_or(KvReply::Nil, KvReply::Bytes) } else { KvReply::Ok };
            let go = match condition {
                SetCondition::Always => true,
                SetCondition::IfAbsent => !exists,
                SetCondition::IfPresent => exists,
            };
            if !go {
                return Ok(if get { reply } else { KvReply::Nil });
            }
            put(a, key, value, expiry, old.1, now)?;
            Ok(reply)
        }
        KvCommand::Update { key, value, expiry } => {
            let old = a.read(&key, |v| v.map(|(v, m)| (v.kind(), m)));
            match old {
                None => Ok(KvReply::Int(0)),
                Some((KvKind::List, _)) => Err(Error::WrongType),
                Some((KvKind::String, meta)) => {
                    put(a, key, value, expiry, Some(meta), now)?;
                    Ok(KvReply::Int(1))
                }
            }
        }
        KvCommand::GetDel { key } => {
            let old = a.read(&key, |v| match v {
                None => Ok(None),
                Some((ValueRef::Str(s), _)) => Ok(Some(s.to_vec())),
                Some(_) => Err(Error::WrongType),
            })?;
            match old {
                None => Ok(KvReply::Nil),
                Some(value) => {
                    a.write(KvOp::Delete { key })?;
                    Ok(KvReply::Bytes(value))
                }
            }
        }
        KvCommand::GetEx { key, expiry } => {
            let old = a.read(&key, |v| match v {
                None => Ok(None),
                Some((ValueRef::Str(s), m)) => Ok(Some((s.to_vec(), m))),
                Some(_) => Err(Error::WrongType),
            })?;
            let Some((value, meta)) = old else { return Ok(KvReply::Nil) };
            match expiry {
                None | Some(SetExpiry::Keep) => {}
                Some(SetExpiry::Clear) => {
                    if meta.expires_at != 0 {
                        a.write(KvOp::Expire { key, expires_at: 0 })?;
                    }
                }
                Some(SetExpiry::At(at)) if at <= now => a.write(KvOp::Delete { key })?,
                Some(SetExpiry::At(at)) => a.write(KvOp::Expire { key, expires_at: at })?,
            }
            Ok(KvReply::Bytes(value))
        }
        KvCommand::MGet { keys } => Ok(KvReply::Array(
            keys.iter()
                .map(|k| {
                    a.read(k, |v| match v {
                        Some((ValueRef::Str(s), _)) => KvReply::Bytes(s.to_vec()),
                        _ => KvReply::Nil,
                    })
                })
                .collect(),
        )),
        KvCommand::MSet { pairs, only_if_none } => {
            if only_if_none && pairs.iter().any(|(k, _)| a.read(k, |v| v.is_some())) {
                return Ok(KvReply::Int(0));
            }
            for (key, value) in pairs {
                let meta = a.read(&key, |v| v.map(|(_, m)| m));
                put(a, key, value, SetExpiry::Clear, meta, now)?;
            }
            Ok(if only_if_none { KvReply::Int(1) } else { KvReply::Ok })
        }
        KvCommand::Delete { keys } => {
            let mut n = 0;
            for key in keys {
                if a.read(&key, |v| v.is_some()) {
                    a.write(KvOp::Delete { key })?;
                    n += 1;
                }
            }
            Ok(KvReply::Int(n))
        }
        KvCommand::Exists { keys } => {
            Ok(KvReply::Int(keys.iter().filter(|k| a.read(k, |v| v.is_some())).count() as i64))
        }
        KvCommand::Type { key } => Ok(KvReply::Status(a.read(&key, |v| v.map_or("none", |(v, _)| v.kind().name())))),
        KvCommand::IncrBy { key, by } => {
            let old = a.read(&key, |v| match v {
                None => Ok((0, None)),
                Some((ValueRef::Str(s), m)) => parse_i64(s).map(|n| (n, Some(m))),
                Some(_) => Err(Error::WrongType),
            })?;
            let n = old.0.checked_add(by).ok_or(Error::NotAnInteger("increment or decrement would overflow"))?;
            put(a, key, n.to_string().into_bytes(), SetExpiry::Keep, old.1, now)?;
            Ok(KvReply::Int(n))
        }
        KvCommand::Append { key, value } => {
            let old = a.read(&key, |v| match v {
                None => Ok((Vec::new(), None)),
                Some((ValueRef::Str(s), m)) => Ok((s.to_vec(), Some(m))),
                Some(_) => Err(Error::WrongType),
            })?;
            let mut joined = old.0;
            joined.extend_from_slice(&value);
            let len = joined.len() as i64;
            put(a, key, joined, SetExpiry::Keep, old.1, now)?;
            Ok(KvReply::Int(len))
        }
        KvCommand::StrLen { key } => a.read(&key, |v| match v {
            None => Ok(KvReply::Int(0)),
            Some((ValueRef::Str(s), _)) => Ok(KvReply::Int(s.len() as i64)),
            Some(_) => Err(Error::WrongType),
        }),
        KvCommand::Expire { key, at, condition } => {
            let Some(meta) = a.read(&key, |v| v.map(|(_, m)| m)) else { return Ok(KvReply::Int(0)) };
            let current = if meta.expires_at == 0 { u64::MAX } else { meta.expires_at };
            let go = match condition {
                ExpireCondition::Always => true,
                ExpireCondition::IfNone => meta.expires_at == 0,
                ExpireCondition::IfSome => meta.expires_at != 0,
                ExpireCondition::IfGreater => meta.expires_at != 0 && at > current,
                ExpireCondition::IfLess => at < current,
            };
            if !go {
                return Ok(KvReply::Int(0));
            }
            if at <= now {
                a.write(KvOp::Delete { key })?;
            } else {
                a.write(KvOp::Expire { key, expires_at: at })?;
            }
            Ok(KvReply::Int(1))
        }
        KvCommand::Ttl { key, millis } => Ok(KvReply::Int(a.read(&key, |v| match v {
            None => -2,
            Some((_, m)) if m.expires_at == 0 => -1,
            Some((_, m)) => {
                let left = m.expires_at.saturating_sub(now) as i64;
                if millis { left } else { (left + 500) / 1000 }
            }
        }))),
        KvCommand::ExpireTime { key, millis } => Ok(KvReply::Int(a.read(&key, |v| match v {
            None => -2,
            Some((_, m)) if m.expires_at == 0 => -1,
            Some((_, m)) => {
                let at = m.expires_at as i64;
                if millis { at } else { at / 1000 }
            }
        }))),
        KvCommand::Persist { key } => {
            let has = a.read(&key, |v| v.is_some_and(|(_, m)| m.expires_at != 0));
            if has {
                a.write(KvOp::Expire { key, expires_at: 0 })?;
            }
            Ok(KvReply::Int(i64::from(has)))
        }
        KvCommand::Push { key, front, values, only_if_exists } => {
            let old = a.read(&key, |v| match v {
                None => Ok(None),
                Some((ValueRef::List(l), _)) => Ok(Some(l.len())),
                Some(_) => Err(Error::WrongType),
            })?;
            if old.is_none() && only_if_exists {
                return Ok(KvReply::Int(0));
            }
            let len = old.unwrap_or(0) + values.len();
            let values = values.into_iter().map(ByteBuf::from).collect();
            a.write(KvOp::Push { key: key.clone(), front, values, at: now })?;
            let ttl = a.default_ttl();
            if old.is_none() && ttl != 0 {
                a.write(KvOp::Expire { key, expires_at: now.saturating_add(ttl) })?;
            }
            Ok(KvReply::Int(len as i64))
        }
        KvCommand::Pop { key, front, count } => {
            let want = count.unwrap_or(1);
            let popped = a.read(&key, |v| match v {
                None => Ok(None),
                Some((ValueRef::List(l), _)) => {
                    let n = usize::try_from(want).unwrap_or(usize::MAX).min(l.len());
                    let items: Vec<Vec<u8>> = if front {
                        l.iter().take(n).map(|e| e.to_vec()).collect()
                    } else {
                        l.iter().rev().take(n).map(|e| e.to_vec()).collect()
                    };
                    Ok(Some(items))
                }
                Some(_) => Err(Error::WrongType),
            })?;
            let Some(items) = popped else {
                return Ok(if count.is_some() { KvReply::NilArray } else { KvReply::Nil });
            };
            if !items.is_empty() {
                a.write(KvOp::Pop { key, front, count: items.len() as u64, at: now })?;
            }
            Ok(match count {
                None => items.into_iter().next().map_or(KvReply::Nil, KvReply::Bytes),
                Some(_) => KvReply::Array(items.into_iter().map(KvReply::Bytes).collect()),
            })
        }
        KvCommand::PopFirst { keys, front } => {
            for key in keys {
                if let KvReply::Bytes(element) = run(a, KvCommand::Pop { key: key.clone(), front, count: None })? {
                    return Ok(KvReply::Array(vec![KvReply::Bytes(key), KvReply::Bytes(element)]));
                }
            }
            Ok(KvReply::NilArray)
        }
        KvCommand::Len { key } => a.read(&key, |v| match v {
            None => Ok(KvReply::Int(0)),
            Some((ValueRef::List(l), _)) => Ok(KvReply::Int(l.len() as i64)),
            Some(_) => Err(Error::WrongType),
        }),
        KvCommand::Range { key, start, stop } => a.read(&key, |v| match v {
            None => Ok(KvReply::Array(Vec::new())),
            Some((ValueRef::List(l), _)) => {
                let (from, to) = span(l.len(), start, stop);
                Ok(KvReply::Array(l.range(from, to).map(|e| KvReply::Bytes(e.to_vec())).collect()))
            }
            Some(_) => Err(Error::WrongType),
        }),
        KvCommand::Index { key, index } => a.read(&key, |v| match v {
            None => Ok(KvReply::Nil),
            Some((ValueRef::List(l), _)) => {
                Ok(position(l.len(), index).and_then(|i| l.get(i)).map_or(KvReply::Nil, |e| KvReply::Bytes(e.to_vec())))
            }
            Some(_) => Err(Error::WrongType),
        }),
        KvCommand::ListSet { key, index, value } => {
            let at = a.read(&key, |v| match v {
                None => Err(Error::NoSuchKey),
                Some((ValueRef::List(l), _)) => position(l.len(), index).ok_or(Error::IndexOutOfRange),
                Some(_) => Err(Error::WrongType),
            })?;
            a.write(KvOp::ListSet { key, index: at as u64, value, at: now })?;
            Ok(KvReply::Ok)
        }
        KvCommand::Remove { key, count, value } => {
            let indexes = a.read(&key, |v| match v {
                None => Ok(Vec::new()),
                Some((ValueRef::List(l), _)) => {
                    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                    let matches = |(i, e): (usize, &[u8])| (e == &value[..]).then_some(i as u64);
                    let items = l.iter().enumerate();
                    let mut found: Vec<u64> = if count >= 0 {
                        items.filter_map(matches).take(limit).collect()
                    } else {
                        items.rev().filter_map(matches).take(limit).collect()
                    };
                    found.sort_unstable();
                    Ok(found)
                }
                Some(_) => Err(Error::WrongType),
            })?;
            let n = indexes.len() as i64;
            if n > 0 {
                a.write(KvOp::ListRemove { key, indexes, at: now })?;
            }
            Ok(KvReply::Int(n))
        }
        KvCommand::Trim { key, start, stop } => {
            let range = a.read(&key, |v| match v {
                None => Ok(None),
                Some((ValueRef::List(l), _)) => Ok(Some((l.len(), span(l.len(), start, stop)))),
                Some(_) => Err(Error::WrongType),
            })?;
            if let Some((len, (from, to))) = range
                && (from, to) != (0, len)
            {
                if from >= to {
                    a.write(KvOp::Delete { key })?;
                } else {
                    a.write(KvOp::ListTrim { key, start: from as u64, end: to as u64, at: now })?;
                }
            }
            Ok(KvReply::Ok)
        }
        KvCommand::Insert { key, before, pivot, value } => {
            let found = a.read(&key, |v| match v {
                None => Ok(None),
                Some((ValueRef::List(l), _)) => Ok(Some((l.len(), l.iter().position(|e| e == &pivot[..])))),
                Some(_) => Err(Error::WrongType),
            })?;
            match found {
                None => Ok(KvReply::Int(0)),
                Some((_, None)) => Ok(KvReply::Int(-1)),
                Some((len, Some(i))) => {
                    let index = if before { i } else { i + 1 };
                    a.write(KvOp::ListInsert { key, index: index as u64, value, at: now })?;
                    Ok(KvReply::Int(len as i64 + 1))
                }
            }
        }
        KvCommand::Pos { key, element, rank, count, max_len } => {
            if rank == 0 {
                return Err(Error::InvalidParameter(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into(),
                ));
            }
            let found = a.read(&key, |v| match v {
                None => Ok(Vec::new()),
                Some((ValueRef::List(l), _)) => {
                    let limit = if max_len == 0 { usize::MAX } else { max_len as usize };
                    let want = match count {
                        None => 1,
                        Some(0) => usize::MAX,
                        Some(n) => n as usize,
                    };
                    let skip = (rank.unsigned_abs() - 1) as usize;
                    let hit = |(i, e): (usize, &[u8])| (e == &element[..]).then_some(i as i64);
                    let items = l.iter().enumerate();
                    Ok(if rank > 0 {
                        items.take(limit).filter_map(hit).skip(skip).take(want).collect()
                    } else {
                        items.rev().take(limit).filter_map(hit).skip(skip).take(want).collect()
                    })
                }
                Some(_) => Err(Error::WrongType),
            })?;
            Ok(match count {
                None => found.first().map_or(KvReply::Nil, |&i| KvReply::Int(i)),
                Some(_) => KvReply::Array(found.into_iter().map(KvReply::Int).collect()),
            })
        }
        KvCommand::Rename { from, to, only_if_absent } => {
            if !a.read(&from, |v| v.is_some()) {
                return Err(Error::NoSuchKey);
            }
            if only_if_absent && a.read(&to, |v| v.is_some()) {
                return Ok(KvReply::Int(0));
            }
            if from != to {
                a.write(KvOp::Rename { from, to })?;
            }
            Ok(if only_if_absent { KvReply::Int(1) } else { KvReply::Ok })
        }
        KvCommand::Keys { pattern } => {
            let all = pattern == b"*";
            let keys = a.keys(&mut |k, _, _| all || crate::keyspace::glob_match(&pattern, k));
            Ok(KvReply::Array(keys.into_iter().map(KvReply::Bytes).collect()))
        }
        KvCommand::Scan { cursor, pattern, count, kind } => {
            let (cursor, keys) = a.scan(cursor, count.max(1), &mut |k, v| {
                kind.is_none_or(|kind| v.kind() == kind)
                    && pattern.as_ref().is_none_or(|p| crate::keyspace::glob_match(p, k))
            });
            Ok(KvReply::Scan { cursor, keys })
        }
        KvCommand::RandomKey => Ok(a.random_key().map_or(KvReply::Nil, KvReply::Bytes)),
        KvCommand::DbSize => Ok(KvReply::Int(a.len() as i64)),
        KvCommand::Flush => {
            a.write(KvOp::Flush)?;
            Ok(KvReply::Ok)
        }
        KvCommand::Info { key } => Ok(a.read(&key, |v| match v {
            None => KvReply::Nil,
            Some((v, meta)) => KvReply::Info(Box::new(info(&key, v, meta))),
        })),
        KvCommand::List { prefix, after, limit } => {
            // One pass keeping the `limit` smallest matching keys in a
            // bounded max-heap: memory for one page, not for the keyspace.
            let mut smallest: BinaryHeap<Vec<u8>> = BinaryHeap::with_capacity(limit.saturating_add(1).min(4096));
            a.keys(&mut |k, _, _| {
                let wanted = k.starts_with(&prefix)
                    && after.as_ref().is_none_or(|a| k > &a[..])
                    && (smallest.len() < limit || smallest.peek().is_some_and(|top| k < &top[..]));
                if wanted {
                    smallest.push(k.to_vec());
                    if smallest.len() > limit {
                        smallest.pop();
                    }
                }
                false
            });
            let keys = smallest.into_sorted_vec();
            let mut page = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some(i) = a.read(&key, |v| v.map(|(v, meta)| info(&key, v, meta))) {
                    page.push(i);
                }
            }
            Ok(KvReply::Listing(page))
        }
    }
}

/// Writes a string: the expiry follows `expiry` relative to the key's
/// current metadata (`old`, `None` when absent).
fn put<A: Access>(
    a: &mut A,
    key: Vec<u8>,
    value: Vec<u8>,
    expiry: SetExpiry,
    old: Option<Meta>,
    now: u64,
) -> Result<()> {
    // A key written without a TTL of its own gets the default one (if
    // configured); `Keep` keeps an existing key's deadline.
    let default = match a.default_ttl() {
        0 => 0,
        ttl => now.saturating_add(ttl),
    };
    let expires_at = match expiry {
        SetExpiry::Keep => old.map_or(default, |m| m.expires_at),
        SetExpiry::Clear => default,
        SetExpiry::At(at) => at,
    };
    if expires_at != 0 && expires_at <= now {
        // Set and gone at once: only the removal of the old value remains.
        if old.is_some() {
            a.write(KvOp::Delete { key })?;
        }
        return Ok(());
    }
    a.write(KvOp::Put { key, value, expires_at, at: now })
}

fn info(key: &[u8], v: ValueRef<'_>, meta: Meta) -> KvInfo {
    let value = match v {
        ValueRef::Str(s) => KvValue::String(s.to_vec()),
        ValueRef::List(l) => KvValue::List(l.iter().map(|e| e.to_vec()).collect()),
    };
    KvInfo { key: key.to_vec(), kind: v.kind(), value, meta }
}

/// Parses a string value as Redis does for INCR: optional `-`, digits, no
/// leading zeros, no spaces, within 64 bits.
pub fn parse_i64(bytes: &[u8]) -> Result<i64> {
    let bad = Error::NotAnInteger("value is not an integer or out of range");
    let text = std::str::from_utf8(bytes).map_err(|_| bad.clone())?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || text == "-0"
    {
        return Err(bad);
    }
    text.parse().map_err(|_| bad)
}

/// Resolves a possibly negative index into a list of `len`.
fn position(len: usize, index: i64) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

/// Resolves an inclusive `start..=stop` (negatives from the end) into a
/// half-open range, as LRANGE and LTRIM do.
fn span(len: usize, start: i64, stop: i64) -> (usize, usize) {
    let len_i = len as i64;
    let start = if start < 0 { (len_i + start).max(0) } else { start };
    let stop = if stop < 0 { len_i + stop } else { stop.min(len_i - 1) };
    if start > stop || start >= len_i { (0, 0) } else { (start as usize, (stop + 1) as usize) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_strictly() {
        assert_eq!(parse_i64(b"42").unwrap(), 42);
        assert_eq!(parse_i64(b"-9223372036854775808").unwrap(), i64::MIN);
        for bad in [&b""[..], b" 1", b"01", b"1.0", b"+1", b"-0", b"9223372036854775808", b"\xff"] {
            assert!(parse_i64(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn spans_follow_lrange() {
        assert_eq!(span(5, 0, -1), (0, 5));
        assert_eq!(span(5, -2, -1), (3, 5));
        assert_eq!(span(5, 1, 100), (1, 5));
        assert_eq!(span(5, 3, 1), (0, 0));
        assert_eq!(span(5, 7, 9), (0, 0));
        assert_eq!(span(5, -100, 0), (0, 1));
        assert_eq!(span(0, 0, -1), (0, 0));
        assert_eq!(position(3, -1), Some(2));
        assert_eq!(position(3, 3), None);
    }
}
