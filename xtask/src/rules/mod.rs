//! The Prometheus rules, as data: recording rules for the fleet view, alerts with their
//! runbooks, and the `promtool test rules` cases that prove each alert fires when it should
//! and stays quiet at zero traffic and below its threshold.
//!
//! Naming follows Prometheus's `level:metric:operations` convention: the level lists the labels
//! the rule keeps (`provider:`, `provider_le:`, `job:`), the metric part names what it is
//! computed from, the operations say how (`rate5m`, `p95_5m`, `avg`). Every division is guarded
//! (`/ (denominator > 0)`), so zero traffic yields no sample rather than NaN, and every health
//! gauge is filtered with `>= 0`, which drops the NaN a provider publishes while it has too
//! little traffic to judge.

use gatewayz_registry::MetricDef;

use crate::{GENERATED_BY, yaml::Yaml};

mod alerts;
mod recording;

pub use alerts::thresholds;

/// The scrape job name of the gateway replicas, in `prometheus.yml` and in the alerts that
/// watch the scrape itself.
pub const JOB: &str = "gatewayz";

/// Where the runbooks live; each alert's `runbook_url` points at its section.
pub const RUNBOOKS: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/alerts.md");

/// A rule file under `dashboards/prometheus/rules/`.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// File name, e.g. `recording.yml`.
    pub file: &'static str,
    /// Its groups.
    pub groups: Vec<RuleGroup>,
}

/// A rule group: evaluated together, in order, every evaluation interval.
#[derive(Debug, Clone)]
pub struct RuleGroup {
    /// Group name.
    pub name: &'static str,
    /// Its rules, in evaluation order (later rules may use earlier ones).
    pub rules: Vec<Rule>,
}

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Stores the result of an expression as a new series.
    Record(RecordingRule),
    /// Fires an alert while an expression has results.
    Alert(AlertRule),
}

/// A recording rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    /// The recorded series name, `level:metric:operations`.
    pub record: String,
    /// PromQL (no Grafana variables).
    pub expr: String,
    /// What the series means, for the comment above it and the docs.
    pub help: &'static str,
}

/// How urgent an alert is; Alertmanager routes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Pages whoever is on call.
    Critical,
    /// Goes to the team's chat.
    Warning,
}

impl Severity {
    /// The `severity` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// An alerting rule, with its runbook and unit tests.
#[derive(Debug, Clone)]
pub struct AlertRule {
    /// Alert name, `Gatewayz...`.
    pub alert: &'static str,
    /// PromQL (no Grafana variables).
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    pub for_: &'static str,
    /// The `severity` label.
    pub severity: Severity,
    /// One line, Go template (`{{ $labels.provider }}`, `{{ $value | humanize }}`).
    pub summary: String,
    /// A few sentences, Go template.
    pub description: String,
    /// The runbook: what it means, likely causes, what to do.
    pub runbook: Runbook,
    /// The dashboard to open first (its uid).
    pub dashboard: &'static str,
    /// `promtool test rules` cases.
    pub tests: Vec<AlertTest>,
}

/// The runbook section of an alert in `docs/alerts.md`.
#[derive(Debug, Clone)]
pub struct Runbook {
    /// What the alert means, in a sentence or two.
    pub meaning: String,
    /// Likely causes, most likely first.
    pub causes: Vec<&'static str>,
    /// What to do, in order.
    pub actions: Vec<&'static str>,
}

/// What an alert test demonstrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// The alert fires.
    Fires,
    /// No traffic (counters flat at zero, health gauges NaN): the alert stays quiet.
    ZeroTraffic,
    /// The condition is close but below the threshold (or too short): the alert stays quiet.
    BelowThreshold,
}

/// One `promtool test rules` case of an alert.
#[derive(Debug, Clone)]
pub struct AlertTest {
    /// What it demonstrates.
    pub case: Case,
    /// Test name, in words.
    pub name: String,
    /// Input series, scraped every minute from 0.
    pub series: Vec<InputSeries>,
    /// When the alert is evaluated, e.g. `20m`.
    pub eval_time: &'static str,
    /// The alerts expected to be firing then (empty: none).
    pub expected: Vec<Expected>,
}

/// One input series: `name{labels}` and its values in promtool's expanding notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSeries {
    /// `name{label="value", ...}`.
    pub series: String,
    /// E.g. `0+6x30` (31 values, one per minute).
    pub values: String,
}

