//! A fleet end to end: three gateway replicas sharing their circuit breakers through a real
//! Redis started by the test, in front of one simulated provider they all call (as a fleet
//! calls one real provider), on loopback ports in a temporary directory.
//!
//! What it proves: a provider seen failing by one replica is refused by the other two within a
//! second; once it recovers, the fleet sends exactly `circuit.half_open_probes` probes in the
//! cool-down, not that many per replica (counted at the provider); Redis killed mid-traffic
//! costs no client an error, shows on `/health` and in `gatewayz_circuit_shared_state`, and
//! sharing resumes when it is back. A second test measures the calls one outage costs with
//! shared breakers against local ones (the figure in `docs/performance.md`).
//!
//! The key store, on a real PostgreSQL started by the test and shared by three replicas: a key
//! created once works on every replica at once, and its usage made on one is read on another;
//! 3 replicas x 8 clients draining a key with small credits overspend by no more than the bound
//! `docs/limits.md` states (the figure in `docs/fleet.md`); PostgreSQL killed and restarted
//! mid-traffic costs clients clear 503s while it is down, never a 500 and never a charge for an
//! answer they received, and service resumes by itself.
//!
//! It needs Debian's `redis-server` and `postgresql`; `cargo xtask test` installs them. Without
//! them, it fails, saying so. In the circuit tests the key store is each replica's own SQLite
//! database: every replica is given its own key.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    thread,
    time::{Duration, Instant},
};

use gatewayz_gateway::{
    config::SimulatedConfig,
    simulator::SimulatedProvider,
    store::{Database, NANO},
};
use gatewayz_metrics::Metrics;
use gatewayz_testkit::{
    exposition::parse, http::Http, postgres::Postgres, process::Process, redis::Redis,
};
use serde_json::{Value, json};

/// The model both providers serve: `anthropic` (the shared one the test breaks) is preferred,
/// `openrouter` (each replica's own simulator) takes over.
const MODEL: &str = "claude-3-haiku";

/// The admin key the replicas accept, for the circuit admin actions.
const ADMIN_KEY: &str = "fleet-admin-key-0123456789";

fn gateway_binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatewayz-gateway")
}

/// A replica's configuration, calling the shared provider at `anthropic`. Circuits open after
/// five failures in a row and cool down for `cool_down` seconds (never longer); ticks every
/// 200 ms publish what they follow.
fn config(anthropic: &str, cool_down: u32) -> String {
    format!(
        r#"
[server]
upstream_timeout_seconds = 10.0
health_tick_seconds = 0.2
max_in_flight_per_key = 1000

[demo]
enabled = false

[health]
circuit = {{ cool_down = "{cool_down}s", max_cool_down = "{cool_down}s", rate_window = "60s", min_calls = 1000 }}

[routing]
policy = "priority"

[[providers]]
name = "anthropic"
base_url = "{anthropic}"
models = [{{ name = "{MODEL}", input_price_per_million = 0.25, output_price_per_million = 1.25 }}]

[[providers]]
name = "openrouter"
simulated = {{ latency_median_ms = 5, latency_sigma = 0.1, time_to_first_token_ms = 5, tokens_per_second = 100000, error_rate = 0.0 }}
models = [{{ name = "{MODEL}", input_price_per_million = 0.30, output_price_per_million = 1.50 }}]
"#
    )
}

struct Replica {
    url: String,
    key: String,
    _process: Process,
}

/// What the replicas share: circuits through Redis, keys through PostgreSQL (each `None`: each
/// replica its own).
#[derive(Clone, Copy, Default)]
struct Shared<'a> {
    redis: Option<&'a str>,
    database: Option<&'a str>,
}

