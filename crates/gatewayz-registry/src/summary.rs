//! The JSON summary: a handful of numbers per category, computed from the live values.
//!
//! Averages are taken from histogram sums and counts, so they are averages since start, not
//! over a window; rates over time are Prometheus's job. A number that has no denominator yet
//! (no request, no provider) is `null`, never 0 and never a string.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::atomic::Ordering::Relaxed,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

use crate::{
    Category,
    catalogue::{
        ACTIVE_API_KEYS, ACTIVE_SUBSCRIPTIONS, ANOMALIES_ACTIVE, ANOMALY_KIND, AnomalyKind,
        CACHE_HITS, CACHE_MISSES, CIRCUIT_BREAKER_STATE, CIRCUIT_STATE, COST_USD,
        CREDITS_TOPPED_UP, CREDITS_USED, CUSTOMER_EVENT, CUSTOMER_EVENTS, CircuitState,
        CustomerEvent, DATABASE_QUERY_DURATION, DATABASE_QUERY_ERRORS, FAILOVERS, GATEWAY_OVERHEAD,
        HEALTH_STATUS, HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_REQUESTS_IN_FLIGHT, HealthStatus,
        INFERENCE_STATUS, InferenceStatus, LABEL_OVERFLOW, METRIC_CONFLICTS, MODEL,
        MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS, MetricDef, PLAN, PROVIDER,
        PROVIDER_AVAILABILITY_RATIO, PROVIDER_ERROR_RATE, PROVIDER_HEALTH_SCORE,
        PROVIDER_LATENCY_P95, PROVIDER_RESPONSE_TIME, PROVIDER_STATUS, Plan, ROUTING_DECISIONS,
        ROUTING_POLICY, ROUTING_REFERENCE_COST, RoutingPolicy, STATUS_CLASS, StatusClass,
        TIME_TO_FIRST_TOKEN, TOKEN_TYPE, TOKENS_USED, TRIALS_ACTIVE, TokenType,
    },
    family::{Series, Value},
    store::Store,
};

/// The summary document served at `/prometheus/metrics/summary`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// When it was computed, RFC 3339 in UTC.
    pub timestamp: String,
    /// One section per requested category.
    pub metrics: Sections,
}

/// The sections of a [`Summary`]; those not requested are absent from the JSON.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Sections {
    /// Provider health.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<ProvidersSummary>,
    /// Inference traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelsSummary>,
    /// Money and customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business: Option<BusinessSummary>,
    /// Gateway latency, database and cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance: Option<PerformanceSummary>,
    /// Request totals and self-monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemSummary>,
}

/// Provider health across all providers, and per provider.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ProvidersSummary {
    /// Providers with any provider metric.
    pub total_providers: usize,
    /// Providers whose published status is `healthy`.
    pub healthy_providers: usize,
    /// Providers whose published status is `degraded`.
    pub degraded_providers: usize,
    /// Providers whose published status is `unavailable`.
    pub unavailable_providers: usize,
    /// Providers with status `unknown` or none published.
    pub unknown_providers: usize,
    /// Mean of the providers' windowed error rates.
    pub avg_error_rate: Option<f64>,
    /// Mean upstream response time since start, in milliseconds.
    pub avg_response_time_ms: Option<f64>,
    /// Mean of the providers' health scores.
    pub avg_health_score: Option<f64>,
    /// Providers whose circuit is open.
    pub open_circuits: usize,
    /// Failovers since start.
    pub failovers_total: u64,
    /// Active anomalies, all kinds.
    pub active_anomalies: usize,
    /// Routing decisions, and what routing saved.
    pub routing: RoutingSummary,
    /// One entry per provider, sorted by name.
    pub by_provider: Vec<ProviderSummary>,
}

