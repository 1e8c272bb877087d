//! Resolving handles: building a normalised key from the catalogue and asking the recorder.

use gatewayz_registry::MetricDef;
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

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

pub(crate) fn counter(def: &'static MetricDef, values: &[&str]) -> Counter {
    let key = key(def, values);
    metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
}

pub(crate) fn gauge(def: &'static MetricDef, values: &[&str]) -> Gauge {
    let key = key(def, values);
    metrics::with_recorder(|recorder| recorder.register_gauge(&key, &METADATA))
}

pub(crate) fn histogram(def: &'static MetricDef, values: &[&str]) -> Histogram {
    let key = key(def, values);
    metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
}

/// One handle per value of a closed label (in the catalogue's order), after `prefix` labels.
pub(crate) fn per_value<T>(
    values: &[&'static str],
    prefix: &[&str],
    make: impl Fn(&[&str]) -> T,
) -> Box<[T]> {
    values
        .iter()
        .map(|value| {
            let mut labels = prefix.to_vec();
            labels.push(value);
            make(&labels)
        })
        .collect()
}
