//! Credentials: bearer tokens and HTTP basic, compared in constant time, never shown.

use std::fmt;

use actix_web::{HttpRequest, http::header};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::Error;

/// Environment variable holding the bearer token for the metrics and summary endpoints.
pub const ENV_METRICS_TOKEN: &str = "GATEWAYZ_METRICS_TOKEN";
/// Environment variable holding the basic-auth user name for the metrics and summary endpoints.
pub const ENV_METRICS_USER: &str = "GATEWAYZ_METRICS_USER";
/// Environment variable holding the basic-auth password for the metrics and summary endpoints.
pub const ENV_METRICS_PASSWORD: &str = "GATEWAYZ_METRICS_PASSWORD";
/// Environment variable holding the admin key; the admin endpoints are off without it.
pub const ENV_ADMIN_KEY: &str = "GATEWAYZ_ADMIN_KEY";

/// Longest secret accepted, and longest credential compared, in bytes.
///
/// Longer `Authorization` values are refused before any comparison, so an attacker cannot make
/// the server hash or compare megabytes.
pub const MAX_SECRET_LEN: usize = 1024;

const BEARER_CHALLENGE: &str = "Bearer realm=\"gatewayz\"";
const BASIC_CHALLENGE: &str = "Basic realm=\"gatewayz\", charset=\"UTF-8\"";
pub(crate) const ADMIN_CHALLENGE: &str = "Bearer realm=\"gatewayz-admin\"";

/// A secret that prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Box<[u8]>);

impl Secret {
    fn new(bytes: impl Into<Box<[u8]>>) -> Self {
        Secret(bytes.into())
    }

    /// Whether `candidate` equals the secret, in time that depends on the candidate's length
    /// only, never on the secret's content or length.
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        let secret = &self.0;
        if secret.is_empty() {
            return false;
        }
        // Comparing lengths first would end early and leak the secret's length; cycling
        // through the secret keeps the loop count the candidate's.
        let mut equal = (candidate.len() as u64).ct_eq(&(secret.len() as u64));
        for (i, byte) in candidate.iter().enumerate() {
            equal &= byte.ct_eq(&secret[i % secret.len()]);
        }
        bool::from(equal)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A token for `Authorization: Bearer`: visible ASCII, no spaces, 1 to [`MAX_SECRET_LEN`] bytes.
pub(crate) fn token(name: &'static str, value: &str) -> Result<Secret, Error> {
    let invalid = |reason| Err(Error::InvalidSecret { name, reason });
    if value.is_empty() {
        return invalid("is empty; give it a value, or unset it to turn this authentication off");
    }
    if value.len() > MAX_SECRET_LEN {
        return invalid("is longer than 1024 bytes; use a shorter random token");
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return invalid(
            "may contain only visible ASCII characters, without spaces; use a random token \
             such as the output of `openssl rand -hex 32`",
        );
    }
    Ok(Secret::new(value.as_bytes()))
}

/// Credentials the metrics and summary endpoints accept. Off (everything public) by default.
///
/// Either or both of a bearer token and basic credentials, the two schemes Prometheus scrape
/// configs speak (`authorization: {credentials: ...}` and `basic_auth`). When both are set,
/// either one lets a request in. `Debug` shows which are set, never their values.
///
/// ```
/// use gatewayz_actix::Auth;
///
/// let auth = Auth::default().with_bearer("s3cr3t-token")?.with_basic("prometheus", "hunter2")?;
/// assert!(auth.is_enabled());
/// assert!(!format!("{auth:?}").contains("s3cr3t"));
/// # Ok::<(), gatewayz_actix::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Auth {
    bearer: Option<Secret>,
    basic: Option<Basic>,
}

#[derive(Clone, Debug)]
struct Basic {
    user: String,
    /// `user:password`, as a decoded `Basic` credential reads; one comparison covers both.
    joined: Secret,
}

impl Auth {
    /// Accepts `Authorization: Bearer <token>`.
    pub fn with_bearer(mut self, token: impl AsRef<str>) -> Result<Self, Error> {
        self.bearer = Some(self::token("the bearer token", token.as_ref())?);
        Ok(self)
    }