/// Routing since start: the decisions of the routing policies, and the cost of the routed calls
/// against their reference cost (what they would have cost at the mean price of the healthy
/// candidates, as the `spread` policy pays on average). Money figures are `null` until a call
/// routed with prices reported a cost.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct RoutingSummary {
    /// Requests routed, all policies.
    pub decisions_total: u64,
    /// Requests routed per policy in force, for the policies that routed any.
    pub decisions_by_policy: BTreeMap<String, u64>,
    /// Reference cost of the routed calls, in US dollars.
    pub reference_cost_usd: Option<f64>,
    /// What they cost: the cost of the provider and model pairs that have a reference cost.
    pub routed_cost_usd: Option<f64>,
    /// Reference minus routed cost: what routing saved (negative when it spent more).
    pub saved_usd: Option<f64>,
    /// Saved over the reference cost: the share of what the calls would have cost.
    pub saved_ratio: Option<f64>,
}

/// One provider's published health.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ProviderSummary {
    /// Provider id.
    pub provider: String,
    /// `healthy`, `degraded`, `unavailable` or `unknown`; `null` if never published.
    pub status: Option<String>,
    /// Composite health score, 0..1.
    pub health_score: Option<f64>,
    /// Share of the window the provider was reachable.
    pub availability: Option<f64>,
    /// Error rate over the window.
    pub error_rate: Option<f64>,
    /// p95 latency over the window, in seconds.
    pub latency_p95_seconds: Option<f64>,
    /// Mean response time since start, in milliseconds.
    pub avg_response_time_ms: Option<f64>,
    /// `closed`, `open` or `half_open`; `null` if never published.
    pub circuit_state: Option<String>,
    /// Kinds of the anomalies active now.
    pub active_anomalies: Vec<String>,
    /// Failovers away from this provider since start.
    pub failovers_total: u64,
    /// Requests a routing policy sent to this provider first, since start.
    pub routing_decisions_total: u64,
    /// Inference calls since start.
    pub requests_total: u64,
    /// Of which failed (`requests_total` counts them too).
    pub failed_requests_total: u64,
    /// Upstream cost of this provider's calls since start, in US dollars.
    pub cost_usd_total: f64,
}

/// Inference traffic.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ModelsSummary {
    /// Inference calls since start.
    pub total_inference_requests: u64,
    /// Failed inference calls since start.
    pub failed_inference_requests: u64,
    /// Failed over all inference calls.
    pub error_rate: Option<f64>,
    /// Input plus output tokens.
    pub tokens_used_total: u64,
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// Credits charged.
    pub credits_used_total: f64,
    /// Mean inference duration, in milliseconds.
    pub avg_inference_latency_ms: Option<f64>,
    /// Mean time to first token of streamed calls, in milliseconds.
    pub avg_time_to_first_token_ms: Option<f64>,
    /// Distinct models with inference calls.
    pub models: usize,
    /// Traffic, tokens and cost per model, across providers, sorted by name.
    pub by_model: Vec<ModelSummary>,
}

/// One model's traffic since start, across providers.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ModelSummary {
    /// Model id, as routed.
    pub model: String,
    /// Inference calls.
    pub requests_total: u64,
    /// Of which failed.
    pub failed_requests_total: u64,
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// Upstream cost, in US dollars.
    pub cost_usd_total: f64,
}

/// Money and customers.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct BusinessSummary {
    /// Active API keys, as last collected.
    pub active_api_keys: Option<u64>,
    /// Active paid subscriptions, as last collected.
    pub active_subscriptions: Option<u64>,
    /// Active trials, as last collected.
    pub active_trials: Option<u64>,
    /// Tokens processed since start.
    pub total_tokens_used: u64,
    /// Credits charged since start.
    pub total_credits_used: f64,
    /// Upstream cost since start, in US dollars.
    pub total_cost_usd: f64,
    /// Trials started, over the key store's whole history (the customer-event counters are
    /// its totals); `null` until collected.
    pub trials_started: Option<u64>,
    /// Trials converted to the paid plan.
    pub trials_converted: Option<u64>,
    /// Trials that ended: converted, lapsed at their expiry, or revoked while active.
    pub trials_ended: Option<u64>,
    /// Converted over ended trials; `null` until a trial has ended.
    pub trial_conversion_rate: Option<f64>,
    /// Paid subscriptions started: keys created on the paid plan, and converted trials.
    pub subscriptions_started: Option<u64>,
    /// Paid subscriptions ended: cancelled (revoked while active) or lapsed.
    pub subscriptions_ended: Option<u64>,
    /// Ended over started paid subscriptions, over the whole history (the Business dashboard
    /// gives churn per time range); `null` until one has started.
    pub subscription_churn_rate: Option<f64>,
    /// Paid subscriptions started minus ended.
    pub net_subscription_growth: Option<i64>,
    /// Paid subscriptions once the active trials have ended, if they convert at
    /// `trial_conversion_rate`: active subscriptions + active trials × that rate.
    pub projected_subscriptions: Option<f64>,
    /// Credits added by top-ups.
    pub credits_topped_up: Option<f64>,
    /// Times a key ran out of credits (its first 402 since creation or its last top-up).
    pub credits_exhausted: Option<u64>,
}

