//! `POST /v1/chat/completions` and `GET /v1/models`: routing, failover, metering, charging.
//!
//! A request is authenticated (401), parsed (400), checked for credits (402) and routed by
//! model name (404). Its candidate providers are tried along the health tracker's route (the
//! failover order, the first choice spread over the healthy front), each behind an admission
//! permit; a failure moves on to the next candidate when the failover table says so, until a
//! provider answers or none is left (429, 502, 503 or 504). Every attempt is reported once, on
//! its permit, which records it as an inference too, and the successful one is charged to the
//! key at the model's price. Streams are passed through chunk by chunk and metered on the side; a
//! stream can only fail over before its first byte reaches the client.

use std::{
    collections::BTreeMap,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use bytes::Bytes;
use futures_util::Stream;
use gatewayz_health::{Decision, HealthTracker, Permit, should_fail_over};
use gatewayz_metrics::{ErrorKind, FailoverReason, Inference, Metrics, Outcome};
use serde_json::{Value, json};

use crate::{
    config::ModelConfig,
    keys::{Key, Keys},
    openai::{ApiError, ChatRequest, Usage},
    sse::StreamScan,
    store::{Charge, NANO, unix_now},
    upstream::{self, Failure, Provider, Response},
};

/// Largest completion body read from a provider.
const MAX_UPSTREAM_BODY: usize = 16 << 20;

/// Which providers serve which model.
pub struct Routes {
    providers: Vec<Arc<Provider>>,
    by_model: BTreeMap<String, Vec<Arc<Provider>>>,
}

impl Routes {
    /// Routes over these providers, in configuration order.
    pub fn new(providers: Vec<Provider>) -> Routes {
        let providers: Vec<Arc<Provider>> = providers.into_iter().map(Arc::new).collect();
        let mut by_model: BTreeMap<String, Vec<Arc<Provider>>> = BTreeMap::new();
        for provider in &providers {
            for model in provider.models.keys() {
                by_model
                    .entry(model.clone())
                    .or_default()
                    .push(Arc::clone(provider));
            }
        }
        Routes {
            providers,
            by_model,
        }
    }

    /// Every provider.
    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// Every model name served.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.by_model.keys().map(String::as_str)
    }

    fn candidates(&self, model: &str) -> Option<&[Arc<Provider>]> {
        self.by_model.get(model).map(Vec::as_slice)
    }
}

/// What every request handler shares.
pub struct Gateway {
    /// Routing table.
    pub routes: Routes,
    /// Authentication and charging.
    pub keys: Keys,
    /// Provider health, circuit breakers, failover order.
    pub health: Arc<HealthTracker>,
    /// Instrumentation.
    pub metrics: Metrics,
    /// Credits charged per dollar of upstream cost.
    pub credits_per_dollar: f64,
    /// Budget for reading a non-streamed completion after its headers.
    pub upstream_timeout: Duration,
    /// Requests and streams in progress, for a graceful shutdown.
    pub drain: Drain,
}

/// Counts requests (and the streams they return) until they are done, so shutdown can wait.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    active: Arc<AtomicUsize>,
    closing: Arc<AtomicBool>,
}