    /// Accepts HTTP basic credentials. The user may not contain `:` (RFC 7617); both may be any
    /// UTF-8 without control characters.
    pub fn with_basic(
        mut self,
        user: impl Into<String>,
        password: impl AsRef<str>,
    ) -> Result<Self, Error> {
        let (user, password) = (user.into(), password.as_ref());
        let invalid = |name, reason| Err(Error::InvalidSecret { name, reason });
        if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
            return invalid(
                "the basic-auth user",
                "must be non-empty, without `:` or control characters",
            );
        }
        if password.is_empty() || password.chars().any(char::is_control) {
            return invalid(
                "the basic-auth password",
                "must be non-empty, without control characters",
            );
        }
        let joined = format!("{user}:{password}");
        if joined.len() > MAX_SECRET_LEN {
            return invalid(
                "the basic-auth credentials",
                "are longer than 1024 bytes together; use a shorter password",
            );
        }
        self.basic = Some(Basic {
            user,
            joined: Secret::new(joined.into_bytes()),
        });
        Ok(self)
    }

    /// Reads [`ENV_METRICS_TOKEN`], [`ENV_METRICS_USER`] and [`ENV_METRICS_PASSWORD`].
    ///
    /// Unset variables leave that scheme off; a variable that is set but empty is an error, so
    /// a blank line in a deployment file cannot turn authentication off unnoticed.
    pub fn from_env() -> Result<Self, Error> {
        let vars = env_snapshot(&[ENV_METRICS_TOKEN, ENV_METRICS_USER, ENV_METRICS_PASSWORD])?;
        Auth::from_vars(lookup_in(&vars))
    }

    /// As [`Auth::from_env`], reading variables through `lookup` (a config file, a test).
    pub fn from_vars(mut lookup: impl FnMut(&str) -> Option<String>) -> Result<Self, Error> {
        let mut auth = Auth::default();
        if let Some(token) = lookup(ENV_METRICS_TOKEN) {
            auth.bearer = Some(self::token(env_name(ENV_METRICS_TOKEN), &token)?);
        }
        match (lookup(ENV_METRICS_USER), lookup(ENV_METRICS_PASSWORD)) {
            (Some(user), Some(password)) => auth = auth.with_basic(user, password)?,
            (None, None) => {}
            _ => return Err(Error::IncompleteBasicAuth),
        }
        Ok(auth)
    }

    /// Whether any credentials are required.
    pub fn is_enabled(&self) -> bool {
        self.bearer.is_some() || self.basic.is_some()
    }

    /// The basic-auth user name, if basic authentication is on (it is not a secret).
    pub fn basic_user(&self) -> Option<&str> {
        self.basic.as_ref().map(|b| b.user.as_str())
    }

    /// Lets the request through, or says how to authenticate.
    pub(crate) fn check(&self, req: &HttpRequest) -> Result<(), Error> {
        if !self.is_enabled() {
            return Ok(());
        }
        let accepted = credentials(req).is_some_and(|(scheme, credentials)| match scheme {
            Scheme::Bearer => self.bearer.as_ref().is_some_and(|t| t.matches(credentials)),
            Scheme::Basic => self.basic.as_ref().is_some_and(|basic| {
                base64::engine::general_purpose::STANDARD
                    .decode(credentials)
                    .is_ok_and(|decoded| basic.joined.matches(&decoded))
            }),
        });
        if accepted {
            Ok(())
        } else {
            Err(self.unauthorized())
        }
    }

    fn unauthorized(&self) -> Error {
        let mut challenges = Vec::with_capacity(2);
        if self.bearer.is_some() {
            challenges.push(BEARER_CHALLENGE);
        }
        if self.basic.is_some() {
            challenges.push(BASIC_CHALLENGE);
        }
        Error::Unauthorized { challenges }
    }
}

/// `"`NAME`"` for messages about an environment variable; static, so errors stay `'static`.
fn env_name(name: &str) -> &'static str {
    match name {
        ENV_METRICS_TOKEN => "`GATEWAYZ_METRICS_TOKEN`",
        ENV_METRICS_USER => "`GATEWAYZ_METRICS_USER`",
        ENV_METRICS_PASSWORD => "`GATEWAYZ_METRICS_PASSWORD`",
        ENV_ADMIN_KEY => "`GATEWAYZ_ADMIN_KEY`",
        _ => "an environment variable",
    }
}

/// The variables among `names` that are set; an error for one that is not UTF-8.
pub(crate) fn env_snapshot(names: &[&'static str]) -> Result<Vec<(&'static str, String)>, Error> {
    let mut vars = Vec::new();
    for &name in names {
        match std::env::var(name) {
            Ok(value) => vars.push((name, value)),
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::InvalidSecret {
                    name: env_name(name),
                    reason: "is not valid UTF-8; give it a plain ASCII value",
                });
            }
        }
    }
    Ok(vars)
}

/// A lookup function over a snapshot taken by [`env_snapshot`].
pub(crate) fn lookup_in(vars: &[(&'static str, String)]) -> impl FnMut(&str) -> Option<String> {
    |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// Reads an admin key from [`ENV_ADMIN_KEY`] through `lookup`; `None` when unset.
pub(crate) fn admin_key(
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<Option<Secret>, Error> {
    lookup(ENV_ADMIN_KEY)
        .map(|key| token(env_name(ENV_ADMIN_KEY), &key))
        .transpose()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Basic,
}

/// The scheme and credentials of the `Authorization` header, as raw bytes (they may be
/// non-ASCII); `None` when absent, malformed, empty or longer than [`MAX_SECRET_LEN`].
pub(crate) fn credentials(req: &HttpRequest) -> Option<(Scheme, &[u8])> {
    let value = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let scheme = if scheme.eq_ignore_ascii_case(b"bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case(b"basic") {
        Scheme::Basic
    } else {
        return None;
    };
    let start = rest.iter().position(|b| *b != b' ')?;
    let credentials = rest[start..].trim_ascii_end();
    (!credentials.is_empty() && credentials.len() <= MAX_SECRET_LEN)
        .then_some((scheme, credentials))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_ignores_nothing() {
        let secret = Secret::new(&b"abc"[..]);
        assert!(secret.matches(b"abc"));
        for wrong in [&b""[..], b"ab", b"abd", b"abcabc", b"ABC", b"abc "] {
            assert!(!secret.matches(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let auth = Auth::default()
            .with_bearer("tok-123")
            .unwrap()
            .with_basic("prom", "pw-456")
            .unwrap();
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("tok-123") && !shown.contains("pw-456"),
            "{shown}"
        );
        assert!(shown.contains("prom"), "{shown}");
    }
}
