//! Start-up, the HTTP server, background tasks and shutdown.

use std::{
    collections::BTreeMap,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use gatewayz_actix::{Admin, AdminActions, CircuitAction, HttpMetrics, Monitoring, configure};
use gatewayz_health::{HealthTracker, ProviderConfig as HealthOverrides, SystemClock};
use gatewayz_health_redis::RedisCircuitStore;
use gatewayz_metrics::{Business, Metrics, RefusalReason};
use gatewayz_registry::RecorderBuilder;
use serde_json::{Value, json};

use crate::{
    body,
    config::{Charges, Config, SimulatedConfig},
    customer_page,
    demo::DemoTraffic,
    keys::Keys,
    ledger::{Collected, Ledger},
    proxy::{self, Drain, Gateway, Limits, Routes},
    refusals::{Refusals, SUMMARY_INTERVAL},
    simulator::SimulatedProvider,
    store::{Batching, Database, Plan, Store},
    upstream::{self, Provider},
    usage_api,
};

/// Largest body of an admin request (a few simulated settings).
const MAX_ADMIN_BODY: usize = 64 << 10;

/// What `gatewayz-gateway` (serve) was asked to do.
#[derive(Debug)]
pub struct Options {
    /// The configuration, with command-line overrides applied.
    pub config: Config,
    /// Simulated providers that start down.
    pub sim_outages: Vec<String>,
    /// Value of the `replica` label on every series.
    pub replica: Option<String>,
    /// Where to write the addresses as JSON once serving.
    pub ready_file: Option<PathBuf>,
}

/// Runs the gateway until SIGINT or SIGTERM, then drains requests and flushes usage.
pub fn run(options: Options) -> io::Result<()> {
    init_logging();
    // rustls needs a process-wide crypto provider for HTTPS providers.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Options {
        config,
        sim_outages,
        replica,
        ready_file,
    } = options;
    for name in &sim_outages {
        if !config
            .providers
            .iter()
            .any(|p| &p.name == name && p.simulated.is_some())
        {
            return Err(io::Error::other(format!(
                "--sim-outage {name}: no simulated provider of that name"
            )));
        }
    }

    let mut recorder = RecorderBuilder::new().service_version(env!("CARGO_PKG_VERSION"));
    if let Some(replica) = &replica {
        recorder = recorder.global_label("replica", replica);
    }
    let handle = recorder.install().map_err(io::Error::other)?;
    let metrics = Metrics::new();

    let data_dir = config.server.data_dir.clone();
    let mut database = config
        .server
        .open_database(metrics.clone())
        .map_err(io::Error::other)?;
    // A demo key in the offline mode (and whenever demo traffic needs one), printed at start.
    let demo_key = if config.simulated_only() || config.demo_enabled() {
        Some(demo_key(&mut database, &data_dir)?)
    } else {
        None
    };
    let batching = match config.server.charges {
        Charges::Durable => Batching::durable(),
        Charges::Batched => Batching::default(),
    };
    let ledger = web::Data::new(Ledger::start(&database).map_err(io::Error::other)?);
    let store = Arc::new(Store::start(database, batching));
    raise_open_file_limit(&config);

    let mut simulators = BTreeMap::new();
    let mut providers = Vec::new();
    for provider in &config.providers {
        let base_url = match &provider.simulated {
            Some(behaviour) => {
                let behaviour = SimulatedConfig {
                    outage: sim_outages.contains(&provider.name),
                    ..behaviour.clone()
                };
                let simulator = SimulatedProvider::start(&provider.name, behaviour)?;
                let url = simulator.base_url();
                simulators.insert(provider.name.clone(), Arc::new(simulator));
                url
            }
            None => provider.base_url.clone().unwrap_or_default(),
        };
        providers.push(Provider::new(provider, &base_url));
        // Every pair it routes starts at zero: `increase()` over a period counts its first calls.
        for model in &provider.models {
            metrics.expect_inferences(&provider.name, &model.name);
        }
    }

    let mut health = HealthTracker::builder(config.health_config())
        .clock(SystemClock::new())
        .metrics(metrics.clone());
    if let Some(url) = &config.fleet.redis {
        let store = RedisCircuitStore::open(url)
            .map_err(|e| io::Error::other(format!("fleet.redis: {e}")))?;
        // A moment to connect, so a fleet starts shared; past it, the replica starts on its
        // own breakers and joins when Redis answers.
        if !store.wait_in_use(Duration::from_secs(2)) {
            tracing::warn!(
                "Redis does not answer yet: starting with this replica's breakers alone"
            );
        }
        health = health.circuit_store(store);
    }
    let health = health.build().map_err(io::Error::other)?;
    for provider in &config.providers {
        let mut overrides = HealthOverrides::default();
        if let (Some(target), Some(max)) = (
            provider.health.latency_target_seconds,
            provider.health.latency_max_seconds,
        ) {
            overrides = overrides.with_latency(
                Duration::from_secs_f64(target),
                Duration::from_secs_f64(max),
            );
        }
        health
            .register(&provider.name, overrides)
            .map_err(io::Error::other)?;
    }
    let health = Arc::new(health);

    let server = &config.server;
    let keys = Keys::new(
        Arc::clone(&store),
        Duration::from_secs_f64(server.key_cache_seconds),
        metrics.cache("api_keys"),
    );
    let refusals = Arc::new(Refusals::new());
    let gateway = web::Data::new(Gateway {
        routes: Routes::new(providers),
        keys,
        health: Arc::clone(&health),
        metrics: metrics.clone(),
        credits_per_dollar: server.credits_per_dollar,
        upstream_timeout: server.upstream_timeout(),
        drain: Default::default(),
        limits: Limits {
            body_timeout: server.body_timeout(),
            max_in_flight: server.max_in_flight,
            max_in_flight_per_key: server.max_in_flight_per_key,
            durable_charges: server.charges == Charges::Durable,
        },
        in_flight: Default::default(),
        refusals: Arc::clone(&refusals),
    });

    let actions: Arc<dyn AdminActions> = Arc::new(CircuitAdmin {
        health: Arc::clone(&health),
        refusals: Arc::clone(&refusals),
    });
    let admin = Admin::from_env(actions).map_err(io::Error::other)?;
    let monitoring = {
        let shared = Arc::clone(&health);
        let key_store = Arc::clone(&store);
        let monitoring = Monitoring::new(handle.clone())
            .auth(gatewayz_actix::Auth::from_env().map_err(io::Error::other)?)
            .degraded_when(move || {
                let status = shared.shared_status()?;
                (!status.in_use).then(|| {
                    "the circuit store (Redis) is unreachable: this replica's circuit breakers \
                     act alone until it returns"
                        .to_owned()
                })
            })
            .degraded_when(move || key_store.unreachable());
        match &admin {
            Some(admin) => monitoring.admin(admin.clone()),
            None => monitoring,
        }
    };
    let simulators = web::Data::new(Simulators(simulators));
    let upstream_timeout = server.upstream_timeout();

    let system = actix_web::rt::System::new();
    let background_ledger = ledger.clone();
    let app_ledger = ledger.clone();
    system.block_on(async move {
        let app_gateway = gateway.clone();
        let app_simulators = simulators.clone();
        let app_admin = admin.clone();
        let app_metrics = metrics.clone();
        let app_ledger = app_ledger.clone();
        let http = HttpServer::new(move || {
            App::new()
                .wrap(HttpMetrics::new(app_metrics.clone()))
                .app_data(app_gateway.clone())
                .app_data(app_simulators.clone())
                .app_data(web::Data::new(upstream::client(upstream_timeout)))
                .app_data(web::Data::new(app_admin.clone()))
                // Completions read their body themselves, after authentication and within
                // limits; no other route takes more than a few settings.
                .app_data(web::PayloadConfig::new(MAX_ADMIN_BODY))
                .configure(configure(monitoring.clone()))
                .route(
                    "/v1/chat/completions",
                    web::post().to(proxy::chat_completions),
                )
                .route("/v1/models", web::get().to(proxy::models))
                .app_data(app_ledger.clone())
                .route("/v1/key", web::get().to(usage_api::key))
                .route("/v1/usage", web::get().to(usage_api::usage))
                .route("/admin/usage", web::get().to(usage_api::admin_usage))
                .configure(customer_page::configure)
                .route("/admin/simulator", web::get().to(list_simulators))
                .route(
                    "/admin/simulator/{provider}",
                    web::post().to(change_simulator),
                )
                .default_service(web::to(not_found))
        })
        .workers(config.server.workers)
        .max_connections(config.server.max_connections_per_worker)
        .client_request_timeout(config.server.header_timeout())
        .on_connect(no_delay)
        .shutdown_timeout(config.server.shutdown_timeout_seconds)
        // Signals are handled below, so that shutdown is graceful on SIGINT too.
        .disable_signals()
        .bind(config.server.listen)?;
        let addr = http
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| io::Error::other("bound to no address"))?;
        let running = http.run();

        spawn_background(
            &config,
            Arc::clone(&health),
            background_ledger,
            metrics.clone(),
            Arc::clone(&refusals),
        );
        let url = format!("http://{addr}");
        let demo = demo_key
            .as_ref()
            .filter(|_| config.demo_enabled())
            .map(|key| {
                let models: Vec<String> = gateway.routes.models().map(str::to_owned).collect();
                DemoTraffic::start(
                    url.clone(),
                    key.clone(),
                    models,
                    config.demo.requests_per_second,
                    config.demo.stream_share,
                )
            });
        banner(
            &config,
            addr,
            demo_key.as_deref(),
            &simulators,
            admin.is_some(),
        );
        if let Some(path) = ready_file {
            write_ready_file(&path, addr, demo_key.as_deref(), &simulators)?;
        }
        let shutdown_timeout = Duration::from_secs(config.server.shutdown_timeout_seconds);
        actix_web::rt::spawn(drain_on_signal(
            running.handle(),
            gateway.drain.clone(),
            demo,
            shutdown_timeout,
        ));
        let result = running.await;
        refusals.log_summary();
        tracing::info!("stopped serving; writing queued usage");
        result
    })?;
    store.shutdown();
    ledger.shutdown();
    Ok(())
}

