//! Label declarations: which values a label may take, and how many.
//!
//! Label values are the one place where the outside world (client-chosen model names, provider
//! ids, routes) reaches the set of series. Each label therefore declares its domain: a closed set
//! of values, or an open set with a normalisation rule and a cap on distinct values. The recorder
//! enforces both; values outside the domain are folded into [`OTHER`].

use std::borrow::Cow;

/// The value that stands for everything a label's domain does not admit.
pub const OTHER: &str = "other";

/// The value recorded for an empty (or whitespace-only) label value.
pub const UNKNOWN: &str = "unknown";

/// Longest label value kept, in bytes; longer values are cut at a character boundary.
pub const MAX_VALUE_LEN: usize = 128;

/// A label and its domain.
#[derive(Debug)]
#[non_exhaustive]
pub struct Label {
    /// The label name.
    pub name: &'static str,
    /// What the label means, for the docs.
    pub help: &'static str,
    /// Which values it may take.
    pub domain: Domain,
}

/// The values a label may take.
#[derive(Debug)]
pub enum Domain {
    /// Exactly these values (matched ignoring ASCII case); anything else becomes [`OTHER`].
    Closed(&'static [&'static str]),
    /// Any value, normalised; past `max_distinct` different values, new ones become [`OTHER`].
    Open {
        /// Default cap on distinct values, shared by every metric with this label name.
        max_distinct: usize,
        /// Whether values are lower-cased (identifiers such as model names) or kept (routes).
        lowercase: bool,
    },
}

impl Label {
    /// The closed set of values, if the label has one.
    pub fn values(&self) -> Option<&'static [&'static str]> {
        match self.domain {
            Domain::Closed(values) => Some(values),
            Domain::Open { .. } => None,
        }
    }

    /// The member of the closed set that `raw` spells (ignoring surrounding space and ASCII
    /// case); `None` for open labels and for values outside the set.
    pub fn find_value(&self, raw: &str) -> Option<&'static str> {
        self.values().and_then(|values| match_closed(values, raw))
    }

    /// The value the recorder stores for `raw`, before any cap on distinct values: a closed
    /// set's own spelling (matched ignoring ASCII case) or [`OTHER`]; an open value trimmed,
    /// lower-cased if the label says so, cut to [`MAX_VALUE_LEN`] bytes, [`UNKNOWN`] if empty.
    pub fn normalise<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        match self.domain {
            Domain::Closed(values) => Cow::Borrowed(match_closed(values, raw).unwrap_or(OTHER)),
            Domain::Open { lowercase, .. } => normalise_open(raw, lowercase),
        }
    }
}

/// The member of a closed set that `raw` spells, ignoring surrounding space and ASCII case.
pub(crate) fn match_closed(values: &'static [&'static str], raw: &str) -> Option<&'static str> {
    let raw = raw.trim();
    values.iter().copied().find(|v| v.eq_ignore_ascii_case(raw))
}

/// Normalises a value of an open label; borrows when it is already normal.
pub(crate) fn normalise_open(raw: &str, lowercase: bool) -> Cow<'_, str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Cow::Borrowed(UNKNOWN);
    }
    let mut value = if lowercase && trimmed.chars().any(char::is_uppercase) {
        Cow::Owned(trimmed.to_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    };
    if value.len() > MAX_VALUE_LEN {
        let mut end = MAX_VALUE_LEN;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        match &mut value {
            Cow::Borrowed(v) => *v = &v[..end],
            Cow::Owned(v) => v.truncate(end),
        }
    }
    value
}

/// The upstream provider, e.g. `openrouter`.
pub static PROVIDER: Label = Label {
    name: "provider",
    help: "Upstream provider id, lower-case.",
    domain: Domain::Open {
        max_distinct: 100,
        lowercase: true,
    },
};

/// The model as routed, e.g. `gpt-4o-mini`.
pub static MODEL: Label = Label {
    name: "model",
    help: "Model id as routed by the gateway, lower-case.",
    domain: Domain::Open {
        max_distinct: 500,
        lowercase: true,
    },
};

/// Outcome of one inference call.
pub static INFERENCE_STATUS: Label = Label {
    name: "status",
    help: "Outcome of the call.",
    domain: Domain::Closed(&["success", "error"]),
};

/// Direction of LLM tokens. There is deliberately no `total`: summing it would double-count.
pub static TOKEN_TYPE: Label = Label {
    name: "token_type",
    help: "Prompt (`input`) or completion (`output`) tokens.",
    domain: Domain::Closed(&["input", "output"]),
};

/// Health status of a provider, as published by the health tracker.
pub static HEALTH_STATUS: Label = Label {
    name: "status",
    help: "Health status derived from the score; `unknown` below the minimum call volume.",
    domain: Domain::Closed(&["healthy", "degraded", "unavailable", "unknown"]),
};

const CIRCUIT_STATES: &[&str] = &["closed", "open", "half_open"];

