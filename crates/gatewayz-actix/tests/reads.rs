//! How the endpoints read the metrics source: off the async workers when slow, inline once
//! proved cheap, shared by concurrent requests, and never older than the request.

mod support;

use std::{
    future::{Future, poll_fn},
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::Poll,
    thread::{self, ThreadId},
    time::Duration,
};

use actix_web::{dev::Service, http::StatusCode, test};
use gatewayz_actix::{Error, MetricsSource, Monitoring, configure};
use gatewayz_registry::{Category, Handle, Summary, catalogue};
use gatewayz_testkit::exposition;
use support::{get, recorder};

/// A source that renders, then takes `delay` before answering, and notes where it ran.
struct Slow {
    handle: Handle,
    delay: Duration,
    renders: AtomicUsize,
    threads: Mutex<Vec<ThreadId>>,
}

impl Slow {
    fn new(handle: Handle, delay: Duration) -> Arc<Self> {
        Arc::new(Slow {
            handle,
            delay,
            renders: AtomicUsize::new(0),
            threads: Mutex::default(),
        })
    }
}

impl MetricsSource for Slow {
    fn render(&self, category: Option<Category>) -> Result<String, Error> {
        self.threads.lock().unwrap().push(thread::current().id());
        let text = MetricsSource::render(&self.handle, category);
        self.renders.fetch_add(1, Ordering::SeqCst);
        thread::sleep(self.delay);
        text
    }

    fn summarise(&self, category: Option<Category>) -> Result<Summary, Error> {
        self.handle.summarise(category)
    }
}

/// Polls all of `futures` together until each is done.
async fn join_all<F: Future>(futures: Vec<Pin<Box<F>>>) -> Vec<F::Output> {
    let mut futures = futures;
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

/// Polls `future` once, so that it gets as far as it can without waiting.
async fn start<F: Future + ?Sized>(future: &mut Pin<Box<F>>) {
    poll_fn(|cx| {
        assert!(future.as_mut().poll(cx).is_pending(), "finished at once");
        Poll::Ready(())
    })
    .await;
}

async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("timed out");
}

#[actix_web::test]
async fn a_slow_render_never_runs_on_the_async_worker() {
    let source = Slow::new(recorder().handle(), Duration::from_millis(2));
    let app = test::init_service(
        actix_web::App::new().configure(configure(Monitoring::from_source(source.clone()))),
    )
    .await;
    for _ in 0..3 {
        let response = test::call_service(&app, get("/prometheus/metrics/all").to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let worker = thread::current().id();
    let threads = source.threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 3);
    assert!(
        threads.iter().all(|t| *t != worker),
        "{threads:?} {worker:?}"
    );
}

#[actix_web::test]
async fn a_render_proved_cheap_runs_inline() {
    let source = Slow::new(recorder().handle(), Duration::ZERO);
    let app = test::init_service(
        actix_web::App::new().configure(configure(Monitoring::from_source(source.clone()))),
    )
    .await;
    for _ in 0..20 {
        let response =
            test::call_service(&app, get("/prometheus/metrics/system").to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let worker = thread::current().id();
    let threads = source.threads.lock().unwrap().clone();
    assert_ne!(
        threads[0], worker,
        "the first read's cost is unknown: off the worker"
    );
    // Then it is known to be cheap; on a busy machine a preempted read may look dear for a
    // few reads, so only the last ones are checked.
    assert_eq!(threads[15..], [worker; 5], "{threads:?}");
}

fn cache_hits(body: &[u8]) -> f64 {
    let text = std::str::from_utf8(body).unwrap();
    exposition::parse(text)
        .unwrap()
        .sum(catalogue::CACHE_HITS.name, &[("cache", "api_keys")])
}

#[actix_web::test]
async fn concurrent_requests_share_one_read_that_started_after_they_arrived() {
    let recorder = recorder();
    let source = Slow::new(recorder.handle(), Duration::from_millis(100));
    let app = test::init_service(
        actix_web::App::new().configure(configure(Monitoring::from_source(source.clone()))),
    )
    .await;
    let mut first = Box::pin(app.call(get("/prometheus/metrics/performance").to_request()));
    start(&mut first).await;
    wait_until(|| source.renders.load(Ordering::SeqCst) == 1).await;
    // Recorded after the first read took its snapshot, before the others arrive.
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!(catalogue::CACHE_HITS.name, "cache" => "api_keys").increment(1);
    });
    let mut requests = vec![first];
    for _ in 0..4 {
        requests.push(Box::pin(
            app.call(get("/prometheus/metrics/performance").to_request()),
        ));
    }
    let mut bodies = Vec::new();
    for response in join_all(requests).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        bodies.push(test::read_body(response).await);
    }
    assert_eq!(
        source.renders.load(Ordering::SeqCst),
        2,
        "five requests, two reads"
    );
    assert_eq!(cache_hits(&bodies[0]), 0.0);
    for body in &bodies[1..] {
        assert_eq!(cache_hits(body), 1.0, "an answer older than its request");
    }
}

#[actix_web::test]
async fn a_client_that_leaves_does_not_strand_the_requests_sharing_its_read() {
    let source = Slow::new(recorder().handle(), Duration::from_millis(50));
    let app = test::init_service(
        actix_web::App::new().configure(configure(Monitoring::from_source(source.clone()))),
    )
    .await;
    let mut leader = Box::pin(app.call(get("/prometheus/metrics/all").to_request()));
    start(&mut leader).await;
    let mut follower = Box::pin(app.call(get("/prometheus/metrics/all").to_request()));
    start(&mut follower).await;
    drop(leader);
    let response = actix_web::rt::time::timeout(Duration::from_secs(5), follower)
        .await
        .expect("the follower was stranded")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
