//! The JSON summary, computed from live values.

use gatewayz_registry::{Category, RecorderBuilder, catalogue as c};
use metrics::{counter, gauge, histogram, with_local_recorder};
use serde_json::{Value, json};

fn summary_json(record: impl FnOnce(), category: Option<Category>) -> Value {
    let recorder = RecorderBuilder::new().build().unwrap();
    with_local_recorder(&recorder, record);
    serde_json::to_value(recorder.handle().summary(category)).unwrap()
}

#[test]
fn an_empty_registry_gives_nulls_not_zeros_or_strings() {
    let json = summary_json(|| {}, None);
    let metrics = &json["metrics"];
    assert_eq!(metrics["providers"]["total_providers"], 0);
    assert_eq!(metrics["providers"]["avg_error_rate"], Value::Null);
    assert_eq!(metrics["providers"]["avg_response_time_ms"], Value::Null);
    assert_eq!(metrics["models"]["avg_inference_latency_ms"], Value::Null);
    assert_eq!(metrics["models"]["error_rate"], Value::Null);
    assert_eq!(metrics["business"]["active_api_keys"], Value::Null);
    assert_eq!(metrics["performance"]["cache_hit_rate"], Value::Null);
    assert_eq!(metrics["system"]["error_rate"], Value::Null);
    assert_eq!(metrics["system"]["total_requests"], 0);
    let timestamp = json["timestamp"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(timestamp).is_ok(), "{timestamp}");
}

#[test]
fn providers_section_counts_statuses_and_averages() {
    let json = summary_json(
        || {
            for (provider, status, error_rate) in [
                ("openrouter", "healthy", 0.0),
                ("anthropic", "healthy", 0.1),
                ("cerebras", "degraded", 0.2),
                ("groq", "unavailable", 0.9),
            ] {
                for s in ["healthy", "degraded", "unavailable", "unknown"] {
                    gauge!(c::PROVIDER_STATUS.name, "provider" => provider, "status" => s)
                        .set(if s == status { 1.0 } else { 0.0 });
                }
                gauge!(c::PROVIDER_ERROR_RATE.name, "provider" => provider).set(error_rate);
                gauge!(c::PROVIDER_HEALTH_SCORE.name, "provider" => provider).set(1.0 - error_rate);
            }
            gauge!(c::CIRCUIT_BREAKER_STATE.name, "provider" => "groq", "state" => "open").set(1.0);
            gauge!(c::CIRCUIT_BREAKER_STATE.name, "provider" => "groq", "state" => "closed")
                .set(0.0);
            gauge!(c::ANOMALIES_ACTIVE.name, "provider" => "groq", "kind" => "error_surge")
                .set(1.0);
            gauge!(c::ANOMALIES_ACTIVE.name, "provider" => "groq", "kind" => "latency_spike")
                .set(0.0);
            counter!(c::FAILOVERS.name, "provider" => "groq", "reason" => "server_error")
                .increment(7);
            // A provider seen only through its latency has no status: it counts as unknown.
            let latency = histogram!(c::PROVIDER_RESPONSE_TIME.name, "provider" => "mistral");
            latency.record(0.1);
            latency.record(0.3);
        },
        Some(Category::Providers),
    );
    let providers = &json["metrics"]["providers"];
    assert_eq!(
        json["metrics"].as_object().unwrap().len(),
        1,
        "only the asked category"
    );
    assert_eq!(providers["total_providers"], 5);
    assert_eq!(providers["healthy_providers"], 2);
    assert_eq!(providers["degraded_providers"], 1);
    assert_eq!(providers["unavailable_providers"], 1);
    assert_eq!(providers["unknown_providers"], 1);
    assert!((providers["avg_error_rate"].as_f64().unwrap() - 0.3).abs() < 1e-12);
    assert_eq!(providers["avg_response_time_ms"], 200.0);
    assert_eq!(providers["open_circuits"], 1);
    assert_eq!(providers["failovers_total"], 7);
    assert_eq!(providers["active_anomalies"], 1);
    let names: Vec<&str> = providers["by_provider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["anthropic", "cerebras", "groq", "mistral", "openrouter"]
    );
    let groq = &providers["by_provider"][2];
    assert_eq!(groq["provider"], "groq");
    assert_eq!(groq["status"], "unavailable");
    assert_eq!(groq["circuit_state"], "open");
    assert_eq!(groq["active_anomalies"], json!(["error_surge"]));
    assert_eq!(groq["health_score"], 1.0 - 0.9);
    let mistral = &providers["by_provider"][3];
    assert_eq!(
        (&mistral["provider"], &mistral["status"]),
        (&json!("mistral"), &Value::Null)
    );
}

