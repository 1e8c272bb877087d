//! The exposition engine, checked by parsing what it renders.

use std::{sync::Arc, thread};

use gatewayz_registry::{
    Category, Error, GatewayzRecorder, Handle, RecorderBuilder,
    catalogue::{self, CATALOGUE},
};
use gatewayz_testkit::{
    exposition::{Exposition, parse},
    workload::{self, Shape},
};
use metrics::{counter, gauge, histogram, with_local_recorder};

fn recorder() -> (GatewayzRecorder, Handle) {
    let recorder = RecorderBuilder::new().build().unwrap();
    let handle = recorder.handle();
    (recorder, handle)
}

fn parsed(text: &str) -> Exposition {
    parse(text).unwrap_or_else(|e| panic!("invalid exposition: {e}\n{text}"))
}

fn all(handle: &Handle) -> Exposition {
    parsed(&handle.render_all())
}

#[test]
fn counters_gauges_and_histograms_render_their_values() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        let requests = counter!(catalogue::MODEL_INFERENCE_REQUESTS.name,
            "provider" => "openrouter", "model" => "gpt-4o", "status" => "success");
        requests.increment(2);
        requests.increment(3);
        gauge!(catalogue::ACTIVE_API_KEYS.name).set(234.0);
        let latency =
            histogram!(catalogue::PROVIDER_RESPONSE_TIME.name, "provider" => "openrouter");
        for seconds in [0.05, 0.3, 0.3, 45.0, 900.0] {
            latency.record(seconds);
        }
    });
    let exposition = all(&handle);
    let labels = [
        ("provider", "openrouter"),
        ("model", "gpt-4o"),
        ("status", "success"),
    ];
    assert_eq!(
        exposition.value("model_inference_requests_total", &labels),
        5.0
    );
    assert_eq!(exposition.value("active_api_keys", &[]), 234.0);

    let family = exposition.family("provider_response_time_seconds").unwrap();
    assert_eq!(family.kind, "histogram");
    assert_eq!(family.help, catalogue::PROVIDER_RESPONSE_TIME.help);
    let bucket = |le: &str| {
        exposition.value(
            "provider_response_time_seconds_bucket",
            &[("provider", "openrouter"), ("le", le)],
        )
    };
    assert_eq!(bucket("0.1"), 1.0);
    assert_eq!(bucket("0.25"), 1.0);
    assert_eq!(bucket("0.5"), 3.0);
    assert_eq!(bucket("30"), 3.0);
    assert_eq!(bucket("60"), 4.0);
    assert_eq!(bucket("600"), 4.0);
    assert_eq!(bucket("+Inf"), 5.0);
    assert_eq!(
        exposition.value("provider_response_time_seconds_count", &[]),
        5.0
    );
    assert_eq!(
        exposition.value("provider_response_time_seconds_sum", &[]),
        945.65
    );
}

#[test]
fn a_nan_gauge_is_absent_from_the_exposition_and_its_family_too_when_all_are() {
    // An unknown figure is absent, never NaN: a health score published as NaN while a
    // provider has too few calls to judge has no sample, and PromQL needs no `>= 0` guard.
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        let score = catalogue::PROVIDER_HEALTH_SCORE.name;
        gauge!(score, "provider" => "openrouter").set(0.75);
        gauge!(score, "provider" => "groq").set(f64::NAN);
        gauge!(catalogue::PROVIDER_LATENCY_P95.name, "provider" => "groq").set(f64::NAN);
        gauge!(catalogue::PROVIDER_ERROR_RATE.name, "provider" => "groq").set(f64::INFINITY);
    });
    for text in [handle.render_all(), handle.render(Category::Providers)] {
        assert!(!text.contains("NaN"), "{text}");
        let exposition = parsed(&text);
        let scores = exposition.family("gatewayz_provider_health_score").unwrap();
        assert_eq!(scores.samples.len(), 1, "{text}");
        assert_eq!(
            exposition.value(
                "gatewayz_provider_health_score",
                &[("provider", "openrouter")]
            ),
            0.75
        );
        assert!(
            exposition
                .family("gatewayz_provider_latency_p95_seconds")
                .is_none(),
            "a family of unknowns has no HELP or TYPE either:\n{text}"
        );
        // Only NaN means unknown: an infinity is a value.
        assert_eq!(
            exposition.value("provider_error_rate", &[("provider", "groq")]),
            f64::INFINITY
        );
    }
    // The unknown score comes back when it is known.
    with_local_recorder(&recorder, || {
        gauge!(catalogue::PROVIDER_HEALTH_SCORE.name, "provider" => "groq").set(0.5);
    });
    assert_eq!(
        all(&handle).value("gatewayz_provider_health_score", &[("provider", "groq")]),
        0.5
    );
}

