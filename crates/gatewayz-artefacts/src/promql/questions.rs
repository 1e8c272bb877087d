//! The PromQL library: the questions operators ask, and the query that answers each.
//!
//! Written for the Prometheus UI (fixed windows, no Grafana variables); `docs/promql.md` is
//! generated from it and a test parses every query and checks its metrics and labels.

use gatewayz_catalogue::{
    ACTIVE_API_KEYS, ACTIVE_SUBSCRIPTIONS, ANOMALIES_ACTIVE, BUILD_INFO, CACHE_HITS, CACHE_MISSES,
    CIRCUIT_BREAKER_STATE, COST_USD, CREDITS_USED, DATABASE_QUERY_DURATION, FAILOVERS,
    GATEWAY_OVERHEAD, HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_REQUESTS_IN_FLIGHT,
    LABEL_OVERFLOW, METRIC_CONFLICTS, MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS,
    PROVIDER_ERRORS, PROVIDER_HEALTH_SCORE, PROVIDER_RESPONSE_TIME, PROVIDER_STATUS,
    TIME_TO_FIRST_TOKEN, TOKEN_EFFICIENCY, TOKENS_USED, TRIALS_ACTIVE,
};

use crate::customers::Customers;
use crate::expr::{Scope, and, ratio, weighted};
use crate::{Deployment, rules::recording};

/// A question and the PromQL that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The section of `docs/promql.md` it belongs to.
    pub section: &'static str,
    /// The question, as an operator asks it.
    pub question: &'static str,
    /// The answer: PromQL for the Prometheus UI (no Grafana variables).
    pub promql: String,
    /// How to read the result, and why the query is written this way.
    pub notes: &'static str,
}

fn q(section: &'static str, question: &'static str, promql: String, notes: &'static str) -> Query {
    Query {
        section,
        question,
        promql,
        notes,
    }
}

