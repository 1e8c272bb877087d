//! Request-path costs of the health tracker: reporting an attempt, ordering and routing over 20
//! providers, and the decision of each routing policy (`route_request` and its first
//! candidate) against the failover ordering alone. The tracker has no `Metrics` facade here:
//! these are the health crate's own costs.
//!
//! `cargo bench -p gatewayz-health --bench health` prints one table of medians. Each sample
//! times a batch of operations on the system clock and divides; the median of the samples is
//! reported. With `--quick`, or without `--bench` (as under `cargo test --benches`), it takes
//! 5 samples of 2,000 instead of 31 of 20,000. Targets are judged only in optimised builds.
//! Besides the table it prints `BENCH {...}` lines for `cargo xtask bench`.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use gatewayz_health::{
    ErrorKind, HealthConfig, HealthTracker, Inference, MemoryCircuitStore, Offer, Outcome, Price,
    ProviderConfig, RouteRequest, RoutingPolicy,
};
use gatewayz_testkit::bench::Line;

const PROVIDERS: usize = 20;

/// Median time per operation: `samples` batches of `batch` calls of `f`, after one warm-up.
fn per_op(samples: usize, batch: usize, mut f: impl FnMut(usize)) -> Duration {
    (0..batch).for_each(&mut f);
    let mut runs: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            (0..batch).for_each(&mut f);
            start.elapsed() / batch as u32
        })
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}

fn ns(d: Duration) -> String {
    format!("{} ns", d.as_nanos())
}

/// Whether `d` meets `target`; `None` in an unoptimised build, whose times say nothing.
fn judged(d: Duration, target: Duration) -> Option<bool> {
    (!cfg!(debug_assertions)).then_some(d <= target)
}

fn verdict(d: Duration, target: Duration) -> &'static str {
    match judged(d, target) {
        None => "not judged (unoptimised build)",
        Some(true) => "met",
        Some(false) => "MISSED",
    }
}

/// 20 providers with varied scores; two open, one half-open, as after an incident.
fn tracker(names: &[String]) -> HealthTracker {
    tracker_with(names, RoutingPolicy::Spread)
}

fn tracker_with(names: &[String], policy: RoutingPolicy) -> HealthTracker {
    let mut config = HealthConfig::default();
    config.circuit.cool_down = Duration::from_secs(3600);
    config.circuit.max_cool_down = Duration::from_secs(3600);
    config.routing.policy = policy;
    let tracker = HealthTracker::new(config).expect("valid configuration");
    for (i, name) in names.iter().enumerate() {
        tracker.register(name, ProviderConfig::default()).unwrap();
        let latency = Duration::from_millis(500 + 900 * i as u64);
        for _ in 0..50 {
            report(&tracker, name, attempt(Outcome::Success, latency));
        }
    }
    for name in &names[..2] {
        for _ in 0..5 {
            let timeout = attempt(Outcome::Error(ErrorKind::Timeout), Duration::from_secs(30));
            report(&tracker, name, timeout);
        }
    }
    tracker.tick();
    tracker
}

fn attempt(outcome: Outcome, duration: Duration) -> Inference<'static> {
    Inference {
        model: "m",
        outcome,
        duration,
        ..Inference::default()
    }
}

