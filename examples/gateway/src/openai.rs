//! The parts of the OpenAI chat-completions wire format the gateway reads or writes.

use std::{fmt, ops::Range};

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use bytes::Bytes;
use serde::{
    Deserialize, Deserializer, Serialize,
    de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor},
};
use serde_json::{Value, json, value::RawValue};

use gatewayz_metrics::RefusalReason;

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

/// Largest request body the gateway reads from a client.
///
/// The simulated providers accept this plus [`MAX_ADDED_BYTES`]: one limit for both, so a body
/// the gateway lets through is never refused upstream (which would count against a healthy
/// provider).
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// Most bytes the gateway adds to a body it passes on: the provider's model id (the
/// configuration holds it to [`MAX_UPSTREAM_ID_LEN`] bytes) instead of the client's, and
/// `stream_options` asking for usage.
pub const MAX_ADDED_BYTES: usize = 1024;

/// Longest model id sent upstream, in bytes.
pub const MAX_UPSTREAM_ID_LEN: usize = 256;

/// A validated chat-completion request: the client's bytes, kept whole so that fields the
/// gateway does not know (tools, temperature, ...) reach the provider unchanged.
///
/// Parsing builds no tree of the body: the top level is read as raw values borrowed from the
/// body, `messages` is checked (a non-empty array) without materialising its elements, and
/// only the handful of fields the gateway reads are decoded. Its memory is therefore a few
/// hundred bytes plus the model name, whatever the body holds; the body sent upstream is one
/// more copy of the body, with the model replaced and usage asked for in streams (see
/// [`ChatRequest::upstream_body`]).
#[derive(Debug, Clone)]
pub struct ChatRequest {
    body: Bytes,
    model: String,
    stream: bool,
    /// Where the client's `model` value is in the body.
    model_value: Range<usize>,
    /// Where the top-level object's members start (just after its `{`).
    members: usize,
    stream_options: Option<StreamOptions>,
    max_output_tokens: Option<u64>,
    choices: u64,
}

/// The client's `stream_options`: where it is, and what must change to ask for usage.
#[derive(Debug, Clone)]
struct StreamOptions {
    value: Range<usize>,
    /// `None` when the value is not an object (`null`, a string, ...): it is replaced whole.
    object: Option<OptionsObject>,
}

#[derive(Debug, Clone)]
struct OptionsObject {
    /// Just after the object's `{`.
    members: usize,
    has_members: bool,
    /// Every `include_usage` value (set to `true`).
    include_usage: Vec<Range<usize>>,
}

/// The top-level fields the gateway reads, as raw JSON borrowed from the body.
#[derive(Default)]
struct Fields<'de> {
    model: Option<&'de RawValue>,
    messages: Option<&'de RawValue>,
    stream: Option<&'de RawValue>,
    stream_options: Option<&'de RawValue>,
    max_tokens: Option<&'de RawValue>,
    max_completion_tokens: Option<&'de RawValue>,
    n: Option<&'de RawValue>,
    /// The first of these fields given twice: which of the two a provider reads is anyone's
    /// guess, and the gateway prices and routes by one of them.
    repeated: Option<&'static str>,
}

