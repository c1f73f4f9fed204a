//! A `metrics` recorder for tests: counter totals and gauge values by rendered key
//! (`name{label=value,...}`), installed with `metrics::with_local_recorder` or globally.

use std::sync::{Arc, Mutex};

/// A `metrics` recorder that keeps counter totals and gauge values by key.
#[derive(Clone, Default)]
pub(crate) struct Recorded(pub(crate) Arc<Mutex<Vec<(String, f64)>>>);

pub(crate) struct Handle(String, Recorded);

impl metrics::CounterFn for Handle {
    fn increment(&self, value: u64) {
        #[allow(clippy::cast_precision_loss)]
        self.1.add(&self.0, value as f64);
    }
    fn absolute(&self, _: u64) {}
}

impl metrics::GaugeFn for Handle {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        self.1.set(&self.0, value);
    }
}

impl Recorded {
    fn add(&self, key: &str, value: f64) {
        let mut all = self.0.lock().unwrap();
        match all.iter_mut().find(|(k, _)| k == key) {
            Some((_, total)) => *total += value,
            None => all.push((key.to_owned(), value)),
        }
    }
    fn set(&self, key: &str, value: f64) {
        let mut all = self.0.lock().unwrap();
        all.retain(|(k, _)| k != key);
        all.push((key.to_owned(), value));
    }
    pub(crate) fn get(&self, key: &str) -> Option<f64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }
}

impl metrics::Recorder for Recorded {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(Arc::new(Handle(render(key), self.clone())))
    }
    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::from_arc(Arc::new(Handle(render(key), self.clone())))
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// `name{label=value,...}`, labels in the order given.
pub(crate) fn render(key: &metrics::Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}
