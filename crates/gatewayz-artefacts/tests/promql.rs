//! Every PromQL expression we ship, checked on its parsed AST (promql-parser): in the
//! dashboards (after Grafana variables are substituted), the recording and alerting rules, the
//! PromQL library and the code blocks of the docs, for the default deployment and a second one.
//!
//! - it parses;
//! - every selector selects the deployment: `job` and the configured matchers exactly in rules,
//!   alerts and the library, through the `$job`, matcher and `$instance` variables in
//!   dashboards; every recording rule keeps the deployment's labels in its output;
//! - every metric it names is catalogued (histograms through `_bucket`, `_sum`, `_count`), a
//!   recording rule, or a series Prometheus makes itself (`up`, `scrape_*`);
//! - every label it matches, groups by or joins on exists on the expression at that point
//!   (`le` only on buckets, `instance` and `job` everywhere), and values of closed label sets
//!   are values the catalogue declares;
//! - counters (and histogram series) appear only inside `rate` or `increase`;
//! - both sides of a binary operation can match (same labels, or an explicit `on`/`ignoring`);
//! - divisions by a vector are guarded with `> 0`, so zero traffic gives no sample, not NaN;
//! - dashboard rates use `$__rate_interval` and every selector of a metric with a `provider`,
//!   `model` or `route` label is filtered by the dashboard's variable of that name;
//! - recording rule names follow `level:metric:operations`, the level naming the labels kept
//!   besides the deployment's own.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    time::Duration,
};

use common::deployments;
use gatewayz_artefacts::{
    Deployment,
    dashboards::{self, Dashboard, Variable},
    promql::{Substitution, library, substitute},
    rules,
};
use gatewayz_catalogue::{CATALOGUE, MetricDef, MetricKind};
use promql_parser::{
    label::{MatchOp, Matcher},
    parser::{
        self, BinaryExpr, Call, Expr, LabelModifier, VectorMatchCardinality, VectorSelector,
        value::ValueType,
    },
};

type Labels = BTreeSet<String>;

/// Labels Prometheus adds to every scraped series (besides the deployment's matcher labels,
/// which the generated scrape configuration attaches).
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Only meaningful through rate() or increase().
    Counter,
    /// Read as is.
    Gauge,
    /// A recording rule's output.
    Recorded,
}

#[derive(Debug, Clone)]
struct Series {
    kind: Kind,
    labels: Labels,
    /// The catalogue entry, for closed label values.
    def: Option<&'static MetricDef>,
}

/// Every series name an expression may use, with its labels.
#[derive(Debug, Clone)]
struct Known(BTreeMap<String, Series>);

impl Known {
    /// The catalogue and Prometheus's own series as `deployment` scrapes them (no recording
    /// rules yet).
    fn catalogue(deployment: &Deployment) -> Self {
        let mut map = BTreeMap::new();
        let scope = deployment.selector.labels();
        let with_target = |labels: &[&str]| -> Labels {
            labels
                .iter()
                .chain(TARGET_LABELS.iter())
                .chain(scope.iter())
                .map(|l| (*l).to_owned())
                .collect()
        };
        for def in CATALOGUE {
            let labels: Vec<&str> = def.labels.iter().map(|l| l.name).collect();
            match def.kind {
                MetricKind::Counter | MetricKind::Gauge => {
                    let kind = if def.kind == MetricKind::Counter {
                        Kind::Counter
                    } else {
                        Kind::Gauge
                    };
                    map.insert(
                        def.name.to_owned(),
                        Series {
                            kind,
                            labels: with_target(&labels),
                            def: Some(def),
                        },
                    );
                }
                MetricKind::Histogram => {
                    let mut with_le = labels.clone();
                    with_le.push("le");
                    for (suffix, labels) in [
                        ("_bucket", &with_le),
                        ("_sum", &labels),
                        ("_count", &labels),
                    ] {
                        map.insert(
                            format!("{}{suffix}", def.name),
                            Series {
                                kind: Kind::Counter,
                                labels: with_target(labels),
                                def: Some(def),
                            },
                        );
                    }
                }
            }
        }
        for builtin in ["up", "scrape_samples_scraped", "scrape_duration_seconds"] {
            map.insert(
                builtin.to_owned(),
                Series {
                    kind: Kind::Gauge,
                    labels: with_target(&[]),
                    def: None,
                },
            );
        }
        // Prometheus's series of the active alerts: the alerts' own labels.
        map.insert(
            "ALERTS".to_owned(),
            Series {
                kind: Kind::Gauge,
                labels: with_target(&[
                    "alertname",
                    "alertstate",
                    "severity",
                    "urgency",
                    "slo",
                    "provider",
                    "model",
                ]),
                def: None,
            },
        );
        Known(map)
    }

