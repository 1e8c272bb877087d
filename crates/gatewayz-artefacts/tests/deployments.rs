//! Two deployments in one Prometheus never mix: every panel query, variable, recording rule
//! and alert of deployment A returns exactly what it returns from a Prometheus that holds A
//! alone, while the shared one also scrapes another job with the same metric names, the same
//! job in another cluster, and Prometheus itself.
//!
//! The deployments are synthetic exporters on loopback ports serving every catalogued metric,
//! with values chosen so that any mixing shows: the others' open label values (providers,
//! models, routes, versions) are their own, their magnitudes ten times A's, their proportions
//! reversed (A's errors are the others' successes), their health the opposite, their processes
//! younger. Counters grow linearly from the moment the exporters open (once both Prometheus
//! servers run, so both see the same history), and every sample carries the time it was
//! computed for, so two servers scraping at different moments, however late a loaded machine
//! serves them, compute the same rates; windows that are not yet full are compared within a
//! tolerance far below what mixing changes. The rules run on a 20× faster clock
//! ([`TimeScale`]: their 5-minute windows last 15 s), as in the end-to-end test, and the
//! comparisons wait until those windows are full. Alert expressions compare growing values with
//! thresholds, so two servers may disagree for a moment on whether one holds: for them the test
//! checks that whatever they return is A's.
//!
//! A is the second deployment of this crate's tests (job `llm-gateway`, `cluster="eu-1"`,
//! `namespace="llm"`, its own thresholds), generated with its own `prometheus.yml` for the
//! Prometheus that holds it alone.

mod common;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    thread,
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, web};
use gatewayz_artefacts::{
    Deployment,
    dashboards::{self, Variable},
    generate,
    promql::{Substitution, substitute},
    rules::{self, TimeScale},
};
use gatewayz_catalogue::{CATALOGUE, MetricDef, MetricKind, Unit};
use gatewayz_testkit::{
    prometheus::{Prometheus, Sample, now},
    serve::{serve, stop},
};

/// How much faster than the shipped rules the test runs them.
const SCALE: u32 = 20;

/// Relative difference two values may have and still be the same: scrape timings differ
/// between two servers and windows are not full yet; mixing changes values tenfold.
const TOLERANCE: f64 = 0.25;

/// What a synthetic deployment exposes.
#[derive(Debug, Clone)]
struct Profile {
    /// Prefix of its open label values (`a-provider-1`, ...).
    tag: &'static str,
    /// Multiplies every count and rate.
    magnitude: f64,
    /// Reverses the weights of closed label values.
    reversed: bool,
    /// Its health: scores, availability, which status and circuit state is current.
    healthy: bool,
    /// How long ago its processes started, in seconds.
    age: f64,
    /// When the exporters open (seconds since the epoch), their counters at zero; they serve
    /// no series before.
    opening: Arc<Mutex<Option<f64>>>,
}

