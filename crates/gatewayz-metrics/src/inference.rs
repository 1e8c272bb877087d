//! Inference and provider-call recording: the hot path of a gateway.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use gatewayz_catalogue::{
    COST_USD, CREDITS_USED, ErrorKind, InferenceStatus, METRIC_CONFLICTS, MODEL_INFERENCE_DURATION,
    MODEL_INFERENCE_REQUESTS, MetricDef, PROVIDER_AVAILABILITY, PROVIDER_ERRORS,
    PROVIDER_RESPONSE_TIME, PerValue, REQUEST_COST, TIME_PER_OUTPUT_TOKEN, TIME_TO_FIRST_TOKEN,
    TOKEN_EFFICIENCY, TOKENS_PER_REQUEST, TOKENS_USED, TokenType,
};
use hashbrown::Equivalent;
use metrics::{Counter, Gauge, Histogram, Recorder};

use crate::{
    Outcome,
    handles::{Binding, counter, gauge, histogram},
    labels::seconds,
};

/// One finished inference call to one provider: everything [`Metrics::inference_finished`]
/// records, in one place so the metrics agree with each other.
///
/// One per upstream attempt: a request that failed over from one provider to another is two
/// inferences, one failed and one successful. A call refused by a circuit breaker is not an
/// attempt and never an inference. With `gatewayz-health`, give it to the attempt's permit
/// (`Permit::finish`), which records it here and in the provider's health at once.
///
/// [`Metrics::inference_finished`]: crate::Metrics::inference_finished
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Inference<'a> {
    /// Provider id, e.g. `openrouter`.
    pub provider: &'a str,
    /// Model id as routed, e.g. `gpt-4o-mini`.
    pub model: &'a str,
    /// Success, or why it failed.
    pub outcome: Outcome,
    /// From sending the request to the last byte of the response.
    pub duration: Duration,
    /// For streamed calls, from sending the request to the first token; `None` for a plain
    /// completion (its first token arrives with the whole answer, so a successful one is
    /// recorded in the time-to-first-token histogram with its `duration`) and for a stream
    /// that failed before its first token.
    pub time_to_first_token: Option<Duration>,
    /// Prompt tokens, as the provider reported them.
    pub input_tokens: u64,
    /// Completion tokens, as the provider reported them.
    pub output_tokens: u64,
    /// Upstream cost of the call in US dollars.
    pub cost_usd: f64,
    /// Credits charged to the caller's API key.
    pub credits: f64,
}

impl Inference<'_> {
    /// Seconds per output token after the first, for a successful stream with at least two
    /// output tokens: `(duration − time to first token) / (output tokens − 1)`. `None` for a
    /// plain completion (no token timing), a failed call, or a single token.
    pub fn time_per_output_token(&self) -> Option<Duration> {
        let ttft = self.time_to_first_token?;
        if self.outcome != Outcome::Success || self.output_tokens < 2 {
            return None;
        }
        let after_first = self.duration.checked_sub(ttft)?;
        let tokens = u32::try_from(self.output_tokens - 1).unwrap_or(u32::MAX);
        Some(after_first / tokens)
    }
}

/// A fractional counter (dollars, credits): counted in its scale's units when the recorder
/// shows them in the base unit, refused and counted as a conflict otherwise.
enum Money {
    Scaled(&'static MetricDef, Counter),
    Refused(Counter),
}

impl Money {
    fn new(r: &dyn Recorder, scaled: bool, def: &'static MetricDef, values: &[&str]) -> Money {
        if scaled {
            Money::Scaled(def, counter(r, def, values))
        } else {
            Money::Refused(counter(r, &METRIC_CONFLICTS, &[def.name]))
        }
    }

    /// Adds `amount`, in the base unit.
    fn add(&self, amount: f64) {
        match self {
            Money::Scaled(def, counter) => {
                let increment = def.scale.to_increment(amount);
                if increment > 0 {
                    counter.increment(increment);
                }
            }
            Money::Refused(conflicts) => {
                if amount > 0.0 {
                    conflicts.increment(1);
                }
            }
        }
    }
}

/// Handles for everything recorded per provider, whatever the model.
pub(crate) struct ProviderHandles {
    response_time: Histogram,
    /// Registered on first use: a gauge at 0 before anything is known would read "down".
    availability: OnceLock<Gauge>,
    binding: Binding,
    provider: Box<str>,
    errors: PerValue<ErrorKind, Counter>,
    tokens_per_request: PerValue<TokenType, Histogram>,
    request_cost: Histogram,
}

impl ProviderHandles {
    pub(crate) fn new(r: &dyn Recorder, binding: &Binding, provider: &str) -> Self {
        let p = [provider];
        ProviderHandles {
            response_time: histogram(r, &PROVIDER_RESPONSE_TIME, &p),
            availability: OnceLock::new(),
            binding: binding.clone(),
            provider: provider.into(),
            errors: PerValue::new(|kind: ErrorKind| {
                counter(r, &PROVIDER_ERRORS, &[provider, kind.as_str()])
            }),
            tokens_per_request: PerValue::new(|t: TokenType| {
                histogram(r, &TOKENS_PER_REQUEST, &[provider, t.as_str()])
            }),
            request_cost: histogram(r, &REQUEST_COST, &p),
        }
    }

