//! Label declarations: which values a label may take, and how many.
//!
//! Label values are the one place where the outside world (client-chosen model names, provider
//! ids, routes) reaches the set of series. Each label therefore declares its domain: a closed set
//! of values, or an open set with a normalisation rule and a cap on distinct values. The recorder
//! enforces both; values outside the domain are folded into [`OTHER`].
//!
//! Every closed set is declared once, by [`closed_values!`](crate::closed_values): the Rust enum,
//! each variant's spelling and the list the label's domain is made of come from the same lines,
//! so adding a value is one edit and code never indexes a value list by position.

use std::{borrow::Cow, fmt, marker::PhantomData};

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
    /// A label with a closed set of values: usually `E::VALUES` of a [`ClosedValue`] enum.
    pub const fn closed(
        name: &'static str,
        help: &'static str,
        values: &'static [&'static str],
    ) -> Label {
        Label {
            name,
            help,
            domain: Domain::Closed(values),
        }
    }

    /// A label that takes any value, normalised and capped at `max_distinct` distinct values.
    pub const fn open(
        name: &'static str,
        help: &'static str,
        max_distinct: usize,
        lowercase: bool,
    ) -> Label {
        Label {
            name,
            help,
            domain: Domain::Open {
                max_distinct,
                lowercase,
            },
        }
    }

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
pub fn match_closed(values: &'static [&'static str], raw: &str) -> Option<&'static str> {
    let raw = raw.trim();
    values.iter().copied().find(|v| v.eq_ignore_ascii_case(raw))
}

/// Normalises a value of an open label (trimmed, lower-cased if `lowercase`, cut to
/// [`MAX_VALUE_LEN`] bytes at a character boundary, [`UNKNOWN`] if empty); borrows when it is
/// already normal.
pub fn normalise_open(raw: &str, lowercase: bool) -> Cow<'_, str> {
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

/// A Rust enum that is the closed set of values of one or more labels.
///
/// Implemented by [`closed_values!`](crate::closed_values), which keeps the variants, their
/// spellings and [`VALUES`](Self::VALUES) in one declaration.
pub trait ClosedValue: Copy + Eq + fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The spellings, in the order of [`ALL`](Self::ALL).
    const VALUES: &'static [&'static str];
    /// The label value.
    fn as_str(self) -> &'static str;
    /// The position of this value in [`ALL`](Self::ALL) (and in [`VALUES`](Self::VALUES)).
    fn index(self) -> usize;
}

/// One `T` per value of a closed label, looked up by the label's enum: a metric handle per
/// failure class, say, without indexing a value list by position.
///
/// ```
/// use gatewayz_catalogue::{ErrorKind, PerValue};
///
/// let names = PerValue::<ErrorKind, String>::new(|kind| format!("errors[{kind}]"));
/// assert_eq!(names.get(ErrorKind::Timeout), "errors[timeout]");
/// ```
pub struct PerValue<E, T> {
    values: Box<[T]>,
    kinds: PhantomData<fn() -> E>,
}

impl<E: ClosedValue, T> PerValue<E, T> {
    /// Makes one `T` for each value of `E`, in declaration order.
    pub fn new(make: impl FnMut(E) -> T) -> Self {
        PerValue {
            values: E::ALL.iter().copied().map(make).collect(),
            kinds: PhantomData,
        }
    }

    /// The `T` of `value`.
    pub fn get(&self, value: E) -> &T {
        &self.values[value.index()]
    }

    /// Every value with its `T`.
    pub fn iter(&self) -> impl Iterator<Item = (E, &T)> {
        E::ALL.iter().copied().zip(self.values.iter())
    }
}

