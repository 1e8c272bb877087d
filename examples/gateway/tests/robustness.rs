//! Robustness against hostile input: the gateway binary over HTTP, and the registry in process.
//!
//! - Hostile requests (model names with quotes, backslashes, newlines, 10 kB, invalid UTF-8 in
//!   bodies, headers and paths) get a 4xx from the real gateway and add no series.
//! - Seeded pseudo-random methods, paths, query strings, headers and bodies against every route
//!   of the real gateway never get a 5xx, never kill a connection unanswered, never panic.
//! - Hostile model names recorded straight through `gatewayz_metrics::Metrics` (a client cannot
//!   get one past the gateway's 404) keep the exposition valid: `promtool check metrics` passes,
//!   and a real Prometheus scrapes it (`up == 1`) and returns the hostile series on query.
//! - A million distinct model names stay under the `model` cap, in bounded memory.
//!
//! Needs `promtool` and `prometheus` (Debian package `prometheus`; `cargo xtask test` installs
//! it); a test that needs one fails with the fix when it is missing.

mod support;

use std::{
    collections::{BTreeSet, HashMap},
    fs,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    thread,
    time::Duration,
};

use actix_web::App;
use gatewayz_actix::{Monitoring, configure};
use gatewayz_metrics::{ErrorKind, Inference, Metrics, Outcome};
use gatewayz_registry::{
    GatewayzRecorder, RecorderBuilder,
    catalogue::{LABEL_OVERFLOW, MODEL, MODEL_INFERENCE_REQUESTS},
};
use gatewayz_testkit::{
    exposition::{self, Exposition},
    fuzz::Rng,
    prometheus::Prometheus,
    promtool,
    serve::serve,
};
use support::{ADMIN_KEY, Setup, chat};

const CONFIG: &str = r#"
[[providers]]
name = "alpha"
simulated = { latency_median_ms = 0, latency_sigma = 0.0, time_to_first_token_ms = 0, tokens_per_second = 100000, error_rate = 0.0 }
models = [{ name = "good-model", input_price_per_million = 1.0, output_price_per_million = 2.0 }]
"#;

/// Names a client or a careless service could put in the `model` label.
fn hostile_names() -> Vec<String> {
    vec![
        r#"quote"model"#.to_owned(),
        r"back\slash\".to_owned(),
        "new\nline".to_owned(),
        "tab\tand\rcarriage".to_owned(),
        "x".repeat(10 * 1024),
        String::from_utf8_lossy(b"bad\xff\xfeutf8").into_owned(),
        "nul\0byte".to_owned(),
        "# HELP model_inference_requests_total injected".to_owned(),
        r#"model="x",provider="y""#.to_owned(),
        "}{\"le\"=\"+Inf\"}".to_owned(),
        "émoji 🚀 مرحبا".to_owned(),
        "   ".to_owned(),
        "OTHER".to_owned(),
    ]
}

/// One raw HTTP/1.1 exchange on a fresh connection (`Connection: close`): status and body.
/// `None` when the connection ends without a status line, as when a handler panics.
///
/// Raw bytes on purpose: these tests send what no HTTP client would (invalid UTF-8 in the
/// request line and headers, bare newlines, lying lengths), and must see what comes back even
/// when the server resets the connection halfway.
fn exchange(addr: SocketAddr, request: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).expect("the gateway accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).ok()?;
    let mut response = Vec::new();
    // A server may answer before reading the whole body and reset the rest: keep what came.
    let _ = stream.read_to_end(&mut response);
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = std::str::from_utf8(&response[..end])
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, response.split_off(end + 4)))
}