fn report(tracker: &HealthTracker, provider: &str, inference: Inference<'_>) {
    let permit = tracker.try_acquire(provider).expect("closed");
    permit.finish(&inference);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (samples, batch) = if quick { (5, 2_000) } else { (31, 20_000) };

    let names: Vec<String> = (0..PROVIDERS).map(|i| format!("provider-{i:02}")).collect();
    let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
    let offers: Vec<Offer<'_>> = candidates
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let price = 0.1 + i as f64 * 0.37 % 3.0;
            Offer::new(name, Price::per_million(price, 2.0 * price))
        })
        .collect();
    let request = RouteRequest {
        model: "m",
        stream: false,
        offers: &offers,
    };
    let tracker = tracker(&names);
    let target = "provider-10";
    let outcomes = [
        attempt(Outcome::Success, Duration::from_millis(850)),
        attempt(Outcome::Success, Duration::from_millis(2300)),
        attempt(Outcome::Success, Duration::from_millis(12_000)),
    ];
    let failure = attempt(
        Outcome::Error(ErrorKind::ServerError),
        Duration::from_millis(400),
    );
    // Mostly successes with a failure now and then, so the circuit stays closed.
    let pick = |i: usize| {
        if i.is_multiple_of(16) {
            failure
        } else {
            outcomes[i % 3]
        }
    };

    let acquire_record = per_op(samples, batch, |i| {
        let permit = tracker.try_acquire(black_box(target)).expect("closed");
        permit.finish(black_box(&pick(i)));
    });
    // The same with the circuits shared through a store (in memory: what the request path
    // reads of any store is its local copy), against the local tracker above.
    let fleet = {
        let store = MemoryCircuitStore::new(gatewayz_health::SystemClock::new());
        let mut config = HealthConfig::default();
        config.circuit.cool_down = Duration::from_secs(3600);
        config.circuit.max_cool_down = Duration::from_secs(3600);
        let tracker = HealthTracker::builder(config)
            .circuit_store(store.replica())
            .build()
            .expect("valid configuration");
        for name in &names {
            tracker
                .register(name, ProviderConfig::default())
                .expect("new provider");
        }
        tracker
    };
    let shared_record = per_op(samples, batch, |i| {
        let permit = fleet.try_acquire(black_box(target)).expect("closed");
        permit.finish(black_box(&pick(i)));
    });
    let route = per_op(samples, batch, |i| {
        let mut route = tracker.route(black_box(&candidates));
        let candidate = route.next().expect("a candidate");
        if let Ok(permit) = candidate.admission {
            permit.finish(black_box(&outcomes[i % 3]));
        }
    });
    let order = per_op(samples, batch, |_| {
        black_box(tracker.failover_order(black_box(&candidates)));
    });
    // One tracker per policy, with the same providers and history.
    let decisions: Vec<(RoutingPolicy, Duration)> = RoutingPolicy::ALL
        .iter()
        .map(|&policy| {
            let tracker = tracker_with(&names, policy);
            let d = per_op(samples, batch, |_| {
                let mut route = tracker.route_request(black_box(&request));
                let first = route.next().expect("a candidate");
                black_box(&first);
            });
            (policy, d)
        })
        .collect();
    let (tick_samples, tick_batch) = if quick { (5, 20) } else { (31, 200) };
    let tick = per_op(tick_samples, tick_batch, |_| {
        black_box(tracker.tick());
    });
    assert_eq!(tracker.failover_order(&candidates).len(), PROVIDERS - 2);

    let us = Duration::from_micros(1);
    if quick {
        println!("quick run: fewer samples; `cargo bench` without `--quick` for the full one");
    }
    println!(
        "gatewayz-health, system clock, {PROVIDERS} providers (2 open), medians of {samples} batches of {batch}"
    );
    println!();
    println!("| measure | median | target | |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| report an attempt: `try_acquire` + `Permit::finish` | {} | <= 1 µs | {} |",
        ns(acquire_record),
        verdict(acquire_record, us)
    );
    println!(
        "| report an attempt, circuits shared through a store | {} ({:.2}× local) | <= 1 µs | {} |",
        ns(shared_record),
        shared_record.as_secs_f64() / acquire_record.as_secs_f64(),
        verdict(shared_record, us)
    );
    println!(
        "| route a request: `route`, first candidate, `Permit::finish`, 20 providers | {} | <= 2 µs | {} |",
        ns(route),
        verdict(route, 2 * us)
    );
    println!(
        "| `failover_order`, 20 providers | {} | <= 1 µs | {} |",
        ns(order),
        verdict(order, us)
    );
    for (policy, d) in &decisions {
        println!(
            "| decision `{policy}`: `route_request` + first candidate, 20 providers | {} ({:.1}× `failover_order`) | < 1 µs | {} |",
            ns(*d),
            d.as_secs_f64() / order.as_secs_f64(),
            verdict(*d, us)
        );
    }
    println!(
        "| `tick`, 20 providers (periodic) | {:.1} µs | | |",
        tick.as_secs_f64() * 1e6
    );

    for (measure, d, target, limit) in [
        (
            "report an attempt: try_acquire + Permit::finish",
            acquire_record,
            "<= 1 µs",
            us,
        ),
        (
            "route a request: route + Permit::finish, 20 providers",
            route,
            "<= 2 µs",
            2 * us,
        ),
        ("failover_order, 20 providers", order, "<= 1 µs", us),
    ] {
        Line {
            bench: "health",
            measure,
            ours: d.as_secs_f64() * 1e9,
            unit: "ns",
            target,
            pass: judged(d, limit),
            ..Line::default()
        }
        .print();
    }
    Line {
        bench: "health",
        measure: "report an attempt, circuits shared (baseline: local)",
        ours: shared_record.as_secs_f64() * 1e9,
        baseline: Some(acquire_record.as_secs_f64() * 1e9),
        unit: "ns",
        target: "<= 1 µs",
        pass: judged(shared_record, us),
        ..Line::default()
    }
    .print();
    for (policy, d) in &decisions {
        let measure = format!(
            "routing decision `{policy}`: route_request + first candidate, 20 providers (baseline: failover_order)"
        );
        Line {
            bench: "health",
            measure: &measure,
            ours: d.as_secs_f64() * 1e9,
            baseline: Some(order.as_secs_f64() * 1e9),
            unit: "ns",
            target: "< 1 µs",
            pass: judged(*d, us),
            ..Line::default()
        }
        .print();
    }
}
