//! The Prometheus rules, as data: recording rules for the fleet view, alerts with their
//! runbooks, and the `promtool test rules` cases that prove each alert fires when it should
//! and stays quiet at zero traffic and below its threshold, all for one [`Deployment`].
//!
//! Naming follows Prometheus's `level:metric:operations` convention: the level lists the labels
//! the rule keeps besides the deployment's own (`job` and the configured matcher labels, which
//! every rule keeps), the metric part names what it is computed from, the operations say how
//! (`rate5m`, `p95_5m`, `ratio_rate1h`). The names do not depend on the configuration. Every
//! division is guarded (`/ (denominator > 0)`), so zero traffic yields no sample rather than
//! NaN. Unknown health figures are absent from the exposition (the recorder leaves NaN gauges
//! out); the fleet's health score still filters with `>= 0`, so that a replica on a recorder
//! that shows NaN (another recorder, an older release during a rolling upgrade) cannot turn the
//! fleet's number into NaN.
//!
//! The service level objectives ([`slo`]) add SLI error ratios over seven windows, burn rates,
//! the error budget remaining and the objectives themselves, and the multi-window burn-rate
//! alerts. The alerts' promtool cases are derived from the configured thresholds: the firing
//! case sits above the threshold, the quiet one below it, and the evaluation times follow each
//! `for`; the incident suite ([`incidents`]) replays whole incidents against every alert.

use gatewayz_catalogue::MetricDef;

use crate::{Deployment, Duration, Selector, generated_notice, yaml::Yaml};

mod alerts;
mod humanize;
pub mod incidents;
pub(crate) mod recording;
mod samples;
pub mod slo;
mod timeline;

pub(crate) use alerts::latency_spike_bucket;
pub use humanize::{humanize, humanize_percentage};

/// A rule file under `prometheus/rules/`.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// File name, e.g. `recording.yml`.
    pub file: &'static str,
    /// Its groups.
    pub groups: Vec<RuleGroup>,
    /// The generated-file notice of its header.
    notice: String,
}

/// A rule group: evaluated together, in order, every evaluation interval.
#[derive(Debug, Clone)]
pub struct RuleGroup {
    /// Group name.
    pub name: &'static str,
    /// Its own evaluation interval, when not Prometheus's global one: the SLO ratios over a
    /// day and more are evaluated once a minute, a quarter of the work at a 15 s interval, and
    /// still well within the 5-minute lookback (a group evaluated less often than that would
    /// leave gaps in its series).
    pub interval: Option<&'static str>,
    /// Its rules, in evaluation order (later rules may use earlier ones).
    pub rules: Vec<Rule>,
}

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Stores the result of an expression as a new series.
    Record(RecordingRule),
    /// Fires an alert while an expression has results.
    Alert(Box<AlertRule>),
}

/// A recording rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    /// The recorded series name, `level:metric:operations`.
    pub record: String,
    /// PromQL (no Grafana variables).
    pub expr: String,
    /// Labels the rule sets on what it records (the SLO rules' `slo`, the deployment's own on
    /// constant series), `(name, value)`.
    pub labels: Vec<(String, String)>,
    /// What the series means, for the comment above it and the docs.
    pub help: String,
}

/// How urgent an alert is; Alertmanager routes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Pages whoever is on call.
    Critical,
    /// Goes to the team's chat.
    Warning,
    /// Notifies no person: the always-firing Watchdog, for the dead man's switch.
    None,
}

impl Severity {
    /// The `severity` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::None => "none",
        }
    }
}

