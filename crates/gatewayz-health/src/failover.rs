//! The failover order: which providers to try for a request, best first.

use crate::{
    HealthTracker,
    provider::{Routing, read},
};

/// One admissible candidate while ordering.
struct Ranked<'a> {
    /// 0: half-open probe first; 1: the rest.
    group: u8,
    key: f64,
    cost: Option<f64>,
    index: usize,
    provider: &'a str,
}

impl HealthTracker {
    /// The order in which to try `candidates` (the providers that can serve the model).
    ///
    /// - Open circuits are left out; half-open ones only while they have a free probe slot
    ///   (first, if `failover.probe_first`); the others by score, best first, a provider of
    ///   unknown status counting as `failover.unknown_score`. Equal scores keep the order of
    ///   `candidates`, so list them by preference.
    /// - If every circuit is open (or out of probe slots), the list holds the one candidate
    ///   whose cool-down ends first (a half-open one counts as ending now): the caller's
    ///   `try_acquire` on it then says when to retry. It is empty only if no candidate is
    ///   registered.
    ///
    /// Scores change only on [`tick`](Self::tick); circuits are read live, without locks. The
    /// order is advice: `try_acquire` remains the admission check.
    pub fn failover_order<'a>(&self, candidates: &[&'a str]) -> Vec<&'a str> {
        self.order(candidates.iter().map(|&provider| (provider, None)))
    }

    /// As [`failover_order`](Self::failover_order), weighing cost against score: each
    /// candidate ranks by `(1 − w) × score + w × (1 − cost / highest cost)` with
    /// `w = failover.cost_weight`. Costs are relative (any unit, such as dollars per million
    /// tokens); a negative or non-finite cost counts as the highest.
    pub fn failover_order_by_cost<'a>(&self, candidates: &[(&'a str, f64)]) -> Vec<&'a str> {
        self.order(
            candidates
                .iter()
                .map(|&(provider, cost)| (provider, Some(cost))),
        )
    }

    fn order<'a>(
        &self,
        candidates: impl ExactSizeIterator<Item = (&'a str, Option<f64>)>,
    ) -> Vec<&'a str> {
        let config = &self.shared.config;
        let budget = config.circuit.half_open_probes;
        let probe_group = if config.failover.probe_first { 0 } else { 1 };
        let now = u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX);
        let mut ranked: Vec<Ranked<'a>> = Vec::with_capacity(candidates.len());
        // (ready at, index, provider) of the best refused candidate.
        let mut fallback: Option<(u64, usize, &'a str)> = None;
        {
            let providers = read(&self.providers);
            for (index, (name, cost)) in candidates.enumerate() {
                let Some(provider) = providers.get(name) else {
                    continue;
                };
                let group = match provider.view.routing() {
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
                ranked.push(Ranked {
                    group,
                    key: provider.view.score(),
                    cost,
                    index,
                    provider: name,
                });
            }
        }
        if ranked.is_empty() {
            return fallback.map(|(_, _, name)| name).into_iter().collect();
        }
        if ranked.iter().any(|r| r.cost.is_some()) {
            let usable = |c: f64| c.is_finite() && c >= 0.0;
            let highest = ranked
                .iter()
                .filter_map(|r| r.cost.filter(|&c| usable(c)))
                .fold(0.0, f64::max);
            let weight = config.failover.cost_weight;
            for r in &mut ranked {
                let cheapness = match r.cost {
                    Some(c) if usable(c) && highest > 0.0 => 1.0 - c / highest,
                    Some(c) if usable(c) => 1.0,
                    _ => 0.0,
                };
                r.key = (1.0 - weight) * r.key + weight * cheapness;
            }
        }
        ranked.sort_unstable_by(|a, b| {
            a.group
                .cmp(&b.group)
                .then(b.key.total_cmp(&a.key))
                .then(a.index.cmp(&b.index))
        });
        ranked.into_iter().map(|r| r.provider).collect()
    }
}
