//! Exposition engine versus `metrics-exporter-prometheus`, same workload, same buckets, one run.
//!
//! `cargo bench -p gatewayz-registry --bench exposition` prints one table. The workload is the
//! whole catalogue over 20 providers × 50 models. Times are medians of repeated runs; compare
//! the ratios, not the absolute figures, on a shared machine.

#[path = "../tests/support/workload.rs"]
#[allow(dead_code, unreachable_pub)]
mod workload;

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

/// Median render time when `samples` histogram samples were recorded since the last render.
fn time_after_samples(
    runs: usize,
    histograms: &[(metrics::Histogram, f64)],
    mut render: impl FnMut() -> String,
) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                workload::record_samples(histograms, SAMPLES_BETWEEN_SCRAPES);
                let start = Instant::now();
                black_box(render());
                start.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn ns_per_line(d: Duration, lines: usize) -> String {
    format!("{:.0} ns", d.as_secs_f64() * 1e9 / lines as f64)
}

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent; keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 1 } else { 21 };
    let sample_runs = if quick { 1 } else { 11 };

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

    let all = handle.render_all();
    let lines = all.lines().filter(|l| !l.starts_with('#')).count();
    let baseline_lines = baseline_handle
        .render()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    let providers = handle.render(Category::Providers);
    let provider_lines = providers.lines().filter(|l| !l.starts_with('#')).count();

    let ours_all = time(runs, || handle.render_all());
    let base_all = time(runs, || baseline_handle.render());
    let ours_providers = time(runs, || handle.render(Category::Providers));
    let summary = time(runs, || handle.summary(None));

    let ours_histograms = workload::histograms(&ours, SHAPE);
    let base_histograms = workload::histograms(&baseline, SHAPE);
    let ours_after = time_after_samples(sample_runs, &ours_histograms, || handle.render_all());
    let base_after = time_after_samples(sample_runs, &base_histograms, || baseline_handle.render());

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let share = provider_lines as f64 / lines as f64;
    let fraction = ratio(ours_providers, ours_all);
    let drift = ratio(ours_after, ours_all) - 1.0;

    println!(
        "workload: {} providers x {} models, every catalogue metric",
        SHAPE.providers, SHAPE.models
    );
    println!("sample lines: ours {lines}, metrics-exporter-prometheus {baseline_lines}");
    println!();
    println!("| measure | gatewayz-registry | metrics-exporter-prometheus 0.18 | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| render_all | {} | {} | {:.1}x faster | >= 8x |",
        ms(ours_all),
        ms(base_all),
        ratio(base_all, ours_all)
    );
    println!(
        "| per line | {} | {} | | <= 100 ns |",
        ns_per_line(ours_all, lines),
        ns_per_line(base_all, baseline_lines)
    );
    println!(
        "| render_all after 1M samples | {} | {} | {:.1}x faster | |",
        ms(ours_after),
        ms(base_after),
        ratio(base_after, ours_after)
    );
    println!(
        "| 1M samples change render time by | {:+.1}% | {:+.1}% | | <= 10% |",
        drift * 100.0,
        (ratio(base_after, base_all) - 1.0) * 100.0
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
}
