//! The link task: one subscription and one command connection to Redis, the background work
//! of the shared instances, and the relink loop with backoff.

use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::{Client, ErrorKind, RedisError, RedisResult};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::MissedTickBehavior;

use super::{breaker, budget, rate_limit, status, window, Event, FleetOptions};

/// The first wait before relinking, doubled after each failed attempt up to the last.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A `PING` every this many `sync` periods, so a server that stopped answering (not only
/// one that closed the connection) is noticed with nothing else to send.
const PING_EVERY: u32 = 10;

/// One connected session: the subscription and the command connection.
pub(super) struct Session {
    pubsub: PubSub,
    conn: ConnectionManager,
}

impl Session {
    /// Connects both, subscribed to the fleet's channels, within `connect_timeout`.
    pub(super) async fn open(client: &Client, options: &FleetOptions) -> RedisResult<Session> {
        let limit = options.connect_timeout;
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(breaker::channel(&options.prefix)).await?;
            // The manager reconnects by itself within a session; the session ends (and this
            // loop relinks) when the subscription is lost or a command fails.
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(limit)
                .set_response_timeout(limit)
                .set_number_of_retries(1);
            let mut conn = ConnectionManager::new_with_config(client.clone(), config).await?;
            // A round trip, so a server asking for credentials says so now (`NOAUTH`).
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            Ok(Session { pubsub, conn })
        };
        tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| Err(timed_out()))
    }

    /// Serves until the link fails; returns why.
    async fn serve(
        self,
        options: &FleetOptions,
        origin: u64,
        events: &mut UnboundedReceiver<Event>,
    ) -> RedisError {
        let Session { pubsub, mut conn } = self;
        let (_sink, mut messages) = pubsub.split();
        let mut tick = tokio::time::interval(options.sync);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut ticks = 0u32;
        let mut published = window::Published::default();
        let clock = tokio::time::Instant::now();
        // A dry pool wakes the link at most four times per `sync`; the tick does the rest.
        let mut next_dry = clock;
        loop {
            let result = tokio::select! {
                message = messages.next() => match message {
                    Some(message) => {
                        breaker::hear(&message, origin);
                        Ok(())
                    }
                    None => Err(lost()),
                },
                Some(event) = events.recv() => match event {
                    Event::Breaker(name, event) => {
                        breaker::publish(&mut conn, &options.prefix, origin, name, event).await
                    }
                },
                () = rate_limit::dry(), if tokio::time::Instant::now() >= next_dry => {
                    next_dry = tokio::time::Instant::now() + options.sync / 4;
                    rate_limit::lease(&mut conn, &options.prefix, options.sync, clock.elapsed()).await
                }
                _ = tick.tick() => {
                    ticks = ticks.wrapping_add(1);
                    let ping = ticks % PING_EVERY == 0;
                    periodic(&mut conn, options, origin, ping, clock.elapsed(), &mut published).await
                }
            };
            if let Err(error) = result {
                return error;
            }
        }
    }
}

/// The work of one `sync` period: a `PING` if `ping`, the breakers' leases and windows, the
/// rate limits' pools, the retry budgets' counts; `now`: the link's clock.
async fn periodic(
    conn: &mut ConnectionManager,
    options: &FleetOptions,
    origin: u64,
    ping: bool,
    now: Duration,
    published: &mut window::Published,
) -> RedisResult<()> {
    let prefix = &options.prefix;
    if ping {
        redis::cmd("PING").query_async::<()>(conn).await?;
    }
    breaker::leases(conn, prefix, origin).await?;
    window::publish(conn, prefix, origin, options.sync, now, published).await?;
    rate_limit::lease(conn, prefix, options.sync, now).await?;
    budget::push(conn, prefix, origin, now).await
}

/// The link task: serves sessions for the rest of the process, relinking with backoff.
pub(super) async fn run(
    client: Client,
    options: FleetOptions,
    origin: u64,
    mut events: UnboundedReceiver<Event>,
    mut first: Option<Session>,
) {
    let mut delay = BACKOFF_MIN;
    loop {
        let session = match first.take() {
            Some(session) => Ok(session),
            None => Session::open(&client, &options).await,
        };
        match session {
            Ok(session) => {
                // Changes made while unlinked are not replayed (`mod.rs`, "The link").
                while events.try_recv().is_ok() {}
                budget::relinked();
                status::up();
                delay = BACKOFF_MIN;
                let error = session.serve(&options, origin, &mut events).await;
                status::down(&error.to_string());
            }
            Err(error) => status::down(&error.to_string()),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

/// Whether `error` is the server refusing or asking for credentials.
pub(super) fn is_auth(error: &RedisError) -> bool {
    error.kind() == ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("NOAUTH" | "WRONGPASS"))
}

fn timed_out() -> RedisError {
    (ErrorKind::IoError, "timed out connecting to Redis").into()
}

fn lost() -> RedisError {
    (ErrorKind::IoError, "the subscription to Redis was lost").into()
}
