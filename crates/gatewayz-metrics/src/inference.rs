//! Inference and provider-call recording: the hot path of a gateway.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use gatewayz_registry::catalogue::{
    COST_USD, CREDITS_USED, INFERENCE_STATUS, MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS,
    PROVIDER_AVAILABILITY, PROVIDER_ERRORS, PROVIDER_RESPONSE_TIME, REASON, REQUEST_COST,
    TIME_TO_FIRST_TOKEN, TOKEN_EFFICIENCY, TOKEN_TYPE, TOKENS_PER_REQUEST, TOKENS_USED,
};
use hashbrown::Equivalent;
use metrics::{Counter, Gauge, Histogram};

use crate::{
    ErrorKind, Outcome, TokenType,
    handles::{counter, gauge, histogram, per_value},
    labels::seconds,
};

/// One finished inference call to one provider: everything [`Metrics::inference_finished`]
/// records, in one place so the metrics agree with each other.
///
/// Record one per upstream attempt: a request that failed over from one provider to another
/// is two inferences, one failed and one successful.
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
    /// For streamed calls, from sending the request to the first token.
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

/// Handles for everything recorded per provider, whatever the model.
pub(crate) struct ProviderHandles {
    response_time: Histogram,
    /// Registered on first use: a gauge at 0 before anything is known would read "down".
    availability: OnceLock<Gauge>,
    provider: Box<str>,
    errors: Box<[Counter]>,
    tokens_per_request: Box<[Histogram]>,
    request_cost: Histogram,
}

impl ProviderHandles {
    pub(crate) fn new(provider: &str) -> Self {
        let errors = per_value(REASON.values().unwrap_or_default(), &[provider], |labels| {
            counter(&PROVIDER_ERRORS, labels)
        });
        let tokens_per_request = per_value(
            TOKEN_TYPE.values().unwrap_or_default(),
            &[provider],
            |labels| histogram(&TOKENS_PER_REQUEST, labels),
        );
        ProviderHandles {
            response_time: histogram(&PROVIDER_RESPONSE_TIME, &[provider]),
            availability: OnceLock::new(),
            provider: provider.into(),
            errors,
            tokens_per_request,
            request_cost: histogram(&REQUEST_COST, &[provider]),
        }
    }

    /// A call that reached (or failed to reach) the provider.
    pub(crate) fn call(&self, duration: Duration, result: Result<(), ErrorKind>) {
        if let Err(kind) = result {
            self.errors[kind as usize].increment(1);
            if kind == ErrorKind::CircuitOpen {
                // Never sent: there is no response time and nothing learnt about reachability.
                return;
            }
        }
        self.response_time.record(seconds(duration));
        self.probe(result.map_or_else(ErrorKind::provider_answered, |()| true));
    }

    pub(crate) fn probe(&self, reachable: bool) {
        let availability = self
            .availability
            .get_or_init(|| gauge(&PROVIDER_AVAILABILITY, &[&self.provider]));
        availability.set(if reachable { 1.0 } else { 0.0 });
    }
}

/// Handles for one (provider, model) pair.
pub(crate) struct InferenceHandles {
    provider: Arc<ProviderHandles>,
    requests: Box<[Counter]>,
    duration: Histogram,
    time_to_first_token: Histogram,
    tokens: Box<[Counter]>,
    /// Registered on the first success: before that there is no ratio to show.
    efficiency: OnceLock<Gauge>,
    model: Box<str>,
    cost: Counter,
    credits: Counter,
}

impl InferenceHandles {
    pub(crate) fn new(provider_handles: Arc<ProviderHandles>, provider: &str, model: &str) -> Self {
        let pair = [provider, model];
        let requests = per_value(
            INFERENCE_STATUS.values().unwrap_or_default(),
            &pair,
            |labels| counter(&MODEL_INFERENCE_REQUESTS, labels),
        );
        let tokens = per_value(TOKEN_TYPE.values().unwrap_or_default(), &pair, |labels| {
            counter(&TOKENS_USED, labels)
        });
        InferenceHandles {
            provider: provider_handles,
            requests,
            duration: histogram(&MODEL_INFERENCE_DURATION, &pair),
            time_to_first_token: histogram(&TIME_TO_FIRST_TOKEN, &pair),
            tokens,
            efficiency: OnceLock::new(),
            model: model.into(),
            cost: counter(&COST_USD, &pair),
            credits: counter(&CREDITS_USED, &pair),
        }
    }

    pub(crate) fn record(&self, inference: &Inference<'_>) {
        let succeeded = inference.outcome == Outcome::Success;
        self.requests[usize::from(!succeeded)].increment(1);
        self.provider.call(
            inference.duration,
            match inference.outcome {
                Outcome::Success => Ok(()),
                Outcome::Error(kind) => Err(kind),
            },
        );
        if let Outcome::Error(ErrorKind::CircuitOpen) = inference.outcome {
            return;
        }
        self.duration.record(seconds(inference.duration));
        if let Some(ttft) = inference.time_to_first_token {
            self.time_to_first_token.record(seconds(ttft));
        }
        for (token_type, count) in [
            (TokenType::Input, inference.input_tokens),
            (TokenType::Output, inference.output_tokens),
        ] {
            if count > 0 {
                self.tokens[token_type as usize].increment(count);
                self.provider.tokens_per_request[token_type as usize].record(count as f64);
            }
        }
        if succeeded && inference.input_tokens > 0 {
            let efficiency = self
                .efficiency
                .get_or_init(|| gauge(&TOKEN_EFFICIENCY, &[&self.provider.provider, &self.model]));
            efficiency.set(inference.output_tokens as f64 / inference.input_tokens as f64);
        }
        let cost = COST_USD.scale.to_increment(inference.cost_usd);
        if cost > 0 {
            self.cost.increment(cost);
            self.provider.request_cost.record(inference.cost_usd);
        }
        let credits = CREDITS_USED.scale.to_increment(inference.credits);
        if credits > 0 {
            self.credits.increment(credits);
        }
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
