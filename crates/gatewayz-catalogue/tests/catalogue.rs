//! Rules every catalogue entry must follow: Prometheus naming conventions and internal
//! consistency. A new metric that breaks one fails here, before promtool or Grafana sees it.

use std::collections::HashSet;

use gatewayz_catalogue::{
    self as catalogue, CATALOGUE, Category, ClosedValue, Domain, LABELS, MetricDef, MetricKind,
    Scale, Unit,
};

fn check_all(rule: &str, ok: impl Fn(&MetricDef) -> bool) {
    let bad: Vec<&str> = CATALOGUE
        .iter()
        .filter(|d| !ok(d))
        .map(|d| d.name)
        .collect();
    assert!(bad.is_empty(), "{rule}: {bad:?}");
}

#[test]
fn catalogue_is_sorted_by_name_without_duplicates() {
    for pair in CATALOGUE.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} must sort before {}",
            pair[0].name,
            pair[1].name
        );
    }
}

#[test]
fn every_exposed_name_is_unique_after_sanitising() {
    // A histogram also owns name_bucket, name_sum and name_count.
    let mut seen = HashSet::new();
    for def in CATALOGUE {
        let mut names = vec![def.name.to_owned()];
        if def.kind == MetricKind::Histogram {
            names.extend(["_bucket", "_sum", "_count"].map(|s| format!("{}{s}", def.name)));
        }
        for name in names {
            let sanitized: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            assert!(
                seen.insert(sanitized.to_lowercase()),
                "{name} clashes with another name"
            );
        }
    }
}

#[test]
fn names_are_snake_case_without_colons() {
    check_all("snake_case [a-z][a-z0-9_]*", |d| {
        d.name.starts_with(|c: char| c.is_ascii_lowercase())
            && d.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    });
}

#[test]
fn counters_and_only_counters_end_in_total() {
    check_all("counter ⇔ _total", |d| {
        (d.kind == MetricKind::Counter) == d.name.ends_with("_total")
    });
}

#[test]
fn no_name_ends_in_a_reserved_histogram_suffix() {
    check_all("_count/_sum/_bucket are reserved", |d| {
        !["_count", "_sum", "_bucket"]
            .iter()
            .any(|s| d.name.ends_with(s))
    });
}

#[test]
fn units_are_base_units_and_named_in_the_metric() {
    const NON_BASE: &[&str] = &[
        "millisecond",
        "_ms",
        "microsecond",
        "_us_",
        "minute",
        "hour",
        "_day",
        "percent",
        "kilobyte",
        "megabyte",
        "_kb",
        "_mb",
        "cents",
    ];
    check_all("no non-base unit in the name", |d| {
        !NON_BASE.iter().any(|u| d.name.contains(u))
    });
    check_all("seconds ⇔ _seconds", |d| {
        (d.unit == Unit::Seconds) == d.name.contains("_seconds")
    });
    check_all("dollars ⇔ _usd", |d| {
        (d.unit == Unit::Dollars) == d.name.contains("_usd")
    });
    check_all("info ⇔ _info", |d| {
        (d.unit == Unit::Info) == d.name.ends_with("_info")
    });
}

#[test]
fn every_metric_has_a_help_sentence() {
    check_all("help is a sentence", |d| {
        d.help.len() > 10 && d.help.ends_with('.') && !d.help.contains('\n')
    });
}

#[test]
fn histograms_and_only_histograms_have_ascending_finite_buckets() {
    check_all("histogram ⇔ buckets", |d| {
        (d.kind == MetricKind::Histogram) != d.buckets.is_empty()
    });
    check_all("buckets finite and strictly ascending", |d| {
        d.buckets.iter().all(|b| b.is_finite()) && d.buckets.windows(2).all(|w| w[0] < w[1])
    });
}

#[test]
fn llm_latency_histograms_reach_at_least_300_seconds() {
    for def in [
        &catalogue::MODEL_INFERENCE_DURATION,
        &catalogue::PROVIDER_RESPONSE_TIME,
    ] {
        assert!(
            def.buckets.last().is_some_and(|b| *b >= 300.0),
            "{}",
            def.name
        );
    }
}

#[test]
fn only_money_counters_are_scaled() {
    check_all("scaled ⇒ counter in dollars or credits", |d| {
        d.scale == Scale::One
            || (d.kind == MetricKind::Counter && matches!(d.unit, Unit::Dollars | Unit::Credits))
    });
    assert_eq!(catalogue::COST_USD.scale, Scale::Nano);
    assert_eq!(catalogue::CREDITS_USED.scale, Scale::Nano);
}