    /// The catalogue plus every recording rule of `deployment`, each checked as it is added
    /// (in evaluation order, so a rule may use the ones before it).
    fn with_rules(deployment: &Deployment) -> (Self, Vec<String>) {
        let mut known = Known::catalogue(deployment);
        let mut errors = Vec::new();
        for rule in rules::recording_rules(deployment) {
            match check(&rule.expr, &known) {
                Ok(mut report) => {
                    // The labels the rule sets itself (an objective's `slo`).
                    report
                        .labels
                        .extend(rule.labels.iter().map(|(name, _)| name.clone()));
                    // One name, several rules (an objective each): their labels together.
                    if let Some(before) = known.0.get(&rule.record) {
                        report.labels.extend(before.labels.iter().cloned());
                    }
                    known.0.insert(
                        rule.record.clone(),
                        Series {
                            kind: Kind::Recorded,
                            labels: report.labels,
                            def: None,
                        },
                    );
                }
                Err(e) => errors.push(format!("recording rule {}: {e}", rule.record)),
            }
        }
        (known, errors)
    }
}

/// What a successful check learnt about an expression.
#[derive(Debug, Default)]
struct Report {
    /// Labels of the result.
    labels: Labels,
    /// Ranges of `rate()` calls outside subqueries.
    rate_ranges: Vec<Duration>,
    /// Every selector: metric name, its labels, and its matchers.
    selectors: Vec<(String, Labels, Vec<Matcher>)>,
}

struct Lint<'a> {
    known: &'a Known,
    errors: Vec<String>,
    subquery_depth: usize,
    report: Report,
}

/// Parses and lints `expr` (no Grafana variables left).
fn check(expr: &str, known: &Known) -> Result<Report, String> {
    let ast = parser::parse(expr).map_err(|e| format!("does not parse: {e}\n{expr}"))?;
    let mut lint = Lint {
        known,
        errors: Vec::new(),
        subquery_depth: 0,
        report: Report::default(),
    };
    let labels = lint.labels(&ast, false);
    if lint.errors.is_empty() {
        lint.report.labels = labels;
        Ok(lint.report)
    } else {
        Err(format!("{}\nin: {expr}", lint.errors.join("; ")))
    }
}

fn set(labels: &[String]) -> Labels {
    labels.iter().cloned().collect()
}

fn unwrap_parens(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(p) => unwrap_parens(&p.expr),
        other => other,
    }
}