/// A request: method, target, extra header lines (raw bytes), body.
fn request(method: &[u8], target: &[u8], headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n");
    for header in headers {
        out.extend_from_slice(header);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

fn addr(url: &str) -> SocketAddr {
    url.strip_prefix("http://").unwrap().parse().unwrap()
}

fn label_values(exposition: &Exposition, label: &str) -> BTreeSet<String> {
    exposition
        .samples()
        .filter_map(|s| s.label(label).map(str::to_owned))
        .collect()
}

#[actix_web::test]
async fn hostile_requests_get_a_4xx_and_add_no_series() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 100.0);
    let gateway = setup.start(&[]);
    let to = addr(&gateway.url);
    // One good request first, so the series a served request creates exist before counting.
    assert_eq!(
        gateway
            .complete(&key, chat("good-model", false))
            .await
            .status,
        200
    );
    let before = gateway.metrics().await;

    let auth = format!("Authorization: Bearer {key}");
    let auth = auth.as_bytes();
    let json = b"Content-Type: application/json".as_slice();
    let mut cases: Vec<(String, Vec<u8>, u16)> = Vec::new();
    for name in hostile_names() {
        let body = serde_json::to_vec(&chat(&name, false)).unwrap();
        let request = request(b"POST", b"/v1/chat/completions", &[auth, json], &body);
        let expected = if name.trim().is_empty() { 400 } else { 404 };
        cases.push((format!("model {:?}", cut(&name)), request, expected));
    }
    let raw_cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "invalid UTF-8 in the model",
            request(
                b"POST",
                b"/v1/chat/completions",
                &[auth, json],
                b"{\"model\":\"bad\xff\xfe\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            ),
            400,
        ),
        (
            "invalid UTF-8 in the content",
            request(
                b"POST",
                b"/v1/chat/completions",
                &[auth, json],
                b"{\"model\":\"good-model\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}",
            ),
            400,
        ),
        (
            "invalid UTF-8 in the key",
            request(
                b"POST",
                b"/v1/chat/completions",
                &[b"Authorization: Bearer gwz_\xff\xfe", json],
                &serde_json::to_vec(&chat("good-model", false)).unwrap(),
            ),
            401,
        ),
        (
            // Refused by the HTTP parser: bytes above 0x7e are not allowed in a request target.
            "invalid UTF-8 in the path",
            request(b"GET", b"/v1/\xff\xfe", &[auth], b""),
            400,
        ),
        (
            "percent-encoded invalid UTF-8 in the path",
            request(b"GET", b"/v1/%FF%FE/models", &[auth], b""),
            404,
        ),
        (
            "invalid UTF-8 in the summary category",
            request(b"GET", b"/prometheus/metrics/summary?category=\xff", &[], b""),
            400,
        ),
        (
            "a body over the 8 MiB limit",
            request(
                b"POST",
                b"/v1/chat/completions",
                &[auth, json],
                &vec![b'x'; 9 << 20],
            ),
            413,
        ),
        (
            "a nested JSON bomb",
            request(
                b"POST",
                b"/v1/chat/completions",
                &[auth, json],
                &[vec![b'['; 100_000], vec![b']'; 100_000]].concat(),
            ),
            400,
        ),
        (
            "a header line of 10 kB",
            request(
                b"GET",
                b"/v1/models",
                &[format!("X-Long: {}", "y".repeat(10 * 1024)).as_bytes(), auth],
                b"",
            ),
            200,
        ),
    ];
    cases.extend(
        raw_cases
            .into_iter()
            .map(|(what, request, status)| (what.to_owned(), request, status)),
    );
    for (what, request, expected) in &cases {
        let answer = exchange(to, request);
        let (status, body) = answer.unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(
            status,
            *expected,
            "{what}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    let after = gateway.metrics().await;
    let (_, text) = gateway.get("/prometheus/metrics/all", None).await;
    assert_eq!(promtool::check_metrics(&text), "");
    assert_eq!(
        label_values(&after, MODEL.name),
        label_values(&before, MODEL.name),
        "hostile model names became series"
    );
    // Requests are labelled by route template: new series only for new (method, route,
    // status class) combinations, never for paths or names.
    let routes = label_values(&after, "route");
    for route in &routes {
        assert!(
            route == "unmatched" || route.starts_with('/') && !route.contains('\u{fffd}'),
            "route label {route:?}"
        );
    }
    assert!(
        after.series_count() <= before.series_count() + 20,
        "{} series before, {} after",
        before.series_count(),
        after.series_count()
    );
    assert!(!gateway.log().contains("panicked"), "{}", gateway.log());
    gateway.stop();
}

fn cut(name: &str) -> String {
    name.chars().take(40).collect()
}

#[actix_web::test]
async fn random_requests_never_get_a_5xx_from_the_gateway() {
    let setup = Setup::new(CONFIG);
    let key = setup.create_key("paid", 1000.0);
    let gateway = setup.start(&[]);
    let to = addr(&gateway.url);

    let paths: Vec<&[u8]> = vec![
        b"/v1/chat/completions",
        b"/v1/models",
        b"/v1/models/good-model",
        b"/v1/",
        b"/admin/simulator",
        b"/admin/simulator/alpha",
        b"/admin/simulator/unknown",
        b"/admin/providers/alpha/circuit/close",
        b"/admin/providers/alpha/circuit/reset",
        b"/admin/providers/alpha/circuit/explode",
        b"/admin/providers/unknown/circuit/close",
        b"/prometheus/metrics/all",
        b"/prometheus/metrics/providers",
        b"/prometheus/metrics/models",
        b"/prometheus/metrics/business",
        b"/prometheus/metrics/performance",
        b"/prometheus/metrics/system",
        b"/prometheus/metrics/summary",
        b"/prometheus/metrics/docs",
        b"/prometheus/metrics/nope",
        b"/health",
        b"/health/providers",
        b"/",
        b"*",
        b"http://gateway/health",
        b"/%2e%2e/%2e%2e/etc/passwd",
    ];
    let methods: Vec<&[u8]> = vec![
        b"GET", b"GET", b"POST", b"POST", b"HEAD", b"PUT", b"DELETE", b"PATCH", b"OPTIONS",
        b"TRACE", b"BREW", b"G\xffT",
    ];
    let queries: Vec<&[u8]> = vec![
        b"",
        b"?category=models",
        b"?category=",
        b"?category=a&category=b",
        b"?category=%FF",
        b"?=&&==",
        b"?stream=true",
    ];
    let auth = format!("Authorization: Bearer {key}");
    let admin = format!("Authorization: Bearer {ADMIN_KEY}");
    let long = format!("X-Long: {}", "z".repeat(8 * 1024));
    let headers: Vec<&[u8]> = vec![
        auth.as_bytes(),
        auth.as_bytes(),
        admin.as_bytes(),
        b"Authorization: Bearer wrong",
        b"Authorization: Basic Og==",
        b"Authorization: \xff\xfe",
        b"Authorization:",
        b"Content-Type: application/json",
        b"Content-Type: text/plain; charset=\xff",
        b"Accept-Encoding: gzip",
        b"Accept-Encoding: gzip;q=abc,,;",
        b"Origin: https://example.com",
        b"Transfer-Encoding: gzip",
        b"Expect: 100-continue",
        b"X-Forwarded-For: \xc3\x28",
        b"Range: bytes=0-10",
        long.as_bytes(),
    ];
    let good = serde_json::to_vec(&chat("good-model", false)).unwrap();
    let streamed = serde_json::to_vec(&chat("good-model", true)).unwrap();
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"{}".to_vec(),
        b"null".to_vec(),
        b"{\"model\":".to_vec(),
        good.clone(),
        good,
        streamed,
        b"{\"model\":\"good-model\",\"messages\":\"not a list\"}".to_vec(),
        b"{\"model\":\"good-model\",\"messages\":[],\"max_tokens\":-1}".to_vec(),
        b"{\"model\":\"good-model\",\"messages\":[{\"role\":\"user\",\"content\":[1,2,3]}]}"
            .to_vec(),
        // Simulator settings: rejected ones, and a harmless accepted one.
        b"{\"error_rate\": 2}".to_vec(),
        b"{\"tokens_per_second\": 0}".to_vec(),
        b"{\"bogus\": true}".to_vec(),
        b"{\"tokens_per_second\": 50000}".to_vec(),
        b"[]".to_vec(),
    ];

    let mut rng = Rng::new(0x9a7e_0a11_f00d_0002);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for i in 0..1000 {
        let mut target = rng.pick(&paths).to_vec();
        if rng.below(6) == 0 {
            target.extend(rng.target_bytes(30));
        }
        match rng.below(4) {
            0 => {
                target.push(b'?');
                target.extend(rng.target_bytes(200));
            }
            _ => target.extend_from_slice(rng.pick(&queries)),
        }
        let mut chosen: Vec<&[u8]> = Vec::new();
        for _ in 0..rng.below(4) {
            chosen.push(rng.pick(&headers));
        }
        let random_header;
        if rng.below(5) == 0 {
            let mut value = rng.bytes(60);
            value.retain(|b| !matches!(b, b'\r' | b'\n'));
            random_header = [b"X-Random: ".as_slice(), &value].concat();
            chosen.push(&random_header);
        }
        let body = if rng.below(5) == 0 {
            rng.bytes(400)
        } else {
            rng.pick(&bodies)
        };
        let method = rng.pick(&methods);
        let raw = request(method, &target, &chosen, &body);
        let described = || {
            format!(
                "request {i}: {} {} {:?}",
                String::from_utf8_lossy(method),
                String::from_utf8_lossy(&target),
                chosen
                    .iter()
                    .map(|h| String::from_utf8_lossy(h)
                        .chars()
                        .take(60)
                        .collect::<String>())
                    .collect::<Vec<_>>()
            )
        };
        let (status, body) = exchange(to, &raw)
            .unwrap_or_else(|| panic!("{}: no answer\n{}", described(), gateway.log()));
        assert!(
            status < 500,
            "{} got {status}: {}",
            described(),
            String::from_utf8_lossy(&body)
        );
        *statuses.entry(status).or_default() += 1;
    }
    for expected in [200, 400, 401, 404, 405] {
        assert!(
            statuses.get(&expected).is_some_and(|n| *n > 0),
            "no {expected} among {statuses:?}"
        );
    }
    let (status, _) = gateway.get("/health", None).await;
    assert_eq!(status, 200, "the gateway stopped answering");
    assert!(!gateway.log().contains("panicked"), "{}", gateway.log());
    gateway.stop();
}

