//! One whole inference recorded through the facade (cached handles) versus the same updates
//! through plain `metrics` macros with dynamic labels, both into the gatewayz recorder.
//!
//! `cargo bench -p gatewayz-metrics --bench instrumentation` prints one table. Both sides
//! rotate over 20 providers × 50 models, as a gateway's traffic does. With `--quick` (or
//! without `--bench`) it takes medians of 3 runs of 100,000 inferences instead of 7 of 500,000.
//! Besides the table it prints `BENCH {...}` lines for `cargo xtask bench`.

use std::{
    hint::black_box,
    sync::{Arc, Barrier},
    thread,
    time::{Duration, Instant},
};

use gatewayz_metrics::{Inference, Metrics, Outcome};
use gatewayz_registry::{
    RecorderBuilder,
    catalogue::{
        COST_USD, CREDITS_USED, MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS,
        PROVIDER_AVAILABILITY, PROVIDER_RESPONSE_TIME, REQUEST_COST, TIME_PER_OUTPUT_TOKEN,
        TIME_TO_FIRST_TOKEN, TOKEN_EFFICIENCY, TOKENS_PER_REQUEST, TOKENS_USED,
    },
};
use gatewayz_testkit::bench::Line;
use metrics::{counter, gauge, histogram};

const PROVIDERS: usize = 20;
const MODELS: usize = 50;

fn pairs() -> Vec<(String, String)> {
    (0..PROVIDERS * MODELS)
        .map(|i| {
            (
                format!("provider-{}", i % PROVIDERS),
                format!("model-{}", i % MODELS),
            )
        })
        .collect()
}

fn inference<'a>(provider: &'a str, model: &'a str, i: usize) -> Inference<'a> {
    Inference {
        provider,
        model,
        outcome: Outcome::Success,
        duration: Duration::from_millis(200 + (i % 5000) as u64),
        time_to_first_token: Some(Duration::from_millis(50 + (i % 500) as u64)),
        input_tokens: 500 + (i % 1000) as u64,
        output_tokens: 100 + (i % 300) as u64,
        cost_usd: 0.0012,
        credits: 0.0015,
    }
}

/// The same updates the facade makes, spelled with the macros and owned label values.
fn baseline(i: &Inference<'_>) {
    let (p, m) = (i.provider.to_owned(), i.model.to_owned());
    counter!(MODEL_INFERENCE_REQUESTS.name, "provider" => p.clone(), "model" => m.clone(), "status" => "success").increment(1);
    histogram!(PROVIDER_RESPONSE_TIME.name, "provider" => p.clone())
        .record(i.duration.as_secs_f64());
    gauge!(PROVIDER_AVAILABILITY.name, "provider" => p.clone()).set(1.0);
    histogram!(MODEL_INFERENCE_DURATION.name, "provider" => p.clone(), "model" => m.clone())
        .record(i.duration.as_secs_f64());
    if let Some(ttft) = i.time_to_first_token {
        histogram!(TIME_TO_FIRST_TOKEN.name, "provider" => p.clone(), "model" => m.clone())
            .record(ttft.as_secs_f64());
        let per_token = (i.duration - ttft).as_secs_f64() / (i.output_tokens - 1) as f64;
        histogram!(TIME_PER_OUTPUT_TOKEN.name, "provider" => p.clone(), "model" => m.clone())
            .record(per_token);
    }
    counter!(TOKENS_USED.name, "provider" => p.clone(), "model" => m.clone(), "token_type" => "input").increment(i.input_tokens);
    counter!(TOKENS_USED.name, "provider" => p.clone(), "model" => m.clone(), "token_type" => "output").increment(i.output_tokens);
    histogram!(TOKENS_PER_REQUEST.name, "provider" => p.clone(), "token_type" => "input")
        .record(i.input_tokens as f64);
    histogram!(TOKENS_PER_REQUEST.name, "provider" => p.clone(), "token_type" => "output")
        .record(i.output_tokens as f64);
    gauge!(TOKEN_EFFICIENCY.name, "provider" => p.clone(), "model" => m.clone())
        .set(i.output_tokens as f64 / i.input_tokens as f64);
    counter!(COST_USD.name, "provider" => p.clone(), "model" => m.clone())
        .increment(COST_USD.scale.to_increment(i.cost_usd));
    histogram!(REQUEST_COST.name, "provider" => p.clone()).record(i.cost_usd);
    counter!(CREDITS_USED.name, "provider" => p, "model" => m)
        .increment(CREDITS_USED.scale.to_increment(i.credits));
}

/// Nanoseconds per inference, per thread, median of `runs`, with `threads` threads each doing
/// `iterations` inferences.
fn per_inference(
    runs: usize,
    threads: usize,
    iterations: usize,
    record: impl Fn(&Inference<'_>) + Sync,
) -> f64 {
    let pairs = pairs();
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let barrier = Barrier::new(threads);
            let elapsed: Vec<Duration> = thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (pairs, barrier, record) = (&pairs, &barrier, &record);
                        scope.spawn(move || {
                            barrier.wait();
                            let start = Instant::now();
                            for i in 0..iterations {
                                let (p, m) = &pairs[(i * 7 + t) % pairs.len()];
                                record(black_box(&inference(p, m, i)));
                            }
                            start.elapsed()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let total: f64 = elapsed.iter().map(Duration::as_secs_f64).sum();
            total / threads as f64 / iterations as f64 * 1e9
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (runs, iterations) = if quick { (3, 100_000) } else { (7, 500_000) };

    let recorder = Arc::new(RecorderBuilder::new().build().expect("valid builder"));
    metrics::set_global_recorder(Arc::clone(&recorder)).expect("no other recorder");
    let facade = Metrics::new();
    // Warm both paths so that neither pays for creating series.
    for (p, m) in pairs() {
        facade.inference_finished(&inference(&p, &m, 0));
        baseline(&inference(&p, &m, 0));
    }

    let mut rows = Vec::new();
    for threads in [1, 2] {
        let ours = per_inference(runs, threads, iterations, |i| facade.inference_finished(i));
        let base = per_inference(runs, threads, iterations, baseline);
        rows.push((threads, ours, base));
    }

    println!(
        "one inference = 13 metric updates, rotating over {PROVIDERS} providers x {MODELS} models"
    );
    println!();
    println!(
        "| threads | gatewayz-metrics (cached handles) | plain macros, dynamic labels | ratio | target |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for &(threads, ours, base) in &rows {
        let target = if threads == 1 {
            "<= 250 ns and >= 4x"
        } else {
            "reported"
        };
        println!(
            "| {threads} | {ours:.0} ns | {base:.0} ns | {:.1}x cheaper | {target} |",
            base / ours
        );
    }
    for (threads, ours, base) in rows {
        let measure = format!("one inference (13 updates), {threads} thread(s), per thread");
        let (target, pass) = if threads == 1 {
            (
                "<= 250 ns and >= 4x cheaper",
                Some(ours <= 250.0 && base / ours >= 4.0),
            )
        } else {
            ("reported", None)
        };
        Line {
            bench: "instrumentation",
            measure: &measure,
            ours,
            baseline: Some(base),
            unit: "ns",
            target,
            pass,
            note: "baseline: plain macros, dynamic labels",
            ..Line::default()
        }
        .print();
    }
}
