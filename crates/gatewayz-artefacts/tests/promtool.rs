//! The generated Prometheus and Alertmanager files of the default deployment and of a second
//! one (another job, two extra matchers, other thresholds), judged by the real tools: `promtool
//! check rules`, `promtool test rules`, `promtool check config` (Debian's prometheus 2.42) and
//! `amtool check-config` / `amtool config routes test` (prometheus-alertmanager 0.25); and the
//! `gatewayz-artefacts` command that runs them for operators.
//!
//! A missing tool fails the test with the command that installs it; `cargo xtask test`
//! installs both. Each check is paired with a broken input the tool must reject, so a test
//! that cannot fail would show.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use common::deployments;
use gatewayz_artefacts::{
    Deployment, alertmanager, check, generate,
    rules::{self, Severity},
};
use gatewayz_testkit::tools::{self, Tool};

fn tool(tool: Tool) -> PathBuf {
    tools::require(tool).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `binary args` in `dir`; returns whether it succeeded and everything it printed.
fn run(binary: &Path, args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn succeeds(binary: &Path, args: &[&str], dir: &Path) -> String {
    let (ok, text) = run(binary, args, dir);
    assert!(
        ok,
        "`{} {}` failed:\n{text}",
        binary.display(),
        args.join(" ")
    );
    text
}

fn fails(binary: &Path, args: &[&str], dir: &Path) -> String {
    let (ok, text) = run(binary, args, dir);
    assert!(
        !ok,
        "`{} {}` accepted a broken input:\n{text}",
        binary.display(),
        args.join(" ")
    );
    text
}

/// `deployment`'s artefacts in a scratch directory.
fn generated(deployment: &Deployment) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    generate(deployment).unwrap().write(dir.path()).unwrap();
    dir
}

fn files_in(dir: &Path, sub: &str) -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(dir.join(sub))
        .unwrap_or_else(|e| panic!("{sub}: {e}"))
        .flatten()
        .map(|e| format!("{sub}/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".yml"))
        .collect();
    files.sort();
    files
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn promtool_accepts_the_rules() {
    for (name, deployment) in deployments() {
        let dir = generated(&deployment);
        let files = files_in(dir.path(), "prometheus/rules");
        assert_eq!(files.len(), rules::files(&deployment).len());
        let mut args = vec!["check", "rules"];
        args.extend(files.iter().map(String::as_str));
        let text = succeeds(&tool(tools::PROMTOOL), &args, dir.path());
        let found: usize = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("SUCCESS: "))
            .filter_map(|l| l.split_whitespace().next()?.parse::<usize>().ok())
            .sum();
        let expected: usize = rules::groups(&deployment)
            .iter()
            .map(|g| g.rules.len())
            .sum();
        assert_eq!(found, expected, "{name}: {text}");
    }
}

#[test]
fn promtool_rejects_a_broken_rule() {
    let dir = generated(&Deployment::default());
    edit(
        &dir.path().join("prometheus/rules/alerts.yml"),
        r#"expr: 'provider:gatewayz_provider_health_score:attempt_weighted_avg{job="gatewayz"} < 0.8'"#,
        "expr: 'sum(('",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["check", "rules", "prometheus/rules/alerts.yml"],
        dir.path(),
    );
    assert!(text.contains("parse error"), "{text}");
}

/// Runs `promtool test rules` on each of `files` in `dir`, as many at once as there are
/// cores (the incident suite's files take seconds each); returns `(file, passed, output)`.
fn test_rules(dir: &Path, files: &[String]) -> Vec<(String, bool, String)> {
    let promtool = tool(tools::PROMTOOL);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let queue = std::sync::Mutex::new(files.iter());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let Some(file) = queue.lock().unwrap().next() else {
                        break;
                    };
                    let (ok, text) = run(&promtool, &["test", "rules", file], dir);
                    results.lock().unwrap().push((file.clone(), ok, text));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort();
    results
}

#[test]
fn promtool_unit_tests_of_every_alert_and_incident_pass_at_every_configured_threshold() {
    for (name, deployment) in deployments() {
        let dir = generated(&deployment);
        let files = files_in(dir.path(), "prometheus/tests");
        assert_eq!(files.len(), rules::test_files(&deployment).len());
        // The second deployment's files run in the command's test below (`check` runs them
        // all): once is enough for a minute of promtool.
        if name == "default" {
            let failed: Vec<String> = test_rules(dir.path(), &files)
                .into_iter()
                .filter(|(_, ok, text)| !ok || !text.contains("SUCCESS"))
                .map(|(file, _, text)| format!("{file}:\n{text}"))
                .collect();
            assert!(failed.is_empty(), "{name}:\n{}", failed.join("\n"));
        }
        // Every alert has its cases in the files promtool just ran (the incidents aside, which
        // check every alert they concern at many minutes).
        let all: String = files
            .iter()
            .filter(|f| !f.contains("/incident-"))
            .map(|f| fs::read_to_string(dir.path().join(f)).unwrap())
            .collect();
        let alerts = rules::alerts(&deployment);
        for alert in &alerts {
            let cases = all
                .matches(&format!("alertname: {}\n", alert.alert))
                .count();
            let expected: usize = alerts
                .iter()
                .filter(|a| a.alert == alert.alert)
                .map(|a| a.tests.len())
                .sum();
            assert_eq!(cases, expected, "{name}: {}", alert.alert);
        }
        let incidents = files.iter().filter(|f| f.contains("/incident-")).count();
        assert_eq!(
            incidents,
            rules::incidents::incidents(&deployment).len(),
            "{name}: one file per incident"
        );
    }
}

#[test]
fn promtool_unit_tests_follow_the_thresholds() {
    // The second deployment's surge threshold is 60 %: its firing case fails 75 % of the
    // attempts. Put the default's 25 % threshold back in its rule, and its quiet case (10 %
    // failing) must now fail: the cases are derived from the threshold, not fixed.
    let dir = generated(&common::second());
    edit(
        &dir.path().join("prometheus/rules/alerts.yml"),
        r#"namespace="llm"} > 0.6"#,
        r#"namespace="llm"} > 0.05"#,
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "prometheus/tests/providers.yml"],
        dir.path(),
    );
    assert!(text.contains("GatewayzProviderErrorSurge"), "{text}");
}

#[test]
fn promtool_unit_tests_catch_a_cost_alert_off_by_sixty() {
    // The original system's "$100/hour" alert measured dollars per minute. Make the recording
    // rule do that, and the cost alert's tests must fail.
    let dir = generated(&Deployment::default());
    edit(
        &dir.path().join("prometheus/rules/recording.yml"),
        r#"sum by (job, provider) (increase(gatewayz_cost_usd_total{job="gatewayz"}[1h]))"#,
        r#"sum by (job, provider) (rate(gatewayz_cost_usd_total{job="gatewayz"}[1h])) * 60"#,
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "prometheus/tests/cost.yml"],
        dir.path(),
    );
    assert!(text.contains("GatewayzCostPerHourHigh"), "{text}");
}