#[test]
fn models_business_performance_and_system_sections_add_up() {
    let json = summary_json(
        || {
            let requests = |model: &str, status: &str, n| {
                counter!(c::MODEL_INFERENCE_REQUESTS.name, "provider" => "p", "model" => model.to_owned(), "status" => status.to_owned())
                    .increment(n)
            };
            requests("a", "success", 6);
            requests("b", "error", 2);
            counter!(c::TOKENS_USED.name, "provider" => "p", "model" => "a", "token_type" => "input").increment(1000);
            counter!(c::TOKENS_USED.name, "provider" => "p", "model" => "a", "token_type" => "output").increment(250);
            counter!(c::CREDITS_USED.name, "provider" => "p", "model" => "a")
                .increment(c::CREDITS_USED.scale.to_increment(1.25));
            counter!(c::COST_USD.name, "provider" => "p", "model" => "a")
                .increment(c::COST_USD.scale.to_increment(0.75));
            histogram!(c::MODEL_INFERENCE_DURATION.name, "provider" => "p", "model" => "a")
                .record(2.0);
            histogram!(c::MODEL_INFERENCE_DURATION.name, "provider" => "p", "model" => "a")
                .record(4.0);
            gauge!(c::ACTIVE_API_KEYS.name).set(234.0);
            gauge!(c::ACTIVE_SUBSCRIPTIONS.name).set(45.0);
            gauge!(c::TRIALS_ACTIVE.name).set(3.0);
            counter!(c::CACHE_HITS.name, "cache" => "api_keys").increment(3);
            counter!(c::CACHE_MISSES.name, "cache" => "api_keys").increment(1);
            histogram!(c::DATABASE_QUERY_DURATION.name, "operation" => "get").record(0.002);
            counter!(c::DATABASE_QUERY_ERRORS.name, "operation" => "get").increment(1);
            for (class, n) in [("2xx", 9), ("5xx", 1)] {
                counter!(c::HTTP_REQUESTS.name, "method" => "POST", "route" => "/v1/chat/completions", "status_class" => class)
                    .increment(n);
            }
            gauge!(c::HTTP_REQUESTS_IN_FLIGHT.name).set(2.0);
        },
        None,
    );
    let m = &json["metrics"];
    assert_eq!(m["models"]["total_inference_requests"], 8);
    assert_eq!(m["models"]["failed_inference_requests"], 2);
    assert_eq!(m["models"]["error_rate"], 0.25);
    assert_eq!(m["models"]["tokens_used_total"], 1250);
    assert_eq!(m["models"]["credits_used_total"], 1.25);
    assert_eq!(m["models"]["avg_inference_latency_ms"], 3000.0);
    assert_eq!(m["models"]["models"], 2);
    assert_eq!(
        m["business"],
        json!({
            "active_api_keys": 234, "active_subscriptions": 45, "active_trials": 3,
            "total_tokens_used": 1250, "total_credits_used": 1.25, "total_cost_usd": 0.75,
            // No customer events collected: unknown, not 0.
            "trials_started": null, "trials_converted": null, "trials_ended": null,
            "trial_conversion_rate": null, "subscriptions_started": null,
            "subscriptions_ended": null, "subscription_churn_rate": null,
            "net_subscription_growth": null, "projected_subscriptions": null,
            "credits_topped_up": null, "credits_exhausted": null
        })
    );
    assert_eq!(m["performance"]["cache_hit_rate"], 0.75);
    assert_eq!(m["performance"]["total_db_queries"], 1);
    assert_eq!(m["performance"]["failed_db_queries"], 1);
    assert_eq!(m["performance"]["avg_db_query_latency_ms"], 2.0);
    assert_eq!(m["system"]["total_requests"], 10);
    assert_eq!(m["system"]["server_errors"], 1);
    assert_eq!(m["system"]["error_rate"], 0.1);
    assert_eq!(m["system"]["in_progress"], 2);
}

