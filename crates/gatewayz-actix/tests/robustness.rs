//! Robustness: exact counts under concurrent recording and scraping, and fuzzed requests.
//!
//! - Eight threads record inferences for 10 s while another scrapes every endpoint of a real
//!   server over loopback; every scrape parses, counters never go back, and at the end the
//!   counters equal exactly what was recorded (and the HTTP metrics exactly what was scraped).
//! - Seeded pseudo-random requests (methods, paths, query strings, headers, bodies) against
//!   every monitoring route, with authentication, admin endpoints, CORS and the HTTP metrics
//!   middleware all on, never get a 5xx and never panic.
//!
//! The load test installs this binary's global recorder (the server's worker threads record
//! the HTTP metrics through it); the fuzz test uses a thread-local recorder of its own.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use actix_web::{
    App,
    http::{
        Method,
        header::{HeaderName, HeaderValue},
    },
    test::{self as actix_test},
};
use gatewayz_actix::{
    Admin, AdminActions, Auth, CircuitAction, Cors, Error, HttpMetrics, Monitoring, configure,
};
use gatewayz_metrics::{ErrorKind, Inference, Metrics, Outcome};
use gatewayz_registry::{
    RecorderBuilder,
    catalogue::{
        COST_USD, HTTP_REQUESTS, MODEL_INFERENCE_DURATION, MODEL_INFERENCE_REQUESTS, TOKENS_USED,
    },
};
use gatewayz_testkit::{
    exposition::{self, Exposition},
    fuzz::Rng,
    serve::{self, serve},
};
use serde_json::Value;

const RECORDERS: usize = 8;
const LOAD_SECONDS: u64 = 10;

/// Every GET endpoint the scraper reads, as its route template is labelled.
const SCRAPED: &[&str] = &[
    "/prometheus/metrics/all",
    "/prometheus/metrics/providers",
    "/prometheus/metrics/models",
    "/prometheus/metrics/business",
    "/prometheus/metrics/performance",
    "/prometheus/metrics/system",
    "/prometheus/metrics/summary",
    "/prometheus/metrics/docs",
    "/health",
    "/health/providers",
];

/// What one recording thread recorded, keyed by (provider, model).
#[derive(Default)]
struct Tally {
    requests: HashMap<(String, String, &'static str), u64>,
    input_tokens: HashMap<(String, String), u64>,
    output_tokens: HashMap<(String, String), u64>,
    cost_nano: HashMap<(String, String), u64>,
    timed: HashMap<(String, String), u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (k, v) in other.requests {
            *self.requests.entry(k).or_default() += v;
        }
        for (mine, theirs) in [
            (&mut self.input_tokens, other.input_tokens),
            (&mut self.output_tokens, other.output_tokens),
            (&mut self.cost_nano, other.cost_nano),
            (&mut self.timed, other.timed),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_default() += v;
            }
        }
    }
}

/// Records inferences until `stop`, varying pairs, outcomes, tokens and costs.
fn record_until(thread: usize, stop: &AtomicBool) -> Tally {
    let metrics = Metrics::new();
    let mut tally = Tally::default();
    let mut i: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let provider = format!("load-provider-{}", (thread + i as usize) % 3);
        let model = format!("load-model-{}", i % 5);
        let outcome = match i % 10 {
            0 => Outcome::Error(ErrorKind::Timeout),
            1 => Outcome::Error(ErrorKind::ServerError),
            _ => Outcome::Success,
        };
        let (input, output) = (1 + i % 7, 1 + i % 11);
        // Whole nano-dollars, so the expected totals are exact.
        let cost_nano = 1000 * (1 + i % 13);
        metrics.inference_finished(&Inference {
            provider: &provider,
            model: &model,
            outcome,
            duration: Duration::from_millis(10 + i % 500),
            time_to_first_token: None,
            input_tokens: input,
            output_tokens: output,
            cost_usd: cost_nano as f64 / 1e9,
            credits: 0.0,
        });
        let status = if outcome == Outcome::Success {
            "success"
        } else {
            "error"
        };
        let pair = (provider, model);
        *tally
            .requests
            .entry((pair.0.clone(), pair.1.clone(), status))
            .or_default() += 1;
        *tally.input_tokens.entry(pair.clone()).or_default() += input;
        *tally.output_tokens.entry(pair.clone()).or_default() += output;
        *tally.cost_nano.entry(pair.clone()).or_default() += cost_nano;
        *tally.timed.entry(pair).or_default() += 1;
        i += 1;
    }
    tally
}

