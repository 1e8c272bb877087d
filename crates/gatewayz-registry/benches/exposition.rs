//! Exposition engine versus `metrics-exporter-prometheus`, same workload, same buckets, one run.
//!
//! `cargo bench -p gatewayz-registry --bench exposition` prints one table. The workload is the
//! whole catalogue over 20 providers × 50 models. Times are medians of repeated runs; compare
//! the ratios, not the absolute figures, on a shared machine. With `--quick` (or without
//! `--bench`) the medians are of fewer runs (5 instead of 21, and 15 instead of 41 for the
//! cold-cache pairs). Besides the
//! table it prints `BENCH {...}` lines for `cargo xtask bench`.

use gatewayz_testkit::{bench::Line, workload};

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use gatewayz_registry::{Category, MetricKind, RecorderBuilder, catalogue::CATALOGUE};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use workload::Shape;

const SHAPE: Shape = Shape {
    providers: 20,
    models: 50,
};
const SAMPLES_BETWEEN_SCRAPES: usize = 1_000_000;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Median time of `f` over `runs` runs, after one warm-up.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    black_box(f());
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// Evicts the render's data from the CPU caches by writing over a buffer larger than them.
fn flush_caches(buffer: &mut [u8]) {
    for (i, byte) in buffer.iter_mut().enumerate().step_by(64) {
        *byte = byte.wrapping_add(i as u8);
    }
    black_box(&buffer);
}

/// Render times with the caches flushed first (as a scrape every 15 s finds them), without
/// and with 1M histogram samples recorded since the previous render.
struct Cold {
    /// Median render time, no samples since the previous render.
    without: Duration,
    /// Median render time, 1M samples since the previous render.
    with: Duration,
    /// Median over the pairs of how much the samples changed the render time, in percent.
    change: f64,
}

