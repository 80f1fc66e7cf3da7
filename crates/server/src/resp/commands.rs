//! Redis data commands → engine key-value commands.
//!
//! Argument parsing follows Redis: options are case-insensitive, a bad
//! combination is `ERR syntax error`, numbers must be exact integers, and
//! relative times become absolute expiry times here (the engine logs
//! absolute times so replay does not depend on when it runs).

use std::time::Duration;

use memdb_engine::{ExpireCondition, KvCommand, KvKind, SetCondition, SetExpiry};

/// How the engine's reply is shown to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// As it is.
    Plain,
    /// OK → 1, nil → 0 (SETNX).
    Flag,
}

/// A parsed data command.
#[derive(Debug, PartialEq)]
pub enum Data {
    /// Runs in the engine.
    Kv(KvCommand, Shape),
    /// BLPOP / BRPOP: pop from the first non-empty list, waiting up to
    /// `timeout` (`None`: forever).
    Block {
        /// Lists to pop from, in order.
        keys: Vec<Vec<u8>>,
        /// BLPOP (front) or BRPOP.
        front: bool,
        /// How long to wait.
        timeout: Option<Duration>,
    },
    /// A SCAN for a type no key here has: done, nothing found.
    EmptyScan,
}

/// A client error reply (the message includes its code).
pub type Reject = String;

/// Redis's reply to a malformed option list.
pub const SYNTAX: &str = "ERR syntax error";
/// Redis's reply to an argument that is not an exact integer.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// An exact 64-bit integer argument.
pub fn int(arg: &[u8]) -> Result<i64, Reject> {
    memdb_engine::keyspace::command::parse_i64(arg).map_err(|_| NOT_INTEGER.to_owned())
}

fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

/// `now + amount × unit` as an expiry time, or Redis's invalid-expire error.
fn expiry_at(amount: i64, unit_ms: i64, absolute: bool, now: u64, command: &str) -> Result<u64, Reject> {
    let invalid = || format!("ERR invalid expire time in '{command}' command");
    let ms = amount.checked_mul(unit_ms).ok_or_else(invalid)?;
    if absolute {
        return Ok(ms.max(0) as u64);
    }
    let at = (now as i64).checked_add(ms).ok_or_else(invalid)?;
    Ok(at.max(0) as u64)
}

