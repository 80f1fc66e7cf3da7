//! TPC-C's random data (clause 4.3.2): a-strings, n-strings, zip codes,
//! customer last names from syllables, and the non-uniform `NURand`
//! keying with its run-time constants (clause 2.1.6).

use rand::Rng;
use rand::rngs::SmallRng;

const SYLLABLES: [&str; 10] = ["BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"];
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The constants C of NURand for the customer last name, customer id and
/// item id. The run's C for last names differs from the load's by an
/// amount in the range clause 2.1.6.1 allows.
#[derive(Clone, Copy, Debug)]
pub struct Constants {
    /// C for `NURand(255, 0, 999)` (last names).
    pub c_last: i64,
    /// C for `NURand(1023, 1, 3000)` (customer ids).
    pub c_id: i64,
    /// C for `NURand(8191, 1, 100000)` (item ids).
    pub ol_i_id: i64,
}

impl Constants {
    /// Random constants for the load.
    pub fn for_load(rng: &mut SmallRng) -> Constants {
        Constants {
            c_last: rng.random_range(0..=255),
            c_id: rng.random_range(0..=1023),
            ol_i_id: rng.random_range(0..=8191),
        }
    }

    /// Constants for the run: the same C for ids, and a C for last names
    /// whose distance from the load's is in 65..=119 and not 96 or 112.
    pub fn for_run(load: Constants, rng: &mut SmallRng) -> Constants {
        let c_last = loop {
            let candidate = rng.random_range(0..=255i64);
            let delta = (candidate - load.c_last).abs();
            if (65..=119).contains(&delta) && delta != 96 && delta != 112 {
                break candidate;
            }
        };
        Constants { c_last, ..load }
    }
}

/// NURand(A, x, y) = (((random(0, A) | random(x, y)) + C) % (y - x + 1)) + x.
pub fn nurand(rng: &mut SmallRng, a: i64, x: i64, y: i64, c: i64) -> i64 {
    (((rng.random_range(0..=a) | rng.random_range(x..=y)) + c) % (y - x + 1)) + x
}

/// A random alphanumeric string of `min..=max` characters.
pub fn astring(rng: &mut SmallRng, min: usize, max: usize) -> String {
    let len = rng.random_range(min..=max);
    (0..len).map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())])).collect()
}

/// A random string of digits of `min..=max` characters.
pub fn nstring(rng: &mut SmallRng, min: usize, max: usize) -> String {
    let len = rng.random_range(min..=max);
    (0..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A zip code: four random digits then `11111`.
pub fn zip(rng: &mut SmallRng) -> String {
    format!("{}11111", nstring(rng, 4, 4))
}

/// A two-letter state.
pub fn state(rng: &mut SmallRng) -> String {
    (0..2).map(|_| char::from(b'A' + rng.random_range(0..26u8))).collect()
}

/// `i_data` / `s_data`: 26–50 characters, 10% of them holding `ORIGINAL`
/// at a random position.
pub fn data_with_original(rng: &mut SmallRng) -> String {
    let mut data = astring(rng, 26, 50);
    if rng.random_ratio(1, 10) {
        let at = rng.random_range(0..=data.len() - 8);
        data.replace_range(at..at + 8, "ORIGINAL");
    }
    data
}

/// The last name of number `n` (0..=999): three syllables by its digits.
pub fn last_name(n: i64) -> String {
    let n = n.clamp(0, 999) as usize;
    format!("{}{}{}", SYLLABLES[n / 100], SYLLABLES[(n / 10) % 10], SYLLABLES[n % 10])
}

/// A random last name for a transaction: `NURand(255, 0, 999)`.
pub fn random_last_name(rng: &mut SmallRng, constants: &Constants) -> String {
    last_name(nurand(rng, 255, 0, 999, constants.c_last))
}

/// A random amount with two decimals in `min_cents..=max_cents`.
pub fn cents(rng: &mut SmallRng, min_cents: i64, max_cents: i64) -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(rng.random_range(min_cents..=max_cents), 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn last_names_follow_the_syllable_table() {
        assert_eq!(last_name(0), "BARBARBAR");
        assert_eq!(last_name(371), "PRICALLYOUGHT");
        assert_eq!(last_name(999), "EINGEINGEING");
    }

    #[test]
    fn nurand_stays_in_range_and_run_constant_keeps_its_distance() {
        let mut rng = SmallRng::seed_from_u64(9);
        for _ in 0..100 {
            let load = Constants::for_load(&mut rng);
            let run = Constants::for_run(load, &mut rng);
            let delta = (run.c_last - load.c_last).abs();
            assert!((65..=119).contains(&delta) && delta != 96 && delta != 112);
            assert_eq!(run.c_id, load.c_id);
        }
        let c = Constants::for_load(&mut rng);
        for _ in 0..10_000 {
            let v = nurand(&mut rng, 1023, 1, 3000, c.c_id);
            assert!((1..=3000).contains(&v));
        }
    }

    #[test]
    fn original_appears_in_about_a_tenth_of_the_data() {
        let mut rng = SmallRng::seed_from_u64(1);
        let hits = (0..10_000).filter(|_| data_with_original(&mut rng).contains("ORIGINAL")).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}
