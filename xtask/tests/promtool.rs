//! The generated Prometheus and Alertmanager files, judged by the real tools: `promtool check
//! rules`, `promtool test rules`, `promtool check config` (Debian's prometheus 2.42) and
//! `amtool check-config` / `amtool config routes test` (prometheus-alertmanager 0.25).
//!
//! A missing tool fails the test with the command that installs it; `cargo xtask test`
//! installs both. Each check is paired with a broken input the tool must reject, so a test
//! that cannot fail would show.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use xtask::{
    rules::{self, Severity},
    stack,
    tools::{self, Tool},
    workspace_root,
};

fn tool(tool: Tool) -> PathBuf {
    tools::require(tool).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `tool args` in `dir`; returns whether it succeeded and everything it printed.
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

fn files_in(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(workspace_root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}; run `cargo xtask codegen`"))
        .flatten()
        .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".yml"))
        .collect();
    files.sort();
    files
}

/// A scratch copy of `dashboards/prometheus` (rules, tests, config) to break on purpose.
fn scratch_prometheus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = workspace_root().join("dashboards/prometheus");
    for sub in ["rules", "tests"] {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in fs::read_dir(source.join(sub)).unwrap().flatten() {
            fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    fs::copy(
        source.join("prometheus.yml"),
        dir.path().join("prometheus.yml"),
    )
    .unwrap();
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn promtool_accepts_the_rules() {
    let files = files_in("dashboards/prometheus/rules");
    assert_eq!(files.len(), rules::files().len());
    let mut args = vec!["check", "rules"];
    args.extend(files.iter().map(String::as_str));
    let text = succeeds(&tool(tools::PROMTOOL), &args, &workspace_root());
    let found: usize = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SUCCESS: "))
        .filter_map(|l| l.split_whitespace().next()?.parse::<usize>().ok())
        .sum();
    let expected: usize = rules::groups().iter().map(|g| g.rules.len()).sum();
    assert_eq!(found, expected, "{text}");
}

#[test]
fn promtool_rejects_a_broken_rule() {
    let dir = scratch_prometheus();
    let file = dir.path().join("rules/alerts.yml");
    edit(
        &file,
        "expr: 'provider:gatewayz_provider_health_score:avg < 0.8'",
        "expr: 'sum(('",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["check", "rules", "rules/alerts.yml"],
        dir.path(),
    );
    assert!(text.contains("parse error"), "{text}");
}

#[test]
fn promtool_unit_tests_of_every_alert_pass() {
    let files = files_in("dashboards/prometheus/tests");
    assert_eq!(files.len(), rules::test_files().len());
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    let text = succeeds(&tool(tools::PROMTOOL), &args, &workspace_root());
    assert_eq!(text.matches("SUCCESS").count(), files.len(), "{text}");
    // Every alert has its cases in the files promtool just ran.
    let all: String = files
        .iter()
        .map(|f| fs::read_to_string(workspace_root().join(f)).unwrap())
        .collect();
    for alert in rules::alerts() {
        let cases = all
            .matches(&format!("alertname: {}\n", alert.alert))
            .count();
        assert_eq!(cases, alert.tests.len(), "{}", alert.alert);
    }
}

#[test]
fn promtool_unit_tests_catch_a_cost_alert_off_by_sixty() {
    // The original system's "$100/hour" alert measured dollars per minute. Make the recording
    // rule do that, and the cost alert's tests must fail.
    let dir = scratch_prometheus();
    edit(
        &dir.path().join("rules/recording.yml"),
        "sum by (provider) (increase(gatewayz_cost_usd_total[1h]))",
        "sum by (provider) (rate(gatewayz_cost_usd_total[1h])) * 60",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "tests/cost.yml"],
        dir.path(),
    );
    assert!(text.contains("GatewayzCostPerHourHigh"), "{text}");
}

#[test]
fn promtool_unit_tests_catch_an_alert_that_fires_at_zero_traffic() {
    // "No success for a model" written naively, without requiring attempts: it fires for
    // every model when there is no traffic at all. The zero-traffic case must catch it.
    let dir = scratch_prometheus();
    edit(
        &dir.path().join("rules/alerts.yml"),
        "sum by (model) (increase(model_inference_requests_total[10m])) >= 5\n          unless ",
        "",
    );
    edit(
        &dir.path().join("rules/alerts.yml"),
        "sum by (model) (increase(model_inference_requests_total{status=\"success\"}[10m])) > 0",
        "sum by (model) (increase(model_inference_requests_total{status=\"success\"}[10m])) == 0",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "tests/models.yml"],
        dir.path(),
    );
    assert!(text.contains("no attempts"), "{text}");
}

#[test]
fn promtool_unit_tests_catch_an_alert_without_its_traffic_guard() {
    // Without the minimum request rate, one failed call a minute is a 100 % error ratio: the
    // below-threshold case must catch it.
    let dir = scratch_prometheus();
    edit(
        &dir.path().join("rules/alerts.yml"),
        "\n            and provider:model_inference_requests:rate5m >= 0.05",
        "",
    );
    let text = fails(
        &tool(tools::PROMTOOL),
        &["test", "rules", "tests/providers.yml"],
        dir.path(),
    );
    assert!(text.contains("only one a minute"), "{text}");
}

#[test]
fn promtool_accepts_the_prometheus_config_and_its_rule_files() {
    let text = succeeds(
        &tool(tools::PROMTOOL),
        &["check", "config", "dashboards/prometheus/prometheus.yml"],
        &workspace_root(),
    );
    assert!(
        text.contains(&format!("{} rule files found", rules::files().len())),
        "{text}"
    );
}

#[test]
fn promtool_rejects_a_config_whose_rule_files_are_missing() {
    let dir = scratch_prometheus();
    fs::remove_file(dir.path().join("rules/alerts.yml")).unwrap();
    fails(
        &tool(tools::PROMTOOL),
        &["check", "config", "prometheus.yml"],
        dir.path(),
    );
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    succeeds(
        &tool(tools::AMTOOL),
        &["check-config", "dashboards/alertmanager/alertmanager.yml"],
        &workspace_root(),
    );
}

#[test]
fn amtool_rejects_a_route_to_an_unknown_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alertmanager.yml");
    fs::write(&file, stack::alertmanager_yml()).unwrap();
    edit(
        &file,
        "  receiver: chat\n  group_by:",
        "  receiver: nobody\n  group_by:",
    );
    fails(
        &tool(tools::AMTOOL),
        &["check-config", "alertmanager.yml"],
        dir.path(),
    );
}

#[test]
fn critical_alerts_page_and_every_alert_reaches_the_chat() {
    let amtool = tool(tools::AMTOOL);
    for alert in rules::alerts() {
        let severity = format!("severity={}", alert.severity.as_str());
        let name = format!("alertname={}", alert.alert);
        let text = succeeds(
            &amtool,
            &[
                "config",
                "routes",
                "test",
                "--config.file=dashboards/alertmanager/alertmanager.yml",
                &name,
                &severity,
                "provider=openrouter",
            ],
            &workspace_root(),
        );
        let receivers = text
            .lines()
            .find(|l| !l.starts_with("Warning"))
            .unwrap_or_default()
            .trim();
        let expected = match alert.severity {
            Severity::Critical => format!("{},{}", stack::PAGER, stack::CHAT),
            Severity::Warning => stack::CHAT.to_owned(),
        };
        assert_eq!(receivers, expected, "{}: {text}", alert.alert);
    }
}
