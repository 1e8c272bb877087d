//! The status page's routes: content types, security headers, caching, HEAD, turning it off,
//! authentication, and the contract between its script and the summary. What the page draws
//! in a browser is tested against the real gateway, in `examples/gateway/tests/status_page.rs`.

mod support;

use actix_web::{App, http::StatusCode, test, test::TestRequest, web};
use gatewayz_actix::{Auth, Monitoring, configure};
use gatewayz_metrics::Metrics;
use serde_json::Value;
use support::{Reply, app, call, get, record_gateway_activity, recorder};

const PAGE: &str = "/prometheus/dashboard";
const STYLESHEET: &str = "/prometheus/dashboard/app.css";
const SCRIPT: &str = "/prometheus/dashboard/app.js";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
     require-trusted-types-for 'script'; trusted-types 'none'";

fn files() -> [(&'static str, &'static str); 3] {
    [
        (PAGE, "text/html; charset=utf-8"),
        (STYLESHEET, "text/css; charset=utf-8"),
        (SCRIPT, "text/javascript; charset=utf-8"),
    ]
}

async fn fetch(monitoring: Monitoring, path: &str) -> Reply {
    call(&app(monitoring).await, get(path)).await
}

fn monitoring() -> Monitoring {
    Monitoring::new(recorder().handle())
}

#[actix_web::test]
async fn the_page_its_stylesheet_and_its_script_are_served_with_their_content_types() {
    let app = app(monitoring()).await;
    for (path, content_type) in files() {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert!(
            reply.body.len() > 1000,
            "{path}: {} bytes",
            reply.body.len()
        );
    }
    let page = call(&app, get(PAGE)).await;
    assert!(page.text().starts_with("<!doctype html>"));
}

#[actix_web::test]
async fn every_file_carries_the_security_and_caching_headers() {
    let app = app(monitoring()).await;
    for (path, _) in files() {
        let reply = call(&app, get(path)).await;
        let expected = [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cache-control", "no-cache"),
        ];
        for (name, value) in expected {
            assert_eq!(reply.header_all(name), [value], "{path} {name}");
        }
        let etag = reply.header("etag").unwrap();
        assert!(
            etag.len() == 18 && etag.starts_with('"') && etag.ends_with('"'),
            "{path}: {etag}"
        );
    }
}

