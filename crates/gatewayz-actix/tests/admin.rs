//! Admin actions: off without a key, a separate key, 404 for unknown providers (the audit
//! log has its own binary, `audit.rs`).

mod support;

use std::sync::Arc;

use actix_web::{http::StatusCode, test::TestRequest};
use gatewayz_actix::{Admin, AdminActions, CircuitAction, Monitoring};
use serde_json::json;
use support::{
    ADMIN_KEY, Host, METRICS_TOKEN, admin_monitoring as monitoring, admin_post as post, app, call,
    recorder,
};

#[actix_web::test]
async fn each_action_reaches_the_host_with_the_admin_key() {
    let host = Arc::new(Host::default());
    let app = app(monitoring(&host)).await;
    for action in ["open", "close", "reset"] {
        let path = format!("/admin/providers/openrouter/circuit/{action}");
        let reply = call(&app, post(&path, Some(ADMIN_KEY))).await;
        assert_eq!(reply.status, StatusCode::OK, "{action}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(
            reply.json(),
            json!({"provider": "openrouter", "action": action, "result": "done"})
        );
    }
    assert_eq!(
        *host.calls.lock().unwrap(),
        [
            ("openrouter".to_owned(), CircuitAction::Open),
            ("openrouter".to_owned(), CircuitAction::Close),
            ("openrouter".to_owned(), CircuitAction::Reset),
        ]
    );
}

#[actix_web::test]
async fn without_the_admin_key_nothing_happens() {
    let host = Arc::new(Host::default());
    let app = app(monitoring(&host)).await;
    let path = "/admin/providers/openrouter/circuit/open";
    for key in [
        None,
        Some("wrong"),
        Some(METRICS_TOKEN),
        Some(&ADMIN_KEY[1..]),
    ] {
        let reply = call(&app, post(path, key)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(
            reply.header_all("www-authenticate"),
            ["Bearer realm=\"gatewayz-admin\""]
        );
        reply.error_message();
    }
    let basic = TestRequest::post()
        .uri(path)
        .insert_header(("authorization", format!("Basic {ADMIN_KEY}")));
    assert_eq!(call(&app, basic).await.status, StatusCode::UNAUTHORIZED);
    assert!(host.calls.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn the_admin_key_does_not_open_the_metrics() {
    let host = Arc::new(Host::default());
    let app = app(monitoring(&host)).await;
    let request = TestRequest::get()
        .uri("/prometheus/metrics/all")
        .insert_header(("authorization", format!("Bearer {ADMIN_KEY}")));
    assert_eq!(call(&app, request).await.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_unknown_provider_is_404() {
    let host = Arc::new(Host::default());
    let app = app(monitoring(&host)).await;
    let reply = call(
        &app,
        post("/admin/providers/nope/circuit/open", Some(ADMIN_KEY)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let message = reply.error_message();
    assert!(message.contains("unknown provider `nope`"), "{message}");
}

#[actix_web::test]
async fn an_unknown_action_is_404_naming_the_valid_ones() {
    let host = Arc::new(Host::default());
    let app = app(monitoring(&host)).await;
    let reply = call(
        &app,
        post(
            "/admin/providers/openrouter/circuit/explode",
            Some(ADMIN_KEY),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json()["error"]["valid_values"],
        json!(["open", "close", "reset"])
    );
    assert!(host.calls.lock().unwrap().is_empty());
}

#[actix_web::test]
async fn a_host_failure_is_500_with_its_reason() {
    let host = Arc::new(Host::default());
    let app = app(monitoring(&host)).await;
    let reply = call(
        &app,
        post("/admin/providers/broken/circuit/reset", Some(ADMIN_KEY)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.error_message().contains("locked for maintenance"));
}

#[actix_web::test]
async fn without_an_admin_key_the_admin_endpoints_are_off() {
    let app = app(Monitoring::new(recorder().handle())).await;
    for key in [None, Some(ADMIN_KEY)] {
        let reply = call(&app, post("/admin/providers/openrouter/circuit/open", key)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(reply.error_message().contains("GATEWAYZ_ADMIN_KEY"));
    }
}

#[test]
fn the_admin_key_comes_from_the_environment() {
    let host: Arc<dyn AdminActions> = Arc::new(Host::default());
    let none = Admin::from_vars(|_| None, host.clone()).unwrap();
    assert!(none.is_none());
    let some = Admin::from_vars(
        |name| (name == "GATEWAYZ_ADMIN_KEY").then(|| ADMIN_KEY.to_owned()),
        host.clone(),
    )
    .unwrap();
    assert!(!format!("{some:?}").contains(ADMIN_KEY));
    let err = Admin::from_vars(|_| Some(String::new()), host.clone()).unwrap_err();
    assert!(
        err.to_string().starts_with("`GATEWAYZ_ADMIN_KEY` is empty"),
        "{err}"
    );
    let err = Admin::new("two words", host).unwrap_err();
    assert!(!err.to_string().contains("two words"), "{err}");
}