#[test]
fn dollars_render_as_exact_decimals() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        let cost =
            counter!(catalogue::COST_USD.name, "provider" => "anthropic", "model" => "claude");
        for _ in 0..3 {
            cost.increment(catalogue::COST_USD.scale.to_increment(0.1));
        }
        counter!(catalogue::CREDITS_USED.name, "provider" => "anthropic", "model" => "claude")
            .increment(catalogue::CREDITS_USED.scale.to_increment(0.0000015));
    });
    let text = handle.render(Category::Business);
    let exposition = parsed(&text);
    // 0.1 + 0.1 + 0.1 in f64 is 0.30000000000000004; in nano-dollars it is exact.
    assert_eq!(exposition.value("gatewayz_cost_usd_total", &[]), 0.3);
    assert!(text.lines().any(|l| l.ends_with("} 0.3")), "{text}");
    assert_eq!(exposition.value("credits_used_total", &[]), 0.0000015);
}

#[test]
fn hostile_label_values_round_trip_through_escaping() {
    let (recorder, handle) = recorder();
    let hostile = [
        "quote\"inside",
        "back\\slash",
        "new\nline",
        "tab\tand \u{0} nul",
        "ünïcödé 模型 🚀",
        "}{,=\"le\"",
        "\\n literally",
    ];
    with_local_recorder(&recorder, || {
        for model in hostile {
            counter!(catalogue::MODEL_INFERENCE_REQUESTS.name,
                "provider" => "p", "model" => model, "status" => "success")
            .increment(1);
        }
    });
    let exposition = all(&handle);
    let mut models: Vec<String> = exposition
        .family("model_inference_requests_total")
        .unwrap()
        .samples
        .iter()
        .map(|s| s.label("model").unwrap().to_owned())
        .collect();
    models.sort();
    let mut expected: Vec<String> = hostile.iter().map(|m| m.trim().to_lowercase()).collect();
    expected.sort();
    assert_eq!(models, expected);
}

#[test]
fn long_and_blank_label_values_are_normalised() {
    let (recorder, handle) = recorder();
    let long = "x".repeat(10_000);
    with_local_recorder(&recorder, || {
        for model in [long.as_str(), "   ", "  GPT-4o  ", "gpt-4o"] {
            counter!(catalogue::MODEL_INFERENCE_REQUESTS.name,
                "provider" => "p", "model" => model.to_owned(), "status" => "error")
            .increment(1);
        }
    });
    let exposition = all(&handle);
    let error = [("status", "error")];
    assert_eq!(
        exposition.sum("model_inference_requests_total", &error),
        4.0
    );
    assert_eq!(
        exposition.value("model_inference_requests_total", &[("model", "gpt-4o")]),
        2.0
    );
    assert_eq!(
        exposition.value("model_inference_requests_total", &[("model", "unknown")]),
        1.0
    );
    assert_eq!(
        exposition.value(
            "model_inference_requests_total",
            &[("model", &"x".repeat(128))]
        ),
        1.0
    );
}

