//! The keyspace through the embedded API: commands, TTL with an injected
//! clock, snapshots, MULTI/EXEC batches, durability, and a property test
//! against a plain map.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use memdb_engine::{
    Config, Database, Durability, Error, Eviction, ExpireCondition, KvCommand, KvConfig, KvReply, ManualClock,
    SetCondition, SetExpiry, SyncMode,
};
use proptest::prelude::*;

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn bytes(r: KvReply) -> Vec<u8> {
    match r {
        KvReply::Bytes(v) => v,
        other => panic!("expected bytes, got {other:?}"),
    }
}

/// A memory-only database on a manual clock with no background threads.
fn manual() -> (Database, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(800_000_000_000_000));
    let kv = KvConfig { cleanup_interval: None, ..KvConfig::default() };
    let db = Database::open(Config::memory().with_gc_interval(None).with_clock(clock.clone()).with_kv(kv)).unwrap();
    (db, clock)
}

fn set(key: &str, value: &str) -> KvCommand {
    KvCommand::Set {
        key: b(key),
        value: b(value),
        condition: SetCondition::Always,
        expiry: SetExpiry::Clear,
        get: false,
    }
}

#[test]
fn reads_in_a_group_see_one_clock_and_writes_among_them() {
    let (db, clock) = manual();
    let kv = db.kv();
    let ttl = KvCommand::Set {
        key: b("t"),
        value: b("v"),
        condition: SetCondition::Always,
        expiry: SetExpiry::At(kv.now_ms() + 1_000),
        get: false,
    };
    kv.exec(ttl).unwrap();
    kv.exec(set("a", "1")).unwrap();
    let group = vec![
        KvCommand::Get { key: b("a") },
        KvCommand::Get { key: b("t") },
        KvCommand::IncrBy { key: b("a"), by: 1 },
        KvCommand::Get { key: b("a") },
        KvCommand::Get { key: b("missing") },
    ];
    let replies: Vec<_> = kv.exec_reads(group).into_iter().map(Result::unwrap).collect();
    assert_eq!(
        replies,
        vec![KvReply::Bytes(b("1")), KvReply::Bytes(b("v")), KvReply::Int(2), KvReply::Bytes(b("2")), KvReply::Nil]
    );
    clock.advance(Duration::from_millis(1_000));
    let after = kv.exec_reads(vec![KvCommand::Get { key: b("t") }]);
    assert_eq!(
        after.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        vec![KvReply::Nil],
        "expired at its deadline"
    );
}

#[test]
fn strings_follow_redis() {
    let (db, _) = manual();
    let kv = db.kv();
    assert_eq!(kv.exec(set("a", "1")).unwrap(), KvReply::Ok);
    assert_eq!(kv.get(b"a").unwrap(), Some(b("1")));
    assert_eq!(kv.exec(KvCommand::IncrBy { key: b("a"), by: 41 }).unwrap(), KvReply::Int(42));
    assert_eq!(kv.exec(KvCommand::Append { key: b("a"), value: b("!") }).unwrap(), KvReply::Int(3));
    assert!(matches!(kv.exec(KvCommand::IncrBy { key: b("a"), by: 1 }), Err(Error::NotAnInteger(_))));
    assert_eq!(kv.get(b"a").unwrap(), Some(b("42!")), "a failed INCR changes nothing");
    let nx = KvCommand::Set {
        key: b("a"),
        value: b("x"),
        condition: SetCondition::IfAbsent,
        expiry: SetExpiry::Clear,
        get: false,
    };
    assert_eq!(kv.exec(nx).unwrap(), KvReply::Nil);
    let getset = KvCommand::Set {
        key: b("a"),
        value: b("y"),
        condition: SetCondition::Always,
        expiry: SetExpiry::Clear,
        get: true,
    };
    assert_eq!(bytes(kv.exec(getset).unwrap()), b("42!"));
    assert_eq!(
        kv.exec(KvCommand::Update { key: b("nope"), value: b("v"), expiry: SetExpiry::Keep }).unwrap(),
        KvReply::Int(0)
    );
    assert_eq!(
        kv.exec(KvCommand::Update { key: b("a"), value: b("z"), expiry: SetExpiry::Keep }).unwrap(),
        KvReply::Int(1)
    );
    kv.exec(set("n", "9223372036854775807")).unwrap();
    assert!(
        matches!(kv.exec(KvCommand::IncrBy { key: b("n"), by: 1 }), Err(Error::NotAnInteger(m)) if m.contains("overflow"))
    );
    assert_eq!(kv.exec(KvCommand::Delete { keys: vec![b("a"), b("n"), b("zz")] }).unwrap(), KvReply::Int(2));
    assert_eq!(kv.len(), 0);
}

