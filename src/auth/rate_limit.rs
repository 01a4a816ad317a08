//! Sign-in attempts per client IP: more than the limit within a minute is
//! answered 429. Kept in memory (per instance); the per-account lockout lives
//! in the database so it holds across instances.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

pub struct IpLimiter {
    limit: u32,
    window_secs: i64,
    seen: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl IpLimiter {
    pub fn new(limit: u32, window_secs: i64) -> Self {
        IpLimiter {
            limit,
            window_secs,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt at `now` (unix seconds); false when over the limit.
    pub fn allow(&self, ip: IpAddr, now: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        if seen.len() > 100_000 {
            let window = self.window_secs;
            seen.retain(|_, (start, _)| now - *start < window);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now - entry.0 >= self.window_secs {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_window() {
        let limiter = IpLimiter::new(20, 60);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..20 {
            assert!(limiter.allow(ip, 1000));
        }
        assert!(!limiter.allow(ip, 1030));
        assert!(limiter.allow("10.0.0.2".parse().unwrap(), 1030));
        assert!(limiter.allow(ip, 1061));
    }
}
