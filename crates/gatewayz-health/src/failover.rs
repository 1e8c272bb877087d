//! The failover order: which providers to try for a request, best first.

use crate::HealthTracker;

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
    /// order is advice: `try_acquire` remains the admission check. A [`Route`](crate::Route)
    /// tries its candidates in this order after the routing policy's first choice.
    pub fn failover_order<'a>(&self, candidates: &[&'a str]) -> Vec<&'a str> {
        let mut entries = self.rank(candidates.iter().map(|&p| (p, None)), false, 1.0, false);
        entries.sort_unstable_by(|a, b| a.order(b));
        entries.into_iter().map(|e| e.name).collect()
    }
}