/// Measures [`Cold`] over `runs` pairs. The two cases alternate, so the values rendered (and
/// so the digits written) grow alike, and the change is taken pair by pair, each render
/// against its neighbour: a single cold render lasts about a millisecond, and on a shared
/// machine a ratio of two medians wandered from -8% to +33% from one run to the next.
fn time_cold(
    runs: usize,
    histograms: &[(metrics::Histogram, f64)],
    mut render: impl FnMut() -> String,
) -> Cold {
    let mut buffer = vec![0u8; 256 << 20];
    let mut timed = |samples: usize| {
        workload::record_samples(histograms, samples);
        flush_caches(&mut buffer);
        let start = Instant::now();
        black_box(render());
        start.elapsed()
    };
    // The first samples turn every `_sum` from `0` into a long decimal, which lengthens the
    // text once; a warm-up round takes that step out of the comparison.
    timed(SAMPLES_BETWEEN_SCRAPES);
    let (mut without, mut with, mut changes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let before = timed(0);
        let after = timed(SAMPLES_BETWEEN_SCRAPES);
        changes.push((after.as_secs_f64() / before.as_secs_f64() - 1.0) * 100.0);
        without.push(before);
        with.push(after);
    }
    changes.sort_by(f64::total_cmp);
    Cold {
        without: median(without),
        with: median(with),
        change: changes[changes.len() / 2],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn ns_per_line(d: Duration, lines: usize) -> String {
    format!("{:.0} ns", d.as_secs_f64() * 1e9 / lines as f64)
}

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent; keep that quick.
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let runs = if quick { 5 } else { 21 };
    let sample_runs = if quick { 15 } else { 41 };

    let ours = RecorderBuilder::new().build().expect("valid builder");
    let handle = ours.handle();
    workload::populate(&ours, SHAPE);

    let mut baseline = PrometheusBuilder::new();
    for def in CATALOGUE.iter().filter(|d| d.kind == MetricKind::Histogram) {
        baseline = baseline
            .set_buckets_for_metric(Matcher::Full(def.name.to_owned()), def.buckets)
            .expect("valid buckets");
    }
    let baseline = baseline.build_recorder();
    let baseline_handle = baseline.handle();
    workload::populate(&baseline, SHAPE);

    let samples = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    let lines = samples(&handle.render_all());
    let baseline_lines = samples(&baseline_handle.render());
    let provider_lines = samples(&handle.render(Category::Providers));

    let ours_all = time(runs, || handle.render_all());
    let base_all = time(runs, || baseline_handle.render());
    let ours_providers = time(runs, || handle.render(Category::Providers));
    let summary = time(runs, || handle.summary(None));

    let ours_histograms = workload::histograms(&ours, SHAPE);
    let base_histograms = workload::histograms(&baseline, SHAPE);
    let ours_cold = time_cold(sample_runs, &ours_histograms, || handle.render_all());
    let base_cold = time_cold(sample_runs, &base_histograms, || baseline_handle.render());

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let share = provider_lines as f64 / lines as f64;
    let fraction = ratio(ours_providers, ours_all);

    println!(
        "workload: {} providers x {} models, every catalogue metric",
        SHAPE.providers, SHAPE.models
    );
    println!("sample lines: ours {lines}, metrics-exporter-prometheus {baseline_lines}");
    println!();
    println!("| measure | gatewayz-registry | metrics-exporter-prometheus 0.18 | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    let row = |measure: &str, ours: Duration, base: Duration, target: &str| {
        let faster = ratio(base, ours);
        println!(
            "| {measure} | {} | {} | {faster:.1}x faster | {target} |",
            ms(ours),
            ms(base)
        );
    };
    row("render_all", ours_all, base_all, ">= 8x");
    println!(
        "| per line | {} | {} | | <= 100 ns |",
        ns_per_line(ours_all, lines),
        ns_per_line(base_all, baseline_lines)
    );
    row(
        "render_all, caches flushed",
        ours_cold.without,
        base_cold.without,
        "",
    );
    row(
        "same, 1M samples since the last render",
        ours_cold.with,
        base_cold.with,
        "",
    );
    println!(
        "| 1M samples change render time by (median of pairs) | {:+.1}% | {:+.1}% | | <= 10% |",
        ours_cold.change, base_cold.change
    );
    println!(
        "| providers render / render_all | {:.1}% (lines: {:.1}%) | not possible | | <= share + 10% |",
        fraction * 100.0,
        share * 100.0
    );
    println!(
        "| summary (all sections) | {:.1} µs | n/a | | < 1 ms |",
        summary.as_secs_f64() * 1e6
    );

    let millis = |d: Duration| d.as_secs_f64() * 1e3;
    let per_line = |d: Duration, lines: usize| d.as_secs_f64() * 1e9 / lines as f64;
    let lines_note = format!("{lines} lines");
    let share_note = format!("its share of the lines: {:.1}%", share * 100.0);
    let ours_change = ours_cold.change;
    let results = [
        Line {
            measure: "render_all, 20 providers x 50 models",
            ours: millis(ours_all),
            baseline: Some(millis(base_all)),
            unit: "ms",
            target: ">= 8x faster",
            pass: Some(ratio(base_all, ours_all) >= 8.0),
            note: &lines_note,
            ..Line::default()
        },
        Line {
            measure: "render_all per exposition line",
            ours: per_line(ours_all, lines),
            baseline: Some(per_line(base_all, baseline_lines)),
            unit: "ns",
            target: "<= 100 ns",
            pass: Some(per_line(ours_all, lines) <= 100.0),
            ..Line::default()
        },
        Line {
            measure: "1M samples since the last render change its time by",
            ours: ours_change,
            baseline: Some(base_cold.change),
            unit: "%",
            target: "<= 10%",
            pass: Some(ours_change <= 10.0),
            note: "caches flushed",
            ..Line::default()
        },
        Line {
            measure: "providers render / render_all",
            ours: fraction * 100.0,
            unit: "%",
            target: "<= line share + 10",
            pass: Some(fraction <= share + 0.10),
            note: &share_note,
            ..Line::default()
        },
        Line {
            measure: "JSON summary, all sections",
            ours: summary.as_secs_f64() * 1e6,
            unit: "µs",
            target: "< 1 ms",
            pass: Some(summary < Duration::from_millis(1)),
            ..Line::default()
        },
    ];
    for line in results {
        Line {
            bench: "exposition",
            ..line
        }
        .print();
    }
}
