//! The recorder: builder, the `metrics::Recorder` implementation and the read handle.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label as MetricsLabel, Metadata, SharedString,
    Unit as MetricsUnit,
};
use metrics_util::registry::{Registry, Storage};

use crate::{
    Category, Error,
    admission::{Admission, Rule},
    catalogue::{
        self, BUILD_INFO, CATALOGUE, LABEL, LABEL_OVERFLOW, METRIC, METRIC_CONFLICTS, MetricDef,
        MetricKind, PROCESS_START_TIME, VERSION,
    },
    family::{Family, Value, render_label_pairs},
    histogram::AtomicHistogram,
    summary::{self, Summary},
    text,
};

/// Buckets for histograms outside the catalogue, unless [`RecorderBuilder::default_buckets`]
/// says otherwise: the usual Prometheus client defaults.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Cap on distinct values of label names the catalogue does not declare.
pub const DEFAULT_LABEL_CAP: usize = 1000;

/// Configures and builds a [`GatewayzRecorder`].
///
/// ```
/// use gatewayz_registry::RecorderBuilder;
///
/// let recorder = RecorderBuilder::new()
///     .global_label("replica", "eu-1")
///     .label_cap("model", 1000)
///     .buckets("model_inference_duration_seconds", &[1.0, 10.0, 100.0, 1000.0])?
///     .build()?;
/// # Ok::<(), gatewayz_registry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RecorderBuilder {
    global_labels: Vec<(String, String)>,
    buckets: HashMap<String, Arc<[f64]>>,
    default_buckets: Arc<[f64]>,
    label_caps: HashMap<String, usize>,
    default_label_cap: usize,
    service_version: String,
}

impl Default for RecorderBuilder {
    fn default() -> Self {
        RecorderBuilder {
            global_labels: Vec::new(),
            buckets: HashMap::new(),
            default_buckets: Arc::from(DEFAULT_BUCKETS),
            label_caps: HashMap::new(),
            default_label_cap: DEFAULT_LABEL_CAP,
            service_version: "unknown".to_owned(),
        }
    }
}

