//! Slowing down credential guessing without letting one guesser lock others out.
//!
//! Three limits, all checked before any argon2 work:
//! - failures per **credential**: per (client address, username) for passwords, per key prefix
//!   for API keys — guessing at one account's password or one key blocks only that one, and a
//!   bad key never blocks another key;
//! - failures per **client address**, whatever the username (known, unknown or mistyped): when
//!   an address has spent its budget, password sign-ins from it that are not already verified
//!   (cached) wait. Counting every failure alike means the budget says nothing about which
//!   usernames exist. Valid API keys and cached passwords are never held back by it;
//! - password checks **in flight per address** (more wait their turn), so one address cannot
//!   fill the argon2 threads and slow everyone else's sign-in.
//!
//! The client address is the TCP peer unless the connection came through a PROXY-protocol load
//! balancer (see `proxy_protocol`), which tells the real one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

use super::error::ApiError;
use super::slots::{KeyedSlot, KeyedSlots};

/// The most throttle entries kept before old ones are dropped (bounds memory under spraying).
const MAX_ENTRIES: usize = 100_000;

/// The client address of a connection, as a PROXY-protocol header stated it.
#[derive(Clone, Copy, Debug)]
pub struct ProxiedClient(pub IpAddr);

/// The address sign-in limits apply to: the one the load balancer reported, else the peer's.
/// An IPv6 client counts by its /64, the block one subscriber is usually given, so hopping
/// between its addresses does not buy new attempts.
pub fn client_address(req: &HttpRequest) -> String {
    let ip = match req.conn_data::<ProxiedClient>() {
        Some(ProxiedClient(ip)) => Some(*ip),
        None => req.peer_addr().map(|a| a.ip()),
    };
    ip.map(|ip| limit_key(super::proxy_protocol::canonical(ip))).unwrap_or_default()
}

fn limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// `burst` failures per key, then refused until one more is earned every `refill`.
struct FailureBuckets {
    failures: governor::DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<String, Instant>>,
    /// When the maps were last pruned: at most every [`PRUNE_EVERY`], so a flood of failures
    /// does not pay a full scan each.
    pruned: Mutex<Instant>,
}

const PRUNE_EVERY: Duration = Duration::from_secs(10);

impl FailureBuckets {
    fn new(burst: u32, refill: Duration) -> Self {
        let quota = governor::Quota::with_period(refill)
            .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MIN))
            // The limiter refuses the failure *after* its capacity, and that one blocks: so a
            // capacity of burst - 1 blocks right at the burst-th failure.
            .allow_burst(
                std::num::NonZeroU32::new(burst.saturating_sub(1).max(1)).unwrap_or(std::num::NonZeroU32::MIN),
            );
        FailureBuckets {
            failures: governor::RateLimiter::keyed(quota),
            blocked: Mutex::new(HashMap::new()),
            pruned: Mutex::new(Instant::now()),
        }
    }

    /// 429 with the seconds until `key` may try again, if it is blocked.
    fn check(&self, key: &str) -> Result<(), ApiError> {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(key) {
            Some(until) if *until > Instant::now() => {
                Err(ApiError::TooManyRequests(until.saturating_duration_since(Instant::now()).as_secs().max(1)))
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, key: &str) {
        if self.failures.len() > MAX_ENTRIES && self.due_for_pruning() {
            self.failures.retain_recent();
            self.failures.shrink_to_fit();
            let now = Instant::now();
            self.blocked.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, until| *until > now);
        }
        if let Err(not_until) = self.failures.check_key(&key.to_string()) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            blocked.insert(key.to_string(), Instant::now() + wait);
        }
    }

    fn due_for_pruning(&self) -> bool {
        let mut pruned = self.pruned.lock().unwrap_or_else(|p| p.into_inner());
        if pruned.elapsed() < PRUNE_EVERY {
            return false;
        }
        *pruned = Instant::now();
        true
    }
}

pub struct SignInThrottle {
    per_credential: FailureBuckets,
    per_address: FailureBuckets,
    checks_per_address: KeyedSlots<String>,
}

/// One password check in flight for an address; ends when dropped.
pub type PasswordCheck = KeyedSlot<String>;

/// How long a password check waits for its address's turn before 429.
const CHECK_WAIT: Duration = Duration::from_secs(10);

/// The throttle bucket of a password sign-in.
pub fn password_bucket(address: &str, username: &str) -> String {
    format!("password|{address}|{username}")
}

/// The throttle bucket of an API key: its lookup prefix, from one address — bad guesses at a
/// key lock out neither other keys nor the key's holder elsewhere.
pub fn api_key_bucket(address: &str, prefix: &str) -> String {
    format!("key|{address}|{prefix}")
}

impl SignInThrottle {
    pub fn new(config: &crate::config::AuthConfig) -> Self {
        let refill = Duration::from_secs(config.failed_logins_refill_seconds.max(1));
        SignInThrottle {
            per_credential: FailureBuckets::new(config.failed_logins_burst, refill),
            per_address: FailureBuckets::new(config.failed_logins_per_address_burst, refill),
            checks_per_address: KeyedSlots::new(config.password_checks_per_address),
        }
    }

    /// Refuses a credential that failed too often lately.
    pub fn check_credential(&self, bucket: &str) -> Result<(), ApiError> {
        self.per_credential.check(bucket)
    }

    /// Before a password check that is not already cached: refuses when the address spent its
    /// failure budget; waits while the address has as many checks running as it may.
    pub async fn start_password_check(&self, address: &str) -> Result<PasswordCheck, ApiError> {
        self.check_address(address)?;
        self.checks_per_address
            .take(address.to_string(), CHECK_WAIT)
            .await
            .map_err(|_| ApiError::Busy("too many sign-ins are being checked for this address; retry shortly".into()))
    }

    /// Refuses an address that spent its failure budget.
    pub fn check_address(&self, address: &str) -> Result<(), ApiError> {
        self.per_address.check(address)
    }

    /// A failure that names no credential (an API key nobody holds): counts against the address.
    pub fn address_failed(&self, address: &str) {
        self.per_address.failed(address);
    }

    /// A failed sign-in: counts against the credential and against the address.
    pub fn failed(&self, bucket: &str, address: &str) {
        self.per_credential.failed(bucket);
        self.per_address.failed(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a = limit_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = limit_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, limit_key("2001:db8:1:3::1".parse().unwrap()));
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(limit_key(crate::http::proxy_protocol::canonical(mapped)), "198.51.100.7");
    }
}