    /// A call that reached (or failed to reach) the provider.
    pub(crate) fn call(&self, duration: Duration, result: Result<(), ErrorKind>) {
        if let Err(kind) = result {
            self.errors.get(kind).increment(1);
        }
        self.response_time.record(seconds(duration));
        // Available only if it answered, and not with an answer that counts against it.
        self.probe(result.map_or_else(|kind| !kind.counts_against_provider(), |()| true));
    }

    pub(crate) fn probe(&self, available: bool) {
        let availability = self.availability.get_or_init(|| {
            self.binding
                .with(|r| gauge(r, &PROVIDER_AVAILABILITY, &[&self.provider]))
        });
        availability.set(if available { 1.0 } else { 0.0 });
    }
}

/// Handles for one (provider, model) pair.
pub(crate) struct InferenceHandles {
    provider: Arc<ProviderHandles>,
    requests: PerValue<InferenceStatus, Counter>,
    duration: Histogram,
    time_to_first_token: Histogram,
    time_per_output_token: Histogram,
    tokens: PerValue<TokenType, Counter>,
    /// Registered on the first success: before that there is no ratio to show.
    efficiency: OnceLock<Gauge>,
    model: Box<str>,
    cost: Money,
    credits: Money,
}

impl InferenceHandles {
    pub(crate) fn new(
        r: &dyn Recorder,
        money: bool,
        provider_handles: Arc<ProviderHandles>,
        provider: &str,
        model: &str,
    ) -> Self {
        let pair = [provider, model];
        InferenceHandles {
            provider: provider_handles,
            requests: PerValue::new(|status: InferenceStatus| {
                counter(
                    r,
                    &MODEL_INFERENCE_REQUESTS,
                    &[provider, model, status.as_str()],
                )
            }),
            duration: histogram(r, &MODEL_INFERENCE_DURATION, &pair),
            time_to_first_token: histogram(r, &TIME_TO_FIRST_TOKEN, &pair),
            // Registered with the pair, like the other histograms: a series created by its
            // first observation would hide that observation from `rate`.
            time_per_output_token: histogram(r, &TIME_PER_OUTPUT_TOKEN, &pair),
            tokens: PerValue::new(|t: TokenType| {
                counter(r, &TOKENS_USED, &[provider, model, t.as_str()])
            }),
            efficiency: OnceLock::new(),
            model: model.into(),
            cost: Money::new(r, money, &COST_USD, &pair),
            credits: Money::new(r, money, &CREDITS_USED, &pair),
        }
    }

    pub(crate) fn record(&self, inference: &Inference<'_>) {
        let succeeded = inference.outcome == Outcome::Success;
        self.requests.get(inference.outcome.status()).increment(1);
        self.provider
            .call(inference.duration, inference.outcome.result());
        self.duration.record(seconds(inference.duration));
        match inference.time_to_first_token {
            Some(ttft) => {
                self.time_to_first_token.record(seconds(ttft));
                if let Some(per_token) = inference.time_per_output_token() {
                    self.time_per_output_token.record(seconds(per_token));
                }
            }
            // A plain completion's first token arrives with the answer.
            None if succeeded => self.time_to_first_token.record(seconds(inference.duration)),
            None => {}
        }
        for (token_type, count) in [
            (TokenType::Input, inference.input_tokens),
            (TokenType::Output, inference.output_tokens),
        ] {
            if count > 0 {
                self.tokens.get(token_type).increment(count);
                self.provider
                    .tokens_per_request
                    .get(token_type)
                    .record(count as f64);
            }
        }
        if succeeded && inference.input_tokens > 0 {
            let efficiency = self.efficiency.get_or_init(|| {
                self.provider.binding.with(|r| {
                    gauge(
                        r,
                        &TOKEN_EFFICIENCY,
                        &[&self.provider.provider, &self.model],
                    )
                })
            });
            efficiency.set(inference.output_tokens as f64 / inference.input_tokens as f64);
        }
        if inference.cost_usd.is_finite() && inference.cost_usd > 0.0 {
            self.provider.request_cost.record(inference.cost_usd);
        }
        self.cost.add(inference.cost_usd);
        self.credits.add(inference.credits);
    }
}

/// Cache key of a (provider, model) pair, as given by the caller.
#[derive(Hash, PartialEq, Eq)]
pub(crate) struct PairKey(Box<str>, Box<str>);

/// Borrowed form of [`PairKey`]; hashes identically, so lookups do not allocate.
#[derive(Hash)]
pub(crate) struct Pair<'a>(pub(crate) &'a str, pub(crate) &'a str);

impl Pair<'_> {
    pub(crate) fn to_key(&self) -> PairKey {
        PairKey(self.0.into(), self.1.into())
    }
}

impl Equivalent<PairKey> for Pair<'_> {
    fn equivalent(&self, key: &PairKey) -> bool {
        *self.0 == *key.0 && *self.1 == *key.1
    }
}