/// On SIGINT or SIGTERM: stop the demo traffic and accepting connections, let requests and
/// streams in progress finish (for up to `timeout`), then stop the server.
///
/// The server is stopped only once drained, rather than by actix's own graceful stop: under
/// that, a connection streaming a response was sometimes dropped at once (seen with awc clients).
async fn drain_on_signal(
    server: ServerHandle,
    drain: Drain,
    demo: Option<DemoTraffic>,
    timeout: Duration,
) {
    shutdown_signal().await;
    tracing::info!(
        in_progress = drain.active(),
        "shutting down: finishing requests and streams in progress"
    );
    // Joining the demo thread blocks for up to a second; not on the event loop.
    let _ = web::block(move || drop(demo)).await;
    server.pause().await;
    drain.close();
    let deadline = Instant::now() + timeout;
    while drain.active() > 0 && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    if drain.active() > 0 {
        tracing::warn!(
            in_progress = drain.active(),
            "shutdown timeout: cutting what is left"
        );
    }
    server.stop(true).await;
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut interrupt), Ok(mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot listen for SIGINT/SIGTERM; stop the gateway with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

/// actix-http's per-connection errors: a malformed request, a client or provider that breaks a
/// stream. Anyone who can reach the port can cause one per connection, so they are off unless
/// `RUST_LOG` names `actix_http` (a malformed request is answered 400 all the same).
const CLIENT_TRIGGERED_LOGS: [&str; 2] = [
    "actix_http::h1::dispatcher=off",
    "actix_http::h1::decoder=off",
];

fn init_logging() {
    use std::io::IsTerminal;
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    if !std::env::var("RUST_LOG").is_ok_and(|filter| filter.contains("actix_http")) {
        for directive in CLIENT_TRIGGERED_LOGS {
            filter = filter.add_directive(directive.parse().expect("a valid directive"));
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        // Colour codes only for a person at a terminal, never in a file or a log collector.
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

/// Raises the soft open-file limit to the hard one, as Go programs do at start, so that the
/// connection caps can be reached (a soft limit of 1,024 is common); warns when even the hard
/// limit is below what they may use: every connection the workers hold, one connection to a
/// provider per request in flight, and a few for the database and logs. Past the limit,
/// accepting fails and even `/health` stops answering.
fn raise_open_file_limit(config: &Config) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let server = &config.server;
    let needed =
        (server.workers * server.max_connections_per_worker + server.max_in_flight + 64) as u64;
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= needed {
        return;
    }
    let raised = match limit.maximum {
        Some(hard) if hard > soft => {
            let new = rustix::process::Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            setrlimit(Resource::Nofile, new).map_or(soft, |()| hard)
        }
        _ => soft,
    };
    if raised < needed {
        tracing::warn!(
            limit = raised,
            needed,
            "the open-file limit is below what server.max_connections_per_worker and \
             server.max_in_flight allow; raise it (ulimit -n, LimitNOFILE=) or lower them"
        );
    }
}

/// The demo key: read from the data directory, or created (paid plan, plenty of credits).
fn demo_key(database: &mut Database, data_dir: &Path) -> io::Result<String> {
    let path = data_dir.join("demo-key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim().to_owned();
        if database
            .lookup(&crate::store::hash_key(&key))
            .map_err(io::Error::other)?
            .is_some()
        {
            return Ok(key);
        }
    }
    let (key, _) = database
        .create_key("demo", Plan::Paid, 1_000_000.0, None)
        .map_err(io::Error::other)?;
    write_private(&path, &key)?;
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    io::Write::write_all(&mut file, contents.as_bytes())
}

/// Health ticks, business collection and the refusal summary, on the main actix system.
fn spawn_background(
    config: &Config,
    health: Arc<HealthTracker>,
    ledger: web::Data<Ledger>,
    metrics: Metrics,
    refusals: Arc<Refusals>,
) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(SUMMARY_INTERVAL);
        loop {
            interval.tick().await;
            refusals.log_summary();
        }
    });
    let tick = Duration::from_secs_f64(config.server.health_tick_seconds);
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(tick);
        loop {
            interval.tick().await;
            for event in health.tick() {
                tracing::info!(provider = %event.provider, kind = %event.kind, phase = ?event.phase, observed = event.observed, baseline = event.baseline, "anomaly");
            }
        }
    });
    let collect = Duration::from_secs_f64(config.server.business_collect_seconds);
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(collect);
        // Expiries up to here have been swept for lapses.
        let mut swept_until: Option<i64> = None;
        loop {
            interval.tick().await;
            let now = crate::store::unix_now();
            // The first sweep covers the whole history; later ones the time since the last,
            // with an hour's margin for a clock that steps back.
            let since = swept_until.map_or(0, |t: i64| t - 3600);
            match ledger.read(move |db| db.collect_business(since, now)).await {
                Ok(Collected { counts, customers }) => {
                    swept_until = Some(now);
                    metrics.business_collected(&Business {
                        active_api_keys: counts.active_keys,
                        active_subscriptions: counts.paid,
                        active_trials: counts.trials,
                    });
                    metrics.customer_totals_collected(&customers);
                }
                Err(error) => tracing::warn!(%error, "business collection failed"),
            }
        }
    });
}