/// Gateway latency, database and cache.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct PerformanceSummary {
    /// Mean HTTP request duration, in milliseconds.
    pub avg_http_latency_ms: Option<f64>,
    /// Mean gateway overhead per proxied request, in milliseconds.
    pub avg_gateway_overhead_ms: Option<f64>,
    /// Database queries since start.
    pub total_db_queries: u64,
    /// Failed database queries since start.
    pub failed_db_queries: u64,
    /// Mean database query duration, in milliseconds.
    pub avg_db_query_latency_ms: Option<f64>,
    /// Cache hits since start.
    pub cache_hits: u64,
    /// Cache misses since start.
    pub cache_misses: u64,
    /// Hits over lookups.
    pub cache_hit_rate: Option<f64>,
}

/// Request totals and self-monitoring.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct SystemSummary {
    /// HTTP requests served since start.
    pub total_requests: u64,
    /// Of which answered with a 5xx status.
    pub server_errors: u64,
    /// 5xx responses over all responses.
    pub error_rate: Option<f64>,
    /// Requests being served now.
    pub in_progress: Option<u64>,
    /// Seconds since the recorder was built.
    pub uptime_seconds: f64,
    /// Recordings whose label value was folded into `other`.
    pub label_values_folded: u64,
    /// Recordings dropped for contradicting the catalogue.
    pub metric_conflicts: u64,
}

pub(crate) fn compute(store: &Store, start_time: f64, category: Option<Category>) -> Summary {
    let wanted = |c: Category| category.is_none_or(|only| only == c);
    let now = SystemTime::now();
    let metrics = Sections {
        providers: wanted(Category::Providers).then(|| providers(store)),
        models: wanted(Category::Models).then(|| models(store)),
        business: wanted(Category::Business).then(|| business(store)),
        performance: wanted(Category::Performance).then(|| performance(store)),
        system: wanted(Category::System).then(|| {
            let now = now
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            system(store, (now - start_time).max(0.0))
        }),
    };
    Summary {
        timestamp: humantime::format_rfc3339_seconds(now).to_string(),
        metrics,
    }
}

/// Where a per-provider gauge lands in its [`ProviderSummary`].
type GaugeField = fn(&mut ProviderSummary) -> &mut Option<f64>;

