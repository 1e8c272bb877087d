//! The parts of the OpenAI chat-completions wire format the gateway reads or writes.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Token counts as OpenAI reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

impl Usage {
    /// Usage from prompt and completion counts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }

    /// The `usage` object of a response or of a stream chunk, if it has one.
    pub fn from_body(body: &Value) -> Option<Usage> {
        serde_json::from_value(body.get("usage")?.clone()).ok()
    }
}

/// A validated chat-completion request: the client's JSON object, kept whole so that fields
/// the gateway does not know (tools, temperature, ...) reach the provider unchanged.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    body: Map<String, Value>,
    model: String,
    stream: bool,
}

impl ChatRequest {
    /// Validates a request body.
    pub fn parse(bytes: &[u8]) -> Result<ChatRequest, ApiError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}"), None))?;
        let Value::Object(body) = value else {
            return Err(ApiError::invalid(
                "the body must be a JSON object".into(),
                None,
            ));
        };
        let model = match body.get("model") {
            Some(Value::String(model)) if !model.trim().is_empty() => model.trim().to_owned(),
            _ => {
                return Err(ApiError::invalid(
                    "`model` must be a non-empty string".into(),
                    Some("model"),
                ));
            }
        };
        match body.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => {}
            _ => {
                return Err(ApiError::invalid(
                    "`messages` must be a non-empty array".into(),
                    Some("messages"),
                ));
            }
        }
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(_) => {
                return Err(ApiError::invalid(
                    "`stream` must be a boolean".into(),
                    Some("stream"),
                ));
            }
        };
        Ok(ChatRequest {
            body,
            model,
            stream,
        })
    }

    /// The model the client asked for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether the client asked for server-sent events.
    pub fn stream(&self) -> bool {
        self.stream
    }

    /// Rough prompt size in tokens (4 bytes a token), for providers that report no usage.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        let text = self
            .body
            .get("messages")
            .map(Value::to_string)
            .unwrap_or_default();
        (text.len() as u64 / 4).max(1)
    }

    /// The body to send to a provider: the upstream model id, and usage asked for in streams.
    pub fn upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("model".into(), Value::String(upstream_model.to_owned()));
        if self.stream {
            let options = body.entry("stream_options").or_insert_with(|| json!({}));
            if let Value::Object(options) = options {
                options.insert("include_usage".into(), Value::Bool(true));
            }
        }
        serde_json::to_vec(&body).expect("a JSON map always serialises")
    }
}

/// An error answered to the client, in OpenAI's error shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable, safe to show (never upstream bodies or secrets).
    pub message: String,
    /// OpenAI's `type`.
    pub kind: &'static str,
    /// OpenAI's `code`.
    pub code: &'static str,
    /// The request field at fault.
    pub param: Option<&'static str>,
    /// Seconds to wait before retrying (429 and 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: String,
    ) -> ApiError {
        ApiError {
            status,
            message,
            kind,
            code,
            param: None,
            retry_after: None,
        }
    }

    /// 400: the request is malformed.
    pub fn invalid(message: String, param: Option<&'static str>) -> ApiError {
        ApiError {
            param,
            ..ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request",
                message,
            )
        }
    }

    /// 401: no key, or not a valid one.
    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            message.into(),
        )
    }

    /// 402: the key has no credits left.
    pub fn out_of_credits() -> ApiError {
        ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            "insufficient_credits",
            "this API key has no credits left; top it up to continue".into(),
        )
    }

    /// 404: no provider serves the model.
    pub fn unknown_model(model: &str) -> ApiError {
        let shown: String = model.chars().take(128).collect();
        ApiError {
            param: Some("model"),
            ..ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!(
                    "the model `{shown}` does not exist; GET /v1/models lists the models served"
                ),
            )
        }
    }

    /// 429: every provider rate-limited us.
    pub fn rate_limited(retry_after: Option<u64>) -> ApiError {
        ApiError {
            retry_after,
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limited",
                "every provider of this model is rate-limiting; retry later".into(),
            )
        }
    }

    /// 502: the providers answered with errors.
    pub fn bad_gateway(model: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            "upstream_error",
            format!("every provider of `{model}` failed; try again"),
        )
    }

    /// 503: no provider could be tried (all circuits open, all down).
    pub fn unavailable(model: &str, retry_after: Option<u64>) -> ApiError {
        ApiError {
            retry_after,
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "provider_unavailable",
                format!("no provider of `{model}` is available right now"),
            )
        }
    }

    /// 503 while the gateway shuts down: the client should retry (on another replica).
    pub fn shutting_down() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "shutting_down",
                "this gateway is shutting down; retry the request".into(),
            )
        }
    }

    /// 504: the providers did not answer in time.
    pub fn timeout(model: &str) -> ApiError {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            "upstream_timeout",
            format!("the providers of `{model}` did not answer in time"),
        )
    }

    /// 500 without details, for the gateway's own failures (details go to the log only).
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal_error",
            "internal error".into(),
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        if self.code == "shutting_down" {
            // Closing the connection sends the client's next request to another replica.
            response.force_close();
        }
        response.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_keeps_unknown_fields_and_asks_streams_for_usage() {
        let request = ChatRequest::parse(
            br#"{"model":" gpt-4o-mini ","messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":0.2}"#,
        )
        .unwrap();
        assert_eq!((request.model(), request.stream()), ("gpt-4o-mini", true));
        let upstream: Value =
            serde_json::from_slice(&request.upstream_body("openai/gpt-4o-mini")).unwrap();
        assert_eq!(upstream["model"], "openai/gpt-4o-mini");
        assert_eq!(upstream["temperature"], 0.2);
        assert_eq!(upstream["stream_options"]["include_usage"], true);
    }

    #[test]
    fn malformed_requests_name_the_field_at_fault() {
        let param = |body: &[u8]| ChatRequest::parse(body).unwrap_err().param;
        assert_eq!(param(br#"{"messages":[{}]}"#), Some("model"));
        assert_eq!(param(br#"{"model":"m","messages":[]}"#), Some("messages"));
        assert_eq!(
            param(br#"{"model":"m","messages":[{}],"stream":"yes"}"#),
            Some("stream")
        );
        assert_eq!(param(b"[1,2]"), None);
        assert_eq!(
            ChatRequest::parse(b"{not json").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn usage_is_read_from_bodies_and_chunks() {
        let body =
            json!({"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
        assert_eq!(Usage::from_body(&body), Some(Usage::new(3, 4)));
        assert_eq!(Usage::from_body(&json!({"choices": []})), None);
    }
}
