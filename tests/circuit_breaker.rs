//! `#[circuit_breaker]` through the facade, on tokio's paused clock.

mod common;

use std::future::Future as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use common::{answer, Runs, ServiceError};
use resilience::{circuit_breaker, Rejected};
use tokio::time::{advance, Instant};

#[tokio::test(start_paused = true)]
async fn opens_after_threshold_consecutive_failures_without_running_the_body() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 3, timeout = "10s")]
    async fn call(fail: bool) -> Result<u32, ServiceError> {
        RUNS.hit();
        if fail {
            Err(ServiceError::Unavailable)
        } else {
            Ok(7)
        }
    }

    for _ in 0..3 {
        assert_eq!(call(true).await, Err(ServiceError::Unavailable));
    }
    assert_eq!(RUNS.get(), 3);
    for _ in 0..5 {
        let err = call(false).await.unwrap_err();
        assert!(err.is_circuit_open(), "{err:?}");
    }
    assert_eq!(RUNS.get(), 3, "an open breaker must not run the body");
}

#[tokio::test(start_paused = true)]
async fn open_rejection_carries_name_and_retry_after() {
    #[circuit_breaker(threshold = 1, timeout = "10s")]
    async fn call() -> Result<(), ServiceError> {
        Err(ServiceError::Unavailable)
    }

    call().await.unwrap_err();
    advance(Duration::from_secs(4)).await;
    match call().await {
        Err(ServiceError::Rejected(Rejected::CircuitOpen {
            name, retry_after, ..
        })) => {
            assert!(
                name.ends_with("call"),
                "default name is the function path: {name}"
            );
            assert_eq!(retry_after, Some(Duration::from_secs(6)));
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn success_resets_the_consecutive_failure_count() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 3)]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    for _ in 0..4 {
        call(true).await.unwrap_err();
        call(true).await.unwrap_err();
        call(false).await.unwrap();
    }
    assert_eq!(RUNS.get(), 12, "never opened: no three failures in a row");
    call(true).await.unwrap_err();
    call(true).await.unwrap_err();
    call(true).await.unwrap_err();
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 15);
}

#[tokio::test(start_paused = true)]
async fn half_opens_after_timeout_and_closes_on_success() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, timeout = "10s")]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    call(true).await.unwrap_err();
    call(true).await.unwrap_err();
    advance(Duration::from_millis(9_999)).await;
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 2);
    advance(Duration::from_millis(1)).await;
    call(false).await.unwrap(); // the trial
    assert_eq!(RUNS.get(), 3);
    // Closed again: everything runs, and it takes two failures to open.
    call(false).await.unwrap();
    call(true).await.unwrap_err();
    call(false).await.unwrap();
    assert_eq!(RUNS.get(), 6);
}

#[tokio::test(start_paused = true)]
async fn failed_trial_reopens_for_a_full_timeout() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, timeout = "10s")]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    call(true).await.unwrap_err();
    advance(Duration::from_secs(10)).await;
    assert_eq!(call(true).await, Err(ServiceError::Unavailable)); // failed trial
    assert_eq!(RUNS.get(), 2);
    advance(Duration::from_millis(9_999)).await;
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 2);
    advance(Duration::from_millis(1)).await;
    call(false).await.unwrap();
    assert_eq!(RUNS.get(), 3);
}

/// Starts `n` calls that block in the body until released, and reports how many bodies ran.
async fn concurrent_trials<F, Fut>(callers: usize, call: F) -> (usize, usize)
where
    F: Fn(Arc<tokio::sync::Semaphore>) -> Fut,
    Fut: std::future::Future<Output = Result<(), ServiceError>> + Send + 'static,
{
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let mut tasks = Vec::new();
    for _ in 0..callers {
        tasks.push(tokio::spawn(call(gate.clone())));
    }
    tokio::task::yield_now().await;
    gate.add_permits(callers);
    let mut ok = 0;
    let mut open = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) if e.is_circuit_open() => open += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    (ok, open)
}

