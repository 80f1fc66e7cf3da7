//! The commands the RESP front end knows, with Redis's arity, flags and key
//! positions: used to reject wrong argument counts in Redis's words and to
//! answer `COMMAND` (client libraries read key positions from it).

/// One command: name, arity (negative: at least that many, counting the
/// name), flags, first key, last key (-1: the last argument), key step.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity.
    pub arity: i64,
    /// Redis command flags.
    pub flags: &'static [&'static str],
    /// Position of the first key (0: none).
    pub first: i64,
    /// Position of the last key.
    pub last: i64,
    /// Step between keys.
    pub step: i64,
}

const W: &[&str] = &["write", "denyoom"];
const WD: &[&str] = &["write"];
const R: &[&str] = &["readonly", "fast"];
const RS: &[&str] = &["readonly"];
const C: &[&str] = &["fast", "loading", "stale"];
const A: &[&str] = &["admin", "loading", "stale"];

macro_rules! spec {
    ($name:literal, $arity:literal, $flags:expr, $first:literal, $last:literal, $step:literal) => {
        CommandSpec { name: $name, arity: $arity, flags: $flags, first: $first, last: $last, step: $step }
    };
}

/// Every command, sorted by name.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("append", 3, W, 1, 1, 1),
    spec!("auth", -2, C, 0, 0, 0),
    spec!("blpop", -3, WD, 1, -2, 1),
    spec!("brpop", -3, WD, 1, -2, 1),
    spec!("client", -2, C, 0, 0, 0),
    spec!("command", -1, C, 0, 0, 0),
    spec!("config", -2, A, 0, 0, 0),
    spec!("dbsize", 1, R, 0, 0, 0),
    spec!("decr", 2, W, 1, 1, 1),
    spec!("decrby", 3, W, 1, 1, 1),
    spec!("del", -2, WD, 1, -1, 1),
    spec!("discard", 1, C, 0, 0, 0),
    spec!("echo", 2, C, 0, 0, 0),
    spec!("exec", 1, C, 0, 0, 0),
    spec!("exists", -2, R, 1, -1, 1),
    spec!("expire", -3, WD, 1, 1, 1),
    spec!("expireat", -3, WD, 1, 1, 1),
    spec!("expiretime", 2, R, 1, 1, 1),
    spec!("flushall", -1, WD, 0, 0, 0),
    spec!("flushdb", -1, WD, 0, 0, 0),
    spec!("get", 2, R, 1, 1, 1),
    spec!("getdel", 2, WD, 1, 1, 1),
    spec!("getex", -2, WD, 1, 1, 1),
    spec!("getset", 3, W, 1, 1, 1),
    spec!("hello", -1, C, 0, 0, 0),
    spec!("incr", 2, W, 1, 1, 1),
    spec!("incrby", 3, W, 1, 1, 1),
    spec!("info", -1, C, 0, 0, 0),
    spec!("keys", 2, RS, 0, 0, 0),
    spec!("lindex", 3, RS, 1, 1, 1),
    spec!("linsert", 5, W, 1, 1, 1),
    spec!("llen", 2, R, 1, 1, 1),
    spec!("lpop", -2, WD, 1, 1, 1),
    spec!("lpos", -3, RS, 1, 1, 1),
    spec!("lpush", -3, W, 1, 1, 1),
    spec!("lpushx", -3, W, 1, 1, 1),
    spec!("lrange", 4, RS, 1, 1, 1),
    spec!("lrem", 4, WD, 1, 1, 1),
    spec!("lset", 4, W, 1, 1, 1),
    spec!("ltrim", 4, WD, 1, 1, 1),
    spec!("mget", -2, R, 1, -1, 1),
    spec!("mset", -3, W, 1, -1, 2),
    spec!("msetnx", -3, W, 1, -1, 2),
    spec!("multi", 1, C, 0, 0, 0),
    spec!("persist", 2, WD, 1, 1, 1),
    spec!("pexpire", -3, WD, 1, 1, 1),
    spec!("pexpireat", -3, WD, 1, 1, 1),
    spec!("pexpiretime", 2, R, 1, 1, 1),
    spec!("ping", -1, C, 0, 0, 0),
    spec!("psetex", 4, W, 1, 1, 1),
    spec!("pttl", 2, R, 1, 1, 1),
    spec!("quit", -1, C, 0, 0, 0),
    spec!("randomkey", 1, RS, 0, 0, 0),
    spec!("rename", 3, WD, 1, 2, 1),
    spec!("renamenx", 3, WD, 1, 2, 1),
    spec!("reset", 1, C, 0, 0, 0),
    spec!("rpop", -2, WD, 1, 1, 1),
    spec!("rpush", -3, W, 1, 1, 1),
    spec!("rpushx", -3, W, 1, 1, 1),
    spec!("scan", -2, RS, 0, 0, 0),
    spec!("select", 2, C, 0, 0, 0),
    spec!("set", -3, W, 1, 1, 1),
    spec!("setex", 4, W, 1, 1, 1),
    spec!("setnx", 3, W, 1, 1, 1),
    spec!("strlen", 2, R, 1, 1, 1),
    spec!("time", 1, C, 0, 0, 0),
    spec!("ttl", 2, R, 1, 1, 1),
    spec!("type", 2, R, 1, 1, 1),
    spec!("unlink", -2, WD, 1, -1, 1),
    spec!("unwatch", 1, C, 0, 0, 0),
    spec!("watch", -2, C, 1, -1, 1),
];

/// The spec of a command name in any case. Runs for every request, so it
/// compares one integer per probe rather than strings: a name of up to 16
/// bytes, lower-cased, packed into a `u128`.
pub fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let key = packed(name)?;
    let index = by_packed_name();
    index.binary_search_by_key(&key, |(k, _)| *k).ok().map(|i| index[i].1)
}

/// `name` lower-cased into the bytes of a `u128` (`None`: longer than
/// any command).
fn packed(name: &[u8]) -> Option<u128> {
    if name.len() > 16 {
        return None;
    }
    Some(name.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(b.to_ascii_lowercase())))
}

/// [`COMMANDS`] by packed name, sorted for binary search.
fn by_packed_name() -> &'static [(u128, &'static CommandSpec)] {
    static INDEX: std::sync::LazyLock<Vec<(u128, &'static CommandSpec)>> = std::sync::LazyLock::new(|| {
        let mut index: Vec<_> = COMMANDS.iter().filter_map(|c| packed(c.name.as_bytes()).map(|key| (key, c))).collect();
        index.sort_unstable_by_key(|(key, _)| *key);
        index
    });
    &INDEX
}

/// Whether `argc` (name included) fits the arity.
pub fn arity_ok(spec: &CommandSpec, argc: usize) -> bool {
    let argc = argc as i64;
    if spec.arity >= 0 { argc == spec.arity } else { argc >= -spec.arity }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(find(b"set").map(|c| c.arity), Some(-3));
        assert_eq!(find(b"SeT").map(|c| c.name), Some("set"));
        assert!(find(b"hset").is_none() && find(b"").is_none() && find(b"a-name-longer-than-any").is_none());
        assert!(
            COMMANDS.iter().all(|c| find(c.name.to_ascii_uppercase().as_bytes()).is_some_and(|f| f.name == c.name))
        );
        assert!(arity_ok(find(b"get").unwrap(), 2) && !arity_ok(find(b"get").unwrap(), 3));
    }
}