impl RecorderBuilder {
    /// A builder with the catalogue's buckets and caps and no global labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a label to every series, e.g. `replica`. Prefer Prometheus target labels when you
    /// can; global labels are for facts only the process knows.
    pub fn global_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.global_labels.push((name.into(), value.into()));
        self
    }

    /// Replaces the buckets of one histogram. Bounds must be finite and strictly ascending;
    /// `+Inf` is implied.
    pub fn buckets(mut self, metric: &str, bounds: &[f64]) -> Result<Self, Error> {
        if let Some(def) = catalogue::find(metric) {
            if def.kind != MetricKind::Histogram {
                return Err(Error::NotAHistogram {
                    metric: metric.to_owned(),
                    kind: def.kind.as_str(),
                });
            }
        }
        self.buckets
            .insert(metric.to_owned(), validate_buckets(metric, bounds)?);
        Ok(self)
    }

    /// Buckets for histograms that are neither catalogued nor given their own.
    pub fn default_buckets(mut self, bounds: &[f64]) -> Result<Self, Error> {
        self.default_buckets = validate_buckets("default", bounds)?;
        Ok(self)
    }

    /// Caps the distinct values of a label name across all metrics (default: the catalogue's
    /// cap, e.g. 500 for `model`, or [`DEFAULT_LABEL_CAP`]).
    pub fn label_cap(mut self, label: &str, max_distinct: usize) -> Self {
        self.label_caps.insert(label.to_owned(), max_distinct);
        self
    }

    /// Caps the distinct values of label names the catalogue does not declare.
    pub fn default_label_cap(mut self, max_distinct: usize) -> Self {
        self.default_label_cap = max_distinct;
        self
    }

    /// The version reported by `gatewayz_build_info`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = version.into();
        self
    }

    /// Builds a recorder without installing it, for tests (`metrics::with_local_recorder`) and
    /// for services that compose recorders.
    pub fn build(self) -> Result<GatewayzRecorder, Error> {
        self.validate()?;
        let global_labels = render_label_pairs(
            "",
            self.global_labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        let catalogued = CATALOGUE
            .iter()
            .map(|def| {
                let bounds = match self.buckets.get(def.name) {
                    Some(bounds) => Arc::clone(bounds),
                    None => Arc::from(def.buckets),
                };
                Family::catalogued(def, bounds)
            })
            .collect();
        let store = Store {
            catalogued,
            uncatalogued: RwLock::new(BTreeMap::new()),
            global_labels,
            global_label_names: self.global_labels.iter().map(|(n, _)| n.clone()).collect(),
            admission: Admission::new(self.label_caps, self.default_label_cap),
            buckets: self.buckets,
            default_buckets: self.default_buckets,
        };
        let start_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let inner = Arc::new(Inner {
            registry: Registry::new(store),
            start_time: start_time.as_secs_f64(),
            size_hints: Default::default(),
        });
        let recorder = GatewayzRecorder { inner };
        recorder
            .inner
            .set_gauge(&PROCESS_START_TIME, vec![], start_time.as_secs_f64());
        recorder.inner.set_gauge(
            &BUILD_INFO,
            vec![MetricsLabel::new(VERSION.name, self.service_version)],
            1.0,
        );
        Ok(recorder)
    }

    /// Builds the recorder and installs it as the process-wide `metrics` recorder.
    pub fn install(self) -> Result<Handle, Error> {
        let recorder = self.build()?;
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).map_err(|_| Error::AlreadyInstalled)?;
        Ok(handle)
    }

    fn validate(&self) -> Result<(), Error> {
        let invalid = |name: &str, reason| {
            Err(Error::InvalidGlobalLabel {
                name: name.chars().take(64).collect(),
                reason,
            })
        };
        for (i, (name, _)) in self.global_labels.iter().enumerate() {
            if !text::is_label_name(name) {
                return invalid(name, "label names match [a-zA-Z_][a-zA-Z0-9_]*");
            }
            if name.starts_with("__") {
                return invalid(name, "names starting with `__` are reserved by Prometheus");
            }
            if name == "le" || name == "quantile" {
                return invalid(name, "`le` and `quantile` are reserved for histograms");
            }
            if catalogue::LABELS.iter().any(|l| l.name == name) {
                return invalid(name, "a catalogued metric already has a label of that name");
            }
            if self.global_labels[..i].iter().any(|(n, _)| n == name) {
                return invalid(name, "given twice");
            }
        }
        for (label, cap) in &self.label_caps {
            if *cap == 0 {
                return Err(Error::ZeroLabelCap {
                    label: label.clone(),
                });
            }
        }
        if self.default_label_cap == 0 {
            return Err(Error::ZeroLabelCap {
                label: "(default)".to_owned(),
            });
        }
        Ok(())
    }
}

fn validate_buckets(metric: &str, bounds: &[f64]) -> Result<Arc<[f64]>, Error> {
    let invalid = |reason| {
        Err(Error::InvalidBuckets {
            metric: metric.to_owned(),
            reason,
        })
    };
    if bounds.is_empty() {
        return invalid("at least one bound is needed");
    }
    if bounds.iter().any(|b| !b.is_finite()) {
        return invalid("bounds must be finite; `+Inf` is always added");
    }
    if bounds.windows(2).any(|w| w[0] >= w[1]) {
        return invalid("bounds must be strictly ascending");
    }
    Ok(Arc::from(bounds))
}

/// The `metrics` recorder that stores into the catalogue's families.
///
/// Registration looks the key up in a sharded map (`metrics_util::registry::Registry`); only a
/// key seen for the first time goes through normalisation, caps and family creation.
#[derive(Debug)]
pub struct GatewayzRecorder {
    inner: Arc<Inner>,
}

impl GatewayzRecorder {
    /// A handle to render and summarise what this recorder holds.
    pub fn handle(&self) -> Handle {
        Handle {
            inner: Arc::clone(&self.inner),
        }
    }
}

#[derive(Debug)]
struct Inner {
    registry: Registry<Key, Store>,
    start_time: f64,
    /// Length of the previous render per scope (index 5: all), to allocate once.
    size_hints: [AtomicUsize; 6],
}

#[derive(Debug)]
pub(crate) struct Store {
    /// One family per catalogue entry, in catalogue (name) order.
    catalogued: Box<[Family]>,
    uncatalogued: RwLock<BTreeMap<Box<str>, Arc<Family>>>,
    global_labels: String,
    global_label_names: Vec<String>,
    admission: Admission,
    buckets: HashMap<String, Arc<[f64]>>,
    default_buckets: Arc<[f64]>,
}

