//! Gateway overhead: the same fixed-rate load straight to a provider and through the gateway.
//!
//! `cargo bench -p gatewayz-gateway --bench overhead` starts a simulated provider that answers
//! at once (latency 0, no errors, non-streamed completions) and two release gateway binaries
//! configured with it as a real provider (`base_url`, demo traffic off, a key made with
//! `keys create`): one as shipped, with durable charges (each answer waits for its charge to be
//! committed, group commit), and one with `charges = "batched"` (written up to 500 ms later, as
//! the gateway did before), the baseline of what durability costs; and a third, as shipped but
//! on a fleet's shared key store (PostgreSQL, started here with the testkit: each request
//! reserves its credits in it), for what sharing the store costs. An open-loop generator of
//! our own then sends 1,000 requests/s for 30 s straight to the provider and 30 s through each
//! gateway, in alternating 5 s slices (so that what else runs on the shared machine falls on all
//! alike), and reports p50/p90/p99/max of each and the differences. Last it ramps the rate (1k,
//! 2k, 4k, ... then bisects) to find the highest rate the provider and the shipped gateway
//! sustain on this machine.
//!
//! The generator: 16 threads, each with one keep-alive HTTP/1.1 connection over `TcpStream`
//! and its own share of a fixed schedule (request `j` of thread `i` is due at
//! `(j × 16 + i) / rate`). A thread that is early sleeps until the request is due; one that is
//! late (its previous answer took longer than its interval) sends at once. Latency runs from
//! the *scheduled* time, not the send, so a slow answer is charged to every request it delays
//! (no coordinated omission). The process's timer slack is set to 1 ns first, so a sleep
//! overshoots by about 40 µs instead of about 90; that overshoot is in both runs alike and is
//! reported as the generator's wake-up lag.
//!
//! Everything shares the same 2 cores: the generator threads and the simulated provider (one
//! actix worker) run in this process, each gateway (2 workers, its SQLite writer, health ticks)
//! in its own (the one not being measured is idle). The CPU each used is reported.
//!
//! Without `--bench`, or with `--quick`, each phase is shorter (5 s at 1,000/s in 1 s slices,
//! 1 s per ramp step, one bisection, no second try of a failed step). Besides the markdown
//! tables it prints `BENCH {...}` lines for `cargo xtask bench`.

