//! A `shared` rate limiter's side of the fleet (the `fleet` feature): while the process is
//! linked, a call is admitted by a permit leased from Redis, not by the local schedule. The
//! pool and the leasing are `crate::fleet::rate_limit`.

use super::gcra::Decision;
use super::RateLimiter;
use crate::fleet::{Pool, Schedule, Take};

impl RateLimiter {
    /// A linked `shared` limiter's decision: a leased permit now, or a refusal with the
    /// time the fleet's next permit is due. Before the link ever leased for it, the local
    /// schedule decides (its first call joins the fleet, and must not be refused for it).
    pub(super) fn decide_fleet(&self) -> Decision {
        match self.pool.take() {
            Take::Permit => Decision::Now,
            Take::Empty { retry_after } => Decision::Refused { retry_after },
            Take::NeverLeased => self.gcra.acquire(self.now(), self.schedule, self.max_wait),
        }
    }

    /// The leased permits.
    pub(crate) fn fleet_pool(&self) -> &Pool {
        &self.pool
    }

    /// The schedule in the units the fleet's script counts in.
    pub(crate) fn fleet_schedule(&self, sync: std::time::Duration) -> Schedule {
        Schedule::new(&self.config, self.schedule.interval, sync)
    }
}
