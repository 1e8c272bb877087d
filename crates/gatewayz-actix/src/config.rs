//! What the endpoints are mounted with: the metrics source, credentials, CORS, admin actions.

use std::{fmt, sync::Arc};

use actix_web::{
    HttpRequest,
    http::header::{self, HeaderMap, HeaderValue},
    web::Bytes,
};
use gatewayz_registry::Handle;

use crate::{
    Admin, Auth, Error, MetricsSource,
    error::cut,
    flights::{Flights, Read},
};

/// Everything the monitoring endpoints need; pass it to [`configure`](crate::configure).
///
/// Cheap to clone: build it once and clone it into each worker's `App`. Clones share their
/// reads in progress and the health state, so a failed render on one worker shows on every
/// worker's `/health`.
#[derive(Clone)]
pub struct Monitoring {
    pub(crate) source: Option<Arc<dyn MetricsSource>>,
    pub(crate) auth: Auth,
    pub(crate) cors: Cors,
    pub(crate) admin: Option<Admin>,
    pub(crate) dashboard: bool,
    flights: Arc<Flights>,
    /// The host's own reasons for `/health` to say `degraded`.
    checks: Vec<Check>,
}

/// A host's check for `/health`: why the service is degraded, or `None`.
type Check = Arc<dyn Fn() -> Option<String> + Send + Sync>;

impl fmt::Debug for Monitoring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitoring")
            .field("source", &self.source.as_ref().map(|_| "configured"))
            .field("auth", &self.auth)
            .field("cors", &self.cors)
            .field("admin", &self.admin)
            .field("dashboard", &self.dashboard)
            .finish_non_exhaustive()
    }
}

impl Monitoring {
    /// Endpoints serving what `handle`'s recorder holds; no authentication, CORS open to any
    /// origin on the JSON endpoints, admin endpoints off, status page on.
    pub fn new(handle: Handle) -> Self {
        Monitoring::from_source(Arc::new(handle))
    }

    /// Endpoints reading from a [`MetricsSource`] of the host's own.
    pub fn from_source(source: Arc<dyn MetricsSource>) -> Self {
        Monitoring {
            source: Some(source),
            ..Monitoring::without_recorder()
        }
    }

    /// Endpoints with nothing to serve: the metrics endpoints answer 503 and `/health` says
    /// `degraded`. For services that start before their recorder, or failed to install it.
    pub fn without_recorder() -> Self {
        Monitoring {
            source: None,
            auth: Auth::default(),
            cors: Cors::default(),
            admin: None,
            dashboard: true,
            flights: Arc::default(),
            checks: Vec::new(),
        }
    }

    /// Requires credentials on the metrics and summary endpoints.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets which browser origins may read the JSON endpoints.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }

    /// Turns the admin endpoints on.
    pub fn admin(mut self, admin: Admin) -> Self {
        self.admin = Some(admin);
        self
    }

    /// Serves the status page at `/prometheus/dashboard` (the default), or not (`false`: the
    /// path is left to the host, which usually answers 404).
    ///
    /// The page holds no data: what it shows comes from the summary endpoint, with that
    /// endpoint's authentication, so turning it off hides nothing that the summary does not.
    pub fn dashboard(mut self, on: bool) -> Self {
        self.dashboard = on;
        self
    }

    /// Adds a check of the host's own to `/health`: while `check` returns a reason, `/health`
    /// says `degraded` with that reason (a dependency unreachable and worked around, say). It
    /// runs on every `/health` request: keep it to reading a flag.
    pub fn degraded_when(
        mut self,
        check: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Runs `read` on the metrics source, on the blocking pool, shared with concurrent
    /// requests for the same answer; remembers the outcome for `/health`.
    pub(crate) async fn read(
        &self,
        what: Read,
        read: impl FnOnce(&dyn MetricsSource) -> Result<Bytes, Error> + Send + 'static,
    ) -> Result<Bytes, Error> {
        let source = self.source.as_ref().ok_or(Error::NoRecorder)?;
        self.flights.read(what, source, read).await
    }

    /// Why `/health` says `degraded`, if it does.
    pub(crate) fn degraded_reason(&self) -> Option<String> {
        if self.source.is_none() {
            return Some(Error::NoRecorder.to_string());
        }
        self.flights
            .last_failure()
            .or_else(|| self.checks.iter().find_map(|check| check()))
    }
}

/// Which browser origins may read the JSON endpoints (`/prometheus/metrics/summary`, `/health`,
/// `/health/providers`): custom dashboards and mobile apps. Any origin by default.
///
/// CORS only governs what browsers let pages read; it is no access control. Credentials, when
/// configured, are still required (send them in `Authorization`; preflights are answered
/// without them, as browsers send none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cors {
    origins: Origins,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Origins {
    /// No CORS headers: browsers keep other origins out.
    Off,
    /// `Access-Control-Allow-Origin: *`.
    #[default]
    Any,
    /// The request's origin, echoed when it is one of these.
    List(Vec<String>),
}

impl Cors {
    /// Any origin may read (`Access-Control-Allow-Origin: *`); the default.
    pub fn any_origin() -> Self {
        Cors {
            origins: Origins::Any,
        }
    }

    /// No CORS headers at all; `OPTIONS` answers 405.
    pub fn off() -> Self {
        Cors {
            origins: Origins::Off,
        }
    }

    /// Only these origins may read, e.g. `https://dashboard.example.com`.
    pub fn origins<I, S>(origins: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut list = Vec::new();
        for origin in origins {
            let origin = origin.into();
            validate_origin(&origin)?;
            list.push(origin.to_ascii_lowercase());
        }
        if list.is_empty() {
            return Err(Error::InvalidOrigin {
                origin: String::new(),
                reason: "the list is empty; use `Cors::off()` to allow no origin",
            });
        }
        Ok(Cors {
            origins: Origins::List(list),
        })
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.origins != Origins::Off
    }

    /// Adds the CORS response headers for `req`'s origin.
    pub(crate) fn apply(&self, req: &HttpRequest, headers: &mut HeaderMap) {
        match &self.origins {
            Origins::Off => {}
            Origins::Any => {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
            }
            Origins::List(list) => {
                // The answer depends on the request's origin: caches must key on it.
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
                let origin = req.headers().get(header::ORIGIN);
                if let Some(origin) = origin.filter(|o| {
                    list.iter()
                        .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(o.as_bytes()))
                }) {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                }
            }
        }
    }
}

fn validate_origin(origin: &str) -> Result<(), Error> {
    let invalid = |reason| {
        Err(Error::InvalidOrigin {
            origin: cut(origin),
            reason,
        })
    };
    let lower = origin.to_ascii_lowercase();
    let Some(host) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return invalid("it must start with `https://` or `http://`");
    };
    if host.is_empty() {
        return invalid("it has no host");
    }
    if host.contains('/') {
        return invalid("an origin has no path");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return invalid("the host has characters an origin cannot have");
    }
    Ok(())
}