impl ChatRequest {
    /// Validates a request body.
    pub fn parse(body: Bytes) -> Result<ChatRequest, ApiError> {
        let fields = read_fields(&body)?;
        let model_raw = fields
            .model
            .ok_or_else(|| invalid_field("`model` must be a non-empty string", "model"))?;
        let model = match serde_json::from_str::<String>(model_raw.get()) {
            Ok(model) if !model.trim().is_empty() => model.trim().to_owned(),
            _ => return Err(invalid_field("`model` must be a non-empty string", "model")),
        };
        let messages = fields.messages.map_or(Ok(0), |raw| {
            let mut reader = serde_json::Deserializer::from_str(raw.get());
            serde::Deserializer::deserialize_any(&mut reader, CountElements)
        });
        if !matches!(messages, Ok(n) if n > 0) {
            return Err(invalid_field(
                "`messages` must be a non-empty array of message objects",
                "messages",
            ));
        }
        let stream = match fields.stream.map(|raw| raw.get()) {
            None | Some("null") => false,
            Some("true") => true,
            Some("false") => false,
            Some(_) => return Err(invalid_field("`stream` must be a boolean", "stream")),
        };
        let count = |raw: Option<&RawValue>, name: &'static str| match raw.map(RawValue::get) {
            None | Some("null") => Ok(None),
            Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
                invalid_field(
                    match name {
                        "n" => "`n` must be a positive integer",
                        "max_tokens" => "`max_tokens` must be a positive integer",
                        _ => "`max_completion_tokens` must be a positive integer",
                    },
                    name,
                )
            }),
        };
        let max_tokens = count(fields.max_tokens, "max_tokens")?;
        let max_completion_tokens = count(fields.max_completion_tokens, "max_completion_tokens")?;
        let choices = match count(fields.n, "n")? {
            Some(0) => return Err(invalid_field("`n` must be a positive integer", "n")),
            n => n.unwrap_or(1),
        };
        let stream_options = fields.stream_options.map(|raw| stream_options(&body, raw));
        let members = body
            .iter()
            .position(|b| *b == b'{')
            .map_or(body.len(), |open| open + 1);
        Ok(ChatRequest {
            model_value: span(&body, model_raw.get()),
            model,
            stream,
            members,
            stream_options,
            // `max_completion_tokens` replaced `max_tokens`; providers read the newer one first.
            max_output_tokens: max_completion_tokens.or(max_tokens),
            choices,
            body,
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

    /// The client's `max_completion_tokens` (or `max_tokens`), if it gave one.
    pub fn max_output_tokens(&self) -> Option<u64> {
        self.max_output_tokens
    }

    /// Completions asked for (`n`, 1 by default).
    pub fn choices(&self) -> u64 {
        self.choices
    }

    /// Rough prompt size in tokens: 4 bytes of the body a token (everything in it, tools and
    /// all, is prompt to the model). Used to reserve credits, and to charge providers that
    /// report no usage.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        (self.body.len() as u64 / 4).max(1)
    }

    /// The body's size in bytes.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the body is empty (never, for a valid request).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// The body to send to a provider: the client's bytes with the upstream model id, and, in
    /// streams, `stream_options.include_usage` set to `true` whatever the client sent (absent,
    /// `null`, a string, `false`), so that the provider reports usage and the gateway charges
    /// what it reports.
    pub fn upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        let model = serde_json::to_vec(upstream_model).expect("a string always serialises");
        let mut edits: Vec<(Range<usize>, &[u8])> = vec![(self.model_value.clone(), &model)];
        if self.stream {
            match &self.stream_options {
                None => edits.push((
                    self.members..self.members,
                    br#""stream_options":{"include_usage":true},"#,
                )),
                Some(StreamOptions {
                    value,
                    object: None,
                }) => edits.push((value.clone(), br#"{"include_usage":true}"#)),
                Some(StreamOptions {
                    object: Some(object),
                    ..
                }) => {
                    if object.include_usage.is_empty() {
                        let member: &[u8] = if object.has_members {
                            br#""include_usage":true,"#
                        } else {
                            br#""include_usage":true"#
                        };
                        edits.push((object.members..object.members, member));
                    }
                    for value in &object.include_usage {
                        edits.push((value.clone(), b"true"));
                    }
                }
            }
        }
        edits.sort_by_key(|(range, _)| range.start);
        let added: usize = edits.iter().map(|(_, bytes)| bytes.len()).sum();
        let mut out = Vec::with_capacity(self.body.len() + added);
        let mut at = 0;
        for (range, bytes) in edits {
            out.extend_from_slice(&self.body[at..range.start]);
            out.extend_from_slice(bytes);
            at = range.end;
        }
        out.extend_from_slice(&self.body[at..]);
        out
    }
}

/// Reads the top level of `body`: every member's value is borrowed raw, only known keys kept.
fn read_fields(body: &[u8]) -> Result<Fields<'_>, ApiError> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let fields = serde::Deserializer::deserialize_map(&mut reader, TopLevel)
        .and_then(|fields| reader.end().map(|()| fields))
        .map_err(|error| match error.classify() {
            serde_json::error::Category::Data => {
                invalid_body("the body must be a JSON object".into())
            }
            _ => invalid_body(format!("the body is not valid JSON: {error}")),
        })?;
    if let Some(name) = fields.repeated {
        return Err(invalid_field(
            match name {
                "model" => "`model` is given twice; give it once",
                "messages" => "`messages` is given twice; give it once",
                "stream" => "`stream` is given twice; give it once",
                "stream_options" => "`stream_options` is given twice; give it once",
                "max_tokens" => "`max_tokens` is given twice; give it once",
                "max_completion_tokens" => "`max_completion_tokens` is given twice; give it once",
                _ => "`n` is given twice; give it once",
            },
            name,
        ));
    }
    Ok(fields)
}

