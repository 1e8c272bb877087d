//! A real Alertmanager (Debian's `prometheus-alertmanager` 0.25, or
//! `$PROMETHEUS_ALERTMANAGER`) on a loopback port with its own directory.

use std::{fs, path::Path, process::Command, time::Duration};

use crate::{
    process::{Process, free_port},
    tools,
};

/// A running Alertmanager (Debian's `prometheus-alertmanager` 0.25, or `$PROMETHEUS_ALERTMANAGER`)
/// on a loopback port, clustering off; stopped when dropped.
#[derive(Debug)]
pub struct Alertmanager {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    process: Process,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (written as `dir/alertmanager.yml`), state in
    /// `dir/data`, and waits until it is ready.
    ///
    /// # Panics
    /// When it is not installed (with how to install it), or does not get ready (with its log).
    pub fn start(dir: &Path, config: &str) -> Alertmanager {
        let binary = tools::require(tools::ALERTMANAGER).unwrap_or_else(|why| panic!("{why}"));
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let file = dir.join("alertmanager.yml");
        fs::write(&file, config).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let own = format!("127.0.0.1:{}", free_port());
        let mut command = Command::new(binary);
        command
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={own}"))
            // One Alertmanager, no cluster: without this it gossips on :9094.
            .arg("--cluster.listen-address=");
        let mut process =
            Process::start("alertmanager", &mut command, dir.join("alertmanager.log"))
                .unwrap_or_else(|why| panic!("{why}"));
        let url = format!("http://{own}");
        process
            .wait_for_http(&format!("{url}/-/ready"), Duration::from_secs(60))
            .unwrap_or_else(|why| panic!("{why}"));
        Alertmanager { url, process }
    }

    /// `host:port`, as Prometheus's alerting target.
    pub fn target(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Panics, with the end of its log, if it has exited.
    pub fn assert_running(&mut self) {
        self.process.assert_running();
    }
}