impl Profile {
    /// Label values of `def`'s series: every value of a closed label, two of an open one.
    fn series(&self, def: &MetricDef) -> Vec<Vec<(&'static str, String, f64)>> {
        let mut all: Vec<Vec<(&'static str, String, f64)>> = vec![Vec::new()];
        for label in def.labels {
            let values: Vec<(String, f64)> = match label.values() {
                Some(closed) => closed
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let weight = if self.reversed {
                            closed.len() - i
                        } else {
                            i + 1
                        };
                        ((*v).to_owned(), weight as f64)
                    })
                    .collect(),
                // Routes are route templates under the client API (`slo.availability.routes`
                // selects them), each deployment its own.
                None if label.name == "route" => (1..=2)
                    .map(|i| (format!("/v1/{}-route-{i}", self.tag), i as f64))
                    .collect(),
                None => (1..=2)
                    .map(|i| (format!("{}-{}-{i}", self.tag, label.name), i as f64))
                    .collect(),
            };
            all = all
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |(value, weight)| {
                        let mut next = prefix.clone();
                        next.push((label.name, value.clone(), *weight));
                        next
                    })
                })
                .collect();
        }
        all
    }

    /// The exposition at wall-clock time `t`, every sample stamped with `t`.
    fn render(&self, t: f64) -> String {
        let opening = *self.opening.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(epoch) = opening.filter(|o| *o <= t) else {
            return String::new();
        };
        let elapsed = t - epoch;
        let stamp = (t * 1000.0) as i64;
        let mut out = String::new();
        for def in CATALOGUE {
            let _ = writeln!(out, "# TYPE {} {}", def.name, def.kind.as_str());
            for labels in self.series(def) {
                let weight: f64 = labels.iter().map(|(_, _, w)| w).product();
                let text = |extra: Option<(&str, String)>| {
                    let pairs: Vec<String> = labels
                        .iter()
                        .map(|(k, v, _)| format!("{k}=\"{v}\""))
                        .chain(extra.map(|(k, v)| format!("{k}=\"{v}\"")))
                        .collect();
                    format!("{{{}}}", pairs.join(","))
                };
                match def.kind {
                    MetricKind::Counter => {
                        let rate = self.magnitude * weight;
                        let value = rate * elapsed;
                        let _ = writeln!(out, "{}{} {value} {stamp}", def.name, text(None));
                    }
                    MetricKind::Gauge => {
                        let value = self.gauge(def, &labels, weight, t);
                        let _ = writeln!(out, "{}{} {value} {stamp}", def.name, text(None));
                    }
                    MetricKind::Histogram => {
                        // Every observation in one bucket: low for A, high for the others.
                        let index = if self.healthy {
                            1
                        } else {
                            def.buckets.len() - 2
                        };
                        let count = self.magnitude * weight * elapsed;
                        for (i, bound) in def.buckets.iter().enumerate() {
                            let value = if i >= index { count } else { 0.0 };
                            let le = Some(("le", bound.to_string()));
                            let line = format!("{}_bucket{}", def.name, text(le));
                            let _ = writeln!(out, "{line} {value} {stamp}");
                        }
                        let inf = Some(("le", "+Inf".to_owned()));
                        let line = format!("{}_bucket{}", def.name, text(inf));
                        let _ = writeln!(out, "{line} {count} {stamp}");
                        let line = format!("{}_count{}", def.name, text(None));
                        let _ = writeln!(out, "{line} {count} {stamp}");
                        let sum = count * def.buckets[index];
                        let line = format!("{}_sum{}", def.name, text(None));
                        let _ = writeln!(out, "{line} {sum} {stamp}");
                    }
                }
            }
        }
        out
    }

    fn gauge(&self, def: &MetricDef, labels: &[(&str, String, f64)], weight: f64, t: f64) -> f64 {
        // One-hot states: for A, its first provider healthy and closed, its second degraded
        // and half-open (so that every rule has something to record); unavailable and open
        // for the others.
        let first = labels
            .iter()
            .any(|(name, _, weight)| *name == "provider" && *weight == 1.0);
        let current = match (self.healthy, first) {
            (true, true) => ["healthy", "closed"],
            (true, false) => ["degraded", "half_open"],
            (false, _) => ["unavailable", "open"],
        };
        if let Some((_, value, _)) = labels
            .iter()
            .find(|(name, _, _)| *name == "status" || *name == "state")
        {
            return f64::from(u8::from(current.contains(&value.as_str())));
        }
        match def.unit {
            Unit::Info => 1.0,
            Unit::Boolean => f64::from(u8::from(self.healthy)),
            Unit::Ratio if def.name.ends_with("efficiency") => self.magnitude * weight,
            Unit::Ratio => {
                if self.healthy {
                    0.9
                } else {
                    0.2
                }
            }
            Unit::Seconds if def.name.contains("start_time") => t - self.age,
            Unit::Seconds => self.magnitude * weight * 1.5,
            _ => self.magnitude * weight * 10.0,
        }
    }
}

/// Serves `profile` on a loopback port; returns `host:port` and the server.
fn exporter(profile: Profile) -> (String, actix_web::dev::ServerHandle) {
    let (addr, server) = serve(1, move || {
        let profile = profile.clone();
        App::new().route(
            "/prometheus/metrics/all",
            web::get().to(move || {
                let text = profile.render(now());
                async move {
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4; charset=utf-8")
                        .body(text)
                }
            }),
        )
    });
    (addr.to_string(), server)
}

/// Writes `deployment`'s rules, on the faster clock, under `dir`.
fn write_rules(dir: &Path, deployment: &Deployment) {
    fs::create_dir_all(dir).unwrap();
    for file in rules::files(deployment) {
        fs::write(
            dir.join(file.file),
            file.render_scaled(TimeScale::faster(SCALE)),
        )
        .unwrap();
    }
}