#[test]
fn lists_follow_redis() {
    let (db, _) = manual();
    let kv = db.kv();
    assert_eq!(kv.push(b"l", false, vec![b("a"), b("b"), b("c")]).unwrap(), 3);
    assert_eq!(kv.push(b"l", true, vec![b("x"), b("y")]).unwrap(), 5);
    assert_eq!(kv.range(b"l", 0, -1).unwrap(), vec![b("y"), b("x"), b("a"), b("b"), b("c")]);
    assert_eq!(kv.pop(b"l", true).unwrap(), Some(b("y")));
    assert_eq!(kv.pop(b"l", false).unwrap(), Some(b("c")));
    let r = kv.exec(KvCommand::Insert { key: b("l"), before: true, pivot: b("a"), value: b("i") }).unwrap();
    assert_eq!(r, KvReply::Int(4));
    kv.exec(KvCommand::ListSet { key: b("l"), index: -1, value: b("B") }).unwrap();
    assert_eq!(kv.range(b"l", 0, -1).unwrap(), vec![b("x"), b("i"), b("a"), b("B")]);
    assert_eq!(kv.exec(KvCommand::ListSet { key: b("l"), index: 9, value: b("q") }), Err(Error::IndexOutOfRange));
    assert_eq!(kv.exec(KvCommand::ListSet { key: b("none"), index: 0, value: b("q") }), Err(Error::NoSuchKey));
    kv.push(b"l", false, vec![b("a"), b("a")]).unwrap();
    assert_eq!(kv.exec(KvCommand::Remove { key: b("l"), count: -2, value: b("a") }).unwrap(), KvReply::Int(2));
    assert_eq!(kv.range(b"l", 0, -1).unwrap(), vec![b("x"), b("i"), b("a"), b("B")]);
    kv.exec(KvCommand::Trim { key: b("l"), start: 1, stop: -2 }).unwrap();
    assert_eq!(kv.range(b"l", 0, -1).unwrap(), vec![b("i"), b("a")]);
    let pos = KvCommand::Pos { key: b("l"), element: b("a"), rank: 1, count: None, max_len: 0 };
    assert_eq!(kv.exec(pos).unwrap(), KvReply::Int(1));
    let popped = kv.exec(KvCommand::Pop { key: b("l"), front: true, count: Some(5) }).unwrap();
    assert_eq!(popped, KvReply::Array(vec![KvReply::Bytes(b("i")), KvReply::Bytes(b("a"))]));
    assert_eq!(kv.len(), 0, "an emptied list removes its key");
    assert_eq!(kv.exec(KvCommand::Pop { key: b("l"), front: true, count: Some(1) }).unwrap(), KvReply::NilArray);
    kv.exec(set("s", "v")).unwrap();
    assert_eq!(kv.push(b"s", true, vec![b("a")]), Err(Error::WrongType));
    assert_eq!(kv.exec(KvCommand::Get { key: b("s") }).map(drop), Ok(()));
    kv.push(b"l2", true, vec![b("a")]).unwrap();
    assert_eq!(kv.exec(KvCommand::Get { key: b("l2") }), Err(Error::WrongType));
    let t = kv.exec(KvCommand::Push { key: b("nothing"), front: true, values: vec![b("a")], only_if_exists: true });
    assert_eq!(t.unwrap(), KvReply::Int(0));
    assert_eq!(kv.exec(KvCommand::Type { key: b("l2") }).unwrap(), KvReply::Status("list"));
}