/// A half-open test: opens a breaker with `half_open = $trials`, then starts `$callers`
/// concurrent calls that block until released; exactly `$trials` of them run as trials.
macro_rules! half_open_admits_exactly {
    ($name:ident, trials = $trials:literal, callers = $callers:literal) => {
        #[tokio::test(start_paused = true)]
        async fn $name() {
            static RUNS: Runs = Runs::new();
            #[circuit_breaker(threshold = 1, timeout = "1s", half_open = $trials)]
            async fn call(gate: Option<Arc<tokio::sync::Semaphore>>) -> Result<(), ServiceError> {
                RUNS.hit();
                match gate {
                    Some(gate) => {
                        let _ = gate.acquire().await.unwrap();
                        Ok(())
                    }
                    None => Err(ServiceError::Unavailable),
                }
            }

            call(None).await.unwrap_err();
            advance(Duration::from_secs(1)).await;
            let (ok, open) = concurrent_trials($callers, |gate| call(Some(gate))).await;
            assert_eq!((ok, open), ($trials, $callers - $trials));
            assert_eq!(
                RUNS.get(),
                1 + $trials,
                "one failure, then exactly the trials' bodies"
            );
            let (ok, open) = concurrent_trials($callers, |gate| call(Some(gate))).await;
            assert_eq!(
                (ok, open),
                ($callers, 0),
                "closed after the trials succeeded"
            );
        }
    };
}

half_open_admits_exactly!(
    half_open_one_admits_exactly_one_trial,
    trials = 1,
    callers = 5
);
half_open_admits_exactly!(
    half_open_three_admits_exactly_three_trials,
    trials = 3,
    callers = 8
);

#[tokio::test(start_paused = true)]
async fn cancelled_trial_does_not_wedge_the_breaker() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, timeout = "5s")]
    async fn call(hang: bool, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        if hang {
            std::future::pending::<()>().await;
        }
        answer(fail)
    }

    call(false, true).await.unwrap_err();
    advance(Duration::from_secs(5)).await;
    // The only trial hangs, and its caller gives up on it.
    let trial = tokio::time::timeout(Duration::from_secs(1), call(true, false)).await;
    assert!(trial.is_err(), "the trial was cancelled");
    assert_eq!(RUNS.get(), 2);
    // The cancelled trial's slot is free again: the next caller is the trial, and its success
    // closes the breaker.
    call(false, false).await.unwrap();
    call(false, false).await.unwrap();
    assert_eq!(RUNS.get(), 4);
}

