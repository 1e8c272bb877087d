//! The HTTP metrics middleware: labels by route template, times bodies to their end, counts
//! failures and disconnects.

mod support;

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use actix_web::{
    App, HttpResponse,
    body::{BodySize, MessageBody},
    dev::Service,
    http::StatusCode,
    rt::time::{Sleep, sleep, timeout},
    test,
    web::{self, Bytes},
};
use gatewayz_actix::{HttpMetrics, Monitoring, configure};
use gatewayz_metrics::Metrics;
use gatewayz_registry::{Handle, catalogue};
use gatewayz_testkit::exposition;
use support::{get, recorder};

fn parsed(handle: &Handle) -> exposition::Exposition {
    exposition::parse(&handle.render_all()).unwrap()
}

/// `http_requests_total` for these labels; 0 when the series does not exist.
fn requests(handle: &Handle, labels: &[(&str, &str)]) -> f64 {
    parsed(handle).sum(catalogue::HTTP_REQUESTS.name, labels)
}

fn in_flight(handle: &Handle) -> f64 {
    parsed(handle).value(catalogue::HTTP_REQUESTS_IN_FLIGHT.name, &[])
}

fn duration_sum(handle: &Handle, route: &str) -> f64 {
    let name = format!("{}_sum", catalogue::HTTP_REQUEST_DURATION.name);
    parsed(handle).sum(&name, &[("route", route)])
}

/// A body of `chunks` chunks, each after `pause`.
struct SlowBody {
    chunks: u32,
    pause: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl SlowBody {
    fn new(chunks: u32, pause: Duration) -> Self {
        SlowBody {
            chunks,
            pause,
            sleep: Box::pin(sleep(pause)),
        }
    }
}

impl MessageBody for SlowBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        if self.chunks == 0 {
            return Poll::Ready(None);
        }
        ready!(self.sleep.as_mut().poll(cx));
        self.chunks -= 1;
        let next = actix_web::rt::time::Instant::now() + self.pause;
        self.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Bytes::from_static(b"data: token\n\n"))))
    }
}

/// A host service: a few routes of its own, the monitoring endpoints, and the middleware.
macro_rules! host_app {
    ($metrics:expr, $handle:expr) => {
        test::init_service(
            App::new()
                .wrap(HttpMetrics::new($metrics))
                .configure(configure(Monitoring::new($handle)))
                .route("/v1/models/{id}", web::get().to(|| async { "a model" }))
                .route(
                    "/v1/chat/completions",
                    web::post().to(|| async {
                        HttpResponse::Ok().body(SlowBody::new(3, Duration::from_millis(60)))
                    }),
                )
                .route(
                    "/v1/fail",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(actix_web::error::ErrorBadGateway("upstream broke"))
                    }),
                )
                .route(
                    "/v1/slow",
                    web::get().to(|| async {
                        sleep(Duration::from_secs(30)).await;
                        "too late"
                    }),
                ),
        )
        .await
    };
}

#[actix_web::test]
async fn requests_are_labelled_by_route_template_not_path() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = host_app!(Metrics::new(), handle.clone());
    for id in ["gpt-4o", "llama-3.1-8b", "claude%20sonnet"] {
        let response =
            test::call_service(&app, get(&format!("/v1/models/{id}")).to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        test::read_body(response).await;
    }
    let labels = [
        ("method", "GET"),
        ("route", "/v1/models/{id}"),
        ("status_class", "2xx"),
    ];
    assert_eq!(requests(&handle, &labels), 3.0);
    let exposition = parsed(&handle);
    let routes: Vec<&str> = exposition
        .samples()
        .filter_map(|s| s.label("route"))
        .collect();
    assert!(
        routes
            .iter()
            .all(|r| !r.contains("gpt") && !r.contains("llama")),
        "{routes:?}"
    );
    let count = format!("{}_count", catalogue::HTTP_REQUEST_DURATION.name);
    assert_eq!(exposition.value(&count, &labels), 3.0);
}

#[actix_web::test]
async fn unmatched_paths_share_one_label() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = host_app!(Metrics::new(), handle.clone());
    for path in [
        "/wp-admin.php",
        "/random/1",
        "/random/2",
        "/prometheus/metrics/nope",
    ] {
        let response = test::call_service(&app, get(path).to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        test::read_body(response).await;
    }
    let labels = [("route", "unmatched"), ("status_class", "4xx")];
    assert_eq!(requests(&handle, &labels), 4.0);
    assert_eq!(requests(&handle, &[]), 4.0, "no other series");
}