/// Records one inference per name through the facade into a recorder of its own.
fn record_names<'a>(
    recorder: &GatewayzRecorder,
    metrics: &Metrics,
    names: impl Iterator<Item = &'a str>,
) {
    metrics::with_local_recorder(recorder, || {
        for (i, name) in names.enumerate() {
            metrics.inference_finished(&Inference {
                provider: "openrouter",
                model: name,
                outcome: if i % 5 == 0 {
                    Outcome::Error(ErrorKind::ServerError)
                } else {
                    Outcome::Success
                },
                duration: Duration::from_millis(100 + i as u64 % 900),
                time_to_first_token: Some(Duration::from_millis(50)),
                input_tokens: 10,
                output_tokens: 20,
                cost_usd: 0.000_123,
                credits: 0.000_123,
            });
        }
    });
}

/// A PromQL string literal.
fn promql_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn hostile_model_names_keep_the_exposition_valid_for_promtool_and_prometheus() {
    let recorder = RecorderBuilder::new().build().unwrap();
    let metrics = Metrics::new();
    let names = hostile_names();
    record_names(&recorder, &metrics, names.iter().map(String::as_str));
    let handle = recorder.handle();
    let text = handle.render_all();
    assert_eq!(promtool::check_metrics(&text), "");
    let parsed = exposition::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let models = label_values(&parsed, MODEL.name);
    // Lower-cased, trimmed, cut to 128 bytes, blank as `unknown`; escaped, never broken.
    for expected in [r#"quote"model"#, r"back\slash\", "new\nline", "nul\0byte"] {
        assert!(models.contains(expected), "{expected:?} not in {models:?}");
    }
    assert!(models.contains(&"x".repeat(128)), "{models:?}");
    assert!(models.contains("unknown"), "{models:?}");

    let monitoring = Monitoring::new(handle);
    let (addr, server) = serve(1, move || {
        App::new().configure(configure(monitoring.clone()))
    });
    let dir = tempfile::tempdir().unwrap();
    let prometheus = Prometheus::start(dir.path(), |_| {
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: hostile\n    metrics_path: /prometheus/metrics/all\n    static_configs:\n      - targets: ['{addr}']\n"
        )
    });
    let up = prometheus.wait_for("up", Duration::from_secs(60));
    assert_eq!(up[0].value, 1.0, "the scrape failed: {up:?}");
    for name in [r#"quote"model"#, r"back\slash\", "new\nline"] {
        let promql = format!(
            "{}{{model={}}}",
            MODEL_INFERENCE_REQUESTS.name,
            promql_string(name)
        );
        let result = prometheus.wait_for(&promql, Duration::from_secs(60));
        assert!(
            result.iter().all(|s| s.label("model") == name),
            "{promql}: {result:?}"
        );
    }
    // Every series we expose arrived, none split or merged by escaping.
    let count = prometheus.wait_for(
        &format!("count({})", MODEL_INFERENCE_REQUESTS.name),
        Duration::from_secs(60),
    );
    let ours = parsed
        .family(MODEL_INFERENCE_REQUESTS.name)
        .unwrap()
        .samples
        .len();
    assert_eq!(count[0].value, ours as f64, "{count:?}");
    drop(prometheus);
    actix_web::rt::System::new().block_on(server.stop(false));
}