impl Lint<'_> {
    fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    /// The labels of `expr`'s result; `counter_ok` when `expr` is the range argument of
    /// rate() or increase().
    fn labels(&mut self, expr: &Expr, counter_ok: bool) -> Labels {
        match expr {
            Expr::Aggregate(a) => {
                if let Some(param) = &a.param {
                    self.labels(param, false);
                }
                let op = a.op.to_string();
                // `count` and `group` read which series exist, never their values: a counter
                // is fine there (`count(x unless x offset 15m)`: series new in 15 minutes).
                let existence = matches!(op.as_str(), "count" | "group");
                let inner = self.labels(&a.expr, existence);
                let keeps_series = matches!(op.as_str(), "topk" | "bottomk" | "limitk");
                match &a.modifier {
                    Some(LabelModifier::Include(by)) => {
                        for label in &by.labels {
                            if !inner.contains(label) {
                                self.error(format!(
                                    "`{op} by ({label})`: the expression has no label `{label}` \
                                     (it has {inner:?})"
                                ));
                            }
                        }
                        if keeps_series { inner } else { set(&by.labels) }
                    }
                    Some(LabelModifier::Exclude(without)) => {
                        for label in &without.labels {
                            if !inner.contains(label) {
                                self.error(format!(
                                    "`{op} without ({label})`: the expression has no label \
                                     `{label}`"
                                ));
                            }
                        }
                        &inner - &set(&without.labels)
                    }
                    None if keeps_series => inner,
                    None => Labels::new(),
                }
            }
            Expr::Unary(u) => self.labels(&u.expr, false),
            Expr::Paren(p) => self.labels(&p.expr, counter_ok),
            Expr::Subquery(s) => {
                self.subquery_depth += 1;
                let labels = self.labels(&s.expr, false);
                self.subquery_depth -= 1;
                labels
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Labels::new(),
            Expr::VectorSelector(vs) => self.selector(vs, counter_ok),
            Expr::MatrixSelector(ms) => self.selector(&ms.vs, counter_ok),
            Expr::Call(call) => self.call(call),
            Expr::Binary(b) => self.binary(b, counter_ok),
            Expr::Extension(_) => {
                self.error("extension expressions are not PromQL".to_owned());
                Labels::new()
            }
        }
    }

    fn selector(&mut self, vs: &VectorSelector, counter_ok: bool) -> Labels {
        let name = vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
                .map(|m| m.value.clone())
        });
        let Some(name) = name else {
            self.error("a selector without a metric name".to_owned());
            return Labels::new();
        };
        let Some(series) = self.known.0.get(&name).cloned() else {
            self.error(format!(
                "`{name}` is neither a catalogued metric (histograms go through _bucket, _sum, \
                 _count) nor a recording rule"
            ));
            return Labels::new();
        };
        if series.kind == Kind::Counter && !counter_ok {
            self.error(format!(
                "counter `{name}` is used outside rate() or increase(): its raw value resets \
                 with every replica restart"
            ));
        }
        let matchers: Vec<Matcher> = vs
            .matchers
            .matchers
            .iter()
            .chain(vs.matchers.or_matchers.iter().flatten())
            .filter(|m| m.name != "__name__")
            .cloned()
            .collect();
        for m in &matchers {
            if !series.labels.contains(&m.name) {
                self.error(format!(
                    "`{name}` has no label `{}` (it has {:?})",
                    m.name, series.labels
                ));
                continue;
            }
            let closed = series
                .def
                .and_then(|def| def.label(&m.name))
                .and_then(|label| label.values());
            let exact = matches!(m.op, MatchOp::Equal | MatchOp::NotEqual);
            if let Some(values) = closed.filter(|_| exact)
                && !values.contains(&m.value.as_str())
            {
                self.error(format!(
                    "`{name}{{{}=\"{}\"}}`: `{}` is not one of the label's values {values:?}",
                    m.name, m.value, m.value
                ));
            }
        }
        self.report
            .selectors
            .push((name, series.labels.clone(), matchers));
        series.labels
    }

    fn call(&mut self, call: &Call) -> Labels {
        let name = call.func.name;
        let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
        let string_arg = |i: usize| match args.get(i).map(|a| unwrap_parens(a)) {
            Some(Expr::StringLiteral(s)) => s.val.clone(),
            _ => String::new(),
        };
        match name {
            "rate" | "increase" => match args.first().copied() {
                Some(Expr::MatrixSelector(ms)) => {
                    if name == "rate" && self.subquery_depth == 0 {
                        self.report.rate_ranges.push(ms.range);
                    }
                    self.selector(&ms.vs, true)
                }
                Some(other) => self.labels(other, false),
                None => Labels::new(),
            },
            "histogram_quantile" => {
                self.labels(args[0], false);
                let mut labels = self.labels(args[1], false);
                if !labels.remove("le") {
                    self.error(
                        "histogram_quantile over an expression without `le`: sum the buckets \
                         `by (le, ...)`"
                            .to_owned(),
                    );
                }
                labels
            }
            "label_replace" => {
                let mut labels = self.labels(args[0], false);
                let source = string_arg(3);
                if !source.is_empty() && !labels.contains(&source) {
                    self.error(format!("label_replace from missing label `{source}`"));
                }
                labels.insert(string_arg(1));
                labels
            }
            "absent" => {
                self.labels(args[0], false);
                match unwrap_parens(args[0]) {
                    Expr::VectorSelector(vs) => vs
                        .matchers
                        .matchers
                        .iter()
                        .filter(|m| m.op == MatchOp::Equal && m.name != "__name__")
                        .map(|m| m.name.clone())
                        .collect(),
                    _ => Labels::new(),
                }
            }
            _ => {
                let mut result = None;
                for arg in &args {
                    let labels = self.labels(arg, false);
                    let vector = matches!(arg.value_type(), ValueType::Vector | ValueType::Matrix);
                    if vector && result.is_none() {
                        result = Some(labels);
                    }
                }
                result.unwrap_or_default()
            }
        }
    }

    fn binary(&mut self, b: &BinaryExpr, existence: bool) -> Labels {
        let op = b.op.to_string();
        // Set operators pass on an existence-only context (their values are not read there).
        let set_op = matches!(op.as_str(), "and" | "or" | "unless");
        let left = self.labels(&b.lhs, existence && set_op);
        let right = self.labels(&b.rhs, existence && set_op);
        let scalar_left = b.lhs.value_type() == ValueType::Scalar;
        let scalar_right = b.rhs.value_type() == ValueType::Scalar;
        if op == "/" && !scalar_right && !is_guarded(&b.rhs) {
            self.error(format!(
                "division by `{}` is not guarded: write `/ (denominator > 0)` so zero traffic \
                 gives no sample instead of NaN",
                b.rhs
            ));
        }
        if scalar_left || scalar_right {
            return if scalar_left { right } else { left };
        }
        let matching = b.modifier.as_ref().and_then(|m| m.matching.as_ref());
        let card = b.modifier.as_ref().map(|m| &m.card);
        match matching {
            Some(LabelModifier::Include(on)) => {
                for label in &on.labels {
                    if !left.contains(label) || !right.contains(label) {
                        self.error(format!(
                            "`{op} on ({label})`: both sides need `{label}` (left {left:?}, right \
                             {right:?})"
                        ));
                    }
                }
            }
            Some(LabelModifier::Exclude(ignoring)) if !ignoring.labels.is_empty() => {
                let ignored = set(&ignoring.labels);
                if op != "or" && &left - &ignored != &right - &ignored {
                    self.error(format!(
                        "`{op} ignoring (...)`: sides still differ: {left:?} vs {right:?}"
                    ));
                }
            }
            _ => {
                let one_sided = matches!(
                    card,
                    Some(
                        VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
                    )
                );
                if op != "or" && !one_sided && left != right {
                    self.error(format!(
                        "`{op}` between different label sets {left:?} and {right:?} never matches: \
                         aggregate both sides alike or use on(...)"
                    ));
                }
            }
        }
        match (op.as_str(), card) {
            ("or", _) => &left | &right,
            (_, Some(VectorMatchCardinality::ManyToOne(extra))) => &left | &set(&extra.labels),
            (_, Some(VectorMatchCardinality::OneToMany(extra))) => &right | &set(&extra.labels),
            _ => left,
        }
    }
}

