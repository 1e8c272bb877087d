//! Each helper, driven through a local `gatewayz-registry` recorder, checked by parsing the
//! rendered exposition.

use gatewayz_testkit::exposition;

use std::{panic, time::Duration};

use exposition::{Exposition, parse};
use gatewayz_metrics::{
    Business, ErrorKind, Inference, InferenceStatus, Metrics, MetricsConfig, Outcome,
};
use gatewayz_registry::{GatewayzRecorder, RecorderBuilder};
use metrics::with_local_recorder;

/// Runs `f` with a fresh facade over a fresh recorder, returns the parsed exposition.
fn record(f: impl FnOnce(&Metrics)) -> Exposition {
    record_with(
        RecorderBuilder::new().build().unwrap(),
        MetricsConfig::default(),
        f,
    )
}

fn record_with(
    recorder: GatewayzRecorder,
    config: MetricsConfig,
    f: impl FnOnce(&Metrics),
) -> Exposition {
    with_local_recorder(&recorder, || f(&Metrics::with_config(config)));
    let text = recorder.handle().render_all();
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn inference<'a>(provider: &'a str, model: &'a str) -> Inference<'a> {
    Inference {
        provider,
        model,
        outcome: Outcome::Success,
        duration: Duration::from_millis(1500),
        time_to_first_token: Some(Duration::from_millis(300)),
        input_tokens: 1000,
        output_tokens: 250,
        cost_usd: 0.0035,
        credits: 0.004,
    }
}

const PAIR: [(&str, &str); 2] = [("provider", "openrouter"), ("model", "gpt-4o")];

#[test]
fn one_inference_updates_every_metric_consistently() {
    let e = record(|m| {
        m.inference_finished(&inference("openrouter", "gpt-4o"));
        m.inference_finished(&inference("openrouter", "gpt-4o"));
    });
    let with = |extra: (&'static str, &'static str)| [PAIR[0], PAIR[1], extra];
    assert_eq!(
        e.value(
            "model_inference_requests_total",
            &with(("status", "success"))
        ),
        2.0
    );
    assert_eq!(
        e.value("model_inference_requests_total", &with(("status", "error"))),
        0.0
    );
    assert_eq!(
        e.value("model_inference_duration_seconds_count", &PAIR),
        2.0
    );
    assert_eq!(e.value("model_inference_duration_seconds_sum", &PAIR), 3.0);
    assert_eq!(
        e.value(
            "model_inference_duration_seconds_bucket",
            &with(("le", "1"))
        ),
        0.0
    );
    assert_eq!(
        e.value(
            "model_inference_duration_seconds_bucket",
            &with(("le", "2"))
        ),
        2.0
    );
    assert_eq!(
        e.value(
            "gatewayz_time_to_first_token_seconds_bucket",
            &with(("le", "0.25"))
        ),
        0.0
    );
    assert_eq!(
        e.value(
            "gatewayz_time_to_first_token_seconds_bucket",
            &with(("le", "0.5"))
        ),
        2.0
    );
    assert_eq!(
        e.value("tokens_used_total", &with(("token_type", "input"))),
        2000.0
    );
    assert_eq!(
        e.value("tokens_used_total", &with(("token_type", "output"))),
        500.0
    );
    assert_eq!(e.value("gatewayz_token_efficiency", &PAIR), 0.25);
    assert_eq!(e.value("gatewayz_cost_usd_total", &PAIR), 0.007);
    assert_eq!(e.value("credits_used_total", &PAIR), 0.008);
    let provider = [("provider", "openrouter")];
    assert_eq!(
        e.value("provider_response_time_seconds_count", &provider),
        2.0
    );
    assert_eq!(e.value("provider_availability", &provider), 1.0);
    assert_eq!(e.value("gatewayz_request_cost_usd_count", &provider), 2.0);
    assert_eq!(
        e.value(
            "gatewayz_tokens_per_request_bucket",
            &[provider[0], ("token_type", "input"), ("le", "1024")]
        ),
        2.0
    );
    assert_eq!(e.sum("gatewayz_provider_errors_total", &provider), 0.0);
}

#[test]
fn a_plain_completion_is_timed_to_its_first_token_by_its_duration() {
    // A plain completion's first token arrives with the whole answer: the latency objective
    // ("first token within 2 s") then reads one histogram for streams and plain calls alike.
    let e = record(|m| {
        m.inference_finished(&Inference {
            time_to_first_token: None,
            duration: Duration::from_millis(1500),
            ..inference("openrouter", "gpt-4o")
        });
    });
    let bucket = |le| {
        e.value(
            "gatewayz_time_to_first_token_seconds_bucket",
            &[PAIR[0], PAIR[1], ("le", le)],
        )
    };
    assert_eq!((bucket("1"), bucket("1.5")), (0.0, 1.0));
    assert_eq!(
        e.value("gatewayz_time_to_first_token_seconds_sum", &PAIR),
        1.5
    );
    // No token timing without a stream: nothing in the time per output token.
    assert_eq!(
        e.value("gatewayz_time_per_output_token_seconds_count", &PAIR),
        0.0
    );
}

#[test]
fn a_call_that_produced_no_token_has_no_time_to_first_token() {
    let e = record(|m| {
        m.inference_finished(&Inference {
            outcome: Outcome::Error(ErrorKind::Timeout),
            time_to_first_token: None,
            ..inference("openrouter", "gpt-4o")
        });
    });
    assert_eq!(
        e.value("gatewayz_time_to_first_token_seconds_count", &PAIR),
        0.0
    );
    assert_eq!(
        e.value("model_inference_duration_seconds_count", &PAIR),
        1.0
    );
}

#[test]
fn a_stream_records_its_time_per_output_token_after_the_first() {
    // 300 ms to the first token, then 250 tokens in 1.2 s: 249 gaps of about 4.8 ms.
    let e = record(|m| {
        m.inference_finished(&inference("openrouter", "gpt-4o"));
        // A failed stream and a one-token stream have no per-token speed.
        m.inference_finished(&Inference {
            outcome: Outcome::Error(ErrorKind::Connection),
            ..inference("openrouter", "gpt-4o")
        });
        m.inference_finished(&Inference {
            output_tokens: 1,
            ..inference("openrouter", "gpt-4o")
        });
    });
    let bucket = |le| {
        e.value(
            "gatewayz_time_per_output_token_seconds_bucket",
            &[PAIR[0], PAIR[1], ("le", le)],
        )
    };
    assert_eq!((bucket("0.0025"), bucket("0.005")), (0.0, 1.0));
    assert_eq!(
        e.value("gatewayz_time_per_output_token_seconds_count", &PAIR),
        1.0
    );
    let sum = e.value("gatewayz_time_per_output_token_seconds_sum", &PAIR);
    assert!((sum - 1.2 / 249.0).abs() < 1e-9, "{sum}");
    assert_eq!(
        inference("p", "m").time_per_output_token(),
        Some(Duration::from_millis(1200) / 249)
    );
}

#[test]
fn model_requests_count_the_clients_outcome_once_whatever_the_attempts() {
    let e = record(|m| {
        // Failed over: one failed attempt, one successful, one answered request.
        m.inference_finished(&Inference {
            outcome: Outcome::Error(ErrorKind::Connection),
            ..inference("anthropic", "claude")
        });
        m.inference_finished(&inference("openrouter", "claude"));
        m.model_request_finished("claude", InferenceStatus::Success);
        // Every circuit open: no attempt at all, one failed request.
        m.model_request_finished("Claude", InferenceStatus::Error);
    });
    let requests = |status| {
        e.value(
            "gatewayz_model_requests_total",
            &[("model", "claude"), ("status", status)],
        )
    };
    assert_eq!((requests("success"), requests("error")), (1.0, 1.0));
    assert_eq!(
        e.sum(
            "model_inference_requests_total",
            &[("model", "claude"), ("status", "error")]
        ),
        1.0
    );
}

#[test]
fn a_failed_inference_counts_the_error_and_its_reason() {
    let e = record(|m| {
        let failed = |kind| Inference {
            outcome: Outcome::Error(kind),
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            credits: 0.0,
            time_to_first_token: None,
            ..inference("cerebras", "llama")
        };
        m.inference_finished(&failed(ErrorKind::ServerError));
        m.inference_finished(&failed(ErrorKind::Timeout));
    });
    let provider = ("provider", "cerebras");
    assert_eq!(
        e.value(
            "model_inference_requests_total",
            &[provider, ("status", "error")]
        ),
        2.0
    );
    assert_eq!(
        e.value(
            "gatewayz_provider_errors_total",
            &[provider, ("reason", "server_error")]
        ),
        1.0
    );
    assert_eq!(
        e.value(
            "gatewayz_provider_errors_total",
            &[provider, ("reason", "timeout")]
        ),
        1.0
    );
    // The last call timed out: no answer, so the provider counts as unreachable.
    assert_eq!(e.value("provider_availability", &[provider]), 0.0);
    assert_eq!(
        e.value("provider_response_time_seconds_count", &[provider]),
        2.0
    );
    assert_eq!(e.sum("tokens_used_total", &[provider]), 0.0);
    assert!(
        e.family("gatewayz_token_efficiency").is_none(),
        "no success, no efficiency"
    );
}

#[test]
fn an_answer_that_counts_against_the_provider_makes_it_unavailable() {
    // A provider that answers nothing but 5xx answers, but it is not available.
    let provider = ("provider", "p");
    for (kind, available) in [
        (ErrorKind::ServerError, 0.0),
        (ErrorKind::RateLimited, 0.0),
        (ErrorKind::Connection, 0.0),
        (ErrorKind::NotFound, 1.0),
        (ErrorKind::Unauthorized, 1.0),
        (ErrorKind::BadRequest, 1.0),
    ] {
        let e = record(|m| {
            m.inference_finished(&Inference {
                outcome: Outcome::Error(kind),
                ..inference("p", "m")
            });
        });
        assert_eq!(
            e.value("provider_availability", &[provider]),
            available,
            "{kind}"
        );
    }
}

#[test]
fn label_values_are_normalised_before_caching() {
    let e = record(|m| {
        m.inference_finished(&inference("  OpenRouter ", "GPT-4o"));
        m.inference_finished(&inference("openrouter", "gpt-4o"));
    });
    assert_eq!(
        e.family("model_inference_duration_seconds")
            .unwrap()
            .samples
            .len(),
        14 + 3
    );
    assert_eq!(
        e.value("model_inference_duration_seconds_count", &PAIR),
        2.0
    );
}

#[test]
fn models_past_the_recorder_cap_fold_into_other_and_the_cache_stays_bounded() {
    let recorder = RecorderBuilder::new()
        .label_cap("model", 3)
        .build()
        .unwrap();
    let mut cached = 0;
    let e = record_with(
        recorder,
        MetricsConfig::default().with_cache_capacity(16),
        |m| {
            for i in 0..10_000 {
                m.inference_finished(&inference("p", &format!("client-model-{i}")));
            }
            cached = m.cached_entries();
        },
    );
    assert!(cached <= 16 + 1, "{cached} cached entries");
    let requests = e.family("model_inference_requests_total").unwrap();
    assert_eq!(
        requests.samples.len(),
        4 * 2,
        "3 models and `other`, two statuses each"
    );
    assert_eq!(
        e.value(
            "model_inference_requests_total",
            &[("model", "other"), ("status", "success")]
        ),
        9997.0
    );
    assert!(e.sum("gatewayz_label_overflow_total", &[("label", "model")]) > 0.0);
}

#[test]
fn http_requests_are_labelled_by_method_template_and_status_class() {
    let e = record(|m| {
        m.http_request_finished(
            "POST",
            "/v1/chat/completions",
            200,
            Duration::from_millis(40),
        );
        m.http_request_finished(
            "POST",
            "/v1/chat/completions",
            201,
            Duration::from_millis(60),
        );
        m.http_request_finished(
            "BREW",
            "/v1/chat/completions",
            502,
            Duration::from_millis(1),
        );
        m.gateway_overhead(Duration::from_micros(80));
    });
    let ok = [
        ("method", "POST"),
        ("route", "/v1/chat/completions"),
        ("status_class", "2xx"),
    ];
    assert_eq!(e.value("http_requests_total", &ok), 2.0);
    assert_eq!(e.value("http_request_duration_seconds_sum", &ok), 0.1);
    assert_eq!(
        e.value(
            "http_requests_total",
            &[("method", "other"), ("status_class", "5xx")]
        ),
        1.0
    );
    assert_eq!(
        e.value(
            "gatewayz_gateway_overhead_seconds_bucket",
            &[("le", "0.0001")]
        ),
        1.0
    );
    assert_eq!(
        e.value(
            "gatewayz_gateway_overhead_seconds_bucket",
            &[("le", "0.00005")]
        ),
        0.0
    );
}

#[test]
fn the_in_flight_guard_decrements_on_drop_and_on_panic() {
    let recorder = RecorderBuilder::new().build().unwrap();
    let handle = recorder.handle();
    let in_flight = || {
        parse(&handle.render_all())
            .unwrap()
            .value("http_requests_in_flight", &[])
    };
    with_local_recorder(&recorder, || {
        let m = Metrics::new();
        let first = m.http_request_started();
        let second = m.http_request_started();
        assert_eq!(in_flight(), 2.0);
        drop(first);
        let result = panic::catch_unwind(panic::AssertUnwindSafe(|| {
            let _guard = m.http_request_started();
            assert_eq!(in_flight(), 2.0);
            panic!("handler failed");
        }));
        assert!(result.is_err());
        assert_eq!(in_flight(), 1.0);
        drop(second);
    });
    assert_eq!(in_flight(), 0.0);
}

#[test]
fn database_queries_and_cache_lookups_are_counted() {
    let e = record(|m| {
        m.database_query_finished("get_api_key", Duration::from_micros(300), true);
        let mut ok = m.time_database_query("get_api_key");
        ok.succeeded();
        drop(ok);
        let _ = m
            .time_database_query("get_api_key")
            .finish::<(), &str>(Err("locked"));
        // Abandoned (e.g. by `?` or a panic): counts as failed.
        drop(m.time_database_query("record_usage"));
        let cache = m.cache("api_keys");
        cache.hit();
        cache.lookup(true);
        cache.miss();
    });
    let get = [("operation", "get_api_key")];
    assert_eq!(e.value("database_query_duration_seconds_count", &get), 3.0);
    assert_eq!(e.value("database_query_errors_total", &get), 1.0);
    assert_eq!(
        e.value(
            "database_query_errors_total",
            &[("operation", "record_usage")]
        ),
        1.0
    );
    assert_eq!(e.value("cache_hits_total", &[("cache", "api_keys")]), 2.0);
    assert_eq!(e.value("cache_misses_total", &[("cache", "api_keys")]), 1.0);
}

#[test]
fn business_gauges_take_the_collected_values() {
    let e = record(|m| {
        m.business_collected(&Business {
            active_api_keys: 234,
            active_subscriptions: 45,
            active_trials: 7,
        });
    });
    assert_eq!(e.value("active_api_keys", &[]), 234.0);
    assert_eq!(e.value("active_subscriptions", &[]), 45.0);
    assert_eq!(e.value("trial_active", &[]), 7.0);
}

#[test]
fn business_gauges_are_absent_until_collected() {
    let recorder = RecorderBuilder::new().build().unwrap();
    let handle = recorder.handle();
    let metrics = Metrics::with_recorder(std::sync::Arc::new(recorder), MetricsConfig::default());
    metrics.inference_finished(&inference("openrouter", "gpt-4o"));
    let e = parse(&handle.render_all()).unwrap();
    for name in ["active_api_keys", "active_subscriptions", "trial_active"] {
        assert!(
            e.family(name).is_none(),
            "{name} reads a value nobody collected"
        );
    }
    let business = handle.summary(None).metrics.business.unwrap();
    assert_eq!(
        (
            business.active_api_keys,
            business.active_subscriptions,
            business.active_trials
        ),
        (None, None, None)
    );
    metrics.business_collected(&Business {
        active_api_keys: 3,
        ..Business::default()
    });
    let business = handle.summary(None).metrics.business.unwrap();
    assert_eq!(
        (business.active_api_keys, business.active_subscriptions),
        (Some(3), Some(0))
    );
}

#[test]
fn a_facade_bound_to_a_recorder_records_there_whatever_is_installed() {
    let recorder = RecorderBuilder::new().build().unwrap();
    let handle = recorder.handle();
    let metrics = Metrics::with_recorder(std::sync::Arc::new(recorder), MetricsConfig::default());
    // Another local recorder is current on this thread: the bound one still gets everything.
    let other = RecorderBuilder::new().build().unwrap();
    with_local_recorder(&other, || {
        metrics.inference_finished(&inference("openrouter", "gpt-4o"));
    });
    assert!(metrics.records_money());
    let e = parse(&handle.render_all()).unwrap();
    assert_eq!(e.value("gatewayz_cost_usd_total", &PAIR), 0.0035);
    assert!(
        parse(&other.handle().render_all())
            .unwrap()
            .family("tokens_used_total")
            .is_none()
    );
}

#[test]
fn without_health_publishing_there_are_no_score_series() {
    let e = record(|m| m.inference_finished(&inference("openrouter", "gpt-4o")));
    for name in [
        "gatewayz_provider_health_score",
        "gatewayz_provider_status",
        "gatewayz_circuit_breaker_state",
    ] {
        assert!(
            e.family(name).is_none(),
            "{name} exists before any health report"
        );
    }
}

#[test]
fn without_a_recorder_every_helper_is_a_silent_no_op() {
    let m = Metrics::new();
    m.inference_finished(&inference("p", "m"));
    m.http_request_finished("GET", "/", 200, Duration::ZERO);
    drop(m.http_request_started());
    drop(m.time_database_query("q"));
    m.cache("c").hit();
    m.business_collected(&Business::default());
}

#[test]
fn other_recorders_receive_the_same_names_and_the_catalogue_help() {
    // Buckets make it render histograms rather than summaries, which our parser refuses.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[1.0])
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    with_local_recorder(&recorder, || {
        Metrics::new().inference_finished(&inference("openrouter", "gpt-4o"))
    });
    // That exporter separates families with blank lines, which our strict parser refuses.
    let text: String = handle
        .render()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let e = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let tokens = e.family("tokens_used_total").unwrap();
    assert_eq!(tokens.help, gatewayz_registry::catalogue::TOKENS_USED.help);
    assert_eq!(
        e.value(
            "tokens_used_total",
            &[PAIR[0], PAIR[1], ("token_type", "input")]
        ),
        1000.0
    );
}

/// `metrics-exporter-prometheus` as the recorder, its text made parseable by our strict parser.
fn record_foreign(f: impl FnOnce(&Metrics)) -> (Exposition, String) {
    // Buckets make it render histograms rather than summaries, which our parser refuses.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[1.0])
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    with_local_recorder(&recorder, || f(&Metrics::new()));
    // That exporter separates families with blank lines, which our strict parser refuses.
    let text: String = handle
        .render()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let e = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (e, text)
}

#[test]
fn under_another_recorder_no_series_named_in_dollars_shows_nano_dollars() {
    let (e, text) = record_foreign(|m| {
        assert!(
            !m.records_money(),
            "only our recorder answers the handshake"
        );
        m.inference_finished(&Inference {
            cost_usd: 0.0036,
            credits: 0.0036,
            ..inference("openrouter", "gpt-4o")
        });
    });
    // Before: `gatewayz_cost_usd_total{...} 3600000` under a name and help that say dollars.
    assert!(!text.contains("3600000"), "{text}");
    for name in ["gatewayz_cost_usd_total", "credits_used_total"] {
        assert!(e.family(name).is_none(), "{name}:\n{text}");
        // The refusal is loud: counted where an alert on dropped recordings sees it.
        assert_eq!(
            e.value("gatewayz_metric_conflicts_total", &[("metric", name)]),
            1.0,
            "{text}"
        );
    }
    // Dollars still reach that recorder as dollars, per request.
    assert_eq!(
        e.value(
            "gatewayz_request_cost_usd_sum",
            &[("provider", "openrouter")]
        ),
        0.0036
    );
    // And promtool accepts what it shows.
    assert_eq!(
        gatewayz_testkit::promtool::check_metrics(&text),
        "",
        "{text}"
    );
}

#[test]
fn customer_counters_are_set_to_the_database_totals_and_never_go_down() {
    use gatewayz_metrics::{CustomerEvent, CustomerTotals, Plan};
    let recorder = RecorderBuilder::new().build().unwrap();
    let handle = recorder.handle();
    let metrics = Metrics::with_recorder(std::sync::Arc::new(recorder), MetricsConfig::default());
    metrics.inference_finished(&inference("openrouter", "gpt-4o"));
    let e = parse(&handle.render_all()).unwrap();
    assert!(
        e.family("gatewayz_customer_events_total").is_none(),
        "events read 0 before anything was collected"
    );
    let mut totals = CustomerTotals::new();
    totals
        .set_events(CustomerEvent::TrialStarted, Plan::Trial, 12)
        .set_events(CustomerEvent::TrialConverted, Plan::Trial, 4)
        // Cannot happen: ignored, no series.
        .set_events(CustomerEvent::TrialConverted, Plan::Paid, 9)
        .set_credits_topped_up_nano(Plan::Paid, 25_500_000_001);
    metrics.customer_totals_collected(&totals);
    let e = parse(&handle.render_all()).unwrap();
    let events = |event: &str, plan: &str| {
        e.value(
            "gatewayz_customer_events_total",
            &[("event", event), ("plan", plan)],
        )
    };
    assert_eq!(events("trial_started", "trial"), 12.0);
    assert_eq!(events("trial_converted", "trial"), 4.0);
    // Every pair that can happen exists from the first collection, at 0 until it does.
    assert_eq!(events("lapsed", "paid"), 0.0);
    assert_eq!(
        e.family("gatewayz_customer_events_total")
            .unwrap()
            .samples
            .len(),
        2 * CustomerEvent::ALL.len() - 2
    );
    assert_eq!(
        e.value("gatewayz_credits_topped_up_total", &[("plan", "paid")]),
        25.500000001
    );
    // A total read from a lagging connection cannot take a counter back.
    let mut stale = totals.clone();
    stale.set_events(CustomerEvent::TrialStarted, Plan::Trial, 11);
    metrics.customer_totals_collected(&stale);
    let e = parse(&handle.render_all()).unwrap();
    assert_eq!(
        e.value(
            "gatewayz_customer_events_total",
            &[("event", "trial_started"), ("plan", "trial")]
        ),
        12.0
    );
    assert_eq!(
        gatewayz_testkit::promtool::check_metrics(&handle.render_all()),
        ""
    );
}

#[test]
fn under_another_recorder_top_up_amounts_are_refused_and_counted() {
    use gatewayz_metrics::{CustomerEvent, CustomerTotals, Plan};
    let (e, text) = record_foreign(|m| {
        let mut totals = CustomerTotals::new();
        totals
            .set_events(CustomerEvent::CreditsToppedUp, Plan::Paid, 2)
            .set_credits_topped_up_nano(Plan::Paid, 3_000_000_000);
        m.customer_totals_collected(&totals);
    });
    assert!(
        e.family("gatewayz_credits_topped_up_total").is_none(),
        "{text}"
    );
    assert_eq!(
        e.value(
            "gatewayz_metric_conflicts_total",
            &[("metric", "gatewayz_credits_topped_up_total")]
        ),
        1.0
    );
    // Counts are plain integers: any recorder shows them.
    assert_eq!(
        e.value(
            "gatewayz_customer_events_total",
            &[("event", "credits_topped_up"), ("plan", "paid")]
        ),
        2.0
    );
}

#[test]
fn expected_pairs_start_at_zero_before_their_first_call() {
    let e = record(|m| m.expect_inferences("openrouter", "gpt-4o"));
    for status in ["success", "error"] {
        assert_eq!(
            e.value(
                "model_inference_requests_total",
                &[PAIR[0], PAIR[1], ("status", status)]
            ),
            0.0
        );
    }
    assert_eq!(e.value("gatewayz_cost_usd_total", &PAIR), 0.0);
    for status in ["success", "error"] {
        assert_eq!(
            e.value(
                "gatewayz_model_requests_total",
                &[("model", "gpt-4o"), ("status", status)]
            ),
            0.0
        );
    }
    assert_eq!(
        e.value(
            "tokens_used_total",
            &[PAIR[0], PAIR[1], ("token_type", "input")]
        ),
        0.0
    );
    // Gauges stay unknown: no availability, no efficiency before a call.
    assert!(e.family("provider_availability").is_none());
    assert!(e.family("gatewayz_token_efficiency").is_none());
    // The first call then counts from there.
    let e = record(|m| {
        m.expect_inferences("openrouter", "gpt-4o");
        m.inference_finished(&inference("openrouter", "gpt-4o"));
    });
    assert_eq!(e.value("gatewayz_cost_usd_total", &PAIR), 0.0035);
}