use std::{
    fs,
    io::{self, BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::ExitCode,
    thread,
    time::{Duration, Instant},
};

use gatewayz_gateway::{config::SimulatedConfig, simulator::SimulatedProvider};
use gatewayz_testkit::{
    bench::{Better, Line},
    postgres::Postgres,
};
use support::gateway::GatewayProcess;

mod support;

/// Connections, one per generator thread.
const CONNECTIONS: usize = 16;
/// The issue's rate for the overhead comparison.
const RATE: f64 = 1000.0;
const MODEL: &str = "bench-model";
const BODY: &str = r#"{"model":"bench-model","messages":[{"role":"user","content":"Say hello to the benchmark."}]}"#;
/// Targets from the gateway issue, in microseconds of added latency.
const P50_TARGET_US: f64 = 150.0;
const P99_TARGET_US: f64 = 1000.0;

struct Settings {
    quick: bool,
    /// The 1,000/s phase, per target.
    duration: Duration,
    /// Turns each target takes in it.
    slices: usize,
    warm_up: Duration,
    /// Each step of the ramp.
    step: Duration,
    /// Between ramp steps.
    pause: Duration,
    /// Bisections after the doubling.
    bisections: usize,
    /// Runs of a ramp step that fails before it counts as failed.
    tries: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let settings = if quick {
        Settings {
            quick,
            duration: Duration::from_secs(5),
            slices: 5,
            warm_up: Duration::from_millis(500),
            step: Duration::from_secs(1),
            pause: Duration::from_millis(200),
            bisections: 1,
            tries: 1,
        }
    } else {
        Settings {
            quick,
            duration: Duration::from_secs(30),
            slices: 6,
            warm_up: Duration::from_secs(3),
            step: Duration::from_secs(5),
            pause: Duration::from_millis(500),
            bisections: 2,
            tries: 2,
        }
    };
    match run(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(settings: &Settings) -> Result<(), String> {
    if cfg!(debug_assertions) {
        println!(
            "(an unoptimised build: these figures say nothing; run `cargo bench -p \
             gatewayz-gateway --bench overhead`)"
        );
    }
    // New threads inherit the timer slack of the thread that spawns them: set it before any.
    let slack = fs::write("/proc/self/timerslack_ns", "1").is_ok();
    let provider = SimulatedProvider::start(
        "sim",
        SimulatedConfig {
            latency_median_ms: 0.0,
            latency_sigma: 0.0,
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            ..SimulatedConfig::default()
        },
    )
    .map_err(|e| format!("cannot start the simulated provider: {e}"))?;
    let direct = Target::direct(&provider)?;
    let gateway = start_gateway(&provider.base_url(), "durable", None)?;
    let through = Target::through("through the gateway", &gateway)?;
    let batched_gateway = start_gateway(&provider.base_url(), "batched", None)?;
    let batched = Target::through("through the gateway, batched charges", &batched_gateway)?;
    let postgres_dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let postgres = Postgres::start(postgres_dir.path());
    let shared_gateway = start_gateway(&provider.base_url(), "durable", Some(&postgres.url))?;
    let shared = Target::through("through the gateway, PostgreSQL key store", &shared_gateway)?;

    // Warm every path (connections, the gateway's key cache and upstream pool), unmeasured.
    for target in [&direct, &through, &batched, &shared] {
        let warm = drive(target, RATE, settings.warm_up);
        if warm.errors > 0 {
            return Err(format!(
                "{} failed {} of {} warm-up requests:\n{}",
                target.name,
                warm.errors,
                warm.sent,
                gateway.log_tail()
            ));
        }
    }

    // The sides take turns, a slice each, so that whatever else runs on the machine meanwhile
    // (it is shared) falls on all alike.
    let pids = [
        gateway.pid(),
        gateway.pid(),
        batched_gateway.pid(),
        shared_gateway.pid(),
    ]
    .map(|p| p.to_string());
    let mut slices: [Vec<Slice>; 4] = Default::default();
    let mut cpu_used = [(0.0, 0.0); 4];
    for _ in 0..settings.slices {
        for (side, target) in [&direct, &through, &batched, &shared]
            .into_iter()
            .enumerate()
        {
            // The gateway column of the direct side is the shipped gateway, idle meanwhile.
            let cpu = || (cpu_seconds("self"), cpu_seconds(&pids[side]));
            let before = cpu();
            slices[side].push(slice(
                target,
                RATE,
                settings.duration / settings.slices as u32,
            ));
            let after = cpu();
            cpu_used[side].0 += after.0 - before.0;
            cpu_used[side].1 += after.1 - before.1;
        }
    }
    let [direct_slices, through_slices, batched_slices, shared_slices] = slices;
    let direct_run = Run::of(direct.name, RATE, direct_slices);
    let through_run = Run::of(through.name, RATE, through_slices);
    let batched_run = Run::of(batched.name, RATE, batched_slices);
    let shared_run = Run::of(shared.name, RATE, shared_slices);
    let overhead_mean = own_overhead_mean(&gateway);
    let batched_overhead_mean = own_overhead_mean(&batched_gateway);
    batched_gateway.stop();
    shared_gateway.stop();
    drop(postgres);

    let direct_max = highest_rate(&direct, settings, direct_run.latency.p99);
    let through_max = highest_rate(&through, settings, through_run.latency.p99);
    gateway.stop();

    let seconds = settings.duration.as_secs_f64();
    let share = |used: f64| used / seconds * 100.0;
    println!(
        "simulated provider: latency 0, non-streamed completions; {CONNECTIONS} keep-alive \
         connections; latency from the scheduled send time; timer slack {}",
        if slack {
            "1 ns"
        } else {
            "default (could not be set)"
        }
    );
    println!();
    println!(
        "### {RATE:.0} requests/s for {seconds:.0} s each, in alternating slices of {} s{}\n",
        seconds / settings.slices as f64,
        if settings.quick { " (quick run)" } else { "" }
    );
    println!(
        "| target | sent | errors | achieved/s | p50 | p90 | p99 | max | generator wake-up lag p50 / p99 | CPU: bench process (generator + provider) | CPU: gateway |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (run, (bench_cpu, gateway_cpu)) in [
        (&direct_run, cpu_used[0]),
        (&through_run, cpu_used[1]),
        (&batched_run, cpu_used[2]),
        (&shared_run, cpu_used[3]),
    ] {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} / {} | {:.0}% of a core | {:.0}% of a core |",
            run.name,
            run.sent,
            run.errors,
            run.achieved,
            us(run.latency.p50),
            us(run.latency.p90),
            us(run.latency.p99),
            us(run.latency.max),
            us(run.wake_lag.p50),
            us(run.wake_lag.p99),
            share(bench_cpu),
            share(gateway_cpu),
        );
    }
    let added = |f: fn(&Percentiles) -> f64| f(&through_run.latency) - f(&direct_run.latency);
    let (added_p50, added_p99) = (added(|p| p.p50), added(|p| p.p99));
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "| added by the gateway | | {} | | {} | {} | {} | {} | | | |",
        through_run.errors as i64 - direct_run.errors as i64,
        us(added_p50),
        us(added(|p| p.p90)),
        us(added_p99),
        us(added(|p| p.max)),
    );
    let durability = |f: fn(&Percentiles) -> f64| f(&through_run.latency) - f(&batched_run.latency);
    println!(
        "| added by durable charges (vs batched) | | {} | | {} | {} | {} | {} | | | |",
        through_run.errors as i64 - batched_run.errors as i64,
        us(durability(|p| p.p50)),
        us(durability(|p| p.p90)),
        us(durability(|p| p.p99)),
        us(durability(|p| p.max)),
    );
    let sharing = |f: fn(&Percentiles) -> f64| f(&shared_run.latency) - f(&through_run.latency);
    println!(
        "| added by a shared PostgreSQL key store (vs SQLite) | | {} | | {} | {} | {} | {} | | | |",
        shared_run.errors as i64 - through_run.errors as i64,
        us(sharing(|p| p.p50)),
        us(sharing(|p| p.p90)),
        us(sharing(|p| p.p99)),
        us(sharing(|p| p.max)),
    );
    println!();
    println!(
        "PostgreSQL's own CPU is in neither column: it shares the same 2 cores. The targets are \
         the shipped gateway's, on SQLite."
    );
    println!(
        "Targets: added p50 <= {P50_TARGET_US:.0} µs: {}; added p99 <= {P99_TARGET_US:.0} µs: {}; no errors: {}.",
        met(added_p50 <= P50_TARGET_US),
        met(added_p99 <= P99_TARGET_US),
        met(through_run.errors == 0 && direct_run.errors == 0),
    );
    if let (Some(mean), Some(batched_mean)) = (overhead_mean, batched_overhead_mean) {
        println!(
            "The gateway's own `gatewayz_gateway_overhead_seconds` (request received to answer, \
             minus time waiting on the provider) averaged {} over everything it served with \
             durable charges, {} with batched charges.",
            us(mean * 1e6),
            us(batched_mean * 1e6)
        );
    }
    println!();
    println!(
        "### Highest sustainable rate ({} s per step)\n",
        settings.step.as_secs()
    );
    println!(
        "Sustainable: no errors, p99 within 10x the 1,000/s p99, and the schedule kept (at \
         least 95% of the requests due were sent). A step that fails is tried once more.\n"
    );
    println!("| target | rate | errors | achieved/s | p50 | p99 | wake-up lag p99 | verdict |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for ramp in [&direct_max, &through_max] {
        for (step, verdict) in &ramp.steps {
            println!(
                "| {} | {:.0} | {} | {:.0} | {} | {} | {} | {verdict} |",
                step.name,
                step.rate,
                step.errors,
                step.achieved,
                us(step.latency.p50),
                us(step.latency.p99),
                us(step.wake_lag.p99),
            );
        }
    }
    println!();
    println!(
        "Highest sustainable rate: direct {:.0}/s, through the gateway {:.0}/s.",
        direct_max.best, through_max.best
    );

    let rate = format!("{RATE:.0} req/s, {seconds:.0} s");
    let added_p50_note = format!("added {}", us(added_p50));
    let added_p99_note = format!("added {}", us(added_p99));
    let of_requests = format!("of {} requests", through_run.sent);
    let shared_of_requests = format!("of {} requests", shared_run.sent);
    let durable_p50_note = format!(
        "durable vs batched charges, added {}",
        us(durability(|p| p.p50))
    );
    let durable_p99_note = format!(
        "durable vs batched charges, added {}",
        us(durability(|p| p.p99))
    );
    let durable_cpu_note = format!(
        "gateway CPU, durable vs batched charges ({:.0}% vs {:.0}% of a core)",
        share(cpu_used[1].1),
        share(cpu_used[2].1)
    );
    let shared_p50_note = format!(
        "PostgreSQL vs SQLite key store, added {}",
        us(sharing(|p| p.p50))
    );
    let shared_p99_note = format!(
        "PostgreSQL vs SQLite key store, added {}",
        us(sharing(|p| p.p99))
    );
    let lines = [
        Line {
            measure: &format!("gateway latency p50 at {rate}"),
            ours: through_run.latency.p50,
            baseline: Some(direct_run.latency.p50),
            unit: "µs",
            target: "added <= 150 µs",
            pass: Some(added_p50 <= P50_TARGET_US),
            note: &added_p50_note,
            ..Line::default()
        },
        Line {
            measure: &format!("gateway latency p99 at {rate}"),
            ours: through_run.latency.p99,
            baseline: Some(direct_run.latency.p99),
            unit: "µs",
            target: "added <= 1 ms",
            pass: Some(added_p99 <= P99_TARGET_US),
            note: &added_p99_note,
            ..Line::default()
        },
        Line {
            measure: &format!("gateway errors at {rate}"),
            ours: through_run.errors as f64,
            baseline: Some(direct_run.errors as f64),
            target: "0",
            pass: Some(through_run.errors == 0),
            note: &of_requests,
            ..Line::default()
        },
        Line {
            measure: &format!("durable charging: gateway latency p50 at {rate}"),
            ours: through_run.latency.p50,
            baseline: Some(batched_run.latency.p50),
            unit: "µs",
            target: "reported",
            note: &durable_p50_note,
            ..Line::default()
        },
        Line {
            measure: &format!("durable charging: gateway latency p99 at {rate}"),
            ours: through_run.latency.p99,
            baseline: Some(batched_run.latency.p99),
            unit: "µs",
            target: "reported",
            note: &durable_p99_note,
            ..Line::default()
        },
        Line {
            measure: &format!("durable charging: CPU at {rate}"),
            ours: share(cpu_used[1].1),
            baseline: Some(share(cpu_used[2].1)),
            unit: "%",
            target: "reported",
            note: &durable_cpu_note,
            ..Line::default()
        },
        Line {
            measure: &format!("shared key store: gateway latency p50 at {rate}"),
            ours: shared_run.latency.p50,
            baseline: Some(through_run.latency.p50),
            unit: "µs",
            target: "reported",
            note: &shared_p50_note,
            ..Line::default()
        },
        Line {
            measure: &format!("shared key store: gateway latency p99 at {rate}"),
            ours: shared_run.latency.p99,
            baseline: Some(through_run.latency.p99),
            unit: "µs",
            target: "reported",
            note: &shared_p99_note,
            ..Line::default()
        },
        Line {
            measure: &format!("shared key store: gateway errors at {rate}"),
            ours: shared_run.errors as f64,
            target: "0",
            pass: Some(shared_run.errors == 0),
            note: &shared_of_requests,
            ..Line::default()
        },
        Line {
            measure: "highest sustainable rate, gateway vs direct",
            ours: through_max.best,
            baseline: Some(direct_max.best),
            unit: "req/s",
            better: Better::Higher,
            target: "reported",
            note: "2 cores shared by generator, gateway and provider",
            ..Line::default()
        },
    ];
    for line in lines {
        Line {
            bench: "overhead",
            ..line
        }
        .print();
    }
    Ok(())
}

