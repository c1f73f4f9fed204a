//! The shared retry budget: the fleet's calls and retries over the budget's window, counted
//! in Redis, and each replica's grant of retries from what the fleet has left.
//!
//! # What the fleet counts
//!
//! A call deposits and a retry withdraws in the replica's own budget, exactly as without the
//! fleet (one relaxed add on a call's path, `retry/budget.rs`). Once per `sync`, the link
//! pushes the replica's new calls and retries since its last push to the hash
//! `<prefix>:<name>#budget` (fields `c<second>` and `r<second>`, the seconds of the server's
//! clock, incremented with `HINCRBY`; `p<origin>`, the last second each replica pushed in),
//! and reads back, in the same script, the fleet's calls `C` and retries `R` over the last
//! ten seconds and the replicas `n` that pushed in them. Fields older than the window are
//! deleted as it moves, and the hash expires a window after the fleet's last push.
//!
//! # The fleet's allowance, and a replica's grant
//!
//! The fleet may retry `floor(budget × C) + budget_min × 10` times over the window: the
//! share of the fleet's calls, plus **one reserve for the whole fleet**, not one per replica.
//! The reserve exists so a dependency that gets few calls can still be retried a little;
//! the dependency's capacity does not grow with the callers' replicas, so neither does the
//! reserve (a fleet that wants more sets `budget_min` higher). Three replicas with local
//! budgets would add three reserves to an outage; linked, they add one.
//!
//! Of what is left, `A - R`, a replica takes for its next period `ceil((A - R) × part)`,
//! `part` the larger of its share of the window's calls (from its own budget) and `1 / n`: a
//! busy replica gets most, a quiet one enough for its next failure. The grant replaces the
//! previous one at every push, and a retry takes from it with one compare-and-swap: no round
//! trip on a call's path. The fleet's retries therefore stay within its allowance plus what
//! its replicas were granted in one period and had not yet pushed (the sum of the parts is
//! at most 2, and `n - 1` for the rounding up), bounded and converging on the allowance.
//!
//! A replica with no new call or retry pushes (and refreshes its grant) once a second
//! instead of once per `sync`. Before its first push, and whenever the process is unlinked,
//! its own budget decides, as without the fleet: it never fails open or closed differently.
//! On relink, what was counted while unlinked is not pushed (local history, like a breaker's
//! changes made meanwhile) and the grant waits for the first push.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

use super::budgets;
use crate::RetryPolicy;

/// The budget's window, in the server's seconds.
const WINDOW_SECS: u32 = resilience_config::retry::BUDGET_WINDOW_SECS;
/// A replica with nothing new pushes this often, so its grant and its `p` field stay fresh.
const IDLE_PUSH: Duration = Duration::from_secs(1);
const NONE: u64 = u64::MAX;

/// Adds `ARGV[2]` calls and `ARGV[3]` retries to the current second and marks replica
/// `ARGV[1]` present; returns the window's calls, retries and replicas (`ARGV[4]` seconds).
static PUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local sec = tonumber(redis.call('TIME')[1]) \
         local window = tonumber(ARGV[4]) \
         if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', KEYS[1], 'c' .. sec, ARGV[2]) end \
         if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[1], 'r' .. sec, ARGV[3]) end \
         redis.call('HSET', KEYS[1], 'p' .. ARGV[1], sec) \
         local all = redis.call('HGETALL', KEYS[1]) \
         local c, r, n, old = 0, 0, 0, {} \
         for i = 1, #all, 2 do \
           local kind, value = string.sub(all[i], 1, 1), tonumber(all[i + 1]) \
           local s = value \
           if kind ~= 'p' then s = tonumber(string.sub(all[i], 2)) end \
           if s == nil or s <= sec - window then table.insert(old, all[i]) \
           elseif kind == 'c' then c = c + value \
           elseif kind == 'r' then r = r + value \
           elseif kind == 'p' then n = n + 1 end \
         end \
         if #old > 0 then redis.call('HDEL', KEYS[1], unpack(old)) end \
         redis.call('PEXPIRE', KEYS[1], window * 1000 + 1000) \
         return {c, r, n}",
    )
});

/// A `shared` budget's side of the fleet, beside its local counters.
#[derive(Debug)]
pub(crate) struct Share {
    /// Retries this replica may still take this period, or `NONE` before the first push.
    grant: AtomicU64,
    /// The budget's counters as last pushed.
    pushed_calls: AtomicU64,
    pushed_retries: AtomicU64,
    /// When they were pushed, in ms on the link's clock.
    pushed_at: AtomicU64,
}

