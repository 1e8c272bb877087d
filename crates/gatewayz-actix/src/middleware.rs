//! The HTTP metrics middleware: count, duration and in-flight requests of the whole service.

use std::{
    fmt,
    future::{Future, Ready, ready},
    pin::Pin,
    task::{Context, Poll, ready},
    time::Instant,
};

use actix_web::{
    Error as ActixError,
    body::{BodySize, MessageBody},
    dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready},
    http::Method,
    web::Bytes,
};
use gatewayz_metrics::{InFlight, Metrics};
use pin_project_lite::pin_project;

/// The `route` label of requests that matched no route, so that scanners probing random
/// paths add one series, not one per path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Status recorded for a request whose client went away before the response was ready
/// (nginx's convention; it lands in the `4xx` class).
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// Records every request of the service it wraps: `http_requests_total`,
/// `http_request_duration_seconds` (by method, route template and status class) and
/// `http_requests_in_flight`.
///
/// ```
/// use actix_web::{App, web};
/// use gatewayz_actix::HttpMetrics;
/// use gatewayz_metrics::Metrics;
///
/// let app = App::new()
///     .wrap(HttpMetrics::new(Metrics::new()))
///     .route("/v1/models/{id}", web::get().to(|| async { "model" }));
/// ```
///
/// - The route is the matched template (`/v1/models/{id}`), never the raw path; requests that
///   match no route are labelled [`UNMATCHED_ROUTE`].
/// - The duration runs from the request reaching the middleware to the end of the response
///   body, so a streamed completion is timed to its last chunk, not to its headers.
/// - A request counts as in flight until its body is finished or dropped. A handler error is
///   recorded with its error's status; a client that disconnects before the response is ready
///   is recorded as [`CLIENT_CLOSED_REQUEST`], and one that disconnects mid-body with the status
///   already sent.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    metrics: Metrics,
}

impl HttpMetrics {
    /// A middleware recording through `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        HttpMetrics { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for HttpMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError>,
    B: MessageBody,
{
    type Response = ServiceResponse<TimedBody<B>>;
    type Error = ActixError;
    type Transform = HttpMetricsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(HttpMetricsService {
            service,
            metrics: self.metrics.clone(),
        }))
    }
}

/// The service [`HttpMetrics`] wraps around the application.
#[derive(Debug)]
pub struct HttpMetricsService<S> {
    service: S,
    metrics: Metrics,
}

impl<S, B> Service<ServiceRequest> for HttpMetricsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError>,
    B: MessageBody,
{
    type Response = ServiceResponse<TimedBody<B>>;
    type Error = ActixError;
    type Future = MetricsFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let recording = Recording {
            _in_flight: self.metrics.http_request_started(),
            metrics: self.metrics.clone(),
            method: req.method().clone(),
            route: req.match_pattern(),
            start: Instant::now(),
            status: CLIENT_CLOSED_REQUEST,
        };
        MetricsFuture {
            inner: self.service.call(req),
            recording: Some(recording),
        }
    }
}

/// One request being measured; recorded when dropped, whatever ends it.
struct Recording {
    metrics: Metrics,
    method: Method,
    route: Option<String>,
    start: Instant,
    status: u16,
    /// Dropped after `drop` has recorded, so a request leaves the gauge once it is counted.
    _in_flight: InFlight,
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.metrics.http_request_finished(
            self.method.as_str(),
            self.route.as_deref().unwrap_or(UNMATCHED_ROUTE),
            self.status,
            self.start.elapsed(),
        );
    }
}

pin_project! {
    /// The response future of [`HttpMetricsService`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        recording: Option<Recording>,
    }
}

impl<F> fmt::Debug for MetricsFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsFuture").finish_non_exhaustive()
    }
}

impl<F, B> Future for MetricsFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, ActixError>>,
{
    type Output = Result<ServiceResponse<TimedBody<B>>, ActixError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut recording = this.recording.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(recording) = &mut recording {
                    recording.status = response.status().as_u16();
                }
                Ok(response.map_body(|_, body| TimedBody { body, recording }))
            }
            Err(err) => {
                if let Some(recording) = &mut recording {
                    recording.status = err.as_response_error().status_code().as_u16();
                }
                Err(err)
            }
        })
    }
}

pin_project! {
    /// A response body that records its request when it ends or is dropped.
    pub struct TimedBody<B> {
        #[pin]
        body: B,
        recording: Option<Recording>,
    }
}

impl<B> fmt::Debug for TimedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedBody")
            .field("finished", &self.recording.is_none())
            .finish_non_exhaustive()
    }
}

impl<B: MessageBody> MessageBody for TimedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let next = this.body.poll_next(cx);
        if matches!(next, Poll::Ready(None | Some(Err(_)))) {
            // The body is over (or broken): the request is done now, not when the
            // connection gets around to dropping the body.
            this.recording.take();
        }
        next
    }
}
