//! Configuration: validation errors that say what to fix, and serde with defaults.

use std::time::Duration;

use gatewayz_health::{Error, HealthConfig, HealthTracker, ProviderConfig, RoutingPolicy};

fn rejected(change: impl FnOnce(&mut HealthConfig)) -> Error {
    let mut config = HealthConfig::default();
    change(&mut config);
    let err = config.validate().expect_err("invalid configuration");
    // Compared as text: NaN values make errors unequal to themselves.
    assert_eq!(
        HealthTracker::new(config)
            .expect_err("the tracker validates too")
            .to_string(),
        err.to_string()
    );
    err
}

fn out_of_range(field: &str, value: f64, min: f64, max: f64) -> Error {
    Error::OutOfRange {
        field: field.into(),
        value,
        min,
        max,
    }
}

fn not_positive(field: &str) -> Error {
    Error::NotPositive {
        field: field.into(),
    }
}

fn not_ordered(lower: &str, lower_value: &str, upper: &str, upper_value: &str) -> Error {
    Error::NotOrdered {
        lower: lower.into(),
        lower_value: lower_value.into(),
        upper: upper.into(),
        upper_value: upper_value.into(),
    }
}

#[test]
fn weights_must_sum_to_one() {
    let err = rejected(|c| c.weights.latency = 0.4);
    assert!(matches!(err, Error::WeightsDoNotSumToOne { sum, .. } if (sum - 1.1).abs() < 1e-9));
    assert!(err.to_string().contains("add up to 1"), "{err}");
}

#[test]
fn a_weight_must_lie_in_zero_to_one() {
    let err = rejected(|c| {
        c.weights.availability = 1.5;
        c.weights.error_rate = -0.5;
        c.weights.latency = 0.0;
    });
    assert_eq!(err, out_of_range("weights.availability", 1.5, 0.0, 1.0));
}

