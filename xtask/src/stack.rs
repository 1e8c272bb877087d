//! `cargo xtask stack`: the whole stack on this machine, with the generated configuration.
//!
//! Builds and starts the example gateway (simulated providers, demo traffic) where
//! `dashboards/deploy.toml` scrapes it (`127.0.0.1:8080`; with `--replicas N`, N replicas on
//! consecutive ports sharing their circuit breakers through a Redis and their keys, credits and
//! ledger through a PostgreSQL, both started here first (`stack/fleet.rs`), and a Prometheus
//! configuration generated again to scrape them all, under `target/stack/config/`), Prometheus
//! where it says (`:9090`) with `dashboards/prometheus/prometheus.yml` and the rules, and, when
//! Debian's `prometheus-alertmanager` is installed, Alertmanager (`:9093`) with
//! `dashboards/alertmanager/alertmanager.yml` and a receiver where its webhooks point (`:9095`)
//! that prints each notification. Data and logs live under `target/stack/`, so Prometheus keeps its
//! history (7 days by default) from one run to the next. Ctrl-C stops everything: the terminal
//! sends SIGINT to every process of the stack (they share its process group) but PostgreSQL, each
//! shuts down cleanly, and this command stops PostgreSQL once the gateways have written their
//! last charges.
//!
//! If any of them stops on its own, the others are stopped too and the command fails with the
//! end of that process's log.

mod fleet;