/// Whether a denominator filters out zero: `(x > 0)`, possibly parenthesised.
fn is_guarded(expr: &Expr) -> bool {
    match unwrap_parens(expr) {
        Expr::Binary(b) => {
            b.op.to_string() == ">"
                && !b.return_bool()
                && matches!(unwrap_parens(&b.rhs), Expr::NumberLiteral(n) if n.val == 0.0)
        }
        _ => false,
    }
}

fn dashboard_variables(dashboard: &Dashboard) -> Vec<&str> {
    dashboard
        .variables
        .iter()
        .map(Variable::name)
        .filter(|n| *n != "datasource")
        .collect()
}

/// Substitutes every variable of `dashboard` with a sentinel that survives into the AST.
fn sentinels(dashboard: &Dashboard) -> Substitution {
    let mut values = Substitution::for_dashboard(dashboard).intervals("7m13s", "15s", "1h");
    for name in dashboard_variables(dashboard) {
        values = values.with(name, &[&sentinel(name)]);
    }
    values
}

fn sentinel(name: &str) -> String {
    format!("__var_{name}__")
}

fn report(errors: Vec<String>) {
    assert!(errors.is_empty(), "\n{}\n", errors.join("\n\n"));
}

/// Whether `matchers` select exactly `label="value"`.
fn selects(matchers: &[Matcher], label: &str, value: &str) -> bool {
    matchers
        .iter()
        .any(|m| m.name == label && m.op == MatchOp::Equal && m.value == value)
}

/// The selectors of `expr` that do not select `deployment` exactly, one message each.
fn unscoped(expr: &str, known: &Known, deployment: &Deployment) -> Vec<String> {
    let report = check(expr, known).unwrap_or_else(|e| panic!("{e}"));
    report
        .selectors
        .iter()
        .filter(|(metric, _, matchers)| {
            !metric.is_empty()
                && !deployment
                    .selector
                    .pairs()
                    .iter()
                    .all(|(label, value)| selects(matchers, label, value))
        })
        .map(|(metric, _, _)| {
            format!(
                "`{metric}` does not select {}: {expr}",
                deployment.selector.promql()
            )
        })
        .collect()
}

#[test]
fn recording_rules_parse_name_real_metrics_and_are_guarded() {
    for (_, deployment) in deployments() {
        let (_, errors) = Known::with_rules(&deployment);
        report(errors);
    }
}

#[test]
fn recording_rules_select_the_deployment_and_keep_its_labels() {
    let mut problems = Vec::new();
    for (name, deployment) in deployments() {
        let (known, errors) = Known::with_rules(&deployment);
        report(errors);
        for rule in rules::recording_rules(&deployment) {
            problems.extend(unscoped(&rule.expr, &known, &deployment));
            let labels = &known.0[&rule.record].labels;
            for label in deployment.selector.labels() {
                if !labels.contains(label) {
                    problems.push(format!(
                        "{name}: {} drops `{label}` ({labels:?}): two deployments' rules would \
                         merge",
                        rule.record
                    ));
                }
            }
        }
    }
    report(problems);
}

