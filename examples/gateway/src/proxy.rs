//! `POST /v1/chat/completions` and `GET /v1/models`: admission, routing, failover, metering,
//! charging.
//!
//! A completion request is admitted in this order, each step refusing with its own status and
//! [`RefusalReason`](gatewayz_metrics::RefusalReason) reason, and nothing of the body is read until the key is known to be good:
//!
//! 1. the gateway is not draining (503, `shutting_down`);
//! 2. the `Authorization` key is known (401, `unauthenticated`) and neither revoked nor expired
//!    (401, `key_inactive`), as of at most `key_cache_seconds` ago;
//! 3. the key has credits left that no request in progress holds (402, `no_credits`);
//! 4. the key's requests in flight are under their cap (429 with `Retry-After`,
//!    `key_concurrency`), and the gateway's (503, `gateway_concurrency`);
//! 5. the body arrives within the size limit (413) and the time limit (408);
//! 6. it parses, in memory bounded by the body's size (400, `invalid_request`);
//! 7. a provider serves the model (404, `unknown_model`);
//! 8. the request's worst-case cost (estimated prompt plus its output limit, at the dearest
//!    candidate's prices) is reserved from the key's balance (402, `insufficient_credits`).
//!
//! Refusals before the body is read close the connection. The candidate providers are then
//! tried along the health tracker's route (the first choice by the model's routing policy,
//! `[routing]` in the configuration, from the candidates' prices, latency and health; the rest
//! in failover order), each behind an admission permit; a failure moves on to the next candidate
//! when the failover table says so, until a provider answers or none is left (429, 502, 503 or
//! 504). Every attempt is reported once, on its permit, which records it as an inference too,
//! and the successful one is charged to the key at the model's price, replacing its
//! reservation.
//! Streams are passed through chunk by chunk and metered on the side; a stream can only fail
//! over before its first byte reaches the client.
//!
//! With durable charges (the default), a charge is committed before the answer's last byte
//! leaves: a plain completion is answered once its charge is written, and a stream's chunk that
//! carries `data: [DONE]` (or its end, without one) is held back until then. A client that has
//! the whole answer has therefore been charged for it, whatever happens to the process next.

use std::{
    collections::BTreeMap,
    future::Future,
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
use gatewayz_health::{
    Decision, HealthTracker, Offer, Permit, Price, RouteRequest, should_fail_over,
};
use gatewayz_metrics::{ErrorKind, FailoverReason, Inference, InferenceStatus, Metrics, Outcome};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::{
    account::{Account, KeyInFlight},
    body,
    config::ModelConfig,
    keys::{Hold, Keys, Refused},
    openai::{ApiError, ChatRequest, MAX_BODY_BYTES, Usage},
    refusals::Refusals,
    sse::StreamScan,
    store::{Charge, Committed, NANO, charge_id, unix_now},
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
    /// Caps and time limits on what clients may hold.
    pub limits: Limits,
    /// Completion requests in progress, against [`Limits::max_in_flight`].
    pub in_flight: Slots,
    /// Refusals, counted and summarised.
    pub refusals: Arc<Refusals>,
}

/// What one client, and all of them, may hold of the gateway.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time for a request's body to arrive.
    pub body_timeout: Duration,
    /// Completion requests in progress, streams included.
    pub max_in_flight: usize,
    /// Completion requests in progress for one key.
    pub max_in_flight_per_key: usize,
    /// Whether a charge is committed before the answer's last byte leaves.
    pub durable_charges: bool,
}

/// A count of things in progress with a cap.
#[derive(Debug, Default)]
pub struct Slots(Arc<AtomicUsize>);

impl Slots {
    /// Takes a slot, if fewer than `cap` are taken.
    pub fn enter(&self, cap: usize) -> Option<Slot> {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()?;
        Some(Slot(Arc::clone(&self.0)))
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One taken slot; given back when dropped.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts requests (and the streams they return) until they are done, so shutdown can wait.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    active: Arc<AtomicUsize>,
    closing: Arc<AtomicBool>,
    closed: Arc<Notify>,
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

    /// Refuses new requests from now on, and cuts those still reading their body.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.closed.notify_waiters();
    }