impl<E: ClosedValue, T: fmt::Debug> fmt::Debug for PerValue<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Declares a closed set of label values as a Rust enum: the variants, their spellings,
/// `ALL`, `VALUES`, `as_str`, `index`, `parse`, `Display` and [`ClosedValue`], all from one
/// list.
///
/// ```
/// gatewayz_catalogue::closed_values! {
///     /// Whether a door is open.
///     pub enum Door {
///         /// It is open.
///         Open = "open",
///         /// It is shut.
///         Shut = "shut",
///     }
/// }
/// static DOOR: gatewayz_catalogue::Label =
///     gatewayz_catalogue::Label::closed("door", "State of the door.", Door::VALUES);
///
/// assert_eq!(Door::Shut.as_str(), "shut");
/// assert_eq!(Door::parse(" OPEN "), Some(Door::Open));
/// assert_eq!(DOOR.values(), Some(&["open", "shut"][..]));
/// ```
#[macro_export]
macro_rules! closed_values {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spellings, in the order of [`ALL`](Self::ALL): the label's closed domain.
            pub const VALUES: &'static [&'static str] = &[$($value),+];

            /// The label value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value),+
                }
            }

            /// The value `raw` spells, ignoring surrounding space and ASCII case.
            pub fn parse(raw: &str) -> Option<$name> {
                let raw = raw.trim();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(raw))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::ClosedValue for $name {
            const ALL: &'static [$name] = $name::ALL;
            const VALUES: &'static [&'static str] = $name::VALUES;

            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }

            fn index(self) -> usize {
                // The discriminants are the declaration order, as `ALL` is.
                self as usize
            }
        }
    };
}

closed_values! {
    /// Outcome of one inference call, the `status` label of `model_inference_requests_total`.
    pub enum InferenceStatus {
        /// The provider returned a completion.
        Success = "success",
        /// The call failed.
        Error = "error",
    }
}

closed_values! {
    /// Direction of LLM tokens. There is deliberately no `total`: summing it would double-count.
    pub enum TokenType {
        /// Prompt tokens.
        Input = "input",
        /// Completion tokens.
        Output = "output",
    }
}

closed_values! {
    /// Why a provider call failed: the `reason` of `gatewayz_provider_errors_total`.
    ///
    /// A call refused by the circuit breaker is not here: it was never made (see
    /// [`FailoverReason::CircuitOpen`]).
    pub enum ErrorKind {
        /// No answer in time.
        Timeout = "timeout",
        /// Could not connect, or the connection broke.
        Connection = "connection",
        /// The provider answered 5xx.
        ServerError = "server_error",
        /// The provider answered 429.
        RateLimited = "rate_limited",
        /// The provider answered 401 or 403 (our key for it is wrong or lacks access).
        Unauthorized = "unauthorized",
        /// The provider answered 402 (our account with it is out of funds).
        PaymentRequired = "payment_required",
        /// The provider answered 404 (it does not serve the model).
        NotFound = "not_found",
        /// The provider answered 400 (the request itself is wrong).
        BadRequest = "bad_request",
    }
}

impl ErrorKind {
    /// Classifies an HTTP status from a provider; `None` for success (1xx–3xx).
    pub fn from_status(status: u16) -> Option<ErrorKind> {
        Some(match status {
            100..=399 => return None,
            400 => ErrorKind::BadRequest,
            401 | 403 => ErrorKind::Unauthorized,
            402 => ErrorKind::PaymentRequired,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::ServerError,
            // Other 4xx say the request was wrong, not the provider.
            _ => ErrorKind::BadRequest,
        })
    }

    /// Whether a failure of this kind counts against the provider: in its availability, its
    /// error rate, its circuit's failure counts and its anomaly detection.
    ///
    /// | kind | counts | why |
    /// | --- | --- | --- |
    /// | `timeout`, `connection` | yes | the provider is unreachable or too slow |
    /// | `server_error` (5xx) | yes | the provider is failing |
    /// | `rate_limited` (429) | yes | the provider cannot take our load right now |
    /// | `unauthorized` (401/403), `payment_required` (402) | no | our account with it is wrong; waiting will not fix it, the provider errors counter and an alert will |
    /// | `not_found` (404) | no | the provider does not serve that model; it says nothing about the others |
    /// | `bad_request` (400, other 4xx) | no | the client's own request is wrong |
    ///
    /// A call that failed for a reason that does not count is still a call the provider
    /// answered properly: it counts as available, like a success.
    pub const fn counts_against_provider(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout
                | ErrorKind::Connection
                | ErrorKind::ServerError
                | ErrorKind::RateLimited
        )
    }
}

closed_values! {
    /// Why a request moved on from a provider to the next candidate: the `reason` of
    /// `gatewayz_failovers_total`. Every [`ErrorKind`], or the provider's circuit refused the
    /// call.
    pub enum FailoverReason {
        /// The call timed out.
        Timeout = "timeout",
        /// The connection failed or broke.
        Connection = "connection",
        /// The provider answered 5xx.
        ServerError = "server_error",
        /// The provider answered 429.
        RateLimited = "rate_limited",
        /// The provider answered 401 or 403.
        Unauthorized = "unauthorized",
        /// The provider answered 402.
        PaymentRequired = "payment_required",
        /// The provider answered 404.
        NotFound = "not_found",
        /// The provider answered 400.
        BadRequest = "bad_request",
        /// Not attempted: the provider's circuit was open, or its half-open probes were all out.
        CircuitOpen = "circuit_open",
    }
}