fn providers(store: &Store) -> ProvidersSummary {
    let mut by_provider: BTreeMap<String, ProviderSummary> = BTreeMap::new();
    let map = &mut by_provider;
    for_each(store, &PROVIDER_STATUS, |s| {
        let p = entry(map, s)?;
        if gauge(s)? == 1.0 {
            p.status = s
                .label(HEALTH_STATUS.name)
                .and_then(HealthStatus::parse)
                .map(|status| status.as_str().to_owned());
        }
        Some(())
    });
    let gauges: [(&MetricDef, GaugeField); 4] = [
        (&PROVIDER_HEALTH_SCORE, |p| &mut p.health_score),
        (&PROVIDER_AVAILABILITY_RATIO, |p| &mut p.availability),
        (&PROVIDER_ERROR_RATE, |p| &mut p.error_rate),
        (&PROVIDER_LATENCY_P95, |p| &mut p.latency_p95_seconds),
    ];
    for (def, field) in gauges {
        for_each(store, def, |s| {
            *field(entry(map, s)?) = gauge(s);
            Some(())
        });
    }
    for_each(store, &PROVIDER_RESPONSE_TIME, |s| {
        let (count, sum) = totals(s)?;
        entry(map, s)?.avg_response_time_ms = mean_ms(sum, count);
        Some(())
    });
    for_each(store, &CIRCUIT_BREAKER_STATE, |s| {
        let p = entry(map, s)?;
        if gauge(s)? == 1.0 {
            p.circuit_state = s
                .label(CIRCUIT_STATE.name)
                .and_then(CircuitState::parse)
                .map(|state| state.as_str().to_owned());
        }
        Some(())
    });
    for_each(store, &ANOMALIES_ACTIVE, |s| {
        let p = entry(map, s)?;
        if gauge(s)? == 1.0 {
            p.active_anomalies.extend(
                s.label(ANOMALY_KIND.name)
                    .and_then(AnomalyKind::parse)
                    .map(|kind| kind.as_str().to_owned()),
            );
        }
        Some(())
    });
    for_each(store, &FAILOVERS, |s| {
        entry(map, s)?.failovers_total += raw_counter(s)?;
        Some(())
    });
    let mut decisions_by_policy: BTreeMap<String, u64> = BTreeMap::new();
    for_each(store, &ROUTING_DECISIONS, |s| {
        let n = raw_counter(s)?;
        entry(map, s)?.routing_decisions_total += n;
        let policy = RoutingPolicy::parse(s.label(ROUTING_POLICY.name)?)?;
        if n > 0 {
            *decisions_by_policy
                .entry(policy.as_str().to_owned())
                .or_default() += n;
        }
        Some(())
    });
    for_each(store, &MODEL_INFERENCE_REQUESTS, |s| {
        let n = raw_counter(s)?;
        let p = entry(map, s)?;
        p.requests_total += n;
        if failed(s) {
            p.failed_requests_total += n;
        }
        Some(())
    });
    // Summed raw, then scaled once, as `sum_counter` does: the providers' costs then add up
    // to the business section's total.
    let mut cost: BTreeMap<String, u64> = BTreeMap::new();
    for_each(store, &COST_USD, |s| {
        add_raw(&mut cost, s.label(PROVIDER.name)?, raw_counter(s)?);
        Some(())
    });
    for (provider, raw) in cost {
        entry_named(map, &provider).cost_usd_total = COST_USD.scale.to_value(raw);
    }

    let by_provider: Vec<ProviderSummary> = by_provider.into_values().collect();
    let count_status = |status: HealthStatus| {
        by_provider
            .iter()
            .filter(|p| p.status.as_deref() == Some(status.as_str()))
            .count()
    };
    let (healthy, degraded, unavailable) = (
        count_status(HealthStatus::Healthy),
        count_status(HealthStatus::Degraded),
        count_status(HealthStatus::Unavailable),
    );
    let (mut response_count, mut response_sum) = (0, 0.0);
    for_each(store, &PROVIDER_RESPONSE_TIME, |s| {
        let (count, sum) = totals(s)?;
        response_count += count;
        response_sum += sum;
        Some(())
    });
    ProvidersSummary {
        total_providers: by_provider.len(),
        healthy_providers: healthy,
        degraded_providers: degraded,
        unavailable_providers: unavailable,
        unknown_providers: by_provider.len() - healthy - degraded - unavailable,
        avg_error_rate: mean(by_provider.iter().filter_map(|p| p.error_rate)),
        avg_response_time_ms: mean_ms(response_sum, response_count),
        avg_health_score: mean(by_provider.iter().filter_map(|p| p.health_score)),
        open_circuits: by_provider
            .iter()
            .filter(|p| p.circuit_state.as_deref() == Some(CircuitState::Open.as_str()))
            .count(),
        failovers_total: by_provider.iter().map(|p| p.failovers_total).sum(),
        active_anomalies: by_provider.iter().map(|p| p.active_anomalies.len()).sum(),
        routing: routing(store, decisions_by_policy),
        by_provider,
    }
}

