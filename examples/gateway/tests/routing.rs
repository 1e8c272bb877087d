//! The gateway's `[routing]`: each policy sends a model's requests to the provider it should,
//! among simulated providers of different prices and speeds, and the decisions and the saving
//! against the reference cost are published.

mod support;

use std::time::{Duration, Instant};

use gatewayz_testkit::exposition::Exposition;
use serde_json::Value;
use support::{Gateway, Setup, chat, stream};

/// Three providers serving the same five models, one per policy. No random errors and fixed
/// latencies (sigma 0):
///
/// | provider | price in/out per million | whole call | first token of a stream |
/// | --- | --- | --- | --- |
/// | `fast` | 5.00 | 10 ms | 150 ms |
/// | `mid` | 0.11 | 35 ms | 10 ms |
/// | `cheap` | 0.10 | 150 ms | 80 ms |
///
/// `fastest` picks `fast` for plain calls and `mid` for streams; `cheapest` picks `cheap`;
/// `weighted` (here half price, half latency) picks `mid`, nearly as cheap as `cheap` and far
/// faster (0.5 × 0.91 + 0.5 × 0.29 = 0.60, against 0.53 for `cheap` and 0.51 for `fast`);
/// `priority` keeps the configuration's order among equal scores (`fast`, listed first);
/// `spread` sends traffic to all three. No exploration, so every request goes to the pick.
const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 5.0
health_tick_seconds = 0.2

[routing]
policy = "spread"
exploration = 0.0
weights = { health = 0.0, price = 0.5, latency = 0.5 }
models = { m-priority = "priority", m-cheapest = "cheapest", m-fastest = "fastest", m-weighted = "weighted" }

[[providers]]
name = "fast"
simulated = { latency_median_ms = 10, latency_sigma = 0.0, time_to_first_token_ms = 150, tokens_per_second = 20000, error_rate = 0.0 }
models = [
    { name = "m-spread", upstream = "fast", input_price_per_million = 5.0, output_price_per_million = 5.0 },
    { name = "m-priority", upstream = "fast", input_price_per_million = 5.0, output_price_per_million = 5.0 },
    { name = "m-cheapest", upstream = "fast", input_price_per_million = 5.0, output_price_per_million = 5.0 },
    { name = "m-fastest", upstream = "fast", input_price_per_million = 5.0, output_price_per_million = 5.0 },
    { name = "m-weighted", upstream = "fast", input_price_per_million = 5.0, output_price_per_million = 5.0 },
]

[[providers]]
name = "mid"
simulated = { latency_median_ms = 35, latency_sigma = 0.0, time_to_first_token_ms = 10, tokens_per_second = 20000, error_rate = 0.0 }
models = [
    { name = "m-spread", upstream = "mid", input_price_per_million = 0.11, output_price_per_million = 0.11 },
    { name = "m-priority", upstream = "mid", input_price_per_million = 0.11, output_price_per_million = 0.11 },
    { name = "m-cheapest", upstream = "mid", input_price_per_million = 0.11, output_price_per_million = 0.11 },
    { name = "m-fastest", upstream = "mid", input_price_per_million = 0.11, output_price_per_million = 0.11 },
    { name = "m-weighted", upstream = "mid", input_price_per_million = 0.11, output_price_per_million = 0.11 },
]

[[providers]]
name = "cheap"
simulated = { latency_median_ms = 150, latency_sigma = 0.0, time_to_first_token_ms = 80, tokens_per_second = 20000, error_rate = 0.0 }
models = [
    { name = "m-spread", upstream = "cheap", input_price_per_million = 0.10, output_price_per_million = 0.10 },
    { name = "m-priority", upstream = "cheap", input_price_per_million = 0.10, output_price_per_million = 0.10 },
    { name = "m-cheapest", upstream = "cheap", input_price_per_million = 0.10, output_price_per_million = 0.10 },
    { name = "m-fastest", upstream = "cheap", input_price_per_million = 0.10, output_price_per_million = 0.10 },
    { name = "m-weighted", upstream = "cheap", input_price_per_million = 0.10, output_price_per_million = 0.10 },
]
"#;