/// An alert expected to fire: its labels (besides `alertname` and `severity`) and its value
/// as the annotations render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Labels of the alert besides `alertname` and `severity`.
    pub labels: Vec<(&'static str, String)>,
    /// What `{{ $value ... }}` renders to in the annotations, e.g. `50%`.
    pub value: String,
}

/// A `promql_expr_test` of a recording rule.
#[derive(Debug, Clone)]
pub struct ExprTest {
    /// Test name, in words.
    pub name: String,
    /// Input series, scraped every minute from 0.
    pub series: Vec<InputSeries>,
    /// The expression evaluated (usually a recording rule's name).
    pub expr: String,
    /// When.
    pub eval_time: &'static str,
    /// Expected samples: `name{labels}` and value; empty means "no sample at all".
    pub samples: Vec<(String, f64)>,
}

/// The rule files, in the order `prometheus.yml` and the tests load them.
pub fn files() -> Vec<RuleFile> {
    vec![
        RuleFile {
            file: "recording.yml",
            groups: recording::groups(),
        },
        RuleFile {
            file: "alerts.yml",
            groups: alerts::groups(),
        },
    ]
}

/// Every rule group, recording groups first.
pub fn groups() -> Vec<RuleGroup> {
    files().into_iter().flat_map(|f| f.groups).collect()
}

/// Every recording rule, in evaluation order.
pub fn recording_rules() -> Vec<RecordingRule> {
    groups()
        .into_iter()
        .flat_map(|g| g.rules)
        .filter_map(|rule| match rule {
            Rule::Record(r) => Some(r),
            Rule::Alert(_) => None,
        })
        .collect()
}

/// Every alert.
pub fn alerts() -> Vec<AlertRule> {
    groups()
        .into_iter()
        .flat_map(|g| g.rules)
        .filter_map(|rule| match rule {
            Rule::Alert(a) => Some(a),
            Rule::Record(_) => None,
        })
        .collect()
}

/// The `promql_expr_test` cases of the recording rules.
pub fn expr_tests() -> Vec<ExprTest> {
    recording::tests()
}

impl Rule {
    /// The rule's expression.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Record(r) => &r.expr,
            Rule::Alert(a) => &a.expr,
        }
    }

    /// The recorded series or the alert name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Record(r) => &r.record,
            Rule::Alert(a) => a.alert,
        }
    }
}

impl AlertRule {
    /// The runbook's URL: `docs/alerts.md#<alert name, lower-case>`.
    pub fn runbook_url(&self) -> String {
        format!("{RUNBOOKS}#{}", self.alert.to_lowercase())
    }

    /// The annotations, as templates: summary, description, runbook_url.
    pub fn annotations(&self) -> Vec<(&'static str, String)> {
        vec![
            ("summary", self.summary.clone()),
            ("description", self.description.clone()),
            ("runbook_url", self.runbook_url()),
        ]
    }

    /// The annotations as Prometheus renders them for an alert with `labels` and a value that
    /// renders as `value` (the templates use `$value` at most through one filter each).
    pub fn rendered_annotations(
        &self,
        labels: &[(&str, String)],
        value: &str,
    ) -> Vec<(&'static str, String)> {
        self.annotations()
            .into_iter()
            .map(|(key, template)| (key, render_template(&template, labels, value)))
            .collect()
    }
}