#[actix_web::test]
async fn the_monitoring_endpoints_are_counted_by_their_own_templates() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = host_app!(Metrics::new(), handle.clone());
    for path in [
        "/prometheus/metrics/summary?category=models",
        "/prometheus/metrics/all",
        "/health",
    ] {
        let response = test::call_service(&app, get(path).to_request()).await;
        test::read_body(response).await;
    }
    let post = test::TestRequest::post()
        .uri("/prometheus/metrics/all")
        .to_request();
    test::read_body(test::call_service(&app, post).await).await;
    for (route, method, class) in [
        ("/prometheus/metrics/summary", "GET", "2xx"),
        ("/prometheus/metrics/all", "GET", "2xx"),
        ("/prometheus/metrics/all", "POST", "4xx"),
        ("/health", "GET", "2xx"),
    ] {
        let labels = [
            ("route", route),
            ("method", method),
            ("status_class", class),
        ];
        assert_eq!(requests(&handle, &labels), 1.0, "{labels:?}");
    }
}

#[actix_web::test]
async fn a_streamed_body_is_timed_to_its_end_and_in_flight_until_then() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = host_app!(Metrics::new(), handle.clone());
    let route = "/v1/chat/completions";
    let request = test::TestRequest::post().uri(route).to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Headers are out; the body is not.
    assert_eq!(requests(&handle, &[("route", route)]), 0.0);
    assert_eq!(in_flight(&handle), 1.0);

    let body = test::read_body(response).await;
    assert_eq!(body.len(), 3 * b"data: token\n\n".len());
    assert_eq!(
        requests(&handle, &[("route", route), ("status_class", "2xx")]),
        1.0
    );
    assert_eq!(in_flight(&handle), 0.0);
    let seconds = duration_sum(&handle, route);
    assert!(seconds >= 0.18, "timed to the headers only: {seconds} s");
}

#[actix_web::test]
async fn handler_errors_are_counted_with_their_status() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = host_app!(Metrics::new(), handle.clone());
    let response = test::call_service(&app, get("/v1/fail").to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    test::read_body(response).await;
    assert_eq!(
        requests(&handle, &[("route", "/v1/fail"), ("status_class", "5xx")]),
        1.0
    );
    assert_eq!(in_flight(&handle), 0.0);
}

#[actix_web::test]
async fn errors_from_inner_middleware_are_counted_with_their_status() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = test::init_service(
        App::new()
            .wrap_fn(|_req, _srv| async {
                Err::<actix_web::dev::ServiceResponse, _>(
                    actix_web::error::ErrorServiceUnavailable("shedding load"),
                )
            })
            .wrap(HttpMetrics::new(Metrics::new()))
            .route("/v1/models", web::get().to(|| async { "models" })),
    )
    .await;
    let result = test::try_call_service(&app, get("/v1/models").to_request()).await;
    assert!(result.is_err());
    assert_eq!(
        requests(&handle, &[("route", "/v1/models"), ("status_class", "5xx")]),
        1.0
    );
    assert_eq!(in_flight(&handle), 0.0);
}

#[actix_web::test]
async fn a_client_that_goes_away_is_counted_and_leaves_in_flight() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = host_app!(Metrics::new(), handle.clone());
    let pending = app.call(get("/v1/slow").to_request());
    // The connection closes while the handler still works: actix drops the future.
    assert!(timeout(Duration::from_millis(50), pending).await.is_err());
    assert_eq!(in_flight(&handle), 0.0);
    assert_eq!(
        requests(&handle, &[("route", "/v1/slow"), ("status_class", "4xx")]),
        1.0
    );
}

#[actix_web::test]
async fn a_body_dropped_half_way_is_still_counted() {
    let recorder = recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = host_app!(Metrics::new(), handle.clone());
    let request = test::TestRequest::post()
        .uri("/v1/chat/completions")
        .to_request();
    let response = test::call_service(&app, request).await;
    let mut body = Box::pin(response.into_body());
    let first = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await;
    assert!(first.is_some());
    drop(body);
    let route = "/v1/chat/completions";
    assert_eq!(
        requests(&handle, &[("route", route), ("status_class", "2xx")]),
        1.0
    );
    assert_eq!(in_flight(&handle), 0.0);
}
