//! Routing a request over its candidate providers: the order, the spread over the healthy
//! front, admission, and counting each failover once, when the caller moves on.

use std::sync::Arc;

use gatewayz_catalogue::{FailoverReason, HealthStatus};

use crate::{
    HealthTracker, Permit, Rejected, RoutingPolicy,
    permit::{self, Slot},
    provider::{Provider, read},
};

/// The candidates of one request, in the order to try them, each with its admission.
///
/// Iterate it; for each [`Candidate`], make the call if it was admitted and report it on the
/// permit ([`Permit::finish`]). Asking for the next candidate is moving on: the route then
/// counts one failover away from the previous candidate in `gatewayz_failovers_total`, with
/// the reason its attempt failed (or `circuit_open` if it was refused). A request that stops
/// (success, or a failure that [`should_fail_over`](crate::should_fail_over) says to return)
/// simply does not ask again, and no failover is counted; nor is one counted after the last
/// candidate. This is the only way failovers are counted.
///
/// ```
/// use std::time::Duration;
/// use gatewayz_health::{HealthConfig, HealthTracker, ProviderConfig};
/// use gatewayz_metrics::{Inference, Outcome};
///
/// let tracker = HealthTracker::new(HealthConfig::default())?;
/// tracker.register("groq", ProviderConfig::default())?;
/// tracker.register("openrouter", ProviderConfig::default())?;
/// tracker.force_open("groq")?;
///
/// let mut served_by = None;
/// for candidate in tracker.route(&["groq", "openrouter"]) {
///     let Ok(permit) = candidate.admission else { continue }; // refused: move on
///     // ... call the provider, then report the attempt once:
///     permit.finish(&Inference {
///         model: "llama-3.1-70b",
///         outcome: Outcome::Success,
///         duration: Duration::from_millis(700),
///         ..Inference::default()
///     });
///     served_by = Some(candidate.provider);
///     break;
/// }
/// assert_eq!(served_by, Some("openrouter"));
/// # Ok::<(), gatewayz_health::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a route does nothing until its candidates are tried"]
pub struct Route<'a> {
    remaining: std::vec::IntoIter<(&'a str, Arc<Provider>)>,
    previous: Option<Previous>,
}

#[derive(Debug)]
struct Previous {
    provider: Arc<Provider>,
    refused: bool,
    slot: Arc<Slot>,
}

/// One candidate of a [`Route`]: the provider, and a permit to call it or why it was refused.
#[derive(Debug)]
#[must_use]
pub struct Candidate<'a> {
    /// The provider, as the caller spelled it.
    pub provider: &'a str,
    /// A permit to call it, or the refusal (already counted).
    pub admission: Result<Permit, Rejected>,
}

impl<'a> Iterator for Route<'a> {
    type Item = Candidate<'a>;

    fn next(&mut self) -> Option<Candidate<'a>> {
        let (name, provider) = self.remaining.next()?;
        if let Some(previous) = self.previous.take() {
            let reason = if previous.refused {
                Some(FailoverReason::CircuitOpen)
            } else {
                previous.slot.failure().map(FailoverReason::from)
            };
            if let (Some(reason), Some(published)) = (reason, &previous.provider.published) {
                published.failed_over(reason);
            }
        }
        let slot = Arc::new(Slot::default());
        let admission = permit::acquire(&provider, Some(Arc::clone(&slot)));
        self.previous = Some(Previous {
            provider,
            refused: admission.is_err(),
            slot,
        });
        Some(Candidate {
            provider: name,
            admission,
        })
    }
}

impl HealthTracker {
    /// The route of one request over `candidates` (the providers that can serve it, listed by
    /// preference), ordered by the configured [`RoutingPolicy`] (`failover.policy`).
    ///
    /// Unregistered candidates are left out. If every circuit is open, the route holds the one
    /// candidate whose cool-down ends first, so the caller learns when to retry from its
    /// refusal.
    pub fn route<'a>(&self, candidates: &[&'a str]) -> Route<'a> {
        let order = self.failover_order(candidates);
        let mut ordered: Vec<(&'a str, Arc<Provider>)> = {
            let map = read(&self.providers);
            order
                .into_iter()
                .filter_map(|name| map.get(name).map(|p| (name, Arc::clone(p))))
                .collect()
        };
        if self.shared.config.failover.policy == RoutingPolicy::Spread {
            spread(&mut ordered);
        }
        Route {
            remaining: ordered.into_iter(),
            previous: None,
        }
    }
}

/// The leading candidates that are healthy, or not judged yet, are equally good first choices:
/// the first is drawn among them at random, and the rest keep their order for failover.
fn spread(order: &mut [(&str, Arc<Provider>)]) {
    let front = order
        .iter()
        .take_while(|(_, p)| matches!(p.status(), HealthStatus::Healthy | HealthStatus::Unknown))
        .count();
    if front > 1 {
        order[..front].rotate_left(fastrand::usize(..front));
    }
}
