//! `cargo xtask stack`: the whole stack on this machine, with the shipped configuration.
//!
//! Builds and starts the example gateway (simulated providers, demo traffic) on
//! `127.0.0.1:8080`, Prometheus on `:9090` with `dashboards/prometheus/prometheus.yml` and the
//! rules, and, when Debian's `prometheus-alertmanager` is installed, Alertmanager on `:9093`
//! with `dashboards/alertmanager/alertmanager.yml` and a receiver on `:9095` that prints each
//! notification. Data and logs live under `target/stack/`, so Prometheus keeps its history
//! (7 days by default) from one run to the next. Ctrl-C stops everything: the terminal sends
//! SIGINT to every process of the stack, and each shuts down cleanly.
//!
//! If any of them stops on its own, the others are stopped too and the command fails with the
//! end of that process's log.

use std::{
    env, fs,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use super::{ALERTMANAGER_TARGET, GATEWAY_TARGET, PROMETHEUS_URL, WEBHOOK_URL, Webhooks};
use crate::{
    Result, cargo,
    tools::{self, ALERTMANAGER, PROMETHEUS, Tool},
    workspace_root,
};

const USAGE: &str = "\
usage: cargo xtask stack [--retention DURATION] [--no-alertmanager]

Runs the example gateway, Prometheus (and Alertmanager, if installed) with the shipped
configuration; data and logs in target/stack/. Ctrl-C stops everything.

options:
  --retention DURATION  how long Prometheus keeps samples (default 7d), e.g. 24h, 30d
  --no-alertmanager     do not start Alertmanager even if it is installed
";

/// What `cargo xtask stack` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    retention: String,
    alertmanager: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut options = Options {
        retention: "7d".to_owned(),
        alertmanager: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-alertmanager" => options.alertmanager = false,
            "--retention" => {
                options.retention = args
                    .next()
                    .ok_or("--retention needs a duration, e.g. 30d")?
                    .clone();
            }
            other => match other.strip_prefix("--retention=") {
                Some(value) => options.retention = value.to_owned(),
                None => return Err(format!("unknown stack option `{other}`\n\n{USAGE}")),
            },
        }
    }
    if crate::rules::parse_duration(&options.retention).is_none_or(|millis| millis == 0) {
        return Err(format!(
            "--retention {}: give a Prometheus duration such as 24h, 7d or 30d",
            options.retention
        ));
    }
    Ok(Some(options))
}

