//! A workload derived from the catalogue itself: every metric, every label combination of a
//! given number of providers and models, so a new catalogue entry is covered without editing.

use gatewayz_catalogue::{CATALOGUE, Domain, Label, MetricDef, MetricKind};
use metrics::{Histogram, Key, Label as MetricsLabel, Recorder};

/// How many providers and models the workload spans.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Distinct `provider` values.
    pub providers: usize,
    /// Distinct `model` values.
    pub models: usize,
}

/// The `i`-th provider name.
pub fn provider(i: usize) -> String {
    format!("provider-{i:02}")
}

/// The `i`-th model name.
pub fn model(i: usize) -> String {
    format!("model-{i:03}")
}

fn values(label: &Label, shape: Shape) -> Vec<String> {
    match label.domain {
        Domain::Closed(values) => values.iter().map(|v| v.to_string()).collect(),
        Domain::Open { .. } => match label.name {
            "provider" => (0..shape.providers).map(provider).collect(),
            "model" => (0..shape.models).map(model).collect(),
            "route" => ["/v1/chat/completions", "/v1/models", "/health"]
                .map(String::from)
                .into(),
            "operation" => ["get_api_key", "record_usage"].map(String::from).into(),
            "cache" => ["api_keys".to_owned()].into(),
            _ => ["x".to_owned()].into(),
        },
    }
}

/// Every label combination of `def` for this shape, in catalogue label order.
pub fn series(def: &MetricDef, shape: Shape) -> Vec<Vec<MetricsLabel>> {
    let mut combinations: Vec<Vec<MetricsLabel>> = vec![Vec::new()];
    for label in def.labels {
        let values = values(label, shape);
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut labels = prefix.clone();
                    labels.push(MetricsLabel::new(label.name, v.clone()));
                    labels
                })
            })
            .collect();
    }
    combinations
}

fn metadata() -> metrics::Metadata<'static> {
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, None)
}

/// Records into every series of every catalogued metric: counters `+(i + 1)`, gauges `i % 2`,
/// histograms one sample in the middle of their buckets.
pub fn populate(recorder: &dyn Recorder, shape: Shape) {
    for def in CATALOGUE {
        for (i, labels) in series(def, shape).into_iter().enumerate() {
            let key = Key::from_parts(def.name, labels);
            match def.kind {
                MetricKind::Counter => recorder
                    .register_counter(&key, &metadata())
                    .increment(i as u64 + 1),
                MetricKind::Gauge => recorder
                    .register_gauge(&key, &metadata())
                    .set((i % 2) as f64),
                MetricKind::Histogram => recorder
                    .register_histogram(&key, &metadata())
                    .record(def.buckets[def.buckets.len() / 2]),
            }
        }
    }
}

/// Handles to every histogram series of the workload, resolved once.
pub fn histograms(recorder: &dyn Recorder, shape: Shape) -> Vec<(Histogram, f64)> {
    CATALOGUE
        .iter()
        .filter(|def| def.kind == MetricKind::Histogram)
        .flat_map(|def| {
            series(def, shape).into_iter().map(|labels| {
                let key = Key::from_parts(def.name, labels);
                (
                    recorder.register_histogram(&key, &metadata()),
                    def.buckets[def.buckets.len() / 3],
                )
            })
        })
        .collect()
}

/// Records `n` samples round-robin over already-resolved histogram handles.
pub fn record_samples(histograms: &[(Histogram, f64)], n: usize) {
    for i in 0..n {
        let (histogram, value) = &histograms[i % histograms.len()];
        histogram.record(*value * (1.0 + (i % 7) as f64 / 10.0));
    }
}