/// One GET: status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let response = gatewayz_testkit::http::Http::default()
        .get(&format!("http://{addr}{path}"), None)
        .unwrap_or_else(|e| panic!("{e}"));
    (response.status, response.body)
}

fn parse(path: &str, body: &[u8]) -> Exposition {
    let text = std::str::from_utf8(body).unwrap_or_else(|e| panic!("{path}: {e}"));
    exposition::parse(text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

#[test]
fn eight_recorders_and_a_scraper_agree_exactly_after_ten_seconds() {
    let handle = RecorderBuilder::new()
        .install()
        .expect("only this test installs the global recorder");
    let monitoring = Monitoring::new(handle.clone());
    let metrics = Metrics::new();
    let (addr, server) = serve(2, move || {
        App::new()
            .wrap(HttpMetrics::new(metrics.clone()))
            .configure(configure(monitoring.clone()))
    });

    let stop = AtomicBool::new(false);
    let mut scrapes: HashMap<&str, u64> = HashMap::new();
    let tally = thread::scope(|scope| {
        let recorders: Vec<_> = (0..RECORDERS)
            .map(|t| {
                let stop = &stop;
                scope.spawn(move || record_until(t, stop))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
        let (mut requests_seen, mut tokens_seen) = (0.0, 0);
        while Instant::now() < deadline {
            for path in SCRAPED {
                let (status, body) = get(addr, path);
                assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
                *scrapes.entry(path).or_default() += 1;
                if path.ends_with("/docs") {
                    continue;
                }
                if path.starts_with("/health") || path.ends_with("/summary") {
                    let json: Value = serde_json::from_slice(&body)
                        .unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
                    if path.ends_with("/summary") {
                        let tokens = json["metrics"]["models"]["tokens_used_total"]
                            .as_u64()
                            .unwrap();
                        assert!(
                            tokens >= tokens_seen,
                            "tokens went back: {tokens} < {tokens_seen}"
                        );
                        tokens_seen = tokens;
                    }
                    continue;
                }
                let parsed = parse(path, &body);
                if path.ends_with("/all") {
                    let requests = parsed.sum(MODEL_INFERENCE_REQUESTS.name, &[]);
                    assert!(
                        requests >= requests_seen,
                        "requests went back: {requests} < {requests_seen}"
                    );
                    requests_seen = requests;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for recorder in recorders {
            tally.merge(recorder.join().unwrap());
        }
        tally
    });

    let (status, body) = get(addr, "/prometheus/metrics/all");
    assert_eq!(status, 200);
    let all = parse("/prometheus/metrics/all", &body);
    let recorded: u64 = tally.requests.values().sum();
    eprintln!("{recorded} inferences recorded while scraping {scrapes:?}");
    assert!(
        recorded > 10_000,
        "only {recorded} inferences in {LOAD_SECONDS} s: the test says little"
    );
    assert!(
        scrapes.values().all(|n| *n >= 3),
        "too few scrapes: {scrapes:?}"
    );
    for ((provider, model, status), count) in &tally.requests {
        let labels = [
            ("provider", provider.as_str()),
            ("model", model.as_str()),
            ("status", *status),
        ];
        assert_eq!(
            all.value(MODEL_INFERENCE_REQUESTS.name, &labels),
            *count as f64,
            "{labels:?}"
        );
    }
    for ((provider, model), timed) in &tally.timed {
        let pair = [("provider", provider.as_str()), ("model", model.as_str())];
        let count = format!("{}_count", MODEL_INFERENCE_DURATION.name);
        assert_eq!(all.value(&count, &pair), *timed as f64, "{pair:?}");
        for (token_type, tokens) in [
            ("input", &tally.input_tokens),
            ("output", &tally.output_tokens),
        ] {
            let labels = [pair[0], pair[1], ("token_type", token_type)];
            assert_eq!(
                all.value(TOKENS_USED.name, &labels),
                tokens[&(provider.clone(), model.clone())] as f64,
                "{labels:?}"
            );
        }
        // Exact decimal dollars: the nano-dollar total, rounded once to the nearest f64.
        let cost = tally.cost_nano[&(provider.clone(), model.clone())];
        assert_eq!(
            all.value(COST_USD.name, &pair),
            cost as f64 / 1e9,
            "{pair:?}"
        );
    }
    let summary: Value =
        serde_json::from_slice(&get(addr, "/prometheus/metrics/summary").1).unwrap();
    let tokens: u64 = tally
        .input_tokens
        .values()
        .chain(tally.output_tokens.values())
        .sum();
    assert_eq!(summary["metrics"]["models"]["tokens_used_total"], tokens);

    // The middleware counts a request when its body is done, which can be a moment after the
    // client has read it: wait for the counts to settle, then they must be exact.
    let settle = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, body) = get(addr, "/prometheus/metrics/system");
        let system = parse("/prometheus/metrics/system", &body);
        let mismatches: Vec<String> = SCRAPED
            .iter()
            .filter_map(|path| {
                let labels = [("method", "GET"), ("route", *path), ("status_class", "2xx")];
                let counted = system.value(HTTP_REQUESTS.name, &labels);
                // The final `/all` and summary reads, and the `/system` reads of this loop so far.
                let extra = match *path {
                    "/prometheus/metrics/all" | "/prometheus/metrics/summary" => 1,
                    _ => 0,
                };
                let expected = scrapes[path] + extra;
                (counted as u64 != expected).then(|| format!("{path}: {counted} != {expected}"))
            })
            .filter(|m| !m.starts_with("/prometheus/metrics/system"))
            .collect();
        if mismatches.is_empty() {
            break;
        }
        assert!(Instant::now() < settle, "HTTP counts: {mismatches:?}");
        thread::sleep(Duration::from_millis(50));
    }
    serve::stop(server);
}

/// Knows two providers; every action on them succeeds.
struct Host;

impl AdminActions for Host {
    fn force_circuit(&self, provider: &str, _: CircuitAction) -> Result<(), Error> {
        match provider {
            "openrouter" | "groq" => Ok(()),
            other => Err(Error::UnknownProvider {
                provider: other.chars().take(64).collect(),
            }),
        }
    }
}

const METRICS_TOKEN: &str = "fuzz-metrics-token-0123456789";
const ADMIN_KEY: &str = "fuzz-admin-key-0123456789abcdef";

#[actix_web::test]
async fn random_requests_to_every_monitoring_route_never_get_a_5xx() {
    // A recorder for this thread only: the other test owns the global one.
    let recorder = RecorderBuilder::new().build().unwrap();
    let _local = metrics::set_default_local_recorder(&recorder);
    let metrics = Metrics::new();
    metrics.inference_finished(&Inference {
        provider: "openrouter",
        model: "m",
        outcome: Outcome::Success,
        duration: Duration::from_millis(100),
        ..Inference::default()
    });
    let actions: Arc<dyn AdminActions> = Arc::new(Host);
    let monitoring = Monitoring::new(recorder.handle())
        .auth(
            Auth::default()
                .with_bearer(METRICS_TOKEN)
                .unwrap()
                .with_basic("prometheus", "hunter2")
                .unwrap(),
        )
        .admin(Admin::new(ADMIN_KEY, actions).unwrap())
        .cors(Cors::any_origin());
    let app = actix_test::init_service(
        App::new()
            .wrap(HttpMetrics::new(metrics.clone()))
            .configure(configure(monitoring)),
    )
    .await;

    // Every real endpoint, then near misses and hostile paths.
    let paths: Vec<&str> = SCRAPED
        .iter()
        .copied()
        .chain([
            "/prometheus/metrics/",
            "/prometheus/metrics/all/",
            "/prometheus/metrics/ALL",
            "/prometheus/metrics/%FF%FE",
            "/prometheus/metrics/..%2F..%2Fetc%2Fpasswd",
            "/prometheus",
            "/health/",
            "/health/providers/x",
            "/admin/providers/openrouter/circuit/open",
            "/admin/providers/groq/circuit/close",
            "/admin/providers/openrouter/circuit/reset",
            "/admin/providers/unknown/circuit/open",
            "/admin/providers/openrouter/circuit/explode",
            "/admin/providers/%22%5C%0A/circuit/open",
            "/admin/providers//circuit/open",
            "/",
            "//",
            "/%00",
        ])
        .collect();
    let methods: &[&str] = &[
        "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW",
        "X-CUSTOM",
    ];
    let queries: &[&str] = &[
        "",
        "category=providers",
        "category=models&category=business",
        "category=",
        "category=unknown",
        "category=%FF%FE",
        "category",
        "=&&==&",
        "a=%",
        "category=%E2%82%AC",
    ];
    let long = "x".repeat(5000);
    let basic_ok = format!("Basic {}", "cHJvbWV0aGV1czpodW50ZXIy");
    let bearer_ok = format!("Bearer {METRICS_TOKEN}");
    let admin_ok = format!("Bearer {ADMIN_KEY}");
    let bearer_long = format!("Bearer {long}");
    let authorizations: &[&[u8]] = &[
        bearer_ok.as_bytes(),
        bearer_ok.as_bytes(),
        bearer_ok.as_bytes(),
        admin_ok.as_bytes(),
        basic_ok.as_bytes(),
        b"Bearer wrong",
        b"Bearer ",
        b"Basic !!!not-base64!!!",
        b"Basic Og==",
        b"Basic",
        b"Digest username=\"x\"",
        bearer_long.as_bytes(),
        b"Bearer \xff\xfe\xfd",
        b"\x80\x81",
    ];
    let encodings: &[&[u8]] = &[
        b"gzip",
        b"gzip;q=0",
        b"identity;q=0",
        b"*;q=0",
        b"br;q=1.0, gzip;q=0.5, *;q=0.1",
        b"gzip;q=abc;;,,",
        b"\xff\xfe",
    ];
    let origins: &[&[u8]] = &[
        b"https://grafana.example.com",
        b"null",
        b"http://[::1",
        b"\xc3\x28",
    ];

    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for i in 0..10_000 {
        let method = Method::from_bytes(rng.pick(methods).as_bytes()).unwrap();
        let mut path = rng.pick(&paths).to_owned();
        if rng.below(8) == 0 {
            path.push_str(&rng.uri_text(40));
        }
        let query = match rng.below(6) {
            0 => rng.uri_text(200),
            1 => long.clone(),
            _ => rng.pick(queries).to_owned(),
        };
        let uri = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let mut request = actix_test::TestRequest::default()
            .method(method.clone())
            .uri(&uri)
            .peer_addr("127.0.0.1:40000".parse().unwrap());
        let mut headers = Vec::new();
        if rng.below(3) != 0 {
            headers.push(("authorization", rng.pick(authorizations).to_vec()));
        }
        if rng.below(2) == 0 {
            headers.push(("accept-encoding", rng.pick(encodings).to_vec()));
        }
        if rng.below(3) == 0 {
            headers.push(("origin", rng.pick(origins).to_vec()));
        }
        if rng.below(4) == 0 {
            headers.push(("access-control-request-method", b"GET".to_vec()));
        }
        if rng.below(4) == 0 {
            headers.push(("x-random", rng.bytes(64)));
        }
        for (name, value) in &headers {
            // Bytes no header may carry (CR, LF, NUL) never reach a server; skip those values.
            if let Ok(value) = HeaderValue::from_bytes(value) {
                request = request.insert_header((HeaderName::from_static(name), value));
            }
        }
        if rng.below(3) == 0 {
            request = request.set_payload(rng.bytes(300));
        }
        let response = actix_test::call_service(&app, request.to_request()).await;
        let status = response.status().as_u16();
        let body = actix_test::read_body(response).await;
        assert!(
            status < 500,
            "request {i}: {method} {uri} with {headers:?} got {status}: {}",
            String::from_utf8_lossy(&body)
        );
        *statuses.entry(status).or_default() += 1;
    }
    // The fuzzing reached the handlers, not only the router's 404.
    for expected in [200, 400, 401, 404, 405] {
        assert!(
            statuses.get(&expected).is_some_and(|n| *n > 0),
            "no {expected} among {statuses:?}"
        );
    }
    let text = recorder.handle().render_all();
    assert_eq!(gatewayz_testkit::promtool::check_metrics(&text), "");
}
