//! A blocking HTTP client for tests and tools, on `ureq` (no TLS, no compression, no async
//! runtime): JSON APIs on loopback, readiness probes, scrapes.
//!
//! Every status is an answer, not an error: a test asserts on it. Errors are only what stops an
//! exchange (connection refused, timeout, a body past the limit), as a message naming the URL.
//! Tests that must send malformed bytes on purpose keep a raw socket of their own.
//!
//! ```no_run
//! use gatewayz_testkit::http::Http;
//! use serde_json::json;
//!
//! let http = Http::default();
//! let reply = http.post_json("http://127.0.0.1:8080/v1/chat/completions", Some("gwz_key"),
//!     &json!({"model": "gpt-4o-mini", "messages": []})).unwrap();
//! assert_eq!(reply.status, 400, "{}", reply.text());
//! ```

use std::time::Duration;

use serde_json::Value;

/// Bodies larger than this are refused: 64 MiB, more than any scrape or query result here.
const BODY_LIMIT: u64 = 64 << 20;

/// An answer: its status, headers and whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, read to the end.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or an error quoting it.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("not JSON ({e}): {}", self.text()))
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client with a timeout for whole exchanges; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    /// Thirty seconds per exchange: a hung server fails the test rather than stalling it.
    fn default() -> Self {
        Http::with_timeout(Duration::from_secs(30))
    }
}

impl Http {
    /// A client whose exchanges (connect to last byte) take at most `timeout`.
    pub fn with_timeout(timeout: Duration) -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build();
        Http {
            agent: config.into(),
        }
    }

    /// `GET url`, with a bearer token if given.
    pub fn get(&self, url: &str, bearer: Option<&str>) -> Result<Response, String> {
        let mut request = self.agent.get(url);
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        read(url, request.call())
    }

    /// `POST url` with a JSON body, with a bearer token if given.
    pub fn post_json(
        &self,
        url: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<Response, String> {
        let mut request = self.agent.post(url);
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        read(url, request.send_json(body))
    }

    /// `POST url` with a form (`application/x-www-form-urlencoded`).
    pub fn post_form(&self, url: &str, form: &[(&str, String)]) -> Result<Response, String> {
        let pairs = form.iter().map(|(k, v)| (*k, v.as_str()));
        read(url, self.agent.post(url).send_form(pairs))
    }

    /// `DELETE url`.
    pub fn delete(&self, url: &str) -> Result<Response, String> {
        read(url, self.agent.delete(url).call())
    }

    /// Whether `GET url` answers with a 2xx status now.
    pub fn answers(&self, url: &str) -> bool {
        self.get(url, None)
            .is_ok_and(|r| (200..300).contains(&r.status))
    }
}

fn read(
    url: &str,
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Response, String> {
    let mut response = result.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .map_err(|e| format!("{url}: reading the body: {e}"))?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