/// The routing figures: decisions by policy (counted by the caller) and the money.
fn routing(store: &Store, decisions_by_policy: BTreeMap<String, u64>) -> RoutingSummary {
    // The pairs with a reference, by provider then model, and the raw sum (scaled once).
    let mut pairs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut reference_raw = 0u64;
    for_each(store, &ROUTING_REFERENCE_COST, |s| {
        reference_raw = reference_raw.saturating_add(raw_counter(s)?);
        let (provider, model) = (s.label(PROVIDER.name)?, s.label(MODEL.name)?);
        if !pairs.get(provider).is_some_and(|m| m.contains(model)) {
            pairs
                .entry(provider.to_owned())
                .or_default()
                .insert(model.to_owned());
        }
        Some(())
    });
    let mut routed_raw = 0u64;
    if !pairs.is_empty() {
        for_each(store, &COST_USD, |s| {
            let (provider, model) = (s.label(PROVIDER.name)?, s.label(MODEL.name)?);
            if pairs.get(provider).is_some_and(|m| m.contains(model)) {
                routed_raw = routed_raw.saturating_add(raw_counter(s)?);
            }
            Some(())
        });
    }
    let known = reference_raw > 0;
    let reference_usd = ROUTING_REFERENCE_COST.scale.to_value(reference_raw);
    let routed_usd = COST_USD.scale.to_value(routed_raw);
    let saved = reference_usd - routed_usd;
    RoutingSummary {
        decisions_total: decisions_by_policy.values().sum(),
        decisions_by_policy,
        reference_cost_usd: known.then_some(reference_usd),
        routed_cost_usd: known.then_some(routed_usd),
        saved_usd: known.then_some(saved),
        saved_ratio: ratio(saved, reference_usd),
    }
}

/// The summary entry of the series' provider, created on first sight.
fn entry<'a>(
    map: &'a mut BTreeMap<String, ProviderSummary>,
    series: &Series,
) -> Option<&'a mut ProviderSummary> {
    Some(entry_named(map, series.label(PROVIDER.name)?))
}

/// The summary entry of `provider`, created on first sight.
fn entry_named<'a>(
    map: &'a mut BTreeMap<String, ProviderSummary>,
    provider: &str,
) -> &'a mut ProviderSummary {
    // Most series belong to a provider already seen: look up by `&str` before allocating.
    if !map.contains_key(provider) {
        let summary = ProviderSummary {
            provider: provider.to_owned(),
            ..ProviderSummary::default()
        };
        map.insert(provider.to_owned(), summary);
    }
    map.get_mut(provider).expect("inserted above")
}

/// Adds `n` to `key`'s raw total, allocating the key only on first sight.
fn add_raw(totals: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match totals.get_mut(key) {
        Some(total) => *total = total.saturating_add(n),
        None => {
            totals.insert(key.to_owned(), n);
        }
    }
}

fn models(store: &Store) -> ModelsSummary {
    let mut summary = ModelsSummary::default();
    let mut by_model: BTreeMap<String, ModelSummary> = BTreeMap::new();
    for_each(store, &MODEL_INFERENCE_REQUESTS, |s| {
        let n = raw_counter(s)?;
        let failed = failed(s);
        summary.total_inference_requests += n;
        if failed {
            summary.failed_inference_requests += n;
        }
        let model = model_entry(&mut by_model, s.label(MODEL.name)?);
        model.requests_total += n;
        if failed {
            model.failed_requests_total += n;
        }
        Some(())
    });
    summary.models = by_model.values().filter(|m| m.requests_total > 0).count();
    summary.error_rate = ratio(
        summary.failed_inference_requests as f64,
        summary.total_inference_requests as f64,
    );
    for_each(store, &TOKENS_USED, |s| {
        let n = raw_counter(s)?;
        let token_type = TokenType::parse(s.label(TOKEN_TYPE.name)?)?;
        let model = s.label(MODEL.name).map(|m| model_entry(&mut by_model, m));
        let (total, per_model) = match token_type {
            TokenType::Input => (
                &mut summary.input_tokens,
                model.map(|m| &mut m.input_tokens),
            ),
            TokenType::Output => (
                &mut summary.output_tokens,
                model.map(|m| &mut m.output_tokens),
            ),
        };
        *total += n;
        if let Some(per_model) = per_model {
            *per_model += n;
        }
        Some(())
    });
    let mut cost: BTreeMap<String, u64> = BTreeMap::new();
    for_each(store, &COST_USD, |s| {
        add_raw(&mut cost, s.label(MODEL.name)?, raw_counter(s)?);
        Some(())
    });
    for (model, raw) in cost {
        model_entry(&mut by_model, &model).cost_usd_total = COST_USD.scale.to_value(raw);
    }
    summary.tokens_used_total = summary.input_tokens + summary.output_tokens;
    summary.credits_used_total = sum_counter(store, &CREDITS_USED);
    summary.avg_inference_latency_ms = histogram_mean_ms(store, &MODEL_INFERENCE_DURATION);
    summary.avg_time_to_first_token_ms = histogram_mean_ms(store, &TIME_TO_FIRST_TOKEN);
    summary.by_model = by_model.into_values().collect();
    summary
}

