//! A `tracing` subscriber for tests: hands every event to a closure, with the rest of the
//! `Subscriber` boilerplate written once.

/// Calls the closure with every event; spans are accepted and ignored.
pub(crate) struct OnEvent<F>(pub(crate) F);

impl<F> tracing::Subscriber for OnEvent<F>
where
    F: Fn(&tracing::Event<'_>) + Send + Sync + 'static,
{
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        (self.0)(event);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// An event's fields as ` name=value` pairs, in order.
pub(crate) fn fields(event: &tracing::Event<'_>) -> String {
    struct Fields(String);
    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            use std::fmt::Write;
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    let mut fields = Fields(String::new());
    event.record(&mut fields);
    fields.0
}