#[test]
fn promtool_unit_tests_catch_an_alert_that_fires_at_zero_traffic() {
    // "Traffic stopped" written naively, without requiring traffic the hour before: it fires
    // for a gateway that never had any. The zero-traffic case must catch it.
    let dir = generated(&Deployment::default());
    edit(
        &dir.path().join("prometheus/rules/alerts.yml"),
        "\n          and sum by (job) (increase(http_requests_total{job=\"gatewayz\", route=~\"/v1/.*\"}[1h])) >= 60",
        "",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "prometheus/tests/traffic.yml"],
        dir.path(),
    );
    assert!(text.contains("no traffic at all"), "{text}");
}

/// Runs the incident `slug` on the default deployment's rules after `change` (a find and a
/// replace in one of its rule files): it must fail, showing `expected`.
fn incident_catches(slug: &str, file: &str, from: &str, to: &str, expected: &str) {
    let dir = generated(&Deployment::default());
    let path = dir.path().join("prometheus/rules").join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    fs::write(&path, text.replace(from, to)).unwrap();
    let test = format!("prometheus/tests/incident-{slug}.yml");
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", &test],
        dir.path(),
    );
    assert!(text.contains(expected), "{text}");
}

#[test]
fn the_incident_suite_catches_a_provider_outage_paging_anew_on_every_flap() {
    // Without keep_firing_for, a provider down 4 minutes and up 2 resolves and pages again
    // on every cycle: the flapping incident fails.
    incident_catches(
        "provider-flapping",
        "alerts.yml",
        "        keep_firing_for: 10m\n",
        "",
        "GatewayzProviderUnavailable",
    );
}

#[test]
fn the_incident_suite_catches_a_page_for_an_outage_failover_hides() {
    // The unavailable provider paging whatever its clients see, as it used to: the hidden
    // outage must raise a warning and no page.
    incident_catches(
        "hidden-provider-outage",
        "alerts.yml",
        "provider:gatewayz_provider_status_unavailable:ratio{job=\"gatewayz\"} >= 0.5\n          and on (job, provider) (",
        "provider:gatewayz_provider_status_unavailable:ratio{job=\"gatewayz\"} >= 0.5\n          or on (job, provider) (",
        "severity=\"critical\"",
    );
}

