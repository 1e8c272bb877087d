//! Structural checks of the generated artefacts, on the JSON and data Grafana and Prometheus
//! will read, for the default deployment and a second one: dashboard conventions and the
//! deployment's variables, grid layout, links; alert metadata, test coverage and runbooks.

mod common;

use std::{collections::BTreeSet, fs, path::Path};

use common::deployments;
use gatewayz_artefacts::{
    Deployment, GENERATED_BY,
    dashboards::{self, GridPos, Selection, Variable},
    generate,
    rules::{self, Case, Severity},
    runbooks,
};
use gatewayz_catalogue::{CATALOGUE, Unit};
use serde_json::Value;

/// The Grafana units the dashboards may use.
const UNITS: &[&str] = &[
    "s",
    "percentunit",
    "currencyUSD",
    "short",
    "reqps",
    "ops",
    "none",
    "x",
];

fn rendered(deployment: &Deployment) -> Vec<(String, Value)> {
    dashboards::all(deployment)
        .iter()
        .map(|d| {
            let json: Value = serde_json::from_str(&d.render())
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", d.file));
            (d.file.to_owned(), json)
        })
        .collect()
}

fn panels(dashboard: &Value) -> Vec<&Value> {
    dashboard["panels"].as_array().unwrap().iter().collect()
}

fn is_row(panel: &Value) -> bool {
    panel["type"] == "row"
}

#[test]
fn dashboards_have_stable_identity_and_the_classic_model() {
    for (name, deployment) in deployments() {
        let prefix = format!("{}-", deployment.grafana.uid_prefix);
        let mut uids = BTreeSet::new();
        let mut titles = BTreeSet::new();
        for (file, d) in rendered(&deployment) {
            let uid = d["uid"].as_str().unwrap();
            assert!(
                uid.starts_with(&prefix) && uid.len() <= 40,
                "{name} {file}: uid {uid:?} must be stable, {prefix}*, at most 40 characters"
            );
            assert!(uids.insert(uid.to_owned()), "{file}: duplicate uid {uid}");
            assert!(
                titles.insert(d["title"].to_string()),
                "{file}: duplicate title"
            );
            assert!(d["id"].is_null(), "{file}: id must be null");
            assert_eq!(d["schemaVersion"], 39, "{file}");
            assert!(d["refresh"].is_string(), "{file}: refresh must be a string");
            assert!(
                d["description"].as_str().unwrap().starts_with(GENERATED_BY),
                "{file}: the description must say the file is generated"
            );
            assert_eq!(
                d["tags"][0], deployment.grafana.uid_prefix,
                "{name} {file}: the deployment's tag comes first"
            );
        }
        assert_eq!(
            uids.len(),
            7,
            "the Overview, Service Levels and five dashboards"
        );
    }
}

