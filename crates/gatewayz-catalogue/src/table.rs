//! The table itself. Every metric is a `static` inside the one [`catalogue!`] invocation below,
//! which also builds [`CATALOGUE`] from them, sorted by name at compile time: a metric cannot be
//! declared without being catalogued, and two metrics with one name do not compile.

use super::{
    ANOMALY_KIND, CACHE, CIRCUIT_STATE, CUSTOMER_EVENT, Category, ERROR_REASON, FAILOVER_REASON,
    FROM_STATE, HEALTH_STATUS, INFERENCE_STATUS, LABEL, Label, METHOD, METRIC, MODEL, MetricDef,
    MetricKind, OPERATION, PLAN, PROVIDER, REFUSAL_REASON, ROUTE, ROUTING_POLICY, STATUS_CLASS,
    Scale, TO_STATE, TOKEN_TYPE, Unit, VERSION,
};

/// Declares the catalogue's metrics and [`CATALOGUE`], the list of all of them sorted by name.
macro_rules! catalogue {
    ($( $(#[$meta:meta])* pub static $name:ident: MetricDef = $def:expr; )+) => {
        $( $(#[$meta])* pub static $name: MetricDef = $def; )+

        /// Every catalogued metric, sorted by name.
        pub static CATALOGUE: &[&MetricDef] = &sorted_by_name([$(&$name),+]);
    };
}

/// Whether `a` sorts before `b`, byte-wise (as `str`'s `Ord` does).
const fn before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// Sorts the catalogue by name at compile time; a duplicate name fails the build.
const fn sorted_by_name<const N: usize>(
    mut defs: [&'static MetricDef; N],
) -> [&'static MetricDef; N] {
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 && before(defs[j].name, defs[j - 1].name) {
            let swap = defs[j];
            defs[j] = defs[j - 1];
            defs[j - 1] = swap;
            j -= 1;
        }
        i += 1;
    }
    let mut k = 1;
    while k < N {
        if !before(defs[k - 1].name, defs[k].name) {
            panic!("two catalogue entries have the same name");
        }
        k += 1;
    }
    defs
}

/// Upstream LLM call latency: long generations take minutes, so the buckets reach 10 minutes.
pub const LLM_LATENCY_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Time to first token of a streamed completion.
pub const TTFT_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
];

/// Seconds per output token after the first, of a stream: about 1 ms (1,000 tokens a second)
/// to 1 s (one token a second).
pub const TPOT_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0,
];

/// Whole HTTP requests, from health checks to streamed completions.
pub const HTTP_LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Time spent in the gateway itself: tens of microseconds when healthy.
pub const OVERHEAD_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Embedded database queries.
pub const DATABASE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Tokens in one request: powers of 4 from 1 to about a million (as OpenTelemetry GenAI).
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
];

/// Cost of one request in dollars: from a fraction of a cent to tens of dollars.
pub const COST_BUCKETS: &[f64] = &[
    0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 50.0,
];

const fn def(
    name: &'static str,
    kind: MetricKind,
    unit: Unit,
    category: Category,
    labels: &'static [&'static Label],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        help,
        labels,
        category,
        buckets: &[],
        scale: Scale::One,
        renamed_from: None,
    }
}

const fn counter(
    name: &'static str,
    unit: Unit,
    category: Category,
    labels: &'static [&'static Label],
    help: &'static str,
) -> MetricDef {
    def(name, MetricKind::Counter, unit, category, labels, help)
}

const fn gauge(
    name: &'static str,
    unit: Unit,
    category: Category,
    labels: &'static [&'static Label],
    help: &'static str,
) -> MetricDef {
    def(name, MetricKind::Gauge, unit, category, labels, help)
}

const fn histogram(
    name: &'static str,
    unit: Unit,
    category: Category,
    labels: &'static [&'static Label],
    buckets: &'static [f64],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        buckets,
        ..def(name, MetricKind::Histogram, unit, category, labels, help)
    }
}

impl MetricDef {
    const fn scaled(self, scale: Scale) -> MetricDef {
        MetricDef { scale, ..self }
    }

    const fn renamed_from(self, old: &'static str) -> MetricDef {
        MetricDef {
            renamed_from: Some(old),
            ..self
        }
    }
}

use Category::{Business, Models, Performance, Providers, System};
use Unit::{Boolean, Count, Credits, Dollars, Info, Ratio, Seconds, Tokens};