    /// Resolves, to the error to answer, once [`Drain::close`] is called.
    pub async fn closed(&self) -> ApiError {
        let notified = self.closed.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if !self.closing.load(Ordering::Relaxed) {
            notified.await;
        }
        ApiError::shutting_down()
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
    let authenticated = gateway.keys.authenticate(authorization(&req)).await;
    if let Err(error) = authenticated {
        return Err(gateway.refused(error.closing()));
    }
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

impl Gateway {
    /// Counts `error` if it is a refusal, and passes it on.
    pub(crate) fn refused(&self, error: ApiError) -> ApiError {
        if let Some(reason) = error.refusal {
            self.refusals.record(reason);
        }
        error
    }
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    req: HttpRequest,
    payload: web::Payload,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    complete(&req, payload, &gateway, &client)
        .await
        .map_err(|error| gateway.refused(error))
}

async fn complete(
    req: &HttpRequest,
    payload: web::Payload,
    gateway: &web::Data<Gateway>,
    client: &awc::Client,
) -> Result<HttpResponse, ApiError> {
    let received = Instant::now();
    let limits = gateway.limits;
    // Refusals before the body is read close the connection: the body is never waited for.
    let busy = gateway.drain.enter()?;
    let key = gateway
        .keys
        .authenticate(authorization(req))
        .await
        .map_err(ApiError::closing)?;
    let balance = key.balance();
    if balance.settled <= 0 {
        gateway.keys.exhausted(&key);
        return Err(ApiError::out_of_credits(
            "this API key has no credits left; top it up to continue",
        )
        .closing());
    }
    if balance.available() <= 0 {
        return Err(ApiError::out_of_credits(
            "every credit this API key has left is held for its requests in progress; retry \
             when they finish, or top the key up",
        )
        .closing());
    }
    let key_slot = key
        .enter(limits.max_in_flight_per_key)
        .ok_or_else(|| ApiError::key_busy(limits.max_in_flight_per_key).closing())?;
    let slot = gateway
        .in_flight
        .enter(limits.max_in_flight)
        .ok_or_else(|| ApiError::gateway_busy().closing())?;
    let held = Held {
        _busy: busy,
        _key: key_slot,
        _gateway: slot,
    };
    let body = body::read(
        req,
        payload,
        MAX_BODY_BYTES,
        limits.body_timeout,
        gateway.drain.closed(),
    )
    .await?;
    let request = ChatRequest::parse(body)?;
    let candidates = gateway
        .routes
        .candidates(request.model())
        .ok_or_else(|| ApiError::unknown_model(request.model()))?;
    let mut reservation = Some(
        reserve(
            &gateway.keys,
            &key,
            &request,
            candidates,
            gateway.credits_per_dollar,
        )
        .await?,
    );
    // Each candidate with its price for the model: the routing policy weighs them, and the
    // reference cost (what `spread` would pay on average) is recorded against them.
    let offers: Vec<Offer<'_>> = candidates
        .iter()
        .map(|p| {
            let model = &p.models[request.model()];
            Offer::new(
                &p.name,
                Price::per_million(
                    model.input_price_per_million,
                    model.output_price_per_million,
                ),
            )
        })
        .collect();
    let route = RouteRequest {
        model: request.model(),
        stream: request.stream(),
        offers: &offers,
    };

    let mut upstream_time = Duration::ZERO;
    let mut failures: Vec<(FailoverReason, Option<u64>)> = Vec::new();
    // Asking the route for the next candidate is moving on: it counts the failover.
    for candidate in gateway.health.route_request(&route) {
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
        match upstream::send(client, provider, request.upstream_body(model.upstream_id())).await {
            Ok(response) if request.stream() => {
                upstream_time += call.started.elapsed();
                gateway
                    .metrics
                    .gateway_overhead(received.elapsed().saturating_sub(upstream_time));
                gateway
                    .metrics
                    .model_request_finished(request.model(), InferenceStatus::Success);
                return Ok(call.stream(response, permit, held, reservation.take()));
            }
            Ok(response) => match call
                .complete(response, permit, gateway.upstream_timeout)
                .await
            {
                Ok((body, usage, permit)) => {
                    upstream_time += call.started.elapsed();
                    let committed = call.charge(
                        Some(permit),
                        Outcome::Success,
                        None,
                        usage,
                        reservation.take(),
                    );
                    if let (true, Some(committed)) = (limits.durable_charges, committed) {
                        // The store logs a failed write; the answer still goes, its charge
                        // queued for the next attempt.
                        let _ = committed.await;
                    }
                    gateway
                        .metrics
                        .gateway_overhead(received.elapsed().saturating_sub(upstream_time));
                    gateway
                        .metrics
                        .model_request_finished(request.model(), InferenceStatus::Success);
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
    // No provider answered, whether each failed or its circuit refused the call: the client's
    // failure, which the per-model availability objective counts (a refusal is no attempt).
    gateway
        .metrics
        .model_request_finished(request.model(), InferenceStatus::Error);
    Err(exhausted(request.model(), &failures))
}

/// What a request holds until its answer is complete: its place in the drain count and in the
/// key's and the gateway's requests in flight.
struct Held {
    _busy: Busy,
    _key: KeyInFlight,
    _gateway: Slot,
}

/// Reserves the request's worst-case cost from the key's balance: the estimated prompt plus the
/// output it may produce (its `max_completion_tokens`/`max_tokens`, capped by the model's
/// `max_output_tokens`, which also applies when it gives none, times `n`), at the dearest
/// candidate provider's prices.
async fn reserve(
    keys: &Keys,
    key: &Arc<Account>,
    request: &ChatRequest,
    candidates: &[Arc<Provider>],
    credits_per_dollar: f64,
) -> Result<Hold, ApiError> {
    let models = || candidates.iter().map(|p| &p.models[request.model()]);
    let input_price = models()
        .map(|m| m.input_price_per_million)
        .fold(0.0, f64::max);
    let output_price = models()
        .map(|m| m.output_price_per_million)
        .fold(0.0, f64::max);
    let limit = models().map(ModelConfig::output_limit).max().unwrap_or(0);
    let per_choice = request
        .max_output_tokens()
        .map_or(limit, |asked| asked.min(limit));
    let output = per_choice.saturating_mul(request.choices());
    let cost = (request.estimated_prompt_tokens() as f64 * input_price
        + output as f64 * output_price)
        / 1e6;
    // Rounded up, and capped far below overflow: a huge reservation is refused anyway.
    let nano = (cost * credits_per_dollar * NANO).ceil().clamp(0.0, 1e18) as i64;
    keys.reserve(key, nano).await.map_err(|refused| {
        let balance = match refused {
            Refused::Insufficient(balance) => balance,
            Refused::Unavailable => return ApiError::store_unavailable(),
        };
        keys.exhausted(key);
        let held = if balance.reserved > 0 {
            format!(
                " ({} more are held for its requests in progress)",
                credits(balance.reserved)
            )
        } else {
            String::new()
        };
        ApiError::insufficient_credits(format!(
            "this request may cost up to {} credits ({output} output tokens at most, at the \
             model's price), more than the {} this API key has available{held}; lower \
             `max_tokens` (or `max_completion_tokens`) or top the key up",
            credits(nano),
            credits(balance.available().max(0)),
        ))
    })
}

/// Nano-credits as credits, for messages.
fn credits(nano: i64) -> String {
    format!("{:.6}", nano as f64 / NANO)
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
    key: Arc<Account>,
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
    /// charges the key for it, in place of its reservation (released if there is nothing to
    /// charge); the charge is written when the returned future resolves.
    fn charge(
        &self,
        permit: Option<Permit>,
        outcome: Outcome,
        ttft: Option<Duration>,
        usage: Usage,
        reservation: Option<Hold>,
    ) -> Option<Committed> {
        let inference = self.inference(outcome, ttft, usage);
        match permit {
            Some(permit) => permit.finish(&inference),
            None => self.gateway.metrics.inference_finished(&inference),
        }
        if usage.prompt_tokens == 0 && usage.completion_tokens == 0 {
            return None;
        }
        let settlement = reservation.map(Hold::settle);
        let charge = Charge {
            id: charge_id(),
            reservation: settlement.as_ref().and_then(|s| s.reservation),
            key_id: self.key.id,
            provider: self.provider.name.clone(),
            model: self.client_model.clone(),
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            cost_nano: (inference.cost_usd * NANO).round() as i64,
            credits_nano: (inference.credits * NANO).round() as i64,
            at: unix_now(),
        };
        match self
            .gateway
            .keys
            .store()
            .charge(charge, settlement.map(|s| s.account))
        {
            Ok(committed) => Some(committed),
            Err(error) => {
                tracing::error!(%error, key = %self.key.prefix, "a charge could not be queued");
                None
            }
        }
    }

    /// Reads a whole completion and its usage, handing the permit back for the report; on
    /// failure the permit reports it, and the caller fails over.
    async fn complete(
        &self,
        response: Response,
        permit: Permit,
        budget: Duration,
    ) -> Result<(Bytes, Usage, Permit), Failure> {
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
        Ok((body, usage, permit))
    }

    /// Passes a stream through, metering it; accounted for when it ends or is dropped.
    fn stream(
        self,
        response: Response,
        permit: Permit,
        held: Held,
        reservation: Option<Hold>,
    ) -> HttpResponse {
        let metered = Metered {
            inner: response,
            durable: self.gateway.limits.durable_charges,
            _held: held,
            attempt: Some(self),
            reservation,
            permit: Some(permit),
            scan: StreamScan::default(),
            first_chunk: None,
            held_back: None,
            committing: None,
            ended: false,
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
    _held: Held,
    durable: bool,
    attempt: Option<Attempt>,
    reservation: Option<Hold>,
    permit: Option<Permit>,
    scan: StreamScan,
    first_chunk: Option<Duration>,
    /// The chunk that carries `data: [DONE]`, held back until the charge is written.
    held_back: Option<Bytes>,
    /// The charge being written, before the stream may end.
    committing: Option<Committed>,
    /// The provider's stream is over.
    ended: bool,
}

impl Metered {
    /// Accounts for the stream once: `Ok` when it ended, `Err` when the provider broke it,
    /// `None` when the client went away. The charge is written when the result resolves.
    fn finish(&mut self, ended: Option<Result<(), ErrorKind>>) -> Option<Committed> {
        let attempt = self.attempt.take()?;
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
        attempt.charge(
            permit,
            outcome,
            self.first_chunk,
            usage,
            self.reservation.take(),
        )
    }

    /// Waits for the charge to be written when charges are durable.
    fn commit(&mut self, committed: Option<Committed>) {
        if self.durable {
            self.committing = committed;
        }
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, awc::error::PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(committing) = this.committing.as_mut() {
                // A failed write is logged by the store; the charge stays queued for later.
                let _ = std::task::ready!(Pin::new(committing).poll(cx));
                this.committing = None;
                if let Some(chunk) = this.held_back.take() {
                    return Poll::Ready(Some(Ok(chunk)));
                }
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if this.first_chunk.is_none() {
                        this.first_chunk = this.attempt.as_ref().map(|a| a.started.elapsed());
                    }
                    let done_before = this.scan.done;
                    this.scan.feed(&chunk);
                    if this.scan.done && !done_before {
                        let committed = this.finish(Some(Ok(())));
                        this.commit(committed);
                        if this.committing.is_some() {
                            this.held_back = Some(chunk);
                            continue;
                        }
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Some(Err(error))) => {
                    tracing::debug!(%error, "a provider stream broke");
                    drop(this.finish(Some(Err(ErrorKind::Connection))));
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    let committed = this.finish(Some(Ok(())));
                    this.commit(committed);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        // The client went away: the charge is written all the same, with no one to wait for it.
        drop(self.finish(None));
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
