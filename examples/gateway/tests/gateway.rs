//! The example gateway, run as a process with simulated providers on loopback: completions,
//! streams, every error status, failover, charging, the key cache, business gauges, shutdown.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Setup, chat, credits, stream};

/// Deterministic simulated providers (no random errors, narrow latencies).
const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 1.0
business_collect_seconds = 0.2
health_tick_seconds = 0.5

[[providers]]
name = "alpha"
simulated = { latency_median_ms = 20, latency_sigma = 0.0, time_to_first_token_ms = 10, tokens_per_second = 4000, error_rate = 0.0 }
models = [
    { name = "shared", input_price_per_million = 2.0, output_price_per_million = 8.0 },
    { name = "alpha-only", input_price_per_million = 1.0, output_price_per_million = 3.0 },
]

[[providers]]
name = "beta"
simulated = { latency_median_ms = 20, latency_sigma = 0.0, time_to_first_token_ms = 10, tokens_per_second = 4000, error_rate = 0.0 }
models = [{ name = "shared", input_price_per_million = 2.5, output_price_per_million = 10.0 }]

[[providers]]
name = "slow"
simulated = { latency_median_ms = 3000, latency_sigma = 0.0, time_to_first_token_ms = 50, tokens_per_second = 40, error_rate = 0.0 }
models = [
    { name = "slow-complete", input_price_per_million = 1.0, output_price_per_million = 1.0 },
    { name = "slow-stream", input_price_per_million = 4.0, output_price_per_million = 16.0 },
]

[[providers]]
name = "limited"
simulated = { latency_median_ms = 5, latency_sigma = 0.0, error_rate = 0.0, rate_limit_rate = 1.0 }
models = [{ name = "limited-model", input_price_per_million = 1.0, output_price_per_million = 1.0 }]

[[providers]]
name = "broken"
simulated = { latency_median_ms = 5, latency_sigma = 0.0, error_rate = 1.0 }
models = [{ name = "broken-model", input_price_per_million = 1.0, output_price_per_million = 1.0 }]
"#;

/// What the gateway charges for `usage` at these prices, in nano-credits: the same arithmetic
/// as the gateway's, so the comparison is exact.
fn nano_charge(usage: &Value, input_price: f64, output_price: f64) -> i64 {
    let (prompt, completion) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    let cost = (prompt as f64 * input_price + completion as f64 * output_price) / 1e6;
    (cost * 1e9).round() as i64
}

#[actix_web::test]
async fn a_plain_completion_is_answered_and_charged_exactly_across_restarts() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let mut charged = 0;
    for _ in 0..2 {
        let gateway = setup.start(&[]);
        for _ in 0..3 {
            let reply = gateway.complete(&key, chat("alpha-only", false)).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            assert_eq!(reply.body["object"], "chat.completion");
            assert!(
                reply.body["choices"][0]["message"]["content"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty())
            );
            charged += nano_charge(&reply.body["usage"], 1.0, 3.0);
        }
        gateway.stop();
        // The database keeps every charge: after a clean stop, and so after a restart.
        assert_eq!(credits(&setup), [10_000_000_000 - charged]);
    }
    assert!(charged > 0);
}