#[test]
fn expired_keys_are_never_seen_and_are_swept() {
    let (db, clock) = manual();
    let kv = db.kv();
    for i in 0..5000 {
        kv.set(format!("k{i}").as_bytes(), b"v", Some(Duration::from_secs(1))).unwrap();
    }
    kv.set(b"forever", b"v", None).unwrap();
    assert_eq!(kv.exec(KvCommand::Ttl { key: b("k1"), millis: true }).unwrap(), KvReply::Int(1000));
    assert_eq!(kv.exec(KvCommand::Ttl { key: b("forever"), millis: false }).unwrap(), KvReply::Int(-1));
    clock.advance(Duration::from_millis(999));
    assert_eq!(kv.get(b"k1").unwrap(), Some(b("v")));
    clock.advance(Duration::from_millis(1));
    assert_eq!(kv.get(b"k1").unwrap(), None, "gone at its deadline");
    assert_eq!(kv.exec(KvCommand::Ttl { key: b("k1"), millis: true }).unwrap(), KvReply::Int(-2));
    assert_eq!(kv.exec(KvCommand::Exists { keys: vec![b("k2"), b("forever")] }).unwrap(), KvReply::Int(1));
    let keys = kv.exec(KvCommand::Keys { pattern: b("*") }).unwrap();
    assert_eq!(keys, KvReply::Array(vec![KvReply::Bytes(b("forever"))]));
    // Writing to an expired key starts from nothing.
    assert_eq!(kv.exec(KvCommand::IncrBy { key: b("k3"), by: 1 }).unwrap(), KvReply::Int(1));
    assert_eq!(kv.exec(KvCommand::Ttl { key: b("k3"), millis: true }).unwrap(), KvReply::Int(-1));
    assert_eq!(kv.sweep_expired().unwrap(), 4999);
    assert_eq!(kv.len(), 2);
    assert_eq!(kv.volatile_len(), 0);
    assert_eq!(kv.expired_and_evicted().0, 5000);
}

#[test]
fn random_key_never_picks_an_expired_key() {
    let (db, clock) = manual();
    let kv = db.kv();
    for i in 0..2000 {
        kv.set(format!("short{i}").as_bytes(), b"v", Some(Duration::from_secs(1))).unwrap();
    }
    kv.set(b"forever", b"v", None).unwrap();
    clock.advance(Duration::from_secs(2));
    // Not swept yet: the expired keys are still in the tables.
    assert_eq!(kv.volatile_len(), 2000);
    for _ in 0..50 {
        assert_eq!(kv.exec(KvCommand::RandomKey).unwrap(), KvReply::Bytes(b("forever")));
        clock.advance(Duration::from_millis(7));
    }
    kv.exec(KvCommand::Delete { keys: vec![b("forever")] }).unwrap();
    assert_eq!(kv.exec(KvCommand::RandomKey).unwrap(), KvReply::Nil);
}

#[test]
fn expire_conditions_and_persist() {
    let (db, clock) = manual();
    let kv = db.kv();
    kv.set(b"k", b"v", None).unwrap();
    let now = 946_684_800_000 + 800_000_000_000;
    let expire = |at, condition| kv.exec(KvCommand::Expire { key: b("k"), at, condition }).unwrap();
    assert_eq!(expire(now + 5000, ExpireCondition::IfSome), KvReply::Int(0));
    assert_eq!(expire(now + 5000, ExpireCondition::IfNone), KvReply::Int(1));
    assert_eq!(expire(now + 4000, ExpireCondition::IfGreater), KvReply::Int(0));
    assert_eq!(expire(now + 4000, ExpireCondition::IfLess), KvReply::Int(1));
    assert_eq!(kv.exec(KvCommand::Persist { key: b("k") }).unwrap(), KvReply::Int(1));
    clock.advance(Duration::from_secs(10));
    assert_eq!(kv.get(b"k").unwrap(), Some(b("v")));
    assert_eq!(expire(now, ExpireCondition::Always), KvReply::Int(1));
    assert_eq!(kv.get(b"k").unwrap(), None, "a deadline in the past deletes");
}

