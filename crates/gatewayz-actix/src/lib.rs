//! The HTTP face of the gatewayz monitoring stack, for actix-web services.
//!
//! One call, [`configure`], mounts the Prometheus endpoints, the JSON summary, the metrics
//! reference, a live status page, health and admin endpoints; [`HttpMetrics`] records every request
//! of the host service. The crate is wiring only: the metrics come from `gatewayz-registry`
//! (through a [`MetricsSource`], normally its [`Handle`](gatewayz_registry::Handle)), the HTTP
//! metrics are recorded through `gatewayz-metrics`, and admin actions are carried out by the host
//! through [`AdminActions`].
//!
//! ```
//! use actix_web::{App, test};
//! use gatewayz_actix::{HttpMetrics, Monitoring, configure};
//! use gatewayz_metrics::Metrics;
//! use gatewayz_registry::RecorderBuilder;
//!
//! # actix_web::rt::System::new().block_on(async {
//! // A service installs its recorder once, at start-up: `RecorderBuilder::new().install()?`.
//! let recorder = RecorderBuilder::new().build()?;
//! let monitoring = Monitoring::new(recorder.handle());
//! let app = test::init_service(
//!     App::new()
//!         .wrap(HttpMetrics::new(Metrics::new()))
//!         .configure(configure(monitoring)),
//! )
//! .await;
//!
//! let request = test::TestRequest::get().uri("/prometheus/metrics/all").to_request();
//! let response = test::call_service(&app, request).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(
//!     response.headers().get("content-type").unwrap(),
//!     "text/plain; version=0.0.4; charset=utf-8"
//! );
//!
//! let request = test::TestRequest::get().uri("/health").to_request();
//! let health: serde_json::Value = test::call_and_read_body_json(&app, request).await;
//! assert_eq!(health["status"], "ok");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In a server, build the configuration once and clone it into every worker's `App`:
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use gatewayz_actix::{Auth, HttpMetrics, Monitoring, configure};
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let handle = gatewayz_registry::RecorderBuilder::new().install()?;
//! let metrics = gatewayz_metrics::Metrics::new();
//! let monitoring = Monitoring::new(handle).auth(Auth::from_env()?);
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(HttpMetrics::new(metrics.clone()))
//!         .configure(configure(monitoring.clone()))
//! })
//! .bind(("0.0.0.0", 8080))?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! | route | answers | auth |
//! | --- | --- | --- |
//! | `GET/HEAD /prometheus/metrics/all` | every metric, Prometheus text | metrics |
//! | `GET/HEAD /prometheus/metrics/{providers,models,business,performance,system}` | one category | metrics |
//! | `GET/HEAD /prometheus/metrics/summary[?category=C]` | JSON summary, all or one category | metrics |
//! | `GET/HEAD /prometheus/metrics/docs` | Markdown reference of every metric, with PromQL | public |
//! | `GET/HEAD /prometheus/dashboard` | the status page (HTML), unless turned off | public; its data comes from the summary |
//! | `GET/HEAD /prometheus/dashboard/{app.css,app.js}` | the page's stylesheet and script | public |
//! | `GET/HEAD /health` | liveness: `{"status":"ok"}` or `{"status":"degraded","reason":...}` | public |
//! | `GET/HEAD /health/providers` | score, status, circuit state, anomalies per provider | public |
//! | `POST /admin/providers/{provider}/circuit/{open,close,reset}` | admin action | admin key |
//!
//! # Behaviour
//!
//! - **Content types.** Prometheus text is served as [`PROMETHEUS_CONTENT_TYPE`]
//!   (`text/plain; version=0.0.4; charset=utf-8`), JSON as `application/json`, the reference as
//!   [`MARKDOWN_CONTENT_TYPE`]. Live answers carry `Cache-Control: no-store`.
//! - **Compression.** Prometheus text and the JSON summary are gzipped (fastest level, by
//!   `flate2`'s zlib-rs backend: about 3 ms for a 4 MB scrape) when the request's
//!   `Accept-Encoding` prefers gzip to identity, as Prometheus's does; they carry
//!   `Vary: accept-encoding` either way. The compression is done inside the read (below), so
//!   it runs off the async workers and once per shared read, and the answer leaves as one
//!   sized body. actix's `Compress` middleware is not used: it streams a large body in chunks
//!   whose last few bytes can wait 40 ms for the client's delayed ACK (Nagle), which made a
//!   gzipped 4 MB scrape take 48 ms instead of 5.
//! - **Reads of the metrics.** Each kind of read (a category's text, `all`, a summary, each
//!   plain or gzipped, the providers' health) keeps an estimate of its cost. One estimated
//!   under 0.5 ms runs inline on the async worker: a hop to the blocking pool costs two thread
//!   wake-ups, which under load cost more than the read. Any other, including the first read
//!   of a kind, runs through actix's blocking pool, so a render that grows with the registry
//!   (about 1 ms for 44,000 lines) never holds up the requests queued behind it on a worker.
//!   The estimate follows a cheaper read at once and a dearer one by at most a quarter per read,
//!   so one preempted read does not move a cheap read off the worker.
//! - **Shared reads.** Requests for the same answer that arrive while a blocking read is in
//!   progress wait for it and share the next one: a request never joins a read that started
//!   before it arrived, so no answer is older than its request, and each answer has at most
//!   one read in progress however many scrapers arrive at once (N simultaneous scrapes cost
//!   about two renders, not N). A read continues when the request that started it goes away,
//!   and a panic in the source is caught and answered as a 500, never taking a worker down.
//! - **No redirects, ever.** There is no trailing-slash normalisation: `/prometheus/metrics/all/`
//!   is a 404, never a 30x (Prometheus does not follow redirects to another path well, and
//!   LiteLLM's 307 broke scrapes).
//! - **Errors.** Every error answer, whatever the status, has one JSON shape:
//!   `{"error": {"status": 400, "message": "...", "valid_values": [...]}}`, `valid_values`
//!   present only when the fix is to pick one of them (category, admin action). Unknown paths
//!   under `/prometheus/metrics` and `/health` are 404; a known path with another method is 405
//!   with `Allow`.
//! - **Summary categories.** `?category=` takes `providers`, `models`, `business`,
//!   `performance` or `system`; absent means all. Anything else, an empty value or a repeated
//!   parameter is 400. Other query parameters are ignored.
//! - **Authentication** ([`Auth`]) is off by default. When on, the text and summary endpoints
//!   require `Authorization: Bearer <token>` or basic credentials ([`Auth::from_env`] reads
//!   [`ENV_METRICS_TOKEN`], [`ENV_METRICS_USER`], [`ENV_METRICS_PASSWORD`]). Credentials are
//!   compared in time that depends only on what the client sent; values longer than
//!   [`MAX_SECRET_LEN`] are refused unread. A refusal is 401 with one `WWW-Authenticate` header
//!   per configured scheme (realm `gatewayz`). Secrets never appear in `Debug` output, errors,
//!   logs or metrics. `/health`, `/health/providers` and `/prometheus/metrics/docs` stay public:
//!   liveness probes carry no credentials, and the reference holds no live data.
//! - **Health.** `/health` answers 200 whenever the process can answer HTTP; it reads no
//!   metrics, so it stays fast when the registry is huge or broken. It says `degraded`, with
//!   the reason, when no recorder is configured ([`Monitoring::without_recorder`]) or the last
//!   read of the metrics source failed (until a later read succeeds). `/health/providers` reads
//!   the health the tracker publishes as gauges (score, status, circuit state, active
//!   anomalies); without a recorder it answers 503, like the metrics endpoints.
//! - **Status page.** `/prometheus/dashboard` is a page for people, not scrapers: provider cards
//!   (status in colour and in words, health score, error rate, p95 latency, circuit state,
//!   anomalies), business tiles, and charts of the last 15 minutes (request rate, error rate, p95
//!   latency and cost per hour per provider, tokens per minute per model). Its script polls the
//!   summary every 5 seconds (`?refresh=N` for N seconds, 1 to 60) and keeps the history in the
//!   page's memory: rates come from counter differences between polls, a counter that went down (a
//!   restart) counts from zero, and a reload starts the charts afresh. It says when the data is
//!   stale (no successful poll for three intervals), when the gateway is unreachable and when the
//!   summary answers an error. The page is public, as it holds no data; when the summary answers
//!   401 it asks for a bearer token or basic credentials, keeps them in the tab's `sessionStorage`
//!   and sends them in `Authorization`. HTML, CSS and JavaScript are compiled into the crate (no
//!   CDN, no web font, no build step, no inline script or style) and served with
//!   `Content-Security-Policy` allowing only them and the summary (`default-src 'none'`, no
//!   framing, Trusted Types on), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//!   `X-Frame-Options: DENY`, `Cache-Control: no-cache` and a content `ETag` (a reload revalidates
//!   for nothing). The page links its files and the summary relatively, so it works under any
//!   prefix the scope is mounted at; like every path here it has no trailing-slash form
//!   (`/prometheus/dashboard/` is 404). [`Monitoring::dashboard`]`(false)` turns it off.
//! - **CORS** ([`Cors`]) applies to the JSON endpoints (summary, `/health`,
//!   `/health/providers`): any origin by default, a list, or off. Preflight `OPTIONS` is
//!   answered without credentials and allows the `Authorization` header.
//! - **Admin** ([`Admin`]) endpoints are off (404) until an admin key is configured
//!   ([`ENV_ADMIN_KEY`]); they take `Authorization: Bearer <admin key>`, separate from the
//!   metrics credentials. Every action carried out or failed is logged through `tracing` with
//!   target `gatewayz_actix::audit` (provider, action, peer address, outcome; never the key).
//!   Refusals (no key, a wrong one) go to [`AdminActions::refused`], whose default logs at most
//!   one warning every [`REFUSAL_LOG_INTERVAL`] with the number refused since the last, so a
//!   flood of anonymous requests cannot flood the log. An unknown provider is 404.
//! - **HTTP metrics** ([`HttpMetrics`]): see its docs; it labels by route template, times
//!   streamed bodies to their end, and counts requests whose handler failed or whose client
//!   went away. Wrap the whole `App` with it; the monitoring endpoints are counted too.
//!
//! # Performance
//!
//! `cargo bench -p gatewayz-actix --bench load` starts a server on loopback over a registry of
//! every catalogued series for 20 providers × N models, keeps recording from two threads, and
//! drives the summary and `/all` at the same time with `wrk -c4` each. On a 2-core machine
//! shared with the load generators, with `/all` at the issue's 20,000 lines (N = 20), `/all`
//! answered with a p99 of 12–14 ms, plain or gzipped (target 20 ms), and the summary with a
//! p99 of 3.6–3.7 ms when `/all` was gzipped and 5.5–6.7 ms when 1.8 MB of plain text per
//! scrape saturated the machine (target 5 ms). At 44,000 lines (N = 50) the p99s were 20–21 ms
//! and 6–12 ms. With zero-cost rendering the same load still gave p99s of about 16 ms and
//! 5 ms at 44,000 lines: what remains is moving megabytes through actix, loopback TCP and
//! `wrk` on two cores, not rendering.

mod action;
mod admin;
mod auth;
mod config;
mod dashboard;
mod endpoints;
mod error;
mod flights;
mod middleware;
mod route;
mod source;

pub use action::CircuitAction;
pub use admin::{Admin, AdminActions, REFUSAL_LOG_INTERVAL};
pub use auth::{
    Auth, ENV_ADMIN_KEY, ENV_METRICS_PASSWORD, ENV_METRICS_TOKEN, ENV_METRICS_USER, MAX_SECRET_LEN,
};
pub use config::{Cors, Monitoring};
pub use endpoints::{MARKDOWN_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, configure};
pub use error::Error;
pub use middleware::{
    CLIENT_CLOSED_REQUEST, HttpMetrics, HttpMetricsService, MetricsFuture, TimedBody,
    UNMATCHED_ROUTE,
};
pub use source::MetricsSource;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