#[test]
fn label_names_are_valid_and_not_reserved() {
    for label in LABELS {
        let ok = label.name.starts_with(|c: char| c.is_ascii_lowercase())
            && label
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
        assert!(
            ok && label.name != "le" && label.name != "quantile",
            "{}",
            label.name
        );
        if let Domain::Closed(values) = label.domain {
            assert!(
                !values.is_empty() && !values.contains(&catalogue::OTHER),
                "{}",
                label.name
            );
        }
    }
}

#[test]
fn open_label_names_are_declared_once() {
    // Caps are per label name, so two open declarations of one name would contradict each other.
    let open: Vec<&str> = LABELS
        .iter()
        .filter(|l| matches!(l.domain, Domain::Open { .. }))
        .map(|l| l.name)
        .collect();
    let distinct: HashSet<&&str> = open.iter().collect();
    assert_eq!(open.len(), distinct.len(), "{open:?}");
}

#[test]
fn every_label_a_metric_uses_is_declared_and_used_once_per_metric() {
    for def in CATALOGUE {
        let names: HashSet<&str> = def.labels.iter().map(|l| l.name).collect();
        assert_eq!(
            names.len(),
            def.labels.len(),
            "{} repeats a label",
            def.name
        );
        for label in def.labels {
            assert!(
                LABELS.iter().any(|l| std::ptr::eq(*l, *label)),
                "{}",
                label.name
            );
        }
    }
}

#[test]
fn every_category_has_metrics() {
    for category in Category::ALL {
        assert!(
            category.metrics().count() >= 4,
            "{category} is nearly empty"
        );
    }
}

#[test]
fn renamed_metrics_keep_their_old_name_for_the_docs() {
    let renamed: Vec<(&str, &str)> = CATALOGUE
        .iter()
        .filter_map(|d| d.renamed_from.map(|old| (old, d.name)))
        .collect();
    assert_eq!(
        renamed,
        [
            ("subscription_count", "active_subscriptions"),
            ("gatewayz_cost_by_provider", "gatewayz_cost_usd_total"),
            (
                "fastapi_requests_duration_seconds",
                "http_request_duration_seconds"
            ),
        ]
    );
}

#[test]
fn original_gatewayz_names_that_pass_promtool_are_kept() {
    for name in [
        "model_inference_requests_total",
        "model_inference_duration_seconds",
        "tokens_used_total",
        "credits_used_total",
        "provider_availability",
        "provider_error_rate",
        "provider_response_time_seconds",
        "gatewayz_provider_health_score",
        "gatewayz_token_efficiency",
        "active_api_keys",
        "trial_active",
        "database_query_duration_seconds",
        "cache_hits_total",
        "cache_misses_total",
    ] {
        assert!(catalogue::find(name).is_some(), "{name} is missing");
    }
}

#[test]
fn find_and_category_parse_round_trip() {
    for def in CATALOGUE {
        assert!(std::ptr::eq(catalogue::find(def.name).unwrap(), *def));
    }
    assert!(catalogue::find("nope").is_none());
    for category in Category::ALL {
        assert_eq!(category.as_str().parse::<Category>(), Ok(category));
    }
    let error = "Providers".parse::<Category>().unwrap_err().to_string();
    assert_eq!(
        error,
        "unknown category `Providers`; valid categories are providers, models, business, \
         performance, system"
    );
}

#[test]
fn scale_round_trips_money_and_refuses_garbage() {
    assert_eq!(Scale::Nano.to_increment(0.0000015), 1500);
    assert_eq!(Scale::Nano.to_increment(12.5), 12_500_000_000);
    assert_eq!(Scale::Nano.to_increment(-1.0), 0);
    assert_eq!(Scale::Nano.to_increment(f64::NAN), 0);
    assert_eq!(Scale::Nano.to_value(1_500_000_000), 1.5);
    assert_eq!(Scale::One.to_increment(3.0), 3);
}

#[test]
fn every_metric_def_in_the_sources_is_in_the_catalogue() {
    // The `catalogue!` macro declares the statics and the list together; a `MetricDef` declared
    // anywhere else would be a metric the recorder has no family for.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut declared = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("pub static ")
                && let Some((name, ty)) = rest.split_once(':')
                && ty.trim_start().starts_with("MetricDef")
            {
                declared.push(name.trim().to_owned());
            }
        }
    }
    assert_eq!(declared.len(), CATALOGUE.len(), "{declared:?}");
}

