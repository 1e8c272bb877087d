//! The heap a routed request takes, measured by a counting allocator (alone in this binary, so
//! that no other test allocates meanwhile).
//!
//! Routing a request over up to 8 candidates and reporting its attempt allocates one small
//! shared slot (where the attempt's end is written for the route to read: 24 bytes); the
//! candidates stay inline in the route. Before routing policies, the same request took 208
//! bytes over 2 candidates, 560 over 5 and 736 over 8, in four allocations (the ranking, the
//! order, the route's list, a slot per attempt).

use std::time::Duration;

use gatewayz_health::{
    HealthConfig, HealthTracker, Inference, Offer, Outcome, Price, ProviderConfig, RouteRequest,
    RoutingPolicy,
};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// The peak heap `work` takes beyond what was allocated before it.
fn peak_of(work: impl FnOnce()) -> usize {
    ALLOCATOR.reset_peak_usage();
    let before = ALLOCATOR.current_usage();
    work();
    ALLOCATOR.peak_usage() - before
}

#[test]
fn a_routed_request_takes_one_small_allocation() {
    let names: Vec<String> = (0..8).map(|i| format!("provider-{i}")).collect();
    let offers: Vec<Offer<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| Offer::new(n, Price::per_million(1.0 + i as f64, 2.0)))
        .collect();
    for policy in RoutingPolicy::ALL.iter().copied() {
        let mut config = HealthConfig::default();
        config.routing.policy = policy;
        let tracker = HealthTracker::new(config).unwrap();
        for name in &names {
            tracker.register(name, ProviderConfig::default()).unwrap();
        }
        let request = RouteRequest {
            model: "m",
            stream: false,
            offers: &offers,
        };
        let attempt = Inference {
            model: "m",
            outcome: Outcome::Success,
            duration: Duration::from_millis(300),
            input_tokens: 100,
            output_tokens: 50,
            ..Inference::default()
        };
        let route_once = || {
            let mut route = tracker.route_request(&request);
            let first = route.next().unwrap();
            first.admission.unwrap().finish(&attempt);
        };
        // The first call learns the model (one entry in a table), then nothing more.
        route_once();
        tracker.tick();
        let peak = peak_of(route_once);
        println!("{policy}: {peak} bytes");
        assert!(
            peak <= 64,
            "{policy}: a route over 8 candidates took {peak} bytes"
        );
        let peak = peak_of(|| drop(tracker.route(&["provider-0", "provider-1"])));
        assert_eq!(
            peak, 0,
            "{policy}: a route that is not walked allocates nothing"
        );
    }
}