#[test]
fn snapshots_see_the_keyspace_as_of_their_start() {
    let (db, _) = manual();
    let kv = db.kv();
    kv.push(b"l", false, vec![b("a")]).unwrap();
    kv.set(b"s", b"old", None).unwrap();
    let txn = db.begin().unwrap();
    kv.push(b"l", false, vec![b("b"), b("c")]).unwrap();
    kv.set(b"s", b"new", None).unwrap();
    kv.set(b"fresh", b"x", None).unwrap();
    kv.delete(b"s").unwrap();
    let range = KvCommand::Range { key: b("l"), start: 0, stop: -1 };
    assert_eq!(txn.kv_read(range.clone()).unwrap(), KvReply::Array(vec![KvReply::Bytes(b("a"))]));
    assert_eq!(bytes(txn.kv_read(KvCommand::Get { key: b("s") }).unwrap()), b("old"));
    assert_eq!(txn.kv_read(KvCommand::Get { key: b("fresh") }).unwrap(), KvReply::Nil);
    assert_eq!(txn.kv_read(KvCommand::DbSize).unwrap(), KvReply::Int(2), "DBSIZE counts now");
    assert!(txn.kv_read(set("x", "y")).is_err());
    drop(txn);
    db.gc();
    assert_eq!(kv.range(b"l", 0, -1).unwrap().len(), 3);
    assert_eq!(kv.get(b"s").unwrap(), None);
}

#[test]
fn batches_are_atomic_and_watch_aborts() {
    let (db, _) = manual();
    let kv = db.kv();
    kv.set(b"w", b"1", None).unwrap();
    let watched = vec![(b("w"), kv.watch_point())];
    let replies = kv
        .exec_batch(
            vec![
                set("a", "1"),
                KvCommand::IncrBy { key: b("a"), by: 2 },
                KvCommand::Pop { key: b("a"), front: true, count: None },
            ],
            &watched,
        )
        .unwrap()
        .unwrap();
    assert_eq!(replies[0], Ok(KvReply::Ok));
    assert_eq!(replies[1], Ok(KvReply::Int(3)));
    assert_eq!(replies[2], Err(Error::WrongType), "a failed command does not stop the others");
    kv.set(b"w", b"2", None).unwrap();
    let aborted = kv.exec_batch(vec![set("a", "changed")], &watched).unwrap();
    assert!(aborted.is_none());
    assert_eq!(kv.get(b"a").unwrap(), Some(b("3")));
    // Deleting a watched key also aborts.
    let watched = vec![(b("w"), kv.watch_point())];
    kv.delete(b"w").unwrap();
    assert!(kv.exec_batch(vec![set("a", "x")], &watched).unwrap().is_none());
}

#[test]
fn scan_visits_every_key_once() {
    let (db, _) = manual();
    let kv = db.kv();
    for i in 0..3000 {
        kv.set(format!("key:{i}").as_bytes(), b"v", None).unwrap();
    }
    kv.push(b"list:1", false, vec![b("a")]).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    let mut steps = 0;
    loop {
        let step = kv.exec(KvCommand::Scan { cursor, pattern: Some(b("key:*")), count: 100, kind: None }).unwrap();
        let KvReply::Scan { cursor: next, keys } = step else { panic!() };
        assert!(keys.len() <= 200, "COUNT bounds each step ({} keys)", keys.len());
        for k in keys {
            assert!(seen.insert(k), "a key came twice");
        }
        // Writes between steps do not make present keys disappear.
        kv.set(format!("new:{steps}").as_bytes(), b"v", None).unwrap();
        steps += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 3000);
    let lists =
        kv.exec(KvCommand::Scan { cursor: 0, pattern: None, count: 10_000, kind: Some(memdb_engine::KvKind::List) });
    assert_eq!(lists.unwrap(), KvReply::Scan { cursor: 0, keys: vec![b("list:1")] });
}

