//! What each way of adopting the stack pulls in: a library that only instruments itself gets
//! neither the recorder nor serde, and the umbrella crate's features leave out what is off.

use std::process::Command;

/// The crates in the normal dependency tree of `package` with `args` (features).
fn tree(package: &str, args: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--package",
            package,
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut crates: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    crates.sort();
    crates.dedup();
    crates
}

fn assert_without(crates: &[String], absent: &[&str], what: &str) {
    let found: Vec<&&str> = absent
        .iter()
        .filter(|a| crates.iter().any(|c| c == **a))
        .collect();
    assert!(found.is_empty(), "{what} pulls {found:?}: {crates:?}");
}

#[test]
fn the_facade_pulls_neither_the_recorder_nor_serde() {
    let crates = tree("gatewayz-metrics", &[]);
    assert_without(
        &crates,
        &[
            "gatewayz-registry",
            "metrics-util",
            "serde",
            "serde_json",
            "thiserror",
        ],
        "gatewayz-metrics",
    );
    // The catalogue, `metrics`, a hash map and their few dependencies (37 crates before).
    assert!(crates.len() <= 10, "{crates:?}");
    assert_eq!(tree("gatewayz-catalogue", &[]), ["gatewayz-catalogue"]);
}

#[test]
fn the_umbrella_crate_brings_only_what_its_features_ask_for() {
    let lean = tree("gatewayz", &["--no-default-features"]);
    assert_without(
        &lean,
        &[
            "gatewayz-registry",
            "gatewayz-health",
            "gatewayz-actix",
            "serde",
            "actix-web",
        ],
        "gatewayz without default features",
    );
    let no_summary = tree(
        "gatewayz",
        &["--no-default-features", "--features", "recorder"],
    );
    assert_without(
        &no_summary,
        &["serde", "serde_json", "humantime"],
        "the recorder alone",
    );
    let default = tree("gatewayz", &[]);
    assert_without(
        &default,
        &["gatewayz-actix", "actix-web"],
        "gatewayz by default",
    );
    assert!(
        default.iter().any(|c| c == "gatewayz-health"),
        "{default:?}"
    );
    let actix = tree("gatewayz", &["--features", "actix"]);
    assert!(actix.iter().any(|c| c == "gatewayz-actix"), "{actix:?}");
}