use std::{
    env, fs,
    future::poll_fn,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::Poll,
    thread,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use gatewayz_artefacts::{Deployment, generate};
use gatewayz_testkit::{
    process::Process,
    tools::{self, ALERTMANAGER, PROMETHEUS, Tool},
    webhook::Webhooks,
};
use serde_json::Value;

use crate::{Result, cargo, codegen, workspace_root};

use self::fleet::Fleet;

/// How long a process gets to shut down cleanly (the gateway drains requests and writes usage,
/// Prometheus closes its head block) before it is killed.
const GRACE: Duration = Duration::from_secs(15);

/// Where the stack's processes listen, from the generated configuration.
struct Addresses {
    gateway: String,
    prometheus: String,
    alertmanager: Option<String>,
    webhooks: String,
    dashboards_path: String,
}

impl Addresses {
    fn of(deployment: &Deployment) -> Result<Addresses> {
        let host_port = |url: &str| {
            url.trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        let webhooks = host_port(&deployment.alertmanager.pager_url);
        if host_port(&deployment.alertmanager.chat_url) != webhooks {
            return Err(format!(
                "{}: the stack prints notifications on one address; give the pager and the chat                  webhooks the same host:port",
                codegen::CONFIG
            ));
        }
        Ok(Addresses {
            gateway: deployment.scrape.targets[0].clone(),
            prometheus: deployment.prometheus.target().to_owned(),
            alertmanager: deployment.prometheus.alertmanagers.first().cloned(),
            webhooks,
            dashboards_path: deployment.grafana.dashboards_path.clone(),
        })
    }
}

const USAGE: &str = "\
usage: cargo xtask stack [--replicas N] [--retention DURATION] [--no-alertmanager]

Runs the example gateway, Prometheus (and Alertmanager, if installed) with the shipped
configuration; data and logs in target/stack/. Ctrl-C stops everything.

options:
  --replicas N          run N gateway replicas (1 to 16, default 1) on consecutive ports from
                        the configured one, sharing their circuit breakers through a Redis
                        and their keys, credits and ledger through a PostgreSQL started here
                        (Debian's redis-server and postgresql), with one demo key for all;
                        Prometheus scrapes them all
  --retention DURATION  how long Prometheus keeps samples (default 7d), e.g. 24h, 30d
  --no-alertmanager     do not start Alertmanager even if it is installed
";

/// Most replicas `--replicas` starts.
const MAX_REPLICAS: usize = 16;

/// What `cargo xtask stack` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    retention: String,
    alertmanager: bool,
    replicas: usize,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut options = Options {
        retention: "7d".to_owned(),
        alertmanager: true,
        replicas: 1,
    };
    let replicas = |value: &str| {
        value
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_REPLICAS).contains(n))
            .ok_or_else(|| format!("--replicas {value}: give a number from 1 to {MAX_REPLICAS}"))
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-alertmanager" => options.alertmanager = false,
            "--replicas" => {
                options.replicas =
                    replicas(args.next().ok_or("--replicas needs a number, e.g. 3")?)?;
            }
            "--retention" => {
                options.retention = args
                    .next()
                    .ok_or("--retention needs a duration, e.g. 30d")?
                    .clone();
            }
            other => {
                if let Some(value) = other.strip_prefix("--retention=") {
                    options.retention = value.to_owned();
                } else if let Some(value) = other.strip_prefix("--replicas=") {
                    options.replicas = replicas(value)?;
                } else {
                    return Err(format!("unknown stack option `{other}`\n\n{USAGE}"));
                }
            }
        }
    }
    let valid = options
        .retention
        .parse::<gatewayz_artefacts::Duration>()
        .is_ok_and(|d| d.millis() > 0);
    if !valid {
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
    // The stack runs what codegen wrote: refuse to run stale files.
    codegen::run(codegen::Mode::Check)?;
    let deployment = codegen::deployment()?;
    let addresses = Addresses::of(&deployment)?;
    let gateways = replica_addresses(&addresses.gateway, options.replicas)?;
    // Checked before anything starts, for an error that says how to install it.
    if options.replicas > 1 {
        for tool in fleet::TOOLS {
            locate(*tool)?;
        }
    }
    let prometheus = locate(PROMETHEUS)?;
    let alertmanager = match (&addresses.alertmanager, options.alertmanager) {
        (Some(_), true) => match locate(ALERTMANAGER) {
            Ok(path) => Some(path),
            Err(why) => {
                eprintln!("note: running without Alertmanager: {why}");
                None
            }
        },
        _ => None,
    };
    let root = workspace_root();
    let mut ports: Vec<(&str, &str)> = gateways
        .iter()
        .map(|addr| ("a gateway replica", addr.as_str()))
        .collect();
    ports.push(("Prometheus", addresses.prometheus.as_str()));
    if let (Some(_), Some(target)) = (&alertmanager, &addresses.alertmanager) {
        ports.push(("Alertmanager", target));
        ports.push(("the webhook printer", &addresses.webhooks));
    }
    for (what, addr) in &ports {
        if TcpListener::bind(addr).is_err() {
            return Err(format!(
                "{addr} is in use, and the generated configuration puts {what} there: stop \
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
    // One replica keeps the single-gateway layout (and its data) of earlier runs.
    let names: Vec<String> = match options.replicas {
        1 => vec!["gateway".to_owned()],
        n => (1..=n).map(|i| format!("gateway-{i}")).collect(),
    };
    for sub in names
        .iter()
        .map(String::as_str)
        .chain(["prometheus", "alertmanager"])
    {
        fs::create_dir_all(dir.join(sub))
            .map_err(|e| format!("cannot create {}: {e}", dir.join(sub).display()))?;
    }

    // From here on, Ctrl-C is the stack's to handle: the loop below stops it in order.
    let stop = stop_requested()?;
    // What the replicas share, ready before the first of them starts (the key store migrated,
    // the demo key in it); declared before them, so stopped after they have drained.
    let data_dirs: Vec<PathBuf> = names.iter().map(|name| dir.join(name)).collect();
    let mut fleet = match options.replicas {
        1 => None,
        _ => Some(Fleet::start(&dir, &gateway_binary, &data_dirs)?),
    };

    let admin_key = env::var("GATEWAYZ_ADMIN_KEY").unwrap_or_else(|_| admin_key());
    let mut processes = Vec::new();
    let mut ready = Vec::new();
    for ((name, listen), data_dir) in names.iter().zip(&gateways).zip(&data_dirs) {
        let ready_file = data_dir.join("ready.json");
        let _ = fs::remove_file(&ready_file);
        let mut gateway = replica_command(
            &gateway_binary,
            Replica {
                name,
                listen,
                data_dir,
                ready_file: &ready_file,
            },
            fleet.as_ref().map(Shared::of),
        );
        gateway.env("GATEWAYZ_ADMIN_KEY", &admin_key);
        let mut process = start(name, &mut gateway, &dir)?;
        ready.push(process.wait_for_json_file(&ready_file, Duration::from_secs(60))?);
        processes.push(process);
    }
    let prometheus_config = match options.replicas {
        1 => root.join("dashboards/prometheus/prometheus.yml"),
        _ => fleet_prometheus_config(deployment, &gateways, &dir.join("config"))?,
    };

    let mut prometheus_command = Command::new(&prometheus);
    prometheus_command
        .arg(format!("--config.file={}", prometheus_config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus").display()
        ))
        .arg(format!(
            "--storage.tsdb.retention.time={}",
            options.retention
        ))
        .arg(format!("--web.listen-address={}", addresses.prometheus));
    let prometheus_url = format!("http://{}", addresses.prometheus);
    let mut prometheus_process = start("prometheus", &mut prometheus_command, &dir)?;
    prometheus_process.wait_for_http(
        &format!("{prometheus_url}/-/ready"),
        Duration::from_secs(60),
    )?;
    processes.push(prometheus_process);

    let mut webhooks = None;
    if let (Some(binary), Some(target)) = (&alertmanager, &addresses.alertmanager) {
        webhooks = Some(Webhooks::start(&addresses.webhooks, true)?);
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
            .arg(format!("--web.listen-address={target}"))
            // One Alertmanager, no cluster: without this it gossips on :9094.
            .arg("--cluster.listen-address=");
        let mut process = start("alertmanager", &mut command, &dir)?;
        process.wait_for_http(&format!("http://{target}/-/ready"), Duration::from_secs(60))?;
        processes.push(process);
    }

    let started = Started {
        ready: &ready,
        fleet: fleet.as_ref(),
        gateway_binary: &gateway_binary,
    };
    print_summary(
        &started,
        &admin_key,
        &options,
        &dir,
        &addresses,
        alertmanager.is_some(),
        &root,
    );
    let _webhooks = webhooks;
    loop {
        let running = processes
            .iter_mut()
            .try_for_each(|process| {
                process
                    .check_running()
                    .map_err(|why| format!("{why}\nstopping the rest"))
            })
            .and_then(|()| fleet.as_mut().map_or(Ok(()), Fleet::check_running));
        // Read after the processes: a Ctrl-C stops them too, and is no failure.
        if stop.load(Ordering::SeqCst) {
            eprintln!(
                "stopping the stack: the gateways finish their requests and write their \
                 charges, then the rest stops"
            );
            // Dropped in order: the gateways (each waited for), Prometheus, Alertmanager,
            // then Redis and PostgreSQL.
            return Ok(());
        }
        running?;
        thread::sleep(Duration::from_millis(500));
    }
}

/// A flag set when Ctrl-C (SIGINT, which the terminal sends to every process of the stack) or
/// SIGTERM reaches this process, which then no longer ends at once: it stops the stack in order,
/// so that PostgreSQL (kept out of the terminal's reach) outlives the replicas that write their
/// last charges to it.
fn stop_requested() -> Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let cannot = |e: std::io::Error| format!("cannot listen for Ctrl-C: {e}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(cannot)?;
    // Registered here, before anything starts: from now on the signals only set the flag.
    let (mut interrupt, mut terminate) = {
        let _context = runtime.enter();
        (
            signal(SignalKind::interrupt()).map_err(cannot)?,
            signal(SignalKind::terminate()).map_err(cannot)?,
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    thread::spawn(move || {
        runtime.block_on(poll_fn(|cx| {
            if interrupt.poll_recv(cx).is_ready() || terminate.poll_recv(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        flag.store(true, Ordering::SeqCst);
    });
    Ok(stop)
}

/// Where one gateway of the stack listens and keeps its files.
struct Replica<'a> {
    name: &'a str,
    listen: &'a str,
    data_dir: &'a Path,
    ready_file: &'a Path,
}

/// Where the replicas of a fleet find what they share.
#[derive(Debug, Clone, Copy)]
struct Shared<'a> {
    /// The Redis of their circuit breakers.
    redis: &'a str,
    /// The PostgreSQL of their keys, credits and ledger.
    database: &'a str,
}

impl<'a> Shared<'a> {
    fn of(fleet: &'a Fleet) -> Shared<'a> {
        Shared {
            redis: &fleet.redis.url,
            database: &fleet.postgres.url,
        }
    }
}

/// The command line of one gateway; a replica of a fleet is named, and shares the fleet's
/// circuit breakers (`--redis`) and key store (`--database`).
fn replica_command(binary: &Path, replica: Replica<'_>, shared: Option<Shared<'_>>) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--data-dir")
        .arg(replica.data_dir)
        .args(["--listen", replica.listen, "--ready-file"])
        .arg(replica.ready_file)
        // Its log goes to a file: no colour codes.
        .env("NO_COLOR", "1");
    if let Some(shared) = shared {
        command.args([
            "--replica",
            replica.name,
            "--redis",
            shared.redis,
            "--database",
            shared.database,
        ]);
    }
    command
}

/// `replicas` consecutive addresses from `first` (`127.0.0.1:8080`, `127.0.0.1:8081`, ...).
fn replica_addresses(first: &str, replicas: usize) -> Result<Vec<String>> {
    let (host, port) = first
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .ok_or_else(|| {
            format!(
                "{}: the scrape target `{first}` is not host:port",
                codegen::CONFIG
            )
        })?;
    (0..replicas)
        .map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| port.checked_add(i))
                .map(|port| format!("{host}:{port}"))
                .ok_or_else(|| format!("{replicas} replicas from port {port} pass port 65535"))
        })
        .collect()
}

/// The shipped Prometheus configuration and rules, generated again with every replica as a
/// scrape target, written under `dir`; returns the configuration file.
fn fleet_prometheus_config(
    mut deployment: Deployment,
    gateways: &[String],
    dir: &Path,
) -> Result<PathBuf> {
    deployment.scrape.targets = gateways.to_vec();
    let artefacts = generate(&deployment).map_err(|e| format!("{}: {e}", codegen::CONFIG))?;
    for file in artefacts.files() {
        let Some(relative) = file.path.strip_prefix("prometheus/") else {
            continue;
        };
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::write(&path, &file.contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(dir.join("prometheus.yml"))
}

/// Starts one process of the stack, its log in `dir`, stopped cleanly when dropped.
fn start(name: &str, command: &mut Command, dir: &Path) -> Result<Process> {
    Ok(Process::start(name, command, dir.join(format!("{name}.log")))?.stop_gracefully(GRACE))
}

/// `tool`'s path (`$PROMETHEUS`-style override, else `PATH`), or how to install it.
fn locate(tool: Tool) -> Result<PathBuf> {
    tools::require(tool).map_err(|_| {
        format!(
            "`{binary}` is not installed: install Debian's `{package}` package (`apt-get \
             install {package}`; `cargo xtask test` does it too), or set {variable}=/path/to/{binary}",
            binary = tool.binary,
            package = tool.package,
            variable = tool.binary.to_uppercase().replace('-', "_"),
        )
    })
}

/// A key for the admin endpoints of this run, so the printed `curl` can break a provider.
fn admin_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("stack-{:x}{:x}", nanos, std::process::id())
}

/// What the stack's gateways said when ready, and what a fleet of them shares.
struct Started<'a> {
    ready: &'a [Value],
    fleet: Option<&'a Fleet>,
    gateway_binary: &'a Path,
}

fn print_summary(
    started: &Started<'_>,
    admin_key: &str,
    options: &Options,
    dir: &Path,
    addresses: &Addresses,
    alertmanager: bool,
    root: &Path,
) {
    let prometheus_url = format!("http://{}", addresses.prometheus);
    let webhook_url = format!("http://{}", addresses.webhooks);
    let Started {
        ready,
        fleet,
        gateway_binary,
    } = *started;
    let first = &ready[0];
    let url = first["url"].as_str().unwrap_or_default();
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
    let simulators: Vec<&String> = first["simulators"]
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
    for replica in ready {
        let url = replica["url"].as_str().unwrap_or_default();
        println!("  gateway       {url}  (simulated providers, demo traffic)");
        println!("    OpenAI API  {url}/v1");
        println!("    metrics     {url}/prometheus/metrics/all");
        println!("    summary     {url}/prometheus/metrics/summary");
        match (replica["demo_key"].as_str(), fleet) {
            (Some(key), None) => println!("    demo key    {key}"),
            // A replica that found the fleet's key in its data directory says so; one that
            // made its own (still in the shared store) is shown, not hidden.
            (Some(key), Some(fleet)) if key != fleet.demo_key => {
                println!("    demo key    {key}  (its demo traffic's own key)");
            }
            _ => {}
        }
    }
    if let Some(fleet) = fleet {
        let database = &fleet.postgres.url;
        println!(
            "  demo key      {}  (one key, accepted by every replica)",
            fleet.demo_key
        );
        println!(
            "  Redis         {}  (the replicas' shared circuit breakers; see docs/fleet.md)",
            fleet.redis.url
        );
        println!(
            "  PostgreSQL    {database}  (the replicas' shared keys, credits and ledger; see \
             docs/fleet.md)"
        );
        println!(
            "    new keys    {} --database {database} keys create --name alice --plan paid \
             --credits 25",
            shown(gateway_binary)
        );
        println!(
            "                works on every replica at once (a new database each run: keys last \
             until Ctrl-C)"
        );
    }
    println!(
        "  Prometheus    {prometheus_url}  (targets: {prometheus_url}/targets, alerts: \
         {prometheus_url}/alerts; keeps {} in {})",
        options.retention,
        shown(&dir.join("prometheus"))
    );
    if alertmanager {
        println!(
            "  Alertmanager  http://{}  (notifications to {webhook_url} are printed here)",
            addresses.alertmanager.as_deref().unwrap_or_default()
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
         (url {prometheus_url})"
    );
    println!(
        "  - provisioning/dashboards/gatewayz.yml    -> /etc/grafana/provisioning/dashboards/"
    );
    println!(
        "  - *.json                                  -> {}",
        addresses.dashboards_path
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
        addresses.dashboards_path
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
    fn replicas_default_to_one_and_take_consecutive_ports() {
        assert_eq!(parse(&[]).unwrap().unwrap().replicas, 1);
        assert_eq!(
            parse(&args(&["--replicas", "3"]))
                .unwrap()
                .unwrap()
                .replicas,
            3
        );
        assert_eq!(
            parse(&args(&["--replicas=2"])).unwrap().unwrap().replicas,
            2
        );
        for bad in ["0", "17", "three"] {
            let error = parse(&args(&["--replicas", bad])).unwrap_err();
            assert!(error.contains("from 1 to 16"), "{error}");
        }
        assert_eq!(
            replica_addresses("127.0.0.1:8080", 3).unwrap(),
            ["127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082"]
        );
        assert!(replica_addresses("127.0.0.1:65535", 2).is_err());
    }

    #[test]
    fn every_replica_of_a_fleet_shares_the_circuits_and_the_key_store() {
        let replica = Replica {
            name: "gateway-2",
            listen: "127.0.0.1:8081",
            data_dir: Path::new("/stack/gateway-2"),
            ready_file: Path::new("/stack/gateway-2/ready.json"),
        };
        let words = |command: &Command| -> Vec<String> {
            command
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let shared = Shared {
            redis: "redis://127.0.0.1:6400",
            database: "postgres://postgres@127.0.0.1:5400/postgres",
        };
        let binary = Path::new("gatewayz-gateway");
        let args = words(&replica_command(binary, replica, Some(shared)));
        let value = |flag: &str| {
            let at = args.iter().position(|a| a == flag);
            at.and_then(|at| args.get(at + 1)).map(String::as_str)
        };
        assert_eq!(value("--replica"), Some("gateway-2"), "{args:?}");
        assert_eq!(value("--redis"), Some(shared.redis), "{args:?}");
        assert_eq!(value("--database"), Some(shared.database), "{args:?}");
        assert_eq!(value("--data-dir"), Some("/stack/gateway-2"), "{args:?}");
        assert_eq!(value("--listen"), Some("127.0.0.1:8081"), "{args:?}");

        // One gateway keeps its own SQLite key store and local breakers.
        let replica = Replica {
            name: "gateway",
            listen: "127.0.0.1:8080",
            data_dir: Path::new("/stack/gateway"),
            ready_file: Path::new("/stack/gateway/ready.json"),
        };
        let alone = words(&replica_command(binary, replica, None));
        for flag in ["--replica", "--redis", "--database"] {
            assert!(!alone.contains(&flag.to_owned()), "{alone:?}");
        }
    }

    #[test]
    fn ctrl_c_asks_the_stack_to_stop_rather_than_ending_it() {
        let stop = stop_requested().unwrap();
        assert!(!stop.load(Ordering::SeqCst));
        // Without the handler, SIGINT would end this test process.
        let sent = Command::new("kill")
            .args(["-INT", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !stop.load(Ordering::SeqCst) {
            assert!(std::time::Instant::now() < deadline, "SIGINT not seen");
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_missing_server_says_which_package_installs_it() {
        let missing = Tool {
            binary: "gatewayz-no-such-server",
            package: "postgresql",
        };
        let error = locate(missing).unwrap_err();
        assert!(error.contains("apt-get install postgresql"), "{error}");
        assert!(error.contains("GATEWAYZ_NO_SUCH_SERVER="), "{error}");
    }

    #[test]
    fn a_fleet_is_scraped_replica_by_replica_with_the_shipped_rules() {
        let dir = std::env::temp_dir().join(format!("gatewayz-stack-test-{}", std::process::id()));
        let gateways = replica_addresses("127.0.0.1:8080", 3).unwrap();
        let config =
            fleet_prometheus_config(codegen::deployment().unwrap(), &gateways, &dir).unwrap();
        let text = fs::read_to_string(&config).unwrap();
        for target in &gateways {
            assert!(
                text.contains(&format!("'{target}'")),
                "{target} not scraped:\n{text}"
            );
        }
        for rules in ["rules/recording.yml", "rules/alerts.yml"] {
            assert!(
                dir.join(rules).is_file(),
                "{rules} missing beside the configuration"
            );
        }
        let promtool = tools::require(tools::PROMTOOL).unwrap_or_else(|why| panic!("{why}"));
        let output = Command::new(promtool)
            .args(["check", "config"])
            .arg(&config)
            .output()
            .unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert!(output.status.success(), "{output:?}");
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
    fn the_stack_listens_where_the_generated_configuration_says() {
        let addresses = Addresses::of(&Deployment::default()).unwrap();
        assert_eq!(addresses.gateway, "127.0.0.1:8080");
        assert_eq!(addresses.prometheus, "127.0.0.1:9090");
        assert_eq!(addresses.alertmanager.as_deref(), Some("127.0.0.1:9093"));
        assert_eq!(addresses.webhooks, "127.0.0.1:9095");
        let mut split = Deployment::default();
        split.alertmanager.chat_url = "http://127.0.0.1:9096/chat".to_owned();
        assert!(
            Addresses::of(&split)
                .err()
                .is_some_and(|e| e.contains("same host:port"))
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