impl Share {
    pub(crate) const fn new() -> Self {
        Self {
            grant: AtomicU64::new(NONE),
            pushed_calls: AtomicU64::new(0),
            pushed_retries: AtomicU64::new(0),
            pushed_at: AtomicU64::new(0),
        }
    }

    /// Takes one retry from the grant: `None` before the first push. `Relaxed`: the count is
    /// all that matters, and a compare-and-swap never grants one retry twice.
    pub(crate) fn take(&self) -> Option<bool> {
        let mut grant = self.grant.load(Ordering::Relaxed);
        loop {
            match grant {
                NONE => return None,
                0 => return Some(false),
                _ => match self.grant.compare_exchange_weak(
                    grant,
                    grant - 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Some(true),
                    Err(actual) => grant = actual,
                },
            }
        }
    }

    /// Forgets the grant and takes the counters as pushed (a relink: `mod.rs`, "The link").
    fn reset(&self, calls: u64, retries: u64) {
        self.grant.store(NONE, Ordering::Relaxed);
        self.pushed_calls.store(calls, Ordering::Relaxed);
        self.pushed_retries.store(retries, Ordering::Relaxed);
        self.pushed_at.store(0, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn set_grant_for_test(&self, grant: u64) {
        self.grant.store(grant, Ordering::Relaxed);
    }
}

/// The fleet's counts over the window, as the script returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FleetCounts {
    pub(crate) calls: u64,
    pub(crate) retries: u64,
    pub(crate) replicas: u64,
}

/// A replica's grant for its next period (module docs): `mine` are its own calls in the
/// window, `share` and `reserve_per_sec` the budget's.
pub(crate) fn grant(fleet: FleetCounts, mine: u64, share: f64, reserve_per_sec: u32) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    // `share` is in [0, 1] and every product non-negative; `as` saturates and floors.
    {
        let allowance = (share * fleet.calls as f64) as u64
            + u64::from(reserve_per_sec) * u64::from(WINDOW_SECS);
        let remaining = allowance.saturating_sub(fleet.retries);
        if remaining == 0 {
            return 0;
        }
        let busy = if fleet.calls == 0 {
            1.0
        } else {
            (mine as f64 / fleet.calls as f64).min(1.0)
        };
        let part = busy.max(1.0 / fleet.replicas.max(1) as f64);
        (remaining as f64 * part).ceil() as u64
    }
}

/// Pushes every joined budget's new calls and retries and sets its grant (module docs);
/// `now`: the link's clock.
pub(super) async fn push(
    conn: &mut ConnectionManager,
    prefix: &str,
    origin: u64,
    now: Duration,
) -> RedisResult<()> {
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(NONE - 1);
    let idle_ms = u64::try_from(IDLE_PUSH.as_millis()).unwrap_or(NONE);
    for policy in budgets() {
        let budget = policy.fleet_budget();
        let (share, calls, retries) = budget.shared();
        let new_calls = calls.saturating_sub(share.pushed_calls.load(Ordering::Relaxed));
        let new_retries = retries.saturating_sub(share.pushed_retries.load(Ordering::Relaxed));
        let fresh = share
            .pushed_at
            .load(Ordering::Relaxed)
            .saturating_add(idle_ms)
            > now_ms;
        if new_calls == 0
            && new_retries == 0
            && fresh
            && share.grant.load(Ordering::Relaxed) != NONE
        {
            continue;
        }
        let (fleet_calls, fleet_retries, replicas): (u64, u64, u64) = PUSH
            .key(format!("{prefix}:{}#budget", policy.name()))
            .arg(origin)
            .arg(new_calls)
            .arg(new_retries)
            .arg(WINDOW_SECS)
            .invoke_async(conn)
            .await?;
        share.pushed_calls.store(calls, Ordering::Relaxed);
        share.pushed_retries.store(retries, Ordering::Relaxed);
        share.pushed_at.store(now_ms, Ordering::Relaxed);
        let config = policy.config();
        let fleet = FleetCounts {
            calls: fleet_calls,
            retries: fleet_retries,
            replicas,
        };
        let (_, mine) = budget.usage();
        let granted = grant(fleet, mine, config.budget.unwrap_or(0.0), config.budget_min);
        share.grant.store(granted, Ordering::Relaxed);
    }
    Ok(())
}

/// The link (re)starts: every joined budget forgets its grant, and what it counted while
/// unlinked is not pushed.
pub(super) fn relinked() {
    for policy in budgets() {
        let (share, calls, retries) = policy.fleet_budget().shared();
        share.reset(calls, retries);
    }
}

/// Whether a retry policy joins: `shared`, with a budget.
pub(super) fn joins(policy: &RetryPolicy) -> bool {
    policy.config().fleet() && policy.config().budget.is_some()
}