#[test]
fn recording_rule_names_say_which_labels_they_keep() {
    fn level_matches(level: &str, labels: &Labels) -> bool {
        if level.is_empty() {
            return labels.is_empty();
        }
        labels.iter().any(|label| {
            level.strip_prefix(label.as_str()).is_some_and(|rest| {
                let mut remaining = labels.clone();
                remaining.remove(label);
                match rest.strip_prefix('_') {
                    Some(rest) => level_matches(rest, &remaining),
                    None => rest.is_empty() && remaining.is_empty(),
                }
            })
        })
    }
    for (name, deployment) in deployments() {
        let (known, errors) = Known::with_rules(&deployment);
        report(errors);
        let scope: Labels = deployment
            .selector
            .labels()
            .iter()
            .map(|l| (*l).to_owned())
            .collect();
        let mut problems = Vec::new();
        for rule in rules::recording_rules(&deployment) {
            let parts: Vec<&str> = rule.record.split(':').collect();
            let labels = &known.0[&rule.record].labels;
            // The level names what the rule keeps besides the deployment's labels (`job:`
            // names one of them, which is kept anyway).
            let level_labels: Labels = labels - &scope;
            let named = |level: &str| {
                level_matches(level, &level_labels)
                    || level_matches(level, &(&level_labels | &Labels::from(["job".to_owned()])))
            };
            if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                problems.push(format!("{}: not level:metric:operations", rule.record));
            } else if !named(parts[0]) {
                problems.push(format!(
                    "{name}: {}: the level `{}` does not name the labels it keeps, {labels:?}",
                    rule.record, parts[0]
                ));
            }
        }
        report(problems);
    }
}

#[test]
fn alert_expressions_parse_select_the_deployment_and_are_guarded() {
    for (_, deployment) in deployments() {
        let (known, errors) = Known::with_rules(&deployment);
        report(errors);
        let mut problems: Vec<String> = rules::alerts(&deployment)
            .iter()
            .filter_map(|alert| {
                check(&alert.expr, &known)
                    .err()
                    .map(|e| format!("alert {}: {e}", alert.alert))
            })
            .collect();
        report(problems.clone());
        for alert in rules::alerts(&deployment) {
            problems.extend(unscoped(&alert.expr, &known, &deployment));
            let mut labels = check(&alert.expr, &known).unwrap().labels;
            // Labels the rule sets itself (the Watchdog's deployment labels).
            labels.extend(alert.labels.iter().map(|(name, _)| name.clone()));
            for label in deployment.selector.labels() {
                if !labels.contains(label) {
                    problems.push(format!(
                        "{} drops `{label}`: Alertmanager could not tell deployments apart",
                        alert.alert
                    ));
                }
            }
        }
        report(problems);
    }
}

#[test]
fn inhibitions_share_labels_that_both_alerts_have() {
    for (_, deployment) in deployments() {
        let (known, _) = Known::with_rules(&deployment);
        let labels_of = |name: &str| -> Labels {
            let alert = rules::alerts(&deployment)
                .into_iter()
                .find(|a| a.alert == name)
                .unwrap_or_else(|| panic!("inhibition names `{name}`, which is not an alert"));
            let mut labels = check(&alert.expr, &known).unwrap().labels;
            labels.extend(alert.all_labels().into_iter().map(|(name, _)| name));
            labels
        };
        for inhibition in gatewayz_artefacts::alertmanager::inhibitions(&deployment) {
            for alert in
                std::iter::once(inhibition.source).chain(inhibition.targets.iter().copied())
            {
                let labels = labels_of(alert);
                for equal in &inhibition.equal {
                    assert!(
                        labels.contains(equal),
                        "inhibition by {} needs `{equal}` on {alert}, which has {labels:?}",
                        inhibition.source
                    );
                }
            }
            for label in deployment.selector.labels() {
                assert!(
                    inhibition.equal.iter().any(|e| e == label),
                    "inhibition by {} must stay within one deployment ({label})",
                    inhibition.source
                );
            }
        }
    }
}

#[test]
fn dashboard_targets_parse_name_real_metrics_and_are_guarded() {
    for (_, deployment) in deployments() {
        let (known, errors) = Known::with_rules(&deployment);
        report(errors);
        let mut problems = Vec::new();
        for dashboard in dashboards::all(&deployment) {
            for (panel, target) in dashboard.targets() {
                let place = format!("{} / {} / {}", dashboard.uid, panel.title, target.ref_id);
                match substitute(&target.expr, &Substitution::for_dashboard(&dashboard)) {
                    Err(e) => problems.push(format!("{place}: {e}")),
                    Ok(expr) => {
                        if let Err(e) = check(&expr, &known) {
                            problems.push(format!("{place}: {e}"));
                        }
                    }
                }
            }
        }
        report(problems);
    }
}