#[actix_web::test]
async fn a_matching_etag_is_answered_304_without_a_body() {
    let app = app(monitoring()).await;
    for (path, _) in files() {
        let etag = call(&app, get(path))
            .await
            .header("etag")
            .unwrap()
            .to_owned();
        for if_none_match in [etag.clone(), format!("W/{etag}"), "*".to_owned()] {
            let reply = call(
                &app,
                get(path).insert_header(("if-none-match", if_none_match)),
            )
            .await;
            assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{path}");
            assert!(reply.body.is_empty());
            assert_eq!(reply.header("etag"), Some(etag.as_str()));
            assert_eq!(reply.header("content-security-policy"), Some(CSP));
        }
        let reply = call(
            &app,
            get(path).insert_header(("if-none-match", "\"0000000000000000\"")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn head_answers_with_the_headers_of_get() {
    let app = app(monitoring()).await;
    for (path, content_type) in files() {
        let reply = call(
            &app,
            TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(path),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert_eq!(reply.header("content-security-policy"), Some(CSP), "{path}");
    }
}

#[actix_web::test]
async fn other_methods_are_405_and_other_paths_404() {
    let app = app(monitoring()).await;
    for (method, path) in [("POST", PAGE), ("PUT", SCRIPT), ("DELETE", STYLESHEET)] {
        let request = TestRequest::default()
            .method(method.parse().unwrap())
            .uri(path);
        let reply = call(&app, request).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    }
    // No trailing-slash form and no other file: 404 in the crate's one error shape, never a
    // redirect.
    for path in [
        "/prometheus/dashboard/",
        "/prometheus/dashboard/index.html",
        "/prometheus/dashboard/app.js.map",
    ] {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        reply.error_message();
    }
}

#[actix_web::test]
async fn turned_off_the_page_and_its_files_are_not_served() {
    let app = app(monitoring().dashboard(false)).await;
    for (path, _) in files() {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Only the page goes: the summary it reads stays.
    let reply = call(&app, get("/prometheus/metrics/summary")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[actix_web::test]
async fn the_page_is_public_while_the_summary_it_reads_keeps_its_credentials() {
    let auth = Auth::default().with_bearer("dashboard-token-0123").unwrap();
    let app = app(monitoring().auth(auth)).await;
    for (path, _) in files() {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    // The page asks for a token when the summary answers this.
    let reply = call(&app, get("/prometheus/metrics/summary")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header_all("www-authenticate"),
        ["Bearer realm=\"gatewayz\""]
    );
    let reply = call(
        &app,
        get("/prometheus/metrics/summary")
            .insert_header(("authorization", "Bearer dashboard-token-0123")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[actix_web::test]
async fn nothing_in_the_page_runs_or_styles_inline() {
    let page = fetch(monitoring(), PAGE).await.text().to_owned();
    let lower = page.to_ascii_lowercase();
    // Every <script> has a `src` and an empty body; the CSP would refuse anything else.
    let scripts: Vec<&str> = lower.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 1, "{page}");
    for script in scripts {
        let (open, rest) = script.split_once('>').unwrap();
        assert!(open.contains(" src="), "<script{open}>");
        assert!(rest.starts_with("</script>"), "inline script: {rest}");
    }
    for forbidden in ["<style", " style=", "javascript:"] {
        assert!(!lower.contains(forbidden), "{forbidden} in the page");
    }
    // No event-handler attribute (`onclick=`, `onload=`, ...) on any tag.
    for tag in lower.split('<').skip(1) {
        let attributes = tag.split('>').next().unwrap();
        assert!(
            !attributes
                .split_whitespace()
                .any(|a| a.starts_with("on") && a.contains('=')),
            "event handler in <{attributes}>"
        );
    }
    // The script builds the page with DOM calls only (Trusted Types refuses the rest).
    let script = fetch(monitoring(), SCRIPT).await.text().to_owned();
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ] {
        assert!(!script.contains(sink), "{sink} in app.js");
    }
}

/// The URLs in the page and its script, relative ones only: where they point depends on where
/// the page is served.
fn relative_urls(page: &str, script: &str) -> Vec<String> {
    let mut urls: Vec<String> = ["href=\"", "src=\""]
        .iter()
        .flat_map(|attribute| page.split(attribute).skip(1))
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .filter(|url| !url.starts_with("data:"))
        .collect();
    let summary = script
        .split("SUMMARY_URL = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the script names the summary URL");
    urls.push(summary.to_owned());
    urls.sort();
    urls.dedup();
    urls
}

#[actix_web::test]
async fn every_url_the_page_uses_resolves_wherever_the_scope_is_mounted() {
    for prefix in ["", "/ops", "/team/gateway"] {
        let app = test::init_service(
            App::new().service(web::scope(prefix).configure(configure(monitoring()))),
        )
        .await;
        let page_path = format!("{prefix}{PAGE}");
        let page = call(&app, get(&page_path)).await;
        assert_eq!(page.status, StatusCode::OK, "{page_path}");
        let script = call(&app, get(&format!("{prefix}{SCRIPT}"))).await;
        let urls = relative_urls(page.text(), script.text());
        assert_eq!(
            urls,
            ["dashboard/app.css", "dashboard/app.js", "metrics/summary"],
            "the page's relative URLs"
        );
        // A browser resolves them against the page's directory.
        let directory = &page_path[..page_path.rfind('/').unwrap() + 1];
        for url in urls {
            let resolved = format!("{directory}{url}");
            let reply = call(&app, get(&resolved)).await;
            assert_eq!(reply.status, StatusCode::OK, "{resolved}");
        }
    }
}

/// The summary fields the script reads, by where they are in the summary.
const READ_BY_THE_SCRIPT: &[(&str, &[&str])] = &[
    (
        "/metrics/providers",
        &[
            "total_providers",
            "healthy_providers",
            "degraded_providers",
            "unavailable_providers",
            "unknown_providers",
            "avg_health_score",
            "avg_error_rate",
            "open_circuits",
            "failovers_total",
            "routing",
            "by_provider",
        ],
    ),
    (
        "/metrics/providers/routing",
        &[
            "decisions_total",
            "decisions_by_policy",
            "reference_cost_usd",
            "saved_usd",
            "saved_ratio",
        ],
    ),
    (
        "/metrics/providers/by_provider/0",
        &[
            "provider",
            "status",
            "health_score",
            "error_rate",
            "latency_p95_seconds",
            "circuit_state",
            "active_anomalies",
            "requests_total",
            "routing_decisions_total",
            "failed_requests_total",
            "cost_usd_total",
        ],
    ),
    (
        "/metrics/models",
        &["by_model", "input_tokens", "output_tokens"],
    ),
    (
        "/metrics/models/by_model/0",
        &["model", "input_tokens", "output_tokens"],
    ),
    (
        "/metrics/business",
        &[
            "active_api_keys",
            "active_subscriptions",
            "active_trials",
            "total_tokens_used",
            "total_credits_used",
            "total_cost_usd",
        ],
    ),
];

#[actix_web::test]
async fn every_summary_field_the_script_reads_is_in_the_summary() {
    let recorder = recorder();
    metrics::with_local_recorder(&recorder, || record_gateway_activity(&Metrics::new()));
    let summary = fetch(
        Monitoring::new(recorder.handle()),
        "/prometheus/metrics/summary",
    )
    .await
    .json();
    let script = fetch(monitoring(), SCRIPT).await.text().to_owned();
    for (pointer, fields) in READ_BY_THE_SCRIPT {
        let object = summary
            .pointer(pointer)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("no {pointer} in {summary}"));
        for field in *fields {
            assert!(
                object.contains_key(*field),
                "{pointer}/{field} in {summary}"
            );
            assert!(script.contains(field), "the script does not read {field}");
        }
    }
}