#[test]
fn a_million_element_list_pushes_and_pops_in_place() {
    let (db, _) = manual();
    let kv = db.kv();
    for chunk in 0..100 {
        let values = (0..10_000).map(|i| format!("{}", chunk * 10_000 + i).into_bytes()).collect();
        kv.push(b"big", false, values).unwrap();
    }
    // With a snapshot open, each push keeps only its own undo.
    let txn = db.begin().unwrap();
    for i in 0..10_000 {
        kv.push(b"big", true, vec![format!("f{i}").into_bytes()]).unwrap();
        kv.pop(b"big", false).unwrap();
    }
    let len = txn.kv_read(KvCommand::Len { key: b("big") }).unwrap();
    assert_eq!(len, KvReply::Int(1_000_000));
    let first = txn.kv_read(KvCommand::Index { key: b("big"), index: 0 }).unwrap();
    assert_eq!(bytes(first), b("0"));
    drop(txn);
    assert_eq!(bytes(kv.exec(KvCommand::Index { key: b("big"), index: 0 }).unwrap()), b("f9999"));
    assert_eq!(bytes(kv.exec(KvCommand::Index { key: b("big"), index: -1 }).unwrap()), b("989999"));
}

static USED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn used() -> u64 {
    USED.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn eviction_policies() {
    use std::sync::atomic::Ordering::SeqCst;
    const MAX: u64 = 1 << 20;
    let open = |eviction| {
        USED.store(0, SeqCst);
        let kv = KvConfig { cleanup_interval: None, eviction, ..KvConfig::default() };
        let config =
            Config::memory().with_gc_interval(None).with_kv(kv).with_max_memory(Some(MAX)).with_memory_probe(used);
        Database::open(config).unwrap()
    };
    let over = |db: &Database, by: u64| {
        USED.store(MAX + by, SeqCst);
        db.refresh_memory();
    };

    let db = open(Eviction::NoEviction);
    db.kv().set(b"k", b"v", None).unwrap();
    over(&db, 1 << 20);
    assert!(matches!(db.kv().set(b"k2", b"v", None), Err(Error::OutOfMemory(_))));
    assert_eq!(db.kv().delete(b"k"), Ok(true), "deletes still work");

    let db = open(Eviction::VolatileTtl);
    let kv = db.kv();
    for i in 0..100u64 {
        kv.set(format!("k{i}").as_bytes(), b"v", Some(Duration::from_secs(100 + i))).unwrap();
    }
    kv.set(b"keep", b"v", None).unwrap();
    over(&db, 300);
    kv.set(b"new", b"v", None).unwrap();
    let evicted = kv.expired_and_evicted().1;
    assert!(evicted > 0 && evicted < 20, "evicted {evicted}");
    assert_eq!(kv.get(b"k0").unwrap(), None, "the soonest to expire goes first");
    assert!(kv.get(b"keep").unwrap().is_some() && kv.get(b"k99").unwrap().is_some());
    // Only keys with a TTL are candidates.
    over(&db, 1 << 30);
    assert!(matches!(kv.set(b"more", b"v", None), Err(Error::OutOfMemory(_))));
    assert!(kv.get(b"keep").unwrap().is_some());
    assert_eq!(kv.volatile_len(), 0);

    let db = open(Eviction::AllKeysLru);
    let kv = db.kv();
    for i in 0..200 {
        kv.set(format!("k{i}").as_bytes(), b"v", None).unwrap();
    }
    over(&db, 300);
    kv.set(b"new", b"v", None).unwrap();
    assert!(kv.expired_and_evicted().1 > 0);
    assert!(kv.len() < 201);

    // A sparse keyspace (most of the 256 shards empty) still finds its
    // victims, whichever shards the sample starts at.
    let db = open(Eviction::AllKeysLru);
    let kv = db.kv();
    for i in 0..3 {
        kv.set(format!("few{i}").as_bytes(), b"v", None).unwrap();
    }
    for _ in 0..20 {
        over(&db, 10);
        kv.set(b"again", b"v", None).unwrap();
        kv.set(b"few0", b"v", None).unwrap();
    }
}

fn durable(dir: &Path) -> Database {
    let mut durability = Durability::new(dir, SyncMode::Sync);
    durability.checkpoint_interval = None;
    Database::open(Config::memory().with_gc_interval(None).with_durability(durability)).unwrap()
}

#[test]
fn keys_survive_restart_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = durable(dir.path());
        let kv = db.kv();
        kv.set(b"s", b"v1", None).unwrap();
        kv.set(b"ttl", b"v", Some(Duration::from_secs(3600))).unwrap();
        kv.push(b"l", false, vec![b("a"), b("b")]).unwrap();
        db.checkpoint().unwrap();
        kv.push(b"l", true, vec![b("z")]).unwrap();
        kv.exec(KvCommand::Rename { from: b("s"), to: b("s2"), only_if_absent: false }).unwrap();
        kv.set(b"gone", b"x", None).unwrap();
        kv.delete(b"gone").unwrap();
    }
    let db = durable(dir.path());
    let kv = db.kv();
    assert_eq!(kv.get(b"s2").unwrap(), Some(b("v1")));
    assert_eq!(kv.get(b"s").unwrap(), None);
    assert_eq!(kv.get(b"gone").unwrap(), None);
    assert_eq!(kv.range(b"l", 0, -1).unwrap(), vec![b("z"), b("a"), b("b")]);
    let KvReply::Int(ttl) = kv.exec(KvCommand::Ttl { key: b("ttl"), millis: false }).unwrap() else { panic!() };
    assert!((3590..=3600).contains(&ttl), "TTL survives: {ttl}");
    let info = kv.exec(KvCommand::Info { key: b("l") }).unwrap();
    let KvReply::Info(info) = info else { panic!() };
    assert!(info.meta.created_at > 0 && info.meta.updated_at >= info.meta.created_at);
    drop(kv);
    db.checkpoint().unwrap();
    drop(db);
    let db = durable(dir.path());
    assert_eq!(db.kv().len(), 3);
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Step {
    Set(u8, u8, Option<u16>),
    Del(u8),
    Push(u8, bool, u8),
    Pop(u8, bool),
    Incr(u8),
    Advance(u16),
    Sweep,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..8, any::<u8>(), proptest::option::of(1u16..3000)).prop_map(|(k, v, t)| Step::Set(k, v, t)),
        (0u8..8).prop_map(Step::Del),
        (0u8..8, any::<bool>(), any::<u8>()).prop_map(|(k, f, v)| Step::Push(k, f, v)),
        (0u8..8, any::<bool>()).prop_map(|(k, f)| Step::Pop(k, f)),
        (0u8..8).prop_map(Step::Incr),
        (1u16..2000).prop_map(Step::Advance),
        Just(Step::Sweep),
    ]
}

