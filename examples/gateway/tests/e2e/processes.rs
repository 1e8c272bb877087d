//! The processes of the end-to-end test: gateway replicas, Prometheus and Alertmanager, each
//! with its own directory and log file, killed when dropped: at the end of the test, and also
//! when it panics, in which case the end of each log is printed to tell why.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The gateway binary built for this test run.
fn gateway_binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatewayz-gateway")
}

/// The admin key the replicas accept, to break and repair their simulated providers.
pub(crate) const ADMIN_KEY: &str = "e2e-admin-key-0123456789";

/// A free loopback port: bound on port 0, then released for the process that will listen on it.
///
/// Another process could take it in between; on a test machine that race is rare and shows up
/// as a clear "address in use" in the log of the process that lost it.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A child process and its log; killed when dropped.
pub(crate) struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` with its stdout and stderr in `log`.
    pub(crate) fn spawn(name: &str, command: &mut Command, log: PathBuf) -> Process {
        let file = fs::File::create(&log).expect("a log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("a log file handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Process {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// The last `lines` lines of its log.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Panics, with the end of its log, if it has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited with {status}; end of its log:\n{}",
                self.name,
                self.log_tail(40)
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- end of the log of {} ({}) ---\n{}\n",
                self.name,
                self.log.display(),
                self.log_tail(25)
            );
        }
    }
}

/// One gateway replica: its own data directory, configuration and log, demo traffic on.
pub(crate) struct Replica {
    /// The `replica` label it adds to every series (`gw-1`, ...).
    pub(crate) name: String,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// The demo key it created, to send requests of our own.
    pub(crate) demo_key: String,
    process: Process,
}

/// A replica that has been started and not yet waited for.
pub(crate) struct Starting {
    name: String,
    ready_file: PathBuf,
    process: Process,
}

impl Replica {
    /// Starts replica `name` under `dir` with the configuration `config` (TOML), on an
    /// ephemeral port. Call [`Starting::ready`] to wait until it serves.
    pub(crate) fn start(dir: &Path, name: &str, config: &str) -> Starting {
        let home = dir.join(name);
        fs::create_dir_all(&home).unwrap();
        fs::write(home.join("config.toml"), config).unwrap();
        let ready_file = home.join("ready.json");
        let mut command = Command::new(gateway_binary());
        command
            .arg("--config")
            .arg(home.join("config.toml"))
            .arg("--data-dir")
            .arg(home.join("data"))
            .args(["--listen", "127.0.0.1:0", "--replica", name, "--ready-file"])
            .arg(&ready_file)
            .env("GATEWAYZ_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", "info,actix_server=warn")
            .env("NO_COLOR", "1");
        Starting {
            name: name.to_owned(),
            process: Process::spawn(name, &mut command, home.join("gateway.log")),
            ready_file,
        }
    }

    /// `host:port`, as Prometheus's target.
    pub(crate) fn target(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Panics if the process has exited.
    pub(crate) fn assert_running(&mut self) {
        self.process.assert_running();
    }
}

impl Starting {
    /// Waits until the replica has written its ready file (it then serves).
    pub(crate) fn ready(mut self) -> Replica {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = fs::read_to_string(&self.ready_file)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok());
            if let Some(ready) = ready {
                return Replica {
                    url: ready["url"].as_str().unwrap().to_owned(),
                    demo_key: ready["demo_key"]
                        .as_str()
                        .expect("a demo key: every provider is simulated")
                        .to_owned(),
                    name: self.name,
                    process: self.process,
                };
            }
            self.process.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} did not start in 60 s:\n{}",
                self.name,
                self.process.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Prometheus or Alertmanager, started by hand on a loopback port with its own files.
pub(crate) struct Server {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    process: Process,
}

impl Server {
    /// Prometheus on `port` with `config` (written as `dir/prometheus.yml`; rule files are
    /// relative to it), data in `dir/data`.
    pub(crate) fn prometheus(binary: &Path, dir: &Path, port: u16, config: &str) -> Server {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("prometheus.yml"), config).unwrap();
        let mut command = Command::new(binary);
        command
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        Server {
            url: format!("http://127.0.0.1:{port}"),
            process: Process::spawn("prometheus", &mut command, dir.join("prometheus.log")),
        }
    }

    /// Alertmanager on `port` with `config` (written as `dir/alertmanager.yml`), state in
    /// `dir/data`, clustering off.
    pub(crate) fn alertmanager(binary: &Path, dir: &Path, port: u16, config: &str) -> Server {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("alertmanager.yml"), config).unwrap();
        let mut command = Command::new(binary);
        command
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=");
        Server {
            url: format!("http://127.0.0.1:{port}"),
            process: Process::spawn("alertmanager", &mut command, dir.join("alertmanager.log")),
        }
    }

    /// `host:port`.
    pub(crate) fn target(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Panics if the process has exited.
    pub(crate) fn assert_running(&mut self) {
        self.process.assert_running();
    }
}
