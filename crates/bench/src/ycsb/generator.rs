//! YCSB's request distributions, as its core package defines them:
//! `ZipfianGenerator` (Gray et al., "Quickly generating billion-record
//! synthetic databases"), `ScrambledZipfianGenerator`,
//! `SkewedLatestGenerator`, uniform, and the acknowledged insert counter
//! that keeps readers off keys still being inserted.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use rand::Rng;
use rand::rngs::SmallRng;

/// YCSB's default skew.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;
/// The item space of the scrambled zipfian generator (YCSB's `ITEM_COUNT`).
const SCRAMBLED_ITEMS: u64 = 10_000_000_000;
/// zeta(10^10, 0.99), precomputed as YCSB does (`ZETAN`).
const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;

/// YCSB's `Utils.fnvhash64`: FNV-1a over the eight bytes, low byte first,
/// made non-negative.
pub fn fnv_hash64(mut value: u64) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for _ in 0..8 {
        hash ^= value & 0xff;
        hash = hash.wrapping_mul(1_099_511_628_211);
        value >>= 8;
    }
    (hash as i64).unsigned_abs()
}

/// zeta(n, theta) = sum over i in 1..=n of 1 / i^theta, continued from a
/// known zeta(from, theta).
fn zeta(from: u64, to: u64, theta: f64, initial: f64) -> f64 {
    (from + 1..=to).fold(initial, |sum, i| sum + 1.0 / (i as f64).powf(theta))
}

/// Zipfian over `[0, items)`: item 0 is the most popular. The item count
/// may grow (the latest distribution grows it with every insert); zeta is
/// then extended incrementally, as YCSB does.
pub struct Zipfian {
    items: u64,
    theta: f64,
    zeta2: f64,
    zetan: f64,
    alpha: f64,
    eta: f64,
}

impl Zipfian {
    /// A generator over `items` items with YCSB's default constant.
    pub fn new(items: u64) -> Zipfian {
        let items = items.max(1);
        let theta = ZIPFIAN_CONSTANT;
        let zetan = zeta(0, items, theta, 0.0);
        Zipfian::with_zeta(items, theta, zetan)
    }

    fn with_zeta(items: u64, theta: f64, zetan: f64) -> Zipfian {
        let zeta2 = zeta(0, 2, theta, 0.0);
        let mut z = Zipfian { items, theta, zeta2, zetan, alpha: 1.0 / (1.0 - theta), eta: 0.0 };
        z.eta = z.eta_for(items);
        z
    }

    fn eta_for(&self, items: u64) -> f64 {
        (1.0 - (2.0 / items as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta2 / self.zetan)
    }

    /// Grows the item count to `items` (never shrinks it).
    pub fn grow(&mut self, items: u64) {
        if items > self.items {
            self.zetan = zeta(self.items, items, self.theta, self.zetan);
            self.items = items;
            self.eta = self.eta_for(items);
        }
    }

    /// The next item, in `[0, items)`.
    pub fn next(&self, rng: &mut SmallRng) -> u64 {
        let u: f64 = rng.random();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.items - 1);
        }
        let item = (self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        item.min(self.items - 1)
    }
}

/// Which key number an operation touches.
pub enum KeyChooser {
    /// Uniform over the keys inserted so far.
    Uniform,
    /// YCSB's scrambled zipfian: zipfian over 10^10 items, hashed onto the
    /// key space, so the popular keys are spread out.
    ScrambledZipfian {
        /// The zipfian source over `SCRAMBLED_ITEMS`.
        zipfian: Zipfian,
        /// The key space the hash is folded onto (records plus the inserts
        /// expected during the run, as YCSB sizes it).
        space: u64,
    },
    /// YCSB's skewed latest: the most recently inserted keys are the most
    /// popular.
    Latest(Zipfian),
}

impl KeyChooser {
    /// A scrambled zipfian chooser over `space` keys.
    pub fn scrambled_zipfian(space: u64) -> KeyChooser {
        KeyChooser::ScrambledZipfian {
            zipfian: Zipfian::with_zeta(SCRAMBLED_ITEMS, ZIPFIAN_CONSTANT, SCRAMBLED_ZETAN),
            space: space.max(1),
        }
    }

    /// A latest chooser for a table of `records` keys.
    pub fn latest(records: u64) -> KeyChooser {
        KeyChooser::Latest(Zipfian::new(records))
    }

