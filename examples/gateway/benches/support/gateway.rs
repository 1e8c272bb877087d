//! The release gateway binary as the benches run it: a configuration of the bench's own, a
//! paid key made with the gateway's `keys` command, a free port, and the ready file waited for.
//! Shared by every bench of the gateway; each uses what it needs of it.

#![allow(dead_code)]

use std::{
    fs,
    path::PathBuf,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

/// A gateway process, killed when dropped (stopped gracefully by [`GatewayProcess::stop`]).
pub(crate) struct GatewayProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// A paid key with a million credits.
    pub(crate) key: String,
    dir: tempfile::TempDir,
}

impl GatewayProcess {
    /// Starts the gateway named `name` (for messages) with the TOML `config`, on SQLite in a
    /// temporary directory or on the PostgreSQL `database`, with `env` added to its
    /// environment; waits up to 30 s for it to serve.
    pub(crate) fn start(
        name: &str,
        config: &str,
        database: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<GatewayProcess, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
        let config_file = dir.path().join("config.toml");
        fs::write(&config_file, config).map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let gateway = |args: &[&str]| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_gatewayz-gateway"));
            command
                .arg("--config")
                .arg(&config_file)
                .arg("--data-dir")
                .arg(&data);
            if let Some(database) = database {
                command.args(["--database", database]);
            }
            command.args(args);
            command
        };
        let output = gateway(&[
            "keys",
            "create",
            "--name",
            "bench",
            "--plan",
            "paid",
            "--credits",
            "1000000",
        ])
        .output()
        .map_err(|e| format!("cannot run the gateway binary: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "keys create for the {name} gateway failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let key = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let ready = dir.path().join("ready.json");
        let log = fs::File::create(dir.path().join("gateway.log")).map_err(|e| e.to_string())?;
        let child = gateway(&["--listen", "127.0.0.1:0", "--no-demo", "--ready-file"])
            .arg(&ready)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start the {name} gateway: {e}"))?;
        let mut process = GatewayProcess {
            child,
            url: String::new(),
            key,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(url) = fs::read_to_string(&ready)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["url"].as_str().map(str::to_owned))
            {
                process.url = url;
                return Ok(process);
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(format!(
                    "the {name} gateway exited with {status}:\n{}",
                    process.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the {name} gateway did not start in 30 s:\n{}",
                    process.log_tail()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log file.
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.path().join("gateway.log")
    }

    /// The last 20 lines of its log.
    pub(crate) fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops it as an operator would (SIGTERM, then SIGKILL after 10 s).
    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
