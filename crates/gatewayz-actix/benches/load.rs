//! Load benchmark: concurrent scrapes and JSON summaries over loopback, measured by `wrk`,
//! while other threads keep recording.
//!
//! `cargo bench -p gatewayz-actix --bench load` runs each phase for 10 s; with `--quick`, or
//! without `--bench` (as `cargo test --benches` runs it), each phase lasts 2 s. It prints a
//! markdown table per registry size with p50, p99 and whether the p99 targets (summary < 5 ms,
//! `/all` < 20 ms) are met, and `BENCH {...}` lines for `cargo xtask bench`, and exits non-zero
//! only when requests fail. Needs `wrk` (Debian package `wrk`), or
//! `WRK=/path/to/wrk`.
//!
//! The registry is populated like the registry's own benchmarks: every catalogued metric, every
//! label combination of 20 providers × N models, for N = 20 (the issue's `/all` of 20,000
//! lines) and N = 50 (1,000 pairs, 44,000 lines), each in a process of its own. Two threads
//! record histogram samples in bursts the whole time, and every request also goes through
//! [`HttpMetrics`].
//!
//! `GATEWAYZ_LOAD_MODELS=N` measures one size only. With `GATEWAYZ_LOAD_SERVE_SECS=S` as well,
//! it only serves (and records) for S seconds, printing its address, for driving and profiling
//! it by hand.

use gatewayz_testkit::{bench::Line, serve, workload};

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Command, ExitCode},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use actix_web::App;
use gatewayz_actix::{HttpMetrics, Monitoring, configure};
use gatewayz_metrics::Metrics;
use gatewayz_registry::RecorderBuilder;

const SUMMARY: &str = "/prometheus/metrics/summary";
const ALL: &str = "/prometheus/metrics/all";
const SUMMARY_P99_TARGET_MS: f64 = 5.0;
const ALL_P99_TARGET_MS: f64 = 20.0;

/// The registry sizes measured: the issue's `/all` of about 20,000 lines (20 providers × 20
/// models), and every catalogued series of 1,000 provider × model pairs (20 × 50, 44,000 lines).
const MODELS: [usize; 2] = [20, 50];

fn main() -> ExitCode {
    let full =
        std::env::args().any(|a| a == "--bench") && !std::env::args().any(|a| a == "--quick");
    let seconds = if full { 10 } else { 2 };
    let Some(wrk) = find_wrk() else {
        eprintln!(
            "error: `wrk` is not installed; this benchmark drives the server with it. Install \
             Debian's package (`apt-get install wrk`) or set WRK=/path/to/wrk."
        );
        return ExitCode::FAILURE;
    };
    match std::env::var("GATEWAYZ_LOAD_MODELS") {
        Ok(models) => match models.parse() {
            Ok(models) => one_shape(&wrk, models, seconds),
            Err(_) => {
                eprintln!("error: GATEWAYZ_LOAD_MODELS must be a number of models");
                ExitCode::FAILURE
            }
        },
        // Each size in a process of its own: a process installs one global recorder.
        Err(_) => {
            let mut status = ExitCode::SUCCESS;
            for models in MODELS {
                let ok = Command::new(std::env::current_exe().expect("own path"))
                    .args(std::env::args().skip(1))
                    .env("GATEWAYZ_LOAD_MODELS", models.to_string())
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    status = ExitCode::FAILURE;
                }
            }
            status
        }
    }
}