catalogue! {
    // --- providers -------------------------------------------------------------------------------

    /// Whether the provider's last probe or call was answered properly (1) or not (0).
    pub static PROVIDER_AVAILABILITY: MetricDef = gauge(
        "provider_availability",
        Boolean,
        Providers,
        &[&PROVIDER],
        "Whether the provider is available: 1 if its last probe or call got an answer that does not count against it, 0 after a timeout, a connection failure, a 5xx or a 429.",
    );

    /// Share of the health window during which the provider was reachable (health-score input).
    pub static PROVIDER_AVAILABILITY_RATIO: MetricDef = gauge(
        "gatewayz_provider_availability_ratio",
        Ratio,
        Providers,
        &[&PROVIDER],
        "Share of attempts in the health window (calls, probes, and calls refused by the circuit) that the provider answered properly: not a timeout, connection failure, 5xx or 429 (0..1).",
    );

    /// Failed calls over all calls in the health window (health-score input).
    pub static PROVIDER_ERROR_RATE: MetricDef = gauge(
        "provider_error_rate",
        Ratio,
        Providers,
        &[&PROVIDER],
        "Calls that failed on the provider's side (timeouts, connection errors, 5xx, 429) divided by calls made in the health window (0..1).",
    );

    /// Latency component of the health score (health-score input).
    pub static PROVIDER_LATENCY_SCORE: MetricDef = gauge(
        "gatewayz_provider_latency_score",
        Ratio,
        Providers,
        &[&PROVIDER],
        "Latency component of the health score: 1 at or below the target p95, 0 at or above the maximum.",
    );

    /// p95 latency of the provider over the health window.
    pub static PROVIDER_LATENCY_P95: MetricDef = gauge(
        "gatewayz_provider_latency_p95_seconds",
        Seconds,
        Providers,
        &[&PROVIDER],
        "95th percentile call latency of the provider over the health window.",
    );

    /// Composite provider health score.
    pub static PROVIDER_HEALTH_SCORE: MetricDef = gauge(
        "gatewayz_provider_health_score",
        Ratio,
        Providers,
        &[&PROVIDER],
        "Composite health score: 0.4 availability + 0.3 (1 - error rate) + 0.3 latency score (0..1); 0 while the circuit is open or half-open.",
    );

    /// Provider health status, one-hot.
    pub static PROVIDER_STATUS: MetricDef = gauge(
        "gatewayz_provider_status",
        Boolean,
        Providers,
        &[&PROVIDER, &HEALTH_STATUS],
        "Health status of the provider, one-hot: the series of the current status is 1.",
    );

    /// Latency of each upstream call, successful or not.
    pub static PROVIDER_RESPONSE_TIME: MetricDef = histogram(
        "provider_response_time_seconds",
        Seconds,
        Providers,
        &[&PROVIDER],
        LLM_LATENCY_BUCKETS,
        "Latency of upstream provider calls, until the response (or error) is complete.",
    );

    /// Failed upstream calls by failure class.
    pub static PROVIDER_ERRORS: MetricDef = counter(
        "gatewayz_provider_errors_total",
        Count,
        Providers,
        &[&PROVIDER, &ERROR_REASON],
        "Failed upstream provider calls, by failure class.",
    );

    /// Circuit breaker state, one-hot.
    pub static CIRCUIT_BREAKER_STATE: MetricDef = gauge(
        "gatewayz_circuit_breaker_state",
        Boolean,
        Providers,
        &[&PROVIDER, &CIRCUIT_STATE],
        "Circuit breaker state of the provider, one-hot: the series of the current state is 1.",
    );

    /// Circuit breaker state changes.
    pub static CIRCUIT_BREAKER_TRANSITIONS: MetricDef = counter(
        "gatewayz_circuit_breaker_transitions_total",
        Count,
        Providers,
        &[&PROVIDER, &FROM_STATE, &TO_STATE],
        "Circuit breaker state transitions.",
    );

    /// Calls refused without trying because the circuit was open.
    ///
    /// A refused call is not an attempt: it is counted here (and, when the request moved on,
    /// in [`FAILOVERS`] with reason `circuit_open`), never in the inference or error series.
    pub static CIRCUIT_BREAKER_REJECTIONS: MetricDef = counter(
        "gatewayz_circuit_breaker_rejections_total",
        Count,
        Providers,
        &[&PROVIDER],
        "Calls refused by the provider's circuit breaker (open, or half-open with every probe out): never sent, so never counted as inference calls or provider errors.",
    );

    /// Times the gateway moved on from a provider to the next candidate.
    pub static FAILOVERS: MetricDef = counter(
        "gatewayz_failovers_total",
        Count,
        Providers,
        &[&PROVIDER, &FAILOVER_REASON],
        "Requests moved on from this provider to the next candidate, by the reason it failed.",
    );

    /// Anomalies detected.
    pub static ANOMALIES_DETECTED: MetricDef = counter(
        "gatewayz_anomalies_detected_total",
        Count,
        Providers,
        &[&PROVIDER, &ANOMALY_KIND],
        "Anomalies detected against the provider's own baseline.",
    );

    /// Anomalies currently active.
    pub static ANOMALIES_ACTIVE: MetricDef = gauge(
        "gatewayz_anomalies_active",
        Boolean,
        Providers,
        &[&PROVIDER, &ANOMALY_KIND],
        "Whether an anomaly of this kind is active for the provider (1) or not (0).",
    );

    /// Requests whose first provider a routing policy chose, by policy and provider.
    pub static ROUTING_DECISIONS: MetricDef = counter(
        "gatewayz_routing_decisions_total",
        Count,
        Providers,
        &[&PROVIDER, &ROUTING_POLICY],
        "Requests routed, by the policy in force and the provider it put first (the one tried first; failovers are in gatewayz_failovers_total).",
    );

    // --- models ----------------------------------------------------------------------------------

    /// Inference calls by outcome.
    pub static MODEL_INFERENCE_REQUESTS: MetricDef = counter(
        "model_inference_requests_total",
        Count,
        Models,
        &[&PROVIDER, &MODEL, &INFERENCE_STATUS],
        "Inference calls to a provider and model, by outcome.",
    );

    /// End-to-end duration of inference calls.
    pub static MODEL_INFERENCE_DURATION: MetricDef = histogram(
        "model_inference_duration_seconds",
        Seconds,
        Models,
        &[&PROVIDER, &MODEL],
        LLM_LATENCY_BUCKETS,
        "Duration of inference calls, from sending the request to the last token.",
    );

    /// Time until the first token reached the gateway: for a streamed completion its first
    /// streamed token, for a plain completion the whole answer (its first token arrives with
    /// it). One histogram for both, so that a latency objective ("answered within 2 s") reads
    /// one set of buckets whatever the mix of streams.
    pub static TIME_TO_FIRST_TOKEN: MetricDef = histogram(
        "gatewayz_time_to_first_token_seconds",
        Seconds,
        Models,
        &[&PROVIDER, &MODEL],
        TTFT_BUCKETS,
        "Time from sending an inference request to receiving its first token: the first streamed token of a stream, the whole answer of a plain completion (its first token arrives with it); calls that produced no token are not counted.",
    );

    /// Generation speed of streams: seconds per output token after the first.
    ///
    /// `(duration − time to first token) / (output tokens − 1)` of a successful stream with at
    /// least two output tokens: the decode speed a reader of the stream sees, independent of
    /// how long the answer is, which a whole-call duration is not.
    pub static TIME_PER_OUTPUT_TOKEN: MetricDef = histogram(
        "gatewayz_time_per_output_token_seconds",
        Seconds,
        Models,
        &[&PROVIDER, &MODEL],
        TPOT_BUCKETS,
        "Seconds per output token after the first, of successful streamed completions: (duration - time to first token) / (output tokens - 1); independent of the answer's length.",
    );

    /// Client requests for a model, by how they ended.
    ///
    /// One per request that reached routing, whatever the attempts it took: a request that
    /// failed over from one provider to another and was answered is one success here (and one
    /// failed and one successful attempt in [`MODEL_INFERENCE_REQUESTS`]); a request that no
    /// provider answered, every candidate failing or refused by its circuit, is one error.
    /// The per-model availability objective reads it: attempts alone would hide an outage
    /// behind the circuit breaker, which stops the attempts while clients keep failing.
    pub static MODEL_REQUESTS: MetricDef = counter(
        "gatewayz_model_requests_total",
        Count,
        Models,
        &[&MODEL, &INFERENCE_STATUS],
        "Client requests for a model by outcome: success when a provider answered, error when every candidate provider failed or was refused by its circuit (however many attempts it took).",
    );

    /// Tokens processed.
    pub static TOKENS_USED: MetricDef = counter(
        "tokens_used_total",
        Tokens,
        Models,
        &[&PROVIDER, &MODEL, &TOKEN_TYPE],
        "Tokens processed, input (prompt) and output (completion) separately.",
    );

    /// Output tokens per input token of the most recent call.
    pub static TOKEN_EFFICIENCY: MetricDef = gauge(
        "gatewayz_token_efficiency",
        Ratio,
        Models,
        &[&PROVIDER, &MODEL],
        "Output tokens per input token of the most recent successful call.",
    );

    /// Tokens per request, distribution.
    pub static TOKENS_PER_REQUEST: MetricDef = histogram(
        "gatewayz_tokens_per_request",
        Tokens,
        Models,
        &[&PROVIDER, &TOKEN_TYPE],
        TOKEN_BUCKETS,
        "Tokens in one inference call, input and output separately.",
    );

    // --- business --------------------------------------------------------------------------------

    /// Upstream cost in US dollars (a float counter).
    pub static COST_USD: MetricDef = counter(
        "gatewayz_cost_usd_total",
        Dollars,
        Business,
        &[&PROVIDER, &MODEL],
        "Upstream cost of inference calls in US dollars, from the model's price per token.",
    )
    .scaled(Scale::Nano)
    .renamed_from("gatewayz_cost_by_provider");

    /// What the routed calls would have cost at the reference price, in US dollars.
    ///
    /// The reference is the mean price of the candidates `spread` draws from (the healthy
    /// ones) when the request was routed, applied to the call's own tokens: "saved by
    /// routing" is this minus [`COST_USD`], a difference of two counters.
    pub static ROUTING_REFERENCE_COST: MetricDef = counter(
        "gatewayz_routing_reference_cost_usd_total",
        Dollars,
        Business,
        &[&PROVIDER, &MODEL],
        "What routed inference calls would have cost at the mean price of the healthy candidates (what the spread policy pays on average), in US dollars; minus gatewayz_cost_usd_total, what routing saved.",
    )
    .scaled(Scale::Nano);

    /// Credits charged to API keys (fractional).
    pub static CREDITS_USED: MetricDef = counter(
        "credits_used_total",
        Credits,
        Business,
        &[&PROVIDER, &MODEL],
        "Credits charged to API keys for inference calls.",
    )
    .scaled(Scale::Nano);

    /// Cost of one request, distribution.
    pub static REQUEST_COST: MetricDef = histogram(
        "gatewayz_request_cost_usd",
        Dollars,
        Business,
        &[&PROVIDER],
        COST_BUCKETS,
        "Upstream cost of one inference call in US dollars.",
    );

    /// API keys that are active.
    pub static ACTIVE_API_KEYS: MetricDef = gauge(
        "active_api_keys",
        Count,
        Business,
        &[],
        "API keys that are active (not revoked, not expired).",
    );

    /// Paid subscriptions that are active.
    pub static ACTIVE_SUBSCRIPTIONS: MetricDef = gauge(
        "active_subscriptions",
        Count,
        Business,
        &[],
        "Paid subscriptions that are active.",
    )
    .renamed_from("subscription_count");

    /// Trials that are active.
    pub static TRIALS_ACTIVE: MetricDef = gauge(
        "trial_active",
        Count,
        Business,
        &[],
        "Trial accounts that are active.",
    );

    /// Customer events, as totals of the service's key store.
    ///
    /// Set from the database (`Counter::absolute`), not incremented by the process: the events
    /// happen in other processes (a CLI) and by time (expiry), and survive restarts. Replicas on
    /// one database all report the same totals: aggregate with `max` across replicas, never
    /// `sum`.
    pub static CUSTOMER_EVENTS: MetricDef = counter(
        "gatewayz_customer_events_total",
        Count,
        Business,
        &[&CUSTOMER_EVENT, &PLAN],
        "Customer events recorded in the key store (keys created and revoked, trials started, converted and lapsed, cancellations, top-ups, credits exhausted), by the key's plan. Totals of the database: replicas on one database report the same value, so aggregate with max.",
    );

    /// Credits added to keys by top-ups, as a total of the service's key store.
    pub static CREDITS_TOPPED_UP: MetricDef = counter(
        "gatewayz_credits_topped_up_total",
        Credits,
        Business,
        &[&PLAN],
        "Credits added to API keys by top-ups, by the key's plan. A total of the database: replicas on one database report the same value, so aggregate with max.",
    )
    .scaled(Scale::Nano);

    // --- performance -----------------------------------------------------------------------------

    /// Duration of HTTP requests served.
    pub static HTTP_REQUEST_DURATION: MetricDef = histogram(
        "http_request_duration_seconds",
        Seconds,
        Performance,
        &[&METHOD, &ROUTE, &STATUS_CLASS],
        HTTP_LATENCY_BUCKETS,
        "Duration of HTTP requests served, to the end of the response body.",
    )
    .renamed_from("fastapi_requests_duration_seconds");

    /// Time the gateway spends on a request outside provider calls.
    pub static GATEWAY_OVERHEAD: MetricDef = histogram(
        "gatewayz_gateway_overhead_seconds",
        Seconds,
        Performance,
        &[],
        OVERHEAD_BUCKETS,
        "Time spent in the gateway itself per proxied request, excluding time waiting on providers.",
    );

    /// Duration of database queries.
    pub static DATABASE_QUERY_DURATION: MetricDef = histogram(
        "database_query_duration_seconds",
        Seconds,
        Performance,
        &[&OPERATION],
        DATABASE_BUCKETS,
        "Duration of database queries, by operation.",
    );

    /// Failed database queries.
    pub static DATABASE_QUERY_ERRORS: MetricDef = counter(
        "database_query_errors_total",
        Count,
        Performance,
        &[&OPERATION],
        "Database queries that failed, by operation.",
    );

    /// Cache lookups that found their entry.
    pub static CACHE_HITS: MetricDef = counter(
        "cache_hits_total",
        Count,
        Performance,
        &[&CACHE],
        "Cache lookups that found the entry.",
    );

    /// Cache lookups that did not find their entry.
    pub static CACHE_MISSES: MetricDef = counter(
        "cache_misses_total",
        Count,
        Performance,
        &[&CACHE],
        "Cache lookups that did not find the entry.",
    );

    // --- system ----------------------------------------------------------------------------------

    /// HTTP requests served.
    pub static HTTP_REQUESTS: MetricDef = counter(
        "http_requests_total",
        Count,
        System,
        &[&METHOD, &ROUTE, &STATUS_CLASS],
        "HTTP requests served, by method, route template and status class.",
    );

    /// HTTP requests being served right now.
    pub static HTTP_REQUESTS_IN_FLIGHT: MetricDef = gauge(
        "http_requests_in_flight",
        Count,
        System,
        &[],
        "HTTP requests being served right now.",
    );

    /// Requests refused before any provider was called.
    pub static REQUESTS_REFUSED: MetricDef = counter(
        "gatewayz_requests_refused_total",
        Count,
        System,
        &[&REFUSAL_REASON],
        "Requests refused before any provider was called (authentication, credits, limits, \
         invalid input), by reason.",
    );

    /// When the process started.
    pub static PROCESS_START_TIME: MetricDef = gauge(
        "process_start_time_seconds",
        Seconds,
        System,
        &[],
        "Start time of the process since the Unix epoch.",
    );

    /// Build information.
    pub static BUILD_INFO: MetricDef = gauge(
        "gatewayz_build_info",
        Info,
        System,
        &[&VERSION],
        "Always 1; the labels describe the running build.",
    );

    /// Label values folded into `other` by a cardinality cap.
    pub static LABEL_OVERFLOW: MetricDef = counter(
        "gatewayz_label_overflow_total",
        Count,
        System,
        &[&METRIC, &LABEL],
        "Recordings whose label value was folded into `other` by a cap or a closed value set.",
    );

    /// Recordings dropped because they contradict the catalogue.
    pub static METRIC_CONFLICTS: MetricDef = counter(
        "gatewayz_metric_conflicts_total",
        Count,
        System,
        &[&METRIC],
        "Recordings dropped because their kind contradicts the catalogue or an earlier registration, or because the installed recorder cannot show a fractional counter (dollars, credits) in its unit.",
    );

    // --- fleet -----------------------------------------------------------------------------------

    /// Whether this replica's circuits are shared with the fleet.
    ///
    /// Published only by a tracker with a circuit store (absent otherwise): 1 while the store
    /// answers, 0 while the replica falls back to its local breakers.
    pub static CIRCUIT_SHARED_STATE: MetricDef = gauge(
        "gatewayz_circuit_shared_state",
        Boolean,
        Providers,
        &[],
        "1 while this replica shares its circuit breakers through the fleet's store, 0 while the store is unreachable and it falls back to its local breakers.",
    );

    /// Times the circuit store became unreachable.
    pub static CIRCUIT_SHARED_FALLBACKS: MetricDef = counter(
        "gatewayz_circuit_shared_fallbacks_total",
        Count,
        Providers,
        &[],
        "Times this replica lost its circuit store and fell back to its local circuit breakers.",
    );
}
