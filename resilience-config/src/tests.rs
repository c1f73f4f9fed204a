//! The grammar and the limits, pinned.

use crate::{
    breaker, bulkhead, check_name, format_duration, parse_duration, rate_limit, retry, timeout,
};
use crate::{Error, HOUR, MILLISECOND, SECOND};

#[test]
fn durations_in_every_unit() {
    assert_eq!(parse_duration("250ms"), Ok(250 * MILLISECOND));
    assert_eq!(parse_duration("10s"), Ok(10 * SECOND));
    assert_eq!(parse_duration("1.5s"), Ok(1_500 * MILLISECOND));
    assert_eq!(parse_duration("2m"), Ok(120 * SECOND));
    assert_eq!(parse_duration("1h"), Ok(HOUR));
    assert_eq!(parse_duration("0s"), Ok(0));
    assert_eq!(parse_duration("750us"), Ok(750_000));
    assert_eq!(parse_duration("750µs"), Ok(750_000));
    assert_eq!(parse_duration("5ns"), Ok(5));
    assert_eq!(parse_duration(".5s"), Ok(500 * MILLISECOND));
    assert_eq!(parse_duration("1.s"), Ok(SECOND));
    assert_eq!(parse_duration(" 10 s "), Ok(10 * SECOND));
}

#[test]
fn fractions_are_exact_decimal_arithmetic() {
    assert_eq!(parse_duration("0.1s"), Ok(100 * MILLISECOND));
    assert_eq!(parse_duration("0.3s"), Ok(300 * MILLISECOND));
    assert_eq!(parse_duration("1.000000001s"), Ok(SECOND + 1));
    assert_eq!(
        parse_duration("1.5000000000s"),
        Ok(1_500 * MILLISECOND),
        "zeros past the ns"
    );
    assert_eq!(parse_duration("0.000001ms"), Ok(1));
    assert_eq!(parse_duration("1.5h"), Ok(HOUR + 30 * 60 * SECOND));
}

#[test]
fn a_nonzero_value_finer_than_a_nanosecond_is_an_error_not_a_zero() {
    for finer in ["0.5ns", "1.5ns", "0.0005us", "1.0000000001s", "0.0000001ms"] {
        assert!(
            matches!(parse_duration(finer), Err(Error::SubNanosecond { .. })),
            "{finer:?}"
        );
    }
    assert_eq!(parse_duration("0.0ns"), Ok(0), "a written zero stays zero");
}

#[test]
fn malformed_durations_are_rejected() {
    for bad in [
        "", "10", "s", "ten s", "1.2.3s", "-1s", "+1s", "1d", "1 sec", ".s", "1e3s", "1,5s",
    ] {
        assert!(
            matches!(parse_duration(bad), Err(Error::BadDuration { .. })),
            "{bad:?} should not parse"
        );
    }
    for long in ["99999999999h", "18446744073709551616ns", "18446744074s"] {
        assert!(
            matches!(parse_duration(long), Err(Error::DurationTooLong { .. })),
            "{long:?}"
        );
    }
    assert_eq!(parse_duration("18446744073709551615ns"), Ok(u64::MAX));
}

#[test]
fn formatted_durations_parse_back() {
    for nanos in [
        0,
        1,
        999,
        1_000,
        250 * MILLISECOND,
        10 * SECOND,
        90 * SECOND,
        HOUR,
        u64::MAX,
    ] {
        assert_eq!(parse_duration(&format_duration(nanos)), Ok(nanos));
    }
}

#[test]
fn counts_within_their_limits() {
    assert_eq!(breaker::THRESHOLD.parse("1048576"), Ok(1 << 20));
    assert_eq!(
        breaker::THRESHOLD.parse("1048577"),
        Err(Error::TooLarge {
            parameter: "threshold",
            max: 1 << 20
        })
    );
    assert_eq!(
        breaker::WINDOW.parse("4000000000").unwrap_err().to_string(),
        "`window` must be at most 16777216"
    );
    assert_eq!(
        breaker::WINDOW.parse("99999999999"),
        Err(Error::TooLarge {
            parameter: "window",
            max: 1 << 24
        }),
        "past u32: still too large, not `not a number`"
    );
    assert!(breaker::HALF_OPEN.parse("4097").is_err());
    assert!(bulkhead::MAX.parse("2147483648").is_err());
    assert_eq!(bulkhead::MAX.parse("2147483647"), Ok(2_147_483_647));
    assert_eq!(bulkhead::QUEUE.parse("0"), Ok(0));
    assert_eq!(retry::MAX.parse("0"), Ok(0), "retries switched off");
    assert_eq!(
        breaker::THRESHOLD.parse("zero").unwrap_err().to_string(),
        "expected a whole number, not `zero`"
    );
    assert!(matches!(
        breaker::THRESHOLD.parse("-1"),
        Err(Error::NotACount { .. })
    ));
    assert!(matches!(
        breaker::THRESHOLD.parse(""),
        Err(Error::NotACount { .. })
    ));
}