fn one_shape(wrk: &PathBuf, models: usize, seconds: u64) -> ExitCode {
    let shape = workload::Shape {
        providers: 20,
        models,
    };
    let handle = RecorderBuilder::new()
        .install()
        .expect("no other recorder is installed in this process");
    metrics::with_recorder(|recorder| workload::populate(recorder, shape));
    let metrics = Metrics::new();
    let recorders = Recorders::start(shape);
    let monitoring = Monitoring::new(handle.clone());
    let (addr, server) = serve::serve(2, move || {
        App::new()
            .wrap(HttpMetrics::new(metrics.clone()))
            .configure(configure(monitoring.clone()))
    });
    if let Some(seconds) = std::env::var("GATEWAYZ_LOAD_SERVE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        // For profiling by hand: the same server and recording threads, driven from outside.
        println!("serving on http://{addr} for {seconds} s");
        thread::sleep(Duration::from_secs(seconds));
        recorders.stop();
        serve::stop(server);
        return ExitCode::SUCCESS;
    }

    if cfg!(debug_assertions) {
        println!(
            "(an unoptimised build: these figures say nothing about performance; run `cargo \
             bench -p gatewayz-actix --bench load`)"
        );
    }
    let (lines, plain_bytes, gzip_bytes) = scrape_size(addr);
    let summary_bytes = fetch(addr, SUMMARY, false).len();
    let render_ms = median_ms(|| drop(handle.render_all()));
    let summary_ms = median_ms(|| drop(handle.summary(None)));

    let mut rows = Vec::new();
    let mut results = Vec::new();
    let mut failed = false;
    for gzip in [false, true] {
        let (summary, all) = run_concurrently(wrk, addr, seconds, gzip);
        let encoding = if gzip { "gzip" } else { "identity" };
        for (path, target, run) in [
            (SUMMARY, SUMMARY_P99_TARGET_MS, summary),
            (ALL, ALL_P99_TARGET_MS, all),
        ] {
            failed |= run.failures > 0;
            let verdict = if run.failures > 0 {
                format!("{} FAILED REQUESTS", run.failures)
            } else if run.p99_ms < target {
                "met".to_owned()
            } else {
                "missed".to_owned()
            };
            rows.push(format!(
                "| `{path}` | {encoding} | {:.0} | {:.2} | {:.2} | < {target} | {verdict} |",
                run.requests_per_second, run.p50_ms, run.p99_ms,
            ));
            results.push((path, encoding, target, run));
        }
    }
    let recorded = recorders.stop();
    serve::stop(server);

    println!(
        "\n### {} providers × {} models: {} series; `{ALL}` {lines} lines, {} KiB ({} KiB \
         gzipped); summary {} KiB\n",
        shape.providers,
        shape.models,
        handle.series_count(),
        plain_bytes / 1024,
        gzip_bytes / 1024,
        summary_bytes / 1024,
    );
    println!(
        "In process (median of 31): `render_all` {render_ms:.2} ms, `summary(None)` \
         {summary_ms:.2} ms. Load: `wrk -t1 -c4 -d{seconds}s --latency` on `{SUMMARY}` and on \
         `{ALL}` at the same time, once without and once with `Accept-Encoding: gzip`, while 2 \
         threads recorded {recorded} histogram samples ({:.0}/s).\n",
        recorded as f64 / (2 * seconds) as f64
    );
    println!("| endpoint | encoding | req/s | p50 ms | p99 ms | p99 target ms | |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
    for (path, encoding, target, run) in results {
        let endpoint = if path == SUMMARY { "summary" } else { "/all" };
        let measure = format!(
            "{endpoint} p99 under load, {}x{} ({lines} lines), {encoding}",
            shape.providers, shape.models
        );
        let target_text = format!("< {target} ms");
        let note = format!(
            "{:.0} req/s, p50 {:.2} ms",
            run.requests_per_second, run.p50_ms
        );
        Line {
            bench: "load",
            measure: &measure,
            ours: run.p99_ms,
            unit: "ms",
            target: &target_text,
            pass: Some(run.failures == 0 && run.p99_ms < target),
            note: &note,
            ..Line::default()
        }
        .print();
    }
    if failed {
        eprintln!("some requests failed (non-2xx answers or socket errors)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn find_wrk() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WRK") {
        return Some(path.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("wrk"))
        .find(|candidate| candidate.is_file())
}

/// Threads that keep recording, in bursts, as a busy gateway does.
struct Recorders {
    stop: Arc<AtomicBool>,
    recorded: Arc<AtomicU64>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Recorders {
    fn start(shape: workload::Shape) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let recorded = Arc::new(AtomicU64::new(0));
        let threads = (0..2)
            .map(|_| {
                let (stop, recorded) = (Arc::clone(&stop), Arc::clone(&recorded));
                thread::spawn(move || {
                    let histograms =
                        metrics::with_recorder(|recorder| workload::histograms(recorder, shape));
                    while !stop.load(Ordering::Relaxed) {
                        workload::record_samples(&histograms, 1000);
                        recorded.fetch_add(1000, Ordering::Relaxed);
                        thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        Recorders {
            stop,
            recorded,
            threads,
        }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().unwrap();
        }
        self.recorded.load(Ordering::Relaxed)
    }
}

/// One HTTP/1.0 request over a fresh connection; the body of a 200.
fn fetch(addr: SocketAddr, path: &str, gzip: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    let encoding = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: bench\r\n{encoding}\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&response[..end]);
    assert!(head.starts_with("HTTP/1.0 200"), "{path}: {head}");
    response.split_off(end + 4)
}

fn scrape_size(addr: SocketAddr) -> (usize, usize, usize) {
    let plain = fetch(addr, ALL, false);
    let lines = plain.iter().filter(|b| **b == b'\n').count();
    let gzipped = fetch(addr, ALL, true);
    (lines, plain.len(), gzipped.len())
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..31)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[derive(Debug, Default)]
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Non-2xx answers and socket errors.
    failures: u64,
}

/// `wrk` on the summary and on `/all` at the same time.
fn run_concurrently(wrk: &PathBuf, addr: SocketAddr, seconds: u64, gzip: bool) -> (Run, Run) {
    let spawn = |path: &str, gzip: bool| {
        let mut command = Command::new(wrk);
        command.args(["-t1", "-c4", &format!("-d{seconds}s"), "--latency"]);
        if gzip {
            command.args(["-H", "Accept-Encoding: gzip"]);
        }
        command.arg(format!("http://{addr}{path}"));
        thread::spawn(move || {
            let output = command.output().expect("failed to run wrk");
            assert!(output.status.success(), "wrk failed: {output:?}");
            String::from_utf8_lossy(&output.stdout).into_owned()
        })
    };
    let summary = spawn(SUMMARY, gzip);
    let all = spawn(ALL, gzip);
    let output = |run: thread::JoinHandle<String>| run.join().expect("the wrk thread panicked");
    (parse_wrk(&output(summary)), parse_wrk(&output(all)))
}

/// Reads the figures out of `wrk --latency` output.
fn parse_wrk(output: &str) -> Run {
    let mut run = Run::default();
    for line in output.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("50%"), Some(value)) => run.p50_ms = millis(value),
            (Some("99%"), Some(value)) => run.p99_ms = millis(value),
            (Some("Requests/sec:"), Some(value)) => {
                run.requests_per_second = value.parse().unwrap_or(f64::NAN);
            }
            (Some("Non-2xx"), _) => {
                run.failures += line.rsplit(' ').next().unwrap().parse::<u64>().unwrap();
            }
            (Some("Socket"), Some("errors:")) => {
                run.failures += line
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    assert!(
        run.p99_ms > 0.0,
        "no latency distribution in wrk's output:\n{output}"
    );
    run
}

/// `635.00us`, `2.58ms`, `1.02s` in milliseconds.
fn millis(value: &str) -> f64 {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => f64::NAN,
    }
}