/// Each closed label's domain is its enum's `VALUES`, and each enum round-trips its spellings.
fn check_closed<E: ClosedValue>(label: &catalogue::Label) {
    assert_eq!(
        label.values(),
        Some(E::VALUES),
        "{}: the domain is not the enum's list",
        label.name
    );
    for (i, value) in E::ALL.iter().enumerate() {
        assert_eq!(value.index(), i);
        assert_eq!(value.as_str(), E::VALUES[i]);
        assert_eq!(
            label.find_value(&value.as_str().to_uppercase()),
            Some(value.as_str())
        );
    }
}

#[test]
fn every_closed_label_is_the_value_list_of_its_enum() {
    use catalogue::*;
    check_closed::<InferenceStatus>(&INFERENCE_STATUS);
    check_closed::<TokenType>(&TOKEN_TYPE);
    check_closed::<ErrorKind>(&ERROR_REASON);
    check_closed::<FailoverReason>(&FAILOVER_REASON);
    check_closed::<RefusalReason>(&REFUSAL_REASON);
    check_closed::<HealthStatus>(&HEALTH_STATUS);
    check_closed::<CircuitState>(&CIRCUIT_STATE);
    check_closed::<CircuitState>(&FROM_STATE);
    check_closed::<CircuitState>(&TO_STATE);
    check_closed::<AnomalyKind>(&ANOMALY_KIND);
    check_closed::<RoutingPolicy>(&ROUTING_POLICY);
    check_closed::<HttpMethod>(&METHOD);
    check_closed::<StatusClass>(&STATUS_CLASS);
    check_closed::<Plan>(&PLAN);
    check_closed::<CustomerEvent>(&CUSTOMER_EVENT);
    let closed = LABELS.iter().filter(|l| l.values().is_some()).count();
    assert_eq!(closed, 15, "a closed label without an enum check above");
}

#[test]
fn every_failure_class_is_a_failover_reason_of_the_same_spelling() {
    use catalogue::{ErrorKind, FailoverReason};
    for kind in ErrorKind::ALL {
        assert_eq!(FailoverReason::from(*kind).as_str(), kind.as_str());
    }
    // A refusal is a reason to move on, never a failure of a call.
    assert_eq!(FailoverReason::ALL.len(), ErrorKind::ALL.len() + 1);
    assert_eq!(ErrorKind::parse("circuit_open"), None);
}

#[test]
fn http_statuses_classify() {
    use catalogue::{ErrorKind, StatusClass};
    assert_eq!(ErrorKind::from_status(200), None);
    assert_eq!(ErrorKind::from_status(400), Some(ErrorKind::BadRequest));
    assert_eq!(ErrorKind::from_status(403), Some(ErrorKind::Unauthorized));
    assert_eq!(ErrorKind::from_status(408), Some(ErrorKind::Timeout));
    assert_eq!(ErrorKind::from_status(429), Some(ErrorKind::RateLimited));
    assert_eq!(ErrorKind::from_status(503), Some(ErrorKind::ServerError));
    assert_eq!(ErrorKind::from_status(422), Some(ErrorKind::BadRequest));
    assert_eq!(StatusClass::of(204), Some(StatusClass::Success));
    assert_eq!(StatusClass::of(599), Some(StatusClass::ServerError));
    assert_eq!(StatusClass::of(99), None);
    assert_eq!(StatusClass::of(600), None);
    let against: Vec<&str> = ErrorKind::ALL
        .iter()
        .filter(|k| k.counts_against_provider())
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        against,
        ["timeout", "connection", "server_error", "rate_limited"]
    );
}

#[test]
fn trials_start_and_convert_only_on_the_trial_plan() {
    use catalogue::{CustomerEvent, Plan};
    let pairs: Vec<(CustomerEvent, Plan)> = CustomerEvent::ALL
        .iter()
        .flat_map(|e| Plan::ALL.iter().map(move |p| (*e, *p)))
        .filter(|(e, p)| e.applies_to(*p))
        .collect();
    assert_eq!(pairs.len(), 2 * CustomerEvent::ALL.len() - 2);
    assert!(!CustomerEvent::TrialConverted.applies_to(Plan::Paid));
    assert!(!CustomerEvent::TrialStarted.applies_to(Plan::Paid));
    assert!(CustomerEvent::Lapsed.applies_to(Plan::Paid));
}