/// Resident memory of this process, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Registers and counts one inference request per name straight through the recorder, as a
/// service's `counter!` with a dynamic model label would.
fn count_names(
    recorder: &GatewayzRecorder,
    names: std::ops::Range<usize>,
    name: fn(usize) -> String,
) {
    let metadata = metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
    for i in names {
        let labels = vec![
            metrics::Label::new("provider", "openrouter"),
            metrics::Label::new("model", name(i)),
            metrics::Label::new("status", "success"),
        ];
        let key = metrics::Key::from_parts(MODEL_INFERENCE_REQUESTS.name, labels);
        metrics::Recorder::register_counter(recorder, &key, &metadata).increment(1);
    }
}

#[test]
fn a_million_distinct_model_names_stay_under_the_cap_in_bounded_memory() {
    // The first names through the facade, past its handle cache (8,192 pairs) and the model
    // cap (500); the rest straight through the recorder, on two threads, which is what a debug
    // build can do in seconds (the facade's 13 updates per inference would take minutes).
    const FACADE: usize = 20_000;
    const EARLY: usize = 100_000;
    const TOTAL: usize = 1_000_000;
    // 64-byte names: were they kept, a million would hold at least 64 MB of text alone.
    fn name(i: usize) -> String {
        format!("model-{i:058}")
    }
    let recorder = RecorderBuilder::new().build().unwrap();
    let metrics = Metrics::new();
    let facade_names: Vec<String> = (0..FACADE).map(name).collect();
    record_names(&recorder, &metrics, facade_names.iter().map(String::as_str));
    count_names(&recorder, FACADE..EARLY, name);
    let handle = recorder.handle();
    let series_early = handle.series_count();
    let rss_early = rss_bytes();
    let middle = EARLY + (TOTAL - EARLY) / 2;
    thread::scope(|scope| {
        scope.spawn(|| count_names(&recorder, EARLY..middle, name));
        scope.spawn(|| count_names(&recorder, middle..TOTAL, name));
    });
    let rss_late = rss_bytes();

    let text = handle.render_all();
    let parsed = exposition::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let models = label_values(&parsed, MODEL.name);
    // The catalogue's cap on `model`, plus `other` standing in for the rest.
    assert!(models.len() <= 501, "{} model values", models.len());
    assert!(models.contains("other"), "{models:?}");
    assert_eq!(
        handle.series_count(),
        series_early,
        "series grew past the cap"
    );
    assert!(
        parsed.sum(LABEL_OVERFLOW.name, &[("label", MODEL.name)]) > 0.0,
        "overflow is not counted"
    );
    assert_eq!(
        parsed.sum(MODEL_INFERENCE_REQUESTS.name, &[]),
        TOTAL as f64,
        "every inference is still counted"
    );
    let growth = rss_late.saturating_sub(rss_early);
    eprintln!(
        "resident memory: {} MiB after {EARLY} names, {} MiB after {TOTAL}",
        rss_early >> 20,
        rss_late >> 20
    );
    assert!(
        growth < 32 << 20,
        "resident memory grew by {} MiB over 900,000 more names",
        growth >> 20
    );
    assert_eq!(promtool::check_metrics(&text), "");
}
