//! The fleet's window: window-mode breakers (`failure_rate`) judge the outcomes of every
//! replica, not only their own.
//!
//! # What is shared
//!
//! Each replica publishes what its closed breaker's window holds now (calls, failed, slow)
//! as its own field of the hash `<prefix>:<name>#window`, stamped with the server's clock,
//! and reads back, in the same script, the sums over every replica's field: the fleet's
//! window is the union of the replicas' windows (their last `window` calls each, or their
//! calls of the last `window`). A replica whose link finds the sums at the rule (at least
//! `min_calls` calls, the failed or slow fraction at its rate) opens its breaker as a trip
//! of its own, which is published like any trip and opens the fleet. A replica alone may
//! hold fewer than `min_calls` outcomes, or a rate just under the rule: the fleet decides
//! on all of them. A replica's own window still trips it alone, as without the fleet.
//!
//! A breaker that is not closed publishes nothing (its field is deleted), so when the fleet
//! closes again every window starts empty, as a local close clears its own. A field not
//! refreshed for `10 × sync` (a replica that crashed, or lost its link) is ignored and
//! deleted; the hash expires as long after the fleet's last publication.
//!
//! # What it costs
//!
//! Nothing on a call's path: the link reads the window with the loads the snapshots use. A
//! replica publishes when its failed or slow count changed, when its call count moved by
//! more than an eighth, and at least every `3 × sync` while its window holds calls (so its
//! field stays fresh): one script per publication, none while nothing changes and the
//! window is empty. The decision is as fresh as the last publication of each replica, at
//! most `sync` after the outcome in the replica that moved the sums.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

use super::breakers;

/// Sets (or, with no calls, deletes) replica `ARGV[1]`'s window, `ARGV[2..4]`; returns the
/// sums of the fields at most `ARGV[5]` ms old, deleting the older ones.
static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local t = redis.call('TIME') \
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
         local stale = tonumber(ARGV[5]) \
         if tonumber(ARGV[2]) > 0 then \
           redis.call('HSET', KEYS[1], ARGV[1], \
             ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. now) \
         else redis.call('HDEL', KEYS[1], ARGV[1]) end \
         local all = redis.call('HGETALL', KEYS[1]) \
         local c, f, s, old = 0, 0, 0, {} \
         for i = 1, #all, 2 do \
           local v = {} \
           for w in string.gmatch(all[i + 1], '%S+') do table.insert(v, tonumber(w)) end \
           if #v < 4 or v[4] < now - stale then table.insert(old, all[i]) \
           else c = c + v[1] f = f + v[2] s = s + v[3] end \
         end \
         if #old > 0 then redis.call('HDEL', KEYS[1], unpack(old)) end \
         if c > 0 then redis.call('PEXPIRE', KEYS[1], stale) end \
         return {c, f, s}",
    )
});

/// What a window holds: calls recorded, of which failed and slow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outcomes {
    pub(crate) calls: u64,
    pub(crate) failed: u64,
    pub(crate) slow: u64,
}

/// What this replica last published per breaker, and when (ms on the link's clock): the
/// link's own, for one session.
#[derive(Debug, Default)]
pub(super) struct Published(HashMap<&'static str, (Outcomes, u64)>);

/// Whether `now` differs from what was `published` enough to publish it (module docs).
fn worth(now: Outcomes, published: Outcomes) -> bool {
    now.failed != published.failed
        || now.slow != published.slow
        || now.calls.abs_diff(published.calls) > published.calls / 8
}

/// Publishes every joined window-mode breaker's window that is worth it, and opens those
/// the fleet's sums trip; `now`: the link's clock.
pub(super) async fn publish(
    conn: &mut ConnectionManager,
    prefix: &str,
    origin: u64,
    sync: Duration,
    now: Duration,
    published: &mut Published,
) -> RedisResult<()> {
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    let refresh_ms = u64::try_from((sync * 3).as_millis()).unwrap_or(u64::MAX);
    let stale_ms = u64::try_from((sync * 10).as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    for breaker in breakers() {
        let Some(outcomes) = breaker.fleet_window() else {
            continue;
        };
        let (last, at) = published.0.get(breaker.name()).copied().unwrap_or_default();
        let due = outcomes.calls > 0 && now_ms >= at.saturating_add(refresh_ms);
        if !due && !worth(outcomes, last) {
            continue;
        }
        let (calls, failed, slow): (u64, u64, u64) = PUBLISH
            .key(format!("{prefix}:{}#window", breaker.name()))
            .arg(origin)
            .arg(outcomes.calls)
            .arg(outcomes.failed)
            .arg(outcomes.slow)
            .arg(stale_ms)
            .invoke_async(conn)
            .await?;
        published.0.insert(breaker.name(), (outcomes, now_ms));
        breaker.fleet_window_trip(Outcomes {
            calls,
            failed,
            slow,
        });
    }
    Ok(())
}