#[derive(Clone, Debug, PartialEq)]
enum Model {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The keyspace agrees with a map that drops keys at their deadline:
    /// no key is ever visible after it, and sweeping reclaims all of them.
    #[test]
    fn keyspace_matches_a_map_with_deadlines(steps in proptest::collection::vec(step(), 1..120)) {
        let (db, clock) = manual();
        let kv = db.kv();
        let mut now: u64 = 0;
        let mut model: HashMap<u8, (Model, Option<u64>)> = HashMap::new();
        for s in steps {
            model.retain(|_, (_, deadline)| deadline.is_none_or(|d| d > now));
            let key = |k: u8| vec![b'k', k];
            match s {
                Step::Set(k, v, ttl) => {
                    kv.set(&key(k), &[v], ttl.map(|t| Duration::from_millis(u64::from(t)))).unwrap();
                    model.insert(k, (Model::Str(vec![v]), ttl.map(|t| now + u64::from(t))));
                }
                Step::Del(k) => {
                    prop_assert_eq!(kv.delete(&key(k)).unwrap(), model.remove(&k).is_some());
                }
                Step::Push(k, front, v) => {
                    let got = kv.push(&key(k), front, vec![vec![v]]);
                    match model.get_mut(&k) {
                        Some((Model::Str(_), _)) => prop_assert_eq!(got, Err(Error::WrongType)),
                        Some((Model::List(l), _)) => {
                            if front { l.push_front(vec![v]) } else { l.push_back(vec![v]) }
                            prop_assert_eq!(got.unwrap(), l.len() as i64);
                        }
                        None => {
                            model.insert(k, (Model::List(VecDeque::from(vec![vec![v]])), None));
                            prop_assert_eq!(got.unwrap(), 1);
                        }
                    }
                }
                Step::Pop(k, front) => {
                    let got = kv.pop(&key(k), front);
                    match model.get_mut(&k) {
                        Some((Model::Str(_), _)) => prop_assert_eq!(got, Err(Error::WrongType)),
                        Some((Model::List(l), _)) => {
                            let want = if front { l.pop_front() } else { l.pop_back() };
                            if l.is_empty() { model.remove(&k); }
                            prop_assert_eq!(got.unwrap(), want);
                        }
                        None => prop_assert_eq!(got.unwrap(), None),
                    }
                }
                Step::Incr(k) => {
                    let got = kv.exec(KvCommand::IncrBy { key: key(k), by: 1 });
                    match model.get_mut(&k) {
                        Some((Model::List(_), _)) => prop_assert_eq!(got, Err(Error::WrongType)),
                        Some((Model::Str(s), _)) => {
                            let valid = !s.is_empty() && s.iter().all(u8::is_ascii_digit) && (s.len() == 1 || s[0] != b'0');
                            if valid {
                                let n: i64 = String::from_utf8_lossy(s).parse().unwrap();
                                prop_assert_eq!(got.unwrap(), KvReply::Int(n + 1));
                                *s = (n + 1).to_string().into_bytes();
                            } else {
                                prop_assert!(got.is_err());
                            }
                        }
                        None => {
                            prop_assert_eq!(got.unwrap(), KvReply::Int(1));
                            model.insert(k, (Model::Str(b"1".to_vec()), None));
                        }
                    }
                }
                Step::Advance(ms) => {
                    clock.advance(Duration::from_millis(u64::from(ms)));
                    now += u64::from(ms);
                }
                Step::Sweep => {
                    kv.sweep_expired().unwrap();
                }
            }
            model.retain(|_, (_, deadline)| deadline.is_none_or(|d| d > now));
            for k in 0u8..8 {
                let got = kv.exec(KvCommand::Type { key: key(k) }).unwrap();
                let want = match model.get(&k) {
                    None => "none",
                    Some((Model::Str(_), _)) => "string",
                    Some((Model::List(_), _)) => "list",
                };
                prop_assert_eq!(got, KvReply::Status(want), "key {}", k);
            }
        }
        clock.advance(Duration::from_secs(10));
        kv.sweep_expired().unwrap();
        let lasting = model.values().filter(|(_, d)| d.is_none()).count();
        prop_assert_eq!(kv.len(), lasting);
        prop_assert_eq!(kv.volatile_len(), 0);
    }
}