/// Parses a data command (`name` lower-case, `args` the arguments after
/// the name); `None` when the name is not a data command.
pub fn parse(name: &str, args: std::vec::IntoIter<Vec<u8>>, now: u64) -> Option<Result<Data, Reject>> {
    let plain = |cmd| Ok(Data::Kv(cmd, Shape::Plain));
    let mut a = Args(args);
    let result = match name {
        "get" => plain(KvCommand::Get { key: a.next() }),
        "set" => parse_set(a.next(), a.next(), a.rest(), now),
        "setnx" => Ok(Data::Kv(
            KvCommand::Set {
                key: a.next(),
                value: a.next(),
                condition: SetCondition::IfAbsent,
                expiry: SetExpiry::Clear,
                get: false,
            },
            Shape::Flag,
        )),
        "setex" | "psetex" => {
            let key = a.next();
            let amount = match int(&a.next()) {
                Ok(n) => n,
                Err(e) => return Some(Err(e)),
            };
            let value = a.next();
            if amount <= 0 {
                return Some(Err(format!("ERR invalid expire time in '{name}' command")));
            }
            let unit = if name == "setex" { 1000 } else { 1 };
            expiry_at(amount, unit, false, now, name).and_then(|at| {
                plain(KvCommand::Set {
                    key,
                    value,
                    condition: SetCondition::Always,
                    expiry: SetExpiry::At(at),
                    get: false,
                })
            })
        }
        "getset" => plain(KvCommand::Set {
            key: a.next(),
            value: a.next(),
            condition: SetCondition::Always,
            expiry: SetExpiry::Clear,
            get: true,
        }),
        "getdel" => plain(KvCommand::GetDel { key: a.next() }),
        "getex" => {
            let key = a.next();
            let rest = a.rest();
            parse_getex(key, rest, now)
        }
        "mget" => plain(KvCommand::MGet { keys: a.rest() }),
        "mset" | "msetnx" => {
            let rest = a.rest();
            if !rest.len().is_multiple_of(2) {
                Err(format!("ERR wrong number of arguments for '{name}' command"))
            } else {
                let mut pairs = Vec::with_capacity(rest.len() / 2);
                let mut rest = rest.into_iter();
                while let (Some(k), Some(v)) = (rest.next(), rest.next()) {
                    pairs.push((k, v));
                }
                plain(KvCommand::MSet { pairs, only_if_none: name == "msetnx" })
            }
        }
        "del" | "unlink" => plain(KvCommand::Delete { keys: a.rest() }),
        "exists" => plain(KvCommand::Exists { keys: a.rest() }),
        "type" => plain(KvCommand::Type { key: a.next() }),
        "incr" => plain(KvCommand::IncrBy { key: a.next(), by: 1 }),
        "decr" => plain(KvCommand::IncrBy { key: a.next(), by: -1 }),
        "incrby" => {
            let key = a.next();
            int(&a.next()).and_then(|by| plain(KvCommand::IncrBy { key, by }))
        }
        "decrby" => {
            let key = a.next();
            int(&a.next()).and_then(|by| {
                let by = by.checked_neg().ok_or_else(|| "ERR decrement would overflow".to_owned())?;
                plain(KvCommand::IncrBy { key, by })
            })
        }
        "append" => plain(KvCommand::Append { key: a.next(), value: a.next() }),
        "strlen" => plain(KvCommand::StrLen { key: a.next() }),
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            let key = a.next();
            let amount = match int(&a.next()) {
                Ok(n) => n,
                Err(e) => return Some(Err(e)),
            };
            let unit = if name.starts_with('p') { 1 } else { 1000 };
            let absolute = name.ends_with("at");
            let condition = match a.rest().as_slice() {
                [] => Ok(ExpireCondition::Always),
                [flag] => match upper(flag).as_str() {
                    "NX" => Ok(ExpireCondition::IfNone),
                    "XX" => Ok(ExpireCondition::IfSome),
                    "GT" => Ok(ExpireCondition::IfGreater),
                    "LT" => Ok(ExpireCondition::IfLess),
                    other => Err(format!("ERR Unsupported option {other}")),
                },
                _ => Err("ERR NX and XX, GT or LT options at the same time are not compatible".to_owned()),
            };
            condition.and_then(|condition| {
                let at = expiry_at(amount, unit, absolute, now, name)?;
                plain(KvCommand::Expire { key, at, condition })
            })
        }
        "ttl" => plain(KvCommand::Ttl { key: a.next(), millis: false }),
        "pttl" => plain(KvCommand::Ttl { key: a.next(), millis: true }),
        "expiretime" => plain(KvCommand::ExpireTime { key: a.next(), millis: false }),
        "pexpiretime" => plain(KvCommand::ExpireTime { key: a.next(), millis: true }),
        "persist" => plain(KvCommand::Persist { key: a.next() }),
        "lpush" | "rpush" | "lpushx" | "rpushx" => plain(KvCommand::Push {
            key: a.next(),
            front: name.starts_with('l'),
            values: a.rest(),
            only_if_exists: name.ends_with('x'),
        }),
        "lpop" | "rpop" => {
            let key = a.next();
            let rest = a.rest();
            match rest.as_slice() {
                [] => plain(KvCommand::Pop { key, front: name == "lpop", count: None }),
                [count] => match int(count) {
                    Ok(n) if n >= 0 => plain(KvCommand::Pop { key, front: name == "lpop", count: Some(n as u64) }),
                    _ => Err("ERR value is out of range, must be positive".to_owned()),
                },
                _ => Err(format!("ERR wrong number of arguments for '{name}' command")),
            }
        }
        "llen" => plain(KvCommand::Len { key: a.next() }),
        "lrange" | "ltrim" => {
            let key = a.next();
            match (int(&a.next()), int(&a.next())) {
                (Ok(start), Ok(stop)) if name == "lrange" => plain(KvCommand::Range { key, start, stop }),
                (Ok(start), Ok(stop)) => plain(KvCommand::Trim { key, start, stop }),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        "lindex" => {
            let key = a.next();
            int(&a.next()).and_then(|index| plain(KvCommand::Index { key, index }))
        }
        "lset" => {
            let key = a.next();
            int(&a.next()).and_then(|index| plain(KvCommand::ListSet { key, index, value: a.next() }))
        }
        "lrem" => {
            let key = a.next();
            int(&a.next()).and_then(|count| plain(KvCommand::Remove { key, count, value: a.next() }))
        }
        "linsert" => {
            let key = a.next();
            let before = match upper(&a.next()).as_str() {
                "BEFORE" => Ok(true),
                "AFTER" => Ok(false),
                _ => Err(SYNTAX.to_owned()),
            };
            before.and_then(|before| plain(KvCommand::Insert { key, before, pivot: a.next(), value: a.next() }))
        }
        "lpos" => {
            let key = a.next();
            let element = a.next();
            parse_lpos(key, element, a.rest())
        }
        "blpop" | "brpop" => {
            let mut keys = a.rest();
            let timeout = keys.pop().unwrap_or_default();
            parse_timeout(&timeout).map(|timeout| Data::Block { keys, front: name == "blpop", timeout })
        }
        "keys" => plain(KvCommand::Keys { pattern: a.next() }),
        "scan" => {
            let cursor = a.next();
            parse_scan(&cursor, a.rest())
        }
        "rename" | "renamenx" => {
            plain(KvCommand::Rename { from: a.next(), to: a.next(), only_if_absent: name == "renamenx" })
        }
        "randomkey" => plain(KvCommand::RandomKey),
        "dbsize" => plain(KvCommand::DbSize),
        "flushdb" | "flushall" => match a.rest().as_slice() {
            [] => plain(KvCommand::Flush),
            [mode] if matches!(upper(mode).as_str(), "SYNC" | "ASYNC") => plain(KvCommand::Flush),
            _ => Err(SYNTAX.to_owned()),
        },
        _ => return None,
    };
    Some(result)
}

/// The arguments after the name. The arity was checked against the
/// command table, so required ones are there (`next` gives an empty one
/// past the end only for optional trailing ones, which callers check with
/// `rest`).
struct Args(std::vec::IntoIter<Vec<u8>>);

impl Args {
    fn next(&mut self) -> Vec<u8> {
        self.0.next().unwrap_or_default()
    }

    fn rest(&mut self) -> Vec<Vec<u8>> {
        self.0.by_ref().collect()
    }
}

fn parse_set(key: Vec<u8>, value: Vec<u8>, options: Vec<Vec<u8>>, now: u64) -> Result<Data, Reject> {
    let mut condition = SetCondition::Always;
    let mut expiry = SetExpiry::Clear;
    let mut expiry_given = false;
    let mut get = false;
    let mut i = 0;
    while i < options.len() {
        let option = upper(&options[i]);
        match option.as_str() {
            "NX" | "XX" if condition == SetCondition::Always => {
                condition = if option == "NX" { SetCondition::IfAbsent } else { SetCondition::IfPresent };
            }
            "GET" if !get => get = true,
            "KEEPTTL" if !expiry_given => {
                expiry = SetExpiry::Keep;
                expiry_given = true;
            }
            "EX" | "PX" | "EXAT" | "PXAT" if !expiry_given => {
                let amount = options.get(i + 1).ok_or_else(|| SYNTAX.to_owned())?;
                let amount = int(amount)?;
                if amount <= 0 {
                    return Err("ERR invalid expire time in 'set' command".to_owned());
                }
                let unit = if option.starts_with('E') { 1000 } else { 1 };
                expiry = SetExpiry::At(expiry_at(amount, unit, option.ends_with("AT"), now, "set")?);
                expiry_given = true;
                i += 1;
            }
            _ => return Err(SYNTAX.to_owned()),
        }
        i += 1;
    }
    Ok(Data::Kv(KvCommand::Set { key, value, condition, expiry, get }, Shape::Plain))
}

fn parse_getex(key: Vec<u8>, options: Vec<Vec<u8>>, now: u64) -> Result<Data, Reject> {
    let expiry = match options.as_slice() {
        [] => None,
        [flag] if upper(flag) == "PERSIST" => Some(SetExpiry::Clear),
        [flag, amount] => {
            let option = upper(flag);
            if !matches!(option.as_str(), "EX" | "PX" | "EXAT" | "PXAT") {
                return Err(SYNTAX.to_owned());
            }
            let amount = int(amount)?;
            if amount <= 0 {
                return Err("ERR invalid expire time in 'getex' command".to_owned());
            }
            let unit = if option.starts_with('E') { 1000 } else { 1 };
            Some(SetExpiry::At(expiry_at(amount, unit, option.ends_with("AT"), now, "getex")?))
        }
        _ => return Err(SYNTAX.to_owned()),
    };
    Ok(Data::Kv(KvCommand::GetEx { key, expiry }, Shape::Plain))
}

fn parse_lpos(key: Vec<u8>, element: Vec<u8>, options: Vec<Vec<u8>>) -> Result<Data, Reject> {
    let (mut rank, mut count, mut max_len) = (1i64, None, 0u64);
    let mut pairs = options.chunks(2);
    for pair in &mut pairs {
        let [name, value] = pair else { return Err(SYNTAX.to_owned()) };
        let value = int(value)?;
        match upper(name).as_str() {
            "RANK" => {
                if value == i64::MIN {
                    return Err(
                        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
                            .into(),
                    );
                }
                rank = value;
            }
            "COUNT" if value < 0 => return Err("ERR COUNT can't be negative".to_owned()),
            "COUNT" => count = Some(value as u64),
            "MAXLEN" if value < 0 => return Err("ERR MAXLEN can't be negative".to_owned()),
            "MAXLEN" => max_len = value as u64,
            _ => return Err(SYNTAX.to_owned()),
        }
    }
    Ok(Data::Kv(KvCommand::Pos { key, element, rank, count, max_len }, Shape::Plain))
}

fn parse_scan(cursor: &[u8], options: Vec<Vec<u8>>) -> Result<Data, Reject> {
    let cursor: u64 =
        std::str::from_utf8(cursor).ok().and_then(|c| c.parse().ok()).ok_or_else(|| "ERR invalid cursor".to_owned())?;
    let (mut pattern, mut count, mut kind) = (None, 10usize, None);
    let mut wanted_type = None;
    for pair in options.chunks(2) {
        let [name, value] = pair else { return Err(SYNTAX.to_owned()) };
        match upper(name).as_str() {
            "MATCH" => pattern = Some(value.clone()).filter(|p| p != b"*"),
            "COUNT" => match int(value) {
                Ok(n) if n >= 1 => count = n.min(1 << 20) as usize,
                Ok(_) => return Err(SYNTAX.to_owned()),
                Err(e) => return Err(e),
            },
            "TYPE" => {
                let t = String::from_utf8_lossy(value).to_ascii_lowercase();
                kind = match t.as_str() {
                    "string" => Some(KvKind::String),
                    "list" => Some(KvKind::List),
                    _ => None,
                };
                wanted_type = Some(t);
            }
            _ => return Err(SYNTAX.to_owned()),
        }
    }
    if wanted_type.is_some() && kind.is_none() {
        // No key is a hash, set, … here: the scan is complete and empty.
        return Ok(Data::EmptyScan);
    }
    Ok(Data::Kv(KvCommand::Scan { cursor, pattern, count, kind }, Shape::Plain))
}

/// A blocking timeout in seconds (decimal allowed); 0 waits forever.
fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Reject> {
    let text = std::str::from_utf8(arg).map_err(|_| "ERR timeout is not a float or out of range".to_owned())?;
    let secs: f64 = text.parse().map_err(|_| "ERR timeout is not a float or out of range".to_owned())?;
    if !secs.is_finite() {
        return Err("ERR timeout is not a float or out of range".to_owned());
    }
    if secs < 0.0 {
        return Err("ERR timeout is negative".to_owned());
    }
    if secs == 0.0 { Ok(None) } else { Ok(Some(Duration::from_secs_f64(secs.min(1e9)))) }
}
