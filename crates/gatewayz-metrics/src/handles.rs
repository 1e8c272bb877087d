//! Resolving handles: building a normalised key from the catalogue and asking the recorder the
//! facade is bound to.

use std::{fmt, sync::Arc};

use gatewayz_catalogue::MetricDef;
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The recorder handles are resolved with: a given one, or whichever `metrics` says is current
/// (the thread's local recorder, else the global one).
#[derive(Clone, Default)]
pub(crate) struct Binding(Option<Arc<dyn Recorder + Send + Sync>>);

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "bound" } else { "current" })
    }
}

impl Binding {
    pub(crate) fn to(recorder: Arc<dyn Recorder + Send + Sync>) -> Binding {
        Binding(Some(recorder))
    }

    /// Runs `f` with the recorder.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&dyn Recorder) -> R) -> R {
        match &self.0 {
            Some(recorder) => f(&**recorder),
            None => metrics::with_recorder(f),
        }
    }

    /// Runs `f` with the recorder current for the `metrics` macros.
    pub(crate) fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(recorder) => metrics::with_local_recorder(&**recorder, f),
            None => f(),
        }
    }
}

/// The key of `def` with `values` for its labels, in catalogue order, normalised as the
/// catalogue says (so any recorder sees the same values ours would store).
fn key(def: &'static MetricDef, values: &[&str]) -> Key {
    debug_assert_eq!(
        def.labels.len(),
        values.len(),
        "{}: wrong number of labels",
        def.name
    );
    let labels: Vec<Label> = def
        .labels
        .iter()
        .zip(values)
        .map(|(label, value)| Label::new(label.name, label.normalise(value).into_owned()))
        .collect();
    Key::from_parts(def.name, labels)
}

pub(crate) fn counter(r: &dyn Recorder, def: &'static MetricDef, values: &[&str]) -> Counter {
    r.register_counter(&key(def, values), &METADATA)
}

pub(crate) fn gauge(r: &dyn Recorder, def: &'static MetricDef, values: &[&str]) -> Gauge {
    r.register_gauge(&key(def, values), &METADATA)
}

pub(crate) fn histogram(r: &dyn Recorder, def: &'static MetricDef, values: &[&str]) -> Histogram {
    r.register_histogram(&key(def, values), &METADATA)
}
