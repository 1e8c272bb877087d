//! `cargo xtask codegen`: writes every generated file from the catalogue and the Rust data of
//! this crate.
//!
//! Each generator builds its text in memory and hands it to [`ensure_file_contents`]. In check
//! mode (`--check`, and the test below) a stale file is an error telling to run codegen. Files
//! under `dashboards/` that codegen no longer produces but that carry its header are stale too
//! (write mode deletes them).

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{Result, dashboards, docs, rules, stack, workspace_root};

/// Whether codegen rewrites stale files or only reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Rewrite what differs.
    Write,
    /// Report what differs, change nothing.
    Check,
}

/// A file codegen writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path from the workspace root, with `/` separators.
    pub path: String,
    /// Its whole contents.
    pub contents: String,
}

fn file(path: impl Into<String>, contents: String) -> GeneratedFile {
    GeneratedFile {
        path: path.into(),
        contents,
    }
}

/// Every generated file, in a stable order.
pub fn generated() -> Vec<GeneratedFile> {
    let mut out = vec![
        file(
            "docs/metrics.md",
            gatewayz_registry::docs::reference_markdown(),
        ),
        file("docs/promql.md", docs::promql_markdown()),
        file("docs/alerts.md", docs::alerts_markdown()),
    ];
    for dashboard in dashboards::all() {
        out.push(file(
            format!("dashboards/grafana/{}", dashboard.file),
            dashboard.render(),
        ));
    }
    out.push(file(
        "dashboards/grafana/provisioning/dashboards/gatewayz.yml",
        stack::grafana_dashboards_yml(),
    ));
    out.push(file(
        "dashboards/grafana/provisioning/datasources/prometheus.yml",
        stack::grafana_datasource_yml(),
    ));
    out.push(file(
        "dashboards/prometheus/prometheus.yml",
        stack::prometheus_yml(),
    ));
    for rule_file in rules::files() {
        out.push(file(
            format!("dashboards/prometheus/rules/{}", rule_file.file),
            rule_file.render(),
        ));
    }
    for (name, contents) in rules::test_files() {
        out.push(file(
            format!("dashboards/prometheus/tests/{name}"),
            contents,
        ));
    }
    out.push(file(
        "dashboards/alertmanager/alertmanager.yml",
        stack::alertmanager_yml(),
    ));
    out
}

/// Writes (or, in check mode, checks) every generated file; the error lists every stale one.
pub fn run(mode: Mode) -> Result {
    let root = workspace_root();
    let generated = generated();
    let mut problems: Vec<String> = generated
        .iter()
        .filter_map(|f| ensure_file_contents(&root.join(&f.path), &f.contents, mode).err())
        .collect();
    for orphan in orphans(&root, &generated) {
        let shown = orphan.strip_prefix(&root).unwrap_or(&orphan).display();
        match mode {
            Mode::Check => problems.push(format!(
                "{shown} is no longer generated, run `cargo xtask codegen` to remove it"
            )),
            Mode::Write => match fs::remove_file(&orphan) {
                Ok(()) => eprintln!("removed {shown}"),
                Err(e) => problems.push(format!("cannot remove {shown}: {e}")),
            },
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Files under `dashboards/` that carry the generated header but are not generated any more.
fn orphans(root: &Path, generated: &[GeneratedFile]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk(&root.join("dashboards"), &mut found);
    found
        .into_iter()
        .filter(|path| {
            let relative = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            !generated.iter().any(|g| g.path == relative)
                && fs::read_to_string(path).is_ok_and(|text| says_generated(&relative, &text))
        })
        .collect()
}

/// Whether a file carries the generated-file notice ("Generated ... `cargo xtask codegen`"):
/// on one of its first three lines, or for JSON dashboards at the start of the `description`.
pub fn says_generated(path: &str, contents: &str) -> bool {
    let notice = |line: &str| line.contains("Generated") && line.contains("`cargo xtask codegen`");
    if path.ends_with(".json") {
        contents
            .lines()
            .filter_map(|line| {
                line.trim_start()
                    .strip_prefix("\"description\": \"Generated")
            })
            .any(|rest| notice(&format!("Generated{rest}")))
    } else {
        contents.lines().take(3).any(notice)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Makes `path` hold `contents`; in check mode, says so instead of writing.
pub fn ensure_file_contents(path: &Path, contents: &str, mode: Mode) -> Result {
    if fs::read_to_string(path).is_ok_and(|current| current == contents) {
        return Ok(());
    }
    let shown = path
        .strip_prefix(workspace_root())
        .unwrap_or(path)
        .display();
    match mode {
        Mode::Check => Err(format!(
            "{shown} was not up-to-date, run `cargo xtask codegen`"
        )),
        Mode::Write => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            fs::write(path, contents).map_err(|e| format!("cannot write {shown}: {e}"))?;
            eprintln!("updated {shown}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_fresh() {
        if let Err(stale) = run(Mode::Check) {
            panic!("{stale}");
        }
    }

    #[test]
    fn every_generated_file_says_so_near_its_top() {
        for f in generated() {
            assert!(
                says_generated(&f.path, &f.contents),
                "{} does not say it is generated by `cargo xtask codegen`",
                f.path
            );
        }
    }
}