#[test]
fn dashboard_rates_use_the_rate_interval() {
    let deployment = Deployment::default();
    let (known, _) = Known::with_rules(&deployment);
    let sentinel_range = Duration::from_secs(7 * 60 + 13);
    let mut problems = Vec::new();
    let mut rates = 0;
    for dashboard in dashboards::all(&deployment) {
        for (panel, target) in dashboard.targets() {
            let expr = substitute(&target.expr, &sentinels(&dashboard)).unwrap();
            let report = check(&expr, &known).unwrap();
            rates += report.rate_ranges.len();
            if report.rate_ranges.iter().any(|r| *r != sentinel_range) {
                problems.push(format!(
                    "{} / {}: rate() outside a subquery must use [$__rate_interval]",
                    dashboard.uid, panel.title
                ));
            }
        }
    }
    report(problems);
    assert!(
        rates > 50,
        "only {rates} rate() calls seen in the dashboards"
    );
}

#[test]
fn dashboard_variables_filter_every_selector_that_has_their_label() {
    for (name, deployment) in deployments() {
        let (known, _) = Known::with_rules(&deployment);
        let scope = deployment.selector.labels();
        let mut problems = Vec::new();
        let mut filtered_selectors = 0;
        for dashboard in dashboards::all(&deployment) {
            let variables = dashboard_variables(&dashboard);
            for required in scope.iter().chain(&["instance"]) {
                assert!(
                    variables.contains(required),
                    "{name} {}: no `{required}` variable",
                    dashboard.uid
                );
            }
            for (panel, target) in dashboard.targets() {
                let expr = substitute(&target.expr, &sentinels(&dashboard)).unwrap();
                let report = check(&expr, &known).unwrap();
                for (metric, labels, matchers) in &report.selectors {
                    for variable in &variables {
                        // ALERTS carries whichever labels each alert has: the Service Levels
                        // dashboard filters it by model only for the per-model objective.
                        if metric == "ALERTS" && !scope.contains(variable) {
                            continue;
                        }
                        // The deployment's labels are matched exactly, the others by regex.
                        let exact = scope.contains(variable);
                        let filtered = matchers.iter().any(|m| {
                            m.name == *variable
                                && m.value == sentinel(variable)
                                && if exact {
                                    m.op == MatchOp::Equal
                                } else {
                                    matches!(m.op, MatchOp::Re(_))
                                }
                        });
                        filtered_selectors += usize::from(filtered);
                        if labels.contains(*variable) && !filtered {
                            problems.push(format!(
                                "{name} {} / {}: `{metric}` is not filtered by ${variable}",
                                dashboard.uid, panel.title
                            ));
                        }
                    }
                }
            }
        }
        report(problems);
        assert!(
            filtered_selectors > 200,
            "only {filtered_selectors} selectors filtered by a variable"
        );
    }
}

#[test]
fn every_dashboard_selector_selects_the_deployment() {
    // Above: every selector with a variable's label is filtered by it. Here, independently of
    // the variables a dashboard declares, every selector carries job, the matchers and
    // instance: the Overview's uptime panel once read Prometheus's own process.
    for (name, deployment) in deployments() {
        let (known, _) = Known::with_rules(&deployment);
        let mut problems = Vec::new();
        let mut selectors = 0;
        for dashboard in dashboards::all(&deployment) {
            for (panel, target) in dashboard.targets() {
                let expr = substitute(&target.expr, &sentinels(&dashboard)).unwrap();
                for (metric, _, matchers) in check(&expr, &known).unwrap().selectors {
                    selectors += 1;
                    // Fleet-wide series (recording rules, Prometheus's ALERTS) have no
                    // instance: the Service Levels dashboard's budgets and alert states.
                    let fleet = metric.contains(':') || metric == "ALERTS";
                    let scoped = deployment
                        .selector
                        .labels()
                        .iter()
                        .all(|label| selects(&matchers, label, &sentinel(label)))
                        && (fleet
                            || matchers
                                .iter()
                                .any(|m| m.name == "instance" && m.value == sentinel("instance")));
                    if !scoped {
                        problems.push(format!(
                            "{name} {} / {}: `{metric}` does not select the deployment",
                            dashboard.uid, panel.title
                        ));
                    }
                }
            }
        }
        report(problems);
        assert!(selectors > 100, "only {selectors} selectors");
    }
}