/// Polly's rule: a trial still running one open period after its admission no longer holds
/// its place; the next caller becomes the trial, and the late trial's outcome is ignored.
#[tokio::test(start_paused = true)]
async fn a_hung_trial_loses_its_place_after_one_open_period() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, timeout = "10s", name = "hung-trial")]
    async fn call(hang: Duration, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        tokio::time::sleep(hang).await;
        answer(fail)
    }

    call(Duration::ZERO, true).await.unwrap_err();
    advance(Duration::from_secs(10)).await;
    // The trial hangs (a connection that never answers, no timeout inside), then fails.
    let hung = tokio::spawn(call(Duration::from_secs(3600), true));
    tokio::task::yield_now().await;
    assert_eq!(RUNS.get(), 2, "the hung trial was admitted");
    advance(Duration::from_millis(9_999)).await;
    let error = call(Duration::ZERO, false).await.unwrap_err();
    assert!(
        matches!(
            error,
            ServiceError::Rejected(Rejected::CircuitOpen {
                retry_after: None,
                forced: false,
                ..
            })
        ),
        "{error:?}"
    );
    assert_eq!(RUNS.get(), 2, "rejected while the trial holds its place");

    // One open period after its admission, the next caller takes its place and closes.
    advance(Duration::from_millis(1)).await;
    call(Duration::ZERO, false).await.unwrap();
    assert_eq!(RUNS.get(), 3);
    let breaker = resilience::monitor::breaker("hung-trial").expect("registered");
    assert_eq!(breaker.state(), resilience::monitor::BreakerState::Closed);

    // The hung trial fails at last: ignored, it neither reopens the breaker nor counts as a
    // failure of the new closed phase (threshold 1).
    advance(Duration::from_secs(3600)).await;
    assert_eq!(hung.await.unwrap(), Err(ServiceError::Unavailable));
    assert_eq!(breaker.state(), resilience::monitor::BreakerState::Closed);
    call(Duration::ZERO, false).await.unwrap();
    call(Duration::ZERO, false).await.unwrap();
    assert_eq!(RUNS.get(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_forced_open_rejection_says_forced_open() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(name = "forced-payment")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    call().await.unwrap();
    let breaker = resilience::monitor::breaker("forced-payment").expect("registered");
    breaker.force_open();
    let rejected = match call().await {
        Err(ServiceError::Rejected(rejected)) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert!(matches!(
        rejected,
        Rejected::CircuitOpen {
            retry_after: None,
            forced: true,
            ..
        }
    ));
    let message = rejected.to_string();
    assert!(message.contains("forced open"), "{message}");
    assert!(!message.contains("half-open"), "{message}");
    assert!(message.contains("forced-payment"), "{message}");
    assert_eq!(RUNS.get(), 1, "a forced-open breaker does not run the body");
    breaker.reset();
    call().await.unwrap();
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn failure_if_decides_which_errors_count() {
    static RUNS: Runs = Runs::new();
    fn is_outage(error: &ServiceError) -> bool {
        *error == ServiceError::Unavailable
    }
    #[circuit_breaker(threshold = 2, failure_if = is_outage)]
    async fn call(error: ServiceError) -> Result<(), ServiceError> {
        RUNS.hit();
        Err(error)
    }

    for _ in 0..10 {
        assert_eq!(
            call(ServiceError::BadRequest).await,
            Err(ServiceError::BadRequest)
        );
    }
    assert_eq!(
        RUNS.get(),
        10,
        "bad requests are the caller's fault: no trip"
    );
    call(ServiceError::Unavailable).await.unwrap_err();
    call(ServiceError::BadRequest).await.unwrap_err(); // counts as a success: resets
    call(ServiceError::Unavailable).await.unwrap_err();
    call(ServiceError::Unavailable).await.unwrap_err();
    assert!(call(ServiceError::BadRequest)
        .await
        .unwrap_err()
        .is_circuit_open());
    assert_eq!(RUNS.get(), 14);
}

#[tokio::test(start_paused = true)]
async fn same_name_shares_one_breaker() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, name = "shared-payment")]
    async fn charge() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }
    #[circuit_breaker(threshold = 2, name = "shared-payment")]
    async fn refund() -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    charge().await.unwrap_err();
    charge().await.unwrap_err();
    let err = refund().await.unwrap_err();
    assert!(err.is_circuit_open(), "refund shares charge's open breaker");
    match err {
        ServiceError::Rejected(rejected) => assert_eq!(rejected.name(), "shared-payment"),
        other => panic!("{other:?}"),
    }
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn functions_without_a_name_have_their_own_breakers() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1)]
    async fn charge() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }
    #[circuit_breaker(threshold = 1)]
    async fn refund() -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    charge().await.unwrap_err();
    assert!(charge().await.unwrap_err().is_circuit_open());
    refund().await.unwrap();
    refund().await.unwrap();
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn panic_counts_as_a_failure_and_propagates() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2)]
    async fn call(explode: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        assert!(!explode, "boom");
        Ok(())
    }

    for _ in 0..2 {
        let joined = tokio::spawn(call(true)).await;
        assert!(joined.unwrap_err().is_panic(), "the panic propagates");
    }
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 2);
}

/// The failure is recorded while the panic unwinds through the call, not when its future is
/// dropped: a caller that catches the panic and keeps the future finds the breaker open.
#[tokio::test(start_paused = true)]
async fn a_panic_is_recorded_as_it_unwinds_not_when_the_call_is_dropped() {
    struct NoWake;
    impl Wake for NoWake {
        fn wake(self: Arc<Self>) {}
    }
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1)]
    async fn call(explode: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        assert!(!explode, "boom");
        Ok(())
    }

    let mut exploding = Box::pin(call(true));
    let waker = Waker::from(Arc::new(NoWake));
    let polled = panic::catch_unwind(AssertUnwindSafe(|| {
        exploding.as_mut().poll(&mut Context::from_waker(&waker))
    }));
    assert!(polled.is_err(), "the panic propagates");
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 1);
    drop(exploding);
}