/// The summary entry of `model`, created on first sight.
fn model_entry<'a>(
    map: &'a mut BTreeMap<String, ModelSummary>,
    model: &str,
) -> &'a mut ModelSummary {
    if !map.contains_key(model) {
        let summary = ModelSummary {
            model: model.to_owned(),
            ..ModelSummary::default()
        };
        map.insert(model.to_owned(), summary);
    }
    map.get_mut(model).expect("inserted above")
}

fn business(store: &Store) -> BusinessSummary {
    let mut summary = BusinessSummary {
        active_api_keys: count_gauge(store, &ACTIVE_API_KEYS),
        active_subscriptions: count_gauge(store, &ACTIVE_SUBSCRIPTIONS),
        active_trials: count_gauge(store, &TRIALS_ACTIVE),
        total_tokens_used: sum_counter(store, &TOKENS_USED) as u64,
        total_credits_used: sum_counter(store, &CREDITS_USED),
        total_cost_usd: sum_counter(store, &COST_USD),
        ..BusinessSummary::default()
    };
    // (event, plan) -> total; absent until the service collected its customer events.
    let mut events: BTreeMap<(CustomerEvent, Plan), u64> = BTreeMap::new();
    let mut collected = false;
    for_each(store, &CUSTOMER_EVENTS, |s| {
        collected = true;
        let event = CustomerEvent::parse(s.label(CUSTOMER_EVENT.name)?)?;
        let plan = Plan::parse(s.label(PLAN.name)?)?;
        *events.entry((event, plan)).or_default() += raw_counter(s)?;
        Some(())
    });
    if !collected {
        return summary;
    }
    let n = |event: CustomerEvent, plan: Plan| events.get(&(event, plan)).copied().unwrap_or(0);
    let converted = n(CustomerEvent::TrialConverted, Plan::Trial);
    let trials_ended = converted
        + n(CustomerEvent::Lapsed, Plan::Trial)
        + n(CustomerEvent::Cancelled, Plan::Trial);
    let started = n(CustomerEvent::KeyCreated, Plan::Paid) + converted;
    let ended = n(CustomerEvent::Cancelled, Plan::Paid) + n(CustomerEvent::Lapsed, Plan::Paid);
    let conversion = ratio(converted as f64, trials_ended as f64);
    summary.trials_started = Some(n(CustomerEvent::TrialStarted, Plan::Trial));
    summary.trials_converted = Some(converted);
    summary.trials_ended = Some(trials_ended);
    summary.trial_conversion_rate = conversion;
    summary.subscriptions_started = Some(started);
    summary.subscriptions_ended = Some(ended);
    summary.subscription_churn_rate = ratio(ended as f64, started as f64);
    summary.net_subscription_growth = Some(started as i64 - ended as i64);
    summary.projected_subscriptions = match (
        summary.active_subscriptions,
        summary.active_trials,
        conversion,
    ) {
        (Some(paid), Some(trials), Some(rate)) => Some(paid as f64 + trials as f64 * rate),
        _ => None,
    };
    summary.credits_topped_up = Some(sum_counter(store, &CREDITS_TOPPED_UP));
    summary.credits_exhausted = Some(
        Plan::ALL
            .iter()
            .map(|plan| n(CustomerEvent::CreditsExhausted, *plan))
            .sum(),
    );
    summary
}