#[test]
fn the_incident_suite_catches_a_slower_page() {
    // A fast-burn factor of 20 instead of 14.4 pages a 20 % outage later: its time to page is
    // checked to the minute.
    incident_catches(
        "a-fifth-fail",
        "slo.yml",
        r#"slo:gatewayz_sli_error:burn_rate1h{job="gatewayz", slo="availability"} > 14.4"#,
        r#"slo:gatewayz_sli_error:burn_rate1h{job="gatewayz", slo="availability"} > 20"#,
        "GatewayzAvailabilityErrorBudgetBurn",
    );
}

#[test]
fn promtool_unit_tests_catch_a_health_score_averaged_across_replicas() {
    // The fleet's health score as it was: the average of the replicas' scores, whatever the
    // calls each judged on. A replica scoring 0.3 on a handful of calls then drags a busy,
    // healthy fleet down: the recording rule's cases must fail.
    let dir = generated(&Deployment::default());
    let path = dir.path().join("prometheus/rules/recording.yml");
    let text = fs::read_to_string(&path).unwrap();
    let head = "record: provider:gatewayz_provider_health_score:attempt_weighted_avg\n";
    let start = text.find(head).expect("the weighted score's rule") + head.len();
    let end = start + text[start..].find("\n      # ").unwrap();
    let averaged = format!(
        "{}        expr: 'avg by (job, provider) (gatewayz_provider_health_score{{job=\"gatewayz\"}} >= 0)'{}",
        &text[..start],
        &text[end..]
    );
    fs::write(&path, averaged).unwrap();
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "prometheus/tests/recording.yml"],
        dir.path(),
    );
    // The issue's numbers: 0.3 on 3 calls beside 1 on 597 reads 0.65 averaged (to the last
    // bit as the order Prometheus adds the two in).
    assert!(
        text.contains("attempt_weighted_avg")
            && (text.contains("got: {__name__=\"provider:gatewayz_provider_health_score:attempt_weighted_avg\", job=\"gatewayz\", provider=\"openrouter\"} 6.5E-01")
                || text.contains("6.499999999999999E-01")),
        "{text}"
    );
}

#[test]
fn promtool_unit_tests_catch_an_alert_without_its_traffic_guard() {
    // Without the minimum request rate, one failed call a minute is a 100 % error ratio: the
    // below-threshold case must catch it.
    let dir = generated(&Deployment::default());
    edit(
        &dir.path().join("prometheus/rules/alerts.yml"),
        "\n            and provider:model_inference_requests:rate5m{job=\"gatewayz\"} >= 0.05",
        "",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "prometheus/tests/providers.yml"],
        dir.path(),
    );
    assert!(text.contains("only 1 a minute"), "{text}");
}

