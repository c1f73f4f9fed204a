//! Glue for generated code. Not public API: names and signatures change without notice.
//!
//! Each helper is generic and `#[inline]`, and exists so that the macro can stay syntax-only:
//! the type system finds `T` and `E` in whatever spelling of `Result` the user wrote, and the
//! trait bounds here carry the error messages users see when a function doesn't fit.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use pin_project_lite::pin_project;

pub use resilience_runtime::{
    Attempt, BreakerConfig, Bulkhead, BulkheadConfig, CircuitBreaker, ErrorClass, Failure, Hedge,
    HedgeConfig, HedgeDelay, InstanceKey, InstanceName, Jitter, Keyed, RateLimitConfig,
    RateLimiter, Rejected, RetryConfig, RetryPolicy, Site, Timeout, TripPolicy,
};

/// The return type of an annotated function: a `Result` under any spelling.
#[diagnostic::on_unimplemented(
    message = "resilience attributes need the function to return `Result<T, E>`, not `{Self}`",
    label = "this is not a `Result`",
    note = "the error type must also implement `From<resilience::Rejected>`"
)]
pub trait Fallible {
    /// `T`.
    type Ok;
    /// `E`.
    type Err;
    /// The value as a `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    /// The error as a value of the return type.
    fn from_error(error: Self::Err) -> Self;
}

impl<T, E> Fallible for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn into_result(self) -> Self {
        self
    }
    #[inline]
    fn from_error(error: E) -> Self {
        Err(error)
    }
}

/// An owned argument that `#[retry]` or `#[fallback]` copies for each use.
#[diagnostic::on_unimplemented(
    message = "this argument must be `Clone`: #[retry], #[hedge] and #[fallback] give every attempt its own copy of `{Self}`",
    label = "owned argument of type `{Self}` is not `Clone`",
    note = "take it by reference (`&{Self}`), or derive or implement `Clone` for it"
)]
pub trait CloneArg: Clone {}

impl<T: Clone> CloneArg for T {}

/// A fresh copy of an owned argument.
#[inline]
#[must_use]
pub fn clone_arg<T: CloneArg>(value: &T) -> T {
    value.clone()
}

/// An owned receiver (`self`, `self: Arc<Self>`) that `#[retry]` or `#[fallback]` copies for
/// each use.
#[diagnostic::on_unimplemented(
    message = "`self` must be `Clone` here: #[retry], #[hedge] and #[fallback] give every attempt its own copy of `{Self}`",
    label = "owned receiver of type `{Self}` is not `Clone`",
    note = "take `&self`, or `self: Arc<Self>`, or derive or implement `Clone`"
)]
pub trait CloneReceiver: Clone {}

impl<T: Clone> CloneReceiver for T {}

/// A fresh copy of an owned receiver.
#[inline]
#[must_use]
pub fn clone_receiver<T: CloneReceiver>(value: &T) -> T {
    value.clone()
}

/// The user's body, its output pinned to the declared return type `R`, with its error lifted
/// into [`Failure`].
#[inline]
pub fn body<R: Fallible, F: Future<Output = R>>(body: F) -> Body<F> {
    Body { body }
}

pin_project! {
    /// The future of [`body`]: polls the user's block and lifts its error. Hand-written so it
    /// adds nothing to the size of the call's future.
    pub struct Body<F> {
        #[pin]
        body: F,
    }
}

impl<F> Future for Body<F>
where
    F: Future,
    F::Output: Fallible,
{
    type Output = Result<<F::Output as Fallible>::Ok, Failure<<F::Output as Fallible>::Err>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let output = std::task::ready!(self.project().body.poll(cx));
        Poll::Ready(output.into_result().map_err(Failure::Error))
    }
}

/// The outcome at the function's boundary: a rejection becomes the user's error.
#[inline]
pub fn finish<T, E: From<Rejected>>(outcome: Result<T, Failure<E>>) -> Result<T, E> {
    outcome.map_err(Failure::into_error)
}

/// A rejection as the function's return value, where a stack of bulkheads is written around
/// the user's block itself and refuses the call before it.
#[inline]
pub fn rejected<R: Fallible>(rejected: Rejected) -> R
where
    R::Err: From<Rejected>,
{
    R::from_error(rejected.into())
}

/// A failure as the user's error type.
#[inline]
pub fn into_error<E: From<Rejected>>(failure: Failure<E>) -> E {
    failure.into_error()
}

/// A keyed attribute's key (`key = host`), borrowed: the bound is checked here, on the
/// user's expression.
#[inline]
pub fn key<K: InstanceKey + ?Sized>(key: &K) -> &K {
    key
}

/// The default predicate: every error counts.
#[inline]
pub fn every_error<E>(_: &E) -> bool {
    true
}

/// A breaker's `ignore_if` before its `failure_if`: an error `ignore_if` accepts is recorded as
/// neither success nor failure, whatever `failure_if` says (resilience4j's precedence of
/// `ignoreExceptions` over `recordExceptions`).
#[inline]
pub fn ignore_if<E>(
    ignore_if: impl FnOnce(&E) -> bool,
    failure_if: impl FnOnce(&E) -> bool,
) -> impl FnOnce(&E) -> ErrorClass {
    move |error: &E| {
        if ignore_if(error) {
            ErrorClass::Ignored
        } else {
            ErrorClass::from(failure_if(error))
        }
    }
}

/// The default `retry_after`: no hint, the backoff decides.
#[inline]
pub fn no_hint<E>(_: &E) -> Option<Duration> {
    None
}

/// Applies a predicate (a path the user gave, or [`every_error`]).
#[inline]
pub fn applies<E>(predicate: impl FnOnce(&E) -> bool, error: &E) -> bool {
    predicate(error)
}