/// Every query of the library, by section, selecting `deployment`'s series.
pub fn library(deployment: &Deployment) -> Vec<Query> {
    let s = &Scope::library(&deployment.selector);
    let providers = "Providers";
    let models = "Models";
    let cost = "Cost";
    let business = "Business";
    let performance = "Gateway performance";
    let fleet = "Fleet and self-monitoring";
    let recorded = "At scale: the recording rules";
    let attempts = s.sel(&MODEL_INFERENCE_REQUESTS, "");
    let customers = Customers::over(s, "30d");
    vec![
        q(
            providers,
            "Which providers are unhealthy right now, worst first?",
            format!(
                "sort({})",
                weighted(
                    s,
                    &s.sel(&PROVIDER_HEALTH_SCORE, ""),
                    &crate::expr::attempts(s, "", "5m")
                )
            ),
            "The composite health score (0..1) across replicas, each replica's score weighted \
             by the attempts it made (calls and circuit refusals): sum, then divide, so a \
             replica that judged on a handful of calls weighs a handful of calls. A replica \
             with too few calls to judge has no score (the recorder leaves the unknown out); a \
             provider missing from the result is unknown, not healthy.",
        ),
        q(
            providers,
            "Which status does each replica give each provider?",
            format!("{} == 1", s.sel(&PROVIDER_STATUS, "")),
            "The status gauge is one-hot: one series per status, the current one is 1. `== 1` \
             keeps the current status; the `instance` label says which replica.",
        ),
        q(
            providers,
            "What share of inference attempts fail, per provider?",
            ratio(
                &s.sum_rate(
                    &MODEL_INFERENCE_REQUESTS,
                    "provider",
                    r#"status="error""#,
                    "5m",
                ),
                &s.sum_rate(&MODEL_INFERENCE_REQUESTS, "provider", "", "5m"),
            ),
            "Sum the rates across replicas first, then divide. `> 0` on the denominator makes \
             an idle provider return nothing instead of NaN. Every upstream attempt counts, \
             including those that failover then rescued.",
        ),
        q(
            providers,
            "Why are calls to a provider failing?",
            s.sum_rate(&PROVIDER_ERRORS, "provider, reason", "", "5m"),
            "Failures per second by class: timeout and connection (network or overload), \
             server_error (5xx), rate_limited (429), unauthorized and payment_required (our \
             account), not_found and bad_request (the request), circuit_open (not sent).",
        ),
        q(
            providers,
            "What is each provider's p95 latency, across all replicas?",
            s.quantile(0.95, &PROVIDER_RESPONSE_TIME, "provider", "", "5m"),
            "Sum the bucket rates by `le` (and the labels you keep) before histogram_quantile: \
             quantiles of separate replicas cannot be averaged. Buckets reach 600 s.",
        ),
        q(
            providers,
            "Which circuits are open, and on how many replicas?",
            format!(
                "count by (provider) ({} == 1)",
                s.sel(&CIRCUIT_BREAKER_STATE, r#"state="open""#)
            ),
            "The circuit state is one-hot too. Each replica has its own breaker, so a provider \
             can be open on one replica and closed on another.",
        ),
        q(
            providers,
            "How often do requests fail over, from which provider, and why?",
            s.sum_rate(&FAILOVERS, "provider, reason", "", "5m"),
            "Requests moved on from `provider` to the next candidate, per second, by the reason \
             the provider failed.",
        ),
        q(
            providers,
            "Which anomalies are active?",
            format!(
                "{} == 1",
                s.agg("max", "provider, kind", &s.sel(&ANOMALIES_ACTIVE, ""))
            ),
            "latency_spike, error_surge or traffic_drop against the provider's own baseline, on \
             any replica.",
        ),
        q(
            models,
            "How many requests per second does each model get?",
            s.sum_rate(&MODEL_INFERENCE_REQUESTS, "model", "", "5m"),
            "Upstream attempts, successful or not, across providers and replicas.",
        ),
        q(
            models,
            "What share of attempts fail, per model?",
            ratio(
                &s.sum_rate(
                    &MODEL_INFERENCE_REQUESTS,
                    "model",
                    r#"status="error""#,
                    "5m",
                ),
                &s.sum_rate(&MODEL_INFERENCE_REQUESTS, "model", "", "5m"),
            ),
            "As per provider, grouped by model instead.",
        ),
        q(
            models,
            "What is each model's p95 inference latency?",
            s.quantile(0.95, &MODEL_INFERENCE_DURATION, "model", "", "5m"),
            "From sending the request to the last token.",
        ),
        q(
            models,
            "What is each model's p95 time to first token?",
            s.quantile(0.95, &TIME_TO_FIRST_TOKEN, "model", "", "5m"),
            "Streamed completions only: the responsiveness a chat user feels.",
        ),
        q(
            models,
            "How many output tokens does each model produce per input token?",
            ratio(
                &s.sum_rate(&TOKENS_USED, "model", r#"token_type="output""#, "5m"),
                &s.sum_rate(&TOKENS_USED, "model", r#"token_type="input""#, "5m"),
            ),
            "Over a window, from the token counters. The gauge `gatewayz_token_efficiency` \
             holds the same ratio for the most recent call only. There is no `total` token \
             type: sum input and output when you need both.",
        ),
        q(
            models,
            "Is any model requested without a single success?",
            format!(
                "{} > 0\nunless {} > 0",
                s.sum_increase(&MODEL_INFERENCE_REQUESTS, "model", "", "10m"),
                s.sum_increase(
                    &MODEL_INFERENCE_REQUESTS,
                    "model",
                    r#"status="success""#,
                    "10m"
                ),
            ),
            "Models with attempts but no success in 10 minutes: `unless` keeps the left side \
             where the right side has no match, so a model whose success series is missing is \
             found too.",
        ),
        q(
            models,
            "Which provider serves each model, and how much?",
            s.sum_rate(
                &MODEL_INFERENCE_REQUESTS,
                "model, provider",
                r#"status="success""#,
                "5m",
            ),
            "Successful calls per second for each (model, provider) pair.",
        ),
        q(
            cost,
            "How much did each provider cost in the last hour, in dollars?",
            s.sum_increase(&COST_USD, "provider", "", "1h"),
            "The cost counter is in dollars (a float counter), so `increase` over 1h is dollars \
             per hour. The per-second `rate` × 60 would be dollars per minute, a 60× different \
             number: always say the unit.",
        ),
        q(
            cost,
            "What is the current spend rate, in dollars per hour?",
            format!("{} * 3600", s.sum_rate(&COST_USD, "", "", "5m")),
            "The rate over 5 minutes (dollars per second) × 3600: reacts faster than the \
             trailing-hour increase.",
        ),
        q(
            cost,
            "Which models cost the most this week?",
            format!("topk(10, {})", s.sum_increase(&COST_USD, "model", "", "7d")),
            "Needs a week of retention (or a long-term store).",
        ),
        q(
            cost,
            "What does a thousand tokens cost, per provider?",
            format!(
                "1000 * {}",
                ratio(
                    &s.sum_rate(&COST_USD, "provider", "", "1h"),
                    &s.sum_rate(&TOKENS_USED, "provider", "", "1h"),
                )
            ),
            "Input and output tokens together; compare providers serving the same models.",
        ),
        q(
            cost,
            "What does a successful request cost, per model?",
            ratio(
                &s.sum_rate(&COST_USD, "model", "", "1h"),
                &s.sum_rate(
                    &MODEL_INFERENCE_REQUESTS,
                    "model",
                    r#"status="success""#,
                    "1h",
                ),
            ),
            "Dollars per successful call; failed attempts usually cost nothing.",
        ),
        q(
            cost,
            "What will the next 30 days cost at the current trend?",
            format!(
                "30 * 86400 * clamp_min(\n  predict_linear({}[7d:1h], 15 * 86400),\n  0\n)",
                s.sum_rate(&COST_USD, "", "", "1h")
            ),
            "The spend rate (dollars per second, hourly averages) extrapolated linearly from the \
             last week to the middle of the next 30 days, times 30 days: the mean of a linear \
             trend over the period. The Cost Analysis dashboard does the same to the end of \
             the month.",
        ),
        q(
            business,
            "How many API keys are active?",
            s.agg("max", "", &s.sel(&ACTIVE_API_KEYS, "")),
            "Every replica reads the same number from the database: take the maximum across \
             replicas, never the sum (which counts it once per replica).",
        ),
        q(
            business,
            "How many paid subscriptions and trials are active?",
            format!(
                "label_replace(max({}), \"kind\", \"subscriptions\", \"\", \"\")\n\
                 or label_replace(max({}), \"kind\", \"trials\", \"\", \"\")",
                s.sel(&ACTIVE_SUBSCRIPTIONS, ""),
                s.sel(&TRIALS_ACTIVE, "")
            ),
            "Two label-less results joined with `or` would keep only the first; label_replace \
             gives each a `kind` label so both survive.",
        ),
        q(
            business,
            "How many tokens were used in the last 24 hours, by direction?",
            s.sum_increase(&TOKENS_USED, "token_type", "", "1d"),
            "Input (prompt) and output (completion) separately.",
        ),
        q(
            business,
            "How many credits are charged per dollar paid to providers?",
            ratio(
                &s.sum_rate(&CREDITS_USED, "provider", "", "1h"),
                &s.sum_rate(&COST_USD, "provider", "", "1h"),
            ),
            "The gross margin signal, per provider.",
        ),
        q(
            business,
            "What share of the trials that ended in the last 30 days converted?",
            customers.conversion.clone(),
            "Trials converted over trials ended (converted, lapsed at their expiry, or revoked \
             while active). Customer events are totals of the database every replica reads: \
             each replica's series are summed, then the maximum is taken across replicas.",
        ),
        q(
            business,
            "What was the churn of paid subscriptions over the last 30 days?",
            customers.churn.clone(),
            "Paid subscriptions cancelled or lapsed, over those active 30 days ago (active now \
             minus the net growth since). `gatewayz-reports` gives it per calendar month.",
        ),
        q(
            business,
            "How many paid subscriptions will there be once today's trials end?",
            customers.projection.clone(),
            "Active paid subscriptions plus active trials times the conversion rate of the last \
             30 days.",
        ),
        q(
            performance,
            "What is the p95 HTTP latency per route?",
            s.quantile(0.95, &HTTP_REQUEST_DURATION, "route", "", "5m"),
            "`route` is the route template (`/v1/chat/completions`), never the raw path. \
             Streamed completions last as long as the generation.",
        ),
        q(
            performance,
            "What share of HTTP responses are server errors?",
            ratio(
                &s.sum_rate(&HTTP_REQUESTS, "", r#"status_class="5xx""#, "5m"),
                &s.sum_rate(&HTTP_REQUESTS, "", "", "5m"),
            ),
            "Group by `route` to find the endpoint.",
        ),
        q(
            performance,
            "How much time does the gateway itself add (p99)?",
            s.quantile(0.99, &GATEWAY_OVERHEAD, "", "", "5m"),
            "Time outside provider calls: authentication, routing, accounting.",
        ),
        q(
            performance,
            "Which database operations are slow?",
            s.quantile(0.95, &DATABASE_QUERY_DURATION, "operation", "", "5m"),
            "p95 per operation.",
        ),
        q(
            performance,
            "What is the hit ratio of each cache?",
            ratio(
                &s.sum_rate(&CACHE_HITS, "cache", "", "5m"),
                &format!(
                    "({} + {})",
                    s.sum_rate(&CACHE_HITS, "cache", "", "5m"),
                    s.sum_rate(&CACHE_MISSES, "cache", "", "5m")
                ),
            ),
            "Hits over lookups; nothing for a cache without lookups.",
        ),
        q(
            fleet,
            "Which replicas are up?",
            s.series("up", "", ""),
            "1 per replica scraped successfully, 0 per replica whose last scrape failed.",
        ),
        q(
            fleet,
            "Which versions are running, on how many replicas?",
            s.agg("count", "version", &s.sel(&BUILD_INFO, "")),
            "Every replica exposes gatewayz_build_info, traffic or not.",
        ),
        q(
            fleet,
            "How many samples does each replica expose?",
            s.series("scrape_samples_scraped", "", ""),
            "The size of each scrape: watch it grow with providers × models.",
        ),
        q(
            fleet,
            "How many requests is each replica serving right now?",
            s.agg("sum", "instance", &s.sel(&HTTP_REQUESTS_IN_FLIGHT, "")),
            "Streamed completions count for their whole duration.",
        ),
        q(
            fleet,
            "Are label values being folded into `other` by a cardinality cap?",
            format!(
                "{} > 0",
                s.sum_increase(&LABEL_OVERFLOW, "metric, label", "", "1h")
            ),
            "Recordings whose label value was outside a closed set or past the label's cap on \
             distinct values. Those series are merged into `other`.",
        ),
        q(
            fleet,
            "Were recordings dropped for contradicting the catalogue?",
            format!(
                "{} > 0",
                s.sum_increase(&METRIC_CONFLICTS, "metric", "", "1h")
            ),
            "A metric recorded with the wrong kind; a bug in the instrumented service.",
        ),
        q(
            recorded,
            "Error ratio per provider, precomputed",
            s.series(recording::PROVIDER_ERROR_RATIO, "", ""),
            "Evaluated every 15 s by the recording rules: cheap to query and to send to \
             long-term storage, with no sample at zero traffic.",
        ),
        q(
            recorded,
            "Spend in the last hour, whole fleet",
            s.agg("sum", "", &s.series(recording::PROVIDER_COST_HOUR, "", "")),
            "What the cost alert compares with its threshold, in dollars per hour.",
        ),
        q(
            recorded,
            "Providers degraded across the fleet",
            format!(
                "{} < {}",
                s.series(recording::PROVIDER_SCORE, "", ""),
                deployment.alerts.provider_health_degraded.score
            ),
            "The health score across the replicas that can judge, each weighted by the attempts \
             it made: what the degraded alert reads.",
        ),
        q(
            recorded,
            "Token throughput per model",
            s.agg("sum", "model", &s.series(recording::MODEL_TOKENS, "", "")),
            "Input and output together, per second.",
        ),
        q(
            recorded,
            "p95 inference latency per model, precomputed",
            s.series(recording::MODEL_P95, "", ""),
            "From buckets summed across providers and replicas; no sample without calls.",
        ),
        q(
            models,
            "Last token efficiency seen per provider and model",
            format!("{} > 0", s.sel(&TOKEN_EFFICIENCY, "")),
            "The gauge holds the most recent successful call's ratio, per replica.",
        ),
        q(
            models,
            "Which models did a provider answer in the last hour?",
            format!(
                "{} > 0",
                s.sum_increase(
                    &MODEL_INFERENCE_REQUESTS,
                    "provider, model",
                    &and(&[r#"provider="openrouter""#, r#"status="success""#]),
                    "1h"
                )
            ),
            "Successful calls per model in the last hour, for one provider (replace \
             `openrouter`); models it did not answer are absent.",
        ),
        q(
            models,
            "Where do attempts go, by outcome?",
            s.agg("sum", "status", &format!("increase({attempts}[1h])")),
            "Successful and failed attempts in the last hour, whole fleet.",
        ),
    ]
}
