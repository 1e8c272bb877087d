//! Key canonicalisation: how a recorded key is rewritten before it is stored. Sanitised name,
//! the catalogue's label order, admitted values, extra labels dropped; `None` for a recording
//! that contradicts the catalogue, which is dropped and counted instead.

use std::{borrow::Cow, sync::atomic::Ordering::Relaxed};

use metrics::{Key, Label as MetricsLabel, SharedString};

use crate::{
    admission::Rule,
    catalogue::{self, LABEL, LABEL_OVERFLOW, METRIC, METRIC_CONFLICTS, MetricDef, MetricKind},
    store::Registry,
    text,
};

/// Rewrites a key as it will be stored. `None` when the recording must be dropped (kind
/// conflict).
pub(crate) fn canonical(registry: &Registry, key: &Key, kind: MetricKind) -> Option<Key> {
    let name = text::sanitize_name(key.name(), true);
    match catalogue::find(&name) {
        Some(def) => canonical_catalogued(registry, def, key, kind),
        None => canonical_uncatalogued(registry, name, key, kind),
    }
}

fn canonical_catalogued(
    registry: &Registry,
    def: &'static MetricDef,
    key: &Key,
    kind: MetricKind,
) -> Option<Key> {
    if def.kind != kind {
        count_conflict(registry, def.name);
        return None;
    }
    let labels = def
        .labels
        .iter()
        .map(|label| {
            let raw = key
                .labels()
                .find(|l| l.key() == label.name)
                .map_or("", |l| l.value());
            let value = admit(registry, def.name, label.name, Rule::of(&label.domain), raw);
            MetricsLabel::new(label.name, value)
        })
        .collect::<Vec<_>>();
    if key.labels().any(|l| def.label(l.key()).is_none()) {
        // Extra labels are dropped rather than allowed to multiply the series.
        count_conflict(registry, def.name);
    }
    Some(Key::from_parts(def.name, labels))
}

fn canonical_uncatalogued(
    registry: &Registry,
    name: Cow<'_, str>,
    key: &Key,
    kind: MetricKind,
) -> Option<Key> {
    let store = registry.storage();
    if store.uncatalogued_family(&name, kind).is_none() {
        count_conflict(registry, &name);
        return None;
    }
    let mut labels: Vec<(String, &str)> = Vec::with_capacity(key.labels().len());
    for label in key.labels() {
        let mut label_name = text::sanitize_name(label.key(), false).into_owned();
        // As Prometheus does for target labels, keep a clashing label under another name.
        if (kind == MetricKind::Histogram && label_name == "le")
            || store.global_label_names.contains(&label_name)
        {
            label_name.insert_str(0, "exported_");
        }
        if !labels.iter().any(|(n, _)| *n == label_name) {
            labels.push((label_name, label.value()));
        }
    }
    labels.sort();
    let labels = labels
        .into_iter()
        .map(|(label_name, raw)| {
            let rule = Rule::for_uncatalogued(&label_name);
            let value = admit(registry, &name, &label_name, rule, raw);
            MetricsLabel::new(label_name, value)
        })
        .collect::<Vec<_>>();
    Some(Key::from_parts(name.into_owned(), labels))
}

fn admit(registry: &Registry, metric: &str, label: &str, rule: Rule, raw: &str) -> SharedString {
    let admitted = registry.storage().admission.admit(label, rule, raw);
    if admitted.folded {
        bump(
            registry,
            &LABEL_OVERFLOW,
            vec![
                MetricsLabel::new(METRIC.name, metric.to_owned()),
                MetricsLabel::new(LABEL.name, label.to_owned()),
            ],
        );
    }
    admitted.value
}

pub(crate) fn count_conflict(registry: &Registry, metric: &str) {
    bump(
        registry,
        &METRIC_CONFLICTS,
        vec![MetricsLabel::new(METRIC.name, metric.to_owned())],
    );
}

/// Self-monitoring: label values here are metric and label names from code, so they bypass
/// admission (which would otherwise recurse when the `metric` label itself overflows).
fn bump(registry: &Registry, def: &'static MetricDef, labels: Vec<MetricsLabel>) {
    let key = Key::from_parts(def.name, labels);
    registry.get_or_create_counter(&key, |c| c.fetch_add(1, Relaxed));
}