    /// The next key number, below `inserted` (the acknowledged key count).
    pub fn next(&mut self, rng: &mut SmallRng, inserted: u64) -> u64 {
        let inserted = inserted.max(1);
        match self {
            KeyChooser::Uniform => rng.random_range(0..inserted),
            KeyChooser::ScrambledZipfian { zipfian, space } => loop {
                // YCSB redraws keys that are not inserted yet.
                let key = fnv_hash64(zipfian.next(rng)) % *space;
                if key < inserted {
                    return key;
                }
            },
            KeyChooser::Latest(zipfian) => {
                zipfian.grow(inserted);
                inserted - 1 - zipfian.next(rng)
            }
        }
    }
}

/// The insert key sequence shared by all threads: hands out new key
/// numbers and tracks the highest number below which every insert has
/// finished (YCSB's `AcknowledgedCounterGenerator`), so readers never pick
/// a key whose insert is still in flight.
pub struct InsertCounter {
    next: AtomicU64,
    acknowledged: AtomicU64,
    done_out_of_order: Mutex<BTreeSet<u64>>,
}

impl InsertCounter {
    /// A counter whose first new key is `records`.
    pub fn new(records: u64) -> InsertCounter {
        InsertCounter {
            next: AtomicU64::new(records),
            acknowledged: AtomicU64::new(records),
            done_out_of_order: Mutex::new(BTreeSet::new()),
        }
    }

    /// A fresh key number to insert.
    pub fn take(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Marks `key`'s insert as finished.
    pub fn acknowledge(&self, key: u64) {
        let mut done = self.done_out_of_order.lock();
        done.insert(key);
        let mut limit = self.acknowledged.load(Ordering::Acquire);
        while done.remove(&limit) {
            limit += 1;
        }
        self.acknowledged.store(limit, Ordering::Release);
    }

    /// Keys below this number are all inserted.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fnv_hash_matches_ycsb() {
        // "user6284781860667377211" is the first key of every YCSB load.
        assert_eq!(fnv_hash64(0), 6_284_781_860_667_377_211);
        assert_eq!(fnv_hash64(1), 8_517_097_267_634_966_620);
        assert_eq!(fnv_hash64(2), 1_820_151_046_732_198_393);
    }

    #[test]
    fn zipfian_prefers_low_items_and_stays_in_range() {
        let z = Zipfian::new(1000);
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = vec![0u32; 1000];
        for _ in 0..200_000 {
            counts[z.next(&mut rng) as usize] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]);
        // With theta 0.99 over 1000 items, item 0 draws about 1/zeta(1000) = 13%.
        let share = f64::from(counts[0]) / 200_000.0;
        assert!((0.11..0.15).contains(&share), "item 0 share {share}");
    }

    #[test]
    fn grown_zeta_equals_zeta_computed_at_once() {
        let mut z = Zipfian::new(100);
        z.grow(5000);
        let direct = Zipfian::new(5000);
        assert!((z.zetan - direct.zetan).abs() < 1e-9);
        assert!((z.eta - direct.eta).abs() < 1e-12);
    }

    #[test]
    fn precomputed_scrambled_zeta_is_consistent_with_the_series_head() {
        // The series converges slowly; its first million terms must stay
        // below the precomputed total for 10^10.
        assert!(zeta(0, 1_000_000, ZIPFIAN_CONSTANT, 0.0) < SCRAMBLED_ZETAN);
    }

    #[test]
    fn choosers_never_pick_keys_not_yet_inserted() {
        let mut rng = SmallRng::seed_from_u64(3);
        for mut chooser in [KeyChooser::Uniform, KeyChooser::scrambled_zipfian(2000), KeyChooser::latest(1000)] {
            for inserted in [1000u64, 1500, 2000] {
                for _ in 0..5000 {
                    assert!(chooser.next(&mut rng, inserted) < inserted);
                }
            }
        }
    }

    #[test]
    fn latest_prefers_the_newest_keys() {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut chooser = KeyChooser::latest(1000);
        let newest = (0..10_000).filter(|_| chooser.next(&mut rng, 1000) >= 990).count();
        assert!(newest > 3000, "only {newest} of 10000 picks among the 10 newest keys");
    }

    #[test]
    fn acknowledged_counter_waits_for_gaps() {
        let c = InsertCounter::new(10);
        let (a, b, d) = (c.take(), c.take(), c.take());
        assert_eq!((a, b, d), (10, 11, 12));
        c.acknowledge(b);
        assert_eq!(c.acknowledged(), 10);
        c.acknowledge(a);
        assert_eq!(c.acknowledged(), 12);
        c.acknowledge(d);
        assert_eq!(c.acknowledged(), 13);
    }
}
