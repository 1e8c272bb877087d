//! What operators type, run against the real binary: the admin simulator endpoint validates
//! every field (a 400 naming it, never a panic) and applies concurrent changes one after the
//! other; `keys create --credits` refuses amounts it cannot store; the data directory and the
//! database files are owner-only, and are made so when found readable by others.

mod support;

use std::{fs, os::unix::fs::PermissionsExt, path::Path};

use futures_util::future::join_all;
use serde_json::{Value, json};
use support::{ADMIN_KEY, Setup, chat};

const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 5.0

[health]
circuit = { consecutive_failures = 1000 }

[[providers]]
name = "alpha"
simulated = { latency_median_ms = 5, latency_sigma = 0.0, time_to_first_token_ms = 5, tokens_per_second = 5000, error_rate = 0.0 }
models = [{ name = "m", input_price_per_million = 1.0, output_price_per_million = 1.0 }]
"#;

/// `POST /admin/simulator/alpha` with `settings`: status and body.
async fn change(gateway: &support::Gateway, settings: Value) -> (u16, Value) {
    let mut response = gateway
        .client()
        .post(format!("{}/admin/simulator/alpha", gateway.url))
        .bearer_auth(ADMIN_KEY)
        .send_json(&settings)
        .await
        .unwrap();
    let body = response.body().await.unwrap();
    (
        response.status().as_u16(),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn simulator_settings_are_validated_field_by_field_and_never_panic() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 100.0);
    let gateway = setup.start(&[]);
    for (settings, field) in [
        (json!({"tokens_per_second": 5e-324}), "tokens_per_second"),
        (json!({"tokens_per_second": 1e7}), "tokens_per_second"),
        (json!({"latency_sigma": 1e308}), "latency_sigma"),
        (json!({"latency_median_ms": -5}), "latency_median_ms"),
        (
            json!({"time_to_first_token_ms": 1e300}),
            "time_to_first_token_ms",
        ),
        (json!({"error_rate": "often"}), "error_rate"),
        (json!({"rate_limit_rate": 2}), "rate_limit_rate"),
        (json!({"outage": "yes"}), "outage"),
        (json!({"bogus": 1}), "bogus"),
    ] {
        let (status, body) = change(&gateway, settings.clone()).await;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{settings}: {body}");
        assert!(
            message.contains(&format!("`{field}`")),
            "{settings}: {message}"
        );
        // Whatever was refused left the provider working.
        let streamed = support::stream(&gateway, &key, chat("m", true), || {}).await;
        assert_eq!(streamed.status, 200, "after {settings}");
        assert_eq!(gateway.complete(&key, chat("m", false)).await.status, 200);
    }
    let (status, body) = change(
        &gateway,
        json!({"tokens_per_second": 1e6, "latency_sigma": 0, "time_to_first_token_ms": 0}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gateway.complete(&key, chat("m", false)).await.status, 200);
    let log = gateway.log();
    assert!(!log.contains("panicked"), "{log}");
    gateway.stop();
}

#[actix_web::test]
async fn concurrent_outage_toggles_apply_one_after_the_other() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 100.0);
    let gateway = setup.start(&[]);
    for round in 0..3 {
        let answers =
            join_all((0..20).map(|i| change(&gateway, json!({"outage": (i + round) % 2 == 0}))))
                .await;
        for (status, body) in &answers {
            assert_eq!(*status, 200, "round {round}: {body}");
        }
        // The state the endpoint reports is the one the provider is in.
        let (_, all) = gateway.get("/admin/simulator", Some(ADMIN_KEY)).await;
        let all: Value = serde_json::from_str(&all).unwrap();
        let outage = all["alpha"]["outage"].as_bool().unwrap();
        let status = gateway.complete(&key, chat("m", false)).await.status;
        assert_eq!(
            status == 200,
            !outage,
            "round {round}: the settings say outage = {outage}, a request got {status}"
        );
    }
    gateway.stop();
}

#[test]
fn keys_create_refuses_credits_it_cannot_store() {
    let setup = Setup::new(CONFIG);
    for credits in ["NaN", "inf", "-inf", "-1", "1e300", "1000000001"] {
        let output = setup.keys_output(&["create", "--name", "x", "--credits", credits]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "--credits {credits} was accepted");
        assert!(
            stderr.contains("--credits must be a number from 0 to 1000000000"),
            "--credits {credits}: {stderr}"
        );
    }
    assert_eq!(
        setup.keys(&["list"]).lines().count(),
        1,
        "a key was created"
    );
    setup.create_key("paid", 1e9);
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[actix_web::test]
async fn the_data_directory_and_database_files_are_owner_only() {
    let setup = Setup::new(CONFIG);
    // Left readable by an earlier version: tightened when opened.
    fs::create_dir(setup.data()).unwrap();
    fs::set_permissions(setup.data(), fs::Permissions::from_mode(0o755)).unwrap();
    let key = setup.create_key("paid", 10.0);
    let database = setup.data().join("gatewayz.db");
    fs::set_permissions(&database, fs::Permissions::from_mode(0o644)).unwrap();
    let gateway = setup.start(&[]);
    assert_eq!(gateway.complete(&key, chat("m", false)).await.status, 200);
    // While the gateway runs, SQLite's -wal and -shm files exist beside the database.
    assert_eq!(mode(&setup.data()), 0o700);
    for file in [
        "gatewayz.db",
        "gatewayz.db-wal",
        "gatewayz.db-shm",
        "demo-key",
    ] {
        assert_eq!(mode(&setup.data().join(file)), 0o600, "{file}");
    }
    gateway.stop();
}