/// The scrape jobs of a shared Prometheus, as an operator copies them from generated
/// `prometheus.yml` files: one job per job name, one target group per deployment, with its
/// matchers as target labels (the same job in two clusters is one job with two groups).
fn scrape_jobs(deployments: &[(&Deployment, &str)]) -> String {
    let mut jobs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (deployment, target) in deployments {
        let labels: Vec<String> = deployment
            .selector
            .matchers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        jobs.entry(&deployment.selector.job)
            .or_default()
            .push(format!(
                "      - targets: ['{target}']\n        labels: {{{}}}\n",
                labels.join(", ")
            ));
    }
    jobs.iter()
        .map(|(job, groups)| {
            format!(
                "  - job_name: {job}\n    metrics_path: /prometheus/metrics/all\n    \
                 static_configs:\n{}",
                groups.concat()
            )
        })
        .collect()
}

/// Results keyed by their label sets.
fn keyed(samples: Vec<Sample>) -> BTreeMap<String, f64> {
    samples
        .into_iter()
        .map(|s| (format!("{:?}", s.labels), s.value))
        .collect()
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()) + 1e-9
}

/// Evaluates `expr` on both servers at `time`; a description of any difference.
fn compare(shared: &Prometheus, alone: &Prometheus, expr: &str, time: f64) -> Result<bool, String> {
    let mixed = keyed(shared.query_at(expr, Some(time))?);
    let only = keyed(alone.query_at(expr, Some(time))?);
    let keys_differ = mixed.keys().ne(only.keys());
    let values_differ = mixed
        .iter()
        .zip(&only)
        .any(|((_, a), (_, b))| !same_value(*a, *b));
    if keys_differ || values_differ {
        Err(format!(
            "{expr}\n    with the other deployments: {mixed:?}\n    A alone:                    {only:?}"
        ))
    } else {
        Ok(!only.is_empty())
    }
}

