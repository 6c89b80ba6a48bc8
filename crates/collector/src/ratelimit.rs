//! Rate limits (docs/collector.md, "Limits and abuse"): requests per client address, and
//! reports per client address and per address prefix over a window. Devices are anonymous, so
//! these are what bounds how many reports one client can fabricate; they key on the address,
//! never on address and port (a client opening more connections gets no more budget), and hold
//! addresses in memory only while recent, never stored or logged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The prefix that shares a budget: the /24 of an IPv4 address, the /48 of an IPv6 address
/// (what one customer of a provider typically holds). IPv4-mapped IPv6 counts as IPv4.
pub fn prefix(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0])
        }
    }
}

/// The address as IPv4 when it is an IPv4-mapped IPv6 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Token buckets per key: `capacity` tokens, refilled at `rate` per second.
#[derive(Debug, Default)]
struct Buckets {
    map: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Buckets {
    /// Takes `n` tokens for `key`; when there are not enough, takes none and returns the seconds
    /// until there will be (at least 1).
    fn take(&self, key: IpAddr, n: f64, capacity: f64, rate: f64) -> Result<(), u64> {
        if n > capacity {
            // Never admissible: wait for a whole window, and send fewer.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "the window"
            )]
            return Err((capacity / rate).ceil().max(1.0) as u64);
        }
        let Ok(mut map) = self.map.lock() else { return Ok(()) };
        let now = Instant::now();
        if map.len() > 100_000 {
            // Forget keys whose bucket is full again: they are the same as new ones.
            map.retain(|_, (tokens, last)| {
                *tokens + now.duration_since(*last).as_secs_f64() * rate < capacity
            });
        }
        let (tokens, last) = map.entry(key).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(capacity);
        *last = now;
        if *tokens >= n {
            *tokens -= n;
            Ok(())
        } else {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "positive, bounded by the window"
            )]
            let wait = ((n - *tokens) / rate).ceil().max(1.0) as u64;
            Err(wait)
        }
    }

    /// Gives back `n` tokens taken for `key` (a request refused by a later limit).
    fn give_back(&self, key: IpAddr, n: f64, capacity: f64) {
        if let Ok(mut map) = self.map.lock() {
            if let Some((tokens, _)) = map.get_mut(&key) {
                *tokens = (*tokens + n).min(capacity);
            }
        }
    }
}

/// The collector's rate limits.
#[derive(Debug, Default)]
pub struct RateLimits {
    requests: Buckets,
    reports: Buckets,
    prefix_reports: Buckets,
}

/// How the limits are set (part of [`crate::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    /// Requests per second one address may make on average (bursts up to twice that); 0: no
    /// limit.
    pub requests_per_sec: u32,
    /// Reports one address may send per window; 0: no limit.
    pub reports_per_address: u32,
    /// Reports one prefix ([`prefix`]) may send per window; 0: no limit.
    pub reports_per_prefix: u32,
    /// The window, seconds.
    pub window_secs: u32,
}

impl Default for RateConfig {
    /// 100 requests/s; 600 reports per address and 6,000 per prefix every 10 minutes (a device
    /// sends one report per campaign and epoch; an office behind one address, a few hundred).
    fn default() -> Self {
        RateConfig {
            requests_per_sec: 100,
            reports_per_address: 600,
            reports_per_prefix: 6_000,
            window_secs: 600,
        }
    }
}

impl RateLimits {
    /// Admits one request from `ip`, or returns the seconds to wait.
    pub fn request(&self, ip: IpAddr, c: &RateConfig) -> Result<(), u64> {
        if c.requests_per_sec == 0 {
            return Ok(());
        }
        let rate = f64::from(c.requests_per_sec);
        self.requests.take(canonical(ip), 1.0, 2.0 * rate, rate)
    }

    /// Admits `n` reports from `ip` against its address's and its prefix's budgets (taking from
    /// both or from neither), or returns the seconds to wait.
    pub fn reports(&self, ip: IpAddr, n: usize, c: &RateConfig) -> Result<(), u64> {
        #[allow(clippy::cast_precision_loss, reason = "at most reports_max")]
        let n = n as f64;
        let window = f64::from(c.window_secs.max(1));
        let ip = canonical(ip);
        let per = |limit: u32| (f64::from(limit), f64::from(limit) / window);
        if c.reports_per_address > 0 {
            let (cap, rate) = per(c.reports_per_address);
            self.reports.take(ip, n, cap, rate)?;
        }
        if c.reports_per_prefix > 0 {
            let (cap, rate) = per(c.reports_per_prefix);
            if let Err(wait) = self.prefix_reports.take(prefix(ip), n, cap, rate) {
                if c.reports_per_address > 0 {
                    self.reports.give_back(ip, n, f64::from(c.reports_per_address));
                }
                return Err(wait);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_group_a_customer_and_mapped_addresses_are_ipv4() {
        let p = |s: &str| prefix(s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])));
        assert_eq!(p("203.0.113.7"), p("203.0.113.200"));
        assert_ne!(p("203.0.113.7"), p("203.0.114.7"));
        assert_eq!(p("2001:db8:1:2::1"), p("2001:db8:1:ffff::9"));
        assert_ne!(p("2001:db8:1::1"), p("2001:db8:2::1"));
        assert_eq!(p("::ffff:203.0.113.7"), p("203.0.113.9"));
    }

    #[test]
    fn reports_are_limited_per_address_and_per_prefix() {
        let c = RateConfig {
            requests_per_sec: 0,
            reports_per_address: 10,
            reports_per_prefix: 15,
            window_secs: 600,
        };
        let l = RateLimits::default();
        let a: IpAddr = IpAddr::from([10, 0, 0, 1]);
        let b: IpAddr = IpAddr::from([10, 0, 0, 2]);
        assert_eq!(l.reports(a, 10, &c), Ok(()));
        // The address's budget is spent; 60 s per report at 10 per 600 s.
        assert_eq!(l.reports(a, 1, &c), Err(60));
        // Another address of the prefix has its own, but the prefix has only 5 left.
        assert_eq!(l.reports(b, 5, &c), Ok(()));
        assert!(l.reports(b, 1, &c).is_err());
        // A refusal by the prefix gave the address's tokens back: b still has 5 of its own.
        let c2 = RateConfig { reports_per_prefix: 0, ..c };
        assert_eq!(l.reports(b, 5, &c2), Ok(()));
        // More than the budget can ever hold waits for the whole budget.
        assert_eq!(RateLimits::default().reports(a, 11, &c), Err(600));
    }
}
