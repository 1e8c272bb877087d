//! Calling providers: their OpenAI-compatible endpoints over HTTP(S), with awc.

use std::{collections::HashMap, fmt, time::Duration};

use awc::{Client, ClientResponse, error::SendRequestError, http::StatusCode};
use gatewayz_metrics::ErrorKind;

use crate::config::{ModelConfig, ProviderConfig};

/// A provider as the router sees it: where to call it and what it serves.
pub struct Provider {
    /// Provider id.
    pub name: String,
    completions_url: String,
    api_key: Option<Secret>,
    /// Served models by the name clients use.
    pub models: HashMap<String, ModelConfig>,
}

/// A provider API key; its `Debug` never shows it.
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("completions_url", &self.completions_url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider at `base_url` (`.../v1`), its key read from the configured environment variable.
    pub fn new(config: &ProviderConfig, base_url: &str) -> Provider {
        let api_key = config.api_key_env.as_ref().and_then(|var| match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Some(Secret(key.trim().to_owned())),
            _ => {
                tracing::warn!(provider = %config.name, variable = %var, "the provider's API key variable is not set; calling without a key");
                None
            }
        });
        Provider {
            name: config.name.clone(),
            completions_url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            api_key,
            models: config
                .models
                .iter()
                .map(|m| (m.name.clone(), m.clone()))
                .collect(),
        }
    }
}

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer (or no first byte) in time.
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// The provider answered with an error status.
    Status {
        /// The status.
        status: u16,
        /// Its `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
}

impl Failure {
    /// The failure class used for metrics, health and failover.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Failure::Timeout => ErrorKind::Timeout,
            Failure::Connection => ErrorKind::Connection,
            Failure::Status { status, .. } => {
                ErrorKind::from_status(*status).unwrap_or(ErrorKind::ServerError)
            }
        }
    }
}

/// A response whose status is a success.
pub type Response = ClientResponse;

/// An HTTP client for providers; one per worker thread (awc clients are not `Send`).
pub fn client(timeout: Duration) -> Client {
    Client::builder()
        .timeout(timeout)
        // A provider that redirects is misconfigured; following it could leak the key elsewhere.
        .disable_redirects()
        .finish()
}

/// Sends a chat completion; `Ok` only for a success status.
pub async fn send(
    client: &Client,
    provider: &Provider,
    body: Vec<u8>,
) -> Result<Response, Failure> {
    let mut request = client
        .post(&provider.completions_url)
        .content_type("application/json");
    if let Some(Secret(key)) = &provider.api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send_body(body).await.map_err(|error| match error {
        SendRequestError::Timeout => Failure::Timeout,
        SendRequestError::Connect(awc::error::ConnectError::Timeout) => Failure::Timeout,
        other => {
            tracing::debug!(provider = %provider.name, error = %other, "provider call failed");
            Failure::Connection
        }
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        tracing::warn!(provider = %provider.name, %status, "the provider refused our API key");
    }
    Err(Failure::Status {
        status: status.as_u16(),
        retry_after,
    })
}