/// Runs `cargo xtask stack` with `args` (after `stack`) until one of its processes stops.
pub fn run(args: &[String]) -> Result {
    let Some(options) = parse(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    let prometheus = locate(PROMETHEUS)?;
    let alertmanager = if options.alertmanager {
        match locate(ALERTMANAGER) {
            Ok(path) => Some(path),
            Err(why) => {
                eprintln!("note: running without Alertmanager: {why}");
                None
            }
        }
    } else {
        None
    };
    let root = workspace_root();
    let mut ports = vec![
        ("the gateway", GATEWAY_TARGET),
        ("Prometheus", host_port(PROMETHEUS_URL)),
    ];
    if alertmanager.is_some() {
        ports.push(("Alertmanager", ALERTMANAGER_TARGET));
        ports.push(("the webhook printer", host_port(WEBHOOK_URL)));
    }
    for (what, addr) in &ports {
        if TcpListener::bind(addr).is_err() {
            return Err(format!(
                "{addr} is in use, and the shipped configuration puts {what} there: stop \
                 whatever listens on it (an earlier `cargo xtask stack`?) and retry"
            ));
        }
    }

    cargo(&["build", "--release", "-p", "gatewayz-gateway"])?;
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    let gateway_binary = target.join("release").join("gatewayz-gateway");
    let dir = target.join("stack");
    for sub in ["gateway", "prometheus", "alertmanager"] {
        fs::create_dir_all(dir.join(sub))
            .map_err(|e| format!("cannot create {}: {e}", dir.join(sub).display()))?;
    }

    let admin_key = env::var("GATEWAYZ_ADMIN_KEY").unwrap_or_else(|_| admin_key());
    let ready_file = dir.join("gateway").join("ready.json");
    let _ = fs::remove_file(&ready_file);
    let mut gateway = Command::new(&gateway_binary);
    gateway
        .arg("--data-dir")
        .arg(dir.join("gateway"))
        .args(["--listen", GATEWAY_TARGET, "--ready-file"])
        .arg(&ready_file)
        .env("GATEWAYZ_ADMIN_KEY", &admin_key)
        // Its log goes to a file: no colour codes.
        .env("NO_COLOR", "1");
    let mut processes = vec![Supervised::start("gateway", gateway, &dir)?];
    let ready = wait_for_ready_file(&ready_file, &mut processes[0])?;

    let mut prometheus_command = Command::new(&prometheus);
    prometheus_command
        .arg(format!(
            "--config.file={}",
            root.join("dashboards/prometheus/prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus").display()
        ))
        .arg(format!(
            "--storage.tsdb.retention.time={}",
            options.retention
        ))
        .arg(format!(
            "--web.listen-address={}",
            host_port(PROMETHEUS_URL)
        ));
    processes.push(Supervised::start("prometheus", prometheus_command, &dir)?);
    wait_until_ready(host_port(PROMETHEUS_URL), processes.last_mut().unwrap())?;

    let mut webhooks = None;
    if let Some(binary) = &alertmanager {
        webhooks = Some(Webhooks::start(host_port(WEBHOOK_URL), true)?);
        let mut command = Command::new(binary);
        command
            .arg(format!(
                "--config.file={}",
                root.join("dashboards/alertmanager/alertmanager.yml")
                    .display()
            ))
            .arg(format!(
                "--storage.path={}",
                dir.join("alertmanager").display()
            ))
            .arg(format!("--web.listen-address={ALERTMANAGER_TARGET}"))
            // One Alertmanager, no cluster: without this it gossips on :9094.
            .arg("--cluster.listen-address=");
        processes.push(Supervised::start("alertmanager", command, &dir)?);
        wait_until_ready(ALERTMANAGER_TARGET, processes.last_mut().unwrap())?;
    }

    print_summary(
        &ready,
        &admin_key,
        &options,
        &dir,
        alertmanager.is_some(),
        &root,
    );
    let _webhooks = webhooks;
    loop {
        for process in &mut processes {
            if let Some(status) = process.exited() {
                return Err(format!(
                    "{} stopped ({status}); stopping the rest. End of {}:\n{}",
                    process.name,
                    process.log.display(),
                    tail(&process.log, 20)
                ));
            }
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// `tool`'s path (`$PROMETHEUS`-style override, else `PATH`), or how to install it.
fn locate(tool: Tool) -> Result<PathBuf> {
    let variable = tool.binary.to_uppercase().replace('-', "_");
    if let Some(path) = env::var_os(&variable) {
        return Ok(path.into());
    }
    tools::find(tool.binary).ok_or_else(|| {
        format!(
            "`{binary}` is not installed: install Debian's `{package}` package (`apt-get \
             install {package}`; `cargo xtask test` does it too), or set {variable}=/path/to/{binary}",
            binary = tool.binary,
            package = tool.package,
        )
    })
}

/// `host:port` of a `http://host:port` URL.
fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches('/')
}

/// A key for the admin endpoints of this run, so the printed `curl` can break a provider.
fn admin_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("stack-{:x}{:x}", nanos, std::process::id())
}

/// A child process with its log; stopped (SIGTERM, then SIGKILL) when dropped.
struct Supervised {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Supervised {
    fn start(name: &'static str, mut command: Command, dir: &Path) -> Result<Supervised> {
        let log = dir.join(format!("{name}.log"));
        let file =
            fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {name} ({}): {e}",
                    command.get_program().to_string_lossy()
                )
            })?;
        Ok(Supervised { name, child, log })
    }

    /// Its exit status, if it has exited.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // SIGTERM first: the gateway drains requests and writes usage, Prometheus closes its
        // head block cleanly.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `lines` lines of a log file.
fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits for the gateway's ready file (its URL and demo key) and returns it.
fn wait_for_ready_file(path: &Path, gateway: &mut Supervised) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(ready) = fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
        {
            return Ok(ready);
        }
        if let Some(status) = gateway.exited() {
            return Err(format!(
                "the gateway exited ({status}) before serving:\n{}",
                tail(&gateway.log, 20)
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the gateway did not start in 60 s:\n{}",
                tail(&gateway.log, 20)
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `GET /-/ready` on `addr` answers 200 (Prometheus and Alertmanager both have it).
fn wait_until_ready(addr: &str, process: &mut Supervised) -> Result {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http_status(addr, "/-/ready") == Some(200) {
            return Ok(());
        }
        if let Some(status) = process.exited() {
            return Err(format!(
                "{} exited ({status}) while starting:\n{}",
                process.name,
                tail(&process.log, 20)
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} was not ready on {addr} after 60 s:\n{}",
                process.name,
                tail(&process.log, 20)
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// The status code of `GET path` on `addr`, if anything answers.
fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn print_summary(
    ready: &Value,
    admin_key: &str,
    options: &Options,
    dir: &Path,
    alertmanager: bool,
    root: &Path,
) {
    let url = ready["url"].as_str().unwrap_or_default();
    let shown = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    // OpenRouter serves every model of the simulated configuration, so it carries most of the
    // traffic: breaking it shows failover (the others take its shared models), a model with no
    // other provider failing, and the alerts. A provider that serves nothing at the moment
    // (failover ranks it below OpenRouter) can be broken without anything to see.
    let simulators: Vec<&String> = ready["simulators"]
        .as_object()
        .map(|s| s.keys().collect())
        .unwrap_or_default();
    let provider = simulators
        .iter()
        .find(|name| name.as_str() == "openrouter")
        .or(simulators.first())
        .map_or("openrouter", |name| name.as_str());
    println!();
    println!("The gatewayz stack is running. Ctrl-C stops everything.");
    println!();
    println!("  gateway       {url}  (simulated providers, demo traffic)");
    println!("    OpenAI API  {url}/v1");
    println!("    metrics     {url}/prometheus/metrics/all");
    println!("    summary     {url}/prometheus/metrics/summary");
    if let Some(key) = ready["demo_key"].as_str() {
        println!("    demo key    {key}");
    }
    println!(
        "  Prometheus    {PROMETHEUS_URL}  (targets: {PROMETHEUS_URL}/targets, alerts: \
         {PROMETHEUS_URL}/alerts; keeps {} in {})",
        options.retention,
        shown(&dir.join("prometheus"))
    );
    if alertmanager {
        println!(
            "  Alertmanager  http://{ALERTMANAGER_TARGET}  (notifications to {WEBHOOK_URL} are \
             printed here)"
        );
    } else {
        println!("  Alertmanager  not running");
    }
    println!("  logs          {}/*.log", shown(dir));
    println!();
    println!("Break a simulated provider to watch failover, the health panels and the alerts");
    println!(
        "(GatewayzProviderUnavailable fires after about 2 minutes; {{\"outage\": false}} ends it):"
    );
    println!(
        "  curl -X POST {url}/admin/simulator/{provider} -H 'Authorization: Bearer {admin_key}' \\"
    );
    println!("       -H 'Content-Type: application/json' -d '{{\"outage\": true}}'");
    println!();
    println!("Grafana is not started here. To add it, provision it from dashboards/grafana/:");
    println!(
        "  - provisioning/datasources/prometheus.yml -> /etc/grafana/provisioning/datasources/ \
         (url {PROMETHEUS_URL})"
    );
    println!(
        "  - provisioning/dashboards/gatewayz.yml    -> /etc/grafana/provisioning/dashboards/"
    );
    println!(
        "  - *.json                                  -> {}",
        super::GRAFANA_DASHBOARDS_PATH
    );
    println!("  or, with Docker, Grafana on http://127.0.0.1:3000 (admin/admin):");
    println!("  docker run --rm --network host \\");
    println!(
        "    -v \"$PWD/dashboards/grafana/provisioning/datasources:/etc/grafana/provisioning/datasources\" \\"
    );
    println!(
        "    -v \"$PWD/dashboards/grafana/provisioning/dashboards:/etc/grafana/provisioning/dashboards\" \\"
    );
    println!(
        "    -v \"$PWD/dashboards/grafana:{}\" grafana/grafana-oss",
        super::GRAFANA_DASHBOARDS_PATH
    );
    println!("  then open the Gatewayz folder, starting with Gatewayz / Overview.");
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn retention_defaults_to_seven_days_and_can_be_changed() {
        let default = parse(&[]).unwrap().unwrap();
        assert_eq!(default.retention, "7d");
        assert!(default.alertmanager);
        let changed = parse(&args(&["--retention", "30d", "--no-alertmanager"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (changed.retention.as_str(), changed.alertmanager),
            ("30d", false)
        );
        assert_eq!(
            parse(&args(&["--retention=24h"]))
                .unwrap()
                .unwrap()
                .retention,
            "24h"
        );
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        assert!(
            parse(&args(&["--retention", "week"]))
                .unwrap_err()
                .contains("duration")
        );
        assert!(
            parse(&args(&["--retention"]))
                .unwrap_err()
                .contains("needs")
        );
        assert!(parse(&args(&["--bogus"])).unwrap_err().contains("--bogus"));
        assert_eq!(parse(&args(&["--help"])).unwrap(), None);
    }
}