#[tokio::test(start_paused = true)]
async fn sliding_window_waits_for_min_calls_then_opens_at_the_rate() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(failure_rate = 0.5, window = 10, min_calls = 4)]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    // Three failures: 100% failure rate, but fewer than min_calls recorded.
    for _ in 0..3 {
        call(true).await.unwrap_err();
    }
    // The success that brings the count to min_calls finds 3 of 4 failed, 75% >= 50%: it
    // returns its own result and opens the breaker.
    assert_eq!(call(false).await, Ok(()));
    assert_eq!(RUNS.get(), 4);
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 4);
}

/// The `MicroProfile` Fault Tolerance TCK's `testRollingWindowCircuitOpen`, resilience4j's
/// `shouldOpenAfterFailureRateThresholdExceeded`: the rate is judged when the recorded count
/// reaches `min_calls`, whatever that call's outcome.
#[tokio::test(start_paused = true)]
async fn sliding_window_opens_when_a_success_brings_the_count_to_min_calls_at_the_rate() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(failure_rate = 0.5, window = 4, timeout = "10s")]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    // S F F S: 2 of 4 failed, 50% >= 50%.
    call(false).await.unwrap();
    call(true).await.unwrap_err();
    call(true).await.unwrap_err();
    call(false).await.unwrap();
    assert_eq!(RUNS.get(), 4);
    match call(false).await {
        Err(ServiceError::Rejected(Rejected::CircuitOpen { retry_after, .. })) => {
            assert_eq!(retry_after, Some(Duration::from_secs(10)));
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(RUNS.get(), 4, "the rejected body did not run");
}

#[tokio::test(start_paused = true)]
async fn sliding_window_stays_closed_below_the_rate() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(failure_rate = 0.5, window = 10)]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    // 40% failures over many windows: never opens.
    for i in 0..100 {
        let _ = call(i % 5 < 2).await;
    }
    assert_eq!(RUNS.get(), 100);
}

type AppResult<T> = Result<T, ServiceError>;

#[tokio::test(start_paused = true)]
async fn type_alias_and_anyhow_results_work() {
    #[circuit_breaker(threshold = 1)]
    async fn aliased() -> AppResult<u8> {
        Err(ServiceError::Unavailable)
    }
    #[circuit_breaker(threshold = 1)]
    async fn with_anyhow() -> anyhow::Result<u8> {
        anyhow::bail!("down")
    }

    aliased().await.unwrap_err();
    assert!(aliased().await.unwrap_err().is_circuit_open());
    with_anyhow().await.unwrap_err();
    let error = with_anyhow().await.unwrap_err();
    assert!(matches!(
        error.downcast_ref::<Rejected>(),
        Some(Rejected::CircuitOpen { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_concurrent_calls_are_all_accounted_for() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1000000, timeout = "1h")]
    async fn call(i: usize) -> Result<usize, ServiceError> {
        RUNS.hit();
        tokio::task::yield_now().await;
        if i % 3 == 0 {
            Err(ServiceError::Unavailable)
        } else {
            Ok(i)
        }
    }

    let started = Instant::now();
    let tasks: Vec<_> = (0..20_000).map(|i| tokio::spawn(call(i))).collect();
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(ServiceError::Unavailable) => failed += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(ok + failed, 20_000);
    assert_eq!(failed, (0..20_000).filter(|i| i % 3 == 0).count());
    assert_eq!(RUNS.get(), 20_000);
    assert!(started.elapsed() < Duration::from_secs(60), "no deadlock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_calls_against_a_tripping_breaker_never_run_while_open() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 5, timeout = "1h")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        tokio::task::yield_now().await;
        Err(ServiceError::Unavailable)
    }

    let tasks: Vec<_> = (0..20_000).map(|_| tokio::spawn(call())).collect();
    let (mut failed, mut open) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Err(ServiceError::Unavailable) => failed += 1,
            Err(e) if e.is_circuit_open() => open += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(failed + open, 20_000);
    assert_eq!(failed, RUNS.get(), "every body run is a recorded failure");
    assert!(failed >= 5, "it took at least the threshold to open");
    assert!(open > 0, "the breaker opened");
    // Once open, every later call is rejected without running.
    let before = RUNS.get();
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), before);
}