impl From<ErrorKind> for FailoverReason {
    fn from(kind: ErrorKind) -> FailoverReason {
        match kind {
            ErrorKind::Timeout => FailoverReason::Timeout,
            ErrorKind::Connection => FailoverReason::Connection,
            ErrorKind::ServerError => FailoverReason::ServerError,
            ErrorKind::RateLimited => FailoverReason::RateLimited,
            ErrorKind::Unauthorized => FailoverReason::Unauthorized,
            ErrorKind::PaymentRequired => FailoverReason::PaymentRequired,
            ErrorKind::NotFound => FailoverReason::NotFound,
            ErrorKind::BadRequest => FailoverReason::BadRequest,
        }
    }
}

closed_values! {
    /// Health status of a provider, as published by the health tracker.
    pub enum HealthStatus {
        /// Score at or above the healthy threshold.
        Healthy = "healthy",
        /// Score between the thresholds.
        Degraded = "degraded",
        /// Score below the degraded threshold, or the circuit is open or half-open.
        Unavailable = "unavailable",
        /// Too few calls in the window to judge.
        Unknown = "unknown",
    }
}

closed_values! {
    /// State of a circuit breaker.
    pub enum CircuitState {
        /// Calls flow.
        Closed = "closed",
        /// Calls are refused until the cool-down ends.
        Open = "open",
        /// A limited number of probe calls may pass.
        HalfOpen = "half_open",
    }
}

closed_values! {
    /// Kind of anomaly detected for a provider.
    pub enum AnomalyKind {
        /// p95 latency far above its baseline.
        LatencySpike = "latency_spike",
        /// Error rate far above its baseline.
        ErrorSurge = "error_surge",
        /// Call volume far below its baseline.
        TrafficDrop = "traffic_drop",
    }
}

closed_values! {
    /// HTTP request method; anything else is recorded as [`OTHER`].
    pub enum HttpMethod {
        /// GET
        Get = "GET",
        /// HEAD
        Head = "HEAD",
        /// POST
        Post = "POST",
        /// PUT
        Put = "PUT",
        /// PATCH
        Patch = "PATCH",
        /// DELETE
        Delete = "DELETE",
        /// OPTIONS
        Options = "OPTIONS",
    }
}

closed_values! {
    /// First digit of an HTTP status.
    pub enum StatusClass {
        /// 1xx
        Informational = "1xx",
        /// 2xx
        Success = "2xx",
        /// 3xx
        Redirection = "3xx",
        /// 4xx
        ClientError = "4xx",
        /// 5xx
        ServerError = "5xx",
    }
}

impl StatusClass {
    /// The class of an HTTP status; `None` outside 100–599.
    pub const fn of(status: u16) -> Option<StatusClass> {
        Some(match status {
            100..=199 => StatusClass::Informational,
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirection,
            400..=499 => StatusClass::ClientError,
            500..=599 => StatusClass::ServerError,
            _ => return None,
        })
    }
}

closed_values! {
    /// Why a request was refused before any provider was called: the `reason` of
    /// `gatewayz_requests_refused_total`.
    pub enum RefusalReason {
        /// 503 while the service drains at shutdown.
        ShuttingDown = "shutting_down",
        /// 503: the key store (the database) cannot be read or written; the client retries.
        StoreUnavailable = "store_unavailable",
        /// 401: no key, a malformed one, or one that does not exist.
        Unauthenticated = "unauthenticated",
        /// 401: a revoked or expired key.
        KeyInactive = "key_inactive",
        /// 402: the key has nothing left to spend.
        NoCredits = "no_credits",
        /// 429: the key's requests in flight are at their cap.
        KeyConcurrency = "key_concurrency",
        /// 503: the service's requests in flight are at their cap.
        GatewayConcurrency = "gateway_concurrency",
        /// 413: the body is over the limit.
        BodyTooLarge = "body_too_large",
        /// 408: the body did not arrive in time.
        BodyTimeout = "body_timeout",
        /// 400: the body is not a valid request.
        InvalidRequest = "invalid_request",
        /// 404: no provider serves the model.
        UnknownModel = "unknown_model",
        /// 402: the request's worst-case cost does not fit the key's balance.
        InsufficientCredits = "insufficient_credits",
        /// 401 on an admin endpoint.
        AdminUnauthorized = "admin_unauthorized",
    }
}