/// Renders the subset of Go templates the annotations use: `{{ $labels.NAME }}` and
/// `{{ $value }}` (with any filter, whose output is `value`).
fn render_template(template: &str, labels: &[(&str, String)], value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed template action") + start;
        let action = rest[start + 2..end].trim();
        if let Some(name) = action.strip_prefix("$labels.") {
            let found = labels.iter().find(|(l, _)| *l == name);
            out.push_str(found.map(|(_, v)| v.as_str()).unwrap_or(""));
        } else if action.starts_with("$value") {
            out.push_str(value);
        } else {
            panic!("template action `{action}` is not supported by the test renderer");
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

impl RuleFile {
    /// The YAML file.
    pub fn render(&self) -> String {
        let groups = self.groups.iter().map(|group| {
            let rules = group.rules.iter().map(|rule| match rule {
                Rule::Record(r) => Yaml::map([
                    ("record", Yaml::str(&r.record)),
                    ("expr", Yaml::expr(&r.expr)),
                ])
                .commented(r.help),
                Rule::Alert(a) => Yaml::map([
                    ("alert", Yaml::str(a.alert)),
                    ("expr", Yaml::expr(&a.expr)),
                    ("for", Yaml::str(a.for_)),
                    (
                        "labels",
                        Yaml::map([("severity", Yaml::str(a.severity.as_str()))]),
                    ),
                    (
                        "annotations",
                        Yaml::map(a.annotations().into_iter().map(|(k, v)| (k, Yaml::str(v)))),
                    ),
                ]),
            });
            Yaml::map([
                ("name", Yaml::str(group.name)),
                ("rules", Yaml::Seq(rules.collect())),
            ])
        });
        crate::yaml::document(
            &format!(
                "{GENERATED_BY} from xtask/src/rules/; do not edit.\n\
                 Checked by `promtool check rules` and unit-tested by `promtool test rules` \
                 (dashboards/prometheus/tests/)."
            ),
            &Yaml::map([("groups", Yaml::Seq(groups.collect()))]),
        )
    }
}

/// The `promtool test rules` files under `dashboards/prometheus/tests/`: one per alert group,
/// and `recording.yml` for the recording rules. Returns `(file name, contents)`.
pub fn test_files() -> Vec<(String, String)> {
    let rule_files = Yaml::strs(files().iter().map(|f| format!("../rules/{}", f.file)));
    let document = |tests: Vec<Yaml>, about: &str| {
        crate::yaml::document(
            &format!(
                "{GENERATED_BY} from xtask/src/rules/; do not edit.\n{about}\n\
                 Run: promtool test rules dashboards/prometheus/tests/*.yml"
            ),
            &Yaml::map([
                ("rule_files", rule_files.clone()),
                ("evaluation_interval", Yaml::str("1m")),
                ("tests", Yaml::Seq(tests)),
            ]),
        )
    };
    let mut out = vec![(
        "recording.yml".to_owned(),
        document(
            expr_tests().iter().map(ExprTest::to_yaml).collect(),
            "Recording rules: values across replicas, and no sample (not NaN) without traffic.",
        ),
    )];
    for group in alerts::groups() {
        let tests: Vec<Yaml> = group
            .rules
            .iter()
            .filter_map(|rule| match rule {
                Rule::Alert(a) => Some(a),
                Rule::Record(_) => None,
            })
            .flat_map(|alert| alert.tests.iter().map(move |test| test.to_yaml(alert)))
            .collect();
        let file = format!(
            "{}.yml",
            group
                .name
                .trim_start_matches("gatewayz-")
                .trim_end_matches("-alerts")
        );
        out.push((
            file,
            document(
                tests,
                "Alerts: each fires when it should, and stays quiet at zero traffic and below \
                 its threshold.",
            ),
        ));
    }
    out
}

fn series_yaml(series: &[InputSeries]) -> Yaml {
    Yaml::Seq(
        series
            .iter()
            .map(|s| {
                Yaml::map([
                    ("series", Yaml::str(&s.series)),
                    ("values", Yaml::str(&s.values)),
                ])
            })
            .collect(),
    )
}

impl AlertTest {
    fn to_yaml(&self, alert: &AlertRule) -> Yaml {
        let expected = self.expected.iter().map(|e| {
            let mut labels: Vec<(&str, String)> = e.labels.clone();
            labels.push(("severity", alert.severity.as_str().to_owned()));
            labels.sort();
            let annotations = alert.rendered_annotations(&labels, &e.value);
            Yaml::map([
                (
                    "exp_labels",
                    Yaml::map(labels.iter().map(|(k, v)| (*k, Yaml::str(v)))),
                ),
                (
                    "exp_annotations",
                    Yaml::map(annotations.into_iter().map(|(k, v)| (k, Yaml::str(v)))),
                ),
            ])
        });
        Yaml::map([
            ("name", Yaml::str(format!("{}: {}", alert.alert, self.name))),
            ("interval", Yaml::str("1m")),
            ("input_series", series_yaml(&self.series)),
            (
                "alert_rule_test",
                Yaml::Seq(vec![Yaml::map([
                    ("eval_time", Yaml::str(self.eval_time)),
                    ("alertname", Yaml::str(alert.alert)),
                    ("exp_alerts", Yaml::Seq(expected.collect())),
                ])]),
            ),
        ])
    }
}

impl ExprTest {
    fn to_yaml(&self) -> Yaml {
        let samples = self.samples.iter().map(|(labels, value)| {
            Yaml::map([
                ("labels", Yaml::str(labels)),
                ("value", Yaml::Float(*value)),
            ])
        });
        Yaml::map([
            ("name", Yaml::str(&self.name)),
            ("interval", Yaml::str("1m")),
            ("input_series", series_yaml(&self.series)),
            (
                "promql_expr_test",
                Yaml::Seq(vec![Yaml::map([
                    ("expr", Yaml::expr(&self.expr)),
                    ("eval_time", Yaml::str(self.eval_time)),
                    ("exp_samples", Yaml::Seq(samples.collect())),
                ])]),
            ),
        ])
    }
}

// --- test input helpers --------------------------------------------------------------------

/// The replica label values used in tests.
pub(crate) const REPLICAS: [&str; 3] = ["gw-1:8080", "gw-2:8080", "gw-3:8080"];

/// An input series of `name` on replica `replica` with `labels`.
pub(crate) fn input(
    name: &str,
    replica: usize,
    labels: &[(&str, &str)],
    values: impl Into<String>,
) -> InputSeries {
    let mut all: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    all.push(format!("instance=\"{}\"", REPLICAS[replica]));
    all.push(format!("job=\"{JOB}\""));
    InputSeries {
        series: format!("{name}{{{}}}", all.join(", ")),
        values: values.into(),
    }
}

/// An input series of a catalogued metric.
pub(crate) fn metric(
    def: &MetricDef,
    replica: usize,
    labels: &[(&str, &str)],
    values: impl Into<String>,
) -> InputSeries {
    input(def.name, replica, labels, values)
}

/// The one-hot `gatewayz_provider_status` series of openrouter on `replica`, `current` being 1,
/// for `steps` evaluation steps.
pub(crate) fn provider_status(replica: usize, current: &str, steps: u32) -> Vec<InputSeries> {
    let statuses = gatewayz_registry::catalogue::HEALTH_STATUS
        .values()
        .unwrap_or_default();
    assert!(
        statuses.contains(&current),
        "{current} is not a health status"
    );
    statuses
        .iter()
        .map(|s| {
            let value = if *s == current { 1 } else { 0 };
            metric(
                &gatewayz_registry::catalogue::PROVIDER_STATUS,
                replica,
                &[("provider", "openrouter"), ("status", s)],
                format!("{value}x{steps}"),
            )
        })
        .collect()
}

/// The series of a histogram that receives `per_minute` observations a minute, all in the
/// bucket whose upper bound is `bucket` (one of the catalogue's bounds), for `minutes` minutes.
pub(crate) fn histogram(
    def: &MetricDef,
    replica: usize,
    labels: &[(&str, &str)],
    bucket: f64,
    per_minute: f64,
    minutes: u32,
) -> Vec<InputSeries> {
    assert!(
        def.buckets.contains(&bucket),
        "{bucket} is not a bucket of {}",
        def.name
    );
    let grow = |on: bool| {
        if on && per_minute > 0.0 {
            format!("0+{per_minute}x{minutes}")
        } else {
            format!("0x{minutes}")
        }
    };
    let mut out: Vec<InputSeries> = def
        .buckets
        .iter()
        .map(|le| (le.to_string(), *le >= bucket))
        .chain([("+Inf".to_owned(), true)])
        .map(|(le, on)| {
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            input(&format!("{}_bucket", def.name), replica, &with_le, grow(on))
        })
        .collect();
    out.push(input(
        &format!("{}_count", def.name),
        replica,
        labels,
        grow(true),
    ));
    out.push(input(
        &format!("{}_sum", def.name),
        replica,
        labels,
        if per_minute > 0.0 {
            format!("0+{}x{minutes}", per_minute * bucket)
        } else {
            format!("0x{minutes}")
        },
    ));
    out
}

/// `value` repeated `count` times, space-separated (promtool cannot expand `NaN`).
pub(crate) fn repeat(value: &str, count: usize) -> String {
    vec![value; count].join(" ")
}