#[test]
fn distinct_values_past_the_cap_fold_into_other_and_are_counted() {
    let recorder = RecorderBuilder::new()
        .label_cap("model", 10)
        .build()
        .unwrap();
    let handle = recorder.handle();
    with_local_recorder(&recorder, || {
        for i in 0..1000 {
            counter!(catalogue::TOKENS_USED.name,
                "provider" => "p", "model" => format!("m{i}"), "token_type" => "input")
            .increment(1);
        }
        // The cap is per label name: a model admitted for tokens is admitted everywhere.
        counter!(catalogue::MODEL_INFERENCE_REQUESTS.name,
            "provider" => "p", "model" => "m3", "status" => "success")
        .increment(1);
    });
    let exposition = all(&handle);
    let tokens = exposition.family("tokens_used_total").unwrap();
    assert_eq!(tokens.samples.len(), 11);
    assert_eq!(
        exposition.value("tokens_used_total", &[("model", "other")]),
        990.0
    );
    assert_eq!(
        exposition.value("model_inference_requests_total", &[("model", "m3")]),
        1.0
    );
    let overflow = [("metric", "tokens_used_total"), ("label", "model")];
    assert_eq!(
        exposition.value("gatewayz_label_overflow_total", &overflow),
        990.0
    );
}

#[test]
fn a_million_distinct_model_names_stay_under_the_cap() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        for i in 0..1_000_000 {
            histogram!(catalogue::MODEL_INFERENCE_DURATION.name,
                "provider" => "p", "model" => format!("model-{i}"))
            .record(1.0);
        }
    });
    // 500 admitted models plus `other`, and the overflow counter.
    assert_eq!(handle.series_count(), 501 + 1 + 2);
    let exposition = all(&handle);
    assert_eq!(
        exposition.value(
            "model_inference_duration_seconds_count",
            &[("model", "other")]
        ),
        999_500.0
    );
}

#[test]
fn closed_label_sets_fold_unknown_values() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        for token_type in ["input", "OUTPUT", "total", "reasoning"] {
            counter!(catalogue::TOKENS_USED.name,
                "provider" => "p", "model" => "m", "token_type" => token_type)
            .increment(10);
        }
    });
    let exposition = all(&handle);
    assert_eq!(
        exposition.value("tokens_used_total", &[("token_type", "input")]),
        10.0
    );
    assert_eq!(
        exposition.value("tokens_used_total", &[("token_type", "output")]),
        10.0
    );
    assert_eq!(
        exposition.value("tokens_used_total", &[("token_type", "other")]),
        20.0
    );
}

#[test]
fn a_kind_conflict_is_dropped_and_counted_instead_of_breaking_the_scrape() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        gauge!(catalogue::TOKENS_USED.name, "provider" => "p").set(1.0);
        counter!("my_jobs_total").increment(1);
        gauge!("my_jobs_total").set(5.0);
    });
    let exposition = all(&handle);
    assert!(exposition.family("tokens_used_total").is_none());
    assert_eq!(exposition.family("my_jobs_total").unwrap().kind, "counter");
    assert_eq!(
        exposition.value(
            "gatewayz_metric_conflicts_total",
            &[("metric", "tokens_used_total")]
        ),
        1.0
    );
    assert_eq!(
        exposition.value(
            "gatewayz_metric_conflicts_total",
            &[("metric", "my_jobs_total")]
        ),
        1.0
    );
}

#[test]
fn labels_the_catalogue_does_not_declare_are_dropped() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        for user in ["alice", "bob"] {
            counter!(catalogue::CACHE_HITS.name, "cache" => "api_keys", "user_id" => user)
                .increment(1);
        }
    });
    let exposition = all(&handle);
    let hits = exposition.family("cache_hits_total").unwrap();
    assert_eq!(hits.samples.len(), 1);
    assert_eq!(
        hits.samples[0].labels,
        [("cache".to_owned(), "api_keys".to_owned())]
    );
    assert_eq!(hits.samples[0].value, 2.0);
}

#[test]
fn uncatalogued_metrics_appear_in_all_only_with_their_description() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        metrics::describe_counter!("my.jobs_total", "Jobs run.");
        counter!("my.jobs_total", "queue" => "emails").increment(3);
        histogram!("my_job_seconds", "le" => "clash").record(0.2);
    });
    let exposition = all(&handle);
    let jobs = exposition.family("my_jobs_total").unwrap();
    assert_eq!(
        (jobs.help.as_str(), jobs.kind.as_str()),
        ("Jobs run.", "counter")
    );
    assert_eq!(
        exposition.value("my_jobs_total", &[("queue", "emails")]),
        3.0
    );
    let job_seconds = exposition.family("my_job_seconds").unwrap();
    assert_eq!(job_seconds.help, "Not in the gatewayz catalogue.");
    assert_eq!(
        exposition.value(
            "my_job_seconds_bucket",
            &[("exported_le", "clash"), ("le", "0.25")]
        ),
        1.0
    );
    for category in Category::ALL {
        assert!(
            parsed(&handle.render(category))
                .family("my_jobs_total")
                .is_none()
        );
    }
}