/// An alerting rule, with its runbook and unit tests.
#[derive(Debug, Clone)]
pub struct AlertRule {
    /// Alert name, `Gatewayz...`.
    pub alert: &'static str,
    /// Its table in the configuration, e.g. `provider_error_surge` for `[alerts.provider_error_surge]`.
    pub config_key: &'static str,
    /// PromQL (no Grafana variables).
    pub expr: String,
    /// How long the expression must hold before the alert fires (0: at once).
    pub for_: Duration,
    /// How long it keeps firing after the expression stops holding, if at all.
    pub keep_firing_for: Option<Duration>,
    /// The `severity` label.
    pub severity: Severity,
    /// Labels besides `severity`, e.g. `urgency` of the burn-rate alerts.
    pub labels: Vec<(String, String)>,
    /// One line, Go template (`{{ $labels.provider }}`, `{{ $value | humanize }}`).
    pub summary: String,
    /// A few sentences, Go template.
    pub description: String,
    /// The runbook's URL, from the configured pattern.
    pub runbook_url: String,
    /// The runbook: Markdown with the sections `## Meaning`, `## Likely causes` and
    /// `## What to do`, the configured thresholds filled in.
    pub runbook: String,
    /// The configured thresholds, in words, for the docs: `(what, value)`.
    pub thresholds: Vec<(&'static str, String)>,
    /// The dashboard to open first (its uid).
    pub dashboard: String,
    /// `promtool test rules` cases.
    pub tests: Vec<AlertTest>,
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
    /// How often the input series are sampled and the rules evaluated.
    pub step: Step,
    /// Input series, one sample a step from 0.
    pub series: Vec<InputSeries>,
    /// When the alert is evaluated, e.g. `20m`.
    pub eval_time: String,
    /// The alerts expected to be firing then (empty: none).
    pub expected: Vec<Expected>,
}

/// The time step of a promtool case: its input series' sampling and its rule evaluation.
///
/// A minute, like a scrape and evaluation every few seconds would see it; five minutes or an
/// hour for the cases that need a day or a week of history (spend against last week), which
/// promtool would otherwise evaluate thousands of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// One minute.
    Minute,
    /// Five minutes: the shortest window still holds two samples.
    FiveMinutes,
    /// One hour.
    Hour,
}

impl Step {
    /// Every step, shortest first.
    pub const ALL: [Step; 3] = [Step::Minute, Step::FiveMinutes, Step::Hour];

    /// As promtool writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Minute => "1m",
            Step::FiveMinutes => "5m",
            Step::Hour => "1h",
        }
    }

    /// Minutes in one step.
    pub fn minutes(self) -> usize {
        match self {
            Step::Minute => 1,
            Step::FiveMinutes => 5,
            Step::Hour => 60,
        }
    }

    /// What the test files of this step add to their name: `-5m`, `-hourly`.
    fn suffix(self) -> &'static str {
        match self {
            Step::Minute => "",
            Step::FiveMinutes => "-5m",
            Step::Hour => "-hourly",
        }
    }
}

/// One input series: `name{labels}` and its values in promtool's expanding notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSeries {
    /// `name{label="value", ...}`.
    pub series: String,
    /// E.g. `0+6x30` (31 values, one per minute).
    pub values: String,
}

/// An alert expected to fire: its labels (besides `alertname` and the rule's own labels) and
/// its value as the annotations render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Labels of the alert besides `alertname` and the rule's labels (`severity`, ...).
    pub labels: Vec<(String, String)>,
    /// What `{{ $value ... }}` renders to in the annotations, e.g. `50%`.
    pub value: String,
    /// The rule of that name it comes from, when not the test's own: the alert of another
    /// severity (a provider outage that failover hides is the warning, not the page).
    pub severity: Option<Severity>,
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
    pub eval_time: String,
    /// Expected samples: `name{labels}` and value; empty means "no sample at all".
    pub samples: Vec<(String, f64)>,
}

/// The rule files of `deployment`, in the order `prometheus.yml` and the tests load them.
pub fn files(deployment: &Deployment) -> Vec<RuleFile> {
    vec![
        RuleFile {
            file: "recording.yml",
            groups: recording::groups(deployment),
            notice: generated_notice(&deployment.selector),
        },
        // The objectives on their own: what a team reviews as its promises, and what a test
        // can run on a faster clock than the rest.
        RuleFile {
            file: "slo.yml",
            groups: [
                slo::recording_groups(deployment),
                vec![slo::alert_group(deployment)],
            ]
            .concat(),
            notice: generated_notice(&deployment.selector),
        },
        RuleFile {
            file: "alerts.yml",
            groups: alerts::groups(deployment),
            notice: generated_notice(&deployment.selector),
        },
    ]
}

/// Every rule group, recording groups first.
pub fn groups(deployment: &Deployment) -> Vec<RuleGroup> {
    files(deployment)
        .into_iter()
        .flat_map(|f| f.groups)
        .collect()
}

/// Every recording rule, in evaluation order.
pub fn recording_rules(deployment: &Deployment) -> Vec<RecordingRule> {
    groups(deployment)
        .into_iter()
        .flat_map(|g| g.rules)
        .filter_map(|rule| match rule {
            Rule::Record(r) => Some(r),
            Rule::Alert(_) => None,
        })
        .collect()
}

