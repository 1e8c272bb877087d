//! The store behind the recorder: one family per catalogue entry, the families of uncatalogued
//! metrics, and what creating a series needs (global labels, admission, bucket layouts).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, PoisonError, RwLock},
};

use metrics::Key;

use crate::{
    admission::Admission,
    catalogue::{CATALOGUE, MetricDef, MetricKind},
    family::{Family, Value, render_label_pairs},
};

/// The sharded map of registered keys to their storage, as `metrics-util` provides it.
pub(crate) type Registry = metrics_util::registry::Registry<Key, Store>;

#[derive(Debug)]
pub(crate) struct Store {
    /// One family per catalogue entry, in catalogue (name) order.
    catalogued: Box<[Family]>,
    uncatalogued: RwLock<BTreeMap<Box<str>, Arc<Family>>>,
    global_labels: String,
    pub(crate) global_label_names: Vec<String>,
    pub(crate) admission: Admission,
    buckets: HashMap<String, Arc<[f64]>>,
    pub(crate) default_buckets: Arc<[f64]>,
}

/// What [`Store::new`] needs, as the builder validated it.
pub(crate) struct Layout {
    pub(crate) global_labels: Vec<(String, String)>,
    pub(crate) buckets: HashMap<String, Arc<[f64]>>,
    pub(crate) default_buckets: Arc<[f64]>,
    pub(crate) admission: Admission,
}

impl Store {
    pub(crate) fn new(layout: Layout) -> Store {
        let global_labels = render_label_pairs(
            "",
            layout
                .global_labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        let catalogued = CATALOGUE
            .iter()
            .map(|def| {
                let bounds = match layout.buckets.get(def.name) {
                    Some(bounds) => Arc::clone(bounds),
                    None => Arc::from(def.buckets),
                };
                Family::catalogued(def, bounds)
            })
            .collect();
        Store {
            catalogued,
            uncatalogued: RwLock::new(BTreeMap::new()),
            global_labels,
            global_label_names: layout.global_labels.into_iter().map(|(n, _)| n).collect(),
            admission: layout.admission,
            buckets: layout.buckets,
            default_buckets: layout.default_buckets,
        }
    }

    /// The family of a catalogued metric. Every `MetricDef` is in the catalogue (the catalogue
    /// crate's `catalogue!` declares them together), so this is `None` only for a `MetricDef`
    /// built outside it, which the catalogue's `#[non_exhaustive]` prevents.
    #[cfg_attr(not(feature = "summary"), allow(dead_code))]
    pub(crate) fn family(&self, def: &MetricDef) -> Option<&Family> {
        let index = CATALOGUE.binary_search_by(|d| d.name.cmp(def.name)).ok()?;
        Some(&self.catalogued[index])
    }

    /// The catalogued families, in name order.
    pub(crate) fn catalogued(&self) -> &[Family] {
        &self.catalogued
    }

    /// The uncatalogued families, in name order.
    pub(crate) fn uncatalogued(&self) -> Vec<Arc<Family>> {
        let families = self
            .uncatalogued
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        families.values().cloned().collect()
    }

    fn with_family<R>(&self, name: &str, f: impl FnOnce(&Family) -> R) -> Option<R> {
        if let Ok(index) = CATALOGUE.binary_search_by(|d| d.name.cmp(name)) {
            return Some(f(&self.catalogued[index]));
        }
        let uncatalogued = self
            .uncatalogued
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        uncatalogued.get(name).map(|family| f(family))
    }

    /// The family of an uncatalogued metric, created on first use; `None` if the name is
    /// already taken by another kind.
    pub(crate) fn uncatalogued_family(&self, name: &str, kind: MetricKind) -> Option<Arc<Family>> {
        let existing = {
            let families = self
                .uncatalogued
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            families.get(name).cloned()
        };
        let family = existing.unwrap_or_else(|| {
            let mut families = self
                .uncatalogued
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let family = families.entry(name.into()).or_insert_with(|| {
                let bounds = self.buckets.get(name).unwrap_or(&self.default_buckets);
                Arc::new(Family::uncatalogued(name, kind, Arc::clone(bounds)))
            });
            Arc::clone(family)
        });
        (family.kind() == kind).then_some(family)
    }

    /// The storage of the series of a canonical `key`, created on first use.
    pub(crate) fn create(&self, key: &Key) -> Option<Value> {
        let labels: Vec<(Box<str>, Box<str>)> = key
            .labels()
            .map(|l| (l.key().into(), l.value().into()))
            .collect();
        let rendered = render_label_pairs(
            &self.global_labels,
            labels.iter().map(|(n, v)| (&**n, &**v)),
        );
        self.with_family(key.name(), |family| family.series(rendered, labels))
    }

    pub(crate) fn series_count(&self) -> usize {
        let uncatalogued = self
            .uncatalogued
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        self.catalogued.iter().map(Family::len).sum::<usize>()
            + uncatalogued.values().map(|f| f.len()).sum::<usize>()
    }
}