const PROVIDERS: [&str; 3] = ["fast", "mid", "cheap"];

/// Who served a plain completion: the simulated providers answer with the upstream model id,
/// which the configuration sets to the provider's name.
async fn served_by(gateway: &Gateway, key: &str, model: &str) -> String {
    let reply = gateway.complete(key, chat(model, false)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body["model"].as_str().unwrap().to_owned()
}

/// Who served a stream, from the `model` of its chunks.
async fn streamed_by(gateway: &Gateway, key: &str, model: &str) -> String {
    let streamed = stream(gateway, key, chat(model, true), || {}).await;
    assert_eq!(streamed.status, 200);
    let first = streamed.events().into_iter().next().expect("a chunk");
    let chunk: Value = serde_json::from_str(&first).unwrap();
    chunk["model"].as_str().unwrap().to_owned()
}

/// Waits until a health tick has published every provider's p95.
async fn latencies_known(gateway: &Gateway) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = gateway.metrics().await;
        let known = PROVIDERS.iter().all(|p| {
            metrics
                .value("gatewayz_provider_latency_p95_seconds", &[("provider", p)])
                .is_finite()
        });
        if known {
            return metrics;
        }
        assert!(
            Instant::now() < deadline,
            "no p95 published for every provider"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn each_routing_policy_sends_requests_to_the_provider_it_should() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 100.0);
    let gateway = setup.start(&[]);

    // Spread, while nothing is known: every provider serves, and their latencies (whole calls
    // and first tokens) are learnt.
    let mut spread = std::collections::BTreeMap::<String, u32>::new();
    for i in 0..60 {
        let provider = if i % 2 == 0 {
            served_by(&gateway, &key, "m-spread").await
        } else {
            streamed_by(&gateway, &key, "m-spread").await
        };
        *spread.entry(provider).or_default() += 1;
    }
    for provider in PROVIDERS {
        let n = spread.get(provider).copied().unwrap_or(0);
        assert!(n >= 6, "spread sent {n} of 60 to {provider}: {spread:?}");
    }
    latencies_known(&gateway).await;

    for (model, expected) in [
        ("m-priority", "fast"),
        ("m-cheapest", "cheap"),
        ("m-fastest", "fast"),
        ("m-weighted", "mid"),
    ] {
        for _ in 0..8 {
            assert_eq!(served_by(&gateway, &key, model).await, expected, "{model}");
        }
    }
    // For a stream, `fastest` compares time to first token.
    for _ in 0..5 {
        assert_eq!(streamed_by(&gateway, &key, "m-fastest").await, "mid");
    }

    let metrics = gateway.metrics().await;
    let decided = |policy: &str, provider: &str| {
        metrics.value(
            "gatewayz_routing_decisions_total",
            &[("policy", policy), ("provider", provider)],
        )
    };
    assert_eq!(decided("cheapest", "cheap"), 8.0);
    assert_eq!(decided("priority", "fast"), 8.0);
    assert_eq!(decided("fastest", "fast") + decided("fastest", "mid"), 13.0);
    assert_eq!(decided("weighted", "mid"), 8.0);
    assert_eq!(
        PROVIDERS.iter().map(|p| decided("spread", p)).sum::<f64>(),
        60.0
    );
    // Against the reference (the mean price of the three), cheapest saved and fastest, on the
    // dearest provider, spent more.
    let saved = |model: &str, provider: &str| {
        let pair = [("provider", provider), ("model", model)];
        metrics.value("gatewayz_routing_reference_cost_usd_total", &pair)
            - metrics.value("gatewayz_cost_usd_total", &pair)
    };
    assert!(saved("m-cheapest", "cheap") > 0.0);
    assert!(saved("m-fastest", "fast") < 0.0);
    gateway.stop();
}
