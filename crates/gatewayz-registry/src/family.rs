//! A metric family: its metadata, pre-rendered name fragments and its series in sorted order.
//!
//! Everything a render needs that does not change between scrapes (the `# HELP`/`# TYPE`
//! header, `name_bucket{`, the `le` values, each series' escaped label pairs) is rendered once,
//! when the family or series is created. A scrape then copies bytes and formats numbers.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

use crate::{
    catalogue::{MetricDef, MetricKind},
    histogram::{AtomicHistogram, HistogramTotals},
    text,
};

/// The storage behind one series.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Counter(Arc<AtomicU64>),
    /// `f64` bits, as `metrics` stores gauges.
    Gauge(Arc<AtomicU64>),
    Histogram(Arc<AtomicHistogram>),
}

/// One series: its label values and its storage.
#[derive(Debug)]
#[cfg_attr(not(feature = "summary"), allow(dead_code))]
pub(crate) struct Series {
    labels: Box<[(Box<str>, Box<str>)]>,
    value: Value,
}

#[cfg_attr(not(feature = "summary"), allow(dead_code))]
impl Series {
    /// The value of label `name`, if the series has it.
    pub(crate) fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| &**v)
    }

    pub(crate) fn value(&self) -> &Value {
        &self.value
    }
}

/// A family's help text: static for catalogued metrics, settable through `describe_*` otherwise.
#[derive(Debug)]
enum Help {
    Static,
    Described(RwLock<Box<str>>),
}

#[derive(Debug)]
pub(crate) struct Family {
    name: Box<str>,
    kind: MetricKind,
    def: Option<&'static MetricDef>,
    help: Help,
    /// `# HELP ...\n# TYPE ...\n` for catalogued families.
    header: Box<str>,
    bucket_name: Box<str>,
    sum_name: Box<str>,
    count_name: Box<str>,
    bounds: Arc<[f64]>,
    le: Box<[Box<str>]>,
    decimals: u32,
    /// Keyed by the rendered label pairs, which sort like the label values.
    series: RwLock<BTreeMap<Box<str>, Series>>,
}

/// Help text for metrics recorded but never described nor catalogued.
pub(crate) const UNDESCRIBED: &str = "Not in the gatewayz catalogue.";

impl Family {
    pub(crate) fn catalogued(def: &'static MetricDef, bounds: Arc<[f64]>) -> Self {
        let mut family = Family::new(def.name, def.kind, bounds, Help::Static);
        family.def = Some(def);
        family.decimals = def.scale.decimals();
        family.header = header(def.name, def.kind, def.help).into();
        family
    }

    pub(crate) fn uncatalogued(name: &str, kind: MetricKind, bounds: Arc<[f64]>) -> Self {
        Family::new(
            name,
            kind,
            bounds,
            Help::Described(RwLock::new(UNDESCRIBED.into())),
        )
    }

    fn new(name: &str, kind: MetricKind, bounds: Arc<[f64]>, help: Help) -> Self {
        let bounds = if kind == MetricKind::Histogram {
            bounds
        } else {
            Arc::from([])
        };
        Family {
            name: name.into(),
            kind,
            def: None,
            help,
            header: "".into(),
            bucket_name: format!("{name}_bucket").into(),
            sum_name: format!("{name}_sum").into(),
            count_name: format!("{name}_count").into(),
            le: bounds.iter().map(|b| text::format_f64(*b).into()).collect(),
            bounds,
            decimals: 0,
            series: RwLock::new(BTreeMap::new()),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn kind(&self) -> MetricKind {
        self.kind
    }

    pub(crate) fn def(&self) -> Option<&'static MetricDef> {
        self.def
    }

    pub(crate) fn describe(&self, help: &str) {
        if let Help::Described(current) = &self.help {
            *current.write().unwrap_or_else(PoisonError::into_inner) = help.into();
        }
    }

    /// Returns the series with these rendered label pairs, creating it if needed.
    ///
    /// `rendered` must be the escaped pairs of `labels` (global labels first), as
    /// [`render_label_pairs`] makes them.
    pub(crate) fn series(&self, rendered: String, labels: Vec<(Box<str>, Box<str>)>) -> Value {
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let entry = series
            .entry(rendered.into_boxed_str())
            .or_insert_with(|| Series {
                labels: labels.into_boxed_slice(),
                value: match self.kind {
                    MetricKind::Counter => Value::Counter(Arc::new(AtomicU64::new(0))),
                    MetricKind::Gauge => Value::Gauge(Arc::new(AtomicU64::new(0f64.to_bits()))),
                    MetricKind::Histogram => {
                        Value::Histogram(Arc::new(AtomicHistogram::new(Arc::clone(&self.bounds))))
                    }
                },
            });
        entry.value.clone()
    }

    /// Calls `f` with every series, in sorted order, under the family's read lock.
    #[cfg_attr(not(feature = "summary"), allow(dead_code))]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Series)) {
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        series.values().for_each(&mut f);
    }

