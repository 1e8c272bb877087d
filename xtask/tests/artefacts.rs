//! Structural checks of the generated artefacts, on the JSON and data Grafana and Prometheus
//! will read: dashboard conventions, grid layout, links; alert metadata and test coverage;
//! runbook anchors and links between the docs.

use std::{collections::BTreeSet, fs};

use gatewayz_registry::{Unit, catalogue::CATALOGUE};
use serde_json::Value;
use xtask::{
    GENERATED_BY,
    dashboards::{self, GridPos, TAG},
    rules::{self, Case, Severity},
    workspace_root,
};

/// The Grafana units the dashboards may use.
const UNITS: &[&str] = &[
    "s",
    "percentunit",
    "currencyUSD",
    "short",
    "reqps",
    "ops",
    "none",
];

fn rendered() -> Vec<(String, Value)> {
    dashboards::all()
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
    let mut uids = BTreeSet::new();
    let mut titles = BTreeSet::new();
    for (file, d) in rendered() {
        let uid = d["uid"].as_str().unwrap();
        assert!(
            uid.starts_with("gatewayz-") && uid.len() <= 40,
            "{file}: uid {uid:?} must be stable, gatewayz-*, at most 40 characters"
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
        assert!(
            d["tags"].as_array().unwrap().contains(&Value::from(TAG)),
            "{file}: missing tag {TAG}"
        );
    }
    assert_eq!(uids.len(), 6, "the Overview and five dashboards");
}

#[test]
fn dashboards_declare_a_datasource_variable_and_multi_value_filters() {
    for (file, d) in rendered() {
        let variables = d["templating"]["list"].as_array().unwrap();
        let first = &variables[0];
        assert_eq!(first["name"], "datasource", "{file}");
        assert_eq!(first["type"], "datasource", "{file}");
        assert_eq!(first["query"], "prometheus", "{file}");
        for variable in &variables[1..] {
            let name = &variable["name"];
            assert_eq!(variable["type"], "query", "{file} {name}");
            assert_eq!(
                variable["datasource"]["uid"], "${datasource}",
                "{file} {name}"
            );
            assert_eq!(variable["multi"], true, "{file} {name}");
            assert_eq!(variable["includeAll"], true, "{file} {name}");
            assert_eq!(variable["allValue"], ".*", "{file} {name}");
            assert!(
                variable["query"]
                    .as_str()
                    .unwrap()
                    .starts_with("label_values("),
                "{file} {name}"
            );
        }
    }
}

#[test]
fn provider_and_model_variables_are_on_every_dashboard_with_provider_panels() {
    for dashboard in dashboards::all() {
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
    for (file, d) in rendered() {
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

#[test]
fn every_panel_has_a_unit_and_a_description() {
    for (file, d) in rendered() {
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

#[test]
fn panel_ids_are_unique_and_grid_positions_do_not_overlap() {
    for (file, d) in rendered() {
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
    for dashboard in dashboards::all() {
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
    let all = dashboards::all();
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

#[test]
fn every_alert_is_tested_firing_at_zero_traffic_and_below_threshold() {
    for alert in rules::alerts() {
        for case in [Case::Fires, Case::ZeroTraffic, Case::BelowThreshold] {
            assert!(
                alert.tests.iter().any(|t| t.case == case),
                "{} has no {case:?} test",
                alert.alert
            );
        }
        for test in &alert.tests {
            assert_eq!(
                test.expected.is_empty(),
                test.case != Case::Fires,
                "{}: `{}` expects {} alerts",
                alert.alert,
                test.name,
                test.expected.len()
            );
        }
    }
}

fn minutes(duration: &str) -> u32 {
    let (number, unit) = duration.split_at(duration.len() - 1);
    let n: u32 = number
        .parse()
        .unwrap_or_else(|_| panic!("duration {duration}"));
    match unit {
        "m" => n,
        "h" => n * 60,
        _ => panic!("use minutes or hours for `for`: {duration}"),
    }
}

#[test]
fn alerts_have_realistic_for_severity_and_annotations() {
    let mut names = BTreeSet::new();
    let uids: Vec<&str> = dashboards::all().iter().map(|d| d.uid).collect();
    for alert in rules::alerts() {
        let name = alert.alert;
        assert!(names.insert(name), "duplicate alert {name}");
        assert!(name.starts_with("Gatewayz"), "{name}");
        let m = minutes(alert.for_);
        assert!(
            (1..=30).contains(&m),
            "{name}: for {} is not realistic",
            alert.for_
        );
        assert!(matches!(
            alert.severity,
            Severity::Critical | Severity::Warning
        ));
        assert!(
            alert.summary.len() > 10 && alert.description.len() > 60,
            "{name}"
        );
        assert!(
            !alert.runbook.causes.is_empty() && !alert.runbook.actions.is_empty(),
            "{name}: the runbook needs causes and actions"
        );
        assert!(uids.contains(&alert.dashboard), "{name}: unknown dashboard");
        assert!(alert.runbook_url().ends_with(&name.to_lowercase()));
    }
    let expected = [
        "GatewayzProviderUnavailable",
        "GatewayzProviderHealthDegraded",
        "GatewayzProviderErrorSurge",
        "GatewayzProviderLatencySpike",
        "GatewayzCircuitOpenTooLong",
        "GatewayzFailoverStorm",
        "GatewayzCostPerHourHigh",
        "GatewayzModelNoSuccessfulInference",
        "GatewayzTargetDown",
        "GatewayzMetricsAbsent",
    ];
    for name in expected {
        assert!(names.contains(name), "missing alert {name}");
    }
}

#[test]
fn recording_rule_names_are_unique() {
    let mut names = BTreeSet::new();
    for rule in rules::recording_rules() {
        assert!(
            names.insert(rule.record.clone()),
            "duplicate {}",
            rule.record
        );
    }
}

#[test]
fn every_runbook_url_points_at_a_section_of_the_alerts_doc() {
    let doc = fs::read_to_string(workspace_root().join("docs/alerts.md")).unwrap();
    for alert in rules::alerts() {
        assert!(
            doc.contains(&format!("\n## {}\n", alert.alert)),
            "docs/alerts.md has no section for {}",
            alert.alert
        );
    }
}

#[test]
fn docs_describe_every_crate_and_link_to_files_that_exist() {
    let docs = workspace_root().join("docs");
    for (file, must_mention) in [
        (
            "architecture.md",
            &[
                "gatewayz-registry",
                "gatewayz-metrics",
                "gatewayz-health",
                "gatewayz-actix",
                "gatewayz-gateway",
                "xtask",
            ][..],
        ),
        (
            "integration.md",
            &[
                "remote_write",
                "Thanos",
                "Mimir",
                "VictoriaMetrics",
                "recording",
            ][..],
        ),
    ] {
        let text = fs::read_to_string(docs.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for word in must_mention {
            assert!(text.contains(word), "docs/{file} does not mention {word}");
        }
    }
    for entry in fs::read_dir(&docs).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..].chars().take_while(|c| *c != ')').collect();
            let file = target.split('#').next().unwrap();
            if file.is_empty() || file.contains("://") {
                continue;
            }
            assert!(
                docs.join(file).exists(),
                "{}: link to {target} points nowhere",
                path.display()
            );
        }
    }
}