#[test]
fn variable_queries_name_real_metrics_and_labels() {
    for (_, deployment) in deployments() {
        let known = Known::catalogue(&deployment);
        let mut problems = Vec::new();
        for dashboard in dashboards::all(&deployment) {
            for variable in &dashboard.variables {
                let Variable::Query { name, query, .. } = variable else {
                    continue;
                };
                let inner = query
                    .strip_prefix("label_values(")
                    .and_then(|q| q.strip_suffix(')'))
                    .unwrap_or_else(|| panic!("{name}: not a label_values() query: {query}"));
                let (selector, label) =
                    inner.rsplit_once(',').expect("label_values(metric, label)");
                let label = label.trim();
                let selector =
                    substitute(selector, &Substitution::for_dashboard(&dashboard)).unwrap();
                // A bare metric is allowed here, counter or not: label_values reads series names.
                let expr = format!("count by ({label}) (count_over_time({selector}[1m]))");
                let allowed = Known(
                    known
                        .0
                        .iter()
                        .map(|(k, v)| {
                            let mut v = v.clone();
                            v.kind = Kind::Gauge;
                            (k.clone(), v)
                        })
                        .collect(),
                );
                match check(&expr, &allowed) {
                    Err(e) => problems.push(format!("{} variable {name}: {e}", dashboard.uid)),
                    Ok(_) => problems.extend(unscoped(&expr, &allowed, &deployment)),
                }
            }
        }
        report(problems);
    }
}

#[test]
fn library_queries_parse_select_the_deployment_and_are_guarded() {
    for (_, deployment) in deployments() {
        let (known, errors) = Known::with_rules(&deployment);
        report(errors);
        let mut problems: Vec<String> = library(&deployment)
            .iter()
            .filter_map(|q| {
                check(&q.promql, &known)
                    .err()
                    .map(|e| format!("{}: {e}", q.question))
            })
            .collect();
        report(problems.clone());
        for query in library(&deployment) {
            problems.extend(unscoped(&query.promql, &known, &deployment));
        }
        report(problems);
    }
}

/// The ```promql blocks of a Markdown file.
fn promql_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim()) {
            (None, "```promql") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(block.trim_end().to_owned());
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn promql_in_the_generated_docs_parses_and_selects_the_deployment() {
    for (name, deployment) in deployments() {
        let (known, errors) = Known::with_rules(&deployment);
        report(errors);
        let artefacts = gatewayz_artefacts::generate(&deployment).unwrap();
        let mut problems = Vec::new();
        let mut checked = 0;
        for file in ["docs/promql.md", "docs/alerts.md"] {
            for block in promql_blocks(&artefacts.get(file).unwrap().contents) {
                checked += 1;
                match check(&block, &known) {
                    Err(e) => problems.push(format!("{name} {file}: {e}")),
                    Ok(_) => problems.extend(unscoped(&block, &known, &deployment)),
                }
            }
        }
        report(problems);
        assert!(
            checked > 60,
            "only {checked} PromQL blocks in the generated docs"
        );
    }
}

#[test]
fn promql_in_the_repository_docs_parses_and_names_real_metrics() {
    let (known, errors) = Known::with_rules(&Deployment::default());
    report(errors);
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut files: Vec<_> = fs::read_dir(&docs)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for block in promql_blocks(&fs::read_to_string(&path).unwrap()) {
            checked += 1;
            let expr = substitute(&block, &Substitution::default()).unwrap_or(block);
            if let Err(e) = check(&expr, &known) {
                problems.push(format!("docs/{name}: {e}"));
            }
        }
    }
    report(problems);
    assert!(checked > 50, "only {checked} PromQL blocks found in docs/");
}

// --- the lint itself can fail ---------------------------------------------------------------

fn lint(expr: &str) -> String {
    let (known, _) = Known::with_rules(&Deployment::default());
    check(expr, &known).err().unwrap_or_default()
}

