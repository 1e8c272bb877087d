//! Credits under concurrency, run against the real binary: no overspend on a tiny balance, one
//! key read for simultaneous first uses, revocation within a second, and streams charged from
//! the provider's usage whatever the client sent in `stream_options`.
//!
//! The overspend bound (`docs/limits.md`): a key's balance goes below zero only by what requests
//! in progress cost beyond their reservation. The simulated providers honour `max_tokens` and
//! the model's `max_output_tokens`, as real ones do, so here it is zero: 200 simultaneous
//! requests on a key with 0.001 credits leave it at zero or more (before reservations, such a
//! key ended 46 times its balance below zero).

mod support;

use std::time::Duration;

use futures_util::{StreamExt, future::join_all};
use serde_json::{Value, json};
use support::{Setup, chat, credits};

const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 10.0
max_in_flight_per_key = 1000

[[providers]]
name = "alpha"
simulated = { latency_median_ms = 30, latency_sigma = 0.0, time_to_first_token_ms = 10, tokens_per_second = 20000, error_rate = 0.0 }
models = [{ name = "m", input_price_per_million = 0.1, output_price_per_million = 0.1, max_output_tokens = 300 }]
"#;

/// What the gateway charges for `usage` at 0.1 per million tokens either way, in nano-credits:
/// the same arithmetic as the gateway's, so the comparison is exact.
fn nano_charge(usage: &Value) -> i64 {
    let (prompt, completion) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    let cost = (prompt as f64 * 0.1 + completion as f64 * 0.1) / 1e6;
    (cost * 1e9).round() as i64
}

/// A client that opens as many connections as it is asked to.
fn unlimited_client() -> awc::Client {
    awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .timeout(Duration::from_secs(60))
        .finish()
}

/// One request, read to its end: the status and, for a success, the usage the client saw.
async fn request(client: &awc::Client, url: &str, key: &str, stream: bool) -> (u16, Option<Value>) {
    let mut response = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .send_json(&chat("m", stream))
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.next().await {
        body.extend_from_slice(&chunk.expect("the answer is not cut"));
    }
    if status != 200 {
        return (status, None);
    }
    let usage = if stream {
        String::from_utf8(body)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .find_map(|e| e.get("usage").filter(|u| !u.is_null()).cloned())
    } else {
        serde_json::from_slice::<Value>(&body)
            .unwrap()
            .get("usage")
            .cloned()
    };
    (status, usage)
}

#[actix_web::test]
async fn two_hundred_simultaneous_requests_never_overspend_a_tiny_balance() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 0.001);
    let gateway = setup.start(&[]);
    let client = unlimited_client();
    let answers =
        join_all((0..200).map(|i| request(&client, &gateway.url, &key, i % 2 == 0))).await;
    let served: Vec<&Value> = answers
        .iter()
        .filter_map(|(_, usage)| usage.as_ref())
        .collect();
    let refused = answers.iter().filter(|(status, _)| *status == 402).count();
    assert_eq!(
        served.len() + refused,
        200,
        "{:?}",
        answers.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    let spent: i64 = served.iter().map(|usage| nano_charge(usage)).sum();
    gateway.stop();
    let left = credits(&setup)[0];
    eprintln!(
        "200 simultaneous requests on 0.001 credits: {} served, {refused} refused (402), \
         {left} nano-credits left",
        served.len()
    );
    assert!(
        served.len() >= 5,
        "too few served to test anything: {}",
        served.len()
    );
    assert!(refused > 0, "nothing refused: the balance was never short");
    // Every answer the client got is charged, and the balance never went below zero.
    assert_eq!(left, 1_000_000 - spent);
    assert!(left >= 0, "overspent by {} nano-credits", -left);
}

#[actix_web::test]
async fn a_requests_worst_case_must_fit_and_the_402_says_how_to_fit_it() {
    let setup = Setup::new(CONFIG);
    // 0.00002 credits: less than 300 output tokens at 0.1 per million (0.00003), more than 100.
    let key = setup.create_key("paid", 0.00002);
    let gateway = setup.start(&[]);
    let reply = gateway.complete(&key, chat("m", false)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (402, "insufficient_credits"),
        "{reply:?}"
    );
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_tokens"), "{message}");
    let mut small = chat("m", false);
    small["max_tokens"] = json!(100);
    let reply = gateway.complete(&key, small).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body["usage"]["completion_tokens"].as_u64().unwrap() <= 100);
    gateway.stop();
}

#[actix_web::test]
async fn twenty_simultaneous_first_uses_of_a_key_read_it_once() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let gateway = setup.start(&[]);
    let client = unlimited_client();
    let answers = join_all((0..20).map(|_| request(&client, &gateway.url, &key, false))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    let metrics = gateway.metrics().await;
    let cache = [("cache", "api_keys")];
    assert_eq!(
        (
            metrics.value("cache_misses_total", &cache),
            metrics.value("cache_hits_total", &cache)
        ),
        (1.0, 19.0)
    );
    gateway.stop();
}

#[actix_web::test]
async fn a_revoked_key_is_refused_within_a_second() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let gateway = setup.start(&[]);
    assert_eq!(gateway.complete(&key, chat("m", false)).await.status, 200);
    let prefix: String = key.chars().take(10).collect();
    setup.keys(&["revoke", &prefix]);
    // Any request that starts a second after the revocation is committed is refused.
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    let reply = gateway.complete(&key, chat("m", false)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (401, "invalid_api_key"),
        "{reply:?}"
    );
    assert_eq!(
        gateway
            .metric(
                "gatewayz_requests_refused_total",
                &[("reason", "key_inactive")]
            )
            .await,
        1.0
    );
    gateway.stop();
}

#[actix_web::test]
async fn streams_are_charged_from_the_providers_usage_whatever_stream_options_says() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 10.0);
    let gateway = setup.start(&[]);
    let mut expected = 0;
    for options in [
        json!(null),
        json!("yes"),
        json!({"include_usage": false}),
        json!(7),
    ] {
        let mut body = chat("m", true);
        body["stream_options"] = options.clone();
        let streamed = support::stream(&gateway, &key, body, || {}).await;
        assert_eq!(streamed.status, 200, "{options}");
        let usage = streamed
            .events()
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .find_map(|e| e.get("usage").filter(|u| !u.is_null()).cloned())
            .unwrap_or_else(|| panic!("stream_options {options}: the provider sent no usage"));
        expected += nano_charge(&usage);
    }
    gateway.stop();
    assert_eq!(credits(&setup), [10_000_000_000 - expected]);
}
