//! The example search service, built and run as a user would run it: its binary against a
//! simulated embeddings provider on loopback, then its own monitoring endpoints read back.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
};

use actix_web::{App, HttpResponse, web};
use gatewayz_testkit::{exposition::parse, promtool, serve};
use serde_json::{Value, json};

/// Embeds by counting the letters a–z of each input, as a provider would answer; 503 while
/// `failing`.
fn provider(failing: Arc<AtomicBool>, calls: Arc<AtomicU32>) -> std::net::SocketAddr {
    let (addr, _server) = serve::serve(1, move || {
        let (failing, calls) = (Arc::clone(&failing), Arc::clone(&calls));
        App::new().route(
            "/v1/embeddings",
            web::post().to(move |body: web::Json<Value>| {
                let (failing, calls) = (Arc::clone(&failing), Arc::clone(&calls));
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if failing.load(Ordering::SeqCst) {
                        return HttpResponse::ServiceUnavailable().finish();
                    }
                    let inputs = body["input"].as_array().cloned().unwrap_or_default();
                    let data: Vec<Value> = inputs
                        .iter()
                        .map(|text| {
                            let text = text.as_str().unwrap_or_default();
                            let vector: Vec<f64> = ('a'..='z')
                                .map(|c| text.chars().filter(|t| *t == c).count() as f64)
                                .collect();
                            json!({ "embedding": vector })
                        })
                        .collect();
                    HttpResponse::Ok()
                        .json(json!({ "data": data, "usage": { "prompt_tokens": 50 } }))
                }
            }),
        )
    });
    addr
}

/// The service's binary, serving on an ephemeral port; killed when dropped.
struct Service {
    child: Child,
    addr: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(upstream: std::net::SocketAddr) -> Service {
    let mut child = Command::new(env!("CARGO_BIN_EXE_search"))
        .env("SEARCH_UPSTREAM", format!("http://{upstream}"))
        .env("SEARCH_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the search binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("search listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Service { child, addr }
}

/// A plain HTTP/1.1 GET; returns the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    // Chunked bodies: keep only the chunk data lines, enough for these small answers.
    let body = if response
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.lines().skip(1).step_by(2).collect::<Vec<_>>().join("")
    } else {
        body.to_owned()
    };
    (status, body)
}

#[test]
fn a_search_service_adopts_the_stack_and_reports_each_provider_call_once() {
    let failing = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));
    let service = start(provider(Arc::clone(&failing), Arc::clone(&calls)));

    for _ in 0..3 {
        let (status, body) = get(&service.addr, "/search?q=prometheus%20histograms");
        assert_eq!(status, 200, "{body}");
        let results: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(results["results"][0], "prometheus histograms", "{results}");
    }
    failing.store(true, Ordering::SeqCst);
    for _ in 0..7 {
        assert_eq!(get(&service.addr, "/search?q=x").0, 502);
    }
    // Five 5xx in a row opened the circuit: the last two searches never reached the provider.
    assert_eq!(calls.load(Ordering::SeqCst), 3 + 5);

    let (status, text) = get(&service.addr, "/prometheus/metrics/all");
    assert_eq!(status, 200);
    let e = parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let p = ("provider", "embedder");
    let requests = |s| e.value("model_inference_requests_total", &[p, ("status", s)]);
    assert_eq!((requests("success"), requests("error")), (3.0, 5.0));
    assert_eq!(
        e.value(
            "gatewayz_provider_errors_total",
            &[p, ("reason", "server_error")]
        ),
        5.0
    );
    assert_eq!(
        e.value("tokens_used_total", &[p, ("token_type", "input")]),
        150.0
    );
    assert_eq!(e.value("gatewayz_cost_usd_total", &[p]), 150.0 * 0.02 / 1e6);
    assert_eq!(
        e.value("gatewayz_circuit_breaker_rejections_total", &[p]),
        2.0
    );
    assert_eq!(
        e.value("gatewayz_circuit_breaker_state", &[p, ("state", "open")]),
        1.0
    );
    assert_eq!(
        e.value("gatewayz_provider_status", &[p, ("status", "unavailable")]),
        1.0
    );
    assert_eq!(
        e.value(
            "http_requests_total",
            &[("route", "/search"), ("status_class", "5xx")]
        ),
        7.0
    );
    assert_eq!(promtool::check_metrics(&text), "", "{text}");
}
