//! [`Failure`]: the typed error that travels between stacked layers.
//!
//! Inside a stack of attributes every layer sees `Result<T, Failure<E>>`: either the user's own
//! error `E`, or a [`Rejected`] produced by an inner layer. Keeping the two apart until the
//! function returns is what lets an outer `#[retry]` recognise an open circuit, and an outer
//! breaker count a timeout, without asking the user's error type anything. Only at the boundary
//! does [`Failure::into_error`] turn a rejection into `E` through `E: From<Rejected>`.

use crate::Rejected;

/// The error side of a call travelling through stacked layers: the body's own error, or a
/// rejection by a resilience layer.
///
/// ```
/// use resilience_runtime::{Failure, Rejected};
///
/// #[derive(Debug)]
/// enum ApiError { Down, Resilience(Rejected) }
/// impl From<Rejected> for ApiError {
///     fn from(r: Rejected) -> Self { ApiError::Resilience(r) }
/// }
///
/// let failure: Failure<ApiError> = Failure::Rejected(Rejected::bulkhead_full("db", 4));
/// assert!(matches!(failure.into_error(), ApiError::Resilience(_)));
/// assert!(matches!(Failure::Error(ApiError::Down).into_error(), ApiError::Down));
/// ```
#[derive(Debug)]
pub enum Failure<E> {
    /// The body ran and returned this error.
    Error(E),
    /// A resilience layer decided the outcome.
    Rejected(Rejected),
}

impl<E> Failure<E> {
    /// The error as the annotated function returns it.
    pub fn into_error(self) -> E
    where
        E: From<Rejected>,
    {
        match self {
            Self::Error(e) => e,
            Self::Rejected(r) => E::from(r),
        }
    }

    /// The rejection, if a layer produced one.
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            Self::Error(_) => None,
            Self::Rejected(r) => Some(r),
        }
    }
}

impl<E> From<Rejected> for Failure<E> {
    fn from(rejected: Rejected) -> Self {
        Self::Rejected(rejected)
    }
}
