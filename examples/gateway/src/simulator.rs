//! Simulated providers: real OpenAI-compatible HTTP servers on loopback ports.
//!
//! Each runs on its own thread with its own actix system, answers `POST /v1/chat/completions`
//! (plain and streamed, with usage when asked for) and `GET /v1/models`, with log-normal
//! latency, a streaming speed, a share of 500 errors and an outage switch. Completions are 20 to
//! 300 tokens long, never more than the request's `max_completion_tokens` (or `max_tokens`), as
//! real providers honour them. An outage stops the server, so the gateway sees refused
//! connections, as with a provider that is really down; ending it starts the server again on
//! the same port. Bodies are accepted up to the gateway's own limit plus what the gateway adds
//! ([`MAX_BODY_BYTES`] + [`MAX_ADDED_BYTES`]), so a body the gateway passes on is never refused
//! here.

use std::{
    io,
    net::{SocketAddr, TcpListener},
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
        mpsc,
    },
    thread::JoinHandle,
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use bytes::Bytes;
use futures_util::stream;
use serde_json::{Value, json};

use crate::{
    config::SimulatedConfig,
    openai::{MAX_ADDED_BYTES, MAX_BODY_BYTES, Usage},
};

const WORDS: &[&str] = &[
    "the",
    "gateway",
    "routes",
    "each",
    "request",
    "to",
    "a",
    "healthy",
    "provider",
    "and",
    "measures",
    "latency",
    "tokens",
    "cost",
    "while",
    "dashboards",
    "show",
    "it",
    "live",
    ".",
];

/// A running (or, during an outage, stopped) simulated provider.
pub struct SimulatedProvider {
    name: String,
    addr: SocketAddr,
    behaviour: Arc<RwLock<SimulatedConfig>>,
    /// Completion requests received, counted on arrival (before the simulated latency).
    calls: Arc<Calls>,
    server: Mutex<Option<Running>>,
    /// Held through a whole change, so that concurrent changes apply one after the other.
    changing: Mutex<()>,
}

struct Running {
    handle: ServerHandle,
    thread: JoinHandle<()>,
}

impl SimulatedProvider {
    /// Starts a simulated provider on an ephemeral loopback port.
    pub fn start(name: &str, behaviour: SimulatedConfig) -> io::Result<SimulatedProvider> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let provider = SimulatedProvider {
            name: name.to_owned(),
            addr,
            behaviour: Arc::new(RwLock::new(behaviour.clone())),
            calls: Arc::default(),
            server: Mutex::new(None),
            changing: Mutex::new(()),
        };
        if !behaviour.outage {
            provider.serve(listener)?;
        }
        Ok(provider)
    }

    /// Provider name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Completion requests it has received since it started, counted as they arrive: what a
    /// provider sees of a fleet (its probes, its failed calls).
    pub fn calls(&self) -> u64 {
        self.calls.0.load(Relaxed)
    }

    /// The current behaviour.
    pub fn behaviour(&self) -> SimulatedConfig {
        self.behaviour
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes the behaviour; starting or ending an outage stops or restarts the server.
    pub fn set_behaviour(&self, behaviour: SimulatedConfig) -> io::Result<()> {
        self.update(|_| Ok::<_, io::Error>(behaviour)).map(drop)
    }

    /// Changes the behaviour to what `change` makes of the current one, unless it fails;
    /// concurrent updates apply one after the other, each to the result of the last. Blocks
    /// while a server stops or starts (call it off the async workers).
    pub fn update<E: From<io::Error>>(
        &self,
        change: impl FnOnce(&SimulatedConfig) -> Result<SimulatedConfig, E>,
    ) -> Result<SimulatedConfig, E> {
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let behaviour = change(&self.behaviour())?;
        self.apply(behaviour.clone())?;
        Ok(behaviour)
    }

    fn apply(&self, behaviour: SimulatedConfig) -> io::Result<()> {
        let outage = behaviour.outage;
        *self
            .behaviour
            .write()
            .unwrap_or_else(PoisonError::into_inner) = behaviour;
        let running = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        match (outage, running) {
            (true, true) => self.stop(),
            (false, false) => self.serve(TcpListener::bind(self.addr)?)?,
            _ => {}
        }
        Ok(())
    }

    fn serve(&self, listener: TcpListener) -> io::Result<()> {
        let behaviour = Arc::clone(&self.behaviour);
        let calls = Arc::clone(&self.calls);
        let (handle_tx, handle_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("sim-{}", self.name))
            .spawn(move || {
                let system = actix_web::rt::System::new();
                let ready = handle_tx.clone();
                let result = system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(web::Data::from(Arc::clone(&behaviour)))
                            .app_data(web::Data::from(Arc::clone(&calls)))
                            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES + MAX_ADDED_BYTES))
                            .route("/v1/chat/completions", web::post().to(chat_completions))
                            .route("/v1/models", web::get().to(models))
                    })
                    .workers(1)
                    .on_connect(crate::server::no_delay)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)?
                    .run();
                    let _ = ready.send(Ok(server.handle()));
                    server.await
                });
                if let Err(error) = result {
                    let _ = handle_tx.send(Err(error));
                }
            })?;
        let handle = handle_rx
            .recv()
            .map_err(|_| io::Error::other("the simulator thread stopped before serving"))??;
        *self.server.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Running { handle, thread });
        Ok(())
    }

    /// Stops the server (connections are refused until it is started again).
    pub fn stop(&self) {
        let running = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Running { handle, thread }) = running {
            // The stop command is sent when `stop` is called; the returned future only waits
            // for it. The server future then resolves and the thread's system ends.
            drop(handle.stop(false));
            let _ = thread.join();
        }
    }
}