    pub(crate) fn len(&self) -> usize {
        self.series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Appends the family in text format 0.0.4; nothing when it has no series to show.
    ///
    /// A gauge whose value is NaN is left out: NaN is how a publisher says "unknown" (a
    /// health score with too few calls to judge), and an unknown figure is absent from the
    /// exposition, so PromQL sees no sample rather than a NaN that every aggregation would
    /// have to filter. A family whose every series is left out is left out whole.
    pub(crate) fn render(&self, out: &mut String) {
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        if series.is_empty() {
            return;
        }
        let start = out.len();
        let mut shown = 0;
        match &self.help {
            Help::Static => out.push_str(&self.header),
            Help::Described(help) => {
                let help = help.read().unwrap_or_else(PoisonError::into_inner);
                out.push_str(&header(&self.name, self.kind, &help));
            }
        }
        for (labels, series) in series.iter() {
            match &series.value {
                Value::Counter(counter) => {
                    sample_start(out, &self.name, labels);
                    text::push_fixed(out, counter.load(Relaxed), self.decimals);
                    out.push('\n');
                }
                Value::Gauge(gauge) => {
                    let value = f64::from_bits(gauge.load(Relaxed));
                    if value.is_nan() {
                        continue;
                    }
                    sample_start(out, &self.name, labels);
                    text::push_f64(out, value);
                    out.push('\n');
                }
                Value::Histogram(histogram) => self.render_histogram(out, labels, histogram),
            }
            shown += 1;
        }
        if shown == 0 {
            out.truncate(start);
        }
    }

    fn render_histogram(&self, out: &mut String, labels: &str, histogram: &AtomicHistogram) {
        let HistogramTotals { count, sum } = histogram.visit_cumulative(|i, cumulative| {
            bucket_start(out, &self.bucket_name, labels);
            out.push_str(&self.le[i]);
            out.push_str("\"} ");
            text::push_u64(out, cumulative);
            out.push('\n');
        });
        bucket_start(out, &self.bucket_name, labels);
        out.push_str("+Inf\"} ");
        text::push_u64(out, count);
        out.push('\n');
        sample_start(out, &self.sum_name, labels);
        text::push_f64(out, sum);
        out.push('\n');
        sample_start(out, &self.count_name, labels);
        text::push_u64(out, count);
        out.push('\n');
    }
}

/// `name{labels} ` or `name ` when there are no labels.
fn sample_start(out: &mut String, name: &str, labels: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
    out.push(' ');
}

/// `name_bucket{labels,le="` up to the bound.
fn bucket_start(out: &mut String, bucket_name: &str, labels: &str) {
    out.push_str(bucket_name);
    out.push('{');
    if !labels.is_empty() {
        out.push_str(labels);
        out.push(',');
    }
    out.push_str("le=\"");
}

fn header(name: &str, kind: MetricKind, help: &str) -> String {
    let mut out = String::with_capacity(name.len() * 2 + help.len() + 32);
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    text::push_help(&mut out, help);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind.as_str());
    out.push('\n');
    out
}

/// Renders `a="x",b="y"` from already-rendered global pairs and this series' labels.
pub(crate) fn render_label_pairs<'a>(
    global: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut out = String::from(global);
    for (name, value) in labels {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        text::push_label_value(&mut out, value);
        out.push('"');
    }
    out
}
