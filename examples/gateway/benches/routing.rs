//! Routing scenarios: the same request mix through one gateway per routing policy, against the
//! same simulated providers, in three scenarios.
//!
//! `cargo bench -p gatewayz-gateway --bench routing` starts three simulated providers (real
//! HTTP servers on loopback, `SimulatedProvider::start`) serving one model at different prices
//! and speeds, and four release gateway binaries configured with them as real providers
//! (`base_url`), identical but for `[routing] policy`: `spread`, `cheapest`, `fastest` and
//! `weighted` (exploration 5%, default weights). Every scheduled request goes to the four
//! gateways at the same instant (an open-loop schedule at a fixed rate, half of the requests
//! streamed), so each policy sees the same mix and the same provider behaviour over time, and
//! what else runs on the shared machine falls on all four alike. Three scenarios, each with
//! freshly started gateways and a warm-up first:
//!
//! - **steady**: the providers as below, each failing 0.5% of its calls;
//! - **degrade**: `budget` (the cheapest) becomes five times slower, then also fails 60% of its
//!   calls;
//! - **outage**: `budget` stops answering (connections refused).
//!
//! **Time is scaled by 10**: the simulated latencies, and every duration of the gateways'
//! health configuration (window 30 s in 3 s buckets, circuit cool-down 3 s, latency target and
//! maximum 0.2 s and 3 s, ...), are a tenth of production's, and the scenarios last a tenth as
//! long as they stand for. Latencies in the table are as measured (so a tenth of the real
//! ones, plus the gateway's own sub-millisecond overhead); the time to move traffic off the
//! failing provider is shown as measured and ×10, against the target of 30 s.
//!
//! Measured per policy: cost per 1,000 requests (the gateway's `gatewayz_cost_usd_total` over
//! the requests sent), p50/p95 latency of plain requests and time to first token of streams
//! (at the client), the client error rate (any answer but 200, or a stream cut short),
//! failovers (`gatewayz_failovers_total`), what the gateway's own metrics say routing saved
//! (`gatewayz_routing_reference_cost_usd_total` minus the cost), and, when a provider fails,
//! the time from its first failures until the routing decisions that put it first
//! (`gatewayz_routing_decisions_total`, polled) stay at or below 10% of the decisions in every
//! 1 s window (10 s unscaled).
//!
//! Without `--bench`, or with `--quick`, the scenarios are shorter (about 40 s in all instead
//! of about 2 minutes). Besides the markdown table it prints `BENCH {...}` lines for
//! `cargo xtask bench`. To see why a policy moved off late: `-- --scenario degrade` runs one
//! scenario, and `--trace` prints, per policy, the failing provider's circuit, status, score,
//! calls and failures as each change was polled, with its share of the first choices in the
//! second before.

mod support;