/// State of a circuit breaker.
pub static CIRCUIT_STATE: Label = Label {
    name: "state",
    help: "Circuit breaker state.",
    domain: Domain::Closed(CIRCUIT_STATES),
};

/// State a circuit breaker left.
pub static FROM_STATE: Label = Label {
    name: "from",
    help: "State before the transition.",
    domain: Domain::Closed(CIRCUIT_STATES),
};

/// State a circuit breaker entered.
pub static TO_STATE: Label = Label {
    name: "to",
    help: "State after the transition.",
    domain: Domain::Closed(CIRCUIT_STATES),
};

/// Why a provider call failed, or why the gateway moved on to another provider.
pub static REASON: Label = Label {
    name: "reason",
    help: "Failure class: timeout, connection, server_error (5xx), rate_limited (429), \
           unauthorized (401/403), payment_required (402), not_found (404), bad_request (400), \
           circuit_open.",
    domain: Domain::Closed(&[
        "timeout",
        "connection",
        "server_error",
        "rate_limited",
        "unauthorized",
        "payment_required",
        "not_found",
        "bad_request",
        "circuit_open",
    ]),
};

/// Why the gateway refused a request before calling any provider.
pub static REFUSAL_REASON: Label = Label {
    name: "reason",
    help: "Why a request was refused: shutting_down (503 while draining), unauthenticated (401: \
           no key, or an unknown one), key_inactive (401: revoked or expired), no_credits (402: \
           nothing left to spend), key_concurrency (429: the key's requests in flight at their \
           cap), gateway_concurrency (503: the gateway's requests in flight at their cap), \
           body_too_large (413), body_timeout (408: the body did not arrive in time), \
           invalid_request (400), unknown_model (404), insufficient_credits (402: the request's \
           worst-case cost does not fit the key's balance), admin_unauthorized (401 on an admin \
           endpoint).",
    domain: Domain::Closed(&[
        "shutting_down",
        "unauthenticated",
        "key_inactive",
        "no_credits",
        "key_concurrency",
        "gateway_concurrency",
        "body_too_large",
        "body_timeout",
        "invalid_request",
        "unknown_model",
        "insufficient_credits",
        "admin_unauthorized",
    ]),
};

/// Kind of anomaly detected for a provider.
pub static ANOMALY_KIND: Label = Label {
    name: "kind",
    help: "latency_spike (p95 far above baseline), error_surge (error rate far above baseline), \
           traffic_drop (call volume far below baseline).",
    domain: Domain::Closed(&["latency_spike", "error_surge", "traffic_drop"]),
};

/// HTTP request method.
pub static METHOD: Label = Label {
    name: "method",
    help: "HTTP method, upper-case.",
    domain: Domain::Closed(&["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
};

/// The matched route template, never the raw path.
pub static ROUTE: Label = Label {
    name: "route",
    help: "Route template as matched by the router (e.g. `/v1/models/{id}`), or `unmatched`.",
    domain: Domain::Open {
        max_distinct: 200,
        lowercase: false,
    },
};

/// First digit of the HTTP status.
pub static STATUS_CLASS: Label = Label {
    name: "status_class",
    help: "HTTP status class.",
    domain: Domain::Closed(&["1xx", "2xx", "3xx", "4xx", "5xx"]),
};

/// Database operation name.
pub static OPERATION: Label = Label {
    name: "operation",
    help: "Logical database operation, e.g. `get_api_key`.",
    domain: Domain::Open {
        max_distinct: 50,
        lowercase: true,
    },
};

/// Cache name.
pub static CACHE: Label = Label {
    name: "cache",
    help: "Cache name, e.g. `api_keys`.",
    domain: Domain::Open {
        max_distinct: 20,
        lowercase: true,
    },
};

/// Version of the service.
pub static VERSION: Label = Label {
    name: "version",
    help: "Version of the instrumented service.",
    domain: Domain::Open {
        max_distinct: 10,
        lowercase: false,
    },
};

/// Name of a metric, for self-monitoring.
pub static METRIC: Label = Label {
    name: "metric",
    help: "Name of the metric concerned.",
    domain: Domain::Open {
        max_distinct: 500,
        lowercase: false,
    },
};

/// Name of a label, for self-monitoring.
pub static LABEL: Label = Label {
    name: "label",
    help: "Name of the label concerned.",
    domain: Domain::Open {
        max_distinct: 100,
        lowercase: false,
    },
};

/// Every label declaration, for docs and tests.
pub static LABELS: &[&Label] = &[
    &PROVIDER,
    &MODEL,
    &INFERENCE_STATUS,
    &TOKEN_TYPE,
    &HEALTH_STATUS,
    &CIRCUIT_STATE,
    &FROM_STATE,
    &TO_STATE,
    &REASON,
    &REFUSAL_REASON,
    &ANOMALY_KIND,
    &METHOD,
    &ROUTE,
    &STATUS_CLASS,
    &OPERATION,
    &CACHE,
    &VERSION,
    &METRIC,
    &LABEL,
];
