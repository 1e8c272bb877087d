//! Admin actions on provider circuits, performed by the host through [`AdminActions`].

use std::{
    fmt,
    str::FromStr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::{
    CircuitAction, Error,
    auth::{self, ADMIN_CHALLENGE, Scheme, Secret},
    error::cut,
};

impl FromStr for CircuitAction {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        CircuitAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::UnknownAction { given: cut(s) })
    }
}

/// Admin operations the host service performs; this crate only authenticates, routes and
/// audits them, so it needs nothing from the health crate.
///
/// Return [`Error::UnknownProvider`] for a provider the host does not know (the endpoint
/// answers 404) and [`Error::AdminAction`] when the action cannot be carried out (500).
/// Calls run on actix's blocking pool, so an implementation may take locks.
pub trait AdminActions: Send + Sync + 'static {
    /// Forces `provider`'s circuit open or closed, or resets it.
    fn force_circuit(&self, provider: &str, action: CircuitAction) -> Result<(), Error>;

    /// A request to an admin endpoint came without the admin key, or with a wrong one; it is
    /// answered 401 after this returns.
    ///
    /// Anyone who can reach the port can send these, as fast as they like, so whatever this
    /// does must stay bounded. The default logs a warning on the audit target at most once
    /// every [`REFUSAL_LOG_INTERVAL`], saying how many more were refused since the last one.
    /// Override it to count refusals in the host's own metrics and logs instead.
    fn refused(&self, req: &HttpRequest) {
        REFUSALS.refused(req);
    }
}

/// The default [`AdminActions::refused`] logs at most one warning per this interval.
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Refusals of the process, for the default [`AdminActions::refused`].
static REFUSALS: RefusalLog = RefusalLog {
    last: Mutex::new(None),
    unlogged: AtomicU64::new(0),
};

struct RefusalLog {
    /// When the last warning was written.
    last: Mutex<Option<Instant>>,
    /// Refusals since then.
    unlogged: AtomicU64,
}

impl RefusalLog {
    /// Counts a refusal; `Some(refusals not logged since the last line)` when this one is to be
    /// logged.
    fn note(&self, now: Instant) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| now.saturating_duration_since(at) < REFUSAL_LOG_INTERVAL) {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.unlogged.swap(0, Ordering::Relaxed))
    }

    fn refused(&self, req: &HttpRequest) {
        let Some(unlogged) = self.note(Instant::now()) else {
            return;
        };
        tracing::warn!(
            target: "gatewayz_actix::audit",
            path = %cut(req.path()), peer = %peer(req), refused_since_last_line = unlogged,
            "admin request refused: missing or wrong admin key (at most one line every 10 s)"
        );
    }
}

/// The admin endpoints' configuration: the key that unlocks them and what they act on.
#[derive(Clone)]
pub struct Admin {
    key: Secret,
    actions: Arc<dyn AdminActions>,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// Admin endpoints unlocked by `Authorization: Bearer <key>`. The key follows the rules of
    /// a bearer token: visible ASCII, no spaces, at most 1024 bytes.
    pub fn new(key: impl AsRef<str>, actions: Arc<dyn AdminActions>) -> Result<Self, Error> {
        Ok(Admin {
            key: auth::token("the admin key", key.as_ref())?,
            actions,
        })
    }

    /// Admin endpoints unlocked by [`ENV_ADMIN_KEY`](crate::ENV_ADMIN_KEY); `None` (admin off)
    /// when it is unset.
    pub fn from_env(actions: Arc<dyn AdminActions>) -> Result<Option<Self>, Error> {
        let vars = auth::env_snapshot(&[crate::ENV_ADMIN_KEY])?;
        Admin::from_vars(auth::lookup_in(&vars), actions)
    }

    /// As [`Admin::from_env`], reading variables through `lookup`.
    pub fn from_vars(
        lookup: impl FnMut(&str) -> Option<String>,
        actions: Arc<dyn AdminActions>,
    ) -> Result<Option<Self>, Error> {
        Ok(auth::admin_key(lookup)?.map(|key| Admin { key, actions }))
    }

    /// Checks a request's admin key, for the host's own admin endpoints (the simulated
    /// providers' controls, say); a refusal is reported to [`AdminActions::refused`] and is the
    /// 401 to answer.
    pub fn authorize(&self, req: &HttpRequest) -> Result<(), Error> {
        match auth::credentials(req) {
            Some((Scheme::Bearer, key)) if self.key.matches(key) => Ok(()),
            _ => {
                self.actions.refused(req);
                Err(Error::Unauthorized {
                    challenges: vec![ADMIN_CHALLENGE],
                })
            }
        }
    }
}

fn peer(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.to_string()).unwrap_or_default()
}

#[derive(Serialize)]
struct Done<'a> {
    provider: &'a str,
    action: CircuitAction,
    result: &'static str,
}

impl Serialize for CircuitAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `POST /admin/providers/{provider}/circuit/{action}`.
pub(crate) async fn circuit(req: HttpRequest, admin: Option<Admin>) -> Result<HttpResponse, Error> {
    let admin = admin.ok_or(Error::AdminDisabled)?;
    let provider = req
        .match_info()
        .get("provider")
        .unwrap_or_default()
        .to_owned();
    let action = req
        .match_info()
        .get("action")
        .unwrap_or_default()
        .to_owned();
    let peer = peer(&req);
    admin.authorize(&req)?;
    let action: CircuitAction = action.parse()?;
    let actions = Arc::clone(&admin.actions);
    let target = provider.clone();
    let outcome = web::block(move || actions.force_circuit(&target, action))
        .await
        .unwrap_or_else(|_| {
            Err(Error::AdminAction {
                reason: "the host's admin action panicked".to_owned(),
            })
        });
    match &outcome {
        Ok(()) => tracing::info!(
            target: "gatewayz_actix::audit",
            provider = %provider, action = %action, peer = %peer, "admin action done"
        ),
        Err(err) => tracing::warn!(
            target: "gatewayz_actix::audit",
            provider = %cut(&provider), action = %action, peer = %peer, error = %err,
            "admin action failed"
        ),
    }
    outcome?;
    Ok(HttpResponse::Ok().json(Done {
        provider: &provider,
        action,
        result: "done",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_refusals_logs_one_line_per_interval() {
        let log = RefusalLog {
            last: Mutex::new(None),
            unlogged: AtomicU64::new(0),
        };
        let start = Instant::now();
        assert_eq!(log.note(start), Some(0));
        let logged = (1..=10_000)
            .filter(|i| log.note(start + Duration::from_micros(*i)).is_some())
            .count();
        assert_eq!(logged, 0);
        // The first refusal of the next interval says how many went unlogged meanwhile.
        assert_eq!(log.note(start + REFUSAL_LOG_INTERVAL), Some(10_000));
        assert_eq!(log.note(start + REFUSAL_LOG_INTERVAL), None);
    }
}
