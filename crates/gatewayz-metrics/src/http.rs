//! HTTP requests served: count, duration, in flight; and the gateway's own overhead.

use gatewayz_catalogue::{HTTP_REQUEST_DURATION, HTTP_REQUESTS, HttpMethod, OTHER, StatusClass};
use hashbrown::Equivalent;
use metrics::{Counter, Gauge, Histogram, Recorder};

use crate::handles::{counter, histogram};

pub(crate) struct HttpHandles {
    pub(crate) requests: Counter,
    pub(crate) duration: Histogram,
}

impl HttpHandles {
    pub(crate) fn new(r: &dyn Recorder, key: &HttpRef<'_>) -> Self {
        let labels = [key.method, key.route, key.class];
        HttpHandles {
            requests: counter(r, &HTTP_REQUESTS, &labels),
            duration: histogram(r, &HTTP_REQUEST_DURATION, &labels),
        }
    }
}

/// Cache key: method and status class are already folded into their closed sets.
#[derive(Hash, PartialEq, Eq)]
pub(crate) struct HttpKey {
    method: &'static str,
    route: Box<str>,
    class: &'static str,
}

/// Borrowed form of [`HttpKey`]; hashes identically.
#[derive(Hash)]
pub(crate) struct HttpRef<'a> {
    method: &'static str,
    route: &'a str,
    class: &'static str,
}

impl<'a> HttpRef<'a> {
    pub(crate) fn new(method: &str, route: &'a str, status: u16) -> Self {
        HttpRef {
            method: HttpMethod::parse(method).map_or(OTHER, HttpMethod::as_str),
            route,
            class: StatusClass::of(status).map_or(OTHER, StatusClass::as_str),
        }
    }

    pub(crate) fn to_key(&self) -> HttpKey {
        HttpKey {
            method: self.method,
            route: self.route.into(),
            class: self.class,
        }
    }
}

impl Equivalent<HttpKey> for HttpRef<'_> {
    fn equivalent(&self, key: &HttpKey) -> bool {
        self.method == key.method && self.class == key.class && self.route == &*key.route
    }
}

/// Counts a request as in flight until dropped: when the response is done, when the handler
/// panics, or when the client goes away and the request future is dropped.
#[must_use = "the request stops counting as in flight when this guard is dropped"]
#[derive(Debug)]
pub struct InFlight {
    gauge: Gauge,
}

impl InFlight {
    pub(crate) fn start(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        InFlight {
            gauge: gauge.clone(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}