impl Store {
    /// The family of a catalogued metric.
    pub(crate) fn family(&self, def: &MetricDef) -> &Family {
        let index = CATALOGUE
            .binary_search_by(|d| d.name.cmp(def.name))
            .expect("a MetricDef outside CATALOGUE was passed to the registry");
        &self.catalogued[index]
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
    fn uncatalogued_family(&self, name: &str, kind: MetricKind) -> Option<Arc<Family>> {
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

    fn create(&self, key: &Key) -> Option<Value> {
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

    fn series_count(&self) -> usize {
        let uncatalogued = self
            .uncatalogued
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        self.catalogued.iter().map(Family::len).sum::<usize>()
            + uncatalogued.values().map(|f| f.len()).sum::<usize>()
    }
}

// The registry calls these only with canonical keys, whose family exists and has the right
// kind; the fallbacks keep a broken invariant from panicking inside a recording call.
impl Storage<Key> for Store {
    type Counter = Arc<AtomicU64>;
    type Gauge = Arc<AtomicU64>;
    type Histogram = Arc<AtomicHistogram>;

    fn counter(&self, key: &Key) -> Self::Counter {
        match self.create(key) {
            Some(Value::Counter(counter)) => counter,
            _ => Arc::new(AtomicU64::new(0)),
        }
    }

    fn gauge(&self, key: &Key) -> Self::Gauge {
        match self.create(key) {
            Some(Value::Gauge(gauge)) => gauge,
            _ => Arc::new(AtomicU64::new(0)),
        }
    }

    fn histogram(&self, key: &Key) -> Self::Histogram {
        match self.create(key) {
            Some(Value::Histogram(histogram)) => histogram,
            _ => Arc::new(AtomicHistogram::new(Arc::clone(&self.default_buckets))),
        }
    }
}

impl Inner {
    fn store(&self) -> &Store {
        self.registry.storage()
    }

    /// Rewrites a key as it will be stored: sanitised name, catalogue label order, admitted
    /// values. `None` when the recording must be dropped (kind conflict).
    fn canonical(&self, key: &Key, kind: MetricKind) -> Option<Key> {
        let name = text::sanitize_name(key.name(), true);
        match catalogue::find(&name) {
            Some(def) => self.canonical_catalogued(def, key, kind),
            None => self.canonical_uncatalogued(name, key, kind),
        }
    }

    fn canonical_catalogued(
        &self,
        def: &'static MetricDef,
        key: &Key,
        kind: MetricKind,
    ) -> Option<Key> {
        if def.kind != kind {
            self.count_conflict(def.name);
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
                let value = self.admit(def.name, label.name, Rule::of(&label.domain), raw);
                MetricsLabel::new(label.name, value)
            })
            .collect::<Vec<_>>();
        if key.labels().any(|l| def.label(l.key()).is_none()) {
            // Extra labels are dropped rather than allowed to multiply the series.
            self.count_conflict(def.name);
        }
        Some(Key::from_parts(def.name, labels))
    }

    fn canonical_uncatalogued(
        &self,
        name: Cow<'_, str>,
        key: &Key,
        kind: MetricKind,
    ) -> Option<Key> {
        let store = self.store();
        if store.uncatalogued_family(&name, kind).is_none() {
            self.count_conflict(&name);
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
                let value = self.admit(&name, &label_name, rule, raw);
                MetricsLabel::new(label_name, value)
            })
            .collect::<Vec<_>>();
        Some(Key::from_parts(name.into_owned(), labels))
    }

    fn admit(&self, metric: &str, label: &str, rule: Rule, raw: &str) -> SharedString {
        let admitted = self.store().admission.admit(label, rule, raw);
        if admitted.folded {
            self.bump(
                &LABEL_OVERFLOW,
                vec![
                    MetricsLabel::new(METRIC.name, metric.to_owned()),
                    MetricsLabel::new(LABEL.name, label.to_owned()),
                ],
            );
        }
        admitted.value
    }

    fn count_conflict(&self, metric: &str) {
        self.bump(
            &METRIC_CONFLICTS,
            vec![MetricsLabel::new(METRIC.name, metric.to_owned())],
        );
    }

    /// Self-monitoring: label values here are metric and label names from code, so they bypass
    /// admission (which would otherwise recurse when the `metric` label itself overflows).
    fn bump(&self, def: &'static MetricDef, labels: Vec<MetricsLabel>) {
        let key = Key::from_parts(def.name, labels);
        self.registry
            .get_or_create_counter(&key, |c| c.fetch_add(1, Relaxed));
    }

    fn set_gauge(&self, def: &'static MetricDef, labels: Vec<MetricsLabel>, value: f64) {
        let key = Key::from_parts(def.name, labels);
        self.registry
            .get_or_create_gauge(&key, |g| g.store(value.to_bits(), Relaxed));
    }

    fn describe(&self, name: KeyName, kind: MetricKind, help: SharedString) {
        let name = text::sanitize_name(name.as_str(), true);
        if catalogue::find(&name).is_none() {
            if let Some(family) = self.store().uncatalogued_family(&name, kind) {
                family.describe(&help);
            }
        }
    }
}

impl metrics::Recorder for GatewayzRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<MetricsUnit>, help: SharedString) {
        self.inner.describe(key, MetricKind::Counter, help);
    }

    fn describe_gauge(&self, key: KeyName, _: Option<MetricsUnit>, help: SharedString) {
        self.inner.describe(key, MetricKind::Gauge, help);
    }

    fn describe_histogram(&self, key: KeyName, _: Option<MetricsUnit>, help: SharedString) {
        self.inner.describe(key, MetricKind::Histogram, help);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let registry = &self.inner.registry;
        if let Some(counter) = registry.get_counter(key) {
            return Counter::from_arc(counter);
        }
        match self.inner.canonical(key, MetricKind::Counter) {
            Some(key) => registry.get_or_create_counter(&key, |c| Counter::from_arc(Arc::clone(c))),
            None => Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let registry = &self.inner.registry;
        if let Some(gauge) = registry.get_gauge(key) {
            return Gauge::from_arc(gauge);
        }
        match self.inner.canonical(key, MetricKind::Gauge) {
            Some(key) => registry.get_or_create_gauge(&key, |g| Gauge::from_arc(Arc::clone(g))),
            None => Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let registry = &self.inner.registry;
        if let Some(histogram) = registry.get_histogram(key) {
            return Histogram::from_arc(histogram);
        }
        match self.inner.canonical(key, MetricKind::Histogram) {
            Some(key) => {
                registry.get_or_create_histogram(&key, |h| Histogram::from_arc(Arc::clone(h)))
            }
            None => Histogram::noop(),
        }
    }
}

/// Reads what a [`GatewayzRecorder`] holds: Prometheus text per category, the JSON summary.
///
/// Cheap to clone; every clone reads the same recorder.
#[derive(Debug, Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

impl Handle {
    /// Every metric, catalogued or not, in text format 0.0.4.
    pub fn render_all(&self) -> String {
        self.render_scope(None)
    }

    /// The metrics of one category, in text format 0.0.4. Costs in proportion to the
    /// category's series, not the whole registry's.
    pub fn render(&self, category: Category) -> String {
        self.render_scope(Some(category))
    }

    fn render_scope(&self, category: Option<Category>) -> String {
        let hint = &self.inner.size_hints[category.map_or(5, |c| c as usize)];
        let mut out = String::with_capacity(hint.load(Relaxed) + 1024);
        self.write(category, &mut out);
        hint.store(out.len(), Relaxed);
        out
    }

    /// Appends the metrics of `category` (all of them for `None`) to `out`.
    ///
    /// Families come sorted by name and series by label values, so two renders of the same
    /// state are identical. Families with no series are left out.
    pub fn write(&self, category: Option<Category>, out: &mut String) {
        let store = self.inner.store();
        match category {
            Some(category) => {
                for family in store.catalogued.iter() {
                    if family.def().is_some_and(|def| def.category == category) {
                        family.render(out);
                    }
                }
            }
            None => {
                let uncatalogued: Vec<Arc<Family>> = {
                    let families = store
                        .uncatalogued
                        .read()
                        .unwrap_or_else(PoisonError::into_inner);
                    families.values().cloned().collect()
                };
                let mut uncatalogued = uncatalogued.iter().peekable();
                for family in store.catalogued.iter() {
                    while let Some(extra) = uncatalogued.next_if(|f| f.name() < family.name()) {
                        extra.render(out);
                    }
                    family.render(out);
                }
                uncatalogued.for_each(|family| family.render(out));
            }
        }
    }

    /// The JSON summary of live values, for all categories or one.
    pub fn summary(&self, category: Option<Category>) -> Summary {
        summary::compute(self.inner.store(), self.inner.start_time, category)
    }

    /// Number of series held, across all families.
    pub fn series_count(&self) -> usize {
        self.inner.store().series_count()
    }
}