#[test]
fn each_category_renders_exactly_its_families_with_every_histogram_sample() {
    let (recorder, handle) = recorder();
    workload::populate(
        &recorder,
        Shape {
            providers: 2,
            models: 3,
        },
    );
    let everything = all(&handle);
    let mut union = Vec::new();
    for category in Category::ALL {
        let exposition = parsed(&handle.render(category));
        let expected: Vec<&str> = category.metrics().map(|d| d.name).collect();
        assert_eq!(exposition.family_names(), expected, "{category}");
        for family in &exposition.families {
            assert_eq!(
                Some(family),
                everything.family(&family.name),
                "{category} differs from all"
            );
        }
        union.extend(exposition.families);
    }
    union.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(union, everything.families);
}

#[test]
fn families_and_series_come_in_stable_sorted_order() {
    let (recorder, handle) = recorder();
    with_local_recorder(&recorder, || {
        for provider in ["zeta", "alpha", "mid"] {
            gauge!(catalogue::PROVIDER_HEALTH_SCORE.name, "provider" => provider).set(1.0);
        }
        gauge!(catalogue::ACTIVE_API_KEYS.name).set(1.0);
    });
    let first = handle.render_all();
    assert_eq!(first, handle.render_all());
    let exposition = parsed(&first);
    let names = exposition.family_names();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let providers: Vec<&str> = exposition
        .family("gatewayz_provider_health_score")
        .unwrap()
        .samples
        .iter()
        .map(|s| s.label("provider").unwrap())
        .collect();
    assert_eq!(providers, ["alpha", "mid", "zeta"]);
}

#[test]
fn global_labels_are_on_every_series() {
    let recorder = RecorderBuilder::new()
        .global_label("replica", "r\"1")
        .global_label("region", "eu")
        .build()
        .unwrap();
    let handle = recorder.handle();
    workload::populate(
        &recorder,
        Shape {
            providers: 1,
            models: 1,
        },
    );
    let exposition = all(&handle);
    assert!(exposition.samples().count() > 100);
    for sample in exposition.samples() {
        assert_eq!(sample.label("replica"), Some("r\"1"), "{sample:?}");
        assert_eq!(sample.label("region"), Some("eu"), "{sample:?}");
    }
}

#[test]
fn invalid_configuration_is_refused_with_a_reason() {
    let refuse =
        |builder: Result<RecorderBuilder, Error>| builder.and_then(|b| b.build()).unwrap_err();
    assert!(matches!(
        refuse(Ok(RecorderBuilder::new().global_label("model", "x"))),
        Error::InvalidGlobalLabel { .. }
    ));
    assert!(matches!(
        refuse(Ok(RecorderBuilder::new().global_label("le", "x"))),
        Error::InvalidGlobalLabel { .. }
    ));
    assert!(matches!(
        refuse(Ok(RecorderBuilder::new().global_label("a-b", "x"))),
        Error::InvalidGlobalLabel { .. }
    ));
    assert!(matches!(
        refuse(Ok(RecorderBuilder::new()
            .global_label("r", "1")
            .global_label("r", "2"))),
        Error::InvalidGlobalLabel { .. }
    ));
    assert!(matches!(
        refuse(Ok(RecorderBuilder::new().label_cap("model", 0))),
        Error::ZeroLabelCap { .. }
    ));
    assert!(matches!(
        refuse(RecorderBuilder::new().buckets("x", &[])),
        Error::InvalidBuckets { .. }
    ));
    assert!(matches!(
        refuse(RecorderBuilder::new().buckets("x", &[2.0, 1.0])),
        Error::InvalidBuckets { .. }
    ));
    assert!(matches!(
        refuse(RecorderBuilder::new().buckets("x", &[1.0, f64::INFINITY])),
        Error::InvalidBuckets { .. }
    ));
    assert_eq!(
        refuse(RecorderBuilder::new().buckets("tokens_used_total", &[1.0])),
        Error::NotAHistogram {
            metric: "tokens_used_total".into(),
            kind: "counter"
        }
    );
}

