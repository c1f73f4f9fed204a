//! The shared rate limit: permits leased from Redis in batches.
//!
//! Redis holds the fleet's GCRA state, one theoretical arrival time in microseconds of the
//! server's clock (`TIME`) under `<prefix>:<name>#rate`; a Lua script takes up to `n` permits
//! at once, atomically, and gives back the unused permits of an older lease in the same call.
//! Each replica keeps what it leased in a pool of its own (an atomic count), and a call takes
//! one with a compare-and-swap: no round trip on the call's path while the pool has permits.
//!
//! Once per `sync` the link tops each pool up to what it used in the last period (plus the
//! callers it refused), at least 1 and at most `rate × sync / per` (at most `burst`), so a
//! replica holds about one period's worth. A pool that runs dry wakes the link at once (at
//! most four times per `sync`), so a busier replica gets its next batch within a round trip.
//! A caller that finds the pool empty is refused with `RateLimited`, its `retry_after` when
//! the fleet's next permit is due (`max_wait` does not wait for a lease: a `#[retry]`
//! outside waits `retry_after`).
//!
//! Leased permits are used within `max(sync, per / 10)` of their lease, or given back: the
//! fleet admits at most `rate × (1 + max(sync, per / 10) / per)` per `per` plus `burst`,
//! that is within 10 % of the limit for any `per` of at least ten `sync` periods.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};
use tokio::sync::Notify;

use super::limiters;
use crate::RateLimitConfig;

/// Takes up to `ARGV[4]` permits after giving back `ARGV[3]`; returns the permits taken and
/// the microseconds until the next one is due.
static LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local t = redis.call('TIME') \
         local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) \
         local interval = tonumber(ARGV[1]) \
         local tolerance = tonumber(ARGV[2]) \
         local tat = tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[3]) * interval \
         if tat < now then tat = now end \
         local k = math.floor((now + tolerance - tat) / interval) + 1 \
         if k > tonumber(ARGV[4]) then k = tonumber(ARGV[4]) end \
         if k < 0 then k = 0 end \
         tat = tat + k * interval \
         redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', ARGV[5]) \
         local wait = tat - tolerance - now \
         if wait < 0 then wait = 0 end \
         return {k, math.floor(wait)}",
    )
});

/// Wakes the link when a pool runs dry.
static DRY: Notify = Notify::const_new();

const NEVER: u64 = u64::MAX;

/// The permits a replica leased for one limiter.
#[derive(Debug)]
pub(crate) struct Pool {
    permits: AtomicU32,
    /// Callers refused for want of a permit since the link last looked.
    wanted: AtomicU32,
    /// What the link left in the pool when it last looked.
    last: AtomicU32,
    /// When the permits in the pool were leased (ms on the link's clock), or `NEVER`.
    leased_at: AtomicU64,
    /// When the fleet's next permit is due, as of the last lease (nanoseconds).
    retry_ns: AtomicU64,
}

/// What [`Pool::take`] found.
pub(crate) enum Take {
    Permit,
    Empty { retry_after: u64 },
    NeverLeased,
}

impl Pool {
    pub(crate) const fn new() -> Self {
        Self {
            permits: AtomicU32::new(0),
            wanted: AtomicU32::new(0),
            last: AtomicU32::new(0),
            leased_at: AtomicU64::new(NEVER),
            retry_ns: AtomicU64::new(0),
        }
    }

    /// Takes a permit: one compare-and-swap while there are some. `Relaxed`: the count is
    /// all that matters, and read-modify-writes of one word never lose or double one.
    #[inline]
    pub(crate) fn take(&self) -> Take {
        let mut permits = self.permits.load(Ordering::Relaxed);
        while permits > 0 {
            match self.permits.compare_exchange_weak(
                permits,
                permits - 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Take::Permit,
                Err(actual) => permits = actual,
            }
        }
        if self.leased_at.load(Ordering::Relaxed) == NEVER {
            return Take::NeverLeased;
        }
        self.wanted.fetch_add(1, Ordering::Relaxed);
        DRY.notify_one();
        Take::Empty {
            retry_after: self.retry_ns.load(Ordering::Relaxed).max(1),
        }
    }
}