#[test]
fn rates_are_in_zero_to_one() {
    assert_eq!(breaker::FAILURE_RATE.parse("1"), Ok(1.0));
    for bad in ["0", "1.5", "-0.5", "NaN", "inf"] {
        assert_eq!(
            breaker::FAILURE_RATE.parse(bad),
            Err(Error::RateOutOfRange {
                parameter: "failure_rate"
            }),
            "{bad}"
        );
    }
    assert!(matches!(
        breaker::FAILURE_RATE.parse("half"),
        Err(Error::NotARate { .. })
    ));
}

#[test]
fn zero_durations_where_zero_makes_no_sense() {
    assert_eq!(
        timeout::LIMIT.parse("0ms").unwrap_err().to_string(),
        "the time limit must be longer than zero: every call would time out"
    );
    assert!(breaker::TIMEOUT.check(0).is_err());
    assert_eq!(bulkhead::MAX_WAIT.parse("0s"), Ok(0), "rejects at once");
    assert_eq!(retry::BASE.check(0), Ok(0));
    assert_eq!(
        rate_limit::PER.parse("0s").unwrap_err().to_string(),
        "`per` must be longer than zero: a rate per no time at all is no limit"
    );
    assert_eq!(rate_limit::MAX_WAIT.parse("0s"), Ok(0), "never waits");
}

#[test]
fn rules_between_parameters() {
    assert_eq!(breaker::check_min_calls(100, 100), Ok(()));
    assert_eq!(
        breaker::check_min_calls(101, 100).unwrap_err().to_string(),
        "`min_calls` cannot exceed `window` (100): the window never holds more calls"
    );
    assert_eq!(
        retry::check_base(retry::DEFAULT_BASE_NANOS, retry::DEFAULT_MAX_DELAY_NANOS),
        Ok(())
    );
    assert_eq!(retry::check_base(2, 1), Err(Error::BaseAboveMaxDelay));
}

#[test]
fn the_defaults_are_within_the_limits() {
    assert_eq!(breaker::THRESHOLD.check(breaker::DEFAULT_THRESHOLD), Ok(3));
    assert_eq!(
        breaker::TIMEOUT.check(breaker::DEFAULT_TIMEOUT_NANOS),
        Ok(10 * SECOND)
    );
    assert_eq!(breaker::HALF_OPEN.check(breaker::DEFAULT_HALF_OPEN), Ok(1));
    assert_eq!(breaker::WINDOW.check(breaker::DEFAULT_WINDOW), Ok(100));
    let min_calls = breaker::default_min_calls(breaker::DEFAULT_WINDOW);
    assert_eq!(breaker::MIN_CALLS.check(min_calls), Ok(100));
    assert_eq!(retry::MAX.check(retry::DEFAULT_MAX), Ok(3));
    assert_eq!(retry::DEFAULT_BASE_NANOS, 100 * MILLISECOND);
    assert_eq!(retry::DEFAULT_JITTER, retry::Jitter::Full);
    assert_eq!(bulkhead::DEFAULT_MAX_WAIT_NANOS, None);
    assert_eq!(bulkhead::DEFAULT_QUEUE, None);
    assert_eq!(
        rate_limit::PER.check(rate_limit::DEFAULT_PER_NANOS),
        Ok(SECOND)
    );
    assert_eq!(rate_limit::BURST.check(rate_limit::default_burst(1)), Ok(1));
    assert_eq!(rate_limit::DEFAULT_MAX_WAIT_NANOS, None);
}

#[test]
fn rate_limit_counts_start_at_one() {
    assert_eq!(
        rate_limit::RATE.parse("0").unwrap_err().to_string(),
        "`rate` must be at least 1"
    );
    assert_eq!(
        rate_limit::BURST.parse("0").unwrap_err().to_string(),
        "`burst` must be at least 1"
    );
    assert_eq!(rate_limit::RATE.parse("4294967295"), Ok(u32::MAX));
    assert_eq!(
        rate_limit::BURST.parse("4294967296"),
        Err(Error::TooLarge {
            parameter: "burst",
            max: u32::MAX
        })
    );
}

#[test]
fn jitter_names_round_trip() {
    for jitter in retry::Jitter::ALL {
        assert_eq!(retry::Jitter::from_name(jitter.name()), Ok(jitter));
    }
    assert_eq!(
        retry::Jitter::from_name("random").unwrap_err().to_string(),
        r#"unknown jitter `random`; expected one of: "none", "full", "equal", "decorrelated""#
    );
}

#[test]
fn names_must_not_be_empty() {
    assert_eq!(check_name("payment"), Ok(()));
    assert_eq!(check_name(""), Err(Error::EmptyName));
    assert_eq!(check_name("  "), Err(Error::EmptyName));
}