#[test]
fn other_weights_summing_to_one_are_accepted() {
    let mut config = HealthConfig::default();
    config.weights.availability = 0.2;
    config.weights.error_rate = 0.5;
    config.weights.latency = 0.3;
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn status_thresholds_must_be_ordered() {
    let err = rejected(|c| c.status.degraded = 0.8);
    assert_eq!(
        err,
        not_ordered("status.degraded", "0.8", "status.healthy", "0.8")
    );
    assert_eq!(
        err.to_string(),
        "`status.degraded` (0.8) must be below `status.healthy` (0.8); lower the first or raise the second"
    );
}

#[test]
fn the_margin_must_leave_room_above_healthy() {
    assert_eq!(
        rejected(|c| c.status.margin = 0.3),
        out_of_range("status.margin", 0.3, 0.0, 1.0 - 0.8)
    );
}

#[test]
fn latency_target_must_be_below_max() {
    let err = rejected(|c| c.latency.target = Duration::from_secs(30));
    assert_eq!(
        err,
        not_ordered("latency.target", "30s", "latency.max", "30s")
    );
}

#[test]
fn windows_and_counts_must_be_positive() {
    assert_eq!(
        rejected(|c| c.window.length = Duration::ZERO),
        not_positive("window.length")
    );
    assert_eq!(
        rejected(|c| c.window.buckets = 0),
        out_of_range("window.buckets", 0.0, 1.0, 1000.0)
    );
    assert_eq!(
        rejected(|c| c.circuit.rate_window = Duration::ZERO),
        not_positive("circuit.rate_window")
    );
    assert_eq!(
        rejected(|c| c.circuit.consecutive_failures = 0),
        not_positive("circuit.consecutive_failures")
    );
    assert_eq!(
        rejected(|c| c.status.min_calls = 0),
        not_positive("status.min_calls")
    );
    let err = not_positive("circuit.cool_down");
    assert_eq!(rejected(|c| c.circuit.cool_down = Duration::ZERO), err);
    assert!(
        err.to_string().contains("give it a positive value"),
        "{err}"
    );
}

#[test]
fn the_cool_down_cap_must_not_be_below_the_cool_down() {
    assert_eq!(
        rejected(|c| c.circuit.max_cool_down = Duration::from_secs(10)),
        not_ordered("circuit.cool_down", "30s", "circuit.max_cool_down", "10s")
    );
}

#[test]
fn half_open_successes_cannot_exceed_the_probes() {
    assert_eq!(
        rejected(|c| c.circuit.half_open_successes = 4),
        out_of_range("circuit.half_open_successes", 4.0, 1.0, 3.0)
    );
}

#[test]
fn rates_must_lie_in_zero_to_one() {
    assert_eq!(
        rejected(|c| c.circuit.failure_rate = 0.0),
        out_of_range("circuit.failure_rate", 0.0, 0.0, 1.0)
    );
    assert_eq!(
        rejected(|c| c.failover.unknown_score = f64::NAN).to_string(),
        "`failover.unknown_score` is NaN; set it between 0 and 1"
    );
}

#[test]
fn the_anomaly_window_must_be_whole_buckets_within_the_window() {
    let err = rejected(|c| c.anomaly.window = Duration::from_secs(45));
    assert_eq!(
        err,
        Error::NotWholeBuckets {
            field: "anomaly.window".into(),
            value: "45s".into(),
            bucket: "30s".into(),
        }
    );
    assert_eq!(
        rejected(|c| c.anomaly.window = Duration::from_secs(330)),
        not_ordered("anomaly.window", "5m 30s", "window.length", "5m")
    );
}

#[test]
fn provider_overrides_are_validated_under_their_own_names() {
    let err = rejected(|c| {
        c.providers.insert(
            "groq".into(),
            ProviderConfig::default().with_thresholds(0.6, 0.7),
        );
    });
    assert_eq!(
        err,
        not_ordered(
            "providers.groq.degraded_threshold",
            "0.7",
            "providers.groq.healthy_threshold",
            "0.6"
        )
    );
    let tracker = HealthTracker::new(HealthConfig::default()).unwrap();
    assert_eq!(
        tracker.register("", ProviderConfig::default()),
        Err(Error::EmptyProviderName)
    );
    let slow = ProviderConfig::default().with_slow_call_duration(Duration::ZERO);
    assert_eq!(
        tracker.register("x", slow),
        Err(not_positive("providers.x.slow_call_duration"))
    );
}

#[test]
fn a_provider_registers_once() {
    let tracker = HealthTracker::new(HealthConfig::default()).unwrap();
    tracker.register("groq", ProviderConfig::default()).unwrap();
    let err = tracker
        .register("groq", ProviderConfig::default())
        .unwrap_err();
    assert_eq!(
        err,
        Error::AlreadyRegistered {
            provider: "groq".into()
        }
    );
}

#[test]
fn omitted_fields_take_their_defaults() {
    let config: HealthConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, HealthConfig::default());
    let config: HealthConfig = serde_json::from_str(
        r#"{"circuit": {"consecutive_failures": 3, "cool_down": "45s"},
            "window": {"length": 600}}"#,
    )
    .unwrap();
    let mut expected = HealthConfig::default();
    expected.circuit.consecutive_failures = 3;
    expected.circuit.cool_down = Duration::from_secs(45);
    expected.window.length = Duration::from_secs(600);
    assert_eq!(config, expected);
}