impl Drop for SimulatedProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A sample of a log-normal distribution with this median and sigma.
fn log_normal(median: f64, sigma: f64) -> f64 {
    // Box–Muller; 1 - u keeps the logarithm finite.
    let (u, v) = (1.0 - fastrand::f64(), fastrand::f64());
    let normal = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
    median * (sigma * normal).exp()
}

/// `ms` milliseconds, within 0 to 10 minutes (0 for NaN).
fn millis(ms: f64) -> Duration {
    let seconds = ms / 1000.0;
    if seconds.is_nan() {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(seconds.clamp(0.0, 600.0))
}

/// Waits `delay`, or not at all when it is zero: the timer rounds every sleep, even a zero
/// one, up to its next millisecond tick, so "latency 0" answered after about 1 ms.
async fn pause(delay: Duration) {
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
}

async fn models() -> HttpResponse {
    HttpResponse::Ok().json(json!({"object": "list", "data": []}))
}

/// The completion requests a simulator received.
#[derive(Debug, Default)]
struct Calls(AtomicU64);

async fn chat_completions(
    behaviour: web::Data<RwLock<SimulatedConfig>>,
    calls: web::Data<Calls>,
    body: web::Bytes,
) -> HttpResponse {
    calls.0.fetch_add(1, Relaxed);
    let behaviour = behaviour
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return error(400, "invalid JSON"),
    };
    let model = request["model"].as_str().unwrap_or("unknown").to_owned();
    let stream = request["stream"].as_bool().unwrap_or(false);
    let include_usage = request["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let prompt_tokens = (request["messages"].to_string().len() as u64 / 4).max(1);
    let limit = request["max_completion_tokens"]
        .as_u64()
        .or_else(|| request["max_tokens"].as_u64())
        .unwrap_or(u64::MAX)
        .max(1);
    let completion_tokens = fastrand::u64(20..=300).min(limit);

    let roll = fastrand::f64();
    if roll < behaviour.error_rate {
        pause(millis(log_normal(behaviour.latency_median_ms / 4.0, 0.3))).await;
        return error(500, "simulated upstream failure");
    }
    if roll < behaviour.error_rate + behaviour.rate_limit_rate {
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "1"))
            .json(
                json!({"error": {"message": "simulated rate limit", "type": "rate_limit_error"}}),
            );
    }
    if !stream {
        pause(millis(log_normal(
            behaviour.latency_median_ms,
            behaviour.latency_sigma,
        )))
        .await;
        let text = words(completion_tokens);
        return HttpResponse::Ok().json(json!({
            "id": format!("chatcmpl-sim{}", fastrand::u64(..)),
            "object": "chat.completion",
            "created": crate::store::unix_now(),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": Usage::new(prompt_tokens, completion_tokens),
        }));
    }
    let first_token = millis(log_normal(
        behaviour.time_to_first_token_ms,
        behaviour.latency_sigma,
    ));
    // At most about 20 chunks a second, each carrying the tokens produced meanwhile.
    let tokens_per_second = behaviour.tokens_per_second.clamp(1.0, 1e6);
    let per_chunk = (tokens_per_second / 20.0).ceil().max(1.0) as u64;
    let interval = Duration::from_secs_f64(per_chunk as f64 / tokens_per_second);
    let id = format!("chatcmpl-sim{}", fastrand::u64(..));
    let chunk = move |delta: Value, finish: Option<&str>| {
        sse(&json!({
            "id": id, "object": "chat.completion.chunk", "created": crate::store::unix_now(), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }))
    };
    let mut events: Vec<(Duration, Bytes)> = vec![(
        first_token,
        chunk(json!({"role": "assistant", "content": ""}), None),
    )];
    let mut sent = 0;
    while sent < completion_tokens {
        let n = per_chunk.min(completion_tokens - sent);
        // Tokens carry their leading space, so the chunks concatenate into the text.
        let text = if sent == 0 {
            words(n)
        } else {
            format!(" {}", words(n))
        };
        events.push((interval, chunk(json!({"content": text}), None)));
        sent += n;
    }
    events.push((Duration::ZERO, chunk(json!({}), Some("stop"))));
    if include_usage {
        let usage = json!({"id": "usage", "object": "chat.completion.chunk", "choices": [],
            "usage": Usage::new(prompt_tokens, completion_tokens)});
        events.push((Duration::ZERO, sse(&usage)));
    }
    events.push((Duration::ZERO, Bytes::from_static(b"data: [DONE]\n\n")));
    let body = stream::unfold(events.into_iter(), |mut events| async move {
        let (delay, bytes) = events.next()?;
        if !delay.is_zero() {
            actix_web::rt::time::sleep(delay).await;
        }
        Some((Ok::<_, std::convert::Infallible>(bytes), events))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(body)
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn words(n: u64) -> String {
    (0..n)
        .map(|_| WORDS[fastrand::usize(..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn error(status: u16, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(json!({"error": {"message": message, "type": "server_error"}}))
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn a_zero_pause_is_over_at_once_and_a_longer_one_waits_for_the_timer() {
        actix_web::rt::System::new().block_on(async {
            // `sleep(Duration::ZERO)` is pending at first, until the timer's next millisecond
            // tick: "latency 0" used to answer after about a millisecond.
            assert!(pause(Duration::ZERO).now_or_never().is_some());
            assert!(pause(Duration::from_millis(1)).now_or_never().is_none());
            assert!(
                actix_web::rt::time::sleep(Duration::ZERO)
                    .now_or_never()
                    .is_none(),
                "the timer answers zero sleeps at once now: `pause` may be unnecessary"
            );
        });
    }
}