#[actix_web::test]
async fn a_stream_arrives_chunk_by_chunk_with_usage_at_the_end() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let gateway = setup.start(&[]);
    let streamed = stream(&gateway, &key, chat("slow-stream", true), || {}).await;
    assert_eq!(streamed.status, 200);
    assert_eq!(streamed.content_type, "text/event-stream");
    let (first, last) = (
        streamed.chunks.first().unwrap().0,
        streamed.chunks.last().unwrap().0,
    );
    // At 40 tokens a second, 20 or more tokens take half a second: a buffered answer would
    // arrive as one burst.
    assert!(
        streamed.chunks.len() >= 5,
        "{} chunks",
        streamed.chunks.len()
    );
    assert!(
        last - first >= Duration::from_millis(300),
        "chunks spread over {:?}",
        last - first
    );
    let events = streamed.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let usage_event: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    let usage = &usage_event["usage"];
    let text: String = events[..events.len() - 2]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|e| {
            e["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let words = text.split_whitespace().count() as u64;
    assert_eq!(
        usage["completion_tokens"].as_u64(),
        Some(words),
        "one simulated token is one word"
    );
    let expected = nano_charge(usage, 4.0, 16.0);
    gateway.stop();
    assert_eq!(credits(&setup), [10_000_000_000 - expected]);
}

#[actix_web::test]
async fn every_error_has_its_status_and_the_openai_shape() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let broke = setup.create_key("paid", 0.0);
    let gateway = setup.start(&[]);

    let reply = gateway
        .complete("gwz_not-a-key", chat("shared", false))
        .await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_api_key"));
    let (status, body) = gateway.get("/v1/models", None).await;
    assert_eq!(status, 401, "{body}");

    let reply = gateway.complete(&broke, chat("shared", false)).await;
    assert_eq!((reply.status, reply.code()), (402, "insufficient_credits"));

    let reply = gateway.complete(&key, chat("no-such-model", false)).await;
    assert_eq!((reply.status, reply.code()), (404, "model_not_found"));
    assert_eq!(reply.body["error"]["param"], "model");

    let reply = gateway.complete(&key, json!({"model": "shared"})).await;
    assert_eq!(
        (
            reply.status,
            reply.code(),
            reply.body["error"]["param"].as_str()
        ),
        (400, "invalid_request", Some("messages"))
    );
    let mut response = gateway
        .client()
        .post(format!("{}/v1/chat/completions", gateway.url))
        .bearer_auth(&key)
        .insert_header(("content-type", "application/json"))
        .send_body("{not json")
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&response.body().await.unwrap()).unwrap();
    assert_eq!(
        (response.status().as_u16(), body["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );

    let reply = gateway.complete(&key, chat("limited-model", false)).await;
    assert_eq!(
        (reply.status, reply.code(), reply.retry_after.as_deref()),
        (429, "rate_limited", Some("1"))
    );

    let reply = gateway.complete(&key, chat("slow-complete", false)).await;
    assert_eq!((reply.status, reply.code()), (504, "upstream_timeout"));

    // Five failures in a row open the circuit: 502 until then, 503 with Retry-After after.
    for _ in 0..5 {
        let reply = gateway.complete(&key, chat("broken-model", false)).await;
        assert_eq!((reply.status, reply.code()), (502, "upstream_error"));
    }
    let reply = gateway.complete(&key, chat("broken-model", false)).await;
    assert_eq!((reply.status, reply.code()), (503, "provider_unavailable"));
    let retry_after: u64 = reply.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    // No error body carries upstream text or internals.
    assert!(!String::from_utf8_lossy(&reply.raw).contains("simulated"));
    // The clients' view of the model: six failed requests, though the open circuit let only
    // five attempts through (the per-model objective counts the refused one too). Requests
    // refused before routing (unknown model, bad body, no credits) are not the model's.
    let metrics = gateway.metrics().await;
    let requests = |model, status| {
        metrics.sum(
            "gatewayz_model_requests_total",
            &[("model", model), ("status", status)],
        )
    };
    assert_eq!(requests("broken-model", "error"), 6.0);
    assert_eq!(requests("broken-model", "success"), 0.0);
    assert_eq!(
        metrics.sum(
            "model_inference_requests_total",
            &[("model", "broken-model"), ("status", "error")]
        ),
        5.0
    );
    assert_eq!(
        requests("limited-model", "error") + requests("slow-complete", "error"),
        2.0
    );
    assert_eq!(
        requests("shared", "error") + requests("shared", "success"),
        0.0
    );
    assert_eq!(requests("no-such-model", "error"), 0.0);

    let (status, body) = gateway.get("/v1/models", Some(&key)).await;
    assert_eq!(status, 200);
    let models: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "alpha-only",
            "broken-model",
            "limited-model",
            "shared",
            "slow-complete",
            "slow-stream"
        ]
    );
}