fn banner(
    config: &Config,
    addr: SocketAddr,
    demo_key: Option<&str>,
    simulators: &Simulators,
    admin: bool,
) {
    let url = format!("http://{addr}");
    println!(
        "gatewayz gateway {} serving on {url}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  OpenAI API       {url}/v1  (POST /v1/chat/completions, GET /v1/models)");
    println!(
        "  metrics          {url}/prometheus/metrics/all  (or /providers /models /business /performance /system)"
    );
    println!("  summary          {url}/prometheus/metrics/summary");
    println!("  metrics docs     {url}/prometheus/metrics/docs");
    println!("  status page      {url}/prometheus/dashboard");
    println!(
        "  customer usage   {url}/usage  (GET /v1/key, GET /v1/usage with the customer's key)"
    );
    println!("  health           {url}/health  {url}/health/providers");
    for provider in &config.providers {
        match simulators.0.get(&provider.name) {
            Some(sim) => println!(
                "  provider         {} (simulated at {})",
                provider.name,
                sim.base_url()
            ),
            None => println!(
                "  provider         {} ({})",
                provider.name,
                provider.base_url.as_deref().unwrap_or("")
            ),
        }
    }
    match &config.server.database {
        Some(url) => println!("  data             {url} (shared by the replicas)"),
        None => println!(
            "  data             {}",
            config.server.data_dir.join("gatewayz.db").display()
        ),
    }
    println!(
        "  admin endpoints  {}",
        if admin {
            "on (GATEWAYZ_ADMIN_KEY)"
        } else {
            "off (set GATEWAYZ_ADMIN_KEY to enable)"
        }
    );
    if let Some(key) = demo_key {
        println!("  demo key         {key}");
        if config.demo_enabled() {
            println!(
                "  demo traffic     {} requests/s (--no-demo turns it off)",
                config.demo.requests_per_second
            );
        } else {
            println!("  demo traffic     off");
        }
        println!();
        println!("try: curl {url}/v1/chat/completions -H 'Authorization: Bearer {key}' \\");
        println!("       -H 'Content-Type: application/json' \\");
        println!(
            "       -d '{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}'"
        );
    }
}