/// Creates a paid key with `credits` with the gateway's `keys` command, in the data directory
/// `home/data` or the shared `database`.
fn create_key(home: &Path, database: Option<&str>, credits: &str) -> String {
    let mut keys = Command::new(gateway_binary());
    keys.arg("--data-dir").arg(home.join("data"));
    if let Some(database) = database {
        keys.args(["--database", database]);
    }
    keys.args(["keys", "create", "--name", "fleet", "--plan", "paid"])
        .args(["--credits", credits]);
    let output = keys.output().expect("the gateway binary runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Starts replica `name` under `dir` with a cool-down of `cool_down` seconds, sharing what
/// `shared` says.
fn replica(dir: &Path, name: &str, anthropic: &str, cool_down: u32, shared: Shared<'_>) -> Replica {
    let home: PathBuf = dir.join(name);
    fs::create_dir_all(&home).unwrap();
    let config_file = home.join("config.toml");
    fs::write(&config_file, config(anthropic, cool_down)).unwrap();
    let key = create_key(&home, shared.database, "1000");

    let ready_file = home.join("ready.json");
    let mut command = Command::new(gateway_binary());
    command
        .arg("--config")
        .arg(&config_file)
        .arg("--data-dir")
        .arg(home.join("data"))
        .args(["--listen", "127.0.0.1:0", "--replica", name, "--ready-file"])
        .arg(&ready_file)
        .env("RUST_LOG", "info,actix_server=warn")
        .env("GATEWAYZ_ADMIN_KEY", ADMIN_KEY)
        .env("NO_COLOR", "1");
    if let Some(redis) = shared.redis {
        command.args(["--redis", redis]);
    }
    if let Some(database) = shared.database {
        command.args(["--database", database]);
    }
    let mut process = Process::start(name, &mut command, home.join("gateway.log"))
        .unwrap_or_else(|why| panic!("{why}"));
    let ready = process
        .wait_for_json_file(&ready_file, Duration::from_secs(60))
        .unwrap_or_else(|why| panic!("{why}"));
    Replica {
        url: ready["url"].as_str().unwrap().to_owned(),
        key,
        _process: process,
    }
}

impl Replica {
    /// One completion; its status.
    fn complete(&self, http: &Http) -> u16 {
        self.complete_with(http, &self.key)
    }

    /// One completion with `key`; its status (0 when no answer came).
    fn complete_with(&self, http: &Http, key: &str) -> u16 {
        complete(http, &self.url, key)
    }

    /// The circuit state `/health/providers` shows for `provider`.
    fn circuit(&self, provider: &str) -> String {
        let response = Http::default()
            .get(&format!("{}/health/providers", self.url), None)
            .unwrap();
        let body: Value = response.json().unwrap();
        body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == provider)
            .and_then(|p| p["circuit_state"].as_str())
            .unwrap_or("unknown")
            .to_owned()
    }

    /// An operator's circuit action (`open`, `close`, `reset`) on `provider`.
    fn admin(&self, provider: &str, action: &str) {
        let url = format!("{}/admin/providers/{provider}/circuit/{action}", self.url);
        let response = Http::default()
            .post_json(&url, Some(ADMIN_KEY), &json!({}))
            .unwrap();
        assert_eq!(response.status, 200, "{action}: {}", response.text());
    }

    /// `/health` as JSON.
    fn health(&self) -> Value {
        Http::default()
            .get(&format!("{}/health", self.url), None)
            .unwrap()
            .json()
            .unwrap()
    }

    /// `gatewayz_circuit_shared_state` as scraped.
    fn shared_state(&self) -> Option<f64> {
        let text = Http::default()
            .get(&format!("{}/prometheus/metrics/providers", self.url), None)
            .unwrap()
            .text();
        let exposition = parse(&text).unwrap();
        exposition
            .family("gatewayz_circuit_shared_state")
            .map(|_| exposition.value("gatewayz_circuit_shared_state", &[]))
    }
}

/// One completion through the replica at `url` with `key`; its status (0 when no answer came).
/// Client threads get the URL, never the [`Replica`]: a test that panics then drops (and so
/// stops) its replicas whatever its clients are doing.
fn complete(http: &Http, url: &str, key: &str) -> u16 {
    let body = json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 8,
    });
    let url = format!("{url}/v1/chat/completions");
    http.post_json(&url, Some(key), &body)
        .map_or(0, |response| response.status)
}