#[test]
fn every_dashboard_has_datasource_deployment_and_instance_variables() {
    for (name, deployment) in deployments() {
        // The matchers' variables, then job, each offering only the configured value.
        let mut fixed: Vec<(String, String)> = deployment
            .selector
            .matchers
            .iter()
            .map(|(l, v)| (l.clone(), v.clone()))
            .collect();
        fixed.push(("job".to_owned(), deployment.selector.job.clone()));
        for (file, d) in rendered(&deployment) {
            let variables = d["templating"]["list"].as_array().unwrap();
            let first = &variables[0];
            assert_eq!(first["name"], "datasource", "{file}");
            assert_eq!(first["type"], "datasource", "{file}");
            assert_eq!(first["query"], "prometheus", "{file}");
            assert_eq!(
                first["current"]["value"], deployment.grafana.datasource,
                "{name} {file}: the configured data source is selected by default"
            );
            for (i, (label, value)) in fixed.iter().enumerate() {
                let variable = &variables[1 + i];
                assert_eq!(variable["name"], label.as_str(), "{name} {file}");
                assert_eq!(variable["multi"], false, "{name} {file} {label}");
                assert_eq!(variable["includeAll"], false, "{name} {file} {label}");
                assert_eq!(variable["current"]["value"], value.as_str(), "{file}");
                let query = variable["query"].as_str().unwrap();
                assert!(
                    query.starts_with("label_values(gatewayz_build_info{")
                        && query.contains(&deployment.selector.promql()),
                    "{name} {file} {label}: the options are only the deployment's: {query}"
                );
            }
            let instance = &variables[1 + fixed.len()];
            assert_eq!(instance["name"], "instance", "{name} {file}");
            assert!(
                instance["query"]
                    .as_str()
                    .unwrap()
                    .contains(r#"job="$job""#),
                "{file}: instance is chained on job"
            );
            for variable in &variables[1 + fixed.len()..] {
                let name = &variable["name"];
                assert_eq!(variable["type"], "query", "{file} {name}");
                assert_eq!(
                    variable["datasource"]["uid"], "${datasource}",
                    "{file} {name}"
                );
                assert_eq!(variable["multi"], true, "{file} {name}");
                assert_eq!(variable["includeAll"], true, "{file} {name}");
                assert_eq!(variable["allValue"], ".*", "{file} {name}");
                let query = variable["query"].as_str().unwrap();
                assert!(
                    query.starts_with("label_values(") && query.contains(r#"job="$job""#),
                    "{file} {name}: {query}"
                );
            }
        }
    }
}

#[test]
fn provider_and_model_variables_are_on_every_dashboard_with_provider_panels() {
    for (_, deployment) in deployments() {
        for dashboard in dashboards::all(&deployment) {
            let names: Vec<&str> = dashboard.variables.iter().map(|v| v.name()).collect();
            let mentions_provider = dashboard
                .targets()
                .any(|(_, t)| t.expr.contains("$provider"));
            if mentions_provider {
                assert!(
                    names.contains(&"provider") && names.contains(&"model"),
                    "{}: filters by provider but lacks the provider and model variables",
                    dashboard.uid
                );
            }
            for variable in &dashboard.variables {
                if let Variable::Query {
                    name, selection, ..
                } = variable
                {
                    let fixed = deployment.selector.labels().contains(&name.as_str());
                    assert_eq!(
                        matches!(selection, Selection::One(_)),
                        fixed,
                        "{} {name}: only the deployment's labels take one value",
                        dashboard.uid
                    );
                }
            }
        }
    }
}

#[test]
fn every_panel_and_target_uses_the_datasource_variable() {
    fn walk(value: &Value, path: &str, problems: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(ds) = map.get("datasource").filter(|d| d.is_object()) {
                    let uid = ds["uid"].as_str().unwrap_or_default();
                    let builtin = ds["type"] == "grafana";
                    if !builtin && (uid != "${datasource}" || ds["type"] != "prometheus") {
                        problems.push(format!("{path}: datasource {ds}"));
                    }
                }
                for (key, v) in map {
                    walk(v, &format!("{path}.{key}"), problems);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}[{i}]"), problems);
                }
            }
            _ => {}
        }
    }
    for (_, deployment) in deployments() {
        for (file, d) in rendered(&deployment) {
            let mut problems = Vec::new();
            walk(&d, &file, &mut problems);
            assert!(
                problems.is_empty(),
                "hard-coded data sources: {problems:#?}"
            );
            for panel in panels(&d).into_iter().filter(|p| !is_row(p)) {
                let title = &panel["title"];
                assert_eq!(
                    panel["datasource"]["uid"], "${datasource}",
                    "{file} {title}"
                );
                let targets = panel["targets"].as_array().unwrap();
                assert!(!targets.is_empty(), "{file} {title}: no targets");
                for target in targets {
                    assert_eq!(
                        target["datasource"]["uid"], "${datasource}",
                        "{file} {title}"
                    );
                    assert!(
                        !target["expr"].as_str().unwrap().is_empty(),
                        "{file} {title}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_panel_has_a_unit_and_a_description() {
    for (_, deployment) in deployments() {
        for (file, d) in rendered(&deployment) {
            for panel in panels(&d).into_iter().filter(|p| !is_row(p)) {
                let title = &panel["title"];
                let unit = panel["fieldConfig"]["defaults"]["unit"].as_str();
                assert!(
                    unit.is_some_and(|u| UNITS.contains(&u)),
                    "{file} {title}: unit {unit:?} is not one of {UNITS:?}"
                );
                let description = panel["description"].as_str().unwrap_or_default();
                assert!(
                    description.len() > 30,
                    "{file} {title}: describe what the panel shows"
                );
            }
        }
    }
}

#[test]
fn panel_ids_are_unique_and_grid_positions_do_not_overlap() {
    for (_, deployment) in deployments() {
        for (file, d) in rendered(&deployment) {
            let mut ids = BTreeSet::new();
            let mut placed: Vec<(String, GridPos)> = Vec::new();
            for panel in panels(&d) {
                let title = panel["title"].as_str().unwrap().to_owned();
                assert!(
                    ids.insert(panel["id"].as_u64().unwrap()),
                    "{file}: duplicate panel id at {title}"
                );
                let g = &panel["gridPos"];
                let grid = GridPos {
                    x: g["x"].as_u64().unwrap() as u32,
                    y: g["y"].as_u64().unwrap() as u32,
                    w: g["w"].as_u64().unwrap() as u32,
                    h: g["h"].as_u64().unwrap() as u32,
                };
                assert!(
                    grid.w > 0 && grid.h > 0 && grid.x + grid.w <= 24,
                    "{file} {title}: {grid:?} is off the 24-column grid"
                );
                for (other, other_grid) in &placed {
                    assert!(
                        !grid.overlaps(other_grid),
                        "{file}: {title} {grid:?} overlaps {other} {other_grid:?}"
                    );
                }
                placed.push((title, grid));
            }
        }
    }
}

#[test]
fn grid_overlap_detection_works() {
    let a = GridPos {
        x: 0,
        y: 0,
        w: 12,
        h: 8,
    };
    assert!(a.overlaps(&GridPos {
        x: 11,
        y: 7,
        w: 6,
        h: 4
    }));
    assert!(!a.overlaps(&GridPos {
        x: 12,
        y: 0,
        w: 12,
        h: 8
    }));
    assert!(!a.overlaps(&GridPos {
        x: 0,
        y: 8,
        w: 24,
        h: 1
    }));
}

#[test]
fn ratio_metrics_are_shown_as_percentunit() {
    // Catalogued 0..1 ratios; the token efficiency gauge is output/input tokens and exceeds 1.
    let ratios: Vec<&str> = CATALOGUE
        .iter()
        .filter(|d| d.unit == Unit::Ratio && d.name != "gatewayz_token_efficiency")
        .map(|d| d.name)
        .collect();
    let mentions = |expr: &str, name: &str| {
        expr.match_indices(name).any(|(i, _)| {
            !expr[i + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    for dashboard in dashboards::all(&Deployment::default()) {
        for panel in &dashboard.panels {
            let shows_ratio = panel
                .targets
                .iter()
                .any(|t| ratios.iter().any(|r| mentions(&t.expr, r)));
            if shows_ratio {
                assert_eq!(
                    panel.unit.grafana_id(),
                    "percentunit",
                    "{} / {}: 0..1 values are shown as percentunit",
                    dashboard.uid,
                    panel.title
                );
            }
            if panel.unit.grafana_id() == "percentunit" {
                assert!(
                    panel.max.is_none_or(|m| m == 1.0),
                    "{} / {}",
                    dashboard.uid,
                    panel.title
                );
            }
        }
    }
}

#[test]
fn the_overview_links_to_every_dashboard_and_each_links_back() {
    for (_, deployment) in deployments() {
        let all = dashboards::all(&deployment);
        let overview = &all[0];
        let overview_urls: Vec<&str> = overview.links.iter().map(|l| l.url.as_str()).collect();
        for dashboard in &all[1..] {
            assert!(
                overview_urls.contains(&dashboard.url().as_str()),
                "the Overview does not link to {}",
                dashboard.uid
            );
            assert!(
                dashboard.links.iter().any(|l| l.url == overview.url()),
                "{} does not link back to the Overview",
                dashboard.uid
            );
        }
    }
}

#[test]
fn the_budget_shows_on_cost_analysis_only_when_configured() {
    let budget_panels = |deployment: &Deployment| -> Vec<String> {
        dashboards::all(deployment)
            .into_iter()
            .flat_map(|d| d.panels)
            // The monthly budget, not the service levels' error budgets.
            .filter(|p| p.title.contains("budget") && !p.title.contains("Error budget"))
            .flat_map(|p| p.targets.into_iter().map(|t| t.expr))
            .collect()
    };
    assert!(budget_panels(&Deployment::default()).is_empty());
    let second = common::second();
    let panels = budget_panels(&second);
    assert_eq!(panels.len(), 2, "{panels:?}");
    assert!(
        panels.iter().all(|expr| expr.ends_with("/ 2500")),
        "{panels:?}"
    );
}

#[test]
fn every_alert_is_tested_firing_at_zero_traffic_and_below_threshold() {
    for (name, deployment) in deployments() {
        for alert in rules::alerts(&deployment) {
            // The Watchdog fires always: whatever the traffic, it has firing cases only.
            let cases: &[Case] = if alert.alert == "GatewayzWatchdog" {
                &[Case::Fires]
            } else {
                &[Case::Fires, Case::ZeroTraffic, Case::BelowThreshold]
            };
            for &case in cases {
                assert!(
                    alert.tests.iter().any(|t| t.case == case),
                    "{name}: {} has no {case:?} test",
                    alert.alert
                );
            }
            for test in &alert.tests {
                // A quiet case may expect the alert's namesake of another severity (the
                // warning of a provider outage that failover hides), never the rule itself.
                let own = test
                    .expected
                    .iter()
                    .filter(|e| e.severity.is_none())
                    .count();
                assert_eq!(
                    own == 0,
                    test.case != Case::Fires,
                    "{}: `{}` expects {own} alerts of its own rule",
                    alert.alert,
                    test.name,
                );
                for expected in &test.expected {
                    for (label, value) in deployment.selector.pairs() {
                        let pair = (label.to_owned(), value.to_owned());
                        assert!(
                            expected.labels.contains(&pair) || alert.labels.contains(&pair),
                            "{name} {}: the alert keeps {label}={value}",
                            alert.alert
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn alerts_have_realistic_for_severity_annotations_and_runbooks() {
    for (deployment_name, deployment) in deployments() {
        let mut names = BTreeSet::new();
        let mut rules = BTreeSet::new();
        let uids: Vec<String> = dashboards::all(&deployment)
            .iter()
            .map(|d| d.uid.clone())
            .collect();
        for alert in rules::alerts(&deployment) {
            let name = alert.alert;
            names.insert(name);
            // Rules may share a name (a page and a ticket), never a name and a severity.
            assert!(
                rules.insert((name, alert.severity.as_str())),
                "duplicate alert {name} ({})",
                alert.severity.as_str()
            );
            assert!(name.starts_with("Gatewayz"), "{name}");
            let minutes = alert.for_.millis() / 60_000;
            // The burn-rate alerts fire at once (their short window is the confirmation, as
            // in the SRE workbook), and so does the always-firing Watchdog.
            let immediate = alert.config_key == "slo" || name == "GatewayzWatchdog";
            assert!(
                (1..=24 * 60).contains(&minutes) || (immediate && minutes == 0),
                "{name}: for {} is not realistic",
                alert.for_
            );
            assert_eq!(
                alert.severity == Severity::None,
                name == "GatewayzWatchdog",
                "{name}: only the Watchdog notifies nobody"
            );
            assert!(
                alert.summary.len() > 10 && alert.description.len() > 60,
                "{name}"
            );
            for section in runbooks::SECTIONS {
                let text = runbooks::section(&alert.runbook, section).unwrap_or_default();
                assert!(
                    text.len() > 40,
                    "{name}: the runbook's `## {section}` is missing or empty"
                );
            }
            assert!(
                runbooks::section(&alert.runbook, "Likely causes")
                    .is_some_and(|s| s.starts_with("- ")),
                "{name}: causes are a list"
            );
            assert!(
                runbooks::section(&alert.runbook, "What to do")
                    .is_some_and(|s| s.starts_with("1. ")),
                "{name}: actions are numbered"
            );
            assert!(uids.contains(&alert.dashboard), "{name}: unknown dashboard");
            let expected_url = deployment
                .alerts
                .runbook_url
                .replace("{alert}", name)
                .replace("{anchor}", &name.to_lowercase());
            assert_eq!(alert.runbook_url, expected_url, "{deployment_name} {name}");
        }
        let expected = [
            "GatewayzAvailabilityErrorBudgetBurn",
            "GatewayzLatencyErrorBudgetBurn",
            "GatewayzModelErrorBudgetBurn",
            "GatewayzProviderUnavailable",
            "GatewayzProviderHealthDegraded",
            "GatewayzProviderErrorSurge",
            "GatewayzProviderLatencySpike",
            "GatewayzCircuitOpenTooLong",
            "GatewayzCircuitFlapping",
            "GatewayzFailoverStorm",
            "GatewayzTrafficStopped",
            "GatewayzRequestsRefusedSurge",
            "GatewayzCostPerHourHigh",
            "GatewayzSpendAboveLastWeek",
            "GatewayzTargetDown",
            "GatewayzMetricsAbsent",
            "GatewayzLabelValuesOverflow",
            "GatewayzMetricConflicts",
            "GatewayzWatchdog",
        ];
        for name in expected {
            assert!(names.contains(name), "missing alert {name}");
        }
    }
}

#[test]
fn every_alert_has_its_runbook_file_and_every_runbook_file_its_alert() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let files: BTreeSet<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Every alert of either deployment (the budget-pace alert exists only with a budget).
    let alerts: BTreeSet<String> = deployments()
        .iter()
        .flat_map(|(_, d)| rules::alerts(d))
        .map(|a| format!("{}.md", a.alert))
        .collect();
    assert_eq!(
        files, alerts,
        "runbooks/ and the alerts must match one to one"
    );
    let compiled: BTreeSet<String> = runbooks::RUNBOOKS
        .iter()
        .map(|(alert, _)| format!("{alert}.md"))
        .collect();
    assert_eq!(compiled, files, "every file in runbooks/ is compiled in");
    for (alert, text) in runbooks::RUNBOOKS {
        let on_disk = fs::read_to_string(dir.join(format!("{alert}.md"))).unwrap();
        assert_eq!(*text, on_disk, "{alert}: compiled from its own file");
    }
}

#[test]
fn runbooks_show_the_configured_thresholds() {
    let second = common::second();
    let alerts = rules::alerts(&second);
    let runbook = |name: &str| {
        alerts
            .iter()
            .find(|a| a.alert == name)
            .map(|a| a.runbook.clone())
            .unwrap()
    };
    assert!(runbook("GatewayzProviderErrorSurge").contains("More than 60% of"));
    assert!(runbook("GatewayzProviderLatencySpike").contains("above\n0.2 s for 2 hours"));
    assert!(runbook("GatewayzProviderUnavailable").contains("the alert holds for 15 minutes"));
    assert!(runbook("GatewayzAvailabilityErrorBudgetBurn").contains(
        "99.95% of the client API's answers (routes `/(v1|api)/.*`) are not 5xx, over 28d"
    ));
    assert!(runbook("GatewayzCostPerHourHigh").contains("$37 per hour, for 15 minutes"));
    assert!(
        runbook("GatewayzMetricsAbsent")
            .contains(r#"`job="llm-gateway", cluster="eu-1", namespace="llm"`"#)
    );
}

#[test]
fn recording_rule_names_are_unique_and_do_not_depend_on_the_configuration() {
    // A name with its labels: each objective's rules share names, told apart by `slo`.
    let names = |deployment: &Deployment| -> Vec<(String, Vec<(String, String)>)> {
        rules::recording_rules(deployment)
            .into_iter()
            .map(|r| {
                let slo = r.labels.into_iter().filter(|(k, _)| k == "slo").collect();
                (r.record, slo)
            })
            .collect()
    };
    let default = names(&Deployment::default());
    let unique: BTreeSet<&(String, Vec<(String, String)>)> = default.iter().collect();
    assert_eq!(unique.len(), default.len(), "duplicate recording rules");
    assert_eq!(default, names(&common::second()));
}

#[test]
fn the_generated_alerts_doc_has_a_section_for_every_runbook_url() {
    for (name, deployment) in deployments() {
        let artefacts = generate(&deployment).unwrap();
        let doc = &artefacts.get("docs/alerts.md").unwrap().contents;
        for alert in rules::alerts(&deployment) {
            assert!(
                doc.contains(&format!("\n## {}\n", alert.alert)),
                "{name}: docs/alerts.md has no section for {}",
                alert.alert
            );
            let key = match alert.config_key {
                "slo" => "`[slo]`".to_owned(),
                "watchdog" => "`deadman_url`".to_owned(),
                key => format!("`[alerts.{key}]`"),
            };
            assert!(
                doc.contains(&key),
                "{name}: the doc names {}'s configuration",
                alert.alert
            );
        }
    }
}

#[test]
fn month_to_date_dashboards_are_in_utc_and_the_others_in_the_browsers_zone() {
    // A month begins at 00:00 UTC in Prometheus (`now/M` is Grafana's, `day_of_month()`
    // Prometheus's) and in the reports: the dashboards that count months must agree.
    for (_, deployment) in deployments() {
        for (file, d) in rendered(&deployment) {
            let expected =
                if ["cost-analysis.json", "business-metrics.json"].contains(&file.as_str()) {
                    "utc"
                } else {
                    "browser"
                };
            assert_eq!(d["timezone"], expected, "{file}");
        }
    }
}
