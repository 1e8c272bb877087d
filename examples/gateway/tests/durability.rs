//! Charges survive `kill -9`, run against the real binary: under load (plain completions and
//! streams, many at once), the gateway is killed three times, and every answer a client received
//! in full (a plain completion's body, or a stream to its `data: [DONE]`), with the usage it
//! reported, has its charge in the ledger after the restart. Before charges were committed ahead
//! of the answer's end, each kill lost about 5% of the answers' charges (121 to 127 of 2,450).

mod support;

use std::{
    cell::RefCell,
    collections::HashMap,
    rc::Rc,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use serde_json::Value;
use support::{Setup, chat};

const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 10.0

[[providers]]
name = "alpha"
simulated = { latency_median_ms = 5, latency_sigma = 0.0, time_to_first_token_ms = 2, tokens_per_second = 100000, error_rate = 0.0 }
models = [{ name = "m", input_price_per_million = 1.0, output_price_per_million = 1.0 }]
"#;

/// Prompt and completion tokens of one answer.
type Usage = (u64, u64);

/// One request read to its end: its usage if the client received the whole answer.
async fn complete_one(client: &awc::Client, url: &str, key: &str, stream: bool) -> Option<Usage> {
    let mut response = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .send_json(&chat("m", stream))
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.next().await {
        body.extend_from_slice(&chunk.ok()?);
    }
    let usage_of = |value: &Value| {
        let usage = value.get("usage").filter(|u| !u.is_null())?;
        Some((
            usage["prompt_tokens"].as_u64()?,
            usage["completion_tokens"].as_u64()?,
        ))
    };
    if stream {
        let text = String::from_utf8(body).ok()?;
        let events: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        if events.last() != Some(&"[DONE]") {
            return None;
        }
        events
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .find_map(|e| usage_of(&e))
    } else {
        usage_of(&serde_json::from_slice(&body).ok()?)
    }
}

/// Every charge in the ledger, as usage.
fn ledger(setup: &Setup) -> Vec<Usage> {
    let connection = rusqlite::Connection::open(setup.data().join("gatewayz.db")).unwrap();
    let mut statement = connection
        .prepare("SELECT input_tokens, output_tokens FROM usage")
        .unwrap();
    statement
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// How many of `received` have no charge of their own in `ledger` (as multisets).
fn missing(received: &[Usage], ledger: &[Usage]) -> usize {
    let mut charged: HashMap<Usage, usize> = HashMap::new();
    for usage in ledger {
        *charged.entry(*usage).or_default() += 1;
    }
    received
        .iter()
        .filter(|usage| match charged.get_mut(usage) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .count()
}

#[actix_web::test]
async fn every_answer_received_in_full_is_charged_after_kill_9() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 1000.0);
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .timeout(Duration::from_secs(10))
        .finish();
    let received: Rc<RefCell<Vec<Usage>>> = Rc::default();
    for round in 1..=3 {
        let gateway = setup.start(&[]);
        let url = gateway.url.clone();
        let before = received.borrow().len();
        let until = Instant::now() + Duration::from_millis(1500);
        let workers: Vec<_> = (0..24)
            .map(|worker| {
                let (client, url, key, received) = (
                    client.clone(),
                    url.clone(),
                    key.clone(),
                    Rc::clone(&received),
                );
                actix_web::rt::spawn(async move {
                    let mut failures = 0;
                    for i in 0.. {
                        match complete_one(&client, &url, &key, (worker + i) % 2 == 0).await {
                            Some(usage) => received.borrow_mut().push(usage),
                            None => failures += 1,
                        }
                        if failures > 0 || Instant::now() > until + Duration::from_secs(5) {
                            break;
                        }
                    }
                })
            })
            .collect();
        // Killed in the middle of the load, with requests and streams in progress.
        actix_web::rt::time::sleep(until.saturating_duration_since(Instant::now())).await;
        gateway.kill();
        for worker in workers {
            worker.await.unwrap();
        }
        let received = received.borrow();
        let answered = received.len() - before;
        let lost = missing(&received, &ledger(&setup));
        eprintln!(
            "round {round}: {answered} answers received in full before kill -9, {lost} of all \
             {} received have no charge in the ledger",
            received.len()
        );
        assert!(
            answered >= 100,
            "round {round}: only {answered} answers: too little load"
        );
        assert_eq!(lost, 0, "round {round}: answers received but not charged");
    }
}
