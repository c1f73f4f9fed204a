//! The breaker's messages and trial leases in Redis (the breaker's own hooks are
//! `breaker/fleet.rs`).

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{Msg, RedisResult, Script};

use super::{breakers, BreakerEvent, LeaseWant};

/// Renews the lease if this process holds it: 1 if renewed, 0 if it was lost.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           return redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
         else return 0 end",
    )
});

/// Gives the lease back if this process holds it.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           return redis.call('DEL', KEYS[1]) \
         else return 0 end",
    )
});

/// The channel every replica's breakers publish their changes on.
pub(super) fn channel(prefix: &str) -> String {
    format!("{prefix}#breaker")
}

/// The half-open lease of the breaker `name`.
pub(super) fn lease_key(prefix: &str, name: &str) -> String {
    format!("{prefix}:{name}#trial")
}

/// Publishes a change of this replica's breaker `name`, or gives its lease back.
pub(super) async fn publish(
    conn: &mut ConnectionManager,
    prefix: &str,
    origin: u64,
    name: &str,
    event: BreakerEvent,
) -> RedisResult<()> {
    let message = match event {
        BreakerEvent::Open { level } => format!("open {level} {origin} {name}"),
        BreakerEvent::Close => format!("close 0 {origin} {name}"),
        BreakerEvent::Release => {
            return RELEASE
                .key(lease_key(prefix, name))
                .arg(origin)
                .invoke_async::<()>(conn)
                .await;
        }
    };
    redis::cmd("PUBLISH")
        .arg(channel(prefix))
        .arg(message)
        .query_async::<()>(conn)
        .await
}

/// Applies another replica's change to this one's breaker of the same name, if it joined.
pub(super) fn hear(message: &Msg, origin: u64) {
    let Ok(payload) = message.get_payload::<String>() else {
        return;
    };
    let mut parts = payload.splitn(4, ' ');
    let (Some(kind), Some(level), Some(from), Some(name)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if from.parse::<u64>() == Ok(origin) {
        return; // our own
    }
    let Some(breaker) = breakers().into_iter().find(|b| b.name() == name) else {
        return;
    };
    match kind {
        "open" => {
            breaker.fleet_open(level.parse().unwrap_or(0));
        }
        "close" => {
            breaker.fleet_close();
        }
        _ => {}
    }
}

/// Takes, renews or notices the loss of each joined breaker's trial lease.
pub(super) async fn leases(
    conn: &mut ConnectionManager,
    prefix: &str,
    origin: u64,
) -> RedisResult<()> {
    for breaker in breakers() {
        let ttl_ms = u64::try_from(breaker.fleet_lease_ttl().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        match breaker.fleet_lease() {
            LeaseWant::Take => {
                let taken: Option<String> = redis::cmd("SET")
                    .arg(lease_key(prefix, breaker.name()))
                    .arg(origin)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(conn)
                    .await?;
                if taken.is_some() {
                    breaker.fleet_set_lease(true);
                }
            }
            LeaseWant::Keep => {
                let kept: i64 = RENEW
                    .key(lease_key(prefix, breaker.name()))
                    .arg(origin)
                    .arg(ttl_ms)
                    .invoke_async(conn)
                    .await?;
                if kept == 0 {
                    breaker.fleet_set_lease(false);
                }
            }
            LeaseWant::Release => {
                RELEASE
                    .key(lease_key(prefix, breaker.name()))
                    .arg(origin)
                    .invoke_async::<()>(conn)
                    .await?;
            }
            LeaseWant::Nothing => {}
        }
    }
    Ok(())
}