fn performance(store: &Store) -> PerformanceSummary {
    let (db_count, db_sum) = histogram_totals(store, &DATABASE_QUERY_DURATION);
    let hits = sum_counter(store, &CACHE_HITS) as u64;
    let misses = sum_counter(store, &CACHE_MISSES) as u64;
    PerformanceSummary {
        avg_http_latency_ms: histogram_mean_ms(store, &HTTP_REQUEST_DURATION),
        avg_gateway_overhead_ms: histogram_mean_ms(store, &GATEWAY_OVERHEAD),
        total_db_queries: db_count,
        failed_db_queries: sum_counter(store, &DATABASE_QUERY_ERRORS) as u64,
        avg_db_query_latency_ms: mean_ms(db_sum, db_count),
        cache_hits: hits,
        cache_misses: misses,
        cache_hit_rate: ratio(hits as f64, (hits + misses) as f64),
    }
}

fn system(store: &Store, uptime_seconds: f64) -> SystemSummary {
    let (mut total, mut server_errors) = (0, 0);
    for_each(store, &HTTP_REQUESTS, |s| {
        let n = raw_counter(s)?;
        total += n;
        if s.label(STATUS_CLASS.name).and_then(StatusClass::parse) == Some(StatusClass::ServerError)
        {
            server_errors += n;
        }
        Some(())
    });
    SystemSummary {
        total_requests: total,
        server_errors,
        error_rate: ratio(server_errors as f64, total as f64),
        in_progress: count_gauge(store, &HTTP_REQUESTS_IN_FLIGHT),
        uptime_seconds,
        label_values_folded: sum_counter(store, &LABEL_OVERFLOW) as u64,
        metric_conflicts: sum_counter(store, &METRIC_CONFLICTS) as u64,
    }
}

/// Whether an inference series counts failed calls.
fn failed(series: &Series) -> bool {
    series
        .label(INFERENCE_STATUS.name)
        .and_then(InferenceStatus::parse)
        == Some(InferenceStatus::Error)
}

/// Visits every series of a catalogued family; `f` returns `None` to skip one.
fn for_each(store: &Store, def: &MetricDef, mut f: impl FnMut(&Series) -> Option<()>) {
    if let Some(family) = store.family(def) {
        family.for_each(|series| {
            let _ = f(series);
        });
    }
}

/// A gauge's value; `None` when it is not a finite number (a health score published as NaN
/// while unknown): a NaN must never reach a mean or the API.
fn gauge(series: &Series) -> Option<f64> {
    match series.value() {
        Value::Gauge(g) => Some(f64::from_bits(g.load(Relaxed))).filter(|v| v.is_finite()),
        _ => None,
    }
}

fn raw_counter(series: &Series) -> Option<u64> {
    match series.value() {
        Value::Counter(c) => Some(c.load(Relaxed)),
        _ => None,
    }
}

fn totals(series: &Series) -> Option<(u64, f64)> {
    match series.value() {
        Value::Histogram(h) => {
            let totals = h.totals();
            Some((totals.count, totals.sum))
        }
        _ => None,
    }
}

/// Sum of a counter family in its base unit.
fn sum_counter(store: &Store, def: &MetricDef) -> f64 {
    let mut raw = 0u64;
    for_each(store, def, |s| {
        raw = raw.saturating_add(raw_counter(s)?);
        Some(())
    });
    def.scale.to_value(raw)
}

/// The value of an unlabelled gauge holding a count; `None` until it is set.
fn count_gauge(store: &Store, def: &MetricDef) -> Option<u64> {
    let mut value = None;
    for_each(store, def, |s| {
        value = gauge(s)
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v.round() as u64);
        Some(())
    });
    value
}

fn histogram_totals(store: &Store, def: &MetricDef) -> (u64, f64) {
    let (mut count, mut sum) = (0, 0.0);
    for_each(store, def, |s| {
        let (c, s) = totals(s)?;
        count += c;
        sum += s;
        Some(())
    });
    (count, sum)
}

fn histogram_mean_ms(store: &Store, def: &MetricDef) -> Option<f64> {
    let (count, sum) = histogram_totals(store, def);
    mean_ms(sum, count)
}

fn mean_ms(sum_seconds: f64, count: u64) -> Option<f64> {
    ratio(sum_seconds * 1000.0, count as f64)
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// The mean of the finite values; `None` when there is none.
fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(sum, n), v| (sum + v, n + 1));
    ratio(sum, n as f64)
}
