//! Runs Prometheus's own `promtool`, the judge of what a real server accepts.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

/// The `promtool` binary: `$PROMTOOL`, else the one on `PATH`. Panics with the fix when absent.
pub fn promtool() -> PathBuf {
    if let Some(path) = std::env::var_os("PROMTOOL") {
        return path.into();
    }
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("promtool"))
        .find(|candidate| candidate.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "promtool is not installed; this test needs it. Run `cargo xtask test`, which \
             installs it, or `apt-get install prometheus` (Debian), or set PROMTOOL=/path/to/promtool"
        )
    })
}

/// `promtool check metrics` on `text`; returns its complaints, empty when it accepts.
pub fn check_metrics(text: &str) -> String {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && complaints.trim().is_empty() {
        String::new()
    } else {
        format!("promtool exited with {}: {complaints}", output.status)
    }
}
