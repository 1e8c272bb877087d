//! Routing a request over its candidate providers: the routing policy's first choice, the
//! failover order for the rest, admission, and counting each failover once, when the caller
//! moves on.

use std::sync::Arc;

use gatewayz_catalogue::{FailoverReason, RoutingPolicy};
use smallvec::SmallVec;

use crate::{
    HealthTracker, Permit, Price, Rejected,
    permit::{self, Routed, Slot},
    policy::{self, Entry},
    provider::{Routing, read},
    tracker::Providers,
};

/// One provider that can serve a request, with its price for the request's model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offer<'a> {
    /// The provider, as registered.
    pub provider: &'a str,
    /// Its price for the model; `None` when unknown (`cheapest` then never prefers it, and
    /// the request's reference cost leaves it out).
    pub price: Option<Price>,
}

impl<'a> Offer<'a> {
    /// `provider` at `price`.
    pub fn new(provider: &'a str, price: Price) -> Offer<'a> {
        Offer {
            provider,
            price: Some(price),
        }
    }
}

/// What routing needs to know of one request: its model (which selects the model's policy
/// and token ratio), whether it streams (then `fastest` compares time to first token), and
/// its candidates with their prices, listed by preference (ties keep this order).
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'r, 'a> {
    /// The model as requested, e.g. `llama-3.1-70b`.
    pub model: &'r str,
    /// Whether the response is streamed.
    pub stream: bool,
    /// The providers that can serve it.
    pub offers: &'r [Offer<'a>],
}

/// Candidates kept inline in a [`Route`]; more take one allocation.
const INLINE: usize = 8;

/// The candidates of one request, in the order to try them, each with its admission.
///
/// Iterate it; for each [`Candidate`], make the call if it was admitted and report it on the
/// permit ([`Permit::finish`]). Asking for the next candidate is moving on: the route then
/// counts one failover away from the previous candidate in `gatewayz_failovers_total`, with
/// the reason its attempt failed (or `circuit_open` if it was refused). A request that stops
/// (success, or a failure that [`should_fail_over`](crate::should_fail_over) says to return)
/// simply does not ask again, and no failover is counted; nor is one counted after the last
/// candidate. This is the only way failovers are counted. The first candidate is counted in
/// `gatewayz_routing_decisions_total`, under the policy in force, when it is handed out.
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
#[must_use = "a route does nothing until its candidates are tried"]
pub struct Route<'a> {
    providers: Providers,
    /// The candidates, ranked for failover, in the caller's order; `used` once handed out.
    entries: SmallVec<[Entry<'a>; INLINE]>,
    /// The policy's first choice, until it is handed out.
    first: Option<usize>,
    policy: RoutingPolicy,
    reference: Option<Price>,
    /// Attempts handed out so far.
    attempts: u32,
    /// The latest candidate handed out: its provider, and whether it was refused.
    previous: Option<(Arc<crate::provider::Provider>, bool)>,
    /// Shared with the permits handed out, created with the first.
    slot: Option<Arc<Slot>>,
}

impl std::fmt::Debug for Route<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let remaining: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| !e.used)
            .map(|e| e.name)
            .collect();
        f.debug_struct("Route")
            .field("policy", &self.policy)
            .field("first", &self.first.map(|i| self.entries[i].name))
            .field("remaining", &remaining)
            .finish_non_exhaustive()
    }
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
        let index = self
            .first
            .take()
            .or_else(|| policy::next_in_order(&self.entries))?;
        let entry = &mut self.entries[index];
        entry.used = true;
        let (name, refused_only) = (entry.name, entry.group == policy::REFUSED);
        // Providers are never unregistered: a candidate ranked is still there.
        let provider = read(&self.providers).get(name).cloned()?;
        if let Some((previous, refused)) = self.previous.take() {
            let reason = if refused {
                Some(FailoverReason::CircuitOpen)
            } else {
                self.slot
                    .as_ref()
                    .and_then(|slot| slot.failure(self.attempts))
                    .map(FailoverReason::from)
            };
            if let (Some(reason), Some(published)) = (reason, &previous.published) {
                published.failed_over(reason);
            }
        } else if let (false, Some(published)) = (refused_only, &provider.published) {
            published.decided(self.policy);
        }
        self.attempts += 1;
        let slot = Arc::clone(self.slot.get_or_insert_with(Default::default));
        slot.arm(self.attempts);
        let admission = permit::acquire(
            &provider,
            Some(Routed {
                slot,
                attempt: self.attempts,
                reference: self.reference,
            }),
        );
        self.previous = Some((provider, admission.is_err()));
        Some(Candidate {
            provider: name,
            admission,
        })
    }
}