closed_values! {
    /// How a request's first provider was chosen among its candidates: the `policy` of
    /// `gatewayz_routing_decisions_total`, and the policies `gatewayz-health` routes by.
    pub enum RoutingPolicy {
        /// At random among the healthy candidates.
        Spread = "spread",
        /// The best health score.
        Priority = "priority",
        /// The lowest expected price per request among the healthy candidates.
        Cheapest = "cheapest",
        /// The lowest recent p95 latency (time to first token for streams) among the healthy
        /// candidates.
        Fastest = "fastest",
        /// The best blend of health score, price and latency among the healthy candidates.
        Weighted = "weighted",
    }
}

impl Default for RoutingPolicy {
    /// [`RoutingPolicy::Spread`]: every healthy provider gets traffic and stays measured.
    fn default() -> Self {
        RoutingPolicy::Spread
    }
}

closed_values! {
    /// A customer's plan: the `plan` of the customer-event and top-up counters.
    pub enum Plan {
        /// A free trial, which ends at its expiry unless converted.
        Trial = "trial",
        /// A paid subscription.
        Paid = "paid",
    }
}

closed_values! {
    /// Something that happened to a customer's account: the `event` of
    /// `gatewayz_customer_events_total`. The service's key store records each one once, durably;
    /// the counter is set from its totals.
    pub enum CustomerEvent {
        /// An API key was created (on either plan).
        KeyCreated = "key_created",
        /// A key was created on the trial plan: a trial began.
        TrialStarted = "trial_started",
        /// A trial moved to the paid plan.
        TrialConverted = "trial_converted",
        /// An active key was revoked before its plan ended: the customer cancelled (or was
        /// cancelled).
        Cancelled = "cancelled",
        /// A key reached its expiry without being revoked: the trial (or a paid term) lapsed.
        Lapsed = "lapsed",
        /// A key was revoked, active or not.
        KeyRevoked = "key_revoked",
        /// Credits were added to a key (the amount is in `gatewayz_credits_topped_up_total`).
        CreditsToppedUp = "credits_topped_up",
        /// A request was refused (402) for lack of credits (none left, or too few for its
        /// worst-case cost): counted once per exhaustion (the first since the key was created
        /// or last topped up), not per refused request.
        CreditsExhausted = "credits_exhausted",
    }
}

impl CustomerEvent {
    /// Whether the event can happen to a key on `plan`: a trial starts and converts only on
    /// the trial plan; everything else happens on both. Services register exactly these
    /// pairs, so no series exists that can only ever read 0.
    pub const fn applies_to(self, plan: Plan) -> bool {
        match self {
            CustomerEvent::TrialStarted | CustomerEvent::TrialConverted => {
                matches!(plan, Plan::Trial)
            }
            _ => true,
        }
    }
}

/// The upstream provider, e.g. `openrouter`.
pub static PROVIDER: Label =
    Label::open("provider", "Upstream provider id, lower-case.", 100, true);

/// The model as routed, e.g. `gpt-4o-mini`.
pub static MODEL: Label = Label::open(
    "model",
    "Model id as routed by the gateway, lower-case.",
    500,
    true,
);

/// Outcome of one inference call.
pub static INFERENCE_STATUS: Label =
    Label::closed("status", "Outcome of the call.", InferenceStatus::VALUES);

/// Direction of LLM tokens.
pub static TOKEN_TYPE: Label = Label::closed(
    "token_type",
    "Prompt (`input`) or completion (`output`) tokens.",
    TokenType::VALUES,
);

/// Health status of a provider, as published by the health tracker.
pub static HEALTH_STATUS: Label = Label::closed(
    "status",
    "Health status derived from the score; `unknown` below the minimum call volume.",
    HealthStatus::VALUES,
);

/// State of a circuit breaker.
pub static CIRCUIT_STATE: Label =
    Label::closed("state", "Circuit breaker state.", CircuitState::VALUES);

/// State a circuit breaker left.
pub static FROM_STATE: Label =
    Label::closed("from", "State before the transition.", CircuitState::VALUES);

