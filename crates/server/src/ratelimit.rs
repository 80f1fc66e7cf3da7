//! Per-client rate limits, one per front end: a token bucket per client
//! IP address (`governor`), refilled at `<front end>_rate_limit` requests
//! per second and holding at most `<front end>_rate_burst`. Over the limit,
//! an HTTP request gets 429 with `Retry-After` (the health probes are never
//! limited), a pgwire statement SQLSTATE 53400 and a RESP command `-ERR`,
//! both saying when to retry; the connection stays open.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limit of one front end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second each client may make, sustained.
    pub per_second: NonZeroU32,
    /// Requests a client may make at once after being quiet.
    pub burst: NonZeroU32,
}

/// The buckets of every client seen recently.
pub struct Limiter {
    buckets: DefaultKeyedRateLimiter<IpAddr>,
    /// Checks since the idle clients were last forgotten.
    checks: AtomicU64,
}

/// How many checks pass between sweeps of idle clients.
const SWEEP_EVERY: u64 = 1 << 14;

impl Limiter {
    /// Buckets for `limit`.
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            buckets: RateLimiter::keyed(Quota::per_second(limit.per_second).allow_burst(limit.burst)),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a token for `client`, or says how long until one is there.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.forget_idle();
        }
        self.buckets
            .check_key(&bucket_of(client))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose buckets are full again (bounds the memory).
    pub fn forget_idle(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }
}

/// The bucket a client address draws from: an IPv4 address (also when
/// mapped into IPv6) on its own, an IPv6 address by its /64 — one host's
/// usual allocation, which it could otherwise rotate through to get
/// fresh buckets.
fn bucket_of(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Whole seconds to wait (at least one), for `Retry-After`.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_has_its_own_bucket() {
        let two = NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN);
        let limiter = Limiter::new(RateLimit { per_second: NonZeroU32::MIN, burst: two });
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        assert!(limiter.check(a).is_ok() && limiter.check(a).is_ok());
        let wait = limiter.check(a).err();
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(1)), "{wait:?}");
        assert!(limiter.check(b).is_ok(), "another client is not held back");
        // One IPv6 /64 is one client.
        let (c, d): (IpAddr, IpAddr) = ("2001:db8::1".parse().unwrap_or(a), "2001:db8::2:3".parse().unwrap_or(b));
        assert!(limiter.check(c).is_ok() && limiter.check(d).is_ok());
        assert!(limiter.check(c).is_err());
        assert_eq!(bucket_of("::ffff:10.0.0.1".parse().unwrap_or(a)), a);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
    }
}