/// Where `part`, a slice of `body` handed out by the parser, lies in it.
fn span(body: &[u8], part: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    debug_assert!(start + part.len() <= body.len(), "not a slice of the body");
    start..start + part.len()
}

fn stream_options(body: &[u8], raw: &RawValue) -> StreamOptions {
    let value = span(body, raw.get());
    let mut reader = serde_json::Deserializer::from_str(raw.get());
    let object = serde::Deserializer::deserialize_any(&mut reader, OptionsVisitor)
        .ok()
        .flatten()
        .map(|(has_members, include_usage)| OptionsObject {
            members: value.start + raw.get().find('{').map_or(0, |open| open + 1),
            has_members,
            include_usage: include_usage
                .into_iter()
                .map(|raw| span(body, raw.get()))
                .collect(),
        });
    StreamOptions { value, object }
}

fn invalid_body(message: String) -> ApiError {
    ApiError::invalid(message, None).refused(RefusalReason::InvalidRequest)
}

fn invalid_field(message: &str, param: &'static str) -> ApiError {
    ApiError::invalid(message.to_owned(), Some(param)).refused(RefusalReason::InvalidRequest)
}

/// A top-level key: one the gateway reads, or any other (not kept).
enum Key {
    Known(&'static str),
    Other,
}

const KNOWN: [&str; 7] = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "n",
];

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            // Borrowed or decoded into a scratch buffer by the parser: nothing is kept.
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(KNOWN
                    .iter()
                    .find(|known| **known == key)
                    .map_or(Key::Other, |known| Key::Known(known)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            let value: &'de RawValue = map.next_value()?;
            let Key::Known(name) = key else {
                continue;
            };
            let slot = match name {
                "model" => &mut fields.model,
                "messages" => &mut fields.messages,
                "stream" => &mut fields.stream,
                "stream_options" => &mut fields.stream_options,
                "max_tokens" => &mut fields.max_tokens,
                "max_completion_tokens" => &mut fields.max_completion_tokens,
                _ => &mut fields.n,
            };
            if slot.replace(value).is_some() && fields.repeated.is_none() {
                fields.repeated = Some(name);
            }
        }
        Ok(fields)
    }
}

/// The number of elements of an array of objects, without building them; an error for
/// anything else.
struct CountElements;

impl<'de> Visitor<'de> for CountElements {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while seq.next_element::<AnObject>()?.is_some() {
            count += 1;
        }
        Ok(count)
    }
}

/// A JSON object, whatever its members (skipped unread); an error for anything else.
struct AnObject;

impl<'de> Deserialize<'de> for AnObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AnObject, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = AnObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnObject)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// `stream_options` when it is an object: whether it has members, and its `include_usage`
/// values; `None` when it is anything else.
struct OptionsVisitor;

type Options<'de> = Option<(bool, Vec<&'de RawValue>)>;

