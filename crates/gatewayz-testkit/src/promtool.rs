//! Runs Prometheus's own `promtool`, the judge of what a real server accepts.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

/// The `promtool` binary: `$PROMTOOL`, else the one on `PATH`. Panics with the fix when absent.
pub fn promtool() -> PathBuf {
    crate::tools::require(crate::tools::PROMTOOL).unwrap_or_else(|why| panic!("{why}"))
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