/// Where requests go, and the request bytes sent every time.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    request: Vec<u8>,
}

impl Target {
    fn direct(provider: &SimulatedProvider) -> Result<Target, String> {
        Target::new("direct", &provider.base_url(), None)
    }

    fn through(name: &'static str, gateway: &GatewayProcess) -> Result<Target, String> {
        Target::new(name, &format!("{}/v1", gateway.url), Some(&gateway.key))
    }

    fn new(name: &'static str, base_url: &str, key: Option<&str>) -> Result<Target, String> {
        let authority = base_url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| format!("not an http:// URL: {base_url}"))?;
        let addr: SocketAddr = authority.parse().map_err(|e| format!("{authority}: {e}"))?;
        let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {authority}\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        Ok(Target {
            name,
            addr,
            request: request.into_bytes(),
        })
    }
}

/// A keep-alive HTTP/1.1 connection that sends one request at a time.
struct Connection {
    reader: BufReader<TcpStream>,
    line: Vec<u8>,
    body: Vec<u8>,
}

impl Connection {
    fn open(addr: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Connection {
            reader: BufReader::with_capacity(64 << 10, stream),
            line: Vec::with_capacity(256),
            body: Vec::with_capacity(8 << 10),
        })
    }

    /// Sends `request` and reads the whole answer; its status, and whether the connection
    /// stays open.
    fn round_trip(&mut self, request: &[u8]) -> io::Result<(u16, bool)> {
        self.reader.get_mut().write_all(request)?;
        self.read_line()?;
        let status = std::str::from_utf8(&self.line)
            .ok()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid("no status line"))?;
        let (mut length, mut chunked, mut keep_alive) = (None, false, true);
        loop {
            self.read_line()?;
            if self.line == b"\r\n" {
                break;
            }
            let header = String::from_utf8_lossy(&self.line).to_ascii_lowercase();
            let (name, value) = header.split_once(':').unwrap_or((&header, ""));
            match (name.trim(), value.trim()) {
                ("content-length", v) => {
                    length = Some(v.parse::<usize>().map_err(|_| invalid("content-length"))?);
                }
                ("transfer-encoding", v) => chunked = v.contains("chunked"),
                ("connection", v) => keep_alive = !v.contains("close"),
                _ => {}
            }
        }
        if chunked {
            loop {
                self.read_line()?;
                let size = std::str::from_utf8(&self.line)
                    .ok()
                    .and_then(|l| usize::from_str_radix(l.trim().split(';').next()?, 16).ok())
                    .ok_or_else(|| invalid("chunk size"))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while {
                        self.read_line()?;
                        self.line != b"\r\n"
                    } {}
                    break;
                }
                self.read_body(size + 2)?;
            }
        } else {
            let length = length.ok_or_else(|| invalid("neither length nor chunks"))?;
            self.read_body(length)?;
        }
        Ok((status, keep_alive))
    }

    fn read_line(&mut self) -> io::Result<()> {
        self.line.clear();
        if self.reader.read_until(b'\n', &mut self.line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    fn read_body(&mut self, n: usize) -> io::Result<()> {
        self.body.resize(n, 0);
        self.reader.read_exact(&mut self.body)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad answer: {what}"))
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Default, Clone, Copy)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(mut nanos: Vec<u64>) -> Percentiles {
        if nanos.is_empty() {
            return Percentiles::default();
        }
        nanos.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * nanos.len() as f64).ceil() as usize).clamp(1, nanos.len());
            nanos[rank - 1] as f64 / 1e3
        };
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// What one fixed-rate run measured.
#[derive(Debug)]
struct Run {
    name: &'static str,
    rate: f64,
    /// Requests due before the end.
    scheduled: usize,
    sent: usize,
    /// Non-200 answers, broken connections, timeouts.
    errors: usize,
    /// Answers per second, from the first scheduled send to the last answer.
    achieved: f64,
    /// From the scheduled send time to the end of the answer.
    latency: Percentiles,
    /// How late a thread that slept until a request was due woke up.
    wake_lag: Percentiles,
}

