//! Authentication of the metrics and summary endpoints: on, off, and every way to get it wrong.

mod support;

use actix_web::{http::StatusCode, http::header::HeaderValue, test::TestRequest};
use gatewayz_actix::{Auth, Error, Monitoring};
use gatewayz_registry::Category;
use support::{app, call, get, recorder};

const TOKEN: &str = "s3cr3t-Token_0123456789";

fn protected_paths() -> Vec<String> {
    let mut paths = vec![
        "/prometheus/metrics/all".to_owned(),
        "/prometheus/metrics/summary".to_owned(),
        "/prometheus/metrics/summary?category=models".to_owned(),
    ];
    paths.extend(Category::ALL.map(|c| format!("/prometheus/metrics/{c}")));
    paths
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn with_auth(path: &str, authorization: &[u8]) -> TestRequest {
    get(path).insert_header((
        "authorization",
        HeaderValue::from_bytes(authorization).unwrap(),
    ))
}

fn monitoring(auth: Auth) -> Monitoring {
    Monitoring::new(recorder().handle()).auth(auth)
}

#[actix_web::test]
async fn without_auth_everything_is_public() {
    let app = app(monitoring(Auth::default())).await;
    for path in protected_paths() {
        let reply = call(&app, get(&path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn the_right_bearer_token_opens_every_metrics_endpoint() {
    let app = app(monitoring(Auth::default().with_bearer(TOKEN).unwrap())).await;
    for path in protected_paths() {
        for authorization in [
            format!("Bearer {TOKEN}"),
            format!("bearer {TOKEN}"),
            format!("BEARER   {TOKEN}  "),
        ] {
            let reply = call(&app, with_auth(&path, authorization.as_bytes())).await;
            assert_eq!(reply.status, StatusCode::OK, "{path} {authorization}");
        }
    }
}

#[actix_web::test]
async fn anything_else_is_401_with_a_bearer_challenge() {
    let app = app(monitoring(Auth::default().with_bearer(TOKEN).unwrap())).await;
    let refused: Vec<Vec<u8>> = vec![
        b"Bearer wrong".to_vec(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]).into_bytes(),
        format!("Bearer {TOKEN}x").into_bytes(),
        format!("Bearer {}", TOKEN.to_uppercase()).into_bytes(),
        format!("Bearer{TOKEN}").into_bytes(),
        format!("Bearer\t{TOKEN}").into_bytes(),
        format!("Token {TOKEN}").into_bytes(),
        format!("Digest {TOKEN}").into_bytes(),
        basic("user", TOKEN).into_bytes(),
        TOKEN.as_bytes().to_vec(),
        b"".to_vec(),
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Bearer    ".to_vec(),
        format!("Bearer {}", "a".repeat(100_000)).into_bytes(),
        format!("Bearer {TOKEN}{}", "a".repeat(100_000)).into_bytes(),
        "Bearer s3cr3t-Tökèn_0123456789".as_bytes().to_vec(),
        b"Bearer \xff\xfe\xfd".to_vec(),
    ];
    for path in protected_paths() {
        let reply = call(&app, get(&path)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path} without header"
        );
        for authorization in &refused {
            let shown = String::from_utf8_lossy(&authorization[..authorization.len().min(40)]);
            let reply = call(&app, with_auth(&path, authorization)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path} {shown}");
            assert_eq!(
                reply.header_all("www-authenticate"),
                ["Bearer realm=\"gatewayz\""],
                "{path} {shown}"
            );
            let message = reply.error_message();
            assert!(message.contains("WWW-Authenticate"), "{message}");
            assert!(!reply.text().contains(TOKEN), "the body shows the token");
        }
    }
}

#[actix_web::test]
async fn credentials_are_checked_before_the_query() {
    let app = app(monitoring(Auth::default().with_bearer(TOKEN).unwrap())).await;
    let reply = call(&app, get("/prometheus/metrics/summary?category=nope")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = call(
        &app,
        with_auth(
            "/prometheus/metrics/summary?category=nope",
            format!("Bearer {TOKEN}").as_bytes(),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn health_and_docs_stay_public() {
    let app = app(monitoring(
        Auth::default()
            .with_bearer(TOKEN)
            .unwrap()
            .with_basic("prometheus", "pw")
            .unwrap(),
    ))
    .await;
    for path in ["/health", "/health/providers", "/prometheus/metrics/docs"] {
        let reply = call(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let reply = call(&app, with_auth(path, b"Bearer wrong")).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{path} with wrong credentials"
        );
    }
}

#[actix_web::test]
async fn basic_credentials_are_accepted_and_checked() {
    let app = app(monitoring(
        Auth::default().with_basic("prometheus", "hunter2").unwrap(),
    ))
    .await;
    let path = "/prometheus/metrics/all";
    let reply = call(
        &app,
        with_auth(path, basic("prometheus", "hunter2").as_bytes()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = call(
        &app,
        with_auth(
            path,
            basic("prometheus", "hunter2")
                .to_lowercase()
                .replace("basic", "BASIC")
                .as_bytes(),
        ),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "base64 is case-sensitive"
    );
    for authorization in [
        basic("prometheus", "hunter3"),
        basic("Prometheus", "hunter2"),
        basic("prometheus", ""),
        basic("", "hunter2"),
        basic("prometheus:hunter2", ""),
        "Basic not-base64!".to_owned(),
        "Basic ".to_owned(),
        "Bearer hunter2".to_owned(),
        format!("Basic {}", "A".repeat(50_000)),
    ] {
        let reply = call(&app, with_auth(path, authorization.as_bytes())).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{authorization:.40}"
        );
        assert_eq!(
            reply.header_all("www-authenticate"),
            ["Basic realm=\"gatewayz\", charset=\"UTF-8\""]
        );
        assert!(!reply.text().contains("hunter2"));
    }
}

#[actix_web::test]
async fn non_ascii_basic_credentials_work_in_utf8() {
    let app = app(monitoring(
        Auth::default()
            .with_basic("prométhée", "pässwört🔑")
            .unwrap(),
    ))
    .await;
    let path = "/prometheus/metrics/system";
    let reply = call(
        &app,
        with_auth(path, basic("prométhée", "pässwört🔑").as_bytes()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = call(
        &app,
        with_auth(path, basic("promethee", "passwort🔑").as_bytes()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn with_both_schemes_either_one_lets_in_and_both_are_challenged() {
    let app = app(monitoring(
        Auth::default()
            .with_bearer(TOKEN)
            .unwrap()
            .with_basic("prometheus", "hunter2")
            .unwrap(),
    ))
    .await;
    let path = "/prometheus/metrics/summary";
    for authorization in [format!("Bearer {TOKEN}"), basic("prometheus", "hunter2")] {
        let reply = call(&app, with_auth(path, authorization.as_bytes())).await;
        assert_eq!(reply.status, StatusCode::OK, "{authorization}");
    }
    // The password is not a token, nor the token a password.
    for authorization in ["Bearer hunter2".to_owned(), basic("prometheus", TOKEN)] {
        let reply = call(&app, with_auth(path, authorization.as_bytes())).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization}");
        assert_eq!(
            reply.header_all("www-authenticate"),
            [
                "Bearer realm=\"gatewayz\"",
                "Basic realm=\"gatewayz\", charset=\"UTF-8\""
            ]
        );
    }
}

fn vars(pairs: &[(&str, &str)]) -> impl FnMut(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn environment_variables_configure_auth() {
    assert!(!Auth::from_vars(vars(&[])).unwrap().is_enabled());
    let auth = Auth::from_vars(vars(&[("GATEWAYZ_METRICS_TOKEN", TOKEN)])).unwrap();
    assert!(auth.is_enabled());
    assert_eq!(auth.basic_user(), None);
    let auth = Auth::from_vars(vars(&[
        ("GATEWAYZ_METRICS_USER", "prometheus"),
        ("GATEWAYZ_METRICS_PASSWORD", "hunter2"),
    ]))
    .unwrap();
    assert_eq!(auth.basic_user(), Some("prometheus"));
    // Whatever the process environment holds, reading it must not fail here.
    let _ = Auth::from_env();
}

#[test]
fn bad_environment_values_are_errors_that_never_show_the_value() {
    for (pairs, expected) in [
        (
            vec![("GATEWAYZ_METRICS_USER", "prometheus")],
            "`GATEWAYZ_METRICS_USER` and `GATEWAYZ_METRICS_PASSWORD` go together",
        ),
        (
            vec![("GATEWAYZ_METRICS_PASSWORD", "hunter2-secret")],
            "`GATEWAYZ_METRICS_USER` and `GATEWAYZ_METRICS_PASSWORD` go together",
        ),
        (
            vec![("GATEWAYZ_METRICS_TOKEN", "")],
            "`GATEWAYZ_METRICS_TOKEN` is empty",
        ),
        (
            vec![("GATEWAYZ_METRICS_TOKEN", "has a-secret space")],
            "`GATEWAYZ_METRICS_TOKEN` may contain only visible ASCII",
        ),
        (
            vec![("GATEWAYZ_METRICS_TOKEN", "non-ascii-sécret")],
            "`GATEWAYZ_METRICS_TOKEN` may contain only visible ASCII",
        ),
    ] {
        let err = Auth::from_vars(vars(&pairs)).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with(expected), "{message}");
        assert!(!message.contains("secret"), "shows the value: {message}");
    }
    let err = Auth::default().with_bearer("x".repeat(1025)).unwrap_err();
    assert!(matches!(err, Error::InvalidSecret { .. }), "{err}");
    let err = Auth::default().with_basic("a:b", "pw").unwrap_err();
    assert!(err.to_string().contains("without `:`"), "{err}");
    let err = Auth::default().with_basic("user", "pw\n").unwrap_err();
    assert!(err.to_string().contains("control characters"), "{err}");
}

#[test]
fn debug_output_never_shows_a_secret() {
    let monitoring = monitoring(
        Auth::default()
            .with_bearer(TOKEN)
            .unwrap()
            .with_basic("prometheus", "hunter2")
            .unwrap(),
    );
    let shown = format!("{monitoring:?} {monitoring:#?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(shown.contains("[redacted]"), "{shown}");
}