#[test]
fn failures_and_cost_per_provider_and_usage_per_model_are_summed_across_series() {
    let json = summary_json(
        || {
            let requests = |provider: &str, model: &str, status: &str, n| {
                counter!(c::MODEL_INFERENCE_REQUESTS.name, "provider" => provider.to_owned(), "model" => model.to_owned(), "status" => status.to_owned())
                    .increment(n)
            };
            requests("anthropic", "claude", "success", 7);
            requests("anthropic", "claude", "error", 3);
            requests("openrouter", "claude", "success", 5);
            requests("openrouter", "gpt", "error", 1);
            let tokens = |provider: &str, model: &str, token_type: &str, n| {
                counter!(c::TOKENS_USED.name, "provider" => provider.to_owned(), "model" => model.to_owned(), "token_type" => token_type.to_owned())
                    .increment(n)
            };
            tokens("anthropic", "claude", "input", 1000);
            tokens("anthropic", "claude", "output", 200);
            tokens("openrouter", "claude", "input", 500);
            tokens("openrouter", "gpt", "output", 40);
            let cost = |provider: &str, model: &str, usd| {
                counter!(c::COST_USD.name, "provider" => provider.to_owned(), "model" => model.to_owned())
                    .increment(c::COST_USD.scale.to_increment(usd))
            };
            cost("anthropic", "claude", 0.5);
            cost("openrouter", "claude", 0.25);
            cost("openrouter", "gpt", 0.125);
            // Cost alone is enough for a provider to be listed.
            cost("groq", "llama", 0.0625);
        },
        None,
    );
    let m = &json["metrics"];
    let providers: Vec<Value> = m["providers"]["by_provider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            json!([
                p["provider"],
                p["requests_total"],
                p["failed_requests_total"],
                p["cost_usd_total"]
            ])
        })
        .collect();
    assert_eq!(
        providers,
        [
            json!(["anthropic", 10, 3, 0.5]),
            json!(["groq", 0, 0, 0.0625]),
            json!(["openrouter", 6, 1, 0.375]),
        ]
    );
    assert_eq!(
        m["models"]["by_model"],
        json!([
            {"model": "claude", "requests_total": 15, "failed_requests_total": 3,
             "input_tokens": 1500, "output_tokens": 200, "cost_usd_total": 0.75},
            {"model": "gpt", "requests_total": 1, "failed_requests_total": 1,
             "input_tokens": 0, "output_tokens": 40, "cost_usd_total": 0.125},
            {"model": "llama", "requests_total": 0, "failed_requests_total": 0,
             "input_tokens": 0, "output_tokens": 0, "cost_usd_total": 0.0625},
        ])
    );
    // A model with cost but no call is listed, not counted among the models with traffic.
    assert_eq!(m["models"]["models"], 2);
    assert_eq!(m["business"]["total_cost_usd"], 0.9375);
}

#[test]
fn an_unknown_provider_never_turns_the_means_into_null_or_nan() {
    // Seen on the example gateway right after start: one provider still unknown (its score and
    // error rate published as NaN) made the means `null`, though another was healthy at 1.0.
    let recorder = RecorderBuilder::new().build().unwrap();
    with_local_recorder(&recorder, || {
        for (provider, score, error_rate) in
            [("openrouter", 1.0, 0.1), ("groq", f64::NAN, f64::NAN)]
        {
            gauge!(c::PROVIDER_HEALTH_SCORE.name, "provider" => provider).set(score);
            gauge!(c::PROVIDER_ERROR_RATE.name, "provider" => provider).set(error_rate);
        }
    });
    let summary = recorder.handle().summary(Some(Category::Providers));
    let providers = summary.metrics.providers.unwrap();
    assert_eq!(providers.avg_health_score, Some(1.0));
    assert_eq!(providers.avg_error_rate, Some(0.1));
    // The Rust API hands out no NaN either: unknown is `None`.
    let groq = &providers.by_provider[0];
    assert_eq!(groq.provider, "groq");
    assert_eq!((groq.health_score, groq.error_rate), (None, None));
    let json = serde_json::to_value(&providers).unwrap();
    assert_eq!(json["avg_health_score"], 1.0);
}