#[test]
fn bucket_overrides_replace_the_catalogue_buckets() {
    let recorder = RecorderBuilder::new()
        .buckets(catalogue::GATEWAY_OVERHEAD.name, &[0.001, 0.01])
        .unwrap()
        .default_buckets(&[1.0])
        .unwrap()
        .build()
        .unwrap();
    let handle = recorder.handle();
    with_local_recorder(&recorder, || {
        histogram!(catalogue::GATEWAY_OVERHEAD.name).record(0.005);
        histogram!("uncatalogued_seconds").record(0.5);
    });
    let exposition = all(&handle);
    let les = |name: &str| -> Vec<String> {
        exposition
            .family(name)
            .unwrap()
            .samples
            .iter()
            .filter_map(|s| s.label("le").map(String::from))
            .collect()
    };
    assert_eq!(
        les("gatewayz_gateway_overhead_seconds"),
        ["0.001", "0.01", "+Inf"]
    );
    assert_eq!(les("uncatalogued_seconds"), ["1", "+Inf"]);
}

#[test]
fn build_info_and_start_time_are_set_at_build() {
    let recorder = RecorderBuilder::new()
        .service_version("1.2.3")
        .build()
        .unwrap();
    let exposition = parsed(&recorder.handle().render(Category::System));
    assert_eq!(
        exposition.value("gatewayz_build_info", &[("version", "1.2.3")]),
        1.0
    );
    let started = exposition.value("process_start_time_seconds", &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - started).abs() < 60.0, "{started} vs {now}");
}

#[test]
fn concurrent_recording_while_rendering_loses_no_increment() {
    const THREADS: usize = 4;
    const PER_THREAD: u64 = 100_000;
    let recorder = Arc::new(RecorderBuilder::new().build().unwrap());
    let handle = recorder.handle();
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let recorder = Arc::clone(&recorder);
            thread::spawn(move || {
                with_local_recorder(&*recorder, || {
                    let provider = format!("p{}", t % 2);
                    for i in 0..PER_THREAD {
                        // Half through a cached handle, half through a fresh registration.
                        counter!(catalogue::MODEL_INFERENCE_REQUESTS.name,
                            "provider" => provider.clone(), "model" => "m", "status" => "success")
                        .increment(1);
                        histogram!(catalogue::MODEL_INFERENCE_DURATION.name,
                            "provider" => provider.clone(), "model" => "m")
                        .record((i % 10) as f64);
                    }
                })
            })
        })
        .collect();
    let mut renders = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        parsed(&handle.render(Category::Models));
        renders += 1;
    }
    writers.into_iter().for_each(|w| w.join().unwrap());
    assert!(renders > 0);
    let exposition = all(&handle);
    let total = (THREADS as u64 * PER_THREAD) as f64;
    assert_eq!(exposition.sum("model_inference_requests_total", &[]), total);
    assert_eq!(
        exposition.sum("model_inference_duration_seconds_count", &[]),
        total
    );
    assert_eq!(
        exposition.sum("model_inference_duration_seconds_sum", &[]),
        total / 10.0 * 45.0
    );
}

#[test]
fn the_full_catalogue_workload_parses_back_with_every_metric() {
    let (recorder, handle) = recorder();
    workload::populate(
        &recorder,
        Shape {
            providers: 3,
            models: 4,
        },
    );
    let exposition = all(&handle);
    let names: Vec<&str> = CATALOGUE.iter().map(|d| d.name).collect();
    assert_eq!(exposition.family_names(), names);
    for def in CATALOGUE {
        let family = exposition.family(def.name).unwrap();
        assert_eq!(
            (family.help.as_str(), family.kind.as_str()),
            (def.help, def.kind.as_str())
        );
    }
}