impl HealthTracker {
    /// The route of one request over `candidates` (the providers that can serve it, listed by
    /// preference), with the tracker-wide policy (`routing.policy`) and nothing known of the
    /// model or the prices: `cheapest` then spreads like `spread`, and no reference cost is
    /// recorded. Prefer [`route_request`](Self::route_request) when the model and prices are
    /// known.
    ///
    /// Unregistered candidates are left out. If every circuit is open, the route holds the one
    /// candidate whose cool-down ends first, so the caller learns when to retry from its
    /// refusal.
    pub fn route<'a>(&self, candidates: &[&'a str]) -> Route<'a> {
        let policy = self.shared.config.routing.policy;
        self.plan(
            policy,
            None,
            false,
            candidates.iter().map(|&provider| (provider, None)),
        )
    }

    /// The route of one request: the model's policy (`routing.models`, else `routing.policy`)
    /// chooses the first candidate among the healthy ones, from their prices (with the model's
    /// learnt output/input token ratio), their latency (time to first token when the request
    /// streams) and their health; the others follow in failover order. See the crate docs,
    /// "Routing policies". Permits of this route add the calls' reference cost to
    /// `gatewayz_routing_reference_cost_usd_total`.
    ///
    /// ```
    /// use gatewayz_health::{
    ///     HealthConfig, HealthTracker, Offer, Price, ProviderConfig, RouteRequest, RoutingPolicy,
    /// };
    ///
    /// let mut config = HealthConfig::default();
    /// config.routing.policy = RoutingPolicy::Cheapest;
    /// config.routing.exploration = 0.0;
    /// let tracker = HealthTracker::new(config)?;
    /// tracker.register("cerebras", ProviderConfig::default())?;
    /// tracker.register("openrouter", ProviderConfig::default())?;
    /// let offers = [
    ///     Offer::new("cerebras", Price::per_million(0.60, 0.60)),
    ///     Offer::new("openrouter", Price::per_million(0.40, 0.40)),
    /// ];
    /// let request = RouteRequest { model: "llama-3.1-70b", stream: false, offers: &offers };
    /// let first = tracker.route_request(&request).next().unwrap();
    /// assert_eq!(first.provider, "openrouter");
    /// # Ok::<(), gatewayz_health::Error>(())
    /// ```
    pub fn route_request<'a>(&self, request: &RouteRequest<'_, 'a>) -> Route<'a> {
        let routing = &self.shared.config.routing;
        self.plan(
            routing.policy_for(request.model),
            Some(request.model),
            request.stream,
            request.offers.iter().map(|o| (o.provider, o.price)),
        )
    }

    fn plan<'a>(
        &self,
        policy: RoutingPolicy,
        model: Option<&str>,
        stream: bool,
        candidates: impl Iterator<Item = (&'a str, Option<Price>)>,
    ) -> Route<'a> {
        let shared = &self.shared;
        let ratio = model.map_or(crate::models::DEFAULT_OUTPUT_RATIO, |m| {
            shared.models.output_ratio(m)
        });
        let entries = self.rank(candidates, stream, ratio, true);
        let decision = policy::choose(policy, &entries, &shared.config.routing);
        Route {
            providers: Arc::clone(&self.providers),
            first: decision.first,
            reference: decision.reference,
            entries,
            policy,
            attempts: 0,
            previous: None,
            slot: None,
        }
    }

    /// The candidates as routing sees them now: registered ones only, open circuits left out
    /// (all of them open: the one whose cool-down ends first, refused), each with its group,
    /// score, eligibility, expected price (outputs at `ratio` per input token) and latency.
    /// With `trials`, this is a route: each candidate on probation counts it, and learns
    /// whether it is its trial.
    pub(crate) fn rank<'a>(
        &self,
        candidates: impl Iterator<Item = (&'a str, Option<Price>)>,
        stream: bool,
        ratio: f64,
        trials: bool,
    ) -> SmallVec<[Entry<'a>; INLINE]> {
        let config = &self.shared.config;
        let budget = config.circuit.half_open_probes;
        let trial_every = if trials {
            config.routing.trial_every()
        } else {
            0
        };
        let probe_group = if config.failover.probe_first { 0 } else { 1 };
        let now = u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX);
        let mut entries: SmallVec<[Entry<'a>; INLINE]> = SmallVec::new();
        // (ready at, index, name) of the refused candidate whose cool-down ends first.
        let mut fallback: Option<(u64, u32, &'a str)> = None;
        {
            let providers = read(&self.providers);
            for (index, (name, price)) in candidates.enumerate() {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                let Some(provider) = providers.get(name) else {
                    continue;
                };
                let view = &provider.view;
                let group = match view.routing() {
                    Routing::Closed => 1,
                    Routing::HalfOpen { admitted } if admitted < budget => probe_group,
                    Routing::Open { until_nanos } if until_nanos <= now => probe_group,
                    refused => {
                        let ready = match refused {
                            Routing::Open { until_nanos } => until_nanos,
                            _ => now,
                        };
                        if fallback.is_none_or(|(best, _, _)| ready < best) {
                            fallback = Some((ready, index, name));
                        }
                        continue;
                    }
                };
                let price = price.filter(Price::usable);
                entries.push(Entry {
                    name,
                    index,
                    group,
                    used: false,
                    eligible: group == 1 && view.eligible(),
                    trial: group == 1 && view.trial(trial_every),
                    key: view.score(),
                    price,
                    expected_price: price.map_or(f64::NAN, |p| {
                        p.input_per_million + p.output_per_million * ratio
                    }),
                    latency: view.latency(stream).unwrap_or(f64::NAN),
                });
            }
        }
        if entries.is_empty()
            && let Some((_, index, name)) = fallback
        {
            entries.push(Entry::refused(name, index));
        }
        entries
    }
}