#[test]
fn listings_page_through_a_prefix_in_key_order() {
    let (db, clock) = manual();
    let kv = db.kv();
    let mut model = std::collections::BTreeSet::new();
    for i in (0..500).rev() {
        let key = format!("{}:{i:04}", if i % 3 == 0 { "other" } else { "user" });
        kv.exec(set(&key, "v")).unwrap();
        if key.starts_with("user:") {
            model.insert(b(&key));
        }
    }
    // A key that expires is left out.
    kv.exec(KvCommand::Set {
        key: b("user:gone"),
        value: b("v"),
        condition: SetCondition::Always,
        expiry: SetExpiry::At(kv.now_ms() + 10),
        get: false,
    })
    .unwrap();
    clock.advance(Duration::from_millis(20));
    for limit in [1, 7, 100, 1000] {
        let (mut seen, mut after) = (Vec::new(), None);
        loop {
            let page = match kv.exec(KvCommand::List { prefix: b("user:"), after: after.clone(), limit }).unwrap() {
                KvReply::Listing(page) => page,
                other => panic!("expected a listing, got {other:?}"),
            };
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            seen.extend(page.into_iter().map(|i| i.key));
        }
        assert_eq!(seen, model.iter().cloned().collect::<Vec<_>>(), "limit {limit}");
    }
    let empty = kv.exec(KvCommand::List { prefix: b("user:"), after: None, limit: 0 }).unwrap();
    assert_eq!(empty, KvReply::Listing(Vec::new()));
}