/// State a circuit breaker entered.
pub static TO_STATE: Label =
    Label::closed("to", "State after the transition.", CircuitState::VALUES);

/// Why a provider call failed.
pub static ERROR_REASON: Label = Label::closed(
    "reason",
    "Failure class of a call: timeout, connection, server_error (5xx), rate_limited (429), \
     unauthorized (401/403), payment_required (402), not_found (404), bad_request (400).",
    ErrorKind::VALUES,
);

/// Why the gateway moved on to another provider.
pub static FAILOVER_REASON: Label = Label::closed(
    "reason",
    "Why the request moved on: a failure class of the call, or circuit_open when the \
     provider's circuit refused it (the call was not made).",
    FailoverReason::VALUES,
);

/// Why a request was refused before any provider was called.
pub static REFUSAL_REASON: Label = Label::closed(
    "reason",
    "Why a request was refused: shutting_down (503 while draining), unauthenticated (401: no \
     key, or an unknown one), key_inactive (401: revoked or expired), no_credits (402: nothing \
     left to spend), key_concurrency (429: the key's requests in flight at their cap), \
     gateway_concurrency (503: the service's requests in flight at their cap), body_too_large \
     (413), body_timeout (408: the body did not arrive in time), invalid_request (400), \
     unknown_model (404), insufficient_credits (402: the request's worst-case cost does not fit \
     the key's balance), admin_unauthorized (401 on an admin endpoint).",
    RefusalReason::VALUES,
);

/// The routing policy that chose a request's first provider.
pub static ROUTING_POLICY: Label = Label::closed(
    "policy",
    "Routing policy that chose the provider: spread (at random among the healthy), priority \
     (best health score), cheapest (lowest expected price per request), fastest (lowest recent \
     p95 latency), weighted (a blend of health, price and latency).",
    RoutingPolicy::VALUES,
);

/// Kind of anomaly detected for a provider.
pub static ANOMALY_KIND: Label = Label::closed(
    "kind",
    "latency_spike (p95 far above baseline), error_surge (error rate far above baseline), \
     traffic_drop (call volume far below baseline).",
    AnomalyKind::VALUES,
);

/// A customer's plan.
pub static PLAN: Label = Label::closed(
    "plan",
    "The key's plan when the event happened: `trial` or `paid` (a conversion is counted on \
     `trial`, the plan it ended).",
    Plan::VALUES,
);

/// What happened to a customer's account.
pub static CUSTOMER_EVENT: Label = Label::closed(
    "event",
    "key_created, trial_started (a key created on the trial plan), trial_converted (trial to \
     paid), cancelled (an active key revoked), lapsed (a key reached its expiry), key_revoked \
     (any revocation), credits_topped_up, credits_exhausted (the first 402 for lack of credits \
     since the key was created or last topped up).",
    CustomerEvent::VALUES,
);

/// HTTP request method.
pub static METHOD: Label = Label::closed("method", "HTTP method, upper-case.", HttpMethod::VALUES);

/// The matched route template, never the raw path.
pub static ROUTE: Label = Label::open(
    "route",
    "Route template as matched by the router (e.g. `/v1/models/{id}`), or `unmatched`.",
    200,
    false,
);

/// First digit of the HTTP status.
pub static STATUS_CLASS: Label =
    Label::closed("status_class", "HTTP status class.", StatusClass::VALUES);

/// Database operation name.
pub static OPERATION: Label = Label::open(
    "operation",
    "Logical database operation, e.g. `get_api_key`.",
    50,
    true,
);

/// Cache name.
pub static CACHE: Label = Label::open("cache", "Cache name, e.g. `api_keys`.", 20, true);

/// Version of the service.
pub static VERSION: Label =
    Label::open("version", "Version of the instrumented service.", 10, false);

/// Name of a metric, for self-monitoring.
pub static METRIC: Label = Label::open("metric", "Name of the metric concerned.", 500, false);

/// Name of a label, for self-monitoring.
pub static LABEL: Label = Label::open("label", "Name of the label concerned.", 100, false);

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
    &ERROR_REASON,
    &FAILOVER_REASON,
    &REFUSAL_REASON,
    &ANOMALY_KIND,
    &ROUTING_POLICY,
    &PLAN,
    &CUSTOMER_EVENT,
    &METHOD,
    &ROUTE,
    &STATUS_CLASS,
    &OPERATION,
    &CACHE,
    &VERSION,
    &METRIC,
    &LABEL,
];