/// Every alert.
pub fn alerts(deployment: &Deployment) -> Vec<AlertRule> {
    groups(deployment)
        .into_iter()
        .flat_map(|g| g.rules)
        .filter_map(|rule| match rule {
            Rule::Alert(a) => Some(*a),
            Rule::Record(_) => None,
        })
        .collect()
}

/// The `promql_expr_test` cases of the recording rules.
pub fn expr_tests(deployment: &Deployment) -> Vec<ExprTest> {
    recording::tests(deployment)
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
    /// The rule's labels: `severity`, then the others.
    pub fn all_labels(&self) -> Vec<(String, String)> {
        std::iter::once(("severity".to_owned(), self.severity.as_str().to_owned()))
            .chain(self.labels.iter().cloned())
            .collect()
    }

    /// The alert's name, with its severity when `alerts` has another rule of that name (such
    /// as a page and a ticket): `GatewayzProviderUnavailable (warning)`.
    pub fn title(&self, alerts: &[AlertRule]) -> String {
        let namesakes = alerts.iter().filter(|a| a.alert == self.alert).count();
        if namesakes > 1 {
            format!("{} ({})", self.alert, self.severity.as_str())
        } else {
            self.alert.to_owned()
        }
    }

    /// The annotations, as templates: summary, description, runbook_url.
    pub fn annotations(&self) -> Vec<(&'static str, String)> {
        vec![
            ("summary", self.summary.clone()),
            ("description", self.description.clone()),
            ("runbook_url", self.runbook_url.clone()),
        ]
    }

    /// The annotations as Prometheus renders them for an alert with `labels` and a value that
    /// renders as `value` (the templates use `$value` at most through one filter each).
    pub fn rendered_annotations(
        &self,
        labels: &[(String, String)],
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
fn render_template(template: &str, labels: &[(String, String)], value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed template action") + start;
        let action = rest[start + 2..end].trim();
        if let Some(name) = action.strip_prefix("$labels.") {
            let found = labels.iter().find(|(l, _)| l == name);
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
        self.render_scaled(TimeScale::SHIPPED)
    }

    /// The YAML file with every duration scaled (see [`TimeScale`]): the same rules, names and
    /// thresholds on a faster clock, for tests that run a real Prometheus for minutes, not hours.
    pub fn render_scaled(&self, scale: TimeScale) -> String {
        let groups = self.groups.iter().map(|group| {
            let rules = group.rules.iter().map(|rule| match rule {
                Rule::Record(r) => {
                    let mut entries = vec![
                        ("record", Yaml::str(&r.record)),
                        ("expr", Yaml::expr(scale.expr(&r.expr))),
                    ];
                    if !r.labels.is_empty() {
                        entries.push((
                            "labels",
                            Yaml::map(r.labels.iter().map(|(k, v)| (k.clone(), Yaml::str(v)))),
                        ));
                    }
                    Yaml::map(entries).commented(&r.help)
                }
                Rule::Alert(a) => {
                    let mut entries = vec![
                        ("alert", Yaml::str(a.alert)),
                        ("expr", Yaml::expr(scale.expr(&a.expr))),
                    ];
                    if a.for_.millis() > 0 {
                        entries.push(("for", Yaml::str(scale.duration(a.for_.as_str()))));
                    }
                    if let Some(keep) = &a.keep_firing_for {
                        entries.push(("keep_firing_for", Yaml::str(scale.duration(keep.as_str()))));
                    }
                    entries.push((
                        "labels",
                        Yaml::map(a.all_labels().into_iter().map(|(k, v)| (k, Yaml::str(v)))),
                    ));
                    entries.push((
                        "annotations",
                        Yaml::map(a.annotations().into_iter().map(|(k, v)| (k, Yaml::str(v)))),
                    ));
                    Yaml::map(entries)
                }
            });
            let mut entries = vec![("name", Yaml::str(group.name))];
            if let Some(interval) = group.interval {
                entries.push(("interval", Yaml::str(scale.duration(interval))));
            }
            entries.push(("rules", Yaml::Seq(rules.collect())));
            Yaml::map(entries)
        });
        let mut about = format!(
            "{}\nChecked by `promtool check rules` and unit-tested by `promtool test rules` \
             (prometheus/tests/).",
            self.notice
        );
        if scale != TimeScale::SHIPPED {
            about.push_str(&format!(
                "\nEvery duration divided by {} (gatewayz_artefacts::rules::TimeScale) for a \
                 test: not for production.",
                scale.divisor
            ));
        }
        crate::yaml::document(
            &about,
            &Yaml::map([("groups", Yaml::Seq(groups.collect()))]),
        )
    }
}

/// A faster clock for the rules: every duration in them (range selectors, subquery ranges and
/// steps, `offset` modifiers, `for:`, `keep_firing_for:` and group intervals) divided by one
/// factor; names, label matchers, thresholds and the shape of every expression unchanged.
///
/// The shipped alerts judge five-minute windows and wait minutes before firing. An end-to-end
/// test that must finish in a few minutes loads the same rules divided by ten: what it proves
/// about the expressions (which series they select, how they aggregate across replicas, when
/// they have no sample) holds at any time scale, because only the durations change. Recorded
/// series keep their names (`...:rate5m` then covers 30 s), so the alerts and dashboards that
/// refer to them still find them.
///
/// ```
/// use gatewayz_artefacts::rules::TimeScale;
///
/// let ten = TimeScale::faster(10);
/// assert_eq!(ten.duration("2m"), "12s");
/// assert_eq!(
///     ten.expr(r#"sum(rate(x{path=~"/a[0-9]"}[5m])) and y[1h:1m] offset 1w"#),
///     r#"sum(rate(x{path=~"/a[0-9]"}[30s])) and y[6m:6s] offset 1008m"#
/// );
/// assert_eq!(TimeScale::SHIPPED.duration("2m"), "2m");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeScale {
    divisor: u32,
}

impl TimeScale {
    /// The shipped timings: every rendering is exactly the committed file.
    pub const SHIPPED: TimeScale = TimeScale { divisor: 1 };

    /// Every duration divided by `divisor`.
    ///
    /// # Panics
    /// If `divisor` is 0.
    pub fn faster(divisor: u32) -> TimeScale {
        assert!(divisor > 0, "a time scale divides by at least 1");
        TimeScale { divisor }
    }

    /// How many times faster than the shipped timings.
    pub fn divisor(self) -> u32 {
        self.divisor
    }

    /// A Prometheus duration (`5m`, `1h30m`, `250ms`) divided by the factor, written in the
    /// largest unit that keeps it exact.
    ///
    /// # Panics
    /// If `duration` is not a Prometheus duration, or would fall below a millisecond.
    pub fn duration(self, duration: &str) -> String {
        if self == TimeScale::SHIPPED {
            return duration.to_owned();
        }
        let millis = crate::config::parse_millis(duration)
            .unwrap_or_else(|| panic!("`{duration}` is not a Prometheus duration"));
        let scaled = millis / u64::from(self.divisor);
        assert!(
            scaled > 0,
            "{duration} divided by {} is below a millisecond",
            self.divisor
        );
        crate::config::format_millis(scaled)
    }

    /// `expr` with every duration inside `[...]` and after `offset` scaled; quoted strings
    /// (regular expressions may hold brackets) and brackets that hold no duration are left as
    /// they are. `@` modifiers are not scaled (a test checks that no rule uses them).
    pub fn expr(self, expr: &str) -> String {
        if self == TimeScale::SHIPPED {
            return expr.to_owned();
        }
        let mut out = String::with_capacity(expr.len());
        let mut chars = expr.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' | '\'' | '`' => {
                    // Copy the string literal through, escapes included.
                    out.push(c);
                    let mut escaped = false;
                    for (_, inner) in chars.by_ref() {
                        out.push(inner);
                        if escaped {
                            escaped = false;
                        } else if inner == '\\' && c != '`' {
                            escaped = true;
                        } else if inner == c {
                            break;
                        }
                    }
                }
                '[' => match expr[at..].find(']') {
                    Some(len) => {
                        let inside = &expr[at + 1..at + len];
                        let parts: Vec<&str> = inside.split(':').map(str::trim).collect();
                        let durations = parts
                            .iter()
                            .all(|p| p.is_empty() || crate::config::parse_millis(p).is_some());
                        if durations && parts.iter().any(|p| !p.is_empty()) {
                            let scaled: Vec<String> = parts
                                .iter()
                                .map(|p| {
                                    if p.is_empty() {
                                        String::new()
                                    } else {
                                        self.duration(p)
                                    }
                                })
                                .collect();
                            out.push('[');
                            out.push_str(&scaled.join(":"));
                            out.push(']');
                            while chars.peek().is_some_and(|&(i, _)| i <= at + len) {
                                chars.next();
                            }
                        } else {
                            out.push(c);
                        }
                    }
                    None => out.push(c),
                },
                'o' if expr[at..].starts_with("offset")
                    && !expr[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|p| p.is_ascii_alphanumeric() || p == '_' || p == ':') =>
                {
                    let after = &expr[at + "offset".len()..];
                    let spaces = after.len() - after.trim_start().len();
                    let rest = &after[spaces..];
                    let len = rest
                        .find(|c: char| !c.is_ascii_alphanumeric())
                        .unwrap_or(rest.len());
                    let duration = &rest[..len];
                    if spaces > 0 && crate::config::parse_millis(duration).is_some() {
                        out.push_str("offset");
                        out.push_str(&after[..spaces]);
                        out.push_str(&self.duration(duration));
                        let end = at + "offset".len() + spaces + len;
                        while chars.peek().is_some_and(|&(i, _)| i < end) {
                            chars.next();
                        }
                    } else {
                        out.push(c);
                    }
                }
                c => out.push(c),
            }
        }
        out
    }
}

