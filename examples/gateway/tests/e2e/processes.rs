//! The gateway replicas of the end-to-end test, each with its own directory, configuration and
//! log, supervised by `gatewayz_testkit::process` (stopped when dropped, their log's end printed
//! when the test panics). Prometheus and Alertmanager are the testkit's too.

use std::{fs, path::Path, process::Command, time::Duration};

use gatewayz_testkit::process::Process;

/// The gateway binary built for this test run.
fn gateway_binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatewayz-gateway")
}

/// The admin key the replicas accept, to break and repair their simulated providers.
pub(crate) const ADMIN_KEY: &str = "e2e-admin-key-0123456789";

/// One gateway replica: its own data directory, configuration and log, demo traffic on.
pub(crate) struct Replica {
    /// The `replica` label it adds to every series (`gw-1`, ...).
    pub(crate) name: String,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// The demo key it created, to send requests of our own.
    pub(crate) demo_key: String,
    /// Its directory: configuration, data, log.
    home: std::path::PathBuf,
    process: Process,
}

/// A replica that has been started and not yet waited for.
pub(crate) struct Starting {
    name: String,
    home: std::path::PathBuf,
    ready_file: std::path::PathBuf,
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
            home: home.clone(),
            process: Process::start(name, &mut command, home.join("gateway.log"))
                .unwrap_or_else(|why| panic!("{why}")),
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

    /// Customers come and go in its database, through the `keys` command: a trial that
    /// converts, a paid key that is cancelled, a top-up. The Business dashboard's conversion,
    /// churn and projection then have something to show.
    pub(crate) fn customer_history(&self) {
        let keys = |args: &[&str]| {
            let output = Command::new(gateway_binary())
                .arg("--config")
                .arg(self.home.join("config.toml"))
                .arg("--data-dir")
                .arg(self.home.join("data"))
                .arg("keys")
                .args(args)
                .output()
                .expect("the gateway binary runs");
            assert!(
                output.status.success(),
                "keys {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        };
        let prefix = |key: String| key.trim().chars().take(10).collect::<String>();
        let trial = prefix(keys(&["create", "--name", "e2e-trial", "--plan", "trial"]));
        keys(&["convert", &trial]);
        let paid = prefix(keys(&["create", "--name", "e2e-paid", "--plan", "paid"]));
        keys(&["top-up", &paid, "--credits", "5"]);
        keys(&["revoke", &paid]);
    }
}

impl Starting {
    /// Waits until the replica has written its ready file (it then serves).
    pub(crate) fn ready(mut self) -> Replica {
        let ready = self
            .process
            .wait_for_json_file(&self.ready_file, Duration::from_secs(60))
            .unwrap_or_else(|why| panic!("{why}"));
        Replica {
            url: ready["url"].as_str().unwrap().to_owned(),
            demo_key: ready["demo_key"]
                .as_str()
                .expect("a demo key: every provider is simulated")
                .to_owned(),
            name: self.name,
            home: self.home,
            process: self.process,
        }
    }
}
