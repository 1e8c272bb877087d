//! The `metrics::Recorder` implementation: registration through the sharded registry, with
//! canonicalisation only for keys seen for the first time.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label as MetricsLabel, Metadata, SharedString,
    Unit as MetricsUnit,
};

use crate::{
    Handle,
    canonical::canonical,
    catalogue::{self, BUILD_INFO, MetricKind, PROCESS_START_TIME, VERSION, handshake},
    shared::Shared,
    store::{Registry, Store},
    text,
};

/// The `metrics` recorder that stores into the catalogue's families.
///
/// Registration looks the key up in a sharded map (`metrics_util::registry::Registry`); only a
/// key seen for the first time goes through normalisation, caps and family creation.
#[derive(Debug)]
pub struct GatewayzRecorder {
    inner: Arc<Shared>,
}

impl GatewayzRecorder {
    pub(crate) fn new(store: Store, service_version: String) -> GatewayzRecorder {
        let start_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let inner = Arc::new(Shared {
            registry: Registry::new(store),
            start_time: start_time.as_secs_f64(),
            size_hints: Default::default(),
        });
        inner.set_gauge(&PROCESS_START_TIME, vec![], start_time.as_secs_f64());
        inner.set_gauge(
            &BUILD_INFO,
            vec![MetricsLabel::new(VERSION.name, service_version)],
            1.0,
        );
        GatewayzRecorder { inner }
    }

    /// A handle to render and summarise what this recorder holds.
    pub fn handle(&self) -> Handle {
        Handle::new(Arc::clone(&self.inner))
    }
}

/// `describe_*`: help text for uncatalogued metrics, and the answer to the money handshake.
fn describe(shared: &Shared, name: KeyName, kind: MetricKind, help: SharedString) {
    let name = text::sanitize_name(name.as_str(), true);
    if kind == MetricKind::Counter && name == handshake::PROBE {
        // We render scaled counters in their base unit: tell the facade asking.
        handshake::acknowledge();
        return;
    }
    if catalogue::find(&name).is_none()
        && let Some(family) = shared.store().uncatalogued_family(&name, kind)
    {
        family.describe(&help);
    }
}

impl metrics::Recorder for GatewayzRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<MetricsUnit>, help: SharedString) {
        describe(&self.inner, key, MetricKind::Counter, help);
    }

    fn describe_gauge(&self, key: KeyName, _: Option<MetricsUnit>, help: SharedString) {
        describe(&self.inner, key, MetricKind::Gauge, help);
    }

    fn describe_histogram(&self, key: KeyName, _: Option<MetricsUnit>, help: SharedString) {
        describe(&self.inner, key, MetricKind::Histogram, help);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let registry = &self.inner.registry;
        if let Some(counter) = registry.get_counter(key) {
            return Counter::from_arc(counter);
        }
        match canonical(registry, key, MetricKind::Counter) {
            Some(key) => registry.get_or_create_counter(&key, |c| Counter::from_arc(Arc::clone(c))),
            None => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let registry = &self.inner.registry;
        if let Some(gauge) = registry.get_gauge(key) {
            return Gauge::from_arc(gauge);
        }
        match canonical(registry, key, MetricKind::Gauge) {
            Some(key) => registry.get_or_create_gauge(&key, |g| Gauge::from_arc(Arc::clone(g))),
            None => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let registry = &self.inner.registry;
        if let Some(histogram) = registry.get_histogram(key) {
            return Histogram::from_arc(histogram);
        }
        match canonical(registry, key, MetricKind::Histogram) {
            Some(key) => {
                registry.get_or_create_histogram(&key, |h| Histogram::from_arc(Arc::clone(h)))
            }
            None => Histogram::noop(),
        }
    }
}
