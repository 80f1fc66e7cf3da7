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

/// The spec of a (lower-case) command name.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.binary_search_by(|c| c.name.cmp(name)).ok().map(|i| &COMMANDS[i])
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
        assert_eq!(find("set").map(|c| c.arity), Some(-3));
        assert!(find("hset").is_none());
        assert!(arity_ok(find("get").unwrap(), 2) && !arity_ok(find("get").unwrap(), 3));
    }
}