#[test]
fn durations_read_as_humantime_or_seconds() {
    let config: HealthConfig = serde_json::from_str(
        r#"{"latency": {"target": "1500ms", "max": 12.5},
            "circuit": {"max_cool_down": "1m 30s"}}"#,
    )
    .unwrap();
    assert_eq!(config.latency.target, Duration::from_millis(1500));
    assert_eq!(config.latency.max, Duration::from_millis(12_500));
    assert_eq!(config.circuit.max_cool_down, Duration::from_secs(90));
    let err = serde_json::from_str::<HealthConfig>(r#"{"latency": {"target": -1}}"#).unwrap_err();
    assert!(err.to_string().contains("negative"), "{err}");
    let err =
        serde_json::from_str::<HealthConfig>(r#"{"latency": {"target": "soon"}}"#).unwrap_err();
    assert!(err.to_string().contains("soon"), "{err}");
}

#[test]
fn provider_overrides_deserialise_and_apply() {
    let config: HealthConfig = serde_json::from_str(
        r#"{"providers": {"cerebras": {"latency_target": "500ms", "latency_max": "5s"},
                          "groq": {}}}"#,
    )
    .unwrap();
    assert_eq!(
        config.providers["cerebras"],
        ProviderConfig::default().with_latency(Duration::from_millis(500), Duration::from_secs(5))
    );
    let tracker = HealthTracker::new(config).unwrap();
    for provider in ["cerebras", "groq"] {
        assert!(tracker.try_acquire(provider).is_ok(), "{provider}");
    }
    assert_eq!(
        tracker.try_acquire("openrouter").unwrap_err(),
        gatewayz_health::Rejected::Unregistered
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let err = serde_json::from_str::<HealthConfig>(r#"{"circuit": {"consecutive_failure": 3}}"#)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown field `consecutive_failure`"),
        "{err}"
    );
}

#[test]
fn a_configuration_round_trips_through_json() {
    let mut config = HealthConfig::default();
    config.anomaly.latency_floor = Duration::from_millis(2500);
    config.providers.insert(
        "groq".into(),
        ProviderConfig::default().with_consecutive_failures(2),
    );
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains(r#""latency_floor":"2s 500ms""#), "{json}");
    assert_eq!(serde_json::from_str::<HealthConfig>(&json).unwrap(), config);
}

#[test]
fn routing_reads_a_policy_per_model_and_validates_its_numbers() {
    let config: HealthConfig = serde_json::from_str(
        r#"{"routing": {"policy": "cheapest", "exploration": 0.1,
                        "models": {"gpt-4o-mini": "fastest", "claude-3.5-sonnet": "Weighted"},
                        "weights": {"health": 0.5, "price": 0.25, "latency": 0.25}}}"#,
    )
    .unwrap();
    let routing = &config.routing;
    assert_eq!(routing.policy, RoutingPolicy::Cheapest);
    assert_eq!(routing.policy_for("gpt-4o-mini"), RoutingPolicy::Fastest);
    assert_eq!(
        routing.policy_for("claude-3.5-sonnet"),
        RoutingPolicy::Weighted
    );
    assert_eq!(routing.policy_for("llama-3.1-8b"), RoutingPolicy::Cheapest);
    assert_eq!(routing.weights.health, 0.5);
    assert_eq!(config.validate(), Ok(()));
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains(r#""gpt-4o-mini":"fastest""#), "{json}");
    assert_eq!(serde_json::from_str::<HealthConfig>(&json).unwrap(), config);

    // The defaults: spread for every model, 5% exploration, weights 0.2 / 0.4 / 0.4.
    let defaults = HealthConfig::default().routing;
    assert_eq!(
        (defaults.policy, defaults.exploration, defaults.models.len()),
        (RoutingPolicy::Spread, 0.05, 0)
    );

    let err = serde_json::from_str::<HealthConfig>(r#"{"routing": {"policy": "cheap"}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown routing policy \"cheap\""), "{err}");
    assert!(
        err.contains("spread, priority, cheapest, fastest, weighted"),
        "{err}"
    );
    assert_eq!(
        rejected(|c| c.routing.exploration = 1.5),
        out_of_range("routing.exploration", 1.5, 0.0, 1.0)
    );
    let err = rejected(|c| c.routing.weights.price = 0.9);
    assert!(
        matches!(err, Error::RoutingWeightsDoNotSumToOne { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("routing.weights.price"), "{err}");
    let err = rejected(|c| {
        c.routing.models.insert(" ".into(), RoutingPolicy::Fastest);
    });
    assert!(matches!(err, Error::EmptyModelName { .. }), "{err}");
}