#[test]
fn routing_shows_decisions_by_policy_and_the_saving_against_the_reference() {
    let empty = summary_json(|| {}, Some(Category::Providers));
    let routing = &empty["metrics"]["providers"]["routing"];
    assert_eq!(routing["decisions_total"], 0);
    assert_eq!(routing["decisions_by_policy"], json!({}));
    for field in [
        "reference_cost_usd",
        "routed_cost_usd",
        "saved_usd",
        "saved_ratio",
    ] {
        assert_eq!(
            routing[field],
            Value::Null,
            "{field}: unknown is null, not 0"
        );
    }

    let json = summary_json(
        || {
            let decided = |provider: &'static str, policy: &'static str, n| {
                counter!(c::ROUTING_DECISIONS.name, "provider" => provider, "policy" => policy)
                    .increment(n);
            };
            decided("cerebras", "cheapest", 90);
            decided("openrouter", "cheapest", 10);
            decided("openrouter", "fastest", 5);
            decided("openrouter", "spread", 0);
            // Nano-dollars: the cost and reference counters are scaled.
            let dollars = |usd: f64| (usd * 1e9) as u64;
            let pair = |metric: &'static str, provider: &'static str, model: &'static str, usd| {
                counter!(metric, "provider" => provider, "model" => model).increment(dollars(usd));
            };
            pair(c::ROUTING_REFERENCE_COST.name, "cerebras", "llama", 8.0);
            pair(c::ROUTING_REFERENCE_COST.name, "openrouter", "llama", 2.0);
            pair(c::COST_USD.name, "cerebras", "llama", 6.0);
            pair(c::COST_USD.name, "openrouter", "llama", 2.0);
            // Routed without prices: no reference, so not part of the comparison.
            pair(c::COST_USD.name, "openrouter", "gpt", 100.0);
        },
        Some(Category::Providers),
    );
    let providers = &json["metrics"]["providers"];
    let routing = &providers["routing"];
    assert_eq!(routing["decisions_total"], 105);
    assert_eq!(
        routing["decisions_by_policy"],
        json!({"cheapest": 100, "fastest": 5})
    );
    assert_eq!(routing["reference_cost_usd"], 10.0);
    assert_eq!(routing["routed_cost_usd"], 8.0);
    assert_eq!(routing["saved_usd"], 2.0);
    assert_eq!(routing["saved_ratio"], 0.2);
    let by_provider = providers["by_provider"].as_array().unwrap();
    let decisions = |name: &str| {
        by_provider.iter().find(|p| p["provider"] == name).unwrap()["routing_decisions_total"]
            .clone()
    };
    assert_eq!(
        (decisions("cerebras"), decisions("openrouter")),
        (json!(90), json!(15))
    );
}

#[test]
fn conversion_churn_growth_and_projection_come_from_the_customer_events() {
    let event = |event: &str, plan: &str, total: u64| {
        counter!(c::CUSTOMER_EVENTS.name, "event" => event.to_owned(), "plan" => plan.to_owned())
            .absolute(total);
    };
    let json = summary_json(
        || {
            gauge!(c::ACTIVE_SUBSCRIPTIONS.name).set(10.0);
            gauge!(c::TRIALS_ACTIVE.name).set(5.0);
            event("trial_started", "trial", 20);
            event("trial_converted", "trial", 6);
            event("lapsed", "trial", 8);
            event("cancelled", "trial", 1);
            event("key_created", "paid", 7);
            event("key_created", "trial", 20);
            event("cancelled", "paid", 2);
            event("lapsed", "paid", 1);
            event("credits_exhausted", "trial", 3);
            event("credits_exhausted", "paid", 1);
            counter!(c::CREDITS_TOPPED_UP.name, "plan" => "paid")
                .absolute(c::CREDITS_TOPPED_UP.scale.to_increment(42.5));
        },
        Some(Category::Business),
    );
    let b = &json["metrics"]["business"];
    assert_eq!(b["trials_started"], 20);
    assert_eq!(b["trials_converted"], 6);
    // Converted, lapsed and revoked trials all ended.
    assert_eq!(b["trials_ended"], 15);
    assert_eq!(b["trial_conversion_rate"], 0.4);
    assert_eq!(b["subscriptions_started"], 13);
    assert_eq!(b["subscriptions_ended"], 3);
    assert_eq!(b["subscription_churn_rate"], 3.0 / 13.0);
    assert_eq!(b["net_subscription_growth"], 10);
    // 10 paid now, and 5 trials converting at 40 %.
    assert_eq!(b["projected_subscriptions"], 12.0);
    assert_eq!(b["credits_topped_up"], 42.5);
    assert_eq!(b["credits_exhausted"], 4);
}

#[test]
fn customer_figures_without_an_ended_trial_are_unknown_not_zero() {
    let json = summary_json(
        || {
            gauge!(c::ACTIVE_SUBSCRIPTIONS.name).set(1.0);
            gauge!(c::TRIALS_ACTIVE.name).set(2.0);
            counter!(c::CUSTOMER_EVENTS.name, "event" => "trial_started", "plan" => "trial")
                .absolute(2);
        },
        Some(Category::Business),
    );
    let b = &json["metrics"]["business"];
    assert_eq!(b["trials_started"], 2);
    assert_eq!(b["trials_ended"], 0);
    assert_eq!(b["trial_conversion_rate"], Value::Null);
    assert_eq!(b["projected_subscriptions"], Value::Null);
    assert_eq!(b["subscription_churn_rate"], Value::Null);
    assert_eq!(b["net_subscription_growth"], 0);
}