/// Client threads that stop when this is dropped, a panic's unwinding included.
struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}

/// Polls `check` every 20 ms until it holds; panics after `limit`. Returns the time it took.
fn within(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

/// The shared provider's behaviour: fast, and failing every call when `down`.
fn behaviour(down: bool, latency_ms: f64) -> SimulatedConfig {
    SimulatedConfig {
        latency_median_ms: latency_ms,
        latency_sigma: 0.0,
        time_to_first_token_ms: 5.0,
        tokens_per_second: 100_000.0,
        error_rate: if down { 1.0 } else { 0.0 },
        rate_limit_rate: 0.0,
        outage: false,
    }
}

/// Clients sending completions to every replica, `per_replica` at a time each, until stopped;
/// counts the answers that were not 200.
struct Traffic {
    stop: Stop,
    errors: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(replicas: &[Replica], per_replica: usize) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let answered = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for replica in replicas {
            for _ in 0..per_replica {
                let (url, key, stop, errors, answered) = (
                    replica.url.clone(),
                    replica.key.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&errors),
                    Arc::clone(&answered),
                );
                threads.push(thread::spawn(move || {
                    let http = Http::with_timeout(Duration::from_secs(15));
                    while !stop.load(Relaxed) {
                        let status = complete(&http, &url, &key);
                        answered.fetch_add(1, Relaxed);
                        if status != 200 {
                            errors.fetch_add(1, Relaxed);
                        }
                    }
                }));
            }
        }
        Traffic {
            stop: Stop(stop),
            errors,
            answered,
            threads,
        }
    }

    /// Stops the clients; returns (answers, errors).
    fn stop(self) -> (u64, u64) {
        drop(self.stop);
        for thread in self.threads {
            thread.join().unwrap();
        }
        (self.answered.load(Relaxed), self.errors.load(Relaxed))
    }
}

