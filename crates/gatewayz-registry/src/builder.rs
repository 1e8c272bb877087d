//! Configuring and building the recorder.

use std::{collections::HashMap, sync::Arc};

use crate::{
    Error, GatewayzRecorder, Handle,
    admission::Admission,
    catalogue::{self, MetricKind},
    store::{Layout, Store},
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
            service_version: catalogue::UNKNOWN.to_owned(),
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
        if let Some(def) = catalogue::find(metric)
            && def.kind != MetricKind::Histogram
        {
            return Err(Error::NotAHistogram {
                metric: metric.to_owned(),
                kind: def.kind.as_str(),
            });
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

    /// Builds a recorder without installing it, for tests (`metrics::with_local_recorder`,
    /// or `gatewayz_metrics::Metrics::with_recorder`) and for services that compose recorders.
    pub fn build(self) -> Result<GatewayzRecorder, Error> {
        self.validate()?;
        let store = Store::new(Layout {
            global_labels: self.global_labels,
            buckets: self.buckets,
            default_buckets: self.default_buckets,
            admission: Admission::new(self.label_caps, self.default_label_cap),
        });
        Ok(GatewayzRecorder::new(store, self.service_version))
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
