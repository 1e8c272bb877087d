//! The repository's documents: they describe every crate and the command operators run, their
//! links lead somewhere, and the shipped runbook URLs point at sections that exist.

use std::fs;

use gatewayz_artefacts::{Deployment, rules};
use xtask::{codegen, workspace_root};

#[test]
fn docs_describe_every_crate_and_link_to_files_that_exist() {
    let root = workspace_root();
    let docs = root.join("docs");
    for (file, must_mention) in [
        (
            "docs/architecture.md",
            &[
                "gatewayz-registry",
                "gatewayz-metrics",
                "gatewayz-health",
                "gatewayz-actix",
                "gatewayz-artefacts",
                "gatewayz-testkit",
                "gatewayz-gateway",
                "xtask",
                "deploy.toml",
            ][..],
        ),
        (
            "docs/integration.md",
            &[
                "gatewayz-artefacts generate --config deploy.toml --out",
                "gatewayz-artefacts check",
                "gatewayz-artefacts init",
                "remote_write",
                "Thanos",
                "Mimir",
                "VictoriaMetrics",
                "recording",
            ][..],
        ),
        (
            "README.md",
            &[
                "gatewayz-artefacts generate --config deploy.toml --out",
                "gatewayz-artefacts",
            ][..],
        ),
    ] {
        let text = fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for word in must_mention {
            assert!(text.contains(word), "{file} does not mention {word}");
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

#[test]
fn the_checked_in_configuration_is_the_default_deployment() {
    // The end-to-end test and `cargo xtask stack` run this repository's artefacts; they are
    // the library's defaults, spelled out where it matters.
    assert_eq!(codegen::deployment().unwrap(), Deployment::default());
}

#[test]
fn every_shipped_runbook_url_points_at_a_section_of_the_alerts_doc() {
    let doc = fs::read_to_string(workspace_root().join("docs/alerts.md")).unwrap();
    let deployment = codegen::deployment().unwrap();
    for alert in rules::alerts(&deployment) {
        let anchor = alert.alert.to_lowercase();
        assert!(
            alert
                .runbook_url
                .ends_with(&format!("docs/alerts.md#{anchor}")),
            "{}",
            alert.runbook_url
        );
        assert!(
            doc.contains(&format!("\n## {}\n", alert.alert)),
            "docs/alerts.md has no section for {}",
            alert.alert
        );
    }
}