/// Sends `rate` requests per second to `target` for `duration`, open loop. Requests still
/// unsent by twice the duration (the target has fallen far behind) are given up.
fn drive(target: &Target, rate: f64, duration: Duration) -> Run {
    Run::of(target.name, rate, vec![slice(target, rate, duration)])
}

/// One stretch of the schedule, every thread's part of it, and when it started.
struct Slice {
    start: Instant,
    threads: Vec<Thread>,
}

fn slice(target: &Target, rate: f64, duration: Duration) -> Slice {
    let interval = Duration::from_secs_f64(CONNECTIONS as f64 / rate);
    // Far enough ahead that every thread is connected and waiting when the first is due.
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + duration;
    let give_up = end + duration;
    let threads = thread::scope(|scope| {
        let threads: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let first = start + interval.mul_f64(i as f64 / CONNECTIONS as f64);
                scope.spawn(move || send_on_schedule(target, first, interval, end, give_up))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    Slice { start, threads }
}

impl Run {
    fn of(name: &'static str, rate: f64, slices: Vec<Slice>) -> Run {
        let threads = || slices.iter().flat_map(|s| &s.threads);
        let busy: f64 = slices
            .iter()
            .map(|s| {
                let last = s.threads.iter().map(|t| t.last).max().unwrap_or(s.start);
                last.saturating_duration_since(s.start).as_secs_f64()
            })
            .sum();
        let sent: usize = threads().map(|t| t.latencies.len()).sum();
        Run {
            name,
            rate,
            scheduled: threads().map(|t| t.scheduled).sum(),
            sent,
            errors: threads().map(|t| t.errors).sum(),
            achieved: sent as f64 / busy,
            latency: Percentiles::of(threads().flat_map(|t| &t.latencies).copied().collect()),
            wake_lag: Percentiles::of(threads().flat_map(|t| &t.lags).copied().collect()),
        }
    }
}

/// What one generator thread measured.
struct Thread {
    /// Nanoseconds from each request's scheduled time to the end of its answer.
    latencies: Vec<u64>,
    /// Nanoseconds each wake-up came after the time slept to.
    lags: Vec<u64>,
    errors: usize,
    /// Requests due before the end, sent or not.
    scheduled: usize,
    /// When the last answer arrived.
    last: Instant,
}

/// One thread's share of the schedule: requests due at `first`, then every `interval`, until
/// `end`, over one keep-alive connection (reopened after an error).
fn send_on_schedule(
    target: &Target,
    first: Instant,
    interval: Duration,
    end: Instant,
    give_up: Instant,
) -> Thread {
    let capacity = ((end - first).as_secs_f64() / interval.as_secs_f64()) as usize + 1;
    let mut out = Thread {
        latencies: Vec::with_capacity(capacity),
        lags: Vec::with_capacity(capacity),
        errors: 0,
        scheduled: 0,
        last: first,
    };
    let mut connection = Connection::open(target.addr).ok();
    let mut due = first;
    while due < end {
        out.scheduled += 1;
        let now = Instant::now();
        if now > give_up {
            due += interval;
            continue;
        }
        if now < due {
            thread::sleep(due - now);
            out.lags
                .push(Instant::now().saturating_duration_since(due).as_nanos() as u64);
        }
        let outcome = match connection.as_mut() {
            Some(c) => c.round_trip(&target.request),
            None => Connection::open(target.addr).and_then(|mut c| {
                let outcome = c.round_trip(&target.request);
                connection = Some(c);
                outcome
            }),
        };
        out.last = Instant::now();
        out.latencies
            .push(out.last.saturating_duration_since(due).as_nanos() as u64);
        match outcome {
            Ok((200, true)) => {}
            Ok((200, false)) => connection = None,
            Ok(_) => out.errors += 1,
            Err(_) => {
                out.errors += 1;
                connection = None;
            }
        }
        due += interval;
    }
    out
}

/// The steps of a ramp, each with its verdict, and the highest rate that passed.
struct Ramp {
    steps: Vec<(Run, String)>,
    best: f64,
}

/// Doubles the rate from 1,000/s until a step fails, then bisects between the last rate that
/// passed and the first that failed. In a full run a step that fails is run once more and
/// fails only if it fails again: on a shared machine another process can spoil a second or
/// two, and that is not the limit being looked for.
fn highest_rate(target: &Target, settings: &Settings, reference_p99: f64) -> Ramp {
    let mut steps = Vec::new();
    let mut step = |rate: f64| {
        for _ in 0..settings.tries {
            let run = drive(target, rate, settings.step);
            let verdict = judge(&run, reference_p99);
            let passed = verdict.is_none();
            steps.push((run, verdict.unwrap_or_else(|| "sustained".to_owned())));
            // Let queues drain and sockets close before the next step.
            thread::sleep(settings.pause);
            if passed {
                return true;
            }
        }
        false
    };
    let (mut good, mut bad) = (0.0, None);
    let mut rate = RATE;
    while rate <= 256_000.0 {
        if step(rate) {
            good = rate;
            rate *= 2.0;
        } else {
            bad = Some(rate);
            break;
        }
    }
    if let Some(mut bad) = bad {
        for _ in 0..settings.bisections {
            let middle = ((good + bad) / 2.0 / 100.0).round() * 100.0;
            if middle <= good || middle >= bad {
                break;
            }
            if step(middle) {
                good = middle;
            } else {
                bad = middle;
            }
        }
    }
    Ramp { steps, best: good }
}

/// Why a ramp step is not sustainable, if it is not.
fn judge(run: &Run, reference_p99: f64) -> Option<String> {
    if run.errors > 0 {
        return Some(format!("{} errors", run.errors));
    }
    if run.latency.p99 > 10.0 * reference_p99 {
        return Some(format!("p99 > 10x {}", us(reference_p99)));
    }
    // Requests are sent late when the threads wait on slow answers or do not get the CPU:
    // then fewer are answered per second than scheduled, or some are never sent.
    if run.sent < run.scheduled {
        return Some(format!("{} not sent", run.scheduled - run.sent));
    }
    if run.achieved < 0.95 * run.rate {
        return Some("schedule not kept (< 95%)".to_owned());
    }
    None
}

/// Mean of the gateway's own overhead histogram, in seconds.
fn own_overhead_mean(gateway: &GatewayProcess) -> Option<f64> {
    let addr: SocketAddr = gateway.url.strip_prefix("http://")?.parse().ok()?;
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET /prometheus/metrics/performance HTTP/1.0\r\nHost: bench\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (_, body) = text.split_once("\r\n\r\n")?;
    let value = |name: &str| {
        body.lines()
            .find(|l| l.split([' ', '{']).next() == Some(name))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    let sum = value("gatewayz_gateway_overhead_seconds_sum")?;
    let count = value("gatewayz_gateway_overhead_seconds_count")?;
    (count > 0.0).then(|| sum / count)
}

/// A gateway calling the provider at `provider_url` as a real one, whose charges are `durable`
/// or `batched`, on SQLite or the PostgreSQL `database`.
fn start_gateway(
    provider_url: &str,
    charges: &str,
    database: Option<&str>,
) -> Result<GatewayProcess, String> {
    let config = format!(
        r#"# The simulated provider, configured as a real one.
[server]
charges = "{charges}"

[demo]
enabled = false

[[providers]]
name = "sim"
base_url = "{provider_url}"
models = [{{ name = "{MODEL}", input_price_per_million = 0.1, output_price_per_million = 0.1 }}]
"#
    );
    GatewayProcess::start(charges, &config, database, &[])
}

/// User plus system CPU seconds of a process (`self` or a pid), from `/proc/PID/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = fs::read_to_string(Path::new("/proc").join(pid).join("stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 (from 0) after the name; Linux
    // reports them in USER_HZ, 100 per second on every architecture we run on.
    (ticks(11) + ticks(12)) / 100.0
}

fn us(micros: f64) -> String {
    if micros.abs() >= 10_000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} µs")
    }
}
