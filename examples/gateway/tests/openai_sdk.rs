//! The official OpenAI Python SDK against the real gateway, unchanged but for the base URL and
//! the key: model list, a plain and a streamed completion (with usage), and the errors it maps
//! to its own exception types. Needs the SDK (`cargo xtask test` installs it under
//! `target/tools/openai-sdk`); fails with the fix when it is missing.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Setup, credits};

/// One simulated provider. At 100 tokens/s it streams 5 tokens every 50 ms, and a completion
/// has at least 20 tokens, so every stream arrives in at least 4 content chunks over at least
/// 150 ms (at 400 tokens/s a short completion came in 2 chunks).
const CONFIG: &str = r#"
[server]
upstream_timeout_seconds = 5.0

[[providers]]
name = "alpha"
simulated = { latency_median_ms = 10, latency_sigma = 0.0, time_to_first_token_ms = 10, tokens_per_second = 100, error_rate = 0.0 }
models = [{ name = "sdk-model", input_price_per_million = 3.0, output_price_per_million = 15.0 }]
"#;

fn nano_charge(usage: &Value) -> i64 {
    let tokens = |field: &str| usage[field].as_u64().expect("usage has token counts") as f64;
    let cost = (tokens("prompt_tokens") * 3.0 + tokens("completion_tokens") * 15.0) / 1e6;
    (cost * 1e9).round() as i64
}

#[test]
fn the_official_python_sdk_works_unchanged() {
    let python = gatewayz_testkit::tools::openai_python().unwrap_or_else(|e| panic!("{e}"));
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 5.0);
    let gateway = setup.start(&[]);

    let output = Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_sdk.py"))
        .arg(format!("{}/v1", gateway.url))
        .arg(&key)
        .arg("sdk-model")
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "the SDK script failed:\n{}\ngateway log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        gateway.log()
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    assert_eq!(
        report["models"],
        serde_json::json!(["sdk-model"]),
        "{report}"
    );

    let plain = &report["plain"];
    assert_eq!(plain["object"], "chat.completion", "{report}");
    assert!(
        plain["content"].as_str().is_some_and(|c| !c.is_empty()),
        "{report}"
    );
    assert_eq!(plain["finish_reason"], "stop", "{report}");
    let plain_usage = &plain["usage"];
    assert!(
        plain_usage["completion_tokens"].as_u64() > Some(0),
        "{report}"
    );
    assert_eq!(
        plain_usage["total_tokens"].as_u64(),
        Some(
            plain_usage["prompt_tokens"].as_u64().unwrap()
                + plain_usage["completion_tokens"].as_u64().unwrap()
        )
    );

    let stream = &report["stream"];
    assert_eq!(stream["finish_reason"], "stop", "{report}");
    let chunks = stream["content_chunks"].as_u64().unwrap();
    assert!(chunks >= 3, "the SDK saw {chunks} content chunks: {report}");
    // Incremental: the SDK handed out the first piece well before the last one.
    let (first, last) = (
        stream["first_arrival"].as_f64().unwrap(),
        stream["last_arrival"].as_f64().unwrap(),
    );
    assert!(
        last - first > 0.02,
        "chunks arrived together ({first} s, {last} s): {report}"
    );
    let stream_usage = &stream["usage"];
    assert!(
        stream_usage["completion_tokens"].as_u64() > Some(0),
        "{report}"
    );

    let errors = &report["errors"];
    assert_eq!(errors["bad_key"]["status"], 401, "{report}");
    assert_eq!(errors["unknown_model"]["status"], 404, "{report}");
    assert!(
        errors["unknown_model"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-model")),
        "{report}"
    );

    // What the SDK read as usage is what the key was charged, to the nano-dollar.
    gateway.stop();
    assert_eq!(
        credits(&setup),
        [5_000_000_000 - nano_charge(plain_usage) - nano_charge(stream_usage)],
        "{report}"
    );
}
