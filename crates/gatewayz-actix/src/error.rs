//! The crate's error type, and the one JSON shape every error response has.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use gatewayz_registry::Category;

use crate::action::CircuitAction;
use serde::Serialize;

/// Everything that can go wrong: configuring the endpoints, or answering a request.
///
/// Request errors become JSON responses (see [`ResponseError`]); none of them ever contains a
/// credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoints were mounted without a metrics recorder.
    #[error(
        "no metrics recorder is configured; build one with \
         `gatewayz_registry::RecorderBuilder::install` and pass its handle to `Monitoring::new`"
    )]
    NoRecorder,
    /// Reading the metrics failed (the source returned an error or panicked).
    #[error("reading the metrics failed: {reason}; the service log has the details")]
    Source {
        /// What went wrong, in words written by the source (never a panic payload).
        reason: String,
    },
    /// `?category=` named something other than the five categories.
    #[error(
        "unknown category `{given}`; use one of {}, or leave `category` out for all of them",
        CATEGORIES.join(", ")
    )]
    UnknownCategory {
        /// What was asked for, cut to 64 characters.
        given: String,
    },
    /// `?category=` was given more than once.
    #[error("`category` was given more than once; give it once, or leave it out for all")]
    RepeatedCategory,
    /// The request carried no credentials, or wrong ones.
    #[error(
        "missing or invalid credentials; send them in the `Authorization` header with one of \
         the schemes listed in `WWW-Authenticate`"
    )]
    Unauthorized {
        /// The `WWW-Authenticate` challenges to answer with, one header each.
        challenges: Vec<&'static str>,
    },
    /// No endpoint at this path.
    #[error(
        "no such endpoint; the monitoring endpoints are /prometheus/metrics/{{all,{},summary,docs}}, \
         /prometheus/dashboard (unless turned off), /health and /health/providers",
        CATEGORIES.join(",")
    )]
    NotFound,
    /// The endpoint exists but does not answer this method.
    #[error("method not allowed; this endpoint answers {allow}")]
    MethodNotAllowed {
        /// The methods it answers, as the `Allow` header lists them.
        allow: &'static str,
    },
    /// An admin endpoint was called but no admin key is configured.
    #[error(
        "admin endpoints are off; set `GATEWAYZ_ADMIN_KEY` and pass `Admin` to \
         `Monitoring::admin` to turn them on"
    )]
    AdminDisabled,
    /// The admin action named a provider the host does not know.
    #[error("unknown provider `{provider}`; `/health/providers` lists the known ones")]
    UnknownProvider {
        /// The provider asked for, cut to 64 characters.
        provider: String,
    },
    /// The admin path named an action other than `open`, `close` and `reset`.
    #[error("unknown circuit action `{given}`; use open, close or reset")]
    UnknownAction {
        /// What was asked for, cut to 64 characters.
        given: String,
    },
    /// A request body or parameter a host endpoint cannot use (for hosts' own admin
    /// endpoints, which share this error shape).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong, and how to fix it.
        reason: String,
    },
    /// The host could not carry out an admin action.
    #[error("the admin action failed: {reason}")]
    AdminAction {
        /// Why, in the host's words.
        reason: String,
    },
    /// A configured secret (token, password, admin key) is unusable.
    #[error("{name} {reason}")]
    InvalidSecret {
        /// Where it came from: an environment variable or a builder method.
        name: &'static str,
        /// What is wrong with it, and what to do; never the value itself.
        reason: &'static str,
    },
    /// Only one half of the basic credentials is configured.
    #[error(
        "`GATEWAYZ_METRICS_USER` and `GATEWAYZ_METRICS_PASSWORD` go together; set both to use \
         basic authentication, or neither"
    )]
    IncompleteBasicAuth,
    /// A CORS origin that browsers would never send.
    #[error(
        "invalid CORS origin `{origin}`: {reason}; write origins as `https://host[:port]`, \
         without a path or a trailing slash"
    )]
    InvalidOrigin {
        /// The origin as given, cut to 64 characters.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Cuts client-supplied text before it goes into a message.
pub(crate) fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}

/// The body of every error response: `{"error": {"status": 400, "message": "...", ...}}`.
#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    status: u16,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_values: Option<&'a [&'a str]>,
}

/// The category names, as `?category=` takes them.
const CATEGORIES: [&str; Category::ALL.len()] = {
    let mut names = [""; Category::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Category::ALL[i].as_str();
        i += 1;
    }
    names
};

/// The admin circuit actions, as the path takes them.
const ACTIONS: [&str; CircuitAction::ALL.len()] = {
    let mut names = [""; CircuitAction::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = CircuitAction::ALL[i].as_str();
        i += 1;
    }
    names
};

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::UnknownCategory { .. }
            | Error::RepeatedCategory
            | Error::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::NotFound
            | Error::AdminDisabled
            | Error::UnknownProvider { .. }
            | Error::UnknownAction { .. } => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::NoRecorder => StatusCode::SERVICE_UNAVAILABLE,
            Error::Source { .. }
            | Error::AdminAction { .. }
            | Error::InvalidSecret { .. }
            | Error::IncompleteBasicAuth
            | Error::InvalidOrigin { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let valid_values = match self {
            Error::UnknownCategory { .. } => Some(&CATEGORIES[..]),
            Error::UnknownAction { .. } => Some(&ACTIONS[..]),
            _ => None,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]));
        match self {
            Error::Unauthorized { challenges } => {
                for challenge in challenges {
                    response.append_header((header::WWW_AUTHENTICATE, *challenge));
                }
            }
            Error::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        response.json(Body {
            error: Detail {
                status: status.as_u16(),
                message: self.to_string(),
                valid_values,
            },
        })
    }
}