#[test]
fn three_replicas_share_their_circuits_through_redis() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Redis::start(&dir.path().join("redis"));
    let anthropic = SimulatedProvider::start("anthropic", behaviour(false, 5.0)).unwrap();
    let replicas: Vec<Replica> = ["gw-1", "gw-2", "gw-3"]
        .iter()
        // A cool-down long enough for the checks of step 1 to end before any probe.
        .map(|name| {
            let shared = Shared {
                redis: Some(&redis.url),
                database: None,
            };
            replica(dir.path(), name, &anthropic.base_url(), 4, shared)
        })
        .collect();
    let http = Http::with_timeout(Duration::from_secs(15));
    for replica in replicas.iter() {
        assert_eq!(replica.health()["status"], "ok", "{}", replica.url);
        assert_eq!(replica.shared_state(), Some(1.0));
    }

    // 1. The provider fails; only gw-1 calls it, until its circuit opens.
    anthropic.set_behaviour(behaviour(true, 5.0)).unwrap();
    let [gw1, gw2, gw3] = &replicas[..] else {
        unreachable!()
    };
    within(Duration::from_secs(10), "gw-1 opens", || {
        assert_eq!(gw1.complete(&http), 200, "failed over to openrouter");
        gw1.circuit("anthropic") == "open"
    });
    let followed = within(Duration::from_secs(1), "gw-2 and gw-3 follow", || {
        gw2.circuit("anthropic") == "open" && gw3.circuit("anthropic") == "open"
    });
    eprintln!("followed in {followed:?}");
    // They refuse it: their requests never reach the provider.
    let before = anthropic.calls();
    for replica in [gw2, gw3] {
        for _ in 0..5 {
            assert_eq!(replica.complete(&http), 200);
        }
    }
    assert_eq!(
        anthropic.calls(),
        before,
        "gw-2 and gw-3 called an open circuit"
    );

    // 2. The provider recovers, slowly: each probe takes 2.5 s, so all of them are in flight
    // together while 3 × 8 clients keep asking. Local breakers would send 3 per replica.
    anthropic.set_behaviour(behaviour(false, 2500.0)).unwrap();
    let before = anthropic.calls();
    let traffic = Traffic::start(&replicas, 8);
    within(Duration::from_secs(10), "the first probe", || {
        anthropic.calls() > before
    });
    thread::sleep(Duration::from_millis(1800));
    let probes = anthropic.calls() - before;
    within(Duration::from_secs(6), "the circuits close", || {
        replicas.iter().all(|r| r.circuit("anthropic") == "closed")
    });
    let (answered, errors) = traffic.stop();
    assert_eq!(probes, 3, "probes sent by the fleet in one cool-down");
    assert_eq!(errors, 0, "of {answered} answers");
    anthropic.set_behaviour(behaviour(false, 5.0)).unwrap();

    // 3. Redis dies mid-traffic: no client error, the fallback shows, sharing resumes.
    let traffic = Traffic::start(&replicas, 2);
    thread::sleep(Duration::from_millis(300));
    redis.kill();
    within(Duration::from_secs(3), "the fallback shows", || {
        replicas
            .iter()
            .all(|r| r.health()["status"] == "degraded" && r.shared_state() == Some(0.0))
    });
    let reason = gw1.health()["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("Redis"), "{reason}");
    thread::sleep(Duration::from_millis(500));
    redis.restart();
    within(Duration::from_secs(5), "sharing resumes", || {
        replicas
            .iter()
            .all(|r| r.health()["status"] == "ok" && r.shared_state() == Some(1.0))
    });
    let (answered, errors) = traffic.stop();
    assert_eq!(
        errors, 0,
        "client errors while Redis was away, of {answered}"
    );
    // Shared again, admin actions included: gw-3's operator forces the circuit open (the
    // provider's window now scores it below openrouter, so `priority` would not call it).
    gw3.admin("anthropic", "open");
    within(Duration::from_secs(1), "gw-1 and gw-2 follow again", || {
        gw1.circuit("anthropic") == "open" && gw2.circuit("anthropic") == "open"
    });
    gw1.admin("anthropic", "close");
    within(
        Duration::from_secs(1),
        "an operator's close reaches every replica",
        || replicas.iter().all(|r| r.circuit("anthropic") == "closed"),
    );
}

/// The failed calls one outage costs: three replicas, the same traffic, shared breakers
/// against local ones. Prints both (`--nocapture`) for `docs/performance.md`.
#[test]
fn an_outage_costs_fewer_failed_calls_with_shared_circuits() {
    let failed = |shared: bool| {
        let dir = tempfile::tempdir().unwrap();
        let redis = shared.then(|| Redis::start(&dir.path().join("redis")));
        let anthropic = SimulatedProvider::start("anthropic", behaviour(false, 5.0)).unwrap();
        let replicas: Vec<Replica> = ["gw-1", "gw-2", "gw-3"]
            .iter()
            .map(|name| {
                let shared = Shared {
                    redis: redis.as_ref().map(|r| r.url.as_str()),
                    database: None,
                };
                replica(dir.path(), name, &anthropic.base_url(), 2, shared)
            })
            .collect();
        let traffic = Traffic::start(&replicas, 4);
        thread::sleep(Duration::from_millis(500));
        anthropic.set_behaviour(behaviour(true, 5.0)).unwrap();
        let before = anthropic.calls();
        // Three cool-downs of 2 s: the first openings, then a failed probe per cool-down.
        thread::sleep(Duration::from_millis(6500));
        let failed = anthropic.calls() - before;
        let (answered, errors) = traffic.stop();
        assert_eq!(errors, 0, "clients saw errors, of {answered}");
        failed
    };
    let local = failed(false);
    let shared = failed(true);
    eprintln!(
        "failed calls of a 6.5 s outage, 3 replicas x 4 clients: local {local}, shared {shared} \
         ({:.2} of local)",
        shared as f64 / local as f64
    );
    assert!(
        shared < local,
        "shared circuits cost {shared} failed calls, local ones {local}"
    );
}