#[cfg(test)]
impl Pool {
    /// As a lease of `permits` would leave it, the next permit due in `retry_ns`.
    pub(crate) fn fill_for_test(&self, permits: u32, retry_ns: u64) {
        self.permits.fetch_add(permits, Ordering::Relaxed);
        self.leased_at.store(0, Ordering::Relaxed);
        self.retry_ns.store(retry_ns, Ordering::Relaxed);
    }

    pub(crate) fn wanted_for_test(&self) -> u32 {
        self.wanted.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
impl Schedule {
    pub(crate) fn max_batch_for_test(&self) -> u32 {
        self.max_batch
    }

    pub(crate) fn max_age_for_test(&self) -> Duration {
        self.max_age
    }
}

/// A limiter's schedule in the script's units.
pub(crate) struct Schedule {
    interval_us: u64,
    tolerance_us: u64,
    max_batch: u32,
    max_age: Duration,
    ttl_ms: u64,
}

impl Schedule {
    pub(crate) fn new(config: &RateLimitConfig, nanos_per_permit: u64, sync: Duration) -> Self {
        // The script's resolution is a microsecond.
        let interval_us = nanos_per_permit.div_ceil(1000).max(1);
        let burst = config.burst();
        let per = config.per();
        let per_sync = u128::from(config.rate()) * sync.as_nanos() / per.as_nanos().max(1);
        let max_batch = u32::try_from(per_sync).unwrap_or(u32::MAX).clamp(1, burst);
        let ttl = per + Duration::from_micros(interval_us.saturating_mul(u64::from(burst)));
        Self {
            interval_us,
            tolerance_us: interval_us.saturating_mul(u64::from(burst - 1)),
            max_batch,
            max_age: sync.max(per / 10),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX) + 1000,
        }
    }
}

/// Waits until a pool runs dry.
pub(super) async fn dry() {
    DRY.notified().await;
}

/// Tops up every joined limiter's pool (module docs); `now`: the link's clock.
pub(super) async fn lease(
    conn: &mut ConnectionManager,
    prefix: &str,
    sync: Duration,
    now: Duration,
) -> RedisResult<()> {
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(NEVER - 1);
    for limiter in limiters() {
        let pool = limiter.fleet_pool();
        let schedule = limiter.fleet_schedule(sync);
        let have = pool.permits.load(Ordering::Relaxed);
        let used = pool.last.load(Ordering::Relaxed).saturating_sub(have);
        let wanted = pool.wanted.swap(0, Ordering::Relaxed);
        let target = used.saturating_add(wanted).clamp(1, schedule.max_batch);
        let leased_at = pool.leased_at.load(Ordering::Relaxed);
        let max_age = u64::try_from(schedule.max_age.as_millis()).unwrap_or(NEVER);
        let stale = leased_at != NEVER && now_ms >= leased_at.saturating_add(max_age);
        let (give, have) = if stale {
            (pool.permits.swap(0, Ordering::Relaxed), 0)
        } else {
            (0, have)
        };
        if have >= target && give == 0 && leased_at != NEVER {
            pool.last.store(have, Ordering::Relaxed);
            continue;
        }
        let (taken, wait_us): (u32, u64) = LEASE
            .key(format!("{prefix}:{}#rate", limiter.name()))
            .arg(schedule.interval_us)
            .arg(schedule.tolerance_us)
            .arg(give)
            .arg(target.saturating_sub(have))
            .arg(schedule.ttl_ms)
            .invoke_async(conn)
            .await?;
        let now_have = pool.permits.fetch_add(taken, Ordering::Relaxed) + taken;
        pool.last.store(now_have, Ordering::Relaxed);
        if taken > 0 || leased_at == NEVER || stale {
            pool.leased_at.store(now_ms, Ordering::Relaxed);
        }
        pool.retry_ns
            .store(wait_us.saturating_mul(1000), Ordering::Relaxed);
    }
    Ok(())
}