fn write_ready_file(
    path: &Path,
    addr: SocketAddr,
    demo_key: Option<&str>,
    simulators: &Simulators,
) -> io::Result<()> {
    let simulated: BTreeMap<&str, String> = simulators
        .0
        .iter()
        .map(|(name, sim)| (name.as_str(), sim.base_url()))
        .collect();
    let ready =
        json!({"url": format!("http://{addr}"), "demo_key": demo_key, "simulators": simulated});
    write_private(path, &ready.to_string())
}

/// Circuit admin actions, carried out on the health tracker; refusals counted with the rest.
struct CircuitAdmin {
    health: Arc<HealthTracker>,
    refusals: Arc<Refusals>,
}

impl AdminActions for CircuitAdmin {
    fn force_circuit(
        &self,
        provider: &str,
        action: CircuitAction,
    ) -> Result<(), gatewayz_actix::Error> {
        let result = match action {
            CircuitAction::Open => self.health.force_open(provider),
            CircuitAction::Close => self.health.force_close(provider),
            CircuitAction::Reset => self.health.reset(provider),
        };
        result.map_err(|_| gatewayz_actix::Error::UnknownProvider {
            provider: provider.chars().take(64).collect(),
        })
    }

    fn refused(&self, _: &HttpRequest) {
        self.refusals.record(RefusalReason::AdminUnauthorized);
    }
}

