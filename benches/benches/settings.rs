//! Criterion settings shared by the timing benches: short, so the whole suite runs in a few
//! minutes. Command-line flags (`--measurement-time`, `--sample-size`, ...) override them.

use std::time::Duration;

use criterion::Criterion;

/// One second of warm-up, two of measurement, 50 samples per entry.
pub(crate) fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}
