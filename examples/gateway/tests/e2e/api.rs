//! The gateways' own endpoints as the end-to-end test calls them, and waiting for a condition
//! to hold. Prometheus's API is `gatewayz_testkit::prometheus`'s.

use std::time::{Duration, Instant};

use gatewayz_testkit::http::Http;
use serde_json::Value;

/// `GET url`: the status and the body as text.
pub(crate) fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let response = Http::default()
        .get(url, bearer)
        .unwrap_or_else(|e| panic!("GET {e}"));
    (response.status, response.text())
}

/// `POST url` with a JSON body and a bearer token: the status and the body as text (a whole
/// stream, for a streamed completion).
pub(crate) fn post(url: &str, bearer: &str, body: &Value) -> (u16, String) {
    let response = Http::default()
        .post_json(url, Some(bearer), body)
        .unwrap_or_else(|e| panic!("POST {e}"));
    (response.status, response.text())
}

/// Polls `check` every half second until it returns `Ok`, and returns that value; after
/// `timeout`, panics with `what` and the last `Err`, which says what was seen instead.
pub(crate) fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not within {timeout:?}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