/// The simulated providers, by name.
struct Simulators(BTreeMap<String, Arc<SimulatedProvider>>);

async fn list_simulators(
    req: HttpRequest,
    admin: web::Data<Option<Admin>>,
    simulators: web::Data<Simulators>,
) -> Result<HttpResponse, gatewayz_actix::Error> {
    authorize(&req, &admin)?;
    let all: BTreeMap<&str, SimulatedConfig> = simulators
        .0
        .iter()
        .map(|(name, sim)| (name.as_str(), sim.behaviour()))
        .collect();
    Ok(HttpResponse::Ok().json(all))
}

/// `POST /admin/simulator/{provider}` with any of the simulated settings, e.g.
/// `{"outage": true}` or `{"error_rate": 0.5, "latency_median_ms": 3000}`. Each field is checked
/// against its range ([`SimulatedConfig::validate`]); concurrent changes apply one after the
/// other, and the answer is the settings this change left.
async fn change_simulator(
    req: HttpRequest,
    payload: web::Payload,
    admin: web::Data<Option<Admin>>,
    simulators: web::Data<Simulators>,
) -> Result<HttpResponse, gatewayz_actix::Error> {
    authorize(&req, &admin)?;
    let name = req.match_info().get("provider").unwrap_or_default();
    let simulator =
        simulators
            .0
            .get(name)
            .cloned()
            .ok_or_else(|| gatewayz_actix::Error::UnknownProvider {
                provider: name.chars().take(64).collect(),
            })?;
    let invalid = |reason: String| gatewayz_actix::Error::InvalidRequest { reason };
    let body = body::read(
        &req,
        payload,
        MAX_ADMIN_BODY,
        Duration::from_secs(10),
        std::future::pending(),
    )
    .await
    .map_err(|e| invalid(e.message))?;
    let changes = match serde_json::from_slice(&body) {
        Ok(Value::Object(changes)) => changes,
        Ok(_) => return Err(invalid("the body must be a JSON object".into())),
        Err(e) => {
            return Err(invalid(format!(
                "the body must be a JSON object of simulated settings: {e}"
            )));
        }
    };
    let changed = web::block(move || {
        simulator.update(|current| {
            current
                .with_changes(&changes)
                .map_err(SimulatorChange::Invalid)
        })
    })
    .await
    .map_err(|_| gatewayz_actix::Error::AdminAction {
        reason: "the simulator could not be changed".into(),
    })?;
    match changed {
        Ok(behaviour) => {
            tracing::info!(target: "gatewayz_actix::audit", provider = %name, ?behaviour, "simulated provider changed");
            Ok(HttpResponse::Ok().json(behaviour))
        }
        Err(SimulatorChange::Invalid(reason)) => Err(invalid(reason)),
        Err(SimulatorChange::Io(e)) => Err(gatewayz_actix::Error::AdminAction {
            reason: format!("the simulator could not be restarted: {e}"),
        }),
    }
}

