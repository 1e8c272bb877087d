//! Customer events, end to end: made by the `keys` command (another process), by the gateway
//! (a 402 for lack of credits) and by the clock (an expiry), recorded in the database, and
//! exported by the gateway as counters set from its totals, which therefore survive a restart
//! and count what the command did while the gateway ran. The summary's business section
//! derives conversion, churn, growth and the projection from them.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Gateway, Setup};

/// A request of at most 10 output tokens: a few cost what the spender key has.
fn short() -> Value {
    json!({"model": "gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]})
}

/// One simulated provider, free of errors; business collection every 200 ms.
const CONFIG: &str = r#"
[server]
business_collect_seconds = 0.2

[[providers]]
name = "openrouter"
simulated = { latency_median_ms = 5, latency_sigma = 0.1, time_to_first_token_ms = 2, tokens_per_second = 20000, error_rate = 0.0 }
models = [{ name = "gpt-4o-mini", input_price_per_million = 20.0, output_price_per_million = 20.0 }]
"#;

/// `gatewayz_customer_events_total{event, plan}` as the gateway exports it.
async fn event(gateway: &Gateway, event: &str, plan: &str) -> f64 {
    gateway
        .metric(
            "gatewayz_customer_events_total",
            &[("event", event), ("plan", plan)],
        )
        .await
}

/// Waits until the exported counters equal `expected` (a collection runs every 200 ms).
async fn wait_for_events(gateway: &Gateway, expected: &[(&str, &str, f64)]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut seen = Vec::new();
        for (name, plan, _) in expected {
            seen.push(event(gateway, name, plan).await);
        }
        let wanted: Vec<f64> = expected.iter().map(|e| e.2).collect();
        if seen == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "events {expected:?} exported as {seen:?}\n{}",
            gateway.log()
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn prefix(setup: &Setup, key: &str) -> String {
    let listing = setup.keys(&["list"]);
    let prefix: String = key.chars().take(10).collect();
    assert!(listing.contains(&prefix), "{listing}");
    prefix
}

#[test]
fn every_event_is_exported_from_the_database_and_survives_a_restart() {
    actix_web::rt::System::new().block_on(async {
        let setup = Setup::new(CONFIG);
        // Before the gateway starts: a trial that converts, a paid key that is cancelled, a
        // trial that has already lapsed (it expires as it is created).
        let trial = setup.create_key("trial", 1.0);
        let cancelled = setup.create_key("paid", 1.0);
        setup.keys(&[
            "create",
            "--name",
            "lapsing",
            "--plan",
            "trial",
            "--trial-days",
            "0",
        ]);
        setup.keys(&["convert", &prefix(&setup, &trial)]);
        setup.keys(&["revoke", &prefix(&setup, &cancelled)]);
        // A key with credits for a few short requests ($20 per million tokens, 10 at most out).
        let spender = setup.create_key("paid", 0.002);

        // The gateway adds its demo key (paid): every provider is simulated.
        let gateway = setup.start(&[]);
        let before_traffic = [
            ("key_created", "trial", 2.0),
            ("key_created", "paid", 3.0),
            ("trial_started", "trial", 2.0),
            ("trial_converted", "trial", 1.0),
            ("cancelled", "paid", 1.0),
            ("key_revoked", "paid", 1.0),
            ("lapsed", "trial", 1.0),
            ("lapsed", "paid", 0.0),
            ("credits_topped_up", "paid", 0.0),
            ("credits_exhausted", "paid", 0.0),
        ];
        wait_for_events(&gateway, &before_traffic).await;

        // Spend the key down, then keep asking: many 402s, one exhaustion.
        let mut refused = 0;
        for _ in 0..20 {
            let reply = gateway.complete(&spender, short()).await;
            if reply.status == 402 {
                refused += 1;
            }
        }
        assert!(refused >= 10, "{refused} refusals of 20");
        wait_for_events(&gateway, &[("credits_exhausted", "paid", 1.0)]).await;

        // A top-up from the command line while the gateway runs, then a new exhaustion.
        setup.keys(&["top-up", &prefix(&setup, &spender), "--credits", "0.002"]);
        wait_for_events(
            &gateway,
            &[
                ("credits_topped_up", "paid", 1.0),
                ("credits_exhausted", "paid", 1.0),
            ],
        )
        .await;
        assert_eq!(
            gateway
                .metric("gatewayz_credits_topped_up_total", &[("plan", "paid")])
                .await,
            0.002
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // The key's cached balance is read again within a second of the top-up.
            gateway.complete(&spender, short()).await;
            if event(&gateway, "credits_exhausted", "paid").await == 2.0 {
                break;
            }
            assert!(Instant::now() < deadline, "no second exhaustion");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }

        // The summary derives the figures from the same counters.
        let (status, text) = gateway
            .get("/prometheus/metrics/summary?category=business", None)
            .await;
        assert_eq!(status, 200);
        let summary: Value = serde_json::from_str(&text).unwrap();
        let business = &summary["metrics"]["business"];
        assert_eq!(business["trials_started"], 2);
        assert_eq!(business["trials_converted"], 1);
        // Converted, and lapsed: two trials ended, one converted.
        assert_eq!(business["trials_ended"], 2);
        assert_eq!(business["trial_conversion_rate"], 0.5);
        // Paid: the cancelled key, the spender, the demo key and the conversion started; one
        // ended.
        assert_eq!(business["subscriptions_started"], 4);
        assert_eq!(business["subscriptions_ended"], 1);
        assert_eq!(business["net_subscription_growth"], 3);
        assert_eq!(business["credits_exhausted"], 2);

        // A restart reads the same totals back from the database.
        gateway.stop();
        let gateway = setup.start(&[]);
        let mut after = before_traffic.to_vec();
        for (name, plan, value) in &mut after {
            if (*name, *plan) == ("credits_topped_up", "paid") {
                *value = 1.0;
            }
            if (*name, *plan) == ("credits_exhausted", "paid") {
                *value = 2.0;
            }
        }
        wait_for_events(&gateway, &after).await;
        gateway.stop();
    });
}

#[test]
fn the_keys_command_refuses_what_it_cannot_do_and_says_why() {
    let setup = Setup::new(CONFIG);
    let paid = setup.create_key("paid", 1.0);
    let prefix = prefix(&setup, &paid);
    for (args, says) in [
        (vec!["convert", prefix.as_str()], "already on the paid plan"),
        (vec!["convert", "gwz_nothing"], "no API key matches"),
        (vec!["top-up", prefix.as_str(), "--credits", "0"], "above 0"),
        (
            vec!["top-up", prefix.as_str(), "--credits", "-5"],
            "above 0",
        ),
        (
            vec!["top-up", prefix.as_str(), "--credits", "1000000000"],
            "at most 1000000000",
        ),
    ] {
        let output = setup.keys_output(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    setup.keys(&["revoke", &prefix]);
    let output = setup.keys_output(&["top-up", &prefix, "--credits", "1"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("revoked"));
}