#[test]
fn two_deployments_in_one_prometheus_never_mix() {
    let started = Instant::now();
    let opening = Arc::new(Mutex::new(None));
    let a = common::second();
    // Another job with the same metric names, and the same job in another cluster.
    let b = Deployment::default();
    let mut c = a.clone();
    c.selector
        .matchers
        .insert("cluster".to_owned(), "us-1".to_owned());
    c.grafana.uid_prefix = "llm-us1".to_owned();

    let profile = |tag, magnitude, reversed, healthy, age| Profile {
        tag,
        magnitude,
        reversed,
        healthy,
        age,
        opening: Arc::clone(&opening),
    };
    let (a_target, a_server) = exporter(profile("a", 1.0, false, true, 1000.0));
    let (b_target, b_server) = exporter(profile("b", 10.0, true, false, 10.0));
    let (c_target, c_server) = exporter(profile("c", 10.0, true, false, 20.0));

    let dir = tempfile::tempdir().unwrap();
    // A alone, with the prometheus.yml generated for it.
    let mut alone_config = a.clone();
    alone_config.scrape.targets = vec![a_target.clone()];
    let second = |n: u64| gatewayz_artefacts::Duration::from_millis(n * 1000);
    alone_config.scrape.interval = second(1);
    alone_config.scrape.timeout = second(1);
    alone_config.prometheus.scrape_itself = false;
    alone_config.prometheus.alertmanagers = Vec::new();
    let alone_yml = generate(&alone_config)
        .unwrap()
        .get("prometheus/prometheus.yml")
        .unwrap()
        .contents
        .clone();
    write_rules(&dir.path().join("alone/rules"), &a);
    // The shared one: the three deployments' jobs and rules, and Prometheus itself.
    for (name, deployment) in [("a", &a), ("b", &b), ("c", &c)] {
        write_rules(&dir.path().join(format!("shared/rules/{name}")), deployment);
    }
    let shared = Prometheus::start(&dir.path().join("shared"), |own| {
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules/a/*.yml, rules/b/*.yml, rules/c/*.yml]\nscrape_configs:\n{}  \
             - job_name: prometheus\n    static_configs:\n      - targets: ['{own}']\n",
            scrape_jobs(&[(&a, &a_target), (&b, &b_target), (&c, &c_target)]),
        )
    });
    let alone = Prometheus::start(&dir.path().join("alone"), |_| alone_yml);
    *opening.lock().unwrap_or_else(PoisonError::into_inner) = Some(now());

    // Every recording rule has data in both: the rules' chains have run.
    let recorded = rules::recording_rules(&a);
    let scope = a.selector.promql();
    for prometheus in [&shared, &alone] {
        for rule in &recorded {
            prometheus.wait_for(&rule.record, Duration::from_secs(60));
        }
    }
    // The rules' 5-minute windows (15 s here) full of samples in both. Counted from the moment
    // both have recorded, not from the exporters' opening: on a loaded machine a server's first
    // scrapes come seconds late, and its windows would then be partly empty (rates read low in
    // proportion, which looks like mixing).
    thread::sleep(Duration::from_secs(16));
    let time = now() - 1.0;
    let mut differences = Vec::new();
    let mut without_data = Vec::new();
    let (mut checked, mut variables) = (0, 0);
    let mut run = |expr: &str, differences: &mut Vec<String>| {
        checked += 1;
        match compare(&shared, &alone, expr, time) {
            Ok(true) => {}
            Ok(false) => without_data.push(expr.to_owned()),
            Err(difference) => differences.push(difference),
        }
    };

    // Every recording rule: A's series in the shared Prometheus are those it records alone.
    for rule in &recorded {
        run(&format!("{}{{{scope}}}", rule.record), &mut differences);
    }
    // Every alert expression: whatever it returns carries A's labels (or the rule sets them,
    // as the Watchdog's does, which Prometheus adds to every alert of the rule).
    let scale = TimeScale::faster(SCALE);
    for alert in rules::alerts(&a) {
        let expr = scale.expr(&alert.expr);
        for sample in shared.query_at(&expr, Some(time)).unwrap() {
            let label = |name: &str| {
                alert
                    .labels
                    .iter()
                    .find(|(l, _)| l == name)
                    .map_or_else(|| sample.label(name), |(_, v)| v.as_str())
            };
            if a.selector.pairs().iter().any(|(l, v)| label(l) != *v) {
                differences.push(format!("{}: {:?} is not A's", alert.alert, sample.labels));
            }
        }
    }
    // Every panel target and every variable of every dashboard, variables at their defaults
    // (the deployment's values, every instance, every provider and model).
    for dashboard in dashboards::all(&a) {
        let values = Substitution::for_dashboard(&dashboard).intervals("15s", "1s", "30s");
        for (panel, target) in dashboard.targets() {
            let expr = substitute(&target.expr, &values).unwrap();
            run(&expr, &mut differences);
            if panel.title == "Youngest replica uptime" {
                let uptime = alone.query_at(&expr, Some(time)).unwrap();
                assert!(
                    uptime.len() == 1 && uptime[0].value > 900.0,
                    "A's replica started 1000 s ago: {uptime:?}"
                );
            }
        }
        for variable in &dashboard.variables {
            if let Variable::Query { name, query, .. } = variable {
                let query = substitute(query, &values).unwrap();
                let inner = query
                    .strip_prefix("label_values(")
                    .and_then(|q| q.strip_suffix(')'))
                    .unwrap_or_else(|| panic!("{name}: {query}"));
                let (selector, label) = inner.rsplit_once(',').unwrap();
                let offered = |p: &Prometheus| p.label_values(label.trim(), selector.trim());
                variables += 1;
                if offered(&shared) != offered(&alone) {
                    differences.push(format!(
                        "{} variable {name}: {:?} with the others, {:?} alone",
                        dashboard.uid,
                        offered(&shared),
                        offered(&alone)
                    ));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {checked} queries and {variables} variables of deployment A see other \
         deployments:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // The comparisons mean something only if the queries return data: all but those that
    // need hours of history (the forecast's hourly points over a week, and the budget's use
    // of it).
    assert!(
        without_data.len() <= 2 && without_data.iter().all(|e| e.contains("predict_linear")),
        "{} queries of A returned no data:\n{}",
        without_data.len(),
        without_data.join("\n")
    );

    // And the mixing is there to see: the same query without the deployment's selector
    // differs, so the comparison above could fail.
    let unscoped = "sum(rate(model_inference_requests_total[15s]))";
    assert!(
        compare(&shared, &alone, unscoped, time).is_err(),
        "the other deployments are invisible: the test proves nothing"
    );
    eprintln!(
        "{checked} queries and {variables} variables compared in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop((shared, alone));
    for server in [a_server, b_server, c_server] {
        stop(server);
    }
}