/// The `promtool test rules` files under `prometheus/tests/`: one per alert group, and
/// `recording.yml` for the recording rules. Returns `(file name, contents)`.
pub fn test_files(deployment: &Deployment) -> Vec<(String, String)> {
    let rule_files = Yaml::strs(
        files(deployment)
            .iter()
            .map(|f| format!("../rules/{}", f.file)),
    );
    let notice = generated_notice(&deployment.selector);
    // promtool evaluates the groups of one timestamp in no fixed order unless told: recording
    // groups first, so that an alert reads the series recorded at the same instant (as the
    // suite's timings assume; Prometheus itself may read them one evaluation late).
    let order = Yaml::strs(groups(deployment).iter().map(|g| g.name));
    let document_every = |step: Step, tests: Vec<Yaml>, about: &str| {
        crate::yaml::document(
            &format!("{notice}\n{about}\nRun: promtool test rules prometheus/tests/*.yml"),
            &Yaml::map([
                ("rule_files", rule_files.clone()),
                ("evaluation_interval", Yaml::str(step.as_str())),
                ("group_eval_order", order.clone()),
                ("tests", Yaml::Seq(tests)),
            ]),
        )
    };
    let document = |tests: Vec<Yaml>, about: &str| document_every(Step::Minute, tests, about);
    let mut out = vec![(
        "recording.yml".to_owned(),
        document(
            expr_tests(deployment)
                .iter()
                .map(ExprTest::to_yaml)
                .collect(),
            "Recording rules: values across replicas, no sample (not NaN) without traffic, and \
             nothing from a neighbouring deployment.",
        ),
    )];
    let all = alerts(deployment);
    let alert_groups = groups(deployment)
        .into_iter()
        .filter(|g| g.rules.iter().any(|r| matches!(r, Rule::Alert(_))));
    for group in alert_groups {
        let name = group
            .name
            .trim_start_matches("gatewayz-")
            .trim_end_matches("-alerts");
        for step in Step::ALL {
            let tests: Vec<Yaml> = group
                .rules
                .iter()
                .filter_map(|rule| match rule {
                    Rule::Alert(a) => Some(a),
                    Rule::Record(_) => None,
                })
                .flat_map(|alert| {
                    let all = &all;
                    alert
                        .tests
                        .iter()
                        .filter(move |test| test.step == step)
                        .map(move |test| test.to_yaml(alert, all))
                })
                .collect();
            if tests.is_empty() {
                continue;
            }
            let about = match step {
                Step::Minute => {
                    "Alerts: each fires when it should, and stays quiet at zero traffic and \
                     below its threshold (the cases follow the configured thresholds)."
                }
                _ => "Alerts whose cases need days of history, sampled and evaluated less often.",
            };
            out.push((
                format!("{name}{}.yml", step.suffix()),
                document_every(step, tests, about),
            ));
        }
    }
    // One file per incident: a rule change can be tried against the incident it concerns.
    for (slug, step, case) in incidents::tests(deployment) {
        out.push((
            format!("incident-{slug}.yml"),
            document_every(
                step,
                vec![case],
                "An incident of the suite, replayed on three replicas with steady traffic, \
                 asserting the minute each alert fires and resolves (docs/alerts.md has the \
                 table of them all).",
            ),
        ));
    }
    out
}