/// Why a simulator change was not applied.
enum SimulatorChange {
    Invalid(String),
    Io(io::Error),
}

impl From<io::Error> for SimulatorChange {
    fn from(e: io::Error) -> Self {
        SimulatorChange::Io(e)
    }
}

fn authorize(req: &HttpRequest, admin: &Option<Admin>) -> Result<(), gatewayz_actix::Error> {
    admin
        .as_ref()
        .ok_or(gatewayz_actix::Error::AdminDisabled)?
        .authorize(req)
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    let path: String = req.path().chars().take(128).collect();
    HttpResponse::NotFound().json(json!({"error": {"message": format!("no route for {} {path}", req.method()), "type": "invalid_request_error", "param": null, "code": "not_found"}}))
}

/// Turns Nagle's algorithm off on an accepted connection. actix-web leaves it on, and then a
/// write that follows one not yet acknowledged (the next chunk of a stream, or a response
/// written in two parts) waits for the peer's delayed ACK, up to 40 ms on Linux: a gateway
/// passes small writes through and must not hold them back.
pub fn no_delay(connection: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        let _ = stream.set_nodelay(true);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepted_connections_send_small_writes_at_once() {
        actix_web::rt::System::new().block_on(async {
            let listener = actix_web::rt::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            let addr = listener.local_addr().unwrap();
            let _client = std::net::TcpStream::connect(addr).unwrap();
            let (accepted, _) = listener.accept().await.unwrap();
            assert!(!accepted.nodelay().unwrap(), "Nagle is on by default");
            super::no_delay(&accepted, &mut actix_web::dev::Extensions::new());
            assert!(accepted.nodelay().unwrap());
        });
    }
}