#[actix_web::test]
async fn clients_keep_getting_answers_when_a_provider_goes_down() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let gateway = setup.start(&[]);
    // Both providers are healthy (or not judged yet): load is spread over them.
    for _ in 0..40 {
        assert_eq!(
            gateway.complete(&key, chat("shared", false)).await.status,
            200
        );
    }
    let served = |metrics: &gatewayz_testkit::exposition::Exposition, provider: &str| {
        let labels = [
            ("provider", provider),
            ("model", "shared"),
            ("status", "success"),
        ];
        metrics.value("model_inference_requests_total", &labels)
    };
    let before = gateway.metrics().await;
    assert!(
        served(&before, "alpha") > 0.0 && served(&before, "beta") > 0.0,
        "no spreading"
    );

    gateway.simulate("alpha", json!({"outage": true})).await;
    // Requests that try alpha first fail over to beta; five failures in a row open its circuit.
    let alpha = ("provider", "alpha");
    let mut requests = 0;
    let metrics = loop {
        let reply = gateway
            .complete(&key, chat("shared", requests % 2 == 0))
            .await;
        assert_eq!(reply.status, 200, "request {requests}: {reply:?}");
        requests += 1;
        let metrics = gateway.metrics().await;
        let open = metrics.value(
            "gatewayz_circuit_breaker_state",
            &[alpha, ("state", "open")],
        );
        if open == 1.0 {
            break metrics;
        }
        assert!(requests < 200, "alpha's circuit never opened");
    };
    for _ in 0..10 {
        assert_eq!(
            gateway.complete(&key, chat("shared", false)).await.status,
            200
        );
    }
    let after = gateway.metrics().await;
    let failovers = [alpha, ("reason", "connection")];
    assert_eq!(metrics.value("gatewayz_failovers_total", &failovers), 5.0);
    assert_eq!(
        metrics.value("gatewayz_provider_errors_total", &failovers),
        5.0
    );
    // An open circuit takes alpha out of the order: no more failovers, beta serves everything.
    assert_eq!(after.value("gatewayz_failovers_total", &failovers), 5.0);
    assert_eq!(
        after.value(
            "gatewayz_circuit_breaker_transitions_total",
            &[alpha, ("from", "closed"), ("to", "open")]
        ),
        1.0
    );
    assert_eq!(after.value("provider_availability", &[alpha]), 0.0);
    assert_eq!(
        served(&after, "beta") - served(&before, "beta"),
        f64::from(requests + 10)
    );
    assert_eq!(served(&after, "alpha"), served(&before, "alpha"));
    // Every request was answered: five failed attempts, no failed request.
    let shared = |status| {
        after.value(
            "gatewayz_model_requests_total",
            &[("model", "shared"), ("status", status)],
        )
    };
    assert_eq!(
        (shared("success"), shared("error")),
        (f64::from(40 + requests + 10), 0.0)
    );

    // Once the provider is back and the cool-down has passed, a probe closes the circuit; here
    // an operator resets it instead of waiting 30 s.
    gateway.simulate("alpha", json!({"outage": false})).await;
    let mut response = gateway
        .client()
        .post(format!(
            "{}/admin/providers/alpha/circuit/reset",
            gateway.url
        ))
        .bearer_auth(support::ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.body().await);
    assert_eq!(
        gateway
            .complete(&key, chat("alpha-only", false))
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn keys_are_served_from_the_cache_and_business_gauges_follow_the_database() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    setup.create_key("trial", 1.0);
    setup.create_key("trial", 1.0);
    let listed = setup.keys(&["list"]);
    let revoked = listed
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    setup.keys(&["revoke", &revoked]);

    let gateway = setup.start(&[]);
    for _ in 0..4 {
        assert_eq!(
            gateway
                .complete(&key, chat("alpha-only", false))
                .await
                .status,
            200
        );
    }
    let mut waited = Duration::ZERO;
    let metrics = loop {
        let metrics = gateway.metrics().await;
        // Business gauges are collected, and charges written, on their own schedules.
        // A query is counted when it ends, after its series appears.
        let charged = metrics.samples().any(|s| {
            s.name == "database_query_duration_seconds_count"
                && s.label("operation") == Some("apply_charges")
                && s.value >= 1.0
        });
        if (metrics.family("active_api_keys").is_some() && charged)
            || waited > Duration::from_secs(10)
        {
            break metrics;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    };
    assert_eq!(
        metrics.value("cache_misses_total", &[("cache", "api_keys")]),
        1.0
    );
    assert_eq!(
        metrics.value("cache_hits_total", &[("cache", "api_keys")]),
        3.0
    );
    // With simulated providers only, the gateway adds its own paid demo key.
    assert_eq!(metrics.value("active_api_keys", &[]), 3.0);
    assert_eq!(metrics.value("active_subscriptions", &[]), 2.0);
    assert_eq!(metrics.value("trial_active", &[]), 1.0);
    assert!(
        metrics.value(
            "database_query_duration_seconds_count",
            &[("operation", "lookup_key")]
        ) >= 1.0
    );
    assert!(
        metrics.value(
            "database_query_duration_seconds_count",
            &[("operation", "apply_charges")]
        ) >= 1.0
    );
}

#[actix_web::test]
async fn shutdown_lets_a_stream_finish_and_keeps_its_charge() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let gateway = setup.start(&[]);
    // SIGTERM as soon as the first chunk arrives; the rest must still come.
    let streamed = stream(&gateway, &key, chat("slow-stream", true), || {
        gateway.terminate()
    })
    .await;
    assert_eq!(streamed.status, 200);
    let (first, last) = (
        streamed.chunks.first().unwrap().0,
        streamed.chunks.last().unwrap().0,
    );
    assert!(
        last - first >= Duration::from_millis(300),
        "the stream ended {:?} after the signal",
        last - first
    );
    let events = streamed.events();
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "the stream was cut at shutdown: {:?}\n{}",
        streamed.chunks,
        gateway.log()
    );
    let usage_event: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    let expected = nano_charge(&usage_event["usage"], 4.0, 16.0);
    let log = gateway.log();
    let status = gateway.wait();
    assert!(status.success(), "{status}: {log}");
    assert_eq!(credits(&setup), [10_000_000_000 - expected]);
}