#[test]
fn promtool_unit_tests_catch_a_rule_that_reads_a_neighbouring_deployment() {
    // A recording rule that forgets the deployment's selector takes in the neighbour's
    // series: the "leaves out a neighbouring deployment" cases must fail.
    let dir = generated(&common::second());
    edit(
        &dir.path().join("prometheus/rules/recording.yml"),
        r#"sum by (job, cluster, namespace, provider, status) (rate(model_inference_requests_total{job="llm-gateway", cluster="eu-1", namespace="llm"}[5m]))"#,
        "sum by (job, cluster, namespace, provider, status) (rate(model_inference_requests_total[5m]))",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "prometheus/tests/recording.yml"],
        dir.path(),
    );
    assert!(text.contains(r#"job="not-llm-gateway""#), "{text}");
}

#[test]
fn promtool_accepts_the_prometheus_config_and_its_rule_files() {
    for (name, deployment) in deployments() {
        let dir = generated(&deployment);
        let text = succeeds(
            &tool(tools::PROMTOOL),
            &["check", "config", "prometheus/prometheus.yml"],
            dir.path(),
        );
        assert!(
            text.contains(&format!(
                "{} rule files found",
                rules::files(&deployment).len()
            )),
            "{name}: {text}"
        );
    }
}

#[test]
fn promtool_rejects_a_config_whose_rule_files_are_missing() {
    let dir = generated(&Deployment::default());
    fs::remove_file(dir.path().join("prometheus/rules/alerts.yml")).unwrap();
    fails(
        &tool(tools::PROMTOOL),
        &["check", "config", "prometheus/prometheus.yml"],
        dir.path(),
    );
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    for (_, deployment) in deployments() {
        let dir = generated(&deployment);
        succeeds(
            &tool(tools::AMTOOL),
            &["check-config", "alertmanager/alertmanager.yml"],
            dir.path(),
        );
    }
}

#[test]
fn amtool_rejects_a_route_to_an_unknown_receiver() {
    let dir = generated(&Deployment::default());
    edit(
        &dir.path().join("alertmanager/alertmanager.yml"),
        "  receiver: chat\n  group_by:",
        "  receiver: nobody\n  group_by:",
    );
    fails(
        &tool(tools::AMTOOL),
        &["check-config", "alertmanager/alertmanager.yml"],
        dir.path(),
    );
}

#[test]
fn critical_alerts_page_and_every_alert_reaches_the_chat() {
    let amtool = tool(tools::AMTOOL);
    for (_, deployment) in deployments() {
        let dir = generated(&deployment);
        for alert in rules::alerts(&deployment) {
            let severity = format!("severity={}", alert.severity.as_str());
            let name = format!("alertname={}", alert.alert);
            let job = format!("job={}", deployment.selector.job);
            let text = succeeds(
                &amtool,
                &[
                    "config",
                    "routes",
                    "test",
                    "--config.file=alertmanager/alertmanager.yml",
                    &name,
                    &severity,
                    &job,
                    "provider=openrouter",
                ],
                dir.path(),
            );
            let receivers = text
                .lines()
                .find(|l| !l.starts_with("Warning"))
                .unwrap_or_default()
                .trim();
            let expected = match alert.severity {
                Severity::Critical => format!("{},{}", alertmanager::PAGER, alertmanager::CHAT),
                Severity::Warning => alertmanager::CHAT.to_owned(),
                // The Watchdog goes to the dead man's switch, and nowhere else.
                Severity::None => alertmanager::DEADMAN.to_owned(),
            };
            assert_eq!(receivers, expected, "{}: {text}", alert.alert);
        }
    }
}

/// The command, as an operator runs it.
fn command(args: &[&str]) -> (bool, String) {
    run(
        Path::new(env!("CARGO_BIN_EXE_gatewayz-artefacts")),
        args,
        Path::new("."),
    )
}

#[test]
fn the_command_generates_for_a_configuration_and_checks_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("deploy.toml");
    fs::write(&config, common::SECOND).unwrap();
    let out = dir.path().join("monitoring");
    let (ok, text) = command(&[
        "generate",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains(r#"job="llm-gateway""#), "{text}");
    assert_eq!(
        fs::read_to_string(out.join("deploy.toml")).unwrap(),
        common::SECOND,
        "the configuration is kept with the artefacts"
    );

    let (ok, text) = command(&["check", out.to_str().unwrap()]);
    assert!(ok, "{text}");
    for step in [
        "ok   freshness",
        "ok   promtool check rules",
        "ok   promtool test rules",
        "ok   promtool check config",
        "ok   amtool check-config",
    ] {
        assert!(text.contains(step), "no `{step}` in:\n{text}");
    }

    // A hand edit, and a threshold changed without regenerating: both stale.
    edit(&out.join("grafana/overview.json"), "Overview", "Overveiw");
    edit(
        &out.join("deploy.toml"),
        "usd_per_hour = 37",
        "usd_per_hour = 38",
    );
    let report = check::check(&out).unwrap();
    assert!(!report.passed());
    let freshness = &report.steps[0];
    assert!(
        !freshness.passed
            && freshness.output.contains("grafana/overview.json differs")
            && freshness
                .output
                .contains("prometheus/rules/alerts.yml differs"),
        "{report}"
    );
    // The unit tests are not run on stale files (a minute of promtool for nothing).
    let tests = &report.steps[2];
    assert!(
        tests.name == "promtool test rules" && !tests.passed && tests.output.contains("stale"),
        "{report}"
    );
    assert!(report.to_string().contains("FAIL freshness"), "{report}");
}

#[test]
fn the_command_refuses_an_invalid_configuration_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("deploy.toml");
    fs::write(&config, "[alerts.provider_error_surge]\nratio = 25\n").unwrap();
    let (ok, text) = command(&[
        "generate",
        "--config",
        config.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("alerts.provider_error_surge.ratio") && text.contains("share"),
        "{text}"
    );
    assert!(!dir.path().join("out").exists(), "nothing is written");
}

#[test]
fn init_prints_a_configuration_that_generates_the_defaults() {
    let (ok, text) = command(&["init"]);
    assert!(ok, "{text}");
    assert_eq!(Deployment::from_toml(&text).unwrap(), Deployment::default());
}