impl Drain {
    /// Counts one request until the returned guard is dropped; refuses it once closing, so
    /// that clients on keep-alive connections cannot keep the drain from ending.
    pub fn enter(&self) -> Result<Busy, ApiError> {
        if self.closing.load(Ordering::Relaxed) {
            return Err(ApiError::shutting_down());
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        Ok(Busy(Arc::clone(&self.active)))
    }

    /// Refuses new requests from now on.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    /// Requests and streams in progress.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

/// One request in progress; see [`Drain`].
#[derive(Debug)]
pub struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `GET /v1/models`.
pub async fn models(
    req: HttpRequest,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    gateway.keys.authenticate(authorization(&req)).await?;
    let data: Vec<Value> = gateway
        .routes
        .models()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "gatewayz"}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"object": "list", "data": data})))
}

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    req: HttpRequest,
    body: web::Bytes,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let received = Instant::now();
    let busy = gateway.drain.enter()?;
    let key = gateway.keys.authenticate(authorization(&req)).await?;
    let request = ChatRequest::parse(&body)?;
    if key.credits_nano() <= 0 {
        return Err(ApiError::out_of_credits());
    }
    let candidates = gateway
        .routes
        .candidates(request.model())
        .ok_or_else(|| ApiError::unknown_model(request.model()))?;
    let names: Vec<&str> = candidates.iter().map(|p| p.name.as_str()).collect();

    let mut upstream_time = Duration::ZERO;
    let mut failures: Vec<(FailoverReason, Option<u64>)> = Vec::new();
    // Asking the route for the next candidate is moving on: it counts the failover.
    for candidate in gateway.health.route(&names) {
        let Some(provider) = candidates.iter().find(|p| p.name == candidate.provider) else {
            continue;
        };
        let model = &provider.models[request.model()];
        let permit = match candidate.admission {
            Ok(permit) => permit,
            Err(rejected) => {
                let retry_after = rejected.retry_after().map(|d| d.as_secs().max(1));
                failures.push((FailoverReason::CircuitOpen, retry_after));
                continue;
            }
        };
        let call = Attempt {
            gateway: gateway.clone().into_inner(),
            key: Arc::clone(&key),
            provider: Arc::clone(provider),
            model: model.clone(),
            client_model: request.model().to_owned(),
            prompt_estimate: request.estimated_prompt_tokens(),
            started: Instant::now(),
        };
        match upstream::send(
            &client,
            provider,
            request.upstream_body(model.upstream_id()),
        )
        .await
        {
            Ok(response) if request.stream() => {
                upstream_time += call.started.elapsed();
                gateway
                    .metrics
                    .gateway_overhead(received.elapsed().saturating_sub(upstream_time));
                return Ok(call.stream(response, permit, busy));
            }
            Ok(response) => match call
                .complete(response, permit, gateway.upstream_timeout)
                .await
            {
                Ok(body) => {
                    upstream_time += call.started.elapsed();
                    gateway
                        .metrics
                        .gateway_overhead(received.elapsed().saturating_sub(upstream_time));
                    return Ok(HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body));
                }
                Err(failure) => {
                    upstream_time += call.started.elapsed();
                    failures.push((failure.kind().into(), None));
                }
            },
            Err(failure) => {
                upstream_time += call.started.elapsed();
                let kind = failure.kind();
                call.failed(permit, kind);
                if should_fail_over(kind) == Decision::Stop {
                    gateway
                        .metrics
                        .gateway_overhead(received.elapsed().saturating_sub(upstream_time));
                    return Err(ApiError::invalid(
                        "the provider rejected the request as invalid".into(),
                        None,
                    ));
                }
                let retry_after = match failure {
                    Failure::Status { retry_after, .. } => retry_after,
                    _ => None,
                };
                failures.push((kind.into(), retry_after));
            }
        }
    }
    gateway
        .metrics
        .gateway_overhead(received.elapsed().saturating_sub(upstream_time));
    Err(exhausted(request.model(), &failures))
}

/// The client's error once every candidate failed.
fn exhausted(model: &str, failures: &[(FailoverReason, Option<u64>)]) -> ApiError {
    use FailoverReason::{CircuitOpen, RateLimited, Timeout};
    let all = |f: &dyn Fn(FailoverReason) -> bool| {
        !failures.is_empty() && failures.iter().all(|(k, _)| f(*k))
    };
    let retry_after = failures.iter().filter_map(|(_, r)| *r).min();
    if failures.is_empty() || all(&|k| k == CircuitOpen) {
        ApiError::unavailable(model, retry_after)
    } else if all(&|k| matches!(k, RateLimited | CircuitOpen)) {
        ApiError::rate_limited(retry_after)
    } else if all(&|k| matches!(k, Timeout | CircuitOpen)) {
        ApiError::timeout(model)
    } else {
        ApiError::bad_gateway(model)
    }
}

/// One call to one provider, and everything needed to account for it.
struct Attempt {
    gateway: Arc<Gateway>,
    key: Arc<Key>,
    provider: Arc<Provider>,
    model: ModelConfig,
    client_model: String,
    prompt_estimate: u64,
    started: Instant,
}

