//! `gatewayz-artefacts check DIR`: is a directory of artefacts fresh, and do Prometheus's and
//! Alertmanager's own tools accept it?
//!
//! Reads the configuration `generate` copied into the directory (`deploy.toml`), regenerates,
//! and compares file by file; then runs `promtool check rules`, `promtool test rules` (every
//! alert's cases), `promtool check config` and `amtool check-config` on the directory. Every
//! step runs and reports, so one run shows everything that is wrong. The tools are looked up as
//! `$PROMTOOL` and `$AMTOOL`, else on `PATH`; a missing tool fails its step with how to get it.

use std::{
    env, fmt, fs,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{CONFIG_FILE, Deployment, Error, generate};

/// One step of a check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What was checked, e.g. `promtool test rules`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What the step (or the tool) said.
    pub output: String,
}

/// Every step of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// In the order they ran.
    pub steps: Vec<Step>,
}

impl Report {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.passed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(
                f,
                "{} {}",
                if step.passed { "ok  " } else { "FAIL" },
                step.name
            )?;
            for line in step.output.trim_end().lines() {
                writeln!(f, "       {line}")?;
            }
        }
        Ok(())
    }
}

/// A tool the check runs.
#[derive(Debug, Clone, Copy)]
struct Tool {
    binary: &'static str,
    package: &'static str,
}

const PROMTOOL: Tool = Tool {
    binary: "promtool",
    package: "prometheus",
};
const AMTOOL: Tool = Tool {
    binary: "amtool",
    package: "prometheus-alertmanager",
};

/// `$TOOL` (upper case) if set, else the binary on `PATH`.
fn locate(tool: Tool) -> Result<PathBuf, Error> {
    let variable = tool.binary.to_uppercase();
    if let Some(path) = env::var_os(&variable) {
        return Ok(path.into());
    }
    env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(tool.binary))
        .find(|path| path.is_file())
        .ok_or(Error::MissingTool {
            binary: tool.binary,
            package: tool.package,
            variable,
        })
}

/// Runs `tool args` in `dir`.
fn run(name: &str, tool: Tool, args: &[String], dir: &Path) -> Step {
    let binary = match locate(tool) {
        Ok(binary) => binary,
        Err(missing) => {
            return Step {
                name: name.to_owned(),
                passed: false,
                output: missing.to_string(),
            };
        }
    };
    match Command::new(&binary).args(args).current_dir(dir).output() {
        Ok(output) => Step {
            name: name.to_owned(),
            passed: output.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        },
        Err(e) => Step {
            name: name.to_owned(),
            passed: false,
            output: format!("cannot run {}: {e}", binary.display()),
        },
    }
}

/// Checks the artefacts in `dir`: fresh against `dir/deploy.toml`, and accepted by promtool
/// and amtool.
///
/// # Errors
/// When `dir/deploy.toml` cannot be read, or is not a valid configuration; a failing step is
/// not an error but a [`Report`] that did not pass.
pub fn check(dir: &Path) -> Result<Report, Error> {
    let config = dir.join(CONFIG_FILE);
    let text = fs::read_to_string(&config).map_err(|e| Error::io(&config, e))?;
    let deployment = Deployment::from_toml(&text)?;
    let artefacts = generate(&deployment)?;
    let differences = artefacts.differences(dir);
    let mut steps = vec![Step {
        name: format!(
            "freshness: {} files against {CONFIG_FILE}",
            artefacts.files().len()
        ),
        passed: differences.is_empty(),
        output: if differences.is_empty() {
            String::new()
        } else {
            format!(
                "{}\nregenerate with `gatewayz-artefacts generate --config {} --out {}`",
                differences.join("\n"),
                config.display(),
                dir.display()
            )
        },
    }];
    let under = |prefix: &str| -> Vec<String> {
        artefacts
            .files()
            .iter()
            .filter(|f| f.path.starts_with(prefix))
            .map(|f| f.path.clone())
            .collect()
    };
    let with = |words: &[&str], files: Vec<String>| -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).chain(files).collect()
    };
    steps.push(run(
        "promtool check rules",
        PROMTOOL,
        &with(&["check", "rules"], under("prometheus/rules/")),
        dir,
    ));
    // The unit tests and the incident suite take a minute of promtool: not on stale files,
    // whose cases would test rules the configuration no longer makes.
    if differences.is_empty() {
        steps.push(run(
            "promtool test rules",
            PROMTOOL,
            &with(&["test", "rules"], under("prometheus/tests/")),
            dir,
        ));
    } else {
        steps.push(Step {
            name: "promtool test rules".to_owned(),
            passed: false,
            output: "not run: the files are stale (above); regenerate, then check again".to_owned(),
        });
    }
    steps.push(run(
        "promtool check config",
        PROMTOOL,
        &with(
            &["check", "config"],
            vec!["prometheus/prometheus.yml".to_owned()],
        ),
        dir,
    ));
    steps.push(run(
        "amtool check-config",
        AMTOOL,
        &with(
            &["check-config"],
            vec!["alertmanager/alertmanager.yml".to_owned()],
        ),
        dir,
    ));
    Ok(Report { steps })
}