#[test]
fn default_ttl_applies_to_keys_written_without_one() {
    let clock = Arc::new(ManualClock::new(800_000_000_000_000));
    let config = KvConfig { cleanup_interval: None, default_ttl: Some(Duration::from_secs(10)), ..KvConfig::default() };
    let db = Database::open(Config::memory().with_gc_interval(None).with_clock(clock.clone()).with_kv(config)).unwrap();
    let kv = db.kv();
    kv.set(b"plain", b"v", None).unwrap();
    kv.set(b"own", b"v", Some(Duration::from_secs(100))).unwrap();
    kv.push(b"list", false, vec![b("a")]).unwrap();
    assert_eq!(kv.exec(KvCommand::IncrBy { key: b("n"), by: 1 }).unwrap(), KvReply::Int(1));
    let ttl = |key: &str| kv.exec(KvCommand::Ttl { key: b(key), millis: false }).unwrap();
    for key in ["plain", "list", "n"] {
        assert_eq!(ttl(key), KvReply::Int(10), "{key} gets the default TTL");
    }
    assert_eq!(ttl("own"), KvReply::Int(100), "an explicit TTL wins");
    // Writing an existing key keeps its deadline (INCR, RPUSH) or, for a
    // plain SET, starts a new default one.
    clock.advance(Duration::from_secs(4));
    kv.push(b"list", false, vec![b("b")]).unwrap();
    kv.exec(KvCommand::IncrBy { key: b("n"), by: 1 }).unwrap();
    kv.set(b"plain", b"w", None).unwrap();
    assert_eq!(ttl("list"), KvReply::Int(6));
    assert_eq!(ttl("n"), KvReply::Int(6));
    assert_eq!(ttl("plain"), KvReply::Int(10));
    assert_eq!(kv.exec(KvCommand::Persist { key: b("plain") }).unwrap(), KvReply::Int(1));
    clock.advance(Duration::from_secs(7));
    assert_eq!(kv.get(b"n").unwrap(), None);
    assert_eq!(kv.range(b"list", 0, -1).unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(kv.get(b"plain").unwrap(), Some(b("w")), "PERSIST took the default TTL off");
    assert_eq!(kv.get(b"own").unwrap(), Some(b("v")));
}

#[test]
fn swept_keys_stay_deleted_after_replay() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(800_000_000_000_000));
    let open = || {
        let mut durability = Durability::new(dir.path(), SyncMode::Sync);
        durability.checkpoint_interval = None;
        let kv = KvConfig { cleanup_interval: None, ..KvConfig::default() };
        Database::open(
            Config::memory().with_gc_interval(None).with_durability(durability).with_clock(clock.clone()).with_kv(kv),
        )
        .unwrap()
    };
    {
        let db = open();
        let kv = db.kv();
        for i in 0..100 {
            kv.set(format!("t{i}").as_bytes(), b"v", Some(Duration::from_secs(1))).unwrap();
        }
        kv.set(b"kept", b"v", None).unwrap();
        clock.advance(Duration::from_secs(2));
        assert_eq!(kv.len(), 101, "expired but not yet swept");
        assert_eq!(kv.sweep_expired().unwrap(), 100);
        assert_eq!(kv.len(), 1);
    }
    // Replay applies the sweeper's logged deletes: without them the expired
    // keys would come back as entries (invisible, but holding memory and
    // counted) until swept again.
    let db = open();
    let kv = db.kv();
    assert_eq!(kv.len(), 1);
    assert_eq!(kv.volatile_len(), 0);
    assert_eq!(kv.get(b"kept").unwrap(), Some(b("v")));
}