impl Attempt {
    fn inference(&self, outcome: Outcome, ttft: Option<Duration>, usage: Usage) -> Inference<'_> {
        let cost = self
            .model
            .cost(usage.prompt_tokens, usage.completion_tokens);
        Inference {
            provider: &self.provider.name,
            model: &self.client_model,
            outcome,
            duration: self.started.elapsed(),
            time_to_first_token: ttft,
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            cost_usd: cost,
            credits: cost * self.gateway.credits_per_dollar,
        }
    }

    fn failed(&self, permit: Permit, kind: ErrorKind) {
        permit.finish(&self.inference(Outcome::Error(kind), None, Usage::default()));
    }

    /// Reports a call that produced `usage` (on its permit, which records the inference; as an
    /// inference alone when the client went away and the provider did nothing wrong) and
    /// charges the key for it.
    fn charge(
        &self,
        permit: Option<Permit>,
        outcome: Outcome,
        ttft: Option<Duration>,
        usage: Usage,
    ) {
        let inference = self.inference(outcome, ttft, usage);
        match permit {
            Some(permit) => permit.finish(&inference),
            None => self.gateway.metrics.inference_finished(&inference),
        }
        if usage.prompt_tokens == 0 && usage.completion_tokens == 0 {
            return;
        }
        self.gateway.keys.charge(
            &self.key,
            Charge {
                key_id: self.key.id,
                provider: self.provider.name.clone(),
                model: self.client_model.clone(),
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
                cost_nano: (inference.cost_usd * NANO).round() as i64,
                credits_nano: (inference.credits * NANO).round() as i64,
                at: unix_now(),
            },
        );
    }

    /// Reads a whole completion; on failure the permit records it, and the caller fails over.
    async fn complete(
        &self,
        response: Response,
        permit: Permit,
        budget: Duration,
    ) -> Result<Bytes, Failure> {
        let mut response = response.timeout(budget);
        let body = response.body().limit(MAX_UPSTREAM_BODY).await;
        let body = match body {
            Ok(body) => body,
            Err(error) => {
                let failure = match error {
                    awc::error::PayloadError::Io(ref e)
                        if e.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        Failure::Timeout
                    }
                    _ => Failure::Connection,
                };
                tracing::debug!(provider = %self.provider.name, %error, "reading a completion failed");
                self.failed(permit, failure.kind());
                return Err(failure);
            }
        };
        let usage = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| Usage::from_body(&v));
        let usage =
            usage.unwrap_or_else(|| Usage::new(self.prompt_estimate, (body.len() / 4) as u64));
        self.charge(Some(permit), Outcome::Success, None, usage);
        Ok(body)
    }

    /// Passes a stream through, metering it; accounted for when it ends or is dropped.
    fn stream(self, response: Response, permit: Permit, busy: Busy) -> HttpResponse {
        let metered = Metered {
            inner: response,
            _busy: busy,
            attempt: Some(self),
            permit: Some(permit),
            scan: StreamScan::default(),
            first_chunk: None,
        };
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .streaming(metered)
    }
}

/// A provider's event stream on its way to the client.
struct Metered {
    inner: Response,
    /// Keeps the request counted until the stream is done.
    _busy: Busy,
    attempt: Option<Attempt>,
    permit: Option<Permit>,
    scan: StreamScan,
    first_chunk: Option<Duration>,
}

impl Metered {
    /// Accounts for the stream once: `Ok` when it ended, `Err` when the provider broke it,
    /// `None` when the client went away.
    fn finish(&mut self, ended: Option<Result<(), ErrorKind>>) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        let usage = self
            .scan
            .usage
            .unwrap_or_else(|| Usage::new(attempt.prompt_estimate, self.scan.completion_tokens()));
        let permit = self.permit.take();
        let (permit, outcome) = match ended {
            Some(Ok(())) => (permit, Outcome::Success),
            Some(Err(kind)) => (permit, Outcome::Error(kind)),
            // The provider did nothing wrong; dropping the permit unreported says so.
            None => (None, Outcome::Success),
        };
        // Tokens streamed are paid for upstream, so they are charged even when the stream broke.
        attempt.charge(permit, outcome, self.first_chunk, usage);
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, awc::error::PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if this.first_chunk.is_none() {
                    this.first_chunk = this.attempt.as_ref().map(|a| a.started.elapsed());
                }
                this.scan.feed(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => {
                tracing::debug!(%error, "a provider stream broke");
                this.finish(Some(Err(ErrorKind::Connection)));
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                this.finish(Some(Ok(())));
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausted_candidates_map_to_the_right_status() {
        use FailoverReason::*;
        let status =
            |failures: &[(FailoverReason, Option<u64>)]| exhausted("m", failures).status.as_u16();
        assert_eq!(status(&[]), 503);
        assert_eq!(status(&[(CircuitOpen, Some(12))]), 503);
        assert_eq!(status(&[(RateLimited, Some(3)), (CircuitOpen, None)]), 429);
        assert_eq!(status(&[(Timeout, None), (Timeout, None)]), 504);
        assert_eq!(status(&[(Timeout, None), (ServerError, None)]), 502);
        // Our account with a provider is our problem, never the client's 401.
        assert_eq!(status(&[(Unauthorized, None)]), 502);
        assert_eq!(
            exhausted("m", &[(RateLimited, Some(7))]).retry_after,
            Some(7)
        );
    }
}