pub(crate) fn series_yaml(series: &[InputSeries]) -> Yaml {
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

/// `exp_alerts` entries: each expected alert's labels and rendered annotations, from the rule
/// of `alert`'s name and the expected severity among `all`.
pub(crate) fn expected_yaml(alert: &AlertRule, expected: &[Expected], all: &[AlertRule]) -> Yaml {
    Yaml::Seq(
        expected
            .iter()
            .map(|e| {
                let rule = match e.severity {
                    Some(severity) => all
                        .iter()
                        .find(|a| a.alert == alert.alert && a.severity == severity)
                        .unwrap_or_else(|| {
                            panic!("{} has no {} rule", alert.alert, severity.as_str())
                        }),
                    None => alert,
                };
                let mut labels: Vec<(String, String)> = e.labels.clone();
                labels.extend(rule.all_labels());
                labels.sort();
                let annotations = rule.rendered_annotations(&labels, &e.value);
                Yaml::map([
                    (
                        "exp_labels",
                        Yaml::map(labels.iter().map(|(k, v)| (k.clone(), Yaml::str(v)))),
                    ),
                    (
                        "exp_annotations",
                        Yaml::map(annotations.into_iter().map(|(k, v)| (k, Yaml::str(v)))),
                    ),
                ])
            })
            .collect(),
    )
}

impl AlertTest {
    fn to_yaml(&self, alert: &AlertRule, all: &[AlertRule]) -> Yaml {
        Yaml::map([
            (
                "name",
                Yaml::str(format!("{}: {}", alert.title(all), self.name)),
            ),
            ("interval", Yaml::str(self.step.as_str())),
            ("input_series", series_yaml(&self.series)),
            (
                "alert_rule_test",
                Yaml::Seq(vec![Yaml::map([
                    ("eval_time", Yaml::str(&self.eval_time)),
                    ("alertname", Yaml::str(alert.alert)),
                    ("exp_alerts", expected_yaml(alert, &self.expected, all)),
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
                    ("eval_time", Yaml::str(&self.eval_time)),
                    ("exp_samples", Yaml::Seq(samples.collect())),
                ])]),
            ),
        ])
    }
}

// --- test input helpers --------------------------------------------------------------------

/// Builds the input series of promtool cases for one deployment: every series carries the
/// deployment's `job` and matcher labels, and an `instance` per replica.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    scope: Vec<(String, String)>,
}

