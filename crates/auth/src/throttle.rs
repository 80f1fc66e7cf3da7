//! Back-off after failed logins, per client address, shared by every
//! front end: after a few failures each further attempt from the same
//! address waits longer before it is answered (doubling up to a cap), so
//! guessing passwords is slow while a user who mistypes once is not held
//! up. Failures are forgotten after a quiet period or a success.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Failures allowed before answers slow down.
const FREE_FAILURES: u32 = 3;
/// The first delay; each further failure doubles it.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(10);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(300);
/// Addresses tracked at most (the oldest are dropped beyond it).
const MAX_TRACKED: usize = 100_000;

/// Failed logins by client address.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// A throttle with no failures recorded.
    pub fn new() -> Throttle {
        Throttle::default()
    }

    /// Records a failed login from `peer`; returns how long to wait before
    /// answering it.
    pub fn failed(&self, peer: IpAddr) -> Duration {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, at)| now.duration_since(*at) < FORGET_AFTER);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let entry = failures.entry(peer).or_insert((0, now));
        if now.duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        delay_after(entry.0)
    }

    /// How long an attempt from `peer` waits before it is even checked
    /// (while it is in back-off).
    pub fn delay(&self, peer: IpAddr) -> Duration {
        match self.failures.lock().get(&peer) {
            Some(&(n, at)) if at.elapsed() < FORGET_AFTER => delay_after(n),
            _ => Duration::ZERO,
        }
    }

    /// Forgets `peer`'s failures after a successful login.
    pub fn succeeded(&self, peer: IpAddr) {
        self.failures.lock().remove(&peer);
    }
}

fn delay_after(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES - 1).min(16);
    (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_and_reset_on_success() {
        let t = Throttle::new();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.failed(ip), Duration::ZERO);
        }
        assert_eq!(t.failed(ip), FIRST_DELAY);
        assert_eq!(t.failed(ip), FIRST_DELAY * 2);
        assert_eq!(t.delay(ip), FIRST_DELAY * 2);
        assert_eq!(t.delay(other), Duration::ZERO);
        for _ in 0..40 {
            t.failed(ip);
        }
        assert_eq!(t.delay(ip), MAX_DELAY);
        t.succeeded(ip);
        assert_eq!(t.delay(ip), Duration::ZERO);
    }
}