/// Three replicas on one PostgreSQL (and each its own breakers), in front of a healthy provider.
fn database_fleet(dir: &Path, anthropic: &str, database: &str) -> Vec<Replica> {
    let shared = Shared {
        redis: None,
        database: Some(database),
    };
    ["gw-1", "gw-2", "gw-3"]
        .iter()
        .map(|name| replica(dir, name, anthropic, 2, shared))
        .collect()
}

/// Clients sending completions with `key` to every replica, `per_replica` at a time each,
/// until stopped or `until` says so; counts the answers by status.
fn drive(
    replicas: &[Replica],
    key: &str,
    per_replica: usize,
    stop: &Stop,
) -> Vec<thread::JoinHandle<Vec<u16>>> {
    let mut threads = Vec::new();
    for replica in replicas {
        for _ in 0..per_replica {
            let (url, stop, key) = (replica.url.clone(), Arc::clone(&stop.0), key.to_owned());
            threads.push(thread::spawn(move || {
                let http = Http::with_timeout(Duration::from_secs(30));
                let mut statuses = Vec::new();
                while !stop.load(Relaxed) {
                    statuses.push(complete(&http, &url, &key));
                }
                statuses
            }));
        }
    }
    threads
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[test]
fn three_replicas_share_keys_credits_and_the_ledger_through_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = Postgres::start(&dir.path().join("postgres"));
    let anthropic = SimulatedProvider::start("anthropic", behaviour(false, 5.0)).unwrap();
    let replicas = database_fleet(dir.path(), &anthropic.base_url(), &postgres.url);
    let http = Http::with_timeout(Duration::from_secs(15));

    // 1. A key created while the fleet runs works on every replica at once, and what it spent
    // on one is read on another.
    let key = create_key(dir.path(), Some(&postgres.url), "1000");
    for replica in replicas.iter() {
        assert_eq!(replica.complete_with(&http, &key), 200, "{}", replica.url);
    }
    let overview: Value = http
        .get(&format!("{}/v1/key", replicas[2].url), Some(&key))
        .unwrap()
        .json()
        .unwrap();
    let shared = Database::open_postgres(&postgres.url, Metrics::new()).unwrap();
    let first = shared
        .lookup(&gatewayz_gateway::store::hash_key(&key))
        .unwrap()
        .unwrap();
    let (requests, spent) = shared.usage_totals(first.id).unwrap();
    assert_eq!(requests, 3, "one charge per replica's answer");
    let usage = overview["data"]["usage"].as_f64().unwrap();
    assert!(
        (usage - spent as f64 / NANO).abs() < 1e-6 && usage > 0.0,
        "gw-3 reads the usage of all three: {overview}"
    );

    // 2. 3 replicas x 8 clients drain a key with small credits. Each request reserves its
    // worst case in the database, so the key overspends only by what its requests in flight
    // cost beyond their reservations: here nothing (the provider never answers more than
    // `max_tokens`), against up to 3x the balance if each replica held its own reservations.
    let credits = 0.0005;
    let small = create_key(dir.path(), Some(&postgres.url), &credits.to_string());
    let stop = Stop(Arc::new(AtomicBool::new(false)));
    let clients = drive(&replicas, &small, 8, &stop);
    let database = Database::open_postgres(&postgres.url, Metrics::new()).unwrap();
    let record = |database: &Database| {
        let hash = gatewayz_gateway::store::hash_key(&small);
        database.lookup(&hash).unwrap().unwrap()
    };
    // Dry: less than a request's worst case left, so the balance no longer moves.
    let mut last = i64::MAX;
    within(Duration::from_secs(30), "the key runs dry", || {
        thread::sleep(Duration::from_millis(700));
        let now = record(&database).credits_nano;
        std::mem::replace(&mut last, now) == now
    });
    drop(stop);
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let record = record(&database);
    let (charged, spent) = database.usage_totals(record.id).unwrap();
    let served = count(&statuses, 200);
    let refused = count(&statuses, 402);
    assert_eq!(served + refused, statuses.len(), "only 200s and 402s");
    assert_eq!(charged as usize, served, "one charge per answer");
    assert_eq!(
        (credits * NANO).round() as i64 - spent,
        record.credits_nano,
        "the balance is the credits given less the charges written"
    );
    assert_eq!(
        database.reserved(record.id).unwrap(),
        0,
        "every hold released"
    );
    let overspent = (-record.credits_nano).max(0);
    eprintln!(
        "drain, 3 replicas x 8 clients: {served} served, {refused} refused (402), \
         {spent} of {} nano-credits spent, balance {} nano-credits, overspent {overspent}",
        (credits * NANO).round(),
        record.credits_nano
    );
    assert_eq!(
        overspent, 0,
        "requests in flight cost no more than they reserved"
    );

    // 3. PostgreSQL dies mid-traffic and comes back. While it is down clients get 503s, never
    // a 500; every answer a client received is charged; service resumes by itself.
    let stop = Stop(Arc::new(AtomicBool::new(false)));
    let clients = drive(&replicas, &key, 4, &stop);
    let mut postgres = postgres;
    thread::sleep(Duration::from_millis(1000));
    postgres.kill();
    within(Duration::from_secs(2), "/health says so", || {
        let health = replicas[1].health();
        health["status"] == "degraded"
            && health["reason"]
                .as_str()
                .is_some_and(|r| r.contains("PostgreSQL"))
    });
    thread::sleep(Duration::from_millis(1500));
    postgres.restart();
    let mut probes = Vec::new();
    let resumed = within(Duration::from_secs(15), "service resumes", || {
        let answers: Vec<u16> = replicas
            .iter()
            .map(|r| r.complete_with(&http, &key))
            .collect();
        probes.extend_from_slice(&answers);
        answers.iter().all(|s| *s == 200)
    });
    eprintln!("every replica answered again {resumed:?} after PostgreSQL restarted");
    assert!(
        replicas.iter().all(|r| r.health()["status"] == "ok"),
        "/health recovers with the store"
    );
    thread::sleep(Duration::from_millis(500));
    drop(stop);
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .chain(probes)
        .collect();
    let served = count(&statuses, 200);
    let unavailable = count(&statuses, 503);
    assert_eq!(
        served + unavailable,
        statuses.len(),
        "only 200s and 503s: {:?}",
        statuses
            .iter()
            .filter(|s| **s != 200 && **s != 503)
            .collect::<Vec<_>>()
    );
    assert!(unavailable > 0, "the outage was felt: {served} served");
    // Answers sent while PostgreSQL was down were charged once it was back: the key's charges
    // are step 1's three and one per answer since, no more, no fewer.
    let database = Database::open_postgres(&postgres.url, Metrics::new()).unwrap();
    let key_id = database
        .lookup(&gatewayz_gateway::store::hash_key(&key))
        .unwrap()
        .unwrap()
        .id;
    let charged = || database.usage_totals(key_id).unwrap().0 as usize;
    let late = within(Duration::from_secs(10), "every answer charged", || {
        charged() >= served + 3
    });
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        charged(),
        served + 3,
        "charges for {served} answers and 3 checks"
    );
    eprintln!(
        "PostgreSQL killed for 2 s under 3 x 4 clients: {served} served, {unavailable} \
         answered 503; every answer charged ({late:?} after the last one)"
    );
}