impl Inputs {
    /// Series of `selector`'s deployment.
    pub(crate) fn new(selector: &Selector) -> Inputs {
        Inputs {
            scope: selector
                .pairs()
                .iter()
                .map(|(label, value)| ((*label).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    /// Series of another deployment in the same Prometheus: the same labels, another job.
    pub(crate) fn neighbour(selector: &Selector) -> Inputs {
        let mut inputs = Inputs::new(selector);
        inputs.scope[0].1 = format!("not-{}", selector.job);
        inputs
    }

    /// The deployment's labels, for expected alerts and samples.
    pub(crate) fn labels(&self) -> Vec<(String, String)> {
        self.scope.clone()
    }

    /// The `instance` of replica `replica` (from 0).
    pub(crate) fn replica(replica: usize) -> String {
        format!("gw-{}:8080", replica + 1)
    }

    /// An input series of `name` on replica `replica` with `labels`.
    pub(crate) fn input(
        &self,
        name: &str,
        replica: usize,
        labels: &[(&str, &str)],
        values: impl Into<String>,
    ) -> InputSeries {
        let mut all: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        all.push(format!("instance=\"{}\"", Inputs::replica(replica)));
        all.extend(self.scope.iter().map(|(k, v)| format!("{k}=\"{v}\"")));
        InputSeries {
            series: format!("{name}{{{}}}", all.join(", ")),
            values: values.into(),
        }
    }

    /// An input series of a catalogued metric.
    pub(crate) fn metric(
        &self,
        def: &MetricDef,
        replica: usize,
        labels: &[(&str, &str)],
        values: impl Into<String>,
    ) -> InputSeries {
        self.input(def.name, replica, labels, values)
    }

    /// `name{deployment labels, labels}` and `value`: an expected sample.
    pub(crate) fn sample(&self, name: &str, labels: &[(&str, &str)], value: f64) -> (String, f64) {
        let all: Vec<String> = self
            .scope
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(labels.iter().copied())
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        (format!("{name}{{{}}}", all.join(", ")), value)
    }

    /// The one-hot `gatewayz_provider_status` series of openrouter on `replica`, `current`
    /// being 1, for `steps` evaluation steps.
    pub(crate) fn provider_status(
        &self,
        replica: usize,
        current: &str,
        steps: u64,
    ) -> Vec<InputSeries> {
        let statuses = gatewayz_catalogue::HEALTH_STATUS
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
                self.metric(
                    &gatewayz_catalogue::PROVIDER_STATUS,
                    replica,
                    &[("provider", "openrouter"), ("status", s)],
                    format!("{value}x{steps}"),
                )
            })
            .collect()
    }

    /// The series of a histogram that receives `per_minute` observations a minute, all in the
    /// bucket whose upper bound is `bucket` (one of the catalogue's bounds), for `minutes`
    /// minutes.
    pub(crate) fn histogram(
        &self,
        def: &MetricDef,
        replica: usize,
        labels: &[(&str, &str)],
        bucket: f64,
        per_minute: f64,
        minutes: u64,
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
                self.input(&format!("{}_bucket", def.name), replica, &with_le, grow(on))
            })
            .collect();
        out.push(self.input(&format!("{}_count", def.name), replica, labels, grow(true)));
        out.push(self.input(
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
}

/// `value` repeated `count` times, space-separated (promtool cannot expand `NaN`).
pub(crate) fn repeat(value: &str, count: usize) -> String {
    vec![value; count].join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_divide_into_the_largest_exact_unit() {
        let ten = TimeScale::faster(10);
        for (shipped, scaled) in [
            ("5m", "30s"),
            ("2m", "12s"),
            ("10m", "1m"),
            ("1h", "6m"),
            ("1d", "144m"),
            ("1h30m", "9m"),
            ("15s", "1500ms"),
            ("500ms", "50ms"),
        ] {
            assert_eq!(ten.duration(shipped), scaled, "{shipped}");
        }
    }

    #[test]
    fn only_durations_in_brackets_change() {
        let ten = TimeScale::faster(10);
        let expr = r#"sum by (provider) (increase(x{re=~"[5m]", s='[1h]'}[10m])) > 5"#;
        assert_eq!(
            ten.expr(expr),
            r#"sum by (provider) (increase(x{re=~"[5m]", s='[1h]'}[1m])) > 5"#
        );
        assert_eq!(
            ten.expr("x[$__rate_interval] offset 1m"),
            "x[$__rate_interval] offset 6s"
        );
        assert_eq!(
            ten.expr(r#"sum(x{a="offset 5m"} offset 1w) or y_offset"#),
            r#"sum(x{a="offset 5m"} offset 1008m) or y_offset"#
        );
        assert_eq!(ten.expr("rate(x[5m])[1h:]"), "rate(x[30s])[6m:]");
    }

    #[test]
    fn the_shipped_scale_renders_the_committed_files() {
        let deployment = Deployment::default();
        for file in files(&deployment) {
            assert_eq!(file.render(), file.render_scaled(TimeScale::SHIPPED));
        }
        // `@` modifiers are not scaled: none may appear in a rule.
        for rule in groups(&deployment).iter().flat_map(|g| &g.rules) {
            assert!(
                !rule.expr().contains(" @ "),
                "{}: TimeScale does not scale @ modifiers",
                rule.name()
            );
        }
        let alerts = files(&deployment)
            .into_iter()
            .find(|f| f.file == "alerts.yml")
            .unwrap();
        let scaled = alerts.render_scaled(TimeScale::faster(10));
        assert!(
            scaled.contains("for: 12s") && scaled.contains("keep_firing_for: 1m"),
            "{scaled}"
        );
        assert!(
            !scaled.contains("[5m]") && scaled.contains("offset 1008m"),
            "{scaled}"
        );
        let slo = files(&deployment)
            .into_iter()
            .find(|f| f.file == "slo.yml")
            .unwrap()
            .render_scaled(TimeScale::faster(40));
        assert!(
            slo.contains("interval: 1500ms") && slo.contains("[7500ms]"),
            "{slo}"
        );
    }
}
