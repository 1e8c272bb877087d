//! The routes: bodies, statuses, content types, compression, CORS, 404 and 405.

mod support;

use std::io::Read;

use actix_web::{http::StatusCode, test::TestRequest};
use gatewayz_actix::{Cors, Error, Monitoring};
use gatewayz_metrics::Metrics;
use gatewayz_registry::{Category, catalogue};
use gatewayz_testkit::{exposition, promtool};
use serde_json::Value;
use support::{app, call, get, record_gateway_activity, recorder};

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A recorder holding a little of every category, and monitoring over it.
fn populated() -> (gatewayz_registry::GatewayzRecorder, Monitoring) {
    let recorder = recorder();
    metrics::with_local_recorder(&recorder, || record_gateway_activity(&Metrics::new()));
    let monitoring = Monitoring::new(recorder.handle());
    (recorder, monitoring)
}

fn text_paths() -> Vec<(String, Option<Category>)> {
    let mut paths = vec![("/prometheus/metrics/all".to_owned(), None)];
    paths.extend(
        Category::ALL
            .into_iter()
            .map(|c| (format!("/prometheus/metrics/{c}"), Some(c))),
    );
    paths
}

#[actix_web::test]
async fn each_text_endpoint_serves_exactly_its_category() {
    let (recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let everything = exposition::parse(&recorder.handle().render_all()).unwrap();
    for (path, category) in text_paths() {
        let reply = call(&app, get(&path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type"), Some(TEXT), "{path}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(reply.header("content-encoding"), None, "{path}");
        let parsed = exposition::parse(reply.text()).unwrap();
        assert!(!parsed.families.is_empty(), "{path}");
        let expected: Vec<&str> = everything
            .family_names()
            .into_iter()
            .filter(|name| {
                category.is_none_or(|c| catalogue::find(name).is_some_and(|d| d.category == c))
            })
            .collect();
        assert_eq!(parsed.family_names(), expected, "{path}");
    }
}

#[actix_web::test]
async fn all_is_accepted_by_promtool() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let reply = call(&app, get("/prometheus/metrics/all")).await;
    let complaints = promtool::check_metrics(reply.text());
    assert_eq!(complaints, "");
}

#[actix_web::test]
async fn head_is_answered_on_every_get_endpoint() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let mut paths: Vec<(String, &str)> = text_paths().into_iter().map(|(p, _)| (p, TEXT)).collect();
    paths.extend([
        ("/prometheus/metrics/summary".to_owned(), "application/json"),
        (
            "/prometheus/metrics/docs".to_owned(),
            "text/markdown; charset=utf-8",
        ),
        ("/health".to_owned(), "application/json"),
        ("/health/providers".to_owned(), "application/json"),
    ]);
    for (path, content_type) in paths {
        let reply = call(
            &app,
            TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(&path),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
    }
}

fn gunzip(body: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(body)
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[actix_web::test]
async fn text_and_json_are_gzipped_when_the_client_accepts_it() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    for path in ["/prometheus/metrics/all", "/prometheus/metrics/models"] {
        let plain = call(&app, get(path)).await;
        // Prometheus's own header.
        let request = get(path).insert_header((
            "accept-encoding",
            "gzip, deflate;q=0.5, identity;q=0.1, *;q=0",
        ));
        let gzipped = call(&app, request).await;
        assert_eq!(gzipped.status, StatusCode::OK);
        assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
        assert_eq!(gzipped.header("content-type"), Some(TEXT));
        assert!(
            gzipped
                .header_all("vary")
                .iter()
                .any(|v| v.eq_ignore_ascii_case("accept-encoding")),
            "{:?}",
            gzipped.headers
        );
        assert!(gzipped.body.len() < plain.body.len() / 3);
        assert_eq!(
            exposition::parse(&gunzip(&gzipped.body)).unwrap(),
            exposition::parse(plain.text()).unwrap()
        );
    }
    let summary = call(
        &app,
        get("/prometheus/metrics/summary").insert_header(("accept-encoding", "gzip")),
    )
    .await;
    assert_eq!(summary.header("content-encoding"), Some("gzip"));
    let json: Value = serde_json::from_str(&gunzip(&summary.body)).unwrap();
    assert_eq!(json["metrics"]["providers"]["total_providers"], 3);
}

#[actix_web::test]
async fn gzip_is_not_used_when_the_client_refuses_it() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    for accept in ["identity", "gzip;q=0", "br"] {
        let reply = call(
            &app,
            get("/prometheus/metrics/all").insert_header(("accept-encoding", accept)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{accept}");
        assert_eq!(reply.header("content-encoding"), None, "{accept}");
        exposition::parse(reply.text()).unwrap();
    }
}

#[actix_web::test]
async fn summary_answers_every_category_and_all() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let reply = call(&app, get("/prometheus/metrics/summary")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let json = reply.json();
    let sections: Vec<&str> = json["metrics"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        sections,
        ["business", "models", "performance", "providers", "system"]
    );
    assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(json["metrics"]["providers"]["healthy_providers"], 1);
    assert_eq!(json["metrics"]["models"]["tokens_used_total"], 450);

    for category in Category::ALL {
        let reply = call(
            &app,
            get(&format!("/prometheus/metrics/summary?category={category}")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{category}");
        let json = reply.json();
        let sections: Vec<&str> = json["metrics"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(sections, [category.as_str()]);
    }
}

#[actix_web::test]
async fn summary_ignores_other_query_parameters() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let reply = call(
        &app,
        get("/prometheus/metrics/summary?pretty=1&category=models&x"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json()["metrics"]["models"].is_object());
}

#[actix_web::test]
async fn a_bad_category_is_400_naming_the_valid_values() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let long = "x".repeat(1000);
    for query in [
        "category=nope",
        "category=",
        "category=PROVIDERS",
        "category=all",
        "category=providers%00",
        "category=%C3%A9t%C3%A9",
        &format!("category={long}"),
        "category=models&category=system",
    ] {
        let reply = call(&app, get(&format!("/prometheus/metrics/summary?{query}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let message = reply.error_message();
        assert!(
            !message.contains(&long[..100]),
            "echoes the whole value: {message}"
        );
        if query.contains('&') {
            assert!(message.contains("more than once"), "{message}");
            continue;
        }
        assert_eq!(
            reply.json()["error"]["valid_values"],
            serde_json::json!(["providers", "models", "business", "performance", "system"]),
            "{query}"
        );
        for category in Category::ALL {
            assert!(message.contains(category.as_str()), "{message}");
        }
    }
}

#[actix_web::test]
async fn docs_are_markdown_covering_every_metric_and_the_common_questions() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let reply = call(&app, get("/prometheus/metrics/docs")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/markdown; charset=utf-8")
    );
    let markdown = reply.text();
    assert_eq!(markdown, gatewayz_registry::docs::reference_markdown());
    for def in catalogue::CATALOGUE {
        let heading = format!("### `{}`", def.name);
        let section = markdown
            .split(&heading)
            .nth(1)
            .unwrap_or_else(|| panic!("no section for {}", def.name));
        let section = section.split("\n### ").next().unwrap();
        assert!(
            section.contains(&format!("type: {}", def.kind)),
            "{}",
            def.name
        );
        assert!(
            section.contains(&format!("unit: {}", def.unit)),
            "{}",
            def.name
        );
        assert!(
            section.contains(&format!("category: `{}`", def.category)),
            "{}",
            def.name
        );
        for label in def.labels {
            assert!(
                section.contains(&format!("`{}`", label.name)),
                "{}",
                def.name
            );
        }
        assert!(section.contains("```promql"), "{}", def.name);
    }
    for question in gatewayz_registry::docs::common_questions() {
        assert!(markdown.contains(&question.promql), "{}", question.question);
    }
    let questions: Vec<&str> = gatewayz_registry::docs::common_questions()
        .iter()
        .map(|q| q.question)
        .collect();
    for topic in [
        "Error rate",
        "p95",
        "Cost per hour",
        "Tokens",
        "Cache hit",
        "Health score",
    ] {
        assert!(
            questions.iter().any(|q| q.contains(topic)),
            "{topic}: {questions:?}"
        );
    }
}

#[actix_web::test]
async fn unknown_paths_are_json_404_and_never_redirect() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    for path in [
        "/prometheus/metrics",
        "/prometheus/metrics/",
        "/prometheus/metrics/all/",
        "/prometheus/metrics/ALL",
        "/prometheus/metrics/nope",
        "/prometheus/metrics/summary/",
        "/prometheus/metrics/providers/openrouter",
        "/health/",
        "/health/nope",
        "/health/providers/",
    ] {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.header("location"), None, "{path}");
        let message = reply.error_message();
        assert!(
            message.contains("/prometheus/metrics/{all,providers"),
            "{message}"
        );
    }
}

#[actix_web::test]
async fn a_wrong_method_is_405_with_allow() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    for (method, path, allow) in [
        ("POST", "/prometheus/metrics/all", "GET, HEAD"),
        ("DELETE", "/prometheus/metrics/providers", "GET, HEAD"),
        ("OPTIONS", "/prometheus/metrics/docs", "GET, HEAD"),
        ("PUT", "/prometheus/metrics/summary", "GET, HEAD, OPTIONS"),
        ("POST", "/health", "GET, HEAD, OPTIONS"),
        ("PATCH", "/health/providers", "GET, HEAD, OPTIONS"),
        ("GET", "/admin/providers/openrouter/circuit/open", "POST"),
    ] {
        let request = TestRequest::default()
            .method(method.parse().unwrap())
            .uri(path);
        let reply = call(&app, request).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
        assert!(reply.error_message().contains(allow));
    }
}

#[actix_web::test]
async fn any_origin_may_read_the_json_endpoints_by_default() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    for path in [
        "/prometheus/metrics/summary",
        "/health",
        "/health/providers",
    ] {
        let reply = call(
            &app,
            get(path).insert_header(("origin", "https://dash.example")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
    }
    // Errors too, so that a dashboard can show why.
    let reply = call(&app, get("/prometheus/metrics/summary?category=x")).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    // Prometheus text is for Prometheus, not for browsers.
    let reply = call(
        &app,
        get("/prometheus/metrics/all").insert_header(("origin", "https://dash.example")),
    )
    .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn preflight_allows_get_with_an_authorization_header() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring).await;
    let request = TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/prometheus/metrics/summary")
        .insert_header(("origin", "https://dash.example"))
        .insert_header(("access-control-request-method", "GET"))
        .insert_header(("access-control-request-headers", "authorization"));
    let reply = call(&app, request).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("GET, HEAD")
    );
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("authorization")
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
}

#[actix_web::test]
async fn a_list_of_origins_echoes_only_listed_ones() {
    let (_recorder, monitoring) = populated();
    let cors = Cors::origins(["https://dash.example", "http://localhost:3000"]).unwrap();
    let app = app(monitoring.cors(cors)).await;
    for (origin, allowed) in [
        ("https://dash.example", true),
        ("http://localhost:3000", true),
        ("https://evil.example", false),
        ("https://dash.example.evil", false),
        ("null", false),
    ] {
        let reply = call(
            &app,
            get("/prometheus/metrics/summary").insert_header(("origin", origin)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let expected = allowed.then_some(origin);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            expected,
            "{origin}"
        );
        assert!(reply.header_all("vary").contains(&"Origin"), "{origin}");
    }
}

#[actix_web::test]
async fn cors_off_sends_no_cors_headers_and_refuses_preflight() {
    let (_recorder, monitoring) = populated();
    let app = app(monitoring.cors(Cors::off())).await;
    let reply = call(
        &app,
        get("/prometheus/metrics/summary").insert_header(("origin", "https://dash.example")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let preflight = TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/health");
    let reply = call(&app, preflight).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
}

#[test]
fn origins_that_browsers_never_send_are_refused() {
    for origin in [
        "dash.example",
        "https://",
        "https://dash.example/",
        "https://dash.example/path",
        "*",
        "https://dash example",
    ] {
        let err = Cors::origins([origin]).unwrap_err();
        assert!(
            matches!(err, Error::InvalidOrigin { .. }),
            "{origin}: {err}"
        );
        assert!(err.to_string().contains("https://host[:port]"), "{err}");
    }
    assert!(matches!(
        Cors::origins(Vec::<String>::new()),
        Err(Error::InvalidOrigin { .. })
    ));
}

#[actix_web::test]
async fn a_check_of_the_host_degrades_health_while_it_gives_a_reason() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    let (_recorder, monitoring) = populated();
    let down = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&down);
    let app = app(monitoring.degraded_when(move || {
        flag.load(Ordering::Relaxed)
            .then(|| "circuit store unreachable".to_owned())
    }))
    .await;
    let reply = call(&app, get("/health")).await;
    assert_eq!(reply.json(), serde_json::json!({"status": "ok"}));
    down.store(true, Ordering::Relaxed);
    let reply = call(&app, get("/health")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        serde_json::json!({"status": "degraded", "reason": "circuit store unreachable"})
    );
}