use std::{
    cell::RefCell,
    process::ExitCode,
    rc::Rc,
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use gatewayz_gateway::{config::SimulatedConfig, simulator::SimulatedProvider};
use gatewayz_testkit::{
    bench::Line,
    exposition::{self, Exposition},
};
use serde_json::json;
use support::gateway::GatewayProcess;

/// How much faster than production the scenarios run.
const SCALE: f64 = 10.0;
const POLICIES: [&str; 4] = ["spread", "cheapest", "fastest", "weighted"];
const MODEL: &str = "llama-3.1-70b";
/// The provider that degrades, then fails: the cheapest.
const FAILING: &str = "budget";
/// Share of a window's routing decisions at or below which traffic has moved off a provider.
const MOVED_OFF_SHARE: f64 = 0.10;
/// Target of the issue, unscaled.
const MOVE_OFF_TARGET_S: f64 = 30.0;
/// The gateways' admin key (their admin API resets the providers' health after the warm-up).
const ADMIN_KEY: &str = "routing-bench-admin-key-0123456789";

/// A provider: its name, prices per million input and output tokens, and steady behaviour.
struct Spec {
    name: &'static str,
    input: f64,
    output: f64,
    latency_ms: f64,
    ttft_ms: f64,
    tokens_per_second: f64,
}

/// Three providers of one model: cheap and slow, middling, dear and fast (production latencies
/// of 1.2 s, 600 ms and 150 ms, first tokens after 500, 250 and 80 ms, divided by [`SCALE`]).
const PROVIDERS: [Spec; 3] = [
    Spec {
        name: "budget",
        input: 0.20,
        output: 0.60,
        latency_ms: 120.0,
        ttft_ms: 50.0,
        tokens_per_second: 800.0,
    },
    Spec {
        name: "standard",
        input: 0.60,
        output: 0.80,
        latency_ms: 60.0,
        ttft_ms: 25.0,
        tokens_per_second: 1500.0,
    },
    Spec {
        name: "turbo",
        input: 1.20,
        output: 2.40,
        latency_ms: 15.0,
        ttft_ms: 8.0,
        tokens_per_second: 5000.0,
    },
];

fn steady(spec: &Spec) -> SimulatedConfig {
    SimulatedConfig {
        latency_median_ms: spec.latency_ms,
        latency_sigma: 0.3,
        time_to_first_token_ms: spec.ttft_ms,
        tokens_per_second: spec.tokens_per_second,
        error_rate: 0.005,
        rate_limit_rate: 0.0,
        outage: false,
    }
}

/// What happens to [`FAILING`] during a scenario.
#[derive(Clone, Copy)]
enum Change {
    Slow,
    Errors,
    Outage,
}

struct Scenario {
    name: &'static str,
    length: Duration,
    /// Changes to the failing provider, at these times after the start.
    changes: Vec<(Duration, Change)>,
    /// When its failures start, if they do.
    failing_from: Option<Duration>,
}

struct Settings {
    quick: bool,
    /// Print the failing provider's timeline per policy (`--trace`).
    trace: bool,
    /// Requests per second sent to each gateway.
    rate: f64,
    warm_up: Duration,
    scenarios: Vec<Scenario>,
}

impl Settings {
    fn new(quick: bool) -> Settings {
        let s = |secs: f64| Duration::from_secs_f64(secs);
        let (steady, degrade, outage) = if quick {
            ((8.0, 0.0, 0.0), (3.0, 5.0, 11.0), (3.0, 0.0, 8.0))
        } else {
            ((25.0, 0.0, 0.0), (8.0, 13.0, 28.0), (8.0, 0.0, 23.0))
        };
        Settings {
            quick,
            trace: false,
            rate: if quick { 30.0 } else { 40.0 },
            warm_up: s(if quick { 2.0 } else { 4.0 }),
            scenarios: vec![
                Scenario {
                    name: "steady",
                    length: s(steady.0),
                    changes: vec![],
                    failing_from: None,
                },
                Scenario {
                    name: "degrade",
                    length: s(degrade.2),
                    changes: vec![(s(degrade.0), Change::Slow), (s(degrade.1), Change::Errors)],
                    failing_from: Some(s(degrade.1)),
                },
                Scenario {
                    name: "outage",
                    length: s(outage.2),
                    changes: vec![(s(outage.0), Change::Outage)],
                    failing_from: Some(s(outage.0)),
                },
            ],
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let mut settings = Settings::new(quick);
    settings.trace = args.iter().any(|a| a == "--trace");
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let Some(name) = args.get(i + 1) else {
            eprintln!("error: --scenario needs a name: steady, degrade or outage");
            return ExitCode::FAILURE;
        };
        settings.scenarios.retain(|s| s.name == name);
        if settings.scenarios.is_empty() {
            eprintln!("error: no scenario {name:?}: steady, degrade or outage");
            return ExitCode::FAILURE;
        }
    }
    match run(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What one policy did in one scenario.
#[derive(Debug, Default)]
struct Outcome {
    requests: usize,
    errors: usize,
    /// Plain requests' latencies and streams' times to first token, in seconds.
    plain: Vec<f64>,
    ttft: Vec<f64>,
    cost: f64,
    reference: f64,
    failovers: f64,
    /// Seconds (measured) from the failing provider's first failures until it stopped being
    /// chosen first.
    moved_off: Option<f64>,
    /// Its share of first choices before it failed.
    share_before: Option<f64>,
}

impl Outcome {
    fn error_rate(&self) -> f64 {
        self.errors as f64 / self.requests.max(1) as f64
    }

    fn cost_per_thousand(&self) -> f64 {
        self.cost / self.requests.max(1) as f64 * 1000.0
    }
}

fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn run(settings: &Settings) -> Result<(), String> {
    if cfg!(debug_assertions) {
        println!(
            "(an unoptimised build: these figures say little; run `cargo bench -p \
             gatewayz-gateway --bench routing`)"
        );
    }
    let providers: Vec<Arc<SimulatedProvider>> = PROVIDERS
        .iter()
        .map(|spec| SimulatedProvider::start(spec.name, steady(spec)).map(Arc::new))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot start a simulated provider: {e}"))?;
    let mut results: Vec<(&'static str, Vec<Outcome>)> = Vec::new();
    for scenario in &settings.scenarios {
        for (spec, provider) in PROVIDERS.iter().zip(&providers) {
            provider
                .set_behaviour(steady(spec))
                .map_err(|e| format!("resetting {}: {e}", spec.name))?;
        }
        let gateways: Vec<GatewayProcess> = POLICIES
            .iter()
            .map(|policy| start_gateway(policy, &providers))
            .collect::<Result<_, _>>()?;
        let started = Instant::now();
        let outcomes = actix_web::rt::System::new()
            .block_on(drive(settings, scenario, &gateways, &providers))?;
        eprintln!(
            "{}: {:.1} s, {} requests per policy",
            scenario.name,
            started.elapsed().as_secs_f64(),
            outcomes[0].requests
        );
        for gateway in gateways {
            gateway.stop();
        }
        results.push((scenario.name, outcomes));
    }
    report(settings, &results);
    Ok(())
}

/// Runs one scenario against the four gateways; one outcome per policy, in [`POLICIES`] order.
async fn drive(
    settings: &Settings,
    scenario: &Scenario,
    gateways: &[GatewayProcess],
    providers: &[Arc<SimulatedProvider>],
) -> Result<Vec<Outcome>, String> {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    // Warm-up, nothing recorded: connections are opened and the processes warmed. The first
    // calls to each provider are slower (connection set-up, cold code), and with the few calls
    // a policy sends to the providers it does not pick, those would hold their p95 up for the
    // whole health window (30 s here, 5 minutes unscaled), as after any restart. So each
    // gateway then forgets the providers' health (the admin API's reset), and the policies
    // learn the latencies anew, warm, for a second before the measurement.
    let ignored = Rc::new(RefCell::new(vec![Vec::new(); gateways.len()]));
    send_for(settings, settings.warm_up, gateways, &client, &ignored).await;
    for gateway in gateways {
        for spec in &PROVIDERS {
            let url = format!(
                "{}/admin/providers/{}/circuit/reset",
                gateway.url, spec.name
            );
            let reset = client.post(url).bearer_auth(ADMIN_KEY).send().await;
            match reset {
                Ok(response) if response.status() == 200 => {}
                other => return Err(format!("resetting {}'s health: {other:?}", spec.name)),
            }
        }
    }
    send_for(
        settings,
        Duration::from_secs(1),
        gateways,
        &client,
        &ignored,
    )
    .await;
    let before: Vec<Exposition> = scrape_all(&client, gateways).await?;

    let start = Instant::now();
    // The provider's changes, off the async thread (a change blocks while a server stops).
    let failing = Arc::clone(&providers[0]);
    let base = steady(&PROVIDERS[0]);
    let changes = scenario.changes.clone();
    let changer = thread::spawn(move || {
        let mut behaviour = base;
        for (at, change) in changes {
            thread::sleep(at.saturating_sub(start.elapsed()));
            match change {
                Change::Slow => {
                    behaviour.latency_median_ms *= 5.0;
                    behaviour.time_to_first_token_ms *= 5.0;
                }
                Change::Errors => behaviour.error_rate = 0.6,
                Change::Outage => behaviour.outage = true,
            }
            if let Err(e) = failing.set_behaviour(behaviour.clone()) {
                eprintln!("changing {FAILING}: {e}");
            }
        }
    });
    // Decisions for the failing provider, polled: (seconds since start, its, all), per gateway.
    let polls: Rc<RefCell<Vec<Vec<Poll>>>> =
        Rc::new(RefCell::new(vec![Vec::new(); gateways.len()]));
    // The failing provider's health as each poll saw it, per gateway, for `--trace`.
    let traces: Rc<RefCell<Vec<Vec<Trace>>>> =
        Rc::new(RefCell::new(vec![Vec::new(); gateways.len()]));
    let stop = Rc::new(std::cell::Cell::new(false));
    let poller = {
        let (client, polls, stop) = (client.clone(), Rc::clone(&polls), Rc::clone(&stop));
        let traces = Rc::clone(&traces);
        let urls: Vec<String> = gateways.iter().map(|g| g.url.clone()).collect();
        actix_web::rt::spawn(async move {
            while !stop.get() {
                for (i, url) in urls.iter().enumerate() {
                    if let Ok(e) = scrape(&client, url, "providers").await {
                        let decided = |p: Option<&str>| match p {
                            Some(p) => {
                                e.sum("gatewayz_routing_decisions_total", &[("provider", p)])
                            }
                            None => e.sum("gatewayz_routing_decisions_total", &[]),
                        };
                        let t = start.elapsed().as_secs_f64();
                        polls.borrow_mut()[i].push((t, decided(Some(FAILING)), decided(None)));
                        traces.borrow_mut()[i].push(Trace::of(&e, t));
                    }
                }
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let samples = Rc::new(RefCell::new(vec![Vec::new(); gateways.len()]));
    send_for(settings, scenario.length, gateways, &client, &samples).await;
    stop.set(true);
    let _ = poller.await;
    let _ = changer.join();
    let after: Vec<Exposition> = scrape_all(&client, gateways).await?;

    let samples = samples.borrow();
    let polls = polls.borrow();
    if settings.trace && scenario.failing_from.is_some() {
        for (policy, (polls, traces)) in POLICIES.iter().zip(polls.iter().zip(&*traces.borrow())) {
            print_trace(scenario, policy, polls, traces);
        }
    }
    let mut outcomes = Vec::new();
    for (i, samples) in samples.iter().enumerate() {
        let delta = |name: &str| after[i].sum(name, &[]) - before[i].sum(name, &[]);
        let mut outcome = Outcome {
            requests: samples.len(),
            errors: samples.iter().filter(|s: &&Sample| !s.ok).count(),
            cost: delta("gatewayz_cost_usd_total"),
            reference: delta("gatewayz_routing_reference_cost_usd_total"),
            failovers: delta("gatewayz_failovers_total"),
            ..Outcome::default()
        };
        for s in samples.iter().filter(|s| s.ok) {
            match s.ttft {
                Some(ttft) => outcome.ttft.push(ttft),
                None => outcome.plain.push(s.latency),
            }
        }
        if let Some(from) = scenario.failing_from {
            let (share_before, moved_off) =
                moved_off(&polls[i], from.as_secs_f64(), scenario.length.as_secs_f64());
            outcome.share_before = share_before;
            outcome.moved_off = Some(moved_off);
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The failing provider's share of the decisions in the second before its failures, and the
/// seconds from them until it was moved off: until the start of the last 1 s window (sliding
/// with the polls) in which it had more than [`MOVED_OFF_SHARE`] of the decisions, plus one
/// poll (the window's decisions above the share were made in its first poll interval at the
/// latest; every later window is at or below the share). Polls after `until`, the end of the
/// request schedule, are left out: their windows hold fewer requests than a full second's,
/// while a half-open circuit's probes are as many, so its share there says nothing.
fn moved_off(polls: &[Poll], from: f64, until: f64) -> (Option<f64>, f64) {
    const WINDOW: f64 = 1.0;
    let polls = &polls[..polls.partition_point(|p| p.0 <= until)];
    let window_start = |end: usize| {
        polls[..end]
            .iter()
            .rposition(|p| p.0 <= polls[end].0 - WINDOW)
    };
    let share = |end: usize| {
        let (_, mine, all) = polls[end];
        let (_, mine0, all0) = polls[window_start(end)?];
        (all > all0).then(|| (mine - mine0) / (all - all0))
    };
    let before = polls.iter().rposition(|p| p.0 <= from).and_then(share);
    let last_above = (0..polls.len())
        .rev()
        .filter(|&i| polls[i].0 > from)
        .find(|&i| share(i).is_some_and(|s| s > MOVED_OFF_SHARE));
    let moved = last_above.map_or(0.0, |i| {
        let start = window_start(i).map_or(polls[i].0 - WINDOW, |s| polls[s].0);
        let poll = polls
            .get(window_start(i).unwrap_or(0) + 1)
            .map_or(0.0, |p| p.0)
            - start;
        (start + poll.max(0.0) - from).max(0.0)
    });
    (before, moved)
}

/// A poll of one gateway: seconds since the start, decisions for the failing provider, all
/// decisions.
type Poll = (f64, f64, f64);

/// The failing provider's health in one poll of one gateway.
#[derive(Debug, Clone)]
struct Trace {
    t: f64,
    circuit: String,
    status: String,
    /// Absent while unknown (too few calls to judge).
    score: Option<f64>,
    calls: f64,
    failures: f64,
}

impl Trace {
    fn of(e: &Exposition, t: f64) -> Trace {
        let hot = |name: &str, label: &str| {
            e.samples()
                .find(|s| s.name == name && s.label("provider") == Some(FAILING) && s.value == 1.0)
                .and_then(|s| s.label(label))
                .unwrap_or("?")
                .to_owned()
        };
        let p = [("provider", FAILING)];
        Trace {
            t,
            circuit: hot("gatewayz_circuit_breaker_state", "state"),
            status: hot("gatewayz_provider_status", "status"),
            score: e
                .samples()
                .find(|s| {
                    s.name == "gatewayz_provider_health_score"
                        && s.label("provider") == Some(FAILING)
                })
                .map(|s| s.value),
            calls: e.sum("provider_response_time_seconds_count", &p),
            failures: e.sum("gatewayz_provider_errors_total", &p),
        }
    }
}

/// Prints the failing provider's timeline under one policy: each poll where its circuit or
/// status changed, or where its share of the first choices in the second before crossed
/// [`MOVED_OFF_SHARE`], with that share.
fn print_trace(scenario: &Scenario, policy: &str, polls: &[Poll], traces: &[Trace]) {
    println!("\n{} / {policy}: {FAILING} over time", scenario.name);
    println!("| t (s) | circuit | status | score | calls | failures | first choices, last 1 s |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut last: Option<(&str, &str, bool)> = None;
    for (i, trace) in traces.iter().enumerate() {
        let share = polls.get(i).and_then(|&(t, mine, all)| {
            let start = polls[..i].iter().rposition(|p| p.0 <= t - 1.0)?;
            let (_, mine0, all0) = polls[start];
            (all > all0).then_some((mine - mine0, all - all0))
        });
        let above = share.is_some_and(|(mine, all)| mine / all > MOVED_OFF_SHARE);
        let now = (trace.circuit.as_str(), trace.status.as_str(), above);
        if last == Some(now) {
            continue;
        }
        last = Some(now);
        let share = share.map_or(String::new(), |(mine, all)| {
            format!("{mine:.0} of {all:.0} ({})", percent(mine / all))
        });
        let score = trace
            .score
            .map_or_else(|| "unknown".to_owned(), |s| format!("{s:.3}"));
        println!(
            "| {:.1} | {} | {} | {score} | {:.0} | {:.0} | {share} |",
            trace.t, trace.circuit, trace.status, trace.calls, trace.failures
        );
    }
}

/// One request as the client saw it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    ok: bool,
    latency: f64,
    ttft: Option<f64>,
}

/// Sends the schedule (`rate` per second, every other request streamed) to every gateway for
/// `length`, recording each gateway's samples.
async fn send_for(
    settings: &Settings,
    length: Duration,
    gateways: &[GatewayProcess],
    client: &awc::Client,
    samples: &Rc<RefCell<Vec<Vec<Sample>>>>,
) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for j in 0u64.. {
        let due = Duration::from_secs_f64(j as f64 / settings.rate);
        if due >= length {
            break;
        }
        actix_web::rt::time::sleep(due.saturating_sub(start.elapsed())).await;
        let stream = j % 2 == 1;
        for (i, gateway) in gateways.iter().enumerate() {
            let (client, samples) = (client.clone(), Rc::clone(samples));
            let (url, key) = (gateway.url.clone(), gateway.key.clone());
            tasks.push(actix_web::rt::spawn(async move {
                let sample = request(&client, &url, &key, stream).await;
                samples.borrow_mut()[i].push(sample);
            }));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// A prompt of about 2,000 tokens (as the simulated providers count: 4 bytes a token).
fn body(stream: bool) -> String {
    let content = "Summarise the routing policy in one paragraph. ".repeat(170);
    json!({"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": content}]})
        .to_string()
}

async fn request(client: &awc::Client, url: &str, key: &str, stream: bool) -> Sample {
    let started = Instant::now();
    let failed = Sample {
        ok: false,
        latency: 0.0,
        ttft: None,
    };
    let response = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .insert_header(("content-type", "application/json"))
        .send_body(body(stream))
        .await;
    let Ok(mut response) = response else {
        return failed;
    };
    if response.status() != 200 {
        let _ = response.body().await;
        return failed;
    }
    if !stream {
        return match response.body().limit(1 << 20).await {
            Ok(_) => Sample {
                ok: true,
                latency: started.elapsed().as_secs_f64(),
                ttft: None,
            },
            Err(_) => failed,
        };
    }
    let mut first = None;
    let mut tail = Vec::new();
    while let Some(chunk) = response.next().await {
        let Ok(chunk) = chunk else { return failed };
        first.get_or_insert_with(|| started.elapsed().as_secs_f64());
        tail.extend_from_slice(&chunk);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    // A stream that ends without `[DONE]` was cut short.
    if !String::from_utf8_lossy(&tail).contains("[DONE]") {
        return failed;
    }
    Sample {
        ok: true,
        latency: started.elapsed().as_secs_f64(),
        ttft: first,
    }
}

async fn scrape(client: &awc::Client, url: &str, category: &str) -> Result<Exposition, String> {
    let mut response = client
        .get(format!("{url}/prometheus/metrics/{category}"))
        .send()
        .await
        .map_err(|e| format!("scraping {url}: {e}"))?;
    let body = response
        .body()
        .limit(64 << 20)
        .await
        .map_err(|e| format!("scraping {url}: {e}"))?;
    exposition::parse(&String::from_utf8_lossy(&body)).map_err(|e| format!("{url}: {e}"))
}

async fn scrape_all(
    client: &awc::Client,
    gateways: &[GatewayProcess],
) -> Result<Vec<Exposition>, String> {
    let mut all = Vec::new();
    for gateway in gateways {
        all.push(scrape(client, &gateway.url, "all").await?);
    }
    Ok(all)
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

fn percent(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// Prints the table and the `BENCH` lines.
fn report(settings: &Settings, results: &[(&'static str, Vec<Outcome>)]) {
    let mode = if settings.quick {
        "quick run"
    } else {
        "full run"
    };
    println!(
        "\ngatewayz-gateway routing scenarios ({mode}): {} requests/s to each of {} gateways, half \
         of them streamed, time scaled by {SCALE} (latencies as measured)\n",
        settings.rate,
        POLICIES.len()
    );
    println!(
        "| scenario | policy | requests | $ per 1,000 requests | saved (metrics) | p50 / p95 latency | p50 / p95 TTFT | client errors | failovers | off `{FAILING}` after (×{SCALE}) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (scenario, outcomes) in results {
        for (policy, o) in POLICIES.iter().zip(outcomes) {
            let saved = if o.reference > 0.0 {
                percent((o.reference - o.cost) / o.reference)
            } else {
                "n/a".to_owned()
            };
            let off = o.moved_off.map_or("".to_owned(), |s| {
                format!(
                    "{:.1} s ({:.0} s; {} of first choices before)",
                    s,
                    s * SCALE,
                    o.share_before.map_or("?".to_owned(), percent)
                )
            });
            println!(
                "| {scenario} | {policy} | {} | {:.3} | {saved} | {} / {} | {} / {} | {} | {:.0} | {off} |",
                o.requests,
                o.cost_per_thousand(),
                ms(quantile(&o.plain, 0.5)),
                ms(quantile(&o.plain, 0.95)),
                ms(quantile(&o.ttft, 0.5)),
                ms(quantile(&o.ttft, 0.95)),
                percent(o.error_rate()),
                o.failovers,
            );
        }
    }
    println!();

    let judged = !cfg!(debug_assertions);
    // Scenarios left out with `--scenario` are not judged.
    let outcomes = |scenario: &str| {
        results
            .iter()
            .find(|(s, _)| *s == scenario)
            .map(|(_, outcomes)| outcomes)
    };
    if let Some(steady) = outcomes("steady") {
        report_steady(judged, |policy| {
            &steady[POLICIES
                .iter()
                .position(|p| *p == policy)
                .expect("a policy")]
        });
    }
    for scenario in ["degrade", "outage"] {
        let Some(outcomes) = outcomes(scenario) else {
            continue;
        };
        for (policy, o) in POLICIES.iter().zip(outcomes) {
            let measure = format!("{scenario}: client error rate, {policy}");
            Line {
                bench: "routing",
                measure: &measure,
                ours: o.error_rate() * 100.0,
                unit: "%",
                target: "< 1%",
                pass: judged.then(|| o.error_rate() < 0.01),
                ..Line::default()
            }
            .print();
            let measure = format!(
                "{scenario}: time to move traffic off the failing provider, {policy} (measured ×{SCALE})"
            );
            let moved = o.moved_off.unwrap_or(f64::NAN) * SCALE;
            Line {
                bench: "routing",
                measure: &measure,
                ours: moved,
                unit: "s",
                target: "<= 30 s",
                pass: judged.then_some(moved <= MOVE_OFF_TARGET_S),
                ..Line::default()
            }
            .print();
        }
    }
}

/// The `BENCH` lines of the steady scenario: `cheapest`'s cost and `fastest`'s latency against
/// `spread`'s.
fn report_steady<'a>(judged: bool, of: impl Fn(&str) -> &'a Outcome) {
    let spread = of("spread");
    let errors_ok = |o: &Outcome| o.error_rate() <= spread.error_rate() + 0.001;
    let cheapest = of("cheapest");
    let note = format!(
        "{} cheaper, errors {} vs {}",
        percent(1.0 - cheapest.cost_per_thousand() / spread.cost_per_thousand()),
        percent(cheapest.error_rate()),
        percent(spread.error_rate())
    );
    Line {
        bench: "routing",
        measure: "steady: cost per 1,000 requests, cheapest (baseline: spread)",
        ours: cheapest.cost_per_thousand(),
        baseline: Some(spread.cost_per_thousand()),
        unit: "$",
        target: ">= 15% cheaper, errors <= spread + 0.1 pp",
        pass: judged.then(|| {
            cheapest.cost_per_thousand() <= 0.85 * spread.cost_per_thousand() && errors_ok(cheapest)
        }),
        note: &note,
        ..Line::default()
    }
    .print();
    let fastest = of("fastest");
    let plain_p95: fn(&Outcome) -> f64 = |o| quantile(&o.plain, 0.95);
    let ttft_p95: fn(&Outcome) -> f64 = |o| quantile(&o.ttft, 0.95);
    for (what, values) in [
        ("p95 latency of plain requests", plain_p95),
        ("p95 time to first token of streams", ttft_p95),
    ] {
        let (ours, base) = (values(fastest), values(spread));
        let measure = format!("steady: {what}, fastest (baseline: spread)");
        let note = format!("{} lower", percent(1.0 - ours / base));
        Line {
            bench: "routing",
            measure: &measure,
            ours: ours * 1000.0,
            baseline: Some(base * 1000.0),
            unit: "ms",
            target: ">= 30% lower, errors <= spread + 0.1 pp",
            pass: judged.then(|| ours <= 0.7 * base && errors_ok(fastest)),
            note: &note,
            ..Line::default()
        }
        .print();
    }
}

/// A release gateway binary with one routing policy, the simulated providers as real ones.
fn start_gateway(
    policy: &str,
    providers: &[Arc<SimulatedProvider>],
) -> Result<GatewayProcess, String> {
    let mut text = format!(
        r#"# Time scaled by {SCALE}: every duration a tenth of production's.
[server]
workers = 1
upstream_timeout_seconds = 12.0
health_tick_seconds = 0.25
charges = "batched"

[demo]
enabled = false

[health]
window = {{ length = "30s", buckets = 10 }}
latency = {{ target = "200ms", max = "3s" }}
circuit = {{ cool_down = "3s", max_cool_down = "30s", rate_window = "6s", trip_reset = "60s", slow_call_duration = "6s" }}
anomaly = {{ window = "6s", warmup = "30s", adapt_after = "180s" }}

[routing]
policy = "{policy}"
"#
    );
    for (spec, provider) in PROVIDERS.iter().zip(providers) {
        text.push_str(&format!(
            r#"
[[providers]]
name = "{}"
base_url = "{}"
models = [{{ name = "{MODEL}", upstream = "{}", input_price_per_million = {}, output_price_per_million = {} }}]
"#,
            spec.name,
            provider.base_url(),
            spec.name,
            spec.input,
            spec.output
        ));
    }
    GatewayProcess::start(policy, &text, None, &[("GATEWAYZ_ADMIN_KEY", ADMIN_KEY)])
}