impl<'de> Visitor<'de> for OptionsVisitor {
    type Value = Options<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Options<'de>, A::Error> {
        let (mut members, mut include_usage) = (0, Vec::new());
        while let Some(key) = map.next_key::<OptionKey>()? {
            let value: &'de RawValue = map.next_value()?;
            members += 1;
            if let OptionKey::IncludeUsage = key {
                include_usage.push(value);
            }
        }
        Ok(Some((members > 0, include_usage)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Options<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Options<'de>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Options<'de>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Options<'de>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Options<'de>, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Options<'de>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Options<'de>, E> {
        Ok(None)
    }
}

enum OptionKey {
    IncludeUsage,
    Other,
}

impl<'de> Deserialize<'de> for OptionKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OptionKey, D::Error> {
        struct OptionKeyVisitor;
        impl Visitor<'_> for OptionKeyVisitor {
            type Value = OptionKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<OptionKey, E> {
                Ok(if key == "include_usage" {
                    OptionKey::IncludeUsage
                } else {
                    OptionKey::Other
                })
            }
        }
        deserializer.deserialize_str(OptionKeyVisitor)
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
    /// Why the gateway refused the request without calling a provider, if it did.
    pub refusal: Option<RefusalReason>,
    /// Whether the connection is closed after the answer: a request refused before its body
    /// was read is answered at once, and the body it may still be sending is never waited for.
    pub close: bool,
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
            refusal: None,
            close: false,
        }
    }

    /// The same error, counted as a refusal for `reason`.
    pub fn refused(self, reason: RefusalReason) -> ApiError {
        ApiError {
            refusal: Some(reason),
            ..self
        }
    }

    /// The same error, answered with `Connection: close`.
    pub fn closing(self) -> ApiError {
        ApiError {
            close: true,
            ..self
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
        .refused(RefusalReason::Unauthenticated)
    }

    /// 401: a revoked or expired key.
    pub fn key_inactive() -> ApiError {
        ApiError::unauthorized("invalid, revoked or expired API key")
            .refused(RefusalReason::KeyInactive)
    }

    /// 402: the key has no credits left (or every one is held for requests in progress).
    pub fn out_of_credits(message: &str) -> ApiError {
        ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            "insufficient_credits",
            message.into(),
        )
        .refused(RefusalReason::NoCredits)
    }

    /// 402: the request's worst-case cost does not fit what the key has left.
    pub fn insufficient_credits(message: String) -> ApiError {
        ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            "insufficient_credits",
            message,
        )
        .refused(RefusalReason::InsufficientCredits)
    }

    /// 429: the key has as many requests in flight as it may.
    pub fn key_busy(cap: usize) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "too_many_requests_in_flight",
                format!(
                    "this API key already has {cap} requests in progress, its limit; retry when \
                     one finishes"
                ),
            )
        }
        .refused(RefusalReason::KeyConcurrency)
    }

    /// 503: the gateway has as many requests in flight as it may.
    pub fn gateway_busy() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "overloaded",
                "this gateway is serving as many requests as it may; retry shortly".into(),
            )
        }
        .refused(RefusalReason::GatewayConcurrency)
    }

    /// 413: the body is over [`MAX_BODY_BYTES`].
    pub fn body_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!(
                "the request body is over {} MiB, the largest this gateway accepts",
                MAX_BODY_BYTES >> 20
            ),
        )
        .refused(RefusalReason::BodyTooLarge)
    }

    /// 408: the body did not arrive within `limit`.
    pub fn body_timeout(limit: std::time::Duration) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request_timeout",
            format!(
                "the request body did not arrive within {} s; send it faster, or a smaller one",
                limit.as_secs_f64()
            ),
        )
        .refused(RefusalReason::BodyTimeout)
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
        .refused(RefusalReason::UnknownModel)
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

    /// 503 while the gateway shuts down: the client should retry (on another replica, as the
    /// connection is closed).
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
        .refused(RefusalReason::ShuttingDown)
        .closing()
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

    /// 503: the key store cannot be read or written (its database is down or unreachable);
    /// nothing was sent upstream or charged, and the client should retry.
    pub fn store_unavailable() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "store_unavailable",
                "the gateway cannot reach its key store right now; retry shortly".into(),
            )
        }
        .refused(RefusalReason::StoreUnavailable)
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
        if self.close {
            response.force_close();
        }
        response.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> Result<ChatRequest, ApiError> {
        ChatRequest::parse(Bytes::copy_from_slice(body))
    }

    fn upstream(body: &[u8], model: &str) -> Value {
        serde_json::from_slice(&parse(body).unwrap().upstream_body(model)).unwrap()
    }

    #[test]
    fn a_request_keeps_unknown_fields_and_asks_streams_for_usage() {
        let body = br#"{"model":" gpt-4o-mini ","messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":0.2,"tools":[{"type":"function"}]}"#;
        let request = parse(body).unwrap();
        assert_eq!((request.model(), request.stream()), ("gpt-4o-mini", true));
        let upstream = upstream(body, "openai/gpt-4o-mini");
        assert_eq!(upstream["model"], "openai/gpt-4o-mini");
        assert_eq!(upstream["temperature"], 0.2);
        assert_eq!(upstream["tools"][0]["type"], "function");
        assert_eq!(upstream["messages"][0]["content"], "hi");
        assert_eq!(upstream["stream_options"]["include_usage"], true);
    }

    #[test]
    fn streams_ask_for_usage_whatever_the_client_sent_in_stream_options() {
        for options in [
            "null",
            r#""yes""#,
            "42",
            "[1]",
            "{}",
            "{ }",
            r#"{"include_usage":false}"#,
            r#"{"include_usage":null,"other":1}"#,
            r#"{"other":[1,2],"include_usage":"no","include_usage":false}"#,
            r#"{"other":{"include_usage":false}}"#,
        ] {
            let body = format!(
                r#"{{ "model" : "m", "stream": true, "stream_options" : {options} , "messages":[{{}}]}}"#
            );
            let upstream = upstream(body.as_bytes(), "up");
            assert_eq!(
                upstream["stream_options"]["include_usage"], true,
                "{options}: {upstream}"
            );
            assert_eq!(upstream["model"], "up", "{options}");
        }
        // Other members of the client's options reach the provider.
        let sent = upstream(
            br#"{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":true},"messages":[{}]}"#,
            "up",
        );
        assert_eq!(sent["stream_options"]["continuous_usage_stats"], true);
        // Without a stream, the client's options are left alone.
        let sent = upstream(
            br#"{"model":"m","stream_options":null,"messages":[{}]}"#,
            "up",
        );
        assert_eq!(sent["stream_options"], Value::Null);
    }

    #[test]
    fn the_upstream_body_is_the_clients_bytes_but_for_the_model() {
        let body = br#"{"messages": [ {"role":"user", "content":"\u00e9t\u00e9"} ], "model":"short", "x":1.50}"#;
        let sent = parse(body)
            .unwrap()
            .upstream_body("a/much-longer-\"model\"-id");
        let expected = br#"{"messages": [ {"role":"user", "content":"\u00e9t\u00e9"} ], "model":"a/much-longer-\"model\"-id", "x":1.50}"#;
        assert_eq!(
            String::from_utf8_lossy(&sent),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn malformed_requests_name_the_field_at_fault() {
        let param = |body: &[u8]| parse(body).unwrap_err().param;
        assert_eq!(param(br#"{"messages":[{}]}"#), Some("model"));
        assert_eq!(param(br#"{"model":"m","messages":[]}"#), Some("messages"));
        assert_eq!(param(br#"{"model":"m","messages":{}}"#), Some("messages"));
        assert_eq!(
            param(br#"{"model":"m","messages":[{},1]}"#),
            Some("messages")
        );
        assert_eq!(param(br#"{"model":"m"}"#), Some("messages"));
        assert_eq!(
            param(br#"{"model":"m","messages":[{}],"stream":"yes"}"#),
            Some("stream")
        );
        assert_eq!(
            param(br#"{"model":"m","messages":[{}],"max_tokens":-1}"#),
            Some("max_tokens")
        );
        assert_eq!(
            param(br#"{"model":"m","messages":[{}],"max_completion_tokens":1.5}"#),
            Some("max_completion_tokens")
        );
        assert_eq!(param(br#"{"model":"m","messages":[{}],"n":0}"#), Some("n"));
        // A field read twice could be priced on one value and served on the other.
        assert_eq!(
            param(br#"{"model":"m","messages":[{}],"model":"other"}"#),
            Some("model")
        );
        assert_eq!(
            param(br#"{"model":"m","messages":[{}],"max_tokens":1,"max_tokens":9}"#),
            Some("max_tokens")
        );
        assert_eq!(param(b"[1,2]"), None);
        for bad in [
            &b"{not json"[..],
            b"",
            b"null",
            b"{\"model\":\"m\",\"messages\":[{}]} trailing",
            b"{\"model\":\"m\",\"messages\":[\"\xc3\x28\"]}",
            &[vec![b'['; 10_000], vec![b']'; 10_000]].concat(),
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad:?}");
            assert_eq!(error.refusal, Some(RefusalReason::InvalidRequest));
        }
        let deep = format!(
            r#"{{"model":"m","messages":[{}{}]}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert_eq!(parse(deep.as_bytes()).unwrap_err().param, Some("messages"));
    }

    #[test]
    fn output_limits_and_choices_are_read() {
        let request = parse(
            br#"{"model":"m","messages":[{}],"max_tokens":50,"max_completion_tokens":70,"n":3}"#,
        )
        .unwrap();
        assert_eq!(
            (request.max_output_tokens(), request.choices()),
            (Some(70), 3)
        );
        let request = parse(br#"{"model":"m","messages":[{}],"max_tokens":null}"#).unwrap();
        assert_eq!((request.max_output_tokens(), request.choices()), (None, 1));
    }

    #[test]
    fn usage_is_read_from_bodies_and_chunks() {
        let body =
            json!({"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
        assert_eq!(Usage::from_body(&body), Some(Usage::new(3, 4)));
        assert_eq!(Usage::from_body(&json!({"choices": []})), None);
    }
}