#[test]
fn lint_rejects_unknown_metrics_and_labels() {
    assert!(lint("provider_health").contains("neither a catalogued metric"));
    assert!(lint(r#"gatewayz_provider_health_score{model="x"}"#).contains("no label `model`"));
    assert!(lint(r#"gatewayz_provider_health_score{instance="x", job="y"} >= 0"#).is_empty());
}

#[test]
fn lint_rejects_values_outside_a_closed_label_set() {
    let error = lint(r#"rate(model_inference_requests_total{status="failed"}[5m])"#);
    assert!(error.contains("not one of the label's values"), "{error}");
}

#[test]
fn lint_rejects_counters_outside_rate_and_increase() {
    assert!(lint("sum(model_inference_requests_total)").contains("outside rate()"));
    assert!(lint("max_over_time(tokens_used_total[5m])").contains("outside rate()"));
    assert!(lint("sum(rate(tokens_used_total[5m]))").is_empty());
}

#[test]
fn lint_rejects_histograms_without_le_and_bare_histogram_names() {
    assert!(
        lint("histogram_quantile(0.9, sum by (provider) (rate(provider_response_time_seconds_bucket[5m])))")
            .contains("without `le`")
    );
    assert!(lint("rate(provider_response_time_seconds[5m])").contains("neither"));
    assert!(lint("rate(active_api_keys_bucket[5m])").contains("neither"));
}

#[test]
fn lint_rejects_unguarded_divisions_and_unmatched_sides() {
    assert!(
        lint("sum(rate(cache_hits_total[5m])) / sum(rate(cache_misses_total[5m]))")
            .contains("not guarded")
    );
    assert!(
        lint("sum by (provider) (rate(tokens_used_total[5m])) / (sum by (model) (rate(tokens_used_total[5m])) > 0)")
            .contains("never matches")
    );
    assert!(lint("sum by (route) (rate(model_inference_requests_total[5m]))").contains("no label"));
}

#[test]
fn promql_blocks_are_found_in_markdown() {
    assert_eq!(
        promql_blocks("text\n```promql\nup\n```\n```sh\nls\n```\n```promql\na\n  / b\n```\n"),
        vec!["up".to_owned(), "a\n  / b".to_owned()]
    );
}

/// An aggregation: its operator and its `by` labels.
type Aggregation = (String, Vec<String>);

/// Every selector of `names` in `expr`, with the aggregations around it, innermost first.
fn aggregations_around(expr: &Expr, names: &[&str]) -> Vec<(String, Vec<Aggregation>)> {
    fn walk(
        expr: &Expr,
        names: &[&str],
        around: &mut Vec<Aggregation>,
        found: &mut Vec<(String, Vec<Aggregation>)>,
    ) {
        match expr {
            Expr::Aggregate(a) => {
                let by = match &a.modifier {
                    Some(LabelModifier::Include(by)) => by.labels.clone(),
                    _ => Vec::new(),
                };
                around.push((a.op.to_string(), by));
                walk(&a.expr, names, around, found);
                around.pop();
            }
            Expr::Unary(u) => walk(&u.expr, names, around, found),
            Expr::Paren(p) => walk(&p.expr, names, around, found),
            Expr::Subquery(s) => walk(&s.expr, names, around, found),
            Expr::Binary(b) => {
                walk(&b.lhs, names, around, found);
                walk(&b.rhs, names, around, found);
            }
            Expr::Call(c) => {
                for arg in &c.args.args {
                    walk(arg, names, around, found);
                }
            }
            Expr::MatrixSelector(m) => {
                walk(&Expr::VectorSelector(m.vs.clone()), names, around, found)
            }
            Expr::VectorSelector(v) => {
                if let Some(name) = v.name.as_deref().filter(|n| names.contains(n)) {
                    found.push((name.to_owned(), around.iter().rev().cloned().collect()));
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(expr, names, &mut Vec::new(), &mut found);
    found
}

#[test]
fn database_numbers_are_taken_at_their_maximum_across_replicas() {
    // Replicas on one database export the same customer gauges and event totals: a sum across
    // replicas counts them once per replica. Each selector must be under `max` (a counter's
    // series first summed per instance), in every dashboard and in the PromQL library.
    use gatewayz_catalogue::{
        ACTIVE_API_KEYS, ACTIVE_SUBSCRIPTIONS, CREDITS_TOPPED_UP, CUSTOMER_EVENTS, TRIALS_ACTIVE,
    };
    let names = [
        ACTIVE_API_KEYS.name,
        ACTIVE_SUBSCRIPTIONS.name,
        TRIALS_ACTIVE.name,
        CUSTOMER_EVENTS.name,
        CREDITS_TOPPED_UP.name,
    ];
    let deployment = Deployment::default();
    let mut exprs: Vec<(String, String)> = Vec::new();
    for dashboard in dashboards::all(&deployment) {
        for (panel, target) in dashboard.targets() {
            let expr = substitute(&target.expr, &Substitution::for_dashboard(&dashboard)).unwrap();
            exprs.push((format!("{} / {}", dashboard.uid, panel.title), expr));
        }
    }
    for query in library(&deployment) {
        exprs.push((query.question.to_owned(), query.promql.clone()));
    }
    let (mut checked, mut problems) = (0, Vec::new());
    for (place, expr) in &exprs {
        let parsed = parser::parse(expr).unwrap();
        for (name, around) in aggregations_around(&parsed, &names) {
            checked += 1;
            let ops: Vec<&str> = around.iter().map(|(op, _)| op.as_str()).collect();
            let per_instance = around
                .first()
                .is_some_and(|(op, by)| op == "sum" && by.iter().any(|l| l == "instance"));
            let fine = match ops.as_slice() {
                ["max", ..] => true,
                ["sum", "max", ..] => per_instance,
                _ => false,
            };
            if !fine {
                problems.push(format!("{place}: {name} under {around:?}\n  {expr}"));
            }
        }
    }
    assert!(
        checked >= 15,
        "only {checked} selectors of database numbers found"
    );
    report(problems);
}
